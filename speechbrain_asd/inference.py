"""Scores audio with a trained spoofing countermeasure: ``SpoofDetector``.

Authors
 * speechbrain-asd developers
"""

import dataclasses
import math
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple

import torch
from speechbrain.inference.interfaces import Pretrained, pretrained_from_hparams
from speechbrain.utils.fetching import FetchConfig, FetchFrom, FetchSource
from speechbrain.utils.logger import get_logger
from tqdm import tqdm

from speechbrain_asd.audio import AudioInputError, AudioWindows, read_audio
from speechbrain_asd.checkpoints import (
    CheckpointError,
    verify_checkpoint_restored,
)
from speechbrain_asd.lobes.score import bonafide_score
from speechbrain_asd.model_folder import (
    CALIBRATION_FILE,
    CHECKPOINT_FILE,
    HPARAMS_FILE,
    ONNX_FILE,
    ModelFolderError,
    check_model_folder,
    read_calibration,
)
from speechbrain_asd.onnx_runtime import onnx_session, run_session

logger = get_logger(__name__)

BACKENDS = ("torch", "onnx")
# Peak amplitude at or below which a file counts as digital silence: one
# step of 16-bit PCM.
SILENCE_PEAK = 2.0**-15


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
    llr : float or None
        The calibrated bona fide log-likelihood ratio (None for a model
        folder without ``calibration.json``).
    posterior : float or None
        P(bona fide) for the calibration's stated spoof prior.
    decision : str or None
        ``bonafide`` or ``spoof``: the LLR against the calibration's
        threshold.

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
    llr: Optional[float] = None
    posterior: Optional[float] = None
    decision: Optional[str] = None

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


class SpoofDetector(Pretrained):
    """A trained spoofing countermeasure, ready to score audio.

    Load it with ``SpoofDetector.from_hparams(source=MODEL_FOLDER)``. The
    torch backend runs the features and the model of hyperparams.yaml; the
    ONNX backend runs the folder's ONNX model with onnxruntime on the CPU.
    Both give the same outputs, to float rounding.

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
        self.calibration = None
        self.onnx_session = None
        if backend == "onnx":
            if onnx_path is None:
                raise ValueError("the onnx backend needs onnx_path")
            self.onnx_session = onnx_session(onnx_path)

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
        """Loads a local model folder, checking every parameter was restored.

        A missing folder raises ``ModelFolderError``; nothing is downloaded.

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
            The folder's ONNX model for the ONNX backend (``model.onnx``, or
            ``model.int8.onnx``).
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
        except (ModelFolderError, CheckpointError):
            raise
        except Exception as error:
            raise ModelFolderError(
                f"{folder / hparams_file}: cannot build the detector "
                f"({type(error).__name__}: {error})"
            ) from error
        detector.calibration = read_calibration(folder / CALIBRATION_FILE)
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

        Each row is scored whole in one forward pass; ``score_files`` windows
        long audio.

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
        wavs, wav_lens = check_waveform_batch(wavs, wav_lens)
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

        A file longer than the model's ``window_seconds`` is scored in windows:
        its score is the mean window score, its class the argmax of the mean
        window log-posteriors. Other files are scored whole.

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
        """Runs features and model on the backend; logits on the CPU."""
        if self.onnx_session is not None:
            return run_session(self.onnx_session, wavs, wav_lens)
        wavs, wav_lens = wavs.to(self.device), wav_lens.to(self.device)
        features = self.mods.compute_features
        with torch.inference_mode():
            feats, frame_lens = features.with_frame_lengths(wavs, wav_lens)
            return self.mods.model(feats, frame_lens).float().cpu()

    def _classify(self, logits):
        """Turns logits into the outputs of ``classify_batch``."""
        log_probs = torch.log_softmax(logits, dim=-1)
        scores = bonafide_score(logits, self.hparams.bonafide_index)
        index = log_probs.argmax(dim=-1)
        labels = [self.class_names[i] for i in index.tolist()]
        return BatchClassification(
            log_probs, scores, torch.sigmoid(scores), index, labels
        )


class _WindowBatcher:
    """Runs windows of several files in batches and averages them per file."""

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
        """Starts a file's sums."""
        self.windows[index] = windows
        self.score_sums[index] = 0.0
        self.log_prob_sums[index] = 0.0

    def add(self, index, wav):
        """Queues a window, running a batch once ``batch_size`` are queued."""
        self.pending.append((index, wav))
        if len(self.pending) == self.batch_size:
            self._run()

    def fail(self, index, error):
        """Records a file's error, or raises it unless ``skip_errors``."""
        if not self.skip_errors:
            raise error
        self.errors[index] = error

    def finish(self):
        """Runs the queued windows and returns one result per file, in order."""
        self._run()
        return [self._result(index) for index in range(len(self.paths))]

    def _run(self):
        """Runs the queued windows as one padded batch, adding up outputs."""
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
        """Builds one file's ``FileScore`` (or ``FileError``)."""
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
        calibrated = {}
        calibration = self.detector.calibration
        if calibration is not None:
            calibrated = {
                "llr": float(calibration.llr(score)),
                "posterior": float(calibration.posterior(score)),
                "decision": (
                    "bonafide" if calibration.decide(score) else "spoof"
                ),
            }
        return FileScore(
            file=path,
            bonafide_score=score,
            bonafide_prob=1.0 / (1.0 + math.exp(-score)),
            label=self.detector.class_names[label_index],
            label_index=label_index,
            duration=windows.duration,
            num_windows=count,
            warnings=warnings,
            **calibrated,
        )


def check_waveform_batch(wavs, wav_lens=None):
    """Checks a batch of waveforms and their relative lengths.

    Arguments
    ---------
    wavs : torch.Tensor
        Waveforms, shape [batch, samples] or [samples] (one waveform);
        finite, with no empty axis.
    wav_lens : torch.Tensor or sequence of float, optional
        Relative lengths in (0, 1], shape [batch]; None means all full.

    Returns
    -------
    wavs : torch.Tensor
        The waveforms as float32, shape [batch, samples], contiguous.
    wav_lens : torch.Tensor
        The relative lengths as float32 on the CPU, shape [batch].

    Raises
    ------
    TypeError
        When ``wavs`` is not a tensor.
    ValueError
        For a misshapen or non-finite batch, or lengths outside (0, 1].

    Example
    -------
    >>> wavs, wav_lens = check_waveform_batch(torch.zeros(8), None)
    >>> wavs.shape, wav_lens.tolist()
    (torch.Size([1, 8]), [1.0])
    >>> check_waveform_batch(torch.zeros(2, 8), [1.0, 0.0])
    Traceback (most recent call last):
    ...
    ValueError: wav_lens must lie in (0, 1], got [1.0, 0.0]
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
