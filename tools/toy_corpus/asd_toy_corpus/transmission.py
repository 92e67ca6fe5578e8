"""The four transmission variants of the ASVspoof 2021 LA-style evaluation part.

In ASVspoof 2021 LA each trial was sent over a telephony system from one of
a few places (the ``ita_tx``, ``sin_tx``, ``loc_tx`` and ``mad_tx`` columns
of its metadata). Here each variant is a mild fixed channel of its own: a
gain, a spectral tilt around 1 kHz and a white noise floor at a fixed level
below the speech. The settings do not depend on the class, so the column
describes the channel and never the key.

Authors
 * speechbrain-asd developers
"""

from dataclasses import dataclass

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft, rfftfreq

from asd_toy_corpus.dsp import active_rms

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Transmission:
    """One fixed transmission channel.

    Arguments
    ---------
    gain_db : float
        Level change in dB.
    tilt_db_per_octave : float
        Spectral tilt around 1 kHz, in dB per octave (flat below 100 Hz).
    noise_db : float
        Level of the white noise floor relative to the speech, in dB.

    Example
    -------
    >>> x = 0.1 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)
    >>> y = TRANSMISSIONS["loc_tx"].apply(x, np.random.default_rng(0))
    >>> y.shape, bool(np.max(np.abs(y)) <= 1.0)
    ((16000,), True)
    """

    gain_db: float
    tilt_db_per_octave: float
    noise_db: float

    def apply(self, x, rng):
        """Passes a 16 kHz signal through this channel.

        Arguments
        ---------
        x : numpy.ndarray
            The signal at 16 kHz, 1-D.
        rng : numpy.random.Generator
            Source of the noise floor.

        Returns
        -------
        numpy.ndarray
            The received signal, same length, within [-1, 1].
        """
        x = np.asarray(x, dtype=np.float64)
        if len(x) == 0:
            return x.copy()
        # The filter works on a zero-padded length with small prime factors.
        n_fft = next_fast_len(len(x), real=True)
        freqs = rfftfreq(n_fft, 1.0 / SAMPLE_RATE)
        octaves = np.log2(np.maximum(freqs, 100.0) / 1000.0)
        gain_db = self.gain_db + self.tilt_db_per_octave * octaves
        spectrum = rfft(x, n=n_fft) * 10.0 ** (gain_db / 20.0)
        y = irfft(spectrum, n=n_fft)[: len(x)]
        level = active_rms(y, SAMPLE_RATE)
        noise = (
            rng.standard_normal(len(y)) * level * 10.0 ** (self.noise_db / 20)
        )
        return np.clip(y + noise, -1.0, 1.0)


TRANSMISSIONS = {
    "ita_tx": Transmission(gain_db=-1.5, tilt_db_per_octave=1.0, noise_db=-50),
    "sin_tx": Transmission(gain_db=1.0, tilt_db_per_octave=-1.0, noise_db=-45),
    "loc_tx": Transmission(gain_db=0.0, tilt_db_per_octave=0.0, noise_db=-60),
    "mad_tx": Transmission(gain_db=-3.0, tilt_db_per_octave=0.5, noise_db=-55),
}
