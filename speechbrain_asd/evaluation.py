"""Evaluates, compares and plots CM score files against ASVspoof protocols.

Authors
 * speechbrain-asd developers
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.stats import spearmanr

from speechbrain_asd.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DESIGNS,
    bootstrap_metrics,
    paired_bootstrap,
)
from speechbrain_asd.calibration import fit_calibration
from speechbrain_asd.checks import name_list
from speechbrain_asd.decomposition import POOLED, decomposed_results
from speechbrain_asd.metrics import (
    asv_operating_points_by_attack,
    cm_report,
    tdcf_constants_by_metric,
)
from speechbrain_asd.plots import plot_det_curves, plot_score_histograms
from speechbrain_asd.scorefiles import (
    BONAFIDE,
    NO_CONDITION,
    ASVTrial,
    asv_scores_by_key,
    read_asv_score_list,
    read_asv_scores,
    read_cm_protocol,
    read_cm_scores,
)
from speechbrain_asd.tandem import t_eer_or_none

DET_PLOT = "det.png"
"""File name of the DET plot that ``plot_score_file`` writes."""
HISTOGRAM_PLOT = "histograms.png"
"""File name of the histogram plot that ``plot_score_file`` writes."""
_IDS_SHOWN = 5
_TDCF_KEYS = ("min_tdcf_2019", "min_tdcf_2021")


def _few(ids):
    """Names a few ids of a list, for an error message."""
    return name_list([repr(trial) for trial in ids], limit=_IDS_SHOWN)


def _trials_in_subset(trials, subset, protocol_path):
    """Keeps the trials of one subset of an ASVspoof 2021 protocol."""
    if subset is None:
        return trials
    present = sorted({trial.subset for trial in trials} - {NO_CONDITION})
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


class _ASVInput(NamedTuple):
    """ASV scores split by key, and the same scores trial by trial."""

    by_key: object
    trials: list
    scores: np.ndarray


def _asv_of_subset(trials, scores, subset, metadata_path):
    """Keeps the ASV trials of a subset (when the metadata has subsets)."""
    if subset is None or all(trial.subset == NO_CONDITION for trial in trials):
        return trials, scores
    keep = np.asarray([trial.subset == subset for trial in trials], dtype=bool)
    if not keep.any():
        raise ValueError(f"{metadata_path}: no ASV trial of subset {subset!r}")
    return [t for t, k in zip(trials, keep) if k], scores[keep]


def _trials_of_2019_scores(asv):
    """ASV trials without ids or codecs for the scores of a 2019 ASV file."""
    trials = [ASVTrial("-", "-", BONAFIDE, "target")] * asv.target.size
    trials += [ASVTrial("-", "-", BONAFIDE, "nontarget")] * asv.nontarget.size
    trials += [ASVTrial("-", "-", str(a), "spoof") for a in asv.spoof_attacks]
    scores = np.concatenate((asv.target, asv.nontarget, asv.spoof))
    return _ASVInput(asv, trials, scores)


def _read_asv(asv_scores_path, asv_metadata_path=None, subset=None):
    """Reads ASV scores (2019 form, or 2021 with their metadata); None
    without a path."""
    if asv_scores_path is None:
        if asv_metadata_path is not None:
            raise ValueError(
                f"ASV metadata {asv_metadata_path} given without the ASV "
                "score file that goes with it"
            )
        return None
    if asv_metadata_path is None:
        asv = _trials_of_2019_scores(read_asv_scores(asv_scores_path))
    else:
        trials, scores = read_asv_score_list(asv_scores_path, asv_metadata_path)
        trials, scores = _asv_of_subset(
            trials, scores, subset, asv_metadata_path
        )
        asv = _ASVInput(asv_scores_by_key(trials, scores), trials, scores)
    for key in ("target", "nontarget", "spoof"):
        if getattr(asv.by_key, key).size == 0:
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
    trials: list


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
        trials=bonafide + spoof,
    )


def _report_or_error(cm, asv, scores_path):
    """``cm_report`` of a score file's scores, errors naming the file."""
    try:
        return cm_report(cm.bonafide, cm.spoof, cm.attacks, asv and asv.by_key)
    except ValueError as error:
        raise ValueError(f"{scores_path}: {error}") from None


def _pooled_t_eer(cm, asv):
    """The pooled concurrent t-EER of the CM with the ASV, None where the
    ASV scores leave it undefined."""
    found = t_eer_or_none(
        asv.by_key.target,
        asv.by_key.nontarget,
        asv.by_key.spoof,
        cm.bonafide,
        cm.spoof,
    )
    return found and found.t_eer


def _has_codecs(cm):
    """Tells whether the evaluated trials carry codec conditions (2021)."""
    return all(trial.codec != NO_CONDITION for trial in cm.trials)


def _decomposed_or_error(cm, asv, scores_path):
    """``decomposed_results`` of a score file's scores, errors naming it."""
    try:
        return decomposed_results(
            cm.trials,
            cm.bonafide + cm.spoof,
            asv and asv.trials,
            asv and asv.scores,
        )
    except ValueError as error:
        raise ValueError(f"{scores_path}: {error}") from None


def _row_inputs(cm, asv):
    """The spoof trials and the t-DCF constants of every row of a report."""
    attacks = np.asarray(cm.attacks, dtype=str)
    names = [str(attack) for attack in np.unique(attacks)]
    masks = {"pooled": np.ones(attacks.size, dtype=bool)}
    masks.update((name, attacks == name) for name in names)
    points = (
        {} if asv is None else asv_operating_points_by_attack(asv.by_key, names)
    )
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


_KEYS_2021_CM = Path("CM") / "trial_metadata.txt"
_KEYS_2021_ASV = Path("ASV") / "trial_metadata.txt"
_KEYS_2021_FOLDERS = (Path("."), Path("LA"), Path("keys") / "LA")


def find_2021_keys(folder):
    """Finds the files of an ASVspoof 2021 LA keys folder.

    The folder may be ``keys/LA`` itself, ``keys`` or the folder above it.
    It holds ``CM/trial_metadata.txt`` and, optionally, the ASV side:
    ``ASV/trial_metadata.txt`` with one score file ``ASV/<system>/score.txt``
    (the organisers ship ``ASV/ASVTorch_Kaldi/score.txt``).

    Arguments
    ---------
    folder : str or os.PathLike
        The keys folder.

    Returns
    -------
    dict
        ``protocol`` (the CM metadata), ``asv_metadata`` and
        ``asv_scores_path`` (both None without an ASV side).

    Raises
    ------
    FileNotFoundError
        When no CM ``trial_metadata.txt`` is found (naming where it looked).
    ValueError
        When the ASV side is incomplete or has several score files.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> cm = folder / "keys" / "LA" / "CM"
    >>> cm.mkdir(parents=True)
    >>> _ = (cm / "trial_metadata.txt").write_text("")
    >>> keys = find_2021_keys(folder)
    >>> keys["protocol"].relative_to(folder).as_posix(), keys["asv_scores_path"]
    ('keys/LA/CM/trial_metadata.txt', None)
    """
    folder = Path(folder)
    roots = [folder / sub for sub in _KEYS_2021_FOLDERS]
    root = next((r for r in roots if (r / _KEYS_2021_CM).is_file()), None)
    if root is None:
        looked = ", ".join(str(r / _KEYS_2021_CM) for r in roots)
        raise FileNotFoundError(
            f"{folder}: no ASVspoof 2021 keys (looked for {looked})"
        )
    keys = {
        "protocol": root / _KEYS_2021_CM,
        "asv_metadata": None,
        "asv_scores_path": None,
    }
    score_files = sorted((root / "ASV").glob("*/score.txt"))
    has_metadata = (root / _KEYS_2021_ASV).is_file()
    if not has_metadata and not score_files:
        return keys
    if not has_metadata or not score_files:
        raise ValueError(
            f"{root / 'ASV'}: the ASV side needs both trial_metadata.txt and "
            "one <system>/score.txt"
        )
    if len(score_files) > 1:
        raise ValueError(
            f"{root / 'ASV'}: several ASV score files ("
            + ", ".join(str(f) for f in score_files)
            + "): give one with --asv-scores and --asv-metadata"
        )
    keys["asv_metadata"] = root / _KEYS_2021_ASV
    keys["asv_scores_path"] = score_files[0]
    return keys


def evaluate_score_file(
    scores_path,
    protocol_path,
    asv_scores_path=None,
    subset=None,
    n_resamples=0,
    seed=0,
    confidence=DEFAULT_CONFIDENCE,
    calibration=None,
    asv_metadata_path=None,
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
        ASVspoof 2019 form (``SOURCE KEY SCORE``), or the 2021 form
        (``SPEAKER TRIAL SCORE``) with ``asv_metadata_path``.
    subset : str, optional
        ASVspoof 2021 only: evaluate the trials of this subset (``eval``,
        ``progress`` or ``hidden``); by default, every trial.
    asv_metadata_path : str or os.PathLike, optional
        ASVspoof 2021 ASV ``trial_metadata.txt`` that ``asv_scores_path``
        follows line by line; its codecs give each cell of the decomposed
        results its own t-DCF weights.
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
        With ASV scores the pooled row also has ``t_eer``, the concurrent
        tandem EER (``tandem.compute_t_eer``; None where undefined). When
        the trials carry codecs (ASVspoof 2021), ``decomposed`` holds
        ``decomposition.decomposed_results`` and ``subset`` the subset.

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
    asv = _read_asv(asv_scores_path, asv_metadata_path, subset)
    report = _report_or_error(cm, asv, scores_path)
    if n_resamples:
        settings = _resample_settings(n_resamples, seed, confidence)
        _add_intervals(report, cm, asv, settings)
    if asv is not None:
        report["pooled"]["t_eer"] = _pooled_t_eer(cm, asv)
    if _has_codecs(cm):
        report["subset"] = subset
        report["decomposed"] = _decomposed_or_error(cm, asv, scores_path)
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
    asv_metadata_path=None,
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
    asv_metadata_path : str or os.PathLike, optional
        ASVspoof 2021 ASV ``trial_metadata.txt`` of 2021-form ASV scores.

    Returns
    -------
    dict
        ``a`` and ``b`` (the score files), ``rank_correlation`` (Spearman's,
        of the two systems' scores over all trials: how much B ranks the
        trials as A does), ``bootstrap`` (the settings), ``pooled`` (a row)
        and ``per_attack`` (attack -> row). A row has ``n_bonafide``,
        ``n_spoof``, ``asv_spoof_set`` and, per metric, the result of
        ``paired_bootstrap`` (None for a t-DCF without ASV scores).

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
    >>> round(comparison["rank_correlation"], 3)
    0.8
    """
    protocol = _read_protocol(protocol_path, subset)
    cm_a = _read_cm_trials(scores_a, protocol_path, protocol)
    cm_b = _read_cm_trials(scores_b, protocol_path, protocol)
    asv = _read_asv(asv_scores_path, asv_metadata_path, subset)
    report_a = _report_or_error(cm_a, asv, scores_a)
    _report_or_error(cm_b, asv, scores_b)
    settings = _resample_settings(n_resamples, seed, confidence)
    comparison = {
        "a": str(scores_a),
        "b": str(scores_b),
        "rank_correlation": _rank_correlation(cm_a, cm_b),
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


def _rank_correlation(cm_a, cm_b):
    """Spearman's rank correlation of two systems' scores of all trials."""
    a = np.concatenate([cm_a.bonafide, cm_a.spoof])
    b = np.concatenate([cm_b.bonafide, cm_b.spoof])
    return float(spearmanr(a, b)[0])


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
    cm = _read_cm_trials(scores_path, protocol_path, protocol)
    bonafide, spoof, attacks = cm.bonafide, cm.spoof, cm.attacks
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
    t_eer = report["pooled"].get("t_eer")
    if t_eer is not None:
        text.append(
            f"t-EER (concurrent, pooled, with the ASV scores): "
            f"{100 * t_eer:.2f} %"
        )
    if "decomposed" in report:
        subset = report["subset"] or "all trials"
        text += ["", f"Decomposed results (subset: {subset})", ""]
        text.append(format_decomposed_table(report["decomposed"]))
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
        "Spearman rank correlation of A's and B's scores (all trials): "
        f"{comparison['rank_correlation']:.3f}"
    )
    text.append(
        "B - A below 0: B is better; flip: share of resamples where B - A "
        "has not the sign of the point difference"
    )
    text.append(_bootstrap_note(comparison["bootstrap"], "intervals of B - A"))
    return "\n".join(text)


_GRID_METRICS = (
    ("eer", "EER (%)", 2, 100),
    ("min_tdcf_2021", "min t-DCF 2021", 4, 1),
)
"""Key, title, decimals and scale of the decomposed results' blocks."""


def format_decomposed_table(grid, compact=False):
    """Formats decomposed results as text: an EER and a t-DCF block.

    Rows are attacks (then pooled) and columns codecs (then pooled), as the
    organisers' 2021 package prints them; ``-`` where a cell has no value.

    Arguments
    ---------
    grid : dict
        As returned by ``decomposition.decomposed_results``.
    compact : bool
        Show only the pooled row of each block (one value per codec).

    Returns
    -------
    str
        The blocks, without a final newline.

    Example
    -------
    >>> from speechbrain_asd.scorefiles import CMTrial
    >>> trials = [
    ...     CMTrial("S1", "T1", "bonafide", "bonafide", "none"),
    ...     CMTrial("S1", "T2", "bonafide", "bonafide", "gsm"),
    ...     CMTrial("S1", "T3", "A07", "spoof", "none"),
    ...     CMTrial("S1", "T4", "A07", "spoof", "gsm"),
    ... ]
    >>> grid = decomposed_results(trials, [2.0, 0.5, 1.0, -1.0])
    >>> print(format_decomposed_table(grid, compact=True))
    EER (%)  none   gsm  pooled
    pooled   0.00  0.00   50.00
    <BLANKLINE>
    min t-DCF 2021  none  gsm  pooled
    pooled             -    -       -
    """
    rows = [POOLED] if compact else grid["rows"]
    text = []
    for key, title, digits, scale in _GRID_METRICS:
        lines = [
            tuple(
                [row]
                + [
                    _number_cell(grid["cells"][row][column][key], digits, scale)
                    for column in grid["columns"]
                ]
            )
            for row in rows
        ]
        if text:
            text.append("")
        text += _render((title, *grid["columns"]), lines)
    if (
        not grid["asv_codecs"]
        and grid["cells"][POOLED][POOLED]["c1"] is not None
    ):
        text.append(
            "t-DCF weights from ASV scores without codecs: each cell's ASV "
            "scores are filtered by attack only"
        )
    return "\n".join(text)
