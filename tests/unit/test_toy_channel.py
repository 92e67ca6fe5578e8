"""Unit tests of the common channel of the toy corpus.

Authors
 * speechbrain-asd developers
"""

import numpy as np
import pytest

from asd_toy_corpus.channel import apply_channel
from asd_toy_corpus.dsp import active_rms


def _speech_like(n=8000, seed=0):
    """Bursts of a 150 Hz harmonic tone separated by pauses, at 8 kHz.

    Arguments
    ---------
    n : int
        Number of samples.
    seed : int
        Seed of the added noise.

    Returns
    -------
    numpy.ndarray
        The signal.
    """
    t = np.arange(n) / 8000
    tone = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 20))
    gate = (np.sin(2 * np.pi * 3 * t) > -0.3).astype(float)
    noise = 0.01 * np.random.default_rng(seed).standard_normal(n)
    return 0.3 * tone * gate + noise


def test_output_length_rate_and_range():
    """16 kHz: twice the 8 kHz length plus 0.2-1.0 s of padding."""
    x = _speech_like()
    for seed in range(5):
        y = apply_channel(x, np.random.default_rng(seed))
        assert 2 * (len(x) + 1600) <= len(y) <= 2 * (len(x) + 8000)
        assert np.max(np.abs(y)) <= 0.99
        assert np.all(np.isfinite(y))


def test_level_is_within_the_drawn_range():
    """Active speech level lies in -32..-20 dBFS (within 1 dB)."""
    for seed in range(8):
        y = apply_channel(_speech_like(), np.random.default_rng(seed))
        level = 20 * np.log10(active_rms(y, 16000))
        assert -33.0 <= level <= -19.0


def test_band_limit_leaves_only_the_noise_floor_above_4khz():
    """Energy above 4.2 kHz is at least 30 dB below the total."""
    y = apply_channel(_speech_like(16000), np.random.default_rng(3))
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / 16000)
    high = spectrum[freqs > 4200].sum() / spectrum.sum()
    assert 10 * np.log10(high) < -30


def test_settings_do_not_depend_on_the_input():
    """The same generator gives the same padding whatever the content.

    The channel draws its settings before looking at the signal, so bona
    fide and spoofed inputs of equal length get identically distributed
    (here: identical) lengths.
    """
    a = apply_channel(_speech_like(seed=0), np.random.default_rng(7))
    b = apply_channel(_speech_like(seed=1)[::-1], np.random.default_rng(7))
    assert len(a) == len(b)


def test_deterministic_per_generator():
    """Same generator seed, same output; another seed, another output."""
    x = _speech_like()
    a = apply_channel(x, np.random.default_rng(11))
    np.testing.assert_array_equal(
        a, apply_channel(x, np.random.default_rng(11))
    )
    b = apply_channel(x, np.random.default_rng(12))
    assert len(a) != len(b) or not np.array_equal(a, b)


def test_rejects_empty_or_2d_input():
    """Bad input gets a clear error."""
    with pytest.raises(ValueError, match="non-empty 1-D signal"):
        apply_channel(np.zeros(0), np.random.default_rng(0))
    with pytest.raises(ValueError, match="non-empty 1-D signal"):
        apply_channel(np.zeros((2, 100)), np.random.default_rng(0))
