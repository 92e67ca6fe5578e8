"""Writes the int8 version of an exported ONNX countermeasure.

Authors
 * speechbrain-asd developers
"""

import ast
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from speechbrain.utils.logger import get_logger

from speechbrain_asd.audio import AudioWindows
from speechbrain_asd.file_lists import check_files_exist
from speechbrain_asd.model_folder import INT8_ONNX_FILE, ExportError
from speechbrain_asd.onnx_runtime import check_onnx_runs

logger = get_logger(__name__)


def quantize_onnx(
    onnx_path,
    int8_path=None,
    sample_rate=16000,
    calibration=None,
    max_seconds=10.0,
):
    """Writes the int8 version of an ONNX model from ``export_onnx``.

    The model's Conv, MatMul and Gemm nodes get int8 weights; the feature
    extraction stays in float. Without ``calibration`` the activations are
    quantised on the fly (dynamic quantisation: smaller, not faster on a
    CPU); with it, their ranges are measured once on the calibration files
    (static quantisation, faster on CPUs with int8 dot products). The result
    is checked to run and give finite outputs before it is written.

    Arguments
    ---------
    onnx_path : str or os.PathLike
        The float ONNX model.
    int8_path : str or os.PathLike, optional
        Where to write; by default ``<name>.int8.onnx`` next to it.
    sample_rate : int
        Sample rate of the model.
    calibration : list of str, optional
        Audio files (any format, rate and channels ``SpoofDetector`` reads)
        for static quantisation, ideally a few dozen bona fide and spoofed
        training or development files; None quantises dynamically.
    max_seconds : float
        Seconds read from the start of each calibration file.

    Returns
    -------
    int8_path : pathlib.Path
        The file written.

    Example
    -------
    >>> quantize_onnx("no/such/model.onnx")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ExportError: no/such/model.onnx: no such file
    """
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise ExportError(f"{onnx_path}: no such file")
    feeds = None
    if calibration is not None:
        feeds = CalibrationFeeds(calibration, sample_rate, max_seconds)
    if int8_path is None:
        int8_path = onnx_path.with_name(
            onnx_path.name.removesuffix(".onnx") + ".int8.onnx"
        )
    int8_path = Path(int8_path)
    staging = Path(tempfile.mkdtemp(prefix=".onnx.", dir=int8_path.parent))
    try:
        written = staging / INT8_ONNX_FILE
        _quantize(onnx_path, written, feeds)
        check_onnx_runs(written, sample_rate)
        os.replace(written, int8_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info(
        "wrote %s (%s int8)",
        int8_path,
        "dynamic" if feeds is None else "static",
    )
    return int8_path


class CalibrationFeeds:
    """The ONNX inputs of calibration audio files, one file at a time.

    The data reader of onnxruntime's static quantisation: ``get_next()``
    returns ``{"wavs": [1, samples], "lengths": [1]}`` for the next file
    (its first ``max_seconds``, mono, at ``sample_rate``), then None. Files
    are checked to exist up front and read only when asked for.

    Arguments
    ---------
    paths : list of str or os.PathLike
        The audio files.
    sample_rate : int
        Sample rate of the model.
    max_seconds : float
        Seconds read from the start of each file.

    Example
    -------
    >>> import soundfile
    >>> path = getfixture("tmp_path") / "tone.wav"
    >>> soundfile.write(path, np.zeros((44100 * 3, 2)), 44100)
    >>> feeds = CalibrationFeeds([path], 16000, max_seconds=2.0)
    >>> feed = feeds.get_next()
    >>> feed["wavs"].shape, feed["lengths"].tolist()
    ((1, 32000), [1.0])
    >>> feeds.get_next() is None
    True
    """

    def __init__(self, paths, sample_rate, max_seconds):
        """Checks that the files exist."""
        self.paths = [Path(path) for path in paths]
        if not self.paths:
            raise ExportError("no calibration files given")
        check_files_exist(self.paths, "given for calibration")
        self.sample_rate = sample_rate
        self.max_seconds = max_seconds
        self.position = 0

    def get_next(self):
        """The inputs of the next file.

        Returns
        -------
        feed : dict or None
            ``wavs`` (float32 [1, samples]) and ``lengths`` (float32 [1]);
            None after the last file.
        """
        if self.position == len(self.paths):
            return None
        path = self.paths[self.position]
        self.position += 1
        windows = AudioWindows(
            path,
            self.sample_rate,
            window_seconds=self.max_seconds,
            hop_seconds=self.max_seconds,
        )
        wav = next(iter(windows))
        return {
            "wavs": wav.unsqueeze(0).numpy(),
            "lengths": np.ones(1, dtype=np.float32),
        }


def _quantize(fp32_path, int8_path, feeds=None):
    """Quantises the Conv, MatMul and Gemm nodes outside the features."""
    import onnx
    from onnxruntime.quantization import (
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    feature_nodes = []
    scoped = 0
    for node in onnx.load(str(fp32_path)).graph.node:
        scopes = _name_scopes(node)
        scoped += bool(scopes)
        if len(scopes) > 1 and scopes[1] == "features":
            feature_nodes.append(node.name)
    if not scoped:
        raise ExportError(
            f"{fp32_path}: the exporter recorded no module scopes, so the "
            "feature extraction cannot be kept out of quantisation"
        )
    common = {
        "op_types_to_quantize": ["Conv", "MatMul", "Gemm"],
        "weight_type": QuantType.QInt8,
        "nodes_to_exclude": feature_nodes,
    }
    if feeds is None:
        quantize_dynamic(str(fp32_path), str(int8_path), **common)
        return
    root = logging.getLogger()
    root.addFilter(_skip_preprocessing_advice)
    try:
        quantize_static(
            str(fp32_path),
            str(int8_path),
            feeds,
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            per_channel=True,
            **common,
        )
    finally:
        root.removeFilter(_skip_preprocessing_advice)


def _skip_preprocessing_advice(record):
    """Logging filter dropping onnxruntime's pre-processing advice."""
    return "pre-processing before quantization" not in record.getMessage()


def _name_scopes(node):
    """The module scopes the torch exporter recorded for an ONNX node."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                return list(ast.literal_eval(prop.value))
            except (ValueError, SyntaxError):
                return []
    return []
