"""Offline ASVspoof 2019 LA-style corpus built from installed Debian packages.

Real speech of 17 speakers (``sources``), eight spoofing systems of distinct
families (``systems``), one channel for every class (``channel``), the
ASVspoof 2019 LA layout and protocols (``layout``), noise and RIR sets
(``augmentation_sets``), the plan of what goes where (``plan``), per-file
rendering (``render``), orchestration (``generate``), counts read back from
the protocols (``summary``) and a trivial-countermeasure difficulty check
(``difficulty``).

Authors
 * speechbrain-asd developers
"""

from speechbrain_asd.data.toy.generate import DEFAULT_SEED, make_toy_corpus
from speechbrain_asd.data.toy.summary import (
    format_corpus_summary,
    summarize_corpus,
)

__all__ = [
    "DEFAULT_SEED",
    "format_corpus_summary",
    "make_toy_corpus",
    "summarize_corpus",
]
