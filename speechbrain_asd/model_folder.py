"""What a model folder holds, and the checks that run before loading one.

A model folder (``export_model_folder``'s output) is data: loading it must
never execute code from it. Its ``hyperparams.yaml`` is HyperPyYAML, whose
tags build Python objects, so before HyperPyYAML sees the file every tag in
it is read without constructing anything and compared with an allow-list:
the classes a spoofing countermeasure is built from, ``!ref``, and plain
YAML values. Any other tag (``!apply:``, ``!!python/object/apply:``, a
``!new:`` of another class, ``!include:``, ...) refuses the folder with its
file, line and tag.

Authors
 * speechbrain-asd developers
"""

from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

HPARAMS_FILE = "hyperparams.yaml"
CHECKPOINT_FILE = "model.ckpt"
ONNX_FILE = "model.onnx"
INT8_ONNX_FILE = "model.int8.onnx"

# Tags a model folder's hyperparams.yaml may carry: the objects of
# hparams/spoof_detector.yaml, references, and plain YAML values.
ALLOWED_TAGS = frozenset(
    {
        "!ref",
        "!new:speechbrain_asd.features.LogMelFeatures",
        "!new:speechbrain_asd.lobes.resnet_se.ResNetSE",
        "!new:speechbrain.utils.parameter_transfer.Pretrainer",
        "!name:speechbrain_asd.inference.load_checkpoint",
    }
    | {
        f"tag:yaml.org,2002:{kind}"
        for kind in ("map", "seq", "str", "int", "float", "bool", "null")
    }
    | {"tag:yaml.org,2002:merge"}
)


class ModelFolderError(ValueError):
    """A model folder that is missing, incomplete, unsafe or inconsistent.

    Example
    -------
    >>> raise ModelFolderError("model/: no model.ckpt")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: model/: no model.ckpt
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
    path = folder / hparams_file
    try:
        unsafe = disallowed_tags(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, YAMLError) as error:
        raise ModelFolderError(f"{path}: not a YAML file ({error})") from error
    if unsafe:
        line, tag = unsafe[0]
        raise ModelFolderError(
            f"{path}:{line}: tag {tag!r} is not allowed in a model folder "
            f"({len(unsafe)} such tag(s); loading a model folder never runs "
            "code from it, so only the countermeasure's own classes, !ref "
            "and plain values are accepted); nothing was loaded"
        )
    return folder.resolve()
