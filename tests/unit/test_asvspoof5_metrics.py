"""Tests of speechbrain_asd.metrics against the published
definitions: hand-computed cases, ties, brute force, invariances.

Authors
 * speechbrain-asd developers
"""

import math
import warnings

import numpy as np
import pytest

from speechbrain_asd.metrics import (
    asvspoof5_metrics,
    compute_act_dcf,
    compute_cllr,
    compute_min_cllr,
    compute_min_dcf,
    dcf_costs,
)


def _random_scores(seed, n_bonafide=40, n_spoof=60):
    """Overlapping, tie-free bona fide and spoof scores."""
    rng = np.random.default_rng(seed)
    return rng.normal(1.0, 1.0, n_bonafide), rng.normal(-1.0, 1.0, n_spoof)


def _slow_pav(labels):
    """Pool-adjacent-violators written out, for comparison."""
    blocks = []  # [mean, weight]
    for value in labels:
        blocks.append([float(value), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, weight = blocks.pop()
            blocks[-1][0] = (blocks[-1][0] * blocks[-1][1] + mean * weight) / (
                blocks[-1][1] + weight
            )
            blocks[-1][1] += weight
    return [mean for mean, weight in blocks for _ in range(int(weight))]


def test_asvspoof5_costs_and_threshold():
    """The ASVspoof 5 weights are 1.9 / 1 and the threshold -ln(1.9)."""
    costs = dcf_costs()
    assert costs.miss_weight == pytest.approx(1.9)
    assert costs.false_alarm_weight == pytest.approx(1.0)
    assert costs.threshold == pytest.approx(-math.log(1.9))
    with pytest.raises(ValueError, match="spoof_prior"):
        dcf_costs(spoof_prior=1.0)


def test_min_dcf_hand_case_and_upper_bound():
    """A hand-computed DET minimum; accepting everything costs 1."""
    # Operating points after sorting -1(s) 0(b) 1(s) 3(b):
    # 1.9 * miss + fa = 1, 0.5, 1.45, 0.95, 1.9.
    assert compute_min_dcf([0.0, 3.0], [-1.0, 1.0]) == pytest.approx(0.5)
    assert compute_min_dcf([-5.0], [5.0]) == pytest.approx(1.0)


def test_min_dcf_ties_sort_bona_fide_first():
    """On a tie the bona fide trial is rejected first, as the organisers
    sort: the tied point costs 1.9 + 1, so only the ends count."""
    assert compute_min_dcf([1.0], [1.0]) == pytest.approx(1.0)


def test_min_dcf_matches_brute_force_over_thresholds():
    """Without ties, the DET minimum is the minimum over thresholds."""
    bonafide, spoof = _random_scores(0)
    thresholds = np.concatenate(([-np.inf], np.sort(np.r_[bonafide, spoof])))
    thresholds = np.concatenate((thresholds, [np.inf]))
    brute = min(
        1.9 * np.mean(bonafide < t) + np.mean(spoof >= t) for t in thresholds
    )
    assert compute_min_dcf(bonafide, spoof) == pytest.approx(brute)


def test_act_dcf_counts_the_threshold_as_accepted():
    """Scores equal to -ln(1.9) are accepted: no miss, a false alarm."""
    threshold = -math.log(1.9)
    assert compute_act_dcf([threshold], [-10.0]) == 0.0
    assert compute_act_dcf([10.0], [threshold]) == pytest.approx(1.0)
    # One miss of two bona fide, one false alarm of two spoofs.
    assert compute_act_dcf([2.0, -1.0], [-3.0, -0.5]) == pytest.approx(1.45)


def test_act_dcf_is_never_below_min_dcf():
    """actDCF is one operating point; minDCF the best one."""
    for seed in range(5):
        bonafide, spoof = _random_scores(seed)
        for shift in (-2.0, 0.0, 3.0):
            assert (
                compute_act_dcf(bonafide + shift, spoof + shift)
                >= compute_min_dcf(bonafide, spoof) - 1e-12
            )


def test_cllr_hand_values_and_large_scores():
    """Cllr is 1 for zeros, log2 costs otherwise, finite and silent for
    scores whose exp overflows."""
    assert compute_cllr([0.0], [0.0]) == pytest.approx(1.0)
    expected = 0.5 * (math.log2(1 + math.exp(-2)) + math.log2(1 + math.exp(1)))
    assert compute_cllr([2.0], [1.0]) == pytest.approx(expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compute_cllr([1e6], [-1e6]) == 0.0
        wrong = compute_cllr([-1e6], [0.0])
    assert wrong == pytest.approx(0.5 * (1e6 / math.log(2) + 1.0))


def test_min_cllr_hand_case_and_ties():
    """PAV pools the violating pair; ties put the spoof first."""
    # Sorted 0(s) 1(b) 2(s) 3(b): posteriors 0, .5, .5, 1, LLRs -inf, 0,
    # 0, inf: each class pays 1 bit on one of its two trials.
    assert compute_min_cllr([1.0, 3.0], [0.0, 2.0]) == pytest.approx(0.5)
    assert compute_min_cllr([5.0], [5.0]) == 0.0
    assert compute_min_cllr([0.0], [1.0]) == pytest.approx(1.0)


def test_min_cllr_matches_slow_pav_and_prior_correction():
    """The isotonic fit equals a written-out PAV; LLRs remove the prior
    log-odds of the trial counts."""
    bonafide, spoof = _random_scores(1, n_bonafide=7, n_spoof=13)
    scores = np.r_[spoof, bonafide]
    labels = np.r_[np.zeros(spoof.size), np.ones(bonafide.size)]
    order = np.lexsort((labels, scores))
    posterior = np.array(_slow_pav(labels[order]))
    with np.errstate(divide="ignore"):
        llr = np.log(posterior / (1 - posterior)) - math.log(7 / 13)
    sorted_labels = labels[order]
    costs = [
        math.log2(1 + math.exp(-x)) if not math.isinf(x) else 0.0
        for x in llr[sorted_labels == 1]
    ]
    spoof_costs = [
        math.log2(1 + math.exp(x)) if not math.isinf(x) else 0.0
        for x in llr[sorted_labels == 0]
    ]
    expected = 0.5 * (np.mean(costs) + np.mean(spoof_costs))
    assert compute_min_cllr(bonafide, spoof) == pytest.approx(expected)


def test_min_cllr_bounds_and_invariance():
    """minCllr is at most Cllr of any affine calibration, at most 1, and
    unchanged by a monotonic transform of the scores."""
    for seed in range(4):
        bonafide, spoof = _random_scores(seed)
        best = compute_min_cllr(bonafide, spoof)
        assert 0.0 <= best <= 1.0
        for scale, offset in ((1.0, 0.0), (0.5, -0.3), (3.0, 1.0)):
            calibrated = compute_cllr(
                scale * bonafide + offset, scale * spoof + offset
            )
            assert best <= calibrated + 1e-12
        assert compute_min_cllr(
            np.exp(bonafide), np.exp(spoof)
        ) == pytest.approx(best)


def test_bad_scores_are_refused_with_their_name():
    """NaN and empty inputs name the argument."""
    with pytest.raises(ValueError, match="spoof_scores holds 1 non-finite"):
        compute_cllr([0.0], [np.nan])
    with pytest.raises(ValueError, match="bonafide_scores is empty"):
        asvspoof5_metrics([], [0.0])
