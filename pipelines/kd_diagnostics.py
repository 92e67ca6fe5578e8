#!/usr/bin/env python3
"""How closely students match their teacher on the training utterances.

For a teacher stage folder and student stage folders (each with its
``model_info.json`` and ``save/`` checkpoints, as the recipe's teacher and
student stages write them), the best checkpoint of each model scores a
fixed random subset of the training utterances (whole files, the manifest
of the first student) and the script reports, per student: the NLL and
accuracy of the 8 training classes, the KL divergence from the teacher's
softened distribution at temperature T (the term Hinton KD minimises), the
KL of the bona fide vs rest split alone (the part the CM score reads) and
the Spearman rank correlation of its bona fide scores with the teacher's.
It tells whether a distilled student learnt to imitate its teacher and
whether that imitation carries the bona fide decision. Prints a table and
writes it as JSON.

Example::

    python pipelines/kd_diagnostics.py \\
        --teacher results/paper/seed1/teacher_static \\
        --student kd=results/paper/seed1/student_static \\
        --student alone=results/paper/seed1/student_no_kd \\
        --data-folder data/toy_corpus --out kd_diagnostics.json

Authors
 * speechbrain-asd developers
"""

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from speechbrain_asd.audio import read_audio
from speechbrain_asd.export import load_stage_model
from speechbrain_asd.features import LogMelFeatures
from speechbrain_asd.lobes.score import bonafide_score
from speechbrain_asd.losses.distillation import kd_kl_divergence

TRAIN_MANIFEST = "manifests/train.csv"
DATA_ROOT = "$data_root"


def training_items(manifest, data_folder, n_items, seed):
    """A fixed random subset of a training manifest's utterances.

    Arguments
    ---------
    manifest : pathlib.Path
        The stage's ``manifests/train.csv``.
    data_folder : pathlib.Path
        The corpus (replaces ``$data_root``).
    n_items : int
        How many utterances (all when fewer).
    seed : int
        Seed of the subset.

    Returns
    -------
    items : list of (str, int)
        Audio path and class label.
    """
    with open(manifest, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    order = np.random.default_rng(seed).permutation(len(rows))[:n_items]
    return [
        (
            rows[i]["wav"].replace(DATA_ROOT, str(data_folder)),
            int(rows[i]["label"]),
        )
        for i in sorted(order)
    ]


def model_logits(models, items, sample_rate, n_mels):
    """Every model's logits on every item (one utterance at a time).

    Arguments
    ---------
    models : dict
        Name -> model.
    items : list of (str, int)
        Audio paths and labels.
    sample_rate : int
        The models' sample rate.
    n_mels : int
        Mel bands of the models' features.

    Returns
    -------
    logits : dict
        Name -> tensor [items, classes].
    """
    features = LogMelFeatures(sample_rate=sample_rate, n_mels=n_mels)
    found = {name: [] for name in models}
    with torch.no_grad():
        for path, _ in items:
            feats = features(read_audio(path, sample_rate)[None])
            for name, model in models.items():
                found[name].append(model(feats))
    return {name: torch.cat(rows) for name, rows in found.items()}


def binary_kl(teacher_logits, student_logits, temperature):
    """KL of the bona fide vs rest split at a temperature, per item.

    Arguments
    ---------
    teacher_logits : torch.Tensor
        [items, classes], bona fide in column 0.
    student_logits : torch.Tensor
        Same shape.
    temperature : float
        Softening temperature.

    Returns
    -------
    torch.Tensor
        [items].

    Example
    -------
    >>> logits = torch.tensor([[2.0, 0.0, 0.0]])
    >>> binary_kl(logits, logits, 5.0).tolist()
    [0.0]
    """
    teacher = bonafide_score(teacher_logits / temperature)
    student = bonafide_score(student_logits / temperature)
    p = torch.sigmoid(teacher)
    return p * (F.logsigmoid(teacher) - F.logsigmoid(student)) + (1 - p) * (
        F.logsigmoid(-teacher) - F.logsigmoid(-student)
    )


def diagnostics(logits, labels, teacher, temperature):
    """Per model: NLL, accuracy, and for students the match to the teacher.

    Arguments
    ---------
    logits : dict
        Name -> [items, classes] logits (the teacher's among them).
    labels : torch.Tensor
        [items] class labels.
    teacher : str
        The teacher's name in ``logits``.
    temperature : float
        KD temperature.

    Returns
    -------
    rows : list of dict
        ``model``, ``nll``, ``accuracy``, ``kl_to_teacher``,
        ``binary_kl_to_teacher``, ``bonafide_spearman`` (None for the
        teacher's own row).

    Example
    -------
    >>> t = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0]])
    >>> rows = diagnostics({"t": t, "s": t}, torch.tensor([0, 1, 0]), "t", 5.0)
    >>> rows[1]["kl_to_teacher"], rows[1]["bonafide_spearman"]
    (0.0, 1.0)
    """
    reference = logits[teacher]
    rows = []
    for name, found in logits.items():
        row = {
            "model": name,
            "nll": float(F.cross_entropy(found, labels)),
            "accuracy": float((found.argmax(dim=1) == labels).float().mean()),
            "kl_to_teacher": None,
            "binary_kl_to_teacher": None,
            "bonafide_spearman": None,
        }
        if name != teacher:
            row["kl_to_teacher"] = float(
                kd_kl_divergence(found, reference, temperature)
            )
            row["binary_kl_to_teacher"] = float(
                binary_kl(reference, found, temperature).mean()
            )
            row["bonafide_spearman"] = float(
                spearmanr(bonafide_score(found), bonafide_score(reference))[0]
            )
        rows.append(row)
    return rows


def markdown(rows, temperature, n_items):
    """The diagnostics as a Markdown table.

    Arguments
    ---------
    rows : list of dict
        From ``diagnostics``.
    temperature : float
        KD temperature.
    n_items : int
        Utterances scored.

    Returns
    -------
    str
        The table.
    """
    lines = [
        f"| model ({n_items} training utterances) | NLL | accuracy (%) | "
        f"KL to teacher, T {temperature:g} | bona fide-vs-rest KL, "
        f"T {temperature:g} | Spearman of bona fide scores with teacher |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cells = [
            row["model"],
            f"{row['nll']:.3f}",
            f"{100 * row['accuracy']:.1f}",
        ]
        for key, digits in (
            ("kl_to_teacher", 4),
            ("binary_kl_to_teacher", 4),
            ("bonafide_spearman", 3),
        ):
            value = row[key]
            cells.append("-" if value is None else f"{value:.{digits}f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def named_folder(text):
    """Parses ``NAME=FOLDER``.

    Arguments
    ---------
    text : str
        The argument.

    Returns
    -------
    (str, pathlib.Path)
        The name and the folder.
    """
    name, sep, folder = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=FOLDER, got {text!r}")
    return name, Path(folder)


def main(argv=None):
    """Runs the diagnostics from the command line.

    Arguments
    ---------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument(
        "--student", type=named_folder, action="append", required=True
    )
    parser.add_argument("--data-folder", type=Path, required=True)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--temperature", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="JSON file to write")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    models = {}
    info, _, models["teacher"] = load_stage_model(args.teacher)
    for name, folder in args.student:
        models[name] = load_stage_model(folder)[2]
    for model in models.values():
        model.eval()
    first_student = args.student[0][1]
    items = training_items(
        first_student / TRAIN_MANIFEST, args.data_folder, args.items, args.seed
    )
    logits = model_logits(
        models, items, info["sample_rate"], models["teacher"].n_mels
    )
    labels = torch.tensor([label for _, label in items])
    rows = diagnostics(logits, labels, "teacher", args.temperature)
    table = markdown(rows, args.temperature, len(items))
    print(table)
    if args.out is not None:
        payload = {
            "teacher": str(args.teacher),
            "students": {name: str(folder) for name, folder in args.student},
            "items": len(items),
            "temperature": args.temperature,
            "seed": args.seed,
            "rows": rows,
        }
        args.out.write_text(json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
