"""Tandem (ASV + CM) evaluation of score files: one system's ASV scores and
CM scores of the same trials, with thresholds and calibrations from dev.

The inputs of a set are an ASV protocol (ASVspoof 2019 ``*.asv.*.gi.trl.txt``
or 2021 ``ASV/trial_metadata.txt``), the 2019-form ASV score file that
follows it line by line (``SOURCE KEY SCORE``, as ``verify --trials``
writes), and a CM score file that scores every test utterance of the trials
(it may score more). Each trial is then a pair (ASV score, CM score of its
test utterance), which gives the tandem's error rates and the fused SASV
score. The CM alone is judged as ``evaluate`` judges it: on the test
utterances of the trials, each once (bona fide for target and nontarget
trials, spoof for spoof trials), with the ASV at its eval EER threshold for
the t-DCF; so the EER, min t-DCF and t-EER equal ``evaluate``'s for a CM
protocol of exactly those utterances and the same ASV score file.

Thresholds come from dev when dev is given: the ASV dev EER threshold and
the CM dev EER threshold (or a given CM threshold, or the threshold of a
CM calibration, which then applies to the CM's LLRs); without dev, the eval
EER thresholds, and the result says so. The fused score needs LLRs: the ASV
map is fitted on dev (target vs nontarget), the CM map is the given
calibration or is fitted on dev (bona fide vs spoof). Fitting them on eval
would make the a-DCF an oracle value, so without dev calibrations the fused
metrics (min a-DCF, SASV EERs) are None.

Authors
 * speechbrain-asd developers
"""

from typing import NamedTuple

import numpy as np

from speechbrain_asd.calibration import fit_calibration
from speechbrain_asd.metrics import cm_report, compute_eer
from speechbrain_asd.scorefiles import (
    ASV_KEYS,
    BONAFIDE,
    ProtocolError,
    ScoreFileError,
    asv_scores_by_key,
    read_asv_score_list,
    read_cm_scores,
)
from speechbrain_asd.tandem import (
    ADCF_COSTS_ASVSPOOF5,
    ADCF_COSTS_PAPER,
    Tandem,
    compute_min_a_dcf,
    fuse_scores,
    sasv_eers,
    t_eer_or_none,
)

ADCF_COST_SETS = {"paper": ADCF_COSTS_PAPER, "asvspoof5": ADCF_COSTS_ASVSPOOF5}
"""The a-DCF priors and costs that ``evaluate_tandem`` reports, by name."""
_CM_METRICS = ("eer", "min_tdcf_2019", "min_tdcf_2021")


class TandemTrials(NamedTuple):
    """The ASV trials of one set, their ASV scores and their CM scores.

    Arguments
    ---------
    trials : list of speechbrain_asd.scorefiles.ASVTrial
        The ASV trials, in protocol order.
    asv_scores : numpy.ndarray
        The ASV score of each trial.
    cm_scores : numpy.ndarray or None
        The CM score of each trial's test utterance (None without CM scores).
    cm_bonafide : numpy.ndarray or None
        CM scores of the bona fide test utterances, each once.
    cm_spoof : numpy.ndarray or None
        CM scores of the spoof test utterances, each once.
    cm_spoof_attacks : numpy.ndarray or None
        The attack of each of ``cm_spoof``.

    Example
    -------
    >>> from speechbrain_asd.scorefiles import ASVTrial
    >>> trials = [ASVTrial("S1", "U1", "bonafide", "target"),
    ...           ASVTrial("S2", "U1", "bonafide", "nontarget"),
    ...           ASVTrial("S1", "U2", "A07", "spoof")]
    >>> found = TandemTrials(trials, np.array([2.0, -1.0, 0.5]),
    ...     np.array([1.0, 1.0, -3.0]), np.array([1.0]), np.array([-3.0]),
    ...     np.array(["A07"]))
    >>> [array.tolist() for array in found.split_by_key(found.cm_scores)]
    [[1.0], [1.0], [-3.0]]
    >>> found.asv_by_key().spoof.tolist()
    [0.5]
    >>> found.counts()
    {'target': 1, 'nontarget': 1, 'spoof': 1, 'cm_bonafide': 1, 'cm_spoof': 1}
    """

    trials: list
    asv_scores: np.ndarray
    cm_scores: object = None
    cm_bonafide: object = None
    cm_spoof: object = None
    cm_spoof_attacks: object = None

    def split_by_key(self, values):
        """Splits one value per trial by the trial's key.

        Arguments
        ---------
        values : array_like
            One value per trial, in trial order.

        Returns
        -------
        list of numpy.ndarray
            The values of the target, nontarget and spoof trials.
        """
        keys = np.asarray([trial.key for trial in self.trials], dtype=str)
        return [np.asarray(values)[keys == key] for key in ASV_KEYS]

    def asv_by_key(self):
        """The ASV scores split by key, as the t-DCF takes them.

        Returns
        -------
        speechbrain_asd.scorefiles.ASVScores
            Target, nontarget and spoof scores and the spoof attacks.
        """
        return asv_scores_by_key(self.trials, self.asv_scores)

    def counts(self):
        """How many trials of each key, and CM utterances of each class.

        Returns
        -------
        dict
            ``target``, ``nontarget``, ``spoof`` and, with CM scores,
            ``cm_bonafide`` and ``cm_spoof``.
        """
        keys = [trial.key for trial in self.trials]
        counts = {key: keys.count(key) for key in ASV_KEYS}
        if self.cm_scores is not None:
            counts["cm_bonafide"] = int(self.cm_bonafide.size)
            counts["cm_spoof"] = int(self.cm_spoof.size)
        return counts


def _read_asv_trials(protocol_path, scores_path):
    """ASV trials and their scores, from a protocol and the 2019 ASV score
    file that follows it line by line."""
    trials, scores = read_asv_score_list(scores_path, protocol_path, "2019")
    keys = {trial.key for trial in trials}
    for key in ASV_KEYS:
        if key not in keys:
            raise ProtocolError(
                f"{protocol_path}: no '{key}' trial: the tandem metrics need "
                "target, nontarget and spoof trials"
            )
    return trials, scores


def _utterance_sources(trials, protocol_path):
    """Each test utterance once, with its source, in protocol order."""
    first = {}
    for number, trial in enumerate(trials, start=1):
        seen = first.setdefault(trial.trial, (number, trial.attack))
        if seen[1] != trial.attack:
            raise ProtocolError(
                f"{protocol_path}:{number}: utterance {trial.trial!r} has "
                f"source {trial.attack!r} here but {seen[1]!r} on line "
                f"{seen[0]}"
            )
    return {utterance: source for utterance, (_, source) in first.items()}


def read_tandem_trials(asv_protocol_path, asv_scores_path, cm_scores_path=None):
    """Reads the ASV trials of one set with their ASV and CM scores.

    Arguments
    ---------
    asv_protocol_path : str or os.PathLike
        ASV protocol: ASVspoof 2019 ``CLAIMED_SPEAKER TRIAL SOURCE KEY`` or
        2021 ``ASV/trial_metadata.txt``, with target, nontarget and spoof
        trials.
    asv_scores_path : str or os.PathLike
        ASV scores, ``SOURCE KEY SCORE`` lines following the protocol line
        by line; higher means more target.
    cm_scores_path : str or os.PathLike, optional
        CM scores (see ``scorefiles.read_cm_scores``), higher meaning more
        bona fide, of every test utterance of the trials.

    Returns
    -------
    TandemTrials
        The trials and scores (the CM fields None without CM scores).

    Raises
    ------
    ValueError
        Naming the file (and line): a malformed or non-finite line, a score
        line that does not align with the protocol, a key without trials,
        an utterance with two sources, or a test utterance without CM score.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "asv.txt").write_text(
    ...     "S1 U1 bonafide target\\nS2 U1 bonafide nontarget\\n"
    ...     "S1 U2 A07 spoof\\n")
    >>> _ = (folder / "asv_scores.txt").write_text(
    ...     "bonafide target 2.0\\nbonafide nontarget -1.0\\nA07 spoof 0.5\\n")
    >>> _ = (folder / "cm.txt").write_text("U1 1.0\\nU2 -3.0\\nU3 0.0\\n")
    >>> found = read_tandem_trials(
    ...     folder / "asv.txt", folder / "asv_scores.txt", folder / "cm.txt")
    >>> found.cm_scores.tolist(), found.cm_bonafide.tolist()
    ([1.0, 1.0, -3.0], [1.0])
    >>> _ = (folder / "cm.txt").write_text("U1 1.0\\n")
    >>> read_tandem_trials(
    ...     folder / "asv.txt", folder / "asv_scores.txt", folder / "cm.txt")
    Traceback (most recent call last):
    ...
    speechbrain_asd.scorefiles.ScoreFileError: ...cm.txt: no CM score for 1 ...
    """
    trials, asv_scores = _read_asv_trials(asv_protocol_path, asv_scores_path)
    if cm_scores_path is None:
        return TandemTrials(trials, asv_scores)
    sources = _utterance_sources(trials, asv_protocol_path)
    scores = read_cm_scores(cm_scores_path)
    missing = [utterance for utterance in sources if utterance not in scores]
    if missing:
        line = next(n for n, t in enumerate(trials, 1) if t.trial == missing[0])
        raise ScoreFileError(
            f"{cm_scores_path}: no CM score for {len(missing)} test "
            f"utterance(s) of the ASV trials in {asv_protocol_path}, first "
            f"{missing[0]!r} (line {line})"
        )
    spoofed = {u: s for u, s in sources.items() if s != BONAFIDE}
    return TandemTrials(
        trials=trials,
        asv_scores=asv_scores,
        cm_scores=np.asarray([scores[t.trial] for t in trials]),
        cm_bonafide=np.asarray(
            [scores[u] for u, s in sources.items() if s == BONAFIDE]
        ),
        cm_spoof=np.asarray([scores[u] for u in spoofed]),
        cm_spoof_attacks=np.asarray(list(spoofed.values()), dtype=str),
    )


def _check_sources(dev_given, dev_cm_given, cm_calibration, cm_threshold):
    """Refuses dev and CM threshold options that do not go together."""
    if dev_cm_given and not dev_given:
        raise ValueError(
            "dev CM scores need the dev ASV protocol and dev ASV scores"
        )
    if cm_calibration is not None and (
        dev_cm_given or cm_threshold is not None
    ):
        raise ValueError(
            "a CM calibration sets the CM threshold and LLRs: give it without "
            "dev CM scores and without a CM threshold"
        )


def _cm_metrics(found, cm_scores_path):
    """EER and min t-DCF of the CM on the test utterances (``evaluate``'s
    ``cm_report``), and the concurrent t-EER (None where undefined)."""
    try:
        pooled = cm_report(
            found.cm_bonafide,
            found.cm_spoof,
            found.cm_spoof_attacks,
            found.asv_by_key(),
        )["pooled"]
    except ValueError as error:
        raise ValueError(f"{cm_scores_path}: {error}") from None
    t_eer = t_eer_or_none(
        *found.split_by_key(found.asv_scores),
        found.cm_bonafide,
        found.cm_spoof,
    )
    return {key: pooled[key] for key in _CM_METRICS}, t_eer and t_eer._asdict()


def _fused_metrics(found, asv_calibration, cm_calibration):
    """Min a-DCF (each cost set) and SASV EERs of the fused LLRs."""
    fused = fuse_scores(
        asv_calibration.llr(found.asv_scores),
        cm_calibration.llr(found.cm_scores),
    )
    by_key = found.split_by_key(fused)
    return {
        "min_a_dcf": {
            name: compute_min_a_dcf(*by_key, costs)._asdict()
            for name, costs in ADCF_COST_SETS.items()
        },
        **sasv_eers(*by_key),
    }


def evaluate_tandem(
    asv_protocol_path,
    asv_scores_path,
    cm_scores_path,
    dev_asv_protocol_path=None,
    dev_asv_scores_path=None,
    dev_cm_scores_path=None,
    cm_calibration=None,
    cm_threshold=None,
):
    """Tandem evaluation of ASV and CM scores of the same trials.

    Arguments
    ---------
    asv_protocol_path : str or os.PathLike
        Eval ASV protocol (see ``read_tandem_trials``).
    asv_scores_path : str or os.PathLike
        Eval ASV scores, following the protocol line by line.
    cm_scores_path : str or os.PathLike
        CM scores of every eval test utterance.
    dev_asv_protocol_path : str or os.PathLike, optional
        Dev ASV protocol; goes with ``dev_asv_scores_path``.
    dev_asv_scores_path : str or os.PathLike, optional
        Dev ASV scores: the ASV threshold (dev EER) and the ASV LLR map.
    dev_cm_scores_path : str or os.PathLike, optional
        CM scores of the dev test utterances: the CM threshold (dev EER)
        and the CM LLR map.
    cm_calibration : speechbrain_asd.calibration.Calibration, optional
        CM LLR map and threshold (on the LLRs) instead of dev CM scores.
    cm_threshold : float, optional
        CM threshold on the raw CM scores, instead of the dev (or eval) EER
        threshold.

    Returns
    -------
    dict
        ``counts`` (``eval`` and ``dev``: ``TandemTrials.counts``, dev None
        without dev); ``thresholds``: ``asv`` and ``cm`` with where they come
        from (``asv_from``: ``dev`` or ``eval`` EER; ``cm_from``: ``dev`` or
        ``eval`` EER, ``given`` or ``calibration``) and ``cm_on`` (``score``
        or ``llr``); ``asv`` (its ``eer``, target vs nontarget, and its
        ``miss``, ``fa_nontarget`` and ``fa_spoof`` rates at the ASV
        threshold); ``tandem`` (the same rates, accepted when both accept);
        ``cm`` (``eer``, ``min_tdcf_2019`` and ``min_tdcf_2021``, as
        ``evaluate``); ``t_eer`` (``tandem.TandemEER`` as a dict, None where
        undefined); ``fused`` (None without dev calibrations, else
        ``cm_llr_from``, ``min_a_dcf`` per ``ADCF_COST_SETS`` name as
        ``{"min_a_dcf", "threshold"}`` and the ``tandem.sasv_eers``).
        Rates are fractions.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "asv.txt").write_text(
    ...     "S1 U1 bonafide target\\nS1 U2 bonafide target\\n"
    ...     "S1 U3 bonafide nontarget\\nS1 U4 bonafide nontarget\\n"
    ...     "S1 U5 A07 spoof\\nS1 U6 A08 spoof\\n")
    >>> _ = (folder / "asv_scores.txt").write_text(
    ...     "bonafide target 3.0\\nbonafide target 1.0\\n"
    ...     "bonafide nontarget 2.0\\nbonafide nontarget 0.0\\n"
    ...     "A07 spoof 2.5\\nA08 spoof 0.5\\n")
    >>> _ = (folder / "cm.txt").write_text(
    ...     "U1 2.0\\nU2 -1.0\\nU3 1.0\\nU4 0.5\\nU5 -2.0\\nU6 1.5\\n")
    >>> result = evaluate_tandem(
    ...     folder / "asv.txt", folder / "asv_scores.txt", folder / "cm.txt")
    >>> thresholds = result["thresholds"]
    >>> thresholds["asv"], thresholds["asv_from"], thresholds["cm"]
    (1.0, 'eval', 0.5)
    >>> result["asv"]
    {'eer': 0.5, 'miss': 0.0, 'fa_nontarget': 0.5, 'fa_spoof': 0.5}
    >>> result["tandem"], result["fused"]
    ({'miss': 0.5, 'fa_nontarget': 0.5, 'fa_spoof': 0.0}, None)
    """
    dev_given = dev_asv_protocol_path is not None
    if dev_given != (dev_asv_scores_path is not None):
        raise ValueError("the dev ASV protocol and dev ASV scores go together")
    dev_cm_given = dev_cm_scores_path is not None
    _check_sources(dev_given, dev_cm_given, cm_calibration, cm_threshold)
    found = read_tandem_trials(
        asv_protocol_path, asv_scores_path, cm_scores_path
    )
    dev = None
    if dev_given:
        dev = read_tandem_trials(
            dev_asv_protocol_path, dev_asv_scores_path, dev_cm_scores_path
        )
    asv_side = dev if dev_given else found
    cm_side = dev if dev_cm_given else found
    cm_decided = found.cm_scores
    if cm_calibration is not None:
        cm_threshold, cm_from = cm_calibration.threshold, "calibration"
        cm_decided = cm_calibration.llr(found.cm_scores)
    elif cm_threshold is not None:
        cm_from = "given"
    else:
        cm_from = "dev" if dev_cm_given else "eval"
    tandem = Tandem.from_dev(
        *asv_side.split_by_key(asv_side.asv_scores)[:2],
        cm_side.cm_bonafide,
        cm_side.cm_spoof,
        cm_threshold=cm_threshold,
    )
    asv_by_key = found.split_by_key(found.asv_scores)
    rates = tandem.error_rates(*zip(asv_by_key, found.split_by_key(cm_decided)))
    cm_metrics, t_eer = _cm_metrics(found, cm_scores_path)
    if dev_cm_given:
        cm_calibration = fit_calibration(dev.cm_bonafide, dev.cm_spoof)
    fused = None
    if dev_given and cm_calibration is not None:
        asv_calibration = fit_calibration(*dev.split_by_key(dev.asv_scores)[:2])
        fused = {
            "cm_llr_from": "dev" if dev_cm_given else "calibration",
            **_fused_metrics(found, asv_calibration, cm_calibration),
        }
    return {
        "counts": {
            "eval": found.counts(),
            "dev": dev.counts() if dev_given else None,
        },
        "thresholds": {
            "asv": tandem.asv_threshold,
            "asv_from": "dev" if dev_given else "eval",
            "cm": tandem.cm_threshold,
            "cm_from": cm_from,
            "cm_on": "llr" if cm_from == "calibration" else "score",
        },
        "asv": {
            "eer": compute_eer(*asv_by_key[:2])[0],
            **rates["asv_alone"],
        },
        "tandem": rates["tandem"],
        "cm": cm_metrics,
        "t_eer": t_eer,
        "fused": fused,
    }


def _percent(value):
    """A rate in percent with 2 decimals, ``-`` for None."""
    return "-" if value is None else f"{100 * value:.2f}"


def _decimal(value):
    """A cost with 4 decimals, ``-`` for None."""
    return "-" if value is None else f"{value:.4f}"


def _threshold_source(source):
    """Says where a CM threshold comes from, for the table."""
    return f"{source} EER" if source in ("dev", "eval") else source


def format_tandem_table(result):
    """Formats ``evaluate_tandem``'s result as a short text table.

    Rates and EERs in percent (2 decimals), costs with 4 decimals, ``-``
    where a value is undefined.

    Arguments
    ---------
    result : dict
        As returned by ``evaluate_tandem``.

    Returns
    -------
    str
        The table, without a final newline.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "asv.txt").write_text(
    ...     "S1 U1 bonafide target\\nS1 U2 bonafide target\\n"
    ...     "S1 U3 bonafide nontarget\\nS1 U4 bonafide nontarget\\n"
    ...     "S1 U5 A07 spoof\\nS1 U6 A08 spoof\\n")
    >>> _ = (folder / "asv_scores.txt").write_text(
    ...     "bonafide target 3.0\\nbonafide target 1.0\\n"
    ...     "bonafide nontarget 2.0\\nbonafide nontarget 0.0\\n"
    ...     "A07 spoof 2.5\\nA08 spoof 0.5\\n")
    >>> _ = (folder / "cm.txt").write_text(
    ...     "U1 2.0\\nU2 -1.0\\nU3 1.0\\nU4 0.5\\nU5 -2.0\\nU6 1.5\\n")
    >>> result = evaluate_tandem(
    ...     folder / "asv.txt", folder / "asv_scores.txt", folder / "cm.txt")
    >>> print(format_tandem_table(result).splitlines()[4])
    ASV alone       0.00               50.00           50.00
    """
    counts, thresholds = result["counts"]["eval"], result["thresholds"]
    cm, fused = result["cm"], result["fused"]
    lines = [
        f"eval trials: {counts['target']} target, {counts['nontarget']} "
        f"nontarget, {counts['spoof']} spoof (CM: {counts['cm_bonafide']} "
        f"bona fide and {counts['cm_spoof']} spoof utterances)",
        f"thresholds: ASV {thresholds['asv']:.4f} ({thresholds['asv_from']} "
        f"EER), CM {thresholds['cm']:.4f} on the {thresholds['cm_on']}s "
        f"({_threshold_source(thresholds['cm_from'])})",
        "",
        f"{'':<12}{'miss (%)':>12}{'FA nontarget (%)':>20}{'FA spoof (%)':>16}",
    ]
    for name, key in (("ASV alone", "asv"), ("tandem", "tandem")):
        rates = result[key]
        lines.append(
            f"{name:<12}{_percent(rates['miss']):>12}"
            f"{_percent(rates['fa_nontarget']):>20}"
            f"{_percent(rates['fa_spoof']):>16}"
        )
    t_eer = result["t_eer"] and result["t_eer"]["t_eer"]
    values = [
        ("ASV EER (%)", _percent(result["asv"]["eer"])),
        ("CM EER (%)", _percent(cm["eer"])),
        (
            "min t-DCF 2019 / 2021",
            " / ".join(_decimal(cm[key]) for key in _CM_METRICS[1:]),
        ),
        ("t-EER (%)", _percent(t_eer)),
    ]
    if fused is None:
        values.append(
            (
                "min a-DCF, SASV EERs",
                "- (need dev ASV scores, and dev CM scores or a CM "
                "calibration)",
            )
        )
    else:
        for name, found in fused["min_a_dcf"].items():
            values.append((f"min a-DCF ({name})", _decimal(found["min_a_dcf"])))
        values.append(
            (
                "SASV / SV / SPF EER (%)",
                " / ".join(
                    _percent(fused[key])
                    for key in ("sasv_eer", "sv_eer", "spf_eer")
                ),
            )
        )
    width = max(len(name) for name, _ in values)
    lines.append("")
    lines += [f"{name:<{width}}  {value}" for name, value in values]
    return "\n".join(lines)
