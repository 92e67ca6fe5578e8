"""Access to the WORLD vocoder (pyworld): analysis and synthesis.

pyworld 0.3.5 imports ``pkg_resources`` in its ``__init__`` only to read its
own version, and setuptools >= 81 no longer ships that module. When the
package import fails for that reason, the compiled extension inside the
pyworld folder is loaded directly; it holds every function used here.

WORLD's D4C aperiodicity estimator is not used: its result depends on the
memory left by earlier calls in the same process (a few frames differ from
call to call), which would make the corpus depend on which worker made which
file. Aperiodicity is estimated here instead, per frequency band, from the
normalised autocorrelation of the band-passed signal at the pitch period.
DIO, StoneMask, CheapTrick and the synthesis are deterministic.

Authors
 * speechbrain-asd developers
"""

import functools
import importlib
import warnings

import numpy as np
from scipy.signal import butter, resample_poly, sosfilt

FRAME_PERIOD_MS = 10.0


@functools.lru_cache(maxsize=1)
def load_pyworld():
    """Imports pyworld, quietly, with a clear error when it is missing.

    pyworld 0.3.5 imports ``pkg_resources`` (hence ``setuptools<81`` in
    the tool's ``setup.py``), which warns that it is deprecated; the
    warning is silenced here.

    Returns
    -------
    module
        The ``pyworld`` module.

    Raises
    ------
    ImportError
        When pyworld cannot be imported.

    Example
    -------
    >>> hasattr(load_pyworld(), "synthesize")
    True
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return importlib.import_module("pyworld")
    except ImportError as error:
        raise ImportError(
            "the toy corpus needs pyworld and setuptools<81: "
            "pip install 'pyworld' 'setuptools<81'"
        ) from error


def analyze(x, sr, f0_floor=60.0, f0_ceil=500.0):
    """WORLD analysis: F0 (DIO + StoneMask), spectral envelope, aperiodicity.

    Arguments
    ---------
    x : numpy.ndarray
        The signal, 1-D.
    sr : int
        Its sample rate.
    f0_floor : float
        Lowest F0 searched, in Hz.
    f0_ceil : float
        Highest F0 searched, in Hz.

    Returns
    -------
    f0 : numpy.ndarray
        F0 per 10 ms frame in Hz (0 when unvoiced).
    sp : numpy.ndarray
        Power spectral envelope ``[frames, fft_size // 2 + 1]``.
    ap : numpy.ndarray
        Aperiodicity, same shape as ``sp``.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 150 * np.arange(8000) / 8000)
    >>> f0, sp, ap = analyze(x, 8000)
    >>> f0.shape[0] == sp.shape[0] == ap.shape[0]
    True
    """
    pw = load_pyworld()
    x = np.ascontiguousarray(x, dtype=np.float64)
    f0, times = pw.dio(
        x, sr, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=FRAME_PERIOD_MS
    )
    f0 = pw.stonemask(x, f0, times, sr)
    sp = pw.cheaptrick(x, f0, times, sr, f0_floor=f0_floor)
    ap = band_aperiodicity(x, sr, f0, sp.shape[1])
    return f0, sp, ap


def analyze_envelope(x, sr, f0_floor=60.0, f0_ceil=500.0):
    """WORLD analysis without aperiodicity: F0 and spectral envelope.

    Arguments
    ---------
    x : numpy.ndarray
        The signal, 1-D.
    sr : int
        Its sample rate.
    f0_floor : float
        Lowest F0 searched, in Hz.
    f0_ceil : float
        Highest F0 searched, in Hz.

    Returns
    -------
    f0 : numpy.ndarray
        F0 per 10 ms frame in Hz (0 when unvoiced).
    sp : numpy.ndarray
        Power spectral envelope ``[frames, fft_size // 2 + 1]``.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 150 * np.arange(8000) / 8000)
    >>> f0, sp = analyze_envelope(x, 8000)
    >>> sp.shape
    (101, 257)
    """
    pw = load_pyworld()
    f0 = f0_contour(x, sr, f0_floor, f0_ceil)
    times = np.arange(len(f0)) * FRAME_PERIOD_MS / 1000.0
    sp = pw.cheaptrick(
        np.ascontiguousarray(x, dtype=np.float64),
        f0,
        times,
        sr,
        f0_floor=f0_floor,
    )
    return f0, sp


def band_aperiodicity(x, sr, f0, n_bins, n_bands=4, upsample=4):
    """Aperiodicity per frame from band-wise periodicity at the pitch period.

    In each of ``n_bands`` equal bands of the signal (upsampled by
    ``upsample`` for sub-sample lags), the normalised correlation ``r``
    between a three-period window and the same window one period later (the
    best lag within two upsampled samples of ``sr / f0``) gives an
    aperiodicity ``(1 - r)**2``, at least 0.001; unvoiced frames are fully
    aperiodic. Band values are linearly interpolated over the bins.

    Arguments
    ---------
    x : numpy.ndarray
        The signal, 1-D.
    sr : int
        Its sample rate.
    f0 : numpy.ndarray
        F0 per 10 ms frame, 0 when unvoiced.
    n_bins : int
        Number of spectral bins (``fft_size // 2 + 1``).
    n_bands : int
        Number of frequency bands.
    upsample : int
        Upsampling factor of the correlation.

    Returns
    -------
    numpy.ndarray
        Aperiodicity ``[frames, n_bins]`` in [0.001, 1].

    Example
    -------
    >>> t = np.arange(8000) / 8000
    >>> harmonics = sum(np.cos(2 * np.pi * 150 * k * t) for k in range(1, 26))
    >>> ap = band_aperiodicity(harmonics, 8000, np.full(101, 150.0), 257)
    >>> ap.shape, float(ap[50].max()) < 0.01, float(ap[50].min())
    ((101, 257), True, 0.001)
    """
    rate = sr * upsample
    x = resample_poly(np.asarray(x, dtype=np.float64), upsample, 1)
    margin = rate // 10
    edges = np.linspace(0.0, sr / 2.0, n_bands + 1)
    band_values = np.ones((len(f0), n_bands))
    hop = rate * FRAME_PERIOD_MS / 1000.0
    # Causal filtering: both compared windows get the same phase shift.
    bands = np.stack(
        [
            np.pad(
                sosfilt(
                    butter(
                        4,
                        [max(low, 50.0), min(high, 0.49 * sr)],
                        "band",
                        fs=rate,
                        output="sos",
                    ),
                    x,
                ),
                (margin, margin),
            )
            for low, high in zip(edges[:-1], edges[1:])
        ]
    )
    energy = np.concatenate(
        [np.zeros((n_bands, 1)), np.cumsum(bands**2, axis=1)], axis=1
    )
    # Every other voiced frame is measured; its neighbour copies it.
    voiced = np.flatnonzero(f0 > 0)
    for frame in voiced[::2]:
        period = rate / f0[frame]
        width = int(round(3 * period))
        start = int(round(frame * hop - 1.5 * period)) + margin
        lags = int(round(period)) + np.arange(-1, 2)
        if start < 0 or start + width + lags[-1] > bands.shape[1]:
            continue
        a = bands[:, start : start + width]
        a_energy = energy[:, start + width] - energy[:, start]
        r = np.full(n_bands, -1.0)
        for lag in lags:
            b = bands[:, start + lag : start + lag + width]
            b_energy = energy[:, start + lag + width] - energy[:, start + lag]
            cross = np.einsum("ij,ij->i", a, b)
            r = np.maximum(r, cross / np.sqrt(a_energy * b_energy + 1e-20))
        values = np.maximum((1.0 - np.maximum(r, 0.0)) ** 2, 0.001)
        band_values[frame] = values
        if frame + 1 < len(f0) and f0[frame + 1] > 0:
            band_values[frame + 1] = values
    centres = (np.arange(n_bands) + 0.5) / n_bands * (n_bins - 1)
    bins = np.arange(n_bins)
    # Linear interpolation between band centres as a [bands, bins] matrix.
    weights = np.stack(
        [np.interp(bins, centres, row) for row in np.eye(n_bands)]
    )
    return band_values @ weights


def f0_contour(x, sr, f0_floor=60.0, f0_ceil=500.0):
    """F0 per 10 ms frame (DIO + StoneMask), 0 where unvoiced.

    Arguments
    ---------
    x : numpy.ndarray
        The signal, 1-D.
    sr : int
        Its sample rate.
    f0_floor : float
        Lowest F0 searched, in Hz.
    f0_ceil : float
        Highest F0 searched, in Hz.

    Returns
    -------
    numpy.ndarray
        F0 in Hz per frame.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 150 * np.arange(8000) / 8000)
    >>> bool(140 < np.median(f0_contour(x, 8000)) < 160)
    True
    """
    pw = load_pyworld()
    x = np.ascontiguousarray(x, dtype=np.float64)
    f0, times = pw.dio(
        x, sr, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=FRAME_PERIOD_MS
    )
    return pw.stonemask(x, f0, times, sr)


def synthesize(f0, sp, ap, sr, length):
    """WORLD synthesis, cut or padded to an exact length.

    Arguments
    ---------
    f0 : numpy.ndarray
        F0 per 10 ms frame.
    sp : numpy.ndarray
        Spectral envelope ``[frames, bins]``.
    ap : numpy.ndarray
        Aperiodicity ``[frames, bins]``.
    sr : int
        Sample rate.
    length : int
        Number of output samples.

    Returns
    -------
    numpy.ndarray
        The synthesised signal.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 150 * np.arange(8000) / 8000)
    >>> synthesize(*analyze(x, 8000), 8000, 8000).shape
    (8000,)
    """
    pw = load_pyworld()
    y = pw.synthesize(
        np.ascontiguousarray(f0, dtype=np.float64),
        np.ascontiguousarray(sp, dtype=np.float64),
        np.ascontiguousarray(ap, dtype=np.float64),
        sr,
        FRAME_PERIOD_MS,
    )
    if len(y) >= length:
        return y[:length]
    return np.concatenate([y, np.zeros(length - len(y))])


def smooth_envelope(sp, sr, dims):
    """Reduces a spectral envelope to ``dims`` cepstral codes and back.

    Arguments
    ---------
    sp : numpy.ndarray
        Spectral envelope ``[frames, bins]``.
    sr : int
        Sample rate.
    dims : int
        Number of coded dimensions (smaller = smoother).

    Returns
    -------
    numpy.ndarray
        The smoothed envelope, same shape.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 150 * np.arange(8000) / 8000)
    >>> _, sp, _ = analyze(x, 8000)
    >>> smooth_envelope(sp, 8000, 20).shape == sp.shape
    True
    """
    pw = load_pyworld()
    fft_size = 2 * (sp.shape[1] - 1)
    code = pw.code_spectral_envelope(np.ascontiguousarray(sp), sr, dims)
    return pw.decode_spectral_envelope(code, sr, fft_size)


def coarse_aperiodicity(ap, n_bands=4):
    """Replaces aperiodicity by its averages over a few frequency bands.

    WORLD's own band coding needs a sample rate above 8 kHz, so the bands
    here are equal slices of the bins, linearly interpolated back.

    Arguments
    ---------
    ap : numpy.ndarray
        Aperiodicity ``[frames, bins]``.
    n_bands : int
        Number of bands.

    Returns
    -------
    numpy.ndarray
        The band-wise aperiodicity, same shape.

    Example
    -------
    >>> ap = np.linspace(0.0, 1.0, 9)[None, :].repeat(2, axis=0)
    >>> coarse_aperiodicity(ap, 3)[0].round(3).tolist()
    [0.125, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 0.875]
    """
    n_bins = ap.shape[1]
    edges = np.linspace(0, n_bins, n_bands + 1).round().astype(int)
    centres = (edges[:-1] + edges[1:] - 1) / 2.0
    means = np.stack(
        [ap[:, lo:hi].mean(axis=1) for lo, hi in zip(edges[:-1], edges[1:])],
        axis=1,
    )
    bins = np.arange(n_bins)
    return np.stack([np.interp(bins, centres, row) for row in means])
