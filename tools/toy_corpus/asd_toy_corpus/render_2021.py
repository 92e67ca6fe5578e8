"""Makes the audio of one planned trial of the ASVspoof 2021 LA-style part.

The trial's 2019 eval file is read, trimmed to its speech when the trial is
``trim``, sent through its transmission variant and its codec condition,
and written as 16 kHz mono 16-bit FLAC. Each trial gets its own numpy
generator seeded from ``(seed, 2021, 1, index)``, so its audio depends
neither on the worker that makes it nor on the 2019 part's random draws.

Authors
 * speechbrain-asd developers
"""

import os

import numpy as np
import soundfile as sf

from asd_toy_corpus.dsp import active_region
from asd_toy_corpus.layout import audio_path, audio_path_2021
from asd_toy_corpus.telephony_codecs import SAMPLE_RATE, apply_codec
from asd_toy_corpus.toy_asv import utterance_embedding
from asd_toy_corpus.transmission import TRANSMISSIONS

TRIAL_STREAM = 1
TRIM_MARGIN_S = 0.02


def trial_rng_2021(seed, index):
    """The generator of one 2021 trial.

    Arguments
    ---------
    seed : int
        The corpus seed.
    index : int
        The trial's index in the 2021 plan.

    Returns
    -------
    numpy.random.Generator
        A generator that depends only on ``(seed, index)``.

    Example
    -------
    >>> a = trial_rng_2021(1, 5).random()
    >>> a == trial_rng_2021(1, 5).random(), a == trial_rng_2021(1, 6).random()
    (True, False)
    """
    return np.random.default_rng([int(seed), 2021, TRIAL_STREAM, int(index)])


def synthesize_trial_2021(trial, seed, source_root):
    """Makes the 16 kHz waveform of a planned 2021 trial.

    Arguments
    ---------
    trial : Eval2021Trial
        The planned trial.
    seed : int
        The corpus seed.
    source_root : str or os.PathLike
        The corpus folder holding the 2019 eval audio.

    Returns
    -------
    numpy.ndarray
        The waveform at 16 kHz in [-1, 1].

    Raises
    ------
    FileNotFoundError
        When the 2019 file is missing (naming it).

    Example
    -------
    >>> from speechbrain_asd.scorefiles import CMTrial
    >>> from asd_toy_corpus.plan_2021 import Eval2021Trial
    >>> root = getfixture("tmp_path")
    >>> source = audio_path(root, "eval", "LA_E_1000001")
    >>> os.makedirs(os.path.dirname(source))
    >>> x = 0.1 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)
    >>> sf.write(source, x, 16000, subtype="PCM_16")
    >>> cm = CMTrial("LA_0014", "LA_E_7000001", "bonafide", "bonafide",
    ...              "alaw", "ita_tx", "hidden", "trim")
    >>> trial = Eval2021Trial(0, "LA_E_1000001", cm)
    >>> synthesize_trial_2021(trial, 1, root).shape
    (16000,)
    """
    path = audio_path(source_root, "eval", trial.source)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} is missing: the 2021 part is made from the 2019 eval "
            "audio of the same corpus"
        )
    x, _ = sf.read(path, dtype="float64")
    rng = trial_rng_2021(seed, trial.index)
    if trial.cm.trim == "trim":
        start, stop = active_region(x, SAMPLE_RATE, margin_s=TRIM_MARGIN_S)
        x = x[start:stop]
    x = TRANSMISSIONS[trial.cm.transmission].apply(x, rng)
    return apply_codec(x, trial.cm.codec, rng)


def render_trial_2021(trial, seed, source_root, out_root):
    """Makes a planned 2021 trial, writes it and embeds it for the toy ASV.

    Arguments
    ---------
    trial : Eval2021Trial
        The planned trial.
    seed : int
        The corpus seed.
    source_root : str or os.PathLike
        The corpus folder holding the 2019 eval audio.
    out_root : str or os.PathLike
        The folder that receives ``ASVspoof2021_LA_eval/flac/``.

    Returns
    -------
    trial_id : str
        The 2021 trial id.
    duration : float
        Its duration in seconds.
    embedding : numpy.ndarray
        The toy ASV's embedding of the file as written.

    Example
    -------
    >>> from speechbrain_asd.scorefiles import CMTrial
    >>> from asd_toy_corpus.plan_2021 import Eval2021Trial
    >>> root = getfixture("tmp_path")
    >>> source = audio_path(root, "eval", "LA_E_1000001")
    >>> os.makedirs(os.path.dirname(source))
    >>> x = 0.1 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)
    >>> sf.write(source, x, 16000, subtype="PCM_16")
    >>> cm = CMTrial("LA_0014", "LA_E_7000001", "bonafide", "bonafide",
    ...              "opus", "sin_tx", "eval", "notrim")
    >>> trial = Eval2021Trial(0, "LA_E_1000001", cm)
    >>> render_trial_2021(trial, 1, root, root)[:2]
    ('LA_E_7000001', 1.0)
    """
    wave = synthesize_trial_2021(trial, seed, source_root)
    path = audio_path_2021(out_root, trial.cm.trial)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, wave, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    stored, _ = sf.read(path, dtype="float64")
    return (
        trial.cm.trial,
        len(stored) / SAMPLE_RATE,
        utterance_embedding(stored),
    )
