"""Lesson 03's package layout: the layer file holds only the CRF layer and imports only Keras,
NumPy and ``lessons._core``; no file passes 400 lines; the names the notebook uses are re-exported
(the import layers are import-linter contracts: tests/test_layout.py)."""

import ast
import json
from pathlib import Path

import lessons.crf

PACKAGE = Path(lessons.crf.__file__).parent
NOTEBOOK = PACKAGE.parents[1] / "notebooks" / "03_crf_learning_rate.ipynb"
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


def test_the_layer_file_holds_only_the_layer():
    tree = ast.parse((PACKAGE / "layer.py").read_text())
    public = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)
              and not n.name.startswith("_")]
    assert public == ["bmes_constraints", "CRF"]
    imported = _imports(PACKAGE / "layer.py")
    assert {m.split(".")[0] for m in imported} <= {"__future__", "keras", "numpy", "lessons"}
    assert {m for m in imported if m.startswith("lessons")} <= {"lessons._core.checks",
                                                                "lessons._core.data"}


def test_no_file_over_400_lines():
    lengths = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert max(lengths.values()) <= 400, lengths


def test_every_name_the_notebook_calls_is_exported():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    called = {node.attr for node in ast.walk(ast.parse(code))
              if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "crf"}
    assert called and called <= set(lessons.crf.__all__), called - set(lessons.crf.__all__)
    assert all(hasattr(lessons.crf, name) for name in lessons.crf.__all__)
