"""Tests of the GE2E batch sampler and the active-AEG slot sampler.

Authors
 * speechbrain-asd developers
"""

import logging
import math

import pytest
import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.dataset import DynamicItemDataset

from speechbrain_asd.data.sampler import SlotSampler, SpeakerBatchSampler

# Unbalanced speakers: 12, 7, 5, 4, 3 and 1 utterance(s).
COUNTS = {"s0": 12, "s1": 7, "s2": 5, "s3": 4, "s4": 3, "s5": 1}


def _labels(counts=COUNTS):
    """Speaker labels of a toy dataset, items of each speaker interleaved.

    Arguments
    ---------
    counts : dict
        Utterances per speaker.

    Returns
    -------
    list of str
        ``labels[i]`` is the speaker of dataset index ``i``.
    """
    pending = {s: n for s, n in counts.items()}
    labels = []
    while any(pending.values()):
        for speaker in counts:
            if pending[speaker]:
                labels.append(speaker)
                pending[speaker] -= 1
    return labels


def _epoch(sampler, epoch=0):
    """Returns the batches of one epoch.

    Arguments
    ---------
    sampler : SpeakerBatchSampler
        The sampler.
    epoch : int
        The epoch to draw.

    Returns
    -------
    list of list of int
        The batches.
    """
    sampler.set_epoch(epoch)
    return list(sampler)


def test_batches_are_speaker_major_blocks_of_distinct_speakers():
    """Each batch is N blocks of M indices, one distinct speaker per block."""
    labels = _labels()
    sampler = SpeakerBatchSampler(labels, n_speakers=3, n_utterances=4)
    for batch in _epoch(sampler):
        assert len(batch) == 12
        blocks = [batch[i * 4 : (i + 1) * 4] for i in range(3)]
        owners = [{labels[i] for i in block} for block in blocks]
        assert all(len(owner) == 1 for owner in owners)
        assert len(set.union(*owners)) == 3


def test_every_utterance_of_every_eligible_speaker_is_visited():
    """One epoch covers all utterances of speakers with >= 2 utterances."""
    labels = _labels()
    sampler = SpeakerBatchSampler(labels, n_speakers=2, n_utterances=3)
    eligible = {i for i, s in enumerate(labels) if s != "s5"}
    for epoch in range(3):
        seen = {i for batch in _epoch(sampler, epoch) for i in batch}
        assert seen == eligible


def test_length_is_exact_and_follows_the_block_count():
    """len() matches the batches yielded and max(ceil(B / N), max k)."""
    labels = _labels()
    for n_spk, n_utt in [(2, 3), (3, 4), (5, 2), (4, 12)]:
        sampler = SpeakerBatchSampler(labels, n_spk, n_utt)
        blocks = [math.ceil(n / n_utt) for s, n in COUNTS.items() if n >= 2]
        expected = max(math.ceil(sum(blocks) / n_spk), max(blocks))
        assert len(sampler) == expected
        assert len(_epoch(sampler, 1)) == expected


def test_reproducible_by_seed_and_epoch():
    """Same (seed, epoch) gives the same batches; a new epoch or seed not."""
    labels = _labels()
    first = SpeakerBatchSampler(labels, 2, 3, seed=7)
    second = SpeakerBatchSampler(labels, 2, 3, seed=7)
    other_seed = SpeakerBatchSampler(labels, 2, 3, seed=8)
    assert _epoch(first, 4) == _epoch(second, 4)
    assert _epoch(first, 4) != _epoch(first, 5)
    assert _epoch(first, 4) != _epoch(other_seed, 4)
    assert list(first) == list(first)


def test_speakers_with_fewer_than_m_are_filled_with_replacement(caplog):
    """Short speakers repeat utterances; speakers below 2 are skipped."""
    labels = _labels()
    with caplog.at_level(logging.WARNING):
        sampler = SpeakerBatchSampler(labels, n_speakers=2, n_utterances=5)
    assert "skips 1 speaker(s)" in caplog.text and "s5" in caplog.text
    assert sampler.speakers == ["s0", "s1", "s2", "s3", "s4"]
    short = {s for s, n in COUNTS.items() if 2 <= n < 5}
    for batch in _epoch(sampler):
        for b in range(2):
            block = batch[b * 5 : (b + 1) * 5]
            speaker = labels[block[0]]
            if speaker in short:
                own = {i for i, s in enumerate(labels) if s == speaker}
                assert set(block) == own
            else:
                assert len(set(block)) == 5


def test_min_utterances_one_keeps_single_utterance_speakers():
    """With min_utterances=1 a one-utterance speaker fills its block."""
    labels = _labels()
    sampler = SpeakerBatchSampler(labels, 6, 2, min_utterances=1)
    assert "s5" in sampler.speakers
    only = labels.index("s5")
    blocks = [
        batch[b * 2 : (b + 1) * 2]
        for batch in _epoch(sampler)
        for b in range(6)
    ]
    assert [only, only] in blocks


def test_ddp_ranks_are_disjoint_equal_and_cover_the_single_epoch():
    """Two ranks interleave into the single-process epoch plus padding."""
    labels = _labels()
    single = _epoch(SpeakerBatchSampler(labels, 2, 4, seed=3), 2)
    ranks = [
        _epoch(SpeakerBatchSampler(labels, 2, 4, 3, rank=r, world_size=2), 2)
        for r in range(2)
    ]
    assert len(single) % 2 == 1  # so that one padding batch is needed
    assert len(ranks[0]) == len(ranks[1]) == math.ceil(len(single) / 2)
    merged = [b for pair in zip(*ranks) for b in pair]
    assert merged[: len(single)] == single
    assert len(merged) == len(single) + 1
    assert not {tuple(b) for b in ranks[0]} & {tuple(b) for b in ranks[1]}


def test_rank_and_world_size_come_from_torch_distributed(monkeypatch):
    """Without explicit values, an initialised process group is used."""
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    labels = _labels()
    implicit = SpeakerBatchSampler(labels, 2, 4, seed=3)
    explicit = SpeakerBatchSampler(labels, 2, 4, 3, rank=1, world_size=2)
    assert (implicit.rank, implicit.world_size) == (1, 2)
    assert _epoch(implicit, 1) == _epoch(explicit, 1)


def test_bad_arguments_raise_clear_errors():
    """Impossible or malformed settings fail early with a precise message."""
    labels = _labels()
    with pytest.raises(ValueError, match="n_speakers=6 exceeds the 5"):
        SpeakerBatchSampler(labels, 6, 2)
    with pytest.raises(ValueError, match="n_utterances must be >= 1"):
        SpeakerBatchSampler(labels, 2, 0)
    with pytest.raises(ValueError, match="min_utterances=4 must not exceed"):
        SpeakerBatchSampler(labels, 2, 3, min_utterances=4)
    with pytest.raises(ValueError, match="rank=2 must be < world_size=2"):
        SpeakerBatchSampler(labels, 2, 3, rank=2, world_size=2)
    with pytest.raises(ValueError, match="seed must be an integer"):
        SpeakerBatchSampler(labels, 2, 3, seed=1.5)
    sampler = SpeakerBatchSampler(labels, 2, 3)
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        sampler.set_epoch(-1)


def _toy_dataset():
    """A DynamicItemDataset over the toy labels with a tensor per item.

    Returns
    -------
    DynamicItemDataset
        Items with ``id``, ``spk_id`` and ``signal`` (the item's number).
    """
    data = {
        f"utt{i:02d}": {"spk_id": s, "number": i}
        for i, s in enumerate(_labels())
    }
    dataset = DynamicItemDataset(data)

    def signal(number):
        """Turns the item number into a one-sample tensor.

        Arguments
        ---------
        number : int
            The item's number.

        Returns
        -------
        torch.Tensor
            ``[number]`` as a float tensor.
        """
        return torch.tensor([float(number)])

    dataset.add_dynamic_item(signal, takes="number", provides="signal")
    dataset.set_output_keys(["id", "spk_id", "signal"])
    return dataset


def test_works_as_batch_sampler_of_a_dataloader():
    """A DataLoader yields speaker-major batches from the dataset."""
    dataset = _toy_dataset()
    sampler = SpeakerBatchSampler.from_dataset(dataset, 3, 2, seed=1)
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, collate_fn=PaddedBatch
    )
    batches = list(loader)
    assert len(batches) == len(sampler)
    for batch in batches:
        grid = [batch.spk_id[i * 2 : (i + 1) * 2] for i in range(3)]
        assert all(len(set(row)) == 1 for row in grid)
        assert len({row[0] for row in grid}) == 3
        numbers = batch.signal.data.view(3, 2).long().tolist()
        assert [[f"utt{n:02d}" for n in row] for row in numbers] == [
            batch.id[i * 2 : (i + 1) * 2] for i in range(3)
        ]


def test_from_dataset_reads_labels_without_audio_and_checks_the_key():
    """Labels follow data_ids order; a missing column names item and key."""
    dataset = _toy_dataset()
    sampler = SpeakerBatchSampler.from_dataset(dataset, 2, 2)
    assert sampler.speakers == ["s0", "s1", "s2", "s3", "s4"]
    with pytest.raises(ValueError, match="item 'utt00' has no column 'spk'"):
        SpeakerBatchSampler.from_dataset(dataset, 2, 2, key="spk")


def test_slot_sampler_draws_fixed_items_and_switched_on_slots(tmp_path):
    """An epoch holds the fixed items plus the slots on; state round-trips."""
    sampler = SlotSampler(4, ["a", "b", "c"], seed=1)
    sampler.switch_on(["c", "a"], epoch=2)
    sampler.set_epoch(2)
    indices = list(sampler)
    assert sorted(indices) == [0, 1, 2, 3, 4, 6] and len(sampler) == 6
    assert indices == list(sampler)
    sampler.set_epoch(3)
    assert sorted(sampler) == sorted(indices) and list(sampler) != indices
    sampler._save(tmp_path / "state.json")
    restored = SlotSampler(4, ["a", "b", "c"], seed=1)
    restored._recover(tmp_path / "state.json", end_of_epoch=False)
    assert restored.prepared_for(2) and not restored.prepared_for(3)
    restored.set_epoch(2)
    assert list(restored) == indices
    with pytest.raises(ValueError, match="unknown slot"):
        sampler.switch_on(["z"], epoch=4)


def test_slot_sampler_splits_an_epoch_between_ranks():
    """Two ranks get disjoint halves that cover the epoch (padded)."""
    ranks = [
        SlotSampler(5, ["s"], seed=0, rank=r, world_size=2) for r in (0, 1)
    ]
    for sampler in ranks:
        sampler.switch_on(["s"], epoch=1)
        sampler.set_epoch(1)
    parts = [list(sampler) for sampler in ranks]
    assert len(parts[0]) == len(parts[1]) == 3
    assert set(parts[0]) | set(parts[1]) == set(range(6))


def test_slot_sampler_rejects_a_bad_layout():
    """Repeated slot IDs and a rank outside the world are refused."""
    with pytest.raises(ValueError, match="slot_ids repeat"):
        SlotSampler(2, ["a", "a"])
    with pytest.raises(ValueError, match="rank=2 must be < world_size=2"):
        SlotSampler(2, ["a"], rank=2, world_size=2)
