"""Speaker-classification data shared by the SEEF-ALDR and speaker-KD stages.

Both train a speaker head over the bona fide utterances of the training
speakers, hold out a share of each speaker's utterances with the same seeded
draw (so a student distilled from the SEEF-ALDR encoder trains on the
utterances its teacher trained on), re-estimate BatchNorm statistics on
training crops and select checkpoints on the dev ASV trials.

Authors
 * speechbrain-asd developers
"""

import math

import numpy as np
import speechbrain as sb
import torch
from asv_scoring import load_asv_lists
from asvspoof_dataio import (
    load_rows,
    make_audio_pipeline,
    make_dataset,
    select_subset,
    sorted_by_duration,
)
from speechbrain.dataio.dataloader import make_dataloader
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)


def split_holdout(rows, fraction, seed):
    """Holds out a share of each speaker's utterances.

    Each speaker keeps ``ceil(fraction * n)`` of its ``n`` utterances
    aside, at most ``n - 1``, drawn by seed.

    Arguments
    ---------
    rows : dict
        ID -> row with ``spk_id``.
    fraction : float
        Share held out, in [0, 1).
    seed : int
        Seed of the draw.

    Returns
    -------
    train : dict
        The rows left to train on.
    holdout : dict
        The held-out rows.

    Example
    -------
    >>> rows = {f"u{i}": {"spk_id": "a" if i < 4 else "b"} for i in range(5)}
    >>> train, held = split_holdout(rows, 0.25, seed=0)
    >>> len(train), len(held)
    (4, 1)
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"holdout_fraction must be in [0, 1), got {fraction}")
    by_speaker = {}
    for utt_id in sorted(rows):
        by_speaker.setdefault(rows[utt_id]["spk_id"], []).append(utt_id)
    rng = np.random.default_rng(seed)
    held = set()
    for speaker in sorted(by_speaker):
        members = by_speaker[speaker]
        count = min(math.ceil(fraction * len(members)), len(members) - 1)
        held.update(members[i] for i in rng.permutation(len(members))[:count])
    train = {k: r for k, r in rows.items() if k not in held}
    return train, {k: r for k, r in rows.items() if k in held}


def speaker_dataset(rows, pipeline, speakers):
    """Dataset of utterances with their speaker index.

    Arguments
    ---------
    rows : dict
        ID -> row with ``wav`` and ``spk_id``.
    pipeline : callable
        From ``make_audio_pipeline``.
    speakers : list of str
        The classes, in index order.

    Returns
    -------
    dataset : speechbrain.dataio.dataset.DynamicItemDataset
        Provides ``id``, ``sig`` and ``spk_index`` (int64, shape [1]).
    """
    index = {speaker: position for position, speaker in enumerate(speakers)}

    @sb.utils.data_pipeline.takes("spk_id")
    @sb.utils.data_pipeline.provides("spk_index")
    def speaker_pipeline(spk_id):
        """The speaker's class index."""
        return torch.LongTensor([index[spk_id]])

    dataset = make_dataset(rows, pipeline, with_labels=False)
    dataset.add_dynamic_item(speaker_pipeline)
    dataset.set_output_keys(["id", "sig", "spk_index"])
    return dataset


def speaker_dataio(
    data_folder,
    train_csv,
    asv_lists,
    *,
    n_speakers,
    seed,
    bonafide_only,
    max_items,
    holdout_fraction,
    sample_rate,
    train_crop,
    eval_max_duration,
    eval_opts,
    bn_items,
    dev_max_trials,
):
    """Builds the training, BatchNorm and held-out data and the ASV lists.

    Arguments
    ---------
    data_folder : str
        The folder ``$data_root`` stands for.
    train_csv : str
        The training manifest.
    asv_lists : dict
        ``dev`` and ``eval``: (enrolment manifest, trial manifest).
    n_speakers : int
        The number of training speakers the heads expect.
    seed : int
        Seed of the subsets and of the held-out draw.
    bonafide_only : bool
        Whether to train on bona fide utterances only.
    max_items : int or None
        Subset of the training utterances; None: all.
    holdout_fraction : float
        Share of each speaker's utterances held out (``split_holdout``).
    sample_rate : int
        Sample rate of the audio, in Hz.
    train_crop : float
        Seconds of the random training crops.
    eval_max_duration : float or None
        Seconds read from the start of held-out files; None: all.
    eval_opts : dict
        Dataloader options of the BatchNorm and held-out loaders.
    bn_items : int or None
        Training crops behind the BatchNorm statistics.
    dev_max_trials : int or None
        Dev target/nontarget trials scored after every epoch; None: all.

    Returns
    -------
    data : dict
        ``speakers`` (the classes), ``train_set``, ``bn_loader``,
        ``holdout_loader`` (None when nothing is held out),
        ``holdout_size`` and ``asv`` (from ``load_asv_lists``).
    """
    rows = load_rows(train_csv, data_folder)
    if bonafide_only:
        rows = {k: r for k, r in rows.items() if r["key"] == "bonafide"}
    rows = select_subset(rows, max_items, "spk_id", seed)
    speakers = sorted({row["spk_id"] for row in rows.values()})
    if len(speakers) != n_speakers:
        raise ValueError(
            f"the training data has {len(speakers)} speakers, "
            f"n_train_speakers is {n_speakers}: pass "
            f"--n_train_speakers={len(speakers)}"
        )
    rows, holdout = split_holdout(rows, holdout_fraction, seed)
    train_pipeline = make_audio_pipeline(sample_rate, train_crop, train=True)
    eval_pipeline = make_audio_pipeline(sample_rate, eval_max_duration)
    bn_rows = select_subset(rows, bn_items, "spk_id", seed)
    data = {
        "speakers": speakers,
        "train_set": speaker_dataset(rows, train_pipeline, speakers),
        "bn_loader": make_dataloader(
            speaker_dataset(bn_rows, train_pipeline, speakers), **eval_opts
        ),
        "holdout_loader": None,
        "holdout_size": len(holdout),
    }
    if holdout:
        data["holdout_loader"] = make_dataloader(
            sorted_by_duration(
                speaker_dataset(holdout, eval_pipeline, speakers)
            ),
            **eval_opts,
        )
    data["asv"] = load_asv_lists(data_folder, asv_lists, dev_max_trials, seed)
    logger.info(
        "%d training speakers: %d utterances to train, %d held out",
        len(speakers),
        len(rows),
        len(holdout),
    )
    return data
