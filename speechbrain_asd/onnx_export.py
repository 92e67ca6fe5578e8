"""Exports a model folder's countermeasure, or a verifier folder's speaker
encoder, to ONNX, feature extraction inside.

Authors
 * speechbrain-asd developers
"""

import copy
import os
import shutil
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from speechbrain.utils.logger import get_logger

from speechbrain_asd.features import ConvolutionalFbank
from speechbrain_asd.inference import SpoofDetector
from speechbrain_asd.lobes.score import bonafide_score
from speechbrain_asd.model_folder import (
    ONNX_FILE,
    ExportError,
    check_model_folder,
)
from speechbrain_asd.onnx_runtime import probe_inputs, run_onnx
from speechbrain_asd.quantization import quantize_onnx
from speechbrain_asd.verification import (
    ONNX_OWN_ONLY,
    OWN_ENCODER,
    SpeakerVerifier,
    check_verifier_folder,
)

logger = get_logger(__name__)


# Largest |ONNX - PyTorch| difference of bona fide scores (export_onnx) or
# of unit-length embeddings (export_verifier_onnx) accepted, relative to
# max(1, |value|).
ONNX_TOLERANCE = 1e-4


class ExportableDetector(torch.nn.Module):
    """Waveforms to logits in one module that ``torch.export`` can trace.

    The computation of ``SpoofDetector``'s torch backend (features, then the
    model with the features' frame lengths), on a copy of the features whose
    ``Fbank`` is a ``ConvolutionalFbank``; the given ``features`` are left
    untouched.

    Arguments
    ---------
    features : speechbrain_asd.features.LogMelFeatures
        The feature extractor.
    model : torch.nn.Module
        The classifier, ``model(feats, frame_lengths) -> logits``.

    Example
    -------
    >>> from speechbrain_asd.features import LogMelFeatures
    >>> from speechbrain_asd.lobes.resnet_se import ResNetSE
    >>> model = ResNetSE(channels=(4, 4, 4, 4), blocks=(1, 1, 1, 1)).eval()
    >>> graph = ExportableDetector(LogMelFeatures(), model)
    >>> graph(torch.randn(2, 8000), torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 8])
    """

    def __init__(self, features, model):
        """Keeps a converted copy of the features, and the model."""
        super().__init__()
        self.features = copy.deepcopy(features)
        self.features.fbank = ConvolutionalFbank(self.features.fbank)
        self.model = model

    def forward(self, wavs, lengths):
        """Computes the logits.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, shape [batch, samples].
        lengths : torch.Tensor
            Relative lengths in (0, 1], shape [batch].

        Returns
        -------
        logits : torch.Tensor
            Shape [batch, n_classes].
        """
        return self.model(*self.features.with_frame_lengths(wavs, lengths))


def export_onnx(model_dir, onnx_path=None, quantize=False, calibration=None):
    """Exports a model folder's model to ONNX, feature extraction included.

    The graph takes ``wavs`` (float32 [batch, samples] at the model's sample
    rate) and ``lengths`` (float32 [batch], relative lengths in (0, 1]) and
    returns ``logits`` [batch, n_classes]; batch and time are dynamic. The
    file holds its weights and is written only once onnxruntime's bona fide
    scores match PyTorch's within ``ONNX_TOLERANCE`` (relative to
    max(1, |score|)) on inputs of other shapes than the export's.

    Arguments
    ---------
    model_dir : str or os.PathLike
        The model folder.
    onnx_path : str or os.PathLike, optional
        The file to write; by default ``model.onnx`` in the model folder,
        where ``SpoofDetector.from_hparams(..., backend="onnx")`` finds it.
    quantize : bool
        Also write the int8 model (``quantize_onnx``) next to it, as
        ``<name>.int8.onnx`` (``model.int8.onnx`` by default).
    calibration : list of str, optional
        Audio files for static int8 quantisation (see ``quantize_onnx``);
        None quantises dynamically. Only used with ``quantize``.

    Returns
    -------
    onnx_path : pathlib.Path
        The float ONNX file written.

    Example
    -------
    >>> export_onnx("no/such/model")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: model folder ...
    """
    folder = check_model_folder(model_dir)
    onnx_path = Path(onnx_path) if onnx_path else folder / ONNX_FILE
    detector = SpoofDetector.from_hparams(folder, run_opts={"device": "cpu"})
    graph = ExportableDetector(
        detector.mods.compute_features, detector.mods.model
    ).eval()
    rate = detector.hparams.sample_rate
    _write_checked_onnx(graph, rate, onnx_path, "logits", bonafide_score)
    if quantize:
        quantize_onnx(
            onnx_path,
            sample_rate=rate,
            calibration=calibration,
            max_seconds=detector.hparams.window_seconds,
        )
    return onnx_path


class ExportableEncoder(ExportableDetector):
    """Waveforms to speaker embeddings in one module ``torch.export`` traces.

    ``ExportableDetector`` with the model's ``embed`` in place of its
    logits: the computation of ``SpeakerVerifier``'s torch backend on a
    speechbrain-asd verifier folder, before the unit-length normalisation.

    Arguments
    ---------
    features : speechbrain_asd.features.LogMelFeatures
        The feature extractor.
    model : torch.nn.Module
        The encoder, ``model.embed(feats, frame_lengths) -> embeddings``.

    Example
    -------
    >>> from speechbrain_asd.features import LogMelFeatures
    >>> from speechbrain_asd.lobes.resnet_se import ResNetSE
    >>> model = ResNetSE(channels=(4, 4, 4, 4), blocks=(1, 1, 1, 1)).eval()
    >>> graph = ExportableEncoder(LogMelFeatures(), model)
    >>> graph(torch.randn(2, 8000), torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 512])
    """

    def forward(self, wavs, lengths):
        """Computes the embeddings.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, shape [batch, samples].
        lengths : torch.Tensor
            Relative lengths in (0, 1], shape [batch].

        Returns
        -------
        embeddings : torch.Tensor
            Shape [batch, emb_dim], not normalised.
        """
        return self.model.embed(
            *self.features.with_frame_lengths(wavs, lengths)
        )


def export_verifier_onnx(
    verifier_dir, onnx_path=None, quantize=False, calibration=None
):
    """Exports a verifier folder's speaker encoder to ONNX, features included.

    The graph takes ``wavs`` and ``lengths`` as ``export_onnx``'s and
    returns ``embeddings`` [batch, emb_dim] (before the unit-length
    normalisation ``SpeakerVerifier`` applies); batch and time are dynamic.
    It is written only once onnxruntime's unit-length embeddings match
    PyTorch's within ``ONNX_TOLERANCE`` on inputs of other shapes than the
    export's. Only speechbrain-asd verifier folders (``model.ckpt``, from
    ``verifier_export.export_verifier_folder``) can be exported.

    Arguments
    ---------
    verifier_dir : str or os.PathLike
        The verifier folder.
    onnx_path : str or os.PathLike, optional
        The file to write; by default ``model.onnx`` in the folder, where
        ``SpeakerVerifier.from_hparams(..., backend="onnx")`` finds it.
    quantize : bool
        Also write the int8 model (``quantize_onnx``) next to it, as
        ``<name>.int8.onnx``.
    calibration : list of str, optional
        Audio files for static int8 quantisation (e.g. a few dozen
        enrolment or dev files); None quantises dynamically. Only used with
        ``quantize``.

    Returns
    -------
    onnx_path : pathlib.Path
        The float ONNX file written.

    Example
    -------
    >>> export_verifier_onnx("no/such/verifier")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: model folder ...
    """
    folder = check_verifier_folder(verifier_dir)
    if not (folder / f"{OWN_ENCODER}.ckpt").is_file():
        raise ExportError(f"{folder}: {ONNX_OWN_ONLY}")
    onnx_path = Path(onnx_path) if onnx_path else folder / ONNX_FILE
    verifier = SpeakerVerifier.from_hparams(folder, run_opts={"device": "cpu"})
    graph = ExportableEncoder(
        verifier.mods.compute_features, verifier.mods.model
    ).eval()
    rate = verifier.sample_rate
    _write_checked_onnx(graph, rate, onnx_path, "embeddings", _unit_rows)
    if quantize:
        quantize_onnx(onnx_path, sample_rate=rate, calibration=calibration)
    return onnx_path


def _unit_rows(embeddings):
    """Unit-length rows of an embedding batch (what verification compares)."""
    return F.normalize(embeddings, dim=1)


def _write_checked_onnx(graph, sample_rate, onnx_path, output, measure):
    """Exports a graph next to ``onnx_path``, checks it, moves it in place."""
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".onnx.", dir=onnx_path.parent))
    try:
        written = staging / ONNX_FILE
        _export_graph(graph, sample_rate, written, output)
        _check_onnx_parity(graph, written, sample_rate, measure)
        os.replace(written, onnx_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("wrote %s", onnx_path)


def _export_graph(graph, sample_rate, path, output):
    """Runs the dynamo ONNX exporter with dynamic batch and time axes."""
    generator = torch.Generator().manual_seed(0)
    wavs = 0.1 * torch.randn(2, sample_rate, generator=generator)
    lengths = torch.tensor([1.0, 0.75])
    batch, time = torch.export.Dim("batch"), torch.export.Dim("time")
    with torch.no_grad():
        torch.onnx.export(
            graph,
            (wavs, lengths),
            str(path),
            dynamo=True,
            input_names=["wavs", "lengths"],
            output_names=[output],
            dynamic_shapes=({0: batch, 1: time}, {0: batch}),
            external_data=False,
            verbose=False,
        )


def _check_onnx_parity(graph, path, sample_rate, measure):
    """Checks that an ONNX graph's ``measure`` of its output is PyTorch's."""
    for wavs, lengths in probe_inputs(sample_rate):
        with torch.no_grad():
            expected = measure(graph(wavs, lengths))
        got = measure(run_onnx(path, wavs, lengths))
        error = ((got - expected).abs() / expected.abs().clamp(min=1)).max()
        if not float(error) <= ONNX_TOLERANCE:
            raise ExportError(
                f"{path}: onnxruntime's outputs differ from PyTorch's by "
                f"{float(error):.2g} (tolerance {ONNX_TOLERANCE:g}) on "
                f"inputs of shape {tuple(wavs.shape)}"
            )
