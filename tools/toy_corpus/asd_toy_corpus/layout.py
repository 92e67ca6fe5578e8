"""The ASVspoof 2019 LA and 2021 LA eval folder layouts and their protocols.

Under the corpus folder, the ASVspoof 2019 LA part::

    LA/ASVspoof2019_LA_{train,dev,eval}/flac/LA_{T,D,E}_xxxxxxx.flac
    LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.train.trn.txt
    LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{dev,eval}.trl.txt
    LA/ASVspoof2019_LA_asv_protocols/ASVspoof2019.LA.asv.{dev,eval}.{female,male}.trn.txt
    LA/ASVspoof2019_LA_asv_protocols/ASVspoof2019.LA.asv.{dev,eval}.gi.trl.txt

and the ASVspoof 2021 LA-style eval part, made from the 2019 eval split
(``plan_2021``), as the organisers lay out the 2021 data and its keys::

    ASVspoof2021_LA_eval/flac/LA_E_xxxxxxx.flac
    ASVspoof2021_LA_eval/ASVspoof2021.LA.cm.eval.trl.txt
    keys/LA/CM/trial_metadata.txt
    keys/LA/ASV/trial_metadata.txt
    keys/LA/ASV/ASVTorch_Kaldi/score.txt

The 2021 trial list has one column (the trial ids); both
``trial_metadata.txt`` have 8 columns (speaker or claimed speaker, trial,
codec, transmission, attack or source, key, trim, subset); ``score.txt``
(``SPEAKER TRIAL SCORE``) scores line ``i`` of the ASV metadata on its line
``i``. Those ASV scores come from the generator's toy ASV system
(``toy_asv``), not from the organisers' system. The 2019 part has no ASV
score files (scores for it come from a speaker encoder run on its ASV trial
lists).

All protocol files are written with the writers of
``speechbrain_asd.scorefiles``.

Authors
 * speechbrain-asd developers
"""

import os

from asd_toy_corpus.plan import (
    asv_enrolment,
    asv_trials,
    cm_trials,
)
from speechbrain_asd.scorefiles import (
    write_asv_enrolment,
    write_asv_protocol,
    write_asv_score_list,
    write_asv_trial_metadata,
    write_cm_protocol,
    write_trial_list,
    write_trial_metadata,
)

LA = "LA"
EVAL_2021 = "ASVspoof2021_LA_eval"
KEYS = "keys"
CM_PROTOCOLS = "ASVspoof2019_LA_cm_protocols"
ASV_PROTOCOLS = "ASVspoof2019_LA_asv_protocols"
ASV_SPLITS = ("dev", "eval")
GENDERS = ("female", "male")


def audio_path(root, split, utt_id):
    """Path of an ASVspoof 2019 LA audio file.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder (holding ``LA/``).
    split : str
        ``"train"``, ``"dev"`` or ``"eval"``.
    utt_id : str
        The utterance id.

    Returns
    -------
    str
        ``root/LA/ASVspoof2019_LA_<split>/flac/<utt_id>.flac``.

    Example
    -------
    >>> audio_path("/c", "eval", "LA_E_1000001")
    '/c/LA/ASVspoof2019_LA_eval/flac/LA_E_1000001.flac'
    """
    return os.path.join(
        os.fspath(root),
        LA,
        f"ASVspoof2019_LA_{split}",
        "flac",
        f"{utt_id}.flac",
    )


def cm_protocol_path(root, split):
    """Path of the CM protocol of a split.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder (holding ``LA/``).
    split : str
        ``"train"``, ``"dev"`` or ``"eval"``.

    Returns
    -------
    str
        The protocol path.

    Example
    -------
    >>> cm_protocol_path("/c", "train")
    '/c/LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.train.trn.txt'
    """
    kind = "trn" if split == "train" else "trl"
    name = f"ASVspoof2019.LA.cm.{split}.{kind}.txt"
    return os.path.join(os.fspath(root), LA, CM_PROTOCOLS, name)


def asv_enrolment_path(root, split, gender):
    """Path of an ASV enrolment list.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder.
    split : str
        ``"dev"`` or ``"eval"``.
    gender : str
        ``"female"`` or ``"male"``.

    Returns
    -------
    str
        The list's path.

    Example
    -------
    >>> os.path.basename(asv_enrolment_path("/c", "dev", "male"))
    'ASVspoof2019.LA.asv.dev.male.trn.txt'
    """
    name = f"ASVspoof2019.LA.asv.{split}.{gender}.trn.txt"
    return os.path.join(os.fspath(root), LA, ASV_PROTOCOLS, name)


def asv_trials_path(root, split):
    """Path of the gender-independent ASV trial list of a split.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder.
    split : str
        ``"dev"`` or ``"eval"``.

    Returns
    -------
    str
        The list's path.

    Example
    -------
    >>> os.path.basename(asv_trials_path("/c", "eval"))
    'ASVspoof2019.LA.asv.eval.gi.trl.txt'
    """
    name = f"ASVspoof2019.LA.asv.{split}.gi.trl.txt"
    return os.path.join(os.fspath(root), LA, ASV_PROTOCOLS, name)


def write_protocols(root, plan):
    """Writes the CM protocols and ASV lists of a planned corpus.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder.
    plan : CorpusPlan
        The plan whose trials to write.

    Returns
    -------
    list of str
        The files written.

    Example
    -------
    >>> from asd_toy_corpus.plan import make_plan
    >>> root = getfixture("tmp_path")
    >>> files = write_protocols(root, make_plan(1, "small"))
    >>> len(files)
    9
    """
    written = []
    for split in ("train",) + ASV_SPLITS:
        path = cm_protocol_path(root, split)
        write_cm_protocol(path, cm_trials(plan, split))
        written.append(path)
    for split in ASV_SPLITS:
        enrolment = asv_enrolment(plan, split)
        for gender in GENDERS:
            path = asv_enrolment_path(root, split, gender)
            write_asv_enrolment(path, enrolment[gender])
            written.append(path)
        path = asv_trials_path(root, split)
        write_asv_protocol(path, asv_trials(plan, split))
        written.append(path)
    return written


def audio_path_2021(root, trial_id):
    """Path of an ASVspoof 2021 LA eval audio file.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder.
    trial_id : str
        The 2021 trial id.

    Returns
    -------
    str
        ``root/ASVspoof2021_LA_eval/flac/<trial_id>.flac``.

    Example
    -------
    >>> audio_path_2021("/c", "LA_E_7000001")
    '/c/ASVspoof2021_LA_eval/flac/LA_E_7000001.flac'
    """
    return os.path.join(os.fspath(root), EVAL_2021, "flac", f"{trial_id}.flac")


def trial_list_2021_path(root):
    """Path of the one-column 2021 CM trial list.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder.

    Returns
    -------
    str
        The list's path.

    Example
    -------
    >>> trial_list_2021_path("/c")
    '/c/ASVspoof2021_LA_eval/ASVspoof2021.LA.cm.eval.trl.txt'
    """
    return os.path.join(
        os.fspath(root), EVAL_2021, "ASVspoof2021.LA.cm.eval.trl.txt"
    )


def cm_metadata_2021_path(root):
    """Path of the 2021 CM keys (``trial_metadata.txt``, 8 columns).

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder.

    Returns
    -------
    str
        The file's path.

    Example
    -------
    >>> cm_metadata_2021_path("/c")
    '/c/keys/LA/CM/trial_metadata.txt'
    """
    return os.path.join(os.fspath(root), KEYS, LA, "CM", "trial_metadata.txt")


def asv_metadata_2021_path(root):
    """Path of the 2021 ASV keys (``trial_metadata.txt``, 8 columns).

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder.

    Returns
    -------
    str
        The file's path.

    Example
    -------
    >>> asv_metadata_2021_path("/c")
    '/c/keys/LA/ASV/trial_metadata.txt'
    """
    return os.path.join(os.fspath(root), KEYS, LA, "ASV", "trial_metadata.txt")


def asv_scores_2021_path(root):
    """Path of the 2021 ASV score file (``SPEAKER TRIAL SCORE``).

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder.

    Returns
    -------
    str
        The file's path.

    Example
    -------
    >>> asv_scores_2021_path("/c")
    '/c/keys/LA/ASV/ASVTorch_Kaldi/score.txt'
    """
    return os.path.join(
        os.fspath(root), KEYS, LA, "ASV", "ASVTorch_Kaldi", "score.txt"
    )


def write_protocols_2021(root, plan, asv_scores):
    """Writes the 2021 trial list, CM and ASV keys and ASV scores.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder.
    plan : Eval2021Plan
        The 2021 part's plan.
    asv_scores : sequence of float
        The score of each of ``plan.asv_trials``, in order.

    Returns
    -------
    list of str
        The files written.

    Raises
    ------
    ValueError
        When there is not one score per ASV trial.

    Example
    -------
    >>> from asd_toy_corpus.plan import make_plan
    >>> from asd_toy_corpus.plan_2021 import plan_eval_2021, read_eval_2019
    >>> root = getfixture("tmp_path")
    >>> _ = write_protocols(root, make_plan(1, "small"))
    >>> plan = plan_eval_2021(1, read_eval_2019(root))
    >>> scores = [0.0] * len(plan.asv_trials)
    >>> files = write_protocols_2021(root, plan, scores)
    >>> os.path.relpath(files[-1], root)
    'keys/LA/ASV/ASVTorch_Kaldi/score.txt'
    """
    if len(asv_scores) != len(plan.asv_trials):
        raise ValueError(
            f"{len(asv_scores)} ASV scores for {len(plan.asv_trials)} ASV "
            "trials"
        )
    cm_trials = plan.cm_trials()
    written = [
        trial_list_2021_path(root),
        cm_metadata_2021_path(root),
        asv_metadata_2021_path(root),
        asv_scores_2021_path(root),
    ]
    write_trial_list(written[0], [t.trial for t in cm_trials])
    write_trial_metadata(written[1], cm_trials)
    write_asv_trial_metadata(written[2], plan.asv_trials)
    write_asv_score_list(
        written[3],
        [
            (trial.speaker, trial.trial, score)
            for trial, score in zip(plan.asv_trials, asv_scores)
        ],
    )
    return written
