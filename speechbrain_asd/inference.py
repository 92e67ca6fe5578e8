"""Scores audio with a trained spoofing countermeasure: ``SpoofDetector``.

``SpoofDetector`` loads a model folder written by
``speechbrain_asd.export.export_model_folder`` (local folders only: it never
downloads) and scores audio files or waveform batches. Per input it gives:

- the bona fide score, ``log P(bona fide) - log P(spoof)`` (the log-odds of
  the bona fide class against the spoof classes together): higher means
  more bona fide; this is the score ASVspoof metrics take;
- the bona fide probability, ``sigmoid(score)``;
- the predicted class among the model's classes (bona fide, A01-A06,
  adversarial) and its name.

Audio files: anything soundfile reads (WAV, FLAC, OGG, ...), any sample
rate (resampled to the model's rate), any number of channels (averaged to
mono), integer or float samples. Files longer than the analysis window
(``window_seconds`` in the model's hyperparams.yaml) are read and scored in
windows, so memory stays bounded; the file's score is the mean of its window
scores and its class the argmax of its mean window log-posteriors. Files up
to one window long are scored whole, at their own length (the model accepts
any length). Files shorter than ``min_seconds``, empty, missing, corrupt or
non-audio files and files with NaN or infinite samples raise
``AudioInputError`` naming the file. Digital silence is scored like any
input and the result carries a warning.

Authors
 * speechbrain-asd developers
"""

import dataclasses
import math
from pathlib import Path
from typing import List, NamedTuple, Tuple

import numpy as np
import soundfile
import torch
import torchaudio.functional
from speechbrain.inference.interfaces import Pretrained, pretrained_from_hparams
from speechbrain.utils.fetching import FetchConfig, FetchFrom, FetchSource
from speechbrain.utils.logger import get_logger
from tqdm import tqdm

from speechbrain_asd.lobes.score import bonafide_score
from speechbrain_asd.model_folder import (
    CHECKPOINT_FILE,
    HPARAMS_FILE,
    ONNX_FILE,
    ModelFolderError,
    check_model_folder,
)
from speechbrain_asd.scorefiles import (
    cm_trials_by_id,
    read_cm_protocol,
    write_cm_scores,
)

logger = get_logger(__name__)

BACKENDS = ("torch", "onnx")
# Peak amplitude at or below which a file counts as digital silence: one
# step of 16-bit PCM.
SILENCE_PEAK = 2.0**-15


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


class BatchClassification(NamedTuple):
    """Outputs of ``SpoofDetector.classify_batch``, one row per waveform.

    Unpacks like the tuple of SpeechBrain's ``EncoderClassifier``.

    Attributes
    ----------
    log_probs : torch.Tensor
        Log-posteriors of the classes, shape [batch, n_classes].
    bonafide_score : torch.Tensor
        Bona fide log-odds, shape [batch]; higher means more bona fide.
    bonafide_prob : torch.Tensor
        ``sigmoid(bonafide_score)``, P(bona fide), shape [batch].
    index : torch.Tensor
        Index of the most likely class, shape [batch].
    labels : list of str
        Name of the most likely class of each row.

    Example
    -------
    >>> out = BatchClassification(
    ...     torch.zeros(1, 2), torch.zeros(1), torch.full((1,), 0.5),
    ...     torch.zeros(1, dtype=torch.long), ["bonafide"]
    ... )
    >>> log_probs, score, prob, index, labels = out
    >>> labels
    ['bonafide']
    """

    log_probs: torch.Tensor
    bonafide_score: torch.Tensor
    bonafide_prob: torch.Tensor
    index: torch.Tensor
    labels: List[str]


@dataclasses.dataclass(frozen=True)
class FileScore:
    """The result of scoring one audio file.

    Attributes
    ----------
    file : str
        The file, as given.
    bonafide_score : float
        Mean of the window scores, each the bona fide log-odds
        ``log P(bona fide) - log P(spoof)``; higher means more bona fide.
    bonafide_prob : float
        ``sigmoid(bonafide_score)``; P(bona fide) for a one-window file.
    label : str
        Most likely class: argmax of the mean window log-posteriors.
    label_index : int
        Index of ``label`` among the model's classes.
    duration : float
        Length of the file, in seconds.
    num_windows : int
        Number of windows scored.
    warnings : tuple of str
        Remarks on the input (e.g. digital silence); empty when none.

    Example
    -------
    >>> result = FileScore("a.wav", 2.0, 0.88, "bonafide", 0, 3.1, 1)
    >>> result.to_dict()["label"]
    'bonafide'
    """

    file: str
    bonafide_score: float
    bonafide_prob: float
    label: str
    label_index: int
    duration: float
    num_windows: int
    warnings: Tuple[str, ...] = ()

    def to_dict(self):
        """The result as a JSON-ready dict.

        Returns
        -------
        result : dict
            The fields, ``warnings`` as a list.

        Example
        -------
        >>> FileScore("a.wav", 0.0, 0.5, "A01", 1, 1.0, 1).to_dict()["file"]
        'a.wav'
        """
        result = dataclasses.asdict(self)
        result["warnings"] = list(self.warnings)
        return result


@dataclasses.dataclass(frozen=True)
class FileError:
    """A file that could not be scored (``score_files(skip_errors=True)``).

    Attributes
    ----------
    file : str
        The file, as given.
    error : str
        Why it could not be scored.

    Example
    -------
    >>> FileError("a.txt", "a.txt: not an audio file").to_dict()
    {'file': 'a.txt', 'error': 'a.txt: not an audio file'}
    """

    file: str
    error: str

    def to_dict(self):
        """The error as a JSON-ready dict.

        Returns
        -------
        result : dict
            ``{"file": ..., "error": ...}``.

        Example
        -------
        >>> FileError("a.wav", "missing").to_dict()["error"]
        'missing'
        """
        return dataclasses.asdict(self)


def window_spans(num_samples, window, hop):
    """Splits a signal into analysis windows.

    A signal of at most ``window`` samples is one window, itself. A longer
    one gets windows of exactly ``window`` samples starting every ``hop``
    samples, and a last window that ends at the end of the signal.

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
    """Reads an audio file window by window, as mono waveforms at a given
    sample rate.

    Opening checks the file (exists, is audio, has enough samples); each
    window is read, checked for NaN/inf, averaged to mono and resampled
    only when iterated, so a long file never sits in memory whole. Windows
    are resampled one by one; at their edges the result may differ from
    resampling the whole file by the filter's few-sample transient.

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
        """Opens the header and plans the windows; see the class docstring."""
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
        """Number of windows.

        Returns
        -------
        count : int
            Number of windows the iteration yields.
        """
        return len(self.spans)

    def __iter__(self):
        """Yields the windows in order; updates ``peak``.

        Yields
        ------
        wav : torch.Tensor
            Mono waveform of one window at ``sample_rate``, shape [samples].
        """
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
        """Checks a block read from the file and makes it a mono waveform
        at the target rate.

        Arguments
        ---------
        block : numpy.ndarray
            Samples read, shape [frames, channels].
        start : int
            First frame of the block in the file.
        stop : int
            Frame after the last one asked for.

        Returns
        -------
        wav : torch.Tensor
            Mono waveform at ``sample_rate``, shape [samples].
        """
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
    """Opens an audio file's header, turning every failure into a clear
    error.

    Arguments
    ---------
    path : pathlib.Path
        The file.

    Returns
    -------
    info : soundfile._SoundFileInfo
        Its sample rate, channels and number of frames.
    """
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


def load_checkpoint(model, path):
    """Loads a state dict into a model, strictly and without unpickling
    code; the Pretrainer's load hook of the model.

    Arguments
    ---------
    model : torch.nn.Module
        The model to fill.
    path : str or os.PathLike
        The checkpoint (a state dict saved by ``torch.save``).

    Example
    -------
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> torch.save(torch.nn.Linear(2, 1).state_dict(), path)
    >>> load_checkpoint(torch.nn.Linear(2, 1), path)
    >>> load_checkpoint(torch.nn.Linear(3, 1), path)
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: ...model.ckpt does not ...
    """
    state = read_state_dict(path)
    check_state_dict(model.state_dict(), state, path)
    model.load_state_dict(state, strict=True)


def verify_checkpoint_restored(model, path):
    """Checks that every parameter and buffer of a model holds the value
    stored in a checkpoint (SpeechBrain's Pretrainer loads non-strictly).

    Arguments
    ---------
    model : torch.nn.Module
        The loaded model.
    path : str or os.PathLike
        The checkpoint it was loaded from.

    Raises
    ------
    ModelFolderError
        Listing the missing, unexpected, reshaped or differing entries.

    Example
    -------
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> torch.save(torch.nn.Linear(2, 1).state_dict(), path)
    >>> verify_checkpoint_restored(torch.nn.Linear(2, 1), path)
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: ...not restored: bias, weight
    """
    state = read_state_dict(path)
    own = model.state_dict()
    check_state_dict(own, state, path)
    differing = sorted(
        name
        for name, value in state.items()
        if not torch.equal(own[name].detach().cpu(), value)
    )
    if differing:
        raise ModelFolderError(
            f"{path}: the model's parameters were not restored from this "
            f"checkpoint; not restored: {_listing(differing)}"
        )


def read_state_dict(path):
    """Reads a state dict with ``torch.load(weights_only=True)``.

    Arguments
    ---------
    path : str or os.PathLike
        The checkpoint.

    Returns
    -------
    state : dict
        Tensor by name, on the CPU.

    Example
    -------
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> torch.save({"w": torch.ones(2)}, path)
    >>> read_state_dict(path)
    {'w': tensor([1., 1.])}
    >>> _ = path.write_text("not a checkpoint")
    >>> read_state_dict(path)
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: ...cannot read the...
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ModelFolderError(
            f"{path}: cannot read the checkpoint ({type(error).__name__}: "
            f"{error})"
        ) from error
    if not isinstance(state, dict) or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise ModelFolderError(
            f"{path}: not a state dict (a mapping of names to tensors)"
        )
    return state


def check_state_dict(expected, state, path, model_source=HPARAMS_FILE):
    """Raises ModelFolderError unless a state dict has exactly the entries
    and shapes of the model's.

    Arguments
    ---------
    expected : dict
        The model's state dict.
    state : dict
        The checkpoint's state dict.
    path : str or os.PathLike
        The checkpoint, for the message.
    model_source : str
        Where the model was defined, for the message.

    Example
    -------
    >>> model = torch.nn.Linear(2, 1).state_dict()
    >>> check_state_dict(model, {"weight": torch.ones(1, 2)}, "m.ckpt")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: m.ckpt ...; missing: bias
    """
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    reshaped = sorted(
        f"{name} {tuple(state[name].shape)} vs {tuple(expected[name].shape)}"
        for name in set(state) & set(expected)
        if state[name].shape != expected[name].shape
    )
    problems = []
    for what, names in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("wrong shape (checkpoint vs model)", reshaped),
    ):
        if names:
            problems.append(f"{what}: {_listing(names)}")
    if problems:
        raise ModelFolderError(
            f"{path} does not match the model of {model_source}; "
            + "; ".join(problems)
        )


def _listing(names, limit=10):
    """Joins names with commas, at most ``limit`` of them.

    Arguments
    ---------
    names : list of str
        The names.
    limit : int
        How many to show.

    Returns
    -------
    text : str
        The names, and how many more were left out.
    """
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f" and {len(names) - limit} more"
    return shown


class SpoofDetector(Pretrained):
    """A trained spoofing countermeasure, ready to score audio.

    Load it with ``SpoofDetector.from_hparams(source=MODEL_FOLDER)``. The
    torch backend runs the features and the model of hyperparams.yaml; the
    ONNX backend runs ``model.onnx`` (or ``onnx_file``) of the same folder,
    written by ``speechbrain_asd.export.export_onnx``, with onnxruntime on
    the CPU. Both give the same outputs (to float rounding) through the same
    methods.

    Arguments
    ---------
    *args : tuple
        Arguments of ``Pretrained`` (modules, hparams, run_opts).
    backend : str
        ``"torch"`` or ``"onnx"``.
    onnx_path : str or os.PathLike, optional
        The ONNX model, for the ONNX backend.
    **kwargs : dict
        Keyword arguments of ``Pretrained``.

    Example
    -------
    >>> from speechbrain_asd.features import LogMelFeatures
    >>> from speechbrain_asd.lobes.resnet_se import ResNetSE
    >>> model = ResNetSE(channels=(4, 4, 4, 4), blocks=(1, 1, 1, 1))
    >>> hparams = dict(
    ...     sample_rate=16000, class_names=[str(i) for i in range(8)],
    ...     bonafide_index=0, window_seconds=4.0, hop_seconds=2.0,
    ...     min_seconds=0.1, batch_size=4,
    ... )
    >>> modules = {"compute_features": LogMelFeatures(), "model": model}
    >>> detector = SpoofDetector(modules, hparams, {"device": "cpu"})
    >>> out = detector.classify_batch(torch.randn(2, 8000))
    >>> out.bonafide_score.shape, len(out.labels)
    (torch.Size([2]), 2)
    """

    HPARAMS_NEEDED = [
        "sample_rate",
        "class_names",
        "bonafide_index",
        "window_seconds",
        "hop_seconds",
        "min_seconds",
        "batch_size",
    ]
    MODULES_NEEDED = ["compute_features", "model"]

    def __init__(self, *args, backend="torch", onnx_path=None, **kwargs):
        """Builds the detector; opens the ONNX session for that backend."""
        super().__init__(*args, **kwargs)
        missing = [
            name for name in self.MODULES_NEEDED if name not in self.mods
        ]
        if missing:
            raise ValueError(f"modules needed: {', '.join(missing)}")
        if backend not in BACKENDS:
            raise ValueError(
                f"backend must be one of {BACKENDS}, got {backend!r}"
            )
        self.backend = backend
        self.class_names = list(self.hparams.class_names)
        self.onnx_session = None
        if backend == "onnx":
            if onnx_path is None:
                raise ValueError("the onnx backend needs onnx_path")
            self.onnx_session = _onnx_session(onnx_path)

    @classmethod
    def from_hparams(
        cls,
        source,
        hparams_file=HPARAMS_FILE,
        savedir=None,
        backend="torch",
        onnx_file=ONNX_FILE,
        **kwargs,
    ):
        """Loads a model folder, checking that every parameter was restored.

        Only local folders are accepted: a missing or misspelled folder is a
        ``ModelFolderError``, never a download attempt.

        Arguments
        ---------
        source : str or os.PathLike
            The model folder (``export_model_folder``'s output).
        hparams_file : str
            Its hyperparameter file.
        savedir : str or os.PathLike, optional
            Where to link the folder's files (SpeechBrain's convention); by
            default they are read in place.
        backend : str
            ``"torch"`` or ``"onnx"``.
        onnx_file : str
            The ONNX model in the folder, for the ONNX backend
            (``model.onnx``, or ``model.int8.onnx`` for the int8 one).
        **kwargs : dict
            Forwarded to SpeechBrain's ``pretrained_from_hparams`` (e.g.
            ``overrides``, ``run_opts``).

        Returns
        -------
        detector : SpoofDetector
            Ready to score, in eval mode.

        Example
        -------
        >>> SpoofDetector.from_hparams("speechbrain/no-such-model")
        Traceback (most recent call last):
        ...
        speechbrain_asd.model_folder.ModelFolderError: model folder ...
        """
        folder = check_model_folder(source, hparams_file)
        if backend not in BACKENDS:
            raise ValueError(
                f"backend must be one of {BACKENDS}, got {backend!r}"
            )
        onnx_path = folder / onnx_file
        if backend == "onnx" and not onnx_path.is_file():
            raise ModelFolderError(
                f"{folder}: no {onnx_file} in this folder; write it with "
                "speechbrain_asd.export.export_onnx"
            )
        kwargs.setdefault(
            "fetch_config", FetchConfig(allow_network=False, overwrite=True)
        )
        try:
            detector = pretrained_from_hparams(
                cls,
                source=FetchSource(FetchFrom.LOCAL, str(folder)),
                hparams_file=hparams_file,
                savedir=savedir,
                backend=backend,
                onnx_path=onnx_path,
                **kwargs,
            )
        except ModelFolderError:
            raise
        except Exception as error:
            raise ModelFolderError(
                f"{folder / hparams_file}: cannot build the detector "
                f"({type(error).__name__}: {error})"
            ) from error
        verify_checkpoint_restored(
            detector.mods.model, folder / CHECKPOINT_FILE
        )
        return detector

    def load_audio(self, path, savedir=None):
        """Reads a whole audio file as a mono waveform at the model's rate.

        Arguments
        ---------
        path : str or os.PathLike
            A local audio file.
        savedir : None
            Unused; kept for ``Pretrained``'s signature.

        Returns
        -------
        wav : torch.Tensor
            Shape [samples].
        """
        return read_audio(path, self.hparams.sample_rate)

    def classify_batch(self, wavs, wav_lens=None):
        """Classifies a batch of waveforms at the model's sample rate.

        Each row is scored whole in one forward pass (no windowing: use
        ``score_files`` for long audio).

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, shape [batch, samples] or [samples].
        wav_lens : torch.Tensor, optional
            Relative lengths in (0, 1], shape [batch]; None means all full.

        Returns
        -------
        out : BatchClassification
            Log-posteriors, bona fide scores and probabilities, class
            indices and names.
        """
        wavs, wav_lens = _check_batch(wavs, wav_lens)
        return self._classify(self._logits(wavs, wav_lens))

    def classify_file(self, path):
        """Scores one audio file (windowed when long).

        Arguments
        ---------
        path : str or os.PathLike
            The audio file.

        Returns
        -------
        result : FileScore
            Its score, probability and class.

        Raises
        ------
        AudioInputError
            When the file cannot be scored.
        """
        return self.score_files([path])[0]

    def score_files(
        self, paths, batch_size=None, skip_errors=False, progress=False
    ):
        """Scores audio files, batching their windows.

        Arguments
        ---------
        paths : sequence of str or os.PathLike
            The audio files.
        batch_size : int, optional
            Windows per forward pass; None means the hyperparams'.
        skip_errors : bool
            False: the first file that cannot be scored raises
            ``AudioInputError``. True: it gets a ``FileError`` in the list.
        progress : bool
            Show a progress bar over the files.

        Returns
        -------
        results : list of FileScore or FileError
            One per path, in order.
        """
        if isinstance(paths, (str, Path)):
            raise TypeError("paths must be a sequence of paths, not one path")
        paths = [str(path) for path in paths]
        batch_size = (
            self.hparams.batch_size if batch_size is None else batch_size
        )
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(
                f"batch_size must be a positive integer, got {batch_size}"
            )
        runner = _WindowBatcher(self, paths, int(batch_size), skip_errors)
        for index, path in enumerate(
            tqdm(paths, disable=not progress, unit="file")
        ):
            try:
                windows = AudioWindows(
                    path,
                    self.hparams.sample_rate,
                    self.hparams.window_seconds,
                    self.hparams.hop_seconds,
                    self.hparams.min_seconds,
                )
                runner.open(index, windows)
                for wav in windows:
                    runner.add(index, wav)
            except AudioInputError as error:
                runner.fail(index, error)
        return runner.finish()

    def forward(self, wavs, wav_lens=None):
        """Runs ``classify_batch``.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, shape [batch, samples] or [samples].
        wav_lens : torch.Tensor, optional
            Relative lengths, shape [batch].

        Returns
        -------
        out : BatchClassification
            As ``classify_batch``.
        """
        return self.classify_batch(wavs, wav_lens)

    def _logits(self, wavs, wav_lens):
        """Runs the features and the model on the chosen backend.

        Arguments
        ---------
        wavs : torch.Tensor
            Float waveforms, shape [batch, samples].
        wav_lens : torch.Tensor
            Relative lengths, shape [batch].

        Returns
        -------
        logits : torch.Tensor
            Raw class scores on the CPU, shape [batch, n_classes].
        """
        if self.onnx_session is not None:
            logits = self.onnx_session.run(
                ["logits"],
                {
                    "wavs": wavs.cpu().numpy(),
                    "lengths": wav_lens.cpu().numpy(),
                },
            )[0]
            return torch.from_numpy(logits)
        wavs, wav_lens = wavs.to(self.device), wav_lens.to(self.device)
        features = self.mods.compute_features
        with torch.inference_mode():
            feats, frame_lens = features.with_frame_lengths(wavs, wav_lens)
            return self.mods.model(feats, frame_lens).float().cpu()

    def _classify(self, logits):
        """Turns logits into the outputs of ``classify_batch``.

        Arguments
        ---------
        logits : torch.Tensor
            Shape [batch, n_classes].

        Returns
        -------
        out : BatchClassification
            Log-posteriors, scores, probabilities, indices and names.
        """
        log_probs = torch.log_softmax(logits, dim=-1)
        scores = bonafide_score(logits, self.hparams.bonafide_index)
        index = log_probs.argmax(dim=-1)
        labels = [self.class_names[i] for i in index.tolist()]
        return BatchClassification(
            log_probs, scores, torch.sigmoid(scores), index, labels
        )


class _WindowBatcher:
    """Runs windows of several files through a detector in batches and
    averages them per file.

    Arguments
    ---------
    detector : SpoofDetector
        The detector.
    paths : list of str
        The files, for the results.
    batch_size : int
        Windows per forward pass.
    skip_errors : bool
        Whether a file that fails becomes a ``FileError`` (True) or raises.
    """

    def __init__(self, detector, paths, batch_size, skip_errors):
        """Starts with no file and no queued window."""
        self.detector = detector
        self.paths = paths
        self.batch_size = batch_size
        self.skip_errors = skip_errors
        self.windows = {}
        self.score_sums = {}
        self.log_prob_sums = {}
        self.errors = {}
        self.pending = []

    def open(self, index, windows):
        """Starts a file.

        Arguments
        ---------
        index : int
            Position of the file.
        windows : AudioWindows
            Its windows.
        """
        self.windows[index] = windows
        self.score_sums[index] = 0.0
        self.log_prob_sums[index] = 0.0

    def add(self, index, wav):
        """Queues a window, running a batch when enough are queued.

        Arguments
        ---------
        index : int
            Position of the window's file.
        wav : torch.Tensor
            The window, shape [samples].
        """
        self.pending.append((index, wav))
        if len(self.pending) == self.batch_size:
            self._run()

    def fail(self, index, error):
        """Records (or raises) a file's error.

        Arguments
        ---------
        index : int
            Position of the file.
        error : AudioInputError
            What went wrong.
        """
        if not self.skip_errors:
            raise error
        self.errors[index] = error

    def finish(self):
        """Runs the queued windows and builds the results.

        Returns
        -------
        results : list of FileScore or FileError
            One per file, in order.
        """
        self._run()
        return [self._result(index) for index in range(len(self.paths))]

    def _run(self):
        """Runs the queued windows as one padded batch."""
        if not self.pending:
            return
        indices = [index for index, _ in self.pending]
        lengths = torch.tensor([wav.shape[0] for _, wav in self.pending])
        wavs = torch.zeros(len(self.pending), int(lengths.max()))
        for row, (_, wav) in enumerate(self.pending):
            wavs[row, : wav.shape[0]] = wav
        self.pending = []
        out = self.detector._classify(
            self.detector._logits(wavs, lengths / lengths.max())
        )
        for row, index in enumerate(indices):
            if index in self.errors:
                continue
            if not torch.isfinite(out.log_probs[row]).all():
                self.fail(
                    index,
                    AudioInputError(
                        self.paths[index],
                        "the model's output is not finite (sample values "
                        "far outside [-1, 1]?)",
                    ),
                )
                continue
            self.score_sums[index] += float(out.bonafide_score[row])
            self.log_prob_sums[index] += out.log_probs[row]

    def _result(self, index):
        """Builds one file's result.

        Arguments
        ---------
        index : int
            Position of the file.

        Returns
        -------
        result : FileScore or FileError
            Its averaged outputs, or its error.
        """
        path = self.paths[index]
        if index in self.errors:
            return FileError(path, str(self.errors[index]))
        windows = self.windows[index]
        count = len(windows)
        score = self.score_sums[index] / count
        label_index = int(torch.argmax(self.log_prob_sums[index]))
        warnings = ()
        if windows.peak <= SILENCE_PEAK:
            warnings = (
                f"digital silence (peak {windows.peak:.2g}): the score is "
                "the model's output for a constant input",
            )
            logger.warning("%s: %s", path, warnings[0])
        return FileScore(
            file=path,
            bonafide_score=score,
            bonafide_prob=1.0 / (1.0 + math.exp(-score)),
            label=self.detector.class_names[label_index],
            label_index=label_index,
            duration=windows.duration,
            num_windows=count,
            warnings=warnings,
        )


def _check_batch(wavs, wav_lens):
    """Checks a waveform batch and its relative lengths.

    Arguments
    ---------
    wavs : torch.Tensor
        Shape [batch, samples] or [samples].
    wav_lens : torch.Tensor, optional
        Shape [batch], values in (0, 1].

    Returns
    -------
    wavs : torch.Tensor
        Float32, shape [batch, samples].
    wav_lens : torch.Tensor
        Float32, shape [batch]; ones when not given.
    """
    if not isinstance(wavs, torch.Tensor):
        raise TypeError(f"wavs must be a torch.Tensor, got {type(wavs)}")
    if wavs.dim() == 1:
        wavs = wavs.unsqueeze(0)
    if wavs.dim() != 2 or wavs.shape[0] == 0 or wavs.shape[1] == 0:
        raise ValueError(
            "wavs must have shape [batch, samples] with no empty axis, got "
            f"{tuple(wavs.shape)}"
        )
    wavs = wavs.float().contiguous()
    if not torch.isfinite(wavs).all():
        raise ValueError("wavs holds NaN or infinite samples")
    if wav_lens is None:
        return wavs, torch.ones(wavs.shape[0])
    wav_lens = torch.as_tensor(wav_lens, dtype=torch.float32).cpu()
    if wav_lens.shape != (wavs.shape[0],):
        raise ValueError(
            f"wav_lens must have shape [{wavs.shape[0]}], got "
            f"{tuple(wav_lens.shape)}"
        )
    if bool(((wav_lens <= 0) | (wav_lens > 1)).any()):
        raise ValueError(
            f"wav_lens must lie in (0, 1], got {wav_lens.tolist()}"
        )
    return wavs, wav_lens


def _onnx_session(path):
    """Opens an ONNX model with onnxruntime on the CPU.

    Uses as many intra-op threads as torch (``torch.get_num_threads``).

    Arguments
    ---------
    path : str or os.PathLike
        The ONNX file.

    Returns
    -------
    session : onnxruntime.InferenceSession
        The session.
    """
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            "the onnx backend needs onnxruntime: pip install "
            "'speechbrain-asd[onnx]'"
        ) from error
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:
        raise ModelFolderError(
            f"{path}: onnxruntime cannot load this model ({error})"
        ) from error


def read_file_list(list_path):
    """Reads a list of audio files, one path per line.

    Blank lines and lines starting with ``#`` are skipped; relative paths
    are taken relative to the list's folder. The trial id of a file is its
    name without extension.

    Arguments
    ---------
    list_path : str or os.PathLike
        The list.

    Returns
    -------
    files : dict
        Trial id -> path, in list order.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "list.txt").write_text("# eval\\na/x.flac\\n/b/y.wav\\n")
    >>> files = read_file_list(folder / "list.txt")
    >>> [(trial, Path(path).name) for trial, path in files.items()]
    [('x', 'x.flac'), ('y', 'y.wav')]
    """
    list_path = Path(list_path)
    try:
        lines = list_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{list_path}: cannot read the list ({error})"
        ) from error
    files = {}
    for lineno, line in enumerate(lines, start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = list_path.parent / entry
        trial = path.stem
        if trial in files:
            raise ValueError(
                f"{list_path}:{lineno}: trial id {trial!r} already given by "
                f"{files[trial]} (got: {line!r})"
            )
        files[trial] = str(path)
    if not files:
        raise ValueError(f"{list_path}: no audio files listed")
    return files


def check_files_exist(paths, listed_in):
    """Checks, before any work, that every file of a list exists.

    Arguments
    ---------
    paths : list of str or os.PathLike
        The files.
    listed_in : str
        Where they come from, for the message (e.g. ``"listed in L"``).

    Example
    -------
    >>> check_files_exist(["no/a.wav", "no/b.wav"], "given")
    Traceback (most recent call last):
    ...
    speechbrain_asd.inference.AudioInputError: no/a.wav: no such file (2 of ...
    """
    missing = [str(path) for path in paths if not Path(path).is_file()]
    if missing:
        raise AudioInputError(
            missing[0],
            f"no such file ({len(missing)} of the {len(paths)} files "
            f"{listed_in} are missing: {_listing(missing, 3)})",
        )


def score_list_to_file(
    model_dir,
    list_path,
    out_path,
    audio_dir=None,
    extension=".flac",
    batch_size=None,
    backend="torch",
    onnx_file=ONNX_FILE,
    progress=True,
):
    """Scores a file list or a CM protocol and writes an ASVspoof score file.

    Without ``audio_dir``, ``list_path`` is a list of audio files (see
    ``read_file_list``) and the output has two columns ``TRIAL SCORE``, the
    trial being the file name without extension. With ``audio_dir``,
    ``list_path`` is an ASVspoof CM protocol (2019 or 2021 format), each
    trial's audio is ``audio_dir/<trial><extension>``, and the output has
    four columns ``TRIAL ATTACK KEY SCORE``. Every file is checked to exist
    before scoring starts; any file that cannot be scored stops the run.
    The score file is written at the end, atomically: an interrupted run
    leaves no partial file.

    Arguments
    ---------
    model_dir : str or os.PathLike
        The model folder.
    list_path : str or os.PathLike
        The file list or protocol.
    out_path : str or os.PathLike
        The score file to write.
    audio_dir : str or os.PathLike, optional
        Folder of the protocol's audio files.
    extension : str
        Extension of the protocol's audio files.
    batch_size : int, optional
        Windows per forward pass; None means the model's.
    backend : str
        ``"torch"`` or ``"onnx"``.
    onnx_file : str
        The ONNX model of the folder for the ONNX backend (e.g.
        ``model.int8.onnx``).
    progress : bool
        Show a progress bar.

    Returns
    -------
    count : int
        Number of trials scored.

    Example
    -------
    >>> score_list_to_file("no/model", "list.txt", "scores.txt")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: model folder 'no/model' ...
    """
    check_model_folder(model_dir)
    trials = None
    if audio_dir is None:
        files = read_file_list(list_path)
    else:
        trials = cm_trials_by_id(read_cm_protocol(list_path))
        files = {
            trial: str(Path(audio_dir) / f"{trial}{extension}")
            for trial in trials
        }
    check_files_exist(list(files.values()), f"listed in {list_path}")
    detector = SpoofDetector.from_hparams(
        model_dir, backend=backend, onnx_file=onnx_file
    )
    results = detector.score_files(
        list(files.values()), batch_size=batch_size, progress=progress
    )
    scores = {
        trial: result.bonafide_score for trial, result in zip(files, results)
    }
    write_cm_scores(out_path, scores, trials)
    logger.info("wrote %d scores to %s", len(scores), out_path)
    return len(scores)
