"""SpeechBrain's house rules, enforced over the package, recipes and scripts.

Every module, class and function (private and nested ones included) opens
with a docstring, as SpeechBrain's own consistency tests require, and every
public function and class of the package carries a runnable example.

Authors
 * speechbrain-asd developers
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED_FOLDERS = ("speechbrain_asd", "recipes", "benchmarks", "tests")


def _python_files():
    """Lists the project's Python files that the house rules cover.

    Returns
    -------
    list of pathlib.Path
        Every ``.py`` file under the checked folders, plus ``setup.py``.
    """
    files = [ROOT / "setup.py"]
    for folder in CHECKED_FOLDERS:
        files.extend(sorted((ROOT / folder).rglob("*.py")))
    return files


def _definitions(tree):
    """Yields every class and function definition of a module, nested ones too.

    Arguments
    ---------
    tree : ast.Module
        The parsed module.

    Yields
    ------
    ast.AST
        Each ``ClassDef``, ``FunctionDef`` and ``AsyncFunctionDef`` node.
    """
    kinds = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        if isinstance(node, kinds):
            yield node


@pytest.mark.parametrize(
    "path", _python_files(), ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_definition_has_a_docstring(path):
    """Each module, class and function in the file opens with a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    missing = []
    if not ast.get_docstring(tree):
        missing.append("module")
    for node in _definitions(tree):
        if not ast.get_docstring(node):
            missing.append(f"{node.name} (line {node.lineno})")
    assert not missing, f"{path}: no docstring for {', '.join(missing)}"


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "speechbrain_asd").rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_public_api_has_examples(path):
    """Public module-level functions and classes carry a doctest example."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    kinds = (ast.ClassDef, ast.FunctionDef)
    lacking = [
        node.name
        for node in tree.body
        if isinstance(node, kinds)
        and not node.name.startswith("_")
        and ">>>" not in (ast.get_docstring(node) or "")
    ]
    assert not lacking, f"{path}: no Example doctest in {', '.join(lacking)}"


def test_module_docstrings_name_authors():
    """Package modules end their docstring with an Authors list."""
    lacking = []
    for path in sorted((ROOT / "speechbrain_asd").rglob("*.py")):
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        if "Authors" not in docstring:
            lacking.append(str(path.relative_to(ROOT)))
    assert not lacking, f"no Authors list in: {', '.join(lacking)}"
