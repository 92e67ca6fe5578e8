"""Signal processing primitives shared by the corpus generator (numpy/scipy).

Resampling, frame energies and speech activity, a short-time Fourier
transform with its overlap-add inverse, and a Mel filterbank. Everything
works on 1-D float64 numpy arrays.

Authors
 * speechbrain-asd developers
"""

import math

import numpy as np
from scipy.signal import resample_poly

EPS = 1e-10


def resample(x, orig_sr, new_sr):
    """Resamples a signal with a polyphase filter.

    Arguments
    ---------
    x : numpy.ndarray
        The signal, 1-D.
    orig_sr : int
        Its sample rate.
    new_sr : int
        The wanted sample rate.

    Returns
    -------
    numpy.ndarray
        The resampled signal (float64).

    Example
    -------
    >>> resample(np.ones(800), 8000, 16000).shape
    (1600,)
    """
    x = np.asarray(x, dtype=np.float64)
    if orig_sr == new_sr:
        return x.copy()
    common = math.gcd(int(orig_sr), int(new_sr))
    return resample_poly(x, int(new_sr) // common, int(orig_sr) // common)


def fit_length(x, length):
    """Crops or zero-pads a signal at its end to an exact length.

    Arguments
    ---------
    x : numpy.ndarray
        The signal, 1-D.
    length : int
        The wanted number of samples.

    Returns
    -------
    numpy.ndarray
        The signal with exactly ``length`` samples.

    Example
    -------
    >>> fit_length(np.ones(3), 5).tolist()
    [1.0, 1.0, 1.0, 0.0, 0.0]
    """
    x = np.asarray(x, dtype=np.float64)
    if len(x) >= length:
        return x[:length].copy()
    return np.concatenate([x, np.zeros(length - len(x))])


def frame_energies_db(x, sr, frame_s=0.02):
    """Energy of consecutive non-overlapping frames, in dB.

    Arguments
    ---------
    x : numpy.ndarray
        The signal, 1-D.
    sr : int
        Its sample rate.
    frame_s : float
        Frame length in seconds.

    Returns
    -------
    numpy.ndarray
        Mean-square energy of each full frame in dB (a last partial frame
        is dropped; a signal shorter than one frame gives one frame).

    Example
    -------
    >>> frame_energies_db(np.ones(320), 8000).round(1).tolist()
    [0.0, 0.0]
    """
    x = np.asarray(x, dtype=np.float64)
    frame = max(1, int(round(frame_s * sr)))
    n_frames = max(1, len(x) // frame)
    frames = fit_length(x, n_frames * frame).reshape(n_frames, frame)
    return 10.0 * np.log10(np.mean(frames**2, axis=1) + EPS)


def active_frames(x, sr, frame_s=0.02, floor_db=-35.0):
    """Marks the frames that hold speech by an energy threshold.

    A frame is active when its energy lies within ``-floor_db`` dB of the
    loud frames (the 95th percentile of frame energies).

    Arguments
    ---------
    x : numpy.ndarray
        The signal, 1-D.
    sr : int
        Its sample rate.
    frame_s : float
        Frame length in seconds.
    floor_db : float
        Threshold relative to the loud frames, in dB (negative).

    Returns
    -------
    numpy.ndarray
        One boolean per frame.

    Example
    -------
    >>> x = np.concatenate([np.zeros(160), np.ones(160)])
    >>> active_frames(x, 8000).tolist()
    [False, True]
    """
    energies = frame_energies_db(x, sr, frame_s)
    return energies > np.percentile(energies, 95) + floor_db


def active_region(x, sr, margin_s=0.05, frame_s=0.02, floor_db=-35.0):
    """Finds the span from the first to the last active frame.

    Arguments
    ---------
    x : numpy.ndarray
        The signal, 1-D.
    sr : int
        Its sample rate.
    margin_s : float
        Margin kept before and after the active frames, in seconds.
    frame_s : float
        Frame length in seconds.
    floor_db : float
        Activity threshold relative to the loud frames, in dB.

    Returns
    -------
    start : int
        First sample of the span.
    stop : int
        One past its last sample.

    Example
    -------
    >>> x = np.concatenate([np.zeros(800), np.ones(800), np.zeros(800)])
    >>> active_region(x, 8000, margin_s=0.0)
    (800, 1600)
    """
    active = np.flatnonzero(active_frames(x, sr, frame_s, floor_db))
    frame = max(1, int(round(frame_s * sr)))
    if len(active) == 0:
        return 0, len(x)
    margin = int(round(margin_s * sr))
    start = max(0, active[0] * frame - margin)
    stop = min(len(x), (active[-1] + 1) * frame + margin)
    return int(start), int(stop)


def active_rms(x, sr):
    """Root mean square of the active (speech) frames of a signal.

    Arguments
    ---------
    x : numpy.ndarray
        The signal, 1-D.
    sr : int
        Its sample rate.

    Returns
    -------
    float
        The RMS over active frames (over all samples when none is active).

    Example
    -------
    >>> x = np.concatenate([np.zeros(160), 0.5 * np.ones(160)])
    >>> round(active_rms(x, 8000), 3)
    0.5
    """
    x = np.asarray(x, dtype=np.float64)
    frame = max(1, int(round(0.02 * sr)))
    active = active_frames(x, sr)
    n_frames = len(active)
    frames = fit_length(x, n_frames * frame).reshape(n_frames, frame)
    chosen = frames[active] if active.any() else frames
    return float(np.sqrt(np.mean(chosen**2) + EPS))


def stft(x, n_fft, hop):
    """Short-time Fourier transform with a periodic Hann window.

    The signal is padded by ``n_fft // 2`` on both sides so that frame
    ``t`` is centred on sample ``t * hop``.

    Arguments
    ---------
    x : numpy.ndarray
        The signal, 1-D.
    n_fft : int
        Frame and FFT length.
    hop : int
        Hop between frames, at most ``n_fft // 2``.

    Returns
    -------
    numpy.ndarray
        Complex spectrogram ``[frames, n_fft // 2 + 1]``.

    Example
    -------
    >>> stft(np.zeros(1000), 256, 64).shape
    (16, 129)
    """
    x = np.asarray(x, dtype=np.float64)
    pad = n_fft // 2
    padded = np.pad(x, (pad, pad + n_fft))
    n_frames = 1 + len(x) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    window = np.hanning(n_fft + 1)[:-1]
    return np.fft.rfft(padded[index] * window, axis=1)


def istft(spec, hop, length):
    """Inverts ``stft`` by weighted overlap-add.

    Arguments
    ---------
    spec : numpy.ndarray
        Complex spectrogram ``[frames, n_fft // 2 + 1]``.
    hop : int
        Hop between frames, as used by ``stft``.
    length : int
        Number of samples of the output.

    Returns
    -------
    numpy.ndarray
        The signal, ``length`` samples.

    Example
    -------
    >>> x = np.random.default_rng(0).standard_normal(1000)
    >>> bool(np.allclose(istft(stft(x, 256, 64), 64, 1000), x))
    True
    """
    n_fft = 2 * (spec.shape[1] - 1)
    window = np.hanning(n_fft + 1)[:-1]
    frames = np.fft.irfft(spec, n=n_fft, axis=1) * window
    out = _overlap_add(frames, hop)
    norm = _overlap_add(np.broadcast_to(window**2, frames.shape), hop)
    out /= np.maximum(norm, 1e-8)
    pad = n_fft // 2
    return fit_length(out[pad:], length)


def _overlap_add(frames, hop):
    """Sums frames placed ``hop`` samples apart.

    Arguments
    ---------
    frames : numpy.ndarray
        Frames ``[count, length]``.
    hop : int
        Hop between frame starts.

    Returns
    -------
    numpy.ndarray
        The overlap-added signal, ``length + hop * (count - 1)`` samples.
    """
    count, length = frames.shape
    out = np.zeros(length + hop * (count - 1))
    if length % hop == 0:
        # Frames r, r + q, r + 2q, ... do not overlap: add them as one block.
        q = length // hop
        for r in range(q):
            block = frames[r::q].reshape(-1)
            out[r * hop : r * hop + len(block)] += block
        return out
    for t, frame in enumerate(frames):
        out[t * hop : t * hop + length] += frame
    return out


def mel_filterbank(n_mels, n_fft, sr, f_min=0.0, f_max=None):
    """Triangular Mel filterbank (HTK Mel scale, unit peak).

    Arguments
    ---------
    n_mels : int
        Number of bands.
    n_fft : int
        FFT length of the spectra it applies to.
    sr : int
        Sample rate.
    f_min : float
        Lowest band edge in Hz.
    f_max : float, optional
        Highest band edge in Hz (default: ``sr / 2``).

    Returns
    -------
    numpy.ndarray
        Weights ``[n_mels, n_fft // 2 + 1]``.

    Example
    -------
    >>> mel_filterbank(40, 512, 16000).shape
    (40, 257)
    """
    f_max = sr / 2.0 if f_max is None else f_max

    def to_mel(hz):
        """Converts Hz to the HTK Mel scale.

        Arguments
        ---------
        hz : numpy.ndarray or float
            Frequencies in Hz.

        Returns
        -------
        numpy.ndarray or float
            Mel values.
        """
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def to_hz(mel):
        """Converts HTK Mel values back to Hz.

        Arguments
        ---------
        mel : numpy.ndarray
            Mel values.

        Returns
        -------
        numpy.ndarray
            Frequencies in Hz.
        """
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    edges = to_hz(np.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2))
    freqs = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / np.maximum(centre - lower, EPS)
    falling = (upper - freqs[None, :]) / np.maximum(upper - centre, EPS)
    return np.clip(np.minimum(rising, falling), 0.0, None)
