"""ASVspoof metrics: EER, DET curve, ASV operating point and min t-DCF;
the ASVspoof 5 metrics of a standalone CM (minDCF, actDCF, Cllr, minCllr).

The results match the organisers' evaluation code of ASVspoof 2019 and 2021,
ties included. Scores: higher means more bona fide (or more target for an
ASV system); rates are fractions. actDCF and Cllr read scores as natural-log
likelihood ratios; the ASVspoof 5 costs of a standalone CM (spoof prior
0.05, miss cost 1, false-alarm cost 10) are the t-DCF's ``P_SPOOF``,
``COST_MISS`` and ``COST_FALSE_ALARM_SPOOF``.

Authors
 * speechbrain-asd developers
"""

import math
from typing import NamedTuple

import numpy as np
from scipy.optimize import isotonic_regression

from speechbrain_asd.checks import check_number

# The t-DCF cost model of ASVspoof 2019 and 2021 (identical in both).
P_SPOOF = 0.05
"""Prior probability of a spoofing attack."""
P_TARGET = (1 - P_SPOOF) * 0.99
"""Prior probability of a target trial."""
P_NONTARGET = (1 - P_SPOOF) * 0.01
"""Prior probability of a nontarget (zero-effort impostor) trial."""
COST_MISS = 1
"""Cost of rejecting a target (Cmiss; Cmiss_asv = Cmiss_cm in 2019)."""
COST_FALSE_ALARM = 10
"""Cost of accepting a nontarget (Cfa; Cfa_asv in 2019)."""
COST_FALSE_ALARM_SPOOF = 10
"""Cost of accepting a spoof (Cfa_spoof in 2021; Cfa_cm in 2019)."""
MIN_DISTINCT_CM_SCORES = 3
"""The organisers refuse fewer distinct CM scores (hard decisions)."""


class DETCurve(NamedTuple):
    """Miss and false alarm rates at every operating point of a detector.

    Arguments
    ---------
    miss_rates : numpy.ndarray
        Shape ``(N + 1,)``: share of positive (bona fide, target) trials
        rejected at each point, rising from 0 to 1.
    false_alarm_rates : numpy.ndarray
        Shape ``(N + 1,)``: share of negative (spoof, nontarget) trials
        accepted at each point, falling from 1 to 0.
    thresholds : numpy.ndarray
        Shape ``(N + 1,)``: the sorted scores, after the lowest minus 0.001.

    Example
    -------
    >>> curve = compute_det_curve([2.0, 3.0], [1.0])
    >>> curve.miss_rates.tolist(), curve.false_alarm_rates.tolist()
    ([0.0, 0.0, 0.5, 1.0], [1.0, 0.0, 0.0, 0.0])
    >>> curve.eer_index
    1
    """

    miss_rates: np.ndarray
    false_alarm_rates: np.ndarray
    thresholds: np.ndarray

    @property
    def eer_index(self):
        """Index of the first point where miss and false alarm are closest."""
        return int(np.argmin(np.abs(self.miss_rates - self.false_alarm_rates)))


class ASVOperatingPoint(NamedTuple):
    """Error rates of an ASV system at a fixed threshold.

    Arguments
    ---------
    threshold : float
        Accept a trial when its ASV score is at least this value.
    pfa_asv : float
        Share of nontarget trials accepted.
    pmiss_asv : float
        Share of target trials rejected.
    pmiss_spoof_asv : float
        Share of spoof trials rejected.
    pfa_spoof_asv : float
        Share of spoof trials accepted.

    Example
    -------
    >>> op = asv_operating_point([3.0, 4.0], [1.0, 2.0], [2.5, 0.0])
    >>> op.threshold, op.pfa_asv, op.pmiss_asv, op.pfa_spoof_asv
    (2.0, 0.5, 0.0, 0.5)
    """

    threshold: float
    pfa_asv: float
    pmiss_asv: float
    pmiss_spoof_asv: float
    pfa_spoof_asv: float


class TDCFConstants(NamedTuple):
    """Weights of the normalised t-DCF ``C0 + C1 Pmiss_cm + C2 Pfa_cm``.

    The 2019 (legacy) form has ``c0 = 0``.

    Arguments
    ---------
    c0 : float
        Cost of the ASV errors alone (no CM error).
    c1 : float
        Weight of the CM miss rate (bona fide rejected).
    c2 : float
        Weight of the CM false alarm rate (spoof accepted).

    Example
    -------
    >>> constants = TDCFConstants(0.03051, 0.90999, 0.46944)
    >>> round(constants.normaliser, 5)
    0.49995
    """

    c0: float
    c1: float
    c2: float

    @property
    def normaliser(self):
        """The cost of the better trivial CM, ``C0 + min(C1, C2)``."""
        return self.c0 + min(self.c1, self.c2)


def check_scores(values, name):
    """Checks scores and turns them into a finite, non-empty 1-D array.

    Arguments
    ---------
    values : array_like
        The scores.
    name : str
        What they are, for the error message.

    Returns
    -------
    numpy.ndarray
        The scores as float64, shape ``(N,)``.

    Raises
    ------
    ValueError
        When they are not 1-D, are empty or hold NaN or inf.

    Example
    -------
    >>> check_scores([1, 2], "bonafide_scores")
    array([1., 2.])
    >>> check_scores([1.0, float("nan")], "spoof_scores")
    Traceback (most recent call last):
    ...
    ValueError: spoof_scores holds 1 non-finite value(s) (NaN or inf) ...
    """
    scores = np.asarray(values, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D sequence of scores, got shape {scores.shape}"
        )
    if scores.size == 0:
        raise ValueError(f"{name} is empty: at least one score is needed")
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        raise ValueError(
            f"{name} holds {bad.size} non-finite value(s) (NaN or inf) among "
            f"{scores.size}, first at index {bad[0]} ({scores[bad[0]]})"
        )
    return scores


def det_curve_unchecked(positive, negative):
    """The DET curve of scores already checked, with no check of its own.

    ``compute_det_curve`` without the checks, for callers that hold
    checked arrays (``check_scores``, or slices and concatenations of
    them); point ``i`` rejects the ``i`` lowest scores, and among tied
    scores positive trials sort first.

    Arguments
    ---------
    positive : numpy.ndarray
        Scores of positive trials (bona fide, or target for an ASV), 1-D.
    negative : numpy.ndarray
        Scores of negative trials (spoof, or nontarget for an ASV), 1-D.

    Returns
    -------
    DETCurve
        Miss rates, false alarm rates and thresholds of the ``N + 1`` points.

    Example
    -------
    >>> curve = det_curve_unchecked(np.array([2.0, 3.0]), np.array([1.0]))
    >>> curve.miss_rates.tolist(), curve.false_alarm_rates.tolist()
    ([0.0, 0.0, 0.5, 1.0], [1.0, 0.0, 0.0, 0.0])
    """
    pooled = np.concatenate((positive, negative))
    order = np.argsort(pooled, kind="stable")
    sorted_scores = pooled[order]
    rejected_positive = np.concatenate(([0], np.cumsum(order < positive.size)))
    rejected = np.arange(pooled.size + 1)
    accepted_negative = negative.size - (rejected - rejected_positive)
    return DETCurve(
        miss_rates=rejected_positive / positive.size,
        false_alarm_rates=accepted_negative / negative.size,
        thresholds=np.concatenate(([sorted_scores[0] - 0.001], sorted_scores)),
    )


def eer_from_det_curve(curve):
    """Reads the EER and its threshold off a DET curve.

    Arguments
    ---------
    curve : DETCurve
        The curve.

    Returns
    -------
    eer : float
        Mean of the miss and false alarm rates at the first point where
        they are closest (no interpolation).
    threshold : float
        The threshold of that point.

    Example
    -------
    >>> eer_from_det_curve(compute_det_curve([0.9, 0.8, 0.3], [0.5, 0.2, 0.1]))
    (0.3333333333333333, 0.3)
    """
    index = curve.eer_index
    eer = (curve.miss_rates[index] + curve.false_alarm_rates[index]) / 2
    return float(eer), float(curve.thresholds[index])


def check_soft_cm_scores(curve, where):
    """Refuses CM scores with fewer than 3 distinct values, as ASVspoof does.

    Arguments
    ---------
    curve : DETCurve
        The DET curve of the CM scores (its thresholds hold them, sorted).
    where : str
        Which trials, for the error message.

    Raises
    ------
    ValueError
        When the scores take fewer than ``MIN_DISTINCT_CM_SCORES`` values
        (hard decisions).

    Example
    -------
    >>> check_soft_cm_scores(compute_det_curve([1.0, 0.5], [0.0]), "eval")
    >>> check_soft_cm_scores(compute_det_curve([1.0], [0.0]), "eval")
    Traceback (most recent call last):
    ...
    ValueError: the CM scores of eval take only 2 distinct value(s) ...
    """
    sorted_scores = curve.thresholds[1:]
    distinct = 1 + np.count_nonzero(np.diff(sorted_scores))
    if distinct < MIN_DISTINCT_CM_SCORES:
        raise ValueError(
            f"the CM scores of {where} take only {distinct} distinct "
            f"value(s) (need at least {MIN_DISTINCT_CM_SCORES}): give soft "
            "scores, not hard decisions"
        )


def check_tdcf_constants(constants):
    """Refuses t-DCF weights that are not finite or are negative.

    Arguments
    ---------
    constants : TDCFConstants
        The weights.

    Raises
    ------
    ValueError
        When a weight is not finite or is negative (C1 < 0: an ASV worse
        than chance at its EER threshold).

    Example
    -------
    >>> check_tdcf_constants(TDCFConstants(0.0, 1.0, 0.5))
    >>> check_tdcf_constants(TDCFConstants(0.0, -1.0, 0.5))
    Traceback (most recent call last):
    ...
    ValueError: t-DCF constant C1 = -1 is negative: ...
    """
    if not all(np.isfinite(constants)):
        raise ValueError(f"t-DCF constants must be finite, got {constants}")
    if constants.c1 < 0:
        raise ValueError(
            f"t-DCF constant C1 = {constants.c1:.6g} is negative: the ASV "
            "system is worse than chance at its EER threshold (check that "
            "higher ASV scores mean target)"
        )
    if constants.c0 < 0 or constants.c2 < 0:
        raise ValueError(
            f"t-DCF constants must not be negative, got {constants}"
        )


def min_tdcf_from_det_curve(curve, constants):
    """The minimum over a CM DET curve of the normalised t-DCF.

    Arguments
    ---------
    curve : DETCurve
        The CM's DET curve (soft scores: ``check_soft_cm_scores``).
    constants : TDCFConstants
        The t-DCF weights (checked: ``check_tdcf_constants``), with a
        normaliser other than 0.

    Returns
    -------
    float
        ``min (C0 + C1 Pmiss_cm + C2 Pfa_cm) / (C0 + min(C1, C2))`` over the
        curve's points.

    Example
    -------
    >>> curve = compute_det_curve([0.9, 0.7, 0.2], [0.3, 0.1])
    >>> min_tdcf_from_det_curve(curve, TDCFConstants(0.0, 1.0, 1.0))
    0.3333333333333333
    """
    costs = (
        constants.c0
        + constants.c1 * curve.miss_rates
        + constants.c2 * curve.false_alarm_rates
    )
    return float(np.min(costs / constants.normaliser))


def compute_det_curve(bonafide_scores, spoof_scores):
    """Computes the DET curve of a detector, as the ASVspoof code does.

    Point ``i`` rejects the ``i`` lowest scores; among tied scores bona fide
    trials sort first.

    Arguments
    ---------
    bonafide_scores : array_like
        Scores of positive trials (bona fide, or target for an ASV).
    spoof_scores : array_like
        Scores of negative trials (spoof, or nontarget for an ASV).

    Returns
    -------
    DETCurve
        Miss rates, false alarm rates and thresholds of the ``N + 1`` points.

    Raises
    ------
    ValueError
        When either side is empty, not 1-D or holds NaN or inf.

    Example
    -------
    >>> curve = compute_det_curve([0.9, 0.4], [0.4, 0.1])
    >>> curve.miss_rates.tolist()
    [0.0, 0.0, 0.5, 0.5, 1.0]
    >>> curve.false_alarm_rates.tolist()
    [1.0, 0.5, 0.5, 0.0, 0.0]
    >>> curve.thresholds.round(3).tolist()
    [0.099, 0.1, 0.4, 0.4, 0.9]
    """
    return det_curve_unchecked(
        check_scores(bonafide_scores, "bonafide_scores"),
        check_scores(spoof_scores, "spoof_scores"),
    )


def compute_eer(bonafide_scores, spoof_scores):
    """Computes the equal error rate, as the ASVspoof code does.

    Arguments
    ---------
    bonafide_scores : array_like
        Scores of positive trials (bona fide, or target for an ASV).
    spoof_scores : array_like
        Scores of negative trials (spoof, or nontarget for an ASV).

    Returns
    -------
    eer : float
        Mean of the miss and false alarm rates at the first DET point where
        they are closest (no interpolation).
    threshold : float
        The threshold of that point.

    Example
    -------
    >>> compute_eer([0.9, 0.8, 0.3], [0.5, 0.2, 0.1])
    (0.3333333333333333, 0.3)
    """
    curve = compute_det_curve(bonafide_scores, spoof_scores)
    return eer_from_det_curve(curve)


def acceptance_rate(scores, threshold):
    """Share of trials whose score is above a threshold.

    On the scores an EER threshold came from, this gives that DET point's false
    alarm rate (spoof scores) or one minus its miss rate (bona fide scores).

    Arguments
    ---------
    scores : array_like
        Scores, higher meaning more bona fide (or target).
    threshold : float
        The decision threshold.

    Returns
    -------
    rate : float
        The fraction of ``scores`` above ``threshold``.

    Example
    -------
    >>> eer, threshold = compute_eer([0.9, 0.8, 0.3], [0.5, 0.2, 0.1])
    >>> acceptance_rate([0.5, 0.2, 0.1], threshold)
    0.3333333333333333
    >>> acceptance_rate([0.5, 0.6, 0.7], threshold)
    1.0
    """
    scores = check_scores(scores, "scores")
    threshold = float(threshold)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    return float(np.mean(scores > threshold))


def seen_unseen_eers(bonafide_scores, spoof_scores, spoof_attacks, seen):
    """EERs of the bona fide trials against the seen and the unseen attacks.

    Arguments
    ---------
    bonafide_scores : array_like
        Scores of bona fide trials.
    spoof_scores : array_like
        Scores of spoofed trials.
    spoof_attacks : sequence of str
        The attack of each spoofed trial.
    seen : collection of str
        The attacks present in training.

    Returns
    -------
    eers : dict
        ``eer_seen`` and ``eer_unseen`` (``compute_eer``'s EER against the
        spoofs of seen, resp. unseen, attacks), None for an empty side.

    Example
    -------
    >>> seen_unseen_eers([2.0, 0.0], [-1.0, 1.0], ["A01", "A07"], {"A01"})
    {'eer_seen': 0.0, 'eer_unseen': 0.75}
    """
    sides = {"eer_seen": [], "eer_unseen": []}
    for score, attack in zip(spoof_scores, spoof_attacks):
        sides["eer_seen" if attack in seen else "eer_unseen"].append(score)
    return {
        name: float(compute_eer(bonafide_scores, scores)[0]) if scores else None
        for name, scores in sides.items()
    }


def asv_operating_point(
    target_scores, nontarget_scores, spoof_scores, threshold=None
):
    """Error rates of an ASV system at its EER threshold (or a given one).

    Arguments
    ---------
    target_scores : array_like
        ASV scores of target trials, higher meaning more target.
    nontarget_scores : array_like
        ASV scores of zero-effort nontarget trials.
    spoof_scores : array_like
        ASV scores of spoof trials claiming a target identity (non-empty).
    threshold : float, optional
        ASV threshold; by default the EER threshold of target against
        nontarget scores, as the organisers use.

    Returns
    -------
    ASVOperatingPoint
        The threshold and the rates; a trial is accepted when its score is at
        least the threshold.

    Example
    -------
    >>> op = asv_operating_point([5.0, 4.0, 1.0], [2.0, 0.0, -1.0], [3.0, 0.5])
    >>> op.threshold, op.pmiss_asv, op.pfa_asv, op.pfa_spoof_asv
    (1.0, 0.0, 0.3333333333333333, 0.5)
    """
    target = check_scores(target_scores, "ASV target scores")
    nontarget = check_scores(nontarget_scores, "ASV nontarget scores")
    spoof = check_scores(spoof_scores, "ASV spoof scores")
    if threshold is None:
        curve = det_curve_unchecked(target, nontarget)
        threshold = eer_from_det_curve(curve)[1]
    elif not np.isfinite(threshold):
        raise ValueError(f"ASV threshold must be finite, got {threshold}")
    return ASVOperatingPoint(
        threshold=float(threshold),
        pfa_asv=int(np.count_nonzero(nontarget >= threshold)) / nontarget.size,
        pmiss_asv=int(np.count_nonzero(target < threshold)) / target.size,
        pmiss_spoof_asv=int(np.count_nonzero(spoof < threshold)) / spoof.size,
        pfa_spoof_asv=int(np.count_nonzero(spoof >= threshold)) / spoof.size,
    )


def tdcf_constants_2019(asv_op):
    """Weights of the ASVspoof 2019 (legacy) t-DCF.

    ``C0 = 0``, ``C1 = Ptar (Cmiss_cm - Cmiss_asv Pmiss_asv) - Pnon Cfa_asv
    Pfa_asv`` and ``C2 = Cfa_cm Pspoof (1 - Pmiss_spoof_asv)``.

    Arguments
    ---------
    asv_op : ASVOperatingPoint
        The ASV system's error rates.

    Returns
    -------
    TDCFConstants
        ``(0.0, C1, C2)``.

    Example
    -------
    >>> op = ASVOperatingPoint(0.0, 0.01, 0.02, 0.6, 0.4)
    >>> [round(c, 6) for c in tdcf_constants_2019(op)]
    [0.0, 0.92074, 0.2]
    """
    c1 = (
        P_TARGET * (COST_MISS - COST_MISS * asv_op.pmiss_asv)
        - P_NONTARGET * COST_FALSE_ALARM * asv_op.pfa_asv
    )
    c2 = COST_FALSE_ALARM_SPOOF * P_SPOOF * (1 - asv_op.pmiss_spoof_asv)
    return TDCFConstants(0.0, c1, c2)


def tdcf_constants_2021(asv_op):
    """Weights of the ASVspoof 2021 (revised) t-DCF.

    ``C0 = Ptar Cmiss Pmiss_asv + Pnon Cfa Pfa_asv``, ``C1 = Ptar Cmiss - C0``
    and ``C2 = Pspoof Cfa_spoof Pfa_spoof_asv``.

    Arguments
    ---------
    asv_op : ASVOperatingPoint
        The ASV system's error rates.

    Returns
    -------
    TDCFConstants
        ``(C0, C1, C2)``.

    Example
    -------
    >>> op = ASVOperatingPoint(0.0, 0.01, 0.02, 0.6, 0.4)
    >>> [round(c, 6) for c in tdcf_constants_2021(op)]
    [0.01976, 0.92074, 0.2]
    """
    c0 = (
        P_TARGET * COST_MISS * asv_op.pmiss_asv
        + P_NONTARGET * COST_FALSE_ALARM * asv_op.pfa_asv
    )
    c1 = P_TARGET * COST_MISS - c0
    c2 = P_SPOOF * COST_FALSE_ALARM_SPOOF * asv_op.pfa_spoof_asv
    return TDCFConstants(c0, c1, c2)


def tdcf_constants_by_metric(asv_op):
    """The t-DCF constants of both forms, keyed by the metric they serve.

    Arguments
    ---------
    asv_op : ASVOperatingPoint
        The fixed ASV operating point.

    Returns
    -------
    dict
        ``{"min_tdcf_2019": TDCFConstants, "min_tdcf_2021":
        TDCFConstants}``.

    Example
    -------
    >>> op = asv_operating_point([3.0, 4.0], [1.0, 2.0], [2.5, 0.0])
    >>> sorted(tdcf_constants_by_metric(op))
    ['min_tdcf_2019', 'min_tdcf_2021']
    """
    return {
        "min_tdcf_2019": tdcf_constants_2019(asv_op),
        "min_tdcf_2021": tdcf_constants_2021(asv_op),
    }


def compute_min_tdcf(bonafide_scores, spoof_scores, constants):
    """Minimum normalised t-DCF of a CM for given weights C0, C1, C2.

    The minimum over the DET points of ``(C0 + C1 Pmiss_cm + C2 Pfa_cm) /
    (C0 + min(C1, C2))``.

    Arguments
    ---------
    bonafide_scores : array_like
        CM scores of bona fide trials, higher meaning more bona fide.
    spoof_scores : array_like
        CM scores of spoof trials.
    constants : TDCFConstants or tuple of float
        ``(C0, C1, C2)``; ``C0 = 0`` gives the 2019 form.

    Returns
    -------
    float
        The minimum normalised t-DCF.

    Raises
    ------
    ValueError
        On invalid scores, fewer than 3 distinct scores, negative weights
        (C1 < 0: ASV worse than chance) or a zero normaliser.

    Example
    -------
    >>> constants = TDCFConstants(0.03051, 0.90999, 0.46944)
    >>> round(compute_min_tdcf([3.0, 2.0], [1.0, 0.0], constants), 6)
    0.061026
    """
    constants = TDCFConstants(*(float(c) for c in constants))
    check_tdcf_constants(constants)
    if constants.normaliser == 0:
        raise ValueError(
            f"the t-DCF is undefined for {constants}: its normaliser "
            "C0 + min(C1, C2) is 0 (the ASV system accepts no spoof, so a CM "
            "cannot change the tandem cost)"
        )
    curve = compute_det_curve(bonafide_scores, spoof_scores)
    check_soft_cm_scores(curve, "bona fide and spoof trials")
    return min_tdcf_from_det_curve(curve, constants)


def compute_min_tdcf_2019(bonafide_scores, spoof_scores, asv_op):
    """Minimum normalised t-DCF in the ASVspoof 2019 (legacy) form.

    Arguments
    ---------
    bonafide_scores : array_like
        CM scores of bona fide trials, higher meaning more bona fide.
    spoof_scores : array_like
        CM scores of spoof trials.
    asv_op : ASVOperatingPoint
        The ASV system's error rates (see ``asv_operating_point``).

    Returns
    -------
    float
        ``min over t of (C1 Pmiss_cm(t) + C2 Pfa_cm(t)) / min(C1, C2)``.

    Example
    -------
    >>> op = asv_operating_point([5.0, 4.0], [1.0, 0.0], [4.5, 2.0])
    >>> compute_min_tdcf_2019([0.9, 0.7, 0.2], [0.3, 0.1], op)
    0.5
    """
    return compute_min_tdcf(
        bonafide_scores, spoof_scores, tdcf_constants_2019(asv_op)
    )


def compute_min_tdcf_2021(bonafide_scores, spoof_scores, asv_op):
    """Minimum normalised t-DCF in the ASVspoof 2021 (revised) form.

    Arguments
    ---------
    bonafide_scores : array_like
        CM scores of bona fide trials, higher meaning more bona fide.
    spoof_scores : array_like
        CM scores of spoof trials.
    asv_op : ASVOperatingPoint
        The ASV system's error rates (see ``asv_operating_point``).

    Returns
    -------
    float
        ``min over t of (C0 + C1 Pmiss_cm(t) + C2 Pfa_cm(t)) /
        (C0 + min(C1, C2))``.

    Example
    -------
    >>> op = asv_operating_point([5.0, 4.0], [1.0, 0.0], [4.5, 2.0])
    >>> round(compute_min_tdcf_2021([0.9, 0.7, 0.2], [0.3, 0.1], op), 6)
    0.543379
    """
    return compute_min_tdcf(
        bonafide_scores, spoof_scores, tdcf_constants_2021(asv_op)
    )


def asv_operating_points_by_attack(asv_scores, attacks):
    """The ASV operating point of the pooled trials and of each attack.

    The threshold is the pooled ASV EER threshold (target vs nontarget);
    an attack's point uses that attack's ASV spoof scores, or all of them
    when the ASV scores have none of it.

    Arguments
    ---------
    asv_scores : object
        ASV scores with array attributes ``target``, ``nontarget``,
        ``spoof`` and ``spoof_attacks`` (such as ``scorefiles.ASVScores``).
    attacks : iterable of str
        The attacks to give a point.

    Returns
    -------
    dict
        ``"pooled"`` and each attack -> ``(ASVOperatingPoint, scope)``, the
        scope ``"attack"`` (the attack's own spoof scores) or ``"all"``.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> asv = SimpleNamespace(target=[3.0, 4.0], nontarget=[1.0, 2.0],
    ...     spoof=[2.5, 0.0], spoof_attacks=["A07", "A08"])
    >>> points = asv_operating_points_by_attack(asv, ["A07", "A19"])
    >>> points["A07"][0].pfa_spoof_asv, points["A07"][1], points["A19"][1]
    (1.0, 'attack', 'all')
    """
    spoof = check_scores(asv_scores.spoof, "ASV spoof scores")
    spoof_attacks = np.asarray(asv_scores.spoof_attacks, dtype=str)
    if spoof_attacks.shape != spoof.shape:
        raise ValueError(
            f"ASV spoof_attacks has {spoof_attacks.size} entries for "
            f"{spoof.size} ASV spoof scores"
        )
    pooled = asv_operating_point(asv_scores.target, asv_scores.nontarget, spoof)
    points = {"pooled": (pooled, "all")}
    for attack in attacks:
        own = spoof[spoof_attacks == attack]
        if own.size:
            op = asv_operating_point(
                asv_scores.target, asv_scores.nontarget, own, pooled.threshold
            )
            points[attack] = (op, "attack")
        else:
            points[attack] = (pooled, "all")
    return points


def _report_row(bonafide, spoof, where, asv_point):
    """One report row; ``asv_point`` is ``(op, scope)`` or None."""
    curve = det_curve_unchecked(bonafide, spoof)
    check_soft_cm_scores(curve, where)
    row = {
        "eer": eer_from_det_curve(curve)[0],
        "min_tdcf_2019": None,
        "min_tdcf_2021": None,
        **asvspoof5_metrics(bonafide, spoof),
        "n_bonafide": int(bonafide.size),
        "n_spoof": int(spoof.size),
        "asv_spoof_set": None,
    }
    if asv_point is not None:
        op, row["asv_spoof_set"] = asv_point
        for key, constants in tdcf_constants_by_metric(op).items():
            check_tdcf_constants(constants)
            if constants.normaliser != 0:
                row[key] = min_tdcf_from_det_curve(curve, constants)
    return row


def check_cm_scores(bonafide_scores, spoof_scores, spoof_attacks):
    """Checks CM scores with per-attack labels and returns them as arrays.

    Arguments
    ---------
    bonafide_scores : array_like
        CM scores of bona fide trials, higher meaning more bona fide.
    spoof_scores : array_like
        CM scores of spoof trials.
    spoof_attacks : sequence of str
        Attack id (e.g. ``"A07"``) of each spoof score.

    Returns
    -------
    bonafide : numpy.ndarray
        The bona fide scores as float64, shape ``(B,)``.
    spoof : numpy.ndarray
        The spoof scores as float64, shape ``(S,)``.
    attacks : numpy.ndarray
        The attack ids as strings, shape ``(S,)``.

    Example
    -------
    >>> _, spoof, attacks = check_cm_scores([0.9], [0.1, 0.2], ["A01", "A02"])
    >>> spoof.dtype, attacks.tolist()
    (dtype('float64'), ['A01', 'A02'])
    >>> check_cm_scores([0.9], [0.1, 0.2], ["A01"])
    Traceback (most recent call last):
    ...
    ValueError: spoof_attacks has 1 entries for 2 spoof scores
    """
    bonafide = check_scores(bonafide_scores, "bonafide_scores")
    spoof = check_scores(spoof_scores, "spoof_scores")
    attacks = np.asarray(spoof_attacks, dtype=str)
    if attacks.shape != spoof.shape:
        raise ValueError(
            f"spoof_attacks has {attacks.size} entries for "
            f"{spoof.size} spoof scores"
        )
    return bonafide, spoof, attacks


def cm_report(bonafide_scores, spoof_scores, spoof_attacks, asv_scores=None):
    """Pooled and per-attack EER and min t-DCF (both forms) of a CM.

    Each per-attack row compares all bona fide trials with that attack's spoof
    trials. Its t-DCF uses the ASV spoof scores of that attack when there are
    any, otherwise all of them (the row's ``asv_spoof_set`` says which).

    Arguments
    ---------
    bonafide_scores : array_like
        CM scores of bona fide trials, higher meaning more bona fide.
    spoof_scores : array_like
        CM scores of spoof trials.
    spoof_attacks : sequence of str
        Attack id (e.g. ``"A07"``) of each spoof score.
    asv_scores : object, optional
        ASV scores with array attributes ``target``, ``nontarget``, ``spoof``
        and ``spoof_attacks`` (such as ``scorefiles.ASVScores``). Without
        them the t-DCF values are None.

    Returns
    -------
    dict
        ``{"pooled": row, "per_attack": {attack: row}}``, each row a dict with
        ``eer``, ``min_tdcf_2019``, ``min_tdcf_2021`` (None without ASV scores
        or where the form's normaliser is 0), ``n_bonafide``, ``n_spoof`` and
        ``asv_spoof_set`` (None, ``"attack"`` or ``"all"``).

    Example
    -------
    >>> report = cm_report(
    ...     [0.9, 0.8, 0.3], [0.5, 0.2, 0.1, 0.6], ["A01", "A01", "A02", "A02"]
    ... )
    >>> report["pooled"]["eer"], report["pooled"]["min_tdcf_2019"]
    (0.29166666666666663, None)
    >>> {attack: row["eer"] for attack, row in report["per_attack"].items()}
    {'A01': 0.41666666666666663, 'A02': 0.41666666666666663}
    """
    bonafide, spoof, attacks_of_spoof = check_cm_scores(
        bonafide_scores, spoof_scores, spoof_attacks
    )
    attacks = [str(attack) for attack in np.unique(attacks_of_spoof)]
    points = dict.fromkeys(["pooled", *attacks])
    if asv_scores is not None:
        points = asv_operating_points_by_attack(asv_scores, attacks)
    report = {
        "pooled": _report_row(
            bonafide, spoof, "the pooled trials", points["pooled"]
        ),
        "per_attack": {},
    }
    for attack in attacks:
        report["per_attack"][attack] = _report_row(
            bonafide,
            spoof[attacks_of_spoof == attack],
            f"attack {attack}",
            points[attack],
        )
    return report


class DCFCosts(NamedTuple):
    """Normalised detection costs of a CM and their Bayes threshold.

    Example
    -------
    >>> costs = dcf_costs()
    >>> costs.miss_weight, costs.false_alarm_weight, round(costs.threshold, 4)
    (1.9, 1.0, -0.6419)
    """

    miss_weight: float
    false_alarm_weight: float
    threshold: float


def dcf_costs(
    spoof_prior=P_SPOOF,
    miss_cost=COST_MISS,
    false_alarm_cost=COST_FALSE_ALARM_SPOOF,
):
    """The weights of the normalised DCF and the Bayes threshold of an LLR.

    ``DCF = miss_weight * P_miss + false_alarm_weight * P_fa``, normalised
    so that the better of accepting or rejecting everything costs 1.

    Arguments
    ---------
    spoof_prior : float
        Prior of a spoof trial, in (0, 1).
    miss_cost : float
        Cost of rejecting bona fide speech.
    false_alarm_cost : float
        Cost of accepting a spoof.

    Returns
    -------
    DCFCosts
        ``miss_weight``, ``false_alarm_weight`` and ``threshold``
        (``-ln(miss_cost (1 - prior) / (false_alarm_cost prior))``).

    Example
    -------
    >>> dcf_costs(spoof_prior=0.5, miss_cost=1, false_alarm_cost=1)
    DCFCosts(miss_weight=1.0, false_alarm_weight=1.0, threshold=-0.0)
    """
    prior = check_number("spoof_prior", spoof_prior, 0, 1, strict=True)
    if prior == 1:
        raise ValueError("spoof_prior must be in (0, 1), got 1.0")
    miss_cost = check_number("miss_cost", miss_cost, 0, strict=True)
    fa_cost = check_number("false_alarm_cost", false_alarm_cost, 0, strict=True)
    miss = miss_cost * (1 - prior)
    false_alarm = fa_cost * prior
    normaliser = min(miss, false_alarm)
    return DCFCosts(
        miss_weight=miss / normaliser,
        false_alarm_weight=false_alarm / normaliser,
        threshold=-math.log(miss / false_alarm),
    )


def compute_min_dcf(bonafide_scores, spoof_scores, costs=None):
    """The minimum normalised DCF over the CM's operating points (minDCF).

    Arguments
    ---------
    bonafide_scores : array_like
        Scores of bona fide trials.
    spoof_scores : array_like
        Scores of spoof trials.
    costs : DCFCosts, optional
        From ``dcf_costs``; the ASVspoof 5 costs by default.

    Returns
    -------
    float
        minDCF, at most 1.

    Example
    -------
    >>> compute_min_dcf([2.0, 3.0], [-1.0, 0.0])
    0.0
    >>> compute_min_dcf([0.0, 3.0], [-1.0, 1.0])
    0.5
    """
    costs = costs or dcf_costs()
    curve = compute_det_curve(bonafide_scores, spoof_scores)
    dcf = (
        costs.miss_weight * curve.miss_rates
        + costs.false_alarm_weight * curve.false_alarm_rates
    )
    return float(dcf.min())


def compute_act_dcf(bonafide_scores, spoof_scores, costs=None):
    """The normalised DCF at the Bayes threshold of LLR scores (actDCF).

    Bona fide scores below the threshold are misses; spoof scores at or
    above it are false alarms.

    Arguments
    ---------
    bonafide_scores : array_like
        Log-likelihood ratios of bona fide trials.
    spoof_scores : array_like
        Log-likelihood ratios of spoof trials.
    costs : DCFCosts, optional
        From ``dcf_costs``; the ASVspoof 5 costs by default.

    Returns
    -------
    float
        actDCF.

    Example
    -------
    >>> compute_act_dcf([2.0, -1.0], [-3.0, -0.5])
    1.45
    """
    costs = costs or dcf_costs()
    bonafide, spoof = _as_pair(bonafide_scores, spoof_scores)
    miss = np.mean(bonafide < costs.threshold)
    false_alarm = np.mean(spoof >= costs.threshold)
    return float(
        costs.miss_weight * miss + costs.false_alarm_weight * false_alarm
    )


def compute_cllr(bonafide_scores, spoof_scores):
    """The log-likelihood-ratio cost of LLR scores, in bits (Cllr).

    Arguments
    ---------
    bonafide_scores : array_like
        Log-likelihood ratios of bona fide trials.
    spoof_scores : array_like
        Log-likelihood ratios of spoof trials.

    Returns
    -------
    float
        Cllr: 1 for scores that carry no information (all 0), 0 for
        perfect, confident ones.

    Example
    -------
    >>> compute_cllr([0.0], [0.0])
    1.0
    >>> round(compute_cllr([1000.0], [-1000.0]), 6)
    0.0
    """
    bonafide, spoof = _as_pair(bonafide_scores, spoof_scores)
    return _cllr(bonafide, spoof)


def compute_min_cllr(bonafide_scores, spoof_scores):
    """Cllr after the best monotonic recalibration of the scores (minCllr).

    The scores are sorted (spoofs before bona fide on ties), the labels are
    fitted by isotonic regression (pool-adjacent-violators), and the
    fitted posteriors become LLRs by removing the prior log-odds of the
    trial counts. ``Cllr - minCllr`` is the calibration loss.

    Arguments
    ---------
    bonafide_scores : array_like
        Scores of bona fide trials.
    spoof_scores : array_like
        Scores of spoof trials.

    Returns
    -------
    float
        minCllr, in bits, at most 1.

    Example
    -------
    >>> compute_min_cllr([2.0, 3.0], [0.0, 1.0])
    0.0
    >>> compute_min_cllr([1.0, 3.0], [0.0, 2.0])
    0.5
    """
    bonafide, spoof = _as_pair(bonafide_scores, spoof_scores)
    scores = np.concatenate((spoof, bonafide))
    labels = np.concatenate((np.zeros(spoof.size), np.ones(bonafide.size)))
    order = np.lexsort((labels, scores))
    posterior = isotonic_regression(labels[order]).x
    prior_log_odds = math.log(bonafide.size / spoof.size)
    with np.errstate(divide="ignore"):
        llr = np.log(posterior) - np.log1p(-posterior) - prior_log_odds
    sorted_labels = labels[order]
    return _cllr(llr[sorted_labels == 1], llr[sorted_labels == 0])


def asvspoof5_metrics(bonafide_scores, spoof_scores, costs=None):
    """minDCF, actDCF, Cllr and minCllr of a CM, as one dict.

    Arguments
    ---------
    bonafide_scores : array_like
        Scores of bona fide trials.
    spoof_scores : array_like
        Scores of spoof trials.
    costs : DCFCosts, optional
        From ``dcf_costs``; the ASVspoof 5 costs by default.

    Returns
    -------
    dict
        ``min_dcf``, ``act_dcf``, ``cllr`` and ``min_cllr``.

    Example
    -------
    >>> asvspoof5_metrics([2.0, 3.0], [-1.0, 0.0])["min_dcf"]
    0.0
    """
    return {
        "min_dcf": compute_min_dcf(bonafide_scores, spoof_scores, costs),
        "act_dcf": compute_act_dcf(bonafide_scores, spoof_scores, costs),
        "cllr": compute_cllr(bonafide_scores, spoof_scores),
        "min_cllr": compute_min_cllr(bonafide_scores, spoof_scores),
    }


def _as_pair(bonafide_scores, spoof_scores):
    """Both score sets as checked float64 arrays (finite, non-empty, 1-D)."""
    return (
        check_scores(bonafide_scores, "bonafide_scores"),
        check_scores(spoof_scores, "spoof_scores"),
    )


def _cllr(bonafide_llr, spoof_llr):
    """Cllr in bits of LLR arrays, stable for large magnitudes."""
    bonafide_cost = np.mean(np.logaddexp(0.0, -bonafide_llr))
    spoof_cost = np.mean(np.logaddexp(0.0, spoof_llr))
    return float((bonafide_cost + spoof_cost) / (2 * math.log(2)))
