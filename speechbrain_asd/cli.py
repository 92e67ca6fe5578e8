"""The ``speechbrain-asd`` command line: thin sub-commands over library calls.

Each sub-command calls one library function and prints a table, or JSON
with ``--json``. Bad input ends with a one-line message and exit status 2.

Authors
 * speechbrain-asd developers
"""

import argparse
import json
import sys

from speechbrain_asd import __version__

EXIT_BAD_INPUT = 2


def _print_json(payload):
    """Prints a JSON document, indented, keys in their given order."""
    print(json.dumps(payload, indent=2, sort_keys=False))


def _print_result(args, payload, format_table):
    """Prints ``payload`` as JSON with ``--json``, else as its table."""
    if args.json:
        _print_json(payload)
    else:
        print(format_table(payload))


def _print_paths(args, paths, width):
    """Prints named output paths as JSON with ``--json``, else one a line."""
    if args.json:
        _print_json({name: str(path) for name, path in paths.items()})
    else:
        for name, path in paths.items():
            print(f"{name:<{width}} {path}")


def _resolve_keys(args):
    """Fills ``--protocol`` and the ASV options from ``--keys``, in place."""
    if args.keys is None:
        if args.protocol is None:
            raise ValueError("give --protocol or --keys (2021 keys folder)")
        return
    from speechbrain_asd.evaluation import find_2021_keys

    if args.protocol is not None:
        raise ValueError("give --protocol or --keys, not both")
    keys = find_2021_keys(args.keys)
    args.protocol = keys["protocol"]
    if args.asv_scores is None:
        args.asv_scores = keys["asv_scores_path"]
        args.asv_metadata = keys["asv_metadata"]


def _evaluation_options(args):
    """Keyword arguments of the evaluation calls, from the trial flags."""
    _resolve_keys(args)
    return {
        "asv_scores_path": args.asv_scores,
        "asv_metadata_path": args.asv_metadata,
        "subset": args.subset,
        "n_resamples": args.bootstrap,
        "seed": args.seed,
        "confidence": args.confidence,
    }


def _read_calibration_flag(path):
    """The calibration of a ``calibration.json`` flag, None without one."""
    if path is None:
        return None
    from speechbrain_asd.model_folder import read_calibration

    calibration = read_calibration(path)
    if calibration is None:
        raise ValueError(f"{path}: no such file")
    return calibration


def _cmd_prepare(args):
    """Runs ``prepare``: writes CSV manifests for an ASVspoof LA folder."""
    from speechbrain_asd.data.asvspoof import prepare_asvspoof

    outputs = prepare_asvspoof(
        data_folder=args.data_folder,
        save_folder=args.save_folder,
        eval_2021_folder=args.eval_2021,
    )
    _print_paths(args, outputs, 24)
    return 0


def _cmd_evaluate(args):
    """Runs ``evaluate``: EER and min t-DCF of a score file, per attack."""
    from speechbrain_asd.evaluation import (
        evaluate_score_file,
        format_report_table,
    )

    if args.bootstrap < 0:
        raise ValueError(
            f"--bootstrap must be 0 (no interval) or more, got {args.bootstrap}"
        )
    calibration = _read_calibration_flag(args.calibration)
    options = _evaluation_options(args)
    report = evaluate_score_file(
        args.scores, args.protocol, calibration=calibration, **options
    )
    _print_result(args, report, format_report_table)
    if args.plot:
        from speechbrain_asd.evaluation import plot_score_file

        paths = plot_score_file(
            args.scores, args.protocol, args.plot, subset=args.subset
        )
        print(
            "plots: " + ", ".join(str(path) for path in paths), file=sys.stderr
        )
    return 0


def _cmd_calibrate(args):
    """Runs ``calibrate``: fits a calibration on dev scores, writes it."""
    from speechbrain_asd.atomic import write_text_atomic
    from speechbrain_asd.evaluation import calibrate_score_file

    calibration = calibrate_score_file(
        args.scores,
        args.protocol,
        subset=args.subset,
        rule=args.rule,
        target_spoof_far=args.spoof_far,
    )
    values = calibration.to_dict()
    write_text_atomic(args.out, json.dumps(values, indent=2) + "\n")
    _print_result(args, {**values, "file": str(args.out)}, _calibration_text)
    return 0


def _calibration_text(values):
    """One paragraph on a fitted calibration."""
    return (
        f"LLR = {values['scale']:.4f} x score + {values['offset']:.4f}; "
        f"bona fide when LLR >= {values['threshold']:.4f} (rule "
        f"{values['rule']}); Cllr {values['dev_cllr_raw']:.4f} -> "
        f"{values['dev_cllr']:.4f} bits on these scores -> {values['file']}"
    )


def _cmd_compare(args):
    """Runs ``compare``: paired bootstrap comparison of two score files."""
    from speechbrain_asd.evaluation import (
        compare_score_files,
        format_comparison_table,
    )

    options = _evaluation_options(args)
    comparison = compare_score_files(
        args.scores_a, args.scores_b, args.protocol, **options
    )
    _print_result(args, comparison, format_comparison_table)
    return 0


def _cmd_model_card(args):
    """Runs ``model-card``: parameters and MACs of teacher and student."""
    from speechbrain_asd.lobes.complexity import format_model_card, model_card

    _print_result(args, model_card(seconds=args.seconds), format_model_card)
    return 0


def _cmd_export(args):
    """Runs ``export``: a model or verifier folder, optionally with ONNX."""
    from speechbrain_asd.export import export_model_folder
    from speechbrain_asd.file_lists import read_file_list
    from speechbrain_asd.model_folder import INT8_ONNX_FILE
    from speechbrain_asd.onnx_export import export_onnx, export_verifier_onnx
    from speechbrain_asd.verifier_export import export_verifier_folder

    if args.calibration and not args.int8:
        raise ValueError("--calibration is for --int8: add --int8")
    if args.source is not None:
        export_folder, to_onnx = export_model_folder, export_onnx
    else:
        export_folder, to_onnx = export_verifier_folder, export_verifier_onnx
    folder = export_folder(
        args.source or args.verifier_source, args.out, overwrite=args.overwrite
    )
    written = {"model_dir": folder}
    if args.onnx or args.int8:
        calibration = None
        if args.calibration:
            calibration = list(read_file_list(args.calibration).values())
        onnx_path = to_onnx(folder, quantize=args.int8, calibration=calibration)
        written["onnx"] = onnx_path
        if args.int8:
            written["int8"] = onnx_path.with_name(INT8_ONNX_FILE)
    _print_paths(args, written, 10)
    return 0


def _cmd_classify(args):
    """Runs ``classify``: exit status 2 when a file could not be scored."""
    from speechbrain_asd.inference import SpoofDetector

    detector = SpoofDetector.from_hparams(
        args.model, backend=args.backend, onnx_file=args.onnx_file
    )
    results = [
        result.to_dict()
        for result in detector.score_files(args.files, skip_errors=True)
    ]
    if args.json:
        _print_json(results)
    else:
        _print_classifications(results, detector.calibration is not None)
    failed = any("error" in row for row in results)
    return EXIT_BAD_INPUT if failed else 0


def _print_classifications(results, calibrated):
    """Prints ``classify``'s table; calibrated LLR and decision when known."""
    header = f"{'score':>9}  {'P(bona fide)':>12}  {'class':<12} "
    if calibrated:
        header += f"{'LLR':>9}  {'decision':<9} "
    print(header + "file")
    for row in results:
        if "error" in row:
            extra = f"{'-':>9}  {'-':<9} " if calibrated else ""
            print(f"{'-':>9}  {'-':>12}  {'error':<12} {extra}{row['error']}")
            continue
        extra = ""
        if calibrated:
            extra = f"{row['llr']:>9.4f}  {row['decision']:<9} "
        print(
            f"{row['bonafide_score']:>9.4f}  {row['bonafide_prob']:>12.4f}  "
            f"{row['label']:<12} {extra}{row['file']}"
        )


def _cmd_score(args):
    """Runs ``score``: a file list or CM protocol into a score file."""
    from speechbrain_asd.file_lists import score_list_to_file

    count = score_list_to_file(
        args.model,
        args.list,
        args.out,
        audio_dir=args.audio_dir,
        backend=args.backend,
        onnx_file=args.onnx_file,
        progress=True,
    )
    if args.json:
        _print_json({"scores": str(args.out), "trials": count})
    else:
        print(f"wrote {count} scores to {args.out}")
    return 0


def _cmd_verify(args):
    """Runs ``verify``: one trial (with ``--cm``, through the tandem), or an
    ASV trial list into a score file."""
    from speechbrain_asd.verification import SpeakerVerifier

    pair = {"--enrol": args.enrol, "--test": args.test}
    listed = {
        "--trials": args.trials,
        "--enrolment": args.enrolment,
        "--audio-dir": args.audio_dir,
        "--out": args.out,
    }
    given = [flag for flag, value in {**pair, **listed}.items() if value]
    mode = pair if any(flag in pair for flag in given) else listed
    missing = [flag for flag, value in mode.items() if not value]
    if not given or any(flag not in mode for flag in given) or missing:
        raise ValueError(
            "give --enrol and --test (one trial), or --trials, --enrolment, "
            "--audio-dir and --out (a trial list), not both; got "
            f"{', '.join(given) or 'neither'}"
        )
    if mode is listed and args.threshold is not None:
        raise ValueError(
            "--threshold goes with --test: scores have no decision"
        )
    if args.cm_threshold is not None and args.cm is None:
        raise ValueError("--cm-threshold goes with --cm")
    if args.cm is not None and mode is listed:
        raise ValueError("--cm goes with --enrol and --test (one trial)")
    if args.cm is not None:
        from speechbrain_asd.edge_tandem import EdgeTandem

        tandem = EdgeTandem.from_folders(
            args.model,
            args.cm,
            backend=args.backend,
            onnx_file=args.onnx_file,
            asv_threshold=args.threshold,
            cm_threshold=args.cm_threshold,
        )
        result = tandem.verify_files(list(args.enrol), args.test)
        _print_result(args, result.to_dict(), lambda _: result.to_text())
        return 0
    verifier = SpeakerVerifier.from_hparams(
        args.model, backend=args.backend, onnx_file=args.onnx_file
    )
    if mode is pair:
        result = verifier.verify_files(
            list(args.enrol), args.test, threshold=args.threshold
        )
        _print_result(args, result.to_dict(), lambda _: result.to_text())
        return 0
    rows = verifier.score_trials(
        args.trials,
        args.enrolment.split(","),
        args.audio_dir,
        args.out,
        progress=True,
    )
    if args.json:
        _print_json({"scores": str(args.out), "trials": len(rows)})
    else:
        print(f"wrote {len(rows)} ASV scores to {args.out}")
    return 0


def _cmd_tandem(args):
    """Runs ``tandem``: ASV and CM scores of the same trials, together."""
    from speechbrain_asd.tandem_evaluation import (
        evaluate_tandem,
        format_tandem_table,
    )

    result = evaluate_tandem(
        args.asv_protocol,
        args.asv_scores,
        args.cm_scores,
        dev_asv_protocol_path=args.dev_asv_protocol,
        dev_asv_scores_path=args.dev_asv_scores,
        dev_cm_scores_path=args.dev_cm_scores,
        cm_calibration=_read_calibration_flag(args.cm_calibration),
        cm_threshold=args.cm_threshold,
    )
    _print_result(args, result, format_tandem_table)
    return 0


def _add_backend_flags(parser):
    """Adds the model folder and backend options of scoring commands."""
    parser.add_argument(
        "--model", required=True, help="model folder written by 'export'"
    )
    _add_backend_choice(parser, "the model")


def _add_backend_choice(parser, models):
    """Adds ``--backend`` and ``--onnx-file``; ``models`` names what runs."""
    parser.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default="torch",
        help=f"run {models} with PyTorch or onnxruntime",
    )
    parser.add_argument(
        "--onnx-file",
        default="model.onnx",
        help="ONNX file of the folder (model.int8.onnx for int8)",
    )


def _add_trial_flags(parser):
    """Adds the protocol, ASV score and subset options of evaluation."""
    parser.add_argument(
        "--protocol",
        default=None,
        help="ASVspoof 2019 CM protocol or 2021 trial_metadata.txt",
    )
    parser.add_argument(
        "--keys",
        metavar="DIR",
        default=None,
        help="ASVspoof 2021 keys folder (keys/LA: CM/trial_metadata.txt, "
        "ASV/trial_metadata.txt, ASV/<system>/score.txt), instead of "
        "--protocol and the ASV options",
    )
    parser.add_argument(
        "--asv-scores",
        default=None,
        help="ASV scores: 2019 '<source> <target|nontarget|spoof> <score>', "
        "or 2021 '<speaker> <trial> <score>' with --asv-metadata",
    )
    parser.add_argument(
        "--asv-metadata",
        default=None,
        help="2021 ASV trial_metadata.txt that --asv-scores follows line by "
        "line (gives each codec cell its own t-DCF weights)",
    )
    parser.add_argument(
        "--subset",
        choices=("eval", "progress", "hidden"),
        default=None,
        help="2021 protocols only: keep this subset (the organisers "
        "report eval)",
    )


def _add_bootstrap_flags(parser, what):
    """Adds the bootstrap options; ``what`` is the help of ``--bootstrap``."""
    from speechbrain_asd.bootstrap import (
        DEFAULT_CONFIDENCE,
        DEFAULT_RESAMPLES,
    )

    parser.add_argument(
        "--bootstrap",
        metavar="N",
        type=int,
        default=DEFAULT_RESAMPLES,
        help=what,
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the resamples (default 0): same seed, same intervals",
    )
    parser.add_argument(
        "--confidence",
        type=float,
        default=DEFAULT_CONFIDENCE,
        help="coverage of the percentile intervals (default 0.95)",
    )


def _add_json_flag(parser):
    """Adds the ``--json`` flag shared by every sub-command."""
    parser.add_argument(
        "--json", action="store_true", help="print JSON instead of a table"
    )


def _add_prepare_parser(commands):
    """Adds the ``prepare`` sub-command."""
    prepare = commands.add_parser(
        "prepare",
        help="write SpeechBrain CSV manifests from ASVspoof LA protocols",
        description=(
            "Turn ASVspoof 2019 LA (real or generated) and optionally the "
            "ASVspoof 2021 LA eval set into SpeechBrain CSV manifests."
        ),
    )
    prepare.add_argument("data_folder", help="folder that holds LA/")
    prepare.add_argument("save_folder", help="where the manifests go")
    prepare.add_argument(
        "--eval-2021",
        default=None,
        help="ASVspoof 2021 LA eval folder (with its trial_metadata.txt)",
    )
    _add_json_flag(prepare)
    prepare.set_defaults(handler=_cmd_prepare)


def _add_evaluate_parser(commands):
    """Adds the ``evaluate`` sub-command."""
    evaluate = commands.add_parser(
        "evaluate",
        help="EER and min t-DCF (2019 and 2021 forms) of a CM score file",
        description=(
            "Pooled and per-attack EER and min t-DCF, computed as the "
            "ASVspoof organisers do; on ASVspoof 2021 keys also the "
            "decomposed results (attack x codec, t-DCF weights per cell). "
            "Higher scores mean bona fide."
        ),
    )
    evaluate.add_argument(
        "--scores",
        required=True,
        help="CM scores: 'trial score' or 'trial attack key score' lines",
    )
    _add_trial_flags(evaluate)
    _add_bootstrap_flags(
        evaluate,
        "bootstrap resamples of the 95 %% intervals, per design (trials, "
        "speakers); default 1000, 0 for no interval",
    )
    evaluate.add_argument(
        "--plot",
        metavar="DIR",
        default=None,
        help="also draw DET curves per attack and score histograms (PNG)",
    )
    evaluate.add_argument(
        "--calibration",
        metavar="FILE",
        default=None,
        help="calibration.json to apply to the scores first (actDCF and "
        "Cllr then judge the calibrated LLRs)",
    )
    _add_json_flag(evaluate)
    evaluate.set_defaults(handler=_cmd_evaluate)


def _add_calibrate_parser(commands):
    """Adds the ``calibrate`` sub-command."""
    from speechbrain_asd.calibration import THRESHOLD_RULES

    calibrate = commands.add_parser(
        "calibrate",
        help="fit a score-to-LLR calibration and threshold on dev scores",
        description=(
            "Fit an affine map from CM scores to bona fide log-likelihood "
            "ratios on a (dev) score file, by minimum Cllr, with a decision "
            "threshold, and write it as calibration.json (what model "
            "folders carry and evaluate --calibration applies)."
        ),
    )
    calibrate.add_argument("--scores", required=True, help="dev CM scores")
    calibrate.add_argument(
        "--protocol", required=True, help="the protocol of those trials"
    )
    calibrate.add_argument(
        "--subset",
        default=None,
        help="2021 protocols only: fit on this subset",
    )
    calibrate.add_argument(
        "--rule",
        choices=THRESHOLD_RULES,
        default="bayes",
        help="threshold: Bayes threshold of the ASVspoof 5 costs (default), "
        "the dev EER threshold, or a target spoof acceptance rate",
    )
    calibrate.add_argument(
        "--spoof-far",
        type=float,
        default=0.01,
        help="with --rule spoof_far: accept at most this share of spoofs",
    )
    calibrate.add_argument(
        "--out", required=True, help="calibration file to write (JSON)"
    )
    _add_json_flag(calibrate)
    calibrate.set_defaults(handler=_cmd_calibrate)


def _add_compare_parser(commands):
    """Adds the ``compare`` sub-command."""
    compare = commands.add_parser(
        "compare",
        help="paired bootstrap of the EER and min t-DCF differences B - A",
        description=(
            "Compare two CM score files on the same trials: EER and min "
            "t-DCF of each, their difference B - A (below 0: B is better) "
            "with paired bootstrap intervals (trials and speakers "
            "resampled within each class, the same resamples for both) "
            "and the share of resamples where the difference flips sign."
        ),
    )
    compare.add_argument("scores_a", help="CM scores of system A")
    compare.add_argument("scores_b", help="CM scores of system B")
    _add_trial_flags(compare)
    _add_bootstrap_flags(
        compare, "bootstrap resamples per design (default 1000)"
    )
    _add_json_flag(compare)
    compare.set_defaults(handler=_cmd_compare)


def _add_model_card_parser(commands):
    """Adds the ``model-card`` sub-command."""
    card = commands.add_parser(
        "model-card",
        help="parameters and MACs of the teacher and the student",
        description=(
            "Parameters and MACs (measured with torch's FlopCounterMode) of "
            "G-ResNetSE and L-ResNetSE next to the paper's numbers."
        ),
    )
    card.add_argument(
        "--seconds",
        type=float,
        default=4.0,
        help="input length in seconds for the MAC count (default 4)",
    )
    _add_json_flag(card)
    card.set_defaults(handler=_cmd_model_card)


def _add_export_parser(commands):
    """Adds the ``export`` sub-command."""
    export = commands.add_parser(
        "export",
        help="write a model folder that SpoofDetector.from_hparams loads "
        "(or, with --verifier-from, a verifier folder)",
        description=(
            "Select the best checkpoint (lowest dev EER) of a recipe stage's "
            "output folder and write a self-contained model folder, "
            "optionally with an ONNX (and int8) model. --verifier-from does "
            "the same for a speaker stage's encoder (lowest dev speaker EER)."
        ),
    )
    sources = export.add_mutually_exclusive_group(required=True)
    sources.add_argument(
        "--from",
        dest="source",
        help="output folder of the recipe's teacher or student stage",
    )
    sources.add_argument(
        "--verifier-from",
        dest="verifier_source",
        metavar="STAGE_DIR",
        help="output folder of a speaker stage (GE2E, SEEF-ALDR, speaker "
        "KD): write a verifier folder (SpeakerVerifier, verify --model)",
    )
    export.add_argument("--out", required=True, help="model folder to write")
    export.add_argument(
        "--onnx", action="store_true", help="also export model.onnx"
    )
    export.add_argument(
        "--int8",
        action="store_true",
        help=(
            "also write model.int8.onnx: dynamically quantised (smaller, "
            "not faster), or statically with --calibration (faster)"
        ),
    )
    export.add_argument(
        "--calibration",
        metavar="LIST",
        help=(
            "list of audio files (one path per line) to calibrate static "
            "int8 quantisation on, e.g. a few dozen train or dev files"
        ),
    )
    export.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing, different model folder",
    )
    _add_json_flag(export)
    export.set_defaults(handler=_cmd_export)


def _add_classify_parser(commands):
    """Adds the ``classify`` sub-command."""
    classify = commands.add_parser(
        "classify",
        help="bona fide score and class of audio files",
        description=(
            "Score audio files (any sample rate, mono or stereo, anything "
            "soundfile reads). Higher scores mean bona fide."
        ),
    )
    _add_backend_flags(classify)
    classify.add_argument("files", nargs="+", help="audio files")
    _add_json_flag(classify)
    classify.set_defaults(handler=_cmd_classify)


def _add_score_parser(commands):
    """Adds the ``score`` sub-command."""
    score = commands.add_parser(
        "score",
        help="write an ASVspoof score file for a file list or protocol",
        description=(
            "Score every file of a list (one path per line) or of an "
            "ASVspoof CM protocol (with --audio-dir) and write the score "
            "file atomically."
        ),
    )
    _add_backend_flags(score)
    score.add_argument("--list", required=True, help="file list or CM protocol")
    score.add_argument("--out", required=True, help="score file to write")
    score.add_argument(
        "--audio-dir",
        default=None,
        help="audio folder of a protocol's trials (<trial>.flac)",
    )
    _add_json_flag(score)
    score.set_defaults(handler=_cmd_score)


def _add_verify_parser(commands):
    """Adds the ``verify`` sub-command."""
    verify = commands.add_parser(
        "verify",
        help="speaker verification: cosine score of test audio against an "
        "enrolment",
        description=(
            "Score a test file against enrolment files (cosine of "
            "unit-length embeddings; accept when the score reaches the "
            "threshold), or an ASVspoof ASV trial list into a 2019 ASV score "
            "file ('SOURCE KEY SCORE'). The model is a verifier folder "
            "written by speechbrain_asd.verifier_export or a SpeechBrain "
            "EncoderClassifier folder (e.g. an ECAPA-TDNN), loaded as data."
        ),
    )
    verify.add_argument(
        "--model", required=True, help="verifier or EncoderClassifier folder"
    )
    verify.add_argument(
        "--enrol", nargs="+", metavar="FILE", help="enrolment audio files"
    )
    verify.add_argument("--test", metavar="FILE", help="test audio file")
    verify.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="decision threshold on the cosine score (default: the model "
        "folder's asv_threshold, if any)",
    )
    verify.add_argument(
        "--trials",
        metavar="ASV_TRIAL_LIST",
        help="ASVspoof ASV trial list (2019 *.asv.*.gi.trl.txt or 2021 "
        "ASV/trial_metadata.txt)",
    )
    verify.add_argument(
        "--enrolment",
        metavar="LIST[,LIST]",
        help="ASVspoof enrolment lists (*.asv.*.trn.txt), comma-separated",
    )
    verify.add_argument(
        "--audio-dir",
        metavar="DIR",
        help="folder of the enrolment and trial audio (<utterance>.flac)",
    )
    verify.add_argument(
        "--out", metavar="SCORES", help="ASV score file to write"
    )
    verify.add_argument(
        "--cm",
        metavar="CM_DIR",
        help="countermeasure model folder: decide the trial with the tandem "
        "(accepted when the ASV accepts and the CM says bona fide)",
    )
    verify.add_argument(
        "--cm-threshold",
        type=float,
        default=None,
        help="CM threshold on the bona fide score (default: the calibrated "
        "threshold of CM_DIR/calibration.json, on its LLR)",
    )
    _add_backend_choice(verify, "both models")
    _add_json_flag(verify)
    verify.set_defaults(handler=_cmd_verify)


def _add_tandem_parser(commands):
    """Adds the ``tandem`` sub-command."""
    tandem = commands.add_parser(
        "tandem",
        help="tandem (ASV + CM) metrics of ASV and CM scores of the same "
        "trials",
        description=(
            "Per-trial tandem evaluation: the ASV alone and the tandem "
            "(accepted when the ASV accepts and the CM says bona fide) at "
            "dev thresholds (eval EER thresholds without dev), the ASV EER, "
            "the CM's EER and min t-DCF (as evaluate), the t-EER, and with "
            "dev calibrations the min a-DCF and SASV EERs of the fused LLRs. "
            "Higher scores mean target (ASV) and bona fide (CM)."
        ),
    )
    for prefix, which in (("", "eval"), ("dev-", "dev")):
        tandem.add_argument(
            f"--{prefix}asv-protocol",
            required=not prefix,
            help=f"{which} ASV protocol (2019 *.asv.*.gi.trl.txt or 2021 "
            "ASV/trial_metadata.txt)",
        )
        tandem.add_argument(
            f"--{prefix}asv-scores",
            required=not prefix,
            help=f"{which} ASV scores, '<source> <key> <score>' lines in the "
            "protocol's order (as verify --trials writes)",
        )
        tandem.add_argument(
            f"--{prefix}cm-scores",
            required=not prefix,
            help=f"{which} CM scores of every test utterance of the trials",
        )
    tandem.add_argument(
        "--cm-calibration",
        metavar="FILE",
        default=None,
        help="calibration.json (from calibrate): CM LLRs and threshold, "
        "instead of --dev-cm-scores",
    )
    tandem.add_argument(
        "--cm-threshold",
        type=float,
        default=None,
        help="CM threshold on the scores, instead of the dev EER threshold",
    )
    _add_json_flag(tandem)
    tandem.set_defaults(handler=_cmd_tandem)


def build_parser():
    """Builds the argument parser with every sub-command.

    Returns
    -------
    argparse.ArgumentParser
        The parser; each sub-command sets ``handler``.

    Example
    -------
    >>> parser = build_parser()
    >>> args = parser.parse_args(["model-card", "--json"])
    >>> args.json, args.seconds
    (True, 4.0)
    """
    parser = argparse.ArgumentParser(
        prog="speechbrain-asd",
        description=(
            "Lightweight spoofing countermeasures for ASV on SpeechBrain: "
            "data preparation, ASVspoof metrics and models."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _add_prepare_parser(commands)
    _add_evaluate_parser(commands)
    _add_calibrate_parser(commands)
    _add_compare_parser(commands)
    _add_model_card_parser(commands)
    _add_export_parser(commands)
    _add_classify_parser(commands)
    _add_score_parser(commands)
    _add_verify_parser(commands)
    _add_tandem_parser(commands)
    return parser


def main(argv=None):
    """Runs the command line.

    Arguments
    ---------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        Exit status: 0 on success, 2 on bad input.

    Example
    -------
    >>> main(["model-card", "--seconds", "0"])  # bad input: message, status 2
    2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, OSError) as error:
        print(
            f"speechbrain-asd {args.command}: error: {error}", file=sys.stderr
        )
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
