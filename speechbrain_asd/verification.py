"""Verifies speakers with a speaker encoder: ``SpeakerVerifier``.

A verifier loads a local model folder of one of two kinds:

* a speechbrain-asd speaker encoder (log-Mel features and a ResNetSE whose
  ``embed`` gives the embedding, ``model.ckpt``), written by
  ``speechbrain_asd.verifier_export.export_verifier_folder`` from a GE2E
  stage of the recipe;
* a SpeechBrain ``EncoderClassifier`` folder (``compute_features``, an
  optional ``mean_var_norm`` and ``embedding_model`` in ``modules``, and
  ``embedding_model.ckpt``), e.g. an ECAPA-TDNN trained on VoxCeleb that a
  user downloaded.

Either way the folder is data. Before HyperPyYAML reads hyperparams.yaml,
every tag in it (``%TAG`` directives resolved) must be in ``VERIFIER_TAGS``:
the countermeasure's own classes and load hook, ``SPEECHBRAIN_CLASSES``
(feature, normalisation, encoder and classifier classes of SpeechBrain,
the Pretrainer), ``!ref`` and plain YAML values; anything else refuses the
folder before any object is built. The folder's Pretrainer is never run
(no fetch, no download, no ``custom.py``): the checkpoints of the modules
that compute the embedding are read from the folder itself with
``torch.load(weights_only=True)`` and checked entry by entry.

Scores are cosines between unit-length embeddings; an enrolment is the
unit-length mean of its files' unit-length embeddings, as in the recipe's
GE2E stage.

A speechbrain-asd verifier folder may also hold its encoder as ONNX
(``speechbrain_asd.onnx_export.export_verifier_onnx``): with
``backend="onnx"`` the embeddings come from onnxruntime on the CPU.

Authors
 * speechbrain-asd developers
"""

import dataclasses
from pathlib import Path
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from hyperpyyaml import load_hyperpyyaml
from speechbrain.inference.interfaces import Pretrained
from speechbrain.processing.features import InputNormalization
from speechbrain.utils.logger import get_logger
from speechbrain.utils.parameter_transfer import Pretrainer
from tqdm import tqdm

from speechbrain_asd.audio import AudioInputError, read_audio
from speechbrain_asd.checkpoints import (
    CheckpointError,
    load_checkpoint,
    load_weights_only,
    verify_checkpoint_restored,
)
from speechbrain_asd.checks import (
    check_choice,
    check_int,
    check_number,
    name_list,
)
from speechbrain_asd.features import waveform_embedder
from speechbrain_asd.file_lists import check_files_exist
from speechbrain_asd.inference import (
    BACKENDS,
    SILENCE_PEAK,
    check_waveform_batch,
)
from speechbrain_asd.model_folder import (
    ALLOWED_TAGS,
    HPARAMS_FILE,
    ONNX_FILE,
    ModelFolderError,
    check_hyperparams_tags,
)
from speechbrain_asd.onnx_runtime import onnx_session, run_session
from speechbrain_asd.scorefiles import (
    read_asv_enrolment,
    read_asv_protocol,
    write_asv_scores,
)

logger = get_logger(__name__)

# SpeechBrain classes an EncoderClassifier-style hyperparams.yaml may build
# (with ``!new:``): constructors that only allocate layers or store values.
SPEECHBRAIN_CLASSES = (
    "speechbrain.lobes.features.Fbank",
    "speechbrain.lobes.features.MFCC",
    "speechbrain.processing.features.InputNormalization",
    "speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN",
    "speechbrain.lobes.models.ECAPA_TDNN.Classifier",
    "speechbrain.lobes.models.Xvector.Xvector",
    "speechbrain.lobes.models.Xvector.Classifier",
    "speechbrain.lobes.models.ResNet.ResNet",
    "speechbrain.lobes.models.ResNet.Classifier",
    "speechbrain.dataio.encoder.CategoricalEncoder",
)
VERIFIER_TAGS = ALLOWED_TAGS | {f"!new:{name}" for name in SPEECHBRAIN_CLASSES}

# The embedding module of each kind of folder; its checkpoint is
# ``<name>.ckpt``.
OWN_ENCODER = "model"
SPEECHBRAIN_ENCODER = "embedding_model"
DEFAULT_SAMPLE_RATE = 16000
DEFAULT_MIN_SECONDS = 0.1
STATISTICS_KEYS = frozenset({"count", "glob_mean", "glob_std"})
ONNX_OWN_ONLY = (
    "the onnx backend runs speechbrain-asd verifier folders "
    f"({OWN_ENCODER}.ckpt) only; a SpeechBrain EncoderClassifier folder "
    "runs on the torch backend"
)
NO_THRESHOLD = (
    "no threshold known (the model folder has no asv_threshold and none "
    "was given): no decision"
)


class VerificationError(ValueError):
    """A verification request that cannot be served (e.g. unknown speaker).

    Example
    -------
    >>> str(VerificationError("speaker 'x' is not enrolled"))
    "speaker 'x' is not enrolled"
    """


class Enrolment(NamedTuple):
    """An enrolled speaker: the enrolment embedding and its files.

    Attributes
    ----------
    embedding : torch.Tensor
        Unit-length mean of the files' unit-length embeddings, shape [D].
    files : tuple of str
        The enrolment files.

    Example
    -------
    >>> Enrolment(torch.ones(2) / 2**0.5, ("a.wav",)).files
    ('a.wav',)
    """

    embedding: torch.Tensor
    files: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class VerificationResult:
    """The result of one verification trial.

    Attributes
    ----------
    test_file : str
        The test file, as given.
    score : float
        Cosine of the test embedding and the enrolment embedding, in
        [-1, 1]; higher means more likely the same speaker.
    threshold : float or None
        The decision threshold, None when none is known.
    threshold_source : str
        Where the threshold comes from (or why there is none).
    decision : bool or None
        ``score >= threshold`` (accept); None without a threshold.
    speaker : str or None
        The enrolled speaker, when verified against one.
    enrolment_files : tuple of str
        The files of the enrolment.

    Example
    -------
    >>> result = VerificationResult("t.wav", 0.7, 0.5, "given", True)
    >>> result.to_dict()["decision"]
    True
    >>> print(result.to_text().splitlines()[2])
    decision   accept
    """

    test_file: str
    score: float
    threshold: Optional[float]
    threshold_source: str
    decision: Optional[bool]
    speaker: Optional[str] = None
    enrolment_files: Tuple[str, ...] = ()

    def to_dict(self):
        """The result as a JSON-ready dict.

        Returns
        -------
        result : dict
            The fields, ``enrolment_files`` as a list.

        Example
        -------
        >>> VerificationResult("t.wav", 0.1, None, "none", None).to_dict()[
        ...     "score"]
        0.1
        """
        result = dataclasses.asdict(self)
        result["enrolment_files"] = list(self.enrolment_files)
        return result

    def to_text(self):
        """The result as a few aligned lines.

        Returns
        -------
        text : str
            Score, threshold with its source, decision, and the trial.

        Example
        -------
        >>> result = VerificationResult("t.wav", 0.1, None, "none", None)
        >>> print(result.to_text().splitlines()[2])
        decision   none (no threshold)
        """
        if self.threshold is None:
            threshold, decision = "-", "none (no threshold)"
        else:
            threshold = f"{self.threshold:.4f}"
            decision = "accept" if self.decision else "reject"
        enrolment = self.speaker or ", ".join(self.enrolment_files)
        return "\n".join(
            [
                f"score      {self.score:.4f}",
                f"threshold  {threshold} ({self.threshold_source})",
                f"decision   {decision}",
                f"enrolment  {enrolment}",
                f"test       {self.test_file}",
            ]
        )


class SpeakerVerifier(Pretrained):
    """A speaker encoder, ready to enrol speakers and verify test audio.

    Load it with ``SpeakerVerifier.from_hparams(source=MODEL_FOLDER)``: a
    speechbrain-asd verifier folder or a SpeechBrain ``EncoderClassifier``
    folder (see the module's docstring). Files are read whole, mixed to
    mono and resampled to the model's rate. The torch backend runs the
    folder's modules; the ONNX backend (speechbrain-asd folders only) runs
    its ONNX encoder with onnxruntime on the CPU, to float rounding the same
    embeddings.

    Arguments
    ---------
    *args : tuple
        Arguments of ``Pretrained`` (modules, hparams, run_opts).
    backend : str
        ``"torch"`` or ``"onnx"``.
    onnx_path : str or os.PathLike, optional
        The ONNX encoder, for the ONNX backend.
    **kwargs : dict
        Keyword arguments of ``Pretrained``.

    Example
    -------
    >>> from speechbrain_asd.features import LogMelFeatures
    >>> from speechbrain_asd.lobes.resnet_se import ResNetSE
    >>> model = ResNetSE(channels=(4, 4, 4, 4), blocks=(1, 1, 1, 1))
    >>> modules = {"compute_features": LogMelFeatures(), "model": model}
    >>> verifier = SpeakerVerifier(
    ...     modules, {"sample_rate": 16000}, {"device": "cpu"}
    ... )
    >>> embeddings = verifier.encode_batch(torch.randn(2, 8000))
    >>> embeddings.shape, embeddings.norm(dim=1).round(decimals=4).tolist()
    (torch.Size([2, 512]), [1.0, 1.0])
    """

    def __init__(self, *args, backend="torch", onnx_path=None, **kwargs):
        """Picks the embedding path and reads the settings of the hparams."""
        super().__init__(*args, **kwargs)
        check_choice("backend", backend, BACKENDS)
        if "compute_features" not in self.mods:
            raise ValueError("modules must hold 'compute_features'")
        if SPEECHBRAIN_ENCODER in self.mods:
            self.encoder_name = SPEECHBRAIN_ENCODER
            self.embed_fn = self._encoder_classifier_embedding
        elif OWN_ENCODER in self.mods:
            self.encoder_name = OWN_ENCODER
            self.embed_fn = waveform_embedder(
                self.mods.compute_features, self.mods.model
            )
        else:
            raise ValueError(
                f"modules must hold {OWN_ENCODER!r} (a speechbrain-asd "
                f"encoder) or {SPEECHBRAIN_ENCODER!r} (a SpeechBrain "
                "EncoderClassifier)"
            )
        self.backend = backend
        self.onnx_session = None
        if backend == "onnx":
            if self.encoder_name != OWN_ENCODER:
                raise ValueError(ONNX_OWN_ONLY)
            if onnx_path is None:
                raise ValueError("the onnx backend needs onnx_path")
            self.onnx_session = onnx_session(onnx_path)
        settings = vars(self.hparams)
        rate = settings.get("sample_rate")
        if rate is None:
            stft = getattr(self.mods.compute_features, "compute_STFT", None)
            rate = getattr(stft, "sample_rate", DEFAULT_SAMPLE_RATE)
        self.sample_rate = check_int("sample_rate", rate, minimum=1)
        self.min_seconds = check_number(
            "min_seconds",
            settings.get("min_seconds", DEFAULT_MIN_SECONDS),
            minimum=0.0,
        )
        self.threshold = settings.get("asv_threshold")
        self.threshold_source = NO_THRESHOLD
        if self.threshold is not None:
            self.threshold = check_number("asv_threshold", self.threshold)
            self.threshold_source = str(
                settings.get("asv_threshold_source")
                or "asv_threshold of the model folder"
            )
        self.enrolled = {}

    @classmethod
    def from_hparams(
        cls,
        source,
        hparams_file=HPARAMS_FILE,
        overrides=None,
        backend="torch",
        onnx_file=ONNX_FILE,
        **kwargs,
    ):
        """Loads a local model folder as data, every parameter checked.

        A missing folder raises ``ModelFolderError``; nothing is downloaded
        and the folder's Pretrainer is not run. The ONNX backend needs a
        speechbrain-asd verifier folder holding ``onnx_file``.

        Arguments
        ---------
        source : str or os.PathLike
            The model folder.
        hparams_file : str
            Its hyperparameter file.
        overrides : dict, optional
            Values that replace those of the hyperparameter file (e.g.
            ``asv_threshold``).
        backend : str
            ``"torch"`` or ``"onnx"``.
        onnx_file : str
            The folder's ONNX encoder for the ONNX backend (``model.onnx``,
            or ``model.int8.onnx``).
        **kwargs : dict
            Forwarded to the constructor (e.g. ``run_opts``).

        Returns
        -------
        verifier : SpeakerVerifier
            Ready to verify, in eval mode.

        Example
        -------
        >>> SpeakerVerifier.from_hparams("speechbrain/spkrec-ecapa-voxceleb")
        Traceback (most recent call last):
        ...
        speechbrain_asd.model_folder.ModelFolderError: model folder ...
        """
        folder = check_verifier_folder(source, hparams_file)
        check_choice("backend", backend, BACKENDS)
        onnx_path = folder / onnx_file
        if backend == "onnx":
            if not (folder / f"{OWN_ENCODER}.ckpt").is_file():
                raise ModelFolderError(f"{folder}: {ONNX_OWN_ONLY}")
            if not onnx_path.is_file():
                raise ModelFolderError(
                    f"{folder}: no {onnx_file} in this folder; write it with "
                    "speechbrain_asd.onnx_export.export_verifier_onnx"
                )
        path = folder / hparams_file
        try:
            with open(path, encoding="utf-8") as fin:
                hparams = load_hyperpyyaml(fin, overrides or {})
            modules, checkpoint = _restore_modules(hparams, folder, path)
            verifier = cls(
                modules=modules,
                hparams=hparams,
                backend=backend,
                onnx_path=onnx_path,
                **kwargs,
            )
        except (ModelFolderError, CheckpointError):
            raise
        except Exception as error:
            raise ModelFolderError(
                f"{path}: cannot build the verifier ({type(error).__name__}: "
                f"{error})"
            ) from error
        verify_checkpoint_restored(
            verifier.mods[verifier.encoder_name], checkpoint
        )
        return verifier

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
        return read_audio(path, self.sample_rate, self.min_seconds)

    def encode_batch(self, wavs, wav_lens=None):
        """Computes unit-length embeddings of waveforms at the model's rate.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, shape [batch, samples] or [samples].
        wav_lens : torch.Tensor, optional
            Relative lengths in (0, 1], shape [batch]; None means all full.

        Returns
        -------
        embeddings : torch.Tensor
            Shape [batch, D], each row of norm 1 (zero if the model's
            embedding is zero), on the CPU.
        """
        wavs, wav_lens = check_waveform_batch(wavs, wav_lens)
        return F.normalize(self._embed(wavs, wav_lens), dim=1).float()

    def encode_file(self, path):
        """Computes the unit-length embedding of a whole audio file.

        Arguments
        ---------
        path : str or os.PathLike
            The audio file (any rate and channels soundfile reads).

        Returns
        -------
        embedding : torch.Tensor
            Shape [D], of norm 1.

        Raises
        ------
        AudioInputError
            When the file is missing, unreadable, too short or digital
            silence, or its embedding is not finite or zero.
        """
        wav = self.load_audio(path)
        peak = float(wav.abs().max())
        if peak <= SILENCE_PEAK:
            raise AudioInputError(
                path,
                f"digital silence (peak {peak:.2g}): no voice to verify",
            )
        embedding = self._embed(wav.unsqueeze(0), torch.ones(1))[0]
        if not torch.isfinite(embedding).all():
            raise AudioInputError(
                path,
                "the model's embedding is not finite (sample values far "
                "outside [-1, 1]?)",
            )
        if float(embedding.norm()) == 0.0:
            raise AudioInputError(path, "the model's embedding is zero")
        return F.normalize(embedding, dim=0).float()

    def enrol(self, speaker, files):
        """Enrols a speaker from audio files, replacing an earlier enrolment.

        Arguments
        ---------
        speaker : str
            The speaker's id.
        files : sequence of str or os.PathLike
            Enrolment audio files (at least one).

        Returns
        -------
        embedding : torch.Tensor
            The enrolment embedding: unit-length mean of the files'
            unit-length embeddings, shape [D].
        """
        if not isinstance(speaker, str) or not speaker:
            raise VerificationError(
                f"speaker must be a non-empty string, got {speaker!r}"
            )
        files = _file_sequence(files, f"the enrolment of {speaker!r}")
        embedding = _centroid([self.encode_file(path) for path in files])
        if speaker in self.enrolled:
            logger.info("re-enrolling speaker %s", speaker)
        self.enrolled[speaker] = Enrolment(embedding, files)
        return embedding

    def verify_files(
        self, enrolled_speaker_or_files, test_file, threshold=None
    ):
        """Scores a test file against an enrolled speaker or enrolment files.

        Arguments
        ---------
        enrolled_speaker_or_files : str or sequence of str
            The id of a speaker enrolled with ``enrol``, or the enrolment
            audio files (a list or tuple of paths).
        test_file : str or os.PathLike
            The test audio file.
        threshold : float, optional
            The decision threshold; None means the model folder's
            ``asv_threshold`` (no decision when it has none).

        Returns
        -------
        result : VerificationResult
            Cosine score, threshold and its source, decision.
        """
        threshold, source = self._resolve_threshold(threshold)
        speaker = None
        if isinstance(enrolled_speaker_or_files, str):
            speaker = enrolled_speaker_or_files
            if speaker not in self.enrolled:
                known = name_list(sorted(self.enrolled)) or "none"
                raise VerificationError(
                    f"speaker {speaker!r} is not enrolled (enrolled: "
                    f"{known}); call enrol first, or pass a list of "
                    "enrolment files"
                )
            enrolment = self.enrolled[speaker]
        else:
            files = _file_sequence(enrolled_speaker_or_files, "an enrolment")
            enrolment = Enrolment(
                _centroid([self.encode_file(path) for path in files]), files
            )
        score = _cosine(self.encode_file(test_file), enrolment.embedding)
        return VerificationResult(
            test_file=str(test_file),
            score=score,
            threshold=threshold,
            threshold_source=source,
            decision=None if threshold is None else score >= threshold,
            speaker=speaker,
            enrolment_files=enrolment.files,
        )

    def score_trials(
        self,
        trials,
        enrolment,
        audio_dir,
        out_path,
        extension=".flac",
        progress=False,
    ):
        """Scores an ASVspoof ASV trial list into a 2019 ASV score file.

        Every audio file must exist and be embedded, and every claimed
        speaker be enrolled, or nothing is written; each file is embedded
        once. The score file has ``SOURCE KEY SCORE`` lines in trial order
        and is written atomically.

        Arguments
        ---------
        trials : str or os.PathLike
            ASV trial list (2019 ``*.asv.*.gi.trl.txt`` or 2021
            ``ASV/trial_metadata.txt``).
        enrolment : str or os.PathLike or sequence of them
            ASVspoof enrolment list(s) (``*.asv.*.trn.txt``, e.g. the female
            and male lists).
        audio_dir : str or os.PathLike
            Folder of the enrolment and test audio
            (``<utterance><extension>``).
        out_path : str or os.PathLike
            The score file to write.
        extension : str
            Extension of the audio files.
        progress : bool
            Show a progress bar over the files.

        Returns
        -------
        rows : list of (str, str, float)
            ``(source, key, score)`` per trial, as written.
        """
        trial_list = read_asv_protocol(trials)
        if not trial_list:
            raise VerificationError(f"{trials}: no trials")
        enrolled = _read_enrolments(enrolment)
        for trial in trial_list:
            if trial.speaker not in enrolled:
                raise VerificationError(
                    f"{trials}: trial {trial.trial} claims speaker "
                    f"{trial.speaker}, who is in no enrolment list"
                )
        claimed = dict.fromkeys(trial.speaker for trial in trial_list)
        utterances = [u for s in claimed for u in enrolled[s]]
        utterances += [trial.trial for trial in trial_list]
        files = {
            utt: str(Path(audio_dir) / f"{utt}{extension}")
            for utt in dict.fromkeys(utterances)
        }
        check_files_exist(list(files.values()), f"needed by {trials}")
        embeddings = {
            utt: self.encode_file(path)
            for utt, path in tqdm(
                files.items(), disable=not progress, unit="file"
            )
        }
        centroids = {
            speaker: _centroid([embeddings[u] for u in enrolled[speaker]])
            for speaker in claimed
        }
        rows = [
            (
                trial.attack,
                trial.key,
                _cosine(embeddings[trial.trial], centroids[trial.speaker]),
            )
            for trial in trial_list
        ]
        write_asv_scores(out_path, rows)
        logger.info("wrote %d ASV scores to %s", len(rows), out_path)
        return rows

    def forward(self, wavs, wav_lens=None):
        """Runs ``encode_batch``.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, shape [batch, samples] or [samples].
        wav_lens : torch.Tensor, optional
            Relative lengths, shape [batch].

        Returns
        -------
        embeddings : torch.Tensor
            As ``encode_batch``.
        """
        return self.encode_batch(wavs, wav_lens)

    def _embed(self, wavs, wav_lens):
        """Runs the encoder; raw embeddings [batch, D], float64, on the CPU."""
        if self.onnx_session is not None:
            embeddings = run_session(self.onnx_session, wavs, wav_lens)
            return embeddings.double()
        wavs, wav_lens = wavs.to(self.device), wav_lens.to(self.device)
        with torch.inference_mode():
            embeddings = self.embed_fn(wavs, wav_lens)
        return embeddings.reshape(embeddings.shape[0], -1).double().cpu()

    def _encoder_classifier_embedding(self, wavs, wav_lens):
        """Embeds as SpeechBrain's ``EncoderClassifier.encode_batch`` does."""
        feats = self.mods.compute_features(wavs)
        if "mean_var_norm" in self.mods:
            feats = self.mods.mean_var_norm(feats, wav_lens)
        return self.mods.embedding_model(feats, wav_lens)

    def _resolve_threshold(self, threshold):
        """The threshold to decide with, and where it comes from."""
        if threshold is not None:
            return check_number("threshold", threshold), "given by the caller"
        return self.threshold, self.threshold_source


def check_verifier_folder(source, hparams_file=HPARAMS_FILE):
    """Checks a local verifier folder before anything in it is loaded.

    Arguments
    ---------
    source : str or os.PathLike
        The folder.
    hparams_file : str
        Name of its hyperparameter file.

    Returns
    -------
    folder : pathlib.Path
        The folder, resolved.

    Raises
    ------
    ModelFolderError
        When the folder, its hyperparams file or an encoder checkpoint is
        missing, or the hyperparams file is not YAML or carries a tag
        outside ``VERIFIER_TAGS``.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "embedding_model.ckpt").write_bytes(b"")
    >>> _ = (folder / "hyperparams.yaml").write_text(
    ...     "x: !apply:os.system [ls]\\n")
    >>> check_verifier_folder(folder)
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: ...:1: tag '!apply:os...
    """
    folder = Path(source)
    if not folder.is_dir():
        raise ModelFolderError(
            f"model folder {str(source)!r} does not exist or is not a "
            "folder (SpeakerVerifier loads local folders only; it never "
            "downloads)"
        )
    path = folder / hparams_file
    if not path.is_file():
        raise ModelFolderError(f"{folder}: no {hparams_file} in this folder")
    names = [f"{name}.ckpt" for name in (OWN_ENCODER, SPEECHBRAIN_ENCODER)]
    if not any((folder / name).is_file() for name in names):
        raise ModelFolderError(
            f"{folder}: no {' or '.join(names)} in this folder (a "
            "speechbrain-asd verifier or a SpeechBrain EncoderClassifier "
            "folder)"
        )
    check_hyperparams_tags(
        path,
        VERIFIER_TAGS,
        "verifier folder",
        "the classes of speechbrain_asd.verification.VERIFIER_TAGS",
    )
    return folder.resolve()


def _restore_modules(hparams, folder, path):
    """Restores the embedding modules from the folder's checkpoints."""
    modules = hparams.get("modules")
    if not isinstance(modules, dict):
        raise ModelFolderError(f"{path}: no 'modules' mapping")
    encoder = next(
        (n for n in (SPEECHBRAIN_ENCODER, OWN_ENCODER) if n in modules), None
    )
    if encoder is None or "compute_features" not in modules:
        raise ModelFolderError(
            f"{path}: its modules must hold compute_features and "
            f"{OWN_ENCODER} (speechbrain-asd) or {SPEECHBRAIN_ENCODER} "
            f"(SpeechBrain EncoderClassifier); got {sorted(modules)}"
        )
    used = ["compute_features", encoder]
    if encoder == SPEECHBRAIN_ENCODER and "mean_var_norm" in modules:
        used.insert(1, "mean_var_norm")
    pretrainer = hparams.get("pretrainer")
    loadables = {}
    if isinstance(pretrainer, Pretrainer):
        loadables = pretrainer.loadables
    checkpoints = {}
    for name in used:
        if name != encoder and name not in loadables:
            continue
        checkpoints[name] = folder / f"{name}.ckpt"
        if not checkpoints[name].is_file():
            raise ModelFolderError(
                f"{folder}: no {name}.ckpt in this folder (the checkpoint "
                f"of its {name})"
            )
        _restore(modules[name], checkpoints[name])
    return {name: modules[name] for name in used}, checkpoints[encoder]


def _restore(module, path):
    """Loads a checkpoint into a module, every entry checked."""
    if not isinstance(module, InputNormalization):
        load_checkpoint(module, path)
        return
    stats = load_weights_only(path, "statistics")
    if not isinstance(stats, dict) or set(stats) != STATISTICS_KEYS:
        raise CheckpointError(
            f"{path}: not InputNormalization statistics (a mapping with "
            f"{sorted(STATISTICS_KEYS)})"
        )
    module._load_statistics_dict(stats)


def _read_enrolments(lists):
    """Merges ASVspoof enrolment lists; a speaker may appear in one only."""
    if isinstance(lists, (str, Path)):
        lists = [lists]
    enrolled = {}
    for path in lists:
        for speaker, utterances in read_asv_enrolment(path).items():
            if speaker in enrolled:
                raise VerificationError(
                    f"{path}: speaker {speaker} is already enrolled in an "
                    "earlier list"
                )
            enrolled[speaker] = utterances
    return enrolled


def _file_sequence(files, what):
    """Checks a non-empty sequence of paths; returns them as strings."""
    if isinstance(files, (str, Path)):
        raise TypeError(
            f"{what} must be a sequence of paths (a list), not one path"
        )
    files = tuple(str(path) for path in files)
    if not files:
        raise VerificationError(f"{what} needs at least one audio file")
    return files


def _centroid(embeddings):
    """Unit-length mean of unit-length embeddings."""
    units = F.normalize(torch.stack(embeddings).double(), dim=1)
    return F.normalize(units.mean(dim=0), dim=0).float()


def _cosine(first, second):
    """Cosine of two embeddings in float64, clipped to [-1, 1]."""
    score = F.cosine_similarity(first.double(), second.double(), dim=0)
    return float(score.clamp(-1.0, 1.0))
