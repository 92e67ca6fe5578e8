"""Calibration of countermeasure scores into log-likelihood ratios, and
the decision threshold a deployed model uses.

Authors
 * speechbrain-asd developers
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize

from speechbrain_asd.checks import check_choice, check_keys, check_number
from speechbrain_asd.metrics import (
    check_scores,
    compute_cllr,
    compute_eer,
    dcf_costs,
)

THRESHOLD_RULES = ("bayes", "dev_eer", "spoof_far")


@dataclass(frozen=True)
class Calibration:
    """An affine map from raw scores to bona fide LLRs, and a threshold.

    ``llr = scale * score + offset``; a trial is bona fide when its LLR is
    at or above ``threshold``.

    Arguments
    ---------
    scale : float
        Positive slope of the map.
    offset : float
        Offset of the map.
    threshold : float
        Decision threshold on the LLR.
    rule : str
        How the threshold was set (one of ``THRESHOLD_RULES``).
    spoof_prior : float
        Prior of a spoof trial the threshold and posteriors assume.
    dev_cllr_raw : float
        Cllr (bits) of the raw dev scores read as LLRs.
    dev_cllr : float
        Cllr (bits) of the calibrated dev scores.

    Example
    -------
    >>> cal = Calibration(2.0, -1.0, 0.0, "bayes", 0.5, 1.2, 0.4)
    >>> cal.llr(np.array([0.5, 1.0])).tolist(), cal.decide(np.array([0.4]))
    ([0.0, 1.0], array([False]))
    """

    scale: float
    offset: float
    threshold: float
    rule: str
    spoof_prior: float
    dev_cllr_raw: float
    dev_cllr: float

    def llr(self, scores):
        """Calibrated bona fide log-likelihood ratios of raw scores.

        Arguments
        ---------
        scores : array_like or float
            Raw CM scores.

        Returns
        -------
        numpy.ndarray
            The LLRs, of the shape of ``scores``.
        """
        return self.scale * np.asarray(scores, dtype=np.float64) + self.offset

    def posterior(self, scores):
        """Posterior probability of bona fide under ``spoof_prior``.

        Arguments
        ---------
        scores : array_like or float
            Raw CM scores.

        Returns
        -------
        numpy.ndarray or float
            ``sigmoid(llr + ln((1 - prior) / prior))``.
        """
        log_odds = self.llr(scores) + math.log(
            (1 - self.spoof_prior) / self.spoof_prior
        )
        return _sigmoid(log_odds)

    def decide(self, scores):
        """Whether each trial is accepted as bona fide.

        Arguments
        ---------
        scores : array_like or float
            Raw CM scores.

        Returns
        -------
        numpy.ndarray or bool
            True where the LLR is at or above the threshold.
        """
        return self.llr(scores) >= self.threshold

    def to_dict(self):
        """The calibration as a plain dict (JSON).

        Returns
        -------
        dict
            Every field.
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, values, where="calibration"):
        """Reads a calibration back from ``to_dict``'s output, checked.

        Arguments
        ---------
        values : dict
            The fields.
        where : str
            Where the values come from, for error messages.

        Returns
        -------
        Calibration
            The calibration.
        """
        check_keys(where, values, cls.__dataclass_fields__)
        numbers = {
            key: check_number(f"{where}: {key}", value)
            for key, value in values.items()
            if key != "rule"
        }
        if numbers["scale"] <= 0:
            raise ValueError(f"{where}: scale must be positive")
        check_number(
            f"{where}: spoof_prior", numbers["spoof_prior"], 0, 1, strict=True
        )
        check_choice(f"{where}: rule", values["rule"], THRESHOLD_RULES)
        return cls(rule=values["rule"], **numbers)


def fit_calibration(
    bonafide_scores,
    spoof_scores,
    rule="bayes",
    spoof_prior=0.05,
    miss_cost=1.0,
    false_alarm_cost=10.0,
    target_spoof_far=0.01,
):
    """Fits the affine score-to-LLR map on dev scores and sets a threshold.

    The map minimises the Cllr of the dev scores (logistic regression with
    each class weighted equally). The threshold follows ``rule``:
    ``bayes``, the Bayes threshold ``-ln(miss_cost (1 - prior) /
    (false_alarm_cost prior))`` of the stated priors and costs; ``dev_eer``,
    the dev EER threshold; ``spoof_far``, the lowest threshold that accepts
    at most ``target_spoof_far`` of the dev spoofs.

    Arguments
    ---------
    bonafide_scores : array_like
        Raw dev scores of bona fide trials.
    spoof_scores : array_like
        Raw dev scores of spoof trials.
    rule : str
        One of ``THRESHOLD_RULES``.
    spoof_prior : float
        Prior of a spoof trial, in (0, 1).
    miss_cost : float
        Cost of rejecting bona fide speech.
    false_alarm_cost : float
        Cost of accepting a spoof.
    target_spoof_far : float
        The spoof acceptance rate of the ``spoof_far`` rule, in [0, 1].

    Returns
    -------
    Calibration
        The map, its threshold and the dev Cllr before and after.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> bonafide, spoof = rng.normal(1, 1, 5000), rng.normal(-1, 1, 5000)
    >>> cal = fit_calibration(bonafide, spoof)  # the true LLR is 2 x
    >>> round(cal.scale, 1), abs(cal.offset) < 0.05
    (2.0, True)
    """
    bonafide = check_scores(bonafide_scores, "bonafide_scores")
    spoof = check_scores(spoof_scores, "spoof_scores")
    check_choice("rule", rule, THRESHOLD_RULES)
    check_number("target_spoof_far", target_spoof_far, 0, 1)
    scale, offset = _fit_affine(bonafide, spoof)
    llr_bonafide = scale * bonafide + offset
    llr_spoof = scale * spoof + offset
    if rule == "bayes":
        threshold = dcf_costs(
            spoof_prior, miss_cost, false_alarm_cost
        ).threshold
    elif rule == "dev_eer":
        threshold = compute_eer(llr_bonafide, llr_spoof)[1]
    else:
        threshold = _spoof_far_threshold(llr_spoof, target_spoof_far)
    return Calibration(
        scale=scale,
        offset=offset,
        threshold=float(threshold),
        rule=rule,
        spoof_prior=float(spoof_prior),
        dev_cllr_raw=compute_cllr(bonafide, spoof),
        dev_cllr=compute_cllr(llr_bonafide, llr_spoof),
    )


def _fit_affine(bonafide, spoof):
    """Scale and offset minimising the dev Cllr (scale kept positive)."""

    def cost(params):
        """Cllr (nats) of the mapped scores and its gradient."""
        log_scale, offset = params
        scale = math.exp(log_scale)
        b = scale * bonafide + offset
        s = scale * spoof + offset
        value = np.mean(np.logaddexp(0, -b)) + np.mean(np.logaddexp(0, s))
        db = -_sigmoid(-b)
        ds = _sigmoid(s)
        grad_scale = np.mean(db * bonafide) + np.mean(ds * spoof)
        grad_offset = np.mean(db) + np.mean(ds)
        return value, np.array([grad_scale * scale, grad_offset])

    result = minimize(cost, x0=np.zeros(2), jac=True, method="BFGS")
    return float(math.exp(result.x[0])), float(result.x[1])


def _sigmoid(x):
    """Numerically stable logistic function."""
    return 0.5 * (1 + np.tanh(0.5 * x))


def _spoof_far_threshold(llr_spoof, target):
    """Lowest threshold accepting at most ``target`` of the spoofs."""
    ordered = np.sort(llr_spoof)[::-1]
    allowed = int(math.floor(target * ordered.size + 1e-9))
    if allowed >= ordered.size:
        return float(ordered[-1])
    return float(np.nextafter(ordered[allowed], np.inf))
