"""The ASVspoof 2021 decomposed results: EER and min t-DCF per attack x codec.

As the organisers' 2021 evaluation package does, every cell of the grid
(rows: attacks and pooled; columns: codec conditions and pooled) has its own
EER and min t-DCF, with the t-DCF weights C0, C1, C2 computed from the ASV
scores of that cell:

- an attack filters the spoof trials only (bona fide trials have no
  attack), for the CM and the ASV scores alike;
- a codec filters every trial: bona fide, spoof, ASV target, nontarget and
  spoof;
- "pooled" filters nothing.

ASV scores in the ASVspoof 2019 form carry no codec; the ASV side of a cell
is then filtered by attack only (``asv_codecs`` is False in the result).

Authors
 * speechbrain-asd developers
"""

import numpy as np

from speechbrain_asd.metrics import (
    asv_operating_point,
    check_scores,
    check_soft_cm_scores,
    det_curve_unchecked,
    eer_from_det_curve,
    min_tdcf_from_det_curve,
    tdcf_constants_by_metric,
)
from speechbrain_asd.scorefiles import NO_CONDITION, SPOOF

POOLED = "pooled"
"""Name of the row and the column that pool every attack or codec."""
CODECS_2021 = ("none", "alaw", "pstn", "g722", "ulaw", "gsm", "opus")
"""The ASVspoof 2021 LA codec conditions C1-C7, in the organisers' order."""


def _ordered(values, first):
    """Sorts condition names: those of ``first`` in its order, then the rest."""
    known = [value for value in first if value in values]
    return known + sorted(set(values) - set(known))


def _asv_constants(asv, attack_mask, codec_mask):
    """The t-DCF weights of a cell from its ASV scores, or a note why none."""
    keys, scores = asv
    target = scores[codec_mask & (keys == "target")]
    nontarget = scores[codec_mask & (keys == "nontarget")]
    spoof = scores[codec_mask & attack_mask & (keys == SPOOF)]
    missing = [
        name
        for name, values in (
            ("target", target),
            ("nontarget", nontarget),
            ("spoof", spoof),
        )
        if values.size == 0
    ]
    if missing:
        return None, "no ASV " + "/".join(missing) + " scores in this cell"
    constants = tdcf_constants_by_metric(
        asv_operating_point(target, nontarget, spoof)
    )
    if constants["min_tdcf_2021"].c1 < 0:
        return None, "C1 < 0: the ASV system is worse than chance in this cell"
    return constants, None


def _cell(bonafide, spoof, constants, note):
    """Computes one cell: EER, both t-DCF forms and the 2021 weights."""
    cell = {
        "n_bonafide": int(bonafide.size),
        "n_spoof": int(spoof.size),
        "eer": None,
        "min_tdcf_2021": None,
        "min_tdcf_2019": None,
        "c0": None,
        "c1": None,
        "c2": None,
        "note": note,
    }
    if bonafide.size == 0 or spoof.size == 0:
        cell["note"] = "no bona fide or no spoof trial in this cell"
        return cell
    curve = det_curve_unchecked(bonafide, spoof)
    cell["eer"] = eer_from_det_curve(curve)[0]
    if constants is None:
        return cell
    cell["c0"], cell["c1"], cell["c2"] = map(float, constants["min_tdcf_2021"])
    for metric, weights in constants.items():
        if weights.normaliser != 0:
            cell[metric] = min_tdcf_from_det_curve(curve, weights)
    return cell


def _condition_arrays(trials, name):
    """One condition field of every trial, as an array of str."""
    return np.asarray([getattr(trial, name) for trial in trials], dtype=str)


def decomposed_results(cm_trials, cm_scores, asv_trials=None, asv_scores=None):
    """EER and min t-DCF per attack x codec cell, as the 2021 package does.

    Arguments
    ---------
    cm_trials : sequence of speechbrain_asd.scorefiles.CMTrial
        The evaluated CM trials (one subset already selected), with codecs.
    cm_scores : sequence of float
        The CM score of each trial, higher meaning bona fide.
    asv_trials : sequence of speechbrain_asd.scorefiles.ASVTrial, optional
        The ASV trials of the same subset (codec ``-`` when unknown); without
        them the cells have no t-DCF.
    asv_scores : sequence of float, optional
        The ASV score of each ASV trial.

    Returns
    -------
    dict
        ``rows`` (attacks, then ``pooled``), ``columns`` (codecs in the
        organisers' order, then ``pooled``), ``cells[row][column]`` with
        ``n_bonafide``, ``n_spoof``, ``eer``, ``min_tdcf_2021``,
        ``min_tdcf_2019``, ``c0``, ``c1``, ``c2`` (2021 form) and ``note``
        (why a value is None), and ``asv_codecs`` (whether the ASV scores
        were filtered by codec).

    Example
    -------
    >>> from speechbrain_asd.scorefiles import CMTrial
    >>> trials = [
    ...     CMTrial("S1", "T1", "bonafide", "bonafide", "none"),
    ...     CMTrial("S1", "T2", "bonafide", "bonafide", "gsm"),
    ...     CMTrial("S1", "T3", "A07", "spoof", "none"),
    ...     CMTrial("S1", "T4", "A07", "spoof", "gsm"),
    ... ]
    >>> grid = decomposed_results(trials, [2.0, 0.5, 1.0, -1.0])
    >>> grid["columns"], grid["rows"]
    (['none', 'gsm', 'pooled'], ['A07', 'pooled'])
    >>> cells = grid["cells"]
    >>> cells["A07"]["gsm"]["eer"], cells["pooled"]["pooled"]["eer"]
    (0.0, 0.5)
    """
    scores = check_scores(cm_scores, "CM scores")
    if scores.size != len(cm_trials):
        raise ValueError(
            f"{scores.size} CM scores for {len(cm_trials)} CM trials"
        )
    spoofed = _condition_arrays(cm_trials, "key") == SPOOF
    attacks = _condition_arrays(cm_trials, "attack")
    codecs = _condition_arrays(cm_trials, "codec")
    check_soft_cm_scores(
        det_curve_unchecked(scores[~spoofed], scores[spoofed]),
        "the pooled trials",
    )
    asv = None
    asv_codecs = False
    if asv_trials is not None:
        asv_values = check_scores(asv_scores, "ASV scores")
        if asv_values.size != len(asv_trials):
            raise ValueError(
                f"{asv_values.size} ASV scores for {len(asv_trials)} ASV trials"
            )
        asv = (_condition_arrays(asv_trials, "key"), asv_values)
        asv_codec = _condition_arrays(asv_trials, "codec")
        asv_attack = _condition_arrays(asv_trials, "attack")
        asv_codecs = bool(np.all(asv_codec != NO_CONDITION))
    rows = _ordered({str(a) for a in attacks[spoofed]}, ()) + [POOLED]
    columns = _ordered({str(c) for c in codecs}, CODECS_2021) + [POOLED]
    cells = {}
    for row in rows:
        attack_mask = (attacks == row) | ~spoofed | (row == POOLED)
        if asv is not None:
            asv_attack_mask = (asv_attack == row) | (row == POOLED)
        cells[row] = {}
        for column in columns:
            mask = attack_mask & ((codecs == column) | (column == POOLED))
            constants, note = None, "no ASV scores"
            if asv is not None:
                asv_codec_mask = (asv_codec == column) | (
                    not asv_codecs or column == POOLED
                )
                constants, note = _asv_constants(
                    asv, asv_attack_mask, asv_codec_mask
                )
            cells[row][column] = _cell(
                scores[mask & ~spoofed], scores[mask & spoofed], constants, note
            )
    return {
        "rows": rows,
        "columns": columns,
        "cells": cells,
        "asv_codecs": asv_codecs,
    }
