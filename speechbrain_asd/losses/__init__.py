"""Training objectives: GE2E, knowledge distillation (label- and
embedding-level), self-distillation and SEEF-ALDR's disentangling losses.

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
from speechbrain_asd.losses.embedding_kd import (
    EmbeddingKDLoss,
    embedding_kd_loss,
)
from speechbrain_asd.losses.ge2e import GE2ELoss, ge2e_loss, ge2e_similarity
from speechbrain_asd.losses.seef_aldr import (
    SEEFALDRLoss,
    adversary_loss,
    reconstruction_loss,
    uniform_target_loss,
)
from speechbrain_asd.losses.self_distillation import (
    SelfDistillationLoss,
    self_distillation_loss,
    self_distillation_terms,
)

__all__ = [
    "DecoupledKDLoss",
    "EmbeddingKDLoss",
    "GE2ELoss",
    "KDLoss",
    "SEEFALDRLoss",
    "SelfDistillationLoss",
    "adversary_loss",
    "decoupled_kd_loss",
    "decoupled_kl_parts",
    "embedding_kd_loss",
    "ge2e_loss",
    "ge2e_similarity",
    "kd_kl_divergence",
    "kd_loss",
    "reconstruction_loss",
    "self_distillation_loss",
    "self_distillation_terms",
    "uniform_target_loss",
]
