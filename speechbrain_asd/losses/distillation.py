"""Knowledge distillation losses: Hinton KD and decoupled (non-target) KD.

All losses take raw logits of shape [B, C] and class indices of shape [B] or
[B, 1]; teacher logits are detached.

Authors
 * speechbrain-asd developers
"""

import torch
import torch.nn.functional as F

from speechbrain_asd.checks import check_number
from speechbrain_asd.losses.checks import (
    check_logits,
    check_reduction,
    check_same_shape,
    check_targets,
    reduce_losses,
)


def kd_kl_divergence(
    student_logits, teacher_logits, temperature=1.0, reduction="mean"
):
    """KL(softmax(teacher / T) || softmax(student / T)), without T^2.

    Arguments
    ---------
    student_logits : torch.Tensor
        Student logits, shape [B, C].
    teacher_logits : torch.Tensor
        Teacher logits, shape [B, C].
    temperature : float
        Softening temperature T > 0.
    reduction : str
        ``"mean"`` (over the batch), ``"sum"`` or ``"none"`` ([B]).

    Returns
    -------
    kl : torch.Tensor
        The divergence summed over classes, reduced as asked.

    Example
    -------
    >>> logits = torch.tensor([[2.0, 0.5, -1.0]])
    >>> kd_kl_divergence(logits, logits)
    tensor(0.)
    >>> bool(kd_kl_divergence(logits, -logits, temperature=2.0) > 0)
    True
    """
    _check_pair(student_logits, teacher_logits)
    temperature = check_number("temperature", temperature, 0.0, strict=True)
    check_reduction(reduction)
    log_q = F.log_softmax(student_logits / temperature, dim=-1)
    log_p = F.log_softmax(teacher_logits.detach() / temperature, dim=-1)
    return reduce_losses(_kl_from_log_probs(log_q, log_p), reduction)


def decoupled_kl_parts(
    student_logits, teacher_logits, targets, temperature=1.0
):
    """Splits the KD divergence into its target and non-target parts.

    ``KL = TCKD + (1 - p_t) * NCKD``, with ``p_t`` the teacher's softened
    probability of the target class, as in "Decoupled Knowledge Distillation"
    (CVPR 2022).

    Arguments
    ---------
    student_logits : torch.Tensor
        Student logits, shape [B, C].
    teacher_logits : torch.Tensor
        Teacher logits, shape [B, C].
    targets : torch.Tensor
        Target class indices, shape [B] or [B, 1].
    temperature : float
        Softening temperature T > 0.

    Returns
    -------
    tckd : torch.Tensor
        Binary KL between ``[p_t, 1 - p_t]`` of teacher and student, shape [B].
    nckd : torch.Tensor
        KL between the distributions over the non-target classes alone, shape
        [B] (zero when C = 2).

    Example
    -------
    >>> student = torch.tensor([[1.0, 0.0, -1.0], [0.0, 2.0, 0.5]])
    >>> teacher = torch.tensor([[3.0, 1.0, 0.0], [0.5, 1.0, 1.5]])
    >>> targets = torch.tensor([0, 1])
    >>> tckd, nckd = decoupled_kl_parts(student, teacher, targets, 2.0)
    >>> p_t = torch.softmax(teacher / 2.0, -1)[[0, 1], targets]
    >>> kl = kd_kl_divergence(student, teacher, 2.0, reduction="none")
    >>> torch.allclose(kl, tckd + (1 - p_t) * nckd)
    True
    """
    _check_pair(student_logits, teacher_logits)
    temperature = check_number("temperature", temperature, 0.0, strict=True)
    n_rows, n_classes = student_logits.shape
    targets = check_targets(targets, n_rows, n_classes)
    is_target = F.one_hot(targets, n_classes).bool()
    student = student_logits / temperature
    teacher = teacher_logits.detach() / temperature
    tckd = _kl_from_log_probs(
        _binary_log_probs(student, is_target),
        _binary_log_probs(teacher, is_target),
    )
    nckd = _kl_from_log_probs(
        _non_target_log_probs(student, is_target),
        _non_target_log_probs(teacher, is_target),
    )
    return tckd, nckd


def kd_loss(
    student_logits,
    teacher_logits,
    targets,
    temperature=5.0,
    gamma=0.5,
    reduction="mean",
):
    """Hinton KD: gamma * T^2 * KL(teacher/T || student/T) + (1 - gamma) * NLL.

    The loss of "Training strategies for a lightweight countermeasure model for
    automatic speaker verification" (ICASSP 2023), eq. 4; the NLL uses the raw
    student logits.

    Arguments
    ---------
    student_logits : torch.Tensor
        Student logits, shape [B, C].
    teacher_logits : torch.Tensor
        Teacher logits, shape [B, C].
    targets : torch.Tensor
        Target class indices, shape [B] or [B, 1].
    temperature : float
        Softening temperature T > 0.
    gamma : float
        Weight of the distillation term, in [0, 1].
    reduction : str
        ``"mean"`` (over the batch), ``"sum"`` or ``"none"`` ([B]).

    Returns
    -------
    loss : torch.Tensor
        The KD loss, reduced as asked.

    Example
    -------
    >>> student = torch.tensor([[1.0, 0.0, -1.0], [0.0, 2.0, 0.5]])
    >>> teacher = torch.tensor([[3.0, 1.0, 0.0], [0.5, 1.0, 1.5]])
    >>> targets = torch.tensor([0, 1])
    >>> nll = torch.nn.functional.cross_entropy(student, targets)
    >>> torch.allclose(kd_loss(student, teacher, targets, gamma=0.0), nll)
    True
    >>> kd_loss(student, teacher, targets, gamma=0.5).shape
    torch.Size([])
    """
    gamma = check_number("gamma", gamma, 0.0, 1.0)
    kl = kd_kl_divergence(
        student_logits, teacher_logits, temperature, reduction="none"
    )
    distillation = (temperature**2) * kl
    return _mix_with_nll(
        distillation, student_logits, targets, gamma, reduction
    )


def decoupled_kd_loss(
    student_logits,
    teacher_logits,
    targets,
    temperature=5.0,
    gamma=0.5,
    alpha=1.0,
    beta=8.0,
    reduction="mean",
):
    """Decoupled KD: gamma T^2 (alpha TCKD + beta NCKD) + (1 - gamma) NLL.

    The label-level KD that "Emphasizing non-target speakers' knowledge in
    knowledge distillation for speaker verification" (ICASSP 2024) re-weights;
    see ``decoupled_kl_parts``. Note that ``alpha = beta = 1`` is not plain KD.

    Arguments
    ---------
    student_logits : torch.Tensor
        Student logits, shape [B, C].
    teacher_logits : torch.Tensor
        Teacher logits, shape [B, C].
    targets : torch.Tensor
        Target class indices, shape [B] or [B, 1].
    temperature : float
        Softening temperature T > 0.
    gamma : float
        Weight of the distillation term, in [0, 1].
    alpha : float
        Weight of the target-class part TCKD, >= 0.
    beta : float
        Weight of the non-target-class part NCKD, >= 0; ``beta > alpha``
        emphasises the non-target classes.
    reduction : str
        ``"mean"`` (over the batch), ``"sum"`` or ``"none"`` ([B]).

    Returns
    -------
    loss : torch.Tensor
        The decoupled KD loss, reduced as asked.

    Example
    -------
    >>> student = torch.tensor([[1.0, 0.0, -1.0], [0.0, 2.0, 0.5]])
    >>> teacher = torch.tensor([[3.0, 1.0, 0.0], [0.5, 1.0, 1.5]])
    >>> targets = torch.tensor([0, 1])
    >>> loss = decoupled_kd_loss(student, teacher, targets, beta=8.0)
    >>> loss.shape
    torch.Size([])
    >>> bool(loss > decoupled_kd_loss(student, teacher, targets, beta=1.0))
    True
    """
    gamma = check_number("gamma", gamma, 0.0, 1.0)
    alpha = check_number("alpha", alpha, 0.0)
    beta = check_number("beta", beta, 0.0)
    tckd, nckd = decoupled_kl_parts(
        student_logits, teacher_logits, targets, temperature
    )
    distillation = (temperature**2) * (alpha * tckd + beta * nckd)
    return _mix_with_nll(
        distillation, student_logits, targets, gamma, reduction
    )


class _KDModule(torch.nn.Module):
    """Base of the KD loss modules: hyperparameters checked, one forward."""

    _loss_fn = None

    def __init__(self, temperature, gamma, reduction, **weights):
        """Validates and stores the hyperparameters (``weights`` >= 0)."""
        super().__init__()
        self.temperature = check_number(
            "temperature", temperature, 0.0, strict=True
        )
        self.gamma = check_number("gamma", gamma, 0.0, 1.0)
        self._weight_names = tuple(weights)
        for name, value in weights.items():
            setattr(self, name, check_number(name, value, 0.0))
        check_reduction(reduction)
        self.reduction = reduction

    def forward(self, student_logits, teacher_logits, targets):
        """Computes the loss.

        Arguments
        ---------
        student_logits : torch.Tensor
            Student logits, shape [B, C].
        teacher_logits : torch.Tensor
            Teacher logits, shape [B, C]; detached inside.
        targets : torch.Tensor
            Target class indices, shape [B] or [B, 1].

        Returns
        -------
        loss : torch.Tensor
            The loss, reduced as set at construction.
        """
        weights = [getattr(self, name) for name in self._weight_names]
        return self._loss_fn(
            student_logits,
            teacher_logits,
            targets,
            self.temperature,
            self.gamma,
            *weights,
            self.reduction,
        )


class KDLoss(_KDModule):
    """Hinton KD loss as a module; see ``kd_loss``.

    Arguments
    ---------
    temperature : float
        Softening temperature T > 0.
    gamma : float
        Weight of the distillation term, in [0, 1].
    reduction : str
        ``"mean"`` (over the batch), ``"sum"`` or ``"none"`` ([B]).

    Example
    -------
    >>> loss_fn = KDLoss(temperature=5.0, gamma=0.5)
    >>> student = torch.zeros(2, 8, requires_grad=True)
    >>> teacher = torch.randn(2, 8, generator=torch.Generator().manual_seed(0))
    >>> loss = loss_fn(student, teacher, torch.tensor([0, 7]))
    >>> loss.backward()
    >>> student.grad.shape
    torch.Size([2, 8])
    """

    _loss_fn = staticmethod(kd_loss)

    def __init__(self, temperature=5.0, gamma=0.5, reduction="mean"):
        """Validates and stores the hyperparameters."""
        super().__init__(temperature, gamma, reduction)


class DecoupledKDLoss(_KDModule):
    """Decoupled (non-target-emphasising) KD loss as a module.

    See ``decoupled_kd_loss``.

    Arguments
    ---------
    temperature : float
        Softening temperature T > 0.
    gamma : float
        Weight of the distillation term, in [0, 1].
    alpha : float
        Weight of the target-class part TCKD, >= 0.
    beta : float
        Weight of the non-target-class part NCKD, >= 0.
    reduction : str
        ``"mean"`` (over the batch), ``"sum"`` or ``"none"`` ([B]).

    Example
    -------
    >>> loss_fn = DecoupledKDLoss(temperature=5.0, alpha=1.0, beta=8.0)
    >>> student = torch.zeros(2, 8, requires_grad=True)
    >>> teacher = torch.randn(2, 8, generator=torch.Generator().manual_seed(0))
    >>> loss = loss_fn(student, teacher, torch.tensor([[0], [7]]))
    >>> loss.backward()
    >>> student.grad.shape
    torch.Size([2, 8])
    """

    _loss_fn = staticmethod(decoupled_kd_loss)

    def __init__(
        self, temperature=5.0, gamma=0.5, alpha=1.0, beta=8.0, reduction="mean"
    ):
        """Validates and stores the hyperparameters."""
        super().__init__(temperature, gamma, reduction, alpha=alpha, beta=beta)


def _check_pair(student_logits, teacher_logits):
    """Checks that student and teacher logits are [B, C] of equal shape."""
    check_logits("student_logits", student_logits)
    check_logits("teacher_logits", teacher_logits)
    check_same_shape(
        "student_logits", student_logits, "teacher_logits", teacher_logits
    )


def _mix_with_nll(distillation, student_logits, targets, gamma, reduction):
    """Returns ``gamma * distillation + (1 - gamma) * NLL``, reduced."""
    check_reduction(reduction)
    targets = check_targets(targets, *student_logits.shape)
    nll = F.cross_entropy(student_logits, targets, reduction="none")
    return reduce_losses(gamma * distillation + (1.0 - gamma) * nll, reduction)


def _binary_log_probs(logits, is_target):
    """Log-probabilities of "target" and "any other class", shape [B, 2]."""
    log_p = F.log_softmax(logits, dim=-1)
    log_target = log_p.masked_fill(~is_target, float("-inf")).logsumexp(-1)
    log_rest = log_p.masked_fill(is_target, float("-inf")).logsumexp(-1)
    return torch.stack([log_target, log_rest], dim=-1)


def _non_target_log_probs(logits, is_target):
    """Log-probabilities over the non-target classes alone, [B, C - 1]."""
    n_rows, n_classes = logits.shape
    non_target = logits[~is_target].view(n_rows, n_classes - 1)
    return F.log_softmax(non_target, dim=-1)


def _kl_from_log_probs(log_q, log_p):
    """Per-row KL(p || q) from log-probabilities, summed over the last axis."""
    return F.kl_div(log_q, log_p, reduction="none", log_target=True).sum(-1)
