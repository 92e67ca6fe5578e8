"""Times SpoofDetector: seconds of audio scored per second on this CPU.

For the teacher (G-ResNetSE) and the student (L-ResNetSE) presets, with
seeded random weights (speed does not depend on them), the script writes a
fake recipe output folder, exports it with ``export_model_folder``, writes
``model.onnx`` and ``model.int8.onnx`` with ``export_onnx``, then times
``SpoofDetector.classify_batch`` on 4 s clips (16 kHz) at batch 1 and 32 for
each backend: PyTorch, ONNX (onnxruntime, fp32), ONNX int8 quantised
dynamically (``model.int8.onnx``) and statically (calibrated on noise
clips; ``model.int8.static.onnx``). Features are
included in every timing. Torch and onnxruntime each get ``--threads``
intra-op threads. For each model and batch size the backends are
timed in turns (per turn, an untimed call then a timed one) until each
has had ``--min-time`` seconds of timed calls, so that the load of a shared
machine falls evenly on them; the median call time is kept. Writes
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
import soundfile
import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_asd.export import export_model_folder
from speechbrain_asd.inference import SpoofDetector
from speechbrain_asd.lobes.resnet_se import g_resnet_se, l_resnet_se
from speechbrain_asd.model_folder import INT8_ONNX_FILE, ONNX_FILE
from speechbrain_asd.onnx_export import export_onnx
from speechbrain_asd.quantization import quantize_onnx

RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = {"student": l_resnet_se, "teacher": g_resnet_se}
LABELS = {"student": "L-ResNetSE (student)", "teacher": "G-ResNetSE (teacher)"}
STATIC_INT8_FILE = "model.int8.static.onnx"
BACKENDS = {
    "pytorch": {"backend": "torch"},
    "onnx": {"backend": "onnx"},
    "onnx-int8-dynamic": {"backend": "onnx", "onnx_file": INT8_ONNX_FILE},
    "onnx-int8-static": {"backend": "onnx", "onnx_file": STATIC_INT8_FILE},
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
    quantize_onnx(
        model_dir / ONNX_FILE,
        model_dir / STATIC_INT8_FILE,
        calibration=_noise_clips(root / preset / "calibration"),
    )
    return model_dir


def _noise_clips(folder, count=8):
    """Writes seeded 4 s noise clips to calibrate static int8 on (speed
    does not depend on the ranges calibrated).

    Arguments
    ---------
    folder : pathlib.Path
        Where to write them.
    count : int
        Number of clips.

    Returns
    -------
    paths : list of pathlib.Path
        The clips.
    """
    folder.mkdir(parents=True)
    generator = torch.Generator().manual_seed(1)
    samples = round(CLIP_SECONDS * SAMPLE_RATE)
    paths = []
    for index in range(count):
        wav = 0.1 * torch.randn(samples, generator=generator)
        paths.append(folder / f"noise{index}.wav")
        soundfile.write(paths[-1], wav.numpy(), SAMPLE_RATE, subtype="FLOAT")
    return paths


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

    Rounds call every function in turn, until ``min_time`` seconds of
    timed calls have passed per function (one round at least). In each
    turn the function is called twice and only the second call is timed:
    the first lets the worker threads of the previous function go idle
    (onnxruntime's spin for a while after a call and would slow whatever
    runs next on a 2-core machine) and warms the caches. Taking turns
    spreads the load of a shared machine evenly over the functions.

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
    durations = {name: [] for name in functions}
    while min(sum(values) for values in durations.values()) < min_time:
        for name, function in functions.items():
            function(argument)
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
