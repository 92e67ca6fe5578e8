"""Summary tables of a pipeline run: metrics, intervals, paired comparisons.

``run_pipeline.py`` (next to it in ``pipelines/``) runs the jobs of the
recipe ``recipes/ASVspoof2019_LA/``; this module turns their reports into
``summary.json`` / ``summary.md`` (one row per model: mean +- std over the
seeds, and with one seed the 95 % bootstrap intervals of the eval EER that
each stage wrote into its ``eval_report.json``) and, for the plan's
``comparisons``, ``comparisons.json`` / ``comparisons.md``: the paired
bootstrap (``speechbrain_asd.evaluation.compare_score_files``) of two
models' eval score files, seed by seed, and a verdict over the seeds; and,
first, one row per claim with the mean difference over the seeds and its
t interval (``seeds_table``), which carries the run-to-run variation.
Speaker-side jobs (SEEF-ALDR, speaker KD) report ASV metrics instead
(``asv_report.json``): ``asv_summary.json`` / ``asv_summary.md`` give
their dev and eval speaker EER and minDCF, mean +- std over the seeds, as
the SEEF-ALDR ablation (the shape of that paper's Table 5) and the light
ASV table (the KD teacher, then its students).

A comparison ``{claim, a, b}`` claims that model ``b`` has the lower eval
EER. Its verdict is ``holds`` when in every seed the 95 % interval of the
EER difference B - A (trials resampled) lies below 0, ``reversed`` when it
lies above 0 in every seed, and ``not resolved`` otherwise.

Authors
 * speechbrain-asd developers
"""

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import scipy.stats
import torch

from speechbrain_asd.atomic import write_text_atomic
from speechbrain_asd.evaluation import compare_score_files
from speechbrain_asd.model_folder import CALIBRATION_FILE, read_calibration
from speechbrain_asd.tandem_evaluation import evaluate_tandem

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "ASVspoof2019_LA"
SUMMARY_FIELDS = (
    "dev_eer",
    "eval_eer",
    "eval_eer_seen",
    "eval_eer_unseen",
    "min_tdcf_2019",
    "min_tdcf_2021",
)
COMPARISON_METRICS = ("eer", "min_tdcf_2021")
REPORT_FILE = "eval_report.json"
TRAIN_LOG = "train_log.txt"
# "epoch: 3, lr: 7.22e-04 - train loss: 1.32 - valid loss: 1.84, valid EER:
# 29.69, ..." (SpeechBrain's FileTrainLogger)
LOG_FIELD = re.compile(r"(epoch|train loss|valid EER): ([-+0-9.e]+)")
VERDICTS = ("holds", "reversed", "not resolved")
ASV_REPORT_FILE = "asv_report.json"
ASV_SPLITS = ("dev", "eval")
ASV_METRICS = {"speaker_eer": "EER (%)", "min_dcf": "minDCF"}
# The encoder files of a speaker stage's checkpoint: E_p (and the KD student
# and teacher) are "model", E_e is "eliminating_encoder".
MODEL_FILE = "model.ckpt"
ENCODER_FILES = {
    "purifying": MODEL_FILE,
    "eliminating": "eliminating_encoder.ckpt",
}
BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")
# Row names of the light-ASV table: the KD teacher, and each student by the
# ``kd`` settings of its report (class name of the loss; None: CE alone).
TEACHER_ROW = "teacher (SEEF-ALDR E_p)"
KD_ROWS = {
    None: "student alone",
    "KDLoss": "Hinton KD",
    "DecoupledKDLoss": "decoupled KD",
    "EmbeddingKDLoss": "embedding KD, {distance}",
}


def read_report(folder):
    """Reads the ``eval_report.json`` of a CM job.

    Arguments
    ---------
    folder : pathlib.Path
        The job's output folder.

    Returns
    -------
    report : dict
        Its contents.
    """
    return read_json(folder / REPORT_FILE)


def read_json(path):
    """Reads a JSON file.

    Arguments
    ---------
    path : pathlib.Path
        The file.

    Returns
    -------
    object
        Its content.
    """
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def summary_entry(name, folder, seed):
    """The summary fields of one reported model.

    Arguments
    ---------
    name : str
        The job name.
    folder : pathlib.Path
        Its output folder (with ``eval_report.json``).
    seed : int
        The seed.

    Returns
    -------
    entry : dict
        ``name``, ``seed``, ``params``, ``macs``, ``aeg``, ``kd``,
        ``self_distill``, the metrics (fractions), ``intervals`` (their
        bootstrap intervals, see ``cm_scoring.cm_intervals``) and
        ``folder``.
    """
    report = read_report(folder)
    entry = {"name": name, "seed": seed}
    for key in ("params", "macs", "aeg", "kd", "self_distill"):
        entry[key] = report[key]
    entry.update({key: report[key] for key in SUMMARY_FIELDS})
    entry["intervals"] = report.get("intervals", {})
    entry["curve"] = read_curve(folder / TRAIN_LOG)
    entry["folder"] = str(folder)
    calibration = report.get("calibration", {})
    entry["operating_point"] = calibration.get("eval_operating_point")
    if "eval_2021" in report:
        entry["eval_2021"] = eval_2021_entry(report["eval_2021"])
    return entry


def eval_2021_entry(report):
    """The compact 2021 results of a model: pooled row per codec.

    Arguments
    ---------
    report : dict
        The ``eval_2021`` part of a job's ``eval_report.json``.

    Returns
    -------
    dict
        ``subset``, ``columns``, ``pooled`` (column -> ``eer`` and
        ``min_tdcf_2021``) and ``operating_point``.
    """
    grid = report["decomposed"]
    return {
        "subset": report["subset"],
        "columns": grid["columns"],
        "pooled": {
            column: {
                key: grid["cells"]["pooled"][column][key]
                for key in ("eer", "min_tdcf_2021")
            }
            for column in grid["columns"]
        },
        "operating_point": report["operating_point"],
    }


def _scaled_or_dash(value, digits, scale=1):
    """Formats ``scale * value`` with ``digits`` decimals, ``-`` for None."""
    return "-" if value is None else f"{scale * value:.{digits}f}"


def operating_point_text(point):
    """Describes a calibrated operating point in a few words.

    Arguments
    ---------
    point : dict
        ``threshold``, ``rule``, ``bonafide_rejected``, ``spoof_accepted``.

    Returns
    -------
    str
        The description.

    Example
    -------
    >>> operating_point_text({"threshold": -2.944, "rule": "bayes",
    ...     "bonafide_rejected": 0.05, "spoof_accepted": 0.1})
    'LLR >= -2.944 (bayes): 5.00 % bona fide rejected, 10.00 % spoofs accepted'
    """
    rejected = _scaled_or_dash(point["bonafide_rejected"], 2, 100)
    accepted = _scaled_or_dash(point["spoof_accepted"], 2, 100)
    return (
        f"LLR >= {point['threshold']:.3f} ({point['rule']}): "
        f"{rejected} % bona fide rejected, {accepted} % spoofs accepted"
    )


def eval_2021_table(entries):
    """Markdown of the 2021 results: per model and seed, the pooled EER and
    min t-DCF per codec, and the calibrated decision on 2019 and 2021 eval.

    Arguments
    ---------
    entries : list of dict
        Summary entries; those without ``eval_2021`` are skipped.

    Returns
    -------
    str
        The markdown ("" when no entry has 2021 results).

    Example
    -------
    >>> point = {"threshold": 0.5, "rule": "bayes",
    ...          "bonafide_rejected": 0.1, "spoof_accepted": 0.02}
    >>> entry = {"name": "student", "seed": 1, "operating_point": point,
    ...     "eval_2021": {"subset": "eval", "columns": ["gsm", "pooled"],
    ...     "pooled": {"gsm": {"eer": 0.1, "min_tdcf_2021": 0.3},
    ...                "pooled": {"eer": 0.08, "min_tdcf_2021": None}},
    ...     "operating_point": point}}
    >>> print(eval_2021_table([entry]).splitlines()[2])
    | student | 1 | EER (%) | 10.00 | 8.00 |
    """
    scored = [entry for entry in entries if entry.get("eval_2021")]
    if not scored:
        return ""
    columns = scored[0]["eval_2021"]["columns"]
    lines = [
        "| model | seed | metric | " + " | ".join(columns) + " |",
        "|---" * (3 + len(columns)) + "|",
    ]
    for entry in scored:
        pooled = entry["eval_2021"]["pooled"]
        for key, title, digits, scale in (
            ("eer", "EER (%)", 2, 100),
            ("min_tdcf_2021", "min t-DCF 2021", 4, 1),
        ):
            shown = [
                _scaled_or_dash(pooled[column][key], digits, scale)
                for column in entry["eval_2021"]["columns"]
            ]
            lines.append(
                f"| {entry['name']} | {entry['seed']} | {title} | "
                + " | ".join(shown)
                + " |"
            )
    subsets = sorted({e["eval_2021"]["subset"] or "all" for e in scored})
    lines.append("")
    lines.append(
        f"ASVspoof 2021 LA-style eval, subset {', '.join(subsets)}: pooled "
        "row of the organisers' decomposed results, one column per codec. "
        "Calibrated decision (fitted on dev):"
    )
    lines.append("")
    for entry in scored:
        points = [
            ("2019-style eval", entry.get("operating_point")),
            ("2021 eval", entry["eval_2021"]["operating_point"]),
        ]
        lines.append(
            f"- {entry['name']} (seed {entry['seed']}): "
            + "; ".join(
                f"{where} {operating_point_text(point)}"
                for where, point in points
                if point is not None
            )
        )
    return "\n".join(lines)


def read_curve(path):
    """A stage's train loss and dev EER by epoch, from its training log.

    Arguments
    ---------
    path : pathlib.Path
        The stage's ``train_log.txt`` (SpeechBrain's ``FileTrainLogger``).

    Returns
    -------
    list of dict
        ``epoch``, ``train_loss``, ``dev_eer`` (a fraction), by epoch; the
        last line of an epoch logged twice wins; empty without a log.

    Example
    -------
    >>> log = getfixture("tmp_path") / "train_log.txt"
    >>> _ = log.write_text(
    ...     "epoch: 1, lr: 1.00e-03 - train loss: 2.04 - valid loss: 5.55, "
    ...     "valid EER: 50.00, valid min_tDCF_2021: 9.53e-01\\n"
    ... )
    >>> read_curve(log)
    [{'epoch': 1, 'train_loss': 2.04, 'dev_eer': 0.5}]
    """
    if not path.is_file():
        return []
    by_epoch = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = dict(LOG_FIELD.findall(line))
        if {"epoch", "train loss", "valid EER"} <= set(fields):
            epoch = int(fields["epoch"])
            by_epoch[epoch] = {
                "epoch": epoch,
                "train_loss": float(fields["train loss"]),
                "dev_eer": float(fields["valid EER"]) / 100.0,
            }
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def curves_table(entries):
    """Dev EER by epoch and the last train loss of each model.

    Arguments
    ---------
    entries : list of dict
        Summary entries with their ``curve`` (several seeds per name
        possible: each cell is the mean over the seeds that reached it).

    Returns
    -------
    str
        A markdown table, one row per model.

    Example
    -------
    >>> entries = [
    ...     {"name": "m", "curve": [
    ...         {"epoch": 1, "train_loss": 2.0, "dev_eer": 0.5},
    ...         {"epoch": 2, "train_loss": 1.0, "dev_eer": 0.25}]},
    ...     {"name": "m", "curve": [
    ...         {"epoch": 1, "train_loss": 1.5, "dev_eer": 0.3}]},
    ... ]
    >>> print(curves_table(entries))
    | model | seeds | last train loss | dev EER (%) by epoch: 1 | 2 |
    |---|---|---|---|---|
    | m | 2 | 1.2500 | 40.00 | 25.00 |
    """
    names = list(dict.fromkeys(entry["name"] for entry in entries))
    epochs = max((len(e.get("curve", [])) for e in entries), default=0)
    header = ["model", "seeds", "last train loss", "dev EER (%) by epoch: 1"]
    header += [str(epoch) for epoch in range(2, epochs + 1)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in names:
        curves = [e.get("curve", []) for e in entries if e["name"] == name]
        by_epoch = defaultdict(list)
        for curve in curves:
            for point in curve:
                by_epoch[point["epoch"]].append(100.0 * point["dev_eer"])
        last = [curve[-1]["train_loss"] for curve in curves if curve]
        cells = [name, str(len(curves))]
        cells.append(f"{statistics.fmean(last):.4f}" if last else "-")
        cells += [
            f"{statistics.fmean(by_epoch[epoch]):.2f}"
            if by_epoch[epoch]
            else "-"
            for epoch in range(1, epochs + 1)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean_std_cell(values, percent):
    """Mean (and std over seeds) of a column, formatted.

    Arguments
    ---------
    values : list of float or None
        One value per seed.
    percent : bool
        Show as a percentage.

    Returns
    -------
    str
        ``mean`` or ``mean +- std``; ``-`` without values.
    """
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    scale = 100.0 if percent else 1.0
    mean = scale * statistics.fmean(values)
    text = f"{mean:.2f}" if percent else f"{mean:.4f}"
    if len(values) > 1:
        std = scale * statistics.stdev(values)
        text += f" +- {std:.2f}" if percent else f" +- {std:.4f}"
    return text


def format_points(difference):
    """A difference of two fractions as signed percentage points.

    Arguments
    ---------
    difference : float
        B - A, a fraction.

    Returns
    -------
    str
        Two decimals with a sign; a difference that rounds to zero is
        ``+0.00``, never ``-0.00``.

    Example
    -------
    >>> format_points(-0.0123), format_points(-1e-18)
    ('-1.23', '+0.00')
    """
    return f"{round(100 * difference, 2) + 0.0:+.2f}"


def format_interval(interval, percent=True):
    """A bootstrap interval as table text.

    Arguments
    ---------
    interval : list of float or None
        ``[low, high]``.
    percent : bool
        Show as percentages.

    Returns
    -------
    str
        ``[low, high]``, or ``-`` without an interval.

    Example
    -------
    >>> format_interval([0.031, 0.0602]), format_interval(None)
    ('[3.10, 6.02]', '-')
    >>> format_interval([-0.01, 0.02], percent=False)
    '[-0.0100, 0.0200]'
    """
    if interval is None:
        return "-"
    if percent:
        return f"[{100 * interval[0]:.2f}, {100 * interval[1]:.2f}]"
    return f"[{interval[0]:.4f}, {interval[1]:.4f}]"


def _interval_cells(group):
    """The eval EER's trial and speaker intervals, for a one-seed row.

    Arguments
    ---------
    group : list of dict
        The entries of one model (one per seed).

    Returns
    -------
    list of str
        Two cells; ``-`` with several seeds (see ``summary.json``).
    """
    eer = group[0].get("intervals", {}).get("eer")
    if len(group) != 1 or eer is None:
        return ["-", "-"]
    return [format_interval(eer["trial"]), format_interval(eer["speaker"])]


def markdown_table(entries):
    """One row per model, mean +- std over its seeds.

    With one seed, the eval EER's 95 % bootstrap intervals (trials, and
    speakers, resampled within each class) have their own columns.

    Arguments
    ---------
    entries : list of dict
        Summary entries (several seeds per name possible).

    Returns
    -------
    str
        A markdown table.
    """
    header = (
        "| model | params | MACs (4 s) | AEG | KD | seeds | dev EER (%) | "
        "eval EER (%) | 95 % CI, trials | 95 % CI, speakers | seen (%) | "
        "unseen (%) | min t-DCF 2019 | min t-DCF 2021 |"
    )
    lines = [header, "|" + "---|" * 14]
    names = list(dict.fromkeys(entry["name"] for entry in entries))
    for name in names:
        group = [entry for entry in entries if entry["name"] == name]
        first = group[0]
        cells = [
            name,
            f"{first['params'] / 1e6:.2f} M",
            f"{first['macs'] / 1e9:.2f} G",
            first["aeg"],
            first["kd"],
            str(len(group)),
        ]
        for key in SUMMARY_FIELDS:
            percent = not key.startswith("min")
            cells.append(_mean_std_cell([e[key] for e in group], percent))
            if key == "eval_eer":
                cells += _interval_cells(group)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_summary(out, entries):
    """Merges this run's entries into the summary files.

    Arguments
    ---------
    out : pathlib.Path
        ``<results>/<name>``.
    entries : list of dict
        Entries of this run (one seed).

    Returns
    -------
    all_entries : list of dict
        Entries of every seed run so far.
    """
    merged = merge_seeds(out / "summary.json", entries)
    write_text_atomic(out / "summary.md", markdown_table(merged) + "\n")
    write_text_atomic(out / "curves.md", curves_table(merged) + "\n")
    table_2021 = eval_2021_table(merged)
    if table_2021:
        write_text_atomic(out / "eval_2021.md", table_2021 + "\n")
    return merged


def merge_seeds(path, entries):
    """Merges entries into a summary file's, seed by seed, and rewrites it.

    Arguments
    ---------
    path : pathlib.Path
        The summary file (``{"models": [...]}``), absent at first.
    entries : list of dict
        New entries (``seed``): they replace the file's of their seeds.

    Returns
    -------
    merged : list of dict
        The entries of every seed so far, by seed.
    """
    previous = read_json(path)["models"] if path.is_file() else []
    seeds = {entry["seed"] for entry in entries}
    merged = [e for e in previous if e["seed"] not in seeds] + entries
    merged.sort(key=lambda e: e["seed"])
    write_json(path, {"models": merged})
    return merged


def encoder_parameters(path):
    """Number of parameters of an encoder, from its saved state dict.

    Arguments
    ---------
    path : pathlib.Path
        A checkpoint file of the encoder (``torch.save`` of a state dict).

    Returns
    -------
    int
        Total number of elements of its tensors, BatchNorm buffers left out.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    return sum(
        tensor.numel()
        for key, tensor in state.items()
        if not key.endswith(BUFFER_SUFFIXES)
    )


def seef_row(report):
    """The Table 5 row of a SEEF-ALDR run, from the switches in its report.

    Arguments
    ---------
    report : dict
        The run's ``asv_report.json``.

    Returns
    -------
    str
        The verification embedding's encoder and what trains with it, e.g.
        ``E_p + D_r`` or ``E_e without L_adv^s``.

    Example
    -------
    >>> switches = {"use_eliminating": True, "use_reconstruction": True,
    ...     "random_eliminating_vector": False, "verify_with": "purifying",
    ...     "use_adv_classifier_loss": True, "use_adv_encoder_loss": True}
    >>> seef_row(switches)
    'E_p + E_e + D_r'
    >>> seef_row({**switches, "random_eliminating_vector": True})
    'E_p + random vector + D_r'
    >>> seef_row({**switches, "verify_with": "eliminating",
    ...     "use_adv_encoder_loss": False})
    'E_e without L_adv^e'
    """
    encoder = (
        report["use_eliminating"] and not report["random_eliminating_vector"]
    )
    if report["verify_with"] == "eliminating":
        parts = ["E_e"]
    else:
        parts = ["E_p"]
        if report["use_eliminating"]:
            parts.append("E_e" if encoder else "random vector")
        if report["use_reconstruction"]:
            parts.append("D_r")
    row = " + ".join(parts)
    if encoder:
        for loss, used in (
            ("L_adv^s", report["use_adv_classifier_loss"]),
            ("L_adv^e", report["use_adv_encoder_loss"]),
        ):
            if not used:
                row += f" without {loss}"
    return row


def asv_fields(row, report, model, encoder_file):
    """The table fields of one model of an ASV report.

    Arguments
    ---------
    row : str
        The row name.
    report : dict
        An ``asv_report.json``.
    model : str
        The model's key under each split (``purifying``, ``eliminating``,
        ``student``, ``teacher``).
    encoder_file : pathlib.Path
        The checkpoint file of its encoder (for ``params``).

    Returns
    -------
    dict
        ``row``, ``params`` and ``<split>_<metric>`` for the splits and
        metrics of ``ASV_SPLITS`` and ``ASV_METRICS``.
    """
    fields = {"row": row, "params": encoder_parameters(encoder_file)}
    for split in ASV_SPLITS:
        for key in ASV_METRICS:
            fields[f"{split}_{key}"] = report[split][model][key]
    return fields


def asv_entry(name, folder, seed):
    """The ASV summary fields of one SEEF-ALDR or speaker-KD job.

    Arguments
    ---------
    name : str
        The job name.
    folder : pathlib.Path
        Its output folder (``asv_report.json``, ``save/``).
    seed : int
        The seed.

    Returns
    -------
    entry : dict
        ``name``, ``seed``, ``row``, ``params`` (of the encoder that
        verifies), the dev and eval speaker EER and minDCF (``asv_fields``)
        and ``folder``; for SEEF-ALDR ``adv_accuracy`` (C_adv on the
        held-out utterances, None without E_e), for speaker KD ``teacher``
        (the teacher job's name, from its folder, and its fields on the
        student's trials).
    """
    report = read_json(folder / ASV_REPORT_FILE)
    checkpoint = folder / "save" / report["checkpoint"]
    if "kd" in report:
        row = KD_ROWS[report["kd"]["loss"]].format(**report["kd"])
        entry = asv_fields(row, report, "student", checkpoint / MODEL_FILE)
        teacher = report["teacher"]
        entry["teacher"] = {
            "name": Path(teacher["folder"]).name,
            **asv_fields(
                TEACHER_ROW,
                report,
                "teacher",
                Path(teacher["checkpoint"]) / MODEL_FILE,
            ),
        }
    else:
        embedding = report["verify_with"]
        entry = asv_fields(
            seef_row(report),
            report,
            embedding,
            checkpoint / ENCODER_FILES[embedding],
        )
        accuracy = report["holdout"]["accuracy"]
        entry["adv_accuracy"] = accuracy.get("adv_classifier")
    return {"name": name, "seed": seed, **entry, "folder": str(folder)}


def asv_rows(entries, adv_accuracy):
    """Markdown table of ASV models, one row per job, mean +- std over seeds.

    Arguments
    ---------
    entries : list of dict
        ``asv_entry`` results (or their ``teacher``), with ``seed``.
    adv_accuracy : bool
        Whether to add the C_adv held-out accuracy column.

    Returns
    -------
    str
        The table.
    """
    header = ["row", "job", "seeds", "params"]
    header += [
        f"{split} {title}"
        for split in ASV_SPLITS
        for title in ASV_METRICS.values()
    ]
    if adv_accuracy:
        header.append("C_adv held-out acc. (%)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in dict.fromkeys(entry["name"] for entry in entries):
        group = [entry for entry in entries if entry["name"] == name]
        first = group[0]
        cells = [
            first["row"],
            name,
            str(len(group)),
            f"{first['params'] / 1e6:.2f} M",
        ]
        for split in ASV_SPLITS:
            for key in ASV_METRICS:
                values = [entry[f"{split}_{key}"] for entry in group]
                cells.append(_mean_std_cell(values, key == "speaker_eer"))
        if adv_accuracy:
            values = [entry["adv_accuracy"] for entry in group]
            cells.append(_mean_std_cell(values, True))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def asv_table(entries):
    """Markdown of the ASV summary: SEEF-ALDR ablation, then light ASV.

    Arguments
    ---------
    entries : list of dict
        ``asv_entry`` results (several seeds per job possible).

    Returns
    -------
    str
        A titled table per kind of job present; the KD table starts with
        each teacher, once per seed, on its students' trials.
    """
    seef = [entry for entry in entries if "teacher" not in entry]
    students = [entry for entry in entries if "teacher" in entry]
    teachers = {}
    for entry in students:
        teachers.setdefault(
            (entry["teacher"]["name"], entry["seed"]),
            {**entry["teacher"], "seed": entry["seed"]},
        )
    parts = []
    if seef:
        parts.append(
            "SEEF-ALDR ablation (the shape of its Table 5): the encoder "
            "that verifies, speaker EER and minDCF on the dev and eval ASV "
            "trials.\n\n" + asv_rows(seef, adv_accuracy=True)
        )
    if students:
        parts.append(
            "Light ASV: the L-ResNetSE student distilled over the training "
            "speakers from the SEEF-ALDR E_p.\n\n"
            + asv_rows(list(teachers.values()) + students, False)
        )
    return "\n\n".join(parts)


def write_asv_summary(out, entries):
    """Merges ASV entries into ``asv_summary.json`` and writes the tables.

    Arguments
    ---------
    out : pathlib.Path
        Where ``asv_summary.json`` and ``asv_summary.md`` go.
    entries : list of dict
        ``asv_entry`` results of this run's seeds.

    Returns
    -------
    str
        The tables (``asv_table``) of every seed so far.
    """
    table = asv_table(merge_seeds(out / "asv_summary.json", entries))
    write_text_atomic(out / "asv_summary.md", table + "\n")
    return table


def compare_models(a_folder, b_folder, protocol, asv_scores, n_resamples):
    """Paired bootstrap of two models' eval score files (one seed).

    Arguments
    ---------
    a_folder : pathlib.Path
        Output folder of model A (``eval_report.json``).
    b_folder : pathlib.Path
        Output folder of model B.
    protocol : pathlib.Path
        The eval CM protocol.
    asv_scores : pathlib.Path or None
        The eval ASV scores of the seed (for the t-DCF), if any.
    n_resamples : int
        Resamples per design.

    Returns
    -------
    pooled : dict
        Metric (``eer``, ``min_tdcf_2021``) -> ``a``, ``b``,
        ``difference`` (B - A) and per design (``trial``, ``speaker``) the
        ``interval``, ``sign_flip`` and ``b_lower`` of the difference.
    """
    comparison = compare_score_files(
        read_report(a_folder)["score_file"],
        read_report(b_folder)["score_file"],
        protocol,
        asv_scores_path=asv_scores,
        n_resamples=n_resamples,
    )
    return {key: comparison["pooled"][key] for key in COMPARISON_METRICS}


def verdict(results, metric="eer"):
    """Whether a claim (B has the lower EER) holds over the seeds.

    It holds (or is reversed) only when, for every seed, the interval of the
    EER difference excludes zero on the same side under every bootstrap
    design the comparison has (trials, and speakers where known).

    Arguments
    ---------
    results : list of dict
        One ``compare_models`` result per seed.
    metric : str
        The difference judged (e.g. ``spoof_acceptance`` of the robustness
        comparisons).

    Returns
    -------
    str
        One of ``VERDICTS``.

    Example
    -------
    >>> below = {"eer": {"trial": {"interval": [-0.05, -0.01]}}}
    >>> spans = {"eer": {"trial": {"interval": [-0.05, 0.01]}}}
    >>> verdict([below, below]), verdict([below, spans])
    ('holds', 'not resolved')
    >>> wide = {"interval": [-0.09, 0.02]}
    >>> verdict([{"eer": {**below["eer"], "speaker": wide}}])
    'not resolved'
    """
    intervals = [
        result[metric][design]["interval"]
        for result in results
        for design in ("trial", "speaker")
        if result[metric].get(design)
    ]
    if all(high < 0 for _, high in intervals):
        return "holds"
    if all(low > 0 for low, _ in intervals):
        return "reversed"
    return "not resolved"


def seed_interval(differences, level=0.95):
    """Mean of per-seed differences and its t interval over the seeds.

    Each seed is one training run, so this interval carries the
    run-to-run variation that a bootstrap over one run's trials does not.

    Arguments
    ---------
    differences : list of float
        One difference (B - A) per seed.
    level : float
        The interval's coverage.

    Returns
    -------
    mean : float
        The mean difference.
    interval : list of float or None
        ``[low, high]``; None with fewer than two seeds.

    Example
    -------
    >>> mean, interval = seed_interval([0.02, 0.04, 0.06])
    >>> round(mean, 4), [round(x, 4) for x in interval]
    (0.04, [-0.0097, 0.0897])
    >>> seed_interval([0.03])
    (0.03, None)
    """
    mean = statistics.fmean(differences)
    if len(differences) < 2:
        return mean, None
    quantile = scipy.stats.t.ppf(0.5 + level / 2, len(differences) - 1)
    half = quantile * statistics.stdev(differences) / len(differences) ** 0.5
    return mean, [float(mean - half), float(mean + half)]


def seeds_table(comparisons, metric="eer"):
    """Markdown: one row per claim, its differences over the seeds.

    Arguments
    ---------
    comparisons : list of dict
        ``claim``, ``a``, ``b``, ``seeds``, ``results`` (one
        ``compare_models`` result per seed, or any result with
        ``result[metric]["difference"]``) and ``verdict``.
    metric : str
        The difference shown.

    Returns
    -------
    str
        The table: B - A per seed, their mean and 95 % t interval over the
        seeds (``seed_interval``), and the verdict.

    Example
    -------
    >>> item = {"claim": "c", "a": "x", "b": "y", "seeds": [1, 2],
    ...         "results": [{"eer": {"difference": d}} for d in (-.02, -.04)],
    ...         "verdict": "holds"}
    >>> print(seeds_table([item]).splitlines()[2])
    | c | x | y | 2 | -2.00, -4.00 | -3.00 | [-15.71, 9.71] | holds |
    """
    lines = [
        "| claim (B better than A) | A | B | seeds | B - A by seed (pp) | "
        "mean (pp) | 95 % CI over seeds (t) | verdict |",
        "|" + "---|" * 8,
    ]
    for item in comparisons:
        differences = [r[metric]["difference"] for r in item["results"]]
        mean, interval = seed_interval(differences)
        cells = [
            item["claim"],
            item["a"],
            item["b"],
            str(len(differences)),
            ", ".join(format_points(d) for d in differences),
            format_points(mean),
            format_interval(interval),
            item["verdict"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparisons_table(comparisons):
    """Markdown: one row per claim and seed, then the verdict per claim.

    Arguments
    ---------
    comparisons : list of dict
        ``claim``, ``a``, ``b``, ``seeds`` and ``results`` (one
        ``compare_models`` result per seed) and ``verdict``.

    Returns
    -------
    str
        The table (EERs and their difference in percentage points).
    """
    lines = [
        "| claim (B better than A) | A | B | seed | EER A (%) | EER B (%) | "
        "B - A (pp) | 95 % CI, trials | 95 % CI, speakers | sign flips | "
        "min t-DCF 2021 B - A [95 % CI] | verdict |",
        "|" + "---|" * 12,
    ]
    for item in comparisons:
        for seed, result in zip(item["seeds"], item["results"]):
            eer, tdcf = result["eer"], result["min_tdcf_2021"]
            tdcf_cell = "-"
            if tdcf is not None and tdcf["difference"] is not None:
                tdcf_cell = f"{tdcf['difference']:+.4f} " + format_interval(
                    tdcf["trial"]["interval"], percent=False
                )
            speaker = eer["speaker"]
            cells = [
                item["claim"],
                item["a"],
                item["b"],
                str(seed),
                f"{100 * eer['a']:.2f}",
                f"{100 * eer['b']:.2f}",
                format_points(eer["difference"]),
                format_interval(eer["trial"]["interval"]),
                format_interval(speaker and speaker["interval"]),
                f"{eer['trial']['sign_flip']:.3f}",
                tdcf_cell,
                item["verdict"],
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_comparisons(out, plan, seeds, folders, protocol, asv_scores):
    """Runs the plan's comparisons over the seeds and writes their tables.

    Arguments
    ---------
    out : pathlib.Path
        ``<results>/<name>``: writes ``comparisons.json`` and
        ``comparisons.md``.
    plan : dict
        The plan, with ``comparisons`` (list of ``{claim, a, b}``) and
        optionally ``comparison_resamples`` (default 1000).
    seeds : list of int
        The seeds to compare; a claim uses those where both its models are
        done, and is left out when there is none.
    folders : callable
        ``folders(seed, job_name)`` -> the job's output folder.
    protocol : pathlib.Path
        The eval CM protocol.
    asv_scores : callable
        ``asv_scores(seed)`` -> the eval ASV score file or None.

    Returns
    -------
    comparisons : list of dict
        As written to ``comparisons.json``.
    """
    n_resamples = plan.get("comparison_resamples", 1000)
    comparisons = []
    for item in plan.get("comparisons", []):
        done = [
            seed
            for seed in seeds
            if all(
                (folders(seed, item[model]) / REPORT_FILE).is_file()
                for model in ("a", "b")
            )
        ]
        if not done:
            continue
        results = [
            compare_models(
                folders(seed, item["a"]),
                folders(seed, item["b"]),
                protocol,
                asv_scores(seed),
                n_resamples,
            )
            for seed in done
        ]
        comparisons.append({**item, "seeds": done, "results": results})
        comparisons[-1]["verdict"] = verdict(results)
    for item in comparisons:
        mean, interval = seed_interval(
            [result["eer"]["difference"] for result in item["results"]]
        )
        item["over_seeds"] = {"mean": mean, "interval": interval}
    write_json(out / "comparisons.json", {"comparisons": comparisons})
    write_text_atomic(
        out / "comparisons.md",
        seeds_table(comparisons)
        + "\n\n"
        + comparisons_table(comparisons)
        + "\n",
    )
    return comparisons


def tandem_row(name, seed, result):
    """The tandem table's fields of one model and seed.

    Arguments
    ---------
    name : str
        The CM job.
    seed : int
        The seed.
    result : dict
        ``tandem_evaluation.evaluate_tandem``'s result for the model's eval
        CM scores with the seed's ASV scores.

    Returns
    -------
    dict
        ``name``, ``seed``, the ASV's EER and spoof false acceptance alone,
        the tandem's miss and false acceptances, the CM's min t-DCF (2021),
        the t-EER and the min a-DCF (paper costs; None without dev
        calibrations), as fractions, and where the thresholds came from.
    """
    fused = result["fused"]
    return {
        "name": name,
        "seed": seed,
        "asv_eer": result["asv"]["eer"],
        "asv_fa_spoof": result["asv"]["fa_spoof"],
        "tandem_miss": result["tandem"]["miss"],
        "tandem_fa_nontarget": result["tandem"]["fa_nontarget"],
        "tandem_fa_spoof": result["tandem"]["fa_spoof"],
        "min_tdcf_2021": result["cm"]["min_tdcf_2021"],
        "t_eer": result["t_eer"] and result["t_eer"]["t_eer"],
        "min_a_dcf": fused and fused["min_a_dcf"]["paper"]["min_a_dcf"],
        "thresholds": result["thresholds"],
    }


def tandem_table(rows):
    """Markdown: the tandem of each CM model with its seed's ASV.

    Arguments
    ---------
    rows : list of dict
        From ``tandem_row``.

    Returns
    -------
    str
        The table (rates in percent).

    Example
    -------
    >>> row = {"name": "student", "seed": 1, "asv_eer": 0.3,
    ...        "asv_fa_spoof": 0.6, "tandem_miss": 0.4,
    ...        "tandem_fa_nontarget": 0.3, "tandem_fa_spoof": 0.2,
    ...        "min_tdcf_2021": 0.7, "t_eer": 0.35, "min_a_dcf": None,
    ...        "thresholds": {"asv_from": "dev", "cm_from": "calibration"}}
    >>> cells = tandem_table([row]).splitlines()[2].split(" | ")
    >>> cells[2:7]
    ['30.00', '60.00', '40.00', '30.00', '20.00']
    >>> cells[7:]
    ['35.00', '0.7000', '-', 'dev / calibration |']
    """
    lines = [
        "| CM model | seed | ASV EER (%) | ASV alone: spoofs accepted (%) | "
        "tandem: targets missed (%) | tandem: nontargets accepted (%) | "
        "tandem: spoofs accepted (%) | t-EER (%) | min t-DCF 2021 (this "
        "ASV) | min a-DCF | thresholds (ASV / CM) |",
        "|" + "---|" * 11,
    ]
    for row in rows:
        percent = [
            _scaled_or_dash(row[key], 2, 100)
            for key in (
                "asv_eer",
                "asv_fa_spoof",
                "tandem_miss",
                "tandem_fa_nontarget",
                "tandem_fa_spoof",
                "t_eer",
            )
        ]
        cells = [
            row["name"],
            str(row["seed"]),
            *percent,
            _scaled_or_dash(row["min_tdcf_2021"], 4),
            _scaled_or_dash(row["min_a_dcf"], 4),
            f"{row['thresholds']['asv_from']} / {row['thresholds']['cm_from']}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_tandem(out, entries, asv_scores, asv_protocol):
    """Writes ``tandem.md``/``.json``: each CM model with its seed's ASV.

    The CM's thresholds and LLRs come from the model's ``calibration.json``
    when it has one, else the eval EER thresholds are used (and the table
    says so); the ASV's threshold and LLRs from its dev scores.

    Arguments
    ---------
    out : pathlib.Path
        Where the table goes.
    entries : list of dict
        CM summary entries (``name``, ``seed``, ``folder``).
    asv_scores : callable
        ``asv_scores(seed, split)`` -> the seed's ASV score file of
        ``dev`` or ``eval``, or None.
    asv_protocol : callable
        ``asv_protocol(split)`` -> the ASV protocol the score files follow.

    Returns
    -------
    str
        The table; "" (nothing written) when no seed has ASV scores.
    """
    rows = []
    for entry in entries:
        seed, folder = entry["seed"], Path(entry["folder"])
        eval_asv, dev_asv = (asv_scores(seed, s) for s in ("eval", "dev"))
        if eval_asv is None or dev_asv is None:
            continue
        result = evaluate_tandem(
            asv_protocol("eval"),
            eval_asv,
            read_report(folder)["score_file"],
            asv_protocol("dev"),
            dev_asv,
            cm_calibration=read_calibration(folder / CALIBRATION_FILE),
        )
        rows.append(tandem_row(entry["name"], seed, result))
    if not rows:
        return ""
    table = tandem_table(rows)
    write_json(out / "tandem.json", {"models": rows})
    write_text_atomic(out / "tandem.md", table + "\n")
    return table


def write_robustness(out, reports):
    """Writes the robustness tables over seeds (``robustness.md``).

    The tables are the recipe's own (``robustness_table`` and
    ``comparisons_table`` of ``recipes/ASVspoof2019_LA/evaluate_robustness.py``,
    imported from the recipe folder), the comparisons with a verdict over
    the seeds on the share of spoofs accepted (``verdict``: "holds" when B
    accepts fewer in every seed under every design), preceded by the mean
    of those differences over the seeds with its t interval
    (``seeds_table``).

    Arguments
    ---------
    out : pathlib.Path
        ``<results>/<name>``.
    reports : list of dict
        The ``robustness.json`` of each seed.

    Returns
    -------
    str
        The table.
    """
    if str(RECIPE) not in sys.path:
        sys.path.append(str(RECIPE))
    from evaluate_robustness import comparisons_table, robustness_table

    by_pair = defaultdict(list)
    for report in reports:
        for item in report.get("comparisons", []):
            by_pair[(item["a"], item["b"], item["budget"])].append(item)
    verdicts = {
        key: verdict(items, "spoof_acceptance")
        for key, items in by_pair.items()
    }
    over_seeds = [
        {
            "claim": f"fewer spoofs accepted, budget {budget}",
            "a": a,
            "b": b,
            "results": items,
            "verdict": verdicts[a, b, budget],
        }
        for (a, b, budget), items in by_pair.items()
    ]
    table = robustness_table(reports)
    if over_seeds:
        table += (
            "\nShare of spoofs accepted, B - A over the seeds:\n\n"
            + seeds_table(over_seeds, "spoof_acceptance")
            + "\n"
        )
    table += comparisons_table(reports, verdicts)
    write_text_atomic(out / "robustness.md", table)
    return table


def runs_for(job, seed):
    """Whether a job runs for a seed (a job's ``seeds`` limits them).

    Arguments
    ---------
    job : dict
        The job, with optionally ``seeds`` (a list of int).
    seed : int
        The seed.

    Returns
    -------
    bool
        True unless the job lists seeds and this is not one of them.

    Example
    -------
    >>> runs_for({"name": "j"}, 2), runs_for({"name": "j", "seeds": [1]}, 2)
    (True, False)
    """
    return seed in job.get("seeds", [seed])


def timings_table(plan, timings, seeds):
    """The time each job of a plan took, per seed, and each seed's total.

    Arguments
    ---------
    plan : dict
        The plan (its ``jobs``, each with ``name``, ``stage`` and
        optionally ``seeds``).
    timings : dict
        Job name -> {seed (str) -> seconds} (``timings.json``).
    seeds : list of int
        The seeds, one column each.

    Returns
    -------
    str
        Markdown: one row per job (seconds, "-" where not timed), then
        the total of each seed with how many of its jobs were timed.

    Example
    -------
    >>> plan = {"jobs": [{"name": "t", "stage": "teacher"},
    ...                  {"name": "s", "stage": "student", "seeds": [1]}]}
    >>> print(timings_table(plan, {"t": {"1": 60.0, "2": 90.4}}, [1, 2]))
    | job | stage | seed 1 (s) | seed 2 (s) |
    |---|---|---:|---:|
    | t | teacher | 60 | 90 |
    | s | student | - |  |
    | all jobs | | 60 (1 of 2 timed) | 90 (1 of 1 timed) |
    """
    lines = [
        "| job | stage | " + " | ".join(f"seed {s} (s)" for s in seeds) + " |",
        "|---|---|" + "---:|" * len(seeds),
    ]
    totals = {seed: [0.0, 0, 0] for seed in seeds}
    for job in plan["jobs"]:
        cells = []
        for seed in seeds:
            if not runs_for(job, seed):
                cells.append("")
                continue
            seconds = timings.get(job["name"], {}).get(str(seed))
            totals[seed][2] += 1
            if seconds is None:
                cells.append("-")
                continue
            totals[seed][0] += seconds
            totals[seed][1] += 1
            cells.append(f"{seconds:.0f}")
        lines.append(
            f"| {job['name']} | {job['stage']} | " + " | ".join(cells) + " |"
        )
    lines.append(
        "| all jobs | | "
        + " | ".join(
            f"{total:.0f} ({timed} of {jobs} timed)"
            for total, timed, jobs in totals.values()
        )
        + " |"
    )
    return "\n".join(lines)


def write_timings(out, plan, timings, seeds):
    """Writes the jobs' times per seed (``timings.md``).

    Arguments
    ---------
    out : pathlib.Path
        Where ``timings.md`` goes.
    plan : dict
        The plan.
    timings : dict
        Job name -> {seed (str) -> seconds} (``timings.json``).
    seeds : list of int
        The seeds.

    Returns
    -------
    str
        The table (``timings_table``).
    """
    table = timings_table(plan, timings, seeds)
    write_text_atomic(out / "timings.md", table + "\n")
    return table


def write_json(path, payload):
    """Writes a JSON file atomically (``speechbrain_asd.atomic``).

    Arguments
    ---------
    path : pathlib.Path
        The file.
    payload : object
        JSON-serialisable.
    """
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")
