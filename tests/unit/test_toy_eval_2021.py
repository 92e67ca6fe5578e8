"""Unit tests of the ASVspoof 2021 LA-style eval part, without its audio.

The plan (codecs, transmissions, trim and subsets, ids, ASV trials), its
protocol files read back with the library's readers, the toy ASV on
synthetic speakers, and the in-place addition's rules and clean-up. The
rendered part is tested in tests/integration/test_toy_corpus.py.

Authors
 * speechbrain-asd developers
"""

import json
import os
import re
from collections import Counter

import numpy as np
import pytest

from asd_toy_corpus import generate
from asd_toy_corpus.layout import (
    asv_metadata_2021_path,
    asv_scores_2021_path,
    asv_trials_path,
    cm_metadata_2021_path,
    trial_list_2021_path,
    write_protocols,
    write_protocols_2021,
)
from asd_toy_corpus.plan import make_plan
from asd_toy_corpus.plan_2021 import (
    PROGRESS_SHARE,
    TRIM_SHARE,
    Eval2019,
    plan_eval_2021,
    read_eval_2019,
)
from asd_toy_corpus.summary import (
    MARKER,
    format_corpus_summary,
    summarize_corpus,
)
from asd_toy_corpus.telephony_codecs import CODECS, apply_codec
from asd_toy_corpus.toy_asv import ToyASV, utterance_embedding
from asd_toy_corpus.transmission import TRANSMISSIONS
from speechbrain_asd.metrics import compute_eer
from speechbrain_asd.scorefiles import (
    CMTrial,
    read_asv_score_list,
    read_cm_protocol,
    read_trial_list,
)

SEED = 1234


def _protocols(root, seed, size):
    """Writes the 2019 protocols of a plan, skipping without speech data.

    Arguments
    ---------
    root : pathlib.Path
        The corpus folder.
    seed : int
        The seed.
    size : str
        The size name.

    Returns
    -------
    CorpusPlan
        The 2019 plan.
    """
    try:
        plan = make_plan(seed, size)
    except FileNotFoundError as error:
        pytest.skip(str(error))
    write_protocols(root, plan)
    return plan


@pytest.fixture(scope="module", params=["small", "default"])
def planned(request, tmp_path_factory):
    """The 2019 plan, its protocols' folder and the 2021 plan of each size.

    Arguments
    ---------
    request : pytest.FixtureRequest
        Gives the size.
    tmp_path_factory : pytest.TempPathFactory
        Gives the folder.

    Returns
    -------
    tuple
        ``(plan_2019, root, plan_2021)``.
    """
    root = tmp_path_factory.mktemp(request.param)
    plan = _protocols(root, SEED, request.param)
    return plan, root, plan_eval_2021(SEED, read_eval_2019(root))


def _cells(plan_2021):
    """Trials per (attack, codec) cell.

    Arguments
    ---------
    plan_2021 : Eval2021Plan
        The plan.

    Returns
    -------
    dict
        ``(attack, codec)`` -> list of CMTrial.
    """
    cells = {}
    for trial in plan_2021.trials:
        cells.setdefault((trial.cm.attack, trial.cm.codec), []).append(trial.cm)
    return cells


def test_every_eval_trial_becomes_one_2021_trial(planned):
    """Same speakers, attacks and keys, one 2021 trial per 2019 eval trial."""
    plan, _, plan_2021 = planned
    eval_trials = {
        i.utt_id: i
        for i in plan.items
        if i.split == "eval" and i.role != "enrolment"
    }
    assert sorted(t.source for t in plan_2021.trials) == sorted(eval_trials)
    for index, trial in enumerate(plan_2021.trials):
        assert trial.index == index
        source = eval_trials[trial.source]
        assert (trial.cm.speaker, trial.cm.attack, trial.cm.key) == (
            source.speaker_id,
            source.attack,
            source.key,
        )


def test_ids_are_new_unique_and_well_formed(planned):
    """Random 7-digit LA_E ids, unique, none of them a 2019 id."""
    plan, _, plan_2021 = planned
    ids = [t.cm.trial for t in plan_2021.trials]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"LA_E_\d{7}", i) for i in ids)
    assert not set(ids) & {item.utt_id for item in plan.items}


def test_codecs_are_dealt_evenly_per_group(planned):
    """Each (key, attack) group spreads evenly over the seven codecs."""
    _, _, plan_2021 = planned
    groups = {}
    for trial in plan_2021.trials:
        key = (trial.cm.key, trial.cm.attack)
        groups.setdefault(key, Counter())[trial.cm.codec] += 1
    for counts in groups.values():
        full = [counts.get(codec, 0) for codec in CODECS]
        assert max(full) - min(full) <= 1
    total = Counter(t.cm.codec for t in plan_2021.trials)
    assert max(total.values()) - min(total.values()) <= 1
    assert set(total) == set(CODECS)


def test_every_cell_keeps_eval_trials_in_the_default_size(planned):
    """Default size: every (attack, codec) cell has eval-subset trials."""
    plan, _, plan_2021 = planned
    if plan.size != "default":
        pytest.skip("cells of the small size hold one or two trials")
    cells = _cells(plan_2021)
    attacks = {t.cm.attack for t in plan_2021.trials}
    assert len(cells) == len(attacks) * len(CODECS)
    for trials in cells.values():
        assert sum(t.subset == "eval" for t in trials) >= len(trials) // 2


def test_trim_is_hidden_and_shares_hold(planned):
    """trim <=> hidden; about 10 % trim, 20 % of the rest progress."""
    _, _, plan_2021 = planned
    cms = [t.cm for t in plan_2021.trials]
    assert all((c.trim == "trim") == (c.subset == "hidden") for c in cms)
    assert {c.trim for c in cms} == {"trim", "notrim"}
    assert {c.subset for c in cms} == {"eval", "progress", "hidden"}
    trimmed = sum(c.trim == "trim" for c in cms)
    progress = sum(c.subset == "progress" for c in cms)
    assert abs(trimmed - TRIM_SHARE * len(cms)) <= 2
    assert abs(progress - PROGRESS_SHARE * (len(cms) - trimmed)) <= 2
    for trials in _cells(plan_2021).values():
        if len(trials) >= 2:
            assert any(t.subset == "eval" for t in trials)


def test_subsets_are_stratified_by_cell(planned):
    """Every cell's trim and progress counts follow the shares."""
    plan, _, plan_2021 = planned
    if plan.size != "default":
        pytest.skip("cells of the small size hold one or two trials")
    for trials in _cells(plan_2021).values():
        n = len(trials)
        trimmed = sum(t.trim == "trim" for t in trials)
        progress = sum(t.subset == "progress" for t in trials)
        assert abs(trimmed - TRIM_SHARE * n) <= 1.5
        assert abs(progress - PROGRESS_SHARE * (n - trimmed)) <= 1.5


def test_transmissions_occur_for_both_classes(planned):
    """All four transmissions are drawn for bona fide and spoofed trials."""
    plan, _, plan_2021 = planned
    for key in ("bonafide", "spoof"):
        drawn = Counter(
            t.cm.transmission for t in plan_2021.trials if t.cm.key == key
        )
        if plan.size == "default":
            assert set(drawn) == set(TRANSMISSIONS)
            assert min(drawn.values()) > 0.15 * sum(drawn.values())


def test_asv_trials_follow_the_cm_conditions(planned):
    """The 2019 ASV list with 2021 ids and the CM trial's conditions."""
    _, root, plan_2021 = planned
    by_source = {t.source: t.cm for t in plan_2021.trials}
    eval_2019 = read_eval_2019(root)
    assert len(plan_2021.asv_trials) == len(eval_2019.asv_trials)
    expected = sorted(
        (a.speaker, by_source[a.trial].trial, a.attack, a.key)
        for a in eval_2019.asv_trials
    )
    got = [(a.speaker, a.trial, a.attack, a.key) for a in plan_2021.asv_trials]
    assert got == expected
    cm = {t.cm.trial: t.cm for t in plan_2021.trials}
    for asv in plan_2021.asv_trials:
        fields = ("codec", "transmission", "trim", "subset")
        assert [getattr(asv, f) for f in fields] == [
            getattr(cm[asv.trial], f) for f in fields
        ]
    assert set(plan_2021.enrolment) == {a.speaker for a in plan_2021.asv_trials}


def test_plan_is_deterministic_and_seed_dependent(planned):
    """Same seed: same plan; another seed: other ids and codecs."""
    _, root, plan_2021 = planned
    eval_2019 = read_eval_2019(root)
    assert plan_eval_2021(SEED, eval_2019) == plan_2021
    other = plan_eval_2021(SEED + 1, eval_2019)
    assert [t.cm.trial for t in other.trials] != [
        t.cm.trial for t in plan_2021.trials
    ]


def test_protocol_files_read_back(planned, tmp_path):
    """Trial list, CM and ASV metadata and scores, read by scorefiles."""
    _, _, plan_2021 = planned
    scores = np.linspace(-1, 1, len(plan_2021.asv_trials))
    write_protocols_2021(tmp_path, plan_2021, scores)
    cm = read_cm_protocol(cm_metadata_2021_path(tmp_path))
    assert cm == plan_2021.cm_trials()
    assert read_trial_list(trial_list_2021_path(tmp_path)) == [
        t.trial for t in cm
    ]
    asv, read_scores = read_asv_score_list(
        asv_scores_2021_path(tmp_path), asv_metadata_2021_path(tmp_path)
    )
    assert asv == list(plan_2021.asv_trials)
    np.testing.assert_allclose(read_scores, scores)
    with pytest.raises(ValueError, match="ASV scores for"):
        write_protocols_2021(tmp_path, plan_2021, scores[:-1])


def test_summary_counts_the_2021_part(planned, tmp_path):
    """The summary and its table count the 2021 trials per codec and subset."""
    plan, root, plan_2021 = planned
    write_protocols_2021(root, plan_2021, [0.0] * len(plan_2021.asv_trials))
    summary = summarize_corpus(root)["eval_2021"]
    assert summary["trials"] == len(plan_2021.trials)
    assert list(summary["codecs"]) == list(CODECS)
    assert sum(c["spoof"] for c in summary["codecs"].values()) == sum(
        t.cm.key == "spoof" for t in plan_2021.trials
    )
    assert list(summary["subsets"]) == ["eval", "progress", "hidden"]
    text = format_corpus_summary(summarize_corpus(root))
    assert "| 2021 codec | trials | bona fide | spoof |" in text
    assert f"| all | {summary['trials']} |" in text


def test_read_eval_2019_names_a_bad_asv_list(tmp_path):
    """An ASV list naming an utterance that is no eval trial is refused."""
    _protocols(tmp_path, 3, "small")
    path = asv_trials_path(tmp_path, "eval")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("LA_0002 LA_E_0000001 bonafide nontarget\n")
    with pytest.raises(ValueError, match="ASVspoof2019.LA.asv.eval.gi.trl.txt"):
        read_eval_2019(tmp_path)


def test_small_groups_are_dealt_and_capped():
    """Tiny inputs: a one-trial cell may leave eval, a two-trial cell not."""
    trials = tuple(
        CMTrial("LA_0001", f"LA_E_{1000000 + i}", "A07", "spoof")
        for i in range(2 * len(CODECS))
    )
    eval_2019 = Eval2019(trials, (), {}, frozenset(t.trial for t in trials))
    for seed in range(20):
        plan_2021 = plan_eval_2021(seed, eval_2019)
        for cell in _cells(plan_2021).values():
            assert len(cell) == 2
            assert any(t.subset == "eval" for t in cell)


def _synthetic_speaker_utterance(formants, f0, rng, n=16000):
    """A vowel-like utterance: a pulse train through speaker formants.

    Arguments
    ---------
    formants : list of float
        The speaker's formant frequencies in Hz.
    f0 : float
        The speaker's mean pitch in Hz.
    rng : numpy.random.Generator
        Source of the pitch jitter, gating and noise.
    n : int
        Number of samples at 16 kHz.

    Returns
    -------
    numpy.ndarray
        The utterance.
    """
    t = np.arange(n) / 16000
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(2, 5) * t))
    phase = 2 * np.pi * np.cumsum(pitch) / 16000
    source = sum(np.cos(k * phase) for k in range(1, int(7000 / f0)))
    freqs = np.fft.rfftfreq(n, 1 / 16000)
    envelope = sum(1 / (1 + ((freqs - f) / (0.08 * f)) ** 2) for f in formants)
    voiced = np.fft.irfft(np.fft.rfft(source) * envelope, n=n)
    gate = (np.sin(2 * np.pi * rng.uniform(2, 4) * t) > -0.5).astype(float)
    x = voiced * gate + 0.01 * np.std(voiced) * rng.standard_normal(n)
    return 0.3 * x / np.max(np.abs(x))


def test_toy_asv_beats_chance_through_the_codecs():
    """Synthetic speakers: targets above nontargets, clean enrolment."""
    rng = np.random.default_rng(0)
    speakers = {
        f"LA_{k:04d}": (sorted(rng.uniform(300, 3300, 4)), rng.uniform(90, 250))
        for k in range(5)
    }
    enrolment = {
        spk: [
            utterance_embedding(_synthetic_speaker_utterance(*voice, rng))
            for _ in range(3)
        ]
        for spk, voice in speakers.items()
    }
    asv = ToyASV(enrolment)
    target, nontarget = [], []
    for spk, voice in speakers.items():
        for codec in CODECS:
            wave = _synthetic_speaker_utterance(*voice, rng)
            test = utterance_embedding(apply_codec(wave, codec, rng))
            for claimed in speakers:
                score = asv.score(claimed, test)
                (target if claimed == spk else nontarget).append(score)
    assert compute_eer(target, nontarget)[0] < 0.2
    with pytest.raises(KeyError, match="not enrolled"):
        asv.score("LA_0099", test)
    with pytest.raises(ValueError, match="at least one enrolment"):
        ToyASV({"LA_0001": []})


def _fake_corpus_without_2021(root):
    """Writes the 2019 protocols and a marker without the 2021 part.

    Arguments
    ---------
    root : pathlib.Path
        The corpus folder.

    Returns
    -------
    bytes
        The marker's content.
    """
    _protocols(root, 1, "small")
    marker = json.dumps({"format_version": 1, "seed": 1, "size": "small"})
    (root / MARKER).write_text(marker)
    return marker.encode()


def _listing(root):
    """Every path under a folder, relative, sorted.

    Arguments
    ---------
    root : pathlib.Path
        The folder.

    Returns
    -------
    list of str
        The paths.
    """
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_in_place_addition_failure_leaves_the_corpus(tmp_path, monkeypatch):
    """A failure while adding the 2021 part leaves the corpus as it was."""
    marker = _fake_corpus_without_2021(tmp_path)
    before = _listing(tmp_path)

    def broken(source_root, out_root, seed, workers, progress):
        """Writes part of the 2021 folders, then fails.

        Arguments
        ---------
        source_root : pathlib.Path
            Ignored.
        out_root : pathlib.Path
            The temporary folder.
        seed : int
            Ignored.
        workers : int
            Ignored.
        progress : bool
            Ignored.
        """
        os.makedirs(out_root / "keys" / "LA")
        raise RuntimeError("interrupted")

    monkeypatch.setattr(generate, "make_eval_2021", broken)
    with pytest.raises(RuntimeError, match="interrupted"):
        generate.make_toy_corpus(tmp_path, seed=1, size="small")
    assert _listing(tmp_path) == before
    assert (tmp_path / MARKER).read_bytes() == marker


def test_in_place_addition_moves_and_records(tmp_path, monkeypatch):
    """The part's folders are moved in and the marker records them."""
    _fake_corpus_without_2021(tmp_path)

    def fake(source_root, out_root, seed, workers, progress):
        """Writes the two folders of the part.

        Arguments
        ---------
        source_root : pathlib.Path
            Ignored.
        out_root : pathlib.Path
            The temporary folder.
        seed : int
            Ignored.
        workers : int
            Ignored.
        progress : bool
            Ignored.

        Returns
        -------
        dict
            What the marker records.
        """
        for name in ("ASVspoof2021_LA_eval", "keys"):
            (out_root / name).mkdir()
            (out_root / name / "x.txt").write_text(name)
        return {"trials": 0, "codecs": list(CODECS)}

    monkeypatch.setattr(generate, "make_eval_2021", fake)
    summary = generate.make_toy_corpus(tmp_path, seed=1, size="small")
    assert summary["skipped"] is False
    marker = json.loads((tmp_path / MARKER).read_text())
    assert marker["format_version"] == generate.FORMAT_VERSION
    assert marker["eval_2021"]["codecs"] == list(CODECS)
    assert (tmp_path / "keys" / "x.txt").read_text() == "keys"
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    again = generate.make_toy_corpus(tmp_path, seed=1, size="small")
    assert again["skipped"] is True


def test_in_place_addition_refuses_unrecorded_folders(tmp_path):
    """A 2021 folder the marker does not record is not overwritten."""
    marker = _fake_corpus_without_2021(tmp_path)
    (tmp_path / "keys").mkdir()
    with pytest.raises(ValueError, match="records no 2021 part"):
        generate.make_toy_corpus(tmp_path, seed=1, size="small")
    assert (tmp_path / MARKER).read_bytes() == marker
