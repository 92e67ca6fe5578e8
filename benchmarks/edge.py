"""Edge deployment check: a model folder scored by PyTorch, ONNX and int8.

The same exported model (by default the demo's student) scores the eval
protocol of the generated corpus (or of ASVspoof 2019 LA) four ways:
``SpoofDetector`` with PyTorch, and with onnxruntime on ``model.onnx``
(fp32, feature extraction included), on ``model.int8.onnx`` (dynamic int8
quantisation) and on ``model.int8.static.onnx`` (static int8 quantisation
calibrated on training files). The ONNX files are written first if the
folder lacks them. For each backend the script reports the largest
absolute difference of its bona fide scores from PyTorch's, the pooled
EER, the EER on the attacks seen in training (those of the train protocol)
and on the unseen ones, the file size and the wall time of the scoring run.
Writes ``benchmarks/results/edge.json`` and ``benchmarks/results/edge.md``
and prints the markdown table.

Usage: ``python benchmarks/edge.py [--model results/demo/student_model]
[--data data/toy_corpus] [--threads 2] [--calibration-files 32]``

Authors
 * speechbrain-asd developers
"""

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from speechbrain_asd.atomic import write_text_atomic
from speechbrain_asd.file_lists import score_list_to_file
from speechbrain_asd.metrics import compute_eer, seen_unseen_eers
from speechbrain_asd.model_folder import INT8_ONNX_FILE, ONNX_FILE
from speechbrain_asd.onnx_export import export_onnx
from speechbrain_asd.quantization import quantize_onnx
from speechbrain_asd.scorefiles import read_cm_protocol, read_cm_scores

RESULTS = Path(__file__).resolve().parent / "results"
PROTOCOLS = "LA/ASVspoof2019_LA_cm_protocols"
EVAL_PROTOCOL = f"{PROTOCOLS}/ASVspoof2019.LA.cm.eval.trl.txt"
TRAIN_PROTOCOL = f"{PROTOCOLS}/ASVspoof2019.LA.cm.train.trn.txt"
EVAL_AUDIO = "LA/ASVspoof2019_LA_eval/flac"
TRAIN_AUDIO = "LA/ASVspoof2019_LA_train/flac"
STATIC_INT8_FILE = "model.int8.static.onnx"
BACKENDS = {
    "pytorch": {"backend": "torch"},
    "onnx": {"backend": "onnx", "onnx_file": ONNX_FILE},
    "onnx-int8-dynamic": {"backend": "onnx", "onnx_file": INT8_ONNX_FILE},
    "onnx-int8-static": {"backend": "onnx", "onnx_file": STATIC_INT8_FILE},
}


def calibration_files(data, count):
    """Training files to calibrate static int8 on: half bona fide, half
    spoofed, evenly spaced through the train protocol.

    Arguments
    ---------
    data : pathlib.Path
        Folder holding ``LA/``.
    count : int
        Number of files.

    Returns
    -------
    paths : list of pathlib.Path
        The audio files.
    """
    trials = read_cm_protocol(data / TRAIN_PROTOCOL)
    paths = []
    for is_bonafide, share in ((True, count // 2), (False, count - count // 2)):
        group = [
            t.trial for t in trials if (t.key == "bonafide") == is_bonafide
        ]
        step = max(1, len(group) // max(share, 1))
        paths += [
            data / TRAIN_AUDIO / f"{t}.flac" for t in group[::step][:share]
        ]
    return paths


def eval_eers(scores, trials, seen_attacks):
    """Pooled EER, and EERs on the seen and the unseen attacks.

    Arguments
    ---------
    scores : dict
        Trial id -> bona fide score.
    trials : list of speechbrain_asd.scorefiles.CMTrial
        The protocol's trials.
    seen_attacks : set of str
        Attacks present in training.

    Returns
    -------
    eers : dict
        ``eer``, ``eer_seen``, ``eer_unseen`` as fractions (None for an
        empty subset).

    Example
    -------
    >>> from speechbrain_asd.scorefiles import CMTrial
    >>> trials = [
    ...     CMTrial("s", "b1", "-", "bonafide"),
    ...     CMTrial("s", "b2", "-", "bonafide"),
    ...     CMTrial("s", "x", "A01", "spoof"),
    ... ]
    >>> eval_eers({"b1": 2.0, "b2": 0.0, "x": -1.0}, trials, {"A01"})
    {'eer': 0.0, 'eer_seen': 0.0, 'eer_unseen': None}
    """
    bonafide = [scores[t.trial] for t in trials if t.key == "bonafide"]
    spoofs = [t for t in trials if t.key == "spoof"]
    spoof = [scores[t.trial] for t in spoofs]
    return {
        "eer": float(compute_eer(bonafide, spoof)[0]),
        **seen_unseen_eers(
            bonafide, spoof, [t.attack for t in spoofs], seen_attacks
        ),
    }


def score_backend(model_dir, data, options, out_path):
    """Scores the eval protocol with one backend.

    Arguments
    ---------
    model_dir : pathlib.Path
        The model folder.
    data : pathlib.Path
        Folder holding ``LA/`` (eval protocol and audio).
    options : dict
        ``backend`` and ``onnx_file`` for ``score_list_to_file``.
    out_path : pathlib.Path
        Score file to write.

    Returns
    -------
    scores : dict
        Trial id -> bona fide score.
    seconds : float
        Wall time of the scoring run.
    """
    start = time.perf_counter()
    score_list_to_file(
        model_dir,
        data / EVAL_PROTOCOL,
        out_path,
        audio_dir=data / EVAL_AUDIO,
        progress=False,
        **options,
    )
    return read_cm_scores(out_path), time.perf_counter() - start


def run(model_dir, data, n_calibration):
    """Scores with every backend and compares them with PyTorch.

    Arguments
    ---------
    model_dir : pathlib.Path
        The model folder (ONNX files are added if missing: the dynamic
        int8 model as ``export_onnx`` writes it, the static one calibrated
        on ``calibration_files``).
    data : pathlib.Path
        Folder holding ``LA/``.
    n_calibration : int
        Number of training files to calibrate static int8 on.

    Returns
    -------
    rows : list of dict
        One row per backend: ``backend``, ``file``, ``megabytes``,
        ``max_abs_diff`` (against PyTorch), ``seconds``, and the EERs of
        ``eval_eers``.
    """
    if not (model_dir / INT8_ONNX_FILE).is_file():
        export_onnx(model_dir, quantize=True)
    if not (model_dir / STATIC_INT8_FILE).is_file():
        quantize_onnx(
            model_dir / ONNX_FILE,
            model_dir / STATIC_INT8_FILE,
            calibration=calibration_files(data, n_calibration),
        )
    trials = read_cm_protocol(data / EVAL_PROTOCOL)
    seen = {t.attack for t in read_cm_protocol(data / TRAIN_PROTOCOL)} - {"-"}
    rows, reference = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in BACKENDS.items():
            scores, seconds = score_backend(
                model_dir, data, options, Path(tmp) / f"{name}.txt"
            )
            reference = reference or scores
            weights = model_dir / options.get("onnx_file", "model.ckpt")
            rows.append(
                {
                    "backend": name,
                    "file": weights.name,
                    "megabytes": weights.stat().st_size / 2**20,
                    "max_abs_diff": max(
                        abs(scores[t] - reference[t]) for t in reference
                    ),
                    "seconds": seconds,
                    **eval_eers(scores, trials, seen),
                }
            )
    return rows


def markdown(rows, n_trials):
    """The results as a markdown table.

    Arguments
    ---------
    rows : list of dict
        As returned by ``run``.
    n_trials : int
        Number of eval trials scored.

    Returns
    -------
    table : str
        Markdown text.

    Example
    -------
    >>> row = {"backend": "onnx", "file": "model.onnx", "megabytes": 5.5,
    ...        "max_abs_diff": 1e-6, "seconds": 3.0, "eer": 0.1,
    ...        "eer_seen": 0.05, "eer_unseen": None}
    >>> print(markdown([row], 10).splitlines()[2])
    | onnx | model.onnx | 5.5 | 1.0e-06 | 10.00 | 5.00 | - | 3.0 |
    """

    def percent(value):
        """A fraction as a percentage, '-' for None."""
        return "-" if value is None else f"{100 * value:.2f}"

    lines = [
        f"| backend | file | MB | max abs score diff vs PyTorch | EER % "
        f"| EER seen % | EER unseen % | s for {n_trials} trials |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['backend']} | {row['file']} | {row['megabytes']:.1f} "
            f"| {row['max_abs_diff']:.1e} | {percent(row['eer'])} "
            f"| {percent(row['eer_seen'])} | {percent(row['eer_unseen'])} "
            f"| {row['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main():
    """Parses the options, runs the comparison, writes and prints it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="results/demo/student_model")
    parser.add_argument("--data", default="data/toy_corpus")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--calibration-files",
        type=int,
        default=32,
        help="training files to calibrate static int8 on",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model_dir, data = Path(args.model), Path(args.data)
    rows = run(model_dir, data, args.calibration_files)
    n_trials = len(read_cm_protocol(data / EVAL_PROTOCOL))
    table = markdown(rows, n_trials)
    RESULTS.mkdir(exist_ok=True)
    result = {
        "model": str(model_dir),
        "data": str(data),
        "threads": args.threads,
        "machine": platform.processor() or platform.machine(),
        "trials": n_trials,
        "calibration_files": args.calibration_files,
        "rows": rows,
    }
    write_text_atomic(RESULTS / "edge.json", json.dumps(result, indent=2))
    write_text_atomic(RESULTS / "edge.md", table + "\n")
    print(table)


if __name__ == "__main__":
    main()
