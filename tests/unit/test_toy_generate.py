"""Unit tests of the corpus generation flow, summary and difficulty check.

The audio-free parts: re-run rules, clean-up after a failure, the protocols
written for a plan, the summary read back from them, the logistic
regression and the external tool wrappers. The full generation is tested in
tests/integration/test_toy_corpus.py.

Authors
 * speechbrain-asd developers
"""

import json

import numpy as np
import pytest

from asd_toy_corpus import generate, layout, tools
from asd_toy_corpus.difficulty import (
    fit_logistic_regression,
    logmel_stats,
    lr_eers,
)
from asd_toy_corpus.plan import make_plan
from asd_toy_corpus.summary import (
    MARKER,
    format_corpus_summary,
    summarize_corpus,
)


def _fake_complete_corpus(root, seed, size):
    """Writes the protocols of a plan and a complete marker, without audio.

    Arguments
    ---------
    root : pathlib.Path
        The corpus folder.
    seed : int
        Seed of the plan.
    size : str
        Size of the plan.
    """
    try:
        plan = make_plan(seed, size)
    except FileNotFoundError as error:
        pytest.skip(str(error))
    layout.write_protocols(root, plan)
    marker = {"seed": seed, "size": size, "eval_2021": {"trials": 0}}
    (root / MARKER).write_text(json.dumps(marker))


def test_existing_folder_rules(tmp_path):
    """Absent or empty: generate; same corpus: skip; else refuse."""
    assert not generate.existing_corpus(tmp_path / "absent", 1, "small")
    (tmp_path / "empty").mkdir()
    assert not generate.existing_corpus(tmp_path / "empty", 1, "small")
    done = tmp_path / "done"
    _fake_complete_corpus(done, 1, "small")
    assert generate.existing_corpus(done, 1, "small")
    with pytest.raises(ValueError, match="made with seed 1 and size 'small'"):
        generate.existing_corpus(done, 2, "small")
    with pytest.raises(ValueError, match="not seed 1 and size 'default'"):
        generate.existing_corpus(done, 1, "default")
    partial = tmp_path / "partial"
    (partial / "LA").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no complete toy corpus"):
        generate.existing_corpus(partial, 1, "small")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is not a folder"):
        generate.existing_corpus(tmp_path / "file", 1, "small")
    (done / MARKER).write_text("{broken")
    with pytest.raises(ValueError, match="unreadable corpus marker"):
        generate.existing_corpus(done, 1, "small")


def test_skip_returns_the_summary_without_generating(tmp_path, monkeypatch):
    """A complete corpus of the same seed and size is not regenerated."""
    _fake_complete_corpus(tmp_path, 4, "small")

    def fail(*args, **kwargs):
        """Fails if called.

        Arguments
        ---------
        *args : tuple
            Ignored.
        **kwargs : dict
            Ignored.
        """
        raise AssertionError("must not render")

    monkeypatch.setattr(generate, "_render_all", fail)
    summary = generate.make_toy_corpus(tmp_path, seed=4, size="small")
    assert summary["skipped"] is True
    assert summary["splits"]["train"]["trials"] == 99


def test_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    """An error while rendering removes the temporary folder."""

    def broken(plan, root, workers, progress):
        """Writes a file, then fails like an interrupted run.

        Arguments
        ---------
        plan : CorpusPlan
            Ignored.
        root : pathlib.Path
            The temporary folder.
        workers : int
            Ignored.
        progress : bool
            Ignored.
        """
        (root / "half.flac").write_bytes(b"x")
        raise RuntimeError("interrupted")

    monkeypatch.setattr(generate, "_render_all", broken)
    with pytest.raises(RuntimeError, match="interrupted"):
        generate.make_toy_corpus(tmp_path / "out", seed=1, size="small")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"size": "medium"}, "unknown corpus size 'medium'"),
        ({"seed": -3}, "seed must be a non-negative integer, got -3"),
        ({"seed": 1.5}, "seed must be a non-negative integer, got 1.5"),
        ({"workers": 0}, "workers must be a positive integer, got 0"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    """Bad arguments are refused before anything is written."""
    with pytest.raises(ValueError, match=message):
        generate.make_toy_corpus(tmp_path / "c", **kwargs)
    assert not (tmp_path / "c").exists()


def test_missing_tool_names_the_package(tmp_path, monkeypatch):
    """A missing tool stops generation with the Debian package to install."""
    monkeypatch.setattr(
        generate, "missing_tools", lambda: ["c2enc (Debian package: codec2)"]
    )
    with pytest.raises(tools.ToolError, match="Debian package: codec2"):
        generate.make_toy_corpus(tmp_path / "c", seed=1, size="small")


def test_summary_counts_and_table(tmp_path):
    """Counts read back from the protocols; the table shows them."""
    _fake_complete_corpus(tmp_path, 2, "default")
    summary = summarize_corpus(tmp_path)
    assert summary["seed"] == 2 and summary["size"] == "default"
    train = summary["splits"]["train"]
    assert (train["trials"], train["bonafide"], train["spoof"]) == (
        800,
        200,
        600,
    )
    assert set(summary["splits"]["eval"]["attacks"].values()) == {150}
    assert sum(s["bonafide"] for s in train["speakers"].values()) == 200
    assert summary["asv"]["dev"]["enrolled"] == 3
    text = format_corpus_summary(summary)
    assert "| eval | 1500 | 300 | 1200 |" in text
    assert "| dev | 3 |" in text
    eval_bona = summary["splits"]["eval"]["speakers"]["LA_0014"]["bonafide"]
    share = 100 * eval_bona / 300
    assert f"| LA_0014 | - | - | eval | {eval_bona} | {share:.1f} % |" in text


def test_summary_of_a_folder_without_protocols(tmp_path):
    """A folder that is not a corpus gives a clear error."""
    with pytest.raises(FileNotFoundError, match="not an ASVspoof 2019 LA"):
        summarize_corpus(tmp_path)


def test_logmel_stats_against_a_direct_computation():
    """Mean/std of log-Mel energies, computed frame by frame."""
    from asd_toy_corpus.dsp import mel_filterbank

    x = np.random.default_rng(0).standard_normal(4000)
    padded = np.pad(x, (256, 256 + 512))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(512) / 512)
    bank = mel_filterbank(40, 512, 16000)
    frames = []
    for t in range(1 + len(x) // 160):
        power = np.abs(np.fft.rfft(padded[t * 160 : t * 160 + 512] * window))
        frames.append(np.log(bank @ power**2 + 1e-10))
    frames = np.array(frames)
    expected = np.concatenate([frames.mean(0), frames.std(0)])
    np.testing.assert_allclose(logmel_stats(x), expected, rtol=1e-9)


def test_logistic_regression_reaches_a_stationary_point():
    """The penalised gradient vanishes at the fitted weights."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(float)
    score = fit_logistic_regression(x, y, l2=0.1)
    z = (x - x.mean(0)) / (x.std(0) + 1e-10)
    s = score(x)
    w = np.linalg.lstsq(np.hstack([z, np.ones((200, 1))]), s, rcond=None)[0]
    p = 1 / (1 + np.exp(-s))
    weight = np.where(y > 0.5, 0.5 / y.sum(), 0.5 / (200 - y.sum()))
    gradient = z.T @ (weight * (p - y)) + 0.1 * w[:3]
    np.testing.assert_allclose(gradient, 0.0, atol=1e-8)


def test_lr_eers_per_attack():
    """A feature that separates one attack only shows in its EER."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 2))
    attacks = np.array(["bonafide"] * 100 + ["A01"] * 100 + ["A02"] * 100)
    x[attacks == "A01", 0] += 6.0
    y = (attacks == "bonafide").astype(float)
    result = lr_eers((x, y), (x, y, attacks))
    assert result["per_attack_eer"]["A01"] < 0.05
    assert result["per_attack_eer"]["A02"] > 0.3
    assert result["train_trials"] == result["eval_trials"] == 300


def test_tool_wrappers():
    """PCM conversions round-trip; a missing tool names its package."""
    x = np.array([0.0, 0.25, -0.5])
    np.testing.assert_array_equal(tools.from_pcm16(tools.to_pcm16(x)), x)
    with pytest.raises(tools.ToolError, match="'no-such-tool' is not"):
        tools.run_tool(["no-such-tool"])
    with pytest.raises(tools.ToolError, match="failed with status"):
        tools.run_tool(["sox", "/nonexistent.wav", "-n"])
    assert tools.missing_tools() == []
