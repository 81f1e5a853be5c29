"""Lesson 05's package layout: lower layers never import upper ones, nothing but ``__init__``
imports the views, a lesson never imports another, and no file passes 400 lines."""

import ast
import subprocess
import sys
from pathlib import Path

import lessons.fp16_xla

PACKAGE = Path(lessons.fp16_xla.__file__).parent
# what each module may import from its own lesson (the flow of DESIGN.md)
ALLOWED = {
    "formats": set(),
    "loss_scaling": {"formats"},
    "scale_rule": set(),
    "bench/configs": set(),
    "bench/workload": {"bench.configs"},
    "bench/schema": {"bench.configs"},
    "bench/child": {"bench.configs", "bench.workload"},
    # the parent runs children, or (in_process=True, the notebook's live run) their code here
    "bench/parent": {"bench.child", "bench.configs", "bench.schema", "bench.workload"},
    "bench/compare": {"bench.configs", "bench.schema"},
    "bench/__main__": {"bench.child"},
    "claims": {"bench.compare", "bench.configs", "bench.schema", "loss_scaling"},
    "tables": {"bench.compare", "bench.schema", "formats", "loss_scaling"},
    "views": {"bench.compare", "bench.configs", "bench.parent", "formats", "tables"},
    "__main__": {"bench.configs", "bench.parent", "bench.schema", "tables"},
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
    modules = {str(p.relative_to(PACKAGE).with_suffix("")) for p in PACKAGE.rglob("*.py")}
    assert modules == set(ALLOWED) | {"__init__", "bench/__init__"}
    for stem, allowed in ALLOWED.items():
        imported = _imports(PACKAGE / f"{stem}.py")
        own = {m.removeprefix("lessons.fp16_xla.") for m in imported
               if m.startswith("lessons.fp16_xla")}
        assert own <= allowed, (stem, own - allowed)
        others = {m for m in imported if m.startswith("lessons") and
                  not m.startswith(("lessons.fp16_xla", "lessons._core"))}
        assert not others, (stem, others)  # a lesson never imports another lesson


def test_no_file_over_400_lines_and_the_old_modules_are_gone():
    lengths = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines())
               for p in PACKAGE.rglob("*.py")}
    assert max(lengths.values()) <= 400, lengths
    assert not (PACKAGE.parent / "fp16_xla.py").exists()
    assert not (PACKAGE.parent / "fp16_bench.py").exists()


def test_the_allowed_imports_have_no_cycle():
    from graphlib import TopologicalSorter

    graph = {stem.replace("/", "."): allowed for stem, allowed in ALLOWED.items()}
    order = list(TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert order.index("formats") < order.index("loss_scaling") < order.index("views")


def test_importing_the_lesson_leaves_tensorflow_alone():
    code = ("import sys, lessons.fp16_xla, lessons.fp16_xla.bench.child; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
