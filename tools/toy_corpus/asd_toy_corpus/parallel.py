"""The worker pool that renders the corpus files.

Each task is a picklable tuple given to a top-level function; with more
than one worker the tasks run in forked worker processes (spawned where
fork is unavailable), otherwise in this process. Every file is seeded from
its own index, so results do not depend on the number of workers.

Authors
 * speechbrain-asd developers
"""

import multiprocessing

from tqdm import tqdm


def parallel_map(function, tasks, workers, progress, desc):
    """Runs a function on every task, in parallel when ``workers > 1``.

    Arguments
    ---------
    function : callable
        A top-level (picklable) function of one task.
    tasks : list
        The tasks.
    workers : int
        Number of worker processes.
    progress : bool
        Whether to show a progress bar.
    desc : str
        The progress bar's label.

    Returns
    -------
    list
        The results, in the order the tasks finished.

    Example
    -------
    >>> parallel_map(abs, [-1, 2, -3], 1, False, "numbers")
    [1, 2, 3]
    """
    bar = dict(total=len(tasks), disable=not progress, desc=desc, unit="file")
    if workers <= 1:
        return list(tqdm(map(function, tasks), **bar))
    # fork shares the loaded modules and source cache with the workers;
    # the workers use numpy, scipy, soundfile and subprocesses only.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context(
        "fork" if "fork" in methods else "spawn"
    )
    with context.Pool(workers) as pool:
        results = pool.imap_unordered(function, tasks, chunksize=4)
        return list(tqdm(results, **bar))
