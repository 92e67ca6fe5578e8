"""Samplers SpeechBrain lacks: GE2E speaker batches and active AEG slots.

Authors
 * speechbrain-asd developers
"""

import json
import math
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.logger import get_logger
from torch.utils.data import Sampler

from speechbrain_asd.checks import check_int

logger = get_logger(__name__)


class SpeakerBatchSampler(Sampler):
    """Yields batches of N distinct speakers x M utterances, speaker-major.

    Each batch is a list of ``n_speakers * n_utterances`` dataset indices,
    one block of ``n_utterances`` per speaker, so that
    ``embeddings.view(n_speakers, n_utterances, -1)`` groups them by
    speaker. An epoch visits every utterance of every speaker with at least
    ``min_utterances`` utterances (others are skipped, with a warning). The
    batches depend only on ``(seed, epoch)``: call ``set_epoch`` before each
    epoch (SpeechBrain's ``Brain`` does when ``brain.train_sampler`` is this
    sampler).

    Under DDP each rank takes its own share of the batches, so build the
    ``DataLoader`` yourself (``make_dataloader(dataset,
    batch_sampler=sampler)``) and pass it to ``fit``: ``Brain``'s
    ``make_dataloader`` would split the batches between ranks a second time.

    Arguments
    ---------
    speakers : Sequence
        Speaker label of each dataset item: ``speakers[i]`` is the speaker of
        dataset index ``i``.
    n_speakers : int
        Speakers per batch (N).
    n_utterances : int
        Utterances per speaker in a batch (M).
    seed : int
        Base seed; the epoch's batches depend on ``(seed, epoch)`` only.
    rank : int, optional
        This process's rank; default: ``torch.distributed``'s rank when it
        is initialised, else 0.
    world_size : int, optional
        Number of processes; default: ``torch.distributed``'s world size
        when it is initialised, else 1.
    min_utterances : int
        Speakers with fewer utterances are skipped (at least 1, at most
        ``n_utterances``). Default 2: GE2E compares each utterance with the
        centroid of the speaker's other utterances.

    Example
    -------
    >>> speakers = ["a", "a", "a", "b", "b", "b", "c", "c", "c"]
    >>> sampler = SpeakerBatchSampler(speakers, n_speakers=2, n_utterances=3)
    >>> len(sampler)
    2
    >>> sampler.set_epoch(0)
    >>> batches = list(sampler)
    >>> [len(batch) for batch in batches]
    [6, 6]
    >>> sorted({speakers[i] for batch in batches for i in batch})
    ['a', 'b', 'c']
    """

    def __init__(
        self,
        speakers: Sequence,
        n_speakers: int,
        n_utterances: int,
        seed: int = 0,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        min_utterances: int = 2,
    ):
        """Groups the items by speaker and sizes the epoch."""
        n_speakers = check_int("n_speakers", n_speakers, minimum=1)
        n_utterances = check_int("n_utterances", n_utterances, minimum=1)
        seed = check_int("seed", seed, minimum=0)
        min_utterances = check_int("min_utterances", min_utterances, minimum=1)
        if min_utterances > n_utterances:
            raise ValueError(
                f"min_utterances={min_utterances} must not exceed "
                f"n_utterances={n_utterances}"
            )
        self.n_speakers = n_speakers
        self.n_utterances = n_utterances
        self.seed = seed
        self.min_utterances = min_utterances
        self.rank, self.world_size = _resolve_ddp(rank, world_size)
        self.epoch = 0

        groups: Dict = {}
        for index, speaker in enumerate(speakers):
            groups.setdefault(speaker, []).append(index)
        skipped = sorted(
            (s for s, items in groups.items() if len(items) < min_utterances),
            key=str,
        )
        if skipped:
            logger.warning(
                "SpeakerBatchSampler skips %d speaker(s) with fewer than %d "
                "utterances: %s",
                len(skipped),
                min_utterances,
                ", ".join(str(s) for s in skipped[:10])
                + (", ..." if len(skipped) > 10 else ""),
            )
        self.speakers = sorted(
            (s for s in groups if len(groups[s]) >= min_utterances), key=str
        )
        if n_speakers > len(self.speakers):
            raise ValueError(
                f"n_speakers={n_speakers} exceeds the {len(self.speakers)} "
                f"speaker(s) with at least {min_utterances} utterances "
                f"(of {len(groups)} speaker(s) in {len(speakers)} items)"
            )
        self._indices = [np.asarray(groups[s]) for s in self.speakers]
        self._blocks = np.array(
            [math.ceil(len(ix) / n_utterances) for ix in self._indices]
        )
        self._n_core = max(
            math.ceil(int(self._blocks.sum()) / n_speakers),
            int(self._blocks.max()),
        )
        self._n_per_rank = math.ceil(self._n_core / self.world_size)

    @classmethod
    def from_dataset(
        cls, dataset, n_speakers: int, n_utterances: int, key="spk_id", **kw
    ):
        """Builds the sampler from a dataset's static speaker labels.

        The labels are read from ``dataset.data`` in the order of
        ``dataset.data_ids``, without loading any audio, so ``key`` must be a
        static column, not a dynamic item.

        Arguments
        ---------
        dataset : speechbrain.dataio.dataset.DynamicItemDataset
            The dataset the batches index into (filtered-sorted views too).
        n_speakers : int
            Speakers per batch (N).
        n_utterances : int
            Utterances per speaker in a batch (M).
        key : str
            The column holding the speaker label.
        **kw : dict
            Further arguments of ``SpeakerBatchSampler``.

        Returns
        -------
        sampler : SpeakerBatchSampler
            The sampler over the dataset's indices.

        Example
        -------
        >>> from speechbrain.dataio.dataset import DynamicItemDataset
        >>> data = {f"u{i}": {"spk_id": f"s{i % 3}"} for i in range(9)}
        >>> dataset = DynamicItemDataset(data)
        >>> sampler = SpeakerBatchSampler.from_dataset(dataset, 3, 2)
        >>> sampler.speakers
        ['s0', 's1', 's2']
        """
        labels = []
        for data_id in dataset.data_ids:
            row = dataset.data[data_id]
            if key not in row:
                raise ValueError(
                    f"dataset item {data_id!r} has no column {key!r} "
                    f"(columns: {', '.join(sorted(row))})"
                )
            labels.append(row[key])
        return cls(labels, n_speakers, n_utterances, **kw)

    def set_epoch(self, epoch: int):
        """Sets the epoch whose batches the next iteration yields.

        Arguments
        ---------
        epoch : int
            The epoch number (any non-negative integer).

        Example
        -------
        >>> sampler = SpeakerBatchSampler(["a", "a", "b", "b"], 2, 2)
        >>> sampler.set_epoch(3)
        >>> sampler.epoch
        3
        """
        self.epoch = check_int("epoch", epoch, minimum=0)

    def __len__(self) -> int:
        """Number of batches this rank yields per epoch."""
        return self._n_per_rank

    def __iter__(self) -> Iterator[List[int]]:
        """Iterates over this rank's batches of the current epoch."""
        batches = self._epoch_batches()
        return iter(batches[self.rank :: self.world_size])

    def _epoch_batches(self) -> List[List[int]]:
        """Builds all ranks' batches of the current epoch, padding included."""
        rng = np.random.default_rng([self.seed, self.epoch])
        n_spk = len(self.speakers)
        blocks = [self._speaker_blocks(ix, rng) for ix in self._indices]
        left = self._blocks.copy()
        core = []
        for _ in range(self._n_core):
            order = np.lexsort((rng.random(n_spk), -left))
            batch = []
            for s in rng.permutation(order[: self.n_speakers]):
                if left[s] > 0:
                    left[s] -= 1
                    batch.append(blocks[s][left[s]])
                else:
                    batch.append(self._draw_block(self._indices[s], rng))
            core.append(batch)
        batches = [core[i] for i in rng.permutation(len(core))]
        for _ in range(self._n_per_rank * self.world_size - self._n_core):
            chosen = rng.choice(n_spk, self.n_speakers, replace=False)
            batches.append(
                [self._draw_block(self._indices[s], rng) for s in chosen]
            )
        return [np.concatenate(batch).tolist() for batch in batches]

    def _speaker_blocks(self, indices, rng) -> List[np.ndarray]:
        """Cuts one speaker's shuffled utterances into blocks of M."""
        m = self.n_utterances
        order = rng.permutation(indices)
        if len(order) < m:
            return [self._draw_block(order, rng)]
        n_full = len(order) // m
        blocks = [order[i * m : (i + 1) * m] for i in range(n_full)]
        rest = order[n_full * m :]
        if len(rest):
            fill = rng.choice(order[: n_full * m], m - len(rest), replace=False)
            blocks.append(np.concatenate([rest, fill]))
        return blocks

    def _draw_block(self, indices, rng) -> np.ndarray:
        """Draws one random block of M utterances of one speaker."""
        m = self.n_utterances
        if len(indices) >= m:
            return rng.choice(indices, m, replace=False)
        extra = rng.choice(indices, m - len(indices), replace=True)
        return np.concatenate([rng.permutation(indices), extra])


@register_checkpoint_hooks
class SlotSampler(Sampler):
    """Shuffles the fixed items of a dataset plus the slots switched on.

    The dataset holds ``n_fixed`` items that every epoch uses, followed by
    one slot per optional item (one per adversarial pair of active AEG).
    ``switch_on`` names the slots of an epoch; the sampler then yields a
    permutation of the fixed items and those slots, seeded by
    ``(seed, epoch)``. The slots and their epoch are saved in checkpoints,
    so a run resumed inside an epoch finds them (``prepared_for``). Under
    DDP, build the DataLoader with this sampler yourself, as for
    ``SpeakerBatchSampler``.

    Arguments
    ---------
    n_fixed : int
        Number of items always used (dataset indices ``0 .. n_fixed - 1``).
    slot_ids : list of str
        IDs of the slots, in dataset order (indices ``n_fixed ..``).
    seed : int
        Seed of the permutations.
    rank : int, optional
        This process's rank (default: from torch.distributed, else 0).
    world_size : int, optional
        Number of processes (default: from torch.distributed, else 1).

    Example
    -------
    >>> sampler = SlotSampler(3, ["adv_a", "adv_b"], seed=0)
    >>> sampler.switch_on(["adv_b"], epoch=1)
    >>> sampler.set_epoch(1)
    >>> sorted(sampler), len(sampler), sampler.prepared_for(1)
    ([0, 1, 2, 4], 4, True)
    """

    def __init__(self, n_fixed, slot_ids, seed=0, rank=None, world_size=None):
        """Stores the layout; no slot is on until ``switch_on``."""
        self.rank, self.world_size = _resolve_ddp(rank, world_size)
        self.n_fixed = check_int("n_fixed", n_fixed, minimum=0)
        self.slot_index = {
            slot: self.n_fixed + i for i, slot in enumerate(slot_ids)
        }
        if len(self.slot_index) != len(slot_ids):
            raise ValueError("slot_ids repeat")
        self.seed = int(seed)
        self.epoch = 0
        self.prepared_epoch = None
        self.active = []

    def switch_on(self, slot_ids, epoch):
        """Sets the slots used in an epoch.

        Arguments
        ---------
        slot_ids : iterable of str
            IDs of the slots to use (others are off).
        epoch : int
            The epoch they were prepared for.
        """
        unknown = sorted(set(slot_ids) - set(self.slot_index))
        if unknown:
            raise ValueError(f"unknown slot IDs: {unknown[:5]}")
        self.active = sorted(set(slot_ids))
        self.prepared_epoch = int(epoch)

    def prepared_for(self, epoch):
        """Tells whether the slots were switched on for this epoch.

        Arguments
        ---------
        epoch : int
            The epoch about to run.

        Returns
        -------
        bool
            True when ``switch_on`` was called (or recovered) for it.
        """
        return self.prepared_epoch == epoch

    def set_epoch(self, epoch):
        """Sets the epoch of the next permutation.

        Arguments
        ---------
        epoch : int
            Epoch number.
        """
        self.epoch = int(epoch)

    def _indices(self):
        """All ranks' indices of the current epoch, shuffled and padded."""
        pool = list(range(self.n_fixed))
        pool += [self.slot_index[slot] for slot in self.active]
        rng = np.random.default_rng([self.seed, self.epoch])
        order = [pool[i] for i in rng.permutation(len(pool))]
        padding = (-len(order)) % self.world_size
        return order + order[:padding]

    def __iter__(self):
        """Iterates over this rank's dataset indices of the epoch."""
        return iter(self._indices()[self.rank :: self.world_size])

    def __len__(self):
        """Number of indices this rank yields in the epoch."""
        return math.ceil((self.n_fixed + len(self.active)) / self.world_size)

    @mark_as_saver
    def _save(self, path):
        """Saves the switched-on slots and their epoch (checkpoint hook)."""
        state = {"prepared_epoch": self.prepared_epoch, "active": self.active}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(state, handle)

    @mark_as_loader
    def _recover(self, path, end_of_epoch):
        """Restores the switched-on slots and their epoch (checkpoint hook)."""
        del end_of_epoch
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
        self.prepared_epoch = state["prepared_epoch"]
        self.active = [s for s in state["active"] if s in self.slot_index]


def _resolve_ddp(rank, world_size):
    """Rank and world size, from torch.distributed when not given."""
    initialised = (
        torch.distributed.is_available() and torch.distributed.is_initialized()
    )
    if world_size is None:
        world_size = torch.distributed.get_world_size() if initialised else 1
    if rank is None:
        rank = torch.distributed.get_rank() if initialised else 0
    world_size = check_int("world_size", world_size, minimum=1)
    rank = check_int("rank", rank, minimum=0)
    if rank >= world_size:
        raise ValueError(f"rank={rank} must be < world_size={world_size}")
    return rank, world_size
