"""A small automatic speaker verification system for the 2021 ASV scores.

ASVspoof 2021 LA ships the scores of the organisers' ASV system on its ASV
trials; this corpus ships the scores of this toy system instead:

- utterance embedding: the mean and standard deviation, over the active
  frames, of cepstral coefficients 1-``N_CEPSTRA`` of a log-Mel spectrum
  restricted to 300-3400 Hz (the band every codec condition keeps) and of
  their deltas (central differences over time);
- enrolment: the embeddings of a speaker's enrolment utterances, minus the
  mean embedding of all enrolment utterances, scaled by their standard
  deviation per dimension, made unit-length and averaged; the average made
  unit-length again is the speaker model;
- score: the cosine between the speaker model and the test embedding
  normalised the same way.

Authors
 * speechbrain-asd developers
"""

import numpy as np
from scipy.fft import dct

from asd_toy_corpus.dsp import (
    EPS,
    active_frames,
    fit_length,
    mel_filterbank,
    stft,
)

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 160
N_MELS = 24
N_CEPSTRA = 12
BAND_HZ = (300.0, 3400.0)


def _deltas(frames):
    """Central differences over time (zero for a single frame)."""
    if len(frames) < 2:
        return np.zeros_like(frames)
    return np.gradient(frames, axis=0)


def utterance_embedding(wave, sr=SAMPLE_RATE):
    """Mean and deviation of cepstra and deltas over the active frames.

    Arguments
    ---------
    wave : numpy.ndarray
        The utterance, 1-D.
    sr : int
        Its sample rate.

    Returns
    -------
    numpy.ndarray
        ``4 * N_CEPSTRA`` values: the means of the cepstra and deltas, then
        their standard deviations.

    Example
    -------
    >>> x = np.random.default_rng(0).standard_normal(16000)
    >>> utterance_embedding(x).shape
    (48,)
    """
    wave = np.asarray(wave, dtype=np.float64)
    power = np.abs(stft(wave, N_FFT, HOP)) ** 2
    bank = mel_filterbank(N_MELS, N_FFT, sr, *BAND_HZ)
    log_mel = np.log(power @ bank.T + EPS)
    cepstra = dct(log_mel, type=2, norm="ortho", axis=1)[:, 1 : N_CEPSTRA + 1]
    frames = np.hstack([cepstra, _deltas(cepstra)])
    # The STFT has one frame more than the non-overlapping activity frames.
    active = active_frames(wave, sr, frame_s=HOP / sr)
    active = fit_length(active, len(frames)).astype(bool)
    chosen = frames[active] if active.any() else frames
    return np.concatenate([chosen.mean(axis=0), chosen.std(axis=0)])


def _unit(vectors):
    """Scales vectors (the last axis) to unit length."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, EPS)


class ToyASV:
    """Speaker models made from enrolment embeddings, scoring by cosine.

    Arguments
    ---------
    enrolment : dict
        Speaker id -> sequence of its enrolment utterance embeddings (as
        ``utterance_embedding`` gives them).

    Raises
    ------
    ValueError
        When no speaker has an enrolment embedding.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> centres = {"LA_0001": rng.normal(size=4), "LA_0002": rng.normal(size=4)}
    >>> asv = ToyASV({s: c + 0.1 * rng.normal(size=(3, 4))
    ...               for s, c in centres.items()})
    >>> test = centres["LA_0001"] + 0.1 * rng.normal(size=4)
    >>> asv.score("LA_0001", test) > asv.score("LA_0002", test)
    True
    """

    def __init__(self, enrolment):
        """Builds the speaker models."""
        stacked = [np.asarray(e, dtype=np.float64) for e in enrolment.values()]
        stacked = [e for e in stacked if len(e)]
        if not stacked:
            raise ValueError("the toy ASV needs at least one enrolment")
        every = np.concatenate(stacked)
        self.mean = every.mean(axis=0)
        self.scale = every.std(axis=0) + EPS
        self.models = {
            speaker: _unit(_unit(self._normalise(e)).mean(axis=0))
            for speaker, e in enrolment.items()
            if len(e)
        }

    def _normalise(self, embeddings):
        """Subtracts the enrolment mean and divides by its deviation."""
        return (np.asarray(embeddings, dtype=np.float64) - self.mean) / (
            self.scale
        )

    def score(self, speaker, embedding):
        """Scores a test embedding against a claimed speaker.

        Arguments
        ---------
        speaker : str
            The claimed speaker (enrolled).
        embedding : numpy.ndarray
            The test utterance's embedding.

        Returns
        -------
        float
            The cosine in [-1, 1]; higher means more the claimed speaker.

        Raises
        ------
        KeyError
            When the speaker is not enrolled.
        """
        if speaker not in self.models:
            raise KeyError(f"speaker {speaker!r} is not enrolled")
        test = _unit(self._normalise(embedding))
        return float(np.dot(self.models[speaker], test))
