"""Lesson 02's package layout: the losses file holds only the losses, no file passes 400 lines,
``__all__`` holds what the notebook calls, and the notebook shows ``one_step_loss`` once and
otherwise makes short calls (the import layers are import-linter contracts: tests/test_layout.py)."""

import ast
import json
import re
from pathlib import Path

import lessons.gan
from lessons import gan

PACKAGE = Path(lessons.gan.__file__).parent
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_one_loss_gan.ipynb"
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


def test_the_losses_file_holds_only_the_losses():
    tree = ast.parse((PACKAGE / "losses.py").read_text())
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert defined == ["d_hinge_loss", "g_hinge_loss", "zero_loss", "one_step_loss",
                       "_check_scores"]
    assert _imports(PACKAGE / "losses.py") == {"__future__", "keras", "lessons._core.checks"}


def test_no_file_over_400_lines():
    lengths = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert max(lengths.values()) <= 400, lengths


def _code_cells(from_scratch=True):
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"
            and (from_scratch or "from-scratch" not in c["metadata"].get("tags", []))]


def test_all_lists_what_the_notebook_calls():
    called = set()
    for source in _code_cells():
        called |= set(re.findall(r"\bgan\.(\w+)", source))
    assert called <= set(gan.__all__), called - set(gan.__all__)
    assert len(set(gan.__all__)) == len(gan.__all__)
    assert all(hasattr(gan, name) for name in gan.__all__)
    private = [name for name in gan.__all__ if name.startswith("_")]
    assert not private


def test_the_notebook_shows_the_single_loss_once_and_makes_short_calls():
    sources = _code_cells()
    shown = [s for s in sources if "show_source" in s]
    assert shown == ["lessons.show_source(gan.one_step_loss)"]
    # the first cell (TensorFlow's import) and the from-scratch cells (an idea by hand) excepted
    for source in _code_cells(from_scratch=False)[1:]:
        assert source.count("\n") + 1 <= 3, source
        assert "plt." not in source and "import matplotlib" not in source
