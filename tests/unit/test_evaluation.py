"""Tests of score-file evaluation on tiny hand-worked ASVspoof files.

The case used throughout (higher = more bona fide):

======  ========  ======  =====  ==============
trial   key       attack  score  2021 subset
======  ========  ======  =====  ==============
LA_E_1  bonafide  -        2.0   eval
LA_E_2  bonafide  -        0.5   eval
LA_E_3  spoof     A07      1.0   eval
LA_E_4  spoof     A07     -1.0   eval
LA_E_5  spoof     A08      0.0   progress
LA_E_6  spoof     A08     -2.0   progress
======  ========  ======  =====  ==============

Pooled: sorted -2s -1s 0s 0.5b 1s 2b, points (miss, fa) = (0, 1) (0, 3/4)
(0, 1/2) (0, 1/4) (1/2, 1/4) (1/2, 0) (1, 0); the gap 1/4 first at point 3:
EER 1/8. A07: -1s 0.5b 1s 2b, points (0, 1) (0, 1/2) (1/2, 1/2) (1/2, 0)
(1, 0): EER 1/2. A08: -2s 0s 0.5b 2b, point 2 is (0, 0): EER 0.

ASV scores: target [3, 4], nontarget [1, 2], spoof A07 [2.5, 0] (none for
A08). ASV EER threshold 2 (the point after both nontargets), accept >= 2:
Pfa = 1/2, Pmiss = 0, Pmiss_spoof = Pfa_spoof = 1/2.
2019: C1 = 0.9405 - 0.095 / 2 = 0.893, C2 = 0.5 (1 - 1/2) = 0.25,
cost = (0.893 miss + 0.25 fa) / 0.25.
2021: C0 = 0.0475, C1 = 0.893, C2 = 0.25, cost = (0.0475 + 0.893 miss +
0.25 fa) / 0.2975.
Pooled: 2019 min at (0, 1/4) = 0.25; 2021 min (0.0475 + 0.0625) / 0.2975.
A07: 2019 min at (0, 1/2) = 0.5; 2021 (0.0475 + 0.125) / 0.2975.
A08 (all ASV spoof scores, the same constants): at (0, 0): 2019 0, 2021
0.0475 / 0.2975.

Authors
 * speechbrain-asd developers
"""

import numpy as np
import pytest

from speechbrain_asd.evaluation import (
    compare_score_files,
    evaluate_score_file,
    format_comparison_table,
    format_report_table,
)

TRIALS = [
    ("LA_0001", "LA_E_1", "bonafide", 2.0, "eval"),
    ("LA_0001", "LA_E_2", "bonafide", 0.5, "eval"),
    ("LA_0002", "LA_E_3", "A07", 1.0, "eval"),
    ("LA_0002", "LA_E_4", "A07", -1.0, "eval"),
    ("LA_0003", "LA_E_5", "A08", 0.0, "progress"),
    ("LA_0003", "LA_E_6", "A08", -2.0, "progress"),
]
ASV_LINES = [
    "bonafide target 3.0",
    "bonafide target 4.0",
    "bonafide nontarget 1.0",
    "bonafide nontarget 2.0",
    "A07 spoof 2.5",
    "A07 spoof 0.0",
]


def _write(path, lines):
    """Writes lines to a text file.

    Arguments
    ---------
    path : pathlib.Path
        The file.
    lines : list of str
        Its lines.

    Returns
    -------
    pathlib.Path
        The file.
    """
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _protocol_2019(folder, trials=TRIALS):
    """Writes the case as an ASVspoof 2019 CM protocol.

    Arguments
    ---------
    folder : pathlib.Path
        Where to write.
    trials : list of tuple
        Rows ``(speaker, trial, attack, score, subset)``.

    Returns
    -------
    pathlib.Path
        The protocol.
    """
    lines = []
    for speaker, trial, attack, _, _ in trials:
        key = "bonafide" if attack == "bonafide" else "spoof"
        system = "-" if attack == "bonafide" else attack
        lines.append(f"{speaker} {trial} - {system} {key}")
    return _write(folder / "protocol2019.txt", lines)


def _protocol_2021(folder):
    """Writes the case as an ASVspoof 2021 ``trial_metadata.txt``.

    Arguments
    ---------
    folder : pathlib.Path
        Where to write.

    Returns
    -------
    pathlib.Path
        The protocol.
    """
    lines = []
    for speaker, trial, attack, _, subset in TRIALS:
        key = "bonafide" if attack == "bonafide" else "spoof"
        lines.append(
            f"{speaker} {trial} alaw ita_tx {attack} {key} notrim {subset}"
        )
    return _write(folder / "trial_metadata.txt", lines)


def _scores(folder, four_columns=False, trials=TRIALS):
    """Writes the case's CM scores in either ASVspoof score format.

    Arguments
    ---------
    folder : pathlib.Path
        Where to write.
    four_columns : bool
        ``trial attack key score`` when True, else ``trial score``.
    trials : list of tuple
        Rows ``(speaker, trial, attack, score, subset)``.

    Returns
    -------
    pathlib.Path
        The score file.
    """
    lines = []
    for _, trial, attack, score, _ in trials:
        if four_columns:
            key = "bonafide" if attack == "bonafide" else "spoof"
            system = "-" if attack == "bonafide" else attack
            lines.append(f"{trial} {system} {key} {score}")
        else:
            lines.append(f"{trial} {score}")
    return _write(folder / "scores.txt", lines)


def test_2019_protocol_two_column_scores(tmp_path):
    """EERs of the hand-worked case; no ASV scores, no t-DCF."""
    report = evaluate_score_file(_scores(tmp_path), _protocol_2019(tmp_path))
    pooled = dict(report["pooled"])
    for key in ("min_tdcf_2019", "min_tdcf_2021", "asv_spoof_set"):
        assert pooled.pop(key) is None
    bonafide_costs = np.log2(1 + np.exp(-np.array([2.0, 0.5])))
    spoof_costs = np.log2(1 + np.exp(np.array([1.0, -1.0, 0.0, -2.0])))
    assert pooled == pytest.approx(
        {
            "eer": 0.125,
            "n_bonafide": 2,
            "n_spoof": 4,
            # Bona fide 2.0, 0.5; spoof 1.0, -1.0, 0.0, -2.0. minDCF at the
            # threshold between 0 and 0.5: no miss, 1 spoof of 4 accepted.
            "min_dcf": 0.25,
            # At -ln(1.9): no bona fide below, spoofs 1.0 and 0.0 at or above.
            "act_dcf": 0.5,
            "cllr": 0.5 * (bonafide_costs.mean() + spoof_costs.mean()),
            # PAV posteriors 0, 0, 0, .5, .5, 1; LLR of .5 is ln 2 (prior 2:4).
            "min_cllr": 0.5 * (np.log2(1.5) / 2 + np.log2(3.0) / 4),
        },
        rel=1e-12,
    )
    eers = {name: row["eer"] for name, row in report["per_attack"].items()}
    assert eers == {"A07": 0.5, "A08": 0.0}


def test_2021_protocol_four_column_scores_with_asv(tmp_path):
    """EER and both min t-DCFs worked out in the module docstring."""
    report = evaluate_score_file(
        _scores(tmp_path, four_columns=True),
        _protocol_2021(tmp_path),
        asv_scores_path=_write(tmp_path / "asv.txt", ASV_LINES),
    )
    pooled = report["pooled"]
    assert pooled["eer"] == 0.125
    assert pooled["min_tdcf_2019"] == pytest.approx(0.25)
    assert pooled["min_tdcf_2021"] == pytest.approx(0.11 / 0.2975)
    assert pooled["asv_spoof_set"] == "all"
    a07, a08 = report["per_attack"]["A07"], report["per_attack"]["A08"]
    assert (a07["eer"], a07["asv_spoof_set"]) == (0.5, "attack")
    assert a07["min_tdcf_2019"] == pytest.approx(0.5)
    assert a07["min_tdcf_2021"] == pytest.approx(0.1725 / 0.2975)
    assert (a08["eer"], a08["asv_spoof_set"]) == (0.0, "all")
    assert a08["min_tdcf_2019"] == pytest.approx(0.0)
    assert a08["min_tdcf_2021"] == pytest.approx(0.0475 / 0.2975)


def test_subset_filter_of_2021_protocol(tmp_path):
    """Subset eval keeps LA_E_1..4: bona fide vs A07 only, EER 1/2.

    The scores of the progress trials are in the file and are ignored.
    """
    report = evaluate_score_file(
        _scores(tmp_path), _protocol_2021(tmp_path), subset="eval"
    )
    assert list(report["per_attack"]) == ["A07"]
    assert (report["pooled"]["eer"], report["pooled"]["n_spoof"]) == (0.5, 2)


def test_subset_errors(tmp_path):
    """A subset of a 2019 protocol, or an absent subset, is refused."""
    scores = _scores(tmp_path)
    with pytest.raises(ValueError, match=r"has no subset column"):
        evaluate_score_file(scores, _protocol_2019(tmp_path), subset="eval")
    with pytest.raises(ValueError, match=r"no trial of subset 'hidden'.*eval"):
        evaluate_score_file(scores, _protocol_2021(tmp_path), subset="hidden")


def test_unknown_and_missing_trials_are_listed(tmp_path):
    """Scores outside the protocol and unscored trials are errors."""
    protocol = _protocol_2019(tmp_path)
    extra = [*TRIALS, ("LA_0009", "LA_E_99", "A07", 0.3, "eval")]
    with pytest.raises(
        ValueError, match=r"1 scored trial\(s\) not in .*LA_E_99"
    ):
        evaluate_score_file(_scores(tmp_path, trials=extra), protocol)
    with pytest.raises(
        ValueError, match=r"no score for 2 trial\(s\).*'LA_E_5'"
    ):
        evaluate_score_file(_scores(tmp_path, trials=TRIALS[:4]), protocol)


def test_duplicates_and_bad_scores_name_file_and_line(tmp_path):
    """Duplicate ids and NaN scores are reported by the readers."""
    protocol = _protocol_2019(tmp_path)
    scores = _write(tmp_path / "dup.txt", ["LA_E_1 1.0", "LA_E_1 2.0"])
    with pytest.raises(ValueError, match=r"dup.txt:2: duplicate trial id"):
        evaluate_score_file(scores, protocol)
    scores = _write(tmp_path / "nan.txt", ["LA_E_1 nan"])
    with pytest.raises(ValueError, match=r"nan.txt:1: .*not finite"):
        evaluate_score_file(scores, protocol)
    twice = _protocol_2019(tmp_path, trials=[*TRIALS, TRIALS[0]])
    with pytest.raises(ValueError, match=r"protocol2019.txt:7: .*LA_E_1"):
        evaluate_score_file(_scores(tmp_path), twice)


def test_hard_decisions_and_one_class_are_refused(tmp_path):
    """Fewer than 3 distinct scores, or no spoof trial, are errors."""
    protocol = _protocol_2019(tmp_path)
    binary = [(*row[:3], float(row[2] == "bonafide"), row[4]) for row in TRIALS]
    with pytest.raises(ValueError, match=r"scores.txt: .*only 2 distinct"):
        evaluate_score_file(_scores(tmp_path, trials=binary), protocol)
    bonafide_only = TRIALS[:2]
    with pytest.raises(ValueError, match=r"no spoof trial"):
        evaluate_score_file(
            _scores(tmp_path, trials=bonafide_only),
            _protocol_2019(tmp_path, trials=bonafide_only),
        )


def test_asv_file_without_spoof_is_refused(tmp_path):
    """The t-DCF needs spoof lines in the ASV score file."""
    asv = _write(tmp_path / "asv.txt", ASV_LINES[:4])
    with pytest.raises(ValueError, match=r"asv.txt: no 'spoof' line"):
        evaluate_score_file(
            _scores(tmp_path), _protocol_2019(tmp_path), asv_scores_path=asv
        )


def test_format_report_table(tmp_path):
    """Percent EER, 4-decimal t-DCF, '*' and a note for the ASV fallback."""
    report = evaluate_score_file(
        _scores(tmp_path),
        _protocol_2019(tmp_path),
        asv_scores_path=_write(tmp_path / "asv.txt", ASV_LINES),
    )
    assert format_report_table(report).splitlines() == [
        "condition  bona fide  spoof  EER (%)  min t-DCF 2019  min t-DCF 2021"
        "  minDCF  actDCF    Cllr  minCllr",
        "pooled             2      4    12.50          0.2500          0.3697"
        "  0.2500  0.5000  0.6580   0.3444",
        "A07                2      2    50.00          0.5000          0.5798"
        "  0.5000  0.5000  0.8034   0.5000",
        "A08                2      2     0.00         0.0000*         0.1597*"
        "  0.0000  0.5000  0.5125   0.0000",
        "* t-DCF with all ASV spoof scores: the ASV scores have none of "
        "this attack",
        "t-EER (concurrent, pooled, with the ASV scores): 12.50 %",
    ]
    plain = evaluate_score_file(_scores(tmp_path), _protocol_2019(tmp_path))
    pooled_line = format_report_table(plain).splitlines()[1]
    assert pooled_line.split()[4:6] == ["-", "-"]


def test_bootstrap_intervals_in_every_row(tmp_path):
    """Each row gets trial and speaker intervals around its values."""
    report = evaluate_score_file(
        _scores(tmp_path),
        _protocol_2019(tmp_path),
        asv_scores_path=_write(tmp_path / "asv.txt", ASV_LINES),
        n_resamples=200,
        seed=3,
    )
    assert report["bootstrap"] == {
        "n_resamples": 200,
        "seed": 3,
        "confidence": 0.95,
        "interval": "percentile",
        "designs": ["trial", "speaker"],
    }
    rows = [report["pooled"], *report["per_attack"].values()]
    for row in rows:
        for metric in ("eer", "min_tdcf_2019", "min_tdcf_2021"):
            for design in ("trial", "speaker"):
                low, high = row["intervals"][metric][design]
                assert low <= high
                assert 0.0 <= low and high <= max(1.0, 2 * row[metric])
    again = evaluate_score_file(
        _scores(tmp_path),
        _protocol_2019(tmp_path),
        asv_scores_path=tmp_path / "asv.txt",
        n_resamples=200,
        seed=3,
    )
    assert again == report
    plain = evaluate_score_file(_scores(tmp_path), _protocol_2019(tmp_path))
    assert "intervals" not in plain["pooled"] and "bootstrap" not in plain


def test_format_report_table_with_intervals(tmp_path):
    """Cells read 'value [low, high]'; a 'by speaker' line follows."""
    report = evaluate_score_file(
        _scores(tmp_path), _protocol_2019(tmp_path), n_resamples=50
    )
    lines = format_report_table(report).splitlines()
    pooled = report["pooled"]["intervals"]["eer"]
    low, high = (f"{100 * bound:.2f}" for bound in pooled["trial"])
    assert lines[1].startswith("pooled")
    assert lines[1].split()[3:6] == ["12.50", f"[{low},", f"{high}]"]
    assert lines[2].split()[:2] == ["by", "speaker"]
    assert lines[-1].startswith("[]: 95 % percentile bootstrap intervals")
    assert len(lines) == 1 + 2 * 3 + 1


def test_compare_a_file_with_itself_and_with_a_better_one(tmp_path):
    """Self: zero differences; better B: negative EER difference."""
    protocol = _protocol_2019(tmp_path)
    asv = _write(tmp_path / "asv.txt", ASV_LINES)
    scores = _scores(tmp_path)
    same = compare_score_files(
        scores, scores, protocol, asv_scores_path=asv, n_resamples=50
    )
    assert same["a"] == same["b"] == str(scores)
    for metric in ("eer", "min_tdcf_2019", "min_tdcf_2021"):
        found = same["pooled"][metric]
        assert found["difference"] == 0.0
        assert found["trial"]["interval"] == [0.0, 0.0]
        assert found["speaker"]["sign_flip"] == 0.0
    better_rows = [
        (*row[:3], row[3] + 3 * (row[2] == "bonafide"), row[4])
        for row in TRIALS
    ]
    better = _write(
        tmp_path / "better.txt",
        [f"{trial} {score}" for _, trial, _, score, _ in better_rows],
    )
    result = compare_score_files(scores, better, protocol, n_resamples=50)
    eer = result["pooled"]["eer"]
    assert (eer["a"], eer["b"], eer["difference"]) == (0.125, 0.0, -0.125)
    assert eer["trial"]["interval"][1] <= 0.0
    assert result["pooled"]["min_tdcf_2019"] is None
    assert set(result["per_attack"]) == {"A07", "A08"}
    table = format_comparison_table(result).splitlines()
    assert table[1].split()[:6] == [
        "pooled",
        "EER",
        "(%)",
        "12.50",
        "0.00",
        "-12.50",
    ]


def test_compare_reports_rank_correlation_of_the_two_systems(tmp_path):
    """Self: 1; reversed scores: -1."""
    protocol = _protocol_2019(tmp_path)
    scores = _scores(tmp_path)
    same = compare_score_files(scores, scores, protocol, n_resamples=10)
    assert same["rank_correlation"] == pytest.approx(1.0)
    assert "rank correlation of A's and B's scores (all trials): 1.000" in (
        format_comparison_table(same)
    )
    flipped = _write(
        tmp_path / "flipped.txt",
        [f"{trial} {-score}" for _, trial, _, score, _ in TRIALS],
    )
    reversed_ = compare_score_files(scores, flipped, protocol, n_resamples=10)
    assert reversed_["rank_correlation"] == pytest.approx(-1.0)


def test_compare_refuses_mismatched_trials(tmp_path):
    """A file that misses trials the protocol lists is named in the error."""
    protocol = _protocol_2019(tmp_path)
    full = _scores(tmp_path)
    short = _write(
        tmp_path / "short.txt",
        [f"{trial} {score}" for _, trial, _, score, _ in TRIALS[:5]],
    )
    with pytest.raises(ValueError, match=r"short.txt: no score for 1 trial"):
        compare_score_files(full, short, protocol, n_resamples=10)
    extra = _write(
        tmp_path / "extra.txt",
        [f"{trial} {score}" for _, trial, _, score, _ in TRIALS]
        + ["LA_E_99 0.0"],
    )
    with pytest.raises(ValueError, match=r"extra.txt: 1 scored trial"):
        compare_score_files(extra, full, protocol, n_resamples=10)
