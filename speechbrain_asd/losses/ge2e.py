"""Generalized end-to-end (GE2E) loss, softmax variant, for speaker batches.

From "Generalized end-to-end loss for speaker verification" (ICASSP 2018).

Authors
 * speechbrain-asd developers
"""

import math

import torch
import torch.nn.functional as F

from speechbrain_asd.checks import check_number, check_positive
from speechbrain_asd.losses.checks import check_reduction, reduce_losses

# Added to softplus(w_raw) so that w stays > 0 even where softplus underflows.
MIN_SCALE = 1e-6
# Norm floor when normalising embeddings and centroids to unit length.
NORM_EPS = 1e-8


def ge2e_similarity(embeddings, w, b):
    """Returns the GE2E similarity matrix S_nm,k of a speaker batch.

    ``S_nm,k = w * cos(x_nm, c_k) + b``, where ``c_k`` is the mean embedding of
    speaker ``k``; the centroid of the query's own speaker leaves the query out.

    Arguments
    ---------
    embeddings : torch.Tensor
        Utterance embeddings, shape [N speakers, M utterances, D], N >= 2 and
        M >= 2 (reshape a flat batch ordered speaker by speaker with
        ``view(N, M, D)``).
    w : torch.Tensor or float
        Scale, > 0 (a scalar tensor or a number).
    b : torch.Tensor or float
        Bias (a scalar tensor or a number).

    Returns
    -------
    similarity : torch.Tensor
        Shape [N, M, N].

    Example
    -------
    >>> emb = torch.tensor([[[1.0, 0.0], [1.0, 0.1]], [[0.0, 1.0], [0.1, 1.0]]])
    >>> S = ge2e_similarity(emb, w=1.0, b=0.0)
    >>> S.shape
    torch.Size([2, 2, 2])
    >>> bool(S[0, 0, 0] > S[0, 0, 1])
    True
    """
    _check_embeddings(embeddings)
    _check_scale_and_bias(w, b)
    n_utterances = embeddings.shape[1]
    totals = embeddings.sum(dim=1)  # [N, D]
    centroids = totals / n_utterances  # [N, D]
    # Own-speaker centroid without the query: [N, M, D].
    exclusive = (totals.unsqueeze(1) - embeddings) / (n_utterances - 1)

    unit = F.normalize(embeddings, dim=-1, eps=NORM_EPS)
    cos_all = torch.einsum(
        "nmd,kd->nmk", unit, F.normalize(centroids, dim=-1, eps=NORM_EPS)
    )
    cos_own = (unit * F.normalize(exclusive, dim=-1, eps=NORM_EPS)).sum(-1)
    own_speaker = torch.eye(
        embeddings.shape[0], dtype=torch.bool, device=embeddings.device
    ).unsqueeze(1)  # [N, 1, N]
    cosine = torch.where(own_speaker, cos_own.unsqueeze(-1), cos_all)
    return w * cosine + b


def ge2e_loss(embeddings, w, b, reduction="mean"):
    """Computes the softmax GE2E loss of a speaker batch.

    Arguments
    ---------
    embeddings : torch.Tensor
        Utterance embeddings, shape [N speakers, M utterances, D], N >= 2 and
        M >= 2.
    w : torch.Tensor or float
        Scale of the cosine similarity, > 0.
    b : torch.Tensor or float
        Bias of the similarity.
    reduction : str
        ``"mean"`` (over the N * M utterances), ``"sum"`` or ``"none"``
        (shape [N, M]).

    Returns
    -------
    loss : torch.Tensor
        The cross-entropy of each row ``S_nm,:`` against its speaker ``n``,
        reduced as asked.

    Example
    -------
    >>> emb = torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(0))
    >>> loss = ge2e_loss(emb, w=10.0, b=-5.0)
    >>> loss.shape
    torch.Size([])
    >>> ge2e_loss(emb, w=10.0, b=-5.0, reduction="none").shape
    torch.Size([3, 4])
    """
    check_reduction(reduction)
    similarity = ge2e_similarity(embeddings, w, b)
    n_speakers, n_utterances, _ = similarity.shape
    speakers = torch.arange(n_speakers, device=similarity.device)
    targets = speakers.repeat_interleave(n_utterances)
    losses = F.cross_entropy(
        similarity.reshape(n_speakers * n_utterances, n_speakers),
        targets,
        reduction="none",
    ).view(n_speakers, n_utterances)
    return reduce_losses(losses, reduction)


class GE2ELoss(torch.nn.Module):
    """GE2E softmax loss with a learnable, always positive scale w and bias b.

    The scale is ``w = softplus(w_raw) + 1e-6``, read as ``loss.w``. List the
    module in the Brain's ``modules`` so that w and b are trained and saved.

    Arguments
    ---------
    init_w : float
        Initial scale w, > 0.
    init_b : float
        Initial bias b.
    reduction : str
        ``"mean"``, ``"sum"`` or ``"none"``; see ``ge2e_loss``.

    Example
    -------
    >>> loss_fn = GE2ELoss()
    >>> round(loss_fn.w.item(), 4), loss_fn.b.item()
    (10.0, -5.0)
    >>> emb = torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(0))
    >>> loss = loss_fn(emb)
    >>> loss.backward()
    >>> loss_fn.w_raw.grad is not None and loss_fn.b.grad is not None
    True
    """

    def __init__(self, init_w=10.0, init_b=-5.0, reduction="mean"):
        """Validates the initial values and creates w_raw and b."""
        super().__init__()
        init_w = check_positive("init_w", init_w, above=MIN_SCALE)
        init_b = check_number("init_b", init_b)
        check_reduction(reduction)
        self.reduction = reduction
        self.w_raw = torch.nn.Parameter(
            torch.tensor(_softplus_inverse(init_w - MIN_SCALE))
        )
        self.b = torch.nn.Parameter(torch.tensor(init_b))

    @property
    def w(self):
        """The positive scale, ``softplus(w_raw) + 1e-6`` (a scalar tensor)."""
        return F.softplus(self.w_raw) + MIN_SCALE

    def forward(self, embeddings):
        """Computes the GE2E loss of a speaker batch.

        Arguments
        ---------
        embeddings : torch.Tensor
            Shape [N speakers, M utterances, D], N >= 2, M >= 2.

        Returns
        -------
        loss : torch.Tensor
            The loss, reduced as set at construction.
        """
        return ge2e_loss(embeddings, self.w, self.b, self.reduction)


def _softplus_inverse(value):
    """Returns x such that softplus(x) = value, for value > 0."""
    return value + math.log(-math.expm1(-value))


def _check_embeddings(embeddings):
    """Checks that embeddings form an [N >= 2, M >= 2, D] float tensor."""
    if not isinstance(embeddings, torch.Tensor):
        raise ValueError(
            f"embeddings must be a torch.Tensor, got {type(embeddings)}"
        )
    if embeddings.dim() != 3:
        raise ValueError(
            "embeddings must have shape [N speakers, M utterances, D], got "
            f"{list(embeddings.shape)}; reshape a flat batch ordered speaker "
            "by speaker with embeddings.view(N, M, D)"
        )
    if not embeddings.is_floating_point():
        raise ValueError(
            f"embeddings must be floating point, got {embeddings.dtype}"
        )
    n_speakers, n_utterances, dim = embeddings.shape
    if n_speakers < 2 or n_utterances < 2 or dim < 1:
        raise ValueError(
            "GE2E needs at least 2 speakers, 2 utterances per speaker and "
            f"D >= 1, got embeddings of shape {list(embeddings.shape)}"
        )


def _check_scale_and_bias(w, b):
    """Checks that the scale w is a positive scalar and the bias a scalar."""
    for name, value in (("w", w), ("b", b)):
        if isinstance(value, torch.Tensor) and value.numel() != 1:
            raise ValueError(
                f"{name} must be a scalar, got shape {list(value.shape)}"
            )
    value = float(w.detach()) if isinstance(w, torch.Tensor) else float(w)
    if not value > 0:
        raise ValueError(f"w must be > 0, got {value}")
