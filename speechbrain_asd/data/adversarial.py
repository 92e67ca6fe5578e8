"""Adversarial example sets of AEG: same-speaker pairs, FLAC files, manifest.

Authors
 * speechbrain-asd developers
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import soundfile as sf
import torch
from speechbrain.utils.logger import get_logger
from tqdm import tqdm

from speechbrain_asd.atomic import atomic_output, write_csv_atomic
from speechbrain_asd.attacks import (
    KEEP_RULES,
    SAMPLE_SCALE,
    Rows,
    attacked_modules,
    bim_attack,
    check_attack_steps,
    load_audio_batch,
    max_samples_to_read,
    modules_device,
    rows_with_ids,
)
from speechbrain_asd.checks import check_choice, check_int
from speechbrain_asd.data.asvspoof import CM_HEADER, class_label

logger = get_logger(__name__)

ADVERSARIAL_SYSTEM = "adversarial"
ADVERSARIAL_KEY = "spoof"
ADVERSARIAL_LABEL = class_label(ADVERSARIAL_SYSTEM)
BONAFIDE_KEY = "bonafide"


@dataclass
class AEGStats:
    """Summary of one ``generate_adversarial_set`` run.

    Arguments
    ---------
    tried : int
        Pairs attacked.
    kept : int
        Adversarial examples that passed the filter and were written.
    mean_similarity : float
        Mean final cosine similarity over all pairs tried, of the float
        examples (before the 16-bit rounding of the files).
    mean_initial_similarity : float
        Mean cosine similarity before the attack over all pairs tried.
    manifest : str
        Path of the manifest written.

    Example
    -------
    >>> AEGStats(10, 4, 0.35, 0.3, "adv.csv").kept
    4
    """

    tried: int
    kept: int
    mean_similarity: float
    mean_initial_similarity: float
    manifest: str


def make_same_speaker_pairs(
    rows: Rows, n_pairs: int, seed: int = 0
) -> List[Tuple[dict, dict]]:
    """Draws distinct (reference, target) pairs of same-speaker bona fide rows.

    Speakers with at least two bona fide rows share the pairs as evenly as
    they allow; no ordered pair repeats and the list interleaves speakers,
    so any prefix stays balanced. The result depends only on the rows'
    content and ``seed``, not on their order.

    Arguments
    ---------
    rows : dict or Sequence[dict]
        Manifest rows with ``ID``, ``wav``, ``spk_id`` and ``key``: a list
        of dicts, or a dict ``{ID: row}`` as returned by
        ``speechbrain.dataio.dataio.load_data_csv``.
    n_pairs : int
        Number of pairs to draw.
    seed : int
        Seed of the draw.

    Returns
    -------
    pairs : List[Tuple[dict, dict]]
        ``(reference, target)`` rows (copies, each with its ``ID``):
        ``target`` is the waveform to perturb.

    Example
    -------
    >>> rows = [
    ...     {"ID": f"u{i}", "wav": f"u{i}.flac", "spk_id": f"s{i % 2}",
    ...      "key": "bonafide"}
    ...     for i in range(6)
    ... ]
    >>> pairs = make_same_speaker_pairs(rows, 4, seed=1)
    >>> [(ref["spk_id"], tgt["spk_id"]) for ref, tgt in pairs]
    [('s0', 's0'), ('s1', 's1'), ('s0', 's0'), ('s1', 's1')]
    >>> all(ref["ID"] != tgt["ID"] for ref, tgt in pairs)
    True
    """
    n_pairs = check_int("n_pairs", n_pairs, minimum=1)
    by_speaker = {}
    for row in rows_with_ids(rows):
        for column in ("spk_id", "key"):
            if column not in row:
                raise ValueError(f"row {row['ID']!r} has no {column!r} column")
        if row["key"] == BONAFIDE_KEY:
            by_speaker.setdefault(row["spk_id"], []).append(row)
    speakers = sorted(
        (s for s in by_speaker if len(by_speaker[s]) > 1), key=str
    )
    capacity = {
        s: len(by_speaker[s]) * (len(by_speaker[s]) - 1) for s in speakers
    }
    if n_pairs > sum(capacity.values()):
        raise ValueError(
            f"n_pairs={n_pairs} exceeds the {sum(capacity.values())} distinct "
            f"same-speaker bona fide pairs available "
            f"({len(speakers)} speaker(s) with at least two)"
        )
    rng = np.random.default_rng(seed)
    order = [speakers[i] for i in rng.permutation(len(speakers))]
    quota, assigned = dict.fromkeys(order, 0), 0
    while assigned < n_pairs:
        for speaker in order:
            if assigned < n_pairs and quota[speaker] < capacity[speaker]:
                quota[speaker] += 1
                assigned += 1
    drawn = {}
    for speaker in order:
        utts = sorted(by_speaker[speaker], key=lambda row: row["ID"])
        n = len(utts)
        codes = rng.choice(capacity[speaker], quota[speaker], replace=False)
        drawn[speaker] = [
            (utts[c // (n - 1)], utts[_other_index(c, n)]) for c in codes
        ]
    pairs = []
    for rank in range(max(quota.values())):
        for speaker in order:
            if rank < quota[speaker]:
                ref, tgt = drawn[speaker][rank]
                pairs.append((dict(ref), dict(tgt)))
    return pairs


def generate_adversarial_set(
    embed_fn: Callable,
    pairs: Sequence[Tuple[Mapping, Mapping]],
    output_dir,
    manifest_path,
    alpha: float = 3.0,
    iterations: int = 5,
    threshold: float = 0.4,
    epsilon: Optional[float] = None,
    keep: str = "below",
    sample_scale: float = SAMPLE_SCALE,
    batch_size: int = 8,
    max_duration: Optional[float] = None,
    sample_rate: int = 16000,
    device=None,
    model=None,
    progress: bool = True,
) -> AEGStats:
    """Runs BIM over pairs and writes the kept examples with a manifest.

    Pairs are attacked in batches with ``bim_attack``; each target W2 that
    passes the filter is written as a 16-bit FLAC ``<output_dir>/<ID>.flac``
    with ``ID = pair_id(reference, target)``. The manifest has the columns
    of the ASVspoof manifests, ``ID,duration,wav,spk_id,system,key,label``
    (system ``adversarial``, key ``spoof``, label 7), with absolute ``wav``
    paths. Files are written atomically, and a pair's FLAC from an earlier
    run is removed when the pair is not kept this time. The same model,
    pairs and arguments give the same files.

    Arguments
    ---------
    embed_fn : Callable
        ``embed_fn(wavs [B, S], lens [B]) -> [B, D]`` embeddings.
    pairs : Sequence[Tuple[dict, dict]]
        ``(reference, target)`` rows with ``ID``, ``wav`` and ``spk_id``,
        e.g. from ``make_same_speaker_pairs``.
    output_dir : str or pathlib.Path
        Folder of the FLAC files (created if missing).
    manifest_path : str or pathlib.Path
        CSV manifest to write (its folder is created if missing).
    alpha : float
        BIM step in ``sample_scale`` units (paper: 3.0).
    iterations : int
        BIM iterations (paper: 5).
    threshold : float
        Similarity threshold of the filter (paper: 0.4).
    epsilon : float, optional
        L-infinity bound in ``sample_scale`` units; default
        ``alpha * iterations``.
    keep : str
        ``"below"`` (paper's text) or ``"above"`` (its pseudo-code); see
        ``bim_attack``.
    sample_scale : float
        Waveform value that ``alpha`` and ``epsilon`` units map to 1.
    batch_size : int
        Pairs per batch.
    max_duration : float, optional
        Only the first ``max_duration`` seconds of each file are read and
        attacked; default: whole files.
    sample_rate : int
        Sample rate every file must have, and of the written files.
    device : str or torch.device, optional
        Device of the waveforms; default: that of the model's first
        parameter, else the CPU.
    model : torch.nn.Module or list of them, optional
        Modules put in eval mode during the attack; see ``bim_attack``.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    stats : AEGStats
        Pairs tried, examples kept, mean similarities, manifest path.

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> rng = np.random.default_rng(0)
    >>> rows = []
    >>> for i in range(4):
    ...     path = tmp / f"u{i}.flac"
    ...     sf.write(path, 0.1 * rng.standard_normal(1600), 16000)
    ...     rows.append({"ID": f"u{i}", "wav": str(path),
    ...                  "spk_id": f"s{i % 2}", "key": "bonafide"})
    >>> pairs = make_same_speaker_pairs(rows, 2)
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Conv1d(1, 4, 160, stride=80)
    >>> embed = lambda wavs, lens: net(wavs[:, None]).mean(-1)
    >>> stats = generate_adversarial_set(
    ...     embed, pairs, tmp / "adv", tmp / "adv.csv", threshold=2.0,
    ...     model=net, progress=False,
    ... )
    >>> stats.tried, stats.kept
    (2, 2)
    >>> (tmp / "adv.csv").read_text().splitlines()[0]
    'ID,duration,wav,spk_id,system,key,label'
    """
    if not pairs:
        raise ValueError("pairs is empty: nothing to attack")
    max_samples = max_samples_to_read(batch_size, max_duration, sample_rate)
    check_choice("keep", keep, KEEP_RULES)
    check_attack_steps(alpha, iterations, epsilon, sample_scale)
    ids = [pair_id(ref, tgt) for ref, tgt in pairs]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"pairs repeat, giving duplicate IDs: {repeated[:5]}")
    modules = attacked_modules(embed_fn, model)
    if device is None:
        device = modules_device(modules)
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    manifest_rows, similarities, initial = [], [], []
    with tqdm(
        total=len(pairs), desc="AEG", unit="pair", disable=not progress
    ) as bar:
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            refs, ref_lens = load_audio_batch(
                [ref for ref, _ in chunk], sample_rate, max_samples, device
            )
            tgts, tgt_lens = load_audio_batch(
                [tgt for _, tgt in chunk], sample_rate, max_samples, device
            )
            result = bim_attack(
                embed_fn,
                refs,
                ref_lens,
                tgts,
                tgt_lens,
                alpha=alpha,
                iterations=iterations,
                threshold=threshold,
                epsilon=epsilon,
                keep=keep,
                sample_scale=sample_scale,
                model=modules,
            )
            similarities.extend(result.similarity.tolist())
            initial.extend(result.initial_similarity.tolist())
            n_samples = torch.round(tgt_lens * tgts.shape[1]).long().tolist()
            for i, (_, tgt) in enumerate(chunk):
                utt_id = ids[start + i]
                path = output_dir / f"{utt_id}.flac"
                if not result.keep[i]:
                    path.unlink(missing_ok=True)
                    continue
                audio = result.adversarial[i, : n_samples[i]].cpu().numpy()
                _write_flac(path, audio, sample_rate)
                manifest_rows.append(
                    {
                        "ID": utt_id,
                        "duration": round(n_samples[i] / sample_rate, 5),
                        "wav": str(path),
                        "spk_id": tgt["spk_id"],
                        "system": ADVERSARIAL_SYSTEM,
                        "key": ADVERSARIAL_KEY,
                        "label": ADVERSARIAL_LABEL,
                    }
                )
            bar.set_postfix(kept=len(manifest_rows))
            bar.update(len(chunk))
    _write_manifest(manifest_path, manifest_rows)
    stats = AEGStats(
        tried=len(pairs),
        kept=len(manifest_rows),
        mean_similarity=float(np.mean(similarities)),
        mean_initial_similarity=float(np.mean(initial)),
        manifest=str(manifest_path),
    )
    logger.info(
        "AEG: kept %d of %d pairs (keep %s %.3f); mean similarity %.4f "
        "(before the attack %.4f)",
        stats.kept,
        stats.tried,
        keep,
        threshold,
        stats.mean_similarity,
        stats.mean_initial_similarity,
    )
    return stats


def _other_index(code, n):
    """Second index of the ordered pair numbered ``code`` among n items."""
    # ordered pairs (i, j), i != j, are numbered i * (n - 1) + r, where r
    # counts the j's other than i
    i, r = divmod(int(code), n - 1)
    return r if r < i else r + 1


def pair_id(reference, target) -> str:
    """The ID of a pair's adversarial example, after checking the pair.

    Arguments
    ---------
    reference : dict
        The reference row (``ID``, ``wav``, ``spk_id``).
    target : dict
        The attacked row, of the same speaker.

    Returns
    -------
    str
        ``<target ID>_adv_<reference ID>``.

    Example
    -------
    >>> pair_id({"ID": "r", "wav": "r.flac", "spk_id": "s"},
    ...         {"ID": "t", "wav": "t.flac", "spk_id": "s"})
    't_adv_r'
    """
    for row in (reference, target):
        for column in ("ID", "wav", "spk_id"):
            if column not in row:
                raise ValueError(f"pair row {row!r} has no {column!r} column")
        if any(sep in str(row["ID"]) for sep in ("/", "\\")):
            raise ValueError(f"ID {row['ID']!r} cannot name a file")
    if reference["spk_id"] != target["spk_id"]:
        raise ValueError(
            f"pair ({reference['ID']}, {target['ID']}) mixes speakers "
            f"{reference['spk_id']!r} and {target['spk_id']!r}"
        )
    return f"{target['ID']}_adv_{reference['ID']}"


def _write_flac(path, audio, sample_rate):
    """Writes a 16-bit FLAC atomically (temporary file, then rename)."""
    with atomic_output(path) as tmp:
        sf.write(tmp, audio, sample_rate, format="FLAC", subtype="PCM_16")


def _write_manifest(path, rows):
    """Writes the adversarial manifest CSV atomically."""
    write_csv_atomic(path, CM_HEADER, rows)
