"""Waveforms to normalised log-Mel features, differentiable end to end.

Authors
 * speechbrain-asd developers
"""

import torch
from speechbrain.lobes.features import Fbank
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)


class LogMelFeatures(torch.nn.Module):
    """Log-Mel filterbanks, normalised per utterance over its valid frames.

    SpeechBrain's ``Fbank`` followed by instance normalisation of each Mel band
    over the valid frames of each utterance; padded frames are set to zero, and
    padding never changes the features of the valid frames. The defaults are the
    features of "Training strategies for a lightweight countermeasure model for
    automatic speaker verification" (ICASSP 2023), at 16 kHz.

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
        """Builds the filterbank."""
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

        A model that keeps ``round(lengths * frames)`` frames then keeps exactly
        the ``1 + L // hop`` valid frames of each utterance.

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
            Relative lengths in frames (see ``frame_lengths``), shape [batch].

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

    The same log-Mel filterbanks, computed by a strided ``conv1d`` with the
    windowed real and imaginary DFT basis, then the ``Fbank``'s own Mel
    filterbank and dB conversion. Meant for ONNX export.

    Arguments
    ---------
    fbank : speechbrain.lobes.features.Fbank
        The filterbank to reproduce: centred, one-sided, unnormalised STFT with
        zero padding, no deltas and no context (else ``ValueError``).

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
        """Builds the windowed DFT basis."""
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
    """Marks the first ``valid[b]`` positions of each row."""
    positions = torch.arange(size, device=valid.device)
    return (positions.unsqueeze(0) < valid.unsqueeze(1)).float()


def _masked_instance_norm(feats, mask, epsilon):
    """Normalises each utterance and band over its valid frames only."""
    mask = mask.unsqueeze(-1)
    count = mask.sum(dim=1, keepdim=True)
    mean = (feats * mask).sum(dim=1, keepdim=True) / count
    centred = (feats - mean) * mask
    var = centred.square().sum(dim=1, keepdim=True) / count
    return centred / torch.sqrt(var + epsilon)


def waveform_embedder(features, model):
    """Chains a feature extractor and a model into ``embed_fn(wavs, lens)``.

    The callable the adversarial attacks take; the model gets exact lengths in
    frames.

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
        """Embeds padded waveforms."""
        return model.embed(*features.with_frame_lengths(wavs, lens))

    return embed_fn
