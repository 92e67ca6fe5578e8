"""Tests for the parameter and MAC counts of the ResNetSE presets.

Authors
 * speechbrain-asd developers
"""

import json

import pytest
import torch

from speechbrain_asd.lobes.complexity import (
    PAPER,
    count_macs,
    count_parameters,
    format_model_card,
    model_card,
)


@pytest.fixture(scope="module")
def card():
    """The model card at 4 s (400 frames), measured once.

    Returns
    -------
    dict
        As returned by ``model_card``.
    """
    return model_card(seconds=4.0)


def test_four_seconds_are_400_frames(card):
    """A 10 ms hop gives 400 frames for 4 s."""
    assert card["frames"] == 400


def test_student_matches_the_paper(card):
    """L-ResNetSE: params within 2 %, MACs within 5 % of the paper."""
    student = card["student"]
    assert abs(student["params"] / PAPER["student"]["params"] - 1) < 0.02
    assert abs(student["macs"] / PAPER["student"]["macs"] - 1) < 0.05


def test_teacher_matches_the_paper(card):
    """G-ResNetSE: MACs within 5 %, params within 1 % of the paper."""
    teacher = card["teacher"]
    assert abs(teacher["macs"] / PAPER["teacher"]["macs"] - 1) < 0.05
    assert abs(teacher["params"] / PAPER["teacher"]["params"] - 1) < 0.01


def test_ratios_are_student_over_teacher(card):
    """The ratios are computed from the measured counts."""
    for key in ("params", "macs"):
        expected = card["student"][key] / card["teacher"][key]
        assert card["ratios"][key] == pytest.approx(expected)
    assert card["ratios"]["params"] == pytest.approx(0.225, abs=0.005)


def test_card_is_json_and_prints_a_table(card):
    """The card serialises to JSON and formats with both models."""
    assert json.loads(json.dumps(card))["teacher"] == card["teacher"]
    table = format_model_card(card)
    assert "G-ResNetSE" in table and "L-ResNetSE" in table
    assert "22.5%" in table


def test_macs_of_a_convolution_follow_the_formula():
    """A conv's MACs = C_out * C_in * k_h * k_w * H_out * W_out (no bias)."""

    class ConvOnFeatures(torch.nn.Module):
        """A 3x3 convolution over [batch, frames, bands] features."""

        def __init__(self):
            """Builds the 1 -> 4 channel convolution."""
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3, padding=1, bias=False)

        def forward(self, feats):
            """Applies the convolution.

            Arguments
            ---------
            feats : torch.Tensor
                Features, shape [batch, frames, bands].

            Returns
            -------
            torch.Tensor
                Output maps, shape [batch, 4, frames, bands].
            """
            return self.conv(feats.unsqueeze(1))

    assert count_macs(ConvOnFeatures(), frames=50, n_mels=40) == (
        4 * 1 * 3 * 3 * 50 * 40
    )


def test_counting_keeps_the_training_mode():
    """count_macs runs in eval mode and restores the previous mode."""
    model = torch.nn.Sequential(torch.nn.Linear(40, 8)).train()
    count_macs(model, frames=5)
    assert model.training
    assert count_parameters(model) == 40 * 8 + 8


def test_bad_arguments_raise():
    """Non-positive durations and frame counts are refused."""
    with pytest.raises(ValueError, match="seconds must be positive"):
        model_card(seconds=0)
    with pytest.raises(ValueError, match="frames must be at least 1"):
        count_macs(torch.nn.Linear(40, 8), frames=0)
