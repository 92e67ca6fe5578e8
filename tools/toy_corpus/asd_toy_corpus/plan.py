"""What the toy corpus holds: sizes, speakers, utterance roles and trial lists.

The plan is built from the seed alone, before any audio is made: it decides
which source utterance becomes which file, in which split, as bona fide,
as the source of which attack, or as an ASV enrolment utterance. Rules:

- splits are speaker-disjoint (the split of each speaker is fixed in the
  catalogue of ``sources``);
- in every split, the source utterances of spoofs are disjoint from the bona
  fide and enrolment utterances: bona fide trials are never vocoded;
- bona fide trials are dealt evenly over a split's speakers: each gets the
  same count unless its pool is too small (at most half of the utterances
  it has left after enrolment, so it keeps as many spoof sources) or the
  split's ``max_share`` of bona fide trials is reached;
- the spoofs of a split are made from the utterances of its own speakers,
  in proportion to their bona fide counts;
- every split holds every attack it declares, exactly ``per_attack`` times
  (attacks dealt over the spoofs in random permutations, so each speaker
  gets them in near-equal numbers);
- every train speaker has at least ``MIN_TRAIN_UTTERANCES`` utterances;
- utterance ids are random distinct 7-digit numbers (``LA_T_1234567``), so
  neither ids nor protocol order reveal the class.

Authors
 * speechbrain-asd developers
"""

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from asd_toy_corpus.sources import (
    SPEAKERS,
    UtteranceRef,
    list_utterances,
)
from asd_toy_corpus.systems import SEEN_ATTACKS, UNSEEN_ATTACKS
from speechbrain_asd.scorefiles import ASVTrial, CMTrial

SPLITS = ("train", "dev", "eval")
SPLIT_LETTER = {"train": "T", "dev": "D", "eval": "E"}
SPLIT_ATTACKS = {
    "train": SEEN_ATTACKS,
    "dev": SEEN_ATTACKS,
    "eval": SEEN_ATTACKS + UNSEEN_ATTACKS,
}
MIN_TRAIN_UTTERANCES = 10
ENROLMENT_FEW = 2
MANY_UTTERANCES = 20


@dataclass(frozen=True)
class SplitSize:
    """How many files one split holds.

    Arguments
    ---------
    bonafide : int
        Bona fide trials of the CM protocol.
    per_attack : int
        Spoofed trials per attack.
    enrolment : int
        ASV enrolment utterances per speaker with many utterances (speakers
        with few get ``ENROLMENT_FEW``; 0 for train, which has no ASV
        lists).
    max_share : float
        Largest fraction of the bona fide trials one speaker may have.

    Example
    -------
    >>> SplitSize(60, 30, 5, 0.25).max_share
    0.25
    """

    bonafide: int
    per_attack: int
    enrolment: int
    max_share: float


@dataclass(frozen=True)
class CorpusSize:
    """A named corpus size.

    Arguments
    ---------
    name : str
        ``"small"`` or ``"default"``.
    splits : dict
        Split name -> SplitSize.
    noises : int
        Files of the noise set.
    rirs : int
        Files of the room impulse response set.

    Example
    -------
    >>> SIZES["small"].splits["train"].bonafide
    27
    """

    name: str
    splits: Dict[str, SplitSize]
    noises: int
    rirs: int


SIZES = {
    "small": CorpusSize(
        "small",
        {
            "train": SplitSize(27, 12, 0, 0.5),
            "dev": SplitSize(8, 4, 3, 0.3),
            "eval": SplitSize(10, 4, 3, 0.25),
        },
        noises=5,
        rirs=3,
    ),
    "default": CorpusSize(
        "default",
        {
            "train": SplitSize(200, 100, 0, 0.5),
            "dev": SplitSize(120, 80, 5, 0.35),
            "eval": SplitSize(300, 150, 5, 0.25),
        },
        noises=30,
        rirs=20,
    ),
}


@dataclass(frozen=True)
class CorpusItem:
    """One audio file of the corpus and how to make it.

    Arguments
    ---------
    index : int
        Position in the plan; with the seed it seeds the item's generator.
    split : str
        ``"train"``, ``"dev"`` or ``"eval"``.
    utt_id : str
        File id, e.g. ``"LA_D_1234567"``.
    speaker_id : str
        ASVspoof-style speaker id, e.g. ``"LA_0010"``.
    role : str
        ``"bonafide"``, ``"spoof"`` or ``"enrolment"``.
    attack : str
        ``"bonafide"`` or the system id.
    source : UtteranceRef
        The real utterance it is made from.
    language : str
        espeak-ng language of the speaker.

    Example
    -------
    >>> ref = UtteranceRef("alsa", "/x.wav", None, None, 1.4)
    >>> CorpusItem(0, "train", "LA_T_1000000", "LA_0008", "bonafide",
    ...            "bonafide", ref, "en-us").key
    'bonafide'
    """

    index: int
    split: str
    utt_id: str
    speaker_id: str
    role: str
    attack: str
    source: UtteranceRef
    language: str

    @property
    def key(self):
        """The CM key: ``"spoof"`` for spoofs, else ``"bonafide"``.

        Returns
        -------
        str
            The key.

        Example
        -------
        >>> ref = UtteranceRef("alsa", "/x.wav", None, None, 1.4)
        >>> CorpusItem(0, "eval", "LA_E_1000000", "LA_0014", "spoof",
        ...            "A07", ref, "ru").key
        'spoof'
        """
        return "spoof" if self.role == "spoof" else "bonafide"


@dataclass(frozen=True)
class CorpusPlan:
    """Every file of a corpus, with the speakers and attacks of each split.

    Arguments
    ---------
    seed : int
        The seed it was made from.
    size : str
        The size name.
    items : tuple of CorpusItem
        Every audio file, ``items[i].index == i``.
    speakers : tuple of dict
        One dict per speaker: ``id``, ``name``, ``gender``, ``split``,
        ``package``.
    attacks : dict
        Split -> tuple of system ids it holds.

    Example
    -------
    >>> plan = make_plan(1, "small")
    >>> plan.attacks["eval"][-2:]
    ('A07', 'A08')
    """

    seed: int
    size: str
    items: Tuple[CorpusItem, ...]
    speakers: Tuple[dict, ...]
    attacks: Dict[str, Tuple[str, ...]]


def speaker_id(position):
    """ASVspoof-style id of the speaker at a catalogue position.

    Arguments
    ---------
    position : int
        Zero-based position in ``sources.SPEAKERS``.

    Returns
    -------
    str
        ``LA_0001`` for position 0, and so on.

    Example
    -------
    >>> speaker_id(9)
    'LA_0010'
    """
    return f"LA_{position + 1:04d}"


def allocate(total, weights, floors, caps):
    """Splits a total into integers near-proportional to weights.

    Each share lies between its floor and its cap; what a capped share
    cannot take goes to the others (the last units one each to the largest
    remainders, ties to the earlier entries), so the result is
    deterministic.

    Arguments
    ---------
    total : int
        What to split.
    weights : sequence of float
        Positive weights.
    floors : sequence of int
        Minimum of each share.
    caps : sequence of int
        Maximum of each share.

    Returns
    -------
    numpy.ndarray
        Integer shares summing to ``total``.

    Raises
    ------
    ValueError
        When the floors exceed the total or the caps cannot reach it.

    Example
    -------
    >>> allocate(10, [1, 1, 2], [0, 0, 0], [10, 10, 3]).tolist()
    [4, 3, 3]
    """
    weights = np.asarray(weights, dtype=np.float64)
    shares = np.asarray(floors, dtype=np.int64).copy()
    caps = np.asarray(caps, dtype=np.int64)
    if shares.sum() > total or caps.sum() < total or np.any(shares > caps):
        raise ValueError(
            f"cannot split {total} with floors {shares.tolist()} and caps "
            f"{caps.tolist()}"
        )
    remaining = total - int(shares.sum())
    while remaining > 0:
        room = caps - shares
        open_weights = np.where(room > 0, weights, 0.0)
        exact = open_weights / open_weights.sum() * remaining
        add = np.minimum(np.floor(exact).astype(np.int64), room)
        if add.sum() == 0:
            order = np.argsort(-(exact - np.floor(exact)), kind="stable")
            add[order[:remaining]] = 1
        shares += add
        remaining -= int(add.sum())
    return shares


def _enrolment_count(split_size, pool):
    """Number of enrolment utterances of a speaker.

    Arguments
    ---------
    split_size : SplitSize
        The split's size.
    pool : int
        Number of usable utterances of the speaker.

    Returns
    -------
    int
        0 (not enrolled), ``ENROLMENT_FEW`` or ``split_size.enrolment``.
    """
    if split_size.enrolment == 0 or pool < 2 * ENROLMENT_FEW:
        return 0
    if pool < MANY_UTTERANCES:
        return ENROLMENT_FEW
    return split_size.enrolment


def _split_roles(split, split_size, rng):
    """Decides the role of the utterances of one split's speakers.

    Arguments
    ---------
    split : str
        The split.
    split_size : SplitSize
        Its size.
    rng : numpy.random.Generator
        Source of the shuffles and attack permutations.

    Returns
    -------
    list of (int, str, str, UtteranceRef)
        ``(catalogue position, role, attack, source)`` per file, grouped by
        speaker.
    """
    attacks = SPLIT_ATTACKS[split]
    members = [(i, s) for i, s in enumerate(SPEAKERS) if s.split == split]
    pools = []
    for _, spec in members:
        pool = list(list_utterances(spec.name))
        rng.shuffle(pool)
        pools.append(pool)
    sizes = np.array([len(pool) for pool in pools])
    enrol = np.array([_enrolment_count(split_size, n) for n in sizes])
    free = sizes - enrol
    share_cap = int(split_size.max_share * split_size.bonafide)
    bona = allocate(
        split_size.bonafide,
        np.ones(len(members)),
        np.ones(len(members), dtype=int),
        np.minimum(np.maximum(1, free // 2), share_cap),
    )
    floors = MIN_TRAIN_UTTERANCES - bona if split == "train" else 0 * bona
    # Spoofs follow the bona fide counts, so the share of spoofs is about
    # the same for every speaker of the split.
    spoofs = allocate(
        split_size.per_attack * len(attacks),
        bona,
        np.maximum(floors, 0),
        (free - bona) * len(attacks),
    )
    dealt = []
    while len(dealt) < spoofs.sum():
        dealt.extend(rng.permutation(attacks).tolist())
    roles = []
    for (position, _), pool, e, b, c in zip(
        members, pools, enrol, bona, spoofs
    ):
        roles += [(position, "enrolment", "bonafide", r) for r in pool[:e]]
        roles += [
            (position, "bonafide", "bonafide", r) for r in pool[e : e + b]
        ]
        sources = pool[e + b :]
        for j in range(c):
            roles.append(
                (position, "spoof", dealt.pop(0), sources[j % len(sources)])
            )
    return roles


def make_plan(seed, size):
    """Plans every file of a corpus from a seed and a size name.

    Arguments
    ---------
    seed : int
        Non-negative seed.
    size : str
        A key of ``SIZES``.

    Returns
    -------
    CorpusPlan
        The plan; the same arguments always give the same plan.

    Raises
    ------
    ValueError
        For an unknown size or a negative seed.

    Example
    -------
    >>> plan = make_plan(7, "small")
    >>> sum(item.role == "bonafide" for item in plan.items
    ...     if item.split == "train")
    27
    """
    if size not in SIZES:
        raise ValueError(
            f"unknown corpus size {size!r}; choose one of {', '.join(SIZES)}"
        )
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    corpus_size = SIZES[size]
    items = []
    for split_index, split in enumerate(SPLITS):
        rng = np.random.default_rng([int(seed), split_index])
        roles = _split_roles(split, corpus_size.splits[split], rng)
        numbers = rng.choice(9_000_000, size=len(roles), replace=False)
        letter = SPLIT_LETTER[split]
        for (position, role, attack, ref), number in zip(roles, numbers):
            items.append(
                CorpusItem(
                    index=len(items),
                    split=split,
                    utt_id=f"LA_{letter}_{1_000_000 + int(number)}",
                    speaker_id=speaker_id(position),
                    role=role,
                    attack=attack,
                    source=ref,
                    language=SPEAKERS[position].language,
                )
            )
    speakers = tuple(
        {
            "id": speaker_id(position),
            "name": spec.name,
            "gender": spec.gender,
            "split": spec.split,
            "package": spec.package,
        }
        for position, spec in enumerate(SPEAKERS)
    )
    return CorpusPlan(int(seed), size, tuple(items), speakers, SPLIT_ATTACKS)


def cm_trials(plan, split):
    """The CM protocol trials of a split, sorted by utterance id.

    Arguments
    ---------
    plan : CorpusPlan
        The corpus plan.
    split : str
        The split.

    Returns
    -------
    list of CMTrial
        Bona fide and spoofed trials (enrolment files are not trials).

    Example
    -------
    >>> trials = cm_trials(make_plan(1, "small"), "dev")
    >>> len(trials), sorted({t.key for t in trials})
    (32, ['bonafide', 'spoof'])
    """
    return sorted(
        (
            CMTrial(item.speaker_id, item.utt_id, item.attack, item.key)
            for item in plan.items
            if item.split == split and item.role != "enrolment"
        ),
        key=lambda trial: trial.trial,
    )


def asv_enrolment(plan, split):
    """The ASV enrolment utterances of a split's speakers, by gender.

    Arguments
    ---------
    plan : CorpusPlan
        The corpus plan.
    split : str
        ``"dev"`` or ``"eval"``.

    Returns
    -------
    dict
        ``{"female": {speaker_id: [utt ids]}, "male": {...}}``.

    Example
    -------
    >>> enrol = asv_enrolment(make_plan(1, "small"), "eval")
    >>> sorted(enrol), len(enrol["female"]["LA_0014"])
    (['female', 'male'], 3)
    """
    genders = {s["id"]: s["gender"] for s in plan.speakers}
    enrolment = {"female": {}, "male": {}}
    for item in plan.items:
        if item.split == split and item.role == "enrolment":
            by_gender = enrolment[genders[item.speaker_id]]
            by_gender.setdefault(item.speaker_id, []).append(item.utt_id)
    for by_gender in enrolment.values():
        for utts in by_gender.values():
            utts.sort()
    return enrolment


def asv_trials(plan, split):
    """The ASV trial list of a split (gender-independent).

    For each enrolled speaker: its bona fide CM trials as targets, the bona
    fide CM trials of every other speaker of the split as nontargets and its
    spoofed CM trials as spoofs.

    Arguments
    ---------
    plan : CorpusPlan
        The corpus plan.
    split : str
        ``"dev"`` or ``"eval"``.

    Returns
    -------
    list of ASVTrial
        Sorted by claimed speaker and utterance id.

    Example
    -------
    >>> trials = asv_trials(make_plan(1, "small"), "dev")
    >>> sorted({t.key for t in trials})
    ['nontarget', 'spoof', 'target']
    """
    enrolled = set()
    for by_gender in asv_enrolment(plan, split).values():
        enrolled.update(by_gender)
    trials = []
    for claimed in sorted(enrolled):
        for trial in cm_trials(plan, split):
            if trial.key == "spoof":
                if trial.speaker == claimed:
                    trials.append(
                        ASVTrial(claimed, trial.trial, trial.attack, "spoof")
                    )
                continue
            key = "target" if trial.speaker == claimed else "nontarget"
            trials.append(ASVTrial(claimed, trial.trial, "bonafide", key))
    return trials
