"""Exports a model folder's countermeasure to ONNX, feature extraction inside.

Authors
 * speechbrain-asd developers
"""

import copy
import os
import shutil
import tempfile
from pathlib import Path

import torch
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

logger = get_logger(__name__)


# Largest |ONNX - PyTorch| bona fide score difference export_onnx accepts,
# relative to max(1, |score|).
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
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    detector = SpoofDetector.from_hparams(folder, run_opts={"device": "cpu"})
    graph = ExportableDetector(
        detector.mods.compute_features, detector.mods.model
    ).eval()
    staging = Path(tempfile.mkdtemp(prefix=".onnx.", dir=onnx_path.parent))
    try:
        written = staging / ONNX_FILE
        _export_graph(graph, detector.hparams.sample_rate, written)
        _check_onnx_parity(graph, written, detector.hparams.sample_rate)
        os.replace(written, onnx_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("wrote %s", onnx_path)
    if quantize:
        quantize_onnx(
            onnx_path,
            sample_rate=detector.hparams.sample_rate,
            calibration=calibration,
            max_seconds=detector.hparams.window_seconds,
        )
    return onnx_path


def _export_graph(graph, sample_rate, path):
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
            output_names=["logits"],
            dynamic_shapes=({0: batch, 1: time}, {0: batch}),
            external_data=False,
            verbose=False,
        )


def _check_onnx_parity(graph, path, sample_rate):
    """Checks that an ONNX graph scores like the PyTorch module."""
    for wavs, lengths in probe_inputs(sample_rate):
        with torch.no_grad():
            expected = bonafide_score(graph(wavs, lengths))
        got = bonafide_score(run_onnx(path, wavs, lengths))
        error = ((got - expected).abs() / expected.abs().clamp(min=1)).max()
        if not float(error) <= ONNX_TOLERANCE:
            raise ExportError(
                f"{path}: onnxruntime's scores differ from PyTorch's by "
                f"{float(error):.2g} (tolerance {ONNX_TOLERANCE:g}) on "
                f"inputs of shape {tuple(wavs.shape)}"
            )
