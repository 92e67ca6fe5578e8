"""The spoofing systems of the toy corpus, one family each.

Every system turns a bona fide utterance of a speaker (8 kHz, trimmed to its
speech) into a spoof of the same speaker with the same length, drawing its
settings from a numpy generator:

| id | family | in |
|---|---|---|
| A01 | WORLD copy-synthesis (smoothed F0) | train, dev, eval |
| A02 | WORLD voice conversion (F0 shift, frequency warp, oversmoothing) | all |
| A03 | coarse Mel spectrogram (20-32 bands) inverted by Griffin-Lim | all |
| A04 | LPC pulse/noise vocoder | all |
| A05 | Codec2 round trip (1200-3200 bit/s) | all |
| A06 | espeak-ng TTS adapted to the speaker (F0, spectrum, duration) | all |
| A07 | coarse WORLD coding then AMR-NB telephone codec | eval only |
| A08 | phase-vocoder pitch shift | eval only |

Authors
 * speechbrain-asd developers
"""

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import numpy as np
from scipy.linalg import solve_toeplitz
from scipy.ndimage import median_filter, uniform_filter1d
from scipy.signal import lfilter, resample_poly

from asd_toy_corpus import world
from asd_toy_corpus.dsp import (
    EPS,
    active_region,
    fit_length,
    istft,
    mel_filterbank,
    resample,
    stft,
)
from asd_toy_corpus.texts import sentences_for
from asd_toy_corpus.tools import (
    codec2_round_trip,
    espeak,
    sox_codec_round_trip,
)

SAMPLE_RATE = 8000
N_FFT = 256
HOP = 64


@dataclass(frozen=True)
class SpoofSystem:
    """A spoofing system: its id, family and the function that applies it.

    Arguments
    ---------
    system_id : str
        ASVspoof-style id, e.g. ``"A01"``.
    family : str
        A short description of how it makes speech.
    seen : bool
        True for A01-A06 (train, dev and eval), False for the attacks held
        out for eval.
    function : callable
        ``function(x, rng, language) -> y``: 8 kHz signal in, same length
        out.

    Example
    -------
    >>> SYSTEMS["A03"].family
    'Griffin-Lim Mel inversion'
    """

    system_id: str
    family: str
    seen: bool
    function: Callable

    def apply(self, x, rng, language="en-us"):
        """Makes a spoof of an utterance.

        Arguments
        ---------
        x : numpy.ndarray
            The bona fide utterance at 8 kHz, 1-D, at least 0.3 s.
        rng : numpy.random.Generator
            Source of the system's random settings.
        language : str
            espeak-ng language of the speaker (used by the TTS system).

        Returns
        -------
        numpy.ndarray
            The spoof at 8 kHz, same length, peak 0.5.

        Raises
        ------
        ValueError
            When ``x`` is not a 1-D signal of at least 0.3 s.

        Example
        -------
        >>> x = np.sin(2 * np.pi * 150 * np.arange(4000) / 8000)
        >>> y = SYSTEMS["A01"].apply(x, np.random.default_rng(0))
        >>> y.shape
        (4000,)
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1 or len(x) < 0.3 * SAMPLE_RATE:
            raise ValueError(
                f"{self.system_id}: expected a 1-D signal of at least "
                f"{int(0.3 * SAMPLE_RATE)} samples, got shape {x.shape}"
            )
        y = fit_length(self.function(x, rng, language), len(x))
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{self.system_id} produced non-finite samples")
        return y / max(np.max(np.abs(y)), EPS) * 0.5


def world_copy_synthesis(x, rng, language):
    """A01: WORLD analysis and resynthesis (F0 median-smoothed).

    The envelope and aperiodicity are resynthesised as analysed; the F0
    contour loses its frame-to-frame micro-variation (5-frame median), as
    in a parametric TTS or copy-synthesis pipeline.

    Arguments
    ---------
    x : numpy.ndarray
        Utterance at 8 kHz.
    rng : numpy.random.Generator
        Unused (the system is deterministic).
    language : str
        Unused.

    Returns
    -------
    numpy.ndarray
        The resynthesised utterance.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 150 * np.arange(4000) / 8000)
    >>> world_copy_synthesis(x, None, "en-us").shape
    (4000,)
    """
    f0, sp, ap = world.analyze(x, SAMPLE_RATE)
    return world.synthesize(_smooth_f0(f0), sp, ap, SAMPLE_RATE, len(x))


def _smooth_f0(f0, width=5):
    """Median-filters F0 over voiced frames, removing its micro-variation.

    Arguments
    ---------
    f0 : numpy.ndarray
        F0 per frame, 0 when unvoiced.
    width : int
        Median filter width in frames (odd).

    Returns
    -------
    numpy.ndarray
        The smoothed F0 (unvoiced frames stay 0).
    """
    out = f0.copy()
    voiced = f0 > 0
    if voiced.sum() >= width:
        out[voiced] = median_filter(f0[voiced], size=width, mode="nearest")
    return out


def _warp_frequency(sp, alpha):
    """Warps spectral envelopes along frequency with an all-pass map.

    Arguments
    ---------
    sp : numpy.ndarray
        Envelopes ``[frames, bins]``.
    alpha : float
        Warping factor; positive moves formants up.

    Returns
    -------
    numpy.ndarray
        The warped envelopes.
    """
    n_bins = sp.shape[1]
    omega = np.linspace(0.0, np.pi, n_bins)
    # Read the input at the inverse-warped frequency of each output bin.
    source = omega + 2.0 * np.arctan(
        -alpha * np.sin(omega) / (1.0 + alpha * np.cos(omega))
    )
    position = np.clip(source / np.pi * (n_bins - 1), 0, n_bins - 1)
    low = np.minimum(position.astype(int), n_bins - 2)
    frac = position - low
    return sp[:, low] * (1.0 - frac) + sp[:, low + 1] * frac


def _map_log_f0(f0, mean, std_scale, shift):
    """Moves voiced log-F0 to a new mean and scales its spread.

    Arguments
    ---------
    f0 : numpy.ndarray
        F0 per frame, 0 when unvoiced.
    mean : float
        Target mean of log-F0 (before ``shift``).
    std_scale : float
        Factor applied to the deviations from the current mean.
    shift : float
        Added to the log-F0 after mapping.

    Returns
    -------
    numpy.ndarray
        The new F0 (unvoiced frames stay 0).
    """
    out = np.zeros_like(f0)
    voiced = f0 > 0
    if voiced.any():
        log_f0 = np.log(f0[voiced])
        mapped = mean + (log_f0 - log_f0.mean()) * std_scale + shift
        out[voiced] = np.clip(np.exp(mapped), 50.0, 600.0)
    return out


def _smooth_in_time(sp, width):
    """Averages log spectral envelopes over neighbouring frames.

    Arguments
    ---------
    sp : numpy.ndarray
        Envelopes ``[frames, bins]``.
    width : int
        Number of frames averaged.

    Returns
    -------
    numpy.ndarray
        The smoothed envelopes.
    """
    return np.exp(
        uniform_filter1d(np.log(sp + EPS), width, axis=0, mode="nearest")
    )


def world_voice_conversion(x, rng, language):
    """A02: WORLD with an F0 shift, a formant warp and oversmoothed spectra.

    Mimics a statistical voice conversion system: log-F0 moved by a factor
    of 0.8-1.25 with a compressed range, envelopes warped along frequency,
    smoothed over time and reduced to a low-order cepstral code,
    aperiodicity reduced to four bands.

    Arguments
    ---------
    x : numpy.ndarray
        Utterance at 8 kHz.
    rng : numpy.random.Generator
        Source of the conversion settings.
    language : str
        Unused.

    Returns
    -------
    numpy.ndarray
        The converted utterance.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 150 * np.arange(4000) / 8000)
    >>> world_voice_conversion(x, np.random.default_rng(0), "it").shape
    (4000,)
    """
    f0, sp, ap = world.analyze(x, SAMPLE_RATE)
    factor = rng.uniform(1.06, 1.25) ** rng.choice([-1.0, 1.0])
    voiced = f0 > 0
    mean = np.log(f0[voiced]).mean() if voiced.any() else 0.0
    f0 = _map_log_f0(f0, mean, rng.uniform(0.6, 0.9), np.log(factor))
    alpha = rng.uniform(0.03, 0.09) * np.sign(np.log(factor))
    sp = _warp_frequency(sp, alpha)
    sp = _smooth_in_time(sp, int(rng.integers(3, 6)))
    sp = world.smooth_envelope(sp, SAMPLE_RATE, int(rng.integers(16, 28)))
    ap = world.coarse_aperiodicity(ap, 4)
    return world.synthesize(f0, sp, ap, SAMPLE_RATE, len(x))


def griffin_lim_mel(x, rng, language):
    """A03: coarse Mel spectrogram inverted by Griffin-Lim.

    The magnitude is reduced to 20-32 Mel bands, spread back over the bins
    and given a phase by 4-12 Griffin-Lim iterations from a random start.

    Arguments
    ---------
    x : numpy.ndarray
        Utterance at 8 kHz.
    rng : numpy.random.Generator
        Source of the Mel resolution, iteration count and initial phase.
    language : str
        Unused.

    Returns
    -------
    numpy.ndarray
        The reconstructed utterance.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 150 * np.arange(4000) / 8000)
    >>> griffin_lim_mel(x, np.random.default_rng(0), "en-us").shape
    (4000,)
    """
    magnitude = np.abs(stft(x, N_FFT, HOP))
    bank = mel_filterbank(int(rng.integers(20, 33)), N_FFT, SAMPLE_RATE)
    # Each bin gets the triangle-weighted mean of the bands covering it.
    magnitude = (magnitude @ bank.T) @ bank / np.maximum(bank.sum(0), EPS)
    phase = np.exp(2j * np.pi * rng.random(magnitude.shape))
    for _ in range(int(rng.integers(4, 13))):
        spec = stft(istft(magnitude * phase, HOP, len(x)), N_FFT, HOP)
        phase = spec / np.maximum(np.abs(spec), EPS)
    return istft(magnitude * phase, HOP, len(x))


def _lpc(frame, order):
    """Linear prediction coefficients and error power of one frame.

    Arguments
    ---------
    frame : numpy.ndarray
        A windowed frame.
    order : int
        Prediction order.

    Returns
    -------
    a : numpy.ndarray
        Predictor ``x[n] ~ sum_k a[k] x[n - 1 - k]``.
    error : float
        Prediction error power (energy of the residual of the frame).
    """
    corr = np.correlate(frame, frame, mode="full")[len(frame) - 1 :]
    r = corr[: order + 1].copy()
    r[0] = r[0] * 1.0001 + EPS
    a = solve_toeplitz(r[:-1], r[1:])
    return a, max(float(r[0] - a @ r[1:]), EPS)


def _excitation(f0_frames, length, rng, noise_mix):
    """Pulse train at F0 in voiced parts, white noise elsewhere.

    Arguments
    ---------
    f0_frames : numpy.ndarray
        F0 per 10 ms frame (0 when unvoiced).
    length : int
        Number of samples.
    rng : numpy.random.Generator
        Noise source.
    noise_mix : float
        Share of noise added to voiced parts.

    Returns
    -------
    numpy.ndarray
        Unit-power excitation.
    """
    times = np.arange(length) / SAMPLE_RATE
    frame_times = np.arange(len(f0_frames)) * world.FRAME_PERIOD_MS / 1000.0
    f0 = np.interp(times, frame_times, f0_frames)
    voiced = f0 > 0
    phase = np.cumsum(np.where(voiced, f0, 0.0) / SAMPLE_RATE)
    pulses = np.zeros(length)
    hits = np.flatnonzero(np.diff(np.floor(phase), prepend=0.0) > 0)
    pulses[hits] = np.sqrt(SAMPLE_RATE / np.maximum(f0[hits], 50.0))
    noise = rng.standard_normal(length)
    return np.where(
        voiced,
        np.sqrt(1.0 - noise_mix) * pulses + np.sqrt(noise_mix) * noise,
        noise,
    )


def lpc_vocoder(x, rng, language):
    """A04: LPC analysis (10-14 poles) and pulse/noise excited synthesis.

    Arguments
    ---------
    x : numpy.ndarray
        Utterance at 8 kHz.
    rng : numpy.random.Generator
        Source of the order, noise mix and noise.
    language : str
        Unused.

    Returns
    -------
    numpy.ndarray
        The vocoded utterance.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 150 * np.arange(4000) / 8000)
    >>> lpc_vocoder(x, np.random.default_rng(0), "en-us").shape
    (4000,)
    """
    order = int(rng.integers(10, 15))
    hop, size = 80, 200
    excitation = _excitation(
        world.f0_contour(x, SAMPLE_RATE), len(x), rng, rng.uniform(0.02, 0.1)
    )
    analysis = np.hanning(size)
    synthesis = np.hanning(2 * hop + 1)[:-1]
    padded = np.pad(x, (size, size))
    exc = np.pad(excitation, (size, size))
    out = np.zeros(len(padded))
    lead = hop
    for centre in range(size, size + len(x), hop):
        frame = padded[centre - size // 2 : centre + size // 2] * analysis
        a, error = _lpc(frame, order)
        gain = np.sqrt(error / np.sum(analysis**2))
        segment = exc[centre - hop - lead : centre + hop]
        shaped = lfilter([gain], np.concatenate([[1.0], -a]), segment)[lead:]
        out[centre - hop : centre + hop] += shaped * synthesis
    return out[size : size + len(x)]


def codec2_resynthesis(x, rng, language):
    """A05: Codec2 encode/decode round trip at 1200-3200 bit/s.

    Arguments
    ---------
    x : numpy.ndarray
        Utterance at 8 kHz.
    rng : numpy.random.Generator
        Source of the bit-rate mode.
    language : str
        Unused.

    Returns
    -------
    numpy.ndarray
        The decoded utterance.

    Example
    -------
    >>> x = 0.3 * np.sin(2 * np.pi * 150 * np.arange(4000) / 8000)
    >>> codec2_resynthesis(x, np.random.default_rng(0), "en-us").shape[0]
    4000
    """
    mode = str(rng.choice(["3200", "2400", "1600", "1400", "1300", "1200"]))
    peak = max(np.max(np.abs(x)), EPS)
    return fit_length(codec2_round_trip(x / peak * 0.5, mode), len(x))


def _frame_positions(n_out, n_in):
    """Frame indices that stretch ``n_in`` frames to ``n_out`` frames.

    Arguments
    ---------
    n_out : int
        Number of output frames.
    n_in : int
        Number of input frames.

    Returns
    -------
    numpy.ndarray
        Nearest input frame for each output frame.
    """
    return np.round(np.linspace(0, n_in - 1, n_out)).astype(int)


def adapted_tts(x, rng, language):
    """A06: espeak-ng reads a sentence; WORLD adapts it to the speaker.

    The TTS output is time-aligned to the utterance's length (speaking rate
    chosen from a first pass, the rest by frame repetition), its log-F0
    moved to the speaker's mean and spread, and its long-term spectrum
    equalised to the speaker's (voiced frames), so that neither duration,
    pitch nor average spectrum gives it away.

    Arguments
    ---------
    x : numpy.ndarray
        The utterance of the speaker at 8 kHz (gives length, F0 and
        spectrum).
    rng : numpy.random.Generator
        Source of the sentence, voice variant and prosody.
    language : str
        espeak-ng language of the speaker.

    Returns
    -------
    numpy.ndarray
        The adapted synthetic speech.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 150 * np.arange(8000) / 8000)
    >>> adapted_tts(x, np.random.default_rng(0), "fr-fr").shape
    (8000,)
    """
    f0, sp = world.analyze_envelope(x, SAMPLE_RATE)
    voiced = f0 > 0
    female = voiced.any() and np.median(f0[voiced]) > 165.0
    variant = f"f{rng.integers(1, 6)}" if female else f"m{rng.integers(1, 8)}"
    voice = f"{language}+{variant}"
    text = str(rng.choice(sentences_for(language)))
    pitch = int(rng.integers(30, 70))
    target_s = len(x) / SAMPLE_RATE

    def speak(speed):
        """Runs espeak-ng and trims the result to its speech.

        Arguments
        ---------
        speed : int
            Words per minute.

        Returns
        -------
        numpy.ndarray
            Trimmed TTS output at 8 kHz.
        """
        signal, sr = espeak(text, voice, speed, pitch)
        signal = resample(signal, sr, SAMPLE_RATE)
        start, stop = active_region(signal, SAMPLE_RATE)
        return signal[start:stop]

    first = speak(175)
    speed = int(np.clip(175 * len(first) / SAMPLE_RATE / target_s, 80, 450))
    tts = speak(speed)
    t_f0, t_sp, t_ap = world.analyze(tts, SAMPLE_RATE)
    keep = _frame_positions(len(f0), len(t_f0))
    t_f0, t_sp, t_ap = t_f0[keep], t_sp[keep], t_ap[keep]
    t_voiced = t_f0 > 0
    if voiced.any() and t_voiced.any():
        log_f0 = np.log(f0[voiced])
        scale = log_f0.std() / max(np.log(t_f0[t_voiced]).std(), 1e-3)
        t_f0 = _map_log_f0(t_f0, log_f0.mean(), np.clip(scale, 0.5, 2.0), 0.0)
        gain = np.log(sp[voiced] + EPS).mean(axis=0) - np.log(
            t_sp[t_voiced] + EPS
        ).mean(axis=0)
        t_sp = t_sp * np.exp(np.convolve(gain, np.ones(9) / 9, mode="same"))
    return world.synthesize(t_f0, t_sp, t_ap, SAMPLE_RATE, len(x))


def coded_world_amr(x, rng, language):
    """A07 (unseen): low-rate WORLD coding then an AMR-NB round trip.

    Spectral envelopes reduced to 12-20 cepstral codes, F0 quantised to
    quarter tones, two aperiodicity bands; the result goes through the
    AMR-NB telephone codec at a random mode (4.75-12.2 kbit/s).

    Arguments
    ---------
    x : numpy.ndarray
        Utterance at 8 kHz.
    rng : numpy.random.Generator
        Source of the code sizes and AMR mode.
    language : str
        Unused.

    Returns
    -------
    numpy.ndarray
        The coded utterance.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 150 * np.arange(4000) / 8000)
    >>> coded_world_amr(x, np.random.default_rng(0), "en-us").shape
    (4000,)
    """
    f0, sp, ap = world.analyze(x, SAMPLE_RATE)
    sp = world.smooth_envelope(sp, SAMPLE_RATE, int(rng.integers(12, 21)))
    voiced = f0 > 0
    f0[voiced] = 2.0 ** (np.round(24.0 * np.log2(f0[voiced])) / 24.0)
    ap = world.coarse_aperiodicity(ap, 2)
    y = world.synthesize(f0, sp, ap, SAMPLE_RATE, len(x))
    y = y / max(np.max(np.abs(y)), EPS) * 0.5
    mode = str(int(rng.integers(0, 8)))
    coded = sox_codec_round_trip(y, "amr-nb", ("-C", mode))
    return fit_length(coded, len(x))


def phase_vocoder_shift(x, rng, language):
    """A08 (unseen): pitch shift by phase-vocoder stretch and resampling.

    The utterance is stretched in time by a factor of 1.1-1.25 (or its
    inverse) with a phase vocoder, then resampled back to its length, which
    scales pitch and formants together.

    Arguments
    ---------
    x : numpy.ndarray
        Utterance at 8 kHz.
    rng : numpy.random.Generator
        Source of the factor.
    language : str
        Unused.

    Returns
    -------
    numpy.ndarray
        The shifted utterance.

    Example
    -------
    >>> x = np.sin(2 * np.pi * 150 * np.arange(4000) / 8000)
    >>> phase_vocoder_shift(x, np.random.default_rng(0), "en-us").shape
    (4000,)
    """
    factor = rng.uniform(1.1, 1.25) ** rng.choice([-1.0, 1.0])
    spec = stft(x, N_FFT, HOP)
    steps = np.arange(0.0, len(spec) - 1, 1.0 / factor)
    expected = 2.0 * np.pi * HOP * np.arange(spec.shape[1]) / N_FFT
    phase = np.angle(spec[0])
    frames = np.empty((len(steps), spec.shape[1]), dtype=complex)
    for i, step in enumerate(steps):
        low = int(step)
        frac = step - low
        magnitude = (1 - frac) * np.abs(spec[low]) + frac * np.abs(
            spec[low + 1]
        )
        frames[i] = magnitude * np.exp(1j * phase)
        delta = np.angle(spec[low + 1]) - np.angle(spec[low]) - expected
        delta -= 2.0 * np.pi * np.round(delta / (2.0 * np.pi))
        phase = phase + expected + delta
    stretched = istft(frames, HOP, len(steps) * HOP)
    ratio = Fraction(len(x), max(len(stretched), 1)).limit_denominator(100)
    y = resample_poly(stretched, ratio.numerator, ratio.denominator)
    return fit_length(y, len(x))


SYSTEMS = {
    system.system_id: system
    for system in (
        SpoofSystem("A01", "WORLD copy-synthesis", True, world_copy_synthesis),
        SpoofSystem(
            "A02", "WORLD voice conversion", True, world_voice_conversion
        ),
        SpoofSystem("A03", "Griffin-Lim Mel inversion", True, griffin_lim_mel),
        SpoofSystem("A04", "LPC pulse/noise vocoder", True, lpc_vocoder),
        SpoofSystem("A05", "Codec2 round trip", True, codec2_resynthesis),
        SpoofSystem("A06", "espeak-ng TTS adapted by WORLD", True, adapted_tts),
        SpoofSystem(
            "A07", "coarse WORLD coding + AMR-NB", False, coded_world_amr
        ),
        SpoofSystem(
            "A08", "phase-vocoder pitch shift", False, phase_vocoder_shift
        ),
    )
}
SEEN_ATTACKS = tuple(sid for sid, s in SYSTEMS.items() if s.seen)
UNSEEN_ATTACKS = tuple(sid for sid, s in SYSTEMS.items() if not s.seen)
