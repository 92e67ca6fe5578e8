"""Speaker-verification scoring shared by the GE2E and SEEF-ALDR stages.

A trial scores the cosine between the test embedding and the unit-length
mean of the claimed speaker's unit-length enrolment embeddings; the speaker
EER and minDCF compare bona fide target against nontarget trials. ASV score
files are the ASVspoof 2019 format ``<source> <target|nontarget|spoof>
<score>``.

Authors
 * speechbrain-asd developers
"""

import torch
import torch.nn.functional as F
from asvspoof_dataio import (
    load_rows,
    make_audio_pipeline,
    make_dataset,
    select_subset,
    sorted_by_duration,
)
from speechbrain.utils.logger import get_logger

from speechbrain_asd.metrics import compute_eer, compute_min_dcf, dcf_costs

logger = get_logger(__name__)

ASV_SCORE_FILE = "ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt"
# A common speaker-verification cost: P_target 0.01, C_miss = C_fa = 1.
SV_P_TARGET = 0.01
SV_COSTS = dcf_costs(
    spoof_prior=1 - SV_P_TARGET, miss_cost=1, false_alarm_cost=1
)


def load_asv_lists(data_folder, lists, dev_max_trials, seed):
    """Reads the enrolment and trial lists of dev and eval.

    Arguments
    ---------
    data_folder : str
        The folder ``$data_root`` stands for.
    lists : dict
        Per split (``dev``, ``eval``): the enrolment and trial manifests.
    dev_max_trials : int or None
        How many dev target/nontarget trials to score after every epoch
        (in proportion per key); None: all.
    seed : int
        Seed of that draw.

    Returns
    -------
    asv : dict
        Per split: ``enrol`` and ``trials`` rows; and ``dev_selection``:
        the dev trials scored after every epoch.
    """
    asv = {
        split: {
            "enrol": load_rows(enrol_csv, data_folder),
            "trials": load_rows(trials_csv, data_folder),
        }
        for split, (enrol_csv, trials_csv) in lists.items()
    }
    bona_fide = {
        k: r
        for k, r in asv["dev"]["trials"].items()
        if r["key"] in ("target", "nontarget")
    }
    asv["dev_selection"] = select_subset(bona_fide, dev_max_trials, "key", seed)
    return asv


def enrolment_centroids(embeddings, enrol_rows):
    """Unit-length mean of the unit-length enrolment embeddings per speaker.

    Arguments
    ---------
    embeddings : dict
        Utterance ID -> embedding tensor [D].
    enrol_rows : dict
        Enrolment utterance ID -> row with ``spk_id``.

    Returns
    -------
    centroids : dict
        Speaker -> unit vector [D].
    """
    grouped = {}
    for utt_id, row in enrol_rows.items():
        unit = F.normalize(embeddings[utt_id], dim=0)
        grouped.setdefault(row["spk_id"], []).append(unit)
    return {
        speaker: F.normalize(torch.stack(units).mean(0), dim=0)
        for speaker, units in grouped.items()
    }


def asv_trial_scores(embeddings, enrol_rows, trial_rows):
    """Cosine scores of ASV trials against the claimed speakers' centroids.

    Arguments
    ---------
    embeddings : dict
        Utterance ID -> embedding [D] (enrolment and test utterances).
    enrol_rows : dict
        Enrolment rows (``spk_id``).
    trial_rows : dict
        Trial rows (``trial`` = test utterance, ``spk_id`` = claimed
        speaker, ``system``, ``key``).

    Returns
    -------
    rows : list of (str, str, float)
        ``(source, key, score)`` per trial, as in an ASV score file.
    """
    centroids = enrolment_centroids(embeddings, enrol_rows)
    scored = []
    for row in trial_rows.values():
        if row["spk_id"] not in centroids:
            raise ValueError(
                f"ASV trial of {row['trial']} claims speaker {row['spk_id']}, "
                "who has no enrolment utterance"
            )
        test = F.normalize(embeddings[row["trial"]], dim=0)
        score = float(test @ centroids[row["spk_id"]])
        scored.append((row["system"], row["key"], score))
    return scored


def _target_nontarget(scored):
    """Splits ``(source, key, score)`` rows into target and nontarget scores."""
    target = [score for _, key, score in scored if key == "target"]
    nontarget = [score for _, key, score in scored if key == "nontarget"]
    if not target or not nontarget:
        raise ValueError("the ASV trials need target and nontarget trials")
    return target, nontarget


def speaker_eer(scored):
    """EER of target against nontarget trials.

    Arguments
    ---------
    scored : list of (str, str, float)
        ``(source, key, score)`` per trial.

    Returns
    -------
    eer : float
        The speaker-verification EER (fraction).
    """
    return compute_eer(*_target_nontarget(scored))[0]


def speaker_min_dcf(scored):
    """Normalised minDCF of target against nontarget trials.

    ``P_miss + 99 P_fa`` at its best threshold: the costs ``SV_COSTS``
    (P_target 0.01, C_miss = C_fa = 1), normalised so that accepting or
    rejecting everything costs at least 1.

    Arguments
    ---------
    scored : list of (str, str, float)
        ``(source, key, score)`` per trial.

    Returns
    -------
    float
        minDCF, at most 1.
    """
    return compute_min_dcf(*_target_nontarget(scored), costs=SV_COSTS)


def asv_utterances(enrol_rows, trial_rows):
    """The distinct utterances of enrolment and trial lists.

    Arguments
    ---------
    enrol_rows : dict
        Enrolment rows (``wav``, ``duration``).
    trial_rows : dict
        Trial rows (``trial``, ``wav``, ``duration``).

    Returns
    -------
    rows : dict
        Utterance ID -> ``{"wav", "duration"}``.
    """
    rows = {}
    pairs = [(utt_id, row) for utt_id, row in enrol_rows.items()]
    pairs += [(row["trial"], row) for row in trial_rows.values()]
    for utt_id, row in pairs:
        entry = {"wav": row["wav"], "duration": row["duration"]}
        if rows.setdefault(utt_id, entry)["wav"] != entry["wav"]:
            raise ValueError(f"utterance {utt_id} has two audio files")
    return rows


def asv_dataset(enrol_rows, trial_rows, sample_rate, max_duration):
    """Dataset of the utterances an ASV pass needs, shortest first.

    Arguments
    ---------
    enrol_rows : dict
        Enrolment rows.
    trial_rows : dict
        Trial rows.
    sample_rate : int
        Sample rate of the audio, in Hz.
    max_duration : float or None
        Seconds read from the start of each file; None: all.

    Returns
    -------
    dataset : speechbrain.dataio.dataset.DynamicItemDataset
        Provides ``id`` and ``sig``.
    """
    pipeline = make_audio_pipeline(sample_rate, max_duration)
    rows = asv_utterances(enrol_rows, trial_rows)
    return sorted_by_duration(make_dataset(rows, pipeline, with_labels=False))
