"""Tests of the ASVspoof metrics against hand-worked cases and slow loops.

The slow references below follow the organisers' definitions literally: a
Python loop over every DET point of the stably sorted pooled scores (bona
fide first among equal scores), with each rate counted directly, and the
t-DCF formulas written in the organisers' order. The fast code must agree
with them exactly (==), ties included.

Authors
 * speechbrain-asd developers
"""

import numpy as np
import pytest

from speechbrain_asd.metrics import (
    P_NONTARGET,
    P_TARGET,
    ASVOperatingPoint,
    TDCFConstants,
    acceptance_rate,
    asv_operating_point,
    cm_report,
    compute_act_dcf,
    compute_cllr,
    compute_det_curve,
    compute_eer,
    compute_min_cllr,
    compute_min_dcf,
    compute_min_tdcf,
    compute_min_tdcf_2019,
    compute_min_tdcf_2021,
    tdcf_constants_2019,
    tdcf_constants_2021,
)

# ---------------------------------------------------------------- references


def _reference_det_points(positive, negative):
    """Lists the DET points by counting, one Python loop step per point.

    Arguments
    ---------
    positive : list of float
        Bona fide (target) scores.
    negative : list of float
        Spoof (nontarget) scores.

    Returns
    -------
    list of tuple
        ``(miss, false_alarm, threshold)`` for points 0 .. N.
    """
    pooled = [(s, True) for s in positive] + [(s, False) for s in negative]
    ranked = sorted(pooled, key=lambda item: item[0])  # stable
    points = []
    for i in range(len(ranked) + 1):
        rejected = ranked[:i]
        missed = sum(1 for _, is_positive in rejected if is_positive)
        false_alarms = sum(1 for _, is_pos in ranked[i:] if not is_pos)
        if i == 0:
            threshold = ranked[0][0] - 0.001
        else:
            threshold = ranked[i - 1][0]
        points.append(
            (missed / len(positive), false_alarms / len(negative), threshold)
        )
    return points


def _reference_eer(positive, negative):
    """EER by a loop over the DET points (first smallest gap wins).

    Arguments
    ---------
    positive : list of float
        Bona fide (target) scores.
    negative : list of float
        Spoof (nontarget) scores.

    Returns
    -------
    tuple
        ``(eer, threshold)``.
    """
    best = None
    for miss, false_alarm, threshold in _reference_det_points(
        positive, negative
    ):
        gap = abs(miss - false_alarm)
        if best is None or gap < best[0]:
            best = (gap, (miss + false_alarm) / 2, threshold)
    return best[1], best[2]


def _reference_asv_rates(target, nontarget, spoof):
    """ASV rates at the ASV EER threshold, counted one trial at a time.

    Arguments
    ---------
    target : list of float
        Target scores.
    nontarget : list of float
        Nontarget scores.
    spoof : list of float
        Spoof scores.

    Returns
    -------
    tuple
        ``(threshold, pfa, pmiss, pmiss_spoof, pfa_spoof)``.
    """
    threshold = _reference_eer(target, nontarget)[1]
    pfa = sum(1 for s in nontarget if s >= threshold) / len(nontarget)
    pmiss = sum(1 for s in target if s < threshold) / len(target)
    pmiss_spoof = sum(1 for s in spoof if s < threshold) / len(spoof)
    pfa_spoof = sum(1 for s in spoof if s >= threshold) / len(spoof)
    return threshold, pfa, pmiss, pmiss_spoof, pfa_spoof


def _reference_min_tdcf_2019(bonafide, spoof, pfa, pmiss, pmiss_spoof):
    """2019 min t-DCF written as the organisers' legacy formula.

    Arguments
    ---------
    bonafide : list of float
        CM bona fide scores.
    spoof : list of float
        CM spoof scores.
    pfa : float
        ASV false alarm rate.
    pmiss : float
        ASV miss rate.
    pmiss_spoof : float
        ASV spoof miss rate.

    Returns
    -------
    float
        The minimum normalised legacy t-DCF.
    """
    ptar, pnon, pspoof = (1 - 0.05) * 0.99, (1 - 0.05) * 0.01, 0.05
    c1 = ptar * (1 - 1 * pmiss) - pnon * 10 * pfa
    c2 = 10 * pspoof * (1 - pmiss_spoof)
    costs = [
        (c1 * miss + c2 * false_alarm) / min(c1, c2)
        for miss, false_alarm, _ in _reference_det_points(bonafide, spoof)
    ]
    return min(costs)


def _reference_min_tdcf_2021(bonafide, spoof, pfa, pmiss, pfa_spoof):
    """2021 min t-DCF written as the organisers' revised formula.

    Arguments
    ---------
    bonafide : list of float
        CM bona fide scores.
    spoof : list of float
        CM spoof scores.
    pfa : float
        ASV false alarm rate.
    pmiss : float
        ASV miss rate.
    pfa_spoof : float
        ASV spoof false alarm rate.

    Returns
    -------
    float
        The minimum normalised revised t-DCF.
    """
    ptar, pnon, pspoof = (1 - 0.05) * 0.99, (1 - 0.05) * 0.01, 0.05
    c0 = ptar * 1 * pmiss + pnon * 10 * pfa
    c1 = ptar * 1 - (ptar * 1 * pmiss + pnon * 10 * pfa)
    c2 = pspoof * 10 * pfa_spoof
    costs = [
        (c0 + c1 * miss + c2 * false_alarm) / (c0 + min(c1, c2))
        for miss, false_alarm, _ in _reference_det_points(bonafide, spoof)
    ]
    return min(costs)


def _tied_scores(rng, size, shift):
    """Draws scores rounded to one decimal, so that many of them tie.

    Arguments
    ---------
    rng : numpy.random.Generator
        Random source.
    size : int
        Number of scores.
    shift : float
        Mean of the scores.

    Returns
    -------
    list of float
        The scores.
    """
    return np.round(rng.normal(shift, 1.0, size), 1).tolist()


# ------------------------------------------------------- hand-worked cases

# CM case with ties: bona fide [1, 2, 2], spoof [2, 0]. Stable sort with
# bona fide first among equal scores: s0(0) b(1) b(2) b(2) s(2).
# point i:      0     1     2     3     4     5
# miss:         0     0    1/3   2/3    1     1
# false alarm:  1    1/2   1/2   1/2   1/2    0
# threshold:  -0.001  0     1     2     2     2
# In exact arithmetic the gap |miss - fa| is 1/6 at points 2 and 3, but in
# floating point 1/3 - 1/2 = -0.16666666666666669 and 2/3 - 1/2 =
# 0.16666666666666663, so point 3 wins, as in the organisers' code:
# EER = (2/3 + 1/2) / 2 = 7/12, threshold 2.
TIED_BONAFIDE = [1.0, 2.0, 2.0]
TIED_SPOOF = [2.0, 0.0]


def test_det_curve_with_ties_by_hand():
    """The DET points of the tied case are those worked out above."""
    curve = compute_det_curve(TIED_BONAFIDE, TIED_SPOOF)
    assert curve.miss_rates.tolist() == [0, 0, 1 / 3, 2 / 3, 1, 1]
    assert curve.false_alarm_rates.tolist() == [1, 0.5, 0.5, 0.5, 0.5, 0]
    assert curve.thresholds.tolist() == [-0.001, 0, 1, 2, 2, 2]


def test_eer_with_ties_by_hand():
    """EER 7/12 at threshold 2 (point 3, see the float note above)."""
    eer, threshold = compute_eer(TIED_BONAFIDE, TIED_SPOOF)
    assert eer == (2 / 3 + 1 / 2) / 2
    assert threshold == 2.0


def test_eer_separated_and_inverted_by_hand():
    """Perfect CM: EER 0; inverted CM: EER 1; one swapped pair: 1/3.

    Bona fide [3, 4, 5] vs spoof [0, 1, 2]: point 3 rejects all spoofs and
    no bona fide, gap 0, threshold 2 (the highest spoof). Reversed, every
    point has miss + fa >= 1 and the gap closes at miss = fa = 1. With
    bona fide [1, 4, 5] and spoof [0, 2, 3]: points miss 0,0,1/3,1/3,1/3
    and fa 1,2/3,2/3,1/3,0 meet at point 3: EER 1/3, threshold 2.
    """
    assert compute_eer([3, 4, 5], [0, 1, 2]) == (0.0, 2.0)
    assert compute_eer([0, 1, 2], [3, 4, 5])[0] == 1.0
    eer, threshold = compute_eer([1, 4, 5], [0, 2, 3])
    assert eer == pytest.approx(1 / 3)
    assert threshold == 2.0


def test_det_curve_starts_below_lowest_score():
    """Point 0 (everything accepted) sits at the lowest score minus 0.001.

    Bona fide [0, 1], spoof [0.5]: sorted b0 s0.5 b1; points miss 0, 1/2,
    1/2, 1 and fa 1, 1, 0, 0; the gap 1/2 first at point 1 gives EER 3/4
    at threshold 0 (point 0 never wins: its gap is 1, the largest).
    """
    curve = compute_det_curve([0.0, 1.0], [0.5])
    assert curve.thresholds.tolist() == [-0.001, 0.0, 0.5, 1.0]
    assert curve.miss_rates.tolist() == [0.0, 0.5, 0.5, 1.0]
    assert curve.false_alarm_rates.tolist() == [1.0, 1.0, 0.0, 0.0]
    assert compute_eer([0.0, 1.0], [0.5]) == (0.75, 0.0)


# ASV case with ties: target [3, 2, 2], nontarget [2, 1], spoof [2, 5, 0].
# Sorted: n1 t2 t2 n2 t3; miss 0,0,1/3,2/3,2/3,1; fa 1,1/2,1/2,1/2,0,0.
# Gap 1/6 first at point 2: threshold 2 (a target score). Accept >= 2:
# Pfa = 1/2 (n2), Pmiss = 0, Pmiss_spoof = 1/3 (s0), Pfa_spoof = 2/3.
# 2019: C1 = 0.9405 * (1 - 0) - 0.0095 * 10 * 1/2 = 0.893,
#       C2 = 10 * 0.05 * (1 - 1/3) = 1/3.
# 2021: C0 = 0.9405 * 0 + 0.0095 * 10 * 1/2 = 0.0475, C1 = 0.9405 - C0 =
#       0.893, C2 = 0.05 * 10 * 2/3 = 1/3.
ASV_TARGET = [3.0, 2.0, 2.0]
ASV_NONTARGET = [2.0, 1.0]
ASV_SPOOF = [2.0, 5.0, 0.0]


def test_asv_operating_point_by_hand():
    """Threshold 2 and the four rates worked out above."""
    op = asv_operating_point(ASV_TARGET, ASV_NONTARGET, ASV_SPOOF)
    assert op == ASVOperatingPoint(2.0, 0.5, 0.0, 1 / 3, 2 / 3)


def test_asv_operating_point_at_given_threshold():
    """A given threshold replaces the EER one (accept at >= threshold)."""
    op = asv_operating_point(ASV_TARGET, ASV_NONTARGET, ASV_SPOOF, 2.5)
    assert op == ASVOperatingPoint(2.5, 0.0, 2 / 3, 2 / 3, 1 / 3)


def test_tdcf_constants_by_hand():
    """The constants of both forms for the ASV case above."""
    op = asv_operating_point(ASV_TARGET, ASV_NONTARGET, ASV_SPOOF)
    c0, c1, c2 = tdcf_constants_2019(op)
    assert (c0, c1, c2) == pytest.approx((0.0, 0.893, 1 / 3))
    c0, c1, c2 = tdcf_constants_2021(op)
    assert (c0, c1, c2) == pytest.approx((0.0475, 0.893, 1 / 3))


def test_min_tdcf_by_hand():
    """Both forms on the tied CM case with the ASV case above.

    2019: cost(i) = (0.893 miss + fa / 3) / (1/3) = 2.679 miss + fa, over
    points (0,1) (0,1/2) (1/3,1/2) ... : smallest 1/2 at point 1.
    2021: cost(i) = (0.0475 + 0.893 miss + fa / 3) / (0.0475 + 1/3); at
    point 1: (0.0475 + 1/6) / (0.0475 + 1/3), the smallest.
    """
    op = asv_operating_point(ASV_TARGET, ASV_NONTARGET, ASV_SPOOF)
    assert compute_min_tdcf_2019(
        TIED_BONAFIDE, TIED_SPOOF, op
    ) == pytest.approx(0.5)
    assert compute_min_tdcf_2021(
        TIED_BONAFIDE, TIED_SPOOF, op
    ) == pytest.approx((0.0475 + 1 / 6) / (0.0475 + 1 / 3))


def test_min_tdcf_with_given_constants_by_hand():
    """Hand costs for constants given directly, both forms.

    (C0, C1, C2) = (0, 1, 0.5): cost = (miss + fa / 2) / 0.5, smallest at
    point 1 (0 + 1/4) / 0.5 = 1/2. (0.1, 0.9, 0.5): cost = (0.1 + 0.9 miss
    + 0.5 fa) / 0.6: point 0 gives 1, point 1 0.35 / 0.6 = 7/12, point 2
    (0.1 + 0.3 + 0.25) / 0.6 > 1.
    """
    legacy = TDCFConstants(0.0, 1.0, 0.5)
    revised = TDCFConstants(0.1, 0.9, 0.5)
    result = compute_min_tdcf(TIED_BONAFIDE, TIED_SPOOF, legacy)
    assert result == pytest.approx(0.5)
    result = compute_min_tdcf(TIED_BONAFIDE, TIED_SPOOF, revised)
    assert result == pytest.approx(7 / 12)


def test_official_2021_example_relationships():
    """The organisers' example (LA, A07, codec none): normaliser and bounds.

    C0 = 0.03051, C1 = 0.90999, C2 = 0.46944: C0 + C1 is Ptar Cmiss =
    0.9405; the 2021 normaliser is C0 + min(C1, C2) = 0.49995; a perfect CM
    costs C0 / 0.49995 (only the ASV errors remain), a useless (inverted)
    CM costs exactly 1.
    """
    constants = TDCFConstants(0.03051, 0.90999, 0.46944)
    assert constants.c0 + constants.c1 == pytest.approx(P_TARGET * 1)
    assert constants.normaliser == pytest.approx(0.49995)
    perfect = compute_min_tdcf([3.0, 2.0], [1.0, 0.0], constants)
    assert perfect == pytest.approx(0.03051 / 0.49995)
    inverted = compute_min_tdcf([0.0, 1.0], [2.0, 3.0], constants)
    assert inverted == pytest.approx(1.0)


def test_constants_identities_for_any_asv_point():
    """C0 + C1 = Ptar, C2 = 0.5 Pfa_spoof (2021); C1 agrees in both forms."""
    for pfa, pmiss, pfa_spoof in [(0.01, 0.02, 0.4), (0.3, 0.1, 0.93888)]:
        op = ASVOperatingPoint(0.0, pfa, pmiss, 1 - pfa_spoof, pfa_spoof)
        c0, c1, c2 = tdcf_constants_2021(op)
        assert c0 == pytest.approx(P_TARGET * pmiss + P_NONTARGET * 10 * pfa)
        assert c0 + c1 == pytest.approx(P_TARGET)
        assert c2 == pytest.approx(0.5 * pfa_spoof)
        assert tdcf_constants_2019(op).c1 == pytest.approx(c1)


# ------------------------------------------- exact agreement with references


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_det_and_eer_equal_slow_reference_with_ties(seed):
    """DET points and EER equal the counting loop exactly (==)."""
    rng = np.random.default_rng(seed)
    bonafide = _tied_scores(rng, 120, 1.0)
    spoof = _tied_scores(rng, 230, 0.0)
    curve = compute_det_curve(bonafide, spoof)
    reference = _reference_det_points(bonafide, spoof)
    assert curve.miss_rates.tolist() == [p[0] for p in reference]
    assert curve.false_alarm_rates.tolist() == [p[1] for p in reference]
    assert curve.thresholds.tolist() == [p[2] for p in reference]
    assert compute_eer(bonafide, spoof) == _reference_eer(bonafide, spoof)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_asv_point_and_tdcf_equal_slow_reference_with_ties(seed):
    """ASV rates and both min t-DCFs equal the loops exactly (==)."""
    rng = np.random.default_rng(100 + seed)
    target = _tied_scores(rng, 80, 2.0)
    nontarget = _tied_scores(rng, 90, 0.0)
    asv_spoof = _tied_scores(rng, 70, 1.2)
    bonafide = _tied_scores(rng, 100, 1.0)
    spoof = _tied_scores(rng, 200, 0.0)

    op = asv_operating_point(target, nontarget, asv_spoof)
    threshold, pfa, pmiss, pmiss_spoof, pfa_spoof = _reference_asv_rates(
        target, nontarget, asv_spoof
    )
    assert tuple(op) == (threshold, pfa, pmiss, pmiss_spoof, pfa_spoof)
    assert compute_min_tdcf_2019(
        bonafide, spoof, op
    ) == _reference_min_tdcf_2019(bonafide, spoof, pfa, pmiss, pmiss_spoof)
    assert compute_min_tdcf_2021(
        bonafide, spoof, op
    ) == _reference_min_tdcf_2021(bonafide, spoof, pfa, pmiss, pfa_spoof)


def test_cm_report_rows_equal_direct_calls():
    """Pooled and per-attack rows equal the single-purpose functions.

    A01 and A02 have ASV spoof scores of their own; A03 has none and falls
    back to all ASV spoof scores (``asv_spoof_set == "all"``).
    """
    rng = np.random.default_rng(7)
    bonafide = np.round(rng.normal(1.0, 1.0, 60), 1)
    spoof = np.round(rng.normal(0.0, 1.0, 90), 1)
    attacks = np.array(["A03", "A01", "A02"] * 30)

    class _ASV:
        """ASV scores shaped like ``scorefiles.ASVScores``."""

        target = np.round(rng.normal(2.0, 1.0, 40), 1)
        nontarget = np.round(rng.normal(0.0, 1.0, 40), 1)
        spoof = np.round(rng.normal(1.0, 1.0, 40), 1)
        spoof_attacks = np.array(["A01", "A02", "A09", "A09"] * 10)

    report = cm_report(bonafide, spoof, attacks.tolist(), _ASV)
    assert list(report["per_attack"]) == ["A01", "A02", "A03"]
    pooled_op = asv_operating_point(_ASV.target, _ASV.nontarget, _ASV.spoof)
    expected_rows = {"pooled": (spoof, pooled_op, "all")}
    for attack in ("A01", "A02"):
        op = asv_operating_point(
            _ASV.target,
            _ASV.nontarget,
            _ASV.spoof[_ASV.spoof_attacks == attack],
        )
        expected_rows[attack] = (spoof[attacks == attack], op, "attack")
    expected_rows["A03"] = (spoof[attacks == "A03"], pooled_op, "all")
    for name, (spoof_part, op, scope) in expected_rows.items():
        row = (
            report["pooled"] if name == "pooled" else report["per_attack"][name]
        )
        assert row == {
            "eer": compute_eer(bonafide, spoof_part)[0],
            "min_tdcf_2019": compute_min_tdcf_2019(bonafide, spoof_part, op),
            "min_tdcf_2021": compute_min_tdcf_2021(bonafide, spoof_part, op),
            "n_bonafide": 60,
            "n_spoof": spoof_part.size,
            "asv_spoof_set": scope,
            "min_dcf": compute_min_dcf(bonafide, spoof_part),
            "act_dcf": compute_act_dcf(bonafide, spoof_part),
            "cllr": compute_cllr(bonafide, spoof_part),
            "min_cllr": compute_min_cllr(bonafide, spoof_part),
        }


def test_cm_report_without_asv_has_no_tdcf():
    """Without ASV scores the t-DCF values and the ASV scope are None."""
    report = cm_report([0.9, 0.8, 0.3], [0.5, 0.2], ["A01", "A01"])
    row = report["pooled"]
    assert row["min_tdcf_2019"] is None and row["min_tdcf_2021"] is None
    assert row["asv_spoof_set"] is None
    assert row["eer"] == pytest.approx(5 / 12)


def test_cm_report_zero_normaliser_gives_none():
    """An ASV rejecting every spoof leaves the 2019 form undefined (None).

    ASV target [3, 4], nontarget [1, 2]: threshold 2, Pfa 1/2, Pmiss 0;
    spoof [0, 1] all rejected: C2 = 0, so min(C1, C2) = 0 (2019 undefined)
    while the 2021 normaliser is C0 = 0.0095 * 10 / 2 > 0.
    """

    class _ASV:
        """ASV scores shaped like ``scorefiles.ASVScores``."""

        target = np.array([3.0, 4.0])
        nontarget = np.array([1.0, 2.0])
        spoof = np.array([0.0, 1.0])
        spoof_attacks = np.array(["A01", "A01"])

    report = cm_report([0.9, 0.8, 0.3], [0.5, 0.2], ["A01", "A01"], _ASV)
    assert report["pooled"]["min_tdcf_2019"] is None
    # C1 = C0 + C1 - C0 > 0, C2 = 0: cost (C0 + C1 miss) / C0, least at
    # miss = 0 (point 0): exactly 1.
    assert report["pooled"]["min_tdcf_2021"] == 1.0


# ------------------------------------------------------------------ errors


def test_non_finite_scores_are_refused_with_side_and_count():
    """NaN/inf scores name the side, how many and the first index."""
    with pytest.raises(ValueError, match=r"bonafide_scores holds 2 non-fin"):
        compute_eer([1.0, np.nan, np.inf], [0.0])
    with pytest.raises(ValueError, match=r"spoof_scores holds 1 .*index 1"):
        compute_det_curve([1.0], [0.0, -np.inf])
    with pytest.raises(ValueError, match=r"spoof_scores holds 1 non-finite"):
        cm_report([1.0, 2.0], [0.0, np.nan], ["A01", "A01"])
    with pytest.raises(ValueError, match=r"ASV nontarget scores holds 1"):
        asv_operating_point([1.0], [np.nan], [0.0])


def test_empty_and_misshapen_scores_are_refused():
    """Empty sides, 2-D input and mismatched attack lists raise."""
    with pytest.raises(ValueError, match=r"bonafide_scores is empty"):
        compute_eer([], [1.0])
    with pytest.raises(ValueError, match=r"spoof_scores must be a 1-D"):
        compute_eer([1.0], [[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"spoof_attacks has 1 entries for 2"):
        cm_report([1.0, 2.0], [0.0, 0.5], ["A01"])


def test_fewer_than_three_distinct_scores_are_refused():
    """Hard decisions are refused by the t-DCF and by each report row."""
    op = asv_operating_point(ASV_TARGET, ASV_NONTARGET, ASV_SPOOF)
    with pytest.raises(ValueError, match=r"only 2 distinct value\(s\)"):
        compute_min_tdcf_2019([1.0, 1.0], [0.0, 0.0], op)
    # Pooled and A01 have 3 distinct values, A02 only 2 (2.0 and 3.0).
    with pytest.raises(ValueError, match=r"attack A02 take only 2 distinct"):
        cm_report([2.0, 3.0], [0.0, 2.0], ["A01", "A02"])


def test_asv_worse_than_chance_is_refused():
    """Inverted ASV scores make C1 negative.

    Target 0..19 below nontarget 20..39: the gap closes at point 20
    (threshold 19, the highest target), so Pmiss = 19/20, Pfa = 1 and
    C1 = 0.9405 / 20 - 0.095 < 0.
    """
    op = asv_operating_point(range(20), range(20, 40), [0.0])
    assert op.pmiss_asv == 19 / 20 and op.pfa_asv == 1.0
    with pytest.raises(ValueError, match=r"C1 = .* worse than chance"):
        compute_min_tdcf_2019(TIED_BONAFIDE, TIED_SPOOF, op)
    with pytest.raises(ValueError, match=r"worse than chance"):
        compute_min_tdcf_2021(TIED_BONAFIDE, TIED_SPOOF, op)

    class _ASV:
        """Inverted ASV scores shaped like ``scorefiles.ASVScores``."""

        target = np.arange(20.0)
        nontarget = np.arange(20.0, 40.0)
        spoof = np.array([0.0])
        spoof_attacks = np.array(["A01"])

    with pytest.raises(ValueError, match=r"worse than chance"):
        cm_report(TIED_BONAFIDE, TIED_SPOOF, ["A01", "A01"], _ASV)


def test_empty_asv_spoof_set_is_refused():
    """The t-DCF needs ASV spoof scores."""
    with pytest.raises(ValueError, match=r"ASV spoof scores is empty"):
        asv_operating_point([1.0], [0.0], [])

    class _ASV:
        """ASV scores without spoof trials."""

        target = np.array([1.0])
        nontarget = np.array([0.0])
        spoof = np.array([])
        spoof_attacks = np.array([], dtype=str)

    with pytest.raises(ValueError, match=r"ASV spoof scores is empty"):
        cm_report(TIED_BONAFIDE, TIED_SPOOF, ["A01", "A01"], _ASV)


def test_bad_constants_and_zero_normaliser_are_refused():
    """Negative, non-finite or zero-normaliser constants raise."""
    with pytest.raises(ValueError, match=r"normaliser C0 \+ min\(C1, C2\)"):
        compute_min_tdcf(TIED_BONAFIDE, TIED_SPOOF, (0.0, 0.9, 0.0))
    with pytest.raises(ValueError, match=r"must not be negative"):
        compute_min_tdcf(TIED_BONAFIDE, TIED_SPOOF, (-0.1, 0.9, 0.5))
    with pytest.raises(ValueError, match=r"must be finite"):
        compute_min_tdcf(TIED_BONAFIDE, TIED_SPOOF, (0.0, np.nan, 0.5))
    with pytest.raises(ValueError, match=r"threshold must be finite"):
        asv_operating_point([1.0], [0.0], [0.5], threshold=np.inf)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_acceptance_at_the_eer_threshold_gives_the_det_point(seed):
    """On the scores it came from, the EER threshold accepts the DET rates."""
    rng = np.random.default_rng(seed)
    bonafide = rng.normal(1.0, 1.0, 200)
    spoof = rng.normal(-1.0, 1.0, 300)
    curve = compute_det_curve(bonafide, spoof)
    _, threshold = compute_eer(bonafide, spoof)
    index = curve.eer_index
    assert acceptance_rate(spoof, threshold) == pytest.approx(
        curve.false_alarm_rates[index]
    )
    assert 1 - acceptance_rate(bonafide, threshold) == pytest.approx(
        curve.miss_rates[index]
    )


def test_acceptance_rate_by_hand_and_refusals():
    """Scores strictly above the threshold are accepted; bad input raises."""
    assert acceptance_rate([0.1, 0.5, 0.5, 0.9], 0.5) == 0.25
    assert acceptance_rate([0.1, 0.5, 0.5, 0.9], 0.4999) == 0.75
    assert acceptance_rate(np.array([-3.0, -2.0]), -10.0) == 1.0
    with pytest.raises(ValueError, match="scores is empty"):
        acceptance_rate([], 0.0)
    with pytest.raises(ValueError, match="non-finite"):
        acceptance_rate([np.nan, 1.0], 0.0)
    with pytest.raises(ValueError, match="threshold must be finite"):
        acceptance_rate([1.0], np.nan)
