"""Times SpoofDetector: seconds of audio scored per second on this CPU.

For the teacher (G-ResNetSE) and the student (L-ResNetSE) presets, with
seeded random weights (speed does not depend on them), the script writes a
fake recipe output folder, exports it with ``export_model_folder``, writes
``model.onnx`` and ``model.int8.onnx`` with ``export_onnx``, then times
``SpoofDetector.classify_batch`` on 4 s clips (16 kHz) at batch 1 and 32 for
each backend: PyTorch, ONNX (onnxruntime, fp32) and ONNX int8. Features are
included in every timing. Torch and onnxruntime each get ``--threads``
intra-op threads. For each model and batch size the three backends are
timed in turns (one call each per round, after a warm-up call) until each
has had ``--min-time`` seconds, so that the load of a shared machine falls
evenly on them; the median call time is kept. Writes
``benchmarks/results/inference.json`` and ``benchmarks/results/inference.md``
and prints the markdown table.

Usage: ``python benchmarks/inference.py [--threads 2] [--min-time 2]
[--presets student teacher]``

Authors
 * speechbrain-asd developers
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import onnxruntime
import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_asd.export import export_model_folder, export_onnx
from speechbrain_asd.inference import INT8_ONNX_FILE, SpoofDetector
from speechbrain_asd.lobes.resnet_se import g_resnet_se, l_resnet_se

RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = {"student": l_resnet_se, "teacher": g_resnet_se}
LABELS = {"student": "L-ResNetSE (student)", "teacher": "G-ResNetSE (teacher)"}
BACKENDS = {
    "pytorch": {"backend": "torch"},
    "onnx": {"backend": "onnx"},
    "onnx-int8": {"backend": "onnx", "onnx_file": INT8_ONNX_FILE},
}
CLIP_SECONDS = 4.0
SAMPLE_RATE = 16000
BATCHES = (1, 32)
CLASS_NAMES = ["bonafide", "A01", "A02", "A03", "A04", "A05", "A06", "adv"]


def build_model_folder(preset, root):
    """Exports a randomly initialised preset as a model folder with ONNX
    files.

    Arguments
    ---------
    preset : str
        ``"student"`` or ``"teacher"``.
    root : pathlib.Path
        Scratch folder.

    Returns
    -------
    model_dir : pathlib.Path
        The model folder, with model.onnx and model.int8.onnx.
    """
    torch.manual_seed(0)
    model = PRESETS[preset]().eval()
    run = root / preset / "run"
    Checkpointer(run / "save", {"model": model}).save_checkpoint(
        meta={"dev_eer": 0.5}, name="random"
    )
    kwargs = {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in _preset_kwargs(model).items()
    }
    info = {
        "model_kwargs": kwargs,
        "class_names": CLASS_NAMES,
        "sample_rate": SAMPLE_RATE,
        "name": f"{preset} (random weights)",
        "metrics": {},
    }
    (run / "model_info.json").write_text(json.dumps(info))
    model_dir = export_model_folder(run, root / preset / "model")
    export_onnx(model_dir, quantize=True)
    return model_dir


def _preset_kwargs(model):
    """The ResNetSE keyword arguments of a preset model.

    Arguments
    ---------
    model : ResNetSE
        A model built by a preset function.

    Returns
    -------
    kwargs : dict
        Its architecture arguments.
    """
    stages = list(model.stages)
    return {
        "channels": [stage[0].conv1.out_channels for stage in stages],
        "blocks": [len(stage) for stage in stages],
        "stage_strides": [stage[0].stride for stage in stages],
        "stem_kernel": model.stem_kernel,
        "stem_stride": list(model.stem_stride),
        "se_reduction": _se_reduction(stages[0][0]),
        "downsample": model.downsample,
        "freq_pooling": model.freq_pooling,
        "sap_hidden": model.pooling.hidden.out_features,
        "sap_channelwise": model.pooling.score.out_features > 1,
        "emb_dim": model.embedding.out_features,
    }


def _se_reduction(block):
    """The squeeze-excitation reduction factor of a block.

    Arguments
    ---------
    block : SEBasicBlock
        A block.

    Returns
    -------
    reduction : int
        Channels divided by the gate's hidden units.
    """
    gate = block.se.gate
    return gate[0].in_features // gate[0].out_features


def time_round_robin(functions, argument, min_time):
    """Median call duration of several functions, timed in turns.

    Each function is called once to warm up; then rounds call every
    function once, in turn, until ``min_time`` seconds have passed per
    function (one round at least). Taking turns spreads the load of a
    shared machine evenly over the functions compared.

    Arguments
    ---------
    functions : dict
        Name -> function to time.
    argument : object
        The argument of every call.
    min_time : float
        Seconds of timing per function, at least.

    Returns
    -------
    medians : dict
        Name -> (median duration in seconds, number of timed calls).
    """
    for function in functions.values():
        function(argument)
    durations = {name: [] for name in functions}
    start = time.perf_counter()
    while (
        time.perf_counter() - start < min_time * len(functions)
        or not (durations[next(iter(functions))])
    ):
        for name, function in functions.items():
            begin = time.perf_counter()
            function(argument)
            durations[name].append(time.perf_counter() - begin)
    return {
        name: (statistics.median(values), len(values))
        for name, values in durations.items()
    }


def benchmark(model_dir, preset, min_time):
    """Times every backend and batch size for one model folder.

    Arguments
    ---------
    model_dir : pathlib.Path
        The model folder.
    preset : str
        Its preset name.
    min_time : float
        Minimum timing per configuration, in seconds.

    Returns
    -------
    rows : list of dict
        One per (backend, batch).
    """
    generator = torch.Generator().manual_seed(0)
    samples = round(CLIP_SECONDS * SAMPLE_RATE)
    detectors = {
        backend: SpoofDetector.from_hparams(
            model_dir, run_opts={"device": "cpu"}, **options
        )
        for backend, options in BACKENDS.items()
    }
    functions = {
        backend: detector.classify_batch
        for backend, detector in detectors.items()
    }
    rows = []
    for batch in BATCHES:
        wavs = 0.1 * torch.randn(batch, samples, generator=generator)
        medians = time_round_robin(functions, wavs, min_time)
        for backend, (seconds, calls) in medians.items():
            rows.append(
                {
                    "model": preset,
                    "backend": backend,
                    "batch": batch,
                    "seconds_per_call": seconds,
                    "timed_calls": calls,
                    "audio_seconds_per_second": batch * CLIP_SECONDS / seconds,
                }
            )
            print(
                f"{preset:8s} {backend:10s} batch {batch:2d}: "
                f"{rows[-1]['audio_seconds_per_second']:8.1f} s/s "
                f"({calls} calls)",
                flush=True,
            )
    return rows


def markdown_table(rows, threads):
    """Formats the results as a markdown table.

    Arguments
    ---------
    rows : list of dict
        As returned by ``benchmark``.
    threads : int
        Threads used, for the caption.

    Returns
    -------
    table : str
        One row per model and backend, one column per batch size.
    """
    lines = [
        f"Seconds of audio scored per second ({CLIP_SECONDS:g} s clips, "
        f"features included, {threads} threads, CPU)",
        "",
        "| model | backend | "
        + " | ".join(f"batch {batch}" for batch in BATCHES)
        + " |",
        "|---|---|" + "---:|" * len(BATCHES),
    ]
    for preset in dict.fromkeys(row["model"] for row in rows):
        for backend in BACKENDS:
            speeds = {
                row["batch"]: row["audio_seconds_per_second"]
                for row in rows
                if row["model"] == preset and row["backend"] == backend
            }
            cells = " | ".join(f"{speeds[batch]:.1f}" for batch in BATCHES)
            lines.append(f"| {LABELS[preset]} | {backend} | {cells} |")
    return "\n".join(lines) + "\n"


def main():
    """Runs the benchmark and writes its results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-time", type=float, default=2.0)
    parser.add_argument(
        "--presets", nargs="+", choices=sorted(PRESETS), default=list(PRESETS)
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for preset in args.presets:
            begin = time.perf_counter()
            model_dir = build_model_folder(preset, Path(scratch))
            print(
                f"{preset}: model folder and ONNX files in "
                f"{time.perf_counter() - begin:.0f} s",
                flush=True,
            )
            rows.extend(benchmark(model_dir, preset, args.min_time))
    table = markdown_table(rows, args.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "clip_seconds": CLIP_SECONDS,
        "sample_rate": SAMPLE_RATE,
        "threads": args.threads,
        "min_time": args.min_time,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "load_average_1min": os.getloadavg()[0],
        },
        "versions": {
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "results": rows,
    }
    (RESULTS / "inference.json").write_text(json.dumps(report, indent=2))
    (RESULTS / "inference.md").write_text(table)
    print(table, end="")


if __name__ == "__main__":
    main()
