"""The robustness evaluation of the recipe, end to end on tiny models.

``evaluate_robustness.py`` runs on a handful of generated 16-bit FLAC files
with their manifests and two tiny random countermeasures: one given as a
recipe stage folder (exported by the script), the other as a model folder,
scored only as the transfer target of the first.

Authors
 * speechbrain-asd developers
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "ASVspoof2019_LA"
sys.path.insert(0, str(RECIPE))

import evaluate_robustness  # noqa: E402
from evaluate_robustness import (  # noqa: E402
    check_comparisons,
    check_transfers,
    main,
)

from speechbrain_asd.data.asvspoof import (  # noqa: E402
    CLASS_NAMES,
    CM_HEADER,
    class_label,
)
from speechbrain_asd.export import export_model_folder  # noqa: E402
from speechbrain_asd.lobes.resnet_se import ResNetSE  # noqa: E402

pytestmark = pytest.mark.integration

RATE = 16000
TINY = {"channels": [4, 4, 8, 8], "blocks": [1, 1, 1, 1]}
SPLITS = {"dev": ("A01", "A02"), "eval": ("A07", "A08")}


def _manifests(root):
    """Writes dev and eval audio and manifests (3 bona fide, 3 per attack).

    Arguments
    ---------
    root : pathlib.Path
        The corpus folder (``$data_root``); manifests go to ``root/csv``.

    Returns
    -------
    pathlib.Path
        The manifest folder.
    """
    rng = np.random.default_rng(0)
    (root / "csv").mkdir(parents=True)
    for split, attacks in SPLITS.items():
        rows = []
        for system in ("bonafide", *attacks):
            for i in range(3):
                utt_id = f"{split}_{system}_{i}"
                length = 2400 + 800 * i
                audio = 0.1 * rng.standard_normal(length)
                sf.write(root / f"{utt_id}.flac", audio, RATE, subtype="PCM_16")
                key = "bonafide" if system == "bonafide" else "spoof"
                rows.append(
                    {
                        "ID": utt_id,
                        "duration": length / RATE,
                        "wav": f"$data_root/{utt_id}.flac",
                        "spk_id": f"spk{i}",
                        "system": system,
                        "key": key,
                        "label": class_label(system),
                    }
                )
        with open(root / "csv" / f"{split}.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CM_HEADER)
            writer.writeheader()
            writer.writerows(rows)
    return root / "csv"


def _stage(folder, seed, write_stage_output):
    """Writes a recipe stage folder holding a tiny random ResNetSE.

    Arguments
    ---------
    folder : pathlib.Path
        The stage folder.
    seed : int
        Seed of the weights.
    write_stage_output : callable
        The fixture of that name.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    torch.manual_seed(seed)
    return write_stage_output(
        folder,
        ResNetSE(**TINY),
        TINY,
        CLASS_NAMES,
        name=folder.name,
        dev_eer=0.5,
        metrics={},
    )


def test_white_box_and_transfer_tables(
    tmp_path, write_stage_output, recipe_device
):
    """Stage and model folders, every cell, budgets, files written."""
    manifests = _manifests(tmp_path / "corpus")
    teacher = _stage(tmp_path / "teacher", 0, write_stage_output)
    student = export_model_folder(
        _stage(tmp_path / "student_stage", 1, write_stage_output),
        tmp_path / "student",
    )
    out = tmp_path / "robustness"
    args = [
        f"--data_folder={tmp_path / 'corpus'}",
        f"--manifest_folder={manifests}",
        f"--output_folder={out}",
        f"--model=teacher={teacher}",
        f"--target=student={student}",
        "--transfer=teacher=student",
        "--budgets",
        "0",
        "8",
        "32",
        "--iterations=2",
        "--max_spoofs_per_attack=2",
        "--max_duration=0.2",
        "--noprogressbar",
        f"--device={recipe_device}",
    ]
    assert main(args) == 0
    report = json.loads((out / "robustness.json").read_text())
    assert report["config"]["budgets"] == [0, 8, 32]
    assert report["config"]["budget_units"] == "int16"
    assert report["trials"] == {
        "dev": 9,
        "eval_bonafide": 3,
        "eval_spoof": 4,
        "eval_spoof_per_attack": {"A07": 2, "A08": 2},
    }
    models = report["models"]
    assert models["teacher"]["attacked"] and not models["student"]["attacked"]
    assert models["teacher"]["model_folder"] == str(out / "models" / "teacher")
    assert models["student"]["model_folder"] == str(student.resolve())
    assert "attack_seconds" in models["teacher"]
    for entry in models.values():
        assert 0 <= entry["dev_eer"] <= 1
        assert 0 <= entry["eval_bonafide_rejection"] <= 1
    cells = {
        (r["crafted_on"], r["scored_by"], r["budget"]): r
        for r in report["results"]
    }
    assert sorted(cells) == sorted(
        (source, scorer, budget)
        for source, scorer in (("teacher", "teacher"), ("teacher", "student"))
        for budget in (0, 8, 32)
    )
    for (source, scorer, _), result in cells.items():
        assert result["transfer"] == (source != scorer)
        assert 0 <= result["eer"] <= 1
        for metric in ("eer", "spoof_acceptance"):
            for design in ("trial", "speaker"):
                low, high = result["intervals"][metric][design]
                assert low <= result[metric] <= high
        assert sorted(result["spoof_acceptance_per_attack"]) == ["A07", "A08"]
        assert np.mean(
            list(result["spoof_acceptance_per_attack"].values())
        ) == pytest.approx(result["spoof_acceptance"])
    for budget in (8, 32):
        attacked = cells[("teacher", "teacher", budget)]
        clean = cells[("teacher", "teacher", 0)]
        assert attacked["mean_spoof_score"] > clean["mean_spoof_score"]
        assert attacked["spoof_acceptance"] >= clean["spoof_acceptance"]
    table = (out / "robustness.md").read_text()
    assert "| crafted on -> scored by | 0 | 8 | 32 |" in table
    assert "| teacher |" in table and "| teacher -> student |" in table


def test_comparisons_name_two_attacked_models():
    """A=B needs two different --model names; anything else is refused."""
    models = {"t": "a", "s": "b"}
    assert check_comparisons(["t=s", "s=t"], models) == [("t", "s"), ("s", "t")]
    for bad in ("t", "t=t", "t=x", "=s"):
        with pytest.raises(ValueError, match=f"--compare {bad}: A=B"):
            check_comparisons([bad], models)


def test_transfer_pairs_are_checked():
    """Transfers name an attacked source and another known target."""
    models, targets = {"t": "a", "s": "b"}, {"x": "c"}
    pairs = check_transfers(["t=s", "t=x"], models, targets)
    assert pairs == [("t", "s"), ("t", "x")]
    with pytest.raises(ValueError, match="SOURCE must be a --model"):
        check_transfers(["x=t"], models, targets)
    with pytest.raises(ValueError, match="TARGET must be another"):
        check_transfers(["t=t"], models, targets)
    with pytest.raises(ValueError, match="in no --transfer"):
        check_transfers([], models, targets)
    with pytest.raises(ValueError, match="both --model and --target"):
        check_transfers([], models, {"t": "d"})


def test_a_rerun_reuses_the_attacks_that_still_match(
    tmp_path, write_stage_output, monkeypatch
):
    """Saved attack scores are reused for the same checkpoints and flags."""
    manifests = _manifests(tmp_path / "corpus")
    teacher = _stage(tmp_path / "teacher", 0, write_stage_output)
    student = _stage(tmp_path / "student", 1, write_stage_output)
    out = tmp_path / "robustness"
    args = [
        f"--data_folder={tmp_path / 'corpus'}",
        f"--manifest_folder={manifests}",
        f"--output_folder={out}",
        f"--model=teacher={teacher}",
        f"--model=student={student}",
        "--compare=teacher=student",
        "--budgets",
        "0",
        "16",
        "--iterations=2",
        "--max_spoofs_per_attack=2",
        "--max_duration=0.2",
        "--noprogressbar",
    ]
    assert main(args) == 0
    first = json.loads((out / "robustness.json").read_text())
    assert [(c["a"], c["b"], c["budget"]) for c in first["comparisons"]] == [
        ("teacher", "student", 0),
        ("teacher", "student", 16),
    ]
    white_box = {
        (r["scored_by"], r["budget"]): r
        for r in first["results"]
        if not r["transfer"]
    }
    for comparison in first["comparisons"]:
        budget = comparison["budget"]
        accepted = comparison["spoof_acceptance"]
        assert (
            accepted["a"] == white_box[("teacher", budget)]["spoof_acceptance"]
        )
        assert (
            accepted["b"] == white_box[("student", budget)]["spoof_acceptance"]
        )
        assert accepted["difference"] == pytest.approx(
            accepted["b"] - accepted["a"]
        )
        low, high = comparison["eer"]["trial"]["interval"]
        assert low <= comparison["eer"]["difference"] <= high
    assert (
        "| student vs teacher | 16 | 1986 |"
        in (out / "robustness.md").read_text()
    )
    attacked = []
    compute = evaluate_robustness.score_under_attack

    def recording(scorers, rows, budgets, **options):
        """Records which model is attacked, then computes as the script."""
        attacked.append(options.get("attacked"))
        return compute(scorers, rows, budgets, **options)

    monkeypatch.setattr(evaluate_robustness, "score_under_attack", recording)
    assert main(args) == 0
    second = json.loads((out / "robustness.json").read_text())
    assert attacked == [None, None]  # dev and bona fide, clean only
    assert second["results"] == first["results"]
    for name in ("teacher", "student"):
        assert (
            second["models"][name]["attack_seconds"]
            == first["models"][name]["attack_seconds"]
        )
    # A retrained student, a corrupt save and a new flag: attacked again.
    _stage(tmp_path / "student", 2, write_stage_output)
    attacked.clear()
    assert main(args) == 0
    assert attacked == [None, None, "student"]
    (out / "attacked" / "teacher.json").write_text("{not json")
    attacked.clear()
    assert main(args) == 0
    assert attacked == [None, None, "teacher"]
    attacked.clear()
    assert main([*args, "--iterations=3"]) == 0
    assert attacked == [None, None, "teacher", "student"]
