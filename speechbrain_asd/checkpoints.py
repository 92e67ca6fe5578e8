"""Checkpoints of the recipe's stages and of model folders: finding the best
one, reading it without unpickling code, loading it strictly.

Authors
 * speechbrain-asd developers
"""

import math
import shutil
import zipfile
from pathlib import Path

import torch
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.logger import get_logger

from speechbrain_asd.atomic import atomic_output
from speechbrain_asd.checks import name_list
from speechbrain_asd.lobes.resnet_se import without_exits

logger = get_logger(__name__)

MODEL_RECOVERABLE = "model"


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not fit its model.

    Example
    -------
    >>> str(CheckpointError("m.ckpt: not a state dict"))
    'm.ckpt: not a state dict'
    """


def best_checkpoint(save_folder, min_key="dev_eer"):
    """Finds the checkpoint of a stage with the lowest value of a meta key.

    Checkpoints without a finite value of the key (intra-epoch ones) are
    never chosen.

    Arguments
    ---------
    save_folder : str or os.PathLike
        A stage's ``save`` folder (``CKPT+*`` checkpoints).
    min_key : str
        The meta key to minimise (``dev_eer``, ``dev_speaker_eer``).

    Returns
    -------
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        With ``path``, ``meta`` and ``paramfiles`` (holding ``model``).

    Example
    -------
    >>> best_checkpoint(getfixture("tmp_path") / "save")
    Traceback (most recent call last):
    ...
    speechbrain_asd.checkpoints.CheckpointError: ...no checkpoint folder...
    """
    save_folder = Path(save_folder)
    if not save_folder.is_dir():
        raise CheckpointError(
            f"{save_folder}: no checkpoint folder; run that stage first"
        )
    checkpoint = Checkpointer(save_folder).find_checkpoint(
        min_key=min_key,
        ckpt_predicate=lambda ckpt: _is_finite(ckpt.meta.get(min_key)),
    )
    if checkpoint is None:
        raise CheckpointError(
            f"{save_folder}: no checkpoint with a finite {min_key!r} in its "
            "meta; run that stage to the end of an epoch first"
        )
    if MODEL_RECOVERABLE not in checkpoint.paramfiles:
        raise CheckpointError(
            f"{checkpoint.path}: no {MODEL_RECOVERABLE}.ckpt in it"
        )
    return checkpoint


def load_weights_only(path, what="checkpoint"):
    """Reads a torch file onto the CPU with ``torch.load(weights_only=True)``.

    Only tensors and plain containers and numbers are unpickled; a file
    holding anything else (pickled code) is refused.

    Arguments
    ---------
    path : str or os.PathLike
        The file.
    what : str
        What it holds, for the error message.

    Returns
    -------
    object
        Its content.

    Raises
    ------
    CheckpointError
        When the file cannot be read that way (naming it and the cause).

    Example
    -------
    >>> path = getfixture("tmp_path") / "stats.ckpt"
    >>> torch.save({"count": 3}, path)
    >>> load_weights_only(path, "statistics")
    {'count': 3}
    >>> _ = path.write_text("not a checkpoint")
    >>> load_weights_only(path, "statistics")
    Traceback (most recent call last):
    ...
    speechbrain_asd.checkpoints.CheckpointError: ...cannot read the stat...
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"{path}: cannot read the {what} ({type(error).__name__}: {error})"
        ) from error


def read_state_dict(path):
    """Reads a state dict with ``torch.load(weights_only=True)``.

    Arguments
    ---------
    path : str or os.PathLike
        The checkpoint.

    Returns
    -------
    state : dict
        Tensor by name, on the CPU.

    Example
    -------
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> torch.save({"w": torch.ones(2)}, path)
    >>> read_state_dict(path)
    {'w': tensor([1., 1.])}
    >>> _ = path.write_text("not a checkpoint")
    >>> read_state_dict(path)
    Traceback (most recent call last):
    ...
    speechbrain_asd.checkpoints.CheckpointError: ...cannot read the...
    """
    state = load_weights_only(path)
    if not isinstance(state, dict) or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise CheckpointError(
            f"{path}: not a state dict (a mapping of names to tensors)"
        )
    return state


def check_state_dict(expected, state, path, allow_missing_prefix=None):
    """Raises CheckpointError unless a state dict has exactly the entries
    and shapes of the model's.

    Arguments
    ---------
    expected : dict
        The model's state dict.
    state : dict
        The checkpoint's state dict.
    path : str or os.PathLike
        The checkpoint, for the message.
    allow_missing_prefix : str, optional
        Model entries starting with this may be missing from the checkpoint.

    Example
    -------
    >>> model = torch.nn.Linear(2, 1).state_dict()
    >>> check_state_dict(model, {"weight": torch.ones(1, 2)}, "m.ckpt")
    Traceback (most recent call last):
    ...
    speechbrain_asd.checkpoints.CheckpointError: m.ckpt ...; missing: bias
    """
    missing = sorted(
        name
        for name in set(expected) - set(state)
        if allow_missing_prefix is None
        or not name.startswith(allow_missing_prefix)
    )
    unexpected = sorted(set(state) - set(expected))
    reshaped = sorted(
        f"{name} {tuple(state[name].shape)} vs {tuple(expected[name].shape)}"
        for name in set(state) & set(expected)
        if state[name].shape != expected[name].shape
    )
    problems = [
        f"{what}: {name_list(names)}"
        for what, names in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("wrong shape (checkpoint vs model)", reshaped),
        )
        if names
    ]
    if problems:
        raise CheckpointError(
            f"{path} does not fit the model (same architecture as the stage "
            "that saved it?); " + "; ".join(problems)
        )


def load_checkpoint(model, path, drop_exits=False, allow_missing_prefix=None):
    """Loads a state dict into a model, every entry checked; the
    Pretrainer's load hook of model folders and of chained stages.

    Arguments
    ---------
    model : torch.nn.Module
        The model to fill.
    path : str or os.PathLike
        The checkpoint (a state dict saved by ``torch.save``).
    drop_exits : bool
        Whether to drop the checkpoint's auxiliary exits (``exits.*``).
    allow_missing_prefix : str, optional
        Model entries starting with this may be missing from the checkpoint
        (e.g. ``"exits."`` for a self-distilled model started from a model
        without exits).

    Example
    -------
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> torch.save(torch.nn.Linear(2, 1).state_dict(), path)
    >>> load_checkpoint(torch.nn.Linear(2, 1), path)
    >>> load_checkpoint(torch.nn.Linear(3, 1), path)
    Traceback (most recent call last):
    ...
    speechbrain_asd.checkpoints.CheckpointError: ...model.ckpt does not ...
    """
    state = read_state_dict(path)
    if drop_exits:
        state = without_exits(state)
    check_state_dict(model.state_dict(), state, path, allow_missing_prefix)
    model.load_state_dict(state, strict=allow_missing_prefix is None)
    logger.debug("Loaded %d tensors from %s", len(state), path)


def save_best_model(save_folder, path, min_key="dev_eer"):
    """Writes the model of a stage's best checkpoint to a fixed file, the
    one later stages name in their Pretrainer.

    Auxiliary exits are dropped; the file is written atomically.

    Arguments
    ---------
    save_folder : str or os.PathLike
        The stage's ``save`` folder.
    path : str or os.PathLike
        The file to write (a stage's ``model.ckpt``).
    min_key : str
        The meta key the best checkpoint minimises.

    Returns
    -------
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The checkpoint written out.

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> ckpt = Checkpointer(tmp / "save", {"model": torch.nn.Linear(2, 1)})
    >>> _ = ckpt.save_checkpoint(meta={"dev_eer": 0.2})
    >>> _ = save_best_model(tmp / "save", tmp / "model.ckpt")
    >>> sorted(read_state_dict(tmp / "model.ckpt"))
    ['bias', 'weight']
    """
    checkpoint = best_checkpoint(save_folder, min_key)
    state = without_exits(
        read_state_dict(checkpoint.paramfiles[MODEL_RECOVERABLE])
    )
    with atomic_output(path) as tmp:
        torch.save(state, tmp)
    return checkpoint


def load_pretrained(pretrainer):
    """Loads what a Pretrainer declares, after checking its files exist.

    Arguments
    ---------
    pretrainer : speechbrain.utils.parameter_transfer.Pretrainer
        From a stage's YAML: loadables, local ``paths`` and load hooks.

    Example
    -------
    >>> from speechbrain.utils.parameter_transfer import Pretrainer
    >>> pretrainer = Pretrainer(loadables={"model": torch.nn.Linear(2, 1)},
    ...     paths={"model": "no/such/stage/model.ckpt"})
    >>> load_pretrained(pretrainer)
    Traceback (most recent call last):
    ...
    speechbrain_asd.checkpoints.CheckpointError: no/such/stage/model.ckpt: ...
    """
    for name, path in pretrainer.paths.items():
        if not Path(path).is_file():
            raise CheckpointError(
                f"{path}: no such file (the {name!r} of this stage comes from "
                "an earlier stage's folder: run that stage to the end first)"
            )
    pretrainer.collect_files()
    pretrainer.load_collected()


def verify_checkpoint_restored(model, path):
    """Checks that every parameter and buffer of a model holds the value
    stored in a checkpoint (SpeechBrain's Pretrainer loads non-strictly).

    Arguments
    ---------
    model : torch.nn.Module
        The loaded model.
    path : str or os.PathLike
        The checkpoint it was loaded from.

    Raises
    ------
    CheckpointError
        Listing the missing, unexpected, reshaped or differing entries.

    Example
    -------
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> torch.save(torch.nn.Linear(2, 1).state_dict(), path)
    >>> verify_checkpoint_restored(torch.nn.Linear(2, 1), path)
    Traceback (most recent call last):
    ...
    speechbrain_asd.checkpoints.CheckpointError: ...not restored: bias, weight
    """
    state = read_state_dict(path)
    own = model.state_dict()
    check_state_dict(own, state, path)
    differing = sorted(
        name
        for name, value in state.items()
        if not torch.equal(own[name].detach().cpu(), value)
    )
    if differing:
        raise CheckpointError(
            f"{path}: the model's parameters were not restored from this "
            f"checkpoint; not restored: {name_list(differing)}"
        )


def checkpoint_is_complete(checkpoint, names):
    """Tells whether a checkpoint holds every file, none cut short.

    SpeechBrain writes a checkpoint's ``CKPT.yaml`` first and its files one
    by one after; ``torch.save`` writes zip archives, whose directory sits
    at the very end, so a zip without it was cut short by a kill.

    Arguments
    ---------
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The checkpoint.
    names : iterable of str
        The recoverables it must hold.

    Returns
    -------
    bool
        True when every file is there, non-empty, and every zip is whole.

    Example
    -------
    >>> save = getfixture("tmp_path") / "save"
    >>> ckpt = Checkpointer(save, {"model": torch.nn.Linear(2, 1)})
    >>> checkpoint = ckpt.save_checkpoint()
    >>> checkpoint_is_complete(checkpoint, ["model"])
    True
    >>> _ = checkpoint.paramfiles["model"].write_bytes(b"PK")
    >>> checkpoint_is_complete(checkpoint, ["model"])
    False
    """
    for name in names:
        path = checkpoint.paramfiles.get(name)
        if path is None or not path.is_file() or path.stat().st_size == 0:
            return False
        with open(path, "rb") as handle:
            is_zip = handle.read(2) == b"PK"
        if is_zip and not zipfile.is_zipfile(path):
            return False
    return True


def drop_incomplete_checkpoints(checkpointer):
    """Deletes the newest checkpoints that a kill left half-written.

    Goes from the newest checkpoint back and stops at the first complete
    one, so that ``recover_if_possible`` resumes from it.

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer
        The stage's checkpointer, with every recoverable registered.

    Example
    -------
    >>> save = getfixture("tmp_path") / "save"
    >>> ckpt = Checkpointer(save, {"model": torch.nn.Linear(2, 1)})
    >>> _ = ckpt.save_checkpoint()
    >>> broken = ckpt.save_checkpoint()
    >>> _ = broken.paramfiles["model"].write_bytes(b"")
    >>> drop_incomplete_checkpoints(ckpt)
    >>> len(ckpt.list_checkpoints())
    1
    """
    names = [
        name
        for name in checkpointer.recoverables
        if not checkpointer.optional_recoverables.get(name, False)
    ]
    checkpoints = sorted(
        checkpointer.list_checkpoints(),
        key=lambda ckpt: ckpt.meta["unixtime"],
        reverse=True,
    )
    for checkpoint in checkpoints:
        if checkpoint_is_complete(checkpoint, names):
            return
        logger.warning("Deleting the incomplete checkpoint %s", checkpoint.path)
        shutil.rmtree(checkpoint.path)


def _is_finite(value):
    """Whether a value is a finite real number (not a bool)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
