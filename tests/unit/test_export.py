"""Tests of speechbrain_asd.export: model folders from fake recipe output
folders, ONNX export, its parity with PyTorch and its int8 version.

Authors
 * speechbrain-asd developers
"""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.checkpoints import Checkpointer

import speechbrain_asd.export as export
import speechbrain_asd.onnx_export as onnx_export
import speechbrain_asd.quantization as quantization
from speechbrain_asd.audio import AudioInputError
from speechbrain_asd.checkpoints import CheckpointError
from speechbrain_asd.cli import main
from speechbrain_asd.export import export_model_folder
from speechbrain_asd.inference import SpoofDetector
from speechbrain_asd.lobes.complexity import count_parameters
from speechbrain_asd.lobes.resnet_se import ResNetSE
from speechbrain_asd.model_folder import INT8_ONNX_FILE, ExportError
from speechbrain_asd.onnx_export import export_onnx

CLASS_NAMES = ["bonafide", "A01", "A02", "A03", "A04", "A05", "A06", "adv"]
TINY = {"channels": [4, 8, 8, 8], "blocks": [1, 1, 1, 1], "emb_dim": 16}
RATE = 16000


def _model(seed, **overrides):
    """A tiny ResNetSE with seeded weights and non-default BatchNorm stats.

    Arguments
    ---------
    seed : int
        Seed of its weights.
    **overrides : dict
        Keyword arguments replacing TINY's.

    Returns
    -------
    ResNetSE
        In eval mode.
    """
    torch.manual_seed(seed)
    model = ResNetSE(**{**TINY, **overrides})
    with torch.no_grad():
        model.classifier.weight.mul_(20.0)
        model.train()
        model(torch.randn(3, 60, 40))
    return model.eval()


def write_recipe_output(folder, dev_eers, model_kwargs=None, intra=True):
    """Writes a fake recipe output folder: one checkpoint per dev EER.

    Arguments
    ---------
    folder : pathlib.Path
        The output folder.
    dev_eers : list of float
        dev_eer of each end-of-epoch checkpoint (model seeds 0, 1, ...).
    model_kwargs : dict, optional
        ResNetSE arguments; TINY by default.
    intra : bool
        Add an intra-epoch checkpoint (no dev_eer) of yet another model.

    Returns
    -------
    list of ResNetSE
        The model of each end-of-epoch checkpoint.
    """
    kwargs = model_kwargs or TINY
    models = []
    for epoch, dev_eer in enumerate(dev_eers):
        model = _model(epoch, **kwargs)
        Checkpointer(folder / "save", {"model": model}).save_checkpoint(
            meta={"dev_eer": dev_eer, "epoch": epoch}, name=f"epoch{epoch}"
        )
        models.append(model)
    if intra:
        Checkpointer(
            folder / "save", {"model": _model(99, **kwargs)}
        ).save_checkpoint(meta={"loss": 0.0}, name="intra", end_of_epoch=False)
    info = {
        "model_kwargs": kwargs,
        "class_names": CLASS_NAMES,
        "sample_rate": RATE,
        "name": "tiny",
        "metrics": {"dev_eer": min(dev_eers), "eval_eer": 0.25},
    }
    (folder / "model_info.json").write_text(json.dumps(info))
    return models


def _state(path):
    """Reads a state dict.

    Arguments
    ---------
    path : pathlib.Path
        The checkpoint.

    Returns
    -------
    dict
        Tensor by name.
    """
    return torch.load(path, weights_only=True)


def _same_state(first, second):
    """Whether two state dicts hold the same tensors.

    Arguments
    ---------
    first : dict
        A state dict.
    second : dict
        Another.

    Returns
    -------
    bool
        True when keys and values match.
    """
    return first.keys() == second.keys() and all(
        torch.equal(first[k], second[k]) for k in first
    )


def test_export_picks_the_lowest_dev_eer(tmp_path):
    """The checkpoint with the lowest dev EER is exported; intra-epoch
    checkpoints (no dev_eer) are ignored."""
    models = write_recipe_output(tmp_path / "run", [0.3, 0.1, 0.2])
    out = export_model_folder(tmp_path / "run", tmp_path / "model")
    assert sorted(p.name for p in out.iterdir()) == [
        "class_names.txt",
        "hyperparams.yaml",
        "model.ckpt",
        "model_card.json",
        "model_card.md",
    ]
    exported = _state(out / "model.ckpt")
    assert _same_state(exported, models[1].state_dict())
    card = json.loads((out / "model_card.json").read_text())
    assert card["checkpoint"]["meta"]["dev_eer"] == 0.1
    assert card["params"] == count_parameters(models[1]) > 0
    assert card["macs"] > 0
    assert card["metrics"] == {"dev_eer": 0.1, "eval_eer": 0.25}
    names = (out / "class_names.txt").read_text().split()
    assert names == CLASS_NAMES
    assert "| parameters |" in (out / "model_card.md").read_text()


def test_exported_hyperparams_are_complete(tmp_path):
    """hyperparams.yaml has no placeholder left and builds the model of
    model_info.json."""
    write_recipe_output(tmp_path / "run", [0.1], {**TINY, "sap_hidden": 8})
    out = export_model_folder(tmp_path / "run", tmp_path / "model")
    text = (out / "hyperparams.yaml").read_text()
    assert "!PLACEHOLDER" not in text
    hparams = load_hyperpyyaml(text)
    assert hparams["class_names"] == CLASS_NAMES
    assert hparams["sample_rate"] == RATE
    assert hparams["model"].pooling.hidden.out_features == 8
    assert hparams["model"].exits is None


def test_auxiliary_exits_are_dropped(tmp_path):
    """A self-distillation checkpoint exports without its exits."""
    kwargs = {**TINY, "aux_exits": True}
    models = write_recipe_output(tmp_path / "run", [0.1], kwargs)
    out = export_model_folder(tmp_path / "run", tmp_path / "model")
    exported = _state(out / "model.ckpt")
    assert not any(name.startswith("exits.") for name in exported)
    assert _same_state(exported, models[0].deployable_state_dict())


def test_no_checkpoint_with_dev_eer(tmp_path):
    """Only intra-epoch checkpoints: a clear error, no output."""
    write_recipe_output(tmp_path / "run", [0.1])
    for ckpt in (tmp_path / "run" / "save").glob("CKPT+epoch*"):
        meta = ckpt / "CKPT.yaml"
        meta.write_text(meta.read_text().replace("dev_eer", "dev_loss"))
    with pytest.raises(CheckpointError, match="no checkpoint with a finite"):
        export_model_folder(tmp_path / "run", tmp_path / "model")
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda i: i.pop("class_names"), "no 'class_names'"),
        (lambda i: i["model_kwargs"].update(depth=3), "does not take"),
        (lambda i: i.update(class_names=["a", "b"]), "8 classes"),
        (lambda i: i.update(sample_rate="16k"), "must be a int"),
    ],
)
def test_bad_model_info(tmp_path, change, match):
    """Inconsistent model_info.json is refused before anything is written."""
    write_recipe_output(tmp_path / "run", [0.1], intra=False)
    path = tmp_path / "run" / "model_info.json"
    info = json.loads(path.read_text())
    change(info)
    path.write_text(json.dumps(info))
    with pytest.raises(ExportError, match=match):
        export_model_folder(tmp_path / "run", tmp_path / "model")


def test_checkpoint_not_matching_model_info(tmp_path):
    """A checkpoint of another architecture is refused, naming the keys."""
    write_recipe_output(tmp_path / "run", [0.1], intra=False)
    path = tmp_path / "run" / "model_info.json"
    info = json.loads(path.read_text())
    info["model_kwargs"]["emb_dim"] = 32
    path.write_text(json.dumps(info))
    with pytest.raises(ValueError, match="wrong shape.*embedding.weight"):
        export_model_folder(tmp_path / "run", tmp_path / "model")


def test_failure_mid_way_leaves_nothing(tmp_path, monkeypatch):
    """An error after the files are written leaves no out_dir and no
    temporary folder."""
    write_recipe_output(tmp_path / "run", [0.1], intra=False)

    def broken(folder):
        """Fails like a broken model folder."""
        raise ExportError("simulated failure")

    monkeypatch.setattr(export, "_check_model_folder_runs", broken)
    out = tmp_path / "models" / "cm"
    with pytest.raises(ExportError, match="simulated"):
        export_model_folder(tmp_path / "run", out)
    assert list((tmp_path / "models").iterdir()) == []


def test_existing_folder_rules(tmp_path):
    """Same export again: left as is; a different one needs overwrite."""
    write_recipe_output(tmp_path / "a", [0.1], intra=False)
    write_recipe_output(tmp_path / "b", [0.4, 0.2], intra=False)
    out = tmp_path / "model"
    export_model_folder(tmp_path / "a", out)
    before = (out / "model.ckpt").read_bytes()
    export_model_folder(tmp_path / "a", out)
    assert (out / "model.ckpt").read_bytes() == before
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_model_folder(tmp_path / "b", out)
    assert (out / "model.ckpt").read_bytes() == before
    export_model_folder(tmp_path / "b", out, overwrite=True)
    assert (out / "model.ckpt").read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "model"]


@pytest.fixture(scope="module")
def onnx_model_dir(tmp_path_factory):
    """A model folder with model.onnx and model.int8.onnx.

    Returns
    -------
    pathlib.Path
        The model folder.
    """
    root = tmp_path_factory.mktemp("onnx")
    write_recipe_output(root / "run", [0.1], intra=False)
    out = export_model_folder(root / "run", root / "model")
    export_onnx(out, quantize=True)
    return out


def _clips(folder, count=8):
    """Writes clips of various lengths and kinds (chirps, tones, noise).

    Arguments
    ---------
    folder : pathlib.Path
        Where to write them.
    count : int
        Number of clips.

    Returns
    -------
    list of str
        Their paths.
    """
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        seconds = 0.3 + 0.25 * index
        t = np.arange(round(seconds * RATE)) / RATE
        f0 = 100.0 * (index + 1)
        wav = 0.3 * np.sin(2 * np.pi * f0 * (1 + index * t) * t)
        wav += (0.01 + 0.04 * (index % 3)) * rng.standard_normal(t.size)
        path = folder / f"clip{index}.wav"
        soundfile.write(path, wav.astype("float32"), RATE, subtype="FLOAT")
        paths.append(str(path))
    return paths


def test_onnx_matches_pytorch(onnx_model_dir, tmp_path):
    """The ONNX backend scores files and padded batches like PyTorch."""
    paths = _clips(tmp_path)
    torch_detector = SpoofDetector.from_hparams(onnx_model_dir)
    onnx_detector = SpoofDetector.from_hparams(onnx_model_dir, backend="onnx")
    expected = torch_detector.score_files(paths, batch_size=3)
    got = onnx_detector.score_files(paths, batch_size=3)
    for a, b in zip(expected, got):
        assert b.bonafide_score == pytest.approx(a.bonafide_score, abs=1e-4)
        assert a.label == b.label
    wavs = torch.randn(3, 7000, generator=torch.Generator().manual_seed(0))
    lens = torch.tensor([1.0, 0.6, 0.25])
    torch.testing.assert_close(
        onnx_detector.classify_batch(wavs, lens).bonafide_score,
        torch_detector.classify_batch(wavs, lens).bonafide_score,
        atol=1e-4,
        rtol=0,
    )


def test_int8_model_runs_and_follows_fp32(onnx_model_dir, tmp_path):
    """The int8 model scores every clip, correlated with the fp32 model."""
    paths = _clips(tmp_path)
    fp32 = SpoofDetector.from_hparams(onnx_model_dir, backend="onnx")
    int8 = SpoofDetector.from_hparams(
        onnx_model_dir, backend="onnx", onnx_file=INT8_ONNX_FILE
    )
    a = [r.bonafide_score for r in fp32.score_files(paths)]
    b = [r.bonafide_score for r in int8.score_files(paths)]
    assert np.isfinite(b).all()
    assert np.std(a) > 0.1
    assert np.corrcoef(a, b)[0, 1] > 0.9
    assert (onnx_model_dir / INT8_ONNX_FILE).stat().st_size < (
        onnx_model_dir / "model.onnx"
    ).stat().st_size


def _op_types(path):
    """The operator types of an ONNX file.

    Arguments
    ---------
    path : pathlib.Path
        The ONNX file.

    Returns
    -------
    set of str
        Its nodes' op types.
    """
    import onnx

    return {node.op_type for node in onnx.load(str(path)).graph.node}


def _dft_basis_is_float(path):
    """Whether the features' DFT basis ([514, 1, 512]) is a float weight.

    Arguments
    ---------
    path : pathlib.Path
        The ONNX file.

    Returns
    -------
    bool
        True if a float32 initializer of that shape exists.
    """
    import onnx

    return any(
        list(init.dims) == [514, 1, 512]
        and init.data_type == onnx.TensorProto.FLOAT
        for init in onnx.load(str(path)).graph.initializer
    )


def test_dynamic_int8_quantises_on_the_fly(onnx_model_dir):
    """Dynamic quantisation: integer convolutions, float features."""
    ops = _op_types(onnx_model_dir / INT8_ONNX_FILE)
    assert {"ConvInteger", "DynamicQuantizeLinear"} <= ops
    assert "QuantizeLinear" not in ops
    assert _dft_basis_is_float(onnx_model_dir / INT8_ONNX_FILE)


def test_static_int8_is_calibrated_and_follows_fp32(onnx_model_dir, tmp_path):
    """Static quantisation on calibration files: quantise/dequantise pairs
    with stored ranges, float features, scores that follow fp32's."""
    paths = _clips(tmp_path)
    written = quantization.quantize_onnx(
        onnx_model_dir / "model.onnx",
        tmp_path / "static.int8.onnx",
        calibration=paths[:5],
        max_seconds=0.5,
    )
    ops = _op_types(written)
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert "ConvInteger" not in ops
    assert _dft_basis_is_float(written)
    (onnx_model_dir / "static.int8.onnx").write_bytes(written.read_bytes())
    fp32 = SpoofDetector.from_hparams(onnx_model_dir, backend="onnx")
    int8 = SpoofDetector.from_hparams(
        onnx_model_dir, backend="onnx", onnx_file="static.int8.onnx"
    )
    a = [r.bonafide_score for r in fp32.score_files(paths)]
    b = [r.bonafide_score for r in int8.score_files(paths)]
    assert np.isfinite(b).all()
    assert np.corrcoef(a, b)[0, 1] > 0.9


def test_calibration_files_are_checked(onnx_model_dir, tmp_path):
    """No files, a missing file, or a file that is not audio: clear errors
    naming it, and no int8 file written."""
    out = tmp_path / "bad.int8.onnx"
    source = onnx_model_dir / "model.onnx"
    with pytest.raises(ExportError, match="no calibration files"):
        quantization.quantize_onnx(source, out, calibration=[])
    with pytest.raises(AudioInputError, match="missing.wav"):
        quantization.quantize_onnx(
            source, out, calibration=[tmp_path / "missing.wav"]
        )
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with pytest.raises(AudioInputError, match="notes.wav"):
        quantization.quantize_onnx(source, out, calibration=[text])
    assert not out.exists()
    assert not list(tmp_path.glob(".onnx.*"))


def test_onnx_graph_has_dynamic_axes_and_features(onnx_model_dir):
    """Waveforms in (dynamic batch and time), logits out, the features
    inside as a convolution (no slow STFT operator)."""
    import onnx

    graph = onnx.load(str(onnx_model_dir / "model.onnx")).graph
    inputs = {
        i.name: [
            d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim
        ]
        for i in graph.input
    }
    assert list(inputs) == ["wavs", "lengths"]
    assert all(isinstance(d, str) for d in inputs["wavs"])
    assert inputs["lengths"][0] == inputs["wavs"][0]
    assert [o.name for o in graph.output] == ["logits"]
    assert "STFT" not in {node.op_type for node in graph.node}
    feature_ops = {
        node.op_type
        for node in graph.node
        if quantization._name_scopes(node)[1:2] == ["features"]
    }
    assert {"Conv", "MatMul", "Log"} <= feature_ops


def test_exportable_detector_equals_the_torch_backend(onnx_model_dir):
    """The exported module computes what SpoofDetector's torch path does."""
    detector = SpoofDetector.from_hparams(onnx_model_dir)
    graph = onnx_export.ExportableDetector(
        detector.mods.compute_features, detector.mods.model
    )
    wavs = torch.randn(2, 5000, generator=torch.Generator().manual_seed(2))
    lens = torch.tensor([1.0, 0.4])
    with torch.no_grad():
        expected = detector._logits(wavs, lens)
        torch.testing.assert_close(graph(wavs, lens), expected)


def test_cli_export_with_static_int8(tmp_path, capsys):
    """``export --int8 --calibration LIST`` writes the model folder, the
    float and the calibrated int8 ONNX files, and says where in JSON."""
    write_recipe_output(tmp_path / "run", [0.1], intra=False)
    clips = tmp_path / "clips"
    clips.mkdir()
    listing = tmp_path / "calibration.txt"
    listing.write_text(
        "".join(f"clips/{Path(p).name}\n" for p in _clips(clips, count=3))
    )
    argv = ["export", "--from", str(tmp_path / "run")]
    argv += ["--out", str(tmp_path / "model"), "--int8", "--json"]
    status = main(argv + ["--calibration", str(listing)])
    assert status == 0
    written = json.loads(capsys.readouterr().out)
    assert Path(written["int8"]) == tmp_path / "model" / INT8_ONNX_FILE
    assert "QuantizeLinear" in _op_types(Path(written["int8"]))
    assert Path(written["onnx"]).is_file()


def test_cli_calibration_needs_int8(tmp_path, capsys):
    """``--calibration`` without ``--int8`` is refused before any work."""
    status = main(
        ["export", "--from", str(tmp_path / "run"), "--out"]
        + [str(tmp_path / "model"), "--calibration", "list.txt"]
    )
    assert status == 2
    assert "--calibration is for --int8" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()
