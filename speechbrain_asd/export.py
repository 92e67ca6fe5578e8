"""Packages a recipe stage's best checkpoint as a self-contained model folder.

Authors
 * speechbrain-asd developers
"""

import filecmp
import hashlib
import inspect
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from speechbrain.utils.logger import get_logger

import speechbrain_asd
from speechbrain_asd.checkpoints import (
    MODEL_RECOVERABLE,
    best_checkpoint,
    load_checkpoint,
)
from speechbrain_asd.inference import SpoofDetector
from speechbrain_asd.lobes.complexity import count_macs, count_parameters
from speechbrain_asd.lobes.resnet_se import ResNetSE
from speechbrain_asd.model_folder import (
    CALIBRATION_FILE,
    CHECKPOINT_FILE,
    HPARAMS_FILE,
    ExportError,
    hyperparams_text,
    read_calibration,
    read_inference_settings,
)

logger = get_logger(__name__)

MODEL_INFO_FILE = "model_info.json"
CLASS_NAMES_FILE = "class_names.txt"
CARD_JSON_FILE = "model_card.json"
CARD_MD_FILE = "model_card.md"
MACS_SECONDS = 4.0


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


def build_model(info):
    """Builds the deployable ``ResNetSE`` a stage's ``model_info`` describes.

    Arguments
    ---------
    info : dict
        As returned by ``read_model_info``; ``model_kwargs`` holds the
        model's ``config`` (arguments left out take ResNetSE's defaults).

    Returns
    -------
    model : ResNetSE
        Freshly initialised, without auxiliary exits.

    Example
    -------
    >>> info = {"model_kwargs": {"channels": [4, 8, 8, 8], "n_classes": 2},
    ...         "class_names": ["bonafide", "spoof"]}
    >>> build_model(info).config["channels"]
    [4, 8, 8, 8]
    """
    kwargs = dict(info["model_kwargs"], aux_exits=False)
    parameters = inspect.signature(ResNetSE.__init__).parameters
    unknown = sorted(set(kwargs) - set(parameters) - {"self"})
    if unknown:
        raise ExportError(
            f"model_kwargs has arguments ResNetSE does not take: {unknown}"
        )
    try:
        model = ResNetSE(**kwargs)
    except (TypeError, ValueError) as error:
        raise ExportError(f"model_kwargs: {error}") from error
    n_classes = model.config["n_classes"]
    if n_classes != len(info["class_names"]):
        raise ExportError(
            f"the model has {n_classes} classes but class_names lists "
            f"{len(info['class_names'])}: {info['class_names']}"
        )
    return model


def load_stage_model(source):
    """The best model of a recipe CM stage's output folder.

    Arguments
    ---------
    source : pathlib.Path
        The stage's output folder (``model_info.json``, ``save/CKPT+*``).

    Returns
    -------
    info : dict
        Its ``model_info.json`` (``read_model_info``).
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The checkpoint of the lowest dev EER.
    model : ResNetSE
        Built from ``info``, with that checkpoint's weights (auxiliary exits
        dropped).

    Example
    -------
    >>> load_stage_model(getfixture("tmp_path") / "no_run")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ExportError: ...model_info.json: no such...
    """
    info = read_model_info(source / MODEL_INFO_FILE)
    checkpoint = best_checkpoint(source / "save")
    model = build_model(info)
    load_checkpoint(
        model, checkpoint.paramfiles[MODEL_RECOVERABLE], drop_exits=True
    )
    return info, checkpoint, model


def export_model_folder(recipe_output_folder, out_dir, overwrite=False):
    """Writes a self-contained model folder from a recipe stage's output.

    Picks the checkpoint with the lowest dev EER, checks it against the
    model of ``model_info.json`` and writes ``hyperparams.yaml``,
    ``model.ckpt``, ``class_names.txt`` and the model card
    (``model_card.json``, ``model_card.md``). The folder is loaded with
    ``SpoofDetector`` and run once before it takes the place of ``out_dir``;
    a failure leaves ``out_dir`` as it was. An ``out_dir`` with the same
    files is kept; a different one is replaced only with ``overwrite=True``.

    Arguments
    ---------
    recipe_output_folder : str or os.PathLike
        The stage's output folder (``save/CKPT+*``, ``model_info.json``).
    out_dir : str or os.PathLike
        The model folder to write.
    overwrite : bool
        Replace an existing, different ``out_dir``.

    Returns
    -------
    out_dir : pathlib.Path
        The model folder.

    Example
    -------
    >>> export_model_folder("no/such/run", getfixture("tmp_path") / "model")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ExportError: no/such/run: no such folder
    """
    source = Path(recipe_output_folder)
    out_dir = Path(out_dir)
    if not source.is_dir():
        raise ExportError(f"{recipe_output_folder}: no such folder")
    info, checkpoint, model = load_stage_model(source)
    hparams = hyperparams_text(
        info["name"],
        info["sample_rate"],
        info["class_names"],
        model.config,
        read_inference_settings(),
    )
    calibration = read_calibration(source / CALIBRATION_FILE)

    def write_files(staging):
        """Writes the model folder's files and runs it once."""
        _write_model_folder(
            staging, hparams, info, checkpoint, model, calibration
        )
        _check_model_folder_runs(staging)

    write_folder_staged(out_dir, write_files, overwrite)
    logger.info("exported %s to %s", checkpoint.path, out_dir)
    return out_dir


def write_folder_staged(out_dir, write_files, overwrite=False):
    """Writes a folder in a staging folder beside it, then moves it in place.

    ``write_files(staging)`` writes (and checks) the files in a fresh
    staging folder next to ``out_dir``. When it returns, the staging
    folder takes the place of ``out_dir``: an ``out_dir`` that holds the
    same files is kept, a different one is replaced only with
    ``overwrite=True``. A failure leaves ``out_dir`` as it was; the staging
    folder is removed either way.

    Arguments
    ---------
    out_dir : str or os.PathLike
        The folder to write (absent, empty, or a folder to keep or replace).
    write_files : callable
        Called with the staging folder (a ``pathlib.Path``); raises to
        abandon the export.
    overwrite : bool
        Replace an existing, different ``out_dir``.

    Returns
    -------
    out_dir : pathlib.Path
        The folder.

    Raises
    ------
    ExportError
        When ``out_dir`` exists and is not a folder.
    FileExistsError
        When ``out_dir`` holds different files and ``overwrite`` is False.

    Example
    -------
    >>> out = getfixture("tmp_path") / "folder"
    >>> write = lambda staging: (staging / "a.txt").write_text("a")
    >>> write_folder_staged(out, write).name, sorted(os.listdir(out))
    ('folder', ['a.txt'])
    >>> write_folder_staged(out, lambda s: (s / "b.txt").write_text("b"))
    Traceback (most recent call last):
    ...
    FileExistsError: ...folder exists and holds a different model folder; ...
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir}: exists and is not a folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent)
    )
    try:
        write_files(staging)
        _commit_folder(staging, out_dir, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _write_model_folder(folder, hparams, info, checkpoint, model, calibration):
    """Writes the files of a model folder (and its calibration, if any)."""
    (folder / HPARAMS_FILE).write_text(hparams, encoding="utf-8")
    torch.save(model.state_dict(), folder / CHECKPOINT_FILE)
    (folder / CLASS_NAMES_FILE).write_text(
        "".join(f"{name}\n" for name in info["class_names"]), encoding="utf-8"
    )
    card = folder_card(info, checkpoint, model, folder / CHECKPOINT_FILE)
    if calibration is not None:
        card["calibration"] = calibration.to_dict()
        (folder / CALIBRATION_FILE).write_text(
            json.dumps(calibration.to_dict(), indent=2) + "\n",
            encoding="utf-8",
        )
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
        **card_provenance(checkpoint, checkpoint_file),
    }


def card_provenance(checkpoint, checkpoint_file):
    """The provenance entries of a model card: checkpoint and versions.

    Arguments
    ---------
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The exported checkpoint (its ``path`` and ``meta``).
    checkpoint_file : str or os.PathLike
        The state dict whose SHA-256 the card records.

    Returns
    -------
    dict
        ``checkpoint`` (``source``, ``meta``, ``sha256``) and ``versions``
        (of speechbrain_asd and torch).

    Example
    -------
    >>> from types import SimpleNamespace
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> _ = path.write_bytes(b"")
    >>> ckpt = SimpleNamespace(path=Path("save/CKPT+1"), meta={"dev_eer": 0.2})
    >>> card_provenance(ckpt, path)["checkpoint"]["sha256"][:12]
    'e3b0c44298fc'
    """
    return {
        "checkpoint": {
            "source": str(checkpoint.path),
            "meta": checkpoint.meta,
            "sha256": file_sha256(checkpoint_file),
        },
        "versions": {
            "speechbrain_asd": speechbrain_asd.__version__,
            "torch": torch.__version__.split("+")[0],
        },
    }


def file_sha256(path):
    """The SHA-256 of a file's bytes, in hexadecimal.

    Arguments
    ---------
    path : str or os.PathLike
        The file (e.g. a model folder's state dict).

    Returns
    -------
    str
        64 hexadecimal digits.

    Example
    -------
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> _ = path.write_bytes(b"")
    >>> file_sha256(path)[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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
    calibration = card.get("calibration")
    if calibration is not None:
        lines += [
            "## Calibration (fitted on the dev set)",
            "",
            f"LLR = {calibration['scale']:.4g} x score + "
            f"{calibration['offset']:.4g}; bona fide when LLR >= "
            f"{calibration['threshold']:.4g} (rule: {calibration['rule']}, "
            f"spoof prior {calibration['spoof_prior']:g}). Dev Cllr "
            f"{calibration['dev_cllr_raw']:.4f} bits raw, "
            f"{calibration['dev_cllr']:.4f} calibrated.",
            "",
        ]
    return "\n".join(lines)


def _check_model_folder_runs(folder):
    """Loads a model folder and scores a second of noise with it."""
    detector = SpoofDetector.from_hparams(folder, run_opts={"device": "cpu"})
    generator = torch.Generator().manual_seed(0)
    noise = 0.1 * torch.randn(
        1, detector.hparams.sample_rate, generator=generator
    )
    out = detector.classify_batch(noise)
    if not torch.isfinite(out.log_probs).all():
        raise ExportError(f"{folder}: the exported model outputs NaN or inf")


def _commit_folder(staging, out_dir, overwrite):
    """Moves a finished folder into place, keeping or replacing an old one."""
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
    """Tells whether two folders hold the same file names and bytes."""
    names = sorted(p.name for p in first.iterdir())
    if names != sorted(p.name for p in second.iterdir()):
        return False
    match, mismatch, errors = filecmp.cmpfiles(
        first, second, names, shallow=False
    )
    return not mismatch and not errors
