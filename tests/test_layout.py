"""The package's layers, as the import-linter contracts in pyproject.toml state them: `lint-imports`
keeps them on the real tree, breaks them on a copy with one import added against a contract, and
every module of every lesson is named by some layers contract (so a new module cannot slip past)."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
LESSONS = ["adax", "gan", "crf", "tiger", "fp16_xla"]


def _contract(contract_id):
    return next(c for c in CONTRACTS if c["id"] == contract_id)


def _lint_imports(cwd):
    env = {**os.environ, "PYTHONPATH": str(cwd), "COLUMNS": "300"}  # no wrapped contract names
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _broken(output):
    """The names of the contracts lint-imports reports broken."""
    names = {c["name"] for c in CONTRACTS}
    found = (re.fullmatch(r"(.+) BROKEN( \(.*\))?", line.strip()) for line in output.splitlines())
    return {m[1] for m in found if m} & names


def test_the_contracts_are_kept():
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in run.stdout, run.stdout


# (file of the copy, line added to it, the one contract it breaks)
BREAKS = [
    ("adax/optimizer.py", "from lessons.gan import losses", "lessons-independent"),
    # (_core/__init__.py: no lesson imports it, so only this contract breaks)
    ("_core/__init__.py", "import lessons.tiger", "core-below-lessons"),
    ("adax/experiments.py", "from lessons.exercises import core", "exercises-above-lessons"),
    ("exercises/adax.py", "from lessons.adax import views", "views-claims-through-init"),
    ("adax/one_step.py", "from lessons.adax import experiments", "adax-layers"),
    ("gan/losses.py", "from lessons.gan import trainers", "gan-layers"),
    ("crf/layer.py", "from lessons.crf import scoring", "crf-layers"),
    ("tiger/optimizer.py", "from lessons.tiger import experiments", "tiger-layers"),
    ("fp16_xla/analysis.py", "from lessons.fp16_xla import loss_scaling", "fp16-layers"),
    ("fp16_xla/bench/configs.py", "from lessons.fp16_xla.bench import workload",
     "fp16-bench-layers"),
    ("gan/helpers.py", "X = 1", "gan-layers"),  # a new module outside the layers
    ("fp16_xla/bench/helpers.py", "X = 1", "fp16-bench-layers"),
]


@pytest.mark.parametrize("path, line, contract_id", BREAKS, ids=[b[2] + ":" + b[0] for b in BREAKS])
def test_an_import_against_a_contract_breaks_it(tmp_path, path, line, contract_id):
    shutil.copytree(ROOT / "lessons", tmp_path / "lessons",
                    ignore=shutil.ignore_patterns("__pycache__", "results"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / "lessons" / path
    target.write_text((target.read_text() if target.exists() else "") + f"\n{line}\n")
    run = _lint_imports(tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "lessons." + path.removesuffix(".py").removesuffix("/__init__").replace("/", ".") \
        in run.stdout, run.stdout
    assert _broken(run.stdout) == {_contract(contract_id)["name"]}, run.stdout


def _layers_modules(contract):
    """Full names of the modules a layers contract places (each container times each layer)."""
    tails = [t.strip().strip("()") for layer in contract["layers"] for t in re.split(r"[|:]", layer)]
    return {f"{c}.{t}" for c in contract.get("containers", [""]) for t in tails}


def test_every_lesson_module_is_in_a_layers_contract():
    placed = set().union(*(_layers_modules(c) for c in CONTRACTS if c["type"] == "layers"))
    for lesson in LESSONS:
        package = ROOT / "lessons" / lesson
        for path in package.rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                continue  # the package itself: its __init__ may import every layer
            name = ".".join(parts)
            assert any(name == m or name.startswith(m + ".") for m in placed), name
    layered = [c for c in CONTRACTS if c["type"] == "layers" and c.get("containers")]
    assert all(c.get("exhaustive") for c in layered)
    subpackages = {p.name for p in (ROOT / "lessons").iterdir()
                   if (p / "__init__.py").exists() and p.name not in {"_core", "exercises"}}
    assert subpackages == set(LESSONS)
    assert set(_contract("lessons-independent")["modules"]) == {f"lessons.{x}" for x in LESSONS}
