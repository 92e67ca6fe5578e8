"""Tests of speechbrain_asd.tandem_evaluation and the ``tandem`` command:
hand-worked rates and thresholds, dev calibrations and the fused metrics,
the checks of the files, and the agreement with ``evaluate``.

Authors
 * speechbrain-asd developers
"""

import json

import numpy as np
import pytest

from speechbrain_asd.calibration import Calibration, fit_calibration
from speechbrain_asd.cli import EXIT_BAD_INPUT, main
from speechbrain_asd.evaluation import evaluate_score_file
from speechbrain_asd.metrics import P_NONTARGET, compute_eer
from speechbrain_asd.scorefiles import (
    ASVTrial,
    CMTrial,
    ScoreFileError,
    write_asv_protocol,
    write_asv_scores,
    write_asv_trial_metadata,
    write_cm_protocol,
    write_cm_scores,
)
from speechbrain_asd.tandem import (
    ADCF_COSTS_ASVSPOOF5,
    ADCF_COSTS_PAPER,
    compute_min_a_dcf,
    compute_t_eer,
    fuse_scores,
    sasv_eers,
)
from speechbrain_asd.tandem_evaluation import (
    ADCF_COST_SETS,
    evaluate_tandem,
    format_tandem_table,
    read_tandem_trials,
)

# (claimed speaker, utterance, source, key, ASV score, CM score)
HAND_ROWS = [
    ("S1", "U1", "bonafide", "target", 3.0, 2.0),
    ("S1", "U2", "bonafide", "target", 1.0, -1.0),
    ("S1", "U3", "bonafide", "nontarget", 2.0, 1.0),
    ("S1", "U4", "bonafide", "nontarget", 0.0, 0.5),
    ("S1", "U5", "A07", "spoof", 2.5, -2.0),
    ("S1", "U6", "A08", "spoof", 0.5, 1.5),
]
"""Two trials per key. ASV EER threshold 1.0 (target {3, 1} vs nontarget
{2, 0}); CM EER threshold 0.5 (bona fide {2, -1, 1, 0.5} vs spoof {-2, 1.5})."""


def _write_set(folder, name, rows, metadata=False):
    """Writes an ASV protocol, its ASV scores and the CM scores of ``rows``.

    Arguments
    ---------
    folder : pathlib.Path
        Where the files go.
    name : str
        Prefix of the file names.
    rows : list of tuple
        ``(speaker, utterance, source, key, asv_score, cm_score)``.
    metadata : bool
        Write the protocol as a 2021 ASV ``trial_metadata.txt``.

    Returns
    -------
    tuple of pathlib.Path
        The protocol, the ASV scores and the CM scores.
    """
    paths = [folder / f"{name}_{part}.txt" for part in ("asv", "asvs", "cm")]
    if metadata:
        trials = [
            ASVTrial(s, u, a, k, "gsm", "loc_tx", "eval", "notrim")
            for s, u, a, k, _, _ in rows
        ]
        write_asv_trial_metadata(paths[0], trials)
    else:
        write_asv_protocol(
            paths[0], [ASVTrial(s, u, a, k) for s, u, a, k, _, _ in rows]
        )
    write_asv_scores(paths[1], [(a, k, asv) for _, _, a, k, asv, _ in rows])
    write_cm_scores(paths[2], {u: cm for _, u, _, _, _, cm in rows})
    return tuple(paths)


@pytest.fixture
def hand_set(tmp_path):
    """The files of ``HAND_ROWS``.

    Arguments
    ---------
    tmp_path : pathlib.Path
        Pytest's temporary folder.

    Returns
    -------
    tuple of pathlib.Path
        The protocol, the ASV scores and the CM scores.
    """
    return _write_set(tmp_path, "eval", HAND_ROWS)


def _random_rows(seed, n_speakers=6, n_utterances=40):
    """Random trials where each bona fide utterance is tried against
    several claimed speakers (target once, nontarget otherwise), with ties."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(n_utterances):
        owner = f"S{index % n_speakers}"
        spoofed = index % 3 == 0
        cm = float(np.round(rng.normal(-1.0 if spoofed else 1.0), 1))
        claims = [owner] if spoofed else [owner, f"S{(index + 1) % n_speakers}"]
        for claimed in claims:
            if spoofed:
                source, key, mean = f"A{7 + index % 2:02d}", "spoof", 1.5
            else:
                source = "bonafide"
                key = "target" if claimed == owner else "nontarget"
                mean = 2.0 if key == "target" else -1.0
            asv = float(np.round(rng.normal(mean), 1))
            rows.append((claimed, f"U{index}", source, key, asv, cm))
    return rows


# ------------------------------------------------------------ hand cases


def test_hand_case_without_dev(hand_set):
    """Eval EER thresholds, every rate and t-DCF worked out by hand."""
    result = evaluate_tandem(*hand_set)
    assert result["counts"] == {
        "eval": {
            "target": 2,
            "nontarget": 2,
            "spoof": 2,
            "cm_bonafide": 4,
            "cm_spoof": 2,
        },
        "dev": None,
    }
    assert result["thresholds"] == {
        "asv": 1.0,
        "asv_from": "eval",
        "cm": 0.5,
        "cm_from": "eval",
        "cm_on": "score",
    }
    # ASV accepts U1, U2 (targets), U3 (nontarget) and U5 (spoof).
    assert result["asv"] == {
        "eer": 0.5,
        "miss": 0.0,
        "fa_nontarget": 0.5,
        "fa_spoof": 0.5,
    }
    # The CM (>= 0.5) then rejects U2 and U5.
    assert result["tandem"] == {
        "miss": 0.5,
        "fa_nontarget": 0.5,
        "fa_spoof": 0.0,
    }
    # ASV at 1.0: Pmiss 0, Pfa 0.5, Pfa_spoof 0.5; the best CM point
    # keeps every bona fide trial and accepts one spoof in two.
    c0 = P_NONTARGET * 10 * 0.5
    c1 = 0.9405 - c0
    c2 = 10 * 0.05 * 0.5
    assert result["cm"]["eer"] == 0.5
    assert result["cm"]["min_tdcf_2019"] == pytest.approx(
        (c2 * 0.5) / min(c1, c2)
    )
    assert result["cm"]["min_tdcf_2021"] == pytest.approx(
        (c0 + c2 * 0.5) / (c0 + min(c1, c2))
    )
    expected = compute_t_eer(
        [3.0, 1.0], [2.0, 0.0], [2.5, 0.5], [2.0, -1.0, 1.0, 0.5], [-2.0, 1.5]
    )
    assert result["t_eer"] == expected._asdict()
    assert result["fused"] is None
    json.dumps(result)


def test_dev_asv_threshold_and_given_cm_threshold(hand_set, tmp_path):
    """The ASV threshold comes from dev, the given CM one is used as is."""
    dev_rows = [
        ("S1", "D1", "bonafide", "target", 2.5, 0.0),
        ("S1", "D2", "bonafide", "target", 1.8, 0.0),
        ("S1", "D3", "bonafide", "nontarget", 1.9, 0.0),
        ("S1", "D4", "bonafide", "nontarget", 0.1, 0.0),
        ("S1", "D5", "A07", "spoof", 0.0, 0.0),
    ]
    dev = _write_set(tmp_path, "dev", dev_rows)
    result = evaluate_tandem(*hand_set, *dev[:2], cm_threshold=-1.5)
    assert result["thresholds"] == {
        "asv": 1.8,
        "asv_from": "dev",
        "cm": -1.5,
        "cm_from": "given",
        "cm_on": "score",
    }
    assert result["counts"]["dev"] == {
        "target": 2,
        "nontarget": 2,
        "spoof": 1,
    }
    # ASV at 1.8 accepts U1, U3 and U5; the CM (>= -1.5) rejects U5 only.
    assert result["asv"] == {
        "eer": 0.5,
        "miss": 0.5,
        "fa_nontarget": 0.5,
        "fa_spoof": 0.5,
    }
    assert result["tandem"] == {
        "miss": 0.5,
        "fa_nontarget": 0.5,
        "fa_spoof": 0.0,
    }
    assert result["fused"] is None


def test_a_calibration_decides_on_llrs(hand_set):
    """A CM calibration's threshold applies to its LLRs; with dev ASV
    scores the fused metrics use its LLRs."""
    calibration = Calibration(2.0, -1.0, 0.0, "bayes", 0.05, 1.0, 0.5)
    result = evaluate_tandem(
        *hand_set, *hand_set[:2], cm_calibration=calibration
    )
    assert result["thresholds"]["cm"] == 0.0
    assert result["thresholds"]["cm_from"] == "calibration"
    assert result["thresholds"]["cm_on"] == "llr"
    # LLR >= 0 means score >= 0.5: the same decisions as the eval EER.
    assert result["tandem"] == {
        "miss": 0.5,
        "fa_nontarget": 0.5,
        "fa_spoof": 0.0,
    }
    assert result["fused"]["cm_llr_from"] == "calibration"
    asv = fit_calibration([3.0, 1.0], [2.0, 0.0])
    fused = fuse_scores(
        asv.llr([row[4] for row in HAND_ROWS]),
        calibration.llr([row[5] for row in HAND_ROWS]),
    )
    expected = compute_min_a_dcf(fused[:2], fused[2:4], fused[4:])
    assert result["fused"]["min_a_dcf"]["asvspoof5"] == expected._asdict()


def test_dev_cm_scores_give_the_cm_threshold_and_the_fused_metrics(tmp_path):
    """With dev CM scores: the CM dev EER threshold, both LLR maps fitted on
    dev, and a separable eval set gets a min a-DCF and SASV EERs of 0."""
    dev_rows = [
        ("S1", "D1", "bonafide", "target", 2.0, 1.0),
        ("S1", "D2", "bonafide", "target", 0.5, -0.5),
        ("S1", "D3", "bonafide", "nontarget", 1.0, 0.5),
        ("S1", "D4", "bonafide", "nontarget", -1.0, 2.0),
        ("S1", "D5", "A07", "spoof", 1.5, 0.0),
        ("S1", "D6", "A07", "spoof", 0.0, -2.0),
    ]
    eval_rows = [
        ("S1", "E1", "bonafide", "target", 4.0, 3.0),
        ("S2", "E1", "bonafide", "nontarget", -3.0, 3.0),
        ("S1", "E2", "bonafide", "target", 3.0, 2.5),
        ("S1", "E3", "bonafide", "nontarget", -2.0, 2.0),
        ("S1", "E4", "A07", "spoof", 3.5, -3.0),
    ]
    dev = _write_set(tmp_path, "dev", dev_rows)
    found = _write_set(tmp_path, "eval", eval_rows)
    result = evaluate_tandem(*found, *dev)
    dev_bonafide, dev_spoof = [1.0, -0.5, 0.5, 2.0], [0.0, -2.0]
    assert result["thresholds"]["cm"] == compute_eer(dev_bonafide, dev_spoof)[1]
    assert result["thresholds"]["cm_from"] == "dev"
    assert result["counts"]["eval"]["cm_bonafide"] == 3
    fused = result["fused"]
    assert fused["cm_llr_from"] == "dev"
    assert (
        set(fused["min_a_dcf"])
        == set(ADCF_COST_SETS)
        == {
            "paper",
            "asvspoof5",
        }
    )
    for name in ADCF_COST_SETS:
        assert fused["min_a_dcf"][name]["min_a_dcf"] == 0.0
    assert (fused["sasv_eer"], fused["sv_eer"], fused["spf_eer"]) == (0, 0, 0)
    asv_map = fit_calibration([2.0, 0.5], [1.0, -1.0])
    cm_map = fit_calibration(dev_bonafide, dev_spoof)
    scores = fuse_scores(
        asv_map.llr([row[4] for row in eval_rows]),
        cm_map.llr([row[5] for row in eval_rows]),
    )
    target, nontarget, spoof = scores[[0, 2]], scores[[1, 3]], scores[[4]]
    expected = compute_min_a_dcf(target, nontarget, spoof, ADCF_COSTS_PAPER)
    assert fused["min_a_dcf"]["paper"] == expected._asdict()
    expected = compute_min_a_dcf(target, nontarget, spoof, ADCF_COSTS_ASVSPOOF5)
    assert fused["min_a_dcf"]["asvspoof5"] == expected._asdict()
    assert {k: fused[k] for k in ("sasv_eer", "sv_eer", "spf_eer")} == (
        sasv_eers(target, nontarget, spoof)
    )


def test_2021_metadata_protocol(tmp_path):
    """An 8-column ASV trial_metadata.txt works as a 2019 protocol does."""
    plain = evaluate_tandem(*_write_set(tmp_path, "a", HAND_ROWS))
    metadata = evaluate_tandem(
        *_write_set(tmp_path, "b", HAND_ROWS, metadata=True)
    )
    assert metadata == plain


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cm_metrics_match_evaluate(tmp_path, seed):
    """EER, min t-DCF (both forms) and t-EER equal ``evaluate``'s for a CM
    protocol of the test utterances and the same ASV score file, with
    utterances repeated across trials."""
    rows = _random_rows(seed)
    protocol, asv_scores, cm_scores = _write_set(tmp_path, "eval", rows)
    utterances = {u: a for _, u, a, _, _, _ in rows}
    write_cm_protocol(
        tmp_path / "cm_protocol.txt",
        [
            CMTrial("S0", u, a, "bonafide" if a == "bonafide" else "spoof")
            for u, a in utterances.items()
        ],
    )
    found = evaluate_tandem(protocol, asv_scores, cm_scores)
    report = evaluate_score_file(
        cm_scores, tmp_path / "cm_protocol.txt", asv_scores_path=asv_scores
    )["pooled"]
    for key in ("eer", "min_tdcf_2019", "min_tdcf_2021"):
        assert found["cm"][key] == report[key]
    assert found["t_eer"]["t_eer"] == report["t_eer"]
    assert found["counts"]["eval"]["cm_bonafide"] == report["n_bonafide"]
    assert found["counts"]["eval"]["cm_spoof"] == report["n_spoof"]


# ------------------------------------------------------------ bad input


def test_missing_cm_score_names_the_utterance_and_file(hand_set, tmp_path):
    """Every test utterance needs a CM score; extra scores are fine."""
    protocol, asv_scores, _ = hand_set
    cm = tmp_path / "partial.txt"
    cm.write_text("U1 2.0\nU2 1.0\nU3 0.0\nU5 -1.0\nU6 1.0\nX9 0.0\n")
    with pytest.raises(ScoreFileError, match=r"partial\.txt.*'U4' \(line 4\)"):
        read_tandem_trials(protocol, asv_scores, cm)


def test_misaligned_asv_scores_name_the_line(hand_set, tmp_path):
    """A score file in another order, or with a line too few, is refused."""
    protocol, _, cm = hand_set
    swapped = tmp_path / "swapped.txt"
    lines = [f"{a} {k} {asv}" for _, _, a, k, asv, _ in HAND_ROWS]
    lines[1], lines[2] = lines[2], lines[1]
    swapped.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScoreFileError, match=r"swapped\.txt:2: .* line 2 of"):
        evaluate_tandem(protocol, swapped, cm)
    short = tmp_path / "short.txt"
    short.write_text("\n".join(lines[:1]) + "\n")
    with pytest.raises(ScoreFileError, match=r"short\.txt: 1 score lines .* 6"):
        evaluate_tandem(protocol, short, cm)


@pytest.mark.parametrize("which", [1, 2])
def test_non_finite_scores_name_the_line(hand_set, tmp_path, which):
    """NaN or inf in the ASV or CM scores is refused with file and line."""
    paths = list(hand_set)
    bad = tmp_path / "bad.txt"
    lines = paths[which].read_text().splitlines()
    lines[2] = lines[2].rsplit(" ", 1)[0] + (" nan" if which == 1 else " inf")
    bad.write_text("\n".join(lines) + "\n")
    paths[which] = bad
    with pytest.raises(ValueError, match=r"bad\.txt:3: score .* not finite"):
        evaluate_tandem(*paths)


def test_a_key_without_trials_is_refused(tmp_path):
    """The tandem needs target, nontarget and spoof trials."""
    paths = _write_set(tmp_path, "eval", HAND_ROWS[:4])
    with pytest.raises(ValueError, match=r"eval_asv\.txt: no 'spoof' trial"):
        evaluate_tandem(*paths)


def test_an_utterance_with_two_sources_is_refused(tmp_path):
    """One test utterance cannot be bona fide in one trial, spoof in another."""
    rows = HAND_ROWS + [("S2", "U1", "A07", "spoof", 0.0, 2.0)]
    with pytest.raises(ValueError, match=r"eval_asv\.txt:7: utterance 'U1'"):
        evaluate_tandem(*_write_set(tmp_path, "eval", rows))


def test_options_that_do_not_go_together(hand_set):
    """Dev files in pairs; a calibration excludes dev CM scores and a
    threshold."""
    calibration = Calibration(1.0, 0.0, 0.0, "bayes", 0.05, 1.0, 1.0)
    with pytest.raises(ValueError, match="go together"):
        evaluate_tandem(*hand_set, dev_asv_protocol_path=hand_set[0])
    with pytest.raises(ValueError, match="need the dev ASV protocol"):
        evaluate_tandem(*hand_set, dev_cm_scores_path=hand_set[2])
    with pytest.raises(ValueError, match="without a CM threshold"):
        evaluate_tandem(*hand_set, cm_calibration=calibration, cm_threshold=0)
    with pytest.raises(ValueError, match="without dev CM scores"):
        evaluate_tandem(*hand_set, *hand_set, cm_calibration=calibration)


# ------------------------------------------------------------ command line


def _flags(paths, prefix=""):
    """The ``tandem`` flags of a protocol, ASV scores and CM scores."""
    names = ("asv-protocol", "asv-scores", "cm-scores")
    return [
        part
        for name, path in zip(names, paths)
        for part in (f"--{prefix}{name}", str(path))
    ]


def test_cli_json_is_the_library_result(hand_set, capsys):
    """``tandem --json`` prints every number of ``evaluate_tandem``."""
    assert main(["tandem", *_flags(hand_set), *_flags(hand_set, "dev-")]) == 0
    table = capsys.readouterr().out
    assert main(["tandem", *_flags(hand_set), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == evaluate_tandem(*hand_set)
    assert "min a-DCF (paper)" in table
    assert "thresholds: ASV 1.0000 (dev EER), CM 0.5000" in table


def test_cli_table(hand_set, capsys):
    """The table shows the rates in percent and the CM metrics."""
    assert main(["tandem", *_flags(hand_set)]) == 0
    table = capsys.readouterr().out
    assert table.rstrip("\n") == format_tandem_table(evaluate_tandem(*hand_set))
    lines = table.splitlines()
    assert lines[4].split() == ["ASV", "alone", "0.00", "50.00", "50.00"]
    assert lines[5].split() == ["tandem", "50.00", "50.00", "0.00"]
    assert "min t-DCF 2019 / 2021  0.5000 / 0.5798" in table
    assert "min a-DCF, SASV EERs   - (need dev ASV scores" in table


def test_cli_reads_a_calibration_file(hand_set, tmp_path, capsys):
    """``--cm-calibration`` reads calibrate's JSON; a missing one is an
    error of one line, status 2."""
    calibration = Calibration(2.0, -1.0, 0.0, "bayes", 0.05, 1.0, 0.5)
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(calibration.to_dict()))
    args = ["tandem", *_flags(hand_set), "--json", "--cm-calibration"]
    assert main([*args, str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == evaluate_tandem(*hand_set, cm_calibration=calibration)
    assert main([*args, str(tmp_path / "none.json")]) == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "none.json: no such file" in error


def test_cli_bad_input_names_the_file(hand_set, tmp_path, capsys):
    """A missing CM score ends with status 2 and a line naming the file."""
    cm = tmp_path / "partial.txt"
    cm.write_text("U1 2.0\n")
    paths = (*hand_set[:2], cm)
    assert main(["tandem", *_flags(paths)]) == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert error.startswith("speechbrain-asd tandem: error: ")
    assert "partial.txt: no CM score for 5 test utterance(s)" in error


def test_cli_help(capsys):
    """``tandem --help`` prints its usage and exits 0."""
    with pytest.raises(SystemExit) as stop:
        main(["tandem", "--help"])
    assert stop.value.code == 0
    assert "speechbrain-asd tandem" in capsys.readouterr().out
