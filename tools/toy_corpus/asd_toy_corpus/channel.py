"""The transmission channel that every utterance of the corpus goes through.

Bona fide and spoofed speech alike, with settings drawn from the same
distributions, so that bandwidth, level, noise floor, leading/trailing
silence or length never reveal the class:

1. a random telephone band (high-pass 60-300 Hz, low-pass 3.0-3.8 kHz),
   a random spectral tilt of +-3 dB/octave and a gentle random ripple,
   applied at 8 kHz;
2. 0.1-0.5 s of silence before and after the speech;
3. resampling to 16 kHz (nothing above 4 kHz but the noise floor);
4. a random speech level of -32 to -20 dBFS (RMS of the active frames);
5. a white-to-pink noise floor 35-55 dB below the speech.

Authors
 * speechbrain-asd developers
"""

import numpy as np

from asd_toy_corpus.dsp import EPS, active_rms, resample

INPUT_RATE = 8000
OUTPUT_RATE = 16000


def _band_gain(n_samples, rng):
    """Draws a random telephone-band magnitude response on rFFT bins.

    Arguments
    ---------
    n_samples : int
        Length of the signal it will filter.
    rng : numpy.random.Generator
        Source of the band edges, tilt and ripple.

    Returns
    -------
    numpy.ndarray
        Linear gain per rFFT bin at 8 kHz.
    """
    freqs = np.fft.rfftfreq(n_samples, 1.0 / INPUT_RATE)
    high_pass = rng.uniform(60.0, 300.0)
    low_pass = rng.uniform(3000.0, 3800.0)
    ratio_hp = np.maximum(freqs, EPS) / high_pass
    gain = ratio_hp**2 / np.sqrt(1.0 + ratio_hp**4)
    gain = gain / np.sqrt(1.0 + (freqs / low_pass) ** 12)
    octaves = np.log2(np.maximum(freqs, 50.0) / 1000.0)
    ripple = sum(
        rng.uniform(-1.0, 1.0)
        * np.cos(2.0 * np.pi * octaves / rng.uniform(0.7, 3.0) + rng.random())
        for _ in range(3)
    )
    tilt_db = rng.uniform(-3.0, 3.0) * octaves + ripple
    return gain * 10.0 ** (tilt_db / 20.0)


def _noise_floor(n_samples, rng):
    """Draws unit-RMS noise between white and pink.

    Arguments
    ---------
    n_samples : int
        Number of samples.
    rng : numpy.random.Generator
        Noise source.

    Returns
    -------
    numpy.ndarray
        The noise.
    """
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs = np.fft.rfftfreq(n_samples, 1.0 / OUTPUT_RATE)
    slope = rng.uniform(0.0, 1.0)
    spectrum = spectrum / np.maximum(freqs, 20.0) ** (slope / 2.0)
    noise = np.fft.irfft(spectrum, n=n_samples)
    return noise / (np.sqrt(np.mean(noise**2)) + EPS)


def apply_channel(x, rng):
    """Passes an 8 kHz utterance through the common channel.

    Arguments
    ---------
    x : numpy.ndarray
        The utterance at 8 kHz, trimmed to its speech, 1-D.
    rng : numpy.random.Generator
        Source of every channel setting.

    Returns
    -------
    numpy.ndarray
        The received signal at 16 kHz, within [-1, 1].

    Raises
    ------
    ValueError
        When ``x`` is not a non-empty 1-D signal.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 200 * np.arange(8000) / 8000)
    >>> y = apply_channel(x, np.random.default_rng(0))
    >>> y.ndim, len(y) > 16000, float(np.max(np.abs(y))) <= 1.0
    (1, True, True)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(
            f"apply_channel expects a non-empty 1-D signal, got {x.shape}"
        )
    x = np.fft.irfft(np.fft.rfft(x) * _band_gain(len(x), rng), n=len(x))
    lead, tail = (int(rng.uniform(0.1, 0.5) * INPUT_RATE) for _ in range(2))
    x = np.concatenate([np.zeros(lead), x, np.zeros(tail)])
    y = resample(x, INPUT_RATE, OUTPUT_RATE)
    level_db = rng.uniform(-32.0, -20.0)
    y = y * 10.0 ** (level_db / 20.0) / active_rms(y, OUTPUT_RATE)
    snr_db = rng.uniform(35.0, 55.0)
    y = y + _noise_floor(len(y), rng) * 10.0 ** ((level_db - snr_db) / 20.0)
    peak = np.max(np.abs(y))
    if peak > 0.99:
        y = y * (0.99 / peak)
    return y
