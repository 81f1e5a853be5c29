"""Lesson 01's package layout: the optimizer file holds only the optimizer and no file passes 400
lines (the import layers are import-linter contracts: tests/test_layout.py)."""

import ast
from pathlib import Path

import lessons.adax

PACKAGE = Path(lessons.adax.__file__).parent
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


def test_the_optimizer_file_holds_only_the_optimizer():
    tree = ast.parse((PACKAGE / "optimizer.py").read_text())
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert defined == ["AdaX"]
    imported = _imports(PACKAGE / "optimizer.py")
    assert {m.split(".")[0] for m in imported} <= {"keras", "math", "numbers", "lessons"}
    assert {m for m in imported if m.startswith("lessons")} == {"lessons._core.checks",
                                                                 "lessons._core.gradients"}


def test_no_file_over_400_lines():
    lengths = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert max(lengths.values()) <= 400, lengths
