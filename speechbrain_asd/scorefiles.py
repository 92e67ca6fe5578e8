"""Reads and writes ASVspoof protocol and score files, checking every line.

Readers accept any whitespace between columns and blank lines at the end of
a file; any other malformed line raises an error naming ``<file>:<line>``.
Writers check their input the same way and write atomically.

Authors
 * speechbrain-asd developers
"""

import math
import os
from dataclasses import dataclass
from typing import (
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np

from speechbrain_asd.atomic import write_text_atomic
from speechbrain_asd.checks import check_choice

BONAFIDE = "bonafide"
SPOOF = "spoof"
CM_KEYS = (BONAFIDE, SPOOF)
ASV_KEYS = ("target", "nontarget", SPOOF)
NO_SYSTEM = "-"
NO_CONDITION = "-"
"""Codec, transmission, subset or trim of a trial whose protocol has none."""
_MAX_SHOWN = 200
_CONDITIONS = ("codec", "transmission", "trim", "subset")
FilePath = Union[str, "os.PathLike[str]"]


class ProtocolError(ValueError):
    """A protocol or enrolment file (or the data to write in one) is malformed.

    Example
    -------
    >>> raise ProtocolError("p.txt:3: bad key (got: 'a b')")
    Traceback (most recent call last):
    ...
    speechbrain_asd.scorefiles.ProtocolError: p.txt:3: bad key (got: 'a b')
    """


class ScoreFileError(ValueError):
    """A score file (or the scores to write in one) is malformed.

    Example
    -------
    >>> raise ScoreFileError("s.txt:1: bad score (got: 'x nan')")
    Traceback (most recent call last):
    ...
    speechbrain_asd.scorefiles.ScoreFileError: s.txt:1: bad score (got: 'x nan')
    """


@dataclass(frozen=True)
class CMTrial:
    """One trial of a countermeasure protocol.

    Arguments
    ---------
    speaker : str
        Speaker id, e.g. ``"LA_0079"``.
    trial : str
        Trial (utterance) id, e.g. ``"LA_T_1138215"``.
    attack : str
        ``"bonafide"`` for bona fide trials, else the spoofing system id
        (``"A01"`` ... ``"A19"`` or any other id).
    key : str
        ``"bonafide"`` or ``"spoof"``.
    codec : str
        Codec condition (ASVspoof 2021 ``trial_metadata.txt`` only).
    transmission : str
        Transmission condition (ASVspoof 2021 only).
    subset : str
        ``eval``, ``progress`` or ``hidden`` subset (ASVspoof 2021 only).
    trim : str
        Silence trimming condition, e.g. ``notrim`` (ASVspoof 2021 only).

    Example
    -------
    >>> CMTrial("LA_0079", "LA_T_1138215", "bonafide", "bonafide").codec
    '-'
    """

    speaker: str
    trial: str
    attack: str
    key: str
    codec: str = NO_CONDITION
    transmission: str = NO_CONDITION
    subset: str = NO_CONDITION
    trim: str = NO_CONDITION


@dataclass(frozen=True)
class ASVTrial:
    """One trial of an ASV trial list.

    Arguments
    ---------
    speaker : str
        Claimed (enrolled) speaker id.
    trial : str
        Test utterance id.
    attack : str
        ``"bonafide"`` or the spoofing system id.
    key : str
        ``"target"``, ``"nontarget"`` or ``"spoof"``.
    codec : str
        Codec condition (ASVspoof 2021 ``ASV/trial_metadata.txt`` only).
    transmission : str
        Transmission condition (ASVspoof 2021 only).
    subset : str
        ``eval``, ``progress`` or ``hidden`` subset (ASVspoof 2021 only).
    trim : str
        Silence trimming condition (ASVspoof 2021 only).

    Example
    -------
    >>> ASVTrial("LA_0069", "LA_D_7331840", "A05", "spoof").key
    'spoof'
    """

    speaker: str
    trial: str
    attack: str
    key: str
    codec: str = NO_CONDITION
    transmission: str = NO_CONDITION
    subset: str = NO_CONDITION
    trim: str = NO_CONDITION


@dataclass(frozen=True, eq=False)
class ASVScores:
    """ASV scores split by trial key, as read from an ASV score file.

    Arguments
    ---------
    target : numpy.ndarray
        Float scores of bona fide target trials.
    nontarget : numpy.ndarray
        Float scores of bona fide non-target trials.
    spoof : numpy.ndarray
        Float scores of spoofed trials.
    spoof_attacks : numpy.ndarray
        Attack id (str) of each spoof score, same length as ``spoof``.

    Example
    -------
    >>> s = ASVScores(np.array([2.0]), np.array([-1.0]), np.array([0.5]),
    ...               np.array(["A01"]))
    >>> s.spoof_attacks.tolist()
    ['A01']
    """

    target: np.ndarray
    nontarget: np.ndarray
    spoof: np.ndarray
    spoof_attacks: np.ndarray


def _shown(line):
    """Shortens a line for an error message."""
    line = line.rstrip("\r\n")
    if len(line) > _MAX_SHOWN:
        return line[:_MAX_SHOWN] + "..."
    return line


@dataclass(frozen=True)
class _Line:
    """One non-blank line of a text file being read."""

    path: FilePath
    number: int
    fields: List[str]
    text: str
    error_cls: type

    def error(self, what):
        """Builds the error for this line."""
        return self.error_cls(
            f"{self.path}:{self.number}: {what} (got: '{_shown(self.text)}')"
        )


def _lines(path, error_cls, what, layouts):
    """Yields the lines of a file; ``layouts`` maps column counts to names."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} file not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            texts = handle.readlines()
    except UnicodeDecodeError as err:
        raise error_cls(f"{path}: not a UTF-8 text file ({err})") from None
    last = len(texts)
    while last > 0 and not texts[last - 1].strip():
        last -= 1
    if last == 0:
        raise error_cls(f"{path}: {what} file holds no lines")
    expected = " or ".join(f"{n} {layout}" for n, layout in layouts.items())
    width = None
    for index in range(last):
        text = texts[index]
        line = _Line(path, index + 1, text.split(), text, error_cls)
        count = len(line.fields)
        if not count:
            raise line.error("blank line inside the file")
        if width is None and count in layouts:
            width = count
        if count != width:
            if width is None or len(layouts) == 1:
                raise line.error(f"{count} columns: expected {expected}")
            raise line.error(f"{count} columns where the file has {width}")
        yield line


def _repeated_trial(first_line, trial, number):
    """Records the line of a trial id, or tells that it was seen before."""
    if trial in first_line:
        return (
            f"duplicate trial id {trial!r} (first on line {first_line[trial]})"
        )
    first_line[trial] = number
    return None


def _bad_id(token):
    """Tells whether a token cannot serve as an id in a text file."""
    return (
        not isinstance(token, str)
        or not token
        or len(token.split()) != 1
        or token != token.strip()
        or "," in token
    )


def _cm_problem(speaker, trial, attack, key):
    """Checks the fields of a CM trial."""
    for name, value in (("speaker", speaker), ("trial", trial)):
        if _bad_id(value):
            return f"bad {name} id {value!r}"
    if _bad_id(attack):
        return f"bad attack id {attack!r}"
    if key not in CM_KEYS:
        return f"key must be 'bonafide' or 'spoof', not {key!r}"
    if key == BONAFIDE and attack != BONAFIDE:
        return f"bona fide trial with attack {attack!r}"
    if key == SPOOF and attack in (BONAFIDE, NO_SYSTEM):
        return f"spoof trial without a system id (attack {attack!r})"
    return None


def _asv_problem(speaker, trial, attack, key):
    """Checks the fields of an ASV trial or ASV score line."""
    for name, value in (("speaker", speaker), ("trial", trial)):
        if value is not None and _bad_id(value):
            return f"bad {name} id {value!r}"
    if _bad_id(attack):
        return f"bad source id {attack!r}"
    if key not in ASV_KEYS:
        return f"key must be 'target', 'nontarget' or 'spoof', not {key!r}"
    if key != SPOOF and attack != BONAFIDE:
        return f"{key} trial with source {attack!r} (must be 'bonafide')"
    if key == SPOOF and attack in (BONAFIDE, NO_SYSTEM):
        return f"spoof trial without a system id (source {attack!r})"
    return None


def _condition_problem(trial):
    """Checks the 2021 condition fields of a CM or ASV trial."""
    for name in _CONDITIONS:
        value = getattr(trial, name)
        if _bad_id(value):
            return f"bad {name} {value!r}"
    return None


def _metadata_line(trial):
    """The 8-column ASVspoof 2021 ``trial_metadata.txt`` line of a trial."""
    return (
        f"{trial.speaker} {trial.trial} {trial.codec} {trial.transmission} "
        f"{trial.attack} {trial.key} {trial.trim} {trial.subset}"
    )


def _cm_protocol_line(trial):
    """The 5-column ASVspoof 2019 CM protocol line of a trial."""
    system = NO_SYSTEM if trial.key == BONAFIDE else trial.attack
    return f"{trial.speaker} {trial.trial} - {system} {trial.key}"


def _asv_protocol_line(trial):
    """The 4-column ASVspoof 2019 ASV protocol line of a trial."""
    return f"{trial.speaker} {trial.trial} {trial.attack} {trial.key}"


def _parse_score(value):
    """Parses a finite score, from a file's column or given to a writer."""
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None, f"score {value!r} is not a number"
    if not math.isfinite(score):
        return None, f"score {value!r} is not finite"
    return score, None


def _asv_score(source, key, value):
    """Checks the fields of an ASV score line and parses its score."""
    problem = _asv_problem(None, None, source, key)
    if problem:
        return None, problem
    return _parse_score(value)


def _write_lines(path, lines, error_cls, what):
    """Writes non-empty lines atomically."""
    if not lines:
        raise error_cls(f"cannot write {path}: no {what} to write")
    write_text_atomic(path, "\n".join(lines) + "\n")


def _writer_error(error_cls, path, index, name, what):
    """Builds the error for one bad item given to a writer."""
    return error_cls(f"cannot write {path}: item {index} ({name!r}): {what}")


def _write_trials(
    path, trials, fields_problem, line_of, conditions=False, unique=False
):
    """Checks trials one by one and writes a line per trial atomically.

    ``fields_problem`` (``_cm_problem`` or ``_asv_problem``) checks the
    speaker, trial, attack and key; ``conditions`` adds the 2021 fields,
    ``unique`` refuses a repeated trial id; the first bad trial raises a
    ``ProtocolError`` and nothing is written.
    """
    lines = []
    seen = set()
    for index, trial in enumerate(trials):
        problem = fields_problem(
            trial.speaker, trial.trial, trial.attack, trial.key
        )
        if conditions:
            problem = problem or _condition_problem(trial)
        if unique and not problem and trial.trial in seen:
            problem = "duplicate trial id"
        if problem:
            raise _writer_error(
                ProtocolError, path, index, trial.trial, problem
            )
        seen.add(trial.trial)
        lines.append(line_of(trial))
    _write_lines(path, lines, ProtocolError, "trials")


def read_cm_protocol(path: FilePath) -> List[CMTrial]:
    """Reads an ASVspoof 2019 CM protocol or a 2021 ``trial_metadata.txt``.

    The column count of the first line picks the format: 5 for 2019
    (``SPEAKER TRIAL - SYSTEM KEY``), 8 for 2021 (``SPEAKER TRIAL CODEC
    TRANSMISSION ATTACK KEY TRIM SUBSET``). Trial ids must be unique.

    Arguments
    ---------
    path : str or os.PathLike
        The protocol file.

    Returns
    -------
    list of CMTrial
        The trials in file order (bona fide attack is ``"bonafide"``); trial
        ``i`` is on line ``i + 1``.

    Example
    -------
    >>> path = getfixture("tmp_path") / "cm.txt"
    >>> _ = path.write_text("LA_0079 LA_T_1138215 - - bonafide\\n"
    ...                     "LA_0079 LA_T_1271820 - A01 spoof\\n")
    >>> [t.attack for t in read_cm_protocol(path)]
    ['bonafide', 'A01']
    >>> _ = path.write_text("LA_0009 LA_E_9332881 alaw ita_tx A07 spoof "
    ...                     "notrim eval\\n")
    >>> read_cm_protocol(path)[0].codec
    'alaw'
    """
    trials = []
    first_line = {}
    layouts = {
        5: "(ASVspoof 2019 'SPEAKER TRIAL - SYSTEM KEY')",
        8: "(ASVspoof 2021 trial_metadata 'SPEAKER TRIAL CODEC TRANSMISSION "
        "ATTACK KEY TRIM SUBSET')",
        1: "(a trial list without keys)",
    }
    for line in _lines(path, ProtocolError, "CM protocol", layouts):
        if len(line.fields) == 1:
            raise line.error(
                "a trial list without keys (one column): it can be scored "
                "(speechbrain-asd score --list LIST --audio-dir DIR), but "
                "metrics need the keys (ASVspoof 2021: "
                "keys/LA/CM/trial_metadata.txt)"
            )
        if len(line.fields) == 5:
            speaker, trial, _, attack, key = line.fields
            codec = transmission = subset = trim = NO_CONDITION
        else:
            speaker, trial, codec, transmission, attack, key, trim, subset = (
                line.fields
            )
        if attack == NO_SYSTEM and key == BONAFIDE:
            attack = BONAFIDE
        found = CMTrial(
            speaker, trial, attack, key, codec, transmission, subset, trim
        )
        problem = _cm_problem(speaker, trial, attack, key)
        problem = problem or _condition_problem(found)
        problem = problem or _repeated_trial(first_line, trial, line.number)
        if problem:
            raise line.error(problem)
        trials.append(found)
    return trials


def read_trial_list(path):
    """Reads a one-column trial list (e.g. ``ASVspoof2021.LA.cm.eval.trl.txt``).

    Arguments
    ---------
    path : str or os.PathLike
        The list: one trial id per line.

    Returns
    -------
    list of str
        The trial ids, in file order.

    Raises
    ------
    ProtocolError
        Naming the file and line of a malformed or repeated id.

    Example
    -------
    >>> path = getfixture("tmp_path") / "trl.txt"
    >>> _ = path.write_text("LA_E_9332881\\nLA_E_6866159\\n")
    >>> read_trial_list(path)
    ['LA_E_9332881', 'LA_E_6866159']
    """
    layouts = {1: "(ASVspoof trial list 'TRIAL')"}
    trials, first_line = [], {}
    for line in _lines(path, ProtocolError, "trial list", layouts):
        (trial,) = line.fields
        problem = None
        if _bad_id(trial):
            problem = f"{trial!r} cannot be a trial id"
        problem = problem or _repeated_trial(first_line, trial, line.number)
        if problem:
            raise line.error(problem)
        trials.append(trial)
    return trials


def is_trial_list(path):
    """Tells whether a file's first line has one column (a trial list).

    Arguments
    ---------
    path : str or os.PathLike
        The file; a missing or unreadable one is not a trial list.

    Returns
    -------
    bool
        True for a one-column first line.

    Example
    -------
    >>> path = getfixture("tmp_path") / "trl.txt"
    >>> _ = path.write_text("LA_E_9332881\\n")
    >>> is_trial_list(path), is_trial_list("no/such/file")
    (True, False)
    """
    try:
        with open(path, encoding="utf-8") as handle:
            for text in handle:
                if text.strip():
                    return len(text.split()) == 1
    except (OSError, UnicodeDecodeError):
        return False
    return False


def write_cm_protocol(path: FilePath, trials: Iterable[CMTrial]) -> None:
    """Writes trials as an ASVspoof 2019 CM protocol (5 columns).

    Bona fide trials get ``-`` as system id; the 2021-only fields are dropped.

    Arguments
    ---------
    path : str or os.PathLike
        The file to write.
    trials : iterable of CMTrial
        The trials, written in order; trial ids must be unique.

    Example
    -------
    >>> path = getfixture("tmp_path") / "cm.txt"
    >>> write_cm_protocol(path, [CMTrial("LA_0079", "LA_T_1", "bonafide",
    ...                                  "bonafide"),
    ...                          CMTrial("LA_0079", "LA_T_2", "A01", "spoof")])
    >>> print(path.read_text(), end="")
    LA_0079 LA_T_1 - - bonafide
    LA_0079 LA_T_2 - A01 spoof
    """
    _write_trials(path, trials, _cm_problem, _cm_protocol_line, unique=True)


def write_trial_metadata(path: FilePath, trials: Iterable[CMTrial]) -> None:
    """Writes CM trials as an ASVspoof 2021 ``trial_metadata.txt`` (8 columns).

    Arguments
    ---------
    path : str or os.PathLike
        The file to write.
    trials : iterable of CMTrial
        The trials, written in order, with their codec, transmission, trim
        and subset; trial ids must be unique.

    Example
    -------
    >>> path = getfixture("tmp_path") / "trial_metadata.txt"
    >>> write_trial_metadata(path, [CMTrial(
    ...     "LA_0009", "LA_E_9332881", "A07", "spoof", "alaw", "ita_tx",
    ...     "eval", "notrim")])
    >>> print(path.read_text(), end="")
    LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval
    """
    _write_trials(
        path, trials, _cm_problem, _metadata_line, conditions=True, unique=True
    )


def write_trial_list(path: FilePath, trials: Iterable[str]) -> None:
    """Writes a one-column trial list (as ``ASVspoof2021.LA.cm.eval.trl.txt``).

    Arguments
    ---------
    path : str or os.PathLike
        The file to write.
    trials : iterable of str
        The trial ids, written in order; they must be unique.

    Example
    -------
    >>> path = getfixture("tmp_path") / "trl.txt"
    >>> write_trial_list(path, ["LA_E_9332881", "LA_E_6866159"])
    >>> read_trial_list(path)
    ['LA_E_9332881', 'LA_E_6866159']
    """
    lines = []
    seen = set()
    for index, trial in enumerate(trials):
        problem = f"{trial!r} cannot be a trial id" if _bad_id(trial) else None
        if not problem and trial in seen:
            problem = "duplicate trial id"
        if problem:
            raise _writer_error(ProtocolError, path, index, trial, problem)
        seen.add(trial)
        lines.append(trial)
    _write_lines(path, lines, ProtocolError, "trials")


def cm_trials_by_id(trials: Iterable[CMTrial]) -> Dict[str, CMTrial]:
    """Indexes CM trials by trial id, refusing duplicates.

    Arguments
    ---------
    trials : iterable of CMTrial
        The trials.

    Returns
    -------
    dict
        Trial id -> CMTrial, in the order given.

    Example
    -------
    >>> t = CMTrial("LA_0079", "LA_T_1", "bonafide", "bonafide")
    >>> list(cm_trials_by_id([t]))
    ['LA_T_1']
    >>> cm_trials_by_id([t, t])
    Traceback (most recent call last):
    ...
    speechbrain_asd.scorefiles.ProtocolError: duplicate trial id 'LA_T_1' ...
    """
    index = {}
    position = {}
    for number, trial in enumerate(trials):
        if trial.trial in index:
            raise ProtocolError(
                f"duplicate trial id {trial.trial!r} (items "
                f"{position[trial.trial]} and {number})"
            )
        index[trial.trial] = trial
        position[trial.trial] = number
    return index


def read_asv_protocol(path: FilePath) -> List[ASVTrial]:
    """Reads an ASV trial list: ASVspoof 2019 or 2021 ``trial_metadata.txt``.

    Arguments
    ---------
    path : str or os.PathLike
        The trial list: 4 columns ``CLAIMED_SPEAKER TRIAL SOURCE KEY``
        (2019 ``*.asv.*.gi.trl.txt``) or 8 columns ``CLAIMED_SPEAKER TRIAL
        CODEC TRANSMISSION SOURCE KEY TRIM SUBSET`` (2021
        ``keys/LA/ASV/trial_metadata.txt``).

    Returns
    -------
    list of ASVTrial
        The trials in file order.

    Example
    -------
    >>> path = getfixture("tmp_path") / "asv.txt"
    >>> _ = path.write_text("LA_0073 LA_D_4004968 bonafide target\\n"
    ...                     "LA_0069 LA_D_7331840 A05 spoof\\n")
    >>> [t.key for t in read_asv_protocol(path)]
    ['target', 'spoof']
    """
    trials = []
    layouts = {
        4: "(ASVspoof 2019 'CLAIMED_SPEAKER TRIAL SOURCE KEY')",
        8: "(ASVspoof 2021 ASV trial_metadata 'CLAIMED_SPEAKER TRIAL CODEC "
        "TRANSMISSION SOURCE KEY TRIM SUBSET')",
    }
    for line in _lines(path, ProtocolError, "ASV protocol", layouts):
        if len(line.fields) == 4:
            trial = ASVTrial(*line.fields)
        else:
            (
                speaker,
                trial_id,
                codec,
                transmission,
                attack,
                key,
                trim,
                subset,
            ) = line.fields
            trial = ASVTrial(
                speaker,
                trial_id,
                attack,
                key,
                codec,
                transmission,
                subset,
                trim,
            )
        problem = _asv_problem(
            trial.speaker, trial.trial, trial.attack, trial.key
        )
        problem = problem or _condition_problem(trial)
        if problem:
            raise line.error(problem)
        trials.append(trial)
    return trials


def write_asv_protocol(path: FilePath, trials: Iterable[ASVTrial]) -> None:
    """Writes an ASVspoof 2019 ASV trial list (4 columns).

    Arguments
    ---------
    path : str or os.PathLike
        The file to write.
    trials : iterable of ASVTrial
        The trials, written in order.

    Example
    -------
    >>> path = getfixture("tmp_path") / "asv.txt"
    >>> write_asv_protocol(path, [ASVTrial("LA_0073", "LA_D_1", "bonafide",
    ...                                    "nontarget")])
    >>> print(path.read_text(), end="")
    LA_0073 LA_D_1 bonafide nontarget
    """
    _write_trials(path, trials, _asv_problem, _asv_protocol_line)


def write_asv_trial_metadata(
    path: FilePath, trials: Iterable[ASVTrial]
) -> None:
    """Writes ASV trials as an ASVspoof 2021 ASV ``trial_metadata.txt``.

    Arguments
    ---------
    path : str or os.PathLike
        The file to write (8 columns ``CLAIMED_SPEAKER TRIAL CODEC
        TRANSMISSION SOURCE KEY TRIM SUBSET``).
    trials : iterable of ASVTrial
        The trials, written in order, with their conditions.

    Example
    -------
    >>> path = getfixture("tmp_path") / "trial_metadata.txt"
    >>> write_asv_trial_metadata(path, [ASVTrial(
    ...     "LA_0015", "LA_E_1", "bonafide", "target", "gsm", "loc_tx",
    ...     "eval", "notrim")])
    >>> print(path.read_text(), end="")
    LA_0015 LA_E_1 gsm loc_tx bonafide target notrim eval
    """
    _write_trials(path, trials, _asv_problem, _metadata_line, conditions=True)


def read_asv_enrolment(path: FilePath) -> Dict[str, List[str]]:
    """Reads an ASVspoof 2019 ASV enrolment list (``*.asv.*.trn.txt``).

    Arguments
    ---------
    path : str or os.PathLike
        The list, one ``SPEAKER UTT1,UTT2,...`` line per enrolled speaker.

    Returns
    -------
    dict
        Speaker id -> list of enrolment utterance ids, in file order.

    Example
    -------
    >>> path = getfixture("tmp_path") / "trn.txt"
    >>> _ = path.write_text("LA_0069 LA_D_1,LA_D_2\\n")
    >>> read_asv_enrolment(path)
    {'LA_0069': ['LA_D_1', 'LA_D_2']}
    """
    enrolment = {}
    speaker_line = {}
    utterance_line = {}
    layouts = {2: "'SPEAKER UTT1,UTT2,...'"}
    for line in _lines(path, ProtocolError, "ASV enrolment", layouts):
        speaker, joined = line.fields
        utterances = joined.split(",")
        if any(not utt for utt in utterances):
            raise line.error("empty utterance id in list")
        if speaker in speaker_line:
            raise line.error(
                f"speaker {speaker!r} already enrolled on line "
                f"{speaker_line[speaker]}"
            )
        for utt in utterances:
            if utt in utterance_line:
                raise line.error(
                    f"utterance {utt!r} already listed on line "
                    f"{utterance_line[utt]}"
                )
            utterance_line[utt] = line.number
        speaker_line[speaker] = line.number
        enrolment[speaker] = utterances
    return enrolment


def write_asv_enrolment(
    path: FilePath, enrolment: Mapping[str, Sequence[str]]
) -> None:
    """Writes an ASVspoof 2019 ASV enrolment list.

    Arguments
    ---------
    path : str or os.PathLike
        The file to write.
    enrolment : mapping
        Speaker id -> non-empty sequence of utterance ids.

    Example
    -------
    >>> path = getfixture("tmp_path") / "trn.txt"
    >>> write_asv_enrolment(path, {"LA_0069": ["LA_D_1", "LA_D_2"]})
    >>> print(path.read_text(), end="")
    LA_0069 LA_D_1,LA_D_2
    """
    lines = []
    seen = set()
    for index, (speaker, utterances) in enumerate(enrolment.items()):
        problem = None
        if _bad_id(speaker):
            problem = "bad speaker id"
        elif isinstance(utterances, str) or not utterances:
            problem = "needs a non-empty sequence of utterance ids"
        else:
            for utt in utterances:
                if _bad_id(utt):
                    problem = f"bad utterance id {utt!r}"
                elif utt in seen:
                    problem = f"utterance {utt!r} listed twice"
                if problem:
                    break
                seen.add(utt)
        if problem:
            raise _writer_error(ProtocolError, path, index, speaker, problem)
        lines.append(f"{speaker} {','.join(utterances)}")
    _write_lines(path, lines, ProtocolError, "enrolled speakers")


def read_cm_scores(path: FilePath) -> Dict[str, float]:
    """Reads a CM score file, ``TRIAL SCORE`` or ``TRIAL ATTACK KEY SCORE``.

    Arguments
    ---------
    path : str or os.PathLike
        The score file; the first line's column count (2 or 4) fixes the
        format.

    Returns
    -------
    dict
        Trial id -> score (float), in file order.

    Example
    -------
    >>> path = getfixture("tmp_path") / "scores.txt"
    >>> _ = path.write_text("LA_E_1 1.5\\nLA_E_2 -0.25\\n")
    >>> read_cm_scores(path)
    {'LA_E_1': 1.5, 'LA_E_2': -0.25}
    >>> _ = path.write_text("LA_E_1 - bonafide 1.5\\nLA_E_2 A07 spoof -2\\n")
    >>> read_cm_scores(path)
    {'LA_E_1': 1.5, 'LA_E_2': -2.0}
    """
    scores = {}
    first_line = {}
    layouts = {2: "'TRIAL SCORE'", 4: "'TRIAL ATTACK KEY SCORE'"}
    for line in _lines(path, ScoreFileError, "CM score", layouts):
        trial, fields = line.fields[0], line.fields
        if len(fields) == 4 and fields[2] not in CM_KEYS:
            raise line.error(
                f"key must be 'bonafide' or 'spoof', not {fields[2]!r}"
            )
        score, problem = _parse_score(fields[-1])
        problem = problem or _repeated_trial(first_line, trial, line.number)
        if problem:
            raise line.error(problem)
        scores[trial] = score
    return scores


def write_cm_scores(
    path: FilePath,
    scores: Mapping[str, float],
    trials: Optional[Mapping[str, CMTrial]] = None,
) -> None:
    """Writes a CM score file, with 2 columns or, given trials, 4 columns.

    Scores are written with ``repr`` precision, so they read back unchanged.

    Arguments
    ---------
    path : str or os.PathLike
        The file to write.
    scores : mapping
        Trial id -> finite score (higher = more bona fide).
    trials : mapping, optional
        Trial id -> CMTrial; when given, writes ``TRIAL ATTACK KEY SCORE``
        (attack ``-`` for bona fide) and must hold every scored trial.

    Example
    -------
    >>> path = getfixture("tmp_path") / "scores.txt"
    >>> write_cm_scores(path, {"LA_E_1": 1.5})
    >>> print(path.read_text(), end="")
    LA_E_1 1.5
    >>> trials = {"LA_E_1": CMTrial("LA_0001", "LA_E_1", "A07", "spoof")}
    >>> write_cm_scores(path, {"LA_E_1": 1.5}, trials)
    >>> print(path.read_text(), end="")
    LA_E_1 A07 spoof 1.5
    """
    lines = []
    for index, (trial, value) in enumerate(scores.items()):
        score, problem = _parse_score(value)
        if not problem and _bad_id(trial):
            problem = "bad trial id"
        if not problem and trials is not None and trial not in trials:
            problem = "trial not in the given trials"
        if problem:
            raise _writer_error(ScoreFileError, path, index, trial, problem)
        if trials is None:
            lines.append(f"{trial} {score!r}")
        else:
            info = trials[trial]
            attack = NO_SYSTEM if info.key == BONAFIDE else info.attack
            lines.append(f"{trial} {attack} {info.key} {score!r}")
    _write_lines(path, lines, ScoreFileError, "scores")


def read_asv_scores(path: FilePath) -> ASVScores:
    """Reads an ASVspoof 2019 ASV score file (``SOURCE KEY SCORE`` lines).

    Arguments
    ---------
    path : str or os.PathLike
        The score file, e.g. ``ASVspoof2019.LA.asv.dev.gi.trl.scores.txt``.

    Returns
    -------
    ASVScores
        Target, nontarget and spoof scores (float64, file order) and the
        attack id of each spoof score.

    Example
    -------
    >>> path = getfixture("tmp_path") / "asv_scores.txt"
    >>> _ = path.write_text("bonafide target 36.78691\\n"
    ...                     "bonafide nontarget -39.15536\\n"
    ...                     "A01 spoof 27.07672\\n")
    >>> asv = read_asv_scores(path)
    >>> asv.target.tolist(), asv.spoof_attacks.tolist()
    ([36.78691], ['A01'])
    """
    by_key = {key: [] for key in ASV_KEYS}
    attacks = []
    layouts = {3: "'SOURCE KEY SCORE'"}
    for line in _lines(path, ScoreFileError, "ASV score", layouts):
        source, key, _ = line.fields
        score, problem = _asv_score(*line.fields)
        if problem and key.startswith(("LA_", "PA_", "DF_")):
            problem = (
                "an ASVspoof 2021 ASV score line ('SPEAKER TRIAL SCORE'): "
                "its keys are in ASV/trial_metadata.txt, give that file too"
            )
        if problem:
            raise line.error(problem)
        by_key[key].append(score)
        if key == SPOOF:
            attacks.append(source)
    return ASVScores(
        target=np.asarray(by_key["target"], dtype=np.float64),
        nontarget=np.asarray(by_key["nontarget"], dtype=np.float64),
        spoof=np.asarray(by_key[SPOOF], dtype=np.float64),
        spoof_attacks=np.asarray(attacks, dtype=str),
    )


def write_asv_scores(
    path: FilePath, rows: Iterable[Tuple[str, str, float]]
) -> None:
    """Writes an ASVspoof 2019 ASV score file.

    Arguments
    ---------
    path : str or os.PathLike
        The file to write.
    rows : iterable of (str, str, float)
        ``(source, key, score)``: source ``"bonafide"`` or an attack id, key
        ``"target"``, ``"nontarget"`` or ``"spoof"``.

    Example
    -------
    >>> path = getfixture("tmp_path") / "asv_scores.txt"
    >>> write_asv_scores(path, [("bonafide", "target", 2.5),
    ...                         ("A01", "spoof", -1.0)])
    >>> print(path.read_text(), end="")
    bonafide target 2.5
    A01 spoof -1.0
    """
    lines = []
    for index, row in enumerate(rows):
        if len(row) != 3:
            raise _writer_error(
                ScoreFileError, path, index, row, "needs (source, key, score)"
            )
        source, key, value = row
        score, problem = _asv_score(source, key, value)
        if problem:
            raise _writer_error(ScoreFileError, path, index, source, problem)
        lines.append(f"{source} {key} {score!r}")
    _write_lines(path, lines, ScoreFileError, "scores")


def write_asv_score_list(
    path: FilePath, rows: Iterable[Tuple[str, str, float]]
) -> None:
    """Writes ASV scores in the ASVspoof 2021 form (``SPEAKER TRIAL SCORE``).

    Line ``i`` scores trial ``i`` of the matching ASV ``trial_metadata.txt``.

    Arguments
    ---------
    path : str or os.PathLike
        The file to write.
    rows : iterable of (str, str, float)
        ``(claimed_speaker, trial, score)``.

    Example
    -------
    >>> path = getfixture("tmp_path") / "score.txt"
    >>> write_asv_score_list(path, [("LA_0015", "LA_E_1", 2.5)])
    >>> print(path.read_text(), end="")
    LA_0015 LA_E_1 2.5
    """
    lines = []
    for index, row in enumerate(rows):
        if len(row) != 3:
            raise _writer_error(
                ScoreFileError,
                path,
                index,
                row,
                "needs (speaker, trial, score)",
            )
        speaker, trial, value = row
        problem = next(
            (f"bad id {v!r}" for v in (speaker, trial) if _bad_id(v)), None
        )
        score, score_problem = _parse_score(value)
        problem = problem or score_problem
        if problem:
            raise _writer_error(ScoreFileError, path, index, trial, problem)
        lines.append(f"{speaker} {trial} {score!r}")
    _write_lines(path, lines, ScoreFileError, "scores")


# The two ASV score list forms: the layout of a line, and the two fields a
# line must share with the protocol line it scores.
ASV_SCORE_FORMS = {
    "2021": (
        "(ASVspoof 2021 ASV scores 'SPEAKER TRIAL SCORE')",
        lambda trial: (trial.speaker, trial.trial),
    ),
    "2019": (
        "(ASVspoof 2019 ASV scores 'SOURCE KEY SCORE')",
        lambda trial: (trial.attack, trial.key),
    ),
}


def read_asv_score_list(
    scores_path: FilePath, metadata_path: FilePath, form: str = "2021"
) -> Tuple[List[ASVTrial], np.ndarray]:
    """Reads ASV scores with the trial list they align with line by line.

    As in the organisers' 2021 package, line ``i`` of the score file scores
    line ``i`` of the trial list (``ASV/trial_metadata.txt``, or a 2019
    ``*.asv.*.gi.trl.txt``); the two must agree line by line: on the
    speaker and trial of a 2021 score line (``SPEAKER TRIAL SCORE``), on
    the source and key of a 2019 one (``SOURCE KEY SCORE``).

    Arguments
    ---------
    scores_path : str or os.PathLike
        The score file (e.g. ``keys/LA/ASV/ASVTorch_Kaldi/score.txt``).
    metadata_path : str or os.PathLike
        The ASV trial list (see ``read_asv_protocol``).
    form : str
        ``"2021"`` or ``"2019"``: the score lines' form.

    Returns
    -------
    trials : list of ASVTrial
        The ASV trials with their conditions, in file order.
    scores : numpy.ndarray
        Their float64 scores.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "meta.txt").write_text(
    ...     "LA_0015 LA_E_1 gsm loc_tx bonafide target notrim eval\\n"
    ...     "LA_0015 LA_E_2 gsm loc_tx A07 spoof notrim eval\\n")
    >>> _ = (folder / "score.txt").write_text(
    ...     "LA_0015 LA_E_1 3.5\\nLA_0015 LA_E_2 -1.0\\n")
    >>> trials, scores = read_asv_score_list(
    ...     folder / "score.txt", folder / "meta.txt")
    >>> [t.codec for t in trials], scores.tolist()
    (['gsm', 'gsm'], [3.5, -1.0])
    >>> _ = (folder / "score2019.txt").write_text(
    ...     "bonafide target 3.5\\nA07 spoof -1.0\\n")
    >>> read_asv_score_list(
    ...     folder / "score2019.txt", folder / "meta.txt", form="2019")[1]
    array([ 3.5, -1. ])
    """
    check_choice("form", form, tuple(ASV_SCORE_FORMS))
    layout, line_id = ASV_SCORE_FORMS[form]
    trials = read_asv_protocol(metadata_path)
    scores = []
    for line in _lines(scores_path, ScoreFileError, "ASV score", {3: layout}):
        *fields, value = line.fields
        index = len(scores)
        if index >= len(trials):
            raise line.error(
                f"more score lines than the {len(trials)} trials of "
                f"{metadata_path}"
            )
        expected = line_id(trials[index])
        if tuple(fields) != expected:
            raise line.error(
                f"does not align with line {index + 1} of {metadata_path} "
                f"({' '.join(expected)}): score lines must be in the "
                "metadata's order"
            )
        score, problem = _parse_score(value)
        if problem:
            raise line.error(problem)
        scores.append(score)
    if len(scores) != len(trials):
        raise ScoreFileError(
            f"{scores_path}: {len(scores)} score lines for the "
            f"{len(trials)} trials of {metadata_path}"
        )
    return trials, np.asarray(scores, dtype=np.float64)


def asv_scores_by_key(
    trials: Sequence[ASVTrial], scores: Sequence[float]
) -> ASVScores:
    """Splits aligned ASV trials and scores into an ``ASVScores``.

    Arguments
    ---------
    trials : sequence of ASVTrial
        The ASV trials.
    scores : sequence of float
        Their scores, in the same order.

    Returns
    -------
    ASVScores
        Target, nontarget and spoof scores and the spoof attacks.

    Example
    -------
    >>> asv = asv_scores_by_key(
    ...     [ASVTrial("LA_0015", "LA_E_1", "bonafide", "target"),
    ...      ASVTrial("LA_0015", "LA_E_2", "A07", "spoof")], [3.5, -1.0])
    >>> asv.target.tolist(), asv.spoof_attacks.tolist()
    ([3.5], ['A07'])
    """
    keys = np.asarray([trial.key for trial in trials], dtype=str)
    values = np.asarray(scores, dtype=np.float64)
    attacks = np.asarray([trial.attack for trial in trials], dtype=str)
    spoofed = keys == SPOOF
    return ASVScores(
        target=values[keys == "target"],
        nontarget=values[keys == "nontarget"],
        spoof=values[spoofed],
        spoof_attacks=attacks[spoofed],
    )
