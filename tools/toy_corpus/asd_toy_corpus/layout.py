"""The ASVspoof 2019 LA folder layout and its protocol files.

Under the corpus folder::

    LA/ASVspoof2019_LA_{train,dev,eval}/flac/LA_{T,D,E}_xxxxxxx.flac
    LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.train.trn.txt
    LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{dev,eval}.trl.txt
    LA/ASVspoof2019_LA_asv_protocols/ASVspoof2019.LA.asv.{dev,eval}.{female,male}.trn.txt
    LA/ASVspoof2019_LA_asv_protocols/ASVspoof2019.LA.asv.{dev,eval}.gi.trl.txt

All protocol files are written with the writers of
``speechbrain_asd.scorefiles``.
The organisers' ASV score files are not generated (there is no ASV system
here); ASV scores come from a speaker encoder run on the ASV trial lists.

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
    write_cm_protocol,
)

LA = "LA"
CM_PROTOCOLS = "ASVspoof2019_LA_cm_protocols"
ASV_PROTOCOLS = "ASVspoof2019_LA_asv_protocols"
ASV_SPLITS = ("dev", "eval")
GENDERS = ("female", "male")


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
