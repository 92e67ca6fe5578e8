"""SEEF-ALDR's objectives: speaker classification, reconstruction and the two
adversarial losses that keep speaker identity out of the eliminating encoder.

From "SEEF-ALDR: A Speaker Embedding Enhancement Framework via Adversarial
Learning based Disentangled Representation" (ACSAC 2020), whose equations
and weights are not available to us. ``L_adv^s`` trains the adversarial
classifier C_adv to name the speaker from the eliminating encoder's
(detached) features; ``L_adv^e`` trains the eliminating encoder to defeat
it, in one of two forms: ``"uniform"`` pushes C_adv's output towards the
uniform distribution (KL from uniform), ``"reversal"`` minimises C_adv's
cross-entropy through a gradient reversal layer, so that the encoder
maximises it.

Authors
 * speechbrain-asd developers
"""

import math

import torch
import torch.nn.functional as F

from speechbrain_asd.checks import check_choice, check_number
from speechbrain_asd.lobes.seef_aldr import GradientReversal, valid_frames
from speechbrain_asd.losses.checks import (
    check_logits,
    check_reduction,
    check_same_shape,
    check_targets,
    reduce_losses,
)

ADVERSARIAL_FORMS = ("uniform", "reversal")
TERMS = ("speaker", "reconstruction", "adv_encoder")


def uniform_target_loss(logits, reduction="mean"):
    """KL(uniform || softmax(logits)): zero exactly at a uniform output.

    Arguments
    ---------
    logits : torch.Tensor
        Raw scores, shape [batch, classes].
    reduction : str
        ``"mean"`` (over the batch), ``"sum"`` or ``"none"`` ([batch]).

    Returns
    -------
    loss : torch.Tensor
        ``-log C - mean_c log p_c``, reduced as asked.

    Example
    -------
    >>> uniform_target_loss(torch.zeros(2, 4))
    tensor(0.)
    >>> bool(uniform_target_loss(torch.tensor([[3.0, 0.0, 0.0]])) > 0)
    True
    """
    check_logits("logits", logits)
    check_reduction(reduction)
    log_p = F.log_softmax(logits, dim=-1)
    losses = -math.log(logits.shape[1]) - log_p.mean(dim=-1)
    return reduce_losses(losses, reduction)


def reconstruction_loss(prediction, target, lengths=None):
    """Mean squared error over the valid frames of a padded batch.

    Arguments
    ---------
    prediction : torch.Tensor
        Rebuilt frames, shape [batch, time, n_mels].
    target : torch.Tensor
        The input frames, same shape.
    lengths : torch.Tensor, optional
        Relative lengths in (0, 1], shape [batch]; None means all full.

    Returns
    -------
    loss : torch.Tensor
        Mean of the squared errors over valid frames and bands.

    Example
    -------
    >>> target = torch.zeros(2, 4, 3)
    >>> prediction = torch.ones(2, 4, 3)
    >>> prediction[1, 2:] = 5.0  # padding of the second utterance
    >>> reconstruction_loss(prediction, target, torch.tensor([1.0, 0.5]))
    tensor(1.)
    """
    check_same_shape("prediction", prediction, "target", target)
    valid = valid_frames(lengths, target)
    mask = torch.arange(target.shape[1], device=target.device) < valid[:, None]
    mask = mask.unsqueeze(-1).to(target.dtype)
    squared = (prediction - target).square() * mask
    return squared.sum() / (mask.sum() * target.shape[2])


def adversary_loss(adversary, features, speakers):
    """``L_adv^s``: cross-entropy of the adversarial classifier on detached
    eliminating features (only the classifier learns from it).

    Arguments
    ---------
    adversary : torch.nn.Module
        C_adv, features [batch, D] -> logits [batch, n_speakers].
    features : torch.Tensor
        Eliminating encoder features, shape [batch, D].
    speakers : torch.Tensor
        Speaker indices, shape [batch] or [batch, 1].

    Returns
    -------
    loss : torch.Tensor
        The mean cross-entropy.

    Example
    -------
    >>> adversary = torch.nn.Linear(3, 2)
    >>> features = torch.randn(4, 3, requires_grad=True)
    >>> speakers = torch.tensor([0, 1, 0, 1])
    >>> adversary_loss(adversary, features, speakers).backward()
    >>> features.grad is None and adversary.weight.grad is not None
    True
    """
    logits = adversary(features.detach())
    check_logits("adversary logits", logits)
    targets = check_targets(speakers, *logits.shape)
    return F.cross_entropy(logits, targets)


class SEEFALDRLoss(torch.nn.Module):
    """The weighted objective of SEEF-ALDR's encoders, classifier and decoder.

    ``speaker_weight * L_spk + reconstruction_weight * L_rec +
    adv_encoder_weight * L_adv^e``, each term on its switch; the adversarial
    terms need eliminating features (no E_e, or a random vector in its
    place, leaves them out). ``adversary_loss`` (``L_adv^s``) is the
    objective of C_adv's own optimiser.

    Arguments
    ---------
    speaker_weight : float
        Weight of the speaker cross-entropy on the purifying embedding.
    reconstruction_weight : float
        Weight of ``L_rec``.
    adv_encoder_weight : float
        Weight of ``L_adv^e``.
    adversarial_form : str
        ``"uniform"`` or ``"reversal"`` (see the module docstring).
    use_reconstruction : bool
        Include ``L_rec``.
    use_adv_classifier_loss : bool
        Train C_adv with ``L_adv^s`` (``trains_adversary``).
    use_adv_encoder_loss : bool
        Include ``L_adv^e``.

    Example
    -------
    >>> loss_fn = SEEFALDRLoss(use_reconstruction=False)
    >>> loss_fn.active_terms(with_eliminating=True)
    ('speaker', 'adv_encoder')
    >>> total, parts = loss_fn(
    ...     torch.zeros(2, 4),
    ...     torch.tensor([0, 1]),
    ...     adversary=lambda features: features.new_zeros(2, 4),
    ...     eliminating=torch.zeros(2, 3),
    ... )
    >>> sorted(parts), round(float(total), 4)
    (['adv_encoder', 'speaker'], 1.3863)
    """

    def __init__(
        self,
        speaker_weight=1.0,
        reconstruction_weight=1.0,
        adv_encoder_weight=1.0,
        adversarial_form="uniform",
        use_reconstruction=True,
        use_adv_classifier_loss=True,
        use_adv_encoder_loss=True,
    ):
        """Stores the weights and switches."""
        super().__init__()
        self.weights = {
            "speaker": check_number("speaker_weight", speaker_weight, 0),
            "reconstruction": check_number(
                "reconstruction_weight", reconstruction_weight, 0
            ),
            "adv_encoder": check_number(
                "adv_encoder_weight", adv_encoder_weight, 0
            ),
        }
        self.form = check_choice(
            "adversarial_form", adversarial_form, ADVERSARIAL_FORMS
        )
        self.use_reconstruction = bool(use_reconstruction)
        self.trains_adversary = bool(use_adv_classifier_loss)
        self.use_adv_encoder_loss = bool(use_adv_encoder_loss)
        self.reversal = GradientReversal()

    def active_terms(self, with_eliminating):
        """The terms of the objective under the switches.

        Arguments
        ---------
        with_eliminating : bool
            Whether eliminating encoder features exist.

        Returns
        -------
        tuple of str
            Among ``"speaker"``, ``"reconstruction"``, ``"adv_encoder"``.
        """
        active = {
            "speaker": True,
            "reconstruction": self.use_reconstruction,
            "adv_encoder": self.use_adv_encoder_loss and with_eliminating,
        }
        return tuple(term for term in TERMS if active[term])

    def encoder_loss(self, adversary, features, speakers):
        """``L_adv^e`` of the eliminating features, in the chosen form.

        Arguments
        ---------
        adversary : torch.nn.Module
            C_adv.
        features : torch.Tensor
            Eliminating encoder features, shape [batch, D].
        speakers : torch.Tensor
            Speaker indices, shape [batch] or [batch, 1].

        Returns
        -------
        loss : torch.Tensor
            Uniform-target KL, or C_adv's cross-entropy through the
            gradient reversal layer.
        """
        if self.form == "uniform":
            return uniform_target_loss(adversary(features))
        logits = adversary(self.reversal(features))
        return F.cross_entropy(logits, check_targets(speakers, *logits.shape))

    def forward(
        self,
        speaker_logits,
        speakers,
        adversary=None,
        eliminating=None,
        reconstruction=None,
        feats=None,
        lengths=None,
    ):
        """Computes the weighted objective.

        Arguments
        ---------
        speaker_logits : torch.Tensor
            Speaker classifier logits of the purifying embedding,
            shape [batch, n_speakers].
        speakers : torch.Tensor
            Speaker indices, shape [batch] or [batch, 1].
        adversary : torch.nn.Module, optional
            C_adv (with ``eliminating``).
        eliminating : torch.Tensor, optional
            Eliminating encoder features, shape [batch, D]; None without E_e.
        reconstruction : torch.Tensor, optional
            D_r's output, shape [batch, time, n_mels] (with
            ``use_reconstruction``).
        feats : torch.Tensor, optional
            The log-Mel input D_r rebuilds, same shape.
        lengths : torch.Tensor, optional
            Relative lengths of ``feats``, shape [batch].

        Returns
        -------
        total : torch.Tensor
            The weighted sum of the active terms.
        parts : dict
            Unweighted value of each active term (detached).
        """
        check_logits("speaker_logits", speaker_logits)
        targets = check_targets(speakers, *speaker_logits.shape)
        terms = {"speaker": F.cross_entropy(speaker_logits, targets)}
        active = self.active_terms(eliminating is not None)
        if "reconstruction" in active:
            if reconstruction is None or feats is None:
                raise ValueError("L_rec needs the reconstruction and feats")
            terms["reconstruction"] = reconstruction_loss(
                reconstruction, feats, lengths
            )
        if "adv_encoder" in active:
            if adversary is None:
                raise ValueError("L_adv^e needs the adversarial classifier")
            terms["adv_encoder"] = self.encoder_loss(
                adversary, eliminating, targets
            )
        total = sum(self.weights[name] * value for name, value in terms.items())
        return total, {name: value.detach() for name, value in terms.items()}
