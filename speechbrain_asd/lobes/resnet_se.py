"""ResNetSE: the countermeasure model of adversarial speaker distillation.

Authors
 * speechbrain-asd developers
"""

import torch
from speechbrain.utils.logger import get_logger

from speechbrain_asd.checks import check_choice

logger = get_logger(__name__)

FREQ_POOLINGS = ("mean", "flatten")
DOWNSAMPLINGS = ("maxpool", "conv")
EXITS_PREFIX = "exits."


class SqueezeExcitation(torch.nn.Module):
    """Squeeze-and-excitation over the valid time-frequency bins.

    Rescales each channel by a gate computed from its mean over the valid
    frames.

    Arguments
    ---------
    channels : int
        Number of channels.
    reduction : int
        Bottleneck factor of the gate (``channels // reduction`` hidden units,
        at least 1).

    Example
    -------
    >>> se = SqueezeExcitation(16, reduction=8)
    >>> x = torch.randn(2, 16, 10, 5)
    >>> se(x, torch.tensor([10, 6])).shape
    torch.Size([2, 16, 10, 5])
    """

    def __init__(self, channels, reduction=8):
        """Builds the gate."""
        super().__init__()
        hidden = max(1, channels // reduction)
        self.gate = torch.nn.Sequential(
            torch.nn.Linear(channels, hidden),
            torch.nn.ReLU(inplace=True),
            torch.nn.Linear(hidden, channels),
            torch.nn.Sigmoid(),
        )

    def forward(self, x, valid):
        """Rescales the channels of ``x``.

        Arguments
        ---------
        x : torch.Tensor
            Feature maps, shape [batch, channels, time, freq].
        valid : torch.Tensor
            Number of valid frames of each map, shape [batch].

        Returns
        -------
        y : torch.Tensor
            ``x`` times the channel gate, same shape.
        """
        weights = self.gate(masked_mean(x, valid))
        return x * weights[:, :, None, None]


class SEBasicBlock(torch.nn.Module):
    """Residual basic block (two 3x3 convolutions) with squeeze-excitation.

    The stride applies to time and frequency alike, either by max pooling the
    input (``downsample="maxpool"``) or as the stride of the first convolution
    and the shortcut (``"conv"``). Padded frames stay zero, so the valid
    frames come out as for the unpadded input.

    Arguments
    ---------
    in_channels : int
        Channels of the input.
    out_channels : int
        Channels of the output.
    stride : int
        Stride of the block, on time and frequency.
    se_reduction : int
        Bottleneck factor of the squeeze-excitation gate.
    downsample : str
        ``"maxpool"`` or ``"conv"``: how the stride is applied.

    Example
    -------
    >>> block = SEBasicBlock(16, 32, stride=2)
    >>> x = torch.randn(2, 16, 10, 20).relu()
    >>> y, valid = block(x, torch.tensor([10, 7]))
    >>> y.shape, valid
    (torch.Size([2, 32, 5, 10]), tensor([5, 4]))
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        stride=1,
        se_reduction=8,
        downsample="maxpool",
    ):
        """Builds the convolutions, SE gate and shortcut."""
        super().__init__()
        check_choice("downsample", downsample, DOWNSAMPLINGS)
        self.stride = stride
        self.downsample = downsample
        conv_stride = stride if downsample == "conv" else 1
        self.conv1 = torch.nn.Conv2d(
            in_channels, out_channels, 3, conv_stride, padding=1, bias=False
        )
        self.bn1 = torch.nn.BatchNorm2d(out_channels)
        self.conv2 = torch.nn.Conv2d(
            out_channels, out_channels, 3, padding=1, bias=False
        )
        self.bn2 = torch.nn.BatchNorm2d(out_channels)
        self.se = SqueezeExcitation(out_channels, se_reduction)
        self.relu = torch.nn.ReLU(inplace=True)
        self.shortcut = torch.nn.Identity()
        if conv_stride != 1 or in_channels != out_channels:
            self.shortcut = torch.nn.Sequential(
                torch.nn.Conv2d(
                    in_channels, out_channels, 1, conv_stride, bias=False
                ),
                torch.nn.BatchNorm2d(out_channels),
            )

    def forward(self, x, valid):
        """Applies the block.

        Arguments
        ---------
        x : torch.Tensor
            Feature maps, shape [batch, in_channels, time, freq],
            non-negative, zero on padded frames.
        valid : torch.Tensor
            Number of valid frames of each map, shape [batch].

        Returns
        -------
        y : torch.Tensor
            Output maps, shape [batch, out_channels, time', freq'], zero on
            padded frames.
        valid : torch.Tensor
            Number of valid output frames, shape [batch].
        """
        if self.downsample == "maxpool" and self.stride > 1:
            x = torch.nn.functional.max_pool2d(x, self.stride, ceil_mode=True)
        # Both ways count ceil(valid / stride) output frames.
        valid = conv_lengths(valid, kernel=1, stride=self.stride, padding=0)
        out = mask_frames(self.relu(self.bn1(self.conv1(x))), valid)
        out = self.se(self.bn2(self.conv2(out)), valid)
        out = self.relu(out + self.shortcut(x))
        return mask_frames(out, valid), valid


class SelfAttentivePooling(torch.nn.Module):
    """Self-attentive pooling over time that gives padded frames zero weight.

    Frame ``t`` scores ``v' tanh(W h_t + b)``; a softmax over the valid frames
    gives the weights of the sum. With ``channelwise=True`` each dimension gets
    its own weights.

    Arguments
    ---------
    input_size : int
        Dimension of each frame.
    hidden_size : int, optional
        Size of the attention's hidden layer; None means ``input_size``.
    channelwise : bool
        One set of weights per dimension (True) or one for all (False).

    Example
    -------
    >>> pool = SelfAttentivePooling(8, hidden_size=4)
    >>> pool(torch.randn(2, 8, 30), torch.tensor([30, 12])).shape
    torch.Size([2, 8])
    """

    def __init__(self, input_size, hidden_size=None, channelwise=False):
        """Builds the attention layers."""
        super().__init__()
        hidden_size = hidden_size or input_size
        self.hidden = torch.nn.Linear(input_size, hidden_size)
        # A bias on the scores would be constant over time: softmax drops it.
        self.score = torch.nn.Linear(
            hidden_size, input_size if channelwise else 1, bias=False
        )

    def forward(self, x, valid):
        """Pools a sequence into one vector.

        Arguments
        ---------
        x : torch.Tensor
            Frames, shape [batch, input_size, time].
        valid : torch.Tensor
            Number of valid frames, shape [batch].

        Returns
        -------
        pooled : torch.Tensor
            Weighted sum of the valid frames, shape [batch, input_size].
        """
        frames = x.transpose(1, 2)
        scores = self.score(torch.tanh(self.hidden(frames)))
        padded = ~time_mask(valid, frames.shape[1]).unsqueeze(-1)
        weights = torch.softmax(scores.masked_fill(padded, -torch.inf), dim=1)
        return (frames * weights).sum(dim=1)


class ResNetSE(torch.nn.Module):
    """SE-ResNet countermeasure: attentive pooling, embedding and classifier.

    Log-Mel features [batch, time, n_mels] go through a convolution stem,
    stages of ``SEBasicBlock``, a reduction of the frequency axis, attentive
    pooling over time, an embedding layer and a classifier. In eval mode a
    padded batch gives the same outputs as its unpadded inputs. With
    ``aux_exits``, a linear exit after every stage but the last serves
    self-distillation (``forward_exits``); the presets are ``l_resnet_se``
    (student) and ``g_resnet_se`` (teacher).

    Arguments
    ---------
    n_mels : int
        Number of input frequency bands.
    channels : sequence of int
        Output channels of each stage.
    blocks : sequence of int
        Number of blocks of each stage.
    stage_strides : sequence of int
        Stride of the first block of each stage (time and frequency).
    stem_kernel : int
        Kernel size of the stem convolution (odd).
    stem_stride : sequence of int
        Stride of the stem convolution as (time, frequency).
    se_reduction : int
        Bottleneck factor of the squeeze-excitation gates.
    downsample : str
        ``"maxpool"`` or ``"conv"``; see ``SEBasicBlock``.
    freq_pooling : str
        ``"mean"`` (average over frequency) or ``"flatten"`` (channels x
        frequency bins) before attentive pooling.
    sap_hidden : int, optional
        Hidden size of the attentive pooling; None means its input size.
    sap_channelwise : bool
        Attention weights per dimension (True) or per frame (False).
    emb_dim : int
        Dimension of the embedding.
    n_classes : int
        Number of output classes.
    aux_exits : bool
        Add the auxiliary exits after stages 1 to n-1.

    Example
    -------
    >>> model = ResNetSE(channels=(4, 8, 8, 16), blocks=(1, 1, 1, 1))
    >>> feats = torch.randn(3, 120, 40)
    >>> lengths = torch.tensor([1.0, 0.8, 0.5])
    >>> model(feats, lengths).shape
    torch.Size([3, 8])
    >>> model.embed(feats, lengths).shape
    torch.Size([3, 512])
    """

    def __init__(
        self,
        n_mels=40,
        channels=(16, 32, 64, 128),
        blocks=(3, 4, 6, 3),
        stage_strides=(1, 2, 2, 1),
        stem_kernel=3,
        stem_stride=(1, 2),
        se_reduction=8,
        downsample="maxpool",
        freq_pooling="mean",
        sap_hidden=None,
        sap_channelwise=False,
        emb_dim=512,
        n_classes=8,
        aux_exits=False,
    ):
        """Builds the stem, stages, pooling, heads and optional exits."""
        super().__init__()
        channels, blocks = tuple(channels), tuple(blocks)
        stage_strides, stem_stride = tuple(stage_strides), tuple(stem_stride)
        _check_config(channels, blocks, stage_strides, stem_kernel, stem_stride)
        check_choice("freq_pooling", freq_pooling, FREQ_POOLINGS)
        self.config = dict(
            n_mels=n_mels,
            channels=list(channels),
            blocks=list(blocks),
            stage_strides=list(stage_strides),
            stem_kernel=stem_kernel,
            stem_stride=list(stem_stride),
            se_reduction=se_reduction,
            downsample=downsample,
            freq_pooling=freq_pooling,
            sap_hidden=sap_hidden,
            sap_channelwise=sap_channelwise,
            emb_dim=emb_dim,
            n_classes=n_classes,
            aux_exits=aux_exits,
        )
        self.n_mels = n_mels
        self.freq_pooling = freq_pooling
        self.stem_kernel = stem_kernel
        self.stem_stride = stem_stride
        self.downsample = downsample
        self.stem = torch.nn.Sequential(
            torch.nn.Conv2d(
                1,
                channels[0],
                stem_kernel,
                stem_stride,
                padding=stem_kernel // 2,
                bias=False,
            ),
            torch.nn.BatchNorm2d(channels[0]),
            torch.nn.ReLU(inplace=True),
        )
        self.stages = torch.nn.ModuleList()
        in_channels = channels[0]
        for out_channels, n_blocks, stride in zip(
            channels, blocks, stage_strides
        ):
            stage = torch.nn.ModuleList()
            for index in range(n_blocks):
                stage.append(
                    SEBasicBlock(
                        in_channels if index == 0 else out_channels,
                        out_channels,
                        stride if index == 0 else 1,
                        se_reduction,
                        downsample,
                    )
                )
            self.stages.append(stage)
            in_channels = out_channels
        pooled_dim = channels[-1]
        if freq_pooling == "flatten":
            pooled_dim *= _output_freq_bins(
                n_mels, stem_kernel, stem_stride[1], stage_strides
            )
        self.pooled_dim = pooled_dim
        self.pooling = SelfAttentivePooling(
            pooled_dim, sap_hidden, sap_channelwise
        )
        self.embedding = torch.nn.Linear(pooled_dim, emb_dim)
        self.classifier = torch.nn.Linear(emb_dim, n_classes)
        self.exits = None
        if aux_exits:
            self.exits = torch.nn.ModuleList(
                torch.nn.Linear(c, n_classes) for c in channels[:-1]
            )
        self._init_weights()

    def _init_weights(self):
        """Initialises convolutions (He, fan-out) and BatchNorms (1, 0)."""
        for module in self.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(
                    module.weight, mode="fan_out", nonlinearity="relu"
                )
            elif isinstance(module, torch.nn.BatchNorm2d):
                torch.nn.init.ones_(module.weight)
                torch.nn.init.zeros_(module.bias)

    def _stage_outputs(self, feats, lengths):
        """Runs the stem and the stages."""
        if feats.dim() != 3 or feats.shape[-1] != self.n_mels:
            raise ValueError(
                f"feats must have shape [batch, time, {self.n_mels}], got "
                f"{tuple(feats.shape)}"
            )
        batch, frames = feats.shape[:2]
        if lengths is None:
            lengths = torch.ones(batch, device=feats.device)
        if lengths.shape != (batch,):
            raise ValueError(
                f"lengths must have shape [{batch}], got {tuple(lengths.shape)}"
            )
        valid = torch.round(lengths * frames).long().clamp(1, frames)
        x = mask_frames(feats.unsqueeze(1), valid)
        valid = conv_lengths(
            valid,
            kernel=self.stem_kernel,
            stride=self.stem_stride[0],
            padding=self.stem_kernel // 2,
        )
        x = mask_frames(self.stem(x), valid)
        outputs = []
        for stage in self.stages:
            for block in stage:
                x, valid = block(x, valid)
            outputs.append((x, valid))
        return outputs

    def _embed_maps(self, x, valid):
        """Pools the last stage's maps into the embedding."""
        if self.freq_pooling == "mean":
            x = x.mean(dim=3)
        else:
            x = x.transpose(2, 3).flatten(1, 2)
        return self.embedding(self.pooling(x, valid))

    def embed(self, feats, lengths=None):
        """Computes the embedding (for GE2E, adversarial examples and ASV).

        Arguments
        ---------
        feats : torch.Tensor
            Features, shape [batch, time, n_mels].
        lengths : torch.Tensor, optional
            Relative lengths in (0, 1], shape [batch]; None means all full.

        Returns
        -------
        embedding : torch.Tensor
            Shape [batch, emb_dim].

        Example
        -------
        >>> model = ResNetSE(channels=(4, 4, 8, 8), blocks=(1, 1, 1, 1))
        >>> model.embed(torch.randn(2, 50, 40)).shape
        torch.Size([2, 512])
        """
        return self._embed_maps(*self._stage_outputs(feats, lengths)[-1])

    def forward(self, feats, lengths=None):
        """Computes the class logits (raw; apply log_softmax for NLL).

        Arguments
        ---------
        feats : torch.Tensor
            Features, shape [batch, time, n_mels].
        lengths : torch.Tensor, optional
            Relative lengths in (0, 1], shape [batch]; None means all full.

        Returns
        -------
        logits : torch.Tensor
            Shape [batch, n_classes].
        """
        return self.classifier(self.embed(feats, lengths))

    def forward_exits(self, feats, lengths=None):
        """Computes the logits and feature of every exit, shallow to deep.

        An auxiliary exit's feature is its stage's mean over frequency and valid
        frames; the last entry is the main head, whose feature is the embedding.

        Arguments
        ---------
        feats : torch.Tensor
            Features, shape [batch, time, n_mels].
        lengths : torch.Tensor, optional
            Relative lengths in (0, 1], shape [batch]; None means all full.

        Returns
        -------
        exits : list of (torch.Tensor, torch.Tensor)
            ``(logits [batch, n_classes], feature [batch, D_k])`` per exit.

        Example
        -------
        >>> model = ResNetSE(
        ...     channels=(4, 4, 8, 8), blocks=(1, 1, 1, 1), aux_exits=True
        ... )
        >>> exits = model.forward_exits(torch.randn(2, 50, 40))
        >>> [tuple(feature.shape) for _, feature in exits]
        [(2, 4), (2, 4), (2, 8), (2, 512)]
        """
        if self.exits is None:
            raise RuntimeError(
                "this ResNetSE has no auxiliary exits: build it with "
                "aux_exits=True"
            )
        outputs = self._stage_outputs(feats, lengths)
        exits = []
        for head, (x, valid) in zip(self.exits, outputs[:-1]):
            feature = masked_mean(x, valid)
            exits.append((head(feature), feature))
        embedding = self._embed_maps(*outputs[-1])
        exits.append((self.classifier(embedding), embedding))
        return exits

    def deployable_state_dict(self):
        """The state dict without the auxiliary exits.

        It loads strictly into the same model built with ``aux_exits=False``.

        Returns
        -------
        state : dict
            Parameter and buffer tensors, keyed by name.

        Example
        -------
        >>> model = ResNetSE(blocks=(1, 1, 1, 1), aux_exits=True)
        >>> plain = ResNetSE(blocks=(1, 1, 1, 1))
        >>> plain.load_state_dict(model.deployable_state_dict())
        <All keys matched successfully>
        """
        return without_exits(self.state_dict())


def exit_feature_dims(model):
    """Feature sizes of a ResNetSE's exits for self-distillation: the
    channels of every stage but the last, then the embedding size.

    Arguments
    ---------
    model : ResNetSE
        The model (its ``config``).

    Returns
    -------
    list of int
        One size per exit, the deepest (the embedding) last.

    Example
    -------
    >>> exit_feature_dims(g_resnet_se())
    [32, 64, 128, 512]
    """
    return [*model.config["channels"][:-1], model.config["emb_dim"]]


def without_exits(state):
    """Drops the auxiliary exits' entries (``exits.*``) from a state dict.

    Arguments
    ---------
    state : dict
        A ResNetSE state dict, with or without exits.

    Returns
    -------
    dict
        The entries of the deployable model.

    Example
    -------
    >>> sorted(without_exits({"exits.0.w": 1, "classifier.w": 2}))
    ['classifier.w']
    """
    return {k: v for k, v in state.items() if not k.startswith(EXITS_PREFIX)}


def l_resnet_se(**overrides):
    """Builds the student L-ResNetSE, channels (16, 32, 64, 128).

    3x3 stem with stride 2 on frequency, stage strides (1, 2, 2, 1), mean over
    frequency, SAP over time, embedding 512. Use it in HyperPyYAML with
    ``!apply:``.

    Arguments
    ---------
    **overrides : dict
        Keyword arguments of ``ResNetSE`` that replace the preset's.

    Returns
    -------
    model : ResNetSE
        The student model.

    Example
    -------
    >>> model = l_resnet_se(n_classes=2)
    >>> model.classifier.out_features
    2
    """
    config = dict(
        channels=(16, 32, 64, 128),
        blocks=(3, 4, 6, 3),
        stage_strides=(1, 2, 2, 1),
        stem_kernel=3,
        stem_stride=(1, 2),
        se_reduction=8,
        freq_pooling="mean",
        emb_dim=512,
    )
    config.update(overrides)
    return ResNetSE(**config)


def g_resnet_se(**overrides):
    """Builds the teacher G-ResNetSE, channels (32, 64, 128, 256).

    3x3 stem with stride 1, stage strides (1, 2, 2, 2), channels x frequency
    bins flattened (1280 dims per frame), channel-wise SAP with 128 hidden
    units, embedding 512. Use it in HyperPyYAML with ``!apply:``.

    Arguments
    ---------
    **overrides : dict
        Keyword arguments of ``ResNetSE`` that replace the preset's.

    Returns
    -------
    model : ResNetSE
        The teacher model.

    Example
    -------
    >>> model = g_resnet_se()
    >>> model.pooled_dim
    1280
    """
    config = dict(
        channels=(32, 64, 128, 256),
        blocks=(3, 4, 6, 3),
        stage_strides=(1, 2, 2, 2),
        stem_kernel=3,
        stem_stride=(1, 1),
        se_reduction=8,
        freq_pooling="flatten",
        sap_hidden=128,
        sap_channelwise=True,
        emb_dim=512,
    )
    config.update(overrides)
    return ResNetSE(**config)


def conv_lengths(valid, kernel, stride, padding):
    """Numbers of output frames of a convolution over inputs of given lengths.

    Arguments
    ---------
    valid : torch.Tensor
        Numbers of input frames, integer, shape [batch].
    kernel : int
        Kernel size along time.
    stride : int
        Stride along time.
    padding : int
        Zero padding at each end along time.

    Returns
    -------
    valid : torch.Tensor
        ``(valid + 2 * padding - kernel) // stride + 1``, shape [batch].

    Example
    -------
    >>> conv_lengths(torch.tensor([400, 7]), kernel=3, stride=2, padding=1)
    tensor([200,   4])
    """
    return (
        torch.div(valid + 2 * padding - kernel, stride, rounding_mode="floor")
        + 1
    )


def time_mask(valid, size):
    """Boolean mask of the valid frames.

    Arguments
    ---------
    valid : torch.Tensor
        Numbers of valid frames, shape [batch].
    size : int
        Number of frames.

    Returns
    -------
    mask : torch.Tensor
        True on the first ``valid[b]`` frames of row b, shape [batch, size].

    Example
    -------
    >>> time_mask(torch.tensor([3, 1]), 4)
    tensor([[ True,  True,  True, False],
            [ True, False, False, False]])
    """
    positions = torch.arange(size, device=valid.device)
    return positions.unsqueeze(0) < valid.unsqueeze(1)


def mask_frames(x, valid):
    """Sets the padded frames of feature maps to zero.

    Arguments
    ---------
    x : torch.Tensor
        Feature maps, shape [batch, channels, time, freq].
    valid : torch.Tensor
        Numbers of valid frames, shape [batch].

    Returns
    -------
    masked : torch.Tensor
        ``x`` with frames at and after ``valid[b]`` zeroed, same shape.

    Example
    -------
    >>> x = mask_frames(torch.ones(1, 1, 3, 2), torch.tensor([2]))
    >>> x[0, 0, :, 0]
    tensor([1., 1., 0.])
    """
    mask = time_mask(valid, x.shape[2])[:, None, :, None]
    return x * mask.expand(-1, -1, -1, x.shape[3]).to(x.dtype)


def masked_mean(x, valid):
    """Mean of feature maps over frequency and valid frames.

    Arguments
    ---------
    x : torch.Tensor
        Feature maps, shape [batch, channels, time, freq].
    valid : torch.Tensor
        Numbers of valid frames, shape [batch].

    Returns
    -------
    mean : torch.Tensor
        Shape [batch, channels].

    Example
    -------
    >>> x = torch.tensor([[[[1.0], [3.0], [0.0]]]])
    >>> masked_mean(x, torch.tensor([2]))
    tensor([[2.]])
    """
    mask = time_mask(valid, x.shape[2]).unsqueeze(1).to(x.dtype)
    count = valid.to(x.dtype) * x.shape[3]
    return (x.sum(dim=3) * mask).sum(dim=2) / count.unsqueeze(1)


def _output_freq_bins(n_mels, stem_kernel, stem_freq_stride, stage_strides):
    """Number of frequency bins left after the stem and the stages."""
    bins = (n_mels + 2 * (stem_kernel // 2) - stem_kernel) // stem_freq_stride
    bins += 1
    for stride in stage_strides:
        bins = (bins - 1) // stride + 1
    return bins


def _check_config(channels, blocks, stage_strides, stem_kernel, stem_stride):
    """Raises ValueError for an inconsistent ResNetSE configuration."""
    if not channels or not len(channels) == len(blocks) == len(stage_strides):
        raise ValueError(
            "channels, blocks and stage_strides must be non-empty and of the "
            f"same length, got {channels}, {blocks}, {stage_strides}"
        )
    for name, values in (
        ("channels", channels),
        ("blocks", blocks),
        ("stage_strides", stage_strides),
        ("stem_stride", stem_stride),
    ):
        if any(int(v) != v or v < 1 for v in values):
            raise ValueError(
                f"{name} must hold positive integers, got {values}"
            )
    if len(stem_stride) != 2:
        raise ValueError(
            f"stem_stride must be (time, frequency), got {stem_stride}"
        )
    if stem_kernel < 1 or stem_kernel % 2 == 0:
        raise ValueError(
            f"stem_kernel must be a positive odd integer, got {stem_kernel}"
        )
