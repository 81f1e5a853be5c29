"""Lesson 01's package layout: the optimizer file holds only the optimizer, lower layers never
import upper ones, nothing but ``__init__`` imports the views, and no file passes 400 lines."""

import ast
from pathlib import Path

import lessons.adax

PACKAGE = Path(lessons.adax.__file__).parent
# what each module may import from its own lesson (the flow of DESIGN.md)
ALLOWED = {
    "optimizer": set(),
    "schedules": set(),
    "one_step": {"optimizer", "schedules"},
    "experiment": {"optimizer", "schedules"},
    "claims": {"experiment", "one_step", "schedules"},
    "views": {"experiment", "one_step", "schedules"},
}


def _imports(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_every_module_imports_only_what_its_layer_may():
    assert {p.stem for p in PACKAGE.glob("*.py")} == set(ALLOWED) | {"__init__"}
    for stem, allowed in ALLOWED.items():
        imported = _imports(PACKAGE / f"{stem}.py")
        own = {m.removeprefix("lessons.adax.") for m in imported if m.startswith("lessons.adax")}
        assert own <= allowed, (stem, own - allowed)
        others = {m for m in imported if m.startswith("lessons") and
                  not m.startswith(("lessons.adax", "lessons._core"))}
        assert not others, (stem, others)  # a lesson never imports another lesson


def test_the_optimizer_file_holds_only_the_optimizer():
    tree = ast.parse((PACKAGE / "optimizer.py").read_text())
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert defined == ["AdaX"]
    imported = _imports(PACKAGE / "optimizer.py")
    assert {m.split(".")[0] for m in imported} <= {"keras", "math", "numbers", "lessons"}
    assert {m for m in imported if m.startswith("lessons")} == {"lessons._core.checks"}


def test_no_file_over_400_lines():
    lengths = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert max(lengths.values()) <= 400, lengths
