"""Tests of the bootstrap intervals and the paired comparison.

Authors
 * speechbrain-asd developers
"""

from types import SimpleNamespace

import numpy as np
import pytest

from speechbrain_asd.bootstrap import (
    _designs,
    _replicates,
    _resample_weights,
    _sort_system,
    acceptance_intervals,
    asv_tdcf_constants,
    bootstrap_metrics,
    paired_acceptance,
    paired_bootstrap,
)
from speechbrain_asd.metrics import (
    TDCFConstants,
    acceptance_rate,
    asv_operating_point,
    compute_eer,
    compute_min_tdcf,
    tdcf_constants_2019,
    tdcf_constants_2021,
)

CONSTANTS = {
    "min_tdcf_2019": TDCFConstants(0.0, 0.893, 0.25),
    "min_tdcf_2021": TDCFConstants(0.0475, 0.893, 0.25),
}


def _scores(n_bonafide, n_spoof, seed, shift=2.0, decimals=1):
    """Draws rounded (so tied) Gaussian bona fide and spoof scores.

    Arguments
    ---------
    n_bonafide : int
        Bona fide trials.
    n_spoof : int
        Spoof trials.
    seed : int
        Generator seed.
    shift : float
        Mean of the bona fide scores (spoof mean 0).
    decimals : int
        Rounding, to create ties.

    Returns
    -------
    tuple of numpy.ndarray
        Bona fide and spoof scores.
    """
    rng = np.random.default_rng(seed)
    return (
        np.round(rng.normal(shift, 1.0, n_bonafide), decimals),
        np.round(rng.normal(0.0, 1.0, n_spoof), decimals),
    )


def _speaker_scores(n_speakers, per_speaker, seed, spread):
    """Scores with a random offset per speaker, and their speaker ids.

    Arguments
    ---------
    n_speakers : int
        Speakers, each with bona fide and spoof trials.
    per_speaker : int
        Bona fide trials per speaker (4 times as many spoofs).
    seed : int
        Generator seed.
    spread : float
        Standard deviation of the speaker offsets.

    Returns
    -------
    tuple
        Bona fide scores, spoof scores, bona fide and spoof speaker ids.
    """
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0.0, spread, n_speakers)
    bonafide_spk = np.repeat(np.arange(n_speakers), per_speaker)
    spoof_spk = np.repeat(np.arange(n_speakers), 4 * per_speaker)
    bonafide = rng.normal(2.0, 1.0, bonafide_spk.size) + offsets[bonafide_spk]
    spoof = rng.normal(0.0, 1.0, spoof_spk.size) + offsets[spoof_spk]
    return bonafide, spoof, bonafide_spk.astype(str), spoof_spk.astype(str)


@pytest.mark.parametrize("seed", range(5))
def test_unit_weights_reproduce_the_metrics_exactly(seed):
    """All-ones weights give compute_eer and compute_min_tdcf bit for bit."""
    bonafide, spoof = _scores(40 + seed, 300, seed)
    ones = np.ones((1, bonafide.size + spoof.size), dtype=np.int32)
    values = _replicates(
        _sort_system(bonafide, spoof), ones, bonafide.size, CONSTANTS
    )
    assert values["eer"][0] == compute_eer(bonafide, spoof)[0]
    for name, constants in CONSTANTS.items():
        expected = compute_min_tdcf(bonafide, spoof, constants)
        assert values[name][0] == expected


def test_each_resample_equals_the_metrics_of_the_resampled_scores():
    """A weighted replicate is the metric of the repeated scores, ties too."""
    bonafide, spoof = _scores(25, 60, 7)
    rng = np.random.default_rng(3)
    speakers = (
        rng.integers(0, 5, bonafide.size).astype(str),
        rng.integers(0, 4, spoof.size).astype(str),
    )
    system = _sort_system(bonafide, spoof)
    for clusters in _designs(bonafide.size, spoof.size, *speakers).values():
        weights = _resample_weights(clusters, np.random.default_rng(0), 30)
        values = _replicates(system, weights, bonafide.size, CONSTANTS)
        for row in range(weights.shape[0]):
            drawn_b = np.repeat(bonafide, weights[row, : bonafide.size])
            drawn_s = np.repeat(spoof, weights[row, bonafide.size :])
            assert values["eer"][row] == compute_eer(drawn_b, drawn_s)[0]
            for name, constants in CONSTANTS.items():
                expected = compute_min_tdcf(drawn_b, drawn_s, constants)
                assert values[name][row] == expected


def test_intervals_contain_the_point_and_are_deterministic():
    """Same seed, same intervals; another seed, other intervals."""
    bonafide, spoof = _scores(200, 800, 1, decimals=3)
    first = bootstrap_metrics(
        bonafide, spoof, tdcf_constants=CONSTANTS, n_resamples=200, seed=5
    )
    again = bootstrap_metrics(
        bonafide, spoof, tdcf_constants=CONSTANTS, n_resamples=200, seed=5
    )
    other = bootstrap_metrics(
        bonafide, spoof, tdcf_constants=CONSTANTS, n_resamples=200, seed=6
    )
    assert first == again
    assert first["eer"]["trial"] != other["eer"]["trial"]
    assert first["eer"]["value"] == compute_eer(bonafide, spoof)[0]
    for name in ("eer", *CONSTANTS):
        low, high = first[name]["trial"]
        assert low <= first[name]["value"] <= high
        assert low < high
        assert first[name]["speaker"] is None


def test_intervals_narrow_with_more_trials():
    """Ten times the trials give a clearly narrower EER interval."""
    widths = []
    for n_bonafide in (100, 1000):
        bonafide, spoof = _scores(n_bonafide, 4 * n_bonafide, 2, decimals=3)
        low, high = bootstrap_metrics(bonafide, spoof, n_resamples=200)["eer"][
            "trial"
        ]
        widths.append(high - low)
    assert widths[1] < 0.6 * widths[0]


def test_confidence_sets_the_coverage():
    """A 50 % interval lies inside the 95 % one."""
    bonafide, spoof = _scores(100, 400, 4, decimals=3)
    wide = bootstrap_metrics(bonafide, spoof, n_resamples=200)["eer"]["trial"]
    narrow = bootstrap_metrics(
        bonafide, spoof, n_resamples=200, confidence=0.5
    )["eer"]["trial"]
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


def test_speaker_bootstrap_is_wider_for_speaker_correlated_scores():
    """Speaker offsets widen the speaker interval beyond the trial one."""
    bonafide, spoof, bonafide_spk, spoof_spk = _speaker_scores(
        20, 30, seed=0, spread=1.0
    )
    result = bootstrap_metrics(
        bonafide,
        spoof,
        bonafide_spk,
        spoof_spk,
        tdcf_constants=CONSTANTS,
        n_resamples=200,
    )
    for name in ("eer", *CONSTANTS):
        trial_low, trial_high = result[name]["trial"]
        spk_low, spk_high = result[name]["speaker"]
        assert spk_high - spk_low > 1.5 * (trial_high - trial_low)


def test_paired_comparison_of_a_system_with_itself_is_zero():
    """Same scores: every difference is 0, and never flips sign."""
    bonafide, spoof, bonafide_spk, spoof_spk = _speaker_scores(
        8, 10, seed=1, spread=0.5
    )
    result = paired_bootstrap(
        bonafide,
        spoof,
        bonafide,
        spoof,
        bonafide_spk,
        spoof_spk,
        tdcf_constants=CONSTANTS,
        n_resamples=100,
    )
    for name in ("eer", *CONSTANTS):
        assert result[name]["difference"] == 0.0
        for design in ("trial", "speaker"):
            summary = result[name][design]
            assert summary["interval"] == [0.0, 0.0]
            assert summary["sign_flip"] == 0.0
            assert summary["b_lower"] == 0.0


def test_clearly_better_system_has_an_interval_below_zero():
    """B separates the classes better: B - A < 0 in every resample."""
    bonafide, spoof, bonafide_spk, spoof_spk = _speaker_scores(
        10, 40, seed=2, spread=0.2
    )
    result = paired_bootstrap(
        bonafide,
        spoof,
        bonafide + 1.5,
        spoof,
        bonafide_spk,
        spoof_spk,
        tdcf_constants=CONSTANTS,
        n_resamples=200,
    )
    for name in ("eer", *CONSTANTS):
        assert result[name]["difference"] < 0
        assert result[name]["b"] < result[name]["a"]
        for design in ("trial", "speaker"):
            summary = result[name][design]
            assert summary["interval"][1] < 0
            assert summary["b_lower"] == 1.0
            assert summary["sign_flip"] == 0.0


def test_paired_resamples_draw_the_same_trials_for_both_systems():
    """B = A + 1 ranks the trials alike: 0 in every paired resample."""
    bonafide, spoof = _scores(50, 150, 3, decimals=3)
    single = bootstrap_metrics(bonafide, spoof, n_resamples=100, seed=9)
    paired = paired_bootstrap(
        bonafide,
        spoof,
        bonafide + 1.0,
        spoof + 1.0,
        tdcf_constants=CONSTANTS,
        n_resamples=100,
        seed=9,
    )
    assert paired["eer"]["a"] == single["eer"]["value"]
    for name in ("eer", *CONSTANTS):
        assert paired[name]["trial"]["interval"] == [0.0, 0.0]


def test_asv_constants_are_those_of_metrics():
    """The helper gives the pooled 2019 and 2021 constants."""
    asv = SimpleNamespace(
        target=[3.0, 4.0, 5.0], nontarget=[1.0, 2.0, 0.0], spoof=[2.5, 0.0]
    )
    op = asv_operating_point(asv.target, asv.nontarget, asv.spoof)
    assert asv_tdcf_constants(asv) == {
        "min_tdcf_2019": tdcf_constants_2019(op),
        "min_tdcf_2021": tdcf_constants_2021(op),
    }


def test_undefined_tdcf_is_none():
    """A zero normaliser (C2 = 0, no C0) gives None, as cm_report does."""
    bonafide, spoof = _scores(30, 60, 5)
    result = bootstrap_metrics(
        bonafide,
        spoof,
        tdcf_constants={"min_tdcf_2021": (0.0, 0.9, 0.0)},
        n_resamples=20,
    )
    assert result["min_tdcf_2021"] == {
        "value": None,
        "trial": None,
        "speaker": None,
    }
    assert result["eer"]["value"] is not None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bonafide_scores": [1.0, np.nan]}, r"bonafide_scores .*non-finite"),
        ({"spoof_scores": []}, r"spoof_scores is empty"),
        ({"n_resamples": 0}, r"n_resamples must be at least 1"),
        ({"n_resamples": 2.5}, r"n_resamples must be an integer"),
        ({"confidence": 1.0}, r"confidence must be in \(0, 1\)"),
        ({"bonafide_speakers": ["a", "b"]}, r"both bonafide_speakers"),
        (
            {"bonafide_speakers": ["a"], "spoof_speakers": ["a", "b", "c"]},
            r"bonafide_speakers has 1 entries for 2 scores",
        ),
        (
            {"tdcf_constants": {"t": (0.0, -0.1, 0.2)}},
            r"C1 = -0.1 is negative",
        ),
    ],
)
def test_bad_input_is_refused(kwargs, message):
    """NaN, empty, mismatched or out-of-range input raise clear errors."""
    arguments = {
        "bonafide_scores": [2.0, 1.0],
        "spoof_scores": [0.0, -1.0, 0.5],
        "n_resamples": 10,
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        bootstrap_metrics(**arguments)


def test_paired_refuses_different_trial_sets():
    """B with another number of trials, or NaN scores, is refused."""
    with pytest.raises(ValueError, match=r"system B has 3 bona fide scores"):
        paired_bootstrap([1.0, 2.0], [0.0], [1.0, 2.0, 3.0], [0.0])
    with pytest.raises(ValueError, match=r"spoof_b .*non-finite"):
        paired_bootstrap([1.0, 2.0], [0.0], [1.0, 2.0], [np.inf])


def test_acceptance_interval_is_the_binomial_one():
    """The share accepted is acceptance_rate's; its spread the binomial's."""
    rng = np.random.default_rng(0)
    spoof = rng.standard_normal(400)
    threshold = 0.5
    result = acceptance_intervals(spoof, threshold, n_resamples=2000, seed=1)
    rate = acceptance_rate(spoof, threshold)
    assert result["value"] == rate
    low, high = result["trial"]
    half_width = 1.96 * np.sqrt(rate * (1 - rate) / spoof.size)
    assert low < rate < high
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.15)
    assert result["speaker"] is None
    again = acceptance_intervals(spoof, threshold, n_resamples=2000, seed=1)
    assert again == result


def test_paired_acceptance_speakers_widen_a_speaker_bound_gain():
    """A gain carried by a few speakers is sure over trials, not speakers."""
    speakers = np.repeat([f"s{i}" for i in range(4)], 25)
    spoof_a = np.ones(100)
    spoof_b = np.where(np.isin(speakers, ["s0", "s1"]), -1.0, 1.0)
    result = paired_acceptance(
        spoof_a, 0.0, spoof_b, 0.0, speakers, n_resamples=1000, seed=0
    )
    assert (result["a"], result["b"], result["difference"]) == (1.0, 0.5, -0.5)
    trial, speaker = result["trial"]["interval"], result["speaker"]["interval"]
    assert trial[1] < 0
    assert speaker[1] - speaker[0] > 2 * (trial[1] - trial[0])
    assert result["trial"]["b_lower"] == 1.0
    same = paired_acceptance(spoof_a, 0.0, spoof_a, 0.0, n_resamples=50)
    assert same["trial"]["interval"] == [0.0, 0.0]


def test_paired_acceptance_refuses_unpaired_or_bad_input():
    """Different trial counts and non-finite thresholds are named."""
    with pytest.raises(ValueError, match="same trials"):
        paired_acceptance([0.1, 0.2], 0.0, [0.1], 0.0)
    with pytest.raises(ValueError, match="threshold of spoof_b"):
        paired_acceptance([0.1], 0.0, [0.1], float("nan"))
    with pytest.raises(ValueError, match="n_resamples"):
        acceptance_intervals([0.1], 0.0, n_resamples=0)
