#!/usr/bin/env python3
"""Runs the recipe's stages in order from an override file (demo, paper grid).

The runner lives outside the recipe: it runs the scripts of
``recipes/ASVspoof2019_LA/`` (``train_ge2e.py``, ``generate_aeg.py``,
``train.py``, ``evaluate_robustness.py``, and on the speaker side
``train_seef_aldr.py``, ``train_speaker_kd.py``) as subprocesses in that
folder, each with its own hparams file. An override file
(``pipelines/overrides/demo.yaml``, ``paper.yaml``, ``asv.yaml``)
names the corpus, the flags every stage gets, the flags of each stage, and the
jobs: each job runs one stage (``ge2e``, ``aeg``, ``teacher``,
``student``, ``robustness``, ``seef``, ``speaker_kd``) with its own flags
and output folder; a job with ``continues: <earlier job>`` (same stage)
starts from that job's newest checkpoint, so a longer schedule resumes
where the shorter one ended (a 16-epoch teacher from the 10-epoch one).
The recipe YAMLs are never edited: everything goes through command-line
overrides. The runner chains the jobs (GE2E
checkpoint and ASV scores, the static adversarial set, the teacher of a
student or of a speaker-KD job), skips jobs that already finished (so an
interrupted run resumes where it stopped), and exports the models the plan
names under ``export`` as model folders that ``SpoofDetector.from_hparams``
loads (``<results>/<name>/<job>_model``, with a DET plot per attack in
``<job>_plots/det.png``), prints the tables, and writes
``<results>/<name>/summary.json`` (one entry per reported model and seed,
with the exported folder and its learning curve), ``summary.md`` (mean +-
std over the seeds run) and ``curves.md`` (dev EER by epoch). A corpus
with ``eval_2021: true`` also has the teacher and student stages score its
ASVspoof 2021 LA-style part (``eval_2021_folder``): ``eval_2021.md`` has the
pooled EER and min t-DCF per codec and the calibrated decision. A plan
with ``seef`` or ``speaker_kd`` jobs also gets ``asv_summary.md`` /
``asv_summary.json``: every such job's dev and eval ASV EER and minDCF,
mean +- std over the seeds (``pipeline_report.asv_table``).

Before each job it prints how many jobs are left over all the seeds asked
for and the time they should take: each job's duration (over all its
runs, when an interrupted job was resumed) is kept in
``<results>/<name>/timings.json``, and a job not yet timed is estimated by
the other jobs of its stage, else by the plan's ``expected_minutes``.
``timings.md`` gives each job's time per seed and each seed's total.

``--device cuda`` runs every stage on that device; ``--jobs N`` runs up to N
jobs at once (each as soon as the jobs it needs are done, over every seed
asked for), their output in their logs only: for machines with many cores
or a GPU. Parallel jobs share the cores: each gets ``OMP_NUM_THREADS`` =
cores / N unless that variable is set.

Usage, from the repository root::

    python pipelines/run_pipeline.py pipelines/overrides/paper.yaml \\
        --seed 1 2 3 [--device cuda] [--jobs 4]

Authors
 * speechbrain-asd developers
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import yaml
from job_scheduler import DONE, Task, run_tasks
from pipeline_report import (
    ASV_REPORT_FILE,
    RECIPE,
    ROOT,
    asv_entry,
    comparisons_table,
    curves_table,
    eval_2021_table,
    markdown_table,
    read_json,
    read_report,
    runs_for,
    seeds_table,
    summary_entry,
    write_asv_summary,
    write_comparisons,
    write_json,
    write_robustness,
    write_summary,
    write_tandem,
    write_timings,
)
from speechbrain.utils.checkpoints import Checkpointer

STAGES = {
    "ge2e": (
        "train_ge2e.py",
        "hparams/ge2e.yaml",
        "asv_scores/asv_scores.json",
    ),
    "aeg": ("generate_aeg.py", "hparams/aeg.yaml", "aeg_summary.json"),
    "teacher": ("train.py", "hparams/teacher.yaml", "eval_report.json"),
    "student": ("train.py", "hparams/student.yaml", "eval_report.json"),
    "robustness": ("evaluate_robustness.py", None, "robustness.json"),
    "seef": (
        "train_seef_aldr.py",
        "hparams/seef_aldr.yaml",
        ASV_REPORT_FILE,
    ),
    "speaker_kd": (
        "train_speaker_kd.py",
        "hparams/speaker_kd.yaml",
        ASV_REPORT_FILE,
    ),
}
# Stages that distil a teacher: the stage the teacher job must have.
TEACHER_STAGES = {"student": "teacher", "speaker_kd": "seef"}
# Stages whose jobs enter the ASV summary rather than the CM one.
ASV_STAGES = ("seef", "speaker_kd")
ASV_FILE = "asv_scores/ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt"
OUTPUT_CHUNK = 4096
INTERIM_FOLDER = "interim"
TIMINGS_FILE = "timings.json"
# Where every stage's hparams put its checkpoints: <output_folder>/save.
SAVE_FOLDER = "save"
NARGS_OPTIONS = ("budgets",)
EVAL_PROTOCOL = (
    "LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt"
)
ASV_PROTOCOL = (
    "LA/ASVspoof2019_LA_asv_protocols/ASVspoof2019.LA.asv.{split}.gi.trl.txt"
)


def load_plan(path):
    """Reads and checks an override file.

    Arguments
    ---------
    path : str
        The override file (plain YAML).

    Returns
    -------
    plan : dict
        ``name``, ``corpus``, ``flags``, ``stage_flags``, ``jobs`` (a job
        may list the only ``seeds`` it runs for, and name an earlier job
        of its stage that it ``continues``) and
        ``report`` (the jobs whose models enter the summary),
        ``export`` (reported jobs exported as model folders, with a DET
        plot; none by default) and ``comparisons`` (``{claim, a, b}``:
        reported jobs compared by a paired bootstrap, see
        ``pipeline_report``; none by default).
    """
    with open(path, encoding="utf-8") as handle:
        plan = yaml.safe_load(handle)
    for key in ("name", "corpus", "jobs", "report"):
        if key not in plan:
            raise ValueError(f"{path}: missing '{key}'")
    names = [job["name"] for job in plan["jobs"]]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: job names repeat: {names}")
    for index, job in enumerate(plan["jobs"]):
        if job.get("stage") not in STAGES:
            raise ValueError(
                f"{path}: job {job['name']} has stage {job.get('stage')!r}, "
                f"expected one of {sorted(STAGES)}"
            )
        only = job.get("seeds")
        if only is not None and (
            not isinstance(only, list)
            or not only
            or not all(type(seed) is int for seed in only)
        ):
            raise ValueError(
                f"{path}: job {job['name']} has seeds {only!r}, expected a "
                "non-empty list of integers (the only seeds it runs for)"
            )
        check_continues(path, plan["jobs"], index)
        teacher_stage = TEACHER_STAGES.get(job["stage"])
        teachers = {
            j["name"]
            for j in plan["jobs"][:index]
            if j["stage"] == teacher_stage
        }
        if teacher_stage is not None and job.get("teacher") not in teachers:
            raise ValueError(
                f"{path}: {job['stage']} job {job['name']} needs a teacher "
                f"among the {teacher_stage} jobs before it"
            )
        if job["stage"] == "robustness":
            models = job.get("models", [])
            pairs = [
                name
                for key in ("transfer", "compare")
                for pair in job.get(key, [])
                for name in pair
            ]
            unknown = sorted(set(models + pairs) - set(names[:index]))
            if not models or unknown or not set(pairs) <= set(models):
                raise ValueError(
                    f"{path}: robustness job {job['name']} needs models "
                    f"among the jobs before it, and transfer and compare "
                    f"pairs among its models (unknown: {unknown})"
                )
    unknown = sorted(set(plan["report"]) - set(names))
    if unknown:
        raise ValueError(f"{path}: report names unknown jobs {unknown}")
    plan.setdefault("flags", {})
    plan.setdefault("stage_flags", {})
    plan.setdefault("export", [])
    unexported = sorted(set(plan["export"]) - set(plan["report"]))
    if unexported:
        raise ValueError(f"{path}: export names unreported jobs {unexported}")
    for item in plan.setdefault("comparisons", []):
        unknown = sorted({item.get("a"), item.get("b")} - set(plan["report"]))
        if unknown or "claim" not in item:
            raise ValueError(
                f"{path}: comparison {item} needs a claim and two reported "
                f"jobs a and b (unknown: {unknown})"
            )
    return plan


def check_continues(path, jobs, index):
    """Checks that a job continues an earlier job of its stage, if any.

    The continued job must run for every seed the job runs for.

    Arguments
    ---------
    path : str
        The override file (for the message).
    jobs : list of dict
        The plan's jobs.
    index : int
        The job to check.

    Raises
    ------
    ValueError
        When ``continues`` names no earlier job of the same stage, or one
        that does not run for all of the job's seeds.

    Example
    -------
    >>> jobs = [{"name": "t", "stage": "teacher", "seeds": [1]},
    ...         {"name": "t16", "stage": "teacher", "continues": "t"}]
    >>> check_continues("p.yaml", jobs, 1)
    Traceback (most recent call last):
     ...
    ValueError: p.yaml: job t16 continues t, which does not run for all ...
    """
    job = jobs[index]
    source = job.get("continues")
    if source is None:
        return
    earlier = {j["name"]: j for j in jobs[:index] if j["stage"] == job["stage"]}
    if source not in earlier:
        raise ValueError(
            f"{path}: job {job['name']} continues {source!r}, which is not "
            f"a {job['stage']} job before it"
        )
    covered = earlier[source].get("seeds")
    if covered is not None and not set(job.get("seeds") or [None]) <= set(
        covered
    ):
        raise ValueError(
            f"{path}: job {job['name']} continues {source}, which does not "
            "run for all its seeds"
        )


def continue_from(job, folders):
    """Copies the newest checkpoint of the job a job ``continues``.

    Nothing is copied when the job has none to continue or already holds a
    checkpoint of its own (a resumed run). The copy is renamed into place
    once complete, so a stopped copy leaves no checkpoint behind.

    Arguments
    ---------
    job : dict
        The job.
    folders : dict
        Job name -> output folder (one seed).

    Returns
    -------
    pathlib.Path or None
        The checkpoint copied.

    Raises
    ------
    RuntimeError
        When the continued job holds no checkpoint.

    Example
    -------
    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> folders = {"t": root / "t", "t16": root / "t16"}
    >>> _ = Checkpointer(folders["t"] / SAVE_FOLDER).save_checkpoint()
    >>> copied = continue_from({"name": "t16", "continues": "t"}, folders)
    >>> sorted(p.name for p in (folders["t16"] / SAVE_FOLDER).iterdir()) == [
    ...     copied.name]
    True
    >>> continue_from({"name": "t16", "continues": "t"}, folders) is None
    True
    """
    if "continues" not in job:
        return None
    target = folders[job["name"]] / SAVE_FOLDER
    if target.is_dir() and Checkpointer(target).list_checkpoints():
        return None
    source = folders[job["continues"]] / SAVE_FOLDER
    newest = Checkpointer(source).find_checkpoint() if source.is_dir() else None
    if newest is None:
        raise RuntimeError(
            f"job {job['name']} continues {job['continues']}, but "
            f"{source} holds no checkpoint"
        )
    partial = target / f".partial-{newest.path.name}"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(newest.path, partial)
    copied = target / newest.path.name
    partial.rename(copied)
    return copied


def ensure_corpus(corpus, root):
    """Generates the offline corpus when the plan asks for one.

    The generator is the ``asd_toy_corpus`` tool (``tools/toy_corpus``,
    installed by ``make install``); a plan without ``size`` names an
    existing corpus and needs no generator.

    Arguments
    ---------
    corpus : dict
        ``folder`` (relative to the repository root), and for a generated
        corpus ``size`` and ``seed``.
    root : pathlib.Path
        The repository root.

    Returns
    -------
    folder : pathlib.Path
        The folder that contains ``LA/``.
    """
    folder = (root / corpus["folder"]).resolve()
    if "size" in corpus:
        from asd_toy_corpus import make_toy_corpus

        make_toy_corpus(folder, seed=corpus["seed"], size=corpus["size"])
    if not (folder / "LA").is_dir():
        raise FileNotFoundError(f"{folder} holds no LA/ folder")
    return folder


def yaml_keys(path):
    """Top-level keys of a recipe YAML (read as text: it has custom tags).

    Arguments
    ---------
    path : pathlib.Path
        The YAML file.

    Returns
    -------
    keys : set of str
        Its top-level keys.
    """
    text = path.read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z_]\w*):", text, flags=re.MULTILINE))


def job_flags(plan, job, folders, data_folder, seed, device=None):
    """The command-line flags of one job, chained to the earlier jobs.

    Arguments
    ---------
    plan : dict
        From ``load_plan``; its ``flags`` go to the stages whose YAML has
        the key.
    job : dict
        The job (``name``, ``stage``, optional ``flags``, ``ge2e``, ``aeg``,
        ``teacher`` naming earlier jobs; a student's or speaker-KD job's
        ``teacher`` is required).
    folders : dict
        Job name -> output folder of the jobs so far.
    data_folder : pathlib.Path
        The corpus.
    seed : int
        The seed of this run.
    device : str, optional
        The ``--device`` of the stage (e.g. ``cuda``); by default the
        stage's own.

    Returns
    -------
    flags : dict
        Flag name -> value.
    """
    stage = job["stage"]
    if stage == "robustness":
        flags = robustness_flags(job, folders, data_folder, seed)
        return flags if device is None else {**flags, "device": device}
    earlier = {j["stage"]: j["name"] for j in plan["jobs"][::-1]}
    flags = {
        "data_folder": str(data_folder),
        "output_folder": str(folders[job["name"]]),
        "seed": seed,
    }
    ge2e = folders.get(job.get("ge2e", earlier.get("ge2e")))
    aeg = folders.get(job.get("aeg", earlier.get("aeg")))
    if stage in ("aeg", "teacher", "seef") and ge2e is not None:
        flags["ge2e_folder"] = str(ge2e)
    if stage in ("teacher", "student"):
        if aeg is not None:
            flags["adversarial_csv"] = str(aeg / "adversarial.csv")
        if ge2e is not None:
            for split in ("dev", "eval"):
                path = ge2e / ASV_FILE.format(split=split)
                flags[f"asv_scores_{split}"] = str(path)
    if stage in TEACHER_STAGES:
        flags["teacher_folder"] = str(folders[job["teacher"]])
    known = yaml_keys(RECIPE / STAGES[stage][1])
    if plan["corpus"].get("eval_2021") and "eval_2021_folder" in known:
        flags["eval_2021_folder"] = str(data_folder)
    if device is not None:
        flags["device"] = device
    flags.update({k: v for k, v in plan["flags"].items() if k in known})
    flags.update(plan["stage_flags"].get(stage, {}))
    flags.update(job.get("flags", {}))
    return flags


def job_needs(folders, job, flags):
    """The jobs whose output a job reads: those whose folder a flag names.

    Arguments
    ---------
    folders : dict
        Job name -> output folder (one seed).
    job : dict
        The job.
    flags : dict
        Its flags (``job_flags``); a value may be a list, and a
        robustness ``model`` reads ``name=folder``.

    Returns
    -------
    needs : set of str
        Names of the other jobs it needs (and the job it ``continues``).

    Example
    -------
    >>> from pathlib import Path
    >>> folders = {"t": Path("/r/t"), "t2": Path("/r/t2"), "s": Path("/r/s")}
    >>> sorted(job_needs(folders, {"name": "s"}, {
    ...     "output_folder": "/r/s", "teacher_folder": "/r/t",
    ...     "model": ["x=/r/t2"], "adversarial_csv": "/r/t2x/a.csv"}))
    ['t', 't2']
    """
    values = []
    for value in flags.values():
        for item in value if isinstance(value, list) else [value]:
            text = str(item)
            values += [text, text.split("=", 1)[-1]]
    return {
        name
        for name, folder in folders.items()
        if name != job["name"]
        and any(v == str(folder) or v.startswith(f"{folder}/") for v in values)
    } | ({job["continues"]} if "continues" in job else set())


def robustness_flags(job, folders, data_folder, seed):
    """The arguments of a robustness job (``evaluate_robustness.py``).

    Arguments
    ---------
    job : dict
        ``models`` (jobs attacked white-box), optional ``transfer`` (pairs
        ``[crafted on, scored by]`` of those models), ``compare`` (pairs
        ``[a, b]`` of those models, compared by a paired bootstrap) and
        ``flags`` (the script's other options, e.g. ``budgets``).
    folders : dict
        Job name -> output folder.
    data_folder : pathlib.Path
        The corpus.
    seed : int
        The seed of this run.

    Returns
    -------
    flags : dict
        Option name -> value; a list value repeats or extends the option.
    """
    models = job["models"]
    flags = {
        "data_folder": str(data_folder),
        "output_folder": str(folders[job["name"]]),
        "manifest_folder": str(folders[models[0]] / "manifests"),
        "model": [f"{name}={folders[name]}" for name in models],
        "transfer": [f"{a}={b}" for a, b in job.get("transfer", [])],
        "compare": [f"{a}={b}" for a, b in job.get("compare", [])],
        "seed": seed,
        "noprogressbar": True,
    }
    flags.update(job.get("flags", {}))
    return flags


def job_command(job, flags):
    """The command line of one job (run in the recipe folder).

    Arguments
    ---------
    job : dict
        The job.
    flags : dict
        Its flags.

    Returns
    -------
    command : list of str
        Python, the stage's script, its hparams file and the flags.
    """
    script, hparams, _ = STAGES[job["stage"]]
    if hparams is None:
        return [sys.executable, script] + argparse_arguments(flags)
    return [sys.executable, script, hparams] + [
        f"--{key}={format_value(value)}" for key, value in flags.items()
    ]


def run_job(job, flags, log_path):
    """Runs one stage as a subprocess, its output shown and kept.

    The output is passed on byte for byte, so that the stage's progress
    bars (redrawn with carriage returns) stay one line each.

    Arguments
    ---------
    job : dict
        The job.
    flags : dict
        Its flags.
    log_path : pathlib.Path
        File that keeps the output.
    """
    command = job_command(job, flags)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=RECIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        while chunk := process.stdout.read1(OUTPUT_CHUNK):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            log.write(chunk)
        if process.wait() != 0:
            raise RuntimeError(
                f"job {job['name']} failed ({process.returncode}): "
                f"see {log_path}"
            )


def argparse_arguments(flags):
    """Flags as argparse reads them: lists repeat, booleans are switches.

    Arguments
    ---------
    flags : dict
        Option name -> value.

    Returns
    -------
    arguments : list of str
        ``--key value`` pairs; a list under ``budgets`` gives ``--budgets
        v1 v2``, under another key ``--key v1 --key v2``; True gives
        ``--key`` alone and False nothing.

    Example
    -------
    >>> argparse_arguments(
    ...     {"model": ["a=x", "b=y"], "budgets": [0, 4], "quiet": True}
    ... )
    ['--model', 'a=x', '--model', 'b=y', '--budgets', '0', '4', '--quiet']
    """
    arguments = []
    for key, value in flags.items():
        if value is True:
            arguments.append(f"--{key}")
        elif key in NARGS_OPTIONS:
            arguments += [f"--{key}"] + [str(v) for v in value]
        elif isinstance(value, list):
            for item in value:
                arguments += [f"--{key}", str(item)]
        elif value is not False and value is not None:
            arguments += [f"--{key}", str(value)]
    return arguments


def format_value(value):
    """Writes a flag value as SpeechBrain's overrides read it (YAML).

    Arguments
    ---------
    value : object
        A number, string, boolean, None or list.

    Returns
    -------
    str
        The value as YAML flow text without spaces.
    """
    if isinstance(value, bool):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    return str(value)


def export_and_plot(name, folder, out, data_folder):
    """Exports a reported model as a model folder and draws its DET curves.

    The model folder (``export_model_folder``: best checkpoint by dev EER)
    is loaded back with ``SpoofDetector.from_hparams`` as a check; the DET
    curves per attack come from the job's eval score file and the corpus'
    eval protocol (``plot_score_file``).

    Arguments
    ---------
    name : str
        The job name.
    folder : pathlib.Path
        Its output folder.
    out : pathlib.Path
        ``<results>/<plan name>``: the model folder is
        ``<out>/<name>_model``, the plots ``<out>/<name>_plots``.
    data_folder : pathlib.Path
        The corpus (``LA/`` with the eval protocol).

    Returns
    -------
    paths : dict
        ``model_folder`` and ``det_plot`` (str).
    """
    from speechbrain_asd.evaluation import plot_score_file
    from speechbrain_asd.export import export_model_folder
    from speechbrain_asd.inference import SpoofDetector

    model_dir = export_model_folder(folder, out / f"{name}_model", True)
    SpoofDetector.from_hparams(source=str(model_dir))
    report = read_report(folder)
    det_plot, _ = plot_score_file(
        report["score_file"], data_folder / EVAL_PROTOCOL, out / f"{name}_plots"
    )
    print(f"{name}: model folder {model_dir}, DET plot {det_plot}", flush=True)
    return {"model_folder": str(model_dir), "det_plot": str(det_plot)}


def load_timings(path):
    """Reads the measured job durations of earlier runs.

    Arguments
    ---------
    path : pathlib.Path
        ``<results>/<name>/timings.json``.

    Returns
    -------
    timings : dict
        Job name -> {seed (str) -> seconds}; empty when the file is absent.
    """
    return read_json(path) if path.is_file() else {}


def record_timing(path, name, seed, seconds):
    """Adds one job's duration and rewrites the timings file atomically.

    Arguments
    ---------
    path : pathlib.Path
        ``<results>/<name>/timings.json``.
    name : str
        The job name.
    seed : int
        The seed of the run.
    seconds : float
        How long the job ran, over all its runs (``finish_segment``).
    """
    timings = load_timings(path)
    timings.setdefault(name, {})[str(seed)] = round(seconds, 1)
    write_json(path, timings)


def segment_file(log_path):
    """The file that times a job's current run, beside its log.

    Arguments
    ---------
    log_path : pathlib.Path
        The job's log (``job_log``).

    Returns
    -------
    pathlib.Path
        ``<log>.segment.json``: when this run of the job started and how
        long its earlier, interrupted runs lasted.

    Example
    -------
    >>> from pathlib import Path
    >>> segment_file(Path("out/seed1/teacher.log")).name
    'teacher.log.segment.json'
    """
    return log_path.with_name(log_path.name + ".segment.json")


def interrupted_seconds(log_path):
    """How long a job ran in earlier runs that did not finish it.

    A run that was stopped (session end, kill, failure) leaves its segment
    file; it ran from the time written there until its log was last
    written. Call this before the job's log is opened again.

    Arguments
    ---------
    log_path : pathlib.Path
        The job's log (``job_log``).

    Returns
    -------
    float
        Seconds; 0 for a job never started or always finished.
    """
    path = segment_file(log_path)
    if not path.is_file():
        return 0.0
    segment = read_json(path)
    ran = (
        log_path.stat().st_mtime - segment["started"]
        if log_path.is_file()
        else 0
    )
    return segment["earlier"] + max(0.0, ran)


def start_segment(log_path, earlier):
    """Notes that a job starts (again), after ``earlier`` seconds of runs.

    Arguments
    ---------
    log_path : pathlib.Path
        The job's log (``job_log``).
    earlier : float
        From ``interrupted_seconds``.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(
        segment_file(log_path), {"started": time.time(), "earlier": earlier}
    )


def finish_segment(log_path):
    """A finished job's time over all its runs; forgets its segment file.

    Arguments
    ---------
    log_path : pathlib.Path
        The job's log (``job_log``).

    Returns
    -------
    float
        Seconds: this run's plus the earlier, interrupted runs'.
    """
    path = segment_file(log_path)
    segment = read_json(path)
    path.unlink()
    return segment["earlier"] + time.time() - segment["started"]


def estimate_seconds(plan, job, timings):
    """How long a job should take: measured here, or the plan's guess.

    The job's own durations (any seed) come first, then those of the jobs
    of the same stage, then the plan's ``expected_minutes`` of the stage.

    Arguments
    ---------
    plan : dict
        From ``load_plan``.
    job : dict
        The job.
    timings : dict
        From ``load_timings``.

    Returns
    -------
    seconds : float or None
        None when nothing is known.
    """
    own = list(timings.get(job["name"], {}).values())
    if own:
        return statistics.fmean(own)
    same_stage = [
        seconds
        for other in plan["jobs"]
        if other["stage"] == job["stage"]
        for seconds in timings.get(other["name"], {}).values()
    ]
    if same_stage:
        return statistics.fmean(same_stage)
    minutes = plan.get("expected_minutes", {}).get(job["stage"])
    return None if minutes is None else 60.0 * minutes


def format_duration(seconds):
    """A duration for a progress line: ``42 s``, ``13 min`` or ``2 h 05``.

    Arguments
    ---------
    seconds : float
        The duration.

    Returns
    -------
    str
        The rounded duration.

    Example
    -------
    >>> format_duration(42.4), format_duration(780), format_duration(7500)
    ('42 s', '13 min', '2 h 05')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d}"


def time_left(plan, pending, timings):
    """The estimated time of the jobs still to run, as text.

    Arguments
    ---------
    plan : dict
        From ``load_plan``.
    pending : list of dict
        The jobs not yet done (over every seed still to run).
    timings : dict
        From ``load_timings``.

    Returns
    -------
    str
        E.g. ``about 1 h 20 left`` or ``about 40 min left (+3 jobs not
        yet timed)``.
    """
    estimates = [estimate_seconds(plan, job, timings) for job in pending]
    known = sum(e for e in estimates if e is not None)
    unknown = sum(e is None for e in estimates)
    text = f"about {format_duration(known)} left"
    if unknown:
        text += f" (+{unknown} jobs not yet timed)"
    return text


def run_seed(plan, seed, out, data_folder, progress, device=None):
    """Runs (or skips, when done) every job of the plan for one seed.

    Arguments
    ---------
    plan : dict
        From ``load_plan``.
    seed : int
        The seed.
    out : pathlib.Path
        ``<results>/<name>``.
    data_folder : pathlib.Path
        The corpus.
    progress : callable
        Called with no argument before a job runs (prints progress).
    device : str, optional
        The stages' ``--device``.

    Returns
    -------
    entries : list of dict
        The summary entries of the reported jobs.
    """
    folders = seed_folders(plan, out, seed)
    for job in plan["jobs"]:
        if not runs_for(job, seed) or job_done(folders[job["name"]], job):
            continue
        progress()
        log_path = job_log(out, seed, job["name"])
        start_segment(log_path, interrupted_seconds(log_path))
        flags = job_flags(plan, job, folders, data_folder, seed, device)
        continue_from(job, folders)
        run_job(job, flags, log_path)
        seconds = finish_segment(log_path)
        record_timing(out / TIMINGS_FILE, job["name"], seed, seconds)
        print(f"{job['name']} (seed {seed}): {seconds:.0f} s", flush=True)
    return seed_entries(plan, seed, out, data_folder)


def threads_per_job(workers, environ=None, cores=None):
    """The OpenMP threads each of ``workers`` parallel jobs gets.

    Jobs side by side would each start as many threads as the machine has
    cores; they share the cores instead, unless ``OMP_NUM_THREADS`` is
    already set (then every job inherits it).

    Arguments
    ---------
    workers : int
        Jobs at once.
    environ : Mapping, optional
        The runner's environment (default: ``os.environ``).
    cores : int, optional
        The machine's cores (default: ``os.cpu_count()``).

    Returns
    -------
    dict
        ``{"OMP_NUM_THREADS": n}`` to set for every job, or empty.

    Example
    -------
    >>> threads_per_job(2, environ={}, cores=16)
    {'OMP_NUM_THREADS': '8'}
    >>> threads_per_job(4, environ={}, cores=2)
    {'OMP_NUM_THREADS': '1'}
    >>> threads_per_job(2, environ={"OMP_NUM_THREADS": "3"}, cores=16)
    {}
    >>> threads_per_job(1, environ={}, cores=16)
    {}
    """
    environ = os.environ if environ is None else environ
    if workers <= 1 or "OMP_NUM_THREADS" in environ:
        return {}
    cores = cores or os.cpu_count() or 1
    return {"OMP_NUM_THREADS": str(max(1, cores // workers))}


def run_parallel(plan, seeds, out, data_folder, workers, device=None):
    """Runs the pending jobs of every seed, up to ``workers`` at once.

    Each job starts once the jobs whose folders its flags name are done
    (``job_needs``); a job whose need failed is not run. The jobs share the
    cores (``threads_per_job``).

    Arguments
    ---------
    plan : dict
        From ``load_plan``.
    seeds : list of int
        The seeds.
    out : pathlib.Path
        ``<results>/<name>``.
    data_folder : pathlib.Path
        The corpus.
    workers : int
        Jobs at once.
    device : str, optional
        The stages' ``--device``.

    Raises
    ------
    RuntimeError
        When a job failed (or was skipped for it), naming its log.
    """
    tasks = []
    earlier = {}
    job_and_folders = {}
    threads = threads_per_job(workers)
    for seed, job in pending_jobs(plan, seeds, out):
        folders = seed_folders(plan, out, seed)
        job_and_folders[seed, job["name"]] = (job, folders)
        flags = job_flags(plan, job, folders, data_folder, seed, device)
        needs = job_needs(folders, job, flags)
        log_path = job_log(out, seed, job["name"])
        earlier[seed, job["name"]] = interrupted_seconds(log_path)
        tasks.append(
            Task(
                key=(seed, job["name"]),
                command=job_command(job, flags),
                log_path=log_path,
                cwd=RECIPE,
                needs={(seed, name) for name in needs},
                env=threads,
            )
        )
    start = time.perf_counter()
    ended = []

    def on_start(task):
        """Notes and prints that a job started."""
        seed, name = task.key
        continue_from(*job_and_folders[task.key])
        start_segment(task.log_path, earlier[task.key])
        print(f"{name} (seed {seed}): started -> {task.log_path}", flush=True)

    def on_finish(task, outcome, seconds):
        """Keeps a finished job's time and prints where the run stands."""
        seed, name = task.key
        ended.append(task.key)
        if outcome == DONE:
            seconds = finish_segment(task.log_path)
            record_timing(out / TIMINGS_FILE, name, seed, seconds)
        elapsed = format_duration(time.perf_counter() - start)
        print(
            f"[{len(ended)}/{len(tasks)}] {name} (seed {seed}): {outcome} "
            f"after {format_duration(seconds)}; {elapsed} elapsed",
            flush=True,
        )

    outcomes = run_tasks(tasks, workers, on_start, on_finish)
    failed = [
        f"{name} (seed {seed}): {outcome}, see {job_log(out, seed, name)}"
        for (seed, name), outcome in outcomes.items()
        if outcome != DONE
    ]
    if failed:
        raise RuntimeError("jobs not done: " + "; ".join(failed))


def seed_folders(plan, out, seed):
    """The output folder of every job of the plan for one seed.

    Arguments
    ---------
    plan : dict
        From ``load_plan``.
    out : pathlib.Path
        ``<results>/<name>``.
    seed : int
        The seed.

    Returns
    -------
    dict
        Job name -> ``job_folder``.
    """
    return {
        job["name"]: job_folder(out, seed, job["name"]) for job in plan["jobs"]
    }


def seed_entries(plan, seed, out, data_folder):
    """The summary entries of a seed's reported jobs, exports made.

    Arguments
    ---------
    plan : dict
        From ``load_plan``.
    seed : int
        The seed.
    out : pathlib.Path
        ``<results>/<name>``.
    data_folder : pathlib.Path
        The corpus.

    Returns
    -------
    entries : list of dict
        One per reported job that runs for the seed.
    """
    folders = seed_folders(plan, out, seed)
    jobs = {job["name"]: job for job in plan["jobs"]}
    entries = [
        summary_entry(name, folders[name], seed)
        for name in plan["report"]
        if runs_for(jobs[name], seed)
    ]
    for entry in entries:
        if entry["name"] in plan["export"]:
            entry.update(
                export_and_plot(
                    entry["name"], folders[entry["name"]], out, data_folder
                )
            )
    return entries


def job_folder(out, seed, name):
    """The output folder of a job for a seed.

    Arguments
    ---------
    out : pathlib.Path
        ``<results>/<name>``.
    seed : int
        The seed.
    name : str
        The job name.

    Returns
    -------
    pathlib.Path
        ``<out>/seed<seed>/<name>``.
    """
    return out / f"seed{seed}" / name


def job_log(out, seed, name):
    """The file that keeps a job's output for a seed, beside its folder.

    Arguments
    ---------
    out : pathlib.Path
        ``<results>/<name>``.
    seed : int
        The seed.
    name : str
        The job name.

    Returns
    -------
    pathlib.Path
        ``<out>/seed<seed>/<name>.log``.
    """
    return job_folder(out, seed, name).parent / f"{name}.log"


def job_done(folder, job):
    """Whether a job has written the file its stage ends with.

    Arguments
    ---------
    folder : pathlib.Path
        The job's output folder.
    job : dict
        The job (its ``stage``).

    Returns
    -------
    bool
        True when the stage's last output exists.
    """
    return (folder / STAGES[job["stage"]][2]).is_file()


def pending_jobs(plan, seeds, out):
    """The jobs not yet done, over the seeds to run.

    Arguments
    ---------
    plan : dict
        From ``load_plan``.
    seeds : list of int
        The seeds of this run.
    out : pathlib.Path
        ``<results>/<name>``.

    Returns
    -------
    pending : list of (int, dict)
        ``(seed, job)`` in running order.
    """
    return [
        (seed, job)
        for seed in seeds
        for job in plan["jobs"]
        if runs_for(job, seed)
        and not job_done(job_folder(out, seed, job["name"]), job)
    ]


def progress_line(plan, seeds, out, total, start):
    """Where a run stands, before its next job: count, elapsed, time left.

    Arguments
    ---------
    plan : dict
        From ``load_plan``.
    seeds : list of int
        The seeds of this run.
    out : pathlib.Path
        ``<results>/<name>`` (job outputs and ``timings.json``).
    total : int
        Jobs this run had to do when it started.
    start : float
        ``time.perf_counter()`` at the start of the run.

    Returns
    -------
    str
        E.g. ``[3/12] teacher_none (teacher, seed 1): running; 20 min
        elapsed, about 1 h 05 left``.
    """
    pending = pending_jobs(plan, seeds, out)
    seed, job = pending[0]
    left = time_left(
        plan, [j for _, j in pending], load_timings(out / TIMINGS_FILE)
    )
    elapsed = format_duration(time.perf_counter() - start)
    return (
        f"[{total - len(pending) + 1}/{total}] {job['name']} "
        f"({job['stage']}, seed {seed}): running; {elapsed} elapsed, {left}"
    )


def ge2e_asv_scores(plan, out, seed, split):
    """An ASV score file of a seed's GE2E job, if there is one.

    Arguments
    ---------
    plan : dict
        From ``load_plan``.
    out : pathlib.Path
        ``<results>/<name>``.
    seed : int
        The seed.
    split : str
        ``dev`` or ``eval``.

    Returns
    -------
    path : pathlib.Path or None
        The file, or None when the plan has no GE2E job or it wrote none.
    """
    for job in plan["jobs"]:
        if job["stage"] == "ge2e":
            path = job_folder(out, seed, job["name"]) / ASV_FILE.format(
                split=split
            )
            return path if path.is_file() else None
    return None


def main(argv=None):
    """Runs the plan of an override file for one or more seeds.

    Arguments
    ---------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "plan", help="override file, e.g. pipelines/overrides/demo.yaml"
    )
    parser.add_argument(
        "--seed", type=int, nargs="+", default=None, help="run seed(s)"
    )
    parser.add_argument(
        "--results", default="results", help="results folder (repo-relative)"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help=f"run nothing: write the tables of the jobs already finished "
        f"to <results>/<name>/{INTERIM_FOLDER} (e.g. while a run goes on)",
    )
    parser.add_argument(
        "--device", default=None, help="every stage's device, e.g. cuda"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="jobs run at once (output in their logs only)",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    plan = load_plan(args.plan)
    seeds = args.seed or [plan.get("seed", 1986)]
    out = (ROOT / args.results / plan["name"]).resolve()
    start = time.perf_counter()
    if args.report_only:
        data_folder = (ROOT / plan["corpus"]["folder"]).resolve()
        entries = finished_entries(plan, seeds, out)
        print(
            f"{plan['name']}: {len(entries)} reported models finished over "
            f"seeds {seeds}; {len(pending_jobs(plan, seeds, out))} jobs left",
            flush=True,
        )
        tables = out / INTERIM_FOLDER
        write_tables(plan, out, tables, entries, data_folder, seeds)
        print(f"{plan['name']}: tables of finished jobs -> {tables}")
        return 0
    data_folder = ensure_corpus(plan["corpus"], ROOT)
    total = len(pending_jobs(plan, seeds, out))

    def progress():
        """Prints the progress line of the job about to run."""
        print(progress_line(plan, seeds, out, total, start), flush=True)

    print(f"{plan['name']}: {total} jobs to run over seeds {seeds}", flush=True)
    if args.jobs > 1:
        run_parallel(plan, seeds, out, data_folder, args.jobs, args.device)
    entries = []
    for seed in seeds:
        if args.jobs > 1:
            entries_of_seed = seed_entries(plan, seed, out, data_folder)
        else:
            entries_of_seed = run_seed(
                plan, seed, out, data_folder, progress, args.device
            )
        write_summary(out, entries_of_seed)
        write_asv_tables(plan, out, out, [seed])
        entries += entries_of_seed
    write_tables(plan, out, out, entries, data_folder, seeds)
    print(f"{plan['name']}: {time.perf_counter() - start:.0f} s -> {out}")
    return 0


def finished_entries(plan, seeds, out):
    """The summary entries of the reported jobs already finished.

    Arguments
    ---------
    plan : dict
        From ``load_plan``.
    seeds : list of int
        The seeds to look at.
    out : pathlib.Path
        ``<results>/<name>``.

    Returns
    -------
    entries : list of dict
        One per finished reported job and seed (``summary_entry``).
    """
    stages = {job["name"]: job for job in plan["jobs"]}
    return [
        summary_entry(name, job_folder(out, seed, name), seed)
        for seed in seeds
        for name in plan["report"]
        if job_done(job_folder(out, seed, name), stages[name])
    ]


def write_asv_tables(plan, out, tables, seeds):
    """Writes the ASV summary of the finished speaker-side jobs.

    Arguments
    ---------
    plan : dict
        From ``load_plan``.
    out : pathlib.Path
        ``<results>/<name>``, where the jobs' folders are.
    tables : pathlib.Path
        Where ``asv_summary.json`` and ``asv_summary.md`` go (merged with
        the seeds already there).
    seeds : list of int
        The seeds whose finished jobs to read.

    Returns
    -------
    str
        The tables; "" (and nothing written) for a plan without
        ``ASV_STAGES`` jobs.
    """
    jobs = [job for job in plan["jobs"] if job["stage"] in ASV_STAGES]
    if not jobs:
        return ""
    entries = [
        asv_entry(job["name"], job_folder(out, seed, job["name"]), seed)
        for seed in seeds
        for job in jobs
        if job_done(job_folder(out, seed, job["name"]), job)
    ]
    return write_asv_summary(tables, entries)


def write_tables(plan, out, tables, entries, data_folder, run_seeds):
    """Writes and prints the tables of the finished jobs.

    The summary, training curves, 2021 grid, paired comparisons,
    robustness and ASV tables, each from the jobs (and seeds) that have
    finished.

    Arguments
    ---------
    plan : dict
        From ``load_plan``.
    out : pathlib.Path
        ``<results>/<name>``, where the jobs' folders are.
    tables : pathlib.Path
        Where the tables go (``out`` itself after a run).
    entries : list of dict
        The summary entries of this run's seeds (merged with those of the
        seeds already in ``tables``).
    data_folder : pathlib.Path
        The corpus (its eval protocol).
    run_seeds : list of int
        The seeds of this run (the ASV jobs read; the ASV summary merges
        them with the seeds already in ``tables``).
    """
    tables.mkdir(parents=True, exist_ok=True)
    merged = write_summary(tables, entries)
    seeds = sorted({entry["seed"] for entry in merged})
    if merged:
        print(markdown_table(merged))
        print(curves_table(merged))
    table_2021 = eval_2021_table(merged)
    if table_2021:
        print(table_2021)
    if plan.get("comparisons"):
        comparisons = write_comparisons(
            tables,
            plan,
            seeds,
            lambda seed, name: job_folder(out, seed, name),
            data_folder / EVAL_PROTOCOL,
            lambda seed: ge2e_asv_scores(plan, out, seed, "eval"),
        )
        print(seeds_table(comparisons))
        print(comparisons_table(comparisons))
    for job in plan["jobs"]:
        if job["stage"] != "robustness":
            continue
        done = [
            job_folder(out, seed, job["name"]) / STAGES["robustness"][2]
            for seed in seeds
        ]
        reports = [read_json(path) for path in done if path.is_file()]
        if reports:
            print(write_robustness(tables, reports))
    print(write_timings(tables, plan, load_timings(out / TIMINGS_FILE), seeds))
    tandem = write_tandem(
        tables,
        merged,
        lambda seed, split: ge2e_asv_scores(plan, out, seed, split),
        lambda split: data_folder / ASV_PROTOCOL.format(split=split),
    )
    if tandem:
        print(tandem)
    asv_tables = write_asv_tables(plan, out, tables, run_seeds)
    if asv_tables:
        print(asv_tables)


if __name__ == "__main__":
    sys.exit(main())
