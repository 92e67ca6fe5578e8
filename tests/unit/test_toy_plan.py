"""Unit tests of the toy corpus plan: splits, roles, attacks, ids, ASV lists.

Authors
 * speechbrain-asd developers
"""

import re
from collections import Counter

import numpy as np
import pytest

from speechbrain_asd.data.toy.plan import (
    MIN_TRAIN_UTTERANCES,
    SIZES,
    SPLIT_ATTACKS,
    SPLITS,
    allocate,
    asv_enrolment,
    asv_trials,
    cm_trials,
    make_plan,
)


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
    return make_plan(1234, request.param)


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


def test_plan_is_deterministic_and_seed_dependent():
    """Same seed, same plan; another seed, other ids and sources."""
    assert make_plan(5, "small") == make_plan(5, "small")
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
