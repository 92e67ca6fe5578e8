"""What the recipe's stages share: the Brain base, stage outputs, DDP on CPU.

Each stage (GE2E, AEG, teacher, student) has its own output folder and
writes its best model to ``model.ckpt`` there; a later stage's YAML loads it
through a Pretrainer whose hook (``speechbrain_asd.checkpoints
.load_checkpoint``) is strict: a wrong preset or a mismatched override fails
with the names of the keys.

Authors
 * speechbrain-asd developers
"""

import json
import os

import speechbrain as sb
import torch
from speechbrain.utils.distributed import ddp_barrier, if_main_process
from speechbrain.utils.logger import get_logger
from torch.nn.parallel import DistributedDataParallel

from speechbrain_asd.atomic import write_text_atomic
from speechbrain_asd.checkpoints import drop_incomplete_checkpoints

logger = get_logger(__name__)


class StageBrain(sb.Brain):
    """Brain base of the recipe: SpeechBrain's DDP wrapping, CPU-friendly.

    SpeechBrain converts every BatchNorm to ``SyncBatchNorm`` before the DDP
    wrap, and ``SyncBatchNorm`` refuses CPU tensors in training. On the CPU
    (``torchrun`` with the gloo backend) this Brain wraps the modules in DDP
    without the conversion, so each process normalises with its own batch
    statistics; on GPUs it keeps SpeechBrain's behaviour.
    """

    def on_fit_start(self):
        """Deletes checkpoints a kill cut short, then starts as Brain does.

        SpeechBrain's recovery picks the latest checkpoint, even one whose
        files a kill left half-written; those are removed first.
        """
        if self.checkpointer is not None and if_main_process():
            drop_incomplete_checkpoints(self.checkpointer)
        ddp_barrier()
        super().on_fit_start()
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


def write_json(path, payload):
    """Writes a JSON file atomically (temporary file, then rename).

    Arguments
    ---------
    path : str
        The file.
    payload : object
        JSON-serialisable content.
    """
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")


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
