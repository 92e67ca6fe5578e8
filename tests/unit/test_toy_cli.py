"""Tests of the ``asd-toy-corpus`` command (the corpus tool's console script).

Authors
 * speechbrain-asd developers
"""

import json

import pytest

from asd_toy_corpus import cli, generate, layout
from asd_toy_corpus.plan import make_plan
from asd_toy_corpus.summary import MARKER


@pytest.mark.parametrize("command", ("make", "summary"))
def test_every_subcommand_has_help(command, capsys):
    """``--help`` of each sub-command prints its usage and exits 0."""
    with pytest.raises(SystemExit) as stop:
        cli.main([command, "--help"])
    assert stop.value.code == 0
    assert f"asd-toy-corpus {command}" in capsys.readouterr().out


def test_summary_prints_the_counts_as_json(tmp_path, capsys):
    """``summary --json`` reads the protocols of a corpus folder back."""
    try:
        plan = make_plan(3, "small")
    except FileNotFoundError as error:
        pytest.skip(str(error))
    layout.write_protocols(tmp_path, plan)
    (tmp_path / MARKER).write_text(json.dumps({"seed": 3, "size": "small"}))
    assert cli.main(["summary", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["seed"] == 3 and summary["splits"]["train"]["trials"] == 99


def test_make_passes_its_options_and_prints_the_table(
    tmp_path, monkeypatch, capsys
):
    """``make`` calls ``make_toy_corpus`` with the options it was given."""
    calls = []

    def fake_make(out_dir, **kwargs):
        """Records the call and returns a summary-like dict."""
        calls.append((out_dir, kwargs))
        return {"seed": kwargs["seed"]}

    monkeypatch.setattr(cli, "make_toy_corpus", fake_make)
    monkeypatch.setattr(cli, "format_corpus_summary", lambda s: "TABLE")
    folder = str(tmp_path / "c")
    argv = ["make", folder, "--seed", "7", "--size", "small", "--workers", "1"]
    assert cli.main(argv + ["--noprogressbar"]) == 0
    assert capsys.readouterr().out == "TABLE\n"
    assert calls == [
        (folder, {"seed": 7, "size": "small", "progress": False, "workers": 1})
    ]


def test_bad_input_is_one_line_and_status_2(tmp_path, monkeypatch, capsys):
    """A refused folder or a missing tool ends with one line, status 2."""
    assert cli.main(["summary", str(tmp_path)]) == cli.EXIT_BAD_INPUT
    assert "asd-toy-corpus summary: error: " in capsys.readouterr().err
    monkeypatch.setattr(generate, "missing_tools", lambda: ["sox (Debian)"])
    status = cli.main(["make", str(tmp_path / "c"), "--size", "small"])
    assert status == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.count("\n") == 1
