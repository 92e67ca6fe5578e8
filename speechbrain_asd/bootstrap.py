"""Bootstrap intervals of the EER and min t-DCF, and paired comparisons.

Percentile intervals over resamples of the CM trials, by trial or by
speaker; the t-DCF constants (the ASV operating point) stay fixed.

Authors
 * speechbrain-asd developers
"""

from typing import NamedTuple

import numpy as np

from speechbrain_asd.metrics import (
    TDCFConstants,
    asv_operating_point,
    check_scores,
    check_tdcf_constants,
    compute_eer,
    compute_min_tdcf,
    tdcf_constants_by_metric,
)

DEFAULT_RESAMPLES = 1000
"""Resamples per design when none is given."""
DEFAULT_CONFIDENCE = 0.95
"""Coverage of the percentile intervals when none is given."""
DESIGNS = ("trial", "speaker")
"""The resampling designs, in the order their results are reported."""
_BLOCK_ELEMENTS = 4_000_000
"""Resamples x trials handled at once (bounds the memory to ~200 MB)."""


def asv_tdcf_constants(asv_scores):
    """t-DCF constants of both forms at the pooled ASV operating point.

    Arguments
    ---------
    asv_scores : object
        Has array attributes ``target``, ``nontarget`` and ``spoof`` (such as
        ``scorefiles.ASVScores``).

    Returns
    -------
    dict
        ``{"min_tdcf_2019": TDCFConstants, "min_tdcf_2021": TDCFConstants}``,
        ready for the ``tdcf_constants`` argument of this module.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> asv = SimpleNamespace(
    ...     target=[3.0, 4.0], nontarget=[1.0, 2.0], spoof=[2.5, 0.0]
    ... )
    >>> constants = asv_tdcf_constants(asv)
    >>> [round(c, 4) for c in constants["min_tdcf_2021"]]
    [0.0475, 0.893, 0.25]
    """
    op = asv_operating_point(
        asv_scores.target, asv_scores.nontarget, asv_scores.spoof
    )
    return tdcf_constants_by_metric(op)


def _check_settings(n_resamples, confidence):
    """Refuses a resample count below 1 or a confidence outside (0, 1)."""
    if isinstance(n_resamples, bool) or int(n_resamples) != n_resamples:
        raise ValueError(f"n_resamples must be an integer, got {n_resamples}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _clusters(speakers, size, name):
    """Codes the speaker of each trial as an index into its class's speakers."""
    speakers = np.asarray(speakers, dtype=str)
    if speakers.shape != (size,):
        raise ValueError(
            f"{name} has {speakers.size} entries for {size} scores: give "
            "one speaker id per trial"
        )
    return np.unique(speakers, return_inverse=True)[1].reshape(-1)


def _designs(n_bonafide, n_spoof, bonafide_speakers, spoof_speakers):
    """The cluster of each trial under each resampling design."""
    designs = {"trial": (np.arange(n_bonafide), np.arange(n_spoof))}
    if (bonafide_speakers is None) != (spoof_speakers is None):
        raise ValueError(
            "give both bonafide_speakers and spoof_speakers, or neither"
        )
    if bonafide_speakers is not None:
        designs["speaker"] = (
            _clusters(bonafide_speakers, n_bonafide, "bonafide_speakers"),
            _clusters(spoof_speakers, n_spoof, "spoof_speakers"),
        )
    return designs


def _resample_weights(clusters, rng, n_rows):
    """Draws the trial weights of a block of resamples."""
    weights = np.empty((n_rows, sum(c.size for c in clusters)), np.int32)
    start = 0
    for codes in clusters:
        size = int(codes.max()) + 1
        drawn = rng.integers(0, size, (n_rows, size), dtype=np.int32)
        for row in range(n_rows):
            counts = np.bincount(drawn[row], minlength=size)
            weights[row, start : start + codes.size] = counts[codes]
        start += codes.size
    return weights


class _SortedSystem(NamedTuple):
    """One system's pooled sort order and its candidate min t-DCF points."""

    bonafide_order: np.ndarray
    spoof_order: np.ndarray
    bonafide_before: np.ndarray
    candidates: tuple


def _sort_system(bonafide, spoof):
    """Sorts one system's scores once, as ``metrics`` does (stable)."""
    order = np.argsort(np.concatenate((bonafide, spoof)), kind="stable")
    positive = order < bonafide.size
    below = np.flatnonzero(positive) - np.arange(bonafide.size)
    heads = np.flatnonzero(np.diff(below, prepend=-1) > 0)
    return _SortedSystem(
        bonafide_order=order[positive],
        spoof_order=order[~positive] - bonafide.size,
        bonafide_before=np.concatenate(([0], np.cumsum(positive))),
        candidates=(
            np.append(heads, bonafide.size),
            np.append(below[heads], spoof.size),
        ),
    )


def _cumulative(weights):
    """Cumulative sums of weights along each row, after a leading 0."""
    counts = np.zeros((weights.shape[0], weights.shape[1] + 1), np.int64)
    np.cumsum(weights, axis=1, out=counts[:, 1:])
    return counts


def _eer_at_crossing(system, rejected_pos, rejected_neg):
    """EER of each resample, bisecting to where miss and false alarm cross."""
    rows = np.arange(rejected_pos.shape[0])
    total_pos = rejected_pos[:, -1:]
    total_neg = rejected_neg[:, -1:]

    def rejected_at(point):
        """Bona fide and spoof weight rejected at given DET points."""
        before = system.bonafide_before[point]
        return (
            rejected_pos[rows, before][:, None],
            rejected_neg[rows, point - before][:, None],
        )

    def gap(pos, neg):
        """Miss rate, false alarm rate and their difference."""
        miss = pos / total_pos
        false_alarm = (total_neg - neg) / total_neg
        return miss, false_alarm, miss - false_alarm

    low = np.zeros_like(rows)
    high = np.full_like(rows, system.bonafide_before.size - 1)
    while np.any(high - low > 1):
        middle = (low + high) // 2
        above = gap(*rejected_at(middle))[2][:, 0] >= 0
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    pos_low, neg_low = rejected_at(low)
    pos_high, neg_high = rejected_at(high)
    copies = pos_high - pos_low + neg_high - neg_low
    is_pos = pos_high > pos_low
    steps = np.minimum(np.arange(copies.max() + 1), copies)
    miss, false_alarm, gaps = gap(
        pos_low + steps * is_pos, neg_low + steps * ~is_pos
    )
    above = np.argmax(gaps >= 0, axis=1)
    below = above - 1
    closer_below = np.abs(gaps[rows, below]) <= np.abs(gaps[rows, above])
    point = np.where(closer_below, below, above)
    return (miss[rows, point] + false_alarm[rows, point]) / 2


def _replicates(system, weights, n_bonafide, constants):
    """EER and min t-DCFs of a block of weighted resamples of one system."""
    rejected_pos = _cumulative(
        np.take(weights[:, :n_bonafide], system.bonafide_order, axis=1)
    )
    rejected_neg = _cumulative(
        np.take(weights[:, n_bonafide:], system.spoof_order, axis=1)
    )
    values = {"eer": _eer_at_crossing(system, rejected_pos, rejected_neg)}
    at_pos, at_neg = system.candidates
    total_neg = rejected_neg[:, -1:]
    miss = np.take(rejected_pos, at_pos, axis=1) / rejected_pos[:, -1:]
    false_alarm = (
        total_neg - np.take(rejected_neg, at_neg, axis=1)
    ) / total_neg
    for name, c in constants.items():
        costs = c.c0 + c.c1 * miss + c.c2 * false_alarm
        values[name] = np.min(costs, axis=1) / c.normaliser
    return values


def _point_estimates(bonafide, spoof, constants):
    """EER and min t-DCFs of one system with the ``metrics`` functions."""
    values = {"eer": compute_eer(bonafide, spoof)[0]}
    for name, c in constants.items():
        values[name] = (
            None if c.normaliser == 0 else compute_min_tdcf(bonafide, spoof, c)
        )
    return values


def _all_replicates(systems, designs, constants, n_resamples, seed):
    """Resampled metrics of one or more systems on the same resamples."""
    sorted_systems = [_sort_system(*system) for system in systems]
    n_bonafide = systems[0][0].size
    n_trials = n_bonafide + systems[0][1].size
    block = max(1, _BLOCK_ELEMENTS // n_trials)
    starts = range(0, n_resamples, block)
    roots = np.random.SeedSequence(seed).spawn(len(DESIGNS))
    results = {}
    for design, root in zip(DESIGNS, roots):
        if design not in designs:
            continue
        blocks = [[] for _ in systems]
        for start, block_seed in zip(starts, root.spawn(len(starts))):
            weights = _resample_weights(
                designs[design],
                np.random.default_rng(block_seed),
                min(block, n_resamples - start),
            )
            for found, system in zip(blocks, sorted_systems):
                found.append(
                    _replicates(system, weights, n_bonafide, constants)
                )
        results[design] = [
            {
                name: np.concatenate([part[name] for part in found])
                for name in found[0]
            }
            for found in blocks
        ]
    return results


def _estimates(systems, speakers, constants, n_resamples, seed):
    """Point estimates of each system and their replicates per design."""
    designs = _designs(systems[0][0].size, systems[0][1].size, *speakers)
    points = [_point_estimates(*system, constants) for system in systems]
    defined = {
        name: c for name, c in constants.items() if points[0][name] is not None
    }
    replicates = _all_replicates(systems, designs, defined, n_resamples, seed)
    return points, replicates


def _interval(values, confidence):
    """Percentile interval of resampled values."""
    tail = (1 - confidence) / 2
    return [float(q) for q in np.quantile(values, [tail, 1 - tail])]


def _prepare(bonafide_scores, spoof_scores, tdcf_constants, settings):
    """Checks one system's scores, the t-DCF constants and the settings."""
    _check_settings(*settings)
    constants = {
        name: TDCFConstants(*(float(c) for c in values))
        for name, values in (tdcf_constants or {}).items()
    }
    for values in constants.values():
        check_tdcf_constants(values)
    return (
        check_scores(bonafide_scores, "bonafide_scores"),
        check_scores(spoof_scores, "spoof_scores"),
        constants,
    )


def bootstrap_metrics(
    bonafide_scores,
    spoof_scores,
    bonafide_speakers=None,
    spoof_speakers=None,
    tdcf_constants=None,
    n_resamples=DEFAULT_RESAMPLES,
    seed=0,
    confidence=DEFAULT_CONFIDENCE,
):
    """EER and min t-DCFs of a CM with percentile bootstrap intervals.

    The "trial" design resamples the bona fide and the spoof trials separately;
    the "speaker" design resamples speakers within each class, each drawn
    speaker bringing all its trials of that class.

    Arguments
    ---------
    bonafide_scores : array_like
        CM scores of the bona fide trials, higher meaning more bona fide.
    spoof_scores : array_like
        CM scores of the spoof trials.
    bonafide_speakers : sequence of str, optional
        Speaker id of each bona fide trial; with ``spoof_speakers``, adds the
        speaker design.
    spoof_speakers : sequence of str, optional
        Speaker id of each spoof trial.
    tdcf_constants : dict, optional
        Metric name (e.g. ``"min_tdcf_2021"``) -> ``(C0, C1, C2)``, such as
        ``asv_tdcf_constants(asv_scores)``.
    n_resamples : int
        Resamples per design.
    seed : int
        Seed of the resamples: same seed, same intervals.
    confidence : float
        Coverage of the intervals.

    Returns
    -------
    dict
        ``"eer"`` and each name of ``tdcf_constants`` -> ``{"value": float,
        "trial": [low, high], "speaker": [low, high] or None}``. ``value`` is
        the point estimate of ``metrics``; all three are None for a t-DCF whose
        normaliser is 0.

    Example
    -------
    >>> result = bootstrap_metrics(
    ...     [2.0, 1.5, 0.2, 3.0], [-1.0, 0.5, -2.0, 0.0, -0.5], n_resamples=200
    ... )
    >>> result["eer"]["value"]
    0.225
    >>> low, high = result["eer"]["trial"]
    >>> low <= 0.225 <= high
    True
    >>> result["eer"]["speaker"] is None
    True
    """
    bonafide, spoof, constants = _prepare(
        bonafide_scores, spoof_scores, tdcf_constants, (n_resamples, confidence)
    )
    (points,), replicates = _estimates(
        [(bonafide, spoof)],
        (bonafide_speakers, spoof_speakers),
        constants,
        n_resamples,
        seed,
    )
    result = {}
    for name, value in points.items():
        result[name] = {"value": value}
        for design in DESIGNS:
            found = replicates.get(design)
            result[name][design] = (
                None
                if value is None or found is None
                else _interval(found[0][name], confidence)
            )
    return result


def _paired_summary(difference, resampled, confidence):
    """Interval and sign statistics of resampled differences B - A."""
    return {
        "interval": _interval(resampled, confidence),
        "sign_flip": float(np.mean(np.sign(resampled) != np.sign(difference))),
        "b_lower": float(np.mean(resampled < 0)),
    }


def paired_bootstrap(
    bonafide_a,
    spoof_a,
    bonafide_b,
    spoof_b,
    bonafide_speakers=None,
    spoof_speakers=None,
    tdcf_constants=None,
    n_resamples=DEFAULT_RESAMPLES,
    seed=0,
    confidence=DEFAULT_CONFIDENCE,
):
    """Paired bootstrap of the EER and min t-DCF differences of two CMs.

    Systems A and B score the same trials in the same order; each resample
    draws the same trials for both and takes the difference B - A, so a
    negative difference means B is better.

    Arguments
    ---------
    bonafide_a : array_like
        System A's scores of the bona fide trials.
    spoof_a : array_like
        System A's scores of the spoof trials.
    bonafide_b : array_like
        System B's scores of the same bona fide trials.
    spoof_b : array_like
        System B's scores of the same spoof trials.
    bonafide_speakers : sequence of str, optional
        Speaker id of each bona fide trial (adds the speaker design).
    spoof_speakers : sequence of str, optional
        Speaker id of each spoof trial.
    tdcf_constants : dict, optional
        Metric name -> ``(C0, C1, C2)``, fixed over resamples.
    n_resamples : int
        Resamples per design.
    seed : int
        Seed of the resamples; the same seed draws the same resamples as
        ``bootstrap_metrics``.
    confidence : float
        Coverage of the intervals.

    Returns
    -------
    dict
        ``"eer"`` and each name of ``tdcf_constants`` -> ``{"a", "b",
        "difference", "trial", "speaker"}``; each design's summary holds
        ``interval`` (of B - A), ``sign_flip`` (share of resamples whose
        difference has not the sign of the point difference) and ``b_lower``
        (share with B < A). Entries are None where they are undefined.

    Example
    -------
    >>> bonafide_a, spoof_a = [2.0, 1.5, 0.2, 3.0], [-1.0, 0.5, -2.0, 0.0]
    >>> same = paired_bootstrap(
    ...     bonafide_a, spoof_a, bonafide_a, spoof_a, n_resamples=50
    ... )
    >>> same["eer"]["difference"], same["eer"]["trial"]["interval"]
    (0.0, [0.0, 0.0])
    >>> better = paired_bootstrap(
    ...     bonafide_a, spoof_a, [3.0, 2.5, 1.2, 4.0], spoof_a, n_resamples=50
    ... )
    >>> better["eer"]["a"], better["eer"]["b"], better["eer"]["difference"]
    (0.25, 0.0, -0.25)
    >>> better["eer"]["trial"]["interval"][1] <= 0
    True
    """
    bonafide_a, spoof_a, constants = _prepare(
        bonafide_a, spoof_a, tdcf_constants, (n_resamples, confidence)
    )
    bonafide_b = check_scores(bonafide_b, "bonafide_b")
    spoof_b = check_scores(spoof_b, "spoof_b")
    for name, a, b in (
        ("bona fide", bonafide_a, bonafide_b),
        ("spoof", spoof_a, spoof_b),
    ):
        if a.size != b.size:
            raise ValueError(
                f"system B has {b.size} {name} scores, system A {a.size}: "
                "a paired comparison needs the same trials"
            )
    (points_a, points_b), replicates = _estimates(
        [(bonafide_a, spoof_a), (bonafide_b, spoof_b)],
        (bonafide_speakers, spoof_speakers),
        constants,
        n_resamples,
        seed,
    )
    result = {}
    for name, a in points_a.items():
        b = points_b[name]
        difference = None if a is None else b - a
        result[name] = {"a": a, "b": b, "difference": difference}
        for design in DESIGNS:
            found = replicates.get(design)
            result[name][design] = (
                None
                if difference is None or found is None
                else _paired_summary(
                    difference, found[1][name] - found[0][name], confidence
                )
            )
    return result


def _acceptance_replicates(accepted, clusters, n_resamples, seed):
    """Resampled acceptance rates: design -> [systems, resamples]."""
    roots = np.random.SeedSequence(seed).spawn(len(DESIGNS))
    results = {}
    for design, root in zip(DESIGNS, roots):
        codes = clusters.get(design)
        if codes is None:
            continue
        block = max(1, _BLOCK_ELEMENTS // codes.size)
        starts = range(0, n_resamples, block)
        parts = []
        for start, block_seed in zip(starts, root.spawn(len(starts))):
            weights = _resample_weights(
                [codes],
                np.random.default_rng(block_seed),
                min(block, n_resamples - start),
            )
            parts.append(weights @ accepted.T / weights.sum(1, keepdims=True))
        results[design] = np.concatenate(parts).T
    return results


def _accepted(spoof_scores, threshold, name):
    """1.0 where a spoof score is above the threshold, else 0.0."""
    scores = check_scores(spoof_scores, name)
    threshold = float(threshold)
    if not np.isfinite(threshold):
        raise ValueError(f"the threshold of {name} must be finite")
    return (scores > threshold).astype(np.float64)


def _spoof_clusters(n_spoof, spoof_speakers):
    """The cluster of each spoof trial under each design."""
    clusters = {"trial": np.arange(n_spoof)}
    if spoof_speakers is not None:
        clusters["speaker"] = _clusters(
            spoof_speakers, n_spoof, "spoof_speakers"
        )
    return clusters


def acceptance_intervals(
    spoof_scores,
    threshold,
    spoof_speakers=None,
    n_resamples=DEFAULT_RESAMPLES,
    seed=0,
    confidence=DEFAULT_CONFIDENCE,
):
    """The share of spoofs accepted at a threshold, with bootstrap intervals.

    A spoof is accepted when its score is above the threshold (as
    ``metrics.acceptance_rate``); the "trial" design resamples the spoof
    trials, the "speaker" design their speakers.

    Arguments
    ---------
    spoof_scores : array_like
        CM scores of the spoof trials.
    threshold : float
        The decision threshold (e.g. the dev EER threshold).
    spoof_speakers : sequence of str, optional
        Speaker id of each spoof trial (adds the speaker design).
    n_resamples : int
        Resamples per design.
    seed : int
        Seed of the resamples.
    confidence : float
        Coverage of the intervals.

    Returns
    -------
    dict
        ``value``, and ``trial`` and ``speaker`` (None without speakers):
        ``[low, high]``.

    Example
    -------
    >>> result = acceptance_intervals(
    ...     [0.9, 0.1, 0.7, 0.2], 0.5, ["s1", "s1", "s2", "s2"], n_resamples=200
    ... )
    >>> result["value"]
    0.5
    >>> low, high = result["trial"]
    >>> 0 <= low <= 0.5 <= high <= 1
    True
    >>> result["speaker"]
    [0.5, 0.5]
    """
    _check_settings(n_resamples, confidence)
    accepted = _accepted(spoof_scores, threshold, "spoof_scores")
    replicates = _acceptance_replicates(
        accepted[None, :],
        _spoof_clusters(accepted.size, spoof_speakers),
        n_resamples,
        seed,
    )
    result = {"value": float(accepted.mean())}
    for design in DESIGNS:
        found = replicates.get(design)
        result[design] = (
            None if found is None else _interval(found[0], confidence)
        )
    return result


def paired_acceptance(
    spoof_a,
    threshold_a,
    spoof_b,
    threshold_b,
    spoof_speakers=None,
    n_resamples=DEFAULT_RESAMPLES,
    seed=0,
    confidence=DEFAULT_CONFIDENCE,
):
    """Paired bootstrap of the difference in spoofs accepted by two CMs.

    Both systems score the same spoof trials (for example versions of the
    same spoofs perturbed against each), each at its own threshold; every
    resample draws the same trials for both and takes B - A, so a negative
    difference means B accepts fewer spoofs.

    Arguments
    ---------
    spoof_a : array_like
        System A's scores of the spoof trials.
    threshold_a : float
        System A's threshold.
    spoof_b : array_like
        System B's scores of the same trials, in the same order.
    threshold_b : float
        System B's threshold.
    spoof_speakers : sequence of str, optional
        Speaker id of each spoof trial (adds the speaker design).
    n_resamples : int
        Resamples per design.
    seed : int
        Seed of the resamples.
    confidence : float
        Coverage of the intervals.

    Returns
    -------
    dict
        ``a``, ``b``, ``difference`` (B - A) and per design (``trial``,
        ``speaker``: None without speakers) the ``interval``, ``sign_flip``
        and ``b_lower`` of the difference, as ``paired_bootstrap``.

    Example
    -------
    >>> a, b = [0.9, 0.8, 0.7, 0.6], [0.9, 0.1, 0.2, 0.3]
    >>> result = paired_acceptance(a, 0.5, b, 0.5, n_resamples=200)
    >>> result["a"], result["b"], result["difference"]
    (1.0, 0.25, -0.75)
    >>> result["trial"]["interval"][1] < 0
    True
    """
    _check_settings(n_resamples, confidence)
    accepted_a = _accepted(spoof_a, threshold_a, "spoof_a")
    accepted_b = _accepted(spoof_b, threshold_b, "spoof_b")
    if accepted_a.size != accepted_b.size:
        raise ValueError(
            f"system B has {accepted_b.size} spoof scores, system A "
            f"{accepted_a.size}: a paired comparison needs the same trials"
        )
    replicates = _acceptance_replicates(
        np.stack((accepted_a, accepted_b)),
        _spoof_clusters(accepted_a.size, spoof_speakers),
        n_resamples,
        seed,
    )
    a, b = float(accepted_a.mean()), float(accepted_b.mean())
    result = {"a": a, "b": b, "difference": b - a}
    for design in DESIGNS:
        found = replicates.get(design)
        result[design] = (
            None
            if found is None
            else _paired_summary(b - a, found[1] - found[0], confidence)
        )
    return result
