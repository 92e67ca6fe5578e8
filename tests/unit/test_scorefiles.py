"""Tests of the ASVspoof protocol and score file readers and writers.

Authors
 * speechbrain-asd developers
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from speechbrain_asd.scorefiles import (
    ASVTrial,
    CMTrial,
    ProtocolError,
    ScoreFileError,
    asv_scores_by_key,
    cm_trials_by_id,
    is_trial_list,
    read_asv_enrolment,
    read_asv_protocol,
    read_asv_score_list,
    read_asv_scores,
    read_cm_protocol,
    read_cm_scores,
    read_trial_list,
    write_asv_enrolment,
    write_asv_protocol,
    write_asv_score_list,
    write_asv_scores,
    write_asv_trial_metadata,
    write_cm_protocol,
    write_cm_scores,
    write_text_atomic,
    write_trial_list,
    write_trial_metadata,
)

CM_TRIALS = [
    CMTrial("LA_0079", "LA_T_1138215", "bonafide", "bonafide"),
    CMTrial("LA_0079", "LA_T_1271820", "A01", "spoof"),
    CMTrial("LA_0080", "LA_T_2000001", "A16", "spoof"),
]
ASV_TRIALS = [
    ASVTrial("LA_0073", "LA_D_4004968", "bonafide", "target"),
    ASVTrial("LA_0071", "LA_D_4004968", "bonafide", "nontarget"),
    ASVTrial("LA_0069", "LA_D_7331840", "A05", "spoof"),
]


def _write(path, text):
    """Writes a text file for a test and returns its path.

    Arguments
    ---------
    path : pathlib.Path
        The file.
    text : str
        Its content.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path.write_text(text, encoding="utf-8")
    return path


def _at(path, line):
    """Builds the regex that matches an error located at ``path:line``.

    Arguments
    ---------
    path : pathlib.Path
        The file.
    line : int
        1-based line number.

    Returns
    -------
    str
        A regex for ``pytest.raises(match=...)``.
    """
    return re.escape(f"{path}:{line}: ")


def _no_temp_files(folder):
    """Tells whether a folder holds no leftover temporary file.

    Arguments
    ---------
    folder : pathlib.Path
        The folder.

    Returns
    -------
    bool
        True when no ``*.tmp`` file is there.
    """
    return not [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_cm_protocol_round_trip(tmp_path):
    """Writing then reading a 2019 CM protocol gives the same trials."""
    path = tmp_path / "sub" / "cm.txt"
    write_cm_protocol(path, CM_TRIALS)
    assert read_cm_protocol(path) == CM_TRIALS
    lines = path.read_text().splitlines()
    assert lines[0] == "LA_0079 LA_T_1138215 - - bonafide"
    assert lines[1] == "LA_0079 LA_T_1271820 - A01 spoof"
    assert _no_temp_files(path.parent)


CM_2021 = [
    CMTrial(
        "LA_0009",
        "LA_E_9332881",
        "A07",
        "spoof",
        "alaw",
        "ita_tx",
        "eval",
        "notrim",
    ),
    CMTrial(
        "LA_0009",
        "LA_E_1",
        "bonafide",
        "bonafide",
        "none",
        "loc_tx",
        "hidden",
        "trim",
    ),
]


def test_cm_protocol_reads_2021_trial_metadata(tmp_path):
    """An 8-column file is read as ASVspoof 2021 trial metadata."""
    path = _write(
        tmp_path / "trial_metadata.txt",
        "LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval\n"
        "LA_0020 LA_E_7294490 g722 loc_tx bonafide bonafide notrim progress\n"
        "LA_0021 LA_E_7294491 none - - bonafide notrim hidden\n",
    )
    trials = read_cm_protocol(path)
    assert trials[0] == CM_2021[0]
    assert trials[1].attack == "bonafide"
    assert trials[1].subset == "progress"
    assert trials[2].attack == "bonafide"
    assert trials[2].codec == "none"


def test_cm_protocol_2019_fields_default(tmp_path):
    """A 5-column file is read as 2019, the 2021 fields left at '-'."""
    path = _write(tmp_path / "cm.txt", "LA_0039 LA_E_2834763 - A11 spoof\n")
    (trial,) = read_cm_protocol(path)
    assert (trial.codec, trial.transmission, trial.subset, trial.trim) == (
        ("-",) * 4
    )
    assert trial.attack == "A11"


def test_readers_accept_trailing_whitespace_and_blank_end(tmp_path):
    """Trailing spaces, tabs, CRLF and blank lines at the end are fine."""
    path = _write(
        tmp_path / "cm.txt",
        "LA_0079  LA_T_1 -\t- bonafide  \r\nLA_0079 LA_T_2 - A01 spoof\n\n \n",
    )
    assert [t.trial for t in read_cm_protocol(path)] == ["LA_T_1", "LA_T_2"]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("LA_1 LA_T_1 - - bonafide\nLA_1 LA_T_2 - A01\n", 2, "4 columns"),
        ("LA_1 LA_T_1 - bonafide\n", 1, "expected 5"),
        ("LA_1 LA_T_1 - - bonafied\n", 1, "key must be"),
        ("LA_1 LA_T_1 - A01 bonafide\n", 1, "bona fide trial with attack"),
        ("LA_1 LA_T_1 - - spoof\n", 1, "spoof trial without a system id"),
        ("LA_1 LA_T_1 - - bonafide\n\nLA_1 LA_T_2 - A01 spoof\n", 2, "blank"),
        (
            "LA_1 LA_T_1 - - bonafide\nLA_1 LA_T_1 - A01 spoof\n",
            2,
            "duplicate trial id 'LA_T_1' \\(first on line 1\\)",
        ),
        (
            "LA_1 LA_E_1 alaw ita_tx A07 spoof notrim eval\n"
            "LA_1 LA_E_2 - A07 spoof\n",
            2,
            "5 columns where the file has 8",
        ),
        ("LA_1 LA_E_1 alaw ita_tx A07 fake notrim eval\n", 1, "key must be"),
    ],
)
def test_cm_protocol_malformed_lines(tmp_path, text, line, message):
    """Each kind of malformed CM protocol line names its file and line."""
    path = _write(tmp_path / "cm.txt", text)
    with pytest.raises(ProtocolError, match=_at(path, line) + ".*" + message):
        read_cm_protocol(path)


def test_errors_quote_the_line(tmp_path):
    """The message ends with the offending line."""
    path = _write(tmp_path / "cm.txt", "LA_1 LA_T_1 - - bonafied\n")
    with pytest.raises(ProtocolError, match="got: 'LA_1 LA_T_1 - - bonafied'"):
        read_cm_protocol(path)


def test_empty_and_missing_files(tmp_path):
    """An empty file and a missing file are clear errors."""
    empty = _write(tmp_path / "empty.txt", "\n\n")
    with pytest.raises(ProtocolError, match="holds no lines"):
        read_cm_protocol(empty)
    with pytest.raises(ScoreFileError, match="holds no lines"):
        read_cm_scores(empty)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        read_asv_protocol(tmp_path / "missing.txt")


def test_cm_writer_refuses_bad_trials(tmp_path):
    """Writers check their input and write nothing when it is bad."""
    path = _write(tmp_path / "cm.txt", "old\n")
    bad = [CMTrial("LA_1", "LA_T_1", "A01", "bonafide")]
    with pytest.raises(ProtocolError, match="item 0 \\('LA_T_1'\\)"):
        write_cm_protocol(path, bad)
    duplicate = [CM_TRIALS[0], CM_TRIALS[0]]
    with pytest.raises(ProtocolError, match="duplicate trial id"):
        write_cm_protocol(path, duplicate)
    with pytest.raises(ProtocolError, match="no trials"):
        write_cm_protocol(path, [])
    spaced = [CMTrial("LA 1", "LA_T_1", "bonafide", "bonafide")]
    with pytest.raises(ProtocolError, match="bad speaker id"):
        write_cm_protocol(path, spaced)
    assert path.read_text() == "old\n"
    assert _no_temp_files(tmp_path)


def test_cm_trials_by_id():
    """Indexing by trial id keeps order and refuses duplicates."""
    index = cm_trials_by_id(CM_TRIALS)
    assert list(index) == [t.trial for t in CM_TRIALS]
    assert index["LA_T_1271820"].attack == "A01"
    with pytest.raises(ProtocolError, match="items 0 and 3"):
        cm_trials_by_id(CM_TRIALS + [CM_TRIALS[0]])


def test_asv_protocol_round_trip(tmp_path):
    """Writing then reading an ASV trial list gives the same trials."""
    path = tmp_path / "asv.gi.trl.txt"
    write_asv_protocol(path, ASV_TRIALS)
    assert read_asv_protocol(path) == ASV_TRIALS
    assert path.read_text().splitlines()[2] == "LA_0069 LA_D_7331840 A05 spoof"


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("LA_1 LA_D_1 bonafide target\nLA_1 LA_D_2 A01\n", 2, "has 4"),
        ("LA_1 LA_D_1 A01\n", 1, "expected 4 .* or 8"),
        ("LA_1 LA_D_1 bonafide impostor\n", 1, "key must be"),
        ("LA_1 LA_D_1 A01 target\n", 1, "target trial with source 'A01'"),
        ("LA_1 LA_D_1 bonafide spoof\n", 1, "spoof trial without a system"),
        ("LA_1 LA_D_1 - spoof\n", 1, "spoof trial without a system"),
    ],
)
def test_asv_protocol_malformed_lines(tmp_path, text, line, message):
    """Each kind of malformed ASV trial line names its file and line."""
    path = _write(tmp_path / "asv.txt", text)
    with pytest.raises(ProtocolError, match=_at(path, line) + ".*" + message):
        read_asv_protocol(path)


def test_asv_enrolment_round_trip(tmp_path):
    """Writing then reading an enrolment list gives the same mapping."""
    enrolment = {"LA_0069": ["LA_D_1", "LA_D_2"], "LA_0070": ["LA_D_3"]}
    path = tmp_path / "female.trn.txt"
    write_asv_enrolment(path, enrolment)
    assert path.read_text() == "LA_0069 LA_D_1,LA_D_2\nLA_0070 LA_D_3\n"
    assert read_asv_enrolment(path) == enrolment


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("LA_1 LA_D_1,LA_D_2 extra\n", 1, "expected 2"),
        ("LA_1 LA_D_1,,LA_D_2\n", 1, "empty utterance id"),
        ("LA_1 LA_D_1,\n", 1, "empty utterance id"),
        ("LA_1 LA_D_1\nLA_1 LA_D_2\n", 2, "already enrolled on line 1"),
        ("LA_1 LA_D_1\nLA_2 LA_D_1\n", 2, "already listed on line 1"),
    ],
)
def test_asv_enrolment_malformed_lines(tmp_path, text, line, message):
    """Each kind of malformed enrolment line names its file and line."""
    path = _write(tmp_path / "trn.txt", text)
    with pytest.raises(ProtocolError, match=_at(path, line) + ".*" + message):
        read_asv_enrolment(path)


def test_asv_enrolment_writer_checks(tmp_path):
    """The enrolment writer refuses empty lists and shared utterances."""
    path = tmp_path / "trn.txt"
    with pytest.raises(ProtocolError, match="non-empty sequence"):
        write_asv_enrolment(path, {"LA_1": []})
    with pytest.raises(ProtocolError, match="listed twice"):
        write_asv_enrolment(path, {"LA_1": ["U1"], "LA_2": ["U1"]})
    assert not path.exists()


def test_cm_scores_two_columns_round_trip(tmp_path):
    """Two-column score files keep the exact floats and the order."""
    scores = {"LA_E_2": 0.1 + 0.2, "LA_E_1": -1e-12, "LA_E_3": 12345.678}
    path = tmp_path / "scores.txt"
    write_cm_scores(path, scores)
    assert len(path.read_text().split("\n")[0].split()) == 2
    read = read_cm_scores(path)
    assert read == scores
    assert list(read) == list(scores)


def test_cm_scores_four_columns_round_trip(tmp_path):
    """Four-column score files carry attack and key, '-' for bona fide."""
    trials = cm_trials_by_id(CM_TRIALS)
    scores = {t.trial: float(i) for i, t in enumerate(CM_TRIALS)}
    path = tmp_path / "scores.txt"
    write_cm_scores(path, scores, trials)
    lines = path.read_text().splitlines()
    assert lines[0] == "LA_T_1138215 - bonafide 0.0"
    assert lines[2] == "LA_T_2000001 A16 spoof 2.0"
    assert read_cm_scores(path) == scores


def test_cm_scores_four_columns_accept_bonafide_attack(tmp_path):
    """AASIST-style files with 'bonafide' as attack are read too."""
    path = _write(tmp_path / "s.txt", "LA_E_1 bonafide bonafide 1.25\n")
    assert read_cm_scores(path) == {"LA_E_1": 1.25}


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("LA_E_1 1.0\nLA_E_2 nan\n", 2, "not finite"),
        ("LA_E_1 inf\n", 1, "not finite"),
        ("LA_E_1 -Infinity\n", 1, "not finite"),
        ("LA_E_1 high\n", 1, "not a number"),
        ("LA_E_1 1.0\nLA_E_1 2.0\n", 2, "duplicate trial id 'LA_E_1'"),
        ("LA_E_1 A07 spoof\n", 1, "3 columns: expected 2"),
        ("LA_E_1 1.0\nLA_E_2 - bonafide 1.0\n", 2, "4 columns where .* 2"),
        ("LA_E_1 A07 fake 1.0\n", 1, "key must be"),
        ("trial score\n", 1, "not a number"),
    ],
)
def test_cm_scores_malformed_lines(tmp_path, text, line, message):
    """NaN/inf, non-numeric, duplicate and mis-shaped lines are errors."""
    path = _write(tmp_path / "scores.txt", text)
    with pytest.raises(ScoreFileError, match=_at(path, line) + ".*" + message):
        read_cm_scores(path)


def test_cm_scores_writer_checks(tmp_path):
    """The score writer refuses non-finite scores and unknown trials."""
    path = tmp_path / "scores.txt"
    with pytest.raises(ScoreFileError, match="'LA_E_2'.*not finite"):
        write_cm_scores(path, {"LA_E_1": 1.0, "LA_E_2": float("nan")})
    with pytest.raises(ScoreFileError, match="not in the given trials"):
        write_cm_scores(path, {"LA_E_9": 1.0}, cm_trials_by_id(CM_TRIALS))
    assert not path.exists()
    assert _no_temp_files(tmp_path)


def test_asv_scores_round_trip(tmp_path):
    """ASV scores are split by key, spoof scores keep their attack."""
    rows = [
        ("bonafide", "target", 36.78691),
        ("bonafide", "nontarget", -39.15536),
        ("A01", "spoof", 27.07672),
        ("bonafide", "target", 1.5),
        ("A02", "spoof", -3.0),
    ]
    path = tmp_path / "asv_scores.txt"
    write_asv_scores(path, rows)
    assert path.read_text().splitlines()[0] == "bonafide target 36.78691"
    scores = read_asv_scores(path)
    np.testing.assert_array_equal(scores.target, [36.78691, 1.5])
    np.testing.assert_array_equal(scores.nontarget, [-39.15536])
    np.testing.assert_array_equal(scores.spoof, [27.07672, -3.0])
    assert scores.spoof_attacks.tolist() == ["A01", "A02"]
    assert scores.target.dtype == np.float64


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("bonafide target 1.0\nbonafide target\n", 2, "expected 3"),
        ("bonafide target nan\n", 1, "not finite"),
        ("A01 target 1.0\n", 1, "target trial with source 'A01'"),
        ("bonafide spoof 1.0\n", 1, "spoof trial without a system id"),
        ("bonafide genuine 1.0\n", 1, "key must be"),
    ],
)
def test_asv_scores_malformed_lines(tmp_path, text, line, message):
    """Malformed ASV score lines name their file and line."""
    path = _write(tmp_path / "asv_scores.txt", text)
    with pytest.raises(ScoreFileError, match=_at(path, line) + ".*" + message):
        read_asv_scores(path)


def test_asv_scores_writer_checks(tmp_path):
    """The ASV score writer refuses bad rows without writing."""
    path = tmp_path / "asv.txt"
    with pytest.raises(ScoreFileError, match="not finite"):
        write_asv_scores(path, [("bonafide", "target", float("inf"))])
    with pytest.raises(ScoreFileError, match="needs \\(source, key, score\\)"):
        write_asv_scores(path, [("bonafide", "target")])
    assert not path.exists()


def test_write_text_atomic_replaces_whole_file(tmp_path):
    """An atomic write replaces the file and leaves no temporary file."""
    path = tmp_path / "a" / "b.txt"
    write_text_atomic(path, "one\n")
    write_text_atomic(path, "two\n")
    assert path.read_text() == "two\n"
    assert _no_temp_files(path.parent)


REAL_DATA = Path(__file__).resolve().parents[3] / "shared" / "real-data"
REAL_TRIAL_LIST = (
    REAL_DATA / "ASVspoof2021_LA_eval" / "ASVspoof2021.LA.cm.eval.trl.txt"
)


@pytest.mark.skipif(
    not REAL_TRIAL_LIST.is_file(), reason="no ../shared/real-data here"
)
def test_real_2021_trial_list_reads_and_is_refused_as_keys():
    """The real one-column 2021 LA eval list: every line an id, none
    repeated; as a protocol it is refused with the way to score it."""
    lines = REAL_TRIAL_LIST.read_text().split()
    trials = read_trial_list(REAL_TRIAL_LIST)
    assert trials == lines and len(set(trials)) == len(trials)
    assert is_trial_list(REAL_TRIAL_LIST)
    with pytest.raises(ProtocolError, match=r":1: a trial list without keys"):
        read_cm_protocol(REAL_TRIAL_LIST)


def test_trial_list_errors_name_the_line(tmp_path):
    """Two columns or a repeated id in a trial list name their line."""
    two = _write(tmp_path / "a.txt", "LA_E_1\nLA_E_2 0.5\n")
    with pytest.raises(ProtocolError, match=r"a.txt:2: 2 columns"):
        read_trial_list(two)
    repeated = _write(tmp_path / "b.txt", "LA_E_1\nLA_E_2\nLA_E_1\n")
    with pytest.raises(ProtocolError, match=r"b.txt:3: duplicate trial id"):
        read_trial_list(repeated)
    assert not is_trial_list(
        _write(tmp_path / "c.txt", "LA_1 LA_E_1 - - bonafide\n")
    )


ASV_2021 = [
    ASVTrial(
        "LA_0015",
        "LA_E_1",
        "bonafide",
        "target",
        "gsm",
        "loc_tx",
        "eval",
        "notrim",
    ),
    ASVTrial(
        "LA_0016",
        "LA_E_1",
        "bonafide",
        "nontarget",
        "gsm",
        "loc_tx",
        "eval",
        "notrim",
    ),
    ASVTrial(
        "LA_0015",
        "LA_E_2",
        "A07",
        "spoof",
        "opus",
        "sin_tx",
        "progress",
        "notrim",
    ),
]


def test_2021_cm_metadata_round_trip(tmp_path):
    """The 8-column writer and reader keep every condition of a trial."""
    path = tmp_path / "trial_metadata.txt"
    write_trial_metadata(path, CM_2021)
    assert read_cm_protocol(path) == CM_2021
    assert path.read_text().splitlines()[1] == (
        "LA_0009 LA_E_1 none loc_tx bonafide bonafide trim hidden"
    )


def test_2021_writers_refuse_bad_conditions(tmp_path):
    """A condition that is not one token is refused, naming the trial."""
    bad = CMTrial(
        "LA_0009", "LA_E_3", "A07", "spoof", "a law", "ita_tx", "eval", "notrim"
    )
    with pytest.raises(ProtocolError, match="LA_E_3.*bad codec"):
        write_trial_metadata(tmp_path / "m.txt", [bad])
    with pytest.raises(ProtocolError, match="duplicate"):
        write_trial_list(tmp_path / "l.txt", ["LA_E_1", "LA_E_1"])


def test_2021_asv_metadata_and_aligned_scores(tmp_path):
    """ASV metadata and its score list round-trip, aligned line by line."""
    meta, scores = tmp_path / "meta.txt", tmp_path / "score.txt"
    write_asv_trial_metadata(meta, ASV_2021)
    assert read_asv_protocol(meta) == ASV_2021
    rows = [(t.speaker, t.trial, v) for t, v in zip(ASV_2021, (2.0, -1.0, 0.5))]
    write_asv_score_list(scores, rows)
    trials, values = read_asv_score_list(scores, meta)
    assert trials == ASV_2021 and values.tolist() == [2.0, -1.0, 0.5]
    asv = asv_scores_by_key(trials, values)
    assert asv.target.tolist() == [2.0] and asv.nontarget.tolist() == [-1.0]
    assert asv.spoof.tolist() == [0.5] and asv.spoof_attacks.tolist() == ["A07"]


@pytest.mark.parametrize(
    "lines, line, message",
    [
        (
            ["LA_0015 LA_E_1 2", "LA_0016 LA_E_9 1", "LA_0015 LA_E_2 0"],
            2,
            "does not align with line 2",
        ),
        (
            ["LA_0015 LA_E_1 2", "LA_0016 LA_E_1 nan", "LA_0015 LA_E_2 0"],
            2,
            "not finite",
        ),
        (
            [
                "LA_0015 LA_E_1 2",
                "LA_0016 LA_E_1 1",
                "LA_0015 LA_E_2 0",
                "LA_0015 LA_E_3 0",
            ],
            4,
            "more score lines than the 3 trials",
        ),
    ],
)
def test_2021_asv_scores_misaligned(tmp_path, lines, line, message):
    """A 2021 ASV score file that does not follow its metadata is refused."""
    meta = tmp_path / "meta.txt"
    write_asv_trial_metadata(meta, ASV_2021)
    scores = _write(tmp_path / "score.txt", "\n".join(lines) + "\n")
    with pytest.raises(
        ScoreFileError, match=_at(scores, line) + ".*" + message
    ):
        read_asv_score_list(scores, meta)


def test_2021_asv_scores_too_few_lines(tmp_path):
    """Fewer score lines than trials is refused with both counts."""
    meta = tmp_path / "meta.txt"
    write_asv_trial_metadata(meta, ASV_2021)
    scores = _write(tmp_path / "score.txt", "LA_0015 LA_E_1 2\n")
    with pytest.raises(ScoreFileError, match="1 score lines for the 3 trials"):
        read_asv_score_list(scores, meta)


def test_2019_reader_points_2021_asv_scores_to_their_metadata(tmp_path):
    """Giving a 2021 ASV score file where a 2019 one is read says what to do."""
    scores = _write(tmp_path / "score.txt", "LA_0015 LA_E_1 2.0\n")
    with pytest.raises(ScoreFileError, match="trial_metadata.txt"):
        read_asv_scores(scores)
