"""Tests of the BIM attack, the CM score attack and the robustness scoring.

Authors
 * speechbrain-asd developers
"""

import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from speechbrain_asd.attacks import (
    WaveformScorer,
    bim_attack,
    score_attack,
    score_under_attack,
)
from speechbrain_asd.features import LogMelFeatures
from speechbrain_asd.inference import SpoofDetector
from speechbrain_asd.lobes.resnet_se import ResNetSE

SCALE = 32768.0


class TinyEmbedder(torch.nn.Module):
    """Conv1d over the waveform, batch norm, log energy over valid frames.

    The per-channel log energies are centred before a linear layer without
    bias, so that embeddings of different sounds point in different
    directions.

    Arguments
    ---------
    dim : int
        Embedding size.
    """

    def __init__(self, dim=6):
        """Builds the layers (see the class)."""
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 8, kernel_size=64, stride=32)
        self.norm = torch.nn.BatchNorm1d(8)
        self.dropout = torch.nn.Dropout(0.5)
        self.out = torch.nn.Linear(8, dim, bias=False)

    def forward(self, wavs, lens):
        """Embeds a padded batch, pooling only over valid frames.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]``.
        lens : torch.Tensor
            Relative lengths ``[B]``.

        Returns
        -------
        torch.Tensor
            Embeddings ``[B, dim]``.
        """
        energy = self.norm(self.conv(wavs[:, None])) ** 2
        valid = torch.round(lens * wavs.shape[1]).clamp(min=64)
        n_frames = ((valid - 64) // 32 + 1).unsqueeze(1)
        mask = torch.arange(energy.shape[-1]) < n_frames
        pooled = torch.log((energy * mask[:, None]).sum(-1) / n_frames + 0.01)
        centred = pooled - pooled.mean(-1, keepdim=True)
        return self.out(self.dropout(centred))

    def score(self, wavs, lens):
        """A bona fide score: the first embedding dimension.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]``.
        lens : torch.Tensor
            Relative lengths ``[B]``.

        Returns
        -------
        torch.Tensor
            Scores ``[B]``.
        """
        return self.forward(wavs, lens)[:, 0]


def _model():
    """A seeded TinyEmbedder with non-trivial batch-norm statistics.

    Returns
    -------
    TinyEmbedder
        The model, in training mode.
    """
    torch.manual_seed(0)
    model = TinyEmbedder()
    model.norm.running_mean.uniform_(-0.1, 0.1)
    model.norm.running_var.uniform_(0.5, 2.0)
    return model.train()


def _tones(n, length, gen):
    """Sinusoids of random frequencies in light noise.

    Arguments
    ---------
    n : int
        Number of waveforms.
    length : int
        Samples per waveform (16 kHz).
    gen : torch.Generator
        Source of randomness.

    Returns
    -------
    torch.Tensor
        ``[n, length]`` waveforms.
    """
    freqs = 50 + 4000 * torch.rand(n, 1, generator=gen)
    times = torch.arange(length) / 16000
    noise = 0.05 * torch.randn(n, length, generator=gen)
    return 0.3 * torch.sin(2 * torch.pi * freqs * times) + noise


def _batch(n, length, lens, seed):
    """Random tones zero-padded beyond their relative lengths.

    Arguments
    ---------
    n : int
        Batch size.
    length : int
        Padded length.
    lens : list of float
        Relative lengths.
    seed : int
        Seed.

    Returns
    -------
    wavs : torch.Tensor
        ``[n, length]`` waveforms.
    lens : torch.Tensor
        ``[n]`` relative lengths.
    """
    gen = torch.Generator().manual_seed(seed)
    wavs = _tones(n, length, gen)
    lens = torch.tensor(lens)
    valid = torch.round(lens * length).long()
    wavs[torch.arange(length) >= valid[:, None]] = 0.0
    return wavs, lens


def _pair_batch():
    """Reference and target batches of different padded lengths.

    Returns
    -------
    tuple
        ``(ref_wavs, ref_lens, wavs, lens)``.
    """
    ref, ref_lens = _batch(4, 3000, [1.0, 0.5, 0.8, 0.7], seed=1)
    wavs, lens = _batch(4, 4000, [0.6, 1.0, 0.75, 0.9], seed=2)
    return ref, ref_lens, wavs, lens


def test_bim_respects_the_bound_the_padding_and_the_sample_range():
    """|D| <= epsilon in sample units, D = 0 on padding, W2 + D in [-1, 1]."""
    model = _model()
    ref, ref_lens, wavs, lens = _pair_batch()
    wavs[0, :10] = 0.9999
    out = bim_attack(
        model,
        ref,
        ref_lens,
        wavs,
        lens,
        alpha=40.0,
        iterations=5,
        epsilon=100.0,
    )
    delta = out.adversarial - wavs
    assert float(delta.abs().max()) * SCALE <= 100.0 + 1e-3
    assert float(delta.abs().max()) * SCALE > 99.0  # the bound binds
    valid = torch.round(lens * wavs.shape[1]).long()
    padding = torch.arange(wavs.shape[1]) >= valid[:, None]
    assert torch.equal(delta[padding], torch.zeros(int(padding.sum())))
    assert float(out.adversarial.abs().max()) <= 1.0


def test_bim_default_bound_is_alpha_times_iterations():
    """Without epsilon, each sample moves at most alpha * iterations."""
    model = _model()
    ref, ref_lens, wavs, lens = _pair_batch()
    out = bim_attack(model, ref, ref_lens, wavs, lens, iterations=4)
    moved = (out.adversarial - wavs).abs().max() * SCALE
    assert 11.99 <= float(moved) <= 12.0 + 1e-3


def test_bim_raises_the_cosine_similarity_to_the_reference():
    """Algorithm 1 ascends s = cos(emb(W1), emb(W2 + D))."""
    model = _model()
    ref, ref_lens, wavs, lens = _pair_batch()
    paper = bim_attack(model, ref, ref_lens, wavs, lens)  # alpha 3, 5 iter.
    assert bool((paper.similarity > paper.initial_similarity).all())
    out = bim_attack(model, ref, ref_lens, wavs, lens, alpha=30.0)
    assert float((out.similarity - out.initial_similarity).mean()) > 0.01
    with torch.no_grad():
        model.eval()
        direct = F.cosine_similarity(
            model(ref, ref_lens), model(out.adversarial, lens), dim=-1
        )
        initial = F.cosine_similarity(
            model(ref, ref_lens), model(wavs, lens), dim=-1
        )
    torch.testing.assert_close(out.similarity, direct)
    torch.testing.assert_close(out.initial_similarity, initial)


def test_bim_leaves_parameter_grads_and_training_modes_untouched():
    """No .grad leaks, batch norm statistics and modes are as before."""
    model = _model()
    model.out.weight.grad = torch.ones_like(model.out.weight)
    model.dropout.eval()  # a submodule in its own mode must stay so
    stats = model.norm.running_mean.clone()
    ref, ref_lens, wavs, lens = _pair_batch()
    bim_attack(model.forward, ref, ref_lens, wavs, lens, alpha=30.0)
    score_attack(model.score, wavs, lens, alpha=30.0)
    assert torch.equal(model.out.weight.grad, torch.ones(6, 8))
    assert all(
        p.grad is None for n, p in model.named_parameters() if n != "out.weight"
    )
    assert torch.equal(model.norm.running_mean, stats)
    assert model.training and model.conv.training and model.norm.training
    assert not model.dropout.training


def test_bim_is_deterministic_and_works_inside_no_grad():
    """Eval mode makes the attack deterministic, also under no_grad."""
    model = _model()
    ref, ref_lens, wavs, lens = _pair_batch()
    first = bim_attack(model, ref, ref_lens, wavs, lens, alpha=30.0)
    with torch.no_grad():
        second = bim_attack(model, ref, ref_lens, wavs, lens, alpha=30.0)
    assert torch.equal(first.adversarial, second.adversarial)
    assert not torch.equal(first.adversarial, wavs)


def test_keep_filter_below_follows_the_text_and_above_the_pseudo_code():
    """below keeps s < threshold, above keeps s > threshold."""
    model = _model()
    ref, ref_lens, wavs, lens = _pair_batch()
    base = bim_attack(model, ref, ref_lens, wavs, lens, alpha=30.0)
    threshold = float(base.similarity.median())
    below = bim_attack(
        model, ref, ref_lens, wavs, lens, alpha=30.0, threshold=threshold
    )
    above = bim_attack(
        model,
        ref,
        ref_lens,
        wavs,
        lens,
        alpha=30.0,
        threshold=threshold,
        keep="above",
    )
    assert torch.equal(below.keep, base.similarity < threshold)
    assert torch.equal(above.keep, base.similarity > threshold)
    assert 0 < int(below.keep.sum()) < 4 and 0 < int(above.keep.sum()) < 4


def test_score_attack_raises_the_bona_fide_score_within_the_bound():
    """The perturbed waveforms score higher, |D| <= epsilon, 0 on padding."""
    model = _model()
    wavs, lens = _batch(3, 4000, [1.0, 0.6, 0.8], seed=5)
    out = score_attack(model.score, wavs, lens, alpha=20.0, epsilon=50.0)
    assert bool((out.score_after > out.score_before).all())
    delta = out.adversarial - wavs
    assert float(delta.abs().max()) * SCALE <= 50.0 + 1e-3
    assert float(delta[1, 2400:].abs().max()) == 0.0
    with torch.no_grad():
        model.eval()
        torch.testing.assert_close(
            out.score_after, model.score(out.adversarial, lens)
        )


def test_attacks_reject_bad_arguments():
    """Bad steps, rules and shapes fail early with a precise message."""
    model = _model()
    ref, ref_lens, wavs, lens = _pair_batch()
    with pytest.raises(ValueError, match="keep must be one of"):
        bim_attack(model, ref, ref_lens, wavs, lens, keep="middle")
    with pytest.raises(ValueError, match="alpha must be > 0, got -1"):
        bim_attack(model, ref, ref_lens, wavs, lens, alpha=-1.0)
    with pytest.raises(ValueError, match="iterations must be >= 1, got 0"):
        bim_attack(model, ref, ref_lens, wavs, lens, iterations=0)
    with pytest.raises(ValueError, match="epsilon must be a number > 0"):
        score_attack(model, wavs, lens, epsilon=0.0)
    with pytest.raises(ValueError, match="one reference per attacked"):
        bim_attack(model, ref[:2], ref_lens[:2], wavs, lens)
    with pytest.raises(ValueError, match=r"must lie in \(0, 1\]"):
        score_attack(model.score, wavs, torch.zeros(4))
    with pytest.raises(ValueError, match=r"score_fn must return \[B\]"):
        score_attack(model, wavs, lens)


def _corpus(folder, rate=16000):
    """Writes a tiny bona fide corpus: 2 speakers x 3 utterances + a spoof.

    Arguments
    ---------
    folder : pathlib.Path
        Where the FLAC files go.
    rate : int
        Sample rate of the files.

    Returns
    -------
    list of dict
        Manifest rows (``ID, duration, wav, spk_id, system, key, label``).
    """
    gen = torch.Generator().manual_seed(0)
    rows = []
    for i in range(7):
        length = 2400 + 400 * i
        path = folder / f"utt{i}.flac"
        sf.write(path, _tones(1, length, gen)[0].numpy(), rate)
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


# ------------------------------------------------- robustness evaluation


def _cm_scorer(seed):
    """A tiny random ResNetSE countermeasure behind its log-Mel features.

    Arguments
    ---------
    seed : int
        Seed of the weights.

    Returns
    -------
    WaveformScorer
        The scorer, in training mode (the attacks must switch to eval).
    """
    torch.manual_seed(seed)
    model = ResNetSE(channels=(4, 4, 8, 8), blocks=(1, 1, 1, 1))
    return WaveformScorer(LogMelFeatures(), model).train()


def _int16_batch():
    """Padded tones on the int16 grid, as read from 16-bit audio.

    Returns
    -------
    wavs : torch.Tensor
        ``[3, 4000]`` waveforms, multiples of 1 / 32768.
    lens : torch.Tensor
        ``[3]`` relative lengths.
    """
    wavs, lens = _batch(3, 4000, [1.0, 0.6, 0.8], seed=7)
    return torch.round(wavs * SCALE) / SCALE, lens


def test_waveform_scorer_is_the_inference_path():
    """Its scores are SpoofDetector's bona fide scores, with gradients."""
    scorer = _cm_scorer(0).eval()
    hparams = dict(
        sample_rate=16000,
        class_names=[str(i) for i in range(8)],
        bonafide_index=0,
        window_seconds=4.0,
        hop_seconds=2.0,
        min_seconds=0.1,
        batch_size=4,
    )
    modules = {"compute_features": scorer.features, "model": scorer.model}
    detector = SpoofDetector(modules, hparams, {"device": "cpu"})
    wavs, lens = _int16_batch()
    expected = detector.classify_batch(wavs, lens).bonafide_score
    scores = scorer(wavs.requires_grad_(True), lens)
    torch.testing.assert_close(scores.detach(), expected)
    (grad,) = torch.autograd.grad(scores.sum(), wavs)
    assert float(grad.abs().sum()) > 0


def test_score_attack_on_a_cm_stays_in_the_int16_budget():
    """The CM's score rises; |D| <= epsilon int16 steps, whole steps only."""
    scorer = _cm_scorer(0)
    wavs, lens = _int16_batch()
    out = score_attack(scorer, wavs, lens, alpha=4.0, iterations=4, epsilon=8)
    assert bool((out.score_after > out.score_before).all())
    steps = (out.adversarial - wavs) * SCALE
    assert float(steps.abs().max()) <= 8.0
    torch.testing.assert_close(steps, torch.round(steps), rtol=0, atol=1e-3)
    assert float(steps[1, 2400:].abs().max()) == 0.0
    assert scorer.training and scorer.model.training


def test_score_attack_returns_the_best_iterate():
    """Overshooting steps never leave a score below the clean one."""
    model = _model()
    wavs, lens = _batch(4, 4000, [1.0, 0.6, 0.8, 0.9], seed=3)
    out = score_attack(
        model.score, wavs, lens, alpha=3000.0, iterations=3, epsilon=3000.0
    )
    assert bool((out.score_after >= out.score_before).all())
    with torch.no_grad():
        model.eval()
        torch.testing.assert_close(
            out.score_after, model.score(out.adversarial, lens)
        )


def test_score_under_attack_white_box_transfer_and_determinism(tmp_path):
    """Budget 0 is clean; the attacked score rises; transfer; repeatable."""
    rows = _corpus(tmp_path)[:4]
    scorers = {"a": _cm_scorer(0), "b": _cm_scorer(1)}
    options = dict(iterations=2, batch_size=2, max_duration=0.2)
    scores = score_under_attack(scorers, rows, [0, 32], attacked="a", **options)
    assert scores == score_under_attack(
        scorers, rows, [0, 32], attacked="a", **options
    )
    assert all(scorer.training for scorer in scorers.values())
    ids = [row["ID"] for row in rows]
    assert sorted(scores) == [0, 32]
    assert sorted(scores[32]) == ["a", "b"]
    assert sorted(scores[32]["b"]) == ids
    for utt_id in ids:
        assert scores[32]["a"][utt_id] >= scores[0]["a"][utt_id]
    assert sum(scores[32]["a"].values()) > sum(scores[0]["a"].values())
    wav = torch.from_numpy(sf.read(rows[3]["wav"], dtype="float32")[0])
    wav, lens = wav[None, :3200], torch.ones(1)
    for scorer in scorers.values():
        scorer.eval()
    with torch.no_grad():
        clean = {name: float(fn(wav, lens)) for name, fn in scorers.items()}
    attack = score_attack(
        scorers["a"], wav, lens, alpha=8.0, iterations=2, epsilon=32
    )
    with torch.no_grad():
        transfer = float(scorers["b"](attack.adversarial, lens))
    one = score_under_attack(
        scorers, rows[3:], [0, 32], attacked="a", **options
    )
    assert one[0]["a"]["utt3"] == pytest.approx(clean["a"], abs=1e-5)
    assert one[0]["b"]["utt3"] == pytest.approx(clean["b"], abs=1e-5)
    assert one[32]["a"]["utt3"] == pytest.approx(
        float(attack.score_after), abs=1e-5
    )
    assert one[32]["b"]["utt3"] == pytest.approx(transfer, abs=1e-5)


def test_score_under_attack_rejects_bad_arguments(tmp_path):
    """Unknown attacked model, bad budgets, repeated IDs, nothing to do."""
    rows = _corpus(tmp_path)[:2]
    scorers = {"a": _cm_scorer(0)}
    with pytest.raises(ValueError, match="attacked must name one of"):
        score_under_attack(scorers, rows, [0, 4])
    with pytest.raises(ValueError, match="budget must be in"):
        score_under_attack(scorers, rows, [-4], attacked="a")
    with pytest.raises(ValueError, match="distinct and non-empty"):
        score_under_attack(scorers, rows, [4, 4], attacked="a")
    with pytest.raises(ValueError, match="rows repeat IDs"):
        score_under_attack(scorers, rows + rows[:1])
    with pytest.raises(ValueError, match="scorers is empty"):
        score_under_attack({}, rows)
    with pytest.raises(ValueError, match="step_ratio must be > 0"):
        score_under_attack(scorers, rows, [4], attacked="a", step_ratio=0)
