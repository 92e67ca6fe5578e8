"""Generates the offline ASVspoof-LA-style corpus: the one entry point.

``make_toy_corpus`` plans the corpus from the seed, renders every file in
parallel worker processes (each file seeded from ``(seed, index)``, so the
result does not depend on the number of workers), writes the protocols, ASV
lists and augmentation sets, then makes the ASVspoof 2021 LA-style eval
part from the 2019 eval split just written (``eval_2021``), and finally
the marker file ``toy_corpus.json`` (seed, size, speakers, systems, the
2021 part). Everything is written into a hidden temporary folder next to
the output folder, which is renamed into place at the very end: a folder
either holds a complete corpus or nothing of this run.

Re-running into an existing folder skips when it holds a complete corpus
of the same seed and size, and refuses (``ValueError``) when it holds one
of another seed or size, or anything else. A complete corpus of the same
seed and size made before the 2021 part existed (its marker does not
record one) gets the 2021 part added in place, its 2019 part untouched:
the part is made in a hidden ``.eval_2021.partial-*`` folder inside the
corpus, ``ASVspoof2021_LA_eval/`` and ``keys/`` are moved into place and
the marker is rewritten atomically last, so a failure leaves the corpus as
it was. A run killed hard may leave a hidden ``.<name>.partial-*`` folder
next to the output, or ``.eval_2021.partial-*`` inside it: delete it.

The noise and RIR CSVs (``augmentation/{noise,rir}.csv``) give absolute
paths to the corpus folder as first written; after moving the corpus,
generate it again (the protocols, being relative, still work).

Authors
 * speechbrain-asd developers
"""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from speechbrain.utils.logger import get_logger

from asd_toy_corpus.augmentation_sets import write_augmentation_sets
from asd_toy_corpus.eval_2021 import make_eval_2021
from asd_toy_corpus.layout import EVAL_2021, KEYS, write_protocols
from asd_toy_corpus.parallel import parallel_map
from asd_toy_corpus.plan import SIZES, make_plan
from asd_toy_corpus.render import render_item
from asd_toy_corpus.summary import MARKER, summarize_corpus
from asd_toy_corpus.systems import SYSTEMS
from asd_toy_corpus.tools import ToolError, missing_tools
from speechbrain_asd.atomic import write_text_atomic

logger = get_logger(__name__)

DEFAULT_SEED = 1234
DEFAULT_WORKERS = 2
FORMAT_VERSION = 2  # 2: the ASVspoof 2021 LA-style eval part ("eval_2021")
PARTIAL_2021 = ".eval_2021.partial-"


def _read_marker(path):
    """Reads the marker of a complete corpus.

    Arguments
    ---------
    path : pathlib.Path
        The marker file.

    Returns
    -------
    dict
        Its content.

    Raises
    ------
    ValueError
        When it is not a JSON object with ``seed`` and ``size``.
    """
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{path}: unreadable corpus marker ({error})"
        ) from error
    if not isinstance(content, dict) or not {"seed", "size"} <= set(content):
        raise ValueError(f"{path}: corpus marker without seed and size")
    return content


def existing_corpus(out_dir, seed, size):
    """Tells whether a folder already holds the asked corpus.

    Arguments
    ---------
    out_dir : str or os.PathLike
        The output folder.
    seed : int
        The asked seed.
    size : str
        The asked size.

    Returns
    -------
    bool
        True when it holds a complete corpus of this seed and size, False
        when it does not exist or is empty.

    Raises
    ------
    ValueError
        When it holds a corpus of another seed or size, an incomplete
        corpus, or other files: never mix two corpora.

    Example
    -------
    >>> existing_corpus(getfixture("tmp_path") / "new", 1, "small")
    False
    """
    out = Path(out_dir)
    if not out.exists():
        return False
    if not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    marker = out / MARKER
    if marker.exists():
        content = _read_marker(marker)
        if content["seed"] == seed and content["size"] == size:
            return True
        raise ValueError(
            f"{out} already holds a toy corpus made with seed "
            f"{content['seed']} and size {content['size']!r}, not seed {seed} "
            f"and size {size!r}; remove it or choose another folder"
        )
    if any(out.iterdir()):
        raise ValueError(
            f"{out} is not empty but holds no complete toy corpus (no "
            f"{MARKER}): an interrupted run or other files; remove it or "
            "choose another folder"
        )
    return False


def _render_task(task):
    """Renders one file in a worker process.

    Arguments
    ---------
    task : tuple
        ``(item, seed, root)``.

    Returns
    -------
    tuple
        ``(utt_id, duration)``.
    """
    item, seed, root = task
    return render_item(item, seed, root)


def _render_all(plan, root, workers, progress):
    """Renders every planned file, in parallel when ``workers > 1``.

    Arguments
    ---------
    plan : CorpusPlan
        The corpus plan.
    root : pathlib.Path
        Where to write.
    workers : int
        Number of worker processes.
    progress : bool
        Whether to show a progress bar.

    Returns
    -------
    float
        Total audio duration in seconds.
    """
    tasks = [(item, plan.seed, os.fspath(root)) for item in plan.items]
    results = parallel_map(_render_task, tasks, workers, progress, "toy corpus")
    return sum(d for _, d in results)


def _add_eval_2021(out, marker, workers, progress):
    """Adds the 2021 part to a complete corpus that lacks it, in place.

    Arguments
    ---------
    out : pathlib.Path
        The corpus folder.
    marker : dict
        Its marker's content (without ``eval_2021``).
    workers : int
        Number of worker processes.
    progress : bool
        Whether to show a progress bar.

    Raises
    ------
    ValueError
        When the corpus already holds a 2021 folder its marker does not
        record (a run killed while moving it into place, or other files).
    """
    for name in (EVAL_2021, KEYS):
        if (out / name).exists():
            raise ValueError(
                f"{out / name} exists but {out / MARKER} records no 2021 "
                "part (an interrupted run or other files); remove it"
            )
    logger.warning(
        "%s holds the toy corpus (seed %d, size %s) without its ASVspoof "
        "2021 LA eval part: adding it, the 2019 part untouched",
        out,
        marker["seed"],
        marker["size"],
    )
    temporary = Path(tempfile.mkdtemp(prefix=PARTIAL_2021, dir=out))
    moved = []
    try:
        info = make_eval_2021(out, temporary, marker["seed"], workers, progress)
        for name in (EVAL_2021, KEYS):
            os.replace(temporary / name, out / name)
            moved.append(name)
        marker.update(format_version=FORMAT_VERSION, eval_2021=info)
        write_text_atomic(out / MARKER, json.dumps(marker, indent=2))
    except BaseException:
        for name in moved:
            shutil.rmtree(out / name, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    logger.info(
        "added %s/ and %s/ to %s and recorded them in %s",
        EVAL_2021,
        KEYS,
        out,
        MARKER,
    )


def make_toy_corpus(
    out_dir,
    seed=DEFAULT_SEED,
    size="default",
    progress=True,
    workers=DEFAULT_WORKERS,
):
    """Generates the offline ASVspoof 2019 LA-style corpus and 2021 eval part.

    Arguments
    ---------
    out_dir : str or os.PathLike
        The folder to create; it receives ``LA/`` (the ASVspoof 2019 LA
        layout), ``ASVspoof2021_LA_eval/`` and ``keys/`` (the ASVspoof 2021
        LA-style eval part), ``augmentation/`` (noise and RIR sets with
        their CSVs) and the marker ``toy_corpus.json``.
    seed : int
        Seed of everything random; the same seed and size give identical
        protocols and audio.
    size : str
        ``"small"`` (tests and debug runs) or ``"default"``.
    progress : bool
        Whether to show a progress bar.
    workers : int
        Number of worker processes (the result does not depend on it).

    Returns
    -------
    dict
        The summary of ``summarize_corpus`` plus ``skipped`` (True when the
        folder already held this corpus, 2021 part included) and
        ``generation_seconds`` (of what this call made).

    Raises
    ------
    ValueError
        For a bad seed, size or worker count, a folder holding something
        else (see ``existing_corpus``), or a corpus holding a 2021 folder
        that its marker does not record.
    FileNotFoundError
        When a speech package is missing (naming the Debian package), or a
        2019 eval file the 2021 part is made from.
    ToolError
        When sox, codec2 or espeak-ng is missing (naming the package).

    Example
    -------
    >>> make_toy_corpus(getfixture("tmp_path") / "corpus", size="tiny")
    Traceback (most recent call last):
    ...
    ValueError: unknown corpus size 'tiny'; choose one of small, default
    """
    if size not in SIZES:
        raise ValueError(
            f"unknown corpus size {size!r}; choose one of {', '.join(SIZES)}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    out = Path(out_dir).absolute()
    if existing_corpus(out, seed, size):
        marker = _read_marker(out / MARKER)
        if "eval_2021" in marker:
            logger.warning(
                "%s already holds the toy corpus (seed %d, size %s): skipping",
                out,
                seed,
                size,
            )
            summary = summarize_corpus(out)
            summary.update(skipped=True, generation_seconds=0.0)
            return summary
        start = time.perf_counter()
        _add_eval_2021(out, marker, workers, progress)
        summary = summarize_corpus(out)
        elapsed = round(time.perf_counter() - start, 2)
        summary.update(skipped=False, generation_seconds=elapsed)
        return summary
    missing = missing_tools()
    if missing:
        raise ToolError(
            "the toy corpus needs these tools: " + ", ".join(missing)
        )
    start = time.perf_counter()
    plan = make_plan(seed, size)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(
        tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent)
    )
    try:
        seconds = _render_all(plan, temporary, workers, progress)
        write_protocols(temporary, plan)
        corpus_size = SIZES[size]
        write_augmentation_sets(
            temporary / "augmentation",
            out / "augmentation",
            corpus_size.noises,
            corpus_size.rirs,
            seed,
        )
        eval_2021 = make_eval_2021(
            temporary, temporary, seed, workers, progress
        )
        marker = {
            "format_version": FORMAT_VERSION,
            "seed": seed,
            "size": size,
            "files": len(plan.items),
            "audio_seconds": round(seconds, 2),
            "speakers": list(plan.speakers),
            "systems": {
                sid: {"family": s.family, "seen": s.seen}
                for sid, s in SYSTEMS.items()
            },
            "eval_2021": eval_2021,
        }
        (temporary / MARKER).write_text(
            json.dumps(marker, indent=2), encoding="utf-8"
        )
        if out.exists():
            out.rmdir()  # empty, checked by existing_corpus
        os.replace(temporary, out)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    elapsed = time.perf_counter() - start
    logger.info(
        "toy corpus: %d files (%.0f s of audio) in %s, %.1f s",
        len(plan.items),
        seconds,
        out,
        elapsed,
    )
    summary = summarize_corpus(out)
    summary.update(skipped=False, generation_seconds=round(elapsed, 2))
    return summary
