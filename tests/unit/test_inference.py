"""Tests of speechbrain_asd.inference: loading model folders, reading any
audio input, windowed scoring and score files.

Authors
 * speechbrain-asd developers
"""

import json
import math
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torchaudio.functional

from speechbrain_asd.audio import AudioInputError, read_audio, window_spans
from speechbrain_asd.checkpoints import CheckpointError
from speechbrain_asd.cli import main
from speechbrain_asd.export import export_model_folder
from speechbrain_asd.file_lists import score_list_to_file
from speechbrain_asd.inference import FileError, FileScore, SpoofDetector
from speechbrain_asd.lobes.resnet_se import ResNetSE
from speechbrain_asd.model_folder import ModelFolderError, disallowed_tags
from speechbrain_asd.scorefiles import read_cm_scores

CLASS_NAMES = ["bonafide", "A01", "A02", "A03", "A04", "A05", "A06", "adv"]
TINY = {"channels": [4, 8, 8, 8], "blocks": [1, 1, 1, 1], "emb_dim": 16}
RATE = 16000


@pytest.fixture(scope="module")
def trained_model():
    """A tiny ResNetSE with random weights and non-default BatchNorm stats.

    Returns
    -------
    ResNetSE
        The model, in eval mode.
    """
    torch.manual_seed(3)
    model = ResNetSE(**TINY)
    with torch.no_grad():
        model.classifier.weight.mul_(20.0)
        model.train()
        model(torch.randn(3, 60, 40))
    return model.eval()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, trained_model, write_stage_output):
    """A model folder exported from a fake recipe output folder.

    Returns
    -------
    pathlib.Path
        The model folder.
    """
    root = tmp_path_factory.mktemp("model")
    run = write_stage_output(root / "run", trained_model, TINY, CLASS_NAMES)
    return export_model_folder(run, root / "model")


@pytest.fixture(scope="module")
def detector(model_dir):
    """The detector of the model folder, windows of 1 s every 0.5 s.

    Returns
    -------
    SpoofDetector
        On the CPU.
    """
    return SpoofDetector.from_hparams(
        model_dir,
        overrides={"window_seconds": 1.0, "hop_seconds": 0.5},
        run_opts={"device": "cpu"},
    )


def _signal(seconds, rate, seed=0, channels=1):
    """A seeded noisy chirp.

    Arguments
    ---------
    seconds : float
        Duration.
    rate : int
        Sample rate.
    seed : int
        Seed of the noise.
    channels : int
        Number of channels.

    Returns
    -------
    numpy.ndarray
        Float32 samples in [-1, 1], shape [frames, channels].
    """
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    chirp = 0.3 * np.sin(2 * np.pi * (200 + 900 * t) * t)
    out = [chirp + 0.05 * rng.standard_normal(t.size) for _ in range(channels)]
    return np.stack(out, axis=1).astype("float32")


def test_from_hparams_restores_every_parameter(detector, trained_model):
    """Every entry of the loaded model equals the trained model's."""
    loaded = detector.mods.model.state_dict()
    expected = trained_model.state_dict()
    assert loaded.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(loaded[name], value), name


def test_savedir_never_serves_a_stale_model(model_dir, tmp_path):
    """Loading two folders through one savedir gives each its own weights
    (SpeechBrain's fetch reuses files found in savedir unless told not to)."""
    other = _corrupted_copy(
        model_dir, tmp_path, lambda s: s["classifier.bias"].add_(1.0)
    )
    savedir = tmp_path / "savedir"
    first = SpoofDetector.from_hparams(model_dir, savedir=savedir)
    second = SpoofDetector.from_hparams(other, savedir=savedir)
    bias = second.mods.model.classifier.bias
    assert torch.equal(bias, first.mods.model.classifier.bias + 1.0)


def test_classify_batch_outputs(detector):
    """Scores are the bona fide log-odds; padding does not change a row."""
    gen = torch.Generator().manual_seed(0)
    wavs = 0.1 * torch.randn(2, 12000, generator=gen)
    wavs[1, 8000:] = 0.0
    out = detector.classify_batch(wavs, torch.tensor([1.0, 8000 / 12000]))
    probs = out.log_probs.exp()
    odds = torch.log(probs[:, 0]) - torch.log(probs[:, 1:].sum(dim=1))
    torch.testing.assert_close(out.bonafide_score, odds, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.bonafide_prob, probs[:, 0])
    assert out.labels == [CLASS_NAMES[i] for i in out.index.tolist()]
    alone = detector.classify_batch(wavs[1:, :8000])
    torch.testing.assert_close(
        out.bonafide_score[1:], alone.bonafide_score, atol=1e-5, rtol=0
    )


@pytest.mark.parametrize(
    "wavs, lens, match",
    [
        (torch.full((1, 100), math.nan), None, "NaN or infinite"),
        (torch.zeros(2, 0), None, "no empty axis"),
        (torch.zeros(2, 100), torch.tensor([1.0, 0.0]), r"\(0, 1\]"),
        (torch.zeros(2, 100), torch.ones(3), "shape"),
    ],
)
def test_classify_batch_rejects_bad_tensors(detector, wavs, lens, match):
    """Bad waveform batches raise ValueError before reaching the model."""
    with pytest.raises(ValueError, match=match):
        detector.classify_batch(wavs, lens)


def _no_network(monkeypatch):
    """Makes any network access or hub download fail the test.

    Arguments
    ---------
    monkeypatch : pytest.MonkeyPatch
        The fixture.
    """

    def refuse(*args, **kwargs):
        """Fails on any call."""
        pytest.fail("a network access was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr("speechbrain.utils.fetching.download_file_hf", refuse)
    monkeypatch.setattr("speechbrain.utils.fetching.download_file", refuse)


@pytest.mark.parametrize(
    "source", ["speechbrain/spoof-detector", "models/no-such-folder"]
)
def test_missing_folder_is_a_clear_error_without_network(
    monkeypatch, tmp_path, source
):
    """Hub-like ids and misspelled folders never trigger a download."""
    _no_network(monkeypatch)
    with pytest.raises(ModelFolderError, match="does not exist"):
        SpoofDetector.from_hparams(source, savedir=tmp_path / "save")


def test_folder_without_hyperparams_is_a_clear_error(tmp_path):
    """A folder that is not a model folder says which file is missing."""
    with pytest.raises(ModelFolderError, match="no hyperparams.yaml"):
        SpoofDetector.from_hparams(tmp_path)


def _corrupted_copy(model_dir, tmp_path, edit):
    """Copies a model folder and edits its checkpoint's state dict.

    Arguments
    ---------
    model_dir : pathlib.Path
        The model folder.
    tmp_path : pathlib.Path
        Where to copy it.
    edit : callable
        Changes the state dict in place.

    Returns
    -------
    pathlib.Path
        The copy.
    """
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    state = torch.load(copy / "model.ckpt", weights_only=True)
    edit(state)
    torch.save(state, copy / "model.ckpt")
    return copy


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda s: s.pop("classifier.bias"), "missing: classifier.bias"),
        (lambda s: s.update(extra=torch.ones(1)), "unexpected: extra"),
        (
            lambda s: s.update({"classifier.bias": torch.ones(3)}),
            r"wrong shape .*classifier.bias \(3,\) vs \(8,\)",
        ),
    ],
)
def test_checkpoint_mismatch_is_a_clear_error(model_dir, tmp_path, edit, match):
    """Missing, unexpected and reshaped entries are listed by name."""
    copy = _corrupted_copy(model_dir, tmp_path, edit)
    with pytest.raises(CheckpointError, match=match):
        SpoofDetector.from_hparams(copy)


def test_non_strict_pretrainer_load_is_caught(model_dir, tmp_path):
    """Without the strict load hook, the Pretrainer only warns about a
    missing key; from_hparams still refuses the folder."""
    copy = _corrupted_copy(
        model_dir, tmp_path, lambda s: s.pop("embedding.weight")
    )
    hparams = (copy / "hyperparams.yaml").read_text()
    hook = "  custom_hooks:\n    model: !name:"
    assert hook in hparams
    hparams = hparams.split(hook)[0]
    (copy / "hyperparams.yaml").write_text(hparams)
    with pytest.raises(CheckpointError, match="missing: embedding.weight"):
        SpoofDetector.from_hparams(copy)


def test_checkpoint_with_pickled_code_is_refused(model_dir, tmp_path):
    """Checkpoints load with weights_only=True: pickled objects are refused."""
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    torch.save({"model": ResNetSE(**TINY)}, copy / "model.ckpt")
    with pytest.raises(CheckpointError, match="cannot read the checkpoint"):
        SpoofDetector.from_hparams(copy)


CODE_PAYLOADS = {
    "python_object_apply": "x: !!python/object/apply:os.system ['{cmd}']\n",
    "hyperpyyaml_apply": "x: !apply:os.system ['{cmd}']\n",
    "other_class": "x: !new:subprocess.Popen [['sh', '-c', '{cmd}']]\n",
    "name_tag": "x: !name:os.system\n",
    "include": "x: !include:other.yaml\n",
    "verbatim_tag": "x: !<tag:yaml.org,2002:python/object/apply:os.system>"
    " ['{cmd}']\n",
}


@pytest.mark.parametrize("payload", sorted(CODE_PAYLOADS))
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_code_in_a_model_folder_is_refused_and_never_run(
    model_dir, tmp_path, payload, backend
):
    """A line appended to hyperparams.yaml that would run code refuses the
    folder with its line and tag, and the code never runs."""
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    marker = tmp_path / "owned"
    line = CODE_PAYLOADS[payload].format(cmd=f"touch {marker}")
    hparams = copy / "hyperparams.yaml"
    lines = hparams.read_text().count("\n")
    hparams.write_text(hparams.read_text() + line)
    with pytest.raises(ModelFolderError, match=f":{lines + 1}: tag .* not"):
        SpoofDetector.from_hparams(copy, backend=backend)
    assert not marker.exists()


def test_tag_directive_cannot_smuggle_code(model_dir, tmp_path):
    """A %TAG directive that renames python/object/apply is resolved before
    the allow-list check, and the CLI fails with exit status 2."""
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    marker = tmp_path / "owned"
    hparams = copy / "hyperparams.yaml"
    hparams.write_text(
        "%TAG !e! tag:yaml.org,2002:python/object/apply:\n---\n"
        + hparams.read_text()
        + f"x: !e!os.system ['touch {marker}']\n"
    )
    wav = tmp_path / "a.wav"
    soundfile.write(wav, _signal(0.5, RATE), RATE)
    assert main(["classify", "--model", str(copy), str(wav)]) == 2
    assert not marker.exists()


def test_exported_folder_passes_the_allow_list(model_dir):
    """Every tag an exported folder carries is allowed."""
    assert disallowed_tags((model_dir / "hyperparams.yaml").read_text()) == []


def _write(path, data, rate, **kwargs):
    """Writes an audio file and returns its path.

    Arguments
    ---------
    path : pathlib.Path
        The file.
    data : numpy.ndarray
        Samples.
    rate : int
        Sample rate.
    **kwargs : dict
        Passed to ``soundfile.write``.

    Returns
    -------
    str
        The path.
    """
    soundfile.write(path, data, rate, **kwargs)
    return str(path)


def _expected_score(detector, data, rate):
    """Score of audio computed directly: int scaling, mono, resampling.

    Arguments
    ---------
    detector : SpoofDetector
        The detector.
    data : numpy.ndarray
        Float samples in [-1, 1], shape [frames, channels].
    rate : int
        Their sample rate.

    Returns
    -------
    float
        The bona fide score of the whole signal.
    """
    mono = torch.from_numpy(data.mean(axis=1).astype("float32"))
    if rate != RATE:
        mono = torchaudio.functional.resample(mono, rate, RATE)
    return float(detector.classify_batch(mono).bonafide_score[0])


@pytest.mark.parametrize(
    "name, rate, channels, kwargs",
    [
        ("stereo8k.wav", 8000, 2, {"subtype": "PCM_16"}),
        ("float44k.flac", 44100, 1, {"subtype": "PCM_24"}),
        ("float44k.wav", 44100, 1, {"subtype": "FLOAT"}),
        ("clip.ogg", 16000, 1, {"format": "OGG"}),
    ],
)
def test_any_format_rate_and_channels(
    detector, tmp_path, name, rate, channels, kwargs
):
    """Files are mixed to mono and resampled to 16 kHz before scoring."""
    data = _signal(0.8, rate, channels=channels)
    if kwargs.get("subtype") == "PCM_16":
        data = np.round(data * 32767).astype("int16")
    path = _write(tmp_path / name, data, rate, **kwargs)
    read_back, _ = soundfile.read(path, dtype="float32", always_2d=True)
    result = detector.classify_file(path)
    assert isinstance(result, FileScore)
    assert result.num_windows == 1 and result.warnings == ()
    assert result.duration == pytest.approx(0.8, abs=1e-3)
    expected = _expected_score(detector, read_back, rate)
    assert result.bonafide_score == pytest.approx(expected, abs=1e-5)
    assert result.bonafide_prob == pytest.approx(
        1 / (1 + math.exp(-expected)), abs=1e-6
    )
    assert result.label == CLASS_NAMES[result.label_index]


def test_silence_is_scored_with_a_warning(detector, tmp_path):
    """Digital silence gets the model's score for a constant input."""
    path = _write(tmp_path / "silence.wav", np.zeros(8000, "int16"), RATE)
    result = detector.classify_file(path)
    assert math.isfinite(result.bonafide_score)
    assert len(result.warnings) == 1 and "silence" in result.warnings[0]


def _bad_inputs(folder):
    """Writes every kind of unusable input.

    Arguments
    ---------
    folder : pathlib.Path
        Where to write them.

    Returns
    -------
    list of (str, str)
        (path, regex the error must match).
    """
    nan = _signal(0.5, RATE)
    nan[1234] = np.nan
    inf = _signal(0.5, RATE)
    inf[10] = np.inf
    flac = _write(folder / "full.flac", _signal(1.0, RATE), RATE)
    raw = Path(flac).read_bytes()
    (folder / "truncated.flac").write_bytes(raw[: len(raw) // 2])
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notes.txt").write_text("not audio\n")
    (folder / "a_folder.wav").mkdir()
    return [
        (_write(folder / "nan.wav", nan, RATE, subtype="FLOAT"), "non-finite"),
        (_write(folder / "inf.wav", inf, RATE, subtype="FLOAT"), "non-finite"),
        (_write(folder / "short.wav", _signal(0.05, RATE), RATE), "too short"),
        (_write(folder / "none.wav", np.zeros(0, "int16"), RATE), "no audio"),
        (str(folder / "truncated.flac"), "corrupt|truncated"),
        (str(folder / "empty.wav"), r"empty file \(0 bytes\)"),
        (str(folder / "notes.txt"), "not an audio file"),
        (str(folder / "a_folder.wav"), "is a folder"),
        (str(folder / "missing.flac"), "no such file"),
    ]


def test_every_bad_input_is_a_clear_error(detector, tmp_path):
    """Each unusable file raises AudioInputError naming it."""
    for path, match in _bad_inputs(tmp_path):
        with pytest.raises(AudioInputError, match=match) as info:
            detector.classify_file(path)
        assert info.value.path == path
        assert str(info.value).startswith(path)


def test_skip_errors_keeps_order(detector, tmp_path):
    """With skip_errors, bad files become FileError in their place."""
    bad = [path for path, _ in _bad_inputs(tmp_path)]
    good = _write(tmp_path / "good.wav", _signal(0.5, RATE), RATE)
    results = detector.score_files([bad[0], good, bad[-1]], skip_errors=True)
    assert [type(r) for r in results] == [FileError, FileScore, FileError]
    assert results[0].to_dict()["error"].startswith(bad[0])
    assert results[1].file == good


def test_long_file_is_the_mean_of_its_window_scores(detector, tmp_path):
    """A 2.3 s file with 1 s windows every 0.5 s: 4 windows, the last one
    ending at the end; score = mean of the window scores."""
    data = _signal(2.3, RATE, seed=5)
    path = _write(tmp_path / "long.wav", data, RATE, subtype="FLOAT")
    wav = read_audio(path)
    spans = window_spans(wav.shape[0], RATE, RATE // 2)
    assert spans[-1] == (wav.shape[0] - RATE, wav.shape[0])
    windows = torch.stack([wav[a:b] for a, b in spans])
    out = detector.classify_batch(windows)
    result = detector.classify_file(path)
    assert result.num_windows == len(spans) == 4
    expected = float(out.bonafide_score.mean())
    assert result.bonafide_score == pytest.approx(expected, abs=1e-5)
    label = int(out.log_probs.mean(dim=0).argmax())
    assert result.label_index == label


def test_batching_does_not_change_scores(detector, tmp_path):
    """Windows of files of different lengths, padded into shared batches,
    score as they do one at a time."""
    paths = [
        _write(tmp_path / f"{i}.wav", _signal(s, RATE, seed=i), RATE)
        for i, s in enumerate([0.3, 1.7, 0.9, 2.2])
    ]
    one = detector.score_files(paths, batch_size=1)
    many = detector.score_files(paths, batch_size=5)
    for a, b in zip(one, many):
        assert a.bonafide_score == pytest.approx(b.bonafide_score, abs=1e-5)
        assert a.label == b.label and a.num_windows == b.num_windows


def test_score_list_to_file_from_a_list(model_dir, tmp_path):
    """A file list gives a 2-column score file keyed by file name."""
    folder = tmp_path / "audio"
    folder.mkdir()
    for name in ("LA_E_1", "LA_E_2"):
        _write(folder / f"{name}.flac", _signal(0.4, RATE), RATE)
    listing = tmp_path / "list.txt"
    listing.write_text("# files\naudio/LA_E_1.flac\n\naudio/LA_E_2.flac\n")
    out = tmp_path / "scores" / "cm.txt"
    assert score_list_to_file(model_dir, listing, out, progress=False) == 2
    scores = read_cm_scores(out)
    assert sorted(scores) == ["LA_E_1", "LA_E_2"]
    assert len(out.read_text().split("\n")[0].split()) == 2


def test_score_list_to_file_from_a_protocol(model_dir, tmp_path):
    """A CM protocol with an audio folder gives a 4-column score file."""
    for name in ("LA_E_1", "LA_E_2"):
        _write(tmp_path / f"{name}.flac", _signal(0.4, RATE), RATE)
    protocol = tmp_path / "protocol.txt"
    protocol.write_text(
        "LA_0001 LA_E_1 - - bonafide\nLA_0001 LA_E_2 - A07 spoof\n"
    )
    out = tmp_path / "cm.txt"
    score_list_to_file(
        model_dir, protocol, out, audio_dir=tmp_path, progress=False
    )
    lines = [line.split() for line in out.read_text().splitlines()]
    assert [line[:3] for line in lines] == [
        ["LA_E_1", "-", "bonafide"],
        ["LA_E_2", "A07", "spoof"],
    ]


def test_score_list_to_file_from_a_trial_list(model_dir, tmp_path):
    """A one-column trial list (2021 style, no keys) with an audio folder
    gives a 2-column score file in the list's order."""
    for name in ("LA_E_2", "LA_E_1"):
        _write(tmp_path / f"{name}.flac", _signal(0.4, RATE), RATE)
    trials = tmp_path / "ASVspoof2021.LA.cm.eval.trl.txt"
    trials.write_text("LA_E_2\nLA_E_1\n")
    out = tmp_path / "cm.txt"
    assert (
        score_list_to_file(
            model_dir, trials, out, audio_dir=tmp_path, progress=False
        )
        == 2
    )
    lines = [line.split() for line in out.read_text().splitlines()]
    assert [len(line) for line in lines] == [2, 2]
    assert sorted(line[0] for line in lines) == ["LA_E_1", "LA_E_2"]


def test_score_list_with_missing_files_writes_nothing(model_dir, tmp_path):
    """Missing files are reported before scoring; no score file appears."""
    listing = tmp_path / "list.txt"
    listing.write_text("a.flac\nb.flac\n")
    out = tmp_path / "cm.txt"
    with pytest.raises(AudioInputError, match="2 of the 2 files"):
        score_list_to_file(model_dir, listing, out, progress=False)
    assert not out.exists()


def test_score_list_with_a_bad_file_writes_nothing(model_dir, tmp_path):
    """A file that cannot be scored stops the run before any writing."""
    _write(tmp_path / "good.wav", _signal(0.4, RATE), RATE)
    (tmp_path / "bad.wav").write_bytes(b"")
    listing = tmp_path / "list.txt"
    listing.write_text("good.wav\nbad.wav\n")
    out = tmp_path / "cm.txt"
    with pytest.raises(AudioInputError, match="empty file"):
        score_list_to_file(model_dir, listing, out, progress=False)
    assert not out.exists()


def test_unknown_backend_is_refused(model_dir):
    """Only the torch and onnx backends exist."""
    with pytest.raises(ValueError, match="backend must be one of"):
        SpoofDetector.from_hparams(model_dir, backend="tflite")


def test_onnx_backend_needs_the_onnx_file(model_dir):
    """The ONNX backend says how to make the missing file."""
    with pytest.raises(ModelFolderError, match="export_onnx"):
        SpoofDetector.from_hparams(model_dir, backend="onnx")


def test_calibrated_folder_gives_llr_posterior_and_decision(
    tmp_path, trained_model, write_stage_output, capsys
):
    """A stage's calibration.json travels into the model folder; files get
    the calibrated LLR, posterior and decision beside the raw score."""
    from speechbrain_asd.calibration import Calibration

    run = write_stage_output(tmp_path / "run", trained_model, TINY, CLASS_NAMES)
    calibration = Calibration(0.5, -1.0, 0.25, "bayes", 0.2, 0.9, 0.6)
    (run / "calibration.json").write_text(json.dumps(calibration.to_dict()))
    folder = export_model_folder(run, tmp_path / "model")
    assert json.loads((folder / "calibration.json").read_text()) == (
        calibration.to_dict()
    )
    assert "Calibration (fitted on the dev set)" in (
        (folder / "model_card.md").read_text()
    )
    wav = tmp_path / "a.wav"
    soundfile.write(
        wav, 0.1 * np.random.default_rng(0).standard_normal(8000), 16000
    )
    result = SpoofDetector.from_hparams(folder).classify_file(wav)
    llr = 0.5 * result.bonafide_score - 1.0
    assert result.llr == pytest.approx(llr)
    assert result.posterior == pytest.approx(1 / (1 + math.exp(-llr) / 4))
    assert result.decision == ("bonafide" if llr >= 0.25 else "spoof")
    assert main(["classify", "--model", str(folder), str(wav)]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[-3:] == ["LLR", "decision", "file"]
    assert row.split()[-3:] == [f"{llr:.4f}", result.decision, str(wav)]


def test_uncalibrated_folder_has_no_llr(detector, tmp_path):
    """Without calibration.json the calibrated fields stay None."""
    wav = tmp_path / "a.wav"
    soundfile.write(
        wav, 0.1 * np.random.default_rng(1).standard_normal(8000), 16000
    )
    result = detector.classify_file(wav)
    assert (result.llr, result.posterior, result.decision) == (None, None, None)


def test_tampered_calibration_is_refused(model_dir, tmp_path):
    """A calibration with a negative scale names the file; nothing loads."""
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    (copy / "calibration.json").write_text(
        json.dumps(
            {
                "scale": -1.0,
                "offset": 0.0,
                "threshold": 0.0,
                "rule": "bayes",
                "spoof_prior": 0.05,
                "dev_cllr_raw": 1.0,
                "dev_cllr": 1.0,
            }
        )
    )
    with pytest.raises(ModelFolderError, match="calibration.json.*scale"):
        SpoofDetector.from_hparams(copy)
