"""Tests of the ASVspoof manifest preparation on tiny fake layouts.

Authors
 * speechbrain-asd developers
"""

import csv
import importlib
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechbrain_asd.data.asvspoof import (
    ASV_TRIAL_HEADER,
    CLASS_NAMES,
    CM_HEADER,
    ENROL_HEADER,
    OPT_FILE,
    class_label,
    prepare_asvspoof,
)
from speechbrain_asd.scorefiles import (
    ASVTrial,
    CMTrial,
    ProtocolError,
    write_asv_enrolment,
    write_asv_protocol,
    write_cm_protocol,
)

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "ASVspoof2019_LA"
RATE = 16000
TRAIN = [
    CMTrial("LA_0079", "LA_T_1000001", "bonafide", "bonafide"),
    CMTrial("LA_0080", "LA_T_1000002", "bonafide", "bonafide"),
] + [
    CMTrial("LA_0079", f"LA_T_200000{i}", f"A0{i}", "spoof")
    for i in range(1, 7)
]
DEV = [
    CMTrial("LA_0069", "LA_D_1000001", "bonafide", "bonafide"),
    CMTrial("LA_0070", "LA_D_1000002", "bonafide", "bonafide"),
    CMTrial("LA_0069", "LA_D_2000001", "A01", "spoof"),
]
EVAL = [
    CMTrial("LA_0039", "LA_E_1000001", "bonafide", "bonafide"),
    CMTrial("LA_0039", "LA_E_2000001", "A04", "spoof"),
    CMTrial("LA_0040", "LA_E_2000002", "A16", "spoof"),
]
ENROL = {
    "dev": {
        "female": {"LA_0069": ["LA_D_9000001", "LA_D_9000002"]},
        "male": {"LA_0070": ["LA_D_9000003"]},
    },
    "eval": {
        "female": {"LA_0039": ["LA_E_9000001"]},
        "male": {"LA_0040": ["LA_E_9000002"]},
    },
}
ASV = {
    "dev": [
        ASVTrial("LA_0069", "LA_D_1000001", "bonafide", "target"),
        ASVTrial("LA_0070", "LA_D_1000001", "bonafide", "nontarget"),
        ASVTrial("LA_0069", "LA_D_2000001", "A01", "spoof"),
    ],
    "eval": [
        ASVTrial("LA_0039", "LA_E_1000001", "bonafide", "target"),
        ASVTrial("LA_0040", "LA_E_2000002", "A16", "spoof"),
    ],
}
EVAL_2021 = (
    "LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval\n"
    "LA_0020 LA_E_7294490 g722 loc_tx bonafide bonafide notrim progress\n"
)
PROTOCOLS = {
    "train": "ASVspoof2019.LA.cm.train.trn.txt",
    "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
    "eval": "ASVspoof2019.LA.cm.eval.trl.txt",
}


def _flac(path, frames):
    """Writes a short FLAC file of low noise.

    Arguments
    ---------
    path : pathlib.Path
        The file (its folder is created).
    frames : int
        Number of samples at 16 kHz.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(frames).normal(0, 0.01, frames)
    sf.write(path, noise, RATE)


def _frames(trial):
    """Gives each fake file its own length, from 0.1 s up.

    Arguments
    ---------
    trial : str
        Trial id, ending in digits.

    Returns
    -------
    int
        Number of samples.
    """
    return 1600 + 16 * (int(trial[-2:]) % 50)


def _make_2019(root, with_asv=True):
    """Builds a tiny ASVspoof 2019 LA layout under ``root/LA``.

    Arguments
    ---------
    root : pathlib.Path
        Folder that will contain ``LA/``.
    with_asv : bool
        Whether to write the ASV protocols and enrolment audio.

    Returns
    -------
    pathlib.Path
        The ``LA`` folder.
    """
    la = root / "LA"
    for split, trials in (("train", TRAIN), ("dev", DEV), ("eval", EVAL)):
        flac = la / f"ASVspoof2019_LA_{split}" / "flac"
        for trial in trials:
            _flac(flac / f"{trial.trial}.flac", _frames(trial.trial))
        write_cm_protocol(
            la / "ASVspoof2019_LA_cm_protocols" / PROTOCOLS[split], trials
        )
    if with_asv:
        asv_dir = la / "ASVspoof2019_LA_asv_protocols"
        for split in ("dev", "eval"):
            flac = la / f"ASVspoof2019_LA_{split}" / "flac"
            for gender, enrolment in ENROL[split].items():
                write_asv_enrolment(
                    asv_dir / f"ASVspoof2019.LA.asv.{split}.{gender}.trn.txt",
                    enrolment,
                )
                for utterances in enrolment.values():
                    for utt in utterances:
                        _flac(flac / f"{utt}.flac", _frames(utt))
            write_asv_protocol(
                asv_dir / f"ASVspoof2019.LA.asv.{split}.gi.trl.txt", ASV[split]
            )
    return la


def _make_2021(root):
    """Builds a tiny ASVspoof 2021 LA eval layout under ``root``.

    Arguments
    ---------
    root : pathlib.Path
        The 2021 folder.

    Returns
    -------
    pathlib.Path
        ``root``.
    """
    for line in EVAL_2021.splitlines():
        trial = line.split()[1]
        _flac(
            root / "ASVspoof2021_LA_eval" / "flac" / f"{trial}.flac",
            _frames(trial),
        )
    metadata = root / "keys" / "LA" / "CM" / "trial_metadata.txt"
    metadata.parent.mkdir(parents=True)
    metadata.write_text(EVAL_2021)
    return root


def _rows(path):
    """Reads a manifest.

    Arguments
    ---------
    path : str
        CSV file.

    Returns
    -------
    header : list of str
        Column names.
    rows : list of dict
        The rows.
    """
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return reader.fieldnames, rows


@pytest.fixture
def corpus(tmp_path):
    """A tiny 2019 layout with ASV protocols, and a 2021 eval layout.

    Arguments
    ---------
    tmp_path : pathlib.Path
        pytest's temporary folder.

    Returns
    -------
    dict
        ``root`` (contains LA/), ``la``, ``root_2021`` and ``save`` paths.
    """
    root = tmp_path / "asvspoof2019"
    la = _make_2019(root)
    # extra files that the protocols do not list must not reach manifests
    _flac(la / "ASVspoof2019_LA_eval" / "flac" / "LA_E_5555555.flac", 1600)
    return {
        "root": root,
        "la": la,
        "root_2021": _make_2021(tmp_path / "asvspoof2021"),
        "save": tmp_path / "manifests",
    }


def test_class_names_and_labels():
    """Bona fide is 0, A01..A06 are 1..6, adversarial 7, others -1."""
    assert len(CLASS_NAMES) == 8
    assert class_label("bonafide") == 0
    assert [class_label(f"A0{i}") for i in range(1, 7)] == list(range(1, 7))
    assert class_label("adversarial") == 7
    assert class_label("A07") == -1
    assert class_label("A16") == -1


def test_cm_manifests(corpus):
    """CM manifests hold every protocol trial with labels and durations."""
    out = prepare_asvspoof(corpus["root"], corpus["save"])
    for split, trials in (("train", TRAIN), ("dev", DEV), ("eval", EVAL)):
        header, rows = _rows(out[split])
        assert header == CM_HEADER
        assert [row["ID"] for row in rows] == [t.trial for t in trials]
        for row, trial in zip(rows, trials):
            assert row["spk_id"] == trial.speaker
            assert row["system"] == trial.attack
            assert row["key"] == trial.key
            assert row["wav"] == (
                f"$data_root/LA/ASVspoof2019_LA_{split}/flac/{trial.trial}.flac"
            )
            expected = _frames(trial.trial) / RATE
            assert float(row["duration"]) == pytest.approx(expected, abs=1e-5)
    _, train = _rows(out["train"])
    assert [int(row["label"]) for row in train] == [0, 0, 1, 2, 3, 4, 5, 6]
    _, evaluation = _rows(out["eval"])
    assert [(r["system"], r["label"]) for r in evaluation] == [
        ("bonafide", "0"),
        ("A04", "4"),
        ("A16", "-1"),
    ]


def _speakers(path):
    """The speaker ids of a ``{split}_speakers.txt`` file, one a line."""
    return Path(path).read_text(encoding="utf-8").split()


def test_speaker_lists(corpus):
    """Each split gets its sorted speaker list."""
    out = prepare_asvspoof(corpus["root"], corpus["save"])
    assert _speakers(out["train_speakers"]) == ["LA_0079", "LA_0080"]
    assert _speakers(out["dev_speakers"]) == ["LA_0069", "LA_0070"]
    assert _speakers(out["eval_speakers"]) == ["LA_0039", "LA_0040"]


def test_asv_manifests(corpus):
    """Enrolment and ASV trial manifests follow the ASV protocols."""
    out = prepare_asvspoof(corpus["root"], corpus["save"])
    header, enrol = _rows(out["dev_asv_enrol"])
    assert header == ENROL_HEADER
    assert [(r["ID"], r["spk_id"]) for r in enrol] == [
        ("LA_D_9000001", "LA_0069"),
        ("LA_D_9000002", "LA_0069"),
        ("LA_D_9000003", "LA_0070"),
    ]
    assert enrol[0]["wav"].startswith("$data_root/LA/ASVspoof2019_LA_dev/flac/")
    header, trials = _rows(out["dev_asv_trials"])
    assert header == ASV_TRIAL_HEADER
    assert [
        (r["ID"], r["trial"], r["spk_id"], r["system"], r["key"])
        for r in trials
    ] == [
        (
            "LA_0069_LA_D_1000001",
            "LA_D_1000001",
            "LA_0069",
            "bonafide",
            "target",
        ),
        (
            "LA_0070_LA_D_1000001",
            "LA_D_1000001",
            "LA_0070",
            "bonafide",
            "nontarget",
        ),
        ("LA_0069_LA_D_2000001", "LA_D_2000001", "LA_0069", "A01", "spoof"),
    ]
    expected = _frames("LA_D_1000001") / RATE
    assert float(trials[1]["duration"]) == pytest.approx(expected, abs=1e-5)
    _, eval_trials = _rows(out["eval_asv_trials"])
    assert eval_trials[1]["system"] == "A16"
    assert "train_asv_enrol" not in out


def test_eval_2021_manifest(corpus):
    """The 2021 eval manifest uses its own $data_root_2021 placeholder."""
    out = prepare_asvspoof(
        corpus["root"],
        corpus["save"],
        eval_2021_folder=corpus["root_2021"],
    )
    header, rows = _rows(out["eval_2021"])
    assert header == CM_HEADER + ["codec", "transmission", "trim", "subset"]
    assert [(r["ID"], r["system"], r["key"], r["label"]) for r in rows] == [
        ("LA_E_9332881", "A07", "spoof", "-1"),
        ("LA_E_7294490", "bonafide", "bonafide", "0"),
    ]
    conditions = [
        (r["codec"], r["transmission"], r["trim"], r["subset"]) for r in rows
    ]
    expected = [
        tuple(line.split()[i] for i in (2, 3, 6, 7))
        for line in (EVAL_2021.splitlines())
    ]
    assert conditions == expected
    assert rows[0]["wav"] == (
        "$data_root_2021/ASVspoof2021_LA_eval/flac/LA_E_9332881.flac"
    )
    assert _speakers(out["eval_2021_speakers"]) == ["LA_0009", "LA_0020"]


def test_manifests_load_in_speechbrain(corpus):
    """SpeechBrain reads the manifests with both replacements."""
    from speechbrain.dataio.dataio import load_data_csv

    out = prepare_asvspoof(
        corpus["root"], corpus["save"], eval_2021_folder=corpus["root_2021"]
    )
    replacements = {
        "data_root": str(corpus["root"]),
        "data_root_2021": str(corpus["root_2021"]),
    }
    for name in ("train", "eval_2021", "dev_asv_trials", "eval_asv_enrol"):
        data = load_data_csv(out[name], replacements)
        for row in data.values():
            assert os.path.isfile(row["wav"])
            assert isinstance(row["duration"], float)


def test_data_folder_may_be_the_la_folder(corpus):
    """Pointing at LA/ itself works; paths are relative to it."""
    out = prepare_asvspoof(corpus["la"], corpus["save"], splits=["dev"])
    _, rows = _rows(out["dev"])
    assert (
        rows[0]["wav"]
        == "$data_root/ASVspoof2019_LA_dev/flac/LA_D_1000001.flac"
    )
    assert sorted(out) == [
        "dev",
        "dev_asv_enrol",
        "dev_asv_trials",
        "dev_speakers",
    ]


def test_missing_audio_names_protocol_line(corpus):
    """A missing audio file names protocol, line and path; no CSV is left."""
    missing = (
        corpus["la"] / "ASVspoof2019_LA_eval" / "flac" / "LA_E_2000001.flac"
    )
    missing.unlink()
    protocol = corpus["la"] / "ASVspoof2019_LA_cm_protocols" / PROTOCOLS["eval"]
    pattern = (
        re.escape(f"{protocol}:2: audio file not found: ")
        + ".*"
        + (re.escape(str(missing)))
    )
    with pytest.raises(FileNotFoundError, match=pattern):
        prepare_asvspoof(corpus["root"], corpus["save"])
    assert not corpus["save"].exists() or not os.listdir(corpus["save"])


def test_missing_enrolment_audio(corpus):
    """A missing enrolment file names the enrolment list and its line."""
    flac = corpus["la"] / "ASVspoof2019_LA_dev" / "flac"
    (flac / "LA_D_9000003.flac").unlink()
    with pytest.raises(FileNotFoundError, match=r"male\.trn\.txt:1: audio"):
        prepare_asvspoof(corpus["root"], corpus["save"])


def test_malformed_protocol_writes_nothing(corpus):
    """A malformed protocol line names file and line; nothing is written."""
    protocol = corpus["la"] / "ASVspoof2019_LA_cm_protocols" / PROTOCOLS["dev"]
    with open(protocol, "a") as handle:
        handle.write("LA_0069 LA_D_3000001 - A01\n")
    with pytest.raises(ProtocolError, match=re.escape(f"{protocol}:4: ")):
        prepare_asvspoof(corpus["root"], corpus["save"])
    assert not corpus["save"].exists() or not os.listdir(corpus["save"])


def test_failed_rerun_keeps_previous_outputs_but_forgets_options(corpus):
    """A failing re-run leaves old manifests whole and drops nothing half."""
    out = prepare_asvspoof(corpus["root"], corpus["save"])
    before = Path(out["train"]).read_text()
    (
        corpus["la"] / "ASVspoof2019_LA_train" / "flac" / "LA_T_2000003.flac"
    ).unlink()
    with pytest.raises(FileNotFoundError):
        prepare_asvspoof(corpus["root"], corpus["save"], splits=["train"])
    assert Path(out["train"]).read_text() == before
    assert not [n for n in os.listdir(corpus["save"]) if n.endswith(".tmp")]


def test_skip_on_rerun(corpus):
    """Same options and all outputs present: the second run skips."""
    out = prepare_asvspoof(corpus["root"], corpus["save"])
    assert (corpus["save"] / OPT_FILE).is_file()
    Path(out["train"]).write_text("marker\n")
    again = prepare_asvspoof(corpus["root"], corpus["save"])
    assert again == out
    assert Path(out["train"]).read_text() == "marker\n"


def test_rerun_when_options_change_or_output_missing(corpus):
    """Changed options or a missing output trigger a new preparation."""
    out = prepare_asvspoof(corpus["root"], corpus["save"])
    Path(out["train"]).write_text("marker\n")
    prepare_asvspoof(corpus["root"], corpus["save"], splits=["train", "dev"])
    assert Path(out["train"]).read_text() != "marker\n"
    Path(out["train"]).write_text("marker\n")
    os.remove(out["dev_speakers"])
    prepare_asvspoof(corpus["root"], corpus["save"], splits=["train", "dev"])
    assert Path(out["train"]).read_text() != "marker\n"
    assert os.path.isfile(out["dev_speakers"])


def test_skip_prep_returns_existing_outputs(corpus):
    """skip_prep prepares nothing and lists what is already there."""
    assert prepare_asvspoof(None, corpus["save"], skip_prep=True) == {}
    out = prepare_asvspoof(corpus["root"], corpus["save"], splits=["train"])
    listed = prepare_asvspoof(None, corpus["save"], skip_prep=True)
    assert listed == out


def test_no_asv_protocols_means_no_asv_manifests(tmp_path):
    """Without ASV protocols only the CM manifests are written."""
    root = tmp_path / "data"
    _make_2019(root, with_asv=False)
    out = prepare_asvspoof(root, tmp_path / "save")
    assert sorted(out) == [
        "dev",
        "dev_speakers",
        "eval",
        "eval_speakers",
        "train",
        "train_speakers",
    ]


def test_incomplete_asv_protocols_are_an_error(corpus):
    """Some but not all ASV protocol files of a split is an error."""
    asv_dir = corpus["la"] / "ASVspoof2019_LA_asv_protocols"
    (asv_dir / "ASVspoof2019.LA.asv.eval.male.trn.txt").unlink()
    with pytest.raises(FileNotFoundError, match="eval are incomplete.*male"):
        prepare_asvspoof(corpus["root"], corpus["save"])


def test_asv_trial_with_unenrolled_speaker(corpus):
    """A claimed speaker absent from the enrolment lists names the line."""
    trials = (
        corpus["la"]
        / "ASVspoof2019_LA_asv_protocols"
        / ("ASVspoof2019.LA.asv.dev.gi.trl.txt")
    )
    with open(trials, "a") as handle:
        handle.write("LA_0099 LA_D_1000001 bonafide nontarget\n")
    with pytest.raises(ProtocolError, match=re.escape(f"{trials}:4: claimed")):
        prepare_asvspoof(corpus["root"], corpus["save"])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"splits": ["test"]}, ValueError, "unknown split"),
        ({"splits": "train"}, ValueError, "list of splits"),
        ({"splits": []}, ValueError, "nothing to prepare"),
        ({"eval_2021_folder": "/no/such"}, FileNotFoundError, "/no/such"),
    ],
)
def test_bad_arguments(corpus, kwargs, error, message):
    """Bad arguments are named in the error."""
    with pytest.raises(error, match=message):
        prepare_asvspoof(corpus["root"], corpus["save"], **kwargs)


def test_wrong_data_folder(tmp_path):
    """A folder without the LA layout is a clear error."""
    with pytest.raises(FileNotFoundError, match="ASVspoof2019_LA_cm_protocols"):
        prepare_asvspoof(tmp_path, tmp_path / "save")


def test_recipe_wrapper(corpus, monkeypatch):
    """The recipe's asvspoof_prepare forwards to the library."""
    monkeypatch.syspath_prepend(str(RECIPE))
    sys.modules.pop("asvspoof_prepare", None)
    recipe = importlib.import_module("asvspoof_prepare")
    out = recipe.prepare_asvspoof(
        data_folder=corpus["root"],
        save_folder=corpus["save"],
        skip_prep=False,
    )
    assert sorted(out)[:2] == ["dev", "dev_asv_enrol"]
    assert (
        recipe.prepare_asvspoof(
            data_folder=corpus["root"],
            save_folder=corpus["save"],
            skip_prep=True,
        )
        == out
    )
