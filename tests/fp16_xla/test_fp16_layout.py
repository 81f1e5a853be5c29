"""Lesson 05's package layout: no file passes 400 lines, the old single-file modules are gone, and
importing the lesson leaves TensorFlow alone (the import layers are import-linter contracts:
tests/test_layout.py)."""

import subprocess
import sys
from pathlib import Path

import lessons.fp16_xla

PACKAGE = Path(lessons.fp16_xla.__file__).parent
# Which module may import which (the layers; only __init__ imports the views; no other lesson) is
# stated by the import-linter contracts in pyproject.toml: README, "How the code is organised".


def test_no_file_over_400_lines_and_the_old_modules_are_gone():
    lengths = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines())
               for p in PACKAGE.rglob("*.py")}
    assert max(lengths.values()) <= 400, lengths
    assert not (PACKAGE.parent / "fp16_xla.py").exists()
    assert not (PACKAGE.parent / "fp16_bench.py").exists()


def test_importing_the_lesson_leaves_tensorflow_alone():
    code = ("import sys, lessons.fp16_xla, lessons.fp16_xla.bench.child; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
