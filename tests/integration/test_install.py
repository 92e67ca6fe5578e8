"""A regular (non-editable) install runs the README's model commands.

The package is built into a wheel and installed into a folder of its own,
then ``export``, ``classify`` and ``score`` run from that copy (not from the
source tree), with the dependencies of the test environment. The wheel
holds no part of the offline corpus generator (its own distribution in
``tools/toy_corpus``), and its metadata does not require what only the
generator needs (pyworld and the ``setuptools<81`` it brings).

Authors
 * speechbrain-asd developers
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import soundfile
import torch

from speechbrain_asd.lobes.resnet_se import ResNetSE

ROOT = Path(__file__).resolve().parents[2]
TINY = {"channels": [4, 8, 8, 8], "blocks": [1, 1, 1, 1], "emb_dim": 16}
CLASS_NAMES = ["bonafide", "A01", "A02", "A03", "A04", "A05", "A06", "adv"]
RATE = 16000
# Top-level entries the wheel is not built from.
NOT_BUILT = (".*", "build", "data", "results", "benchmarks", "*.egg-info")
# Requirements of the corpus generator only, never of the library.
GENERATOR_ONLY = ("pyworld", "setuptools")


def _not_built(folder, names):
    """The top-level entries of NOT_BUILT, for ``shutil.copytree``."""
    if Path(folder) != ROOT:
        return []
    return [n for n in names if any(fnmatch(n, p) for p in NOT_BUILT)]


def _requirement_names(wheel):
    """The distribution names of a wheel's ``Requires-Dist`` (extras too)."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [
            n for n in archive.namelist() if n.endswith(".dist-info/METADATA")
        ]
        text = archive.read(metadata).decode("utf-8")
    found = re.findall(r"^Requires-Dist:\s*([\w.-]+)", text, flags=re.M)
    return {name.lower() for name in found}


def _run(args, cwd, env=None):
    """Runs a command, failing the test with its output when it fails.

    Returns
    -------
    str
        Its standard output.
    """
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_wheel_install_runs_export_classify_and_score(
    tmp_path, write_stage_output
):
    """The wheel carries the model-folder template, and the installed copy
    exports a folder, classifies a file and writes a score file."""
    source = tmp_path / "source"  # a copy: the build writes build/ there
    shutil.copytree(ROOT, source, ignore=_not_built)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, "."],
        cwd=source,
    )
    (wheel,) = wheels.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "speechbrain_asd/hparams/spoof_detector.yaml" in names
    assert "speechbrain_asd/data/asvspoof.py" in names
    toy = [n for n in names if n.startswith("asd_toy_corpus/") or "toy/" in n]
    assert not toy, f"the wheel holds the corpus generator: {toy}"
    required = _requirement_names(wheel)
    assert {"torch", "speechbrain", "numpy"} <= required
    assert not required & set(GENERATOR_ONLY), sorted(required)
    site = tmp_path / "site"
    _run([*pip, "install", "--no-deps", "--target", site, wheel], cwd=tmp_path)

    torch.manual_seed(0)
    run = write_stage_output(
        tmp_path / "run", ResNetSE(**TINY), TINY, CLASS_NAMES
    )
    wav = tmp_path / "a.wav"
    noise = np.random.default_rng(0).standard_normal(RATE) * 0.1
    soundfile.write(wav, noise, RATE)
    (tmp_path / "list.txt").write_text(f"{wav}\n")
    env = dict(os.environ, PYTHONPATH=str(site))
    cli = [sys.executable, "-m", "speechbrain_asd.cli"]
    where = _run(
        [
            sys.executable,
            "-c",
            "import speechbrain_asd; print(speechbrain_asd.__file__)",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert Path(where.strip()).is_relative_to(site)
    _run([*cli, "export", "--from", run, "--out", "model"], tmp_path, env)
    out = _run(
        [*cli, "classify", "--model", "model", wav, "--json"], tmp_path, env
    )
    assert json.loads(out)[0]["file"] == str(wav)
    _run(
        [
            *cli,
            "score",
            "--model",
            "model",
            "--list",
            "list.txt",
            "--out",
            "s.txt",
        ],
        tmp_path,
        env,
    )
    assert (tmp_path / "s.txt").read_text().split()[0] == "a"
