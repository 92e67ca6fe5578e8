"""Tests for the normalised log-Mel features.

Authors
 * speechbrain-asd developers
"""

import pytest
import torch
from speechbrain.lobes.features import Fbank

from speechbrain_asd.features import ConvolutionalFbank, LogMelFeatures


@pytest.fixture(scope="module")
def features():
    """The default 16 kHz, 40-band feature extractor.

    Returns
    -------
    LogMelFeatures
        The module under test.
    """
    return LogMelFeatures()


@pytest.mark.parametrize("samples", [1, 159, 160, 1000, 16000])
def test_shape_follows_the_number_of_samples(features, samples):
    """One frame per 10 ms hop, plus one; 40 bands."""
    feats = features(torch.randn(2, samples))
    assert feats.shape == (2, 1 + samples // 160, 40)
    assert torch.isfinite(feats).all()


def test_matches_fbank_then_instance_norm(features):
    """Each band of each utterance is Fbank's, standardised over time."""
    wavs = torch.randn(2, 4000, generator=torch.Generator().manual_seed(0))
    fbank = Fbank(n_mels=40, n_fft=512, win_length=25, hop_length=10)(wavs)
    mean = fbank.mean(dim=1, keepdim=True)
    std = torch.sqrt(fbank.var(dim=1, unbiased=False, keepdim=True) + 1e-5)
    torch.testing.assert_close(
        features(wavs), (fbank - mean) / std, atol=1e-4, rtol=1e-4
    )


@pytest.mark.parametrize("samples", [100, 8000, 12345])
def test_padding_does_not_change_the_valid_frames(features, samples):
    """A padded batch gives the unpadded features on the valid frames."""
    generator = torch.Generator().manual_seed(samples)
    wav = torch.randn(1, samples, generator=generator)
    alone = features(wav)
    total = 16000
    junk = torch.randn(1, total - samples, generator=generator)
    batch = torch.cat(
        [
            torch.cat([wav, junk], dim=1),
            torch.randn(1, total, generator=generator),
        ]
    )
    padded = features(batch, torch.tensor([samples / total, 1.0]))
    frames = alone.shape[1]
    torch.testing.assert_close(padded[:1, :frames], alone, atol=1e-4, rtol=1e-4)
    assert padded[0, frames:].abs().max() == 0


def test_gradient_reaches_the_waveform(features):
    """The features are differentiable with respect to the waveform."""
    wavs = torch.randn(2, 3200, generator=torch.Generator().manual_seed(1))
    wavs.requires_grad_(True)
    feats = features(wavs, torch.tensor([1.0, 0.6]))
    (feats * torch.linspace(-1, 1, 40)).sum().backward()
    assert torch.isfinite(wavs.grad).all()
    assert wavs.grad[0].abs().sum() > 0
    assert wavs.grad[1].abs().sum() > 0
    assert wavs.grad[1, 1920:].abs().max() == 0


def test_gradient_is_finite_where_a_band_is_constant(features):
    """A one-frame utterance has zero variance: the gradient stays finite."""
    wav = torch.randn(1, 100, requires_grad=True)
    (features(wav) ** 2).sum().backward()
    assert torch.isfinite(wav.grad).all()


def test_bad_inputs_raise(features):
    """Wrong shapes and lengths are refused with a clear message."""
    with pytest.raises(ValueError, match=r"\[batch, samples\]"):
        features(torch.randn(2, 1, 100))
    with pytest.raises(ValueError, match="lengths must have shape"):
        features(torch.randn(2, 100), torch.ones(3))
    with pytest.raises(ValueError, match=r"lengths must lie in \(0, 1\]"):
        features(torch.randn(2, 100), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="epsilon must be positive"):
        LogMelFeatures(epsilon=0.0)


def test_frame_lengths_match_the_valid_frames_the_model_counts():
    """Relative frame lengths give the model exactly the valid frames."""
    features = LogMelFeatures()
    samples = 16000
    lengths = torch.tensor([1.0, 0.37, 0.5123, 0.01])
    feats = features(torch.randn(4, samples), lengths)
    frames = feats.shape[1]
    relative = features.frame_lengths(lengths, samples)
    counted = torch.round(relative * frames).long()
    nonzero = (feats.abs().sum(dim=-1) > 0).sum(dim=1)
    assert torch.equal(counted, nonzero)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_mels": 40, "n_fft": 512, "win_length": 25, "hop_length": 10},
        {"n_mels": 80, "n_fft": 400, "win_length": 25, "hop_length": 10},
        {
            "n_mels": 24,
            "n_fft": 256,
            "win_length": 10,
            "hop_length": 5,
            "sample_rate": 8000,
        },
    ],
)
@pytest.mark.parametrize("samples", [1, 100, 511, 4001])
def test_convolutional_fbank_equals_fbank(kwargs, samples):
    """The DFT-by-convolution gives Fbank's frames and values, also on a
    loud tone over quiet noise (80 dB of dynamic range) and on silence."""
    generator = torch.Generator().manual_seed(samples)
    time = torch.arange(samples) / kwargs.get("sample_rate", 16000)
    wavs = torch.stack(
        [
            torch.randn(samples, generator=generator),
            torch.sin(2 * torch.pi * 440 * time)
            + 1e-4 * torch.randn(samples, generator=generator),
            torch.zeros(samples),
        ]
    )
    fbank = Fbank(**kwargs)
    expected = fbank(wavs)
    got = ConvolutionalFbank(fbank)(wavs)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-3, rtol=0)


@pytest.mark.parametrize(
    "module, option, value, named",
    [
        ("fbank", "deltas", True, "deltas"),
        ("fbank", "context", True, "context"),
        ("stft", "center", False, "center=False"),
        ("stft", "onesided", False, "onesided=False"),
        ("stft", "normalized_stft", True, "normalized_stft"),
        ("stft", "pad_mode", "reflect", "pad_mode='reflect'"),
    ],
)
def test_convolutional_fbank_refuses_what_it_cannot_reproduce(
    module, option, value, named
):
    """Fbank options outside the DFT convolution are named in the error."""
    fbank = Fbank()
    setattr(fbank if module == "fbank" else fbank.compute_STFT, option, value)
    with pytest.raises(ValueError, match=named):
        ConvolutionalFbank(fbank)
