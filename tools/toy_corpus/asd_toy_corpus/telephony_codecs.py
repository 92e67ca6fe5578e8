"""The seven codec conditions of the ASVspoof 2021 LA-style evaluation part.

Each condition is an in-process encode-decode round trip on a 16 kHz
signal, named as in ASVspoof 2021 LA (C1-C7):

- ``none``: the signal unchanged;
- ``alaw`` and ``ulaw``: G.711 A-law and mu-law at 8 kHz (libsndfile WAV
  subtypes ``ALAW`` and ``ULAW``, through an in-memory file);
- ``pstn``: a public switched telephone network-like line: a little line
  noise, a 300-3400 Hz transmit filter, mu-law at 8 kHz and the same filter
  on the receiving side;
- ``g722``: ITU-T G.722 sub-band ADPCM at 64 kbit/s and 16 kHz (the
  ``G722`` package; its decoder delay is compensated);
- ``gsm``: GSM 06.10 full rate at 8 kHz (libsndfile WAV subtype
  ``GSM610``);
- ``opus``: Opus at 16 kHz in an Ogg container (libsndfile ``OGG``/
  ``OPUS``); the container's stream serial number is random, the decoded
  samples are not.

Every condition gives back a float64 signal at 16 kHz of the input's
length, within [-1, 1].

Authors
 * speechbrain-asd developers
"""

import io

import numpy as np
import soundfile as sf
from G722 import G722
from scipy.signal import butter, sosfilt

from asd_toy_corpus.dsp import fit_length, resample

SAMPLE_RATE = 16000
NARROWBAND_RATE = 8000
CODECS = ("none", "alaw", "pstn", "g722", "ulaw", "gsm", "opus")
G722_BIT_RATE = 64000
# Samples by which the G722 package's decoded output lags its input.
G722_DELAY = 22
PSTN_BAND_HZ = (300.0, 3400.0)
PSTN_FILTER_ORDER = 8
PSTN_LINE_NOISE_DBFS = -65.0


def _clip(x):
    """Limits a signal to [-1, 1] as float64."""
    return np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)


def _soundfile_round_trip(x, sample_rate, file_format, subtype):
    """Writes a signal to an in-memory file and reads it back."""
    buffer = io.BytesIO()
    sf.write(buffer, _clip(x), sample_rate, format=file_format, subtype=subtype)
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float64")
    return fit_length(decoded, len(x))


def _narrowband_round_trip(x, subtype):
    """Codes a 16 kHz signal at 8 kHz with a libsndfile WAV subtype."""
    narrow = resample(x, SAMPLE_RATE, NARROWBAND_RATE)
    decoded = _soundfile_round_trip(narrow, NARROWBAND_RATE, "WAV", subtype)
    return resample(decoded, NARROWBAND_RATE, SAMPLE_RATE)


def _g722_round_trip(x):
    """Codes a 16 kHz signal with G.722 at 64 kbit/s, delay compensated."""
    padded = len(x) + G722_DELAY + (len(x) + G722_DELAY) % 2
    pcm = np.round(fit_length(_clip(x), padded) * 32767.0).astype(np.int16)
    coded = G722(SAMPLE_RATE, G722_BIT_RATE).encode(pcm)
    decoded = np.asarray(
        G722(SAMPLE_RATE, G722_BIT_RATE).decode(coded), dtype=np.float64
    )
    return fit_length(decoded[G722_DELAY:] / 32768.0, len(x))


def _pstn_filter(x):
    """The 300-3400 Hz band-pass of the PSTN line, at 8 kHz."""
    sos = butter(
        PSTN_FILTER_ORDER,
        PSTN_BAND_HZ,
        btype="bandpass",
        fs=NARROWBAND_RATE,
        output="sos",
    )
    return sosfilt(sos, x)


def _pstn_round_trip(x, rng):
    """Sends a 16 kHz signal over a PSTN-like line and back to 16 kHz."""
    narrow = resample(x, SAMPLE_RATE, NARROWBAND_RATE)
    noise = rng.standard_normal(len(narrow))
    narrow = narrow + noise * 10.0 ** (PSTN_LINE_NOISE_DBFS / 20.0)
    coded = _soundfile_round_trip(
        _pstn_filter(narrow), NARROWBAND_RATE, "WAV", "ULAW"
    )
    return resample(_pstn_filter(coded), NARROWBAND_RATE, SAMPLE_RATE)


def apply_codec(x, codec, rng):
    """Passes a 16 kHz signal through one codec condition.

    Arguments
    ---------
    x : numpy.ndarray
        The signal at 16 kHz, 1-D, within [-1, 1].
    codec : str
        One of ``CODECS``.
    rng : numpy.random.Generator
        Source of the PSTN line noise (the other conditions draw nothing).

    Returns
    -------
    numpy.ndarray
        The decoded signal at 16 kHz, ``len(x)`` samples, within [-1, 1].

    Raises
    ------
    ValueError
        For an unknown codec or a signal that is not 1-D.

    Example
    -------
    >>> x = 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    >>> y = apply_codec(x, "gsm", np.random.default_rng(0))
    >>> y.shape, bool(np.max(np.abs(y)) <= 1.0)
    ((16000,), True)
    """
    if codec not in CODECS:
        raise ValueError(
            f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}"
        )
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"apply_codec expects a 1-D signal, got {x.shape}")
    if len(x) == 0 or codec == "none":
        return _clip(x)
    if codec in ("alaw", "ulaw", "gsm"):
        subtype = {"alaw": "ALAW", "ulaw": "ULAW", "gsm": "GSM610"}[codec]
        y = _narrowband_round_trip(x, subtype)
    elif codec == "pstn":
        y = _pstn_round_trip(x, rng)
    elif codec == "g722":
        y = _g722_round_trip(x)
    else:
        y = _soundfile_round_trip(x, SAMPLE_RATE, "OGG", "OPUS")
    return _clip(fit_length(y, len(x)))
