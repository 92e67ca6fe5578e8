"""Tests of the AEG sets: same-speaker pairs, FLAC files and manifest.

Authors
 * speechbrain-asd developers
"""

import csv

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_asd.data.adversarial import (
    generate_adversarial_set,
    make_same_speaker_pairs,
)

SCALE = 32768.0


class FrameEmbedder(torch.nn.Module):
    """Strided Conv1d over the waveform, dropout, centred log energies.

    In training mode the dropout makes embeddings random: reproducible
    files show that the attack ran in eval mode.
    """

    def __init__(self):
        """Builds the layers (see the class)."""
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 8, kernel_size=64, stride=32)
        self.dropout = torch.nn.Dropout(0.5)
        self.out = torch.nn.Linear(8, 6, bias=False)

    def forward(self, wavs, lens):
        """Embeds padded waveforms ``[B, S]`` into ``[B, 6]``."""
        energy = torch.log(self.conv(wavs[:, None]).pow(2).mean(-1) + 0.01)
        centred = energy - energy.mean(-1, keepdim=True)
        return self.out(self.dropout(centred))


def _model():
    """A seeded FrameEmbedder, in training mode."""
    torch.manual_seed(0)
    return FrameEmbedder().train()


def _corpus(folder, rate=16000):
    """Writes 2 speakers x 3 bona fide tones and a spoof; returns the rows."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(7):
        length = 2400 + 400 * i
        tone = np.sin(
            2 * np.pi * rng.uniform(50, 4050) * np.arange(length) / rate
        )
        path = folder / f"utt{i}.flac"
        sf.write(path, 0.3 * tone + 0.05 * rng.standard_normal(length), rate)
        spoof = i == 6
        rows.append(
            {
                "ID": f"utt{i}",
                "duration": length / rate,
                "wav": str(path),
                "spk_id": f"spk{i % 2}",
                "system": "A01" if spoof else "bonafide",
                "key": "spoof" if spoof else "bonafide",
                "label": 1 if spoof else 0,
            }
        )
    return rows


def test_same_speaker_pairs_are_distinct_balanced_and_deterministic():
    """Pairs use bona fide rows of one speaker, no repeats, even shares."""
    rows = [
        {"ID": f"u{i:02d}", "wav": "x", "spk_id": f"s{i % 3}", "key": k}
        for i, k in enumerate(["bonafide"] * 10 + ["spoof"] * 5)
    ]
    pairs = make_same_speaker_pairs(rows, 9, seed=4)
    assert len(pairs) == 9
    assert len({(r["ID"], t["ID"]) for r, t in pairs}) == 9
    for ref, tgt in pairs:
        assert ref["spk_id"] == tgt["spk_id"] and ref["ID"] != tgt["ID"]
        assert ref["key"] == tgt["key"] == "bonafide"
    speakers = [ref["spk_id"] for ref, _ in pairs]
    assert sorted(speakers.count(s) for s in set(speakers)) == [3, 3, 3]
    assert make_same_speaker_pairs(rows[::-1], 9, seed=4) == pairs
    assert make_same_speaker_pairs(rows, 9, seed=5) != pairs
    as_dict = {r["ID"]: {k: v for k, v in r.items() if k != "ID"} for r in rows}
    assert make_same_speaker_pairs(as_dict, 9, seed=4) == pairs


def test_same_speaker_pairs_share_out_beyond_small_speakers():
    """A speaker with 2 utterances gives at most 2 ordered pairs."""
    rows = [
        {"ID": f"a{i}", "wav": "x", "spk_id": "a", "key": "bonafide"}
        for i in range(2)
    ] + [
        {"ID": f"b{i}", "wav": "x", "spk_id": "b", "key": "bonafide"}
        for i in range(4)
    ]
    pairs = make_same_speaker_pairs(rows, 8)
    assert sum(ref["spk_id"] == "a" for ref, _ in pairs) == 2
    with pytest.raises(ValueError, match="n_pairs=15 exceeds the 14 distinct"):
        make_same_speaker_pairs(rows, 15)
    with pytest.raises(ValueError, match="n_pairs must be >= 1"):
        make_same_speaker_pairs(rows, 0)
    with pytest.raises(ValueError, match="row 'c' has no 'key' column"):
        make_same_speaker_pairs([{"ID": "c", "spk_id": "c"}], 1)


def test_generated_set_writes_flacs_and_a_manifest(tmp_path):
    """Kept examples become FLAC files listed in an ASVspoof-style CSV."""
    rows = _corpus(tmp_path)
    pairs = make_same_speaker_pairs(rows, 4, seed=0)
    model = _model()
    stats = generate_adversarial_set(
        model,
        pairs,
        tmp_path / "adv",
        tmp_path / "adv.csv",
        alpha=30.0,
        threshold=2.0,
        batch_size=3,
        progress=False,
    )
    assert (stats.tried, stats.kept) == (4, 4)
    assert stats.mean_similarity > stats.mean_initial_similarity
    with open(tmp_path / "adv.csv", newline="") as stream:
        reader = csv.DictReader(stream)
        manifest = list(reader)
    assert reader.fieldnames == [
        "ID",
        "duration",
        "wav",
        "spk_id",
        "system",
        "key",
        "label",
    ]
    expected_ids = [f"{t['ID']}_adv_{r['ID']}" for r, t in pairs]
    assert [row["ID"] for row in manifest] == expected_ids
    for row, (_, target) in zip(manifest, pairs):
        audio, rate = sf.read(row["wav"])
        original, _ = sf.read(target["wav"])
        assert rate == 16000 and len(audio) == len(original)
        assert float(row["duration"]) == pytest.approx(len(audio) / 16000)
        assert row["spk_id"] == target["spk_id"]
        assert (row["system"], row["key"], row["label"]) == (
            "adversarial",
            "spoof",
            "7",
        )
        # 16-bit rounding adds at most half a step to the 15-unit bound
        assert np.abs(audio - original).max() * SCALE <= 150.0 + 1.0
        assert np.abs(audio - original).max() > 0.0
    assert sorted(p.name for p in (tmp_path / "adv").iterdir()) == sorted(
        f"{i}.flac" for i in expected_ids
    )


def test_generated_set_is_reproducible_and_drops_unkept_examples(tmp_path):
    """Same inputs give the same bytes; a stricter filter removes files."""
    rows = _corpus(tmp_path)
    pairs = make_same_speaker_pairs(rows, 3, seed=1)
    kwargs = dict(alpha=30.0, threshold=2.0, max_duration=0.1, progress=False)
    model = _model()
    generate_adversarial_set(
        model, pairs, tmp_path / "a", tmp_path / "a.csv", **kwargs
    )
    generate_adversarial_set(
        model, pairs, tmp_path / "b", tmp_path / "b.csv", **kwargs
    )
    first = sorted((tmp_path / "a").iterdir())
    assert len(first) == 3
    for path in first:
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()
        assert sf.info(str(path)).frames == 1600
    text_a = (tmp_path / "a.csv").read_text()
    assert text_a == (tmp_path / "b.csv").read_text().replace("/b/", "/a/")
    stats = generate_adversarial_set(
        model,
        pairs,
        tmp_path / "a",
        tmp_path / "a.csv",
        **{**kwargs, "threshold": -2.0},
    )
    assert stats.kept == 0 and not list((tmp_path / "a").iterdir())
    assert (tmp_path / "a.csv").read_text().splitlines() == [
        "ID,duration,wav,spk_id,system,key,label"
    ]


def test_generated_set_rejects_bad_inputs(tmp_path):
    """Empty pairs, bad arguments and wrong audio fail with clear errors."""
    rows = _corpus(tmp_path)
    pairs = make_same_speaker_pairs(rows, 2)
    model = _model()
    out, csv_path = tmp_path / "adv", tmp_path / "adv.csv"
    with pytest.raises(ValueError, match="pairs is empty"):
        generate_adversarial_set(model, [], out, csv_path)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        generate_adversarial_set(model, pairs, out, csv_path, batch_size=0)
    with pytest.raises(ValueError, match="max_duration must be > 0"):
        generate_adversarial_set(model, pairs, out, csv_path, max_duration=0)
    with pytest.raises(ValueError, match="duplicate IDs"):
        generate_adversarial_set(model, pairs[:1] * 2, out, csv_path)
    mixed = [(rows[0], rows[1])]
    with pytest.raises(ValueError, match="mixes speakers"):
        generate_adversarial_set(model, mixed, out, csv_path)
    sf.write(tmp_path / "slow.flac", np.zeros(800), 8000)
    slow = dict(rows[0], ID="slow", wav=str(tmp_path / "slow.flac"))
    with pytest.raises(ValueError, match=r"slow.flac \(row 'slow'\) is 8000"):
        generate_adversarial_set(
            model, [(rows[2], slow)], out, csv_path, progress=False
        )
    missing = dict(rows[0], ID="gone", wav=str(tmp_path / "gone.flac"))
    with pytest.raises(ValueError, match="cannot read audio of 'gone'"):
        generate_adversarial_set(
            model, [(rows[2], missing)], out, csv_path, progress=False
        )
    assert not csv_path.exists()
