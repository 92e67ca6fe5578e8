"""Unit tests of the toy corpus signal processing primitives and WORLD access.

Authors
 * speechbrain-asd developers
"""

import numpy as np
import pytest

from asd_toy_corpus import dsp, world


def test_stft_matches_a_direct_dft():
    """One frame of stft equals the DFT of the Hann-windowed samples."""
    x = np.random.default_rng(0).standard_normal(1000)
    spec = dsp.stft(x, 256, 64)
    frame = 5
    padded = np.pad(x, (128, 128 + 256))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(256) / 256)
    segment = padded[frame * 64 : frame * 64 + 256] * window
    n = np.arange(256)
    direct = np.array(
        [
            np.sum(segment * np.exp(-2j * np.pi * k * n / 256))
            for k in range(129)
        ]
    )
    np.testing.assert_allclose(spec[frame], direct, atol=1e-9)


@pytest.mark.parametrize("hop", [64, 100])
def test_istft_inverts_stft(hop):
    """Overlap-add reconstructs the signal, with and without block OLA."""
    x = np.random.default_rng(1).standard_normal(3001)
    np.testing.assert_allclose(
        dsp.istft(dsp.stft(x, 256, hop), hop, len(x)), x, atol=1e-9
    )


def test_mel_filterbank_matches_the_htk_formula():
    """Each weight is the triangle of the HTK Mel band edges at the bin."""
    bank = dsp.mel_filterbank(40, 512, 16000)
    mel_max = 2595 * np.log10(1 + 8000 / 700)
    edges = 700 * (10 ** (np.linspace(0, mel_max, 42) / 2595) - 1)
    for band, k in [(0, 2), (10, 30), (39, 250)]:
        f = k * 16000 / 512
        lo, mid, hi = edges[band : band + 3]
        expected = max(0.0, min((f - lo) / (mid - lo), (hi - f) / (hi - mid)))
        assert bank[band, k] == pytest.approx(expected)
    assert bank.min() >= 0.0 and bank.max() <= 1.0


def test_resample_keeps_a_tone():
    """8 kHz to 16 kHz doubles the length and keeps a 1 kHz tone."""
    t = np.arange(8000) / 8000
    y = dsp.resample(np.sin(2 * np.pi * 1000 * t), 8000, 16000)
    assert len(y) == 16000
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) == 1000


def test_active_region_and_rms():
    """The span of a burst is found; RMS ignores the silence."""
    x = np.zeros(8000)
    x[2000:4000] = 0.2 * np.sign(np.sin(np.arange(2000)))
    start, stop = dsp.active_region(x, 8000, margin_s=0.0)
    assert abs(start - 2000) <= 160 and abs(stop - 4000) <= 160
    assert dsp.active_rms(x, 8000) == pytest.approx(0.2, rel=0.05)


def test_fit_length():
    """Crops long signals and zero-pads short ones."""
    assert dsp.fit_length(np.arange(5.0), 3).tolist() == [0.0, 1.0, 2.0]
    assert dsp.fit_length(np.ones(2), 4).tolist() == [1.0, 1.0, 0.0, 0.0]


def test_world_analysis_is_independent_of_call_history():
    """WORLD analysis and synthesis give the same result whatever ran before.

    (WORLD's own D4C does not: its result depends on earlier calls.)
    """
    rng = np.random.default_rng(2)
    t = np.arange(6000) / 8000
    x = np.sin(2 * np.pi * 130 * t) + 0.05 * rng.standard_normal(6000)
    first = world.analyze(x, 8000)
    first_y = world.synthesize(*first, 8000, len(x))
    for scale in (0.3, 0.7, 1.3):
        world.synthesize(*world.analyze(x[::-1] * scale, 8000), 8000, 6000)
    second = world.analyze(x, 8000)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        first_y, world.synthesize(*second, 8000, len(x))
    )


def test_band_aperiodicity_separates_periodic_and_noise():
    """A harmonic signal is periodic, white noise is aperiodic."""
    t = np.arange(8000) / 8000
    harmonics = sum(np.cos(2 * np.pi * 120 * k * t) for k in range(1, 30))
    f0 = np.full(101, 120.0)
    periodic = world.band_aperiodicity(harmonics, 8000, f0, 257)
    noise = np.random.default_rng(0).standard_normal(8000)
    aperiodic = world.band_aperiodicity(noise, 8000, f0, 257)
    assert periodic[25:75].max() < 0.01
    assert aperiodic[25:75].mean() > 0.3
    unvoiced = world.band_aperiodicity(harmonics, 8000, np.zeros(101), 257)
    np.testing.assert_array_equal(unvoiced, 1.0)
