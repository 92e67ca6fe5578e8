"""Makes the ASVspoof 2021 LA-style evaluation part of a corpus.

From a corpus folder whose 2019 part is complete: reads its 2019 eval
protocols and lists, plans the 2021 part (``plan_2021``), renders every
trial in parallel worker processes (``render_2021``; each seeded from its
own index, so the result does not depend on the number of workers),
enrols the eval speakers in the toy ASV system (``toy_asv``) on their
clean 2019 enrolment utterances, scores the 2021 ASV trials and writes the
trial list, keys and ASV scores (``layout.write_protocols_2021``).

Authors
 * speechbrain-asd developers
"""

import os
import time

import soundfile as sf
from speechbrain.utils.logger import get_logger

from asd_toy_corpus.layout import audio_path, write_protocols_2021
from asd_toy_corpus.parallel import parallel_map
from asd_toy_corpus.plan_2021 import plan_eval_2021, read_eval_2019
from asd_toy_corpus.render_2021 import render_trial_2021
from asd_toy_corpus.telephony_codecs import CODECS
from asd_toy_corpus.toy_asv import ToyASV, utterance_embedding
from asd_toy_corpus.transmission import TRANSMISSIONS

logger = get_logger(__name__)


def _render_task(task):
    """Renders one 2021 trial in a worker process.

    Arguments
    ---------
    task : tuple
        ``(trial, seed, source_root, out_root)``.

    Returns
    -------
    tuple
        ``(trial_id, duration, embedding)``.
    """
    return render_trial_2021(*task)


def _enrolment_embeddings(root, enrolment):
    """Embeds the clean 2019 enrolment utterances of each speaker.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder holding the 2019 eval audio.
    enrolment : dict
        Speaker -> its enrolment utterance ids.

    Returns
    -------
    dict
        Speaker -> list of embeddings.
    """
    embeddings = {}
    for speaker, utts in sorted(enrolment.items()):
        embeddings[speaker] = []
        for utt in utts:
            wave, sr = sf.read(audio_path(root, "eval", utt), dtype="float64")
            embeddings[speaker].append(utterance_embedding(wave, sr))
    return embeddings


def make_eval_2021(source_root, out_root, seed, workers=1, progress=False):
    """Renders the 2021 part of a corpus and writes its lists and keys.

    Arguments
    ---------
    source_root : str or os.PathLike
        The corpus folder with a complete 2019 part (protocols, lists and
        eval audio).
    out_root : str or os.PathLike
        The folder that receives ``ASVspoof2021_LA_eval/`` and ``keys/``
        (the corpus folder itself, or a temporary folder).
    seed : int
        The corpus seed.
    workers : int
        Number of worker processes (the result does not depend on it).
    progress : bool
        Whether to show a progress bar.

    Returns
    -------
    dict
        What the corpus marker records of the part: ``trials``,
        ``asv_trials``, ``codecs``, ``transmissions`` and
        ``audio_seconds``.

    Raises
    ------
    FileNotFoundError
        When a 2019 protocol, list or eval file is missing.

    Example
    -------
    >>> make_eval_2021(getfixture("tmp_path"), getfixture("tmp_path"), 1)
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...ASVspoof2019.LA.cm.train.trn.txt...
    """
    start = time.perf_counter()
    plan = plan_eval_2021(seed, read_eval_2019(source_root))
    tasks = [
        (trial, plan.seed, os.fspath(source_root), os.fspath(out_root))
        for trial in plan.trials
    ]
    results = sorted(
        parallel_map(_render_task, tasks, workers, progress, "toy 2021 part"),
        key=lambda result: result[0],
    )
    embeddings = {trial_id: embedding for trial_id, _, embedding in results}
    asv = ToyASV(_enrolment_embeddings(source_root, plan.enrolment))
    scores = [
        asv.score(t.speaker, embeddings[t.trial]) for t in plan.asv_trials
    ]
    write_protocols_2021(out_root, plan, scores)
    seconds = sum(duration for _, duration, _ in results)
    logger.info(
        "toy corpus 2021 part: %d trials (%.0f s of audio) and %d scored ASV "
        "trials in %s, %.1f s",
        len(plan.trials),
        seconds,
        len(plan.asv_trials),
        out_root,
        time.perf_counter() - start,
    )
    return {
        "trials": len(plan.trials),
        "asv_trials": len(plan.asv_trials),
        "codecs": list(CODECS),
        "transmissions": list(TRANSMISSIONS),
        "audio_seconds": round(seconds, 2),
    }
