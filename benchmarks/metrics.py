"""Times EER, both min t-DCF forms, the ASVspoof 5 metrics (minDCF, actDCF,
Cllr, minCllr) and the bootstrap on 200,000 CM trials.

Seeded random scores rounded to two decimals (so that many scores tie),
10 % bona fide; the ASV operating point comes from 25,000 ASV trials and is
computed once, outside the timed calls. Each metric is timed over a few
repeats and the median is kept. Writes ``benchmarks/results/metrics.json``
and prints a markdown table.

Then times ``speechbrain_asd.bootstrap`` once each (EER and both min t-DCF
forms, ``--resamples`` resamples per design): trial resampling alone, trial
and speaker resampling (67 speakers, as ASVspoof 2019 LA eval), and the
paired comparison of two systems; and, for reference, the naive way (draw
the trials, call the ``metrics`` functions) on a few resamples, scaled to
``--resamples``. Writes ``benchmarks/results/bootstrap.json`` and prints a
second table.

It also times the ASVspoof 2021 decomposed results
(``speechbrain_asd.decomposition``: 13 attacks x 7 codecs, each cell with
its own ASV operating point), with the CM and ASV trials dealt over the
attacks and codecs at random.

Usage: ``python benchmarks/metrics.py [--trials N] [--repeats R]
[--resamples B]`` (``--resamples 0`` skips the bootstrap part)

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

import numpy as np

from speechbrain_asd.bootstrap import bootstrap_metrics, paired_bootstrap
from speechbrain_asd.decomposition import CODECS_2021, decomposed_results
from speechbrain_asd.metrics import (
    asv_operating_point,
    compute_act_dcf,
    compute_cllr,
    compute_eer,
    compute_min_cllr,
    compute_min_dcf,
    compute_min_tdcf,
    compute_min_tdcf_2019,
    compute_min_tdcf_2021,
    tdcf_constants_by_metric,
)
from speechbrain_asd.scorefiles import ASVTrial, CMTrial

RESULTS = Path(__file__).resolve().parent / "results" / "metrics.json"
BOOTSTRAP_RESULTS = RESULTS.with_name("bootstrap.json")
SPEAKERS = 67
NAIVE_RESAMPLES = 5


def make_scores(trials, seed):
    """Draws CM and ASV scores with ties.

    Arguments
    ---------
    trials : int
        Number of CM trials (10 % bona fide).
    seed : int
        Seed of the numpy generator.

    Returns
    -------
    bonafide : numpy.ndarray
        Bona fide CM scores.
    spoof : numpy.ndarray
        Spoof CM scores.
    asv : tuple of numpy.ndarray
        ASV target, nontarget and spoof scores.
    """
    rng = np.random.default_rng(seed)
    n_bonafide = trials // 10
    bonafide = np.round(rng.normal(2.0, 1.0, n_bonafide), 2)
    spoof = np.round(rng.normal(0.0, 1.0, trials - n_bonafide), 2)
    asv = (
        np.round(rng.normal(3.0, 1.0, 5_000), 2),
        np.round(rng.normal(0.0, 1.0, 10_000), 2),
        np.round(rng.normal(2.0, 1.5, 10_000), 2),
    )
    return bonafide, spoof, asv


def median_seconds(function, repeats):
    """Runs a function several times and keeps its median duration.

    Arguments
    ---------
    function : callable
        Called without arguments.
    repeats : int
        How many runs.

    Returns
    -------
    seconds : float
        Median wall-clock duration.
    result : object
        What the last run returned.
    """
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations), result


def write_json(path, payload):
    """Writes a JSON file atomically (temporary file, then rename).

    Arguments
    ---------
    path : pathlib.Path
        The file to write.
    payload : dict
        Its content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=2)
        out.write("\n")
    os.replace(tmp, path)


def naive_bootstrap(bonafide, spoof, constants, resamples, seed):
    """The reference way: draw each resample's trials, call ``metrics``.

    Arguments
    ---------
    bonafide : numpy.ndarray
        Bona fide CM scores.
    spoof : numpy.ndarray
        Spoof CM scores.
    constants : dict
        Metric name -> t-DCF constants.
    resamples : int
        How many resamples.
    seed : int
        Seed of the numpy generator.

    Returns
    -------
    list of float
        The EER of each resample.
    """
    rng = np.random.default_rng(seed)
    eers = []
    for _ in range(resamples):
        drawn_b = bonafide[rng.integers(0, bonafide.size, bonafide.size)]
        drawn_s = spoof[rng.integers(0, spoof.size, spoof.size)]
        eers.append(compute_eer(drawn_b, drawn_s)[0])
        for values in constants.values():
            compute_min_tdcf(drawn_b, drawn_s, values)
    return eers


def time_bootstrap(bonafide, spoof, asv_op, args):
    """Times the bootstrap designs, writes their JSON, prints their table.

    Arguments
    ---------
    bonafide : numpy.ndarray
        Bona fide CM scores.
    spoof : numpy.ndarray
        Spoof CM scores.
    asv_op : ASVOperatingPoint
        The fixed ASV operating point.
    args : argparse.Namespace
        ``trials``, ``resamples`` and ``seed``.
    """
    constants = tdcf_constants_by_metric(asv_op)
    rng = np.random.default_rng(args.seed + 1)
    speakers = (
        rng.integers(0, SPEAKERS, bonafide.size).astype(str),
        rng.integers(0, SPEAKERS, spoof.size).astype(str),
    )
    other = (bonafide + rng.normal(0.0, 0.3, bonafide.size), spoof)
    common = {"tdcf_constants": constants, "n_resamples": args.resamples}
    runs = {
        "trial": lambda: bootstrap_metrics(bonafide, spoof, **common),
        "trial_and_speaker": lambda: bootstrap_metrics(
            bonafide, spoof, *speakers, **common
        ),
        "paired_trial_and_speaker": lambda: paired_bootstrap(
            bonafide, spoof, *other, *speakers, **common
        ),
    }
    seconds = {}
    results = {}
    for name, call in runs.items():
        seconds[name], results[name] = median_seconds(call, 1)
    naive, _ = median_seconds(
        lambda: naive_bootstrap(
            bonafide, spoof, constants, NAIVE_RESAMPLES, args.seed
        ),
        1,
    )
    seconds["naive_trial_scaled"] = naive * args.resamples / NAIVE_RESAMPLES
    payload = {
        "trials": args.trials,
        "bonafide": int(bonafide.size),
        "spoof": int(spoof.size),
        "speakers": SPEAKERS,
        "resamples_per_design": args.resamples,
        "naive_resamples_timed": NAIVE_RESAMPLES,
        "seconds": seconds,
        "results": results,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpus": os.cpu_count(),
        },
    }
    write_json(BOOTSTRAP_RESULTS, payload)
    print(
        f"\n| {args.trials:,} trials, {args.resamples} resamples per design "
        "(EER + both min t-DCF) | seconds |"
    )
    print("|---|---|")
    for name, title in (
        ("trial", "trial resampling"),
        ("trial_and_speaker", "trial + speaker resampling"),
        ("paired_trial_and_speaker", "paired, trial + speaker resampling"),
        ("naive_trial_scaled", "naive trial resampling (scaled)"),
    ):
        print(f"| {title} | {seconds[name]:.1f} |")
    eer = results["trial_and_speaker"]["eer"]
    print(
        f"\nEER {100 * eer['value']:.2f} %, 95 % interval (trials) "
        f"[{100 * eer['trial'][0]:.2f}, {100 * eer['trial'][1]:.2f}], "
        f"(speakers) [{100 * eer['speaker'][0]:.2f}, "
        f"{100 * eer['speaker'][1]:.2f}]; naive timed on {NAIVE_RESAMPLES} "
        f"resamples; written to {BOOTSTRAP_RESULTS}"
    )


def time_decomposed(bonafide, spoof, asv, repeats, seed):
    """Times the decomposed results on the benchmark's scores.

    Arguments
    ---------
    bonafide : numpy.ndarray
        Bona fide CM scores.
    spoof : numpy.ndarray
        Spoof CM scores.
    asv : tuple of numpy.ndarray
        ASV target, nontarget and spoof scores.
    repeats : int
        How many runs (the median is kept).
    seed : int
        Seed of the attack and codec of each trial.

    Returns
    -------
    seconds : float
        Median duration.
    cells : int
        Number of cells of the grid.
    """
    rng = np.random.default_rng(seed)
    attacks = [f"A{n:02d}" for n in range(7, 20)]

    def codec():
        """Draws a codec."""
        return CODECS_2021[rng.integers(len(CODECS_2021))]

    cm_trials = [
        CMTrial("S", f"B{i}", "bonafide", "bonafide", codec())
        for i in range(bonafide.size)
    ]
    cm_trials += [
        CMTrial("S", f"X{i}", attacks[rng.integers(13)], "spoof", codec())
        for i in range(spoof.size)
    ]
    asv_trials = []
    for key, scores in zip(("target", "nontarget", "spoof"), asv):
        for i in range(scores.size):
            attack = attacks[rng.integers(13)] if key == "spoof" else "bonafide"
            asv_trials.append(ASVTrial("S", f"{key}{i}", attack, key, codec()))
    cm_scores = np.concatenate((bonafide, spoof))
    asv_scores = np.concatenate(asv)
    seconds, grid = median_seconds(
        lambda: decomposed_results(
            cm_trials, cm_scores, asv_trials, asv_scores
        ),
        repeats,
    )
    return seconds, len(grid["rows"]) * len(grid["columns"])


def main():
    """Runs the benchmark, writes the JSON and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    bonafide, spoof, asv = make_scores(args.trials, args.seed)
    asv_op = asv_operating_point(*asv)
    timings = {}
    values = {}
    for name, call in (
        ("eer", lambda: compute_eer(bonafide, spoof)[0]),
        (
            "min_tdcf_2019",
            lambda: compute_min_tdcf_2019(bonafide, spoof, asv_op),
        ),
        (
            "min_tdcf_2021",
            lambda: compute_min_tdcf_2021(bonafide, spoof, asv_op),
        ),
        ("min_dcf", lambda: compute_min_dcf(bonafide, spoof)),
        ("act_dcf", lambda: compute_act_dcf(bonafide, spoof)),
        ("cllr", lambda: compute_cllr(bonafide, spoof)),
        ("min_cllr", lambda: compute_min_cllr(bonafide, spoof)),
    ):
        timings[name], values[name] = median_seconds(call, args.repeats)
    total = sum(timings.values())
    distinct = np.unique(np.concatenate((bonafide, spoof))).size
    payload = {
        "trials": args.trials,
        "bonafide": int(bonafide.size),
        "spoof": int(spoof.size),
        "distinct_scores": int(distinct),
        "repeats": args.repeats,
        "seed": args.seed,
        "seconds": {**timings, "total": total},
        "values": values,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpus": os.cpu_count(),
        },
    }
    grid_seconds, cells = time_decomposed(
        bonafide, spoof, asv, args.repeats, args.seed
    )
    payload["decomposed"] = {"cells": cells, "seconds": grid_seconds}
    write_json(RESULTS, payload)
    names = list(timings)
    print(
        "| trials | " + " | ".join(f"{n} (s)" for n in names) + " | total (s) |"
    )
    print("|---" * (len(names) + 2) + "|")
    print(
        f"| {args.trials:,} | "
        + " | ".join(f"{timings[n]:.4f}" for n in names)
        + f" | {total:.4f} |"
    )
    print(
        f"\nEER {100 * values['eer']:.2f} %, min t-DCF 2019 "
        f"{values['min_tdcf_2019']:.4f}, 2021 {values['min_tdcf_2021']:.4f}, "
        f"minDCF {values['min_dcf']:.4f}, actDCF {values['act_dcf']:.4f}, "
        f"Cllr {values['cllr']:.4f}, minCllr {values['min_cllr']:.4f} bits; "
        f"{distinct:,} distinct scores; median of {args.repeats} runs; "
        f"written to {RESULTS}"
    )
    print(
        f"ASVspoof 2021 decomposed results ({cells} cells, each with its own "
        f"ASV operating point): {grid_seconds:.3f} s"
    )
    if args.resamples:
        time_bootstrap(bonafide, spoof, asv_op, args)


if __name__ == "__main__":
    main()
