"""Tests of the parallel job runner of the pipelines (``job_scheduler``).

Authors
 * speechbrain-asd developers
"""

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "pipelines"))

from job_scheduler import Task, run_tasks  # noqa: E402

# Writes <name>.start, then waits (at most argv[4] seconds) for <other>.start:
# two such tasks both succeed only if they run at the same time.
RENDEZVOUS = (
    "import pathlib, sys, time\n"
    "folder, name, other = pathlib.Path(sys.argv[1]), sys.argv[2], "
    "sys.argv[3]\n"
    "wait = float(sys.argv[4])\n"
    "(folder / f'{name}.start').touch()\n"
    "deadline = time.monotonic() + wait\n"
    "while not (folder / f'{other}.start').exists():\n"
    "    if time.monotonic() > deadline:\n"
    "        sys.exit(1)\n"
    "    time.sleep(0.05)\n"
)
# Appends its name to order.txt.
RECORD = (
    "import pathlib, sys\n"
    "with open(pathlib.Path(sys.argv[1]) / 'order.txt', 'a') as f:\n"
    "    f.write(sys.argv[2] + '\\n')\n"
)


def _task(folder, name, code, *args, needs=()):
    """A task running a Python snippet with the folder and name as args."""
    command = [sys.executable, "-c", code, str(folder), name, *args]
    return Task(name, command, folder / f"{name}.log", folder, set(needs))


def test_independent_tasks_run_side_by_side(tmp_path):
    """With two workers both halves of a rendezvous meet."""
    tasks = [
        _task(tmp_path, "a", RENDEZVOUS, "b", "60"),
        _task(tmp_path, "b", RENDEZVOUS, "a", "60"),
    ]
    assert run_tasks(tasks, workers=2) == {"a": "done", "b": "done"}


def test_one_worker_runs_one_task_at_a_time(tmp_path):
    """With one worker the first half of a rendezvous waits in vain."""
    tasks = [
        _task(tmp_path, "a", RENDEZVOUS, "b", "1"),
        _task(tmp_path, "b", RENDEZVOUS, "a", "1"),
    ]
    outcomes = run_tasks(tasks, workers=1)
    assert outcomes["a"] == "failed"


def test_a_task_starts_after_what_it_needs(tmp_path):
    """Needs order the tasks whatever their order in the list."""
    tasks = [
        _task(tmp_path, "student", RECORD, needs={"teacher"}),
        _task(tmp_path, "teacher", RECORD, needs={"ge2e"}),
        _task(tmp_path, "ge2e", RECORD),
        _task(tmp_path, "other", RECORD, needs={"not-a-task"}),
    ]
    started, finished = [], []
    outcomes = run_tasks(
        tasks,
        workers=4,
        on_start=lambda task: started.append(task.key),
        on_finish=lambda task, outcome, seconds: finished.append(
            (task.key, outcome, seconds >= 0)
        ),
    )
    assert set(outcomes.values()) == {"done"}
    order = (tmp_path / "order.txt").read_text().split()
    assert order.index("ge2e") < order.index("teacher")
    assert order.index("teacher") < order.index("student")
    assert sorted(started) == ["ge2e", "other", "student", "teacher"]
    assert all(ok for _, outcome, ok in finished if outcome == "done")
    assert (tmp_path / "ge2e.log").exists()


def test_on_start_runs_before_the_task_s_process(tmp_path):
    """What on_start prepares is there when the process begins."""
    reads = (
        "import pathlib, sys\n"
        "sys.exit(0 if (pathlib.Path(sys.argv[1]) / 'ready').exists() "
        "else 1)\n"
    )

    def prepare(task):
        """Prepares slowly: a process started first would not find it."""
        time.sleep(1.0)
        (tmp_path / "ready").touch()

    outcomes = run_tasks(
        [_task(tmp_path, "job", reads)], workers=1, on_start=prepare
    )
    assert outcomes == {"job": "done"}


def test_a_failed_need_skips_what_follows(tmp_path):
    """Tasks after a failure are skipped, the others still run."""
    fail = "import sys; sys.exit(2)"
    tasks = [
        _task(tmp_path, "ge2e", fail),
        _task(tmp_path, "teacher", RECORD, needs={"ge2e"}),
        _task(tmp_path, "student", RECORD, needs={"teacher"}),
        _task(tmp_path, "alone", RECORD),
    ]
    outcomes = run_tasks(tasks, workers=1)
    assert outcomes == {
        "ge2e": "failed",
        "teacher": "skipped",
        "student": "skipped",
        "alone": "done",
    }
    assert (tmp_path / "order.txt").read_text().split() == ["alone"]


def test_bad_task_lists_are_refused(tmp_path):
    """Cycles, repeated keys and no workers are errors, not hangs."""
    cycle = [
        _task(tmp_path, "a", RECORD, needs={"b"}),
        _task(tmp_path, "b", RECORD, needs={"a"}),
    ]
    with pytest.raises(ValueError, match="wait on each other"):
        run_tasks(cycle, workers=2)
    with pytest.raises(ValueError, match="unique"):
        run_tasks([cycle[0], cycle[0]], workers=1)
    with pytest.raises(ValueError, match="workers"):
        run_tasks([], workers=0)


def test_a_task_runs_with_its_environment(tmp_path, monkeypatch):
    """A task's env adds to (and overrides) the runner's environment."""
    monkeypatch.setenv("ASD_RUNNER_ONLY", "kept")
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    code = (
        "import os, pathlib, sys\n"
        "pathlib.Path(sys.argv[1], 'env.txt').write_text("
        "os.environ['ASD_RUNNER_ONLY'] + ' ' + os.environ['OMP_NUM_THREADS'])\n"
    )
    task = _task(tmp_path, "a", code)
    task.env = {"OMP_NUM_THREADS": "1"}
    assert run_tasks([task], workers=1) == {"a": "done"}
    assert (tmp_path / "env.txt").read_text() == "kept 1"
