"""Knowledge distillation losses: Hinton KD and decoupled (non-target) KD.

All losses take raw logits (not probabilities) of shape [B, C] and integer
targets of shape [B] or [B, 1]. Teacher logits are detached: no gradient
ever flows into the teacher. With p^T = softmax(teacher / T) and
q^T = softmax(student / T) at temperature T:

* Hinton KD, as in the ASD paper (eq. 4):
  L = gamma * T^2 * KL(p^T || q^T) + (1 - gamma) * NLL(student, targets),
  where NLL is taken over log_softmax of the raw student logits (T = 1).
* Decoupled KD (Zhao et al., CVPR 2022), the label-level KD that the
  paper "Emphasizing non-target speakers' knowledge in knowledge
  distillation for speaker verification" (ICASSP 2024) re-weights to
  emphasise the non-target classes. The KL splits exactly into

      KL(p^T || q^T) = TCKD + (1 - p^T_t) * NCKD,

  with TCKD = KL([p_t, 1 - p_t] of the teacher || same of the student), the
  binary target-vs-rest part, and NCKD = KL of the distributions over the
  non-target classes alone (each renormalised to sum to one), t being the
  target class. Decoupled KD weights the two parts freely:
  L = gamma * T^2 * (alpha * TCKD + beta * NCKD) + (1 - gamma) * NLL.
  Plain KD is thus TCKD plus an NCKD whose weight (1 - p^T_t) shrinks as the
  teacher grows confident; beta > alpha restores and emphasises the
  non-target knowledge. Note that alpha = beta = 1 is NOT plain KD: it
  differs from it by gamma * T^2 * p^T_t * NCKD >= 0.

The (1 - gamma) NLL weighting follows the ASD paper's convention for both
losses (DKD's paper adds its terms to a cross-entropy of weight 1; choose
gamma = 0.5 and double alpha, beta to get the same ratios).

Reductions: every per-example loss is a sum over classes; ``"mean"``
averages over the batch (KL "batchmean"), ``"sum"`` sums over it, ``"none"``
returns the [B] per-example losses.

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
        Teacher logits, shape [B, C]; detached inside.
    temperature : float
        Softening temperature T > 0.
    reduction : str
        ``"mean"`` (over the batch), ``"sum"`` or ``"none"`` ([B]).

    Returns
    -------
    kl : torch.Tensor
        Sum over classes of p_i (log p_i - log q_i), reduced as asked.

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

    Arguments
    ---------
    student_logits : torch.Tensor
        Student logits, shape [B, C], C >= 2.
    teacher_logits : torch.Tensor
        Teacher logits, shape [B, C]; detached inside.
    targets : torch.Tensor
        Target class indices, shape [B] or [B, 1].
    temperature : float
        Softening temperature T > 0.

    Returns
    -------
    tckd : torch.Tensor
        Per-example binary KL between [p_t, 1 - p_t] of teacher and
        student, shape [B].
    nckd : torch.Tensor
        Per-example KL between the teacher's and the student's distributions
        over the C - 1 non-target classes, shape [B] (zero when C = 2).

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

    Arguments
    ---------
    student_logits : torch.Tensor
        Student logits, shape [B, C].
    teacher_logits : torch.Tensor
        Teacher logits, shape [B, C]; detached inside.
    targets : torch.Tensor
        Target class indices, shape [B] or [B, 1].
    temperature : float
        Softening temperature T > 0 (ASD paper: 5).
    gamma : float
        Weight of the distillation term, in [0, 1] (ASD paper: 0.5).
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

    Arguments
    ---------
    student_logits : torch.Tensor
        Student logits, shape [B, C], C >= 2.
    teacher_logits : torch.Tensor
        Teacher logits, shape [B, C]; detached inside.
    targets : torch.Tensor
        Target class indices, shape [B] or [B, 1].
    temperature : float
        Softening temperature T > 0.
    gamma : float
        Weight of the distillation term, in [0, 1].
    alpha : float
        Weight of the target-class part TCKD, >= 0.
    beta : float
        Weight of the non-target-class part NCKD, >= 0; beta > alpha
        emphasises the non-target classes (default 8, a common DKD setting;
        tune it per task).
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


class KDLoss(torch.nn.Module):
    """Hinton KD loss as a module; see ``kd_loss``.

    Arguments
    ---------
    temperature : float
        Softening temperature T > 0 (ASD paper: 5).
    gamma : float
        Weight of the distillation term, in [0, 1] (ASD paper: 0.5).
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

    def __init__(self, temperature=5.0, gamma=0.5, reduction="mean"):
        """Validates and stores the hyperparameters (see the class)."""
        super().__init__()
        self.temperature = check_number(
            "temperature", temperature, 0.0, strict=True
        )
        self.gamma = check_number("gamma", gamma, 0.0, 1.0)
        check_reduction(reduction)
        self.reduction = reduction

    def forward(self, student_logits, teacher_logits, targets):
        """Computes the KD loss.

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
        return kd_loss(
            student_logits,
            teacher_logits,
            targets,
            self.temperature,
            self.gamma,
            self.reduction,
        )


class DecoupledKDLoss(torch.nn.Module):
    """Decoupled (non-target-emphasising) KD loss as a module.

    See ``decoupled_kd_loss`` and the module docstring.

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

    def __init__(
        self, temperature=5.0, gamma=0.5, alpha=1.0, beta=8.0, reduction="mean"
    ):
        """Validates and stores the hyperparameters (see the class)."""
        super().__init__()
        self.temperature = check_number(
            "temperature", temperature, 0.0, strict=True
        )
        self.gamma = check_number("gamma", gamma, 0.0, 1.0)
        self.alpha = check_number("alpha", alpha, 0.0)
        self.beta = check_number("beta", beta, 0.0)
        check_reduction(reduction)
        self.reduction = reduction

    def forward(self, student_logits, teacher_logits, targets):
        """Computes the decoupled KD loss.

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
        return decoupled_kd_loss(
            student_logits,
            teacher_logits,
            targets,
            self.temperature,
            self.gamma,
            self.alpha,
            self.beta,
            self.reduction,
        )


def _check_pair(student_logits, teacher_logits):
    """Checks that student and teacher logits are [B, C] of equal shape.

    Arguments
    ---------
    student_logits : torch.Tensor
        Student logits.
    teacher_logits : torch.Tensor
        Teacher logits.

    Raises
    ------
    ValueError
        If either is not a [B, C] float tensor or their shapes differ.
    """
    check_logits("student_logits", student_logits)
    check_logits("teacher_logits", teacher_logits)
    check_same_shape(
        "student_logits", student_logits, "teacher_logits", teacher_logits
    )


def _mix_with_nll(distillation, student_logits, targets, gamma, reduction):
    """Returns gamma * distillation + (1 - gamma) * NLL, reduced.

    Arguments
    ---------
    distillation : torch.Tensor
        Per-example distillation terms, shape [B].
    student_logits : torch.Tensor
        Student logits, shape [B, C] (already checked).
    targets : torch.Tensor
        Target class indices, shape [B] or [B, 1].
    gamma : float
        Weight of the distillation term, in [0, 1] (already checked).
    reduction : str
        ``"mean"``, ``"sum"`` or ``"none"``.

    Returns
    -------
    loss : torch.Tensor
        The mixed loss, reduced as asked.
    """
    check_reduction(reduction)
    targets = check_targets(targets, *student_logits.shape)
    nll = F.cross_entropy(student_logits, targets, reduction="none")
    return reduce_losses(gamma * distillation + (1.0 - gamma) * nll, reduction)


def _binary_log_probs(logits, is_target):
    """Log-probabilities of "target" and "any other class", shape [B, 2].

    Arguments
    ---------
    logits : torch.Tensor
        Logits already divided by the temperature, shape [B, C].
    is_target : torch.Tensor
        Boolean one-hot mask of the target class, shape [B, C].

    Returns
    -------
    log_probs : torch.Tensor
        [log p_t, log (1 - p_t)] per row, computed as log-sum-exps so that
        1 - p_t never cancels catastrophically.
    """
    log_p = F.log_softmax(logits, dim=-1)
    log_target = log_p.masked_fill(~is_target, float("-inf")).logsumexp(-1)
    log_rest = log_p.masked_fill(is_target, float("-inf")).logsumexp(-1)
    return torch.stack([log_target, log_rest], dim=-1)


def _non_target_log_probs(logits, is_target):
    """Log-probabilities over the non-target classes alone, shape [B, C - 1].

    Arguments
    ---------
    logits : torch.Tensor
        Logits already divided by the temperature, shape [B, C].
    is_target : torch.Tensor
        Boolean one-hot mask of the target class, shape [B, C].

    Returns
    -------
    log_probs : torch.Tensor
        log_softmax of each row without its target class.
    """
    n_rows, n_classes = logits.shape
    non_target = logits[~is_target].view(n_rows, n_classes - 1)
    return F.log_softmax(non_target, dim=-1)


def _kl_from_log_probs(log_q, log_p):
    """Per-row KL(p || q) from log-probabilities, summed over the last axis.

    Arguments
    ---------
    log_q : torch.Tensor
        Log-probabilities of the student, shape [B, K].
    log_p : torch.Tensor
        Log-probabilities of the teacher, shape [B, K].

    Returns
    -------
    kl : torch.Tensor
        Shape [B].
    """
    return F.kl_div(log_q, log_p, reduction="none", log_target=True).sum(-1)
