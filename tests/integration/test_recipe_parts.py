"""Fast checks of the pieces of the ASVspoof 2019 LA recipe.

The recipe-local modules (``asvspoof_dataio``, ``asvspoof_stages``,
``cm_scoring``) and the ASV scoring functions (``asv_scoring.py``), on tiny
inputs: subsets, crops, the adversarial slot names against what
``generate_adversarial_set`` writes, strict model loading, checkpoint
selection, ASV and CM scoring; and the pipeline runner outside the recipe
(``pipelines/run_pipeline.py``, ``pipeline_report.py``): job chaining,
time estimates and its tables.

Authors
 * speechbrain-asd developers
"""

import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from speechbrain.utils.checkpoints import Checkpointer

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "ASVspoof2019_LA"
PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
sys.path.insert(0, str(RECIPE))
sys.path.insert(0, str(PIPELINES))

from asv_scoring import asv_trial_scores, speaker_eer  # noqa: E402
from asvspoof_dataio import (  # noqa: E402
    crop_signal,
    select_subset,
)
from cm_scoring import (  # noqa: E402
    cm_intervals,
    cm_results,
    write_score_file,
)

from speechbrain_asd.checkpoints import (  # noqa: E402
    CheckpointError,
    best_checkpoint,
    drop_incomplete_checkpoints,
    load_checkpoint,
)
from speechbrain_asd.data.active_aeg import ActiveAEG  # noqa: E402
from speechbrain_asd.data.adversarial import (  # noqa: E402
    make_same_speaker_pairs,
)
from speechbrain_asd.lobes.resnet_se import ResNetSE  # noqa: E402
from speechbrain_asd.metrics import compute_eer  # noqa: E402

TINY = {"channels": (4, 4, 8, 8), "blocks": (1, 1, 1, 1)}


def _fake_teacher_stage(monkeypatch, folder, code):
    """Makes the runner's teacher stage a script of the given code, which
    ends a job by writing ``done.txt`` in its output folder."""
    import run_pipeline

    fake_stage = folder / "fake_stage.py"
    fake_stage.write_text(code)
    monkeypatch.setattr(
        run_pipeline, "STAGES", {"teacher": (str(fake_stage), "h", "done.txt")}
    )
    monkeypatch.setattr(run_pipeline, "yaml_keys", lambda path: set())


def _run_seed_1(plan, out, data_folder, workers):
    """Runs a plan for seed 1, in turn (one worker) or with ``--jobs``."""
    import run_pipeline

    if workers == 1:
        run_pipeline.run_seed(plan, 1, out, data_folder, lambda: None)
    else:
        run_pipeline.run_parallel(plan, [1], out, data_folder, workers)


def test_select_subset_is_proportional_and_deterministic():
    """Groups keep shares of the subset in proportion to their sizes."""
    rows = {
        f"u{i}": {"system": "A01" if i < 30 else "bonafide"} for i in range(40)
    }
    kept = select_subset(rows, 8, "system", seed=3)
    systems = [row["system"] for row in kept.values()]
    assert systems.count("A01") == 6 and systems.count("bonafide") == 2
    assert kept == select_subset(rows, 8, "system", seed=3)
    assert select_subset(rows, None, "system", 0) is rows
    assert len(select_subset(rows, 1, "system", 0)) == 1
    with pytest.raises(ValueError, match="max_items"):
        select_subset(rows, 0, "system", 0)


def test_crop_signal_repeats_only_in_training():
    """Training crops fill short signals; dev/eval reads never repeat."""
    signal = torch.arange(5.0)
    assert crop_signal(signal, 12, True, True).tolist()[:7] == [
        0,
        1,
        2,
        3,
        4,
        0,
        1,
    ]
    assert crop_signal(signal, 12, False, False).tolist() == signal.tolist()
    assert crop_signal(signal, 3, False, False).tolist() == [0, 1, 2]
    starts = {int(crop_signal(signal, 3, True, True)[0]) for _ in range(50)}
    assert starts <= {0, 1, 2} and len(starts) > 1


def test_slots_name_the_files_that_generate_adversarial_set_writes(tmp_path):
    """Active AEG's slot rows match the IDs and paths of the kept examples."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(4):
        path = tmp_path / f"u{i}.flac"
        sf.write(path, 0.1 * rng.standard_normal(1600), 16000)
        rows.append(
            {
                "ID": f"u{i}",
                "wav": str(path),
                "duration": 0.1,
                "spk_id": f"s{i % 2}",
                "key": "bonafide",
            }
        )
    pairs = make_same_speaker_pairs(rows, 3, seed=0)
    out = tmp_path / "adv"
    aeg = ActiveAEG(pairs, out, n_fixed=len(rows), options={"threshold": 2.0})
    net = torch.nn.Conv1d(1, 4, 160, stride=80)

    def embed(wavs, lens):
        """Mean-pooled convolution of the waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, shape [batch, samples].
        lens : torch.Tensor
            Relative lengths, shape [batch] (unused).

        Returns
        -------
        torch.Tensor
            Shape [batch, 4].
        """
        return net(wavs.unsqueeze(1)).mean(-1)

    aeg.refresh(1, embed, net)
    assert aeg.sampler.prepared_for(1)
    assert sorted(aeg.sampler.active) == sorted(aeg.slot_rows)
    assert all(Path(aeg.slot_rows[i]["wav"]).is_file() for i in aeg.slot_rows)
    aeg.refresh(1, embed, None)  # this epoch's set exists: nothing runs


def test_strict_loading_and_checkpoint_selection(tmp_path):
    """Best checkpoint by key (intra-epoch ones ignored), strict loading."""
    model = ResNetSE(**TINY)
    checkpointer = Checkpointer(tmp_path, recoverables={"model": model})
    checkpointer.save_checkpoint(meta={"dev_eer": 0.3})
    checkpointer.save_checkpoint(meta={"dev_eer": 0.1})
    checkpointer.save_checkpoint(end_of_epoch=False)
    best = best_checkpoint(tmp_path, "dev_eer")
    assert best.meta["dev_eer"] == 0.1
    path = best.paramfiles["model"]
    with_exits = ResNetSE(**TINY, aux_exits=True)
    load_checkpoint(with_exits, path, allow_missing_prefix="exits.")
    assert torch.equal(with_exits.classifier.weight, model.classifier.weight)
    with pytest.raises(CheckpointError, match="does not fit the model"):
        load_checkpoint(with_exits, path)
    with pytest.raises(CheckpointError, match="does not fit the model"):
        load_checkpoint(ResNetSE(**TINY, n_classes=2), path)
    with pytest.raises(CheckpointError, match="run that stage"):
        best_checkpoint(tmp_path / "missing", "dev_eer")


def test_asv_scores_are_cosines_to_enrolment_centroids():
    """Trials score the cosine to the claimed speaker's centroid."""
    embeddings = {
        "e1": torch.tensor([1.0, 0.0]),
        "e2": torch.tensor([0.0, 2.0]),
        "t1": torch.tensor([1.0, 0.0]),
        "t2": torch.tensor([0.0, 1.0]),
    }
    enrol = {"e1": {"spk_id": "A"}, "e2": {"spk_id": "B"}}
    trials = {
        "A_t1": {
            "trial": "t1",
            "spk_id": "A",
            "system": "bonafide",
            "key": "target",
        },
        "B_t1": {
            "trial": "t1",
            "spk_id": "B",
            "system": "bonafide",
            "key": "nontarget",
        },
        "B_t2": {"trial": "t2", "spk_id": "B", "system": "A01", "key": "spoof"},
    }
    scored = asv_trial_scores(embeddings, enrol, trials)
    assert scored == [
        ("bonafide", "target", 1.0),
        ("bonafide", "nontarget", 0.0),
        ("A01", "spoof", 1.0),
    ]
    assert speaker_eer(scored) == 0.0


def test_cm_results_split_seen_and_unseen_attacks(tmp_path):
    """EER pooled and on seen/unseen attacks; the score file has 4 columns."""
    rows = {
        "b1": {"spk_id": "S", "system": "bonafide", "key": "bonafide"},
        "b2": {"spk_id": "S", "system": "bonafide", "key": "bonafide"},
        "s1": {"spk_id": "S", "system": "A01", "key": "spoof"},
        "s2": {"spk_id": "S", "system": "A07", "key": "spoof"},
    }
    scores = {"b1": 2.0, "b2": 1.0, "s1": -1.0, "s2": 1.5}
    results = cm_results(scores, rows)
    assert results["eer_seen"] == 0.0
    assert results["eer_unseen"] == compute_eer([2.0, 1.0], [1.5])[0]
    assert results["eer"] == compute_eer([2.0, 1.0], [-1.0, 1.5])[0]
    assert results["min_tdcf_2021"] is None
    path = tmp_path / "scores.txt"
    write_score_file(path, scores, rows)
    assert path.read_text().splitlines()[:3] == [
        "b1 - bonafide 2.0",
        "b2 - bonafide 1.0",
        "s1 A01 spoof -1.0",
    ]
    with pytest.raises(ValueError, match="unscored"):
        cm_results({"b1": 1.0}, rows)
    intervals = cm_intervals(scores, rows, n_resamples=50)
    assert sorted(intervals) == ["eer", "eer_seen"]
    assert intervals["eer"]["value"] == results["eer"]
    assert intervals["eer_seen"]["value"] == 0.0
    low, high = intervals["eer"]["trial"]
    assert low <= results["eer"] <= high
    # One speaker per class: the speaker design cannot vary anything.
    assert intervals["eer"]["speaker"] == [results["eer"]] * 2


def test_half_written_checkpoints_are_dropped(tmp_path):
    """Newest checkpoints cut short by a kill go; the last whole one stays."""
    model = ResNetSE(**TINY)
    counter = torch.nn.Linear(2, 2)
    checkpointer = Checkpointer(
        tmp_path, recoverables={"model": model, "other": counter}
    )
    whole = checkpointer.save_checkpoint(meta={"dev_eer": 0.2})
    truncated = checkpointer.save_checkpoint(end_of_epoch=False)
    missing = checkpointer.save_checkpoint(end_of_epoch=False)
    data = (truncated.path / "model.ckpt").read_bytes()
    (truncated.path / "model.ckpt").write_bytes(data[: len(data) // 2])
    (missing.path / "other.ckpt").unlink()
    drop_incomplete_checkpoints(checkpointer)
    assert [c.path for c in checkpointer.list_checkpoints()] == [whole.path]
    drop_incomplete_checkpoints(checkpointer)
    assert checkpointer.recover_if_possible().path == whole.path


def test_pipeline_plans_chain_jobs_and_filter_common_flags(tmp_path):
    """Jobs get their predecessors' outputs; common flags only where known."""
    from pipeline_report import markdown_table
    from run_pipeline import format_value, job_flags, load_plan

    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(
        "name: t\n"
        "corpus: {folder: c}\n"
        "flags: {train_crop: 1.0, model_blocks: [1, 1, 1, 1]}\n"
        "stage_flags: {student: {kd_loss: null}}\n"
        "jobs:\n"
        "  - {name: g, stage: ge2e}\n"
        "  - {name: a, stage: aeg}\n"
        "  - {name: t, stage: teacher}\n"
        "  - {name: s, stage: student, teacher: t, flags: {aeg: none}}\n"
        "report: [t, s]\n"
    )
    plan = load_plan(plan_path)
    assert plan["export"] == []
    folders = {job["name"]: tmp_path / job["name"] for job in plan["jobs"]}
    aeg = job_flags(plan, plan["jobs"][1], folders, tmp_path, 3)
    assert "train_crop" not in aeg and aeg["ge2e_folder"] == str(folders["g"])
    student = job_flags(plan, plan["jobs"][3], folders, tmp_path, 3)
    assert student["teacher_folder"] == str(folders["t"])
    assert student["kd_loss"] is None and student["aeg"] == "none"
    assert student["asv_scores_eval"].startswith(str(folders["g"]))
    assert format_value([1, 1]) == "[1,1]" and format_value(None) == "null"
    entry = {
        "name": "s",
        "seed": 1,
        "params": 1.44e6,
        "macs": 0.9e9,
        "aeg": "static",
        "kd": "hinton",
        "dev_eer": 0.1,
        "eval_eer": 0.2,
        "eval_eer_seen": 0.05,
        "eval_eer_unseen": None,
        "min_tdcf_2019": 0.3,
        "min_tdcf_2021": 0.4,
    }
    table = markdown_table([entry, {**entry, "seed": 2, "eval_eer": 0.4}])
    assert (
        "| s | 1.44 M | 0.90 G | static | hinton | 2 | 10.00 +- 0.00 |" in table
    )
    assert "30.00 +- 14.14" in table
    one_seed = markdown_table(
        [
            {
                **entry,
                "intervals": {"eer": {"trial": [0.1, 0.3], "speaker": None}},
            }
        ]
    )
    assert "| 20.00 | [10.00, 30.00] | - | 5.00 |" in one_seed
    plan_path.write_text("name: t\ncorpus: {}\njobs: [{name: x}]\nreport: []\n")
    with pytest.raises(ValueError, match="stage"):
        load_plan(plan_path)
    plan_path.write_text(
        "name: t\ncorpus: {}\njobs: [{name: x, stage: ge2e}]\n"
        "report: []\nexport: [x]\n"
    )
    with pytest.raises(ValueError, match="export names unreported"):
        load_plan(plan_path)
    plan_path.write_text(
        "name: t\ncorpus: {}\njobs: [{name: x, stage: ge2e, seeds: 1}]\n"
        "report: []\n"
    )
    with pytest.raises(ValueError, match="job x has seeds 1, expected a"):
        load_plan(plan_path)


def test_pipeline_runs_jobs_in_parallel_after_their_needs(
    tmp_path, monkeypatch
):
    """--jobs runs each job once the jobs it reads are done, with --device."""
    import run_pipeline
    from run_pipeline import job_flags, run_parallel

    fake_stage = tmp_path / "fake_stage.py"
    fake_stage.write_text(
        "import json, pathlib, sys\n"
        "flags = dict(a[2:].split('=', 1) for a in sys.argv[2:])\n"
        "out = pathlib.Path(flags['output_folder'])\n"
        "out.mkdir(parents=True, exist_ok=True)\n"
        "with open(out.parent.parent / 'order.txt', 'a') as f:\n"
        "    f.write(out.parent.name + '/' + out.name + '\\n')\n"
        "(out / 'flags.json').write_text(json.dumps(flags))\n"
        "(out / 'done.txt').touch()\n"
    )
    stages = {
        stage: (str(fake_stage), "h.yaml", "done.txt")
        for stage in ("ge2e", "aeg", "teacher", "student")
    }
    monkeypatch.setattr(run_pipeline, "STAGES", stages)
    monkeypatch.setattr(run_pipeline, "yaml_keys", lambda path: set())
    plan = {
        "name": "p",
        "corpus": {"folder": "c"},
        "flags": {},
        "stage_flags": {},
        "jobs": [
            {"name": "g", "stage": "ge2e"},
            {"name": "a", "stage": "aeg"},
            {"name": "t1", "stage": "teacher"},
            {"name": "t2", "stage": "teacher", "flags": {"ge2e_init": False}},
            {"name": "s", "stage": "student", "teacher": "t1"},
        ],
    }
    out = tmp_path / "results" / "p"
    run_parallel(plan, [1, 2], out, tmp_path, 3, device="cuda")
    order = (out / "order.txt").read_text().split()
    assert sorted(order) == sorted(
        f"seed{seed}/{name}"
        for seed in (1, 2)
        for name in "g a t1 t2 s".split()
    )
    for seed in (1, 2):
        position = {
            name: order.index(f"seed{seed}/{name}")
            for name in ("g", "a", "t1", "s")
        }
        assert position["g"] < position["a"] < position["t1"] < position["s"]
        flags = (out / f"seed{seed}" / "s" / "flags.json").read_text()
        assert '"device": "cuda"' in flags
    timings = run_pipeline.load_timings(out / "timings.json")
    assert sorted(timings["s"]) == ["1", "2"]
    folders = run_pipeline.seed_folders(plan, out, 1)
    flags = job_flags(plan, plan["jobs"][4], folders, tmp_path, 1)
    assert "device" not in flags
    assert run_pipeline.job_needs(folders, plan["jobs"][4], flags) == {
        "g",
        "a",
        "t1",
    }
    (out / "seed1" / "s" / "done.txt").unlink()
    stages["student"] = (str(tmp_path / "missing.py"), "h.yaml", "done.txt")
    with pytest.raises(RuntimeError, match=r"s \(seed 1\): failed, see"):
        run_parallel(plan, [1, 2], out, tmp_path, 2)


def test_pipeline_job_limited_to_seeds_is_pending_only_for_them(tmp_path):
    """A job with ``seeds`` runs (and counts as left) for those seeds only."""
    from run_pipeline import pending_jobs

    plan = {
        "jobs": [
            {"name": "g", "stage": "ge2e"},
            {"name": "sweep", "stage": "student", "seeds": [1]},
        ]
    }
    pending = [
        (seed, job["name"])
        for seed, job in pending_jobs(plan, [1, 2], tmp_path)
    ]
    assert pending == [(1, "g"), (1, "sweep"), (2, "g")]


def test_pipeline_estimates_time_left_from_measured_jobs(tmp_path):
    """Measured jobs first, then their stage, then the plan's guess."""
    from run_pipeline import (
        estimate_seconds,
        load_timings,
        progress_line,
        record_timing,
        time_left,
    )

    plan = {
        "jobs": [
            {"name": "g", "stage": "ge2e"},
            {"name": "t1", "stage": "teacher"},
            {"name": "t2", "stage": "teacher"},
            {"name": "s", "stage": "student"},
        ],
        "expected_minutes": {"ge2e": 2},
    }
    path = tmp_path / "timings.json"
    timings = load_timings(path)
    assert timings == {}
    g, t1, t2, s = plan["jobs"]
    assert estimate_seconds(plan, g, timings) == 120.0
    assert estimate_seconds(plan, t2, timings) is None
    record_timing(path, "t1", 1, 300.0)
    record_timing(path, "t1", 2, 500.0)
    timings = load_timings(path)
    assert timings == {"t1": {"1": 300.0, "2": 500.0}}
    assert estimate_seconds(plan, t1, timings) == 400.0
    assert estimate_seconds(plan, t2, timings) == 400.0
    assert time_left(plan, [g, t2, s], timings) == (
        "about 9 min left (+1 jobs not yet timed)"
    )
    (tmp_path / "seed1" / "g" / "asv_scores").mkdir(parents=True)
    (tmp_path / "seed1" / "g" / "asv_scores" / "asv_scores.json").touch()
    line = progress_line(plan, [1], tmp_path, 4, 0.0)
    assert line.startswith("[2/4] t1 (teacher, seed 1): running;")
    assert line.endswith("about 13 min left (+1 jobs not yet timed)")


def test_pipeline_comparisons_pair_score_files_seed_by_seed(tmp_path):
    """A model that ranks every trial right beats one that ranks half."""
    from pipeline_report import write_comparisons

    rng = np.random.default_rng(0)
    protocol = tmp_path / "protocol.txt"
    lines, good, weak = [], [], []
    for index in range(200):
        key = "bonafide" if index < 60 else "spoof"
        attack = "-" if key == "bonafide" else f"A0{1 + index % 8}"
        trial = f"LA_E_{index:07d}"
        lines.append(f"LA_{index % 9:04d} {trial} - {attack} {key}")
        label = float(key == "bonafide")
        good.append(f"{trial} {label + rng.normal(0, 0.1)}")
        weak.append(f"{trial} {label + rng.normal(0, 1.0)}")
    protocol.write_text("\n".join(lines) + "\n")
    for seed in (1, 2):
        for name, scores in (("weak", weak), ("good", good)):
            folder = tmp_path / f"seed{seed}" / name
            folder.mkdir(parents=True)
            (folder / "scores.txt").write_text("\n".join(scores) + "\n")
            report = {"score_file": str(folder / "scores.txt")}
            (folder / "eval_report.json").write_text(json.dumps(report))
    plan = {
        "comparisons": [{"claim": "c", "a": "weak", "b": "good"}],
        "comparison_resamples": 200,
    }
    comparisons = write_comparisons(
        tmp_path,
        plan,
        [1, 2],
        lambda seed, name: tmp_path / f"seed{seed}" / name,
        protocol,
        lambda seed: None,
    )
    (item,) = comparisons
    assert item["verdict"] == "holds" and item["seeds"] == [1, 2]
    eer = item["results"][0]["eer"]
    assert eer["b"] == 0.0 and eer["difference"] == -eer["a"] < 0
    assert eer["trial"]["interval"][1] < 0 and eer["trial"]["sign_flip"] == 0
    assert item["results"][0]["min_tdcf_2021"] is None
    table = (tmp_path / "comparisons.md").read_text()
    # One row over the seeds (the two seeds' score files are the same, so
    # the t interval has no width), then one row per seed.
    assert table.count("holds") == 3
    assert item["over_seeds"]["mean"] == pytest.approx(eer["difference"])
    assert item["over_seeds"]["interval"] == pytest.approx(
        [eer["difference"]] * 2
    )
    difference = f"{100 * eer['difference']:+.2f}"
    assert f"| c | weak | good | 2 | {difference}, {difference} |" in table
    plan["comparisons"] = [{"claim": "c", "a": "good", "b": "weak"}]
    (reversed_item,) = write_comparisons(
        tmp_path,
        plan,
        [1],
        lambda seed, name: tmp_path / f"seed{seed}" / name,
        protocol,
        lambda seed: None,
    )
    assert reversed_item["verdict"] == "reversed"
    # A run still going: a claim uses only the seeds where both models are
    # done, and one with none is left out.
    (tmp_path / "seed2" / "good" / "eval_report.json").unlink()
    plan["comparisons"].append({"claim": "d", "a": "weak", "b": "missing"})
    (partial,) = write_comparisons(
        tmp_path,
        plan,
        [1, 2],
        lambda seed, name: tmp_path / f"seed{seed}" / name,
        protocol,
        lambda seed: None,
    )
    assert partial["claim"] == "c" and partial["seeds"] == [1]


def test_pipeline_robustness_job_gets_model_folders_and_options(tmp_path):
    """A robustness job attacks earlier jobs; its options are argparse's."""
    from run_pipeline import argparse_arguments, job_flags, load_plan

    plan_path = tmp_path / "plan.yaml"
    text = (
        "name: t\ncorpus: {folder: c}\n"
        "jobs:\n"
        "  - {name: t, stage: teacher}\n"
        "  - {name: s, stage: student, teacher: t}\n"
        "  - {name: r, stage: robustness, models: [t, s], transfer: [[t, s]],"
        " compare: [[t, s]], flags: {budgets: [0, 4], iterations: 2}}\n"
        "report: [t, s]\n"
    )
    plan_path.write_text(text)
    plan = load_plan(plan_path)
    folders = {job["name"]: tmp_path / job["name"] for job in plan["jobs"]}
    flags = job_flags(plan, plan["jobs"][2], folders, tmp_path / "c", 7)
    arguments = argparse_arguments(flags)
    assert arguments[arguments.index("--transfer") + 1] == "t=s"
    assert arguments[arguments.index("--compare") + 1] == "t=s"
    assert arguments.count("--model") == 2
    assert f"t={folders['t']}" in arguments
    budgets = arguments.index("--budgets")
    assert arguments[budgets : budgets + 3] == ["--budgets", "0", "4"]
    assert "--noprogressbar" in arguments and "--seed" in arguments
    assert flags["manifest_folder"] == str(folders["t"] / "manifests")
    plan_path.write_text(
        text.replace("transfer: [[t, s]]", "transfer: [[t, x]]")
    )
    with pytest.raises(ValueError, match="robustness job r"):
        load_plan(plan_path)
    plan_path.write_text(text.replace("compare: [[t, s]]", "compare: [[t, x]]"))
    with pytest.raises(ValueError, match="robustness job r"):
        load_plan(plan_path)


def test_pipeline_robustness_table_is_the_recipe_s_over_seeds(tmp_path):
    """The runner writes the recipe's robustness table, mean +- std."""
    from pipeline_report import write_robustness

    def report(eer, seed, high):
        """A robustness.json of one seed: one white-box row, one budget,
        one comparison whose acceptance interval ends at ``high``."""
        result = {"crafted_on": "t", "scored_by": "t", "budget": 4}
        paired = {
            "a": 0.5,
            "b": 0.25,
            "difference": -0.25,
            "trial": {"interval": [-0.4, high]},
            "speaker": {"interval": [-0.5, high]},
        }
        return {
            "config": {
                "budgets": [4],
                "iterations": 2,
                "step_ratio": 0.5,
                "seed": seed,
            },
            "trials": {"eval_spoof": 8, "eval_bonafide": 4, "dev": 6},
            "results": [{**result, "eer": eer, "spoof_acceptance": 0.5}],
            "comparisons": [
                {
                    "a": "t",
                    "b": "s",
                    "budget": 4,
                    "eer": paired,
                    "spoof_acceptance": paired,
                }
            ],
        }

    table = write_robustness(
        tmp_path, [report(0.1, 1, -0.1), report(0.3, 2, -0.05)]
    )
    assert (tmp_path / "robustness.md").read_text() == table
    assert "2 seed(s)" in table
    assert "| t | 20.00 +- 14.14 / 50.00 +- 0.00 |\n" in table
    rows = [line for line in table.splitlines() if line.startswith("| s vs t")]
    assert [row.split(" | ")[2] for row in rows] == ["1", "2"]
    assert all(row.endswith("| holds |") for row in rows)
    # Over the seeds: both differences -25 points, so the t interval is
    # [-25, -25].
    assert (
        "| fewer spoofs accepted, budget 4 | t | s | 2 | -25.00, -25.00 | "
        "-25.00 | [-25.00, -25.00] | holds |" in table
    )
    table = write_robustness(
        tmp_path, [report(0.1, 1, -0.1), report(0.3, 2, 0.05)]
    )
    assert table.rstrip().endswith("| not resolved |")


def test_ge2e_initialisation_keeps_cosines_at_a_fresh_scale(tmp_path):
    """The GE2E weights load; the embedding is rescaled to a fresh norm."""
    from speechbrain.utils.parameter_transfer import Pretrainer
    from train import initialise_from_ge2e, mean_embedding_norm

    from speechbrain_asd.features import LogMelFeatures

    features = LogMelFeatures(n_mels=40)
    torch.manual_seed(0)
    pretrained = ResNetSE(n_classes=8, **TINY)
    with torch.no_grad():
        pretrained.embedding.weight.mul_(8.0)
        pretrained.embedding.bias.mul_(8.0)
    # Running statistics far from the data's, as after a short GE2E run:
    # they change eval-mode embeddings, not those training sees.
    for module in pretrained.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_var.fill_(1e4)
    torch.save(pretrained.state_dict(), tmp_path / "model.ckpt")
    torch.manual_seed(1)
    model = ResNetSE(n_classes=8, **TINY)
    train_set = [{"sig": torch.randn(8000)} for _ in range(6)]
    feats, lens = features.with_frame_lengths(
        torch.stack([item["sig"] for item in train_set[:4]])
    )
    fresh = mean_embedding_norm(model, feats, lens)
    hparams = {
        "model": model,
        "compute_features": features,
        "batch_size": 4,
        "ge2e_pretrainer": Pretrainer(
            loadables={"model": model},
            paths={"model": str(tmp_path / "model.ckpt")},
            custom_hooks={"model": load_checkpoint},
        ),
    }
    initialise_from_ge2e(hparams, train_set)

    def train_mode_norm(module):
        """Mean embedding norm with batch statistics, computed directly."""
        replica = copy.deepcopy(module).train()
        with torch.no_grad():
            return replica.embed(feats, lens).norm(dim=1).mean().item()

    assert train_mode_norm(model) == pytest.approx(fresh)
    assert mean_embedding_norm(model, feats, lens) == pytest.approx(fresh)
    assert train_mode_norm(pretrained) == pytest.approx(8 * fresh, rel=0.2)
    # The GE2E running statistics load as they are; measuring leaves them.
    running = [
        m.running_var for m in model.modules() if hasattr(m, "running_var")
    ]
    assert running and all(bool((var == 1e4).all()) for var in running)
    model.eval()
    pretrained.eval()
    with torch.no_grad():
        cosine = torch.nn.functional.cosine_similarity(
            model.embed(feats, lens), pretrained.embed(feats, lens)
        )
    assert torch.allclose(cosine, torch.ones(4), atol=1e-5)
    assert torch.equal(model.classifier.weight, pretrained.classifier.weight)


def test_learning_rate_warms_up_linearly_then_stays():
    """lr / n, 2 lr / n, ..., lr over the first n optimiser steps."""
    from types import SimpleNamespace

    from train import CMBrain

    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    brain = SimpleNamespace(
        hparams=SimpleNamespace(lr_warmup_steps=4),
        optimizer=optimizer,
        lr=1e-3,
        optimizer_step=0,
    )
    rates = []
    for step in range(6):
        brain.optimizer_step = step
        CMBrain.on_fit_batch_start(brain, None, True)
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])


def test_pipeline_asv_plan_gives_table_5_rows_and_kd_rows(tmp_path):
    """The asv plan: GE2E, the seven ablation rows, KD from the full row."""
    import yaml
    from pipeline_report import seef_row
    from run_pipeline import STAGES, job_flags, load_plan

    plan = load_plan(PIPELINES / "overrides" / "asv.yaml")
    assert plan["name"] == "asv" and plan["report"] == []
    folders = {job["name"]: tmp_path / job["name"] for job in plan["jobs"]}

    class AnyTagLoader(yaml.SafeLoader):
        """Reads a recipe YAML's plain values; its tags give None."""

    AnyTagLoader.add_multi_constructor("!", lambda *args: None)
    defaults = {
        stage: yaml.load(
            (RECIPE / STAGES[stage][1]).read_text(), Loader=AnyTagLoader
        )
        for stage in ("seef", "speaker_kd")
    }
    rows, losses = [], []
    for job in plan["jobs"]:
        flags = job_flags(plan, job, folders, tmp_path / "c", 2)
        assert flags["output_folder"] == str(folders[job["name"]])
        assert flags["seed"] == 2 and flags["data_folder"] == str(
            tmp_path / "c"
        )
        if job["stage"] == "seef":
            assert flags["ge2e_folder"] == str(folders["ge2e"])
            assert flags["n_train_speakers"] == 9
            rows.append(seef_row({**defaults["seef"], **flags}))
        elif job["stage"] == "speaker_kd":
            assert flags["teacher_folder"] == str(folders["seef_full"])
            assert flags["teacher_blocks"] == flags["model_blocks"]
            assert "ge2e_folder" not in flags
            losses.append(flags["kd_loss"])
        else:
            assert job["stage"] == "ge2e" and "n_train_speakers" not in flags
    assert rows == [
        "E_p",
        "E_p + D_r",
        "E_e",
        "E_e without L_adv^s",
        "E_e without L_adv^e",
        "E_p + random vector + D_r",
        "E_p + E_e + D_r",
    ]
    names = ("hinton", "decoupled", "embedding_cosine", "embedding_mse")
    assert set(names) <= set(defaults["speaker_kd"]["kd_losses"])
    assert losses == [None] + [f"!ref <kd_losses[{name}]>" for name in names]
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(
        "name: t\ncorpus: {folder: c}\n"
        "jobs: [{name: g, stage: ge2e}, "
        "{name: k, stage: speaker_kd, teacher: g}]\nreport: []\n"
    )
    with pytest.raises(ValueError, match="speaker_kd job k needs a teacher"):
        load_plan(plan_path)


def test_pipeline_asv_summary_is_mean_and_std_over_seeds(tmp_path):
    """Fake SEEF-ALDR and KD reports give one row per job, mean +- std."""
    from run_pipeline import job_folder, write_asv_tables

    from speechbrain_asd.lobes.complexity import count_parameters

    model = ResNetSE(**TINY)
    eliminating = torch.nn.Sequential(
        torch.nn.Conv1d(4, 6, 3), torch.nn.BatchNorm1d(6)
    )
    switches = {
        "use_eliminating": True,
        "random_eliminating_vector": False,
        "use_reconstruction": True,
        "use_adv_classifier_loss": True,
        "use_adv_encoder_loss": True,
        "verify_with": "purifying",
    }

    def metrics(eer):
        """Speaker EER and minDCF of one model on one split."""
        return {"speaker_eer": eer, "min_dcf": 2 * eer}

    def write_job(seed, name, report):
        """Writes a job's checkpoint files and ``asv_report.json``."""
        folder = job_folder(tmp_path, seed, name)
        checkpoint = folder / "save" / "CKPT+1"
        checkpoint.mkdir(parents=True)
        torch.save(model.state_dict(), checkpoint / "model.ckpt")
        torch.save(
            eliminating.state_dict(), checkpoint / "eliminating_encoder.ckpt"
        )
        report["checkpoint"] = checkpoint.name
        (folder / "asv_report.json").write_text(json.dumps(report))
        return checkpoint

    for seed in (1, 2):
        eer = 0.1 * seed
        full = write_job(
            seed,
            "full",
            {
                **switches,
                "dev": {"purifying": metrics(eer), "eliminating": {}},
                "eval": {"purifying": metrics(eer / 2), "eliminating": {}},
                "holdout": {"accuracy": {"adv_classifier": 0.2 + eer}},
            },
        )
        write_job(
            seed,
            "ee",
            {
                **switches,
                "verify_with": "eliminating",
                "use_adv_encoder_loss": False,
                "dev": {"eliminating": metrics(0.5)},
                "eval": {"eliminating": metrics(0.4)},
                "holdout": {"accuracy": {}},
            },
        )
        for name, loss in (("alone", None), ("cos", "EmbeddingKDLoss")):
            write_job(
                seed,
                name,
                {
                    "kd": {"loss": loss, "distance": "cosine"},
                    "teacher": {
                        "folder": str(full.parents[1]),
                        "checkpoint": str(full),
                    },
                    **{
                        split: {
                            "student": metrics(0.3),
                            "teacher": metrics(0.1 * seed),
                        }
                        for split in ("dev", "eval")
                    },
                },
            )
    plan = {
        "jobs": [
            {"name": "g", "stage": "ge2e"},
            {"name": "full", "stage": "seef"},
            {"name": "ee", "stage": "seef"},
            {"name": "alone", "stage": "speaker_kd", "teacher": "full"},
            {"name": "cos", "stage": "speaker_kd", "teacher": "full"},
        ]
    }
    assert (
        write_asv_tables({"jobs": plan["jobs"][:1]}, tmp_path, tmp_path, [1])
        == ""
    )
    assert not (tmp_path / "asv_summary.md").exists()
    write_asv_tables(plan, tmp_path, tmp_path, [1])
    table = write_asv_tables(plan, tmp_path, tmp_path, [2])
    assert (tmp_path / "asv_summary.md").read_text() == table + "\n"
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    params = f"{count_parameters(model) / 1e6:.2f} M"
    assert lines[1] == (
        f"| E_p + E_e + D_r | full | 2 | {params} | 15.00 +- 7.07 | "
        "0.3000 +- 0.1414 | 7.50 +- 3.54 | 0.1500 +- 0.0707 | "
        "35.00 +- 7.07 |"
    )
    assert lines[2].startswith("| E_e without L_adv^e | ee | 2 | 0.00 M |")
    assert lines[2].endswith(
        "| 50.00 +- 0.00 | 1.0000 +- 0.0000 | 40.00 +- 0.00 | "
        "0.8000 +- 0.0000 | - |"
    )
    assert [line.split(" | ")[:3] for line in lines[4:]] == [
        ["| teacher (SEEF-ALDR E_p)", "full", "2"],
        ["| student alone", "alone", "2"],
        ["| embedding KD, cosine", "cos", "2"],
    ]
    assert "| 15.00 +- 7.07 |" in lines[4] and "| 30.00 +- 0.00 |" in lines[5]
    models = json.loads((tmp_path / "asv_summary.json").read_text())["models"]
    assert [(m["name"], m["seed"]) for m in models][:2] == [
        ("full", 1),
        ("ee", 1),
    ]
    assert models[0]["params"] == count_parameters(model)
    assert models[1]["params"] == count_parameters(eliminating)


def test_kd_diagnostics_compare_students_with_their_teacher(tmp_path):
    """A student that is the teacher matches it exactly; another does not."""
    from kd_diagnostics import main as kd_diagnostics

    data = tmp_path / "corpus"
    (data / "flac").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = ["ID,duration,wav,spk_id,system,key,label"]
    for index in range(6):
        path = data / "flac" / f"u{index}.flac"
        sf.write(path, 0.1 * rng.standard_normal(8000), 16000)
        rows.append(
            f"u{index},0.5,$data_root/flac/u{index}.flac,S1,-,x,{index % 3}"
        )

    def stage(name, seed):
        """A fake CM stage folder with one end-of-epoch checkpoint."""
        folder = tmp_path / name
        (folder / "manifests").mkdir(parents=True)
        (folder / "manifests" / "train.csv").write_text("\n".join(rows) + "\n")
        torch.manual_seed(seed)
        kwargs = {**TINY, "n_classes": 3, "emb_dim": 8}
        Checkpointer(
            folder / "save", {"model": ResNetSE(**kwargs)}
        ).save_checkpoint(meta={"dev_eer": 0.1}, name="best")
        info = {
            "model_kwargs": kwargs,
            "class_names": ["bonafide", "A01", "A02"],
            "sample_rate": 16000,
            "name": name,
            "metrics": {"dev_eer": 0.1},
        }
        (folder / "model_info.json").write_text(json.dumps(info))
        return folder

    teacher, other = stage("teacher", 0), stage("other", 1)
    out = tmp_path / "kd.json"
    kd_diagnostics(
        [
            "--teacher", str(teacher),
            "--student", f"same={teacher}",
            "--student", f"other={other}",
            "--data-folder", str(data),
            "--items", "4",
            "--out", str(out),
        ]
    )  # fmt: skip
    found = json.loads(out.read_text())
    assert found["items"] == 4
    teacher_row, same, different = found["rows"]
    assert teacher_row["kl_to_teacher"] is None
    assert same["kl_to_teacher"] == pytest.approx(0.0, abs=1e-6)
    assert same["bonafide_spearman"] == pytest.approx(1.0)
    assert same["nll"] == pytest.approx(teacher_row["nll"])
    assert different["kl_to_teacher"] > 1e-4


def test_pipeline_tandem_table_pairs_each_cm_model_with_its_seeds_asv(
    tmp_path,
):
    """A CM that separates bona fide from spoof stops spoofs the ASV lets
    through; without ASV scores a seed has no row."""
    from pipeline_report import write_tandem

    trials = [
        ("S1", "U1", "bonafide", "target", 2.0),
        ("S1", "U2", "bonafide", "target", 1.5),
        ("S2", "U3", "bonafide", "nontarget", -1.0),
        ("S2", "U1", "bonafide", "nontarget", 0.5),
        ("S1", "U4", "A07", "spoof", 1.8),
        ("S1", "U5", "A08", "spoof", 1.0),
    ]
    files = {}
    for split in ("dev", "eval"):
        protocol = tmp_path / f"asv.{split}.txt"
        protocol.write_text(
            "".join(f"{s} {u} {src} {key}\n" for s, u, src, key, _ in trials)
        )
        scores = tmp_path / f"asv_scores.{split}.txt"
        scores.write_text(
            "".join(f"{src} {key} {v}\n" for _, _, src, key, v in trials)
        )
        files[split] = (protocol, scores)
    cm_scores = tmp_path / "cm.txt"
    cm_scores.write_text("U1 3.0\nU2 2.0\nU3 2.5\nU4 -1.0\nU5 -2.0\n")
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "eval_report.json").write_text(
        json.dumps({"score_file": str(cm_scores)})
    )
    entries = [
        {"name": "student", "seed": 1, "folder": str(folder)},
        {"name": "student", "seed": 2, "folder": str(folder)},
    ]
    table = write_tandem(
        tmp_path,
        entries,
        lambda seed, split: files[split][1] if seed == 1 else None,
        lambda split: files[split][0],
    )
    (row,) = json.loads((tmp_path / "tandem.json").read_text())["models"]
    assert (row["name"], row["seed"]) == ("student", 1)
    # Without calibration.json the CM sits at its eval EER threshold, the
    # highest spoof score (accepted at the threshold, as the organisers'
    # t-DCF code accepts ASV scores): one spoof of two gets through.
    assert (row["asv_fa_spoof"], row["tandem_fa_spoof"]) == (1.0, 0.5)
    assert row["thresholds"]["asv_from"] == "dev"
    assert row["thresholds"]["cm_from"] == "eval"
    assert "| student | 1 |" in table
    assert (tmp_path / "tandem.md").read_text() == table + "\n"


@pytest.mark.parametrize("workers", [1, 2])
def test_pipeline_times_a_resumed_job_over_all_its_runs(
    tmp_path, monkeypatch, workers
):
    """A job stopped and resumed is timed over both runs, not the last."""
    from run_pipeline import job_log, load_timings, segment_file

    fail_flag = tmp_path / "fail"
    _fake_teacher_stage(
        monkeypatch,
        tmp_path,
        "import pathlib, sys\n"
        f"if pathlib.Path({str(fail_flag)!r}).exists():\n"
        "    sys.exit('stopped')\n"
        "flags = dict(a[2:].split('=', 1) for a in sys.argv[2:])\n"
        "out = pathlib.Path(flags['output_folder'])\n"
        "out.mkdir(parents=True, exist_ok=True)\n"
        "(out / 'done.txt').touch()\n",
    )
    plan = {
        "name": "p",
        "corpus": {"folder": "c"},
        "flags": {},
        "stage_flags": {},
        "jobs": [{"name": "t", "stage": "teacher"}],
        "report": [],
    }
    out = tmp_path / "results" / "p"
    fail_flag.touch()
    with pytest.raises(RuntimeError, match="failed"):
        _run_seed_1(plan, out, tmp_path, workers)
    log_path = job_log(out, 1, "t")
    segment = segment_file(log_path)
    assert segment.is_file()
    assert load_timings(out / "timings.json") == {}
    # Let the stopped run have lasted 1000 s: begun 1000 s before its
    # log was last written.
    now = time.time()
    stopped = json.loads(segment.read_text())
    segment.write_text(json.dumps({**stopped, "started": now - 1000}))
    os.utime(log_path, (now, now))
    fail_flag.unlink()
    _run_seed_1(plan, out, tmp_path, workers)
    seconds = load_timings(out / "timings.json")["t"]["1"]
    assert 1000 <= seconds < 1100
    assert not segment.exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_pipeline_continued_job_starts_from_the_newest_checkpoint(
    tmp_path, monkeypatch, workers
):
    """A ``continues`` job starts from its source's newest checkpoint only,
    and a resumed run keeps its own checkpoints."""
    from run_pipeline import load_plan

    _fake_teacher_stage(
        monkeypatch,
        tmp_path,
        "import json, pathlib, sys\n"
        "from speechbrain.utils.checkpoints import Checkpointer\n"
        "flags = dict(a[2:].split('=', 1) for a in sys.argv[2:])\n"
        "out = pathlib.Path(flags['output_folder'])\n"
        "saver = Checkpointer(out / 'save')\n"
        "found = [c.meta['epoch'] for c in saver.list_checkpoints()]\n"
        "(out / 'found.json').write_text(json.dumps(sorted(found)))\n"
        "for epoch in range(max(found, default=0) + 1, "
        "int(flags['number_of_epochs']) + 1):\n"
        "    saver.save_checkpoint(meta={'epoch': epoch})\n"
        "(out / 'done.txt').touch()\n",
    )
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(
        "name: p\n"
        "corpus: {folder: c}\n"
        "jobs:\n"
        "  - {name: t, stage: teacher, flags: {number_of_epochs: 3}}\n"
        "  - {name: t5, stage: teacher, continues: t,"
        " flags: {number_of_epochs: 5}}\n"
        "report: []\n"
    )
    plan = load_plan(plan_file)
    out = tmp_path / "results" / "p"
    _run_seed_1(plan, out, tmp_path, workers)
    continued = out / "seed1" / "t5"
    assert json.loads((continued / "found.json").read_text()) == [3]
    (continued / "done.txt").unlink()
    _run_seed_1(plan, out, tmp_path, workers)
    assert json.loads((continued / "found.json").read_text()) == [3, 4, 5]

    bad = plan_file.read_text().replace("continues: t,", "continues: t9,")
    plan_file.write_text(bad)
    with pytest.raises(ValueError, match="continues 't9', which is not"):
        load_plan(plan_file)
