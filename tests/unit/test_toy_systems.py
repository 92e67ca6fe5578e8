"""Unit tests of the toy corpus spoofing systems.

Authors
 * speechbrain-asd developers
"""

import numpy as np
import pytest

from asd_toy_corpus import systems, world
from asd_toy_corpus.systems import (
    SEEN_ATTACKS,
    SYSTEMS,
    UNSEEN_ATTACKS,
)

RATE = 8000


def _vowel_like(seconds=1.0, f0=140.0, seed=0):
    """A voiced, speech-like test signal: pulses through two resonances.

    Arguments
    ---------
    seconds : float
        Duration.
    f0 : float
        Fundamental frequency in Hz (with a slow 10 % glide).
    seed : int
        Seed of the aspiration noise.

    Returns
    -------
    numpy.ndarray
        The signal at 8 kHz, peak 0.5.
    """
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    freq = f0 * (1.0 + 0.1 * np.sin(2 * np.pi * 1.5 * t))
    phase = np.cumsum(freq / RATE)
    source = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(float)
    source += 0.01 * np.random.default_rng(seed).standard_normal(n)
    from scipy.signal import lfilter

    y = source
    for centre, bandwidth in ((700.0, 80.0), (1200.0, 100.0)):
        r = np.exp(-np.pi * bandwidth / RATE)
        theta = 2 * np.pi * centre / RATE
        y = lfilter([1.0], [1.0, -2 * r * np.cos(theta), r * r], y)
    return y / np.max(np.abs(y)) * 0.5


def test_attack_sets():
    """Six seen attacks of distinct families, two unseen eval attacks."""
    assert SEEN_ATTACKS == ("A01", "A02", "A03", "A04", "A05", "A06")
    assert UNSEEN_ATTACKS == ("A07", "A08")
    families = [system.family for system in SYSTEMS.values()]
    assert len(set(families)) == len(families)


@pytest.mark.parametrize("system_id", sorted(SYSTEMS))
def test_system_output(system_id):
    """Same length, finite, peak 0.5, different from the input."""
    x = _vowel_like()
    y = SYSTEMS[system_id].apply(x, np.random.default_rng(1), "en-us")
    assert y.shape == x.shape
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y)) == pytest.approx(0.5)
    assert np.mean((y - x) ** 2) > 1e-3 * np.mean(x**2)


@pytest.mark.parametrize("system_id", sorted(SYSTEMS))
def test_system_is_deterministic_per_generator(system_id):
    """The same generator seed gives the same spoof."""
    x = _vowel_like(0.6)
    first = SYSTEMS[system_id].apply(x, np.random.default_rng(5), "it")
    second = SYSTEMS[system_id].apply(x, np.random.default_rng(5), "it")
    np.testing.assert_array_equal(first, second)


def test_apply_rejects_bad_input():
    """A 2-D or too short input is refused with a clear message."""
    with pytest.raises(ValueError, match="A01: expected a 1-D signal"):
        SYSTEMS["A01"].apply(np.zeros((2, 4000)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least 2400 samples"):
        SYSTEMS["A04"].apply(np.zeros(100), np.random.default_rng(0))


def test_voice_conversion_moves_f0():
    """A02 moves the median F0 by a factor of 0.8-0.94 or 1.06-1.25."""
    x = _vowel_like(1.0, f0=140.0)
    before = np.median(world.f0_contour(x, RATE)[10:-10])
    for seed in range(3):
        y = systems.world_voice_conversion(
            x, np.random.default_rng(seed), "en-us"
        )
        f0 = world.f0_contour(y, RATE)[10:-10]
        ratio = np.median(f0[f0 > 0]) / before
        assert 0.75 < ratio < 1.3
        assert abs(np.log(ratio)) > np.log(1.03)


def test_phase_vocoder_shifts_pitch():
    """A08 scales the F0 of a steady tone by its stretch factor."""
    t = np.arange(RATE) / RATE
    x = 0.5 * np.sign(np.sin(2 * np.pi * 150 * t)) * 0.5
    rng = np.random.default_rng(3)
    factor = rng.uniform(1.1, 1.25) ** rng.choice([-1.0, 1.0])
    y = systems.phase_vocoder_shift(x, np.random.default_rng(3), "en-us")
    f0 = world.f0_contour(y, RATE)[20:-20]
    assert np.median(f0[f0 > 0]) == pytest.approx(150 * factor, rel=0.05)


def test_lpc_recovers_an_ar_process():
    """_lpc finds the coefficients of a known all-pole process."""
    from scipy.signal import lfilter

    noise = np.random.default_rng(0).standard_normal(5000)
    x = lfilter([1.0], [1.0, -1.3, 0.6], noise)
    a, error = systems._lpc(x, 2)
    np.testing.assert_allclose(a, [1.3, -0.6], atol=0.04)
    assert error / len(x) == pytest.approx(1.0, rel=0.1)


def test_warp_with_zero_alpha_is_identity():
    """A zero warping factor leaves envelopes unchanged."""
    sp = np.random.default_rng(0).random((4, 129)) + 0.1
    np.testing.assert_allclose(systems._warp_frequency(sp, 0.0), sp)


def test_warp_moves_a_peak_up_for_positive_alpha():
    """A positive warping factor moves a spectral peak to a higher bin."""
    sp = np.full((1, 129), 0.01)
    sp[0, 40] = 1.0
    assert np.argmax(systems._warp_frequency(sp, 0.1)[0]) > 40
    assert np.argmax(systems._warp_frequency(sp, -0.1)[0]) < 40


def test_adapted_tts_matches_length_and_speaker_f0():
    """A06 output has the input's length and about its median F0."""
    x = _vowel_like(1.5, f0=200.0)
    y = systems.adapted_tts(x, np.random.default_rng(0), "es-419")
    assert len(y) == len(x)
    f0 = world.f0_contour(y, RATE)
    assert np.median(f0[f0 > 0]) == pytest.approx(200.0, rel=0.15)
