"""Reads audio files as checked mono waveforms at a given rate, in windows.

Authors
 * speechbrain-asd developers
"""

from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio.functional


class AudioInputError(ValueError):
    """An audio input that cannot be scored, with the file it comes from.

    Arguments
    ---------
    path : str or os.PathLike
        The file.
    problem : str
        What is wrong with it.

    Example
    -------
    >>> error = AudioInputError("clip.wav", "empty file (0 bytes)")
    >>> str(error)
    'clip.wav: empty file (0 bytes)'
    >>> error.path
    'clip.wav'
    """

    def __init__(self, path, problem):
        """Stores the file and builds the message."""
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def window_spans(num_samples, window, hop):
    """Splits a signal into analysis windows.

    A signal of at most ``window`` samples is one window. A longer one gets
    windows of ``window`` samples every ``hop`` samples, and a last window
    that ends at the end of the signal.

    Arguments
    ---------
    num_samples : int
        Length of the signal (at least 1).
    window : int
        Window length, in samples.
    hop : int
        Hop between window starts, in samples.

    Returns
    -------
    spans : list of (int, int)
        ``(start, stop)`` of each window.

    Example
    -------
    >>> window_spans(10, window=4, hop=2)
    [(0, 4), (2, 6), (4, 8), (6, 10)]
    >>> window_spans(11, window=4, hop=3)
    [(0, 4), (3, 7), (6, 10), (7, 11)]
    >>> window_spans(3, window=4, hop=2)
    [(0, 3)]
    """
    if num_samples < 1 or window < 1 or hop < 1:
        raise ValueError(
            "num_samples, window and hop must be positive, got "
            f"{num_samples}, {window}, {hop}"
        )
    if num_samples <= window:
        return [(0, num_samples)]
    starts = list(range(0, num_samples - window, hop))
    starts.append(num_samples - window)
    return [(start, start + window) for start in starts]


class AudioWindows:
    """Reads an audio file window by window, as mono waveforms at a given rate.

    Any format soundfile reads, at any rate and with any number of channels
    (averaged to mono). Opening checks the file; each window is read,
    checked for NaN and inf, and resampled only when iterated. Problems
    raise ``AudioInputError``.

    Arguments
    ---------
    path : str or os.PathLike
        The audio file (any format soundfile reads).
    sample_rate : int
        Sample rate of the windows, in Hz.
    window_seconds : float, optional
        Window length; None reads the whole file as one window.
    hop_seconds : float, optional
        Hop between windows; None means ``window_seconds``.
    min_seconds : float
        Files shorter than this raise ``AudioInputError``.

    Example
    -------
    >>> import soundfile
    >>> path = getfixture("tmp_path") / "tone.wav"
    >>> tone = np.sin(np.arange(24000) / 10.0).astype("float32")
    >>> soundfile.write(path, np.stack([tone, tone], axis=1), 8000)
    >>> windows = AudioWindows(path, 16000, window_seconds=2.0)
    >>> windows.duration, len(windows)
    (3.0, 2)
    >>> [tuple(wav.shape) for wav in windows]
    [(32000,), (32000,)]
    """

    def __init__(
        self,
        path,
        sample_rate=16000,
        window_seconds=None,
        hop_seconds=None,
        min_seconds=0.0,
    ):
        """Opens the header and plans the windows."""
        self.path = str(path)
        self.sample_rate = sample_rate
        info = _audio_info(Path(path))
        self.source_rate = info.samplerate
        self.channels = info.channels
        self.num_frames = info.frames
        self.duration = info.frames / info.samplerate
        if self.num_frames < 1:
            raise AudioInputError(path, "no audio samples in the file")
        if self.duration < min_seconds:
            raise AudioInputError(
                path,
                f"too short: {self.duration:.3f} s, the model needs at "
                f"least {min_seconds:g} s",
            )
        if window_seconds is None:
            self.spans = [(0, self.num_frames)]
        else:
            window = max(1, round(window_seconds * self.source_rate))
            hop_seconds = hop_seconds or window_seconds
            hop = max(1, round(hop_seconds * self.source_rate))
            self.spans = window_spans(self.num_frames, window, hop)
        self.peak = 0.0

    def __len__(self):
        """Number of windows."""
        return len(self.spans)

    def __iter__(self):
        """Yields the mono windows in order, updating ``peak``."""
        try:
            with soundfile.SoundFile(self.path) as audio:
                for start, stop in self.spans:
                    audio.seek(start)
                    block = audio.read(
                        stop - start, dtype="float32", always_2d=True
                    )
                    yield self._convert(block, start, stop)
        except (soundfile.SoundFileError, RuntimeError, OSError) as error:
            raise AudioInputError(
                self.path, f"corrupt or unreadable audio ({error})"
            ) from error

    def _convert(self, block, start, stop):
        """Checks a block and makes it a mono waveform at ``sample_rate``."""
        if block.shape[0] < stop - start:
            raise AudioInputError(
                self.path,
                "truncated file: its header announces "
                f"{self.num_frames} frames, reading stopped at frame "
                f"{start + block.shape[0]}",
            )
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            first = (start + np.argmin(finite)) / self.source_rate
            raise AudioInputError(
                self.path,
                f"non-finite samples (NaN or inf), the first at {first:.3f} s",
            )
        mono = torch.from_numpy(block.mean(axis=1))
        self.peak = max(self.peak, float(mono.abs().max()))
        if self.source_rate != self.sample_rate:
            mono = torchaudio.functional.resample(
                mono, self.source_rate, self.sample_rate
            )
        return mono


def _audio_info(path):
    """Opens an audio file's header, turning failures into clear errors."""
    if not path.exists():
        raise AudioInputError(path, "no such file")
    if path.is_dir():
        raise AudioInputError(path, "is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioInputError(path, "empty file (0 bytes)")
    try:
        return soundfile.info(str(path))
    except (soundfile.SoundFileError, RuntimeError, OSError) as error:
        raise AudioInputError(
            path, f"not an audio file soundfile can read ({error})"
        ) from error


def read_audio(path, sample_rate=16000, min_seconds=0.0):
    """Reads a whole audio file as a mono waveform at a given rate.

    Arguments
    ---------
    path : str or os.PathLike
        The audio file (any format soundfile reads).
    sample_rate : int
        Target sample rate, in Hz.
    min_seconds : float
        Files shorter than this raise ``AudioInputError``.

    Returns
    -------
    wav : torch.Tensor
        Float waveform, shape [samples].

    Example
    -------
    >>> import soundfile
    >>> path = getfixture("tmp_path") / "ramp.flac"
    >>> soundfile.write(path, np.zeros(44100, dtype="int16"), 44100)
    >>> read_audio(path).shape
    torch.Size([16000])
    """
    return next(iter(AudioWindows(path, sample_rate, min_seconds=min_seconds)))
