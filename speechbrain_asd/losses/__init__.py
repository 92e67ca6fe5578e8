"""Training objectives: GE2E, knowledge distillation and self-distillation.

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
