"""What the recipe's stages share: checkpoints, stage outputs, DDP on CPU.

Each stage (GE2E, AEG, teacher, student) has its own output folder. A later
stage finds an earlier stage's best model through that folder's
``save/CKPT+*`` checkpoints (SpeechBrain's ``Checkpointer``, recoverable
``model``) and loads it strictly: every parameter and buffer must match,
so a wrong preset or a mismatched override fails with the names of the
keys instead of training from a half-loaded model.

Authors
 * speechbrain-asd developers
"""

import json
import os
import shutil
import zipfile

import speechbrain as sb
import torch
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.distributed import ddp_barrier, if_main_process
from speechbrain.utils.logger import get_logger
from torch.nn.parallel import DistributedDataParallel

from speechbrain_asd.lobes.resnet_se import without_exits

logger = get_logger(__name__)

MODEL_RECOVERABLE = "model"


class StageBrain(sb.Brain):
    """Brain base of the recipe: SpeechBrain's DDP wrapping, CPU-friendly.

    SpeechBrain converts every BatchNorm to ``SyncBatchNorm`` before the DDP
    wrap, and ``SyncBatchNorm`` refuses CPU tensors in training. On the CPU
    (``torchrun`` with the gloo backend) this Brain wraps the modules in DDP
    without the conversion, so each process normalises with its own batch
    statistics; on GPUs it keeps SpeechBrain's behaviour.
    """

    def on_fit_start(self):
        """Recovers the latest complete checkpoint; says where training resumes.

        As SpeechBrain's ``on_fit_start`` (compile, DDP wrap, optimizers,
        recovery), except that checkpoints a kill cut in the middle of
        their writing are deleted before the recovery picks the latest.
        """
        self._compile()
        self._wrap_distributed()
        self.init_optimizers()
        if self.checkpointer is None:
            return
        if if_main_process():
            drop_incomplete_checkpoints(self.checkpointer)
        ddp_barrier()
        self.checkpointer.recover_if_possible()
        epoch = self.hparams.epoch_counter.current
        if self.step > 0:
            logger.info(
                "Resumed inside epoch %d after %d steps", epoch + 1, self.step
            )
        elif epoch > 0:
            logger.info("Resumed after epoch %d", epoch)

    def _wrap_distributed(self):
        """Wraps the trainable modules in DDP (no SyncBatchNorm on CPU)."""
        if not self.distributed_launch or self.device_type != "cpu":
            super()._wrap_distributed()
            return
        for name, module in self.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                self.modules[name] = DistributedDataParallel(
                    module,
                    device_ids=None,
                    find_unused_parameters=self.find_unused_parameters,
                )


class ModelMethod(torch.nn.Module):
    """Exposes one method of a model as ``forward`` (for DDP and modules).

    DDP synchronises gradients only through ``forward``; a Brain that
    trains through ``model.embed`` or ``model.forward_exits`` puts this
    wrapper in its ``modules`` instead of the model.

    Arguments
    ---------
    model : torch.nn.Module
        The model.
    method : str
        Name of the method that ``forward`` calls.

    Example
    -------
    >>> view = ModelMethod(torch.nn.Linear(3, 2), "extra_repr")
    >>> view()
    'in_features=3, out_features=2, bias=True'
    """

    def __init__(self, model, method):
        """Stores the model and the method name."""
        super().__init__()
        if not callable(getattr(model, method, None)):
            raise ValueError(f"{type(model).__name__} has no method {method}")
        self.model = model
        self.method = method

    def forward(self, *args, **kwargs):
        """Calls the method.

        Arguments
        ---------
        *args : tuple
            Positional arguments of the method.
        **kwargs : dict
            Keyword arguments of the method.

        Returns
        -------
        object
            What the method returns.
        """
        return getattr(self.model, self.method)(*args, **kwargs)


def checkpoint_is_complete(checkpoint, names):
    """Tells whether a checkpoint holds every file, none cut short.

    SpeechBrain writes a checkpoint's ``CKPT.yaml`` first and its files one
    by one after; a process killed meanwhile leaves a checkpoint that looks
    valid but misses files or ends in a truncated one. ``torch.save``
    writes zip archives, whose directory sits at the very end: a zip file
    without it was cut short.

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


def best_checkpoint(save_folder, min_key):
    """Finds the checkpoint of a stage with the lowest value of a meta key.

    Intra-epoch checkpoints carry no such key and are never chosen.

    Arguments
    ---------
    save_folder : str
        A stage's ``save`` folder.
    min_key : str
        The meta key to minimise (``dev_eer``, ``dev_speaker_eer``).

    Returns
    -------
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The best checkpoint.
    """
    if not os.path.isdir(save_folder):
        raise FileNotFoundError(
            f"no checkpoint folder {save_folder}: run that stage first"
        )
    checkpoint = Checkpointer(save_folder).find_checkpoint(min_key=min_key)
    if checkpoint is None:
        raise FileNotFoundError(
            f"{save_folder} holds no end-of-epoch checkpoint with "
            f"'{min_key}': run that stage to the end of an epoch first"
        )
    return checkpoint


def load_model_state(model, checkpoint, allow_missing_prefix=None):
    """Loads a checkpoint's ``model`` into a model, checking every key.

    The checkpoint's own auxiliary exits (``exits.*``) are dropped, as the
    deployable model has none.

    Arguments
    ---------
    model : torch.nn.Module
        The model to fill (its architecture must match the checkpoint).
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        From ``best_checkpoint``.
    allow_missing_prefix : str, optional
        Keys of ``model`` starting with this may be missing from the
        checkpoint (e.g. ``"exits."`` when a self-distilled model starts
        from a model without exits); any other difference is an error.

    Returns
    -------
    model : torch.nn.Module
        The same model, loaded.
    """
    path = checkpoint.paramfiles.get(MODEL_RECOVERABLE)
    if path is None:
        raise FileNotFoundError(
            f"checkpoint {checkpoint.path} has no '{MODEL_RECOVERABLE}' file"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = without_exits(state)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    if allow_missing_prefix is not None:
        missing = [k for k in missing if not k.startswith(allow_missing_prefix)]
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(
        k
        for k in set(state) & set(expected)
        if state[k].shape != expected[k].shape
    )
    if missing or unexpected or mismatched:
        raise ValueError(
            f"{path} does not fit the model: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, shape mismatch {mismatched[:5]} "
            "(same preset and model overrides as that stage?)"
        )
    model.load_state_dict(state, strict=False)
    logger.info("Loaded %d tensors from %s", len(state), path)
    return model


def write_json(path, payload):
    """Writes a JSON file atomically (temporary file, then rename).

    Arguments
    ---------
    path : str
        The file.
    payload : object
        JSON-serialisable content.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)


def read_json(path):
    """Reads a JSON file, naming it when it is missing.

    Arguments
    ---------
    path : str
        The file.

    Returns
    -------
    object
        Its content.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: run that stage first")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def deployable_kwargs(model_kwargs):
    """The model keyword arguments of the deployed model (no exits).

    Arguments
    ---------
    model_kwargs : dict
        Keyword arguments of ``ResNetSE`` used in training.

    Returns
    -------
    kwargs : dict
        The same with ``aux_exits`` False and lists for tuples (JSON).
    """
    kwargs = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in dict(model_kwargs).items()
    }
    kwargs["aux_exits"] = False
    return kwargs


def check_model_kwargs(model, model_kwargs):
    """Checks that a model is the ResNetSE that ``model_kwargs`` describe.

    The YAML builds the model from ``model_kwargs`` through an anchor, so
    overriding ``model_kwargs`` on the command line would change the
    recorded arguments but not the model; this check catches that.

    Arguments
    ---------
    model : torch.nn.Module
        The model built by the YAML.
    model_kwargs : dict
        The keyword arguments recorded for it.
    """
    from speechbrain_asd.lobes.resnet_se import ResNetSE

    reference = ResNetSE(**dict(model_kwargs, aux_exits=False)).state_dict()
    own = {k: v.shape for k, v in without_exits(model.state_dict()).items()}
    if own != {k: v.shape for k, v in reference.items()}:
        raise ValueError(
            "the model does not match model_kwargs: override the YAML keys "
            "the model refers to, not model_kwargs itself"
        )


def set_epoch_lr(optimizer, annealing, epoch):
    """Sets the learning rate of an epoch from a ``StepScheduler``.

    ``StepScheduler(initial_value=lr, decay_factor=0.95, decay_drop=2)``
    called with ``epoch - 1`` returns, as its current value,
    ``lr * 0.95 ** floor((epoch - 1) / 2)``: epochs 1-2 train at ``lr``,
    3-4 at ``0.95 lr``, and so on. The value depends on the epoch only, so
    a resumed run gets it back from the epoch counter.

    Arguments
    ---------
    optimizer : torch.optim.Optimizer
        The optimizer.
    annealing : speechbrain.nnet.schedulers.StepScheduler
        The schedule.
    epoch : int
        The epoch about to run (1-based).

    Returns
    -------
    lr : float
        The learning rate set.
    """
    lr, _ = annealing(epoch - 1)
    sb.nnet.schedulers.update_learning_rate(optimizer, lr)
    return lr
