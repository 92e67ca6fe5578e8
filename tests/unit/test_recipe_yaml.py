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
apply the rules of SpeechBrain's ``tests/consistency/test_recipe.py`` to
the recipe CSVs (here ``recipes/<Dataset>/<Dataset>.csv``, SpeechBrain's
format): every ``.yaml`` under ``recipes/`` (but in ``models/``,
``results/`` or ``pretrained_models/`` folders and ``hpopt.yaml``) has a
row; every row has debug flags; the script, hparams and README files a row
names exist, and its data-preparation files when it names some; its result
and HF links appear in its README. And they check that each YAML loads and
that the models the YAMLs describe are the library's presets.

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

from speechbrain_asd.lobes.resnet_se import g_resnet_se, l_resnet_se

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
PRESETS = {
    "ge2e": "g",
    "aeg": "g",
    "teacher": "g",
    "student": "l",
    "seef_aldr": "g",
    "speaker_kd": "l",
}
# SpeechBrain's test_recipe_list skips these folders and files.
SKIPPED_FOLDERS = {"models", "results", "pretrained_models"}
SKIPPED_FILES = {"hpopt.yaml"}
MANDATORY_FILES = ("Script_file", "Hparam_file", "Readme_file")
OPTIONAL_FILES = ("Data_prep_file",)
README_LINKS = ("Result_url", "HF_repo")


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


def recipe_yamls(recipes):
    """The hparams files of a recipes folder that need a CSV row.

    Every ``.yaml`` below ``recipes``, at any depth, as SpeechBrain's
    ``test_recipe_list`` finds them: files in a ``models``, ``results`` or
    ``pretrained_models`` folder and ``hpopt.yaml`` files are skipped.

    Arguments
    ---------
    recipes : pathlib.Path
        The ``recipes`` folder.

    Returns
    -------
    yamls : list of str
        Their paths relative to the folder above ``recipes``, sorted.
    """
    return sorted(
        str(path.relative_to(recipes.parent))
        for path in recipes.rglob("*.yaml")
        if path.name not in SKIPPED_FILES
        and not SKIPPED_FOLDERS & set(path.relative_to(recipes).parts[:-1])
    )


def unlisted_yamls(recipes, rows):
    """The recipe YAMLs that no CSV row names (SpeechBrain's rule).

    Arguments
    ---------
    recipes : pathlib.Path
        The ``recipes`` folder.
    rows : list of (pathlib.Path, dict)
        Every row of every recipe CSV, with its CSV.

    Returns
    -------
    unlisted : list of str
        The YAMLs of ``recipe_yamls`` that are in no row's ``Hparam_file``
        (which may list several files separated by spaces).
    """
    listed = {name for _, row in rows for name in row["Hparam_file"].split()}
    return [path for path in recipe_yamls(recipes) if path not in listed]


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
    """Each recipe folder's CSV is named after it, in SpeechBrain's format."""
    assert RECIPE_CSVS, "no recipe CSV under recipes/"
    for path in RECIPE_CSVS:
        assert path.stem == path.parent.name, f"{path}: not <Dataset>.csv"
        with open(path, newline="", encoding="utf-8") as handle:
            assert next(csv.reader(handle)) == HEADER, path


def test_every_recipe_yaml_has_a_csv_row():
    """Every ``.yaml`` under ``recipes/`` is some CSV row's hparams file."""
    assert recipe_yamls(ROOT / "recipes"), "no YAML under recipes/"
    unlisted = unlisted_yamls(ROOT / "recipes", ROWS)
    assert not unlisted, f"YAMLs without a recipe CSV row: {unlisted}"


def test_the_rule_finds_a_yaml_without_a_row(tmp_path):
    """A YAML at any depth needs a row; skipped folders and files do not."""
    recipes = tmp_path / "recipes"
    for name in (
        "Set/hparams/a.yaml",
        "Set/extra/b.yaml",
        "Set/results/run/hyperparams.yaml",
        "Set/hparams/hpopt.yaml",
    ):
        (recipes / name).parent.mkdir(parents=True, exist_ok=True)
        (recipes / name).write_text("seed: 1\n")
    listed = "recipes/Set/hparams/a.yaml recipes/Set/other.yaml"
    rows = [(recipes / "Set" / "Set.csv", {"Hparam_file": listed})]
    assert unlisted_yamls(recipes, rows) == ["recipes/Set/extra/b.yaml"]
    rows[0][1]["Hparam_file"] += " recipes/Set/extra/b.yaml"
    assert unlisted_yamls(recipes, rows) == []


@pytest.mark.parametrize("item", ROWS, ids=_row_id)
def test_row_names_existing_files_and_checks(item):
    """A row's files exist, its links are in its README; it has debug flags.

    Script, hparams and README files are mandatory, data-preparation files
    optional; a column may name several files separated by spaces.
    """
    _, row = item
    for column in MANDATORY_FILES + OPTIONAL_FILES:
        names = row[column].split()
        if column in MANDATORY_FILES:
            assert names, f"{row['Hparam_file']}: no {column}"
        for name in names:
            assert (ROOT / name).is_file(), f"{column} {name} does not exist"
    readme = (ROOT / row["Readme_file"].strip()).read_text(encoding="utf-8")
    for column in README_LINKS:
        for link in row[column].split():
            assert link in readme, f"{link} not in {row['Readme_file']}"
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
    built = dict(hparams["model"].config, aux_exits=False)
    assert built == preset.config


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
