"""Offline ASVspoof 2019 LA-style corpus built from installed Debian packages.

Real speech of 17 speakers (``sources``), eight spoofing systems of distinct
families (``systems``), one channel for every class (``channel``), the
ASVspoof 2019 LA and 2021 LA eval layouts and protocols (``layout``), noise
and RIR sets (``augmentation_sets``), the plan of what goes where
(``plan``), per-file rendering (``render``) in worker processes
(``parallel``), orchestration (``generate``), counts read back from the
protocols (``summary``) and a trivial-countermeasure difficulty check
(``difficulty``); the ASVspoof 2021 LA-style eval part made from the 2019
eval split (``eval_2021``: its plan ``plan_2021``, codec conditions
``telephony_codecs``, transmission variants ``transmission``, rendering
``render_2021`` and the toy ASV system that scores its ASV trials
``toy_asv``); the ``asd-toy-corpus`` command (``cli``). A separate
distribution (``tools/toy_corpus``) that requires speechbrain-asd; the
library never imports it.

Authors
 * speechbrain-asd developers
"""

from asd_toy_corpus.generate import DEFAULT_SEED, make_toy_corpus
from asd_toy_corpus.summary import (
    format_corpus_summary,
    summarize_corpus,
)

__all__ = [
    "DEFAULT_SEED",
    "format_corpus_summary",
    "make_toy_corpus",
    "summarize_corpus",
]
