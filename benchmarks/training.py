"""Times the recipe's training step on this CPU or a GPU: teacher, student, KD.

The models, features, losses and Brains are the recipe's own: each stage
YAML (``recipes/ASVspoof2019_LA/hparams/teacher.yaml``, ``student.yaml``)
is loaded with ``load_hyperpyyaml`` and a few overrides (no augmentation,
no AEG, no GE2E initialisation, the crop and batch of the variant), and
the step timed is ``Brain.fit_batch`` of ``train.py``'s ``CMBrain`` (the
teacher, the student alone) or ``DistillationBrain`` (the student with the
teacher's forward pass under ``no_grad``; the teacher built from
``teacher.yaml``'s ``model_kwargs``): features, forward, loss, backward and
Adam step. Weights are seeded random; the batch is noise with 8-class
labels (speed depends on neither).

Each variant runs in its own Python process (thread settings, backend flags,
``OMP_WAIT_POLICY`` and compiled code cannot leak into the next one): it builds
the Brain, runs an untimed warm-up step (two with ``compile``; the first
compiles), then timed steps until ``--min-time`` seconds and ``--min-steps``
steps have passed, and keeps the median step; a variant still running after 240
s is reported as timed out. The recipe's default (2 threads, batch 16, 1 s
crops) is the baseline; each other variant changes one thing of it. Run it on
an otherwise idle machine: other processes make every number meaningless.
Reported: utterances per second, seconds per epoch of 800 crops, the share of
the step the features take (timed alone, same batch), and the fraction of the
machine's fp32 peak (the best 2048 x 2048 ``torch.matmul`` on 1 or 2 threads,
measured in its own process) that the step reaches, counting training as 3 x
the forward pass's FLOPs (2 x the MACs of
``speechbrain_asd.lobes.complexity.count_macs``), plus the teacher's forward
pass for KD. The bf16 variant also compares the loss and gradients of one step
with those of fp32 from the same weights; the data loading variants read real
FLAC crops through the recipe's ``asvspoof_dataio`` with ``num_workers`` 0 and
1. Writes ``benchmarks/results/training.json`` and
``benchmarks/results/training.md`` and prints the markdown table.

With ``--device cuda`` the step runs on the GPU (the batch is handed over on
the CPU, as the DataLoader gives it, and every timed step ends with
``torch.cuda.synchronize``), over the GPU variants (batch, crop, bf16); the
peak is the GPU's best 8192 x 8192 ``torch.matmul`` in fp32 and in TF32 (the
precision cuDNN's convolutions use by default), the fraction is of the TF32
one, and the files are ``training_cuda.json`` and ``training_cuda.md``.

Usage: ``python benchmarks/training.py [--device cpu|cuda] [--min-time 3]
[--min-steps 2] [--only VARIANT ...] [--models teacher student student-kd]
[--tables-only]``

Authors
 * speechbrain-asd developers
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RECIPE = ROOT / "recipes" / "ASVspoof2019_LA"
SAMPLE_RATE = 16000
EPOCH_UTTERANCES = 800
PEAK_SIZE = 2048
CUDA_PEAK_SIZE = 8192
LABELS = {
    "teacher": "G-ResNetSE (teacher)",
    "student": "L-ResNetSE (student)",
    "student-kd": "L-ResNetSE + KD",
}
BASE = {
    "threads": 2,
    "omp_passive": False,
    "batch": 16,
    "crop": 1.0,
    "compile": False,
    "channels_last": False,
    "mkldnn": True,
    "cached_features": False,
    "precision": "fp32",
    "workers": None,
    "device": "cpu",
}
# (name, what it changes, overrides of BASE, models it runs for)
T, S, KD = "teacher", "student", "student-kd"
VARIANTS = [
    ("baseline", "recipe default: 2 threads", {}, (T, S, KD)),
    ("threads-1", "torch.set_num_threads(1)", {"threads": 1}, (T, S, KD)),
    (
        "omp-passive",
        "2 threads, OMP_WAIT_POLICY=PASSIVE",
        {"omp_passive": True},
        (T, S, KD),
    ),
    (
        "compile",
        "run_opts compile (model)",
        {"compile": True},
        (S,),
    ),
    (
        "channels-last",
        "model in channels_last",
        {"channels_last": True},
        (S,),
    ),
    (
        "no-mkldnn",
        "mkldnn.enabled = False",
        {"mkldnn": False},
        (S,),
    ),
    (
        "cached-features",
        "Fbank computed once",
        {"cached_features": True},
        (T, S, KD),
    ),
    ("crop-2", "2 s crops", {"crop": 2.0}, (T, S)),
    ("crop-4", "4 s crops (the paper's)", {"crop": 4.0}, (T, S)),
    ("batch-8", "batch 8", {"batch": 8}, (S,)),
    ("batch-32", "batch 32", {"batch": 32}, (T, S)),
    (
        "bf16",
        "run_opts precision bf16",
        {"precision": "bf16"},
        (T, S, KD),
    ),
    (
        "workers-0",
        "FLAC DataLoader, 0 workers",
        {"workers": 0},
        (S,),
    ),
    (
        "workers-1",
        "FLAC DataLoader, 1 worker",
        {"workers": 1},
        (S,),
    ),
]
CUDA_VARIANTS = [
    ("baseline", "recipe default: batch 16, 1 s crops", {}, (T, S, KD)),
    ("batch-64", "batch 64", {"batch": 64}, (T, S, KD)),
    ("batch-256", "batch 256", {"batch": 256}, (T, S)),
    ("crop-4", "4 s crops (the paper's)", {"crop": 4.0}, (T, S)),
    (
        "bf16-batch-64",
        "run_opts precision bf16, batch 64",
        {"precision": "bf16", "batch": 64},
        (T, S),
    ),
]


def load_stage(stage, scratch, config):
    """Loads a stage YAML of the recipe with the benchmark's overrides.

    Arguments
    ---------
    stage : str
        ``"teacher"`` or ``"student"``.
    scratch : pathlib.Path
        Folder for the (unused) outputs the YAML names.
    config : dict
        The variant (``batch``, ``crop``).

    Returns
    -------
    hparams : dict
        The loaded hyperparameters.
    """
    from hyperpyyaml import load_hyperpyyaml

    overrides = {
        "data_folder": str(scratch / "data"),
        "output_folder": str(scratch / stage),
        "augment": False,
        "aeg": "none",
        "batch_size": config["batch"],
        "train_crop": config["crop"],
    }
    if stage == "teacher":
        overrides["ge2e_init"] = False
    with open(RECIPE / "hparams" / f"{stage}.yaml", encoding="utf-8") as fin:
        return load_hyperpyyaml(fin, overrides)


def build_brain(model, scratch, config):
    """The recipe's Brain for a model, ready for ``fit_batch``.

    Arguments
    ---------
    model : str
        ``"teacher"``, ``"student"`` or ``"student-kd"``.
    scratch : pathlib.Path
        Scratch folder.
    config : dict
        The variant.

    Returns
    -------
    brain : speechbrain.Brain
        ``CMBrain`` or ``DistillationBrain`` after ``on_fit_start`` and
        the first epoch's ``on_stage_start`` (learning rate, warm-up).
    hparams : dict
        Its hyperparameters.
    teacher : torch.nn.Module or None
        The KD teacher.
    """
    import speechbrain as sb

    sys.path.insert(0, str(RECIPE))
    from train import CMBrain, DistillationBrain, build_modules

    torch.manual_seed(0)
    stage = "teacher" if model == "teacher" else "student"
    hparams = load_stage(stage, scratch, config)
    run_opts = {
        "device": config["device"],
        "precision": config["precision"],
        "noprogressbar": True,
        "compile": config["compile"],
        "compile_module_keys": ["model"],
    }
    kwargs = dict(
        modules=build_modules(hparams),
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=None,
    )
    teacher = None
    if model == "student-kd":
        teacher = hparams["teacher"]
        brain = DistillationBrain(teacher, hparams["kd_loss"], **kwargs)
    else:
        brain = CMBrain(**kwargs)
    if config["channels_last"]:
        brain.modules.model.to(memory_format=torch.channels_last)
    brain.on_fit_start()
    brain.on_stage_start(sb.Stage.TRAIN, epoch=1)
    return brain, hparams, teacher


def make_batch(size, crop, seed=0):
    """A training batch of noise crops with 8-class labels.

    Arguments
    ---------
    size : int
        Utterances.
    crop : float
        Seconds per crop.
    seed : int
        Seed of the noise and labels.

    Returns
    -------
    batch : speechbrain.dataio.batch.PaddedBatch
        Keys ``id``, ``sig``, ``class_index``.
    """
    from speechbrain.dataio.batch import PaddedBatch

    generator = torch.Generator().manual_seed(seed)
    samples = round(crop * SAMPLE_RATE)
    wavs = 0.1 * torch.randn(size, samples, generator=generator)
    labels = torch.randint(8, (size, 1), generator=generator)
    return PaddedBatch(
        [
            {"id": f"utt{i}", "sig": wavs[i], "class_index": labels[i]}
            for i in range(size)
        ]
    )


def use_cached_features(brain, batch):
    """Makes the Brain reuse the features of one batch (computed once).

    Arguments
    ---------
    brain : CMBrain
        The Brain.
    batch : speechbrain.dataio.batch.PaddedBatch
        The batch it will be given.
    """
    wavs, lens = batch.sig
    with torch.no_grad():
        cached = brain.modules.compute_features.with_frame_lengths(wavs, lens)

    def prepare_features(batch, stage):
        """The cached features, whatever the batch."""
        return cached

    brain.prepare_features = prepare_features


def training_flops(hparams, teacher, crop):
    """FLOPs of one training step per utterance: 3 x forward, + teacher.

    Arguments
    ---------
    hparams : dict
        Hyperparameters holding the trained ``model``.
    teacher : torch.nn.Module or None
        The KD teacher (its forward pass is added once).
    crop : float
        Seconds per crop.

    Returns
    -------
    flops : float
        FLOPs per utterance (features and element-wise operations
        excluded).
    """
    from speechbrain_asd.lobes.complexity import count_macs

    frames = 1 + round(crop * SAMPLE_RATE) // 160
    n_mels = hparams["n_mels"]
    flops = 3 * 2 * count_macs(hparams["model"], frames, n_mels)
    if teacher is not None:
        flops += 2 * count_macs(teacher, frames, n_mels)
    return float(flops)


def time_steps(step, min_time, min_steps, warmup):
    """Median duration of a function after warm-up calls.

    Arguments
    ---------
    step : callable
        Called without arguments.
    min_time : float
        Seconds of timed calls, at least.
    min_steps : int
        Timed calls, at least.
    warmup : int
        Untimed calls first.

    Returns
    -------
    median : float
        Median duration of the timed calls, in seconds.
    durations : list of float
        Warm-up then timed durations.
    """
    durations = []
    for _ in range(warmup):
        begin = time.perf_counter()
        step()
        durations.append(time.perf_counter() - begin)
    timed = []
    while sum(timed) < min_time or len(timed) < min_steps:
        begin = time.perf_counter()
        step()
        timed.append(time.perf_counter() - begin)
    return statistics.median(timed), durations + timed


def synchronised(function, device):
    """Wraps a function so that it returns once the device has finished.

    Arguments
    ---------
    function : callable
        Called without arguments.
    device : str or torch.device
        Where its work runs; CUDA work is waited for.

    Returns
    -------
    callable
        The wrapped function.

    Example
    -------
    >>> synchronised(lambda: 1 + 1, "cpu")()
    2
    """
    if torch.device(device).type != "cuda":
        return function

    def wrapped():
        """Calls the function and waits for the GPU."""
        value = function()
        torch.cuda.synchronize(device)
        return value

    return wrapped


def bf16_check(brain, batch):
    """Loss and gradients of one bf16 step against fp32, same weights.

    Arguments
    ---------
    brain : speechbrain.Brain
        The Brain (its model's weights are untouched; BatchNorm running
        statistics move).
    batch : speechbrain.dataio.batch.PaddedBatch
        The batch.

    Returns
    -------
    check : dict
        fp32 and bf16 losses, their relative difference, the cosine
        similarity and relative L2 difference of the gradients.
    """
    import speechbrain as sb

    model = brain.modules.model
    results = {}
    for name, enabled in (("fp32", False), ("bf16", True)):
        model.zero_grad()
        device_type = torch.device(brain.device).type
        with torch.autocast(device_type, torch.bfloat16, enabled=enabled):
            outputs = brain.compute_forward(batch, sb.Stage.TRAIN)
            loss = brain.compute_objectives(outputs, batch, sb.Stage.TRAIN)
        loss.backward()
        grads = torch.cat(
            [p.grad.flatten() for p in model.parameters() if p.grad is not None]
        )
        results[name] = (float(loss), grads.float())
    model.zero_grad()
    (loss32, grad32), (loss16, grad16) = results["fp32"], results["bf16"]
    cosine = torch.nn.functional.cosine_similarity(grad32, grad16, dim=0)
    return {
        "loss_fp32": loss32,
        "loss_bf16": loss16,
        "loss_relative_diff": abs(loss16 - loss32) / abs(loss32),
        "grad_cosine": float(cosine),
        "grad_relative_l2_diff": float(
            (grad16 - grad32).norm() / grad32.norm()
        ),
    }


def write_flac_corpus(folder, count, seconds=4.0):
    """Writes noise FLAC files and their manifest rows.

    Arguments
    ---------
    folder : pathlib.Path
        Where to write.
    count : int
        Files.
    seconds : float
        Duration of each.

    Returns
    -------
    rows : dict
        ID -> ``{"wav", "label", "duration"}``, as the recipe's manifests.
    """
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(2)
    rows = {}
    for index in range(count):
        wav = 0.1 * torch.randn(
            round(seconds * SAMPLE_RATE), generator=generator
        )
        path = folder / f"utt{index}.flac"
        soundfile.write(path, wav.numpy(), SAMPLE_RATE, subtype="PCM_16")
        rows[f"utt{index}"] = {
            "wav": str(path),
            "label": str(index % 8),
            "duration": seconds,
        }
    return rows


def loader_epoch(brain, scratch, config, batches=6):
    """Times epochs read from FLAC files through the recipe's data pipeline.

    Arguments
    ---------
    brain : speechbrain.Brain
        The Brain (warmed up).
    scratch : pathlib.Path
        Scratch folder.
    config : dict
        The variant (``workers``, ``batch``, ``crop``).
    batches : int
        Batches per epoch.

    Returns
    -------
    timing : dict
        ``seconds_per_step`` (epoch time / batches, worker start-up
        included; median of 2 epochs) and ``load_seconds_per_batch``
        (reading alone, 0 workers).
    """
    from asvspoof_dataio import make_audio_pipeline, make_dataset
    from speechbrain.dataio.dataloader import make_dataloader

    rows = write_flac_corpus(scratch / "flac", batches * config["batch"])
    dataset = make_dataset(
        rows, make_audio_pipeline(SAMPLE_RATE, config["crop"], True)
    )

    def loader(workers):
        """A training DataLoader as the recipe's options make it."""
        return make_dataloader(
            dataset,
            batch_size=config["batch"],
            shuffle=True,
            num_workers=workers,
        )

    begin = time.perf_counter()
    for _ in loader(0):
        pass
    load = (time.perf_counter() - begin) / batches
    epochs = []
    for _ in range(2):
        begin = time.perf_counter()
        for batch in loader(config["workers"]):
            brain.fit_batch(batch)
        epochs.append((time.perf_counter() - begin) / batches)
    return {
        "seconds_per_step": statistics.median(epochs),
        "load_seconds_per_batch": load,
    }


def measure_variant(model, config, min_time, min_steps):
    """Times one model under one variant (run in a fresh process).

    Arguments
    ---------
    model : str
        ``"teacher"``, ``"student"`` or ``"student-kd"``.
    config : dict
        The variant: BASE with its overrides.
    min_time : float
        Seconds of timed steps, at least.
    min_steps : int
        Timed steps, at least.

    Returns
    -------
    result : dict
        Step time, utterances per second, FLOPs, feature time and the
        variant's extra measurements.
    """
    torch.set_num_threads(config["threads"])
    torch.backends.mkldnn.enabled = config["mkldnn"]
    result = {}
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        begin = time.perf_counter()
        brain, hparams, teacher = build_brain(model, scratch, config)
        result["build_seconds"] = time.perf_counter() - begin
        batch = make_batch(config["batch"], config["crop"])
        result["flops_per_utterance"] = training_flops(
            hparams, teacher, config["crop"]
        )
        if config["precision"] == "bf16":
            result["bf16_check"] = bf16_check(brain, batch)
        if config["cached_features"]:
            use_cached_features(brain, batch)
        warmup = 2 if config["compile"] else 1
        median, durations = time_steps(
            synchronised(lambda: brain.fit_batch(batch), brain.device),
            min_time,
            min_steps,
            warmup,
        )
        result["seconds_per_step"] = median
        result["step_durations"] = durations
        result["first_step_seconds"] = durations[0]
        if config["compile"]:
            result["compile_seconds"] = durations[0] - median
        wavs, lens = batch.to(brain.device).sig
        features = brain.modules.compute_features
        result["feature_seconds"], _ = time_steps(
            synchronised(
                lambda: features.with_frame_lengths(wavs, lens), brain.device
            ),
            1.0,
            5,
            1,
        )
        if config["workers"] is not None:
            result.update(loader_epoch(brain, scratch, config))
    return result


def measure_peak(threads, repeats=10):
    """fp32 matmul throughput of this CPU, best and median of repeats.

    Arguments
    ---------
    threads : int
        Intra-op threads.
    repeats : int
        Timed products (after one untimed).

    Returns
    -------
    peak : dict
        ``best_gflops`` and ``median_gflops``.
    """
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(PEAK_SIZE, PEAK_SIZE, generator=generator)
    b = torch.randn(PEAK_SIZE, PEAK_SIZE, generator=generator)
    torch.matmul(a, b)
    rates = []
    for _ in range(repeats):
        begin = time.perf_counter()
        torch.matmul(a, b)
        rates.append(2 * PEAK_SIZE**3 / (time.perf_counter() - begin) / 1e9)
    return {
        "best_gflops": max(rates),
        "median_gflops": statistics.median(rates),
    }


def measure_cuda_peak(repeats=10):
    """fp32 and TF32 matmul throughput of the GPU, best and median.

    Arguments
    ---------
    repeats : int
        Timed products of each precision (after three untimed).

    Returns
    -------
    peaks : dict
        ``"fp32"`` and ``"tf32"`` -> ``best_gflops`` and ``median_gflops``.
    """
    generator = torch.Generator(device="cuda").manual_seed(0)
    size = CUDA_PEAK_SIZE
    a = torch.randn(size, size, device="cuda", generator=generator)
    b = torch.randn(size, size, device="cuda", generator=generator)
    peaks = {}
    for name, tf32 in (("fp32", False), ("tf32", True)):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        for _ in range(3):
            torch.matmul(a, b)
        rates = []
        for _ in range(repeats):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            torch.matmul(a, b)
            end.record()
            end.synchronize()
            seconds = start.elapsed_time(end) / 1000
            rates.append(2 * size**3 / seconds / 1e9)
        peaks[name] = {
            "best_gflops": max(rates),
            "median_gflops": statistics.median(rates),
        }
    torch.backends.cuda.matmul.allow_tf32 = False
    return peaks


def run_worker(job, timeout=240):
    """Runs one job of this script in a fresh Python process.

    Arguments
    ---------
    job : dict
        ``{"kind": "peak", "threads"}``, ``{"kind": "cuda-peak"}`` or
        ``{"kind": "variant", "model", "config", "min_time", "min_steps"}``.
    timeout : float
        Seconds before the job is abandoned.

    Returns
    -------
    result : dict
        The job's result, or ``{"error": ...}``.
    """
    command = [sys.executable, __file__, "--worker", json.dumps(job)]
    env = dict(os.environ)
    if job.get("config", {}).get("omp_passive"):
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker_main(job):
    """Runs one job in this process and prints its JSON result.

    Arguments
    ---------
    job : dict
        See ``run_worker``.
    """
    if job["kind"] == "peak":
        result = measure_peak(job["threads"])
    elif job["kind"] == "cuda-peak":
        result = measure_cuda_peak()
    else:
        result = measure_variant(
            job["model"], job["config"], job["min_time"], job["min_steps"]
        )
    print(json.dumps(result))


def machine_peak(peaks):
    """The machine's measured peak: its best matmul product.

    Arguments
    ---------
    peaks : dict
        Threads (CPU) or precision (GPU) -> ``best_gflops``.

    Returns
    -------
    gflops : float
        The highest ``best_gflops``.
    """
    return max(peak["best_gflops"] for peak in peaks.values())


def summarise(row, peaks):
    """Adds throughput, epoch time, feature share and peak fraction.

    Arguments
    ---------
    row : dict
        A variant's result, with ``config``.
    peaks : dict
        Threads or precision -> matmul peak (``best_gflops``).
    """
    config = row["config"]
    step = row.get("seconds_per_step")
    if step is None:
        return
    row["utterances_per_second"] = config["batch"] / step
    row["epoch_seconds"] = EPOCH_UTTERANCES / row["utterances_per_second"]
    gflops = row["flops_per_utterance"] * row["utterances_per_second"] / 1e9
    row["gflops"] = gflops
    row["peak_fraction"] = gflops / machine_peak(peaks)
    if not config["cached_features"]:
        row["feature_share"] = row["feature_seconds"] / step


def peak_line(peaks, device):
    """Says where the step ran and what peak the fractions are of.

    Arguments
    ---------
    peaks : dict
        Threads (CPU) or precision (GPU) -> matmul peak.
    device : dict
        ``type`` (``"cpu"`` or ``"cuda"``) and, for a GPU, its ``name``.

    Returns
    -------
    str
        The table's first line.
    """
    peak = machine_peak(peaks)
    if device["type"] == "cuda":
        size = CUDA_PEAK_SIZE
        where = (
            f"on one {device['name']}; TF32 matmul peak {peak:.0f} GFLOP/s "
            f"(best {size}x{size} product; fp32 "
            f"{peaks['fp32']['best_gflops']:.0f})"
        )
    else:
        where = (
            f"on this CPU; fp32 matmul peak {peak:.0f} GFLOP/s (best "
            f"{PEAK_SIZE}x{PEAK_SIZE} product: "
            f"{peaks[1]['best_gflops']:.0f} on 1 thread, "
            f"{peaks[2]['best_gflops']:.0f} on 2)"
        )
    return (
        f"Training step (features, forward, backward, Adam) {where}; cells: "
        "utterances/s (% of peak, s per epoch of 800 crops)"
    )


def markdown_table(rows, peaks, device):
    """Formats the results as a markdown table.

    Arguments
    ---------
    rows : list of dict
        Summarised results.
    peaks : dict
        Threads (CPU) or precision (GPU) -> matmul peak.
    device : dict
        ``type`` and, for a GPU, ``name`` (see ``peak_line``).

    Returns
    -------
    table : str
        One row per variant, one column group per model.
    """
    models = list(dict.fromkeys(row["model"] for row in rows))
    lines = [
        peak_line(peaks, device),
        "",
        "| variant | change | " + " | ".join(LABELS[m] for m in models) + " |",
        "|---|---|" + "---:|" * len(models),
    ]
    variants = CUDA_VARIANTS if device["type"] == "cuda" else VARIANTS
    for name, what, _, _ in variants:
        cells = []
        for model in models:
            found = [
                r for r in rows if r["variant"] == name and r["model"] == model
            ]
            if not found:
                cells.append("")
            elif "utterances_per_second" not in found[0]:
                cells.append(str(found[0].get("error", "failed")))
            else:
                r = found[0]
                cells.append(
                    f"{r['utterances_per_second']:.1f} "
                    f"({100 * r['peak_fraction']:.0f} %, "
                    f"{r['epoch_seconds']:.0f} s)"
                )
        lines.append(f"| {name} | {what} | " + " | ".join(cells) + " |")
    lines += ["", "Feature share of the baseline step and compile times:", ""]
    for row in rows:
        if row["variant"] == "baseline" and "feature_share" in row:
            lines.append(
                f"- {LABELS[row['model']]}: features "
                f"{1000 * row['feature_seconds']:.0f} ms of a "
                f"{1000 * row['seconds_per_step']:.0f} ms step "
                f"({100 * row['feature_share']:.0f} %)"
            )
    for row in rows:
        if row["variant"] == "compile" and "compile_seconds" in row:
            lines.append(
                f"- {LABELS[row['model']]}: first compiled step "
                f"{row['first_step_seconds']:.0f} s "
                f"(compile ~{row['compile_seconds']:.0f} s)"
            )
    for row in rows:
        if "bf16_check" in row:
            check = row["bf16_check"]
            lines.append(
                f"- {LABELS[row['model']]} bf16 vs fp32, one step: loss "
                f"{100 * check['loss_relative_diff']:.2f} % apart, gradient "
                f"cosine {check['grad_cosine']:.4f}, relative L2 "
                f"{check['grad_relative_l2_diff']:.3f}"
            )
    for row in rows:
        if "load_seconds_per_batch" in row:
            lines.append(
                f"- {LABELS[row['model']]} {row['variant']}: "
                f"{row['seconds_per_step']:.2f} s per step over a FLAC "
                "epoch (reading alone "
                f"{1000 * row['load_seconds_per_batch']:.0f} ms per batch)"
            )
    return "\n".join(lines) + "\n"


def result_files(device_type):
    """The JSON and markdown files of a device's results.

    Arguments
    ---------
    device_type : str
        ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    json_path, md_path : pathlib.Path
        ``training.*`` for the CPU, ``training_cuda.*`` for a GPU.

    Example
    -------
    >>> result_files("cuda")[1].name
    'training_cuda.md'
    """
    stem = "training" if device_type == "cpu" else f"training_{device_type}"
    return RESULTS / f"{stem}.json", RESULTS / f"{stem}.md"


def rewrite_tables(device_type):
    """Rewrites a device's markdown table from its JSON, measuring nothing.

    Arguments
    ---------
    device_type : str
        ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    table : str
        The table.
    """
    json_path, md_path = result_files(device_type)
    report = json.loads(json_path.read_text())
    peaks = report["matmul_peak"]
    if device_type == "cpu":
        peaks = {int(t): p for t, p in peaks.items()}
    for row in report["results"]:
        summarise(row, peaks)
    json_path.write_text(json.dumps(report, indent=2))
    table = markdown_table(
        report["results"], peaks, report.get("device", {"type": "cpu"})
    )
    md_path.write_text(table)
    return table


def main():
    """Runs every variant and writes the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--min-time", type=float, default=3.0)
    parser.add_argument("--min-steps", type=int, default=2)
    parser.add_argument("--only", nargs="+", help="variants to run")
    parser.add_argument("--models", nargs="+", choices=sorted(LABELS))
    parser.add_argument(
        "--tables-only",
        action="store_true",
        help="rewrite the markdown table from the JSON, measuring nothing",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(json.loads(args.worker))
        return
    if args.tables_only:
        print(rewrite_tables(args.device), end="")
        return
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA device")
    load_before = os.getloadavg()[0]
    if args.device == "cuda":
        device = {"type": "cuda", "name": torch.cuda.get_device_name(0)}
        peaks = run_worker({"kind": "cuda-peak"})
        variants = CUDA_VARIANTS
    else:
        device = {"type": "cpu"}
        peaks = {t: run_worker({"kind": "peak", "threads": t}) for t in (1, 2)}
        variants = VARIANTS
    for key, peak in peaks.items():
        print(f"matmul peak, {key}: {peak}", flush=True)
    rows = []
    for name, _, overrides, models in variants:
        if args.only and name not in args.only:
            continue
        for model in models:
            if args.models and model not in args.models:
                continue
            config = {**BASE, **overrides, "device": args.device}
            job = {
                "kind": "variant",
                "model": model,
                "config": config,
                "min_time": args.min_time,
                "min_steps": args.min_steps,
            }
            begin = time.perf_counter()
            row = {"variant": name, "model": model, "config": config}
            row.update(run_worker(job))
            row["load_average_1min"] = os.getloadavg()[0]
            summarise(row, peaks)
            rows.append(row)
            print(
                f"{name:16s} {model:10s} "
                + (
                    f"{row['utterances_per_second']:6.1f} utt/s"
                    if "utterances_per_second" in row
                    else str(row.get("error"))
                )
                + f" ({time.perf_counter() - begin:.0f} s, load "
                f"{row['load_average_1min']:.1f})",
                flush=True,
            )
    table = markdown_table(rows, peaks, device)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "sample_rate": SAMPLE_RATE,
        "epoch_utterances": EPOCH_UTTERANCES,
        "min_time": args.min_time,
        "min_steps": args.min_steps,
        "device": device,
        "matmul_peak": {str(t): peak for t, peak in peaks.items()},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "load_average_1min_before": load_before,
            "load_average_1min_after": os.getloadavg()[0],
        },
        "versions": {"torch": torch.__version__},
        "results": rows,
    }
    json_path, md_path = result_files(args.device)
    json_path.write_text(json.dumps(report, indent=2))
    md_path.write_text(table)
    print(table, end="")


if __name__ == "__main__":
    main()
