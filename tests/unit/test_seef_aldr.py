"""SEEF-ALDR: its modules, losses, the adversarial game on a tiny case, and
the recipe Brain's alternating steps and checkpoints.

Authors
 * speechbrain-asd developers
"""

import importlib
from pathlib import Path

import pytest
import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.epoch_loop import EpochCounter

from speechbrain_asd.features import LogMelFeatures
from speechbrain_asd.lobes.resnet_se import ResNetSE
from speechbrain_asd.lobes.seef_aldr import (
    EliminatingEncoder,
    GradientReversal,
    ReconstructionDecoder,
    SpeakerClassifier,
)
from speechbrain_asd.losses import (
    SEEFALDRLoss,
    adversary_loss,
    reconstruction_loss,
    uniform_target_loss,
)

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "ASVspoof2019_LA"
# The tiny game: 4 speakers, identity in 4 input dimensions (linearly
# present), content in 8 others.
N_SPEAKERS, SPEAKER_DIMS, CONTENT_DIMS, FEATURE_DIM = 4, 4, 8, 8


def test_gradient_reversal_flips_and_scales_the_gradient():
    """Forward is the identity; the gradient comes back times -scale."""
    x = torch.randn(3, 2, requires_grad=True)
    y = GradientReversal(0.5)(x)
    assert torch.equal(y, x)
    weights = torch.randn(3, 2)
    (y * weights).sum().backward()
    assert torch.allclose(x.grad, -0.5 * weights)


def test_uniform_target_loss_is_zero_exactly_at_the_uniform_output():
    """KL from uniform: 0 (with zero gradient) at equal logits, else > 0."""
    logits = torch.full((3, 5), 2.0, requires_grad=True)
    loss = uniform_target_loss(logits)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-7)
    assert float(logits.grad.abs().max()) < 1e-7
    peaked = torch.tensor([[4.0, 0.0, 0.0, 0.0, 0.0]])
    assert float(uniform_target_loss(peaked)) > 0.5
    per_row = uniform_target_loss(torch.randn(4, 5), reduction="none")
    assert per_row.shape == (4,) and bool((per_row >= 0).all())


def test_reconstruction_loss_ignores_padded_frames():
    """Padding changes nothing; the loss is the MSE of the valid frames."""
    generator = torch.Generator().manual_seed(0)
    target = torch.randn(2, 10, 3, generator=generator)
    prediction = torch.randn(2, 10, 3, generator=generator)
    lengths = torch.tensor([1.0, 0.4])
    loss = reconstruction_loss(prediction, target, lengths)
    padded = prediction.clone()
    padded[1, 4:] = 100.0
    assert torch.equal(reconstruction_loss(padded, target, lengths), loss)
    squared = torch.cat(
        [
            (prediction[0] - target[0]) ** 2,
            (prediction[1, :4] - target[1, :4]) ** 2,
        ]
    )
    assert torch.allclose(loss, squared.mean())


def test_switches_choose_the_active_terms():
    """Each switch removes its term; without E_e no adversarial term."""
    logits = torch.randn(4, 3)
    speakers = torch.tensor([0, 1, 2, 0])
    feats = torch.randn(4, 6, 5)
    inputs = dict(
        adversary=torch.nn.Linear(2, 3),
        eliminating=torch.randn(4, 2),
        reconstruction=torch.randn(4, 6, 5),
        feats=feats,
    )
    full = SEEFALDRLoss()
    assert full.active_terms(True) == (
        "speaker",
        "reconstruction",
        "adv_encoder",
    )
    assert full.active_terms(False) == ("speaker", "reconstruction")
    _, parts = full(logits, speakers, **inputs)
    assert sorted(parts) == ["adv_encoder", "reconstruction", "speaker"]
    _, parts = SEEFALDRLoss(use_adv_encoder_loss=False)(
        logits, speakers, **inputs
    )
    assert sorted(parts) == ["reconstruction", "speaker"]
    _, parts = SEEFALDRLoss(use_reconstruction=False)(
        logits, speakers, **inputs
    )
    assert sorted(parts) == ["adv_encoder", "speaker"]
    _, parts = full(logits, speakers, reconstruction=feats, feats=feats)
    assert sorted(parts) == ["reconstruction", "speaker"]
    assert not SEEFALDRLoss(use_adv_classifier_loss=False).trains_adversary
    weighted = SEEFALDRLoss(speaker_weight=2.0, reconstruction_weight=0.5)
    total, parts = weighted(logits, speakers, **inputs)
    expected = 2 * parts["speaker"] + 0.5 * parts["reconstruction"]
    assert torch.allclose(total, expected + parts["adv_encoder"])
    with pytest.raises(ValueError, match="adversarial_form"):
        SEEFALDRLoss(adversarial_form="both")


def test_both_forms_push_the_encoder_against_the_adversary():
    """A step of the features down L_adv^e flattens C_adv's output
    (uniform form) or raises its cross-entropy (reversal form); L_adv^s
    reaches C_adv only."""
    torch.manual_seed(0)
    adversary = torch.nn.Linear(3, 4)
    speakers = torch.tensor([0, 1, 2, 3])
    cross_entropy = torch.nn.functional.cross_entropy
    for form in ("uniform", "reversal"):
        features = torch.randn(4, 3, requires_grad=True)
        SEEFALDRLoss(adversarial_form=form).encoder_loss(
            adversary, features, speakers
        ).backward()
        step = features.detach() - 0.1 * features.grad
        with torch.no_grad():
            old, new = adversary(features), adversary(step)
            if form == "uniform":
                change = uniform_target_loss(old) - uniform_target_loss(new)
            else:
                change = cross_entropy(new, speakers) - cross_entropy(
                    old, speakers
                )
        assert float(change) > 0, form
    features = torch.randn(4, 3, requires_grad=True)
    adversary_loss(adversary, features, speakers).backward()
    assert features.grad is None and adversary.weight.grad is not None


def test_modules_give_their_shapes_and_ignore_padding():
    """E_e and D_r: shapes, and a padded utterance as alone (eval mode)."""
    torch.manual_seed(0)
    encoder = EliminatingEncoder(n_mels=6, channels=4, feature_dim=5).eval()
    alone = torch.randn(1, 12, 6)
    padded = torch.cat([alone, torch.randn(1, 8, 6)], dim=1)
    lengths = torch.tensor([12 / 20])
    assert torch.allclose(encoder(alone), encoder(padded, lengths), atol=1e-6)
    decoder = ReconstructionDecoder(5, n_mels=6, channels=4)
    vector = torch.randn(1, 5)
    with torch.no_grad():
        frames, alone_frames = decoder(vector, 20, lengths), decoder(vector, 12)
    assert frames.shape == (1, 20, 6)
    assert torch.allclose(frames[:, :12], alone_frames, atol=1e-6)
    assert float(frames[:, 12:].abs().max()) == 0.0
    assert SpeakerClassifier(5, 3)(vector).shape == (1, 3)


def _play_the_game(use_adv_encoder_loss, steps=400, probe_steps=100):
    """Trains tiny E_p, E_e, heads and D_r as the recipe does (one main step,
    one C_adv step on the detached features).

    Returns C_adv's accuracy on the untrained E_e (after ``probe_steps``
    steps of C_adv alone), C_adv's mean accuracy over the last 100 steps of
    the game, and the speaker classifier's accuracy on E_p at the end.
    """
    torch.manual_seed(0)
    means = 3 * torch.randn(N_SPEAKERS, SPEAKER_DIMS)
    n_dims = SPEAKER_DIMS + CONTENT_DIMS

    def sample(count):
        """Inputs [count, 1 frame, dims] and their speakers."""
        speakers = torch.randint(N_SPEAKERS, (count,))
        content = torch.randn(count, CONTENT_DIMS)
        return torch.cat([means[speakers], content], 1).unsqueeze(1), speakers

    purifying = torch.nn.Sequential(
        torch.nn.Linear(n_dims, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16)
    )
    eliminating = EliminatingEncoder(
        n_mels=n_dims,
        channels=16,
        n_layers=1,
        kernel_size=1,
        segments=1,
        feature_dim=FEATURE_DIM,
    )
    classifier = SpeakerClassifier(16, N_SPEAKERS)
    adversary = SpeakerClassifier(FEATURE_DIM, N_SPEAKERS, hidden_dim=32)
    decoder = ReconstructionDecoder(
        16 + FEATURE_DIM, n_mels=n_dims, channels=32, n_layers=1, kernel_size=1
    )
    main_params = [
        param
        for module in (purifying, eliminating, classifier, decoder)
        for param in module.parameters()
    ]
    optimizer = torch.optim.Adam(main_params, lr=0.01)
    adv_optimizer = torch.optim.Adam(adversary.parameters(), lr=0.01)
    objective = SEEFALDRLoss(
        adv_encoder_weight=3.0, use_adv_encoder_loss=use_adv_encoder_loss
    )

    def adversary_step(features, speakers):
        """One step of C_adv on L_adv^s."""
        adv_optimizer.zero_grad()
        adversary_loss(adversary, features, speakers).backward()
        adv_optimizer.step()

    def adversary_accuracy(features, speakers):
        """C_adv's accuracy on features."""
        with torch.no_grad():
            hits = adversary(features).argmax(1) == speakers
        return float(hits.float().mean())

    for _ in range(probe_steps):
        x, speakers = sample(64)
        with torch.no_grad():
            features = eliminating(x)
        adversary_step(features, speakers)
    x, speakers = sample(1000)
    with torch.no_grad():
        before = adversary_accuracy(eliminating(x), speakers)
    during = []
    for step in range(steps):
        x, speakers = sample(64)
        embedding, features = purifying(x[:, 0]), eliminating(x)
        vectors = torch.cat([embedding, features], 1)
        total, _ = objective(
            classifier(embedding),
            speakers,
            adversary=adversary,
            eliminating=features,
            reconstruction=decoder(vectors, 1),
            feats=x,
        )
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        if step >= steps - 100:
            during.append(adversary_accuracy(features, speakers))
        adversary_step(features, speakers)
    x, speakers = sample(1000)
    with torch.no_grad():
        hits = classifier(purifying(x[:, 0])).argmax(1) == speakers
    return before, sum(during) / len(during), float(hits.float().mean())


def test_the_adversarial_game_removes_identity_from_the_eliminating_encoder():
    """C_adv names the speaker from the untrained E_e; under L_adv^e its
    accuracy falls towards chance (0.25), while without it C_adv keeps
    naming the speaker; the speaker classifier on E_p stays right."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        before, game, speaker_accuracy = _play_the_game(True)
        _, control, _ = _play_the_game(False)
    finally:
        torch.set_num_threads(threads)
    assert before > 0.8
    assert game < 0.45
    assert control > 0.55
    assert speaker_accuracy > 0.95


@pytest.fixture
def recipe(monkeypatch):
    """The recipe's SEEF-ALDR script, imported from its folder.

    Arguments
    ---------
    monkeypatch : pytest.MonkeyPatch
        Puts the recipe folder on ``sys.path``.

    Returns
    -------
    module
        ``train_seef_aldr``.
    """
    monkeypatch.syspath_prepend(str(RECIPE))
    return importlib.import_module("train_seef_aldr")


def _brain(recipe, folder, seed):
    """A tiny SEEF-ALDR Brain with every module and a checkpointer."""
    torch.manual_seed(seed)
    model = ResNetSE(channels=(4, 4, 4, 4), blocks=(1, 1, 1, 1), emb_dim=8)
    modules = {
        "compute_features": LogMelFeatures(),
        "eliminating_encoder": EliminatingEncoder(channels=4, feature_dim=4),
        "speaker_classifier": SpeakerClassifier(8, 3),
        "adv_classifier": SpeakerClassifier(4, 3, hidden_dim=8),
        "decoder": ReconstructionDecoder(12, channels=4),
    }
    hparams = {
        "model": model,
        **modules,
        "use_eliminating": True,
        "random_eliminating_vector": False,
        "use_reconstruction": True,
        "eliminating_dim": 4,
        "seef_loss": SEEFALDRLoss(),
        "adv_steps": 2,
        "adv_opt_class": lambda params: torch.optim.Adam(params, lr=0.01),
        "epoch_counter": EpochCounter(1),
    }
    checkpointer = Checkpointer(
        folder, {name: hparams[name] for name in ("model", *modules)}
    )
    modules["embedder"] = recipe.ModelMethod(model, "embed")
    return recipe.SEEFALDRBrain(
        modules=modules,
        opt_class=lambda params: torch.optim.Adam(params, lr=0.01),
        hparams=hparams,
        run_opts={"device": "cpu"},
        checkpointer=checkpointer,
    )


def test_the_brain_alternates_and_resumes_both_optimisers(recipe, tmp_path):
    """A batch steps the main optimiser once and C_adv's adv_steps times;
    a checkpoint restores every module and both optimisers."""
    brain = _brain(recipe, tmp_path / "save", seed=0)
    brain.on_fit_start()
    brain.train_parts = {}
    batch = PaddedBatch(
        [
            {
                "id": f"u{i}",
                "sig": torch.randn(4000),
                "spk_index": torch.tensor([i % 3]),
            }
            for i in range(4)
        ]
    )
    for _ in range(2):
        loss = brain.fit_batch(batch)
    assert torch.isfinite(loss)
    assert brain.optimizer.state_dict()["state"][0]["step"] == 2
    adv_state = brain.adv_optimizer.state_dict()["state"]
    assert adv_state[0]["step"] == 4
    assert {
        "speaker",
        "reconstruction",
        "adv_encoder",
        "adv_classifier",
    } <= set(brain.train_parts)
    brain.checkpointer.save_checkpoint()

    resumed = _brain(recipe, tmp_path / "save", seed=1)
    resumed.on_fit_start()
    for name in ("optimizer", "adv_optimizer"):
        saved = getattr(brain, name).state_dict()["state"]
        loaded = getattr(resumed, name).state_dict()["state"]
        assert saved.keys() == loaded.keys()
        for index, values in saved.items():
            for key, value in values.items():
                assert torch.equal(loaded[index][key], value), (name, key)
    for name in ("model", "eliminating_encoder", "adv_classifier", "decoder"):
        saved = brain.hparams.__dict__[name].state_dict()
        loaded = resumed.hparams.__dict__[name].state_dict()
        assert all(torch.equal(saved[k], loaded[k]) for k in saved), name


def test_switches_build_the_modules_and_refuse_contradictions(recipe):
    """build_modules drops what the switches leave unused; check_options
    refuses to verify with an eliminating encoder that is not there."""
    hparams = {
        "modules": {
            "compute_features": torch.nn.Identity(),
            "eliminating_encoder": torch.nn.Linear(2, 2),
            "speaker_classifier": torch.nn.Linear(2, 2),
            "adv_classifier": torch.nn.Linear(2, 2),
            "decoder": torch.nn.Linear(2, 2),
        },
        "model": ResNetSE(channels=(4, 4, 4, 4), blocks=(1, 1, 1, 1)),
        "adv_classifier": torch.nn.Linear(2, 2),
        "use_eliminating": True,
        "random_eliminating_vector": False,
        "use_reconstruction": True,
        "use_adv_classifier_loss": True,
        "verify_with": "purifying",
        "adv_steps": 1,
    }
    assert "adv_classifier" in recipe.build_modules(hparams)
    ablations = (
        ({"use_eliminating": False}, {"eliminating_encoder", "adv_classifier"}),
        ({"random_eliminating_vector": True}, {"eliminating_encoder"}),
        ({"use_reconstruction": False}, {"decoder"}),
    )
    for changes, dropped in ablations:
        built = recipe.build_modules({**hparams, **changes})
        assert not dropped & set(built) and "embedder" in built
    recipe.build_modules({**hparams, "use_adv_classifier_loss": False})
    assert not any(
        p.requires_grad for p in hparams["adv_classifier"].parameters()
    )
    recipe.check_options(hparams)
    for changes in (
        {"use_eliminating": False},
        {"random_eliminating_vector": True},
    ):
        with pytest.raises(ValueError, match="verify_with"):
            recipe.check_options(
                {**hparams, **changes, "verify_with": "eliminating"}
            )
    train, held = importlib.import_module("speaker_data").split_holdout(
        {f"u{i}": {"spk_id": "a" if i < 10 else "b"} for i in range(11)},
        fraction=0.1,
        seed=0,
    )
    assert (
        len(held) == 1 and sum(r["spk_id"] == "b" for r in train.values()) == 1
    )
