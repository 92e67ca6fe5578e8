"""Model folders: their files, the checks run before loading, hyperparams.yaml.

Authors
 * speechbrain-asd developers
"""

import json
from importlib import resources
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

HPARAMS_FILE = "hyperparams.yaml"
CHECKPOINT_FILE = "model.ckpt"
ONNX_FILE = "model.onnx"
INT8_ONNX_FILE = "model.int8.onnx"
CALIBRATION_FILE = "calibration.json"

# The objects a model folder's hyperparams.yaml builds, and its load hook.
FEATURES_CLASS = "speechbrain_asd.features.LogMelFeatures"
MODEL_CLASS = "speechbrain_asd.lobes.resnet_se.ResNetSE"
PRETRAINER_CLASS = "speechbrain.utils.parameter_transfer.Pretrainer"
LOAD_HOOK = "speechbrain_asd.checkpoints.load_checkpoint"

# Tags a model folder's hyperparams.yaml may carry: those objects,
# references, and plain YAML values.
ALLOWED_TAGS = frozenset(
    {
        "!ref",
        f"!new:{FEATURES_CLASS}",
        f"!new:{MODEL_CLASS}",
        f"!new:{PRETRAINER_CLASS}",
        f"!name:{LOAD_HOOK}",
    }
    | {
        f"tag:yaml.org,2002:{kind}"
        for kind in ("map", "seq", "str", "int", "float", "bool", "null")
    }
)

SETTINGS_FILE = "spoof_detector.yaml"

# The inference settings of every model folder (the package's
# hparams/spoof_detector.yaml), with their types.
SETTINGS = {
    "bonafide_index": int,
    "window_seconds": float,
    "hop_seconds": float,
    "min_seconds": float,
    "batch_size": int,
}


class ModelFolderError(ValueError):
    """A model folder that is missing, incomplete, unsafe or inconsistent.

    Example
    -------
    >>> raise ModelFolderError("model/: no model.ckpt")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: model/: no model.ckpt
    """


class ExportError(ValueError):
    """A recipe output folder or model folder that cannot be exported.

    Example
    -------
    >>> str(ExportError("no checkpoint with a dev_eer"))
    'no checkpoint with a dev_eer'
    """


def disallowed_tags(text, allowed=ALLOWED_TAGS):
    """Lists the tags of a YAML text that are not in an allow-list.

    The text is composed into YAML nodes (tag directives and aliases
    resolved) by the parser HyperPyYAML uses; no object is constructed.

    Arguments
    ---------
    text : str
        A YAML document.
    allowed : collection of str
        Tags that may appear (resolved, e.g. ``tag:yaml.org,2002:str``).

    Returns
    -------
    list of (int, str)
        The line (from 1) and tag of each disallowed node, in file order.

    Raises
    ------
    ruamel.yaml.error.YAMLError
        When the text is not YAML.

    Example
    -------
    >>> disallowed_tags("a: 1\\nb: !ref <a>\\n")
    []
    >>> disallowed_tags("x: !!python/object/apply:os.system [ls]\\n")
    [(1, 'tag:yaml.org,2002:python/object/apply:os.system')]
    """
    root = YAML(typ="safe", pure=True).compose(text)
    found, seen, stack = [], set(), [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        tag = str(getattr(node.tag, "value", node.tag))
        if tag not in allowed:
            found.append((node.start_mark.line + 1, tag))
        if isinstance(node.value, list):
            for item in node.value:
                stack.extend(item if isinstance(item, tuple) else (item,))
    return sorted(found)


def check_model_folder(source, hparams_file=HPARAMS_FILE):
    """Checks a local model folder before anything in it is loaded.

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
        When the folder, its hyperparams file or its checkpoint is missing,
        or the hyperparams file is not YAML or carries a tag outside
        ``ALLOWED_TAGS``.

    Example
    -------
    >>> check_model_folder("no/such/folder")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: model folder 'no/such/...
    """
    folder = Path(source)
    if not folder.is_dir():
        raise ModelFolderError(
            f"model folder {str(source)!r} does not exist or is not a "
            "folder (SpoofDetector loads local folders only, written by "
            "speechbrain_asd.export.export_model_folder; it never downloads)"
        )
    for name in (hparams_file, CHECKPOINT_FILE):
        if not (folder / name).is_file():
            raise ModelFolderError(
                f"{folder}: no {name} in this folder; is it a model folder "
                "written by speechbrain_asd.export.export_model_folder?"
            )
    check_hyperparams_tags(folder / hparams_file)
    return folder.resolve()


def check_hyperparams_tags(
    path,
    allowed=ALLOWED_TAGS,
    folder_kind="model folder",
    accepted="the countermeasure's own classes",
):
    """Refuses a hyperparams file that is not YAML or has a disallowed tag.

    Nothing of the file is constructed (``disallowed_tags``).

    Arguments
    ---------
    path : str or os.PathLike
        The hyperparams file.
    allowed : collection of str
        The tags it may carry.
    folder_kind : str
        The kind of folder it belongs to, for the error message.
    accepted : str
        What ``allowed`` lets in besides ``!ref`` and plain values, for the
        error message.

    Raises
    ------
    ModelFolderError
        When the file is not YAML, or names the first disallowed tag (its
        line) and how many there are.

    Example
    -------
    >>> path = getfixture("tmp_path") / "hyperparams.yaml"
    >>> _ = path.write_text("a: 1\\nb: !ref <a>\\n")
    >>> check_hyperparams_tags(path)
    >>> _ = path.write_text("x: !apply:os.system [ls]\\n")
    >>> check_hyperparams_tags(path)
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: ...:1: tag '!apply:os...
    """
    path = Path(path)
    try:
        unsafe = disallowed_tags(path.read_text(encoding="utf-8"), allowed)
    except (UnicodeDecodeError, YAMLError) as error:
        raise ModelFolderError(f"{path}: not a YAML file ({error})") from error
    if unsafe:
        line, tag = unsafe[0]
        raise ModelFolderError(
            f"{path}:{line}: tag {tag!r} is not allowed in a {folder_kind} "
            f"({len(unsafe)} such tag(s); loading a model folder never runs "
            f"code from it, so only {accepted}, !ref and plain values are "
            "accepted); nothing was loaded"
        )


def read_inference_settings(path=None):
    """Reads the inference settings a model folder carries.

    Arguments
    ---------
    path : str or os.PathLike, optional
        A plain YAML file (no tags) with every key of ``SETTINGS``; by
        default the package's ``hparams/spoof_detector.yaml``.

    Returns
    -------
    settings : dict
        Value of each key of ``SETTINGS``.

    Example
    -------
    >>> sorted(read_inference_settings()) == sorted(SETTINGS)
    True
    """
    if path is None:
        path = resources.files("speechbrain_asd.hparams") / SETTINGS_FILE
    try:
        settings = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ExportError(
            f"{path}: not a readable YAML file ({error})"
        ) from error
    if not isinstance(settings, dict) or set(settings) != set(SETTINGS):
        raise ExportError(
            f"{path}: must hold exactly the keys {sorted(SETTINGS)}"
        )
    for key, kind in SETTINGS.items():
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExportError(f"{path}: {key} must be a number, got {value!r}")
        if kind is int and value != int(value):
            raise ExportError(f"{path}: {key} must be an integer, got {value}")
        settings[key] = kind(value)
    return settings


def hyperparams_text(name, sample_rate, class_names, model_config, settings):
    """Writes the ``hyperparams.yaml`` of a model folder.

    The countermeasure's name, rate, classes and inference settings, then
    what ``folder_hyperparams_text`` writes (features of ``n_mels`` bands,
    model, Pretrainer).

    Arguments
    ---------
    name : str
        The model's name.
    sample_rate : int
        Its sample rate (Hz).
    class_names : list of str
        Its output classes, in order.
    model_config : dict
        Keyword arguments of ``ResNetSE`` (its ``config``).
    settings : dict
        From ``read_inference_settings``.

    Returns
    -------
    text : str
        The YAML.

    Example
    -------
    >>> text = hyperparams_text("m", 16000, ["bonafide", "A01"],
    ...     {"n_mels": 40, "n_classes": 2}, read_inference_settings())
    >>> disallowed_tags(text)
    []
    >>> print(text.splitlines()[3])
    model_name: m
    """
    values = {
        "model_name": name,
        "sample_rate": sample_rate,
        "class_names": list(class_names),
        **settings,
    }
    header = (
        "# A speechbrain-asd spoofing countermeasure; load it with\n"
        "# SpoofDetector.from_hparams(source=THIS_FOLDER). Written by\n"
        "# speechbrain_asd.export.export_model_folder.\n"
    )
    features = {"sample_rate": sample_rate, "n_mels": model_config["n_mels"]}
    return folder_hyperparams_text(header, values, features, model_config)


def folder_hyperparams_text(header, values, features, model_config):
    """Writes a ``hyperparams.yaml`` that builds a log-Mel ResNetSE.

    After the plain ``values`` come the log-Mel features, the ``ResNetSE``
    of ``model_config``, the ``modules`` and a Pretrainer that loads
    ``model.ckpt`` strictly; only ``ALLOWED_TAGS`` are used. The features'
    ``sample_rate`` refers to the top-level ``sample_rate`` (in place when
    ``features`` has one, else last).

    Arguments
    ---------
    header : str
        Comment lines put first (each ending with a newline).
    values : dict
        Plain top-level entries (``model_name``, ``sample_rate``, ...), in
        order.
    features : dict
        Keyword arguments of ``LogMelFeatures``.
    model_config : dict
        Keyword arguments of ``ResNetSE`` (its ``config``).

    Returns
    -------
    text : str
        The YAML.

    Example
    -------
    >>> text = folder_hyperparams_text(
    ...     "# a model\\n", {"sample_rate": 16000}, {"n_mels": 40},
    ...     {"n_mels": 40})
    >>> disallowed_tags(text)
    []
    >>> print(text.splitlines()[4])
      sample_rate: !ref '<sample_rate>'
    """
    features = dict(features)
    features["sample_rate"] = _Tagged("!ref", "<sample_rate>")
    document = {
        **values,
        "compute_features": _Tagged(f"!new:{FEATURES_CLASS}", features),
        "model": _Tagged(f"!new:{MODEL_CLASS}", dict(model_config)),
        "modules": {
            "compute_features": _Tagged("!ref", "<compute_features>"),
            "model": _Tagged("!ref", "<model>"),
        },
        "pretrainer": _Tagged(
            f"!new:{PRETRAINER_CLASS}",
            {
                "loadables": {"model": _Tagged("!ref", "<model>")},
                "custom_hooks": {"model": _Tagged(f"!name:{LOAD_HOOK}", "")},
            },
        ),
    }
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, default_flow_style=False
    )
    return header + body


class _Tagged:
    """A YAML node with a HyperPyYAML tag (a mapping or a scalar)."""

    def __init__(self, tag, value):
        """Stores the tag and the value."""
        self.tag = tag
        self.value = value


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, writing ``_Tagged`` nodes with their tag."""


def _represent_tagged(dumper, node):
    """Represents a ``_Tagged`` as a tagged mapping or scalar."""
    if isinstance(node.value, dict):
        return dumper.represent_mapping(node.tag, node.value)
    return dumper.represent_scalar(node.tag, node.value)


def _represent_list(dumper, values):
    """Represents a list in flow style (``[1, 2]``)."""
    return dumper.represent_sequence(
        "tag:yaml.org,2002:seq", values, flow_style=True
    )


_Dumper.add_representer(_Tagged, _represent_tagged)
_Dumper.add_representer(list, _represent_list)


def read_calibration(path):
    """Reads a calibration file (plain JSON), or None when it is absent.

    Arguments
    ---------
    path : str or os.PathLike
        The ``calibration.json`` of a model folder or recipe stage.

    Returns
    -------
    speechbrain_asd.calibration.Calibration or None
        The calibration.

    Example
    -------
    >>> read_calibration(getfixture("tmp_path") / "calibration.json") is None
    True
    """
    from speechbrain_asd.calibration import Calibration

    path = Path(path)
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        return Calibration.from_dict(values, where=str(path))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ModelFolderError(
            f"{path}: not a valid calibration ({error})"
        ) from error
