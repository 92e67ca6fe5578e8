"""Counts of a corpus read back from its protocols, and a readable table.

Works on a generated corpus and on a real ASVspoof 2019 LA folder alike
(the speaker names and seed come from the generator's marker
``toy_corpus.json`` when there is one); the ASVspoof 2021 LA eval part is
counted from ``keys/LA/CM/trial_metadata.txt`` when the folder holds one.

Authors
 * speechbrain-asd developers
"""

import csv
import json
import os
from collections import Counter
from pathlib import Path

from asd_toy_corpus.layout import (
    ASV_SPLITS,
    GENDERS,
    asv_enrolment_path,
    asv_metadata_2021_path,
    asv_trials_path,
    cm_metadata_2021_path,
    cm_protocol_path,
)
from asd_toy_corpus.telephony_codecs import CODECS
from speechbrain_asd.scorefiles import (
    read_asv_enrolment,
    read_asv_protocol,
    read_cm_protocol,
)

MARKER = "toy_corpus.json"
SPLITS = ("train", "dev", "eval")
SUBSETS_2021 = ("eval", "progress", "hidden")


def _split_counts(path):
    """Counts the trials of one CM protocol.

    Arguments
    ---------
    path : str
        The protocol.

    Returns
    -------
    dict
        ``trials``, ``bonafide``, ``spoof``, ``attacks`` (system id ->
        count) and ``speakers`` (id -> ``{"bonafide": n, "spoof": n}``).
    """
    trials = read_cm_protocol(path)
    speakers = {}
    for trial in trials:
        counts = speakers.setdefault(trial.speaker, {"bonafide": 0, "spoof": 0})
        counts[trial.key] += 1
    attacks = Counter(t.attack for t in trials if t.key == "spoof")
    return {
        "trials": len(trials),
        "bonafide": sum(t.key == "bonafide" for t in trials),
        "spoof": sum(t.key == "spoof" for t in trials),
        "attacks": dict(sorted(attacks.items())),
        "speakers": dict(sorted(speakers.items())),
    }


def _asv_counts(root, split):
    """Counts the ASV enrolment and trial lists of a split.

    Arguments
    ---------
    root : pathlib.Path
        The corpus folder.
    split : str
        ``"dev"`` or ``"eval"``.

    Returns
    -------
    dict or None
        ``enrolled`` speakers, ``enrolment`` utterances and ``target``,
        ``nontarget``, ``spoof`` trials; None when the trial list is absent.
    """
    trials_path = asv_trials_path(root, split)
    if not os.path.exists(trials_path):
        return None
    enrolled = {}
    for gender in GENDERS:
        path = asv_enrolment_path(root, split, gender)
        if os.path.exists(path):
            enrolled.update(read_asv_enrolment(path))
    keys = Counter(t.key for t in read_asv_protocol(trials_path))
    return {
        "enrolled": len(enrolled),
        "enrolment": sum(len(u) for u in enrolled.values()),
        "target": keys["target"],
        "nontarget": keys["nontarget"],
        "spoof": keys["spoof"],
    }


def _by_class(trials, field, known):
    """Bona fide and spoof counts per value of a trial field.

    Arguments
    ---------
    trials : list of CMTrial
        The trials.
    field : str
        ``"codec"`` or ``"subset"``.
    known : tuple of str
        The values listed first, in this order (others follow sorted).

    Returns
    -------
    dict
        Value -> ``{"bonafide": n, "spoof": n}``.
    """
    values = {getattr(t, field) for t in trials}
    ordered = [v for v in known if v in values] + sorted(values - set(known))
    counts = {v: {"bonafide": 0, "spoof": 0} for v in ordered}
    for trial in trials:
        counts[getattr(trial, field)][trial.key] += 1
    return counts


def _eval_2021_counts(root):
    """Counts the ASVspoof 2021 LA eval part, when the folder has its keys.

    Arguments
    ---------
    root : pathlib.Path
        The corpus folder.

    Returns
    -------
    dict or None
        ``trials``, ``bonafide``, ``spoof``, ``codecs`` and ``subsets``
        (each value -> ``{"bonafide": n, "spoof": n}``) and ``asv``
        (``target``, ``nontarget``, ``spoof`` trials, None without ASV
        keys); None without CM keys.
    """
    path = cm_metadata_2021_path(root)
    if not os.path.exists(path):
        return None
    trials = read_cm_protocol(path)
    asv = None
    if os.path.exists(asv_metadata_2021_path(root)):
        keys = Counter(
            t.key for t in read_asv_protocol(asv_metadata_2021_path(root))
        )
        asv = {k: keys[k] for k in ("target", "nontarget", "spoof")}
    return {
        "trials": len(trials),
        "bonafide": sum(t.key == "bonafide" for t in trials),
        "spoof": sum(t.key == "spoof" for t in trials),
        "codecs": _by_class(trials, "codec", CODECS),
        "subsets": _by_class(trials, "subset", SUBSETS_2021),
        "asv": asv,
    }


def _csv_rows(path):
    """Counts the data rows of a CSV file.

    Arguments
    ---------
    path : pathlib.Path
        The CSV.

    Returns
    -------
    int or None
        Rows after the header; None when the file is absent.
    """
    if not path.exists():
        return None
    with open(path, newline="", encoding="utf-8") as handle:
        return max(0, sum(1 for _ in csv.reader(handle)) - 1)


def summarize_corpus(root):
    """Counts per split, attack and speaker, read back from the protocols.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder (holding ``LA/``).

    Returns
    -------
    dict
        ``root``, ``seed`` and ``size`` (None without a marker),
        ``splits`` (per split: ``trials``, ``bonafide``, ``spoof``,
        ``attacks``, ``speakers``), ``asv`` (per dev/eval split),
        ``augmentation`` (``noise`` and ``rir`` file counts),
        ``eval_2021`` (``trials``, ``bonafide``, ``spoof``, per ``codecs``
        and ``subsets`` bona fide and spoof counts and ``asv`` key counts;
        None without the 2021 keys) and ``speakers`` (id -> name, gender,
        split, from the marker).

    Raises
    ------
    FileNotFoundError
        When a CM protocol is missing.

    Example
    -------
    >>> from asd_toy_corpus.layout import write_protocols
    >>> from asd_toy_corpus.plan import make_plan
    >>> root = getfixture("tmp_path")
    >>> _ = write_protocols(root, make_plan(1, "small"))
    >>> summary = summarize_corpus(root)
    >>> summary["splits"]["train"]["attacks"]["A01"], summary["seed"]
    (12, None)
    """
    root = Path(root).absolute()
    splits = {}
    for split in SPLITS:
        path = cm_protocol_path(root, split)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path} is missing: {root} is not an ASVspoof 2019 LA-style "
                "corpus (or its generation did not finish)"
            )
        splits[split] = _split_counts(path)
    marker = {}
    if (root / MARKER).exists():
        marker = json.loads((root / MARKER).read_text(encoding="utf-8"))
    return {
        "root": str(root),
        "seed": marker.get("seed"),
        "size": marker.get("size"),
        "splits": splits,
        "asv": {split: _asv_counts(root, split) for split in ASV_SPLITS},
        "augmentation": {
            name: _csv_rows(root / "augmentation" / f"{name}.csv")
            for name in ("noise", "rir")
        },
        "eval_2021": _eval_2021_counts(root),
        "speakers": {
            s["id"]: {k: s[k] for k in ("name", "gender", "split")}
            for s in marker.get("speakers", [])
        },
    }


def _table(header, rows):
    """Formats a markdown table.

    Arguments
    ---------
    header : list of str
        Column names.
    rows : list of list
        Cells (formatted with ``str``).

    Returns
    -------
    list of str
        The table's lines.
    """
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def format_corpus_summary(summary):
    """Formats a corpus summary as readable markdown tables.

    Arguments
    ---------
    summary : dict
        As returned by ``summarize_corpus`` or ``make_toy_corpus``.

    Returns
    -------
    str
        Tables of trials per split and attack, per speaker (bona fide
        trials, their share of the split's bona fide trials, spoofs), the
        ASV lists, the 2021 eval part per codec and per subset, and the
        augmentation sets.

    Example
    -------
    >>> from asd_toy_corpus.layout import write_protocols
    >>> from asd_toy_corpus.plan import make_plan
    >>> root = getfixture("tmp_path")
    >>> _ = write_protocols(root, make_plan(1, "small"))
    >>> print(format_corpus_summary(summarize_corpus(root)).splitlines()[4])
    | train | 99 | 27 | 72 | 12 | 12 | 12 | 12 | 12 | 12 | - | - | 9 |
    """
    splits = summary["splits"]
    attacks = sorted({a for s in splits.values() for a in s["attacks"]})
    title = f"Corpus {summary['root']}"
    if summary.get("seed") is not None:
        title += f" (seed {summary['seed']}, size {summary['size']})"
    lines = [title, ""]
    lines += _table(
        ["split", "trials", "bona fide", "spoof", *attacks, "speakers"],
        [
            [
                name,
                s["trials"],
                s["bonafide"],
                s["spoof"],
                *(s["attacks"].get(a, "-") for a in attacks),
                len(s["speakers"]),
            ]
            for name, s in splits.items()
        ],
    )
    names = summary.get("speakers", {})
    lines.append("")
    lines += _table(
        [
            "speaker",
            "name",
            "gender",
            "split",
            "bona fide",
            "bona fide share",
            "spoof",
        ],
        [
            [
                spk,
                names.get(spk, {}).get("name", "-"),
                names.get(spk, {}).get("gender", "-"),
                split,
                counts["bonafide"],
                f"{100 * counts['bonafide'] / max(s['bonafide'], 1):.1f} %",
                counts["spoof"],
            ]
            for split, s in splits.items()
            for spk, counts in s["speakers"].items()
        ],
    )
    asv = {k: v for k, v in summary.get("asv", {}).items() if v}
    if asv:
        lines.append("")
        lines += _table(
            [
                "ASV",
                "enrolled",
                "enrolment utts",
                "target",
                "nontarget",
                "spoof",
            ],
            [
                [
                    split,
                    c["enrolled"],
                    c["enrolment"],
                    c["target"],
                    c["nontarget"],
                    c["spoof"],
                ]
                for split, c in asv.items()
            ],
        )
    eval_2021 = summary.get("eval_2021")
    if eval_2021:
        for field, title in (("codecs", "2021 codec"), ("subsets", "subset")):
            lines.append("")
            lines += _table(
                [title, "trials", "bona fide", "spoof"],
                [
                    [
                        name,
                        c["bonafide"] + c["spoof"],
                        c["bonafide"],
                        c["spoof"],
                    ]
                    for name, c in eval_2021[field].items()
                ]
                + [
                    [
                        "all",
                        eval_2021["trials"],
                        eval_2021["bonafide"],
                        eval_2021["spoof"],
                    ]
                ],
            )
        if eval_2021.get("asv"):
            asv_2021 = eval_2021["asv"]
            lines += [
                "",
                f"2021 ASV trials: {asv_2021['target']} target, "
                f"{asv_2021['nontarget']} nontarget, {asv_2021['spoof']} spoof",
            ]
    augmentation = summary.get("augmentation", {})
    if any(v is not None for v in augmentation.values()):
        lines += [
            "",
            f"Augmentation: {augmentation.get('noise') or 0} noise files, "
            f"{augmentation.get('rir') or 0} room impulse responses",
        ]
    return "\n".join(lines)
