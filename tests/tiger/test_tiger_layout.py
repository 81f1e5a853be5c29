"""Lesson 04's package layout: each optimizer file holds only its optimizer (and private helpers),
lower layers never import upper ones, nothing but ``__init__`` imports the views, a lesson never
imports another lesson, no file passes 400 lines, and every public name is re-exported."""

import ast
from pathlib import Path

import lessons.tiger

PACKAGE = Path(lessons.tiger.__file__).parent
# what each module may import from its own lesson (the flow of DESIGN.md)
ALLOWED = {
    "optimizer": set(),
    "released": set(),
    "analysis": set(),
    "experiment": {"optimizer", "released"},
    "metrics": {"analysis", "experiment"},
    "claims": {"analysis", "experiment", "metrics"},
    "views": {"analysis", "experiment", "metrics"},
}


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


def test_every_module_imports_only_what_its_layer_may():
    assert {p.stem for p in PACKAGE.glob("*.py")} == set(ALLOWED) | {"__init__"}
    for stem, allowed in ALLOWED.items():
        imported = _imports(PACKAGE / f"{stem}.py")
        own = {m.removeprefix("lessons.tiger.") for m in imported if m.startswith("lessons.tiger")}
        assert own <= allowed, (stem, own - allowed)
        others = {m for m in imported if m.startswith("lessons") and
                  not m.startswith(("lessons.tiger", "lessons._core"))}
        assert not others, (stem, others)  # a lesson never imports another lesson


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
        assert {m for m in imported if m.startswith("lessons")} <= {"lessons._core.checks"}, stem


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
