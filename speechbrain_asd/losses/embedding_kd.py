"""Embedding-level knowledge distillation: the student's embedding is pulled
towards the frozen teacher's, by cosine or mean squared error.

The baseline that "Emphasizing non-target speakers' knowledge in knowledge
distillation for speaker verification" (ICASSP 2024) compares its label-level
KD against. When the two embeddings differ in size, a learned linear
projection maps the student's onto the teacher's; the teacher is detached.

Authors
 * speechbrain-asd developers
"""

import torch
import torch.nn.functional as F

from speechbrain_asd.checks import check_choice, check_int, check_number
from speechbrain_asd.losses.checks import (
    check_reduction,
    check_same_shape,
    reduce_losses,
)

DISTANCES = ("cosine", "mse")


def embedding_kd_loss(
    student_embeddings, teacher_embeddings, distance="cosine", reduction="mean"
):
    """Distance between student and teacher embeddings of the same size.

    Arguments
    ---------
    student_embeddings : torch.Tensor
        Shape [B, D].
    teacher_embeddings : torch.Tensor
        Shape [B, D]; detached inside.
    distance : str
        ``"cosine"`` (one minus the cosine similarity) or ``"mse"`` (mean
        squared error over the dimensions).
    reduction : str
        ``"mean"`` (over the batch), ``"sum"`` or ``"none"`` ([B]).

    Returns
    -------
    loss : torch.Tensor
        The distance per row, reduced as asked.

    Example
    -------
    >>> student = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    >>> embedding_kd_loss(student, 3 * student)
    tensor(0.)
    >>> embedding_kd_loss(student, torch.tensor([[0.0, 1.0], [0.0, 2.0]]))
    tensor(0.5000)
    >>> embedding_kd_loss(student, student + 1, "mse", reduction="none")
    tensor([1., 1.])
    """
    check_choice("distance", distance, DISTANCES)
    check_reduction(reduction)
    if student_embeddings.dim() != 2:
        raise ValueError(
            "student_embeddings must have shape [B, D], got "
            f"{tuple(student_embeddings.shape)}"
        )
    check_same_shape(
        "student_embeddings",
        student_embeddings,
        "teacher_embeddings",
        teacher_embeddings,
    )
    teacher = teacher_embeddings.detach()
    if distance == "cosine":
        losses = 1 - F.cosine_similarity(student_embeddings, teacher, dim=-1)
    else:
        losses = (student_embeddings - teacher).pow(2).mean(-1)
    return reduce_losses(losses, reduction)


class EmbeddingKDLoss(torch.nn.Module):
    """Embedding-level KD as a module, with a projection when sizes differ.

    The projection (a linear layer from the student's size to the
    teacher's) is a trainable part of the student side: train it with the
    student. Equal sizes compare the embeddings directly.

    Arguments
    ---------
    student_dim : int
        Size of the student's embedding.
    teacher_dim : int
        Size of the teacher's embedding.
    distance : str
        ``"cosine"`` or ``"mse"``; see ``embedding_kd_loss``.
    weight : float
        Factor of the distance, >= 0.
    reduction : str
        ``"mean"`` (over the batch), ``"sum"`` or ``"none"`` ([B]).

    Example
    -------
    >>> loss_fn = EmbeddingKDLoss(4, 6, distance="mse", weight=2.0)
    >>> student = torch.randn(3, 4, requires_grad=True)
    >>> loss = loss_fn(student, torch.randn(3, 6))
    >>> loss.backward()
    >>> student.grad.shape, loss_fn.projection.weight.grad.shape
    (torch.Size([3, 4]), torch.Size([6, 4]))
    """

    def __init__(
        self,
        student_dim,
        teacher_dim,
        distance="cosine",
        weight=1.0,
        reduction="mean",
    ):
        """Validates the settings and builds the projection."""
        super().__init__()
        check_int("student_dim", student_dim, minimum=1)
        check_int("teacher_dim", teacher_dim, minimum=1)
        self.distance = check_choice("distance", distance, DISTANCES)
        self.weight = check_number("weight", weight, 0.0)
        check_reduction(reduction)
        self.reduction = reduction
        self.projection = torch.nn.Identity()
        if student_dim != teacher_dim:
            self.projection = torch.nn.Linear(student_dim, teacher_dim)

    def forward(self, student_embeddings, teacher_embeddings):
        """Computes the weighted distance.

        Arguments
        ---------
        student_embeddings : torch.Tensor
            Shape [B, student_dim].
        teacher_embeddings : torch.Tensor
            Shape [B, teacher_dim]; detached inside.

        Returns
        -------
        loss : torch.Tensor
            ``weight`` times the distance, reduced as set at construction.
        """
        projected = self.projection(student_embeddings)
        return self.weight * embedding_kd_loss(
            projected, teacher_embeddings, self.distance, self.reduction
        )
