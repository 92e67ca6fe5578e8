"""Tests of speechbrain_asd.tandem: the t-EER and the a-DCF against
hand-worked cases and literal brute-force references (ties included), the
SASV EERs, the fusion, and the tandem decision with its stored form.

Authors
 * speechbrain-asd developers
"""

import json
import math
import warnings

import numpy as np
import pytest

from speechbrain_asd.metrics import compute_eer
from speechbrain_asd.tandem import (
    ADCF_COSTS_ASVSPOOF5,
    ADCF_COSTS_PAPER,
    ADCFCosts,
    Tandem,
    compute_min_a_dcf,
    compute_t_eer,
    fuse_scores,
    sasv_eers,
)

# ------------------------------------------------------------ references


def _reference_points(*classes):
    """Every DET point of a stable sort, written out literally.

    Arguments
    ---------
    *classes : list of float
        Scores of the positive class first (target or bona fide), then of
        each negative class; on ties the earlier class sorts first.

    Returns
    -------
    list of tuple
        ``(rates, threshold)`` per point: ``rates`` holds the positive miss
        rate then each negative class's false alarm rate.
    """
    trials = [(s, k) for k, scores in enumerate(classes) for s in scores]
    trials.sort(key=lambda trial: trial[0])
    points = []
    for rejected in range(len(trials) + 1):
        gone, kept = trials[:rejected], trials[rejected:]
        rates = [sum(k == 0 for _, k in gone) / len(classes[0])]
        for c in range(1, len(classes)):
            rates.append(sum(k == c for _, k in kept) / len(classes[c]))
        threshold = trials[rejected - 1][0] if rejected else trials[0][0]
        points.append((rates, threshold - 0.001 * (rejected == 0)))
    return points


def _reference_t_eer(target, nontarget, spoof, bonafide, cm_spoof, rho=0.5):
    """The t-EER ``(value, asv_threshold, cm_threshold)`` by the
    definition, over every pair of points; None when undefined."""
    cm_points = _reference_points(bonafide, cm_spoof)
    best = None
    for (miss_asv, fa_non, fa_spf), asv_threshold in _reference_points(
        target, nontarget, spoof
    ):
        closest = None
        for (cm_miss, cm_fa), cm_threshold in cm_points:
            p_miss = cm_miss + (1 - cm_miss) * miss_asv
            p_fa = (1 - rho) * (1 - cm_miss) * fa_non + rho * cm_fa * fa_spf
            gap = abs(p_miss - p_fa)
            if closest is None or gap < closest[0]:
                closest = (gap, cm_miss, cm_fa, cm_threshold)
        _, cm_miss, cm_fa, cm_threshold = closest
        if not miss_asv < (1 - rho) * fa_non + rho * fa_spf:
            continue
        if fa_spf == 0 or cm_miss == 1:
            continue
        crit = abs(fa_non / fa_spf - cm_fa / (1 - cm_miss))
        if best is None or crit < best[0]:
            best = (crit, fa_spf * cm_fa, asv_threshold, cm_threshold)
    return None if best is None else best[1:]


def _exhaustive_t_eer(target, nontarget, spoof, bonafide, cm_spoof, rho=0.5):
    """The t-EER ``(value, asv_threshold, cm_threshold)`` with an np.argmin
    over the whole CM curve for each ASV point."""

    def curve(*classes):
        """Rates (positive miss, then negative false alarms), thresholds."""
        scores = np.concatenate(classes)
        labels = np.concatenate(
            [np.full(len(c), k) for k, c in enumerate(classes)]
        )
        order = np.argsort(scores, kind="stable")
        rates = [np.r_[0, np.cumsum(labels[order] == 0)] / len(classes[0])]
        for k in range(1, len(classes)):
            gone = np.r_[0, np.cumsum(labels[order] == k)]
            rates.append((len(classes[k]) - gone) / len(classes[k]))
        sorted_scores = scores[order]
        return rates, np.r_[sorted_scores[0] - 0.001, sorted_scores]

    (miss_asv, fa_non, fa_spf), asv_thresholds = curve(target, nontarget, spoof)
    (cm_miss, cm_fa), cm_thresholds = curve(bonafide, cm_spoof)
    closest = np.empty(miss_asv.size, dtype=np.int64)
    for start in range(0, miss_asv.size, 256):
        rows = slice(start, start + 256)
        p_miss = cm_miss + (1 - cm_miss) * miss_asv[rows, None]
        p_fa = (1 - rho) * (1 - cm_miss) * fa_non[rows, None] + (
            rho * cm_fa * fa_spf[rows, None]
        )
        closest[rows] = np.argmin(np.abs(p_miss - p_fa), axis=1)
    allowed = miss_asv < (1 - rho) * fa_non + rho * fa_spf
    defined = allowed & (fa_spf > 0) & (cm_miss[closest] < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        crit = np.abs(fa_non / fa_spf - cm_fa[closest] / (1 - cm_miss[closest]))
    j = int(np.argmin(np.where(defined, crit, np.inf)))
    return (
        fa_spf[j] * cm_fa[closest[j]],
        asv_thresholds[j],
        cm_thresholds[closest[j]],
    )


def _tied(rng, size, mean):
    """Scores rounded to one decimal, so that many of them tie.

    Arguments
    ---------
    rng : numpy.random.Generator
        Random source.
    size : int
        Number of scores.
    mean : float
        Mean of the scores.

    Returns
    -------
    list of float
        The scores.
    """
    return np.round(rng.normal(mean, 1.0, size), 1).tolist()


def _random_tandem(seed, n_asv=12, n_cm=15):
    """Random ASV and CM scores with ties: (tar, non, spf, bona, cm_spf).

    Arguments
    ---------
    seed : int
        Random seed.
    n_asv : int
        Trials per ASV class.
    n_cm : int
        Trials per CM class.

    Returns
    -------
    tuple of list
        The five score lists.
    """
    rng = np.random.default_rng(seed)
    return (
        _tied(rng, n_asv, 2.0),
        _tied(rng, n_asv + 3, 0.0),
        _tied(rng, n_asv - 2, 1.5),
        _tied(rng, n_cm, 1.0),
        _tied(rng, n_cm + 4, -0.5),
    )


def _reference_min_a_dcf(target, nontarget, spoof, costs):
    """``(min a-DCF, first threshold)`` over "accept score >= t" for every
    score and +inf."""
    normaliser = min(
        costs.fa_nontarget_cost * costs.nontarget_prior
        + costs.fa_spoof_cost * costs.spoof_prior,
        costs.miss_cost * costs.target_prior,
    )
    best = None
    for t in sorted(set(target + nontarget + spoof)) + [math.inf]:
        miss = sum(s < t for s in target) / len(target)
        fa_non = sum(s >= t for s in nontarget) / len(nontarget)
        fa_spf = sum(s >= t for s in spoof) / len(spoof)
        a_dcf = (
            costs.miss_cost * costs.target_prior * miss
            + costs.fa_nontarget_cost * costs.nontarget_prior * fa_non
            + costs.fa_spoof_cost * costs.spoof_prior * fa_spf
        ) / normaliser
        if best is None or a_dcf < best[0]:
            best = (a_dcf, t)
    return best


# ----------------------------------------------------------------- t-EER


def test_t_eer_both_perfect_is_zero():
    """Perfect ASV and CM: the crossing is at t-EER 0.

    ASV sorted 0(n) 1(n) 3(s) 4(t) 5(t); points j (miss, fa_non, fa_spf):
    j0 (0, 1, 1), j1 (0, 1/2, 1), j2 (0, 0, 1), j3.. fail the condition
    miss < (fa_non + fa_spf) / 2. CM sorted 0(s) 1(b) 2(b): points i
    (miss, fa) = (0, 1) (0, 0) (1/2, 0) (1, 0). At j2 the tandem gaps
    miss_cm - fa_cm / 2 are -1/2, 0, 1/2, 1: i1; ratios 0/1 and 0/(1 - 0)
    agree (crit 0), t-EER = 1 x 0. (j0 and j1 give crit 1 and 1/2.)
    """
    result = compute_t_eer([4.0, 5.0], [0.0, 1.0], [3.0], [1.0, 2.0], [0.0])
    assert result == (0.0, 1.0, 0.0)


def test_t_eer_when_only_the_cm_fails():
    """ASV perfect on nontargets (spoofs pass it); the CM's EER is 1/2.

    ASV sorted 0(n) 1(n) 4(t) 5(s) 6(t): allowed j0 (0, 1, 1), j1 (0, 1/2,
    1), j2 (0, 0, 1). CM bona fide 1 2 3 4, spoof 0 2.5: points (miss, fa)
    (0,1) (0,1/2) (1/4,1/2) (1/2,1/2) (1/2,0) (3/4,0) (1,0). At j0 the gap
    miss_cm - (1 - miss_cm)/2 - fa_cm/2 is 0 at i3: ratios 1/1 and
    (1/2)/(1/2) agree, t-EER = 1 x 1/2, the CM's own EER. (j1: i3, crit
    1/2; j2: i2, crit 2/3.) An inverted CM (bona fide 0 1, spoof 2) makes
    every allowed j pick the CM point (1/2, 1): t-EER 1 x 1 = 1.
    """
    asv = ([4.0, 6.0], [0.0, 1.0], [5.0])
    assert compute_t_eer(*asv, [1.0, 2.0, 3.0, 4.0], [0.0, 2.5]) == (
        0.5,
        -0.001,
        2.0,
    )
    assert compute_t_eer(*asv, [0.0, 1.0], [2.0]).t_eer == 1.0


def test_t_eer_ties_take_the_first_closest_point():
    """Two CM points equally close: the first wins, as np.argmin does.

    ASV as in the perfect case. CM bona fide 0 2, spoof 1: points (0,1)
    (1/2,1) (1/2,0) (1,0). At j0 the gaps are -1, -1/4, 1/4, 1: i1 (not
    i2) is kept, its ratios 1 and (1)/(1/2) = 2 give crit 1, and j1 (crit
    3/2) and j2 (crit 2) are worse: t-EER = 1 x 1. Taking i2 instead would
    have given crit 1 too but t-EER 0.
    """
    result = compute_t_eer([4.0, 5.0], [0.0, 1.0], [3.0], [0.0, 2.0], [1.0])
    assert result == (1.0, -0.001, 0.0)


def test_t_eer_tied_scores_across_classes():
    """Tied scores sort target, nontarget, spoof (ASV), bona fide first (CM).

    ASV target 2 3, nontarget 0 2, spoof 2: sorted 0(n) 2(t) 2(n) 2(s)
    3(t); allowed j0 (0,1,1), j1 (0,1/2,1), j2 (1/2,1/2,1). CM bona fide 1
    1, spoof 1 0: points (0,1) (0,1/2) (1/2,1/2) (1,1/2) (1,0). j0 picks i2
    (gap 0), ratios 1 and (1/2)/(1/2): crit 0; j2 also reaches crit 0 but
    comes later. t-EER = 1 x 1/2.
    """
    result = compute_t_eer(
        [2.0, 3.0], [0.0, 2.0], [2.0], [1.0, 1.0], [1.0, 0.0]
    )
    assert result == (0.5, -0.001, 1.0)


@pytest.mark.parametrize("seed", range(12))
def test_t_eer_equals_the_literal_definition_with_ties(seed):
    """Exactly the value and thresholds of the double loop."""
    scores = _random_tandem(seed)
    expected = _reference_t_eer(*scores)
    assert tuple(compute_t_eer(*scores)) == expected


def test_t_eer_binary_search_equals_the_exhaustive_search_at_scale():
    """On thousands of points per curve (with ties), the binary search
    finds exactly the points of an argmin over the whole CM curve."""
    rng = np.random.default_rng(7)
    scores = (
        np.round(rng.normal(2.0, 1.0, 900), 2),
        np.round(rng.normal(0.0, 1.0, 1100), 2),
        np.round(rng.normal(1.5, 1.0, 700), 2),
        np.round(rng.normal(1.0, 1.0, 3000), 2),
        np.round(rng.normal(-0.5, 1.0, 2500), 2),
    )
    for rho in (0.5, 0.2, 0.0, 1.0):
        expected = _exhaustive_t_eer(*scores, rho=rho)
        assert tuple(compute_t_eer(*scores, rho=rho)) == expected


def test_rho_changes_the_allowed_points_and_the_result():
    """rho enters the condition and the CM choice; each value matches the
    definition, and at least one seed's t-EER moves with it."""
    moved = False
    for seed in range(6):
        scores = _random_tandem(seed)
        values = {}
        for rho in (0.0, 0.3, 0.5, 1.0):
            result = compute_t_eer(*scores, rho=rho)
            assert tuple(result) == _reference_t_eer(*scores, rho=rho)
            values[rho] = result.t_eer
        moved = moved or len(set(values.values())) > 1
    assert moved
    with pytest.raises(ValueError, match="rho"):
        compute_t_eer([1.0], [0.0], [0.5], [1.0], [0.0], rho=1.5)


def test_t_eer_skips_points_where_the_asv_accepts_no_spoof():
    """Zero denominators disqualify a point, silently.

    ASV sorted 0(s) 1(n) 2.5(n) 3(t): j1 (0, 1, 0) and j2 (0, 1/2, 0) pass
    the condition but accept no spoof (ratio 1/0): only j0 (0, 1, 1) is
    scored. CM bona fide 1 2, spoof 0.5: at j0 the gaps are -1, -1/2, 1/4,
    1: i2 (1/2, 0), ratios 1 and 0: t-EER 1 x 0.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compute_t_eer([3.0], [1.0, 2.5], [0.0], [1.0, 2.0], [0.5])
    assert result == (0.0, -0.001, 1.0)


def test_t_eer_undefined_everywhere_is_refused():
    """ASV sorted 0(t) 1(s) 2(n): only j0 is allowed; the CM (bona fide 0,
    spoof 1) is closest at (miss 1, fa 1), whose ratio is 1/0."""
    with pytest.raises(ValueError, match="t-EER is undefined"):
        compute_t_eer([0.0], [2.0], [1.0], [0.0], [1.0])


@pytest.mark.parametrize(
    "position, name",
    [(0, "asv_target"), (2, "asv_spoof"), (3, "cm_bonafide"), (4, "cm_spoof")],
)
def test_t_eer_refuses_bad_scores_by_name(position, name):
    """Empty, NaN and 2-D inputs name the argument."""
    for bad, message in (
        ([], "is empty"),
        ([np.nan], "non-finite"),
        ([[1.0]], "1-D"),
    ):
        scores = [[1.0], [0.0], [0.5], [1.0], [0.0]]
        scores[position] = bad
        with pytest.raises(ValueError, match=f"{name} .*{message}"):
            compute_t_eer(*scores)


# ----------------------------------------------------------------- a-DCF


def test_a_dcf_presets_and_normalisers():
    """The two presets and min(accept-all cost, reject-all cost)."""
    assert ADCF_COSTS_PAPER == (0.9, 0.05, 0.05, 1.0, 10.0, 20.0)
    assert ADCF_COSTS_ASVSPOOF5 == (0.9405, 0.0095, 0.05, 1.0, 10.0, 10.0)
    # Paper: min(10 x 0.05 + 20 x 0.05, 1 x 0.9) = 0.9.
    assert ADCF_COSTS_PAPER.normaliser == pytest.approx(0.9)
    # ASVspoof 5: min(10 x 0.0095 + 10 x 0.05, 1 x 0.9405) = 0.595.
    assert ADCF_COSTS_ASVSPOOF5.normaliser == pytest.approx(0.595)


def test_a_dcf_three_trials_by_hand():
    """Weights miss / fa_non / fa_spoof: ASVspoof 5 0.9405 / 0.095 / 0.5
    (over 0.595), paper 0.9 / 0.5 / 1.0 (over 0.9).

    Target 2, nontarget 3, spoof 1; thresholds t = 1 (accept all), 2, 3,
    above 3 (reject all) give (miss, fa_non, fa_spf) (0,1,1) (0,1,0)
    (1,1,0) (1,0,0). ASVspoof 5: 0.595, 0.095, 1.0355, 0.9405 over 0.595:
    min 0.095 / 0.595 = 19/119 at t = 2. Paper: 1.5, 0.5, 1.4, 0.9 over
    0.9: min 5/9 at t = 2.
    """
    result = compute_min_a_dcf([2.0], [3.0], [1.0], ADCF_COSTS_ASVSPOOF5)
    assert result.min_a_dcf == pytest.approx(19 / 119)
    assert result.threshold == 2.0
    result = compute_min_a_dcf([2.0], [3.0], [1.0], ADCF_COSTS_PAPER)
    assert result.min_a_dcf == pytest.approx(5 / 9)
    assert result.threshold == 2.0
    assert compute_min_a_dcf([2.0], [3.0], [1.0]) == compute_min_a_dcf(
        [2.0], [3.0], [1.0], ADCF_COSTS_ASVSPOOF5
    )


def test_a_dcf_presets_can_choose_different_thresholds():
    """Target 2, nontarget 1, spoof 3: (0,1,1) (0,0,1) (1,0,1) (1,0,0).

    ASVspoof 5: 0.595, 0.5, 1.4405, 0.9405 over 0.595: min 0.5 / 0.595 at
    t = 2. Paper: 1.5, 1.0, 1.9, 0.9 over 0.9: rejecting all is best, 1.0,
    at a threshold just above the highest score.
    """
    result = compute_min_a_dcf([2.0], [1.0], [3.0], ADCF_COSTS_ASVSPOOF5)
    assert result == (pytest.approx(0.5 / 0.595), 2.0)
    result = compute_min_a_dcf([2.0], [1.0], [3.0], ADCF_COSTS_PAPER)
    assert result.min_a_dcf == pytest.approx(1.0)
    assert result.threshold == np.nextafter(3.0, np.inf)


@pytest.mark.parametrize("seed", range(8))
def test_a_dcf_equals_brute_force_over_thresholds_with_ties(seed):
    """The minimum and its first threshold, for both presets; the minimum
    over the ungrouped DET points (targets first on ties) is the same."""
    target, nontarget, spoof, _, _ = _random_tandem(seed, n_asv=20)
    for costs in (ADCF_COSTS_ASVSPOOF5, ADCF_COSTS_PAPER):
        value, threshold = _reference_min_a_dcf(target, nontarget, spoof, costs)
        result = compute_min_a_dcf(target, nontarget, spoof, costs)
        assert result.min_a_dcf == pytest.approx(value, abs=1e-12)
        ungrouped = min(
            (
                costs.miss_cost * costs.target_prior * miss
                + costs.fa_nontarget_cost * costs.nontarget_prior * fa_non
                + costs.fa_spoof_cost * costs.spoof_prior * fa_spf
            )
            / costs.normaliser
            for (miss, fa_non, fa_spf), _ in _reference_points(
                target, nontarget, spoof
            )
        )
        assert result.min_a_dcf == pytest.approx(ungrouped, abs=1e-12)
        assert result.threshold == (
            np.nextafter(max(target + nontarget + spoof), np.inf)
            if threshold == math.inf
            else threshold
        )


def test_a_dcf_perfect_constant_and_monotonic_transform():
    """Perfect scores cost 0; one constant score costs 1 (only the trivial
    systems remain); a strictly increasing map keeps the minimum."""
    assert compute_min_a_dcf([5.0, 6.0], [0.0], [1.0, 2.0]).min_a_dcf == 0.0
    assert compute_min_a_dcf([1.0], [1.0], [1.0]).min_a_dcf == pytest.approx(
        1.0
    )
    target, nontarget, spoof, _, _ = _random_tandem(3, n_asv=25)
    before = compute_min_a_dcf(target, nontarget, spoof, ADCF_COSTS_PAPER)
    after = compute_min_a_dcf(
        np.exp(target), np.exp(nontarget), np.exp(spoof), ADCF_COSTS_PAPER
    )
    assert after.min_a_dcf == before.min_a_dcf
    assert after.threshold == pytest.approx(math.exp(before.threshold))
    assert 0.0 <= before.min_a_dcf <= 1.0


def test_a_dcf_refuses_bad_costs_and_scores():
    """Priors must sum to 1, costs be positive, fields be six numbers."""
    with pytest.raises(ValueError, match="sum to 1"):
        compute_min_a_dcf(
            [1.0], [0.0], [0.0], ADCFCosts(0.5, 0.1, 0.1, 1, 1, 1)
        )
    with pytest.raises(ValueError, match="costs.miss_cost"):
        compute_min_a_dcf(
            [1.0], [0.0], [0.0], ADCFCosts(0.9, 0.05, 0.05, 0, 1, 1)
        )
    with pytest.raises(ValueError, match="ADCFCosts"):
        compute_min_a_dcf([1.0], [0.0], [0.0], (0.9, 0.1))
    with pytest.raises(ValueError, match="nontarget is empty"):
        compute_min_a_dcf([1.0], [], [0.0])


# ------------------------------------------------------ SASV EERs, fusion


def test_sasv_eers_by_hand():
    """Target 3 4, nontarget 1 2, spoof 0 3.5.

    SASV (target vs 0 1 2 3.5): sorted 0 1 2 3(t) 3.5 4(t), |miss - fa| is
    1, 3/4, 1/2, 1/4, 1/4, ...: first at 3 lowest rejected, (0 + 1/4) / 2.
    SV: separable, 0. SPF: sorted 0 3(t) 3.5 4(t): miss 1/2 = fa 1/2.
    """
    eers = sasv_eers([3.0, 4.0], [1.0, 2.0], [0.0, 3.5])
    assert eers == {"sasv_eer": 0.125, "sv_eer": 0.0, "spf_eer": 0.5}
    assert eers["spf_eer"] == compute_eer([3.0, 4.0], [0.0, 3.5])[0]


def test_fusion_by_hand_and_stable():
    """log(sigmoid(a) sigmoid(c)): 0, 0 -> log 1/4; ln 3, -ln 3 -> log of
    3/4 x 1/4; large LLRs neither overflow nor compensate each other."""
    fused = fuse_scores([0.0, math.log(3)], [0.0, -math.log(3)])
    assert fused == pytest.approx([math.log(0.25), math.log(3 / 16)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        extreme = fuse_scores([1000.0, 1000.0], [1000.0, -1000.0])
    assert extreme == pytest.approx([0.0, -1000.0])
    with pytest.raises(ValueError, match="asv_llrs has 2 scores"):
        fuse_scores([0.0, 1.0], [0.0])


# ---------------------------------------------------------------- Tandem


def test_tandem_from_dev_thresholds_by_hand():
    """ASV target 3 4 vs nontarget 1 2: EER point rejects 1 2, threshold 2.
    CM bona fide 0.8 0.9 vs spoof 0.1 0.5: threshold 0.5. A given CM
    threshold is kept, without CM scores."""
    tandem = Tandem.from_dev([3.0, 4.0], [1.0, 2.0], [0.8, 0.9], [0.1, 0.5])
    assert tandem == Tandem(2.0, 0.5, "dev_eer", "dev_eer")
    given = Tandem.from_dev([3.0, 4.0], [1.0, 2.0], cm_threshold=-0.64)
    assert given == Tandem(2.0, -0.64, "dev_eer", "given")
    with pytest.raises(ValueError, match="cm_bonafide and cm_spoof"):
        Tandem.from_dev([3.0, 4.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="asv_nontarget is empty"):
        Tandem.from_dev([3.0], [], cm_threshold=0.0)


def test_tandem_decide_truth_table():
    """Accepted only when both accept; equal to a threshold is accepted."""
    tandem = Tandem(asv_threshold=1.0, cm_threshold=0.0)
    decided = tandem.decide(
        [2.0, 2.0, 0.0, 0.0, 1.0], [1.0, -1.0, 1.0, -1.0, 0.0]
    )
    assert decided.tolist() == [True, False, False, False, True]
    with pytest.raises(ValueError, match="asv_scores has 1 scores but"):
        tandem.decide([1.0], [0.0, 1.0])


def test_tandem_error_rates_by_hand():
    """ASV threshold 1, CM threshold 0.

    Targets (asv, cm) (2, 1) (2, -1) (0, 1) (3, 2): tandem accepts 2 of 4
    (miss 1/2), the ASV 3 (miss 1/4). Nontargets (0, 1) (1.5, 1): tandem
    and ASV accept 1 of 2. Spoofs (2, -1) (2, -2) (2, 0.5) (0.5, 3): the
    ASV accepts 3 of 4, the tandem only (2, 0.5): 1/4.
    """
    tandem = Tandem(1.0, 0.0)
    rates = tandem.error_rates(
        ([2.0, 2.0, 0.0, 3.0], [1.0, -1.0, 1.0, 2.0]),
        ([0.0, 1.5], [1.0, 1.0]),
        ([2.0, 2.0, 2.0, 0.5], [-1.0, -2.0, 0.5, 3.0]),
    )
    assert rates == {
        "tandem": {"miss": 0.5, "fa_nontarget": 0.5, "fa_spoof": 0.25},
        "asv_alone": {"miss": 0.25, "fa_nontarget": 0.5, "fa_spoof": 0.75},
    }
    as_arrays = tandem.error_rates(
        np.array([[2.0, 0.0], [1.0, 1.0]]), ([1.5], [-1.0]), ([2.0], [0.5])
    )
    assert as_arrays["tandem"] == {
        "miss": 0.5,
        "fa_nontarget": 0.0,
        "fa_spoof": 1.0,
    }
    with pytest.raises(ValueError, match="spoof must be a pair"):
        tandem.error_rates(([1.0], [1.0]), ([1.0], [1.0]), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="nontarget CM scores is empty"):
        tandem.error_rates(([1.0], [1.0]), ([1.0], []), ([1.0], [1.0]))


def test_tandem_dict_round_trip_and_refusals():
    """JSON round trip; wrong keys, values and rules are refused."""
    tandem = Tandem(2.5, -0.6419, "dev_eer", "given")
    stored = json.loads(json.dumps(tandem.to_dict()))
    assert Tandem.from_dict(stored) == tandem
    with pytest.raises(ValueError, match="exactly the keys"):
        Tandem.from_dict({**stored, "extra": 1})
    with pytest.raises(ValueError, match="exactly the keys"):
        Tandem.from_dict([2.5, -0.6419])
    with pytest.raises(ValueError, match="model.json: cm_threshold must be"):
        Tandem.from_dict({**stored, "cm_threshold": "high"}, where="model.json")
    with pytest.raises(
        ValueError, match="tandem: asv_threshold must be finite"
    ):
        Tandem.from_dict({**stored, "asv_threshold": math.nan})
    with pytest.raises(ValueError, match="asv_rule must be one of"):
        Tandem.from_dict({**stored, "asv_rule": "guess"})
    with pytest.raises(ValueError, match="cm_rule must be one of"):
        Tandem(1.0, 0.0, cm_rule="bayes")
