"""SpeechBrain's docstring rules, enforced over the packages, recipes, scripts.

Every module, class and function opens with a docstring; for private names
(``_name``, dunders, nested helpers) one line is enough. Public functions,
classes and methods follow the NumPy style: an ``Arguments`` section when
they take arguments and a ``Returns`` (or ``Yields``) section when they give
a value back. Public module-level functions and classes of the packages also
carry a runnable ``Example``; a class's example covers its methods.

Authors
 * speechbrain-asd developers
"""

import ast
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED_FOLDERS = (
    "speechbrain_asd",
    "tools",
    "recipes",
    "pipelines",
    "benchmarks",
    "tests",
)
# The packages whose public API needs examples and whose modules name
# their authors: the library and the corpus generator's distribution.
PACKAGES = ("speechbrain_asd", "tools/toy_corpus/asd_toy_corpus")
# Test functions take fixtures, not documented arguments.
NO_API = ("tests",)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
DEFINITIONS = FUNCTIONS + (ast.ClassDef,)


def _python_files():
    """Lists every ``.py`` file under the checked folders, plus ``setup.py``."""
    files = [ROOT / "setup.py"]
    for folder in CHECKED_FOLDERS:
        files.extend(sorted((ROOT / folder).rglob("*.py")))
    return files


def _package_files():
    """Lists the modules of the packages (library and corpus generator)."""
    return [
        p for folder in PACKAGES for p in sorted((ROOT / folder).rglob("*.py"))
    ]


def _api_files():
    """Lists the checked files whose public definitions are an API."""
    return [
        path
        for path in _python_files()
        if path.relative_to(ROOT).parts[0] not in NO_API
    ]


def _relative(path):
    """The path relative to the repository, as a test id."""
    return str(path.relative_to(ROOT))


def _parse(path):
    """Parses a Python file."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _has_section(docstring, title):
    """Tells whether a docstring holds a NumPy section (title, dashes)."""
    pattern = rf"^[ \t]*{title}[ \t]*\n[ \t]*-{{3,}}[ \t]*$"
    return re.search(pattern, docstring, re.MULTILINE) is not None


def _public_definitions(tree):
    """Yields ``(node, top_level)`` for public definitions and methods."""
    for node in tree.body:
        if isinstance(node, DEFINITIONS) and not node.name.startswith("_"):
            yield node, True
            if isinstance(node, ast.ClassDef):
                for member in node.body:
                    if isinstance(member, FUNCTIONS) and not (
                        member.name.startswith("_")
                    ):
                        yield member, False


def _own_nodes(function):
    """Yields the nodes of a function's body, nested definitions left out."""
    stack = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, DEFINITIONS + (ast.Lambda,)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _takes_arguments(function):
    """Tells whether a function takes arguments besides ``self``/``cls``."""
    args = function.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names = [name for name in names if name not in ("self", "cls")]
    return bool(names or args.vararg or args.kwarg)


def _gives_back(function):
    """``"Yields"``, ``"Returns"`` or None: what the function gives back."""
    nodes = list(_own_nodes(function))
    if any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in nodes):
        return "Yields"
    for node in nodes:
        if isinstance(node, ast.Return) and node.value is not None:
            if not (
                isinstance(node.value, ast.Constant)
                and node.value.value is None
            ):
                return "Returns"
    return None


def _is_property(function):
    """Tells whether a method is a property (documented as an attribute)."""
    return any(
        ast.unparse(decorator).endswith(("property", ".setter"))
        for decorator in function.decorator_list
    )


def _missing_sections(node, top_level, needs_example):
    """The NumPy sections that a public definition's docstring lacks."""
    docstring = ast.get_docstring(node) or ""
    needed = []
    if isinstance(node, ast.ClassDef):
        init = next(
            (m for m in node.body if getattr(m, "name", "") == "__init__"),
            None,
        )
        if isinstance(init, FUNCTIONS) and _takes_arguments(init):
            needed.append("Arguments")
    elif not _is_property(node):
        if _takes_arguments(node):
            needed.append("Arguments")
        if _gives_back(node):
            needed.append(_gives_back(node))
    if needs_example and top_level:
        needed.append("Example")
    missing = [title for title in needed if not _has_section(docstring, title)]
    if "Example" in needed and ">>>" not in docstring:
        missing = sorted(set(missing) | {"Example"}, key=needed.index)
    return missing


def _style_problems(tree, needs_example):
    """Lists the public definitions of a module that break the NumPy style."""
    problems = []
    for node, top_level in _public_definitions(tree):
        missing = _missing_sections(node, top_level, needs_example)
        if missing:
            problems.append(
                f"{node.name} (line {node.lineno}): no {', '.join(missing)}"
            )
    return problems


def _undocumented(tree):
    """Lists the module, classes and functions that have no docstring."""
    missing = [] if ast.get_docstring(tree) else ["module"]
    for node in ast.walk(tree):
        if isinstance(node, DEFINITIONS) and not ast.get_docstring(node):
            missing.append(f"{node.name} (line {node.lineno})")
    return missing


@pytest.mark.parametrize("path", _python_files(), ids=_relative)
def test_every_definition_has_a_docstring(path):
    """Each module, class and function in the file opens with a docstring."""
    missing = _undocumented(_parse(path))
    assert not missing, f"{path}: no docstring for {', '.join(missing)}"


@pytest.mark.parametrize("path", _api_files(), ids=_relative)
def test_public_definitions_follow_numpy_style(path):
    """Public definitions have their sections, and package ones an Example."""
    needs_example = path in _package_files()
    problems = _style_problems(_parse(path), needs_example)
    assert not problems, f"{path}: {'; '.join(problems)}"


def test_module_docstrings_name_authors():
    """Package modules end their docstring with an Authors list."""
    lacking = []
    for path in _package_files():
        docstring = ast.get_docstring(_parse(path)) or ""
        if "Authors" not in docstring:
            lacking.append(_relative(path))
    assert not lacking, f"no Authors list in: {', '.join(lacking)}"


GOOD = '''
"""A module."""


def scale(x, factor=2):
    """Scales a number.

    Arguments
    ---------
    x : float
        The number.
    factor : float
        The factor.

    Returns
    -------
    float
        ``x * factor``.

    Example
    -------
    >>> scale(3)
    6
    """
    return x * factor


def _helper(x):
    """Private helpers need one line only."""
    return x
'''


@pytest.mark.parametrize(
    "source, needs_example, expected",
    [
        (GOOD, True, ([], [])),
        (
            GOOD.replace('    """Private helpers need one line only."""\n', ""),
            True,
            (["_helper (line 28)"], []),
        ),
        (
            GOOD.replace("Returns\n    -------", "Gives\n    -----"),
            True,
            ([], ["scale (line 5): no Returns"]),
        ),
        (
            GOOD.replace("Example\n    -------", "Usage\n    -----"),
            True,
            ([], ["scale (line 5): no Example"]),
        ),
        (
            GOOD.replace("Example\n    -------", "Usage\n    -----"),
            False,
            ([], []),
        ),
        (
            '"""A module."""\n\n\n'
            "class Box:\n"
            '    """A box."""\n\n'
            "    def __init__(self, size):\n"
            '        """Stores the size."""\n\n'
            "    def items(self):\n"
            '        """Yields nothing."""\n'
            "        yield from ()\n",
            False,
            ([], ["Box (line 4): no Arguments", "items (line 10): no Yields"]),
        ),
    ],
    ids=["good", "no-docstring", "no-returns", "no-example", "script", "class"],
)
def test_the_rules_catch_what_they_should(source, needs_example, expected):
    """The checks flag missing docstrings and sections, and only those."""
    tree = ast.parse(textwrap.dedent(source))
    assert (_undocumented(tree), _style_problems(tree, needs_example)) == (
        expected
    )


def test_the_library_never_imports_the_corpus_generator():
    """``speechbrain_asd`` imports nothing of ``asd_toy_corpus`` (its tool)."""
    offending = []
    for path in sorted((ROOT / "speechbrain_asd").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(name.split(".")[0] == "asd_toy_corpus" for name in names):
                offending.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offending, f"the library imports the corpus tool: {offending}"
