"""SpeechBrain's consistency rules for the recipe's YAML files and CSV.

SpeechBrain's ``tests/consistency/test_yaml.py`` requires every top-level
key of a recipe YAML to be used in the script its ``tests/recipes`` CSV row
names (as ``hparams["key"]``, ``hparams.key``, ``modules.key``,
``getattr(self.hparams, "key")`` or ``hparams.get("key")``) or to be
referenced with ``!ref <key>`` later in the same YAML; lines with ``!!`` or
``!apply`` and Pretrainer lines declare nothing, and the keys of
SpeechBrain's run options (``RunOptions``, e.g. ``ckpt_interval_minutes``)
plus ``rescoring_lm_scale`` are exempt. The checks here follow the same
textual rules, so a recipe that passes them passes SpeechBrain's. They also
check the CSV format, that every recipe YAML has a row, that each YAML
loads, and that the models the YAMLs describe are the library's presets.

Authors
 * speechbrain-asd developers
"""

import csv
import dataclasses
import re
from pathlib import Path

import pytest
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.run_opts import RunOptions

from speechbrain_asd.lobes.resnet_se import ResNetSE, g_resnet_se, l_resnet_se

ROOT = Path(__file__).resolve().parents[2]
RECIPE_CSVS = sorted((ROOT / "recipes").glob("*/*.csv"))
HEADER = [
    "Task",
    "Dataset",
    "Script_file",
    "Hparam_file",
    "Data_prep_file",
    "Readme_file",
    "Result_url",
    "HF_repo",
    "test_debug_flags",
    "test_debug_checks",
    "performance",
]
EXEMPT = {field.name for field in dataclasses.fields(RunOptions)}
EXEMPT.add("rescoring_lm_scale")
USE_PREFIXES = (
    "hparams.",
    "modules.",
    'attr(self.hparams, "',
    'hparams.get("',
)
PRESETS = {"ge2e": "g", "aeg": "g", "teacher": "g", "student": "l"}


def declared_keys(hparam_file):
    """Top-level keys of a YAML that its script must use (SpeechBrain's rule).

    A line declares its text before the first ``:`` unless it is indented,
    blank, a comment, a Pretrainer line, or holds ``!!`` or ``!apply``.
    Each ``<key>`` of a ``!ref`` line (``<key[sub]>`` counts as ``key``)
    removes ``key`` when it was declared above.

    Arguments
    ---------
    hparam_file : pathlib.Path
        The YAML file.

    Returns
    -------
    keys : list of str
        The declared keys still to be found in the script.
    """
    keys = []
    for line in hparam_file.read_text(encoding="utf-8").splitlines():
        if (
            len(line) == 0
            or line.startswith("#")
            or "speechbrain.utils.parameter_transfer.Pretrainer" in line
        ):
            continue
        line = line.rstrip()
        if ":" not in line and "!ref" not in line:
            continue
        name = line[: line.find(":")]
        if name and name[0] not in " \t" and "!!" not in line:
            if "!apply" not in line:
                keys.append(name)
        if "!ref" in line:
            for chunk in line.split("<"):
                referenced = chunk[: chunk.find(">")].split("[")[0]
                if referenced in keys:
                    keys.remove(referenced)
    return keys


def used_in_script(script_file, keys):
    """The keys that a script uses, by SpeechBrain's textual patterns.

    Arguments
    ---------
    script_file : pathlib.Path
        The recipe script.
    keys : list of str
        Keys to look for.

    Returns
    -------
    used : set of str
        Keys that appear as ``["key"]`` or after one of the prefixes
        ``hparams.``, ``modules.``, ``attr(self.hparams, "`` or
        ``hparams.get("``; an f-string key ``[f"{x}suffix"]`` or
        ``[f"prefix{x}"]`` counts for every key containing its fixed part.
    """
    used = set()
    for line in script_file.read_text(encoding="utf-8").splitlines():
        fixed = [
            match.group(1)
            for pattern in (r"\[f.\{.*\}(.*).\]", r"\[f.(.*)\{.*\}.\]")
            for match in [re.search(pattern, line)]
            if match is not None
        ]
        for key in keys:
            if f'["{key}"]' in line:
                used.add(key)
            elif any(prefix + key in line for prefix in USE_PREFIXES):
                used.add(key)
            elif any(part and part in key for part in fixed):
                used.add(key)
    return used


def _recipe_rows():
    """Every row of every recipe CSV, with its CSV path.

    Returns
    -------
    list of (pathlib.Path, dict)
        The CSV file and the row.
    """
    rows = []
    for path in RECIPE_CSVS:
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle, skipinitialspace=True):
                rows.append((path, row))
    return rows


ROWS = _recipe_rows()


def _row_id(item):
    """Test id of a CSV row: its YAML file.

    Arguments
    ---------
    item : tuple
        ``(csv path, row)``.

    Returns
    -------
    str
        The row's ``Hparam_file``.
    """
    return item[1]["Hparam_file"]


def test_the_recipe_has_a_csv_in_speechbrains_format():
    """Each recipe CSV has SpeechBrain's header and a row per YAML."""
    assert RECIPE_CSVS, "no recipe CSV under recipes/"
    for path in RECIPE_CSVS:
        with open(path, newline="", encoding="utf-8") as handle:
            assert next(csv.reader(handle)) == HEADER, path
        folder = path.parent
        listed = sorted(
            row["Hparam_file"] for csv_path, row in ROWS if csv_path == path
        )
        yamls = sorted(
            str(p.relative_to(ROOT))
            for p in (folder / "hparams").glob("*.yaml")
        )
        assert listed == yamls, f"{path}: rows {listed}, YAMLs {yamls}"


@pytest.mark.parametrize("item", ROWS, ids=_row_id)
def test_row_names_existing_files_and_checks(item):
    """A row's files exist; its flags set outputs and its checks list files."""
    _, row = item
    for column in ("Script_file", "Hparam_file", "Data_prep_file"):
        assert (ROOT / row[column]).is_file(), row[column]
    assert (ROOT / row["Readme_file"]).is_file(), row["Readme_file"]
    assert "--output_folder=" in row["test_debug_flags"]
    assert re.search(r"file_exists=\[[^\]]+\]", row["test_debug_checks"])


@pytest.mark.parametrize("item", ROWS, ids=_row_id)
def test_every_yaml_key_is_used_by_its_script(item):
    """Every declared key is used in the script or referenced in the YAML."""
    _, row = item
    keys = declared_keys(ROOT / row["Hparam_file"])
    used = used_in_script(ROOT / row["Script_file"], keys)
    unused = sorted(set(keys) - used - EXEMPT)
    assert not unused, (
        f"{row['Hparam_file']}: keys not used in {row['Script_file']}: {unused}"
    )


@pytest.mark.parametrize("item", ROWS, ids=_row_id)
def test_yaml_loads_and_describes_the_preset(item, tmp_path):
    """The YAML loads, and its model is the G- or L-ResNetSE preset."""
    _, row = item
    path = ROOT / row["Hparam_file"]
    overrides = {"data_folder": str(tmp_path), "output_folder": str(tmp_path)}
    with open(path, encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    preset = {"g": g_resnet_se, "l": l_resnet_se}[PRESETS[path.stem]]()
    described = ResNetSE(**hparams["model_kwargs"])
    shapes = {k: v.shape for k, v in described.state_dict().items()}
    assert shapes == {k: v.shape for k, v in preset.state_dict().items()}
    built = {k: v.shape for k, v in hparams["model"].state_dict().items()}
    assert {k: v for k, v in built.items() if not k.startswith("exits.")} == (
        shapes
    )


def test_the_rule_finds_an_unused_key(tmp_path):
    """The checker reports a key used nowhere, and accepts the other uses."""
    yaml = tmp_path / "h.yaml"
    yaml.write_text(
        "seed: 1\n"
        "__set_seed: !apply:speechbrain.utils.seed_everything [!ref <seed>]\n"
        "lr: 0.1\n"
        "opt: !name:torch.optim.Adam\n"
        "    lr: !ref <lr>\n"
        "used_key: 3\n"
        "getattr_key: 4\n"
        "forgotten: 5\n"
        "device: cpu\n"
    )
    script = tmp_path / "s.py"
    script.write_text(
        'x = hparams["used_key"] + hparams["opt"]\n'
        'y = getattr(self.hparams, "getattr_key")\n'
    )
    keys = declared_keys(yaml)
    assert keys == ["opt", "used_key", "getattr_key", "forgotten", "device"]
    unused = set(keys) - used_in_script(script, keys) - EXEMPT
    assert unused == {"forgotten"}
