"""Unit tests of the real speech sources of the toy corpus.

Authors
 * speechbrain-asd developers
"""

import os

import numpy as np
import pytest

from asd_toy_corpus import sources
from asd_toy_corpus.sources import (
    SPEAKERS,
    Recording,
    SpeakerSpec,
    list_utterances,
    load_utterance,
)


def _utterances(name):
    """Lists a speaker's utterances, skipping when its package is absent.

    Arguments
    ---------
    name : str
        The speaker's name in the catalogue.

    Returns
    -------
    tuple of UtteranceRef
        Its utterances.
    """
    try:
        return list_utterances(name)
    except FileNotFoundError as error:
        pytest.skip(str(error))


def test_catalogue_has_distinct_speakers_in_every_split():
    """At least 22 speakers: 9 in train, 5 in dev and 8 in eval."""
    names = [spec.name for spec in SPEAKERS]
    assert len(set(names)) == len(names) >= 22
    splits = [spec.split for spec in SPEAKERS]
    assert splits.count("train") >= 9
    assert splits.count("dev") >= 5 and splits.count("eval") >= 8
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
    refs = _utterances(spec.name)
    assert len(refs) >= 2
    for ref in refs:
        assert ref.speaker == spec.name
        if spec.kind == "prompts":
            assert 1.5 <= ref.duration <= 6.0
        else:
            assert 1.0 <= ref.duration <= 4.6


def test_abundant_speakers_have_many_utterances():
    """Asterisk voices offer over 100 prompts, Fish Fillets' over 500."""
    for spec in SPEAKERS:
        if spec.kind == "prompts":
            assert len(_utterances(spec.name)) > 100
        if spec.package.startswith("fillets-ng-data"):
            assert len(_utterances(spec.name)) > 500
    assert len(_utterances("codec2-ve9qrp")) > 25


def test_fillets_voices_keep_to_their_talker_and_language():
    """Each Fish Fillets speaker takes only its own fish's lines."""
    for spec in SPEAKERS:
        if spec.package.startswith("fillets-ng-data"):
            fish = spec.recordings[0].pattern.rsplit("-", 2)[1]
            for ref in _utterances(spec.name):
                folder, name = ref.path.split("/")[-2:]
                assert folder == spec.language
                assert name.split("-")[1] == fish


def test_excluded_files_are_not_used():
    """Concatenations, modem signals and ALSA's noise are left out."""
    names = {
        os.path.basename(ref.path)
        for spec in SPEAKERS
        for ref in _utterances(spec.name)
    }
    for banned in ("all.wav", "david4", "vk2tpm", "Noise.wav", "2400", "_10s"):
        assert not any(name.startswith(banned) for name in names)


def test_load_utterance_gives_8khz_spans():
    """A chunk loads with the length its duration says."""
    ref = _utterances("codec2-ve9qrp")[3]
    x = load_utterance(ref)
    assert len(x) == round(ref.duration * 8000)
    assert x.flags.writeable and np.max(np.abs(x)) <= 1.0
    prompt = _utterances("es-co")[0]
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
