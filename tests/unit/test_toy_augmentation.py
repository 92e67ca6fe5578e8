"""Unit tests of the toy corpus noise and room impulse response sets.

Authors
 * speechbrain-asd developers
"""

import csv
import os

import numpy as np
import pytest
import soundfile as sf

from asd_toy_corpus import augmentation_sets as aug
from asd_toy_corpus.sources import SPEAKERS


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0])
def test_coloured_noise_slope(exponent):
    """The log power spectrum falls with the asked slope (unit RMS)."""
    x = aug.coloured_noise(64000, exponent, np.random.default_rng(0))
    assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0)
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / 16000)
    band = (freqs > 100) & (freqs < 7000)
    slope = np.polyfit(np.log(freqs[band]), np.log(power[band]), 1)[0]
    assert slope == pytest.approx(-exponent, abs=0.1)


def test_music_like_is_tonal():
    """Music-like signals concentrate their energy in few bins."""
    x = aug.music_like(64000, np.random.default_rng(1))
    assert x.shape == (64000,)
    power = np.sort(np.abs(np.fft.rfft(x)) ** 2)[::-1]
    assert power[: len(power) // 50].sum() > 0.8 * power.sum()


def test_simulated_rir_shape_and_decay():
    """Direct path first and largest; energy decays along the response."""
    for seed in range(5):
        h = aug.simulated_rir(np.random.default_rng(seed))
        assert len(h) >= int(0.2 * 16000)
        assert np.argmax(np.abs(h)) < 0.006 * 16000
        assert np.max(np.abs(h)) == 1.0
        quarter = len(h) // 4
        assert np.sum(h[-quarter:] ** 2) < 0.05 * np.sum(h[:quarter] ** 2)


def test_babble_uses_train_speakers_only(tmp_path, monkeypatch):
    """Babble is mixed from utterances of train speakers only."""
    used = []
    original = aug.babble

    def spy(n_samples, refs, rng):
        """Records the speakers of the babble and calls the original.

        Arguments
        ---------
        n_samples : int
            Number of samples.
        refs : list
            Utterances mixed.
        rng : numpy.random.Generator
            Generator.

        Returns
        -------
        numpy.ndarray
            The babble.
        """
        used.extend(ref.speaker for ref in refs)
        return original(n_samples, refs, rng)

    monkeypatch.setattr(aug, "babble", spy)
    aug.write_augmentation_sets(tmp_path, tmp_path, 10, 0, seed=3)
    train = {s.name for s in SPEAKERS if s.split == "train"}
    assert used and set(used) <= train


def test_csvs_are_valid_legacy_speechbrain_csvs(tmp_path):
    """Header, absolute paths under the final folder, matching durations."""
    folder = tmp_path / "now"
    final = tmp_path / "later"
    csvs = aug.write_augmentation_sets(folder, final, 6, 3, seed=1)
    assert csvs == {
        "noise": str(final / "noise.csv"),
        "rir": str(final / "rir.csv"),
    }
    for name, count in (("noise", 6), ("rir", 3)):
        with open(folder / f"{name}.csv", newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == ["ID", "duration", "wav", "wav_format", "wav_opts"]
        assert len(rows) == count + 1
        assert len({row[0] for row in rows[1:]}) == count
        for _, duration, wav, wav_format, wav_opts in rows[1:]:
            assert os.path.isabs(wav) and wav.startswith(str(final))
            assert wav_format == "wav" and wav_opts == ""
            local = folder / os.path.relpath(wav, final)
            info = sf.info(str(local))
            assert info.samplerate == 16000 and info.channels == 1
            assert float(duration) == pytest.approx(info.duration, abs=1e-3)
    with open(folder / "noise.csv") as handle:
        kinds = [line.split("_")[1] for line in list(handle)[1:]]
    assert kinds == ["white", "pink", "brown", "babble", "music", "white"]


def test_sets_are_deterministic(tmp_path):
    """The same seed writes the same audio."""
    aug.write_augmentation_sets(tmp_path / "a", tmp_path / "a", 4, 2, seed=5)
    aug.write_augmentation_sets(tmp_path / "b", tmp_path / "b", 4, 2, seed=5)
    for name in ("noise/noise_babble_003.wav", "rir/rir_sim_001.wav"):
        a, _ = sf.read(tmp_path / "a" / name)
        b, _ = sf.read(tmp_path / "b" / name)
        np.testing.assert_array_equal(a, b)
