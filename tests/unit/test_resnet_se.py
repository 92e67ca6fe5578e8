"""Tests for the ResNetSE lobe: shapes, length masking, exits, learning.

Authors
 * speechbrain-asd developers
"""

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_asd.features import LogMelFeatures
from speechbrain_asd.lobes.resnet_se import (
    ResNetSE,
    SEBasicBlock,
    SelfAttentivePooling,
    conv_lengths,
    g_resnet_se,
    l_resnet_se,
)

TINY = dict(channels=(4, 4, 8, 8), blocks=(1, 1, 1, 1), emb_dim=16)


def _with_random_statistics(model, seed):
    """Gives every BatchNorm random running statistics and affine terms,
    so that padded frames would show if they leaked into valid outputs.

    Arguments
    ---------
    model : ResNetSE
        The model to alter in place.
    seed : int
        Seed of the random values.

    Returns
    -------
    model : ResNetSE
        The same model, in eval mode.
    """
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=generator))
            module.running_var.copy_(
                torch.rand(size, generator=generator) + 0.5
            )
            module.bias.data.copy_(torch.randn(size, generator=generator))
    return model.eval()


def _count(module):
    """Number of parameters of a module.

    Arguments
    ---------
    module : torch.nn.Module
        The module.

    Returns
    -------
    int
        Total number of parameter elements.
    """
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def presets():
    """The full-size student and teacher, built once, in eval mode.

    Returns
    -------
    dict
        ``{"student": ResNetSE, "teacher": ResNetSE, "student_conv":
        ResNetSE}``, the last downsampling by strided convolutions.
    """
    torch.manual_seed(0)
    return {
        "student": _with_random_statistics(l_resnet_se(), 1),
        "teacher": _with_random_statistics(g_resnet_se(), 2),
        "student_conv": _with_random_statistics(
            l_resnet_se(downsample="conv"), 3
        ),
    }


@pytest.mark.parametrize("name", ["student", "teacher"])
@pytest.mark.parametrize("frames", [1, 7, 64, 201])
def test_output_shapes(presets, name, frames):
    """Logits and embeddings for inputs of several lengths."""
    model = presets[name]
    feats = torch.randn(2, frames, 40)
    lengths = torch.tensor([1.0, 0.5])
    with torch.no_grad():
        assert model(feats, lengths).shape == (2, 8)
        assert model.embed(feats, lengths).shape == (2, 512)


@pytest.mark.parametrize("name", ["student", "teacher", "student_conv"])
def test_padding_does_not_change_the_embedding(presets, name):
    """In eval mode, padded frames change neither embedding nor logits."""
    model = presets[name]
    generator = torch.Generator().manual_seed(3)
    short = torch.randn(1, 37, 40, generator=generator)
    long = torch.randn(1, 90, 40, generator=generator)
    junk = 5 * torch.randn(1, 53, 40, generator=generator)
    batch = torch.cat([torch.cat([short, junk], dim=1), long])
    lengths = torch.tensor([37 / 90, 1.0])
    with torch.no_grad():
        together = model.embed(batch, lengths)
        alone = model.embed(short)
        ignored = model.embed(batch[:1])
        logits = model(batch, lengths)
    torch.testing.assert_close(together[:1], alone, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(
        together[1:], model.embed(long), atol=1e-4, rtol=1e-4
    )
    torch.testing.assert_close(logits[:1], model(short), atol=1e-4, rtol=1e-4)
    assert (ignored - alone).abs().max() > 1e-2


def test_downsampling_modes_share_sizes_and_parameters(presets):
    """Max pooling and strided convolutions: same shapes and parameters,
    different computations; the pooled block is max pooling then the
    unstrided block."""
    pooled, strided = presets["student"], presets["student_conv"]
    assert _count(pooled) == _count(strided)
    assert strided.stages[1][0].conv1.stride == (2, 2)
    assert pooled.stages[1][0].conv1.stride == (1, 1)
    feats = torch.randn(2, 50, 40)
    with torch.no_grad():
        assert pooled(feats).shape == strided(feats).shape
    block = SEBasicBlock(4, 8, stride=2).eval()
    plain = SEBasicBlock(4, 8, stride=1).eval()
    plain.load_state_dict(block.state_dict())
    x = torch.rand(1, 4, 9, 6)
    pooled_x = torch.nn.functional.max_pool2d(x, 2, ceil_mode=True)
    with torch.no_grad():
        y, valid = block(x, torch.tensor([9]))
        expected, _ = plain(pooled_x, torch.tensor([5]))
    assert valid.tolist() == [5] and y.shape == (1, 8, 5, 3)
    torch.testing.assert_close(y, expected)
    with pytest.raises(ValueError, match="downsample"):
        SEBasicBlock(4, 8, downsample="avg")


def test_attentive_pooling_formula():
    """SAP equals a softmax-weighted sum over the valid frames only."""
    torch.manual_seed(4)
    pool = SelfAttentivePooling(6, hidden_size=5)
    x = torch.randn(2, 6, 9)
    valid = torch.tensor([9, 4])
    pooled = pool(x, valid)
    for b in range(2):
        frames = x[b, :, : valid[b]].T
        scores = torch.tanh(pool.hidden(frames)) @ pool.score.weight.T
        weights = torch.softmax(scores, dim=0)
        torch.testing.assert_close(pooled[b], (weights * frames).sum(0))


def test_channelwise_pooling_has_weights_per_dimension():
    """With channelwise=True, each dimension gets its own softmax."""
    torch.manual_seed(5)
    pool = SelfAttentivePooling(3, hidden_size=4, channelwise=True)
    x = torch.randn(1, 3, 6)
    frames = x[0].T
    weights = torch.softmax(
        torch.tanh(pool.hidden(frames)) @ pool.score.weight.T, dim=0
    )
    pooled = pool(x, torch.tensor([6]))
    torch.testing.assert_close(pooled[0], (weights * frames).sum(0))


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("kernel", [1, 3, 7])
def test_conv_lengths_match_torch(stride, kernel):
    """The valid-length rule gives the output size of a real convolution."""
    conv = torch.nn.Conv1d(1, 1, kernel, stride, padding=kernel // 2)
    sizes = torch.arange(1, 30)
    expected = [conv(torch.zeros(1, 1, int(n))).shape[-1] for n in sizes]
    got = conv_lengths(sizes, kernel, stride, kernel // 2)
    assert got.tolist() == expected


def test_exits_are_separate_and_removable():
    """Exits add parameters only under ``exits``; dropping them leaves the
    plain model, whose state dict they load into strictly."""
    plain = ResNetSE(**TINY)
    with_exits = ResNetSE(**TINY, aux_exits=True)
    exit_params = _count(with_exits.exits)
    assert exit_params > 0
    assert _count(with_exits) == _count(plain) + exit_params
    state = with_exits.deployable_state_dict()
    assert not any(name.startswith("exits.") for name in state)
    plain.load_state_dict(state, strict=True)
    plain.eval(), with_exits.eval()
    feats = torch.randn(2, 30, 40)
    with torch.no_grad():
        torch.testing.assert_close(plain(feats), with_exits(feats))
    with pytest.raises(RuntimeError, match="no auxiliary exits"):
        plain.forward_exits(feats)


def test_forward_exits_shallow_to_deep():
    """One (logits, feature) pair per exit; the last is the main head."""
    model = ResNetSE(**TINY, aux_exits=True).eval()
    feats = torch.randn(3, 25, 40)
    lengths = torch.tensor([1.0, 0.6, 0.3])
    with torch.no_grad():
        exits = model.forward_exits(feats, lengths)
        logits = model(feats, lengths)
        embedding = model.embed(feats, lengths)
    assert [tuple(f.shape) for _, f in exits] == [(3, 4), (3, 4), (3, 8)] + [
        (3, 16)
    ]
    assert all(tuple(lg.shape) == (3, 8) for lg, _ in exits)
    torch.testing.assert_close(exits[-1][0], logits)
    torch.testing.assert_close(exits[-1][1], embedding)


def test_gradient_reaches_the_waveform_through_the_model():
    """Features and model are differentiable back to the waveform."""
    torch.manual_seed(6)
    features = LogMelFeatures()
    model = ResNetSE(**TINY).eval()
    wavs = torch.randn(2, 4000, requires_grad=True)
    lengths = torch.tensor([1.0, 0.7])
    model(features(wavs, lengths), lengths)[:, 0].sum().backward()
    assert torch.isfinite(wavs.grad).all()
    assert wavs.grad[0].abs().sum() > 0 and wavs.grad[1].abs().sum() > 0


def test_tiny_model_learns_a_toy_task():
    """Two classes told apart by which half of the bands carries energy."""
    torch.manual_seed(7)
    labels = torch.arange(16) % 2
    feats = torch.randn(16, 20, 40)
    feats[labels == 0, :, :20] += 1.0
    feats[labels == 1, :, 20:] += 1.0
    model = ResNetSE(**TINY, n_classes=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = torch.nn.functional.cross_entropy(model(feats), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


def test_constructible_from_hyperpyyaml():
    """Plain keyword arguments under !new:, presets under !apply:."""
    hparams = load_hyperpyyaml(
        """
        plain: !new:speechbrain_asd.lobes.resnet_se.ResNetSE
            channels: [4, 4, 8, 8]
            blocks: [1, 1, 1, 1]
            stem_stride: [1, 2]
            n_classes: 3
        student: !apply:speechbrain_asd.lobes.resnet_se.l_resnet_se
            aux_exits: True
        """
    )
    assert hparams["plain"].classifier.out_features == 3
    assert len(hparams["student"].exits) == 3


def test_bad_configuration_and_inputs_raise():
    """Inconsistent settings and wrong shapes are refused early."""
    with pytest.raises(ValueError, match="same length"):
        ResNetSE(channels=(4, 8), blocks=(1, 1, 1))
    with pytest.raises(ValueError, match="freq_pooling must be one of"):
        ResNetSE(**TINY, freq_pooling="max")
    with pytest.raises(ValueError, match="stem_kernel must be"):
        ResNetSE(**TINY, stem_kernel=4)
    with pytest.raises(ValueError, match="stage_strides must hold"):
        ResNetSE(**dict(TINY, stage_strides=(1, 0, 2, 1)))
    model = ResNetSE(**TINY)
    with pytest.raises(ValueError, match=r"\[batch, time, 40\]"):
        model(torch.randn(2, 30, 80))
    with pytest.raises(ValueError, match="lengths must have shape"):
        model(torch.randn(2, 30, 40), torch.ones(2, 1))
