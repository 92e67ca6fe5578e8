#!/usr/bin/env python3
"""Robustness of countermeasures to attacks on their bona fide score.

For each attacked model, spoofed eval trials are perturbed by a white-box
BIM/PGD attack on the waveform (``speechbrain_asd.attacks.score_attack``
through ``score_under_attack``: signed-gradient steps that raise the bona
fide score, within an L-infinity ball of ``budget`` int16 units, i.e.
``budget / 32768`` on float waveforms), through the same features and model
as inference. Bona fide trials are left clean: the attacker wants spoofs
accepted. At each budget (0: no attack) the table gives the eval EER of the
clean bona fide trials against the perturbed spoofs, and the share of
perturbed spoofs accepted (score above the threshold) at the model's dev
EER threshold. The transfer case scores the spoofs crafted on one model
(e.g. the teacher) with another (e.g. its student), against that model's
own threshold and bona fide scores.

Every cell carries 95 % bootstrap intervals of its EER and of the share
of spoofs accepted (over trials, and over speakers); ``--compare A=B``
adds, at each budget, the paired bootstrap of B - A between two attacked
models on the same spoofed trials (each perturbed against its own
model): a negative difference means B is the more robust.

The dev EER threshold is recomputed: each model scores the dev trials
(clean, at most ``--max_dev_items`` of them, in proportion to the
attacks). Eval keeps at most ``--max_spoofs_per_attack`` spoofs of each
attack and ``--max_bonafide`` bona fide trials, drawn with ``--seed``: the
same folders and flags give the same numbers.

A model is a recipe stage's output folder (``model_info.json`` and
``save/``: its best checkpoint by dev EER is exported to
``<output_folder>/models/<name>``) or a model folder written by
``speechbrain_asd.export.export_model_folder``. The manifests (``dev.csv``
and ``eval.csv``, e.g. a stage's ``manifests/``) are prepared in
``<output_folder>/manifests`` when ``--manifest_folder`` is not given.
Writes ``robustness.json`` and ``robustness.md`` in ``--output_folder``.

Resumable: the scores of each attacked model are saved in
``<output_folder>/attacked/<name>.json`` as soon as its attack ends, with
what they depend on (the checkpoints' SHA-256, the trials and the attack's
flags); a rerun reuses the files that still match and attacks only the
rest. The attack draws no random numbers, so the reused scores are those a
fresh run would compute.

Cost: each budget above 0 takes ``--iterations`` forward and backward
passes per spoofed trial (plus forward passes for the transfer targets).
On 2 shared CPU cores, one OpenMP thread per process (``OMP_NUM_THREADS=1``)
ran about four times faster than two.

Usage, from the repository root::

    python recipes/ASVspoof2019_LA/evaluate_robustness.py \\
        --data_folder data/toy_corpus \\
        --output_folder results/demo/seed1986/robustness \\
        --model teacher=results/demo/seed1986/teacher \\
        --model student=results/demo/seed1986/student \\
        --transfer teacher=student --budgets 0 4 16 64

Authors
 * speechbrain-asd developers
"""

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from asvspoof_dataio import load_rows, select_subset
from asvspoof_prepare import prepare_asvspoof
from asvspoof_stages import write_json

from speechbrain_asd.attacks import (
    SAMPLE_SCALE,
    WaveformScorer,
    score_under_attack,
)
from speechbrain_asd.bootstrap import (
    DESIGNS,
    acceptance_intervals,
    bootstrap_metrics,
    paired_acceptance,
    paired_bootstrap,
)
from speechbrain_asd.export import (
    MODEL_INFO_FILE,
    export_model_folder,
    file_sha256,
)
from speechbrain_asd.inference import SpoofDetector
from speechbrain_asd.metrics import acceptance_rate, compute_eer
from speechbrain_asd.model_folder import CHECKPOINT_FILE
from speechbrain_asd.scorefiles import BONAFIDE

RESULTS_JSON = "robustness.json"
RESULTS_MD = "robustness.md"
ATTACKED_FOLDER = "attacked"


def parse_args(argv=None):
    """Reads the command line.

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    args : argparse.Namespace
        The options.
    """
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME=FOLDER",
        help="a model to attack (white-box): stage or model folder",
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="NAME=FOLDER",
        help="a model only scored, as a transfer target",
    )
    parser.add_argument(
        "--transfer",
        action="append",
        default=[],
        metavar="SOURCE=TARGET",
        help="score the spoofs crafted on SOURCE (a --model) with TARGET",
    )
    parser.add_argument(
        "--data_folder", required=True, help="the corpus ($data_root)"
    )
    parser.add_argument(
        "--output_folder", required=True, help="where the results go"
    )
    parser.add_argument(
        "--manifest_folder",
        default=None,
        help="folder with dev.csv and eval.csv (default: prepared)",
    )
    parser.add_argument(
        "--budgets",
        type=int,
        nargs="+",
        default=[0, 4, 16, 64],
        help="L-infinity budgets in int16 units (0: no attack)",
    )
    parser.add_argument(
        "--iterations", type=int, default=20, help="attack steps"
    )
    parser.add_argument(
        "--step_ratio",
        type=float,
        default=0.1,
        help="step of the attack as a fraction of the budget (larger "
        "steps can overshoot: accept fewer spoofs at larger budgets)",
    )
    parser.add_argument(
        "--max_spoofs_per_attack",
        type=int,
        default=40,
        help="spoofed eval trials attacked per attack (seeded draw)",
    )
    parser.add_argument(
        "--max_bonafide",
        type=int,
        default=None,
        help="bona fide eval trials kept (default: all)",
    )
    parser.add_argument(
        "--max_dev_items",
        type=int,
        default=None,
        help="dev trials of the threshold (default: all)",
    )
    parser.add_argument(
        "--max_duration",
        type=float,
        default=None,
        help="seconds read from the start of each file (default: whole)",
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="A=B",
        help="paired comparison of two attacked models at every budget",
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        help="bootstrap resamples of the intervals (seeded by --seed)",
    )
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1986)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:0")
    parser.add_argument("--noprogressbar", action="store_true")
    args = parser.parse_args(argv)
    if min(args.budgets) < 0 or len(set(args.budgets)) != len(args.budgets):
        parser.error(f"--budgets must be distinct and >= 0: {args.budgets}")
    if args.bootstrap < 1:
        parser.error(f"--bootstrap must be at least 1, got {args.bootstrap}")
    return args


def named_folders(values, flag):
    """Reads ``NAME=VALUE`` options into an ordered dict.

    Arguments
    ---------
    values : list of str
        The options.
    flag : str
        Their flag, for the messages.

    Returns
    -------
    named : dict
        Name -> value, in the order given.
    """
    named = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{flag} takes NAME=VALUE, got {value!r}")
        if name in named:
            raise ValueError(f"{flag}: the name {name!r} is given twice")
        named[name] = path
    return named


def check_transfers(transfers, models, targets):
    """Checks the transfer pairs against the models and targets.

    Arguments
    ---------
    transfers : list of str
        ``SOURCE=TARGET`` options.
    models : dict
        Attacked models, name -> folder.
    targets : dict
        Scored-only models, name -> folder.

    Returns
    -------
    pairs : list of tuple
        ``(source, target)`` names.
    """
    clash = sorted(set(models) & set(targets))
    if clash:
        raise ValueError(f"names both --model and --target: {clash}")
    pairs = []
    for value in transfers:
        source, sep, target = value.partition("=")
        if not sep or source not in models:
            raise ValueError(
                f"--transfer {value!r}: SOURCE must be a --model name "
                f"({sorted(models)})"
            )
        if target not in {**models, **targets} or target == source:
            raise ValueError(
                f"--transfer {value!r}: TARGET must be another --model or a "
                f"--target name ({sorted({**models, **targets})})"
            )
        if (source, target) in pairs:
            raise ValueError(f"--transfer {value!r} is given twice")
        pairs.append((source, target))
    unused = sorted(set(targets) - {target for _, target in pairs})
    if unused:
        raise ValueError(f"--target {unused} in no --transfer")
    return pairs


def check_comparisons(values, models):
    """Parses the ``A=B`` comparisons: two different attacked models.

    Arguments
    ---------
    values : list of str
        The ``--compare`` values.
    models : dict
        The attacked models (``--model``), name -> folder.

    Returns
    -------
    list of tuple
        ``(a, b)`` pairs.

    Example
    -------
    >>> check_comparisons(["t=s"], {"t": "a", "s": "b"})
    [('t', 's')]
    """
    pairs = []
    for value in values:
        a, sep, b = value.partition("=")
        if not sep or a not in models or b not in models or a == b:
            raise ValueError(
                f"--compare {value}: A=B must name two different attacked "
                f"models (--model: {sorted(models)})"
            )
        pairs.append((a, b))
    return pairs


def load_scorer(name, folder, models_dir, device):
    """Loads a model as inference does and wraps it for the attack.

    Arguments
    ---------
    name : str
        The model's name.
    folder : str
        A stage folder (exported first) or a model folder.
    models_dir : pathlib.Path
        Where stage folders are exported (``<models_dir>/<name>``).
    device : str
        Device of the model.

    Returns
    -------
    scorer : WaveformScorer
        Its waveform -> bona fide score function, on ``device``.
    sample_rate : int
        Its sample rate.
    model_folder : str
        The model folder loaded.
    """
    folder = Path(folder)
    if (folder / MODEL_INFO_FILE).is_file() and (folder / "save").is_dir():
        model_folder = export_model_folder(folder, models_dir / name, True)
    elif (folder / CHECKPOINT_FILE).is_file():
        model_folder = folder
    else:
        raise FileNotFoundError(
            f"{folder}: neither a stage folder ({MODEL_INFO_FILE}, save/) "
            f"nor a model folder ({CHECKPOINT_FILE})"
        )
    detector = SpoofDetector.from_hparams(
        source=str(model_folder), run_opts={"device": device}
    )
    scorer = WaveformScorer(
        detector.mods.compute_features,
        detector.mods.model,
        detector.hparams.bonafide_index,
    )
    return scorer.to(device).eval(), detector.hparams.sample_rate, model_folder


def spoofs_per_attack(rows, per_attack, seed):
    """Draws at most ``per_attack`` spoofed trials of each attack.

    Arguments
    ---------
    rows : dict
        ID -> manifest row (``system``, ``key``).
    per_attack : int
        Trials kept per attack (``system``).
    seed : int
        Seed of the draw.

    Returns
    -------
    rows : dict
        The kept spoofed rows, in the original order.
    """
    if per_attack < 1:
        raise ValueError(f"--max_spoofs_per_attack must be >= 1: {per_attack}")
    groups = defaultdict(list)
    for utt_id in sorted(rows):
        if rows[utt_id]["key"] != BONAFIDE:
            groups[rows[utt_id]["system"]].append(utt_id)
    if not groups:
        raise ValueError("the eval manifest holds no spoofed trial")
    rng = np.random.default_rng(seed)
    keep = set()
    for attack in sorted(groups):
        members = groups[attack]
        keep.update(
            members[i] for i in rng.permutation(len(members))[:per_attack]
        )
    return {utt_id: row for utt_id, row in rows.items() if utt_id in keep}


def by_duration(rows):
    """Rows as a list with their IDs, shortest first (less padding).

    Arguments
    ---------
    rows : dict
        ID -> manifest row with ``duration``.

    Returns
    -------
    rows : list of dict
        Rows with ``ID``, sorted by duration then ID.
    """
    ordered = sorted(rows, key=lambda i: (float(rows[i]["duration"]), i))
    return [{"ID": utt_id, **rows[utt_id]} for utt_id in ordered]


def load_trials(args):
    """Reads the manifests and draws the trials of the evaluation.

    Arguments
    ---------
    args : argparse.Namespace
        The options.

    Returns
    -------
    trials : dict
        ``dev``, ``bonafide`` (eval) and ``spoof`` (eval): ID -> row.
    """
    folder = args.manifest_folder
    if folder is None:
        folder = str(Path(args.output_folder) / "manifests")
        prepare_asvspoof(args.data_folder, folder, splits=["dev", "eval"])
    dev = load_rows(str(Path(folder) / "dev.csv"), args.data_folder)
    eval_rows = load_rows(str(Path(folder) / "eval.csv"), args.data_folder)
    bonafide = {i: r for i, r in eval_rows.items() if r["key"] == BONAFIDE}
    if not bonafide:
        raise ValueError("the eval manifest holds no bona fide trial")
    return {
        "dev": select_subset(dev, args.max_dev_items, "system", args.seed),
        "bonafide": select_subset(
            bonafide, args.max_bonafide, "spk_id", args.seed
        ),
        "spoof": spoofs_per_attack(
            eval_rows, args.max_spoofs_per_attack, args.seed
        ),
    }


def clean_scores(scorers, rows, options):
    """Scores rows without attack with every model.

    Arguments
    ---------
    scorers : dict
        Name -> WaveformScorer.
    rows : dict
        ID -> manifest row.
    options : dict
        Keyword arguments of ``score_under_attack``.

    Returns
    -------
    scores : dict
        Name -> ID -> bona fide score.
    """
    return score_under_attack(scorers, by_duration(rows), [0], **options)[0]


def attack_fingerprint(args, source, scored_by, model_folders, spoof_rows):
    """What the scores of the spoofs crafted on one model depend on.

    Arguments
    ---------
    args : argparse.Namespace
        The options.
    source : str
        The attacked model.
    scored_by : list of str
        The models that score its perturbed spoofs (itself first).
    model_folders : dict
        Name -> the model folder loaded.
    spoof_rows : list of dict
        The spoofed trials, in the order attacked.

    Returns
    -------
    dict
        JSON-serialisable: equal for two runs that compute the same scores.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> _ = path.write_bytes(b"")
    >>> args = SimpleNamespace(budgets=[0, 4], iterations=5, step_ratio=0.25,
    ...     max_duration=2.0, batch_size=8, device="cpu")
    >>> folders = {"t": getfixture("tmp_path")}
    >>> key = attack_fingerprint(args, "t", ["t"], folders, [{"ID": "E_1"}])
    >>> key["spoofs"], key["checkpoints"]["t"][:12]
    (['E_1'], 'e3b0c44298fc')
    """
    return {
        "crafted_on": source,
        "checkpoints": {
            name: file_sha256(Path(model_folders[name]) / CHECKPOINT_FILE)
            for name in scored_by
        },
        "spoofs": [row["ID"] for row in spoof_rows],
        "budgets": list(args.budgets),
        "iterations": args.iterations,
        "step_ratio": args.step_ratio,
        "max_duration": args.max_duration,
        "batch_size": args.batch_size,
        "device": args.device,
    }


def saved_attack_scores(path, fingerprint):
    """The scores an earlier run saved for this fingerprint, if any.

    Arguments
    ---------
    path : pathlib.Path
        The file of one attacked model (``attacked/<name>.json``).
    fingerprint : dict
        As returned by ``attack_fingerprint`` for this run.

    Returns
    -------
    saved : tuple or None
        ``(scores, seconds)``: budget -> scorer -> ID -> score, and the
        attack's duration then; None when the file is missing, unreadable
        or was written for other models, trials or flags.

    Example
    -------
    >>> path = getfixture("tmp_path") / "t.json"
    >>> saved_attack_scores(path, {"budgets": [0]}) is None
    True
    >>> _ = path.write_text(json.dumps({"fingerprint": {"budgets": [0]},
    ...     "seconds": 2.0, "scores": {"0": {"t": {"E_1": 0.5}}}}))
    >>> saved_attack_scores(path, {"budgets": [0]})
    ({0: {'t': {'E_1': 0.5}}}, 2.0)
    >>> saved_attack_scores(path, {"budgets": [0, 4]}) is None
    True
    """
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved["fingerprint"] != fingerprint:
            return None
        scores = {int(b): by_name for b, by_name in saved["scores"].items()}
        return scores, float(saved["seconds"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        print(f"{path}: not reused, unreadable ({error})", flush=True)
        return None


def attack_scores(
    args, source, scored_by, scorers, folders, spoof_rows, options
):
    """Scores the spoofs crafted on one model, or reuses a matching save.

    Arguments
    ---------
    args : argparse.Namespace
        The options.
    source : str
        The attacked model.
    scored_by : list of str
        The models that score its perturbed spoofs (itself first).
    scorers : dict
        Name -> WaveformScorer.
    folders : dict
        Name -> the model folder loaded.
    spoof_rows : list of dict
        The spoofed trials, in the order attacked.
    options : dict
        Keyword arguments of ``score_under_attack``.

    Returns
    -------
    scores : dict
        Budget -> scorer name -> ID -> bona fide score.
    seconds : float
        How long the attack took (in the run that computed it).
    """
    fingerprint = attack_fingerprint(
        args, source, scored_by, folders, spoof_rows
    )
    path = Path(args.output_folder) / ATTACKED_FOLDER / f"{source}.json"
    saved = saved_attack_scores(path, fingerprint)
    if saved is not None:
        print(f"{source}: attack scores reused from {path}", flush=True)
        return saved
    print(f"attacking {source} (scored by {', '.join(scored_by)})", flush=True)
    start = time.perf_counter()
    scores = score_under_attack(
        {name: scorers[name] for name in scored_by},
        spoof_rows,
        args.budgets,
        attacked=source,
        iterations=args.iterations,
        step_ratio=args.step_ratio,
        **options,
    )
    seconds = time.perf_counter() - start
    write_json(
        str(path),
        {"fingerprint": fingerprint, "seconds": seconds, "scores": scores},
    )
    return scores, seconds


def cell(bonafide, spoof, attacks, threshold, speakers, bootstrap):
    """The numbers of one (crafted on, scored by, budget) cell.

    Arguments
    ---------
    bonafide : list of float
        Clean eval bona fide scores of the scoring model.
    spoof : list of float
        Its scores of the (perturbed) spoofed trials.
    attacks : list of str
        The attack of each spoofed trial.
    threshold : float
        The scoring model's dev EER threshold.
    speakers : tuple
        The speaker of each bona fide and of each spoofed trial.
    bootstrap : dict
        ``n_resamples`` and ``seed`` of the intervals.

    Returns
    -------
    cell : dict
        ``eer``, ``spoof_acceptance``, ``mean_spoof_score``,
        ``spoof_acceptance_per_attack`` and ``intervals`` (of the first
        two, per design).

    Example
    -------
    >>> result = cell([0.9, 0.8], [0.1, 0.85], ["A01", "A02"], 0.5,
    ...     (["s1", "s2"], ["s1", "s2"]), {"n_resamples": 20, "seed": 0})
    >>> result["eer"], result["spoof_acceptance_per_attack"]
    (0.5, {'A01': 0.0, 'A02': 1.0})
    >>> sorted(result["intervals"]["spoof_acceptance"])
    ['speaker', 'trial']
    """
    per_attack = defaultdict(list)
    for attack, score in zip(attacks, spoof):
        per_attack[attack].append(score)
    eer = bootstrap_metrics(bonafide, spoof, *speakers, **bootstrap)["eer"]
    accepted = acceptance_intervals(spoof, threshold, speakers[1], **bootstrap)
    return {
        "eer": eer["value"],
        "spoof_acceptance": accepted["value"],
        "mean_spoof_score": statistics.fmean(spoof),
        "spoof_acceptance_per_attack": {
            attack: acceptance_rate(per_attack[attack], threshold)
            for attack in sorted(per_attack)
        },
        "intervals": {
            "eer": {design: eer[design] for design in DESIGNS},
            "spoof_acceptance": {
                design: accepted[design] for design in DESIGNS
            },
        },
    }


def compare_attacked(pairs, budgets, scored, thresholds, speakers, bootstrap):
    """Paired bootstraps of B - A between attacked models, per budget.

    Arguments
    ---------
    pairs : list of tuple
        ``(a, b)`` attacked models.
    budgets : list of int
        The budgets.
    scored : dict
        ``(model, budget)`` -> ``(bona fide scores, spoof scores)`` of the
        white-box case, every model on the same trials in the same order.
    thresholds : dict
        Model -> its dev EER threshold.
    speakers : tuple
        The speaker of each bona fide and of each spoofed trial.
    bootstrap : dict
        ``n_resamples`` and ``seed``.

    Returns
    -------
    list of dict
        ``a``, ``b``, ``budget``, ``eer`` and ``spoof_acceptance``: each
        ``a``, ``b``, ``difference`` and per design the ``interval``,
        ``sign_flip`` and ``b_lower`` of B - A.

    Example
    -------
    >>> scored = {("t", 0): ([0.9, 0.8], [0.7, 0.1]),
    ...           ("s", 0): ([0.9, 0.8], [0.1, 0.2])}
    >>> found = compare_attacked([("t", "s")], [0], scored,
    ...     {"t": 0.5, "s": 0.5}, (["u", "v"], ["u", "v"]),
    ...     {"n_resamples": 20, "seed": 0})
    >>> accepted, eer = found[0]["spoof_acceptance"], found[0]["eer"]
    >>> accepted["difference"], eer["difference"]
    (-0.5, 0.0)
    """
    comparisons = []
    for a, b in pairs:
        for budget in budgets:
            (bonafide_a, spoof_a), (bonafide_b, spoof_b) = (
                scored[(a, budget)],
                scored[(b, budget)],
            )
            eer = paired_bootstrap(
                bonafide_a, spoof_a, bonafide_b, spoof_b, *speakers, **bootstrap
            )["eer"]
            accepted = paired_acceptance(
                spoof_a,
                thresholds[a],
                spoof_b,
                thresholds[b],
                speakers[1],
                **bootstrap,
            )
            comparisons.append(
                {
                    "a": a,
                    "b": b,
                    "budget": budget,
                    "eer": eer,
                    "spoof_acceptance": accepted,
                }
            )
    return comparisons


def row_label(result):
    """The robustness table's name of a (crafted on, scored by) row.

    Arguments
    ---------
    result : dict
        A result with ``crafted_on`` and ``scored_by``.

    Returns
    -------
    str
        ``model`` (white-box) or ``source -> target`` (transfer).

    Example
    -------
    >>> row_label({"crafted_on": "t", "scored_by": "s"})
    't -> s'
    """
    if result["crafted_on"] == result["scored_by"]:
        return result["crafted_on"]
    return f"{result['crafted_on']} -> {result['scored_by']}"


def _percent_cell(values):
    """Mean (+- std when several) of fractions in percent; ``-`` if none."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    text = f"{100.0 * statistics.fmean(values):.2f}"
    if len(values) > 1:
        text += f" +- {100.0 * statistics.stdev(values):.2f}"
    return text


def robustness_table(reports):
    """Rows of models (and transfer pairs), columns of attack budgets.

    The script writes it for its one report (``robustness.md``); the
    pipeline runner (``pipelines/pipeline_report.py``) for the reports of
    several seeds.

    Arguments
    ---------
    reports : list of dict
        The ``robustness.json`` of one or more seeds (same configuration).

    Returns
    -------
    str
        A markdown table with a caption line; each cell is ``EER (%) /
        spoofs accepted (%)``, mean +- std over the reports when several.

    Example
    -------
    >>> report = {
    ...     "config": {"budgets": [0, 4], "iterations": 2, "step_ratio": 0.5},
    ...     "trials": {"eval_spoof": 8, "eval_bonafide": 4, "dev": 6},
    ...     "results": [
    ...         {"crafted_on": "t", "scored_by": "t", "budget": budget,
    ...          "eer": eer, "spoof_acceptance": accepted}
    ...         for budget, eer, accepted in ((0, 0.1, 0.05), (4, 0.3, 0.5))
    ...     ],
    ... }
    >>> print(robustness_table([report, report]).splitlines()[-1])
    | t | 10.00 +- 0.00 / 5.00 +- 0.00 | 30.00 +- 0.00 / 50.00 +- 0.00 |
    """
    config, trials = reports[0]["config"], reports[0]["trials"]
    budgets = config["budgets"]
    lines = [
        f"EER (%) / spoofs accepted at the dev EER threshold (%), by "
        f"L-inf budget in int16 units; BIM/PGD, {config['iterations']} "
        f"steps of {config['step_ratio']} x budget; "
        f"{trials['eval_spoof']} spoofed and {trials['eval_bonafide']} "
        f"bona fide eval trials, {trials['dev']} dev trials; "
        f"{len(reports)} seed(s).",
        "",
        "| crafted on -> scored by | " + " | ".join(map(str, budgets)) + " |",
        "|" + "---|" * (len(budgets) + 1),
    ]
    values = defaultdict(lambda: defaultdict(list))
    for report in reports:
        for result in report["results"]:
            values[row_label(result)][result["budget"]].append(result)
    for label, row in values.items():
        cells = [
            _percent_cell([r["eer"] for r in row[budget]])
            + " / "
            + _percent_cell([r["spoof_acceptance"] for r in row[budget]])
            for budget in budgets
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _interval_text(interval):
    """``[low, high]`` of a fraction in percentage points; ``-`` if none."""
    if interval is None:
        return "-"
    return f"[{100 * interval[0]:+.2f}, {100 * interval[1]:+.2f}]"


def _difference_cells(paired):
    """B - A in points, then its interval per design."""
    return [f"{100 * paired['difference']:+.2f}"] + [
        _interval_text(paired[design] and paired[design]["interval"])
        for design in DESIGNS
    ]


def comparisons_table(reports, verdicts=None):
    """The paired comparisons of the reports, one row per seed and budget.

    Arguments
    ---------
    reports : list of dict
        The ``robustness.json`` of one or more seeds.
    verdicts : dict, optional
        ``(a, b, budget)`` -> text of a last column (the pipeline runner
        gives its verdict over the seeds).

    Returns
    -------
    str
        A markdown table after a caption line, empty without comparisons.

    Example
    -------
    >>> paired = {"a": 0.8, "b": 0.5, "difference": -0.3,
    ...     "trial": {"interval": [-0.4, -0.2]}, "speaker": None}
    >>> report = {"config": {"seed": 1}, "comparisons": [{"a": "t",
    ...     "b": "s", "budget": 4, "eer": paired, "spoof_acceptance": paired}]}
    >>> print(comparisons_table([report]).splitlines()[-1])
    | s vs t | 4 | 1 | 80.00 | 50.00 | -30.00 | [-40.00, -20.00] | - |
    -30.00 | [-40.00, -20.00] | - |
    """
    rows = [
        (r["config"]["seed"], c)
        for r in reports
        for c in r.get("comparisons", [])
    ]
    if not rows:
        return ""
    last = "" if verdicts is None else " verdict |"
    lines = [
        "",
        "Paired comparisons (B vs A, B - A in points; below 0: B accepts "
        "fewer of the spoofs perturbed against it, or has the lower EER):",
        "",
        "| B vs A | budget | seed | accepted A (%) | accepted B (%) | B - A | "
        "95 % CI, trials | 95 % CI, speakers | EER B - A | 95 % CI, trials | "
        "95 % CI, speakers |" + last,
        "|" + "---|" * (11 + (verdicts is not None)),
    ]
    order = {}
    for _, item in rows:
        order.setdefault((item["a"], item["b"]), len(order))
    for seed, item in sorted(
        rows, key=lambda r: (order[r[1]["a"], r[1]["b"]], r[1]["budget"], r[0])
    ):
        accepted, eer = item["spoof_acceptance"], item["eer"]
        cells = [
            f"{item['b']} vs {item['a']}",
            str(item["budget"]),
            str(seed),
            f"{100 * accepted['a']:.2f}",
            f"{100 * accepted['b']:.2f}",
            *_difference_cells(accepted),
            *_difference_cells(eer),
        ]
        if verdicts is not None:
            cells.append(verdicts[(item["a"], item["b"], item["budget"])])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def evaluate(args):
    """Runs the evaluation and writes its results.

    Arguments
    ---------
    args : argparse.Namespace
        The options.

    Returns
    -------
    report : dict
        The content written to ``robustness.json``.
    """
    start = time.perf_counter()
    models = named_folders(args.model, "--model")
    targets = named_folders(args.target, "--target")
    pairs = check_transfers(args.transfer, models, targets)
    compared = check_comparisons(args.compare, models)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    out = Path(args.output_folder)
    out.mkdir(parents=True, exist_ok=True)
    scorers, entries, rates = {}, {}, set()
    for name, folder in {**models, **targets}.items():
        scorer, rate, model_folder = load_scorer(
            name, folder, out / "models", args.device
        )
        scorers[name] = scorer
        rates.add(rate)
        entries[name] = {
            "folder": str(Path(folder).resolve()),
            "model_folder": str(Path(model_folder).resolve()),
            "attacked": name in models,
        }
    if len(rates) != 1:
        raise ValueError(f"the models differ in sample rate: {sorted(rates)}")
    options = {
        "batch_size": args.batch_size,
        "max_duration": args.max_duration,
        "sample_rate": rates.pop(),
        "device": args.device,
        "progress": not args.noprogressbar,
    }
    trials = load_trials(args)
    dev = clean_scores(scorers, trials["dev"], options)
    bonafide = clean_scores(scorers, trials["bonafide"], options)
    for name, entry in entries.items():
        dev_bonafide = [
            s
            for i, s in dev[name].items()
            if trials["dev"][i]["key"] == BONAFIDE
        ]
        dev_spoof = [
            s
            for i, s in dev[name].items()
            if trials["dev"][i]["key"] != BONAFIDE
        ]
        entry["dev_eer"], entry["dev_threshold"] = compute_eer(
            dev_bonafide, dev_spoof
        )
        entry["eval_bonafide_rejection"] = 1 - acceptance_rate(
            list(bonafide[name].values()), entry["dev_threshold"]
        )
    spoof_rows = by_duration(trials["spoof"])
    folders = {name: entry["model_folder"] for name, entry in entries.items()}
    attacks = [row["system"] for row in spoof_rows]
    bonafide_ids = list(trials["bonafide"])
    speakers = (
        [trials["bonafide"][i]["spk_id"] for i in bonafide_ids],
        [row["spk_id"] for row in spoof_rows],
    )
    bootstrap = {"n_resamples": args.bootstrap, "seed": args.seed}
    results, scored = [], {}
    for source in models:
        scored_by = [source] + [t for s, t in pairs if s == source]
        scores, entries[source]["attack_seconds"] = attack_scores(
            args, source, scored_by, scorers, folders, spoof_rows, options
        )
        for name in scored_by:
            clean = [bonafide[name][i] for i in bonafide_ids]
            for budget in args.budgets:
                spoof = [scores[budget][name][row["ID"]] for row in spoof_rows]
                if name == source:
                    scored[(name, budget)] = (clean, spoof)
                results.append(
                    {
                        "crafted_on": source,
                        "scored_by": name,
                        "transfer": name != source,
                        "budget": budget,
                        **cell(
                            clean,
                            spoof,
                            attacks,
                            entries[name]["dev_threshold"],
                            speakers,
                            bootstrap,
                        ),
                    }
                )
    thresholds = {name: e["dev_threshold"] for name, e in entries.items()}
    comparisons = compare_attacked(
        compared, args.budgets, scored, thresholds, speakers, bootstrap
    )
    report = {
        "config": {
            "budgets": list(args.budgets),
            "budget_units": "int16",
            "sample_scale": SAMPLE_SCALE,
            "iterations": args.iterations,
            "step_ratio": args.step_ratio,
            "max_duration": args.max_duration,
            "max_spoofs_per_attack": args.max_spoofs_per_attack,
            "max_bonafide": args.max_bonafide,
            "max_dev_items": args.max_dev_items,
            "bootstrap": args.bootstrap,
            "seed": args.seed,
            "device": args.device,
            "data_folder": str(Path(args.data_folder).resolve()),
        },
        "trials": {
            "dev": len(trials["dev"]),
            "eval_bonafide": len(trials["bonafide"]),
            "eval_spoof": len(spoof_rows),
            "eval_spoof_per_attack": {
                attack: attacks.count(attack) for attack in sorted(set(attacks))
            },
        },
        "models": entries,
        "results": results,
        "comparisons": comparisons,
        "seconds": time.perf_counter() - start,
    }
    write_json(str(out / RESULTS_JSON), report)
    (out / RESULTS_MD).write_text(
        robustness_table([report]) + comparisons_table([report]),
        encoding="utf-8",
    )
    return report


def main(argv=None):
    """Evaluates the robustness of the models named on the command line.

    Arguments
    ---------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    args = parse_args(argv)
    report = evaluate(args)
    print((Path(args.output_folder) / RESULTS_MD).read_text(), end="")
    print(f"{report['seconds']:.0f} s -> {args.output_folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
