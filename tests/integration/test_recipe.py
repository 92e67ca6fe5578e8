"""End-to-end run of the ASVspoof 2019 LA recipe on the small generated corpus.

Generates the small offline corpus once, then runs every row of the
recipe's CSV (``recipes/ASVspoof2019_LA/ASVspoof2019_LA.csv``, SpeechBrain's
``tests/recipes`` format) in order as SpeechBrain's recipe tests do
(``python <script> <hparams> <test_debug_flags> --device=cpu``): GE2E,
static AEG, teacher, student, SEEF-ALDR, each chained to the previous ones
through their output folders. The flags name ``tests/tmp/...`` folders;
here they point into a temporary folder. Each row must produce the files of its
``test_debug_checks``; a re-run must resume instead of training again; the
student must learn (its EER on the training set well below chance); and
active AEG, self-distillation and decoupled KD must run.

Every subprocess runs with one OpenMP thread: on a shared 2-core machine,
two threads per process ran three times slower.

Authors
 * speechbrain-asd developers
"""

import csv
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "ASVspoof2019_LA"
RECIPE_CSV = RECIPE / "ASVspoof2019_LA.csv"
TMP_PREFIX = "tests/tmp/"
CORPUS = "asvspoof_toy_small"
TIMEOUT = 600
MAX_TRAIN_EER = 0.35
POLL_SECONDS = 0.05
INTRA_EPOCH_FLAG = "brain_intra_epoch_ckpt"

pytestmark = pytest.mark.integration


def _rows():
    """Reads the recipe CSV rows, in order.

    Returns
    -------
    list of dict
        One dict per CSV row.
    """
    with open(RECIPE_CSV, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, skipinitialspace=True))


def _command(script, hparams, flags, workspace, device):
    """The command line and environment of one recipe run.

    Arguments
    ---------
    script : str
        Script path relative to the repository root.
    hparams : str
        YAML path relative to the repository root.
    flags : str
        The command-line flags; ``tests/tmp/`` stands for ``workspace``.
    workspace : pathlib.Path
        The temporary folder of the test.
    device : str
        The recipe's ``--device``.

    Returns
    -------
    command : list of str
        The command.
    env : dict
        Its environment (one OpenMP thread, the recipe on the path).
    """
    flags = flags.replace(TMP_PREFIX, f"{workspace}/")
    command = [sys.executable, script, hparams, *shlex.split(flags)]
    command.append(f"--device={device}")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(RECIPE))
    return command, env


def _with_flags(flags, **changes):
    """Sets flags in a flag string, replacing those already there.

    Arguments
    ---------
    flags : str
        ``--key=value`` flags separated by spaces.
    **changes : dict
        Keys and their new values.

    Returns
    -------
    str
        The flags with every key of ``changes`` set once.
    """
    for key, value in changes.items():
        flag = f"--{key}={value}"
        flags, count = re.subn(rf"--{key}=\S+", flag, flags)
        if not count:
            flags = f"{flags} {flag}"
    return flags


def _run(script, hparams, flags, workspace, log_name, device, launcher=()):
    """Runs one recipe command as SpeechBrain's recipe tests do.

    Arguments
    ---------
    script : str
        Script path relative to the repository root.
    hparams : str
        YAML path relative to the repository root.
    flags : str
        The command-line flags; ``tests/tmp/`` stands for ``workspace``.
    workspace : pathlib.Path
        The temporary folder of the test.
    log_name : str
        Name of the file (in ``workspace``) that keeps the output.
    device : str
        The recipe's ``--device``.
    launcher : sequence of str
        Arguments that replace the Python interpreter (e.g. torchrun's).

    Returns
    -------
    result : dict
        ``seconds`` (wall time) and ``output`` (stdout and stderr).
    """
    command, env = _command(script, hparams, flags, workspace, device)
    if launcher:
        command = [*launcher, *command[1:]]
    start = time.perf_counter()
    process = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    seconds = time.perf_counter() - start
    output = process.stdout + process.stderr
    (workspace / log_name).write_text(output, encoding="utf-8")
    assert process.returncode == 0, (
        f"{' '.join(command)} failed ({process.returncode}):\n{output[-4000:]}"
    )
    return {"seconds": seconds, "output": output}


def _output_folder(flags, workspace):
    """The output folder a row's flags name.

    Arguments
    ---------
    flags : str
        The row's ``test_debug_flags``.
    workspace : pathlib.Path
        The temporary folder of the test.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    match = re.search(r"--output_folder=(\S+)", flags)
    assert match, f"flags without --output_folder: {flags}"
    return Path(match.group(1).replace(TMP_PREFIX, f"{workspace}/"))


def _checkpoints(folder):
    """Names of the checkpoints of a stage.

    Arguments
    ---------
    folder : pathlib.Path
        The stage's output folder.

    Returns
    -------
    list of str
        Sorted ``CKPT+*`` folder names.
    """
    return sorted(p.name for p in (folder / "save").glob("CKPT+*"))


def _last_epoch_checkpoint(folder):
    """The checkpoint of a stage's last finished epoch.

    The learning check looks at the end of training, not at the checkpoint
    the tiny, noisy dev set selects.

    Arguments
    ---------
    folder : pathlib.Path
        The stage's output folder.

    Returns
    -------
    speechbrain.utils.checkpoints.Checkpoint
        The most recent checkpoint with a ``dev_eer``.
    """
    from speechbrain.utils.checkpoints import Checkpointer

    return Checkpointer(folder / "save").find_checkpoints(
        importance_key=lambda ckpt: ckpt.meta["unixtime"],
        ckpt_predicate=lambda ckpt: "dev_eer" in ckpt.meta,
    )[0]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, pytestconfig):
    """A temporary folder holding the small generated corpus.

    Arguments
    ---------
    tmp_path_factory : pytest.TempPathFactory
        Pytest's factory of temporary folders.
    pytestconfig : pytest.Config
        Pytest's configuration (``--toy-corpus-small``: a corpus to copy).

    Returns
    -------
    pathlib.Path
        The folder (``tests/tmp/`` of the CSV flags).
    """
    folder = tmp_path_factory.mktemp("recipe")
    ready = pytestconfig.getoption("--toy-corpus-small")
    if ready:
        shutil.copytree(ready, folder / CORPUS)
    else:
        from asd_toy_corpus import make_toy_corpus

        make_toy_corpus(folder / CORPUS, size="small", progress=False)
    return folder


@pytest.fixture(scope="module")
def pipeline(workspace, recipe_device):
    """Runs every CSV row in order; records outputs and times.

    Arguments
    ---------
    workspace : pathlib.Path
        The folder with the corpus.
    recipe_device : str
        The device the rows run on.

    Returns
    -------
    list of dict
        Per row: the CSV row, its output ``folder``, ``seconds`` and
        ``output`` of the run.
    """
    runs = []
    for index, row in enumerate(_rows()):
        flags = row["test_debug_flags"]
        result = _run(
            row["Script_file"],
            row["Hparam_file"],
            flags,
            workspace,
            f"row_{index + 2:02d}.log",
            recipe_device,
        )
        runs.append(
            {"row": row, "folder": _output_folder(flags, workspace), **result}
        )
    times = {Path(r["row"]["Hparam_file"]).stem: r["seconds"] for r in runs}
    print(f"recipe debug runs (s): {json.dumps(times)}")
    return runs


def test_every_row_produces_its_files(pipeline):
    """Each stage leaves the files its test_debug_checks name."""
    for run in pipeline:
        checks = run["row"]["test_debug_checks"]
        match = re.search(r"file_exists=\[(.*?)\]", checks)
        assert match, f"no file_exists=[...] in {checks!r}"
        missing = [
            name
            for name in match.group(1).split(",")
            if not (run["folder"] / name.strip()).exists()
        ]
        assert not missing, f"{run['folder']} lacks {missing}"


def test_countermeasure_stages_report_metrics(pipeline):
    """Teacher and student write complete reports and a usable model card."""
    for run in pipeline:
        if not (run["folder"] / "eval_report.json").exists():
            continue
        report = json.loads((run["folder"] / "eval_report.json").read_text())
        for key in ("dev_eer", "eval_eer", "eval_eer_seen", "eval_eer_unseen"):
            assert 0.0 <= report[key] <= 1.0, key
        for key in ("min_tdcf_2019", "min_tdcf_2021"):
            assert report[key] is not None and report[key] >= 0.0, key
        info = json.loads((run["folder"] / "model_info.json").read_text())
        assert info["class_names"][0] == "bonafide"
        assert info["model_kwargs"]["aux_exits"] is False
        assert info["metrics"]["eval_eer"] == report["eval_eer"]
        scores = (run["folder"] / "eval_scores.txt").read_text().splitlines()
        pooled = report["eval"]["pooled"]
        assert len(scores) == pooled["n_bonafide"] + pooled["n_spoof"]
        for key in ("min_dcf", "act_dcf", "cllr", "min_cllr"):
            assert pooled[key] >= 0.0, key
        # The calibration of the dev scores, and what it does on eval.
        calibration = json.loads(
            (run["folder"] / "calibration.json").read_text()
        )
        assert calibration["scale"] > 0 and calibration["rule"] == "bayes"
        assert report["calibration"]["scale"] == calibration["scale"]
        _check_dev_scores(run["folder"], report["dev_eer"])
        cllr = report["calibration"]["eval_calibrated"]["cllr"]
        assert 0.0 <= cllr < float("inf")
        if "--eval_2021_folder" in run["row"]["test_debug_flags"]:
            _check_eval_2021(run["folder"], report, calibration)


def _check_dev_scores(folder, dev_eer):
    """The dev score file is the best checkpoint's: the scores it saved at
    its validation, whose EER selected it."""
    from speechbrain_asd.checkpoints import best_checkpoint
    from speechbrain_asd.metrics import compute_eer
    from speechbrain_asd.scorefiles import read_cm_scores

    path = folder / "dev_scores.txt"
    scores = read_cm_scores(path)
    assert len(scores) > 0
    best = best_checkpoint(folder / "save")
    saved = json.loads(Path(best.paramfiles["dev_scores"]).read_text())
    assert scores == saved
    lines = [line.split() for line in path.read_text().splitlines()]
    keys = {fields[0]: fields[2] for fields in lines}
    bonafide = [s for i, s in scores.items() if keys[i] == "bonafide"]
    spoof = [s for i, s in scores.items() if keys[i] == "spoof"]
    assert compute_eer(bonafide, spoof)[0] == pytest.approx(dev_eer)


def _check_eval_2021(folder, report, calibration):
    """The 2021 part of a report is the organisers' evaluation of the
    stage's 2021 score file on the eval subset, with the calibrated decision."""
    from speechbrain_asd.evaluation import evaluate_score_file, find_2021_keys

    found = report["eval_2021"]
    assert found["subset"] == "eval"
    grid = found["decomposed"]
    assert grid["columns"][-1] == "pooled" and len(grid["columns"]) == 8
    assert grid["asv_codecs"] is True
    keys = find_2021_keys(folder.parent / CORPUS)
    again = evaluate_score_file(
        folder / "eval_2021_scores.txt",
        keys["protocol"],
        asv_scores_path=keys["asv_scores_path"],
        asv_metadata_path=keys["asv_metadata"],
        subset="eval",
    )
    assert again["decomposed"]["cells"] == grid["cells"]
    pooled = grid["cells"]["pooled"]["pooled"]
    assert 0.0 <= pooled["eer"] <= 1.0 and pooled["min_tdcf_2021"] >= 0.0
    point = found["operating_point"]
    assert point["threshold"] == calibration["threshold"]
    assert 0.0 <= point["bonafide_rejected"] <= 1.0
    assert 0.0 <= point["spoof_accepted"] <= 1.0


def test_rerun_resumes_instead_of_training_again(
    pipeline, workspace, recipe_device
):
    """A finished stage run again trains no new epoch and keeps its files."""
    for run in pipeline:
        row = run["row"]
        if not (run["folder"] / "train_log.txt").exists():
            continue
        log_before = (run["folder"] / "train_log.txt").read_text()
        ckpts_before = _checkpoints(run["folder"])
        result = _run(
            row["Script_file"],
            row["Hparam_file"],
            row["test_debug_flags"],
            workspace,
            f"rerun_{Path(row['Hparam_file']).stem}.log",
            recipe_device,
        )
        assert "Resumed after epoch" in result["output"]
        assert (run["folder"] / "train_log.txt").read_text() == log_before
        assert _checkpoints(run["folder"]) == ckpts_before


def test_student_learns(pipeline):
    """After training, the distilled student separates the train classes."""
    sys.path.insert(0, str(RECIPE))
    from asvspoof_dataio import load_rows
    from speechbrain.dataio.dataio import read_audio

    from speechbrain_asd.checkpoints import load_checkpoint
    from speechbrain_asd.features import LogMelFeatures
    from speechbrain_asd.lobes.resnet_se import ResNetSE
    from speechbrain_asd.lobes.score import bonafide_score
    from speechbrain_asd.metrics import compute_eer

    (student,) = [
        run["folder"]
        for run in pipeline
        if run["row"]["Hparam_file"].endswith("hparams/student.yaml")
    ]
    info = json.loads((student / "model_info.json").read_text())
    model = ResNetSE(**info["model_kwargs"])
    load_checkpoint(
        model,
        _last_epoch_checkpoint(student).paramfiles["model"],
        drop_exits=True,
    )
    model.eval()
    features = LogMelFeatures(sample_rate=info["sample_rate"])
    rows = load_rows(
        str(student / "manifests" / "train.csv"),
        str(student.parent / CORPUS),
    )
    scores = {"bonafide": [], "spoof": []}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            for row in rows.values():
                wav = read_audio(row["wav"])
                logits = model(features(wav.unsqueeze(0)))
                scores[row["key"]].append(float(bonafide_score(logits)[0]))
    finally:
        torch.set_num_threads(threads)
    eer = compute_eer(scores["bonafide"], scores["spoof"])[0]
    assert eer < MAX_TRAIN_EER, f"student train EER {eer:.3f}"


def test_active_aeg_self_distillation_and_decoupled_kd(
    pipeline, workspace, recipe_device
):
    """Active AEG regenerates its set each epoch; the other options run."""
    teacher_row, student_row = pipeline[2]["row"], pipeline[3]["row"]
    teacher = workspace / "variant_teacher"
    flags = _with_flags(
        teacher_row["test_debug_flags"],
        output_folder=f"{TMP_PREFIX}variant_teacher",
        aeg="active",
        self_distill="True",
        aeg_n_pairs=4,
        aeg_threshold=1.01,
        aeg_max_duration=1.0,
        train_max_items=48,
    )
    result = _run(
        teacher_row["Script_file"],
        teacher_row["Hparam_file"],
        flags,
        workspace,
        "variant_teacher.log",
        recipe_device,
    )
    assert result["output"].count("active AEG: kept 4 of 4 pairs") == 2
    log = (teacher / "train_log.txt").read_text().splitlines()
    assert len(log) == 2 and all("adversarial: 4" in line for line in log)
    assert len(list((teacher / "adversarial").glob("*.flac"))) == 4
    state = torch.load(
        _last_epoch_checkpoint(teacher).paramfiles["model"], weights_only=True
    )
    assert any(key.startswith("exits.") for key in state)
    info = json.loads((teacher / "model_info.json").read_text())
    assert info["model_kwargs"]["aux_exits"] is False

    student = workspace / "variant_student"
    flags = _with_flags(
        student_row["test_debug_flags"],
        output_folder=f"{TMP_PREFIX}variant_student",
        teacher_folder=f"{TMP_PREFIX}variant_teacher",
        kd_loss="'!ref <kd_losses[decoupled]>'",
        self_distill="True",
        number_of_epochs=1,
        train_max_items=24,
    )
    _run(
        student_row["Script_file"],
        student_row["Hparam_file"],
        flags,
        workspace,
        "variant_student.log",
        recipe_device,
    )
    report = json.loads((student / "eval_report.json").read_text())
    assert report["kd"] == "decoupled" and report["self_distill"] is True


def _intra_epoch_checkpoint_done(folder, recoverables):
    """Tells whether a complete intra-epoch checkpoint is on disk.

    Arguments
    ---------
    folder : pathlib.Path
        The stage's output folder.
    recoverables : set of str
        Parameter files a complete checkpoint holds.

    Returns
    -------
    bool
        True once one exists, complete by the rule the recipe applies when
        it resumes (every file there, non-empty, every zip whole): a file
        that merely exists may still be being written.
    """
    sys.path.insert(0, str(RECIPE))
    from speechbrain.utils.checkpoints import Checkpoint

    from speechbrain_asd.checkpoints import checkpoint_is_complete

    for meta in (folder / "save").glob("CKPT+*/CKPT.yaml"):
        if INTRA_EPOCH_FLAG not in meta.read_text():
            continue
        paramfiles = {p.stem: p for p in meta.parent.glob("*.ckpt")}
        checkpoint = Checkpoint(meta.parent, {}, paramfiles)
        if checkpoint_is_complete(checkpoint, recoverables):
            return True
    return False


def test_killed_run_resumes_inside_its_epoch(
    pipeline, workspace, recipe_device
):
    """A run killed after an intra-epoch checkpoint resumes from it."""
    row = pipeline[2]["row"]
    folder = workspace / "killed_teacher"
    flags = _with_flags(
        row["test_debug_flags"],
        output_folder=f"{TMP_PREFIX}killed_teacher",
        number_of_epochs=1,
        # ~48 steps: the kill, sent once the first intra-epoch checkpoint is
        # complete, lands well before the epoch ends even on a loaded CPU.
        train_max_items=96,
        batch_size=2,
        ckpt_interval_minutes=0,
        ckpt_interval_steps=1,
    )
    command, env = _command(
        row["Script_file"], row["Hparam_file"], flags, workspace, recipe_device
    )
    needed = {"model", "optimizer", "brain", "counter", "dataloader-TRAIN"}
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not _intra_epoch_checkpoint_done(folder, needed):
            assert process.poll() is None, "the run ended before a checkpoint"
            assert time.monotonic() < deadline, "no intra-epoch checkpoint"
            time.sleep(POLL_SECONDS)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert not (folder / "train_log.txt").exists()
    result = _run(
        row["Script_file"],
        row["Hparam_file"],
        flags,
        workspace,
        "killed_teacher_resumed.log",
        recipe_device,
    )
    assert re.search(
        r"Resumed inside epoch 1 after [1-9]\d* steps", result["output"]
    )
    assert len((folder / "train_log.txt").read_text().splitlines()) == 1


def test_two_ranks_train_with_ddp_on_the_cpu(pipeline, workspace):
    """torchrun with 2 CPU processes (gloo) runs GE2E and the teacher."""
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29561",
    ]
    ge2e_row, teacher_row = pipeline[0]["row"], pipeline[2]["row"]
    runs = (
        (ge2e_row, "ddp_ge2e", {}),
        (teacher_row, "ddp_teacher", {"ge2e_folder": f"{TMP_PREFIX}ddp_ge2e"}),
    )
    for row, name, extra in runs:
        flags = _with_flags(
            row["test_debug_flags"],
            output_folder=f"{TMP_PREFIX}{name}",
            number_of_epochs=1,
            distributed_backend="gloo",
            **extra,
        )
        _run(
            row["Script_file"],
            row["Hparam_file"],
            flags,
            workspace,
            f"{name}.log",
            "cpu",
            launcher=launcher,
        )
        log = (workspace / name / "train_log.txt").read_text().splitlines()
        assert len(log) == 1
    assert (workspace / "ddp_ge2e" / "asv_scores" / "asv_scores.json").exists()
    assert (workspace / "ddp_teacher" / "eval_report.json").exists()
