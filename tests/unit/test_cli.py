"""Tests of the ``speechbrain-asd`` command line.

Authors
 * speechbrain-asd developers
"""

import json
import subprocess
import sys

import pytest

from speechbrain_asd.cli import EXIT_BAD_INPUT, build_parser, main
from speechbrain_asd.scorefiles import CMTrial, write_cm_protocol

SUBCOMMANDS = (
    "prepare",
    "evaluate",
    "calibrate",
    "compare",
    "model-card",
    "export",
    "classify",
    "score",
    "verify",
    "tandem",
)


@pytest.fixture
def scored_protocol(tmp_path):
    """Writes a tiny 2019 CM protocol and a matching 2-column score file.

    Arguments
    ---------
    tmp_path : pathlib.Path
        Pytest's temporary folder.

    Returns
    -------
    tuple of pathlib.Path
        The protocol and the score file.
    """
    rows = [
        ("LA_E_0000001", "bonafide", 2.0),
        ("LA_E_0000002", "bonafide", 1.5),
        ("LA_E_0000003", "bonafide", -0.5),
        ("LA_E_0000004", "A07", 0.0),
        ("LA_E_0000005", "A07", -1.0),
        ("LA_E_0000006", "A08", 1.0),
        ("LA_E_0000007", "A08", -2.0),
    ]
    trials = [
        CMTrial(
            "LA_0001",
            trial,
            attack,
            "bonafide" if attack == "bonafide" else "spoof",
        )
        for trial, attack, _ in rows
    ]
    protocol = tmp_path / "protocol.txt"
    write_cm_protocol(protocol, trials)
    scores = tmp_path / "scores.txt"
    scores.write_text("".join(f"{t} {s}\n" for t, _, s in rows))
    return protocol, scores


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    """``--help`` of each sub-command prints its usage and exits 0."""
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert f"speechbrain-asd {command}" in capsys.readouterr().out


def test_a_subcommand_is_required(capsys):
    """Calling the tool without a sub-command is a usage error."""
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([])
    assert stop.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_evaluate_prints_pooled_and_per_attack_json(scored_protocol, capsys):
    """``evaluate --json`` gives pooled and per-attack EERs as fractions."""
    protocol, scores = scored_protocol
    status = main(
        [
            "evaluate",
            "--scores",
            str(scores),
            "--protocol",
            str(protocol),
            "--json",
        ]
    )
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["per_attack"]) == {"A07", "A08"}
    # Sorted: -2 s, -1 s, -0.5 b, 0 s, 1 s, 1.5 b, 2 b. Rejecting the four
    # lowest misses 1 of 3 bona fide and accepts 1 of 4 spoofs, the closest
    # pair of rates: EER = (1/3 + 1/4) / 2 = 7/24.
    assert report["pooled"]["eer"] == pytest.approx(7 / 24)
    # A08: 1.0 and -2.0 against the bona fide: rejecting -2, -0.5 gives
    # miss 1/3, false alarm 1/2: EER = (1/3 + 1/2) / 2 = 5/12.
    assert report["per_attack"]["A08"]["eer"] == pytest.approx(5 / 12)
    assert report["pooled"]["min_tdcf_2019"] is None
    assert report["pooled"]["n_bonafide"] == 3
    assert report["pooled"]["n_spoof"] == 4


def test_evaluate_table_and_plots(scored_protocol, tmp_path, capsys):
    """The table names every attack, and ``--plot`` writes two PNGs."""
    protocol, scores = scored_protocol
    plots = tmp_path / "plots"
    status = main(
        [
            "evaluate",
            "--scores",
            str(scores),
            "--protocol",
            str(protocol),
            "--plot",
            str(plots),
        ]
    )
    assert status == 0
    table = capsys.readouterr().out
    assert "A07" in table and "A08" in table and "pooled" in table
    assert sorted(p.name for p in plots.iterdir()) == [
        "det.png",
        "histograms.png",
    ]


def test_evaluate_bad_input_is_one_clear_line(scored_protocol, capsys):
    """NaN scores end with exit status 2 and a message naming the file."""
    protocol, scores = scored_protocol
    scores.write_text(scores.read_text().replace("2.0", "nan"))
    status = main(
        ["evaluate", "--scores", str(scores), "--protocol", str(protocol)]
    )
    captured = capsys.readouterr()
    assert status == EXIT_BAD_INPUT
    assert str(scores) in captured.err
    assert "Traceback" not in captured.err


def test_evaluate_shows_intervals_by_default(scored_protocol, capsys):
    """The default table carries intervals; --bootstrap 0 drops them."""
    protocol, scores = scored_protocol
    base = ["evaluate", "--scores", str(scores), "--protocol", str(protocol)]
    assert main(base) == 0
    table = capsys.readouterr().out.splitlines()
    assert "[" in table[1] and table[2].split()[:2] == ["by", "speaker"]
    assert "1000 resamples (seed 0)" in table[-1]
    assert main([*base, "--bootstrap", "0"]) == 0
    plain = capsys.readouterr().out
    assert "[" not in plain and "by speaker" not in plain
    assert main([*base, "--bootstrap", "-1"]) == EXIT_BAD_INPUT
    assert "--bootstrap" in capsys.readouterr().err


def test_evaluate_json_carries_every_interval(scored_protocol, capsys):
    """--json has both designs' intervals for each row and the settings."""
    protocol, scores = scored_protocol
    args = ["evaluate", "--scores", str(scores), "--protocol", str(protocol)]
    status = main([*args, "--json", "--bootstrap", "100", "--seed", "4"])
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bootstrap"]["n_resamples"] == 100
    assert report["bootstrap"]["seed"] == 4
    for row in [report["pooled"], *report["per_attack"].values()]:
        assert set(row["intervals"]["eer"]) == {"trial", "speaker"}
        assert row["intervals"]["min_tdcf_2019"] is None


def test_compare_json_and_mismatched_trials(scored_protocol, capsys):
    """compare gives B - A with intervals; a short file is exit status 2."""
    protocol, scores = scored_protocol
    base = ["compare", str(scores), str(scores), "--protocol", str(protocol)]
    assert main([*base, "--json", "--bootstrap", "50"]) == 0
    comparison = json.loads(capsys.readouterr().out)
    eer = comparison["pooled"]["eer"]
    assert eer["difference"] == 0.0
    assert eer["trial"]["interval"] == [0.0, 0.0]
    assert set(comparison["per_attack"]) == {"A07", "A08"}
    assert main(base) == 0
    assert "B - A below 0: B is better" in capsys.readouterr().out
    short = scores.with_name("short.txt")
    short.write_text("".join(scores.read_text().splitlines(True)[:-1]))
    status = main(
        ["compare", str(scores), str(short), "--protocol", str(protocol)]
    )
    captured = capsys.readouterr()
    assert status == EXIT_BAD_INPUT
    assert "short.txt: no score for 1 trial" in captured.err
    assert "Traceback" not in captured.err


def test_missing_score_file_is_reported(tmp_path, capsys):
    """A missing score file is named in the error."""
    missing = tmp_path / "nowhere.txt"
    status = main(
        ["evaluate", "--scores", str(missing), "--protocol", str(missing)]
    )
    assert status == EXIT_BAD_INPUT
    assert "nowhere.txt" in capsys.readouterr().err


def test_console_script_runs_model_card_json():
    """The installed entry point prints the model card as JSON."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "speechbrain_asd.cli",
            "model-card",
            "--json",
            "--seconds",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    card = json.loads(result.stdout)
    for model in ("teacher", "student"):
        assert card[model]["params"] > 0 and card[model]["macs"] > 0
    assert card["teacher"]["params"] > 4 * card["student"]["params"]


def test_calibrate_then_evaluate_with_the_calibration(
    scored_protocol, tmp_path, capsys
):
    """``calibrate`` writes what ``fit_calibration`` gives; ``evaluate
    --calibration`` judges the LLRs: same EER, Cllr of the mapped scores."""
    from speechbrain_asd.calibration import fit_calibration
    from speechbrain_asd.metrics import compute_cllr

    protocol, scores = scored_protocol
    out = tmp_path / "calibration.json"
    assert (
        main(
            [
                "calibrate",
                "--scores",
                str(scores),
                "--protocol",
                str(protocol),
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    stored = json.loads(out.read_text())
    bonafide, spoof = [2.0, 1.5, -0.5], [0.0, -1.0, 1.0, -2.0]
    assert stored == fit_calibration(bonafide, spoof).to_dict()
    assert printed == {**stored, "file": str(out)}
    args = [
        "evaluate",
        "--scores",
        str(scores),
        "--protocol",
        str(protocol),
        "--bootstrap",
        "0",
        "--json",
    ]
    assert main(args) == 0
    raw = json.loads(capsys.readouterr().out)["pooled"]
    assert main([*args, "--calibration", str(out)]) == 0
    calibrated = json.loads(capsys.readouterr().out)["pooled"]
    assert calibrated["eer"] == raw["eer"]
    assert raw["cllr"] == pytest.approx(compute_cllr(bonafide, spoof))
    scale, offset = stored["scale"], stored["offset"]
    assert calibrated["cllr"] == pytest.approx(
        compute_cllr(
            [scale * s + offset for s in bonafide],
            [scale * s + offset for s in spoof],
        )
    )
    assert main([*args, "--calibration", str(tmp_path / "none.json")]) == (
        EXIT_BAD_INPUT
    )
