"""What the ASVspoof 2021 LA-style evaluation part holds, planned before audio.

The 2021 part is made from the 2019 eval split of the same corpus, read
back from its protocols: every eval CM trial (bona fide and every attack)
becomes one 2021 trial under a new random id ``LA_E_xxxxxxx`` that no 2019
file of the corpus has, sent through one codec condition
(``telephony_codecs``) and one transmission variant (``transmission``).
Rules:

- codecs are dealt per (key, attack) group: the group is shuffled and the
  seven codecs dealt round-robin, the deal continuing from one group to the
  next, so every group spreads evenly over the codecs and so does the
  whole part;
- the transmission of each trial is drawn at random, whatever its codec;
- trim and subset, as in ASVspoof 2021 LA (whose hidden track is the
  trials with their non-speech trimmed): ``TRIM_SHARE`` of the trials are
  ``trim`` and all of those are subset ``hidden``; ``PROGRESS_SHARE`` of
  the ``notrim`` trials are ``progress`` and the others ``eval``. The
  shares are dealt by systematic sampling over the (attack, codec) cells,
  each cell's quota carrying the rounding on to the next, and a cell of two
  trials or more keeps at least one ``eval`` trial;
- the ASV trial list is the 2019 eval list with each test utterance
  replaced by its 2021 trial (with that trial's conditions); the speaker
  models are enrolled from the clean 2019 eval enrolment utterances.

The plan draws from its own random stream ``(seed, 2021, 0)``; it never
touches the 2019 part's streams.

Authors
 * speechbrain-asd developers
"""

import math
from dataclasses import dataclass
from typing import Dict, FrozenSet, Tuple

import numpy as np

from asd_toy_corpus.layout import (
    ASV_SPLITS,
    GENDERS,
    asv_enrolment_path,
    asv_trials_path,
    cm_protocol_path,
)
from asd_toy_corpus.telephony_codecs import CODECS
from asd_toy_corpus.transmission import TRANSMISSIONS
from speechbrain_asd.scorefiles import (
    ASVTrial,
    CMTrial,
    read_asv_enrolment,
    read_asv_protocol,
    read_cm_protocol,
)

TRIM_SHARE = 0.1
PROGRESS_SHARE = 0.2
PLAN_STREAM = 0
ID_NUMBERS = 9_000_000


@dataclass(frozen=True)
class Eval2019:
    """The 2019 eval split of a corpus, as the 2021 part needs it.

    Arguments
    ---------
    cm_trials : tuple of CMTrial
        The eval CM trials.
    asv_trials : tuple of ASVTrial
        The eval ASV trial list.
    enrolment : dict
        Enrolled speaker -> tuple of its enrolment utterance ids.
    taken_ids : frozenset of str
        Every utterance id of the corpus's 2019 protocols and lists.

    Example
    -------
    >>> trial = CMTrial("LA_0014", "LA_E_1000001", "A07", "spoof")
    >>> eval_2019 = Eval2019((trial,), (), {}, frozenset({"LA_E_1000001"}))
    >>> eval_2019.cm_trials[0].attack
    'A07'
    """

    cm_trials: Tuple[CMTrial, ...]
    asv_trials: Tuple[ASVTrial, ...]
    enrolment: Dict[str, Tuple[str, ...]]
    taken_ids: FrozenSet[str]


@dataclass(frozen=True)
class Eval2021Trial:
    """One planned 2021 trial and the 2019 utterance it is made from.

    Arguments
    ---------
    index : int
        Position in the plan; with the seed it seeds the trial's generator.
    source : str
        The 2019 eval utterance id.
    cm : CMTrial
        The 2021 CM trial: new id, speaker, attack, key and conditions.

    Example
    -------
    >>> cm = CMTrial("LA_0014", "LA_E_7000001", "bonafide", "bonafide",
    ...              "gsm", "sin_tx", "eval", "notrim")
    >>> Eval2021Trial(0, "LA_E_1000001", cm).cm.codec
    'gsm'
    """

    index: int
    source: str
    cm: CMTrial


@dataclass(frozen=True)
class Eval2021Plan:
    """Every trial of the 2021 part, its ASV trials and enrolment.

    Arguments
    ---------
    seed : int
        The corpus seed.
    trials : tuple of Eval2021Trial
        The trials, ``trials[i].index == i`` (in 2019 id order).
    asv_trials : tuple of ASVTrial
        The 2021 ASV trials with their conditions, sorted by claimed
        speaker and trial id.
    enrolment : dict
        Enrolled speaker -> tuple of its 2019 enrolment utterance ids.

    Example
    -------
    >>> eval_2019 = Eval2019(
    ...     (CMTrial("LA_0014", "LA_E_1000001", "bonafide", "bonafide"),),
    ...     (), {}, frozenset({"LA_E_1000001"}))
    >>> len(plan_eval_2021(1, eval_2019).trials)
    1
    """

    seed: int
    trials: Tuple[Eval2021Trial, ...]
    asv_trials: Tuple[ASVTrial, ...]
    enrolment: Dict[str, Tuple[str, ...]]

    def cm_trials(self):
        """The 2021 CM trials sorted by trial id.

        Returns
        -------
        list of CMTrial
            One per planned trial.
        """
        return sorted((t.cm for t in self.trials), key=lambda c: c.trial)


def read_eval_2019(root):
    """Reads the 2019 eval protocols and lists of a corpus.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder (holding ``LA/``).

    Returns
    -------
    Eval2019
        The eval CM trials, ASV trials and enrolment, and every 2019 id.

    Raises
    ------
    FileNotFoundError
        When a protocol or list is missing.
    ValueError
        When the eval ASV list names an utterance that is not an eval CM
        trial (naming the file).

    Example
    -------
    >>> from asd_toy_corpus.layout import write_protocols
    >>> from asd_toy_corpus.plan import make_plan
    >>> root = getfixture("tmp_path")
    >>> _ = write_protocols(root, make_plan(1, "small"))
    >>> len(read_eval_2019(root).cm_trials)
    42
    """
    taken = set()
    cm_trials = ()
    for split in ("train",) + ASV_SPLITS:
        trials = read_cm_protocol(cm_protocol_path(root, split))
        taken.update(t.trial for t in trials)
        if split == "eval":
            cm_trials = tuple(sorted(trials, key=lambda t: t.trial))
    enrolment = {}
    for split in ASV_SPLITS:
        for gender in GENDERS:
            lists = read_asv_enrolment(asv_enrolment_path(root, split, gender))
            for speaker, utts in lists.items():
                taken.update(utts)
                if split == "eval":
                    enrolment[speaker] = tuple(utts)
    trials_path = asv_trials_path(root, "eval")
    asv_trials = tuple(read_asv_protocol(trials_path))
    known = {t.trial for t in cm_trials}
    unknown = sorted({t.trial for t in asv_trials} - known)
    if unknown:
        raise ValueError(
            f"{trials_path}: {len(unknown)} test utterances are not eval CM "
            f"trials, e.g. {unknown[0]}"
        )
    return Eval2019(cm_trials, asv_trials, enrolment, frozenset(taken))


def _new_ids(count, taken, rng):
    """Draws distinct ``LA_E_`` ids that are not taken."""
    numbers = rng.choice(ID_NUMBERS, size=count + len(taken), replace=False)
    ids = (f"LA_E_{1_000_000 + int(n)}" for n in numbers)
    return [i for i in ids if i not in taken][:count]


def _deal_codecs(cm_trials, rng):
    """Deals the codecs round-robin over each shuffled (key, attack) group."""
    groups = {}
    for index, trial in enumerate(cm_trials):
        groups.setdefault((trial.key, trial.attack), []).append(index)
    codecs = [None] * len(cm_trials)
    dealt = 0
    for group in sorted(groups):
        for index in rng.permutation(groups[group]):
            codecs[index] = CODECS[dealt % len(CODECS)]
            dealt += 1
    return codecs


def _quota(phase, share, seen, done, room):
    """A cell's systematic-sampling quota, carried over and capped."""
    return min(max(math.floor(phase + share * seen) - done, 0), room)


def _deal_subsets(cm_trials, codecs, rng):
    """Draws trim and subset per (attack, codec) cell."""
    cells = {}
    for index, trial in enumerate(cm_trials):
        cell = (trial.attack, CODECS.index(codecs[index]))
        cells.setdefault(cell, []).append(index)
    trim_phase, progress_phase = rng.random(2)
    conditions = [None] * len(cm_trials)
    seen = seen_notrim = trimmed = progress = 0
    for cell in sorted(cells):
        members = rng.permutation(cells[cell]).tolist()
        keep = 1 if len(members) >= 2 else 0
        seen += len(members)
        n_trim = _quota(
            trim_phase, TRIM_SHARE, seen, trimmed, len(members) - keep
        )
        trimmed += n_trim
        seen_notrim += len(members) - n_trim
        n_progress = _quota(
            progress_phase,
            PROGRESS_SHARE,
            seen_notrim,
            progress,
            len(members) - n_trim - keep,
        )
        progress += n_progress
        for rank, index in enumerate(members):
            if rank < n_trim:
                conditions[index] = ("trim", "hidden")
            elif rank < n_trim + n_progress:
                conditions[index] = ("notrim", "progress")
            else:
                conditions[index] = ("notrim", "eval")
    return conditions


def plan_eval_2021(seed, eval_2019):
    """Plans the 2021 part from the seed and the corpus's 2019 eval split.

    Arguments
    ---------
    seed : int
        The corpus seed.
    eval_2019 : Eval2019
        The 2019 eval split (``read_eval_2019``).

    Returns
    -------
    Eval2021Plan
        The plan; the same arguments always give the same plan.

    Example
    -------
    >>> from asd_toy_corpus.plan import asv_trials, cm_trials, make_plan
    >>> plan = make_plan(1, "small")
    >>> eval_2019 = Eval2019(
    ...     tuple(cm_trials(plan, "eval")), tuple(asv_trials(plan, "eval")),
    ...     {}, frozenset(item.utt_id for item in plan.items))
    >>> plan_2021 = plan_eval_2021(1, eval_2019)
    >>> sorted({t.cm.codec for t in plan_2021.trials}) == sorted(CODECS)
    True
    """
    rng = np.random.default_rng([int(seed), 2021, PLAN_STREAM])
    sources = sorted(eval_2019.cm_trials, key=lambda t: t.trial)
    ids = _new_ids(len(sources), eval_2019.taken_ids, rng)
    codecs = _deal_codecs(sources, rng)
    names = tuple(TRANSMISSIONS)
    transmissions = rng.integers(len(names), size=len(sources))
    conditions = _deal_subsets(sources, codecs, rng)
    trials = []
    for index, source in enumerate(sources):
        trim, subset = conditions[index]
        cm = CMTrial(
            source.speaker,
            ids[index],
            source.attack,
            source.key,
            codecs[index],
            names[transmissions[index]],
            subset,
            trim,
        )
        trials.append(Eval2021Trial(index, source.trial, cm))
    by_source = {t.source: t.cm for t in trials}
    asv_trials = sorted(
        (
            ASVTrial(
                asv.speaker,
                by_source[asv.trial].trial,
                asv.attack,
                asv.key,
                by_source[asv.trial].codec,
                by_source[asv.trial].transmission,
                by_source[asv.trial].subset,
                by_source[asv.trial].trim,
            )
            for asv in eval_2019.asv_trials
        ),
        key=lambda t: (t.speaker, t.trial),
    )
    return Eval2021Plan(
        int(seed), tuple(trials), tuple(asv_trials), dict(eval_2019.enrolment)
    )
