"""Tandem (ASV + CM) evaluation: the t-EER, the a-DCF, the SASV EERs, a
fusion of ASV and CM scores into one SASV score, and the two-threshold
decision of a deployed tandem system.

Scores: higher means more target (ASV), more bona fide (CM) or more
"bona fide target" (one fused SASV score); rates are fractions. The CM's
bona fide trials are the target and the nontarget trials (both are real
speech); its spoof trials are the spoof trials. The DET curves are the ones
of ``metrics`` (stable sort, every sorted score its own point; on ties the
target trials come first, then the nontarget, then the spoof trials).

Authors
 * speechbrain-asd developers
"""

from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from speechbrain_asd.checks import check_choice, check_keys, check_number
from speechbrain_asd.metrics import (
    check_scores,
    det_curve_unchecked,
    eer_from_det_curve,
)

TANDEM_THRESHOLD_RULES = ("dev_eer", "given")
"""How a ``Tandem`` threshold was set: the dev EER threshold, or given."""


class TandemEER(NamedTuple):
    """The t-EER of an ASV and a CM, and the thresholds that reach it.

    Arguments
    ---------
    t_eer : float
        The concurrent t-EER (fraction; the official code prints percent).
    asv_threshold : float
        Threshold of the chosen ASV DET point, as ``metrics.compute_eer``
        gives one: trials scored above it are accepted, below it rejected
        (scores equal to it are split as the stable sort orders them).
    cm_threshold : float
        Threshold of the chosen CM DET point, read the same way.

    Example
    -------
    >>> result = TandemEER(0.25, 1.0, 0.5)
    >>> result.t_eer
    0.25
    """

    t_eer: float
    asv_threshold: float
    cm_threshold: float


class ADCFCosts(NamedTuple):
    """Priors and costs of the a-DCF (Shim et al., Odyssey 2024).

    Arguments
    ---------
    target_prior : float
        Prior of a target trial.
    nontarget_prior : float
        Prior of a zero-effort nontarget trial.
    spoof_prior : float
        Prior of a spoof trial.
    miss_cost : float
        Cost of rejecting a target.
    fa_nontarget_cost : float
        Cost of accepting a nontarget.
    fa_spoof_cost : float
        Cost of accepting a spoof.

    Example
    -------
    >>> round(ADCF_COSTS_PAPER.normaliser, 6)
    0.9
    >>> round(ADCF_COSTS_ASVSPOOF5.normaliser, 6)
    0.595
    """

    target_prior: float
    nontarget_prior: float
    spoof_prior: float
    miss_cost: float
    fa_nontarget_cost: float
    fa_spoof_cost: float

    @property
    def normaliser(self):
        """Cost of the better of accepting or rejecting every trial."""
        accept_all = (
            self.fa_nontarget_cost * self.nontarget_prior
            + self.fa_spoof_cost * self.spoof_prior
        )
        return min(accept_all, self.miss_cost * self.target_prior)


ADCF_COSTS_PAPER = ADCFCosts(0.9, 0.05, 0.05, 1.0, 10.0, 20.0)
"""The a-DCF paper's default priors and costs."""
ADCF_COSTS_ASVSPOOF5 = ADCFCosts(0.9405, 0.0095, 0.05, 1.0, 10.0, 10.0)
"""The priors and costs of ASVspoof 5 Track 2 (SASV)."""


class MinADCF(NamedTuple):
    """The minimum normalised a-DCF and the threshold that reaches it.

    Arguments
    ---------
    min_a_dcf : float
        The minimum over thresholds of the normalised a-DCF.
    threshold : float
        Accept a trial when its fused score is at least this value.

    Example
    -------
    >>> MinADCF(0.5, 2.0).min_a_dcf
    0.5
    """

    min_a_dcf: float
    threshold: float


def _asv_curve(target, nontarget, spoof):
    """Miss, nontarget and spoof false alarm rates, thresholds of an ASV."""
    # Both calls sort the same pooled array (target, nontarget, spoof), so
    # their points coincide; the nontarget counts are the impostor counts
    # of the first minus the spoof counts of the second.
    by_target = det_curve_unchecked(target, np.concatenate((nontarget, spoof)))
    by_spoof = det_curve_unchecked(np.concatenate((target, nontarget)), spoof)
    accepted_impostors = np.rint(
        by_target.false_alarm_rates * (nontarget.size + spoof.size)
    )
    accepted_spoofs = np.rint(by_spoof.false_alarm_rates * spoof.size)
    return (
        by_target.miss_rates,
        (accepted_impostors - accepted_spoofs) / nontarget.size,
        by_spoof.false_alarm_rates,
        by_target.thresholds,
    )


def _first_index(holds, size, rows):
    """Per row, the first of ``size`` points where ``holds`` is true, or
    ``size``; ``holds(index)`` must be monotone along each row."""
    low = np.zeros(rows, dtype=np.int64)
    high = np.full(rows, size, dtype=np.int64)
    searching = low < high
    while np.any(searching):
        middle = (low + high) // 2
        inside = holds(np.minimum(middle, size - 1))
        high = np.where(searching & inside, middle, high)
        low = np.where(searching & ~inside, middle + 1, low)
        searching = low < high
    return low


def _closest_cm_points(asv_miss, asv_fa_nontarget, asv_fa_spoof, cm, rho):
    """Per ASV point, the first CM point where the tandem rates are closest."""

    def gap_at(index):
        """Tandem miss minus tandem false alarm rate at CM points ``index``."""
        cm_miss = cm.miss_rates[index]
        cm_fa = cm.false_alarm_rates[index]
        tandem_miss = cm_miss + (1 - cm_miss) * asv_miss
        tandem_fa = (1 - rho) * (1 - cm_miss) * asv_fa_nontarget + (
            rho * cm_fa * asv_fa_spoof
        )
        return tandem_miss - tandem_fa

    # The gap never falls along the CM curve (in floating point too: on an
    # allowed row P_miss_asv < 1, so each CM miss step raises the tandem
    # miss rate far above rounding), so the smallest |gap| sits at its first
    # non-negative value or at the plateau just before, whose first point
    # np.argmin takes on a tie.
    size, rows = cm.miss_rates.size, asv_miss.size
    first_non_negative = _first_index(lambda i: gap_at(i) >= 0, size, rows)
    gap_before = gap_at(np.maximum(first_non_negative - 1, 0))
    plateau_start = _first_index(lambda i: gap_at(i) >= gap_before, size, rows)
    gap_after = gap_at(np.minimum(first_non_negative, size - 1))
    after_is_closer = (
        (first_non_negative > 0)
        & (first_non_negative < size)
        & (gap_after < -gap_before)
    )
    return np.where(after_is_closer, first_non_negative, plateau_start)


def compute_t_eer(
    asv_target, asv_nontarget, asv_spoof, cm_bonafide, cm_spoof, rho=0.5
):
    """The concurrent tandem EER of an ASV and a CM (Kinnunen et al., 2023).

    For each ASV DET point ``j`` the CM DET point ``i`` is the first where
    ``|P_miss_tdm - P_fa_tdm|`` is smallest, with ``P_miss_tdm = P_miss_cm +
    (1 - P_miss_cm) P_miss_asv`` and ``P_fa_tdm = (1 - rho) (1 - P_miss_cm)
    P_fa_non_asv + rho P_fa_cm P_fa_spoof_asv``. Among the ``j`` where
    ``P_miss_asv < (1 - rho) P_fa_non_asv + rho P_fa_spoof_asv``, the first
    minimising ``|P_fa_non_asv / P_fa_spoof_asv - P_fa_cm / (1 -
    P_miss_cm)|`` is kept (points where a ratio has a zero denominator are
    skipped, as the official code's inf/NaN comparisons do), and the t-EER
    is ``P_fa_spoof_asv P_fa_cm`` there. As the tandem miss rate never falls
    and the tandem false alarm rate never rises along the CM curve, each
    closest CM point is found by binary search, which gives the exhaustive
    search's point exactly, so no decimated search (as the official code
    runs on large curves) is needed.

    Arguments
    ---------
    asv_target : array_like
        ASV scores of target trials.
    asv_nontarget : array_like
        ASV scores of zero-effort nontarget trials.
    asv_spoof : array_like
        ASV scores of spoof trials.
    cm_bonafide : array_like
        CM scores of the bona fide trials (the target and nontarget ones).
    cm_spoof : array_like
        CM scores of the spoof trials.
    rho : float
        Spoofing prevalence weight in [0, 1] of the tandem false alarm rate.

    Returns
    -------
    TandemEER
        The t-EER (fraction) and the ASV and CM thresholds of its point.

    Raises
    ------
    ValueError
        For empty, non-finite or misshapen scores, ``rho`` outside [0, 1],
        or when no ASV point has both ratios defined.

    Example
    -------
    >>> result = compute_t_eer([4.0, 5.0], [0.0, 1.0], [3.0], [1.0, 2.0], [0.0])
    >>> result.t_eer, result.asv_threshold, result.cm_threshold
    (0.0, 1.0, 0.0)
    """
    target = check_scores(asv_target, "asv_target")
    nontarget = check_scores(asv_nontarget, "asv_nontarget")
    spoof = check_scores(asv_spoof, "asv_spoof")
    cm = det_curve_unchecked(
        check_scores(cm_bonafide, "cm_bonafide"),
        check_scores(cm_spoof, "cm_spoof"),
    )
    rho = check_number("rho", rho, 0, 1)
    asv_miss, asv_fa_non, asv_fa_spoof, asv_thresholds = _asv_curve(
        target, nontarget, spoof
    )
    allowed = np.flatnonzero(
        asv_miss < (1 - rho) * asv_fa_non + rho * asv_fa_spoof
    )
    cm_index = _closest_cm_points(
        asv_miss[allowed],
        asv_fa_non[allowed],
        asv_fa_spoof[allowed],
        cm,
        rho,
    )
    cm_miss = cm.miss_rates[cm_index]
    cm_fa = cm.false_alarm_rates[cm_index]
    defined = (asv_fa_spoof[allowed] > 0) & (cm_miss < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_gap = np.abs(
            asv_fa_non[allowed] / asv_fa_spoof[allowed] - cm_fa / (1 - cm_miss)
        )
    ratio_gap = np.where(defined, ratio_gap, np.inf)
    if not np.any(defined):
        raise ValueError(
            "the t-EER is undefined: at every allowed ASV point the ASV "
            "accepts no spoof or the closest CM point rejects every bona fide "
            "trial (check that higher scores mean target and bona fide)"
        )
    best = int(np.argmin(ratio_gap))
    return TandemEER(
        t_eer=float(asv_fa_spoof[allowed[best]] * cm_fa[best]),
        asv_threshold=float(asv_thresholds[allowed[best]]),
        cm_threshold=float(cm.thresholds[cm_index[best]]),
    )


def t_eer_or_none(asv_target, asv_nontarget, asv_spoof, cm_bonafide, cm_spoof):
    """``compute_t_eer``, or None where the scores leave it undefined.

    Arguments
    ---------
    asv_target : array_like
        ASV scores of target trials.
    asv_nontarget : array_like
        ASV scores of nontarget trials.
    asv_spoof : array_like
        ASV scores of spoof trials.
    cm_bonafide : array_like
        CM scores of bona fide trials.
    cm_spoof : array_like
        CM scores of spoof trials.

    Returns
    -------
    TandemEER or None
        The t-EER and its thresholds, or None when ``compute_t_eer``
        refuses the scores.

    Example
    -------
    >>> t_eer_or_none([2.0], [0.0], [1.0], [1.0], [0.0]) is None
    False
    >>> t_eer_or_none([], [0.0], [1.0], [1.0], [0.0]) is None
    True
    """
    try:
        return compute_t_eer(
            asv_target, asv_nontarget, asv_spoof, cm_bonafide, cm_spoof
        )
    except ValueError:
        return None


def _check_adcf_costs(costs):
    """Checks a-DCF priors (in [0, 1], summing to 1) and positive costs."""
    if not isinstance(costs, tuple) or len(costs) != len(ADCFCosts._fields):
        raise ValueError(
            f"costs must be an ADCFCosts with fields {ADCFCosts._fields}, "
            f"got {costs!r}"
        )
    values = ADCFCosts(
        *(
            check_number(f"costs.{name}", value)
            for name, value in zip(ADCFCosts._fields, costs)
        )
    )
    for name in ADCFCosts._fields[:3]:
        check_number(f"costs.{name}", getattr(values, name), 0, 1)
    for name in ADCFCosts._fields[3:]:
        check_number(f"costs.{name}", getattr(values, name), 0, strict=True)
    prior_sum = sum(values[:3])
    if abs(prior_sum - 1) > 1e-9:
        raise ValueError(f"the a-DCF priors must sum to 1, got {prior_sum}")
    if values.normaliser <= 0:
        raise ValueError(
            f"the a-DCF normaliser of {values} is 0: no prior may leave both "
            "accepting and rejecting everything free"
        )
    return values


def compute_min_a_dcf(target, nontarget, spoof, costs=None):
    """The minimum normalised a-DCF of one fused score per trial.

    ``a-DCF(t) = (C_miss pi_tar P_miss(t) + C_fa_asv pi_non P_fa_non(t) +
    C_fa_cm pi_spoof P_fa_spoof(t)) / min(C_fa_asv pi_non + C_fa_cm
    pi_spoof, C_miss pi_tar)``, where a trial is accepted when its score is
    at least ``t``. The minimum runs over every sorted score as ``t`` plus
    "reject all", so tied scores are always accepted or rejected together
    (the same minimum as over the DET points of a stable sort that puts
    target trials first among ties).

    Arguments
    ---------
    target : array_like
        Fused scores of target trials.
    nontarget : array_like
        Fused scores of nontarget trials.
    spoof : array_like
        Fused scores of spoof trials.
    costs : ADCFCosts, optional
        Priors and costs; ``ADCF_COSTS_ASVSPOOF5`` by default
        (``ADCF_COSTS_PAPER`` for the paper's defaults).

    Returns
    -------
    MinADCF
        The minimum (at most 1, the cost of the better trivial system) and
        its threshold (above every score for "reject all").

    Example
    -------
    >>> result = compute_min_a_dcf([3.0], [1.0], [2.0], ADCF_COSTS_PAPER)
    >>> round(result.min_a_dcf, 6), result.threshold
    (0.0, 3.0)
    """
    costs = ADCF_COSTS_ASVSPOOF5 if costs is None else _check_adcf_costs(costs)
    miss, fa_nontarget, fa_spoof, thresholds = _asv_curve(
        check_scores(target, "target"),
        check_scores(nontarget, "nontarget"),
        check_scores(spoof, "spoof"),
    )
    sorted_scores = thresholds[1:]
    # Point k rejects the k lowest scores: "accept from sorted_scores[k]"
    # when no tie straddles it.
    accept_from = np.append(
        sorted_scores, np.nextafter(sorted_scores[-1], np.inf)
    )
    realisable = np.ones(accept_from.size, dtype=bool)
    realisable[1:-1] = sorted_scores[:-1] < sorted_scores[1:]
    a_dcf = (
        costs.miss_cost * costs.target_prior * miss
        + costs.fa_nontarget_cost * costs.nontarget_prior * fa_nontarget
        + costs.fa_spoof_cost * costs.spoof_prior * fa_spoof
    ) / costs.normaliser
    a_dcf = np.where(realisable, a_dcf, np.inf)
    best = int(np.argmin(a_dcf))
    return MinADCF(float(a_dcf[best]), float(accept_from[best]))


def sasv_eers(target, nontarget, spoof):
    """The SASV 2022 EERs of one fused score per trial.

    These use the ASVspoof EER estimator of ``metrics.compute_eer`` (a DET
    point, no interpolation); the SASV 2022 baseline interpolates the ROC
    instead, so its values can differ slightly.

    Arguments
    ---------
    target : array_like
        Fused scores of target trials.
    nontarget : array_like
        Fused scores of nontarget trials.
    spoof : array_like
        Fused scores of spoof trials.

    Returns
    -------
    dict
        ``sasv_eer`` (target vs nontarget and spoof), ``sv_eer`` (target vs
        nontarget) and ``spf_eer`` (target vs spoof).

    Example
    -------
    >>> sasv_eers([3.0, 4.0], [1.0, 2.0], [0.0, 3.5])
    {'sasv_eer': 0.125, 'sv_eer': 0.0, 'spf_eer': 0.5}
    """
    target = check_scores(target, "target")
    nontarget = check_scores(nontarget, "nontarget")
    spoof = check_scores(spoof, "spoof")
    impostors = np.concatenate((nontarget, spoof))
    return {
        name: eer_from_det_curve(det_curve_unchecked(target, negative))[0]
        for name, negative in (
            ("sasv_eer", impostors),
            ("sv_eer", nontarget),
            ("spf_eer", spoof),
        )
    }


def _as_score_pair(first, second, first_name, second_name):
    """Two checked score arrays of one length (one entry per trial)."""
    first = check_scores(first, first_name)
    second = check_scores(second, second_name)
    if first.size != second.size:
        raise ValueError(
            f"{first_name} has {first.size} scores but {second_name} has "
            f"{second.size}: give one of each per trial"
        )
    return first, second


def fuse_scores(asv_llrs, cm_llrs):
    """One SASV score per trial: the log of the product of two posteriors.

    ``log(sigmoid(asv_llr) sigmoid(cm_llr))``, the log-probability that the
    trial is a target and bona fide when both inputs are calibrated LLRs
    (e.g. ``Calibration.llr``), with even priors and the two decisions taken
    as independent. It never exceeds the smaller of the two log-posteriors,
    so a confident system cannot make up for the other one's rejection, and
    it rises with either input. Parameter-free; computed stably.

    Arguments
    ---------
    asv_llrs : array_like
        ASV log-likelihood ratios (target vs nontarget), one per trial.
    cm_llrs : array_like
        CM log-likelihood ratios (bona fide vs spoof), one per trial.

    Returns
    -------
    numpy.ndarray
        The fused scores, at most 0.

    Example
    -------
    >>> fuse_scores([0.0, 50.0], [0.0, 0.0]).round(4).tolist()
    [-1.3863, -0.6931]
    """
    asv, cm = _as_score_pair(asv_llrs, cm_llrs, "asv_llrs", "cm_llrs")
    return -(np.logaddexp(0.0, -asv) + np.logaddexp(0.0, -cm))


@dataclass(frozen=True)
class Tandem:
    """An ASV threshold and a CM threshold, deciding trials together.

    A trial is accepted when its ASV score is at least ``asv_threshold``
    (the claimed speaker) and its CM score at least ``cm_threshold`` (bona
    fide speech).

    Arguments
    ---------
    asv_threshold : float
        ASV decision threshold.
    cm_threshold : float
        CM decision threshold.
    asv_rule : str
        How the ASV threshold was set (one of ``TANDEM_THRESHOLD_RULES``).
    cm_rule : str
        How the CM threshold was set (one of ``TANDEM_THRESHOLD_RULES``).

    Example
    -------
    >>> tandem = Tandem.from_dev([3.0, 4.0], [1.0, 2.0], [0.8, 0.9], [0.1])
    >>> tandem.asv_threshold, tandem.cm_threshold, tandem.cm_rule
    (2.0, 0.1, 'dev_eer')
    >>> tandem.decide([3.0, 3.0, 1.0], [0.5, 0.0, 0.9]).tolist()
    [True, False, False]
    >>> rates = tandem.error_rates(
    ...     ([3.0, 4.0], [0.5, 0.9]), ([2.5], [0.7]), ([3.5, 1.0], [0.0, 0.9])
    ... )
    >>> rates["tandem"]
    {'miss': 0.0, 'fa_nontarget': 1.0, 'fa_spoof': 0.0}
    >>> rates["asv_alone"]
    {'miss': 0.0, 'fa_nontarget': 1.0, 'fa_spoof': 0.5}
    >>> Tandem.from_dict(tandem.to_dict()) == tandem
    True
    """

    asv_threshold: float
    cm_threshold: float
    asv_rule: str = "given"
    cm_rule: str = "given"

    def __post_init__(self):
        """Checks the thresholds (finite numbers) and the rules."""
        for name in ("asv_threshold", "cm_threshold"):
            value = check_number(name, getattr(self, name))
            object.__setattr__(self, name, value)
        for name in ("asv_rule", "cm_rule"):
            check_choice(name, getattr(self, name), TANDEM_THRESHOLD_RULES)

    @classmethod
    def from_dev(
        cls,
        asv_target,
        asv_nontarget,
        cm_bonafide=None,
        cm_spoof=None,
        cm_threshold=None,
    ):
        """Sets both thresholds on dev scores.

        The ASV threshold is the ASV EER threshold of target vs nontarget
        scores (the one ``metrics.asv_operating_point`` uses); the CM
        threshold is the CM dev EER threshold, unless ``cm_threshold`` (e.g.
        a calibrated one, ``Calibration.threshold`` for LLR scores) is given.

        Arguments
        ---------
        asv_target : array_like
            Dev ASV scores of target trials.
        asv_nontarget : array_like
            Dev ASV scores of nontarget trials.
        cm_bonafide : array_like, optional
            Dev CM scores of bona fide trials (needed without
            ``cm_threshold``, ignored with it).
        cm_spoof : array_like, optional
            Dev CM scores of spoof trials (likewise).
        cm_threshold : float, optional
            A CM threshold to use as is.

        Returns
        -------
        Tandem
            The thresholds and how they were set.
        """
        asv_curve = det_curve_unchecked(
            check_scores(asv_target, "asv_target"),
            check_scores(asv_nontarget, "asv_nontarget"),
        )
        asv_threshold = eer_from_det_curve(asv_curve)[1]
        if cm_threshold is not None:
            return cls(asv_threshold, cm_threshold, "dev_eer", "given")
        if cm_bonafide is None or cm_spoof is None:
            raise ValueError(
                "give cm_bonafide and cm_spoof (dev CM scores) or cm_threshold"
            )
        cm_curve = det_curve_unchecked(
            check_scores(cm_bonafide, "cm_bonafide"),
            check_scores(cm_spoof, "cm_spoof"),
        )
        cm_threshold = eer_from_det_curve(cm_curve)[1]
        return cls(asv_threshold, cm_threshold, "dev_eer", "dev_eer")

    def decide(self, asv_scores, cm_scores):
        """Whether each trial is accepted by the tandem.

        Arguments
        ---------
        asv_scores : array_like
            ASV scores, one per trial.
        cm_scores : array_like
            CM scores of the same trials.

        Returns
        -------
        numpy.ndarray
            Booleans: the ASV accepts and the CM says bona fide.
        """
        asv, cm = _as_score_pair(
            asv_scores, cm_scores, "asv_scores", "cm_scores"
        )
        return (asv >= self.asv_threshold) & (cm >= self.cm_threshold)

    def error_rates(self, target, nontarget, spoof):
        """Error rates of the tandem and of its ASV alone, per trial key.

        Arguments
        ---------
        target : tuple
            ``(asv_scores, cm_scores)`` of the target trials.
        nontarget : tuple
            ``(asv_scores, cm_scores)`` of the nontarget trials.
        spoof : tuple
            ``(asv_scores, cm_scores)`` of the spoof trials.

        Returns
        -------
        dict
            ``{"tandem": rates, "asv_alone": rates}``, each with ``miss``
            (targets rejected), ``fa_nontarget`` and ``fa_spoof`` (shares of
            nontarget, resp. spoof, trials accepted).
        """
        accepted = {"tandem": {}, "asv_alone": {}}
        for key, pair in (
            ("target", target),
            ("nontarget", nontarget),
            ("spoof", spoof),
        ):
            try:
                asv_scores, cm_scores = pair
            except (TypeError, ValueError):
                raise ValueError(
                    f"{key} must be a pair (asv_scores, cm_scores), got "
                    f"{type(pair).__name__}"
                ) from None
            asv, cm = _as_score_pair(
                asv_scores, cm_scores, f"{key} ASV scores", f"{key} CM scores"
            )
            asv_accepts = asv >= self.asv_threshold
            accepted["asv_alone"][key] = asv_accepts
            accepted["tandem"][key] = asv_accepts & (cm >= self.cm_threshold)
        return {
            system: {
                "miss": float(np.mean(~decisions["target"])),
                "fa_nontarget": float(np.mean(decisions["nontarget"])),
                "fa_spoof": float(np.mean(decisions["spoof"])),
            }
            for system, decisions in accepted.items()
        }

    def to_dict(self):
        """The tandem as a plain dict (JSON).

        Returns
        -------
        dict
            Every field.
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, values, where="tandem"):
        """Reads a tandem back from ``to_dict``'s output, checked.

        Arguments
        ---------
        values : dict
            The fields.
        where : str
            Where the values come from, for error messages.

        Returns
        -------
        Tandem
            The tandem.
        """
        check_keys(where, values, cls.__dataclass_fields__)
        thresholds = {
            key: check_number(f"{where}: {key}", values[key])
            for key in ("asv_threshold", "cm_threshold")
        }
        rules = {
            key: check_choice(
                f"{where}: {key}", values[key], TANDEM_THRESHOLD_RULES
            )
            for key in ("asv_rule", "cm_rule")
        }
        return cls(**thresholds, **rules)
