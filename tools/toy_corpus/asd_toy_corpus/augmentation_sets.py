"""Noise and room impulse response sets for on-the-fly augmentation.

The noise set cycles through five kinds: white, pink and brown stationary
noise, babble mixed from train-speaker speech only, and music-like tonal
signals (random melodies of harmonic notes, sometimes chords). The RIR set
holds simulated rooms: a direct path, sparse early reflections and an
exponentially decaying diffuse tail (RT60 0.15-0.9 s) with air absorption.
All files are 16 kHz mono WAV; each set comes with a SpeechBrain legacy CSV
``ID,duration,wav,wav_format,wav_opts`` (as ``AddNoise`` and ``AddReverb``
read) whose ``wav`` column holds absolute paths.

Authors
 * speechbrain-asd developers
"""

import os

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

from asd_toy_corpus.dsp import EPS, resample
from asd_toy_corpus.sources import (
    SAMPLE_RATE,
    SPEAKERS,
    list_utterances,
    load_utterance,
)
from speechbrain_asd.atomic import write_csv_atomic

RATE = 16000
NOISE_SECONDS = 4.0
NOISE_KINDS = ("white", "pink", "brown", "babble", "music")
CSV_HEADER = ("ID", "duration", "wav", "wav_format", "wav_opts")


def coloured_noise(n_samples, exponent, rng):
    """Noise whose power falls as ``1 / f**exponent``, unit RMS.

    Arguments
    ---------
    n_samples : int
        Number of samples.
    exponent : float
        0 for white, 1 for pink, 2 for brown noise.
    rng : numpy.random.Generator
        Noise source.

    Returns
    -------
    numpy.ndarray
        The noise.

    Example
    -------
    >>> x = coloured_noise(16000, 1.0, np.random.default_rng(0))
    >>> round(float(np.sqrt(np.mean(x ** 2))), 3)
    1.0
    """
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs = np.fft.rfftfreq(n_samples, 1.0 / RATE)
    spectrum /= np.maximum(freqs, 20.0) ** (exponent / 2.0)
    noise = np.fft.irfft(spectrum, n=n_samples)
    return noise / (np.sqrt(np.mean(noise**2)) + EPS)


def babble(n_samples, refs, rng):
    """Sums several utterances at random offsets and levels.

    Arguments
    ---------
    n_samples : int
        Number of samples.
    refs : sequence of UtteranceRef
        The utterances to mix (each looped to fill the length).
    rng : numpy.random.Generator
        Source of offsets and gains.

    Returns
    -------
    numpy.ndarray
        The babble at 16 kHz, unit RMS.

    Example
    -------
    >>> from asd_toy_corpus.sources import list_utterances
    >>> refs = list_utterances("codec2-g3plx")
    >>> babble(8000, refs, np.random.default_rng(0)).shape
    (8000,)
    """
    mix = np.zeros(n_samples)
    for ref in refs:
        speech = resample(load_utterance(ref), SAMPLE_RATE, RATE)
        speech /= np.sqrt(np.mean(speech**2)) + EPS
        looped = np.tile(speech, n_samples // len(speech) + 2)
        offset = int(rng.integers(0, len(speech)))
        mix += looped[offset : offset + n_samples] * rng.uniform(0.5, 1.0)
    return mix / (np.sqrt(np.mean(mix**2)) + EPS)


def music_like(n_samples, rng):
    """A random melody of harmonic notes with attack/decay envelopes.

    Arguments
    ---------
    n_samples : int
        Number of samples.
    rng : numpy.random.Generator
        Source of notes, timbre and rhythm.

    Returns
    -------
    numpy.ndarray
        The signal at 16 kHz, unit RMS.

    Example
    -------
    >>> music_like(16000, np.random.default_rng(0)).shape
    (16000,)
    """
    scale = np.array([0, 3, 5, 7, 10])  # minor pentatonic, semitones
    out = np.zeros(n_samples)
    n_voices = int(rng.integers(1, 4))
    n_partials = int(rng.integers(3, 9))
    for _ in range(n_voices):
        base = rng.uniform(110.0, 330.0)
        position = 0
        while position < n_samples:
            length = int(rng.uniform(0.12, 0.6) * RATE)
            octave = int(rng.integers(0, 2))
            freq = base * 2.0 ** ((rng.choice(scale) + 12 * octave) / 12.0)
            t = np.arange(length) / RATE
            note = sum(
                np.sin(2 * np.pi * k * freq * t) / k
                for k in range(1, n_partials + 1)
                if k * freq < RATE / 2
            )
            envelope = np.minimum(t / 0.01, 1.0) * np.exp(
                -t / rng.uniform(0.1, 0.5)
            )
            end = min(n_samples, position + length)
            out[position:end] += (note * envelope)[: end - position]
            position += length
    return out / (np.sqrt(np.mean(out**2)) + EPS)


def simulated_rir(rng):
    """A simulated room impulse response at 16 kHz.

    Arguments
    ---------
    rng : numpy.random.Generator
        Source of the room: RT60, direct-path delay, reflections, absorption.

    Returns
    -------
    numpy.ndarray
        The impulse response; its largest sample (1.0) is the direct path.

    Example
    -------
    >>> h = simulated_rir(np.random.default_rng(0))
    >>> int(np.argmax(np.abs(h))) < 80, float(np.max(np.abs(h)))
    (True, 1.0)
    """
    rt60 = rng.uniform(0.15, 0.9)
    n_samples = int(max(0.2, 1.2 * rt60) * RATE)
    t = np.arange(n_samples) / RATE
    direct = int(rng.uniform(0.0, 0.005) * RATE)
    tail = rng.standard_normal(n_samples) * np.exp(-6.9 * t / rt60)
    tail[: direct + int(0.002 * RATE)] = 0.0
    absorption = rng.uniform(0.2, 0.7)
    tail = lfilter([1.0 - absorption], [1.0, -absorption], tail)
    h = tail / (np.max(np.abs(tail)) + EPS) * rng.uniform(0.2, 0.5)
    for _ in range(int(rng.integers(4, 12))):
        delay = direct + int(rng.uniform(0.003, 0.05) * RATE)
        h[delay] += rng.uniform(-0.6, 0.6) * np.exp(-6.9 * t[delay] / rt60)
    h = np.clip(h, -0.95, 0.95)
    h[direct] = 1.0
    return h


def write_augmentation_sets(folder, final_folder, n_noises, n_rirs, seed):
    """Writes the noise and RIR sets with their CSVs.

    Arguments
    ---------
    folder : str or os.PathLike
        Where to write now (``noise/``, ``rir/``, ``noise.csv``,
        ``rir.csv`` are created inside).
    final_folder : str or os.PathLike
        Where ``folder`` will finally live; the CSVs give absolute paths
        under it (the same as ``folder`` unless the corpus is moved into
        place after writing).
    n_noises : int
        Number of noise files (kinds cycle white, pink, brown, babble,
        music).
    n_rirs : int
        Number of impulse responses.
    seed : int
        The corpus seed.

    Returns
    -------
    dict
        ``{"noise": csv path, "rir": csv path}`` under ``final_folder``.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> csvs = write_augmentation_sets(folder, folder, 5, 2, seed=1)
    >>> open(csvs["rir"]).readline().strip()
    'ID,duration,wav,wav_format,wav_opts'
    """
    folder = os.fspath(folder)
    final_folder = os.path.abspath(os.fspath(final_folder))
    train_refs = [
        ref
        for spec in SPEAKERS
        if spec.split == "train"
        for ref in list_utterances(spec.name)
    ]
    n_samples = int(NOISE_SECONDS * RATE)
    sets = {"noise": [], "rir": []}
    for index in range(n_noises):
        rng = np.random.default_rng([int(seed), 2, index])
        kind = NOISE_KINDS[index % len(NOISE_KINDS)]
        if kind == "babble":
            picks = rng.choice(len(train_refs), int(rng.integers(4, 8)), False)
            signal = babble(n_samples, [train_refs[i] for i in picks], rng)
        elif kind == "music":
            signal = music_like(n_samples, rng)
        else:
            exponent = {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind]
            signal = coloured_noise(n_samples, exponent, rng)
        sets["noise"].append((f"noise_{kind}_{index:03d}", signal * 0.1))
    for index in range(n_rirs):
        rng = np.random.default_rng([int(seed), 3, index])
        sets["rir"].append((f"rir_sim_{index:03d}", simulated_rir(rng)))
    csvs = {}
    for name, entries in sets.items():
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        rows = []
        for file_id, signal in entries:
            relative = os.path.join(name, f"{file_id}.wav")
            subtype = "FLOAT" if name == "rir" else "PCM_16"
            sf.write(os.path.join(folder, relative), signal, RATE, subtype)
            rows.append(
                (
                    file_id,
                    f"{len(signal) / RATE:.4f}",
                    os.path.join(final_folder, relative),
                    "wav",
                    "",
                )
            )
        write_csv_atomic(os.path.join(folder, f"{name}.csv"), CSV_HEADER, rows)
        csvs[name] = os.path.join(final_folder, f"{name}.csv")
    return csvs
