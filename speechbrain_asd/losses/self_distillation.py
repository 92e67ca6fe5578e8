"""Self-distillation loss: a network's deepest exit teaches its shallow ones.

After "Learning from yourself: a self-distillation method for fake speech
detection" (ICASSP 2023).

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
from speechbrain_asd.losses.distillation import kd_kl_divergence


def self_distillation_terms(exits, targets, projections, temperature=5.0):
    """Computes the unweighted per-example parts of the self-distillation loss.

    Arguments
    ---------
    exits : sequence of (torch.Tensor, torch.Tensor)
        At least two ``(logits [B, C], feature [B, D_k])`` pairs, shallow to
        deep; the last is the main (deepest) head.
    targets : torch.Tensor
        Target class indices, shape [B] or [B, 1].
    projections : sequence of callable
        One per shallow exit, mapping [B, D_k] to the deepest feature's shape
        [B, D_K] (e.g. ``torch.nn.Linear``).
    temperature : float
        Softening temperature T > 0 of the output KL.

    Returns
    -------
    terms : dict of str to torch.Tensor
        Shape [B] each: ``"deep_nll"`` (NLL of the deepest exit) and, summed
        over the shallow exits, ``"shallow_nll"``, ``"kl"`` (KL from the
        deepest exit, without T^2) and ``"feature"`` (mean squared distance of
        the projected feature to the deepest one).

    Example
    -------
    >>> g = torch.Generator().manual_seed(0)
    >>> exits = [
    ...     (torch.randn(4, 8, generator=g), torch.randn(4, dim, generator=g))
    ...     for dim in (16, 32)
    ... ]
    >>> targets = torch.tensor([0, 1, 2, 3])
    >>> projections = [torch.nn.Linear(16, 32)]
    >>> terms = self_distillation_terms(exits, targets, projections)
    >>> sorted(terms), terms["kl"].shape
    (['deep_nll', 'feature', 'kl', 'shallow_nll'], torch.Size([4]))
    """
    temperature = check_number("temperature", temperature, 0.0, strict=True)
    _check_exits(exits)
    if len(projections) != len(exits) - 1:
        raise ValueError(
            f"projections must hold one entry per shallow exit "
            f"({len(exits) - 1}), got {len(projections)}"
        )
    deep_logits, deep_feature = exits[-1]
    targets = check_targets(targets, *deep_logits.shape)
    deep_feature = deep_feature.detach()

    shallow_nll, kl, feature = [], [], []
    for index, ((logits, feat), project) in enumerate(
        zip(exits[:-1], projections)
    ):
        shallow_nll.append(F.cross_entropy(logits, targets, reduction="none"))
        kl.append(kd_kl_divergence(logits, deep_logits, temperature, "none"))
        projected = project(feat)
        check_same_shape(
            f"projected feature of exit {index}",
            projected,
            "the deepest feature",
            deep_feature,
        )
        feature.append((projected - deep_feature).pow(2).mean(-1))
    return {
        "deep_nll": F.cross_entropy(deep_logits, targets, reduction="none"),
        "shallow_nll": torch.stack(shallow_nll).sum(0),
        "kl": torch.stack(kl).sum(0),
        "feature": torch.stack(feature).sum(0),
    }


def self_distillation_loss(
    exits,
    targets,
    projections,
    temperature=5.0,
    alpha=0.5,
    feature_weight=0.1,
    reduction="mean",
):
    """Combines the self-distillation terms into one loss.

    ``deep_nll + (1 - alpha) shallow_nll + alpha T^2 kl + feature_weight
    feature``, with the terms of ``self_distillation_terms``; the deepest
    exit's logits and feature are detached in the distillation terms.

    Arguments
    ---------
    exits : sequence of (torch.Tensor, torch.Tensor)
        At least two ``(logits [B, C], feature [B, D_k])`` pairs, shallow to
        deep.
    targets : torch.Tensor
        Target class indices, shape [B] or [B, 1].
    projections : sequence of callable
        One per shallow exit, mapping [B, D_k] to [B, D_K].
    temperature : float
        Softening temperature T > 0 of the output KL.
    alpha : float
        In [0, 1]: the shallow exits' KL weight; their NLL gets 1 - alpha.
    feature_weight : float
        Weight (>= 0) of the feature distances.
    reduction : str
        ``"mean"`` (over the batch), ``"sum"`` or ``"none"`` ([B]).

    Returns
    -------
    loss : torch.Tensor
        The loss, reduced as asked.

    Example
    -------
    >>> g = torch.Generator().manual_seed(0)
    >>> exits = [
    ...     (torch.randn(4, 8, generator=g), torch.randn(4, 32, generator=g))
    ...     for _ in range(2)
    ... ]
    >>> targets = torch.tensor([0, 1, 2, 3])
    >>> loss = self_distillation_loss(exits, targets, [torch.nn.Identity()])
    >>> loss.shape
    torch.Size([])
    """
    alpha = check_number("alpha", alpha, 0.0, 1.0)
    feature_weight = check_number("feature_weight", feature_weight, 0.0)
    check_reduction(reduction)
    terms = self_distillation_terms(exits, targets, projections, temperature)
    total = (
        terms["deep_nll"]
        + (1.0 - alpha) * terms["shallow_nll"]
        + alpha * temperature**2 * terms["kl"]
        + feature_weight * terms["feature"]
    )
    return reduce_losses(total, reduction)


class SelfDistillationLoss(torch.nn.Module):
    """Self-distillation loss that owns the shallow-to-deep projections.

    Holds one learnable ``torch.nn.Linear(D_k, D_K)`` per shallow exit in
    ``projections`` (training only). List the module in the Brain's
    ``modules``, or the projections stay at their random initialisation.

    Arguments
    ---------
    feature_dims : sequence of int
        Feature size D_k of every exit, shallow to deep (at least two).
    temperature : float
        Softening temperature T > 0 of the output KL.
    alpha : float
        In [0, 1]: the shallow exits' KL weight; their NLL gets 1 - alpha.
    feature_weight : float
        Weight (>= 0) of the feature distances.
    reduction : str
        ``"mean"`` (over the batch), ``"sum"`` or ``"none"`` ([B]).

    Example
    -------
    >>> loss_fn = SelfDistillationLoss(feature_dims=[16, 32, 64])
    >>> g = torch.Generator().manual_seed(0)
    >>> exits = [
    ...     (torch.randn(4, 8, generator=g), torch.randn(4, dim, generator=g))
    ...     for dim in (16, 32, 64)
    ... ]
    >>> targets = torch.tensor([[0], [1], [2], [3]])
    >>> loss = loss_fn(exits, targets)
    >>> loss.backward()
    >>> loss_fn.projections[0].weight.grad.shape
    torch.Size([64, 16])
    >>> sorted(self_distillation_terms(exits, targets, loss_fn.projections))
    ['deep_nll', 'feature', 'kl', 'shallow_nll']
    """

    def __init__(
        self,
        feature_dims,
        temperature=5.0,
        alpha=0.5,
        feature_weight=0.1,
        reduction="mean",
    ):
        """Validates the arguments; creates one projection per shallow exit."""
        super().__init__()
        dims = list(feature_dims)
        if len(dims) < 2 or any(
            isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dims
        ):
            raise ValueError(
                "feature_dims must list at least two positive integer "
                f"feature sizes (shallow to deep), got {feature_dims!r}"
            )
        self.feature_dims = dims
        self.temperature = check_number(
            "temperature", temperature, 0.0, strict=True
        )
        self.alpha = check_number("alpha", alpha, 0.0, 1.0)
        self.feature_weight = check_number(
            "feature_weight", feature_weight, 0.0
        )
        check_reduction(reduction)
        self.reduction = reduction
        self.projections = torch.nn.ModuleList(
            torch.nn.Linear(dim, dims[-1]) for dim in dims[:-1]
        )

    def forward(self, exits, targets):
        """Computes the self-distillation loss.

        Arguments
        ---------
        exits : sequence of (torch.Tensor, torch.Tensor)
            ``(logits [B, C], feature [B, D_k])`` per exit, shallow to deep, as
            ``ResNetSE.forward_exits`` returns them.
        targets : torch.Tensor
            Target class indices, shape [B] or [B, 1].

        Returns
        -------
        loss : torch.Tensor
            The loss, reduced as set at construction.
        """
        self._check_feature_dims(exits)
        return self_distillation_loss(
            exits,
            targets,
            self.projections,
            self.temperature,
            self.alpha,
            self.feature_weight,
            self.reduction,
        )

    def _check_feature_dims(self, exits):
        """Checks that the exits match the feature sizes given at creation."""
        _check_exits(exits)
        got = [feature.shape[-1] for _, feature in exits]
        if got != self.feature_dims:
            raise ValueError(
                f"exits have feature sizes {got}, but this loss was built "
                f"for feature_dims={self.feature_dims}"
            )


def _check_exits(exits):
    """Checks the list of (logits, feature) exits."""
    if not isinstance(exits, (list, tuple)) or len(exits) < 2:
        raise ValueError(
            "exits must be a list of at least two (logits, feature) pairs, "
            f"shallow to deep, got {type(exits).__name__} "
            f"of length {len(exits) if hasattr(exits, '__len__') else '?'}"
        )
    for index, pair in enumerate(exits):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(
                f"exits[{index}] must be a (logits, feature) pair, "
                f"got {type(pair).__name__}"
            )
    deep_logits = exits[-1][0]
    check_logits("the deepest logits", deep_logits)
    for index, (logits, feature) in enumerate(exits):
        check_logits(f"exits[{index}] logits", logits)
        check_same_shape(
            f"exits[{index}] logits", logits, "the deepest logits", deep_logits
        )
        if (
            not isinstance(feature, torch.Tensor)
            or feature.dim() != 2
            or feature.shape[0] != logits.shape[0]
            or not feature.is_floating_point()
        ):
            raise ValueError(
                f"exits[{index}] feature must be a float tensor of shape "
                f"[{logits.shape[0]}, D], got "
                f"{getattr(feature, 'shape', type(feature))}"
            )
