"""Lesson 04's package layout: each optimizer file holds only its optimizer (and private helpers),
no file passes 400 lines, and every public name is re-exported (the import layers are import-linter
contracts: tests/test_layout.py)."""

import ast
from pathlib import Path

import lessons.tiger

PACKAGE = Path(lessons.tiger.__file__).parent
# Which module may import which (the layers; only __init__ imports the views; no other lesson) is
# stated by the import-linter contracts in pyproject.toml: README, "How the code is organised".


def _imports(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _top_level(path):
    tree = ast.parse(path.read_text())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]


def test_each_optimizer_file_holds_only_its_optimizer():
    for stem, name, public in [("optimizer", "Tiger", set()),
                               ("released", "ReleasedTiger",
                                {"released_variable_kind", "piecewise_linear"})]:
        defined = _top_level(PACKAGE / f"{stem}.py")
        assert defined[0] == name, stem
        assert {d for d in defined[1:] if not d.startswith("_")} == public, stem
        imported = _imports(PACKAGE / f"{stem}.py")
        assert {m.split(".")[0] for m in imported} <= {"keras", "numpy", "tensorflow", "numbers",
                                                       "re", "lessons"}, stem
        assert {m for m in imported if m.startswith("lessons")} <= {"lessons._core.checks",
                                                                  "lessons._core.gradients"}, stem


def test_no_file_over_400_lines():
    lengths = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert max(lengths.values()) <= 400, lengths


def test_every_public_function_is_reexported():
    for path in PACKAGE.glob("*.py"):
        if path.stem == "__init__":
            continue
        public = {n for n in _top_level(path) if not n.startswith("_")}
        missing = public - set(lessons.tiger.__all__)
        assert not missing, (path.stem, missing)
