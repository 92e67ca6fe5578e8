"""Re-estimates the BatchNorm running statistics of a trained model.

Authors
 * speechbrain-asd developers
"""

import torch
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)


def recalibrate_batchnorm(model, batches, forward):
    """Sets every BatchNorm's running statistics to their mean over batches.

    The batches run in train mode without gradients, with the running
    statistics reset and accumulated as a cumulative average; the momenta and
    the model's mode are restored afterwards. Like
    ``torch.optim.swa_utils.update_bn``, for models that take any batch.

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
        The number of batches used (0 for a model without BatchNorm).

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
