"""Waveforms to normalised log-Mel features, differentiable end to end.

The paper's input features: 40 log-Mel bands from a 25 ms window, a 10 ms
hop and a 512-point FFT, then instance normalisation of each utterance. The
paper states 22,050 Hz audio; ASVspoof audio is 16 kHz, the default here.

Authors
 * speechbrain-asd developers
"""

import torch
from speechbrain.lobes.features import Fbank
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)


class LogMelFeatures(torch.nn.Module):
    """Log-Mel filterbanks with per-utterance normalisation that respects
    lengths.

    SpeechBrain's ``Fbank`` computes the log-Mel spectrogram (centred frames,
    zero padding at both ends, power spectrum in dB, top 80 dB kept). Each
    utterance is then normalised per Mel band by the mean and standard
    deviation of its own valid frames; padded frames are set to zero.

    An utterance of ``L`` valid samples has ``1 + L // hop`` valid frames,
    the frames ``Fbank`` gives for it alone. Padded samples are zeroed
    before the STFT, so these frames are the same in a padded batch as for
    the utterance alone, and so are their normalised values: padding never
    changes the features of the real frames.

    Why not SpeechBrain's ``InputNormalization(norm_type="sentence")``: it
    does mask padding, but it divides by ``sqrt(var)``, whose gradient is
    not finite where a band is constant over the utterance (a single-frame
    utterance, a band clipped flat by the 80 dB floor): the attacks, which
    take gradients through the features, would get NaN. This class divides
    by ``sqrt(var + epsilon)`` instead, finite everywhere, and counts the
    valid frames exactly rather than from rounded relative lengths.

    Arguments
    ---------
    sample_rate : int
        Sample rate of the waveforms, in Hz.
    n_mels : int
        Number of Mel bands.
    n_fft : int
        FFT size.
    win_length : float
        Window length, in ms.
    hop_length : float
        Hop between frames, in ms.
    epsilon : float
        Added to the variance before the square root.

    Example
    -------
    >>> import torch
    >>> features = LogMelFeatures()
    >>> wavs = torch.randn(2, 16000)
    >>> feats = features(wavs, torch.tensor([1.0, 0.5]))
    >>> feats.shape
    torch.Size([2, 101, 40])
    >>> features.num_frames(torch.tensor([16000, 8000]))
    tensor([101,  51])
    >>> bool(feats[1, 51:].abs().max() == 0)
    True
    """

    def __init__(
        self,
        sample_rate=16000,
        n_mels=40,
        n_fft=512,
        win_length=25.0,
        hop_length=10.0,
        epsilon=1e-5,
    ):
        """Builds the filterbank; see the class docstring."""
        super().__init__()
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        self.fbank = Fbank(
            sample_rate=sample_rate,
            n_fft=n_fft,
            n_mels=n_mels,
            win_length=win_length,
            hop_length=hop_length,
        )
        self.hop = self.fbank.compute_STFT.hop_length
        self.epsilon = epsilon

    def num_frames(self, num_samples):
        """Number of frames ``Fbank`` gives for waveforms of a given length.

        Arguments
        ---------
        num_samples : torch.Tensor
            Integer numbers of samples, any shape.

        Returns
        -------
        num_frames : torch.Tensor
            ``1 + num_samples // hop``, same shape.

        Example
        -------
        >>> LogMelFeatures().num_frames(torch.tensor([64000]))
        tensor([401])
        """
        return 1 + torch.div(num_samples, self.hop, rounding_mode="floor")

    def frame_lengths(self, lengths, num_samples):
        """Relative lengths, in frames, of the features of a padded batch.

        The model turns relative lengths into ``round(lengths * frames)``
        valid frames; passing it these (rather than the waveform's relative
        lengths) makes that count equal the ``1 + L // hop`` valid frames
        the features really have.

        Arguments
        ---------
        lengths : torch.Tensor
            Relative waveform lengths in (0, 1], shape [batch].
        num_samples : int
            Number of samples of the padded batch.

        Returns
        -------
        frame_lengths : torch.Tensor
            Relative lengths in frames, shape [batch].

        Example
        -------
        >>> features = LogMelFeatures()
        >>> features.frame_lengths(torch.tensor([1.0, 0.5]), 16000)
        tensor([1.0000, 0.5050])
        """
        valid_samples = torch.round(lengths * num_samples).long().clamp(min=1)
        total = self.num_frames(torch.tensor(num_samples))
        return self.num_frames(valid_samples).to(lengths.dtype) / total

    def with_frame_lengths(self, wavs, lengths=None):
        """Computes the features and their relative lengths in frames.

        What every caller of a model that masks by relative lengths needs:
        the lengths in frames make the model count exactly the valid frames
        of the features (see ``frame_lengths``).

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, shape [batch, samples].
        lengths : torch.Tensor, optional
            Relative lengths in (0, 1], shape [batch]; None means all full.

        Returns
        -------
        feats : torch.Tensor
            Features, shape [batch, frames, n_mels].
        frame_lengths : torch.Tensor
            Relative lengths in frames, shape [batch].

        Example
        -------
        >>> feats, lens = LogMelFeatures().with_frame_lengths(
        ...     torch.randn(2, 16000), torch.tensor([1.0, 0.5])
        ... )
        >>> feats.shape, lens
        (torch.Size([2, 101, 40]), tensor([1.0000, 0.5050]))
        """
        if lengths is None:
            lengths = torch.ones(wavs.shape[0], device=wavs.device)
        feats = self(wavs, lengths)
        return feats, self.frame_lengths(lengths, wavs.shape[1])

    def forward(self, wavs, lengths=None):
        """Computes the normalised log-Mel features of a batch.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, shape [batch, samples].
        lengths : torch.Tensor, optional
            Relative lengths in (0, 1], shape [batch]; None means all full.

        Returns
        -------
        feats : torch.Tensor
            Features, shape [batch, frames, n_mels]; zero on padded frames.
        """
        if wavs.dim() != 2:
            raise ValueError(
                "wavs must have shape [batch, samples], got "
                f"{tuple(wavs.shape)}"
            )
        batch, samples = wavs.shape
        if lengths is None:
            lengths = torch.ones(batch, device=wavs.device)
        if lengths.shape != (batch,):
            raise ValueError(
                f"lengths must have shape [{batch}], got {tuple(lengths.shape)}"
            )
        # A data-dependent check cannot be traced: skipped in ONNX export.
        if not torch.compiler.is_exporting() and bool(
            ((lengths <= 0) | (lengths > 1)).any()
        ):
            raise ValueError(
                f"lengths must lie in (0, 1], got {lengths.tolist()}"
            )
        valid_samples = torch.round(lengths * samples).long().clamp(min=1)
        sample_mask = _prefix_mask(valid_samples, samples)
        feats = self.fbank(wavs * sample_mask)
        frame_mask = _prefix_mask(
            self.num_frames(valid_samples), feats.shape[1]
        )
        return _masked_instance_norm(feats, frame_mask, self.epsilon)


class ConvolutionalFbank(torch.nn.Module):
    """SpeechBrain's ``Fbank`` with its STFT written as one convolution.

    The same log-Mel filterbanks, computed from a fixed basis: the real and
    imaginary parts of the ``n_fft // 2 + 1`` DFT bins, each multiplied by
    the analysis window (zero-padded to ``n_fft`` and centred, as
    ``torch.stft`` places it), applied by a strided ``conv1d`` after the
    same centre padding with zeros. The power spectrum (squared real plus
    squared imaginary part) then goes through the ``Fbank``'s own
    ``Filterbank``, so the Mel matrix and the dB conversion are
    SpeechBrain's.

    What it is for: ONNX export. onnxruntime's ``STFT`` operator computes
    each frame without an FFT and returns the bins in a [..., 2] layout that
    costs a slow transpose before the magnitude; together they made the
    exported student slower than PyTorch. As a convolution the whole
    spectrum is one GEMM, and the power spectrum stays in a [batch, bins,
    frames] layout that the Mel product reads without a copy. In PyTorch
    the FFT of ``Fbank`` is faster: the features use ``Fbank`` everywhere
    else.

    Arguments
    ---------
    fbank : speechbrain.lobes.features.Fbank
        The filterbank to reproduce. Deltas, context windows, normalised,
        two-sided or uncentred STFTs and padding other than zeros are not
        supported (a ``ValueError`` says which).

    Example
    -------
    >>> fbank = Fbank(n_mels=40)
    >>> conv_fbank = ConvolutionalFbank(fbank)
    >>> wavs = torch.randn(2, 16000)
    >>> feats = conv_fbank(wavs)
    >>> feats.shape
    torch.Size([2, 101, 40])
    >>> bool((feats - fbank(wavs)).abs().max() < 1e-3)
    True
    """

    def __init__(self, fbank):
        """Builds the windowed DFT basis; see the class docstring."""
        super().__init__()
        stft = fbank.compute_STFT
        unsupported = {
            "deltas": fbank.deltas,
            "context": fbank.context,
            "normalized_stft": stft.normalized_stft,
            "center=False": not stft.center,
            "onesided=False": not stft.onesided,
            f"pad_mode={stft.pad_mode!r}": stft.pad_mode != "constant",
        }
        used = [name for name, on in unsupported.items() if on]
        if used:
            raise ValueError(
                "ConvolutionalFbank cannot reproduce an Fbank with "
                + ", ".join(used)
            )
        self.n_fft = stft.n_fft
        self.hop = stft.hop_length
        self.n_bins = self.n_fft // 2 + 1
        window = torch.zeros(self.n_fft, dtype=torch.float64)
        left = (self.n_fft - stft.win_length) // 2
        window[left : left + stft.win_length] = stft.window.double()
        samples = torch.arange(self.n_fft, dtype=torch.float64)
        bins = torch.arange(self.n_bins, dtype=torch.float64)
        angle = 2 * torch.pi * bins.unsqueeze(1) * samples / self.n_fft
        basis = torch.cat([torch.cos(angle), -torch.sin(angle)]) * window
        self.register_buffer("basis", basis.float().unsqueeze(1))
        self.compute_fbanks = fbank.compute_fbanks

    def forward(self, wavs):
        """Computes the log-Mel filterbanks.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, shape [batch, samples].

        Returns
        -------
        fbanks : torch.Tensor
            Shape [batch, 1 + samples // hop, n_mels], as ``Fbank`` gives.
        """
        half = self.n_fft // 2
        padded = torch.nn.functional.pad(wavs.unsqueeze(1), (half, half))
        spectrum = torch.nn.functional.conv1d(
            padded, self.basis, stride=self.hop
        )
        batch, _, frames = spectrum.shape
        power = spectrum.view(batch, 2, self.n_bins, frames).square().sum(1)
        return self.compute_fbanks(power.transpose(1, 2))


def _prefix_mask(valid, size):
    """Marks the first ``valid[b]`` positions of each row.

    Arguments
    ---------
    valid : torch.Tensor
        Integer numbers of valid positions, shape [batch].
    size : int
        Number of positions per row.

    Returns
    -------
    mask : torch.Tensor
        Float mask, 1 on valid and 0 on padded positions, shape [batch, size].
    """
    positions = torch.arange(size, device=valid.device)
    return (positions.unsqueeze(0) < valid.unsqueeze(1)).float()


def _masked_instance_norm(feats, mask, epsilon):
    """Normalises each utterance and band over its valid frames only.

    Arguments
    ---------
    feats : torch.Tensor
        Features, shape [batch, frames, bands].
    mask : torch.Tensor
        Float mask of valid frames, shape [batch, frames].
    epsilon : float
        Added to the variance before the square root.

    Returns
    -------
    normalised : torch.Tensor
        Zero-mean, unit-variance bands over the valid frames; zero on padded
        frames. Shape [batch, frames, bands].
    """
    mask = mask.unsqueeze(-1)
    count = mask.sum(dim=1, keepdim=True)
    mean = (feats * mask).sum(dim=1, keepdim=True) / count
    centred = (feats - mean) * mask
    var = centred.square().sum(dim=1, keepdim=True) / count
    return centred / torch.sqrt(var + epsilon)


def waveform_embedder(features, model):
    """Chains a feature extractor and a model into ``embed_fn(wavs, lens)``.

    The callable the adversarial attacks take (waveforms in, embeddings
    out), with the model given exact lengths in frames.

    Arguments
    ---------
    features : LogMelFeatures
        The feature extractor.
    model : torch.nn.Module
        A model with ``embed(feats, lengths) -> [batch, emb_dim]``.

    Returns
    -------
    Callable
        ``embed_fn(wavs [batch, samples], lens [batch]) -> [batch, emb_dim]``.

    Example
    -------
    >>> from speechbrain_asd.lobes.resnet_se import ResNetSE
    >>> model = ResNetSE(channels=(4, 4, 4, 4), blocks=(1, 1, 1, 1))
    >>> embed = waveform_embedder(LogMelFeatures(), model.eval())
    >>> embed(torch.randn(2, 8000), torch.tensor([1.0, 0.6])).shape
    torch.Size([2, 512])
    """

    def embed_fn(wavs, lens):
        """Embeds padded waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            Padded waveforms, shape [batch, samples].
        lens : torch.Tensor
            Relative lengths, shape [batch].

        Returns
        -------
        torch.Tensor
            Embeddings, shape [batch, emb_dim].
        """
        return model.embed(*features.with_frame_lengths(wavs, lens))

    return embed_fn
