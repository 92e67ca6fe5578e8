"""Re-estimates the BatchNorm running statistics of a trained model.

BatchNorm layers keep running averages of their batch statistics, started at
mean 0 and variance 1 and updated with momentum 0.1. After a short training
run (a few dozen steps) those averages are still far from the statistics of
the data, so the model behaves differently in eval mode than it did in
training. ``recalibrate_batchnorm`` replaces them with the exact average over
a set of training batches, as ``torch.optim.swa_utils.update_bn`` does for
models that take a single tensor.

Authors
 * speechbrain-asd developers
"""

import torch
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)


def recalibrate_batchnorm(model, batches, forward):
    """Sets every BatchNorm's running statistics to their mean over batches.

    Each batch goes through ``forward`` with the model in train mode and
    without gradients; the running mean and variance are reset, then
    accumulated as a cumulative average (momentum ``None``). The momenta and
    the model's mode are restored afterwards. A model without BatchNorm is
    left as it was.

    Arguments
    ---------
    model : torch.nn.Module
        The model whose BatchNorm layers are recalibrated.
    batches : iterable
        Training batches.
    forward : callable
        ``forward(batch)`` runs the model on one batch.

    Returns
    -------
    int
        The number of batches used.

    Example
    -------
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)
    ... )
    >>> batches = [torch.randn(8, 3) + 5 for _ in range(4)]
    >>> recalibrate_batchnorm(model, batches, model)
    4
    >>> stacked = model[0](torch.cat(batches)).detach()
    >>> torch.allclose(model[1].running_mean, stacked.mean(0), atol=1e-5)
    True
    """
    norms = [
        module
        for module in model.modules()
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
    ]
    if not norms:
        return 0
    momenta = [norm.momentum for norm in norms]
    training = model.training
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    model.train()
    count = 0
    with torch.no_grad():
        for batch in batches:
            forward(batch)
            count += 1
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.train(training)
    logger.info("BatchNorm statistics re-estimated on %d batches", count)
    return count
