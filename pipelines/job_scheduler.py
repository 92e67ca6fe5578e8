"""Runs subprocess jobs in parallel, each once the jobs it needs are done.

The pipeline runner (``run_pipeline.py --jobs N``) hands it one task per job
and seed; on a machine with many cores or a GPU the independent jobs of a
plan (the teachers of a grid, the seeds) then run side by side. Each task's
output goes to its own log file.

Authors
 * speechbrain-asd developers
"""

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DONE, FAILED, SKIPPED = "done", "failed", "skipped"


@dataclass
class Task:
    """One command to run after the tasks it needs.

    Arguments
    ---------
    key : hashable
        The task's name (e.g. ``(seed, job name)``).
    command : list of str
        The command line.
    log_path : pathlib.Path
        File that keeps its stdout and stderr.
    cwd : pathlib.Path or str
        Its working folder.
    needs : set
        Keys of the tasks that must finish first; keys that are not among
        the tasks run count as done.
    env : dict
        Environment variables set for this task on top of the runner's.

    Example
    -------
    >>> Task("a", ["true"], Path("a.log"), ".").needs
    set()
    """

    key: object
    command: list
    log_path: Path
    cwd: object
    needs: set = field(default_factory=set)
    env: dict = field(default_factory=dict)


def run_tasks(tasks, workers, on_start=None, on_finish=None, poll_seconds=0.2):
    """Runs tasks, at most ``workers`` at once, each after its needs.

    Tasks start in the order given as soon as a worker is free and every
    task they need has finished. A task whose need failed (or was skipped)
    is skipped, not run.

    Arguments
    ---------
    tasks : list of Task
        The tasks; their keys are unique.
    workers : int
        How many run at once (at least 1).
    on_start : callable, optional
        Called with a task just before its process starts.
    on_finish : callable, optional
        Called with a task, its outcome (``"done"``, ``"failed"``,
        ``"skipped"``) and its wall time in seconds when it ends.
    poll_seconds : float
        How often the running tasks are checked.

    Returns
    -------
    outcomes : dict
        Key -> ``"done"``, ``"failed"`` or ``"skipped"``.

    Example
    -------
    >>> import sys, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> ok = [sys.executable, "-c", "pass"]
    >>> bad = [sys.executable, "-c", "raise SystemExit(3)"]
    >>> outcomes = run_tasks(
    ...     [
    ...         Task("a", ok, folder / "a.log", folder),
    ...         Task("b", bad, folder / "b.log", folder),
    ...         Task("c", ok, folder / "c.log", folder, needs={"b"}),
    ...     ],
    ...     workers=2,
    ... )
    >>> outcomes == {"a": "done", "b": "failed", "c": "skipped"}
    True
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    keys = [task.key for task in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("task keys must be unique")
    known = set(keys)
    waiting = list(tasks)
    running = {}
    outcomes = {}

    def finish(task, outcome, seconds):
        """Records a task's outcome and reports it."""
        outcomes[task.key] = outcome
        if on_finish is not None:
            on_finish(task, outcome, seconds)

    while waiting or running:
        started_or_skipped = True
        while started_or_skipped:
            started_or_skipped = False
            for task in list(waiting):
                needs = task.needs & known
                if any(outcomes.get(k) in (FAILED, SKIPPED) for k in needs):
                    waiting.remove(task)
                    finish(task, SKIPPED, 0.0)
                    started_or_skipped = True
                elif len(running) < workers and all(
                    outcomes.get(k) == DONE for k in needs
                ):
                    waiting.remove(task)
                    if on_start is not None:
                        on_start(task)
                    running[task.key] = (task, *_start(task))
                    started_or_skipped = True
        if waiting and not running:
            raise ValueError(
                "tasks wait on each other: "
                + ", ".join(str(t.key) for t in waiting)
            )
        time.sleep(poll_seconds)
        for key, (task, process, log, begin) in list(running.items()):
            if process.poll() is None:
                continue
            log.close()
            del running[key]
            outcome = DONE if process.returncode == 0 else FAILED
            finish(task, outcome, time.perf_counter() - begin)
    return outcomes


def _start(task):
    """Starts a task's process, its output into its log file."""
    task.log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(task.log_path, "wb")
    process = subprocess.Popen(
        task.command,
        cwd=task.cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **task.env},
    )
    return process, log, time.perf_counter()
