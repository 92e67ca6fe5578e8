"""Tensor checks and batch reductions shared by the losses of this package.

Authors
 * speechbrain-asd developers
"""

import torch

from speechbrain_asd.checks import check_choice

REDUCTIONS = ("mean", "sum", "none")


def check_logits(name, logits):
    """Checks that a tensor holds a batch of class logits, shape [B, C].

    Arguments
    ---------
    name : str
        The argument's name, used in the error message.
    logits : torch.Tensor
        Raw (unnormalised) scores, shape [batch, classes], floating point,
        with at least one row and at least two classes.

    Raises
    ------
    ValueError
        If the tensor is not a floating [B, C] tensor with B >= 1, C >= 2.

    Example
    -------
    >>> check_logits("student_logits", torch.zeros(4, 8))
    >>> check_logits("student_logits", torch.zeros(4))
    Traceback (most recent call last):
    ...
    ValueError: student_logits must have shape [batch, classes], got [4]
    """
    if not isinstance(logits, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(logits)}")
    if logits.dim() != 2:
        raise ValueError(
            f"{name} must have shape [batch, classes], got {list(logits.shape)}"
        )
    if not logits.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {logits.dtype}")
    if logits.shape[0] < 1 or logits.shape[1] < 2:
        raise ValueError(
            f"{name} needs at least 1 row and 2 classes, "
            f"got {list(logits.shape)}"
        )


def check_same_shape(name_a, tensor_a, name_b, tensor_b):
    """Checks that two tensors have the same shape.

    Arguments
    ---------
    name_a : str
        Name of the first tensor, used in the error message.
    tensor_a : torch.Tensor
        The first tensor.
    name_b : str
        Name of the second tensor, used in the error message.
    tensor_b : torch.Tensor
        The second tensor.

    Raises
    ------
    ValueError
        If the shapes differ.

    Example
    -------
    >>> check_same_shape("a", torch.zeros(2, 3), "b", torch.zeros(2, 3))
    >>> check_same_shape("a", torch.zeros(2, 3), "b", torch.zeros(2, 4))
    Traceback (most recent call last):
    ...
    ValueError: a and b must have the same shape, got [2, 3] and [2, 4]
    """
    if tensor_a.shape != tensor_b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, "
            f"got {list(tensor_a.shape)} and {list(tensor_b.shape)}"
        )


def check_targets(targets, n_rows, n_classes):
    """Checks class-index targets and returns them as a flat [B] tensor.

    Arguments
    ---------
    targets : torch.Tensor
        Integer class indices, shape [B] (PyTorch) or [B, 1] (SpeechBrain
        label encoders).
    n_rows : int
        The batch size B of the logits they go with.
    n_classes : int
        The number of classes C; every target must lie in [0, C).

    Returns
    -------
    targets : torch.Tensor
        The targets, shape [B].

    Example
    -------
    >>> check_targets(torch.tensor([[1], [0]]), n_rows=2, n_classes=3)
    tensor([1, 0])
    >>> check_targets(torch.tensor([1, 3]), n_rows=2, n_classes=3)
    Traceback (most recent call last):
    ...
    ValueError: targets must lie in [0, 3), got values from 1 to 3
    """
    if not isinstance(targets, torch.Tensor):
        raise ValueError(f"targets must be a torch.Tensor, got {type(targets)}")
    if targets.is_floating_point() or targets.is_complex():
        raise ValueError(
            f"targets must hold integer class indices, got {targets.dtype}"
        )
    if targets.dim() == 2 and targets.shape[1] == 1:
        targets = targets.squeeze(1)
    if targets.dim() != 1 or targets.shape[0] != n_rows:
        raise ValueError(
            f"targets must have shape [{n_rows}] or [{n_rows}, 1] to match "
            f"the logits, got {list(targets.shape)}"
        )
    low, high = int(targets.min()), int(targets.max())
    if low < 0 or high >= n_classes:
        raise ValueError(
            f"targets must lie in [0, {n_classes}), "
            f"got values from {low} to {high}"
        )
    return targets.long()


def reduce_losses(losses, reduction):
    """Reduces a tensor of per-item losses to a scalar, or keeps it.

    Arguments
    ---------
    losses : torch.Tensor
        Per-item losses (one per example, or per utterance for GE2E).
    reduction : str
        ``"mean"`` (average over items), ``"sum"`` (sum over items) or
        ``"none"`` (return ``losses`` unchanged).

    Returns
    -------
    loss : torch.Tensor
        A scalar for ``"mean"``/``"sum"``, else ``losses`` itself.

    Raises
    ------
    ValueError
        If ``reduction`` is not one of the three names.

    Example
    -------
    >>> reduce_losses(torch.tensor([1.0, 3.0]), "mean")
    tensor(2.)
    >>> reduce_losses(torch.tensor([1.0, 3.0]), "max")
    Traceback (most recent call last):
    ...
    ValueError: reduction must be one of ('mean', 'sum', 'none'), got 'max'
    """
    check_reduction(reduction)
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def check_reduction(reduction):
    """Checks that a reduction name is one of ``REDUCTIONS``.

    Arguments
    ---------
    reduction : str
        The name to check.

    Raises
    ------
    ValueError
        If the name is unknown.

    Example
    -------
    >>> check_reduction("sum")
    """
    check_choice("reduction", reduction, REDUCTIONS)
