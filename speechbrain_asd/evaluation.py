"""Scores a CM score file against an ASVspoof protocol: the ``evaluate`` job.

Reads the files with ``speechbrain_asd.scorefiles``, checks that the scores
and the protocol describe the same trials, and hands the scores to
``speechbrain_asd.metrics.cm_report``; ``format_report_table`` prints the
result, and ``plot_score_file`` draws the same trials' DET curves and score
histograms (``speechbrain_asd.plots``). Higher CM scores mean bona fide.

Authors
 * speechbrain-asd developers
"""

from pathlib import Path

from speechbrain_asd.metrics import cm_report
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
_NO_SUBSET = "-"


def _few(ids):
    """Names a few ids of a list, for an error message.

    Arguments
    ---------
    ids : list of str
        The ids.

    Returns
    -------
    str
        The first ids, quoted, and how many more there are.
    """
    shown = ", ".join(repr(trial) for trial in ids[:_IDS_SHOWN])
    if len(ids) > _IDS_SHOWN:
        shown += f" and {len(ids) - _IDS_SHOWN} more"
    return shown


def _select_subset(trials, subset, protocol_path):
    """Keeps the trials of one subset of an ASVspoof 2021 protocol.

    Arguments
    ---------
    trials : list of CMTrial
        All trials of the protocol.
    subset : str or None
        Subset to keep (``eval``, ``progress``, ``hidden``); None keeps all.
    protocol_path : str or os.PathLike
        The protocol file, for error messages.

    Returns
    -------
    list of CMTrial
        The kept trials, in protocol order.

    Raises
    ------
    ValueError
        When a subset is asked of a protocol without subsets (ASVspoof
        2019), or the protocol has no trial of that subset.
    """
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
    """Checks that the score file scores exactly the selected trials.

    Arguments
    ---------
    scores : dict
        Trial id -> CM score, from the score file.
    trials : list of CMTrial
        All trials of the protocol.
    selected : list of CMTrial
        The trials to evaluate (all, or one subset).
    scores_path : str or os.PathLike
        The score file, for error messages.
    protocol_path : str or os.PathLike
        The protocol file, for error messages.

    Raises
    ------
    ValueError
        When the score file scores trials the protocol does not list
        (unknown trials), or misses trials to evaluate.
    """
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
    """Reads ASV scores and checks they allow a t-DCF.

    Arguments
    ---------
    asv_scores_path : str or os.PathLike
        ASV score file in the ASVspoof 2019 format.

    Returns
    -------
    ASVScores
        The scores, with target, nontarget and spoof sets all non-empty.

    Raises
    ------
    ValueError
        When a set is empty.
    """
    asv = read_asv_scores(asv_scores_path)
    for key in ("target", "nontarget", "spoof"):
        if getattr(asv, key).size == 0:
            raise ValueError(
                f"{asv_scores_path}: no '{key}' line: the t-DCF needs "
                "target, nontarget and spoof ASV scores"
            )
    return asv


def _read_cm_trials(scores_path, protocol_path, subset):
    """Reads a CM score file and its protocol, split into bona fide and spoof.

    Arguments
    ---------
    scores_path : str or os.PathLike
        CM scores (see ``evaluate_score_file``).
    protocol_path : str or os.PathLike
        ASVspoof 2019 CM protocol or ASVspoof 2021 ``trial_metadata.txt``.
    subset : str or None
        ASVspoof 2021 subset to keep; None keeps every trial.

    Returns
    -------
    bonafide_scores : list of float
        Scores of the bona fide trials, in protocol order.
    spoof_scores : list of float
        Scores of the spoof trials, in protocol order.
    spoof_attacks : list of str
        Attack id of each spoof trial.

    Raises
    ------
    ValueError
        On malformed files, unknown or missing trials, a bad subset, or no
        bona fide or no spoof trial to evaluate.
    """
    trials = read_cm_protocol(protocol_path)
    scores = read_cm_scores(scores_path)
    selected = _select_subset(trials, subset, protocol_path)
    _check_alignment(scores, trials, selected, scores_path, protocol_path)
    bonafide = [scores[t.trial] for t in selected if t.key == BONAFIDE]
    spoof = [t for t in selected if t.key != BONAFIDE]
    where = "" if subset is None else f" of subset {subset!r}"
    for name, group in (("bona fide", bonafide), ("spoof", spoof)):
        if not group:
            raise ValueError(f"{protocol_path}: no {name} trial{where}")
    return bonafide, [scores[t.trial] for t in spoof], [t.attack for t in spoof]


def evaluate_score_file(
    scores_path, protocol_path, asv_scores_path=None, subset=None
):
    """Pooled and per-attack EER and min t-DCF of a CM score file.

    Arguments
    ---------
    scores_path : str or os.PathLike
        CM scores, ``trial score`` or ``trial attack key score`` lines
        (higher = more bona fide). It must score every trial to evaluate
        and no trial outside the protocol; scores of protocol trials outside
        the chosen subset are ignored.
    protocol_path : str or os.PathLike
        ASVspoof 2019 CM protocol or ASVspoof 2021 ``trial_metadata.txt``.
    asv_scores_path : str or os.PathLike, optional
        ASV scores (``<source> <target|nontarget|spoof> <score>``) of the
        same set (dev ASV scores for dev, eval for eval); without them the
        t-DCF values are None.
    subset : str, optional
        ASVspoof 2021 protocols only: evaluate the trials of this subset
        (``eval``, ``progress`` or ``hidden``). By default every trial of
        the protocol is evaluated; the organisers' ranking uses ``eval``.

    Returns
    -------
    dict
        As ``speechbrain_asd.metrics.cm_report``: ``{"pooled": row,
        "per_attack": {attack: row}}``, each row with ``eer`` (fraction),
        ``min_tdcf_2019``, ``min_tdcf_2021``, ``n_bonafide``, ``n_spoof``
        and ``asv_spoof_set``.

    Raises
    ------
    ValueError
        On malformed files (naming file and line), unknown or missing
        trials, duplicate ids, a bad subset, NaN/inf scores, fewer than 3
        distinct scores, or ASV scores unfit for a t-DCF.

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
    """
    bonafide, spoof, attacks = _read_cm_trials(
        scores_path, protocol_path, subset
    )
    asv = None if asv_scores_path is None else _read_asv(asv_scores_path)
    try:
        return cm_report(bonafide, spoof, attacks, asv)
    except ValueError as error:
        raise ValueError(f"{scores_path}: {error}") from None


def plot_score_file(scores_path, protocol_path, out_dir, subset=None):
    """Draws the DET curves and score histograms of a CM score file.

    Writes ``det.png`` (per-attack and pooled DET curves with their EERs)
    and ``histograms.png`` (bona fide against each attack's scores) in
    ``out_dir``, created if needed; the trials are read and checked as
    ``evaluate_score_file`` reads them. Needs matplotlib.

    Arguments
    ---------
    scores_path : str or os.PathLike
        CM scores, ``trial score`` or ``trial attack key score`` lines
        (higher = more bona fide), as for ``evaluate_score_file``.
    protocol_path : str or os.PathLike
        ASVspoof 2019 CM protocol or ASVspoof 2021 ``trial_metadata.txt``.
    out_dir : str or os.PathLike
        Folder to write the two PNG files in.
    subset : str, optional
        ASVspoof 2021 protocols only: draw the trials of this subset.

    Returns
    -------
    list of pathlib.Path
        The DET plot and the histogram plot, in that order.

    Raises
    ------
    ValueError
        On malformed files (naming file and line), unknown or missing
        trials, duplicate ids, a bad subset or NaN/inf scores.
    ImportError
        When matplotlib is not installed.

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
    bonafide, spoof, attacks = _read_cm_trials(
        scores_path, protocol_path, subset
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


def _cell(value, digits):
    """Formats one number of the report table.

    Arguments
    ---------
    value : float or None
        The value; None when not available.
    digits : int
        Decimals to show.

    Returns
    -------
    str
        The number, or ``"-"`` for None.
    """
    return "-" if value is None else f"{value:.{digits}f}"


def format_report_table(report):
    """Formats a CM report as a text table, pooled row first.

        EER in percent with 2 decimals and min t-DCF with 4 decimals (as the
        organisers print them); ``-`` where there is no t-DCF. A ``*`` marks
        per-attack t-DCFs computed with all ASV spoof scores because the ASV
        scores hold none of that attack.

        Arguments
        ---------
        report : dict
            As returned by ``evaluate_score_file`` or ``metrics.cm_report``.

        Returns
        -------
        str
            The table, one line per row, without a final newline.

        Example
        -------
        >>> from pathlib import Path

    from speechbrain_asd.metrics import cm_report
    from speechbrain_asd.plots import plot_det_curves, plot_score_histograms
        >>> report = cm_report([0.9, 0.8, 0.3], [0.5, 0.2], ["A01", "A01"])
        >>> print(format_report_table(report))
        condition  bona fide  spoof  EER (%)  min t-DCF 2019  min t-DCF 2021
        pooled             3      2    41.67               -               -
        A01                3      2    41.67               -               -
    """
    header = (
        "condition",
        "bona fide",
        "spoof",
        "EER (%)",
        "min t-DCF 2019",
        "min t-DCF 2021",
    )
    rows = [("pooled", report["pooled"])]
    rows += sorted(report["per_attack"].items())
    fallback = [
        name != "pooled" and row["asv_spoof_set"] == "all" for name, row in rows
    ]
    lines = [
        (
            name,
            str(row["n_bonafide"]),
            str(row["n_spoof"]),
            _cell(100 * row["eer"], 2),
            _cell(row["min_tdcf_2019"], 4) + "*" * marked,
            _cell(row["min_tdcf_2021"], 4) + "*" * marked,
        )
        for (name, row), marked in zip(rows, fallback)
    ]
    widths = [
        max(len(cells[column]) for cells in [header, *lines])
        for column in range(len(header))
    ]
    text = [
        "  ".join(
            [cells[0].ljust(widths[0])]
            + [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]
        )
        for cells in [header, *lines]
    ]
    if any(fallback):
        text.append(
            "* t-DCF with all ASV spoof scores: the ASV scores have none of "
            "this attack"
        )
    return "\n".join(text)
