"""Tests of the deployed tandem: verifier folders from every speaker stage,
their ONNX encoders, ``EdgeTandem`` and ``verify --cm``.

Authors
 * speechbrain-asd developers
"""

import json
import shutil

import numpy as np
import pytest
import soundfile
import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_asd.cli import EXIT_BAD_INPUT, main
from speechbrain_asd.edge_tandem import EdgeTandem
from speechbrain_asd.export import export_model_folder
from speechbrain_asd.inference import SpoofDetector
from speechbrain_asd.lobes.resnet_se import g_resnet_se, l_resnet_se
from speechbrain_asd.metrics import compute_eer
from speechbrain_asd.model_folder import (
    CALIBRATION_FILE,
    ExportError,
    ModelFolderError,
)
from speechbrain_asd.onnx_export import export_onnx, export_verifier_onnx
from speechbrain_asd.scorefiles import write_asv_scores
from speechbrain_asd.verification import SpeakerVerifier
from speechbrain_asd.verifier_export import (
    DEV_ASV_SCORE_FILE,
    export_verifier_folder,
)

RATE = 16000
TINY = {"channels": [4, 8, 8, 8], "blocks": [1, 1, 1, 1], "emb_dim": 16}
DEV_ROWS = [
    ("bonafide", "target", 0.9),
    ("bonafide", "target", 0.7),
    ("bonafide", "target", 0.4),
    ("bonafide", "nontarget", 0.5),
    ("bonafide", "nontarget", 0.2),
    ("bonafide", "nontarget", -0.1),
]
# The resolved hyperparams.yaml of each speaker stage, reduced to what
# matters: the features, the model entry (and the other encoders of the
# stage), and a line that must never run.
FEATURES_YAML = """sample_rate: 16000
compute_features: !new:speechbrain_asd.features.LogMelFeatures
  sample_rate: 16000
  n_mels: 40
owned: !apply:os.system ["touch {marker}"]
"""
MODEL_YAML = """{entry}: !apply:speechbrain_asd.lobes.resnet_se.{preset}
  n_mels: 40
  channels: [4, 8, 8, 8]
  blocks: [1, 1, 1, 1]
  emb_dim: 16
  n_classes: 8
"""
SEEF_YAML = """verify_with: {verify_with}
eliminating_encoder: !new:speechbrain_asd.lobes.seef_aldr.EliminatingEncoder
  n_mels: 40
  feature_dim: 128
decoder: !new:speechbrain_asd.lobes.seef_aldr.ReconstructionDecoder
  input_dim: !apply:operator.add [16, 128]
"""
# Stage name -> (preset of its model, extra YAML, where the checkpoint of
# its ASV scores is named).
STAGES = {
    "ge2e": (g_resnet_se, "", "asv_scores/asv_scores.json"),
    "seef_aldr": (g_resnet_se, SEEF_YAML, "asv_report.json"),
    "speaker_kd": (
        l_resnet_se,
        MODEL_YAML.format(entry="teacher", preset="g_resnet_se"),
        "asv_report.json",
    ),
}
CLASS_NAMES = ["bonafide", "A01", "A02", "A03", "A04", "A05", "A06", "adv"]


def _write_stage(folder, name, verify_with="purifying"):
    """Writes what a speaker stage leaves in its output folder; returns the
    folder, its model and the marker its YAML would touch."""
    preset, extra, summary = STAGES[name]
    folder.mkdir(parents=True)
    torch.manual_seed(len(name))
    model = preset(**TINY, n_mels=40, n_classes=8)
    with torch.no_grad():
        model.train()
        model(torch.randn(3, 60, 40))
    model.eval()
    saved = Checkpointer(folder / "save", {"model": model}).save_checkpoint(
        meta={"dev_speaker_eer": 0.2}, name="epoch"
    )
    marker = folder / "owned"
    text = FEATURES_YAML.format(marker=marker)
    text += MODEL_YAML.format(entry="model", preset=preset.__name__)
    (folder / "hyperparams.yaml").write_text(
        text + extra.format(verify_with=verify_with)
    )
    (folder / "asv_scores").mkdir()
    write_asv_scores(folder / "asv_scores" / DEV_ASV_SCORE_FILE, DEV_ROWS)
    (folder / summary).write_text(json.dumps({"checkpoint": saved.path.name}))
    return folder, model, marker


def _signal(seconds, seed, base, rate=RATE):
    """A seeded noisy chirp, float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    chirp = 0.3 * np.sin(2 * np.pi * (base + 600 * t) * t)
    return (chirp + 0.05 * rng.standard_normal(t.size)).astype("float32")


def _write_cm_stage(folder):
    """Writes a recipe CM stage output folder (one checkpoint)."""
    torch.manual_seed(7)
    model = l_resnet_se(**TINY, n_mels=80)
    with torch.no_grad():
        model.train()
        model(torch.randn(3, 60, 80))
    Checkpointer(folder / "save", {"model": model.eval()}).save_checkpoint(
        meta={"dev_eer": 0.1}, name="epoch"
    )
    info = {
        "model_kwargs": model.config,
        "class_names": CLASS_NAMES,
        "sample_rate": RATE,
        "name": "tiny",
        "metrics": {"dev_eer": 0.1},
    }
    (folder / "model_info.json").write_text(json.dumps(info))
    return folder


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A module-wide folder."""
    return tmp_path_factory.mktemp("edge")


@pytest.fixture(scope="module")
def verifier_dir(root):
    """A verifier folder of the GE2E stage with model.onnx and int8."""
    run, _, _ = _write_stage(root / "ge2e_run", "ge2e")
    folder = export_verifier_folder(run, root / "verifier")
    export_verifier_onnx(folder, quantize=True)
    return folder


@pytest.fixture(scope="module")
def cm_dir(root):
    """A CM model folder with model.onnx."""
    run = _write_cm_stage(root / "cm_run")
    folder = export_model_folder(run, root / "cm")
    export_onnx(folder)
    return folder


@pytest.fixture(scope="module")
def audio(root):
    """Audio files of two 'speakers' at 16 kHz, and one at 8 kHz."""
    folder = root / "audio"
    folder.mkdir()
    files = {}
    for name, seed, base, rate in [
        ("a1", 1, 200.0, RATE),
        ("a2", 2, 210.0, RATE),
        ("b1", 3, 900.0, RATE),
        ("a8k", 2, 210.0, 8000),
    ]:
        path = folder / f"{name}.wav"
        soundfile.write(path, _signal(1.0, seed, base, rate), rate)
        files[name] = str(path)
    return files


def _copy(folder, tmp_path):
    """A copy of a folder, to tamper with."""
    return shutil.copytree(folder, tmp_path / folder.name)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_speaker_stage_exports_a_verifier(tmp_path, stage):
    """GE2E, SEEF-ALDR (E_p) and speaker KD (the student) give a verifier
    folder with the stage's encoder and the dev EER threshold of the scores
    of the exported checkpoint; the stage's YAML is read as data."""
    run, model, marker = _write_stage(tmp_path / "run", stage)
    folder = export_verifier_folder(run, tmp_path / "verifier")
    verifier = SpeakerVerifier.from_hparams(folder)
    wavs = 0.1 * torch.randn(2, RATE)
    with torch.no_grad():
        feats, lengths = verifier.mods.compute_features.with_frame_lengths(
            wavs, torch.ones(2)
        )
        expected = torch.nn.functional.normalize(model.embed(feats, lengths))
    assert torch.allclose(verifier.encode_batch(wavs), expected, atol=1e-5)
    target = [score for _, key, score in DEV_ROWS if key == "target"]
    nontarget = [score for _, key, score in DEV_ROWS if key == "nontarget"]
    threshold = compute_eer(np.array(target), np.array(nontarget))[1]
    assert verifier.threshold == pytest.approx(float(threshold))
    assert not marker.exists()


def test_seef_stage_verifying_with_e_e_is_refused(tmp_path):
    """A SEEF-ALDR stage that verified with E_e has no verifier to export."""
    run, _, _ = _write_stage(tmp_path / "run", "seef_aldr", "eliminating")
    with pytest.raises(ExportError, match="verify_with is 'eliminating'"):
        export_verifier_folder(run, tmp_path / "verifier")
    assert not (tmp_path / "verifier").exists()


def test_onnx_embeddings_match_torch(verifier_dir, audio):
    """The ONNX encoder gives the torch embeddings of a padded batch and of
    files; the int8 one stays close."""
    torch_verifier = SpeakerVerifier.from_hparams(verifier_dir)
    onnx_verifier = SpeakerVerifier.from_hparams(verifier_dir, backend="onnx")
    wavs = 0.1 * torch.randn(3, RATE)
    lens = torch.tensor([1.0, 0.6, 0.3])
    assert torch.allclose(
        onnx_verifier.encode_batch(wavs, lens),
        torch_verifier.encode_batch(wavs, lens),
        atol=1e-4,
    )
    int8 = SpeakerVerifier.from_hparams(
        verifier_dir, backend="onnx", onnx_file="model.int8.onnx"
    )
    for path in audio.values():
        expected = torch_verifier.encode_file(path)
        assert torch.allclose(
            onnx_verifier.encode_file(path), expected, atol=1e-4
        )
        assert float(int8.encode_file(path) @ expected) > 0.9


def test_encoder_classifier_folders_have_no_onnx(tmp_path):
    """A SpeechBrain EncoderClassifier folder is refused by the ONNX backend
    and by the ONNX export, with one line naming the folder."""
    folder = tmp_path / "ecapa"
    folder.mkdir()
    (folder / "hyperparams.yaml").write_text("n_mels: 20\n")
    (folder / "embedding_model.ckpt").write_bytes(b"")
    (folder / "model.onnx").write_bytes(b"")
    with pytest.raises(ModelFolderError, match="EncoderClassifier") as error:
        SpeakerVerifier.from_hparams(folder, backend="onnx")
    assert str(folder) in str(error.value)
    with pytest.raises(ExportError, match="EncoderClassifier"):
        export_verifier_onnx(folder)


def _tandem(verifier_dir, cm_dir, **thresholds):
    """An EdgeTandem of the two folders on the torch backend."""
    return EdgeTandem(
        SpeakerVerifier.from_hparams(verifier_dir),
        SpoofDetector.from_hparams(cm_dir),
        verifier_dir=verifier_dir,
        cm_dir=cm_dir,
        **thresholds,
    )


def test_tandem_accepts_only_when_both_accept(verifier_dir, cm_dir, audio):
    """Thresholds just below or above each score: accepted only when the
    ASV accepts and the CM says bona fide."""
    probe = _tandem(verifier_dir, cm_dir, cm_threshold=0.0)
    probe.enrol("a", [audio["a1"]])
    base = probe.verify_files("a", audio["a2"])
    asv_score, cm_score = base.asv.score, base.cm.bonafide_score
    for asv_accepts in (True, False):
        for cm_accepts in (True, False):
            tandem = _tandem(
                verifier_dir,
                cm_dir,
                asv_threshold=asv_score + (-0.01 if asv_accepts else 0.01),
                cm_threshold=cm_score + (-0.01 if cm_accepts else 0.01),
            )
            result = tandem.verify_files([audio["a1"]], audio["a2"])
            assert result.asv.decision is asv_accepts
            assert result.cm_decision is cm_accepts
            assert result.accepted is (asv_accepts and cm_accepts)
            assert result.to_dict()["accepted"] is result.accepted
            first = "accept" if result.accepted else "reject"
            assert result.to_text().splitlines()[0] == f"tandem     {first}"


def test_thresholds_come_from_the_folders(verifier_dir, cm_dir, tmp_path):
    """The verifier folder's threshold; the CM calibration's threshold on
    the LLR; without calibration.json the CM threshold must be given, and a
    verifier without a threshold needs one too."""
    calibrated = _copy(cm_dir, tmp_path)
    calibration = {
        "scale": 2.0,
        "offset": -1.0,
        "threshold": 0.5,
        "rule": "bayes",
        "spoof_prior": 0.05,
        "dev_cllr_raw": 1.0,
        "dev_cllr": 0.5,
    }
    (calibrated / CALIBRATION_FILE).write_text(json.dumps(calibration))
    tandem = _tandem(verifier_dir, calibrated)
    values = tandem.to_dict()
    verifier = SpeakerVerifier.from_hparams(verifier_dir)
    assert values["asv_threshold"] == verifier.threshold
    assert values["asv_threshold_source"] == verifier.threshold_source
    assert values["cm_threshold"] == 0.5
    assert values["cm_compared_score"] == "llr"
    with pytest.raises(ModelFolderError, match="no calibration.json") as error:
        _tandem(verifier_dir, cm_dir)
    assert str(cm_dir) in str(error.value)
    with pytest.raises(ModelFolderError, match="no asv_threshold") as error:
        EdgeTandem(
            SpeakerVerifier.from_hparams(
                verifier_dir, overrides={"asv_threshold": None}
            ),
            SpoofDetector.from_hparams(cm_dir),
            cm_threshold=0.0,
            verifier_dir=verifier_dir,
        )
    assert "hyperparams.yaml" in str(error.value)


def test_onnx_tandem_scores_like_torch(verifier_dir, cm_dir, audio):
    """Both models on onnxruntime give the torch scores."""
    results = {
        backend: EdgeTandem.from_folders(
            verifier_dir, cm_dir, backend=backend, cm_threshold=0.0
        ).verify_files([audio["a1"]], audio["b1"])
        for backend in ("torch", "onnx")
    }
    assert results["onnx"].asv.score == pytest.approx(
        results["torch"].asv.score, abs=1e-4
    )
    assert results["onnx"].cm_score == pytest.approx(
        results["torch"].cm_score, abs=1e-3
    )


def _run(argv, capsys):
    """Runs the command line; its status, stdout and stderr."""
    status = main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


def test_cli_verify_with_cm(verifier_dir, cm_dir, audio, capsys):
    """verify --cm prints both scores and the three decisions, as a table or
    JSON; an 8 kHz test file is resampled."""
    argv = ["verify", "--model", str(verifier_dir), "--cm", str(cm_dir)]
    argv += ["--cm-threshold", "0", "--enrol", audio["a1"]]
    status, out, _ = _run(argv + ["--test", audio["a2"]], capsys)
    assert status == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "tandem",
        "asv",
        "cm",
        "enrolment",
        "test",
    ]
    assert lines[1].split()[1] in ("accept", "reject")
    assert lines[2].split()[1] in ("bonafide", "spoof")
    argv += ["--backend", "onnx", "--json", "--test", audio["a8k"]]
    status, out, _ = _run(argv, capsys)
    assert status == 0
    payload = json.loads(out)
    assert set(payload) == {"accepted", "asv", "cm"}
    assert payload["asv"]["test_file"] == audio["a8k"]
    assert payload["cm"]["compared_score"] == payload["cm"]["bonafide_score"]
    assert payload["accepted"] == (
        payload["asv"]["decision"] and payload["cm"]["decision"] == "bonafide"
    )


def test_cli_verify_without_cm_runs_onnx(verifier_dir, audio, capsys):
    """Without --cm, verify prints the verifier's result; --backend onnx
    runs the folder's ONNX encoder."""
    argv = ["verify", "--model", str(verifier_dir), "--enrol", audio["a1"]]
    status, out, _ = _run(argv + ["--test", audio["a2"], "--json"], capsys)
    assert status == 0
    expected = json.loads(out)["score"]
    status, out, _ = _run(
        argv + ["--test", audio["a2"], "--json", "--backend", "onnx"], capsys
    )
    assert json.loads(out)["score"] == pytest.approx(expected, abs=1e-4)


def _one_line_error(argv, capsys, *needles):
    """Runs a command that must fail with one line naming each needle."""
    status, out, err = _run(argv, capsys)
    assert status == EXIT_BAD_INPUT and not out
    assert len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert str(needle) in err, err


def test_cli_hostile_inputs(verifier_dir, cm_dir, audio, tmp_path, capsys):
    """Missing folders, tampered hyperparams, a missing ONNX file, bad audio
    and flag misuse end with one line naming the culprit, nothing built."""
    base = ["verify", "--enrol", audio["a1"], "--test", audio["a2"]]
    pair = base + ["--model", str(verifier_dir), "--cm-threshold", "0"]
    missing = tmp_path / "missing"
    _one_line_error(pair + ["--cm", str(missing)], capsys, missing)
    marker = tmp_path / "owned"
    for tag in ("!apply:os.system", "!new:os.system"):
        for name, folder in (("v", verifier_dir), ("c", cm_dir)):
            bad = shutil.copytree(folder, tmp_path / f"{name}{tag[1:4]}")
            hparams = bad / "hyperparams.yaml"
            hparams.write_text(
                hparams.read_text() + f'owned: {tag} ["touch {marker}"]\n'
            )
            models = {"v": verifier_dir, "c": cm_dir, name: bad}
            argv = base + [
                "--model",
                str(models["v"]),
                "--cm",
                str(models["c"]),
            ]
            _one_line_error(argv + ["--cm-threshold", "0"], capsys, hparams)
    assert not marker.exists()
    no_onnx = _copy(cm_dir, tmp_path)
    (no_onnx / "model.onnx").unlink()
    argv = pair + ["--cm", str(no_onnx), "--backend", "onnx"]
    _one_line_error(argv, capsys, no_onnx, "model.onnx")
    short = tmp_path / "short.wav"
    soundfile.write(short, _signal(0.01, 0, 200.0), RATE)
    argv = ["verify", "--model", str(verifier_dir), "--cm", str(cm_dir)]
    argv += [
        "--cm-threshold",
        "0",
        "--enrol",
        audio["a1"],
        "--test",
        str(short),
    ]
    _one_line_error(argv, capsys, short)
    _one_line_error(pair, capsys, "--cm-threshold goes with --cm")
    listed = ["verify", "--model", str(verifier_dir), "--cm", str(cm_dir)]
    listed += ["--trials", "t", "--enrolment", "e", "--audio-dir", "d"]
    _one_line_error(listed + ["--out", "o"], capsys, "--cm goes with")


def test_cli_exports_a_verifier_with_onnx(tmp_path, capsys):
    """export --verifier-from writes a verifier folder and its ONNX files."""
    run, _, _ = _write_stage(tmp_path / "run", "speaker_kd")
    out = tmp_path / "verifier"
    argv = ["export", "--verifier-from", str(run), "--out", str(out)]
    status, printed, _ = _run(argv + ["--int8", "--json"], capsys)
    assert status == 0
    assert json.loads(printed) == {
        "model_dir": str(out),
        "onnx": str(out / "model.onnx"),
        "int8": str(out / "model.int8.onnx"),
    }
    verifier = SpeakerVerifier.from_hparams(out, backend="onnx")
    assert verifier.encode_batch(torch.randn(1, RATE)).shape == (1, 16)
