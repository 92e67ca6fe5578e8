"""Unit tests of the codec conditions and transmissions of the 2021 part.

Authors
 * speechbrain-asd developers
"""

import numpy as np
import pytest

from asd_toy_corpus.telephony_codecs import CODECS, apply_codec
from asd_toy_corpus.transmission import TRANSMISSIONS

RATE = 16000


def _speech_like(n=24001, seed=0):
    """Bursts of a 150 Hz harmonic tone with noise, at 16 kHz, odd length.

    Arguments
    ---------
    n : int
        Number of samples.
    seed : int
        Seed of the added noise.

    Returns
    -------
    numpy.ndarray
        The signal, peak about 0.5.
    """
    t = np.arange(n) / RATE
    tone = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 25))
    gate = (np.sin(2 * np.pi * 3 * t) > -0.3).astype(float)
    noise = 0.01 * np.random.default_rng(seed).standard_normal(n)
    return 0.2 * tone * gate + noise


def _band_share(x, low, high):
    """Share of a 16 kHz signal's energy between two frequencies.

    Arguments
    ---------
    x : numpy.ndarray
        The signal.
    low : float
        Lower edge in Hz.
    high : float
        Upper edge in Hz.

    Returns
    -------
    float
        The share in [0, 1].
    """
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return power[(freqs >= low) & (freqs < high)].sum() / power.sum()


@pytest.mark.parametrize("codec", CODECS)
def test_length_range_and_change(codec):
    """Same length at 16 kHz, within [-1, 1]; only none leaves it alone."""
    x = _speech_like()
    y = apply_codec(x, codec, np.random.default_rng(0))
    assert y.shape == x.shape and y.dtype == np.float64
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0
    if codec == "none":
        np.testing.assert_array_equal(y, x)
    else:
        assert np.max(np.abs(y - x)) > 1e-3
        # The speech stays: its level moves by a few dB at most (pstn
        # removes the 150 Hz fundamental, so more there).
        ratio_db = 10 * np.log10(np.mean(y**2) / np.mean(x**2))
        assert abs(ratio_db) < (8.0 if codec == "pstn" else 3.0)


@pytest.mark.parametrize("codec", CODECS)
def test_deterministic(codec):
    """The same input and generator seed give the same samples."""
    x = _speech_like(seed=1)
    first = apply_codec(x, codec, np.random.default_rng(3))
    second = apply_codec(x, codec, np.random.default_rng(3))
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("codec", CODECS)
def test_loud_and_short_inputs(codec):
    """A full-scale input stays in [-1, 1]; short and empty ones keep length."""
    loud = np.sign(_speech_like())
    y = apply_codec(loud, codec, np.random.default_rng(0))
    assert np.max(np.abs(y)) <= 1.0
    for n in (0, 1, 321):
        y = apply_codec(np.full(n, 0.1), codec, np.random.default_rng(0))
        assert len(y) == n


@pytest.mark.parametrize("codec", ["alaw", "ulaw", "gsm", "pstn"])
def test_narrowband_codecs_remove_the_upper_band(codec):
    """The 8 kHz conditions leave nothing above 4 kHz."""
    x = 0.1 * np.random.default_rng(2).standard_normal(32000)
    y = apply_codec(x, codec, np.random.default_rng(0))
    assert _band_share(x, 4200, 8000) > 0.4
    assert _band_share(y, 4500, 8000) < 1e-3


def test_pstn_keeps_only_the_telephone_band():
    """PSTN removes the energy below 300 Hz and above 3.4 kHz."""
    x = 0.1 * np.random.default_rng(4).standard_normal(32000)
    y = apply_codec(x, "pstn", np.random.default_rng(0))
    outside = _band_share(y, 0, 250) + _band_share(y, 3600, 8000)
    assert _band_share(x, 0, 250) + _band_share(x, 3600, 8000) > 0.5
    assert outside < 1e-3
    assert _band_share(y, 300, 3400) > 0.95


def test_g722_keeps_the_wide_band_and_the_timing():
    """G.722 keeps 4-7 kHz and its decoder delay is compensated."""
    x = 0.1 * np.random.default_rng(5).standard_normal(16000)
    y = apply_codec(x, "g722", np.random.default_rng(0))
    assert _band_share(y, 4200, 7000) > 0.2
    assert np.corrcoef(x, y)[0, 1] > 0.9


def test_unknown_codec_is_refused():
    """A name that is not a condition gives a clear error."""
    with pytest.raises(ValueError, match="unknown codec 'mp3'; choose one of"):
        apply_codec(np.zeros(10), "mp3", np.random.default_rng(0))
    with pytest.raises(ValueError, match="1-D signal"):
        apply_codec(np.zeros((2, 10)), "none", np.random.default_rng(0))


def test_transmissions_are_fixed_and_distinct():
    """Each variant keeps length and range; variants differ in level/tilt."""
    x = _speech_like(seed=6)
    levels = {}
    for name, transmission in TRANSMISSIONS.items():
        y = transmission.apply(x, np.random.default_rng(0))
        assert y.shape == x.shape and np.max(np.abs(y)) <= 1.0
        again = transmission.apply(x, np.random.default_rng(0))
        np.testing.assert_array_equal(y, again)
        levels[name] = (
            round(10 * np.log10(np.mean(y**2)), 2),
            round(_band_share(y, 2000, 8000), 4),
        )
    assert sorted(TRANSMISSIONS) == ["ita_tx", "loc_tx", "mad_tx", "sin_tx"]
    assert len(set(levels.values())) == len(TRANSMISSIONS)
