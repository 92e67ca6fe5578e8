"""Tests of the ASVspoof 2021 decomposed results (attack x codec grid).

Authors
 * speechbrain-asd developers
"""

import json

import numpy as np
import pytest

from speechbrain_asd.cli import EXIT_BAD_INPUT, main
from speechbrain_asd.decomposition import POOLED, decomposed_results
from speechbrain_asd.evaluation import (
    evaluate_score_file,
    find_2021_keys,
    format_decomposed_table,
    format_report_table,
)
from speechbrain_asd.metrics import (
    P_NONTARGET,
    P_SPOOF,
    P_TARGET,
    asv_operating_point,
    compute_eer,
    compute_min_tdcf,
    tdcf_constants_2019,
    tdcf_constants_2021,
)
from speechbrain_asd.scorefiles import (
    ASVTrial,
    CMTrial,
    write_asv_score_list,
    write_asv_trial_metadata,
    write_cm_scores,
    write_trial_metadata,
)
from speechbrain_asd.tandem import compute_t_eer

CODECS = ("none", "gsm", "opus")
ATTACKS = ("A07", "A08")


def _random_sets(seed, n_cm=240, n_asv=300):
    """Random CM and ASV trials over codecs and attacks, with tied scores."""
    rng = np.random.default_rng(seed)
    cm_trials, cm_scores = [], []
    for index in range(n_cm):
        codec = CODECS[index % len(CODECS)]
        spoofed = rng.random() < 0.7
        attack = ATTACKS[rng.integers(2)] if spoofed else "bonafide"
        key = "spoof" if spoofed else "bonafide"
        cm_trials.append(CMTrial("S1", f"T{index}", attack, key, codec))
        shift = {"none": 2.0, "gsm": 1.0, "opus": 0.5}[codec]
        score = rng.normal(-shift if spoofed else shift)
        cm_scores.append(float(np.round(score, 1)))  # ties on purpose
    asv_trials, asv_scores = [], []
    for index in range(n_asv):
        codec = CODECS[rng.integers(3)]
        key = ("target", "nontarget", "spoof")[index % 3]
        attack = ATTACKS[rng.integers(2)] if key == "spoof" else "bonafide"
        asv_trials.append(ASVTrial("S1", f"V{index}", attack, key, codec))
        mean = {"target": 3.0, "nontarget": -1.0, "spoof": 1.5}[key]
        asv_scores.append(float(np.round(rng.normal(mean), 1)))
    return cm_trials, cm_scores, asv_trials, asv_scores


def _reference_cell(cm, asv, row, column):
    """One cell computed from the filtering rules with the plain metrics."""
    cm_trials, cm_scores = cm
    asv_trials, asv_scores = asv

    def codec_ok(trial):
        """Whether the column keeps this trial."""
        return column == POOLED or trial.codec == column

    def attack_ok(trial):
        """Whether the row keeps this spoof trial."""
        return row == POOLED or trial.attack == row

    bonafide = [
        s
        for t, s in zip(cm_trials, cm_scores)
        if t.key == "bonafide" and codec_ok(t)
    ]
    spoof = [
        s
        for t, s in zip(cm_trials, cm_scores)
        if t.key == "spoof" and codec_ok(t) and attack_ok(t)
    ]
    by_key = {
        key: [
            s
            for t, s in zip(asv_trials, asv_scores)
            if t.key == key and codec_ok(t) and (key != "spoof" or attack_ok(t))
        ]
        for key in ("target", "nontarget", "spoof")
    }
    op = asv_operating_point(
        by_key["target"], by_key["nontarget"], by_key["spoof"]
    )
    return {
        "eer": compute_eer(bonafide, spoof)[0],
        "min_tdcf_2021": compute_min_tdcf(
            bonafide, spoof, tdcf_constants_2021(op)
        ),
        "min_tdcf_2019": compute_min_tdcf(
            bonafide, spoof, tdcf_constants_2019(op)
        ),
        "c": tuple(tdcf_constants_2021(op)),
        "n": (len(bonafide), len(spoof)),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_cell_follows_the_filtering_rules(seed):
    """Each cell equals the metrics of the trials the organisers' rules keep:
    an attack filters spoofs only, a codec filters every trial, CM and ASV."""
    cm_trials, cm_scores, asv_trials, asv_scores = _random_sets(seed)
    grid = decomposed_results(cm_trials, cm_scores, asv_trials, asv_scores)
    assert grid["rows"] == [*ATTACKS, POOLED]
    assert grid["columns"] == [*CODECS, POOLED]
    assert grid["asv_codecs"] is True
    for row in grid["rows"]:
        for column in grid["columns"]:
            cell = grid["cells"][row][column]
            expected = _reference_cell(
                (cm_trials, cm_scores), (asv_trials, asv_scores), row, column
            )
            assert cell["eer"] == expected["eer"]
            assert cell["min_tdcf_2021"] == pytest.approx(
                expected["min_tdcf_2021"], abs=1e-12
            )
            assert cell["min_tdcf_2019"] == pytest.approx(
                expected["min_tdcf_2019"], abs=1e-12
            )
            assert (cell["c0"], cell["c1"], cell["c2"]) == pytest.approx(
                expected["c"], abs=1e-15
            )
            assert (cell["n_bonafide"], cell["n_spoof"]) == expected["n"]


def test_hand_computed_cell():
    """A cell worked out by hand: ASV EER threshold 1 (accept >= 1), so
    Pfa_asv = 1/2, Pmiss_asv = 0, Pfa_spoof_asv = 1/2; C0 = 10 Pnon / 2,
    C1 = Ptar - C0, C2 = 10 Pspoof / 2; the best CM threshold rejects the
    spoof at 1 only (Pmiss 0, Pfa 1/2)."""
    cm = [
        CMTrial("S", "B1", "bonafide", "bonafide", "gsm"),
        CMTrial("S", "B2", "bonafide", "bonafide", "gsm"),
        CMTrial("S", "X1", "A07", "spoof", "gsm"),
        CMTrial("S", "X2", "A07", "spoof", "gsm"),
    ]
    asv = [
        ASVTrial("S", "T1", "bonafide", "target", "gsm"),
        ASVTrial("S", "T2", "bonafide", "target", "gsm"),
        ASVTrial("S", "N1", "bonafide", "nontarget", "gsm"),
        ASVTrial("S", "N2", "bonafide", "nontarget", "gsm"),
        *(ASVTrial("S", f"P{i}", "A07", "spoof", "gsm") for i in range(4)),
    ]
    grid = decomposed_results(
        cm, [2.0, 3.0, 1.0, 2.5], asv, [3, 4, 0, 1, 2, 5, -1, 0.5]
    )
    cell = grid["cells"]["A07"]["gsm"]
    c0 = P_NONTARGET * 10 * 0.5
    c1 = P_TARGET - c0
    c2 = P_SPOOF * 10 * 0.5
    assert (cell["c0"], cell["c1"], cell["c2"]) == pytest.approx((c0, c1, c2))
    assert cell["min_tdcf_2021"] == pytest.approx(
        (c0 + c2 * 0.5) / (c0 + min(c1, c2))
    )
    assert cell["eer"] == 0.5


def test_cells_without_asv_spoof_or_with_a_bad_asv_get_no_tdcf():
    """No ASV spoof of an attack, or C1 < 0 in a cell: that cell's t-DCF is
    None with the reason; the EER is still there."""
    cm = [
        CMTrial("S", "B1", "bonafide", "bonafide", "none"),
        CMTrial("S", "B2", "bonafide", "bonafide", "gsm"),
        CMTrial("S", "X1", "A07", "spoof", "none"),
        CMTrial("S", "X2", "A07", "spoof", "gsm"),
        CMTrial("S", "X3", "A08", "spoof", "none"),
    ]
    asv = [
        ASVTrial("S", "T1", "bonafide", "target", "none"),
        ASVTrial("S", "N1", "bonafide", "nontarget", "none"),
        ASVTrial("S", "P1", "A07", "spoof", "none"),
        # gsm: every target below the nontarget, so at the EER threshold
        # the ASV misses 9 targets in 10 (C1 < 0)
        ASVTrial("S", "N2", "bonafide", "nontarget", "gsm"),
        ASVTrial("S", "P2", "A07", "spoof", "gsm"),
        *(
            ASVTrial("S", f"T{i}", "bonafide", "target", "gsm")
            for i in range(10)
        ),
    ]
    asv_scores = [3.0, -2.0, 1.0, 4.0, 0.0, *range(-14, -4)]
    grid = decomposed_results(cm, [2.0, 1.5, 0.0, -1.0, -2.0], asv, asv_scores)
    cells = grid["cells"]
    assert cells["A08"]["gsm"]["n_spoof"] == 0
    assert "no bona fide or no spoof" in cells["A08"]["gsm"]["note"]
    assert cells["A08"]["pooled"]["min_tdcf_2021"] is None
    assert "no ASV spoof" in cells["A08"]["pooled"]["note"]
    assert cells["A08"]["pooled"]["eer"] == 0.0
    assert cells["A07"]["gsm"]["min_tdcf_2021"] is None
    assert "C1 < 0" in cells["A07"]["gsm"]["note"]
    assert cells["A07"]["none"]["min_tdcf_2021"] is not None


def test_asv_scores_without_codecs_filter_by_attack_only():
    """2019-form ASV scores (codec '-'): every codec column uses the same
    target and nontarget ASV scores, and the table says so."""
    cm_trials, cm_scores, asv_trials, asv_scores = _random_sets(3)
    plain = [ASVTrial(t.speaker, t.trial, t.attack, t.key) for t in asv_trials]
    grid = decomposed_results(cm_trials, cm_scores, plain, asv_scores)
    assert grid["asv_codecs"] is False
    weights = {column: grid["cells"]["A07"][column]["c0"] for column in CODECS}
    assert len(set(weights.values())) == 1
    assert "filtered by attack only" in format_decomposed_table(grid)


def test_grid_without_asv_has_eers_only():
    """Without ASV scores every cell has an EER and no t-DCF."""
    cm_trials, cm_scores, _, _ = _random_sets(4)
    grid = decomposed_results(cm_trials, cm_scores)
    pooled = grid["cells"][POOLED][POOLED]
    assert pooled["eer"] is not None and pooled["min_tdcf_2021"] is None
    assert pooled["note"] == "no ASV scores"


def test_bad_inputs_are_refused():
    """Misaligned scores or hard decisions are refused with a message."""
    cm_trials, cm_scores, asv_trials, asv_scores = _random_sets(5)
    with pytest.raises(ValueError, match="CM scores for"):
        decomposed_results(cm_trials, cm_scores[:-1])
    with pytest.raises(ValueError, match="ASV scores for"):
        decomposed_results(cm_trials, cm_scores, asv_trials, asv_scores[:-1])
    with pytest.raises(ValueError, match="distinct"):
        decomposed_results(cm_trials, [1.0] * len(cm_trials))


def _write_2021_keys(folder, seed=6):
    """Writes a 2021-style CM and ASV key set with subsets and scores."""
    cm_trials, cm_scores, asv_trials, asv_scores = _random_sets(seed)
    subsets = ("eval", "progress")
    cm_trials = [
        CMTrial(
            t.speaker,
            t.trial,
            t.attack,
            t.key,
            t.codec,
            "loc_tx",
            subsets[i % 2],
            "notrim",
        )
        for i, t in enumerate(cm_trials)
    ]
    asv_trials = [
        ASVTrial(
            t.speaker,
            t.trial,
            t.attack,
            t.key,
            t.codec,
            "loc_tx",
            subsets[i % 2],
            "notrim",
        )
        for i, t in enumerate(asv_trials)
    ]
    paths = {
        "protocol": folder / "cm_trial_metadata.txt",
        "asv_metadata": folder / "asv_trial_metadata.txt",
        "asv_scores": folder / "score.txt",
        "scores": folder / "cm_scores.txt",
    }
    write_trial_metadata(paths["protocol"], cm_trials)
    write_asv_trial_metadata(paths["asv_metadata"], asv_trials)
    write_asv_score_list(
        paths["asv_scores"],
        [(t.speaker, t.trial, s) for t, s in zip(asv_trials, asv_scores)],
    )
    write_cm_scores(
        paths["scores"], {t.trial: s for t, s in zip(cm_trials, cm_scores)}
    )
    return paths, (cm_trials, cm_scores, asv_trials, asv_scores)


def test_evaluate_score_file_on_2021_keys_keeps_one_subset(tmp_path):
    """evaluate_score_file on 2021 keys: the decomposed grid uses the CM and
    ASV trials of the asked subset only, and the table prints it."""
    paths, (cm_trials, cm_scores, asv_trials, asv_scores) = _write_2021_keys(
        tmp_path
    )
    report = evaluate_score_file(
        paths["scores"],
        paths["protocol"],
        asv_scores_path=paths["asv_scores"],
        asv_metadata_path=paths["asv_metadata"],
        subset="eval",
    )
    keep_cm = [i for i, t in enumerate(cm_trials) if t.subset == "eval"]
    keep_asv = [i for i, t in enumerate(asv_trials) if t.subset == "eval"]
    expected = decomposed_results(
        [cm_trials[i] for i in keep_cm],
        [cm_scores[i] for i in keep_cm],
        [asv_trials[i] for i in keep_asv],
        [asv_scores[i] for i in keep_asv],
    )
    assert report["subset"] == "eval"
    assert report["decomposed"]["cells"] == expected["cells"]
    pooled = report["decomposed"]["cells"][POOLED][POOLED]
    assert report["pooled"]["eer"] == pooled["eer"]
    assert report["pooled"]["min_tdcf_2021"] == pytest.approx(
        pooled["min_tdcf_2021"]
    )
    table = format_report_table(report)
    assert "Decomposed results (subset: eval)" in table
    assert "min t-DCF 2021" in table.split("Decomposed")[1]


def test_2019_protocols_get_no_grid(tmp_path):
    """A 2019 protocol (no codecs) gives the per-attack report only."""
    protocol = tmp_path / "protocol.txt"
    protocol.write_text(
        "LA_1 LA_E_1 - - bonafide\nLA_1 LA_E_2 - - bonafide\n"
        "LA_1 LA_E_3 - A07 spoof\nLA_1 LA_E_4 - A07 spoof\n"
    )
    scores = tmp_path / "scores.txt"
    scores.write_text("LA_E_1 2\nLA_E_2 1\nLA_E_3 0\nLA_E_4 1.5\n")
    report = evaluate_score_file(scores, protocol)
    assert "decomposed" not in report


def _keys_folder(root):
    """Lays the 2021 key files out as the organisers ship them."""
    paths, data = _write_2021_keys(root)
    la = root / "keys" / "LA"
    (la / "CM").mkdir(parents=True)
    (la / "ASV" / "ASVTorch_Kaldi").mkdir(parents=True)
    paths["protocol"].rename(la / "CM" / "trial_metadata.txt")
    paths["asv_metadata"].rename(la / "ASV" / "trial_metadata.txt")
    paths["asv_scores"].rename(la / "ASV" / "ASVTorch_Kaldi" / "score.txt")
    return paths["scores"], data


def test_cli_evaluate_with_a_keys_folder(tmp_path, capsys):
    """``evaluate --keys`` finds the CM and ASV keys and prints the grid;
    ``--json`` carries every cell with its C0, C1, C2."""
    scores, _ = _keys_folder(tmp_path)
    argv = ["evaluate", "--scores", str(scores), "--keys", str(tmp_path)]
    argv += ["--subset", "eval", "--bootstrap", "0"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "Decomposed results (subset: eval)" in table
    assert main(argv + ["--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    grid = report["decomposed"]
    assert grid["columns"] == [*CODECS, POOLED]
    cell = grid["cells"]["A07"]["gsm"]
    assert cell["c1"] > 0 and cell["min_tdcf_2021"] is not None
    assert grid["asv_codecs"] is True


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--protocol", "p.txt"], "not both"),
        (None, "no ASVspoof 2021 keys"),
    ],
)
def test_cli_keys_errors_are_one_line(tmp_path, capsys, extra, message):
    """Bad --keys use ends with one clear line and exit status 2."""
    scores, _ = _keys_folder(tmp_path / "ok")
    keys = tmp_path / "ok" if extra else tmp_path / "empty"
    keys.mkdir(exist_ok=True)
    argv = ["evaluate", "--scores", str(scores), "--keys", str(keys)]
    assert main(argv + (extra or [])) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


def test_keys_folder_with_half_an_asv_side_is_refused(tmp_path):
    """ASV metadata without a score file is refused, naming the folder."""
    _keys_folder(tmp_path)
    (tmp_path / "keys/LA/ASV/ASVTorch_Kaldi/score.txt").unlink()
    with pytest.raises(ValueError, match="needs both"):
        find_2021_keys(tmp_path / "keys")


def test_evaluate_reports_the_pooled_t_eer(tmp_path):
    """With ASV scores, the pooled row has the concurrent t-EER of the
    evaluated CM and ASV trials, and the table prints it."""
    paths, (cm_trials, cm_scores, asv_trials, asv_scores) = _write_2021_keys(
        tmp_path
    )
    report = evaluate_score_file(
        paths["scores"],
        paths["protocol"],
        asv_scores_path=paths["asv_scores"],
        asv_metadata_path=paths["asv_metadata"],
        subset="eval",
    )
    keep = [t.subset == "eval" for t in asv_trials]
    asv = {
        key: [
            s
            for t, s, k in zip(asv_trials, asv_scores, keep)
            if k and t.key == key
        ]
        for key in ("target", "nontarget", "spoof")
    }
    cm = {
        key: [
            s
            for t, s in zip(cm_trials, cm_scores)
            if t.subset == "eval" and t.key == key
        ]
        for key in ("bonafide", "spoof")
    }
    expected = compute_t_eer(
        asv["target"],
        asv["nontarget"],
        asv["spoof"],
        cm["bonafide"],
        cm["spoof"],
    )
    assert report["pooled"]["t_eer"] == expected.t_eer
    assert "t-EER (concurrent" in format_report_table(report)
    no_asv = evaluate_score_file(paths["scores"], paths["protocol"])
    assert "t_eer" not in no_asv["pooled"]
