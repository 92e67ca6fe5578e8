"""End-to-end tests of the offline corpus on its small size.

The small corpus, with its ASVspoof 2021 LA-style eval part, is generated
once for the module (about 20 s on 2 cores).

Authors
 * speechbrain-asd developers
"""

import csv
import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asd_toy_corpus import make_toy_corpus
from asd_toy_corpus.difficulty import lr_difficulty
from asd_toy_corpus.dsp import active_rms
from asd_toy_corpus.layout import (
    asv_enrolment_path,
    asv_metadata_2021_path,
    asv_scores_2021_path,
    asv_trials_path,
    audio_path,
    audio_path_2021,
    cm_metadata_2021_path,
    cm_protocol_path,
    trial_list_2021_path,
    write_protocols,
)
from asd_toy_corpus.plan import make_plan
from asd_toy_corpus.plan_2021 import plan_eval_2021, read_eval_2019
from asd_toy_corpus.render import flac_path, synthesize_item
from asd_toy_corpus.telephony_codecs import CODECS, apply_codec
from asd_toy_corpus.tools import ToolError
from asd_toy_corpus.toy_asv import ToyASV, utterance_embedding
from speechbrain_asd.metrics import compute_eer
from speechbrain_asd.scorefiles import (
    read_asv_enrolment,
    read_asv_protocol,
    read_asv_score_list,
    read_cm_protocol,
    read_trial_list,
)

pytestmark = pytest.mark.integration

SEED = 1234
SPLITS = ("train", "dev", "eval")
LETTER = {"train": "T", "dev": "D", "eval": "E"}
SEEN = {"A01", "A02", "A03", "A04", "A05", "A06"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Generates the small corpus once.

    Arguments
    ---------
    tmp_path_factory : pytest.TempPathFactory
        Gives the folder.

    Returns
    -------
    tuple
        ``(root, summary)``.
    """
    root = tmp_path_factory.mktemp("toy") / "corpus"
    try:
        summary = make_toy_corpus(root, seed=SEED, size="small", progress=False)
    except (FileNotFoundError, ToolError) as error:
        pytest.skip(f"a Debian package of the corpus is missing: {error}")
    return root, summary


@pytest.fixture(scope="module")
def trials(corpus):
    """The CM trials of each split, read back with scorefiles.

    Arguments
    ---------
    corpus : tuple
        The generated corpus.

    Returns
    -------
    dict
        Split -> list of CMTrial.
    """
    root, _ = corpus
    return {s: read_cm_protocol(cm_protocol_path(root, s)) for s in SPLITS}


def _flac(root, split, utt_id):
    """Path of a corpus FLAC file.

    Arguments
    ---------
    root : pathlib.Path
        The corpus folder.
    split : str
        The split.
    utt_id : str
        The utterance id.

    Returns
    -------
    pathlib.Path
        The file.
    """
    return root / "LA" / f"ASVspoof2019_LA_{split}" / "flac" / f"{utt_id}.flac"


def test_layout_and_naming(corpus, trials):
    """ASVspoof 2019 LA folders, file names and protocol lines."""
    root, summary = corpus
    assert summary["skipped"] is False
    line = re.compile(
        r"LA_00\d\d LA_[TDE]_\d{7} - (-|A0[1-8]) (bonafide|spoof)"
    )
    for split in SPLITS:
        text = Path(cm_protocol_path(root, split)).read_text()
        assert all(line.fullmatch(row) for row in text.splitlines())
        names = set(os.listdir(_flac(root, split, "x").parent))
        assert all(
            re.fullmatch(rf"LA_{LETTER[split]}_\d{{7}}\.flac", n) for n in names
        )
        listed = {f"{t.trial}.flac" for t in trials[split]}
        assert listed <= names
        extra = names - listed
        if split == "train":
            assert not extra
        else:
            enrolled = set()
            for gender in ("female", "male"):
                for utts in read_asv_enrolment(
                    asv_enrolment_path(root, split, gender)
                ).values():
                    enrolled.update(f"{u}.flac" for u in utts)
            assert extra == enrolled
    for split in ("dev", "eval"):
        assert os.path.exists(asv_trials_path(root, split))
    assert (root / "toy_corpus.json").exists()
    assert not [p for p in root.parent.iterdir() if ".partial-" in p.name]


def test_audio_is_16khz_mono_flac(corpus, trials):
    """Every trial file is 16 kHz mono 16-bit FLAC, 1-8 s, not clipped."""
    root, _ = corpus
    for split in SPLITS:
        for trial in trials[split]:
            path = _flac(root, split, trial.trial)
            info = sf.info(str(path))
            assert (info.samplerate, info.channels) == (16000, 1)
            assert (info.format, info.subtype) == ("FLAC", "PCM_16")
            assert 1.0 < info.duration < 8.0
    wave, _ = sf.read(str(_flac(root, "eval", trials["eval"][0].trial)))
    assert np.max(np.abs(wave)) < 1.0


def test_speakers(trials):
    """Speaker-disjoint splits; >= 12 speakers; >= 8 train with >= 10."""
    speakers = {s: {t.speaker for t in trials[s]} for s in SPLITS}
    assert not speakers["train"] & speakers["dev"]
    assert not speakers["train"] & speakers["eval"]
    assert not speakers["dev"] & speakers["eval"]
    assert sum(len(v) for v in speakers.values()) >= 12
    per_speaker = Counter(t.speaker for t in trials["train"])
    assert len(per_speaker) >= 8 and min(per_speaker.values()) >= 10
    for split in SPLITS:
        bona = {t.speaker for t in trials[split] if t.key == "bonafide"}
        assert bona == speakers[split]


def test_attacks_balanced_unseen_only_in_eval(trials):
    """Every split has its attacks in equal numbers; A07/A08 only in eval."""
    for split in SPLITS:
        counts = Counter(t.attack for t in trials[split] if t.key == "spoof")
        assert len(set(counts.values())) == 1
        expected = SEEN | ({"A07", "A08"} if split == "eval" else set())
        assert set(counts) == expected
        assert all(
            t.attack == "bonafide" for t in trials[split] if t.key == "bonafide"
        )


def test_asv_lists(corpus, trials):
    """Enrolled speakers are the claimed ones; keys agree with the CM."""
    root, _ = corpus
    for split in ("dev", "eval"):
        cm = {t.trial: t for t in trials[split]}
        enrolled = {}
        for gender in ("female", "male"):
            part = read_asv_enrolment(asv_enrolment_path(root, split, gender))
            assert part
            enrolled.update(part)
        asv = read_asv_protocol(asv_trials_path(root, split))
        assert {t.speaker for t in asv} == set(enrolled)
        assert Counter(t.key for t in asv).keys() == {
            "target",
            "nontarget",
            "spoof",
        }
        for trial in asv:
            item = cm[trial.trial]
            if trial.key == "spoof":
                assert item.key == "spoof" and item.attack == trial.attack
                assert item.speaker == trial.speaker
            else:
                assert item.key == "bonafide"
                same = item.speaker == trial.speaker
                assert same == (trial.key == "target")


def test_augmentation_csvs_load_in_speechbrain(corpus):
    """SpeechBrain's legacy CSV reader loads the noise and RIR sets."""
    from speechbrain.dataio.legacy import ExtendedCSVDataset

    root, summary = corpus
    assert summary["augmentation"] == {"noise": 5, "rir": 3}
    for name in ("noise", "rir"):
        dataset = ExtendedCSVDataset(
            csvpath=str(root / "augmentation" / f"{name}.csv")
        )
        item = dataset[0]
        assert item["wav"].ndim == 1 and item["wav"].numel() > 1000


def test_class_not_revealed_by_length_level_or_band(corpus, trials):
    """Duration, speech level and >4.2 kHz energy alone stay near chance."""
    root, _ = corpus
    features = {"bonafide": [], "spoof": []}
    for split in SPLITS:
        for trial in trials[split]:
            x, sr = sf.read(str(_flac(root, split, trial.trial)))
            power = np.abs(np.fft.rfft(x)) ** 2
            high = power[np.fft.rfftfreq(len(x), 1 / sr) > 4200].sum()
            features[trial.key].append(
                (
                    len(x) / sr,
                    20 * np.log10(active_rms(x, sr)),
                    10 * np.log10(high / power.sum()),
                )
            )
    bona, spoof = np.array(features["bonafide"]), np.array(features["spoof"])
    for column in range(3):
        eer = min(
            compute_eer(bona[:, column], spoof[:, column])[0],
            compute_eer(-bona[:, column], -spoof[:, column])[0],
        )
        assert eer > 0.3


def test_rerun_skips_or_refuses(corpus, tmp_path):
    """Same seed and size: skip; other seed or size: refuse; foreign: refuse."""
    root, summary = corpus
    again = make_toy_corpus(root, seed=SEED, size="small", progress=False)
    assert again["skipped"] is True
    assert again["splits"] == summary["splits"]
    with pytest.raises(ValueError, match="already holds a toy corpus"):
        make_toy_corpus(root, seed=SEED + 1, size="small", progress=False)
    with pytest.raises(ValueError, match="already holds a toy corpus"):
        make_toy_corpus(root, seed=SEED, size="default", progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds no complete toy corpus"):
        make_toy_corpus(foreign, seed=SEED, size="small", progress=False)
    assert os.listdir(foreign) == ["notes.txt"]


def test_deterministic(corpus, tmp_path):
    """Same seed: same protocols, and the same audio for a sample of files.

    The sample is made again here, in this process and in another order
    than the two worker processes of the generation made it.
    """
    root, _ = corpus
    plan = make_plan(SEED, "small")
    write_protocols(tmp_path, plan)
    for split in SPLITS:
        assert (
            Path(cm_protocol_path(tmp_path, split)).read_bytes()
            == Path(cm_protocol_path(root, split)).read_bytes()
        )
    for split in ("dev", "eval"):
        assert (
            Path(asv_trials_path(tmp_path, split)).read_bytes()
            == Path(asv_trials_path(root, split)).read_bytes()
        )
    sample = []
    for attack in sorted(SEEN | {"A07", "A08", "bonafide"}):
        sample += [i for i in plan.items if i.attack == attack][:2]
    for item in reversed(sample):
        wave = synthesize_item(item, SEED)
        stored, _ = sf.read(flac_path(root, item), dtype="int16")
        expected = np.clip(np.round(wave * 32768), -32768, 32767)
        np.testing.assert_allclose(stored, expected, atol=1)


def test_lr_difficulty_runs_on_the_small_corpus(corpus):
    """The difficulty check gives an EER per eval attack."""
    root, _ = corpus
    result = lr_difficulty(root)
    assert 0.0 <= result["pooled_eer"] <= 1.0
    assert sorted(result["per_attack_eer"]) == sorted(SEEN | {"A07", "A08"})
    assert result["train_trials"] == 99 and result["eval_trials"] == 42


@pytest.fixture(scope="module")
def trials_2021(corpus):
    """The 2021 CM trials, read back from ``keys/LA/CM/trial_metadata.txt``.

    Arguments
    ---------
    corpus : tuple
        The generated corpus.

    Returns
    -------
    list of CMTrial
        The trials with their conditions.
    """
    root, _ = corpus
    return read_cm_protocol(cm_metadata_2021_path(root))


def test_2021_layout_and_audio(corpus, trials, trials_2021):
    """ASVspoof 2021 LA layout: list, keys, one FLAC per eval trial."""
    root, summary = corpus
    line = re.compile(
        r"LA_00\d\d LA_E_\d{7} (none|alaw|pstn|g722|ulaw|gsm|opus) "
        r"(ita|sin|loc|mad)_tx (bonafide bonafide|A0[1-8] spoof) "
        r"(trim hidden|notrim (eval|progress))"
    )
    text = Path(cm_metadata_2021_path(root)).read_text()
    assert all(line.fullmatch(row) for row in text.splitlines())
    ids = [t.trial for t in trials_2021]
    assert read_trial_list(trial_list_2021_path(root)) == ids
    assert len(ids) == len(trials["eval"]) == summary["eval_2021"]["trials"]
    assert not set(ids) & {t.trial for s in SPLITS for t in trials[s]}
    flac = root / "ASVspoof2021_LA_eval" / "flac"
    assert sorted(os.listdir(flac)) == sorted(f"{i}.flac" for i in ids)
    for trial in trials_2021:
        info = sf.info(audio_path_2021(root, trial.trial))
        assert (info.samplerate, info.channels) == (16000, 1)
        assert (info.format, info.subtype) == ("FLAC", "PCM_16")
        assert 0.5 < info.duration < 8.0
    assert {t.codec for t in trials_2021} == {
        "none",
        "alaw",
        "pstn",
        "g722",
        "ulaw",
        "gsm",
        "opus",
    }
    assert {t.subset for t in trials_2021} == {"eval", "progress", "hidden"}
    assert Counter((t.key, t.attack) for t in trials_2021) == Counter(
        (t.key, t.attack) for t in trials["eval"]
    )
    marker = json.loads((root / "toy_corpus.json").read_text())
    assert marker["format_version"] == 2
    assert marker["eval_2021"]["trials"] == len(ids)


def test_2021_trim_and_band(corpus):
    """Trimmed trials are shorter than their 2019 source, the others as
    long; the 8 kHz codecs leave nothing above 4.5 kHz."""
    root, _ = corpus
    plan = plan_eval_2021(SEED, read_eval_2019(root))
    for trial in plan.trials:
        wave, sr = sf.read(audio_path_2021(root, trial.cm.trial))
        source = sf.info(audio_path(root, "eval", trial.source)).frames
        if trial.cm.trim == "trim":
            assert len(wave) < source
        else:
            assert len(wave) == source
        power = np.abs(np.fft.rfft(wave)) ** 2
        high = power[np.fft.rfftfreq(len(wave), 1 / sr) > 4500].sum()
        if trial.cm.codec in ("alaw", "ulaw", "gsm", "pstn"):
            assert high / power.sum() < 1e-3


def test_2021_asv_scores(corpus, trials_2021):
    """ASV keys follow the CM conditions; scores align, targets win."""
    root, _ = corpus
    asv, scores = read_asv_score_list(
        asv_scores_2021_path(root), asv_metadata_2021_path(root)
    )
    assert len(asv) == len(read_asv_protocol(asv_trials_path(root, "eval")))
    cm = {t.trial: t for t in trials_2021}
    for trial in asv:
        item = cm[trial.trial]
        assert (trial.codec, trial.transmission, trial.trim, trial.subset) == (
            item.codec,
            item.transmission,
            item.trim,
            item.subset,
        )
        assert trial.attack == item.attack
        assert (trial.key == "spoof") == (item.key == "spoof")
    keys = np.array([t.key for t in asv])
    target, nontarget = scores[keys == "target"], scores[keys == "nontarget"]
    assert target.mean() > nontarget.mean()
    assert compute_eer(target, nontarget)[0] < 0.35


def test_2021_toy_asv_per_codec(corpus):
    """Every bona fide ASV trial through every codec: EER < 50 % each.

    The small corpus has one or two target trials per codec, too few for a
    per-codec EER from its score file, so the eval bona fide trials are
    scored again here through each codec condition.
    """
    root, _ = corpus
    eval_2019 = read_eval_2019(root)
    enrolment = {
        speaker: [
            utterance_embedding(sf.read(audio_path(root, "eval", u))[0])
            for u in utts
        ]
        for speaker, utts in eval_2019.enrolment.items()
    }
    asv = ToyASV(enrolment)
    bona = [t for t in eval_2019.asv_trials if t.key != "spoof"]
    waves = {
        t.trial: sf.read(audio_path(root, "eval", t.trial))[0] for t in bona
    }
    for codec in CODECS:
        rng = np.random.default_rng(0)
        embeddings = {
            utt: utterance_embedding(apply_codec(wave, codec, rng))
            for utt, wave in waves.items()
        }
        scores = {"target": [], "nontarget": []}
        for trial in bona:
            scores[trial.key].append(
                asv.score(trial.speaker, embeddings[trial.trial])
            )
        assert compute_eer(scores["target"], scores["nontarget"])[0] < 0.5, (
            codec
        )


def test_2021_prepare_reads_the_part(corpus, tmp_path):
    """prepare_asvspoof writes eval_2021.csv with the conditions."""
    from speechbrain_asd.data.asvspoof import prepare_asvspoof

    root, summary = corpus
    manifests = prepare_asvspoof(
        data_folder=str(root),
        save_folder=str(tmp_path),
        splits=[],
        eval_2021_folder=str(root),
    )
    with open(manifests["eval_2021"], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == summary["eval_2021"]["trials"]
    assert {"codec", "transmission", "trim", "subset"} <= set(rows[0])
    assert {r["codec"] for r in rows} == set(CODECS)


def test_2021_added_in_place_equals_made_at_once(corpus, tmp_path):
    """Removing the part and making it again in place (one worker) gives
    the same files, byte for byte, and the same marker."""
    root, _ = corpus
    copy = tmp_path / "corpus"
    shutil.copytree(root, copy)
    for name in ("ASVspoof2021_LA_eval", "keys"):
        shutil.rmtree(copy / name)
    marker = json.loads((copy / "toy_corpus.json").read_text())
    made_at_once = dict(marker)
    del marker["eval_2021"]
    marker["format_version"] = 1
    (copy / "toy_corpus.json").write_text(json.dumps(marker, indent=2))
    before = {
        p: p.read_bytes() for p in (copy / "LA").rglob("*") if p.is_file()
    }
    summary = make_toy_corpus(
        copy, seed=SEED, size="small", progress=False, workers=1
    )
    assert summary["skipped"] is False
    for name in ("ASVspoof2021_LA_eval", "keys"):
        files = sorted(p.relative_to(root) for p in (root / name).rglob("*"))
        again = sorted(p.relative_to(copy) for p in (copy / name).rglob("*"))
        assert files == again
        for path in files:
            if (root / path).is_file():
                assert (root / path).read_bytes() == (copy / path).read_bytes()
    assert json.loads((copy / "toy_corpus.json").read_text()) == made_at_once
    assert {
        p: p.read_bytes() for p in (copy / "LA").rglob("*") if p.is_file()
    } == before
    assert not [p for p in copy.iterdir() if ".partial-" in p.name]
