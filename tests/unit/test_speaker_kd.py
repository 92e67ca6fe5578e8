"""Tests of speaker-level distillation: the embedding KD loss and the
``kd_loss`` variants of the speaker-KD recipe stage.

Authors
 * speechbrain-asd developers
"""

import importlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_asd.checkpoints import CheckpointError
from speechbrain_asd.losses import (
    DecoupledKDLoss,
    EmbeddingKDLoss,
    KDLoss,
    decoupled_kl_parts,
    embedding_kd_loss,
)

ROOT = Path(__file__).resolve().parents[2]
YAML = ROOT / "recipes" / "ASVspoof2019_LA" / "hparams" / "speaker_kd.yaml"
VARIANTS = ("hinton", "decoupled", "embedding_cosine", "embedding_mse")


@pytest.mark.parametrize("distance", ["cosine", "mse"])
def test_embedding_kd_is_zero_for_equal_embeddings(distance):
    """Equal embeddings cost nothing; different ones cost something."""
    student = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
    same = embedding_kd_loss(student, student.clone(), distance)
    assert float(same) == pytest.approx(0.0, abs=1e-6)
    assert float(embedding_kd_loss(student, -student, distance)) > 0


def test_embedding_kd_distances():
    """Cosine ignores the scale, MSE does not; both per row."""
    student = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    teacher = torch.tensor([[2.0, 0.0], [-1.0, -1.0]])
    cosine = embedding_kd_loss(student, teacher, "cosine", reduction="none")
    assert torch.allclose(cosine, torch.tensor([0.0, 2.0]))
    mse = embedding_kd_loss(student, teacher, "mse", reduction="none")
    assert torch.allclose(mse, torch.tensor([0.5, 4.0]))
    with pytest.raises(ValueError, match="distance"):
        embedding_kd_loss(student, teacher, "l1")
    with pytest.raises(ValueError, match="same shape"):
        embedding_kd_loss(student, torch.zeros(2, 3))


def test_embedding_kd_projects_only_when_sizes_differ():
    """A learned projection maps the student's size to the teacher's."""
    assert isinstance(EmbeddingKDLoss(8, 8).projection, torch.nn.Identity)
    loss_fn = EmbeddingKDLoss(4, 6, distance="mse", weight=0.5)
    assert loss_fn.projection.weight.shape == (6, 4)
    student = torch.randn(3, 4)
    teacher = torch.randn(3, 6)
    expected = 0.5 * F.mse_loss(loss_fn.projection(student), teacher)
    assert torch.allclose(loss_fn(student, teacher), expected)


@pytest.mark.parametrize("distance", ["cosine", "mse"])
def test_embedding_kd_gradients_reach_only_the_student_side(distance):
    """The student and the projection get gradients; the teacher none."""
    loss_fn = EmbeddingKDLoss(4, 6, distance=distance)
    student = torch.randn(3, 4, requires_grad=True)
    teacher = torch.randn(3, 6, requires_grad=True)
    loss_fn(student, teacher).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert loss_fn.projection.weight.grad.abs().sum() > 0
    assert teacher.grad is None


def _variants():
    """The YAML's ``kd_losses``, built with tiny embedding sizes."""
    overrides = {
        "data_folder": "unused",
        "emb_dim": 6,
        "teacher_emb_dim": 10,
        "n_train_speakers": 5,
    }
    with open(YAML, encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    return hparams


def test_the_yaml_offers_every_variant():
    """``kd_losses`` holds the four losses; the default is decoupled KD
    with the non-target part weighted above the target part."""
    hparams = _variants()
    assert set(hparams["kd_losses"]) == set(VARIANTS)
    assert hparams["kd_loss"] is hparams["kd_losses"]["decoupled"]
    decoupled = hparams["kd_losses"]["decoupled"]
    assert decoupled.beta > decoupled.alpha
    assert isinstance(hparams["kd_losses"]["hinton"], KDLoss)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_gives_a_finite_loss_and_gradient(variant):
    """A tiny student/teacher pair of speaker heads, as the recipe uses it."""
    kd_loss = _variants()["kd_losses"][variant]
    torch.manual_seed(0)
    student_head = torch.nn.Linear(6, 5)
    teacher_head = torch.nn.Linear(10, 5).requires_grad_(False)
    student = torch.randn(4, 6, requires_grad=True)
    teacher = torch.randn(4, 10)
    targets = torch.tensor([[0], [1], [4], [2]])
    logits = student_head(student)
    if isinstance(kd_loss, EmbeddingKDLoss):
        loss = F.cross_entropy(logits, targets[:, 0]) + kd_loss(
            student, teacher
        )
    else:
        loss = kd_loss(logits, teacher_head(teacher), targets)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(student.grad).all() and student.grad.abs().sum() > 0
    assert student_head.weight.grad.abs().sum() > 0


def test_decoupled_kd_is_dominated_by_the_non_target_part():
    """With beta > alpha the loss follows the non-target part.

    The teacher and student agree on the target probability but rank the
    other speakers in reverse: only the non-target part is non-zero, and
    it is scaled by beta, not by alpha (a swap of the weights breaks it).
    """
    teacher = torch.tensor([[4.0, 2.0, 1.0, 0.0, -1.0]])
    student = torch.tensor([[4.0, -1.0, 0.0, 1.0, 2.0]])
    targets = torch.tensor([0])
    tckd, nckd = decoupled_kl_parts(student, teacher, targets, 1.0)
    assert float(tckd) == pytest.approx(0.0, abs=1e-6) and float(nckd) > 0
    loss_fn = DecoupledKDLoss(temperature=1.0, gamma=1.0, alpha=1.0, beta=8.0)
    assert float(loss_fn(student, teacher, targets)) == pytest.approx(
        8.0 * float(nckd), rel=1e-5
    )
    swapped = DecoupledKDLoss(temperature=1.0, gamma=1.0, alpha=8.0, beta=1.0)
    assert float(loss_fn(student, teacher, targets)) > 7 * float(
        swapped(student, teacher, targets)
    )
    student = student.clone().requires_grad_(True)
    loss_fn(student, teacher, targets).backward()
    hinton = student.detach().clone().requires_grad_(True)
    KDLoss(temperature=1.0, gamma=1.0)(hinton, teacher, targets).backward()
    # The non-target logits move more than under Hinton KD.
    assert student.grad[0, 1:].norm() > 4 * hinton.grad[0, 1:].norm()


def test_the_teacher_must_come_from_a_seef_aldr_folder(tmp_path, monkeypatch):
    """A folder without checkpoints, or whose best checkpoint lacks the
    speaker head, is refused with the reason."""
    monkeypatch.syspath_prepend(str(YAML.parents[1]))
    recipe = importlib.import_module("train_speaker_kd")
    teacher = torch.nn.Linear(2, 2)
    hparams = {
        "teacher_folder": str(tmp_path),
        "teacher": teacher,
        "teacher_classifier": torch.nn.Linear(2, 3),
    }
    with pytest.raises(CheckpointError, match="no checkpoint folder"):
        recipe.load_teacher(hparams, ["a", "b", "c"])
    saver = Checkpointer(tmp_path / "save", {"model": teacher})
    saver.save_checkpoint(meta={"dev_speaker_eer": 0.1})
    with pytest.raises(CheckpointError, match="no speaker_classifier"):
        recipe.load_teacher(hparams, ["a", "b", "c"])
