"""Evaluates, compares and plots CM score files against ASVspoof protocols.

Authors
 * speechbrain-asd developers
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np

from speechbrain_asd.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DESIGNS,
    bootstrap_metrics,
    paired_bootstrap,
)
from speechbrain_asd.calibration import fit_calibration
from speechbrain_asd.checks import name_list
from speechbrain_asd.metrics import (
    _asv_operating_points,
    cm_report,
    tdcf_constants_by_metric,
)
from speechbrain_asd.plots import plot_det_curves, plot_score_histograms
from speechbrain_asd.scorefiles import (
    BONAFIDE,
    read_asv_scores,
    read_cm_protocol,
    read_cm_scores,
)

DET_PLOT = "det.png"
"""File name of the DET plot that ``plot_score_file`` writes."""
HISTOGRAM_PLOT = "histograms.png"
"""File name of the histogram plot that ``plot_score_file`` writes."""
_IDS_SHOWN = 5
_TDCF_KEYS = ("min_tdcf_2019", "min_tdcf_2021")
_NO_SUBSET = "-"


def _few(ids):
    """Names a few ids of a list, for an error message."""
    return name_list([repr(trial) for trial in ids], limit=_IDS_SHOWN)


def _trials_in_subset(trials, subset, protocol_path):
    """Keeps the trials of one subset of an ASVspoof 2021 protocol."""
    if subset is None:
        return trials
    present = sorted({trial.subset for trial in trials} - {_NO_SUBSET})
    if not present:
        raise ValueError(
            f"{protocol_path}: subset {subset!r} asked, but this protocol has "
            "no subset column (only ASVspoof 2021 trial_metadata.txt has one)"
        )
    if subset not in present:
        raise ValueError(
            f"{protocol_path}: no trial of subset {subset!r} (the protocol "
            f"has: {', '.join(present)})"
        )
    return [trial for trial in trials if trial.subset == subset]


def _check_alignment(scores, trials, selected, scores_path, protocol_path):
    """Checks that the score file scores exactly the selected trials."""
    known = {trial.trial for trial in trials}
    unknown = [trial for trial in scores if trial not in known]
    if unknown:
        raise ValueError(
            f"{scores_path}: {len(unknown)} scored trial(s) not in the "
            f"protocol {protocol_path}: {_few(unknown)}"
        )
    missing = [trial.trial for trial in selected if trial.trial not in scores]
    if missing:
        raise ValueError(
            f"{scores_path}: no score for {len(missing)} trial(s) of the "
            f"protocol {protocol_path}: {_few(missing)}"
        )


def _read_asv(asv_scores_path):
    """Reads ASV scores and checks they allow a t-DCF; None without a path."""
    if asv_scores_path is None:
        return None
    asv = read_asv_scores(asv_scores_path)
    for key in ("target", "nontarget", "spoof"):
        if getattr(asv, key).size == 0:
            raise ValueError(
                f"{asv_scores_path}: no '{key}' line: the t-DCF needs "
                "target, nontarget and spoof ASV scores"
            )
    return asv


class _CMScores(NamedTuple):
    """The CM scores of the evaluated trials, split by class."""

    bonafide: list
    spoof: list
    attacks: list
    bonafide_speakers: list
    spoof_speakers: list


def _read_protocol(protocol_path, subset):
    """Reads a CM protocol and keeps the trials to evaluate."""
    trials = read_cm_protocol(protocol_path)
    selected = _trials_in_subset(trials, subset, protocol_path)
    where = "" if subset is None else f" of subset {subset!r}"
    for name, spoofed in (("bona fide", False), ("spoof", True)):
        if not any((t.key != BONAFIDE) == spoofed for t in selected):
            raise ValueError(f"{protocol_path}: no {name} trial{where}")
    return trials, selected


def _read_cm_trials(scores_path, protocol_path, protocol):
    """Reads a CM score file and splits its scores by class."""
    trials, selected = protocol
    scores = read_cm_scores(scores_path)
    _check_alignment(scores, trials, selected, scores_path, protocol_path)
    bonafide = [t for t in selected if t.key == BONAFIDE]
    spoof = [t for t in selected if t.key != BONAFIDE]
    return _CMScores(
        bonafide=[scores[t.trial] for t in bonafide],
        spoof=[scores[t.trial] for t in spoof],
        attacks=[t.attack for t in spoof],
        bonafide_speakers=[t.speaker for t in bonafide],
        spoof_speakers=[t.speaker for t in spoof],
    )


def _report_or_error(cm, asv, scores_path):
    """``cm_report`` of a score file's scores, errors naming the file."""
    try:
        return cm_report(cm.bonafide, cm.spoof, cm.attacks, asv)
    except ValueError as error:
        raise ValueError(f"{scores_path}: {error}") from None


def _row_inputs(cm, asv):
    """The spoof trials and the t-DCF constants of every row of a report."""
    attacks = np.asarray(cm.attacks, dtype=str)
    names = [str(attack) for attack in np.unique(attacks)]
    masks = {"pooled": np.ones(attacks.size, dtype=bool)}
    masks.update((name, attacks == name) for name in names)
    points = {} if asv is None else _asv_operating_points(asv, names)
    rows = {}
    for name, mask in masks.items():
        constants = {}
        if name in points:
            constants = tdcf_constants_by_metric(points[name][0])
        rows[name] = (mask, constants)
    return rows


def _bootstrap_settings(n_resamples, seed, confidence):
    """Describes the bootstrap of a report, for its ``bootstrap`` entry."""
    return {
        "n_resamples": int(n_resamples),
        "seed": int(seed),
        "confidence": float(confidence),
        "interval": "percentile",
        "designs": list(DESIGNS),
    }


def _resample_settings(n_resamples, seed, confidence):
    """The keyword arguments of the bootstrap calls."""
    return {"n_resamples": n_resamples, "seed": seed, "confidence": confidence}


def _row_slot(report, name):
    """The row of a report (or comparison) named ``name``."""
    return report["pooled"] if name == "pooled" else report["per_attack"][name]


def _add_intervals(report, cm, asv, settings):
    """Adds bootstrap intervals to every row of a report, in place."""
    spoof = np.asarray(cm.spoof)
    spoof_speakers = np.asarray(cm.spoof_speakers, dtype=str)
    for name, (mask, constants) in _row_inputs(cm, asv).items():
        result = bootstrap_metrics(
            cm.bonafide,
            spoof[mask],
            cm.bonafide_speakers,
            spoof_speakers[mask],
            tdcf_constants=constants,
            **settings,
        )
        intervals = dict.fromkeys(("eer", *_TDCF_KEYS))
        for metric, found in result.items():
            if found["value"] is not None:
                intervals[metric] = {d: found[d] for d in DESIGNS}
        _row_slot(report, name)["intervals"] = intervals
    report["bootstrap"] = _bootstrap_settings(**settings)


def evaluate_score_file(
    scores_path,
    protocol_path,
    asv_scores_path=None,
    subset=None,
    n_resamples=0,
    seed=0,
    confidence=DEFAULT_CONFIDENCE,
    calibration=None,
):
    """Pooled and per-attack EER and min t-DCF of a CM score file.

    Arguments
    ---------
    scores_path : str or os.PathLike
        CM scores (see ``scorefiles.read_cm_scores``), higher = more bona fide.
        It must score every evaluated trial and no trial outside the protocol.
    protocol_path : str or os.PathLike
        ASVspoof 2019 CM protocol or ASVspoof 2021 ``trial_metadata.txt``.
    asv_scores_path : str or os.PathLike, optional
        ASV scores of the same set; without them the t-DCF values are None.
    subset : str, optional
        ASVspoof 2021 only: evaluate the trials of this subset (``eval``,
        ``progress`` or ``hidden``); by default, every trial.
    n_resamples : int
        Bootstrap resamples per design; 0 adds no interval.
    seed : int
        Seed of the resamples.
    confidence : float
        Coverage of the intervals.
    calibration : speechbrain_asd.calibration.Calibration, optional
        Applied to the scores first (actDCF and Cllr then judge the LLRs).

    Returns
    -------
    dict
        As ``metrics.cm_report``. With ``n_resamples``, each row also has
        ``intervals`` (``{metric: {"trial": [low, high], "speaker": [low,
        high]}}``) and the report a ``bootstrap`` entry with the settings.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "protocol.txt").write_text(
    ...     "LA_0001 LA_E_1 - - bonafide\\n"
    ...     "LA_0001 LA_E_2 - - bonafide\\n"
    ...     "LA_0002 LA_E_3 - A07 spoof\\n"
    ...     "LA_0002 LA_E_4 - A08 spoof\\n"
    ... )
    >>> _ = (folder / "scores.txt").write_text(
    ...     "LA_E_1 2.0\\nLA_E_2 0.5\\nLA_E_3 1.0\\nLA_E_4 -1.0\\n"
    ... )
    >>> report = evaluate_score_file(
    ...     folder / "scores.txt", folder / "protocol.txt"
    ... )
    >>> report["pooled"]["eer"], report["per_attack"]["A08"]["eer"]
    (0.5, 0.0)
    >>> report = evaluate_score_file(
    ...     folder / "scores.txt", folder / "protocol.txt", n_resamples=100
    ... )
    >>> report["pooled"]["intervals"]["eer"]["trial"]
    [0.0, 1.0]
    """
    protocol = _read_protocol(protocol_path, subset)
    cm = _read_cm_trials(scores_path, protocol_path, protocol)
    if calibration is not None:
        cm = cm._replace(
            bonafide=calibration.llr(cm.bonafide).tolist(),
            spoof=calibration.llr(cm.spoof).tolist(),
        )
    asv = _read_asv(asv_scores_path)
    report = _report_or_error(cm, asv, scores_path)
    if n_resamples:
        settings = _resample_settings(n_resamples, seed, confidence)
        _add_intervals(report, cm, asv, settings)
    return report


def calibrate_score_file(
    scores_path, protocol_path, subset=None, rule="bayes", target_spoof_far=0.01
):
    """Fits a calibration on the scores of a (dev) CM score file.

    Arguments
    ---------
    scores_path : str or os.PathLike
        CM scores, as ``evaluate_score_file`` reads them.
    protocol_path : str or os.PathLike
        The protocol of the same trials.
    subset : str, optional
        2021 protocols: the subset to fit on.
    rule : str
        The threshold rule (``calibration.THRESHOLD_RULES``).
    target_spoof_far : float
        The spoof acceptance of the ``spoof_far`` rule.

    Returns
    -------
    speechbrain_asd.calibration.Calibration
        The calibration.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "protocol.txt").write_text(
    ...     "LA_0001 LA_D_1 - - bonafide\\nLA_0001 LA_D_2 - - bonafide\\n"
    ...     "LA_0002 LA_D_3 - A01 spoof\\nLA_0002 LA_D_4 - A02 spoof\\n"
    ... )
    >>> _ = (folder / "scores.txt").write_text(
    ...     "LA_D_1 2.0\\nLA_D_2 -0.5\\nLA_D_3 0.5\\nLA_D_4 -3.0\\n"
    ... )
    >>> calibration = calibrate_score_file(
    ...     folder / "scores.txt", folder / "protocol.txt"
    ... )
    >>> calibration.scale > 0, calibration.rule
    (True, 'bayes')
    """
    protocol = _read_protocol(protocol_path, subset)
    cm = _read_cm_trials(scores_path, protocol_path, protocol)
    return fit_calibration(
        cm.bonafide, cm.spoof, rule=rule, target_spoof_far=target_spoof_far
    )


def _paired_row(row_a, cm_a, cm_b, inputs, settings):
    """One row of a comparison: counts and paired bootstrap per metric."""
    mask, constants = inputs
    compared = paired_bootstrap(
        cm_a.bonafide,
        np.asarray(cm_a.spoof)[mask],
        cm_b.bonafide,
        np.asarray(cm_b.spoof)[mask],
        cm_a.bonafide_speakers,
        np.asarray(cm_a.spoof_speakers, dtype=str)[mask],
        tdcf_constants=constants,
        **settings,
    )
    row = {
        key: row_a[key] for key in ("n_bonafide", "n_spoof", "asv_spoof_set")
    }
    row.update(dict.fromkeys(("eer", *_TDCF_KEYS)))
    for metric, found in compared.items():
        if found["a"] is not None:
            row[metric] = found
    return row


def compare_score_files(
    scores_a,
    scores_b,
    protocol_path,
    asv_scores_path=None,
    subset=None,
    n_resamples=DEFAULT_RESAMPLES,
    seed=0,
    confidence=DEFAULT_CONFIDENCE,
):
    """Paired bootstrap comparison of two CM score files on the same trials.

    Both files are checked as in ``evaluate_score_file`` and must score the
    same trials. The differences B - A (below 0: B is better) come from
    ``bootstrap.paired_bootstrap``, pooled and per attack.

    Arguments
    ---------
    scores_a : str or os.PathLike
        CM scores of system A.
    scores_b : str or os.PathLike
        CM scores of system B, same trials.
    protocol_path : str or os.PathLike
        ASVspoof 2019 CM protocol or ASVspoof 2021 ``trial_metadata.txt``.
    asv_scores_path : str or os.PathLike, optional
        ASV scores of the same set, for the t-DCF.
    subset : str, optional
        ASVspoof 2021 only: compare on this subset.
    n_resamples : int
        Resamples per design.
    seed : int
        Seed of the resamples.
    confidence : float
        Coverage of the intervals.

    Returns
    -------
    dict
        ``a`` and ``b`` (the score files), ``bootstrap`` (the settings),
        ``pooled`` (a row) and ``per_attack`` (attack -> row). A row has
        ``n_bonafide``, ``n_spoof``, ``asv_spoof_set`` and, per metric, the
        result of ``paired_bootstrap`` (None for a t-DCF without ASV scores).

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "protocol.txt").write_text(
    ...     "LA_0001 LA_E_1 - - bonafide\\n"
    ...     "LA_0002 LA_E_2 - - bonafide\\n"
    ...     "LA_0001 LA_E_3 - A07 spoof\\n"
    ...     "LA_0002 LA_E_4 - A07 spoof\\n"
    ... )
    >>> _ = (folder / "a.txt").write_text(
    ...     "LA_E_1 2.0\\nLA_E_2 0.5\\nLA_E_3 1.0\\nLA_E_4 -1.0\\n"
    ... )
    >>> _ = (folder / "b.txt").write_text(
    ...     "LA_E_1 2.0\\nLA_E_2 1.5\\nLA_E_3 1.0\\nLA_E_4 -1.0\\n"
    ... )
    >>> comparison = compare_score_files(
    ...     folder / "a.txt", folder / "b.txt", folder / "protocol.txt",
    ...     n_resamples=100,
    ... )
    >>> eer = comparison["pooled"]["eer"]
    >>> eer["a"], eer["b"], eer["difference"]
    (0.5, 0.0, -0.5)
    >>> eer["trial"]["interval"][1] <= 0 and eer["speaker"] is not None
    True
    """
    protocol = _read_protocol(protocol_path, subset)
    cm_a = _read_cm_trials(scores_a, protocol_path, protocol)
    cm_b = _read_cm_trials(scores_b, protocol_path, protocol)
    asv = _read_asv(asv_scores_path)
    report_a = _report_or_error(cm_a, asv, scores_a)
    _report_or_error(cm_b, asv, scores_b)
    settings = _resample_settings(n_resamples, seed, confidence)
    comparison = {
        "a": str(scores_a),
        "b": str(scores_b),
        "bootstrap": _bootstrap_settings(**settings),
        "pooled": None,
        "per_attack": {},
    }
    for name, inputs in _row_inputs(cm_a, asv).items():
        row = _paired_row(
            _row_slot(report_a, name), cm_a, cm_b, inputs, settings
        )
        if name == "pooled":
            comparison["pooled"] = row
        else:
            comparison["per_attack"][name] = row
    return comparison


def plot_score_file(scores_path, protocol_path, out_dir, subset=None):
    """Draws the DET curves and score histograms of a CM score file.

    Needs matplotlib.

    Arguments
    ---------
    scores_path : str or os.PathLike
        CM scores, as for ``evaluate_score_file``.
    protocol_path : str or os.PathLike
        ASVspoof 2019 CM protocol or ASVspoof 2021 ``trial_metadata.txt``.
    out_dir : str or os.PathLike
        Folder for ``det.png`` and ``histograms.png`` (created if needed).
    subset : str, optional
        ASVspoof 2021 only: draw the trials of this subset.

    Returns
    -------
    list of pathlib.Path
        The DET plot and the histogram plot.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "protocol.txt").write_text(
    ...     "LA_0001 LA_E_1 - - bonafide\\n"
    ...     "LA_0001 LA_E_2 - - bonafide\\n"
    ...     "LA_0002 LA_E_3 - A07 spoof\\n"
    ...     "LA_0002 LA_E_4 - A08 spoof\\n"
    ... )
    >>> _ = (folder / "scores.txt").write_text(
    ...     "LA_E_1 2.0\\nLA_E_2 0.5\\nLA_E_3 1.0\\nLA_E_4 -1.0\\n"
    ... )
    >>> paths = plot_score_file(
    ...     folder / "scores.txt", folder / "protocol.txt", folder / "plots"
    ... )
    >>> [path.name for path in paths]
    ['det.png', 'histograms.png']
    """
    protocol = _read_protocol(protocol_path, subset)
    bonafide, spoof, attacks, _, _ = _read_cm_trials(
        scores_path, protocol_path, protocol
    )
    out_dir = Path(out_dir)
    name = Path(scores_path).name
    if subset is not None:
        name += f", subset {subset}"
    return [
        plot_det_curves(
            bonafide, spoof, attacks, out_dir / DET_PLOT, f"DET curves: {name}"
        ),
        plot_score_histograms(
            bonafide,
            spoof,
            attacks,
            out_dir / HISTOGRAM_PLOT,
            f"CM score distributions: {name}",
        ),
    ]


def _number_cell(value, digits, scale=1):
    """Formats one number of a table."""
    return "-" if value is None else f"{scale * value:.{digits}f}"


def _span(interval, digits, scale=1):
    """Formats an interval as ``[low, high]``."""
    low, high = (_number_cell(bound, digits, scale) for bound in interval)
    return f"[{low}, {high}]"


_METRICS = (
    ("eer", "EER (%)", 2, 100),
    ("min_tdcf_2019", "min t-DCF 2019", 4, 1),
    ("min_tdcf_2021", "min t-DCF 2021", 4, 1),
)
"""Key, column title, decimals and scale of each metric in the tables."""

_REPORT_METRICS = _METRICS + (
    ("min_dcf", "minDCF", 4, 1),
    ("act_dcf", "actDCF", 4, 1),
    ("cllr", "Cllr", 4, 1),
    ("min_cllr", "minCllr", 4, 1),
)
"""The report table adds the ASVspoof 5 metrics (no intervals)."""


def _rows_pooled_first(report):
    """The ``(name, row)`` pairs of a report: pooled, then attacks sorted."""
    return [("pooled", report["pooled"])] + sorted(report["per_attack"].items())


def _render(header, lines):
    """Aligns table lines: first column left, the others right."""
    widths = [
        max(len(cells[column]) for cells in [header, *lines])
        for column in range(len(header))
    ]
    return [
        "  ".join(
            [cells[0].ljust(widths[0])]
            + [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]
        ).rstrip()
        for cells in [header, *lines]
    ]


def _bootstrap_note(settings, what):
    """The footnote that says how a table's intervals were computed."""
    return (
        f"{100 * settings['confidence']:g} % percentile bootstrap {what}, "
        f"{settings['n_resamples']} resamples (seed {settings['seed']}): "
        "trials resampled within each class; 'by speaker': speakers "
        "resampled within each class"
    )


def _report_lines(name, row, marked):
    """Table lines of one report row: values, then speaker intervals."""
    intervals = row.get("intervals")
    cells = [name, str(row["n_bonafide"]), str(row["n_spoof"])]
    speaker = ["  by speaker", "", ""]
    for key, _, digits, scale in _REPORT_METRICS:
        cell = _number_cell(row[key], digits, scale)
        if key.startswith("min_tdcf") and marked:
            cell += "*"
        found = intervals and intervals.get(key)
        if found:
            cell += " " + _span(found["trial"], digits, scale)
            speaker.append(_span(found["speaker"], digits, scale))
        else:
            speaker.append("")
        cells.append(cell)
    return [tuple(cells), tuple(speaker)] if intervals else [tuple(cells)]


def format_report_table(report):
    """Formats a CM report as a text table, pooled row first.

    EER in percent (2 decimals), min t-DCF and the ASVspoof 5 metrics
    (minDCF, actDCF, Cllr and minCllr in bits) with 4 decimals; ``-`` where
    there is no t-DCF, and ``*`` where a per-attack t-DCF used all ASV spoof
    scores. Bootstrap intervals show as ``value [low, high]``, with the
    speaker-level interval on a ``by speaker`` line below.

    Arguments
    ---------
    report : dict
        As returned by ``evaluate_score_file`` or ``metrics.cm_report``.

    Returns
    -------
    str
        The table, without a final newline.

    Example
    -------
    >>> from speechbrain_asd.metrics import cm_report
    >>> report = cm_report([0.9, 0.8, 0.3], [0.5, 0.2], ["A01", "A01"])
    >>> print(format_report_table(report))
    condition bona fide spoof EER (%) min t-DCF 2019 min t-DCF 2021 minDCF
    actDCF Cllr minCllr
    pooled 3 2 41.67 - - 0.5000 1.0000 0.9437 0.4046
    A01 3 2 41.67 - - 0.5000 1.0000 0.9437 0.4046
    """
    header = (
        "condition",
        "bona fide",
        "spoof",
        *(m[1] for m in _REPORT_METRICS),
    )
    rows = _rows_pooled_first(report)
    fallback = [
        name != "pooled" and row["asv_spoof_set"] == "all" for name, row in rows
    ]
    lines = [
        line
        for (name, row), marked in zip(rows, fallback)
        for line in _report_lines(name, row, marked)
    ]
    text = _render(header, lines)
    if any(fallback):
        text.append(
            "* t-DCF with all ASV spoof scores: the ASV scores have none of "
            "this attack"
        )
    if "bootstrap" in report:
        text.append("[]: " + _bootstrap_note(report["bootstrap"], "intervals"))
    return "\n".join(text)


def _comparison_lines(name, row):
    """Table lines of one comparison row, one per metric."""
    lines = []
    for key, title, digits, scale in _METRICS:
        found = row[key]
        if found is None:
            continue
        cells = [name, title]
        cells += [
            _number_cell(found[part], digits, scale)
            for part in ("a", "b", "difference")
        ]
        for design in DESIGNS:
            summary = found[design]
            cells += [
                _span(summary["interval"], digits, scale),
                f"{summary['sign_flip']:.3f}",
            ]
        lines.append(tuple(cells))
    return lines


def format_comparison_table(comparison):
    """Formats a paired comparison as a text table, pooled rows first.

    One line per condition and metric: A, B, B - A, then per design the
    interval of B - A and ``flip``, the share of resamples whose difference has
    not the sign of B - A. EER in percent.

    Arguments
    ---------
    comparison : dict
        As returned by ``compare_score_files``.

    Returns
    -------
    str
        The table, without a final newline.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "protocol.txt").write_text(
    ...     "LA_0001 LA_E_1 - - bonafide\\n"
    ...     "LA_0002 LA_E_2 - - bonafide\\n"
    ...     "LA_0001 LA_E_3 - A07 spoof\\n"
    ...     "LA_0002 LA_E_4 - A07 spoof\\n"
    ... )
    >>> _ = (folder / "a.txt").write_text(
    ...     "LA_E_1 2.0\\nLA_E_2 0.5\\nLA_E_3 1.0\\nLA_E_4 -1.0\\n"
    ... )
    >>> comparison = compare_score_files(
    ...     folder / "a.txt", folder / "a.txt", folder / "protocol.txt",
    ...     n_resamples=10,
    ... )
    >>> print(format_comparison_table(comparison).splitlines()[1])
    pooled     EER (%)  50.00  50.00   0.00  [0.00, 0.00]  0.000
    [0.00, 0.00]  0.000
    """
    confidence = f"{100 * comparison['bootstrap']['confidence']:g} %"
    header = ["condition", "metric", "A", "B", "B - A"]
    for design in DESIGNS:
        header += [f"{confidence} interval ({design}s)", "flip"]
    lines = [
        line
        for name, row in _rows_pooled_first(comparison)
        for line in _comparison_lines(name, row)
    ]
    text = _render(tuple(header), lines)
    text.append(f"A: {comparison['a']}")
    text.append(f"B: {comparison['b']}")
    text.append(
        "B - A below 0: B is better; flip: share of resamples where B - A "
        "has not the sign of the point difference"
    )
    text.append(_bootstrap_note(comparison["bootstrap"], "intervals of B - A"))
    return "\n".join(text)
