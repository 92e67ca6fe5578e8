"""Makes the audio of one planned corpus file.

Each file gets its own numpy generator seeded from ``(seed, item index)``, so
its audio does not depend on which worker makes it or in which order.

Authors
 * speechbrain-asd developers
"""

import os

import numpy as np
import soundfile as sf

from asd_toy_corpus.channel import OUTPUT_RATE, apply_channel
from asd_toy_corpus.dsp import EPS, active_region
from asd_toy_corpus.layout import audio_path
from asd_toy_corpus.sources import SAMPLE_RATE, load_utterance
from asd_toy_corpus.systems import SYSTEMS


def item_rng(seed, index):
    """The generator of one corpus file.

    Arguments
    ---------
    seed : int
        The corpus seed.
    index : int
        The file's index in the plan.

    Returns
    -------
    numpy.random.Generator
        A generator that depends only on ``(seed, index)``.

    Example
    -------
    >>> a = item_rng(1, 5).random()
    >>> a == item_rng(1, 5).random(), a == item_rng(1, 6).random()
    (True, False)
    """
    return np.random.default_rng([int(seed), 1, int(index)])


def synthesize_item(item, seed):
    """Makes the 16 kHz waveform of a planned file.

    The source utterance is trimmed to its speech and peak-normalised, the
    item's spoofing system (if any) applied at 8 kHz, then the common
    channel.

    Arguments
    ---------
    item : CorpusItem
        The planned file.
    seed : int
        The corpus seed.

    Returns
    -------
    numpy.ndarray
        The waveform at 16 kHz in [-1, 1].

    Example
    -------
    >>> from asd_toy_corpus.plan import make_plan
    >>> item = make_plan(1, "small").items[0]
    >>> wave = synthesize_item(item, 1)
    >>> bool(np.array_equal(wave, synthesize_item(item, 1)))
    True
    """
    rng = item_rng(seed, item.index)
    x = load_utterance(item.source)
    start, stop = active_region(x, SAMPLE_RATE)
    x = x[start:stop]
    x = x / max(np.max(np.abs(x)), EPS) * 0.5
    if item.role == "spoof":
        x = SYSTEMS[item.attack].apply(x, rng, item.language)
    return apply_channel(x, rng)


def flac_path(root, item):
    """Where a planned file lies in the ASVspoof 2019 LA layout.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder (holding ``LA/``).
    item : CorpusItem
        The planned file.

    Returns
    -------
    str
        ``root/LA/ASVspoof2019_LA_<split>/flac/<utt_id>.flac``.

    Example
    -------
    >>> from asd_toy_corpus.plan import make_plan
    >>> item = make_plan(1, "small").items[0]
    >>> flac_path("/c", item).startswith("/c/LA/ASVspoof2019_LA_train/flac/")
    True
    """
    return audio_path(root, item.split, item.utt_id)


def render_item(item, seed, root):
    """Makes a planned file and writes it as 16 kHz mono 16-bit FLAC.

    Arguments
    ---------
    item : CorpusItem
        The planned file.
    seed : int
        The corpus seed.
    root : str or os.PathLike
        The corpus folder.

    Returns
    -------
    utt_id : str
        The file id.
    duration : float
        Its duration in seconds.

    Example
    -------
    >>> from asd_toy_corpus.plan import make_plan
    >>> item = make_plan(1, "small").items[0]
    >>> root = getfixture("tmp_path")
    >>> utt_id, duration = render_item(item, 1, root)
    >>> sf.info(flac_path(root, item)).samplerate
    16000
    """
    wave = synthesize_item(item, seed)
    path = flac_path(root, item)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, wave, OUTPUT_RATE, format="FLAC", subtype="PCM_16")
    return item.utt_id, len(wave) / OUTPUT_RATE
