"""The tandem a user deploys: a speaker verifier and a countermeasure from
two local folders, on the torch or the ONNX backend: ``EdgeTandem``.

A trial is accepted when the verifier accepts the claimed speaker (cosine
score at or above the ASV threshold) and the countermeasure says bona fide
(its score at or above the CM threshold); ``tandem.Tandem`` decides. The
ASV threshold is the verifier folder's ``asv_threshold`` unless one is
given. The CM threshold is the calibrated one of the CM folder's
``calibration.json``, compared with the calibrated LLR, unless one is given
on the raw bona fide score; a CM folder stores no other threshold, so
without ``calibration.json`` it must be given. Both folders are loaded as
data (``SpeakerVerifier.from_hparams``, ``SpoofDetector.from_hparams``).

Authors
 * speechbrain-asd developers
"""

import dataclasses
from pathlib import Path

from speechbrain.utils.logger import get_logger

from speechbrain_asd.inference import FileScore, SpoofDetector
from speechbrain_asd.model_folder import (
    CALIBRATION_FILE,
    HPARAMS_FILE,
    ONNX_FILE,
    ModelFolderError,
)
from speechbrain_asd.tandem import Tandem
from speechbrain_asd.verification import SpeakerVerifier, VerificationResult

logger = get_logger(__name__)

GIVEN = "given by the caller"


@dataclasses.dataclass(frozen=True)
class EdgeTandemResult:
    """The result of one tandem trial: ASV, CM, and both together.

    Attributes
    ----------
    asv : VerificationResult
        The verifier's score, threshold and decision.
    cm : FileScore
        The countermeasure's scores of the test file.
    cm_score : float
        The CM score compared with ``cm_threshold``: the calibrated LLR
        with a calibrated threshold, else the raw bona fide score.
    cm_threshold : float
        The CM threshold.
    cm_threshold_source : str
        Where it comes from.
    cm_decision : bool
        Whether the countermeasure says bona fide.
    accepted : bool
        The tandem's decision: the verifier accepts and the countermeasure
        says bona fide.

    Example
    -------
    >>> asv = VerificationResult("t.wav", 0.7, 0.5, "given", True)
    >>> cm = FileScore("t.wav", -1.0, 0.27, "A01", 1, 1.0, 1)
    >>> result = EdgeTandemResult(asv, cm, -1.0, 0.0, "given", False, False)
    >>> result.to_dict()["cm"]["decision"]
    'spoof'
    >>> print(result.to_text().splitlines()[0])
    tandem     reject
    """

    asv: VerificationResult
    cm: FileScore
    cm_score: float
    cm_threshold: float
    cm_threshold_source: str
    cm_decision: bool
    accepted: bool

    def to_dict(self):
        """The result as a JSON-ready dict.

        Returns
        -------
        result : dict
            ``accepted``, ``asv`` (``VerificationResult.to_dict``) and
            ``cm`` (``FileScore.to_dict`` with the score compared, the
            threshold and its source, and ``decision`` bonafide or spoof).

        Example
        -------
        >>> asv = VerificationResult("t.wav", 0.7, 0.5, "given", True)
        >>> cm = FileScore("t.wav", 2.0, 0.88, "bonafide", 0, 1.0, 1)
        >>> EdgeTandemResult(
        ...     asv, cm, 2.0, 0.0, "given", True, True).to_dict()["accepted"]
        True
        """
        cm = self.cm.to_dict()
        cm.update(
            compared_score=self.cm_score,
            threshold=self.cm_threshold,
            threshold_source=self.cm_threshold_source,
            decision="bonafide" if self.cm_decision else "spoof",
        )
        return {"accepted": self.accepted, "asv": self.asv.to_dict(), "cm": cm}

    def to_text(self):
        """The result as a few aligned lines.

        Returns
        -------
        text : str
            The tandem decision, the ASV and CM scores, thresholds and
            decisions, and the trial.

        Example
        -------
        >>> asv = VerificationResult("t.wav", 0.7, 0.5, "given", True)
        >>> cm = FileScore("t.wav", 2.0, 0.88, "bonafide", 0, 1.0, 1)
        >>> text = EdgeTandemResult(
        ...     asv, cm, 2.0, 0.0, "given", True, True).to_text()
        >>> print(text.splitlines()[1])
        asv        accept    score 0.7000  threshold 0.5000 (given)
        """
        enrolment = self.asv.speaker or ", ".join(self.asv.enrolment_files)
        asv = "accept" if self.asv.decision else "reject"
        cm = "bonafide" if self.cm_decision else "spoof"
        return "\n".join(
            [
                f"tandem     {'accept' if self.accepted else 'reject'}",
                f"asv        {asv:<9} score {self.asv.score:.4f}  threshold "
                f"{self.asv.threshold:.4f} ({self.asv.threshold_source})",
                f"cm         {cm:<9} score {self.cm_score:.4f}  threshold "
                f"{self.cm_threshold:.4f} ({self.cm_threshold_source})",
                f"enrolment  {enrolment}",
                f"test       {self.asv.test_file}",
            ]
        )


class EdgeTandem:
    """A speaker verifier and a countermeasure that decide trials together.

    Load both from their folders with ``EdgeTandem.from_folders``; the
    constructor takes loaded models.

    Arguments
    ---------
    verifier : SpeakerVerifier
        The speaker verifier.
    detector : SpoofDetector
        The countermeasure.
    asv_threshold : float, optional
        ASV threshold on the cosine score; None means the verifier's.
    cm_threshold : float, optional
        CM threshold on the raw bona fide score; None means the calibrated
        threshold of the detector's calibration (on its LLR).
    verifier_dir : str or os.PathLike, optional
        The verifier's folder, for messages and ``to_dict``.
    cm_dir : str or os.PathLike, optional
        The countermeasure's folder, likewise.

    Raises
    ------
    ModelFolderError
        When a threshold is neither given nor known to its model.

    Example
    -------
    >>> import soundfile, torch
    >>> from speechbrain_asd.features import LogMelFeatures
    >>> from speechbrain_asd.lobes.resnet_se import ResNetSE
    >>> def tiny():
    ...     model = ResNetSE(channels=(4, 4, 4, 4), blocks=(1, 1, 1, 1))
    ...     return {"compute_features": LogMelFeatures(), "model": model}
    >>> cpu = {"device": "cpu"}
    >>> verifier = SpeakerVerifier(tiny(), {"sample_rate": 16000}, cpu)
    >>> detector = SpoofDetector(tiny(), dict(
    ...     sample_rate=16000, class_names=[str(i) for i in range(8)],
    ...     bonafide_index=0, window_seconds=4.0, hop_seconds=2.0,
    ...     min_seconds=0.1, batch_size=4), cpu)
    >>> tandem = EdgeTandem(verifier, detector, 0.5, 0.0)
    >>> folder = getfixture("tmp_path")
    >>> for name in ("enrol", "test"):
    ...     soundfile.write(folder / f"{name}.wav",
    ...                     0.1 * torch.randn(16000).numpy(), 16000)
    >>> _ = tandem.enrol("alice", [folder / "enrol.wav"])
    >>> result = tandem.verify_files("alice", folder / "test.wav")
    >>> result.accepted == (result.asv.decision and result.cm_decision)
    True
    >>> tandem.to_dict()["enrolled"]
    ['alice']
    """

    def __init__(
        self,
        verifier,
        detector,
        asv_threshold=None,
        cm_threshold=None,
        verifier_dir=None,
        cm_dir=None,
    ):
        """Resolves both thresholds; refuses a tandem that cannot decide."""
        self.verifier = verifier
        self.detector = detector
        self.verifier_dir = verifier_dir
        self.cm_dir = cm_dir
        self.given_asv_threshold = asv_threshold
        asv_source = GIVEN
        if asv_threshold is None:
            asv_threshold = verifier.threshold
            asv_source = verifier.threshold_source
        if asv_threshold is None:
            where = Path(verifier_dir) / HPARAMS_FILE if verifier_dir else ""
            raise ModelFolderError(
                f"{where or 'the verifier'}: no asv_threshold and none was "
                "given (asv_threshold, verify --threshold): the tandem "
                "cannot decide"
            )
        calibration = detector.calibration
        self.cm_on_llr = cm_threshold is None and calibration is not None
        cm_source = GIVEN + " (on the bona fide score)"
        if self.cm_on_llr:
            cm_threshold = calibration.threshold
            cm_source = (
                f"calibrated threshold on the LLR, rule {calibration.rule}, "
                f"of {CALIBRATION_FILE}"
            )
        if cm_threshold is None:
            raise ModelFolderError(
                f"{cm_dir or 'the countermeasure'}: no {CALIBRATION_FILE}, "
                "so no CM threshold; give one on the bona fide score "
                "(cm_threshold, verify --cm-threshold)"
            )
        self.tandem = Tandem(asv_threshold, cm_threshold)
        self.asv_threshold_source = asv_source
        self.cm_threshold_source = cm_source
        logger.info(
            "tandem thresholds: ASV %.4f (%s), CM %.4f (%s)",
            self.tandem.asv_threshold,
            asv_source,
            self.tandem.cm_threshold,
            cm_source,
        )

    @classmethod
    def from_folders(
        cls,
        verifier_dir,
        cm_dir,
        backend="torch",
        onnx_file=ONNX_FILE,
        asv_threshold=None,
        cm_threshold=None,
    ):
        """Loads a verifier folder and a CM model folder as data.

        Arguments
        ---------
        verifier_dir : str or os.PathLike
            The verifier folder (``export_verifier_folder``'s output; a
            SpeechBrain ``EncoderClassifier`` folder on the torch backend).
        cm_dir : str or os.PathLike
            The countermeasure's model folder (``export_model_folder``'s).
        backend : str
            ``"torch"`` or ``"onnx"``, for both models.
        onnx_file : str
            The ONNX file of both folders on the ONNX backend
            (``model.onnx``, or ``model.int8.onnx``).
        asv_threshold : float, optional
            ASV threshold; None means the verifier folder's.
        cm_threshold : float, optional
            CM threshold on the raw bona fide score; None means the CM
            folder's calibrated threshold.

        Returns
        -------
        tandem : EdgeTandem
            Ready to enrol and verify.

        Example
        -------
        >>> EdgeTandem.from_folders("no/such/verifier", "no/such/cm")
        Traceback (most recent call last):
        ...
        speechbrain_asd.model_folder.ModelFolderError: model folder ...
        """
        verifier = SpeakerVerifier.from_hparams(
            verifier_dir, backend=backend, onnx_file=onnx_file
        )
        detector = SpoofDetector.from_hparams(
            cm_dir, backend=backend, onnx_file=onnx_file
        )
        return cls(
            verifier,
            detector,
            asv_threshold,
            cm_threshold,
            verifier_dir,
            cm_dir,
        )

    def enrol(self, speaker, files):
        """Enrols a speaker from audio files (``SpeakerVerifier.enrol``).

        Arguments
        ---------
        speaker : str
            The speaker's id.
        files : sequence of str or os.PathLike
            Enrolment audio files (at least one).

        Returns
        -------
        embedding : torch.Tensor
            The enrolment embedding.
        """
        return self.verifier.enrol(speaker, files)

    def verify_files(self, enrolled_speaker_or_files, test_file):
        """Decides one trial: the claimed speaker, and bona fide speech.

        Arguments
        ---------
        enrolled_speaker_or_files : str or sequence of str
            The id of a speaker enrolled with ``enrol``, or the enrolment
            audio files.
        test_file : str or os.PathLike
            The test audio file.

        Returns
        -------
        result : EdgeTandemResult
            Both scores, thresholds and decisions, and the tandem's.
        """
        asv = self.verifier.verify_files(
            enrolled_speaker_or_files,
            test_file,
            threshold=self.given_asv_threshold,
        )
        cm = self.detector.classify_file(test_file)
        cm_score = cm.llr if self.cm_on_llr else cm.bonafide_score
        return EdgeTandemResult(
            asv=asv,
            cm=cm,
            cm_score=cm_score,
            cm_threshold=self.tandem.cm_threshold,
            cm_threshold_source=self.cm_threshold_source,
            cm_decision=cm_score >= self.tandem.cm_threshold,
            accepted=bool(self.tandem.decide([asv.score], [cm_score])[0]),
        )

    def to_dict(self):
        """The tandem's folders, backends, thresholds and enrolled speakers.

        Returns
        -------
        values : dict
            JSON-ready.
        """
        return {
            "verifier_dir": _optional_str(self.verifier_dir),
            "cm_dir": _optional_str(self.cm_dir),
            "asv_backend": self.verifier.backend,
            "cm_backend": self.detector.backend,
            "asv_threshold": self.tandem.asv_threshold,
            "asv_threshold_source": self.asv_threshold_source,
            "cm_threshold": self.tandem.cm_threshold,
            "cm_threshold_source": self.cm_threshold_source,
            "cm_compared_score": "llr" if self.cm_on_llr else "bonafide_score",
            "enrolled": sorted(self.verifier.enrolled),
        }


def _optional_str(path):
    """A path as a string, None kept."""
    return None if path is None else str(path)
