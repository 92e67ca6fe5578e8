"""Tests of speechbrain_asd.verification and verifier_export: speaker
verifiers loaded as data, enrolment, verification, ASV score files.

Authors
 * speechbrain-asd developers
"""

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torch.nn.functional as F
import torchaudio.functional
from hyperpyyaml import resolve_references
from speechbrain.lobes.features import Fbank
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier
from speechbrain.processing.features import InputNormalization
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_asd.audio import AudioInputError
from speechbrain_asd.checkpoints import CheckpointError
from speechbrain_asd.cli import EXIT_BAD_INPUT, main
from speechbrain_asd.lobes.resnet_se import ResNetSE
from speechbrain_asd.metrics import compute_eer
from speechbrain_asd.model_folder import (
    ExportError,
    ModelFolderError,
    disallowed_tags,
)
from speechbrain_asd.scorefiles import (
    ASVTrial,
    read_asv_scores,
    write_asv_enrolment,
    write_asv_protocol,
    write_asv_scores,
)
from speechbrain_asd.verification import (
    NO_THRESHOLD,
    SpeakerVerifier,
    VerificationError,
)
from speechbrain_asd.verifier_export import (
    DEV_ASV_SCORE_FILE,
    build_encoder,
    export_verifier_folder,
    read_stage_hyperparams,
)

RATE = 16000
RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "ASVspoof2019_LA"
TINY = {"channels": [4, 8, 8, 8], "blocks": [1, 1, 1, 1], "emb_dim": 16}
# The resolved hyperparams.yaml of a GE2E stage (what SpeechBrain copies to
# the output folder), with a tiny model and a line that must never run.
STAGE_YAML = """# Generated from: hparams/ge2e.yaml
seed: 1986
__set_seed: !apply:speechbrain.utils.seed_everything [1986]
output_folder: results/ge2e/1986
sample_rate: 16000
n_mels: 40
compute_features: &id002 !new:speechbrain_asd.features.LogMelFeatures
  sample_rate: 16000
  n_mels: 40
model: &id004 !new:speechbrain_asd.lobes.resnet_se.ResNetSE
  n_mels: 40
  channels: [4, 8, 8, 8]
  blocks: [1, 1, 1, 1]
  emb_dim: 16
  n_classes: 8
modules:
  compute_features: *id002
opt_class: !name:torch.optim.Adam
  lr: 0.0003
owned: !apply:os.system ["touch {marker}"]
checkpointer: !new:speechbrain.utils.checkpoints.Checkpointer
  checkpoints_dir: results/ge2e/1986/save
  recoverables:
    model: *id004
"""
DEV_ROWS = [
    ("bonafide", "target", 0.9),
    ("bonafide", "target", 0.7),
    ("bonafide", "target", 0.4),
    ("bonafide", "nontarget", 0.5),
    ("bonafide", "nontarget", 0.2),
    ("bonafide", "nontarget", -0.1),
    ("A01", "spoof", 0.8),
]
ECAPA = {
    "channels": [16, 16, 16, 16, 48],
    "kernel_sizes": [5, 3, 3, 3, 1],
    "dilations": [1, 2, 3, 4, 1],
    "attention_channels": 4,
    "se_channels": 4,
    "lin_neurons": 8,
}
# A SpeechBrain EncoderClassifier hyperparams.yaml (the layout of the
# VoxCeleb ECAPA folders), with a tiny ECAPA-TDNN and hub paths.
ENCODER_CLASSIFIER_YAML = """# Model: ECAPA for speaker verification
n_mels: 20
pretrained_path: speechbrain/spkrec-ecapa-voxceleb
out_n_neurons: 5

compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: {norm_type}
    std_norm: False

embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: [16, 16, 16, 16, 48]
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 4
    se_channels: 4
    lin_neurons: 8

classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: 8
    out_neurons: !ref <out_n_neurons>

mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>

label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        {extra_loadable}embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
        mean_var_norm_emb: !ref <pretrained_path>/mean_var_norm_emb.ckpt
        classifier: !ref <pretrained_path>/classifier.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""


def _signal(seconds, seed, base=200.0, rate=RATE, channels=1):
    """A seeded noisy chirp, shape [frames, channels], float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    chirp = 0.3 * np.sin(2 * np.pi * (base + 600 * t) * t)
    out = [chirp + 0.05 * rng.standard_normal(t.size) for _ in range(channels)]
    return np.stack(out, axis=1).astype("float32")


def _write(path, data, rate=RATE, **kwargs):
    """Writes an audio file and returns its path as a string."""
    soundfile.write(path, data, rate, **kwargs)
    return str(path)


def _no_network(monkeypatch):
    """Makes any network access, hub download or Pretrainer run fail."""

    def refuse(*args, **kwargs):
        """Fails on any call."""
        pytest.fail("a network access or a Pretrainer run was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr("speechbrain.utils.fetching.download_file_hf", refuse)
    monkeypatch.setattr("speechbrain.utils.fetching.download_file", refuse)
    monkeypatch.setattr(
        "speechbrain.utils.parameter_transfer.Pretrainer.collect_files", refuse
    )


def _write_ge2e_stage(folder, model, marker, scored_checkpoint=None):
    """Writes what train_ge2e.py leaves in its output folder: the resolved
    hyperparams.yaml, one checkpoint with its dev speaker EER, the best
    model and the ASV scores of that checkpoint."""
    folder.mkdir(parents=True)
    checkpoint = Checkpointer(folder / "save", {"model": model})
    saved = checkpoint.save_checkpoint(
        meta={"dev_speaker_eer": 0.2}, name="epoch"
    )
    (folder / "hyperparams.yaml").write_text(STAGE_YAML.format(marker=marker))
    torch.save(model.state_dict(), folder / "model.ckpt")
    scores = folder / "asv_scores"
    scores.mkdir()
    write_asv_scores(scores / DEV_ASV_SCORE_FILE, DEV_ROWS)
    summary = {"checkpoint": scored_checkpoint or saved.path.name}
    (scores / "asv_scores.json").write_text(json.dumps(summary))
    return folder


@pytest.fixture(scope="module")
def encoder():
    """A tiny ResNetSE with random weights and non-default BatchNorm stats."""
    torch.manual_seed(3)
    model = ResNetSE(**TINY)
    with torch.no_grad():
        model.train()
        model(torch.randn(3, 60, 40))
    return model.eval()


@pytest.fixture(scope="module")
def stage(tmp_path_factory, encoder):
    """A fake GE2E stage output folder and the marker its YAML would touch."""
    root = tmp_path_factory.mktemp("ge2e")
    marker = root / "owned"
    return _write_ge2e_stage(root / "run", encoder, marker), marker


@pytest.fixture(scope="module")
def verifier_dir(stage):
    """The verifier folder exported from the fake GE2E stage."""
    run, _ = stage
    return export_verifier_folder(run, run.parent / "verifier")


@pytest.fixture(scope="module")
def verifier(verifier_dir):
    """The verifier of the exported folder, on the CPU."""
    return SpeakerVerifier.from_hparams(
        verifier_dir, run_opts={"device": "cpu"}
    )


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """Audio files of two 'speakers' (different chirps), 1 s at 16 kHz."""
    folder = tmp_path_factory.mktemp("audio")
    files = {}
    for name, seed, base in [
        ("a1", 1, 200.0),
        ("a2", 2, 210.0),
        ("b1", 3, 900.0),
        ("b2", 4, 950.0),
    ]:
        files[name] = _write(folder / f"{name}.wav", _signal(1.0, seed, base))
    return files


def _ecapa_modules(norm_type="sentence"):
    """The modules of a tiny EncoderClassifier, trained-looking weights."""
    torch.manual_seed(5)
    modules = {
        "compute_features": Fbank(n_mels=20),
        "mean_var_norm": InputNormalization(
            norm_type=norm_type, std_norm=False
        ),
        "embedding_model": ECAPA_TDNN(20, **ECAPA),
        "classifier": Classifier(input_size=8, out_neurons=5),
    }
    feats = modules["compute_features"](torch.randn(3, RATE))
    with torch.no_grad():
        modules["mean_var_norm"].train()
        modules["embedding_model"].train()
        normed = modules["mean_var_norm"](feats, torch.ones(3), epoch=0)
        modules["embedding_model"](normed)
    for module in modules.values():
        module.eval()
    return modules


def _write_encoder_classifier(folder, norm_type="sentence"):
    """Writes a SpeechBrain EncoderClassifier folder; returns its modules."""
    folder.mkdir(parents=True)
    modules = _ecapa_modules(norm_type)
    torch.save(
        modules["embedding_model"].state_dict(),
        folder / "embedding_model.ckpt",
    )
    torch.save(modules["classifier"].state_dict(), folder / "classifier.ckpt")
    extra = ""
    if norm_type == "global":
        modules["mean_var_norm"]._save(folder / "mean_var_norm.ckpt")
        extra = "mean_var_norm: !ref <mean_var_norm>\n        "
    (folder / "hyperparams.yaml").write_text(
        ENCODER_CLASSIFIER_YAML.format(
            norm_type=norm_type, extra_loadable=extra
        )
    )
    return modules


@pytest.fixture(scope="module")
def ecapa(tmp_path_factory):
    """A tiny ECAPA EncoderClassifier folder and the modules it holds."""
    folder = tmp_path_factory.mktemp("ecapa") / "spkrec-ecapa"
    return folder, _write_encoder_classifier(folder)


def _direct_embeddings(modules, wavs, lens):
    """Unit-length embeddings computed by running the modules directly."""
    with torch.no_grad():
        feats = modules["compute_features"](wavs)
        feats = modules["mean_var_norm"](feats, lens)
        out = modules["embedding_model"](feats, lens)
    return F.normalize(out.squeeze(1), dim=1)


def _copy(folder, tmp_path):
    """Copies a model folder into tmp_path/copy."""
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    return copy


def test_export_restores_every_parameter(stage, verifier, encoder):
    """The exported verifier holds the stage's encoder, and the stage's YAML
    was read as data (its os.system line never ran)."""
    loaded = verifier.mods.model.state_dict()
    expected = encoder.state_dict()
    assert loaded.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(loaded[name], value), name
    assert not stage[1].exists()


def test_exported_folder_uses_only_the_countermeasure_tags(verifier_dir):
    """The verifier folder passes the strict allow-list of CM folders."""
    text = (verifier_dir / "hyperparams.yaml").read_text()
    assert disallowed_tags(text) == []
    card = json.loads((verifier_dir / "model_card.json").read_text())
    assert card["embedding_dim"] == TINY["emb_dim"]
    assert card["checkpoint"]["meta"]["dev_speaker_eer"] == 0.2


def test_folder_threshold_is_the_dev_eer_threshold(verifier):
    """The threshold is the EER threshold of the dev target/nontarget
    scores of the exported checkpoint."""
    target = [s for _, key, s in DEV_ROWS if key == "target"]
    nontarget = [s for _, key, s in DEV_ROWS if key == "nontarget"]
    assert verifier.threshold == compute_eer(target, nontarget)[1]
    assert verifier.threshold_source.startswith("dev EER threshold")


def test_threshold_of_another_checkpoint_is_not_used(encoder, tmp_path):
    """Dev scores of another checkpoint give no threshold; an explicit one
    is used as given."""
    run = _write_ge2e_stage(
        tmp_path / "run", encoder, tmp_path / "m", "CKPT+old"
    )
    folder = export_verifier_folder(run, tmp_path / "v1")
    loaded = SpeakerVerifier.from_hparams(folder)
    assert loaded.threshold is None and loaded.threshold_source == NO_THRESHOLD
    folder = export_verifier_folder(run, tmp_path / "v2", threshold=0.25)
    loaded = SpeakerVerifier.from_hparams(folder)
    assert (loaded.threshold, loaded.threshold_source) == (
        0.25,
        "given at export",
    )


def test_export_is_kept_or_refused_like_model_folders(stage, verifier_dir):
    """Re-exporting the same stage keeps the folder; a stage without
    checkpoints is a clear error."""
    run, _ = stage
    before = (verifier_dir / "model.ckpt").read_bytes()
    assert export_verifier_folder(run, verifier_dir) == verifier_dir
    assert (verifier_dir / "model.ckpt").read_bytes() == before
    with pytest.raises(ExportError, match="no such folder"):
        export_verifier_folder(run / "nothing", run.parent / "x")


def test_recipe_ge2e_yaml_is_read_as_data(tmp_path):
    """The recipe's own GE2E YAML, resolved as SpeechBrain saves it, gives
    the G-ResNetSE preset with the run's overrides."""
    with open(RECIPE / "hparams" / "ge2e.yaml", encoding="utf-8") as fin:
        resolved = resolve_references(
            fin, {"data_folder": "/data", "model_blocks": [1, 1, 1, 1]}
        )
    path = tmp_path / "hyperparams.yaml"
    path.write_text(resolved.getvalue())
    info = read_stage_hyperparams(path)
    assert info["builder"].endswith("g_resnet_se")
    assert info["model_kwargs"] == {
        "n_mels": 40,
        "blocks": [1, 1, 1, 1],
        "n_classes": 8,
    }
    assert (info["sample_rate"], info["features"]["n_mels"]) == (16000, 40)
    config = build_encoder(info).config
    assert config["freq_pooling"] == "flatten" and not config["aux_exits"]


@pytest.mark.parametrize(
    "old, new, match",
    [
        (
            "!new:speechbrain_asd.lobes.resnet_se.ResNetSE",
            "!new:subprocess.Popen",
            "model entry must be",
        ),
        ("emb_dim: 16", "emb_dim: !apply:os.getpid []", "not a plain value"),
        ("emb_dim: 16", "emb_dim: 16\n  colour: red", "model arguments"),
        ("sample_rate: 16000\nn", "sample_rate: 8000\nn", "differs"),
    ],
)
def test_bad_stage_yaml_is_refused(tmp_path, old, new, match):
    """Stage YAMLs that do not describe a ResNetSE are refused by name."""
    path = tmp_path / "hyperparams.yaml"
    text = STAGE_YAML.format(marker="m")
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ExportError, match=match):
        build_encoder(read_stage_hyperparams(path))


def test_encode_batch_is_unit_length_and_padding_free(verifier):
    """Embeddings have norm 1; a padded row equals its unpadded input."""
    gen = torch.Generator().manual_seed(0)
    wavs = 0.1 * torch.randn(2, 12000, generator=gen)
    wavs[1, 8000:] = 0.0
    out = verifier.encode_batch(wavs, torch.tensor([1.0, 8000 / 12000]))
    assert out.shape == (2, TINY["emb_dim"])
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))
    alone = verifier.encode_batch(wavs[1, :8000])
    torch.testing.assert_close(out[1:], alone, atol=1e-5, rtol=0)


def test_same_file_scores_one_against_its_own_enrolment(verifier, audio):
    """A file verified against a one-file enrolment of itself scores 1."""
    result = verifier.verify_files([audio["a1"]], audio["a1"])
    assert result.score == pytest.approx(1.0, abs=1e-6)
    assert result.decision is True


def test_enrol_and_verify(verifier, audio):
    """The enrolment is the unit mean of unit embeddings; scores are
    cosines in [-1, 1]; decisions follow the threshold."""
    embedding = verifier.enrol("a", [audio["a1"], audio["a2"]])
    units = torch.stack([verifier.encode_file(audio[n]) for n in ("a1", "a2")])
    expected = F.normalize(units.mean(dim=0), dim=0)
    torch.testing.assert_close(embedding, expected, atol=1e-6, rtol=0)
    result = verifier.verify_files("a", audio["b1"])
    assert -1.0 <= result.score <= 1.0
    assert result.score == pytest.approx(
        float(embedding @ verifier.encode_file(audio["b1"])), abs=1e-5
    )
    assert result.speaker == "a"
    assert result.enrolment_files == (audio["a1"], audio["a2"])
    assert result.threshold == verifier.threshold
    assert result.decision == (result.score >= verifier.threshold)
    for threshold, decision in [(result.score, True), (1.0001, False)]:
        given = verifier.verify_files("a", audio["b1"], threshold=threshold)
        assert given.decision is decision
        assert given.threshold_source == "given by the caller"
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["enrolment_files"] == [audio["a1"], audio["a2"]]


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda v, a: v.verify_files("nobody", a["a1"]),
            VerificationError,
            "'nobody' is not enrolled",
        ),
        (
            lambda v, a: v.enrol("c", []),
            VerificationError,
            "at least one audio file",
        ),
        (lambda v, a: v.enrol("c", a["a1"]), TypeError, "not one path"),
        (
            lambda v, a: v.enrol("", [a["a1"]]),
            VerificationError,
            "non-empty string",
        ),
        (
            lambda v, a: v.verify_files([a["a1"]], a["b1"], threshold=np.nan),
            ValueError,
            "threshold must be finite",
        ),
    ],
)
def test_bad_requests_are_clear_errors(verifier, audio, call, error, match):
    """Unknown speakers, empty enrolments and bad arguments are refused."""
    with pytest.raises(error, match=match):
        call(verifier, audio)


def _bad_inputs(folder):
    """Writes unusable audio inputs: (path, regex the error must match)."""
    nan = _signal(0.5, 0)
    nan[1234] = np.nan
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notes.txt").write_text("not audio\n")
    return [
        (str(folder / "missing.flac"), "no such file"),
        (str(folder / "empty.wav"), r"empty file \(0 bytes\)"),
        (str(folder / "notes.txt"), "not an audio file"),
        (_write(folder / "short.wav", _signal(0.05, 0)), "too short"),
        (_write(folder / "none.wav", np.zeros(0, "int16")), "no audio"),
        (_write(folder / "silent.wav", np.zeros(8000, "int16")), "silence"),
        (_write(folder / "nan.wav", nan, subtype="FLOAT"), "non-finite"),
    ]


def test_bad_audio_is_a_clear_error(verifier, audio, tmp_path):
    """Each unusable test or enrolment file raises AudioInputError naming
    it, before any score."""
    for path, match in _bad_inputs(tmp_path):
        with pytest.raises(AudioInputError, match=match) as info:
            verifier.verify_files([audio["a1"]], path)
        assert str(info.value).startswith(path)
        with pytest.raises(AudioInputError, match=match):
            verifier.enrol("x", [audio["a1"], path])
    assert "x" not in verifier.enrolled


def test_other_rates_and_channels_are_resampled(verifier, tmp_path):
    """A stereo 8 kHz file is mixed to mono and resampled to 16 kHz."""
    data = _signal(1.0, 7, rate=8000, channels=2)
    path = _write(tmp_path / "stereo8k.wav", data, 8000, subtype="FLOAT")
    mono = torch.from_numpy(data.mean(axis=1))
    expected = verifier.encode_batch(
        torchaudio.functional.resample(mono, 8000, RATE)
    )[0]
    torch.testing.assert_close(
        verifier.encode_file(path), expected, atol=1e-5, rtol=0
    )


@pytest.mark.parametrize(
    "source", ["speechbrain/spkrec-ecapa-voxceleb", "models/no-such-folder"]
)
def test_missing_folder_is_a_clear_error_without_network(monkeypatch, source):
    """Hub-like ids and misspelled folders never trigger a download."""
    _no_network(monkeypatch)
    with pytest.raises(ModelFolderError, match="does not exist"):
        SpeakerVerifier.from_hparams(source)


CODE_PAYLOADS = {
    "apply": "x: !apply:os.system ['touch {marker}']\n",
    "other_class": "x: !new:subprocess.Popen [['touch', '{marker}']]\n",
    "name": "x: !name:os.system\n",
    "python_tag": "x: !!python/object/apply:os.system ['touch {marker}']\n",
}


@pytest.mark.parametrize("payload", sorted(CODE_PAYLOADS))
def test_code_in_a_verifier_folder_is_refused(verifier_dir, tmp_path, payload):
    """A line that would run code refuses the folder with its line and tag;
    the code never runs."""
    copy = _copy(verifier_dir, tmp_path)
    marker = tmp_path / "owned"
    hparams = copy / "hyperparams.yaml"
    lines = hparams.read_text().count("\n")
    hparams.write_text(
        hparams.read_text() + CODE_PAYLOADS[payload].format(marker=marker)
    )
    with pytest.raises(ModelFolderError, match=f":{lines + 1}: tag .* not"):
        SpeakerVerifier.from_hparams(copy)
    assert not marker.exists()


def test_tag_directive_cannot_smuggle_code(verifier_dir, tmp_path):
    """A %TAG directive is resolved before the allow-list check."""
    copy = _copy(verifier_dir, tmp_path)
    marker = tmp_path / "owned"
    hparams = copy / "hyperparams.yaml"
    hparams.write_text(
        "%TAG !e! tag:yaml.org,2002:python/object/apply:\n---\n"
        + hparams.read_text()
        + f"x: !e!os.system ['touch {marker}']\n"
    )
    with pytest.raises(ModelFolderError, match="python/object/apply"):
        SpeakerVerifier.from_hparams(copy)
    assert not marker.exists()


def _edit_checkpoint(folder, name, edit):
    """Edits the state dict of a folder's checkpoint in place."""
    state = torch.load(folder / name, weights_only=True)
    edit(state)
    torch.save(state, folder / name)


@pytest.mark.parametrize(
    "edit, error, match",
    [
        (
            lambda s: s.pop("embedding.bias"),
            CheckpointError,
            "missing: embedding.bias",
        ),
        (
            lambda s: s.update({"embedding.bias": torch.ones(3)}),
            CheckpointError,
            r"wrong shape .*embedding.bias \(3,\) vs \(16,\)",
        ),
        (None, ModelFolderError, "no model.ckpt or embedding_model.ckpt"),
    ],
)
def test_tampered_checkpoint_is_refused(
    verifier_dir, tmp_path, edit, error, match
):
    """Missing or reshaped parameters and a missing checkpoint are named."""
    copy = _copy(verifier_dir, tmp_path)
    if edit is None:
        (copy / "model.ckpt").unlink()
    else:
        _edit_checkpoint(copy, "model.ckpt", edit)
    with pytest.raises(error, match=match):
        SpeakerVerifier.from_hparams(copy)


def test_encoder_classifier_folder_loads_as_data(ecapa, monkeypatch, audio):
    """A SpeechBrain ECAPA folder (hub paths in its Pretrainer) loads
    without network or Pretrainer; its embeddings are the modules'."""
    folder, modules = ecapa
    _no_network(monkeypatch)
    loaded = SpeakerVerifier.from_hparams(folder, run_opts={"device": "cpu"})
    state = loaded.mods.embedding_model.state_dict()
    for name, value in modules["embedding_model"].state_dict().items():
        assert torch.equal(state[name], value), name
    gen = torch.Generator().manual_seed(1)
    wavs = 0.1 * torch.randn(2, RATE, generator=gen)
    lens = torch.tensor([1.0, 0.7])
    torch.testing.assert_close(
        loaded.encode_batch(wavs, lens),
        _direct_embeddings(modules, wavs, lens),
        atol=1e-5,
        rtol=0,
    )
    result = loaded.verify_files([audio["a1"], audio["a2"]], audio["a1"])
    assert -1.0 <= result.score <= 1.0
    assert (result.threshold, result.decision) == (None, None)
    assert result.threshold_source == NO_THRESHOLD
    assert loaded.sample_rate == RATE


def test_global_normalization_statistics_are_restored(tmp_path):
    """A mean_var_norm listed in the Pretrainer gets its statistics."""
    folder = tmp_path / "xvect"
    modules = _write_encoder_classifier(folder, norm_type="global")
    loaded = SpeakerVerifier.from_hparams(folder)
    expected = modules["mean_var_norm"].glob_mean
    assert torch.equal(loaded.mods.mean_var_norm.glob_mean, expected)
    wavs = 0.1 * torch.randn(1, RATE)
    torch.testing.assert_close(
        loaded.encode_batch(wavs),
        _direct_embeddings(modules, wavs, torch.ones(1)),
        atol=1e-5,
        rtol=0,
    )


@pytest.mark.parametrize(
    "old, new",
    [
        (
            "!new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN",
            "!new:subprocess.Popen",
        ),
        ("!new:speechbrain.lobes.features.Fbank", "!apply:os.system"),
        (
            "!new:speechbrain.dataio.encoder.CategoricalEncoder",
            "!name:speechbrain.utils.fetching.fetch",
        ),
    ],
)
def test_encoder_classifier_smuggling_is_refused(ecapa, tmp_path, old, new):
    """Any class outside the allow-list refuses the folder, naming the file
    and the tag, before anything is built."""
    copy = _copy(ecapa[0], tmp_path)
    hparams = copy / "hyperparams.yaml"
    assert old in hparams.read_text()
    hparams.write_text(hparams.read_text().replace(old, new))
    with pytest.raises(ModelFolderError) as info:
        SpeakerVerifier.from_hparams(copy)
    assert str(hparams.resolve()) in str(info.value)
    assert repr(new) in str(info.value) and "nothing was loaded" in str(
        info.value
    )


def test_encoder_classifier_checkpoint_problems(ecapa, tmp_path):
    """A reshaped or missing embedding_model.ckpt is refused."""
    copy = _copy(ecapa[0], tmp_path)
    name = "blocks.0.conv.conv.bias"
    _edit_checkpoint(
        copy, "embedding_model.ckpt", lambda s: s.update({name: torch.ones(3)})
    )
    with pytest.raises(CheckpointError, match=f"wrong shape .*{name}"):
        SpeakerVerifier.from_hparams(copy)
    (copy / "embedding_model.ckpt").unlink()
    with pytest.raises(ModelFolderError, match="no model.ckpt or embedding"):
        SpeakerVerifier.from_hparams(copy)


def _write_trials(folder, audio):
    """Writes ASVspoof-style ASV lists and audio; returns their paths."""
    audio_dir = folder / "flac"
    audio_dir.mkdir()
    names = {
        "LA_D_0000001": "a1",
        "LA_D_0000002": "a2",
        "LA_D_0000003": "b1",
        "LA_D_0000004": "b2",
    }
    for utt, name in names.items():
        data, _ = soundfile.read(audio[name], dtype="float32")
        soundfile.write(audio_dir / f"{utt}.flac", data, RATE)
    write_asv_enrolment(
        folder / "female.trn.txt", {"LA_0001": ["LA_D_0000001"]}
    )
    write_asv_enrolment(folder / "male.trn.txt", {"LA_0002": ["LA_D_0000003"]})
    trials = [
        ASVTrial("LA_0001", "LA_D_0000001", "bonafide", "target"),
        ASVTrial("LA_0001", "LA_D_0000003", "bonafide", "nontarget"),
        ASVTrial("LA_0002", "LA_D_0000004", "bonafide", "target"),
        ASVTrial("LA_0002", "LA_D_0000002", "A07", "spoof"),
    ]
    write_asv_protocol(folder / "trl.txt", trials)
    return (
        folder / "trl.txt",
        [folder / "female.trn.txt", folder / "male.trn.txt"],
        audio_dir,
    )


def test_score_trials_writes_an_asv_score_file(verifier, audio, tmp_path):
    """Each trial gets the cosine of its file and the claimed speaker's
    enrolment, in the 2019 ASV score format."""
    trials, enrolment, audio_dir = _write_trials(tmp_path, audio)
    out = tmp_path / "asv.scores.txt"
    rows = verifier.score_trials(trials, enrolment, audio_dir, out)
    scores = read_asv_scores(out)
    assert len(scores.target) == 2 and len(scores.nontarget) == 1
    assert scores.spoof_attacks.tolist() == ["A07"]
    assert scores.target[0] == pytest.approx(1.0, abs=1e-6)
    expected = verifier.verify_files([audio["b1"]], audio["a2"]).score
    assert rows[3] == ("A07", "spoof", pytest.approx(expected, abs=1e-5))


def test_score_trials_writes_nothing_on_bad_input(verifier, audio, tmp_path):
    """An unknown claimed speaker or a missing file writes no score file."""
    trials, enrolment, audio_dir = _write_trials(tmp_path, audio)
    out = tmp_path / "asv.scores.txt"
    with pytest.raises(VerificationError, match="claims speaker LA_0002"):
        verifier.score_trials(trials, enrolment[:1], audio_dir, out)
    (audio_dir / "LA_D_0000004.flac").unlink()
    with pytest.raises(AudioInputError, match="LA_D_0000004.flac: no such"):
        verifier.score_trials(trials, enrolment, audio_dir, out)
    assert not out.exists()


def test_cli_verify_prints_json(verifier_dir, audio, capsys):
    """``verify --json`` prints the score, threshold and decision."""
    status = main(
        [
            "verify",
            "--model",
            str(verifier_dir),
            "--enrol",
            audio["a1"],
            audio["a2"],
            "--test",
            audio["a1"],
            "--threshold",
            "0.5",
            "--json",
        ]
    )
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    assert result["decision"] is True and result["threshold"] == 0.5
    assert 0.5 <= result["score"] <= 1.0
    assert result["enrolment_files"] == [audio["a1"], audio["a2"]]


def test_cli_verify_scores_a_trial_list(verifier_dir, audio, tmp_path, capsys):
    """List scoring writes a valid ASV score file."""
    trials, enrolment, audio_dir = _write_trials(tmp_path, audio)
    out = tmp_path / "scores.txt"
    args = ["verify", "--model", str(verifier_dir), "--trials", str(trials)]
    args += ["--enrolment", ",".join(str(path) for path in enrolment)]
    args += ["--audio-dir", str(audio_dir), "--out", str(out), "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["trials"] == 4
    assert len(read_asv_scores(out).target) == 2


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--test", "t.wav"], "give --enrol and --test"),
        (["--enrol", "a.wav", "--out", "s.txt"], "not both"),
        (["--enrol", "a.wav", "--test", "no/such.wav"], "no such file"),
    ],
)
def test_cli_verify_bad_input_exits_2(verifier_dir, capsys, extra, match):
    """Bad input prints one line and exits with status 2."""
    status = main(["verify", "--model", str(verifier_dir), *extra])
    assert status == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("speechbrain-asd verify: error:")
    assert match in err and err.count("\n") == 1


def test_cli_verify_prints_a_table(ecapa, audio, capsys):
    """Without --json: score, threshold (none here) and decision lines."""
    args = ["verify", "--model", str(ecapa[0]), "--enrol", audio["a1"]]
    assert main([*args, "--test", audio["b1"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("score ")
    assert lines[1].startswith("threshold  - (no threshold known")
    assert lines[2] == "decision   none (no threshold)"
