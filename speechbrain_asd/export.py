"""Packages a trained countermeasure: model folders and ONNX files.

``export_model_folder`` turns a recipe stage's output folder (the
checkpoints saved by SpeechBrain's ``Checkpointer`` and ``model_info.json``)
into a self-contained model folder that ``SpoofDetector.from_hparams``
loads: ``hyperparams.yaml`` (rendered from the top-level
``hparams/spoof_detector.yaml``), ``model.ckpt`` (the checkpoint with the
lowest dev EER), ``class_names.txt`` and a model card (``model_card.json``,
``model_card.md``: parameters, MACs, metrics).

``export_onnx`` writes the model of such a folder as one ONNX file,
waveform in, logits out, with the log-Mel feature extraction inside the
graph, dynamic batch and time axes, checked against PyTorch with
onnxruntime; ``quantize_onnx`` writes its int8 version (onnxruntime's
dynamic quantisation; the feature extraction stays in float).

Authors
 * speechbrain-asd developers
"""

import ast
import copy
import filecmp
import hashlib
import inspect
import json
import logging
import math
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.logger import get_logger

import speechbrain_asd
from speechbrain_asd.features import ConvolutionalFbank
from speechbrain_asd.inference import (
    AudioWindows,
    SpoofDetector,
    check_files_exist,
    check_state_dict,
    read_state_dict,
)
from speechbrain_asd.lobes.complexity import count_macs, count_parameters
from speechbrain_asd.lobes.resnet_se import ResNetSE, without_exits
from speechbrain_asd.lobes.score import bonafide_score
from speechbrain_asd.model_folder import (
    CHECKPOINT_FILE,
    HPARAMS_FILE,
    INT8_ONNX_FILE,
    ONNX_FILE,
    check_model_folder,
)

logger = get_logger(__name__)

# The top-level hparams/ folder, installed as speechbrain_asd.hparams.
TEMPLATE = Path(
    resources.files("speechbrain_asd.hparams") / "spoof_detector.yaml"
)
MODEL_INFO_FILE = "model_info.json"
CLASS_NAMES_FILE = "class_names.txt"
CARD_JSON_FILE = "model_card.json"
CARD_MD_FILE = "model_card.md"
MACS_SECONDS = 4.0
PLACEHOLDER = "!PLACEHOLDER"
# Largest |ONNX - PyTorch| bona fide score difference export_onnx accepts,
# relative to max(1, |score|).
ONNX_TOLERANCE = 1e-4


class ExportError(ValueError):
    """A recipe output folder or model folder that cannot be exported.

    Example
    -------
    >>> str(ExportError("no checkpoint with a dev_eer"))
    'no checkpoint with a dev_eer'
    """


def read_model_info(path):
    """Reads and checks a recipe stage's ``model_info.json``.

    Arguments
    ---------
    path : str or os.PathLike
        The file.

    Returns
    -------
    info : dict
        With ``model_kwargs`` (dict), ``class_names`` (list of str),
        ``sample_rate`` (int), ``name`` (str) and ``metrics`` (dict).

    Example
    -------
    >>> path = getfixture("tmp_path") / "model_info.json"
    >>> _ = path.write_text('{"model_kwargs": {}, "class_names": ["a", "b"],'
    ...     ' "sample_rate": 16000, "name": "student", "metrics": {}}')
    >>> read_model_info(path)["name"]
    'student'
    """
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such file (written by the recipe)")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExportError(
            f"{path}: not a readable JSON file ({error})"
        ) from error
    expected = {
        "model_kwargs": dict,
        "class_names": list,
        "sample_rate": int,
        "name": str,
        "metrics": dict,
    }
    for key, kind in expected.items():
        if not isinstance(info, dict) or key not in info:
            raise ExportError(f"{path}: no {key!r} entry")
        if not isinstance(info[key], kind) or isinstance(info[key], bool):
            raise ExportError(
                f"{path}: {key!r} must be a {kind.__name__}, got {info[key]!r}"
            )
    names = info["class_names"]
    if len(names) < 2 or not all(isinstance(n, str) and n for n in names):
        raise ExportError(
            f"{path}: class_names must hold at least 2 non-empty strings, "
            f"got {names!r}"
        )
    if len(set(names)) != len(names):
        raise ExportError(f"{path}: class_names repeats a name: {names!r}")
    if info["sample_rate"] <= 0:
        raise ExportError(
            f"{path}: sample_rate must be positive, got {info['sample_rate']}"
        )
    return info


def find_best_checkpoint(recipe_output_folder):
    """Finds the checkpoint with the lowest dev EER of a recipe stage.

    Checkpoints without a finite ``dev_eer`` in their meta (intra-epoch
    ones) are ignored.

    Arguments
    ---------
    recipe_output_folder : str or os.PathLike
        The stage's output folder, holding ``save/CKPT+*``.

    Returns
    -------
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        With ``path``, ``meta`` and ``paramfiles``.

    Example
    -------
    >>> find_best_checkpoint(getfixture("tmp_path"))
    Traceback (most recent call last):
    ...
    speechbrain_asd.export.ExportError: ...no save folder...
    """
    save = Path(recipe_output_folder) / "save"
    if not save.is_dir():
        raise ExportError(
            f"{recipe_output_folder}: no save folder; is it a recipe stage's "
            "output folder?"
        )
    checkpoint = Checkpointer(save).find_checkpoint(
        min_key="dev_eer",
        ckpt_predicate=lambda ckpt: _finite_number(ckpt.meta["dev_eer"]),
    )
    if checkpoint is None:
        raise ExportError(
            f"{save}: no checkpoint with a finite dev_eer in its meta "
            "(intra-epoch checkpoints carry none and are ignored)"
        )
    if "model" not in checkpoint.paramfiles:
        raise ExportError(f"{checkpoint.path}: no model.ckpt in it")
    return checkpoint


def _finite_number(value):
    """Whether a value is a finite real number (not a bool).

    Arguments
    ---------
    value : object
        The value.

    Returns
    -------
    finite : bool
        True for finite ints and floats.
    """
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def model_kwargs(info):
    """The full keyword arguments of ``ResNetSE`` for a model_info.

    Arguments model_info leaves out get ResNetSE's defaults; ``aux_exits``
    is always False (the exported model has no auxiliary exits).

    Arguments
    ---------
    info : dict
        As returned by ``read_model_info``.

    Returns
    -------
    kwargs : dict
        Every argument of ``ResNetSE`` but ``aux_exits``, sequences as lists.

    Example
    -------
    >>> kwargs = model_kwargs({"model_kwargs": {"channels": [4, 8, 8, 8]},
    ...                        "class_names": list("abcdefgh")})
    >>> kwargs["channels"], kwargs["n_mels"], "aux_exits" in kwargs
    ([4, 8, 8, 8], 40, False)
    """
    parameters = inspect.signature(ResNetSE.__init__).parameters
    defaults = {
        name: parameter.default
        for name, parameter in parameters.items()
        if name not in ("self", "aux_exits")
    }
    unknown = sorted(set(info["model_kwargs"]) - set(parameters) - {"self"})
    if unknown:
        raise ExportError(
            f"model_kwargs has arguments ResNetSE does not take: {unknown}"
        )
    kwargs = {**defaults, **info["model_kwargs"]}
    kwargs.pop("aux_exits", None)
    kwargs = {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in kwargs.items()
    }
    if kwargs["n_classes"] != len(info["class_names"]):
        raise ExportError(
            f"the model has {kwargs['n_classes']} classes but class_names "
            f"lists {len(info['class_names'])}: {info['class_names']}"
        )
    return kwargs


def render_template(template_text, values):
    """Fills the ``!PLACEHOLDER`` entries of a hyperparams template.

    Each top-level line ``key: !PLACEHOLDER`` becomes ``key: <value>`` (as
    YAML flow: JSON for numbers, strings, null and lists; True/False for
    booleans). Every placeholder must get a value and every value a
    placeholder.

    Arguments
    ---------
    template_text : str
        The template.
    values : dict
        Value of each placeholder key.

    Returns
    -------
    text : str
        The rendered YAML.

    Example
    -------
    >>> text = "a: !PLACEHOLDER  # note\\nb: 2\\nc: !PLACEHOLDER\\n"
    >>> print(render_template(text, {"a": [1, 2], "c": True}), end="")
    a: [1, 2]  # note
    b: 2
    c: True
    """
    lines = []
    filled = set()
    for line in template_text.splitlines(keepends=True):
        key, sep, rest = line.partition(":")
        if sep and rest.strip().startswith(PLACEHOLDER) and key.isidentifier():
            if key not in values:
                raise ExportError(f"template placeholder {key!r} has no value")
            comment = rest.strip()[len(PLACEHOLDER) :]
            line = f"{key}: {_yaml_value(values[key])}{comment}\n"
            filled.add(key)
        lines.append(line)
    unused = sorted(set(values) - filled)
    if unused:
        raise ExportError(
            f"the template has no placeholder for {unused}: is it out of "
            "date with ResNetSE's arguments?"
        )
    return "".join(lines)


def _yaml_value(value):
    """Writes a value as YAML flow text.

    Arguments
    ---------
    value : object
        A JSON-like value.

    Returns
    -------
    text : str
        ``True``/``False`` for booleans, JSON otherwise.
    """
    if isinstance(value, bool):
        return str(value)
    return json.dumps(value)


def export_model_folder(
    recipe_output_folder, out_dir, overwrite=False, template=None
):
    """Writes a self-contained model folder from a recipe stage's output.

    Picks the checkpoint with the lowest dev EER, checks it against the
    model of ``model_info.json``, writes ``hyperparams.yaml``,
    ``model.ckpt``, ``class_names.txt``, ``model_card.json`` and
    ``model_card.md`` into a temporary folder next to ``out_dir``, loads
    that folder with ``SpoofDetector`` (every parameter restored) and runs
    it once, then renames it to ``out_dir``. A failure at any point leaves
    no ``out_dir`` (or the previous one, untouched). An existing
    ``out_dir`` with the very same files is left as is; a different one is
    only replaced with ``overwrite=True``.

    Arguments
    ---------
    recipe_output_folder : str or os.PathLike
        The stage's output folder (``save/CKPT+*``, ``model_info.json``).
    out_dir : str or os.PathLike
        The model folder to write.
    overwrite : bool
        Replace an existing, different ``out_dir``.
    template : str or os.PathLike, optional
        The hyperparams template; defaults to ``hparams/spoof_detector.yaml``.

    Returns
    -------
    out_dir : pathlib.Path
        The model folder.

    Example
    -------
    >>> export_model_folder("no/such/run", getfixture("tmp_path") / "model")
    Traceback (most recent call last):
    ...
    speechbrain_asd.export.ExportError: no/such/run: no such folder
    """
    source = Path(recipe_output_folder)
    out_dir = Path(out_dir)
    if not source.is_dir():
        raise ExportError(f"{recipe_output_folder}: no such folder")
    info = read_model_info(source / MODEL_INFO_FILE)
    checkpoint = find_best_checkpoint(source)
    kwargs = model_kwargs(info)
    model = ResNetSE(**kwargs)
    state = _deployable_state(checkpoint.paramfiles["model"], model)
    template = Path(template) if template is not None else TEMPLATE
    if not template.is_file():
        raise ExportError(f"{template}: no such hyperparams template")
    values = {
        "model_name": info["name"],
        "sample_rate": info["sample_rate"],
        "class_names": info["class_names"],
        **kwargs,
    }
    hparams = render_template(template.read_text(encoding="utf-8"), values)
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir}: exists and is not a folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent)
    )
    try:
        _write_model_folder(staging, hparams, state, info, checkpoint, model)
        _check_model_folder_runs(staging)
        _commit_folder(staging, out_dir, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("exported %s to %s", checkpoint.path, out_dir)
    return out_dir


def _deployable_state(path, model):
    """Reads a training checkpoint's state dict for the model to export.

    Entries of auxiliary exits (``exits.*``) are dropped; the rest must
    match the model exactly.

    Arguments
    ---------
    path : str or os.PathLike
        The checkpoint's ``model.ckpt``.
    model : ResNetSE
        The model to export (without exits).

    Returns
    -------
    state : dict
        Tensor by name, loadable strictly into ``model``.
    """
    state = read_state_dict(path)
    state = without_exits(state)
    check_state_dict(model.state_dict(), state, path, MODEL_INFO_FILE)
    model.load_state_dict(state, strict=True)
    return state


def _write_model_folder(folder, hparams, state, info, checkpoint, model):
    """Writes the files of a model folder.

    Arguments
    ---------
    folder : pathlib.Path
        The (empty) folder.
    hparams : str
        Rendered hyperparams.yaml.
    state : dict
        The model's state dict.
    info : dict
        The model_info.
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The selected checkpoint.
    model : ResNetSE
        The model, loaded.
    """
    (folder / HPARAMS_FILE).write_text(hparams, encoding="utf-8")
    torch.save(state, folder / CHECKPOINT_FILE)
    (folder / CLASS_NAMES_FILE).write_text(
        "".join(f"{name}\n" for name in info["class_names"]), encoding="utf-8"
    )
    card = folder_card(info, checkpoint, model, folder / CHECKPOINT_FILE)
    (folder / CARD_JSON_FILE).write_text(
        json.dumps(card, indent=2, default=str) + "\n", encoding="utf-8"
    )
    (folder / CARD_MD_FILE).write_text(
        folder_card_markdown(card), encoding="utf-8"
    )


def folder_card(info, checkpoint, model, checkpoint_file):
    """The facts of an exported model: size, cost, metrics, provenance.

    Arguments
    ---------
    info : dict
        The model_info.
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The selected checkpoint.
    model : torch.nn.Module
        The model.
    checkpoint_file : pathlib.Path
        The written model.ckpt, for its SHA-256.

    Returns
    -------
    card : dict
        JSON-ready.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> model = ResNetSE(channels=(4, 4, 4, 4), blocks=(1, 1, 1, 1))
    >>> torch.save(model.state_dict(), path)
    >>> info = {"name": "tiny", "class_names": list("abcdefgh"),
    ...         "sample_rate": 16000, "metrics": {"eval_eer": 0.1},
    ...         "model_kwargs": {}}
    >>> ckpt = SimpleNamespace(path=Path("CKPT+1"), meta={"dev_eer": 0.2})
    >>> card = folder_card(info, ckpt, model, path)
    >>> card["params"] == count_parameters(model), card["metrics"]
    (True, {'eval_eer': 0.1})
    """
    n_mels = getattr(model, "n_mels", 40)
    digest = hashlib.sha256(Path(checkpoint_file).read_bytes()).hexdigest()
    return {
        "name": info["name"],
        "model": "speechbrain_asd.lobes.resnet_se.ResNetSE",
        "model_kwargs": info["model_kwargs"],
        "class_names": info["class_names"],
        "sample_rate": info["sample_rate"],
        "score": "bona fide log-odds log P(bonafide) - log P(spoof); "
        "higher = bona fide",
        "params": count_parameters(model),
        "macs": count_macs(
            model, frames=round(MACS_SECONDS * 100), n_mels=n_mels
        ),
        "macs_input_seconds": MACS_SECONDS,
        "macs_note": "model only (features excluded), convolutions and "
        "matrix products, measured with torch.utils.flop_counter",
        "metrics": info["metrics"],
        "checkpoint": {
            "source": str(checkpoint.path),
            "meta": checkpoint.meta,
            "sha256": digest,
        },
        "versions": {
            "speechbrain_asd": speechbrain_asd.__version__,
            "torch": torch.__version__.split("+")[0],
        },
    }


def folder_card_markdown(card):
    """Formats a model card as markdown.

    Arguments
    ---------
    card : dict
        As returned by ``folder_card``.

    Returns
    -------
    text : str
        A short markdown page.

    Example
    -------
    >>> card = {"name": "student", "params": 1441182, "macs": 880e6,
    ...         "macs_input_seconds": 4.0, "class_names": ["bonafide", "A01"],
    ...         "sample_rate": 16000, "metrics": {"eval_eer": 3.5},
    ...         "checkpoint": {"source": "save/CKPT+x",
    ...                        "meta": {"dev_eer": 1.2}}}
    >>> print(folder_card_markdown(card).splitlines()[0])
    # student: ResNetSE spoofing countermeasure
    """
    rows = [
        ("parameters", f"{card['params']:,}"),
        (
            f"MACs ({card['macs_input_seconds']:g} s input, model only)",
            f"{card['macs'] / 1e9:.3f} G",
        ),
        ("classes", ", ".join(card["class_names"])),
        ("sample rate", f"{card['sample_rate']} Hz"),
        ("checkpoint", Path(card["checkpoint"]["source"]).name),
        ("checkpoint dev_eer", str(card["checkpoint"]["meta"].get("dev_eer"))),
    ]
    lines = [
        f"# {card['name']}: ResNetSE spoofing countermeasure",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in rows),
        "",
        "## Metrics (from the recipe's evaluation)",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in card["metrics"].items()),
        "",
        "## Use",
        "",
        "```python",
        "from speechbrain_asd.inference import SpoofDetector",
        'detector = SpoofDetector.from_hparams(source="path/to/this/folder")',
        'print(detector.classify_file("audio.flac"))',
        "```",
        "",
        "The bona fide score is log P(bonafide) - log P(spoof): higher means "
        "more bona fide.",
        "",
    ]
    return "\n".join(lines)


def _check_model_folder_runs(folder):
    """Loads a model folder and scores a second of noise with it.

    Arguments
    ---------
    folder : pathlib.Path
        The model folder.
    """
    detector = SpoofDetector.from_hparams(folder, run_opts={"device": "cpu"})
    generator = torch.Generator().manual_seed(0)
    noise = 0.1 * torch.randn(
        1, detector.hparams.sample_rate, generator=generator
    )
    out = detector.classify_batch(noise)
    if not torch.isfinite(out.log_probs).all():
        raise ExportError(f"{folder}: the exported model outputs NaN or inf")


def _commit_folder(staging, out_dir, overwrite):
    """Moves a finished folder into place.

    Arguments
    ---------
    staging : pathlib.Path
        The finished folder, next to ``out_dir``.
    out_dir : pathlib.Path
        Where it goes.
    overwrite : bool
        Replace a different existing folder.
    """
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if _same_files(staging, out_dir):
            logger.info("%s already holds this export", out_dir)
            return
        if not overwrite:
            raise FileExistsError(
                f"{out_dir} exists and holds a different model folder; "
                "pass overwrite=True to replace it"
            )
        old = Path(
            tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent)
        )
        os.replace(out_dir, old / out_dir.name)
        try:
            os.replace(staging, out_dir)
        except OSError:
            os.replace(old / out_dir.name, out_dir)
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
        return
    if out_dir.is_dir():
        out_dir.rmdir()
    os.replace(staging, out_dir)


def _same_files(first, second):
    """Whether two folders hold the same files with the same bytes.

    Arguments
    ---------
    first : pathlib.Path
        A folder.
    second : pathlib.Path
        Another folder.

    Returns
    -------
    same : bool
        True when their file names and contents match.
    """
    names = sorted(p.name for p in first.iterdir())
    if names != sorted(p.name for p in second.iterdir()):
        return False
    match, mismatch, errors = filecmp.cmpfiles(
        first, second, names, shallow=False
    )
    return not mismatch and not errors


class ExportableDetector(torch.nn.Module):
    """Waveforms to logits in one module that ``torch.export`` can trace.

    The same computation as ``SpoofDetector``'s torch backend: features,
    then the model with the features' frame lengths. The features are a
    copy whose ``Fbank`` is replaced by ``ConvolutionalFbank`` (the STFT as
    one convolution, which onnxruntime runs faster than its ``STFT``
    operator; the given ``features`` are left untouched). ``LogMelFeatures``
    skips its data-dependent check of ``lengths`` while exporting;
    ``SpoofDetector`` checks its inputs before they reach the ONNX graph.

    Arguments
    ---------
    features : speechbrain_asd.features.LogMelFeatures
        The feature extractor.
    model : torch.nn.Module
        The classifier, ``model(feats, frame_lengths) -> logits``.

    Example
    -------
    >>> from speechbrain_asd.features import LogMelFeatures
    >>> model = ResNetSE(channels=(4, 4, 4, 4), blocks=(1, 1, 1, 1)).eval()
    >>> graph = ExportableDetector(LogMelFeatures(), model)
    >>> graph(torch.randn(2, 8000), torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 8])
    """

    def __init__(self, features, model):
        """Keeps the two modules."""
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
    returns ``logits`` [batch, n_classes]; batch and time are dynamic. It is
    exported with ``torch.onnx.export(dynamo=True)`` into one file (weights
    inside) and checked with onnxruntime against PyTorch on inputs of other
    shapes than the export's: the bona fide scores must agree within
    ``ONNX_TOLERANCE`` (relative to max(1, |score|)). The file is written
    only once it passes.

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


def quantize_onnx(
    onnx_path,
    int8_path=None,
    sample_rate=16000,
    calibration=None,
    max_seconds=10.0,
):
    """Writes the int8 version of an ONNX model from ``export_onnx``.

    Two kinds of onnxruntime quantisation, both with int8 weights for the
    model's Conv, MatMul and Gemm nodes:

    - dynamic (no ``calibration``): the activations are quantised on the
      fly from their range in each call. No data needed, but onnxruntime
      runs these ``ConvInteger`` nodes slowly on a CPU: the model is
      smaller than in float, not faster.
    - static (``calibration`` files): the activation ranges are measured
      once on these files (min and max, the first ``max_seconds`` of each),
      stored in QuantizeLinear/DequantizeLinear pairs with per-channel
      weight scales, and onnxruntime runs quantised kernels: faster than
      float on a CPU with int8 dot products (AVX-512 VNNI, ARM dot
      product). Calibrate on audio like the audio to score (a few dozen
      bona fide and spoofed files of the training or development set).

    The feature extraction (the nodes the exporter placed under the
    ``features`` submodule) stays in float either way: power spectra span
    too many decades for 8 bits. The result is checked to run and give
    finite outputs before it is written.

    Arguments
    ---------
    onnx_path : str or os.PathLike
        The float ONNX model.
    int8_path : str or os.PathLike, optional
        Where to write; by default ``<name>.int8.onnx`` next to it.
    sample_rate : int
        Sample rate of the model.
    calibration : list of str, optional
        Audio files (any format, rate and channels ``SpoofDetector``
        reads) for static quantisation; None quantises dynamically.
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
    speechbrain_asd.export.ExportError: no/such/model.onnx: no such file
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
        _check_onnx_runs(written, sample_rate)
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

    What onnxruntime's static quantisation reads activation ranges from:
    ``get_next()`` returns ``{"wavs": [1, samples], "lengths": [1]}`` for
    the next file (its first ``max_seconds``, mono, at ``sample_rate``),
    then None. Files are read only when asked for, so memory stays bounded
    however many there are. Every file is checked to exist up front.

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
        """Checks the files; see the class docstring."""
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


def _export_graph(graph, sample_rate, path):
    """Runs the dynamo ONNX exporter with dynamic batch and time axes.

    Arguments
    ---------
    graph : ExportableDetector
        The module.
    sample_rate : int
        Sample rate, for the example input (one second).
    path : pathlib.Path
        The ONNX file to write.
    """
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


def _probe_inputs(sample_rate):
    """Inputs of other shapes than the export's, to check the ONNX graph.

    Arguments
    ---------
    sample_rate : int
        Sample rate, in Hz.

    Returns
    -------
    probes : list of (torch.Tensor, torch.Tensor)
        (wavs, lengths) pairs.
    """
    generator = torch.Generator().manual_seed(1)
    probes = []
    for batch, seconds, lengths in (
        (3, 1.5, [1.0, 0.5, 0.2]),
        (1, 0.3, [1.0]),
    ):
        samples = round(seconds * sample_rate)
        wavs = 0.1 * torch.randn(batch, samples, generator=generator)
        probes.append((wavs, torch.tensor(lengths)))
    return probes


def _run_onnx(path, wavs, lengths):
    """Runs an ONNX model with onnxruntime on the CPU.

    Arguments
    ---------
    path : pathlib.Path
        The ONNX file.
    wavs : torch.Tensor
        Shape [batch, samples].
    lengths : torch.Tensor
        Shape [batch].

    Returns
    -------
    logits : torch.Tensor
        Shape [batch, n_classes].
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    feeds = {"wavs": wavs.numpy(), "lengths": lengths.numpy()}
    return torch.from_numpy(session.run(["logits"], feeds)[0])


def _check_onnx_parity(graph, path, sample_rate):
    """Checks that an ONNX graph scores like the PyTorch module.

    Arguments
    ---------
    graph : ExportableDetector
        The module.
    path : pathlib.Path
        Its ONNX export.
    sample_rate : int
        Sample rate, in Hz.
    """
    for wavs, lengths in _probe_inputs(sample_rate):
        with torch.no_grad():
            expected = bonafide_score(graph(wavs, lengths))
        got = bonafide_score(_run_onnx(path, wavs, lengths))
        error = ((got - expected).abs() / expected.abs().clamp(min=1)).max()
        if not float(error) <= ONNX_TOLERANCE:
            raise ExportError(
                f"{path}: onnxruntime's scores differ from PyTorch's by "
                f"{float(error):.2g} (tolerance {ONNX_TOLERANCE:g}) on "
                f"inputs of shape {tuple(wavs.shape)}"
            )


def _check_onnx_runs(path, sample_rate):
    """Checks that an ONNX model runs and gives finite outputs.

    Arguments
    ---------
    path : pathlib.Path
        The ONNX file.
    sample_rate : int
        Sample rate, in Hz.
    """
    for wavs, lengths in _probe_inputs(sample_rate):
        if not torch.isfinite(_run_onnx(path, wavs, lengths)).all():
            raise ExportError(f"{path}: outputs NaN or inf")


def _quantize(fp32_path, int8_path, feeds=None):
    """Quantises the model's Conv, MatMul and Gemm nodes to int8 weights.

    Nodes of the feature extraction (those the exporter placed under the
    ``features`` submodule) are left in float.

    Arguments
    ---------
    fp32_path : pathlib.Path
        The float ONNX model.
    int8_path : pathlib.Path
        Where to write the quantised one.
    feeds : CalibrationFeeds, optional
        Calibration inputs for static quantisation; None for dynamic.
    """
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
    """Drops onnxruntime's advice to pre-process before static quantisation.

    The exporter already writes a shape-inferred, optimised graph: that
    pre-processing left the quantised student's speed unchanged (measured:
    546 against 544 s of audio per second at batch 32), so the warning
    would only puzzle.

    Arguments
    ---------
    record : logging.LogRecord
        A record of the root logger.

    Returns
    -------
    bool
        False for that advice, True for anything else.
    """
    return "pre-processing before quantization" not in record.getMessage()


def _name_scopes(node):
    """The module scopes the torch exporter recorded for an ONNX node.

    Arguments
    ---------
    node : onnx.NodeProto
        The node.

    Returns
    -------
    scopes : list of str
        E.g. ``['', 'features', 'features.fbank', ...]``; empty if absent.
    """
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                return list(ast.literal_eval(prop.value))
            except (ValueError, SyntaxError):
                return []
    return []
