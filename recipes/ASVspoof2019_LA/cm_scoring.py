"""Scores of a countermeasure on dev/eval: score files, EER and t-DCF.

The Brains collect one bona fide score per utterance (``bonafide_score`` of
the logits: bona fide log-odds, higher = bona fide); this module turns them
into an ASVspoof 4-column score file (``TRIAL ATTACK KEY SCORE``) and into
the numbers the recipe reports: pooled and per-attack EER and min t-DCF in
the 2019 and 2021 forms (``speechbrain_asd.metrics.cm_report``, with the
ASV scores of the same split), plus the EER of bona fide against the
attacks seen in training (A01-A06) and against the other ones, each with
its 95 % bootstrap intervals (trials, and speakers, resampled within each
class: ``speechbrain_asd.bootstrap``).

Authors
 * speechbrain-asd developers
"""

import os

import numpy as np
from asvspoof_stages import read_json, write_json
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.logger import get_logger

from speechbrain_asd.bootstrap import asv_tdcf_constants, bootstrap_metrics
from speechbrain_asd.data.asvspoof import CLASS_NAMES
from speechbrain_asd.metrics import cm_report, seen_unseen_eers
from speechbrain_asd.scorefiles import (
    BONAFIDE,
    CMTrial,
    read_asv_scores,
    write_cm_scores,
)

logger = get_logger(__name__)

SEEN_ATTACKS = tuple(CLASS_NAMES[1:7])


class ScoreCollector:
    """Accumulates the bona fide scores of a pass over a dataset.

    Example
    -------
    >>> import torch
    >>> collector = ScoreCollector()
    >>> collector.append(["a", "b"], torch.tensor([0.5, -1.0]))
    >>> collector.scores
    {'a': 0.5, 'b': -1.0}
    """

    def __init__(self):
        """Starts empty."""
        self.scores = {}

    def append(self, ids, scores):
        """Adds the scores of a batch.

        Arguments
        ---------
        ids : list of str
            Utterance IDs.
        scores : torch.Tensor
            Bona fide scores, shape [batch].
        """
        for utt_id, value in zip(ids, scores.detach().cpu().tolist()):
            self.scores[utt_id] = float(value)


@register_checkpoint_hooks
class DevScores:
    """The dev scores of the last validation, saved with each checkpoint.

    Registered with the Checkpointer, it writes the scores behind a
    checkpoint's dev EER into that checkpoint, so that the final report
    takes the best checkpoint's dev scores from it instead of scoring dev
    again.

    Example
    -------
    >>> dev = DevScores()
    >>> dev.scores = {"a": 0.5, "b": -1.0}
    >>> path = getfixture("tmp_path") / "dev_scores.ckpt"
    >>> dev.save(path)
    >>> DevScores.read(path)
    {'a': 0.5, 'b': -1.0}
    """

    def __init__(self):
        """Starts empty."""
        self.scores = {}

    @mark_as_saver
    def save(self, path):
        """Writes the scores as JSON.

        Arguments
        ---------
        path : str or os.PathLike
            The file in the checkpoint.
        """
        write_json(path, self.scores)

    @mark_as_loader
    def load(self, path, end_of_epoch):
        """Reads the scores of a recovered checkpoint.

        Arguments
        ---------
        path : str or os.PathLike
            The file in the checkpoint.
        end_of_epoch : bool
            Whether the checkpoint was saved at the end of an epoch.
        """
        self.scores = self.read(path)

    @staticmethod
    def read(path):
        """The scores saved in a checkpoint's file.

        Arguments
        ---------
        path : str or os.PathLike
            The file in the checkpoint.

        Returns
        -------
        dict
            ID -> bona fide score.
        """
        return {utt_id: float(s) for utt_id, s in read_json(path).items()}


def load_asv_scores(path, split):
    """Reads the ASV scores used for the t-DCF, or None when absent.

    Arguments
    ---------
    path : str or None
        ASV score file (``<source> <target|nontarget|spoof> <score>``).
    split : str
        ``dev`` or ``eval``, for the message.

    Returns
    -------
    asv : speechbrain_asd.scorefiles.ASVScores or None
        The scores; None (with a warning) when no file is given or found.
    """
    if path is None or not os.path.isfile(path):
        logger.warning(
            "No ASV scores for %s (%s): min t-DCF not computed", split, path
        )
        return None
    asv = read_asv_scores(path)
    for key in ("target", "nontarget", "spoof"):
        if getattr(asv, key).size == 0:
            raise ValueError(f"{path}: no '{key}' ASV score line")
    return asv


def split_scores(scores, rows):
    """Separates bona fide and spoof scores, with the attack of each spoof.

    Arguments
    ---------
    scores : dict
        ID -> bona fide score.
    rows : dict
        ID -> manifest row (``system``, ``key``).

    Returns
    -------
    bonafide : list of float
        Scores of bona fide utterances.
    spoof : list of float
        Scores of spoofed utterances.
    attacks : list of str
        The attack (``system``) of each spoofed utterance.
    """
    missing = sorted(set(rows) - set(scores))
    if missing:
        raise ValueError(f"{len(missing)} utterances unscored: {missing[:5]}")
    bonafide, spoof, attacks = [], [], []
    for utt_id, row in rows.items():
        if row["key"] == BONAFIDE:
            bonafide.append(scores[utt_id])
        else:
            spoof.append(scores[utt_id])
            attacks.append(row["system"])
    return bonafide, spoof, attacks


def cm_results(scores, rows, asv_scores=None):
    """EER and min t-DCF of a set of scores, pooled, per attack, seen/unseen.

    Arguments
    ---------
    scores : dict
        ID -> bona fide score.
    rows : dict
        ID -> manifest row of every scored utterance.
    asv_scores : speechbrain_asd.scorefiles.ASVScores, optional
        ASV scores of the same split, for the t-DCF.

    Returns
    -------
    results : dict
        ``report`` (``cm_report``: pooled and per-attack rows), ``eer``,
        ``min_tdcf_2019``, ``min_tdcf_2021`` (pooled), ``eer_seen`` (bona
        fide vs A01-A06) and ``eer_unseen`` (bona fide vs the other
        attacks); None where a subset is empty.
    """
    bonafide, spoof, attacks = split_scores(scores, rows)
    report = cm_report(bonafide, spoof, attacks, asv_scores)
    results = {
        "eer": report["pooled"]["eer"],
        "min_tdcf_2019": report["pooled"]["min_tdcf_2019"],
        "min_tdcf_2021": report["pooled"]["min_tdcf_2021"],
    }
    results.update(seen_unseen_eers(bonafide, spoof, attacks, SEEN_ATTACKS))
    results["report"] = report
    return results


def cm_intervals(scores, rows, asv_scores=None, n_resamples=1000, seed=0):
    """Bootstrap intervals of the pooled and seen-attack EER and min t-DCFs.

    Trials and speakers (the manifest's ``spk_id``) are resampled within
    each class; the t-DCF constants stay those of the ASV scores.

    Arguments
    ---------
    scores : dict
        ID -> bona fide score.
    rows : dict
        ID -> manifest row (``spk_id``, ``system``, ``key``).
    asv_scores : speechbrain_asd.scorefiles.ASVScores, optional
        ASV scores of the same split, for the t-DCF intervals.
    n_resamples : int
        Resamples per design.
    seed : int
        Seed of the resamples.

    Returns
    -------
    intervals : dict
        ``eer``, ``min_tdcf_2019``, ``min_tdcf_2021`` (pooled, the last two
        only with ASV scores) and ``eer_seen`` (bona fide vs A01-A06, when
        there are such spoofs) -> ``{"value", "trial", "speaker"}`` as
        ``bootstrap_metrics`` gives them.
    """
    bonafide, bonafide_spk, spoof, spoof_spk, seen = [], [], [], [], []
    for utt_id, row in rows.items():
        if row["key"] == BONAFIDE:
            bonafide.append(scores[utt_id])
            bonafide_spk.append(row["spk_id"])
        else:
            spoof.append(scores[utt_id])
            spoof_spk.append(row["spk_id"])
            seen.append(row["system"] in SEEN_ATTACKS)
    constants = None if asv_scores is None else asv_tdcf_constants(asv_scores)
    settings = {"n_resamples": n_resamples, "seed": seed}
    intervals = bootstrap_metrics(
        bonafide, spoof, bonafide_spk, spoof_spk, constants, **settings
    )
    if any(seen):
        seen_spoof = [score for score, s in zip(spoof, seen) if s]
        seen_spk = [spk for spk, s in zip(spoof_spk, seen) if s]
        intervals["eer_seen"] = bootstrap_metrics(
            bonafide, seen_spoof, bonafide_spk, seen_spk, **settings
        )["eer"]
    return intervals


def write_score_file(path, scores, rows):
    """Writes an ASVspoof 4-column CM score file (``TRIAL ATTACK KEY SCORE``).

    Arguments
    ---------
    path : str
        The file to write (atomically).
    scores : dict
        ID -> bona fide score.
    rows : dict
        ID -> manifest row (``spk_id``, ``system``, ``key``).
    """
    trials = {
        utt_id: CMTrial(row["spk_id"], utt_id, row["system"], row["key"])
        for utt_id, row in rows.items()
    }
    write_cm_scores(path, {i: scores[i] for i in rows}, trials)


def operating_point(calibration, bonafide, spoof):
    """Error rates of the calibrated decision on a set of trials.

    Arguments
    ---------
    calibration : speechbrain_asd.calibration.Calibration
        The dev calibration and its threshold.
    bonafide : list of float
        Raw scores of bona fide trials.
    spoof : list of float
        Raw scores of spoofed trials.

    Returns
    -------
    dict
        ``threshold`` (on the LLR) and its ``rule``, ``bonafide_rejected``
        and ``spoof_accepted`` (fractions).
    """
    return {
        "threshold": calibration.threshold,
        "rule": calibration.rule,
        "bonafide_rejected": float(np.mean(~calibration.decide(bonafide))),
        "spoof_accepted": float(np.mean(calibration.decide(spoof))),
    }


def format_operating_point(point, name):
    """One line on a calibrated operating point.

    Arguments
    ---------
    point : dict
        As returned by ``operating_point``.
    name : str
        The set it was measured on.

    Returns
    -------
    str
        The line.
    """
    return (
        f"Calibrated decision on {name} (bona fide when LLR >= "
        f"{point['threshold']:.3f}, rule {point['rule']}): "
        f"{100 * point['bonafide_rejected']:.2f} % of bona fide rejected, "
        f"{100 * point['spoof_accepted']:.2f} % of spoofs accepted"
    )
