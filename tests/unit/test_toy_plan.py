"""Unit tests of the toy corpus plan: splits, roles, attacks, ids, ASV lists.

Authors
 * speechbrain-asd developers
"""

import re
from collections import Counter

import numpy as np
import pytest

from asd_toy_corpus import plan as plan_module
from asd_toy_corpus.plan import (
    MIN_TRAIN_UTTERANCES,
    SIZES,
    SPLIT_ATTACKS,
    SPLITS,
    CorpusSize,
    SplitSize,
    allocate,
    asv_enrolment,
    asv_trials,
    cm_trials,
    make_plan,
)
from asd_toy_corpus.sources import list_utterances


def _make_plan(seed, size):
    """Plans a corpus, skipping when a speech package is absent.

    Arguments
    ---------
    seed : int
        The seed.
    size : str
        The size name.

    Returns
    -------
    CorpusPlan
        The plan.
    """
    try:
        return make_plan(seed, size)
    except FileNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module", params=["small", "default"])
def plan(request):
    """The plan of each size for one seed.

    Arguments
    ---------
    request : pytest.FixtureRequest
        Gives the size.

    Returns
    -------
    CorpusPlan
        The plan.
    """
    return _make_plan(1234, request.param)


def test_allocate_respects_floors_caps_and_total():
    """Shares sum to the total within floors and caps, near-proportional."""
    shares = allocate(100, [1, 2, 3, 4], [5, 0, 0, 0], [100, 100, 100, 30])
    assert shares.sum() == 100
    assert shares[0] >= 5 and shares[3] <= 30
    assert allocate(60, [1, 2, 3], [0, 0, 0], [60, 60, 60]).tolist() == [
        10,
        20,
        30,
    ]
    with pytest.raises(ValueError, match="cannot split 10"):
        allocate(10, [1, 1], [0, 0], [3, 3])
    with pytest.raises(ValueError, match="cannot split 1"):
        allocate(1, [1, 1], [1, 1], [3, 3])


def test_allocate_deals_equal_weights_evenly():
    """Equal weights: shares differ by at most one, capped ones aside."""
    assert allocate(10, [1, 1, 1, 1], [0] * 4, [10] * 4).tolist() == [
        3,
        3,
        2,
        2,
    ]
    assert allocate(300, [1] * 5, [1] * 5, [55, 75, 75, 75, 75]).tolist() == [
        55,
        62,
        61,
        61,
        61,
    ]


def test_plan_is_deterministic_and_seed_dependent():
    """Same seed, same plan; another seed, other ids and sources."""
    assert _make_plan(5, "small") == make_plan(5, "small")
    other = make_plan(6, "small")
    assert [i.utt_id for i in other.items] != [
        i.utt_id for i in make_plan(5, "small").items
    ]


def test_bad_arguments():
    """Unknown sizes and negative seeds are refused."""
    with pytest.raises(ValueError, match="unknown corpus size 'huge'"):
        make_plan(1, "huge")
    with pytest.raises(ValueError, match="non-negative integer, got -1"):
        make_plan(-1, "small")


def test_sizes(plan):
    """Each split holds the planned bona fide and spoof counts."""
    size = SIZES[plan.size]
    for split in SPLITS:
        trials = cm_trials(plan, split)
        wanted = size.splits[split]
        assert sum(t.key == "bonafide" for t in trials) == wanted.bonafide
        spoofs = [t for t in trials if t.key == "spoof"]
        assert len(spoofs) == wanted.per_attack * len(SPLIT_ATTACKS[split])


def test_attacks_are_balanced_and_unseen_only_in_eval(plan):
    """Every declared attack appears exactly per_attack times."""
    for split in SPLITS:
        counts = Counter(
            t.attack for t in cm_trials(plan, split) if t.key == "spoof"
        )
        assert sorted(counts) == sorted(SPLIT_ATTACKS[split])
        assert set(counts.values()) == {
            SIZES[plan.size].splits[split].per_attack
        }
    assert {"A07", "A08"} <= set(SPLIT_ATTACKS["eval"])
    assert not {"A07", "A08"} & set(
        SPLIT_ATTACKS["train"] + SPLIT_ATTACKS["dev"]
    )


def test_splits_are_speaker_disjoint(plan):
    """No speaker and no source file appears in two splits."""
    speakers = {split: set() for split in SPLITS}
    files = {split: set() for split in SPLITS}
    for item in plan.items:
        speakers[item.split].add(item.speaker_id)
        files[item.split].add(item.source.path)
    for a, b in (("train", "dev"), ("train", "eval"), ("dev", "eval")):
        assert not speakers[a] & speakers[b]
        assert not files[a] & files[b]


def test_bona_fide_utterances_are_never_vocoded(plan):
    """Sources of spoofs are disjoint from bona fide and enrolment sources."""
    spans = {}
    for item in plan.items:
        key = (item.source.path, item.source.start)
        spans.setdefault(key, set()).add(item.role)
    for roles in spans.values():
        assert roles == {"spoof"} or "spoof" not in roles
        assert not {"bonafide", "enrolment"} <= roles


def test_train_speakers_have_enough_utterances(plan):
    """At least 8 train speakers, each with at least 10 utterances."""
    counts = Counter(i.speaker_id for i in plan.items if i.split == "train")
    assert len(counts) >= 8
    assert min(counts.values()) >= MIN_TRAIN_UTTERANCES
    assert len({i.speaker_id for i in plan.items}) >= 12


def test_ids_are_unique_and_well_formed(plan):
    """LA_T_/LA_D_/LA_E_ plus 7 digits, unique; speakers LA_00xx."""
    letters = {"train": "T", "dev": "D", "eval": "E"}
    ids = [item.utt_id for item in plan.items]
    assert len(set(ids)) == len(ids)
    for item in plan.items:
        assert re.fullmatch(rf"LA_{letters[item.split]}_\d{{7}}", item.utt_id)
        assert re.fullmatch(r"LA_00\d\d", item.speaker_id)


def test_ids_do_not_reveal_the_class(plan):
    """Bona fide and spoof ids are drawn from the same range."""
    trials = cm_trials(plan, "train")
    numbers = {
        key: np.array([int(t.trial[5:]) for t in trials if t.key == key])
        for key in ("bonafide", "spoof")
    }
    assert abs(numbers["bonafide"].mean() - numbers["spoof"].mean()) < 1.5e6


def test_asv_lists_are_consistent(plan):
    """Targets are enrolled speakers' bona fide, spoofs their spoofs."""
    for split in ("dev", "eval"):
        enrolment = asv_enrolment(plan, split)
        enrolled = {**enrolment["female"], **enrolment["male"]}
        assert enrolment["female"] and enrolment["male"]
        by_id = {i.utt_id: i for i in plan.items}
        for utts in enrolled.values():
            assert all(by_id[u].role == "enrolment" for u in utts)
        trials = asv_trials(plan, split)
        assert {t.speaker for t in trials} == set(enrolled)
        for trial in trials:
            item = by_id[trial.trial]
            assert item.role != "enrolment"
            if trial.key == "target":
                assert item.speaker_id == trial.speaker
                assert item.role == "bonafide"
            elif trial.key == "nontarget":
                assert item.speaker_id != trial.speaker
                assert item.role == "bonafide"
            else:
                assert item.role == "spoof" and trial.attack == item.attack
                assert item.speaker_id == trial.speaker
        assert Counter(t.key for t in trials).keys() == {
            "target",
            "nontarget",
            "spoof",
        }


def test_default_plan_meets_the_evaluation_targets():
    """The default size meets the sizes the evaluation needs.

    Eval: >= 8 bona fide speakers, none over 25 %, >= 300 bona fide and
    >= 1500 trials; dev: >= 5 speakers, none over 35 %, >= 120 and >= 600;
    train keeps its 200 bona fide and 600 spoofs.
    """
    plan = _make_plan(1234, "default")
    targets = {
        "dev": (5, 0.35, 120, 600),
        "eval": (8, 0.25, 300, 1500),
    }
    for split, (speakers, share, bonafide, trials) in targets.items():
        cm = cm_trials(plan, split)
        bona = Counter(t.speaker for t in cm if t.key == "bonafide")
        assert len(bona) >= speakers
        assert max(bona.values()) <= share * sum(bona.values())
        assert sum(bona.values()) >= bonafide and len(cm) >= trials
    train = Counter(t.key for t in cm_trials(plan, "train"))
    assert train == {"bonafide": 200, "spoof": 600}


def test_bona_fide_is_dealt_evenly(plan):
    """Bona fide trials are dealt evenly; spoofs follow them.

    A speaker gets fewer bona fide trials than the top count minus one only
    when it has no more to give (half its pool left after enrolment); its
    spoofs come from its own utterances, in proportion.
    """
    names = {s["id"]: s["name"] for s in plan.speakers}
    for split in SPLITS:
        items = [i for i in plan.items if i.split == split]
        bona = Counter(i.speaker_id for i in items if i.role == "bonafide")
        enrol = Counter(i.speaker_id for i in items if i.role == "enrolment")
        spoofs = Counter(i.speaker_id for i in items if i.role == "spoof")
        top = max(bona.values())
        for speaker, count in bona.items():
            if count < top - 1:
                pool = len(list_utterances(names[speaker]))
                assert count == max(1, (pool - enrol[speaker]) // 2)
        for item in items:
            assert item.source.speaker == names[item.speaker_id]
        big = [s for s in bona if bona[s] >= 10]
        ratios = [spoofs[s] / bona[s] for s in big]
        assert not ratios or max(ratios) - min(ratios) < 0.5


def test_share_cap_that_cannot_be_met_is_refused(monkeypatch):
    """A max_share too small for the split's speakers raises ValueError."""
    _make_plan(1, "small")
    tight = CorpusSize(
        "tight",
        {
            "train": SplitSize(27, 12, 0, 0.5),
            "dev": SplitSize(8, 4, 3, 0.3),
            "eval": SplitSize(100, 4, 3, 0.05),
        },
        noises=1,
        rirs=1,
    )
    monkeypatch.setitem(plan_module.SIZES, "tight", tight)
    with pytest.raises(ValueError, match="cannot split 100"):
        make_plan(1, "tight")
