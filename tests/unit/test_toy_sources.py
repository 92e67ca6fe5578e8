"""Unit tests of the real speech sources of the toy corpus.

Authors
 * speechbrain-asd developers
"""

import os

import numpy as np
import pytest

from speechbrain_asd.data.toy import sources
from speechbrain_asd.data.toy.sources import (
    SPEAKERS,
    Recording,
    SpeakerSpec,
    list_utterances,
    load_utterance,
)


def test_catalogue_has_distinct_speakers_in_every_split():
    """At least 12 speakers, at least 8 in train, dev and eval both used."""
    names = [spec.name for spec in SPEAKERS]
    assert len(set(names)) == len(names) >= 12
    splits = [spec.split for spec in SPEAKERS]
    assert splits.count("train") >= 8
    assert splits.count("dev") >= 2 and splits.count("eval") >= 2
    for split in ("dev", "eval"):
        genders = {s.gender for s in SPEAKERS if s.split == split}
        assert genders == {"female", "male"}


def test_recordings_whose_talkers_may_coincide_share_a_split():
    """Both hts.raw talkers and cq_ref (Codec2 lab files) are in one split."""
    lab = {s.split for s in SPEAKERS if s.name.startswith("codec2-hts")}
    lab.add(sources.speaker_spec("codec2-cq-ref").split)
    assert len(lab) == 1


@pytest.mark.parametrize("spec", SPEAKERS, ids=lambda s: s.name)
def test_every_speaker_has_speech(spec):
    """Every speaker yields utterances of plausible durations."""
    refs = list_utterances(spec.name)
    assert len(refs) >= 2
    for ref in refs:
        assert ref.speaker == spec.name
        if spec.kind == "prompts":
            assert 1.5 <= ref.duration <= 6.0
        else:
            assert 1.0 <= ref.duration <= 4.6


def test_abundant_speakers_have_many_utterances():
    """The Asterisk voices offer over 100 prompts each, VE9QRP over 25."""
    for spec in SPEAKERS:
        if spec.kind == "prompts":
            assert len(list_utterances(spec.name)) > 100
    assert len(list_utterances("codec2-ve9qrp")) > 25


def test_excluded_files_are_not_used():
    """Concatenations, modem signals and ALSA's noise are left out."""
    names = {
        os.path.basename(ref.path)
        for spec in SPEAKERS
        for ref in list_utterances(spec.name)
    }
    for banned in ("all.wav", "david4", "vk2tpm", "Noise.wav", "2400", "_10s"):
        assert not any(name.startswith(banned) for name in names)


def test_load_utterance_gives_8khz_spans():
    """A chunk loads with the length its duration says."""
    ref = list_utterances("codec2-ve9qrp")[3]
    x = load_utterance(ref)
    assert len(x) == round(ref.duration * 8000)
    assert x.flags.writeable and np.max(np.abs(x)) <= 1.0
    prompt = list_utterances("es-co")[0]
    gsm = load_utterance(prompt)
    assert abs(len(gsm) / 8000 - prompt.duration) < 0.05


def test_chunks_cut_at_pauses():
    """A recording of bursts and pauses is cut inside the pauses."""
    t = np.arange(8000 * 12) / 8000
    bursts = (np.floor(t / 1.5) % 2 == 0).astype(float)
    x = 0.3 * np.sin(2 * np.pi * 200 * t) * bursts + 1e-4
    spans = sources._chunk_bounds(x)
    assert spans
    for start, stop in spans:
        assert 2.0 <= (stop - start) / 8000 <= 4.5 or stop == len(x)
        assert bursts[min(stop, len(x) - 1)] == 0.0 or stop == len(x)


def test_missing_package_is_named(monkeypatch):
    """A speaker without files gives an error naming its Debian package."""
    fake = SpeakerSpec(
        "fake-voice",
        "female",
        "en-us",
        "train",
        "fake-debian-package",
        "prompts",
        (Recording("/nonexistent/*.wav"),),
    )
    monkeypatch.setattr(sources, "SPEAKERS", sources.SPEAKERS + (fake,))
    with pytest.raises(FileNotFoundError, match="fake-debian-package"):
        list_utterances("fake-voice")
    with pytest.raises(KeyError, match="unknown toy-corpus speaker"):
        sources.speaker_spec("nobody")
