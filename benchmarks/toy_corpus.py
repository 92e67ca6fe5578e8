"""Benchmark of the offline corpus: generation time and difficulty.

Generates the corpus (default size unless ``--size`` says otherwise) into a
temporary folder, times it, trains a logistic regression on per-utterance
log-Mel mean/std on train and scores eval (pooled and per-attack EER; the
corpus must give at least 10 % pooled EER), writes
``benchmarks/results/toy_corpus.json`` and prints markdown tables.

Usage: ``python benchmarks/toy_corpus.py [--size default] [--seed 1234]``

Authors
 * speechbrain-asd developers
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from asd_toy_corpus import (
    DEFAULT_SEED,
    format_corpus_summary,
    make_toy_corpus,
)
from asd_toy_corpus.difficulty import lr_difficulty

RESULTS = Path(__file__).resolve().parent / "results" / "toy_corpus.json"
MIN_POOLED_EER = 0.10


def run(size, seed, workers):
    """Generates a corpus, times it and measures its LR difficulty.

    Arguments
    ---------
    size : str
        Corpus size.
    seed : int
        Corpus seed.
    workers : int
        Worker processes for the generation.

    Returns
    -------
    dict
        Timings, the LR EERs and the corpus counts.
    """
    with tempfile.TemporaryDirectory(prefix="toy_corpus_bench_") as folder:
        root = os.path.join(folder, "corpus")
        start = time.perf_counter()
        summary = make_toy_corpus(root, seed=seed, size=size, workers=workers)
        generation = time.perf_counter() - start
        start = time.perf_counter()
        difficulty = lr_difficulty(root)
        check = time.perf_counter() - start
        table = format_corpus_summary(summary)
    return {
        "size": size,
        "seed": seed,
        "workers": workers,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "generation_seconds": round(generation, 2),
        "lr_check_seconds": round(check, 2),
        "lr_pooled_eer": difficulty["pooled_eer"],
        "lr_per_attack_eer": difficulty["per_attack_eer"],
        "lr_meets_minimum": difficulty["pooled_eer"] >= MIN_POOLED_EER,
        "splits": {
            name: {k: split[k] for k in ("trials", "bonafide", "spoof")}
            | {"attacks": split["attacks"], "speakers": split["speakers"]}
            for name, split in summary["splits"].items()
        },
        "asv": summary["asv"],
        "augmentation": summary["augmentation"],
        "table": table,
    }


def format_results(result):
    """Formats the benchmark result as markdown.

    Arguments
    ---------
    result : dict
        As returned by ``run``.

    Returns
    -------
    str
        Timing and EER tables followed by the corpus tables.
    """
    lines = [
        "| size | seed | workers | generation (s) | LR pooled EER (%) |",
        "|---|---|---|---|---|",
        f"| {result['size']} | {result['seed']} | {result['workers']} | "
        f"{result['generation_seconds']:.1f} | "
        f"{100 * result['lr_pooled_eer']:.1f} |",
        "",
        "| attack | LR EER (%) |",
        "|---|---|",
    ]
    lines += [
        f"| {attack} | {100 * eer:.1f} |"
        for attack, eer in result["lr_per_attack_eer"].items()
    ]
    verdict = "meets" if result["lr_meets_minimum"] else "FAILS"
    lines += [
        "",
        f"LR pooled EER {verdict} the minimum of {100 * MIN_POOLED_EER:.0f} %.",
        "",
        result["table"],
    ]
    return "\n".join(lines)


def main():
    """Runs the benchmark and writes its JSON.

    Returns
    -------
    int
        0 when the LR pooled EER meets the minimum, else 1.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="default", help="corpus size")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    result = run(args.size, args.seed, args.workers)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(format_results(result))
    print(f"\nwritten: {RESULTS}")
    return 0 if result["lr_meets_minimum"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
