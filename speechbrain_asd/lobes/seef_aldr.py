"""SEEF-ALDR's modules beside the purifying encoder: the eliminating encoder,
the reconstruction decoder, speaker classifiers and gradient reversal.

From "SEEF-ALDR: A Speaker Embedding Enhancement Framework via Adversarial
Learning based Disentangled Representation" (ACSAC 2020). The purifying
encoder E_p is a ``ResNetSE``; the eliminating encoder E_e maps the same
log-Mel features to a vector meant to carry no speaker identity, and the
decoder D_r rebuilds the log-Mel frames from both vectors. The paper's
layer sizes are not available to us: these architectures are ours.

Authors
 * speechbrain-asd developers
"""

import math

import torch
from speechbrain.utils.logger import get_logger

from speechbrain_asd.checks import check_int, check_number
from speechbrain_asd.lobes.resnet_se import time_mask

logger = get_logger(__name__)


class GradientReversalFunction(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``-scale``.

    Example
    -------
    >>> x = torch.ones(2, requires_grad=True)
    >>> GradientReversalFunction.apply(x, 0.5).sum().backward()
    >>> x.grad
    tensor([-0.5000, -0.5000])
    """

    @staticmethod
    def forward(ctx, x, scale):
        """Returns ``x`` unchanged and stores the scale.

        Arguments
        ---------
        ctx : torch.autograd.function.FunctionCtx
            The autograd context.
        x : torch.Tensor
            Any tensor.
        scale : float
            Factor of the reversed gradient.

        Returns
        -------
        torch.Tensor
            A view of ``x``.
        """
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        """Reverses and scales the incoming gradient.

        Arguments
        ---------
        ctx : torch.autograd.function.FunctionCtx
            The autograd context.
        grad : torch.Tensor
            Gradient of the output.

        Returns
        -------
        grad_x : torch.Tensor
            ``-scale * grad``.
        grad_scale : None
            The scale gets no gradient.
        """
        return -ctx.scale * grad, None


class GradientReversal(torch.nn.Module):
    """Gradient reversal layer: identity forward, ``-scale`` times backward.

    Arguments
    ---------
    scale : float
        Factor of the reversed gradient, >= 0.

    Example
    -------
    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> (GradientReversal(2.0)(x) * 3).sum().backward()
    >>> x.grad
    tensor([-6., -6.])
    """

    def __init__(self, scale=1.0):
        """Stores the scale."""
        super().__init__()
        self.scale = check_number("scale", scale, 0)

    def forward(self, x):
        """Passes ``x`` through.

        Arguments
        ---------
        x : torch.Tensor
            Any tensor.

        Returns
        -------
        torch.Tensor
            ``x``, whose gradient comes back reversed.
        """
        return GradientReversalFunction.apply(x, self.scale)


class EliminatingEncoder(torch.nn.Module):
    """Eliminating encoder E_e: log-Mel frames to one feature vector.

    A stack of 1-D convolutions over time (BatchNorm, ReLU, padded frames
    kept at zero), then the mean of each of ``segments`` equal spans of the
    valid frames, flattened and projected to ``feature_dim``. The spans keep
    the coarse time course (what is said, when) that the decoder needs and
    that the purifying encoder's pooled embedding does not hold. In eval
    mode a padded utterance gives the vector it gives alone.

    Arguments
    ---------
    n_mels : int
        Number of Mel bands of the input.
    channels : int
        Channels of every convolution.
    n_layers : int
        Number of convolutions.
    kernel_size : int
        Kernel size over time (odd).
    segments : int
        Number of spans pooled over time.
    feature_dim : int
        Size of the output vector.

    Example
    -------
    >>> encoder = EliminatingEncoder(n_mels=40, channels=8, feature_dim=16)
    >>> encoder(torch.randn(3, 50, 40), torch.tensor([1.0, 0.6, 0.3])).shape
    torch.Size([3, 16])
    """

    def __init__(
        self,
        n_mels=40,
        channels=128,
        n_layers=3,
        kernel_size=5,
        segments=4,
        feature_dim=128,
    ):
        """Builds the convolutions and the projection."""
        super().__init__()
        check_int("n_layers", n_layers, minimum=1)
        if check_int("kernel_size", kernel_size, minimum=1) % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.segments = check_int("segments", segments, minimum=1)
        layers = []
        for index in range(n_layers):
            layers.append(
                torch.nn.Sequential(
                    torch.nn.Conv1d(
                        n_mels if index == 0 else channels,
                        channels,
                        kernel_size,
                        padding=kernel_size // 2,
                        bias=False,
                    ),
                    torch.nn.BatchNorm1d(channels),
                    torch.nn.ReLU(),
                )
            )
        self.layers = torch.nn.ModuleList(layers)
        self.projection = torch.nn.Linear(channels * segments, feature_dim)

    def forward(self, feats, lengths=None):
        """Encodes a batch of utterances.

        Arguments
        ---------
        feats : torch.Tensor
            Log-Mel features, shape [batch, time, n_mels].
        lengths : torch.Tensor, optional
            Relative lengths in (0, 1], shape [batch]; None means all full.

        Returns
        -------
        features : torch.Tensor
            Shape [batch, feature_dim].
        """
        valid = valid_frames(lengths, feats)
        mask = time_mask(valid, feats.shape[1]).unsqueeze(1).to(feats.dtype)
        x = feats.transpose(1, 2) * mask
        for layer in self.layers:
            x = layer(x) * mask
        return self.projection(segment_means(x, valid, self.segments))


class ReconstructionDecoder(torch.nn.Module):
    """Reconstruction decoder D_r: utterance vectors to log-Mel frames.

    Every frame receives the vector (``[E_p embedding ; E_e feature]``)
    and a code of its relative position in the utterance (sines and
    cosines of ``pi * k * t / (valid - 1)``, k = 1..``n_frequencies``);
    convolutions over time then give the frames. From utterance-level
    vectors it can rebuild a time-smoothed version of the input only.
    Padded frames of the output are zero.

    Arguments
    ---------
    input_dim : int
        Size of the input vector.
    n_mels : int
        Number of Mel bands of the output.
    channels : int
        Channels of the hidden convolutions.
    n_layers : int
        Number of hidden convolutions.
    kernel_size : int
        Kernel size over time (odd).
    n_frequencies : int
        Frequencies of the position code.

    Example
    -------
    >>> decoder = ReconstructionDecoder(24, n_mels=40, channels=8)
    >>> decoder(torch.randn(2, 24), 30, torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 30, 40])
    """

    def __init__(
        self,
        input_dim,
        n_mels=40,
        channels=128,
        n_layers=2,
        kernel_size=5,
        n_frequencies=8,
    ):
        """Builds the input projections and the convolutions."""
        super().__init__()
        check_int("n_layers", n_layers, minimum=1)
        if check_int("kernel_size", kernel_size, minimum=1) % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.n_frequencies = check_int("n_frequencies", n_frequencies, 1)
        self.vector_in = torch.nn.Linear(input_dim, channels)
        self.position_in = torch.nn.Linear(2 * n_frequencies, channels)
        self.layers = torch.nn.ModuleList(
            torch.nn.Conv1d(
                channels, channels, kernel_size, padding=kernel_size // 2
            )
            for _ in range(n_layers)
        )
        self.output = torch.nn.Conv1d(channels, n_mels, 1)

    def forward(self, vectors, n_frames, lengths=None):
        """Rebuilds the frames of a batch.

        Arguments
        ---------
        vectors : torch.Tensor
            Shape [batch, input_dim].
        n_frames : int
            Number of frames of the (padded) output.
        lengths : torch.Tensor, optional
            Relative lengths in (0, 1], shape [batch]; None means all full.

        Returns
        -------
        frames : torch.Tensor
            Shape [batch, n_frames, n_mels]; zero on padded frames.
        """
        valid = valid_frames(lengths, vectors.new_empty(len(vectors), n_frames))
        mask = time_mask(valid, n_frames).unsqueeze(1).to(vectors.dtype)
        position = torch.arange(n_frames, device=vectors.device)
        span = (valid - 1).clamp(min=1).unsqueeze(1).to(vectors.dtype)
        relative = (position.unsqueeze(0) / span).clamp(max=1.0)
        k = torch.arange(1, self.n_frequencies + 1, device=vectors.device)
        angle = math.pi * relative.unsqueeze(-1) * k
        code = torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)
        x = self.position_in(code) + self.vector_in(vectors).unsqueeze(1)
        x = torch.relu(x).transpose(1, 2) * mask
        for layer in self.layers:
            x = torch.relu(layer(x)) * mask
        return (self.output(x) * mask).transpose(1, 2)


class SpeakerClassifier(torch.nn.Module):
    """Speaker classifier over a vector: linear or scaled-cosine logits.

    Serves as the speaker head of the purifying encoder and as the
    adversarial classifier C_adv on the eliminating encoder's features
    (there with a hidden layer, so that it can find identity a linear
    probe would miss).

    Arguments
    ---------
    input_dim : int
        Size of the input vector.
    n_speakers : int
        Number of classes.
    hidden_dim : int, optional
        Size of a hidden ReLU layer; None for none.
    cosine_scale : float, optional
        When set, logits are this times the cosine between the (hidden)
        vector and each class weight; else a linear layer with bias.

    Example
    -------
    >>> head = SpeakerClassifier(16, 5, hidden_dim=8, cosine_scale=10.0)
    >>> logits = head(torch.randn(3, 16))
    >>> logits.shape, bool(logits.abs().max() <= 10.0)
    (torch.Size([3, 5]), True)
    """

    def __init__(
        self, input_dim, n_speakers, hidden_dim=None, cosine_scale=None
    ):
        """Builds the layers."""
        super().__init__()
        check_int("n_speakers", n_speakers, minimum=2)
        self.hidden = torch.nn.Identity()
        if hidden_dim is not None:
            self.hidden = torch.nn.Sequential(
                torch.nn.Linear(input_dim, hidden_dim), torch.nn.ReLU()
            )
            input_dim = hidden_dim
        self.cosine_scale = None
        if cosine_scale is not None:
            self.cosine_scale = check_number(
                "cosine_scale", cosine_scale, 0, strict=True
            )
        self.output = torch.nn.Linear(
            input_dim, n_speakers, bias=cosine_scale is None
        )

    def forward(self, x):
        """Computes the speaker logits.

        Arguments
        ---------
        x : torch.Tensor
            Shape [batch, input_dim].

        Returns
        -------
        logits : torch.Tensor
            Shape [batch, n_speakers].
        """
        x = self.hidden(x)
        if self.cosine_scale is None:
            return self.output(x)
        weight = torch.nn.functional.normalize(self.output.weight, dim=1)
        unit = torch.nn.functional.normalize(x, dim=1)
        return self.cosine_scale * unit @ weight.t()


def valid_frames(lengths, frames):
    """Numbers of valid frames from relative lengths, as ``ResNetSE`` counts.

    Arguments
    ---------
    lengths : torch.Tensor or None
        Relative lengths in (0, 1], shape [batch]; None means all full.
    frames : torch.Tensor
        A tensor of shape [batch, time, ...] (its first two sizes are used).

    Returns
    -------
    valid : torch.Tensor
        ``round(lengths * time)`` in [1, time], int64, shape [batch].

    Example
    -------
    >>> valid_frames(torch.tensor([1.0, 0.5, 0.01]), torch.zeros(3, 10))
    tensor([10,  5,  1])
    """
    batch, size = frames.shape[:2]
    if lengths is None:
        return torch.full((batch,), size, device=frames.device)
    if lengths.shape != (batch,):
        raise ValueError(
            f"lengths must have shape [{batch}], got {tuple(lengths.shape)}"
        )
    return torch.round(lengths * size).long().clamp(1, size)


def segment_means(x, valid, segments):
    """Means of feature maps over equal spans of their valid frames.

    Frame ``t < valid`` belongs to span ``floor(t * segments / valid)``; a
    span without frames (``valid < segments``) gives zeros.

    Arguments
    ---------
    x : torch.Tensor
        Shape [batch, channels, time].
    valid : torch.Tensor
        Numbers of valid frames, shape [batch].
    segments : int
        Number of spans.

    Returns
    -------
    means : torch.Tensor
        The span means, channel-major, shape [batch, channels * segments].

    Example
    -------
    >>> x = torch.arange(6.0).view(1, 1, 6)
    >>> segment_means(x, torch.tensor([4]), 2)
    tensor([[0.5000, 2.5000]])
    """
    size = x.shape[2]
    position = torch.arange(size, device=x.device).unsqueeze(0)
    span = torch.div(
        position * segments, valid.unsqueeze(1), rounding_mode="floor"
    )
    inside = time_mask(valid, size)
    weights = torch.nn.functional.one_hot(
        span.clamp(max=segments - 1), segments
    ).to(x.dtype) * inside.unsqueeze(-1).to(x.dtype)
    weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1)
    return torch.einsum("bct,bts->bcs", x, weights).flatten(1)
