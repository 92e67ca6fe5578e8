"""Training objectives: GE2E, knowledge distillation and self-distillation.

* ``ge2e``: softmax GE2E loss for N speakers x M utterances batches, with
  query-excluding own-speaker centroids and a learnable, positive scale.
* ``distillation``: Hinton KD (ASD paper, eq. 4) and decoupled KD that
  weights the target and non-target parts of the KL separately.
* ``self_distillation``: the deepest exit teaches the shallow exits (output
  KL and projected feature distance), every exit also learning the labels.
* ``checks``: tensor checks and reductions shared by the above (plain
  arguments are checked with ``speechbrain_asd.checks``).

Losses that own learnable parameters (``GE2ELoss``: w and b;
``SelfDistillationLoss``: the projections) must be listed in the Brain's
``modules`` so that they are optimised and checkpointed.

Authors
 * speechbrain-asd developers
"""

from speechbrain_asd.losses.distillation import (
    DecoupledKDLoss,
    KDLoss,
    decoupled_kd_loss,
    decoupled_kl_parts,
    kd_kl_divergence,
    kd_loss,
)
from speechbrain_asd.losses.ge2e import GE2ELoss, ge2e_loss, ge2e_similarity
from speechbrain_asd.losses.self_distillation import (
    SelfDistillationLoss,
    self_distillation_loss,
    self_distillation_terms,
)

__all__ = [
    "DecoupledKDLoss",
    "GE2ELoss",
    "KDLoss",
    "SelfDistillationLoss",
    "decoupled_kd_loss",
    "decoupled_kl_parts",
    "ge2e_loss",
    "ge2e_similarity",
    "kd_kl_divergence",
    "kd_loss",
    "self_distillation_loss",
    "self_distillation_terms",
]
