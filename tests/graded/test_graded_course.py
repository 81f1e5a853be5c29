"""The nbgrader course graded/ (scripts/make_graded.py), without nbgrader: it is current, its
hidden tests pass on the instructor's solutions and fail on wrong answers, and the graded mode
offers no check, solution or expected value. tests/graded/test_nbgrader.py runs nbgrader itself."""

import sys
from pathlib import Path

import nbformat
import pytest

from lessons.exercises import graded

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from make_graded import TESTS, main  # noqa: E402

SOURCES = sorted((ROOT / "graded" / "source").glob("*/*.ipynb"))


def test_committed_course_is_current(tmp_path):
    assert main(["--out", str(tmp_path)]) == 0
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    kept = sorted(
        p.relative_to(ROOT / "graded")
        for p in (ROOT / "graded").rglob("*")
        if p.is_file() and p.parts[len(ROOT.parts) + 1] in ("source", "nbgrader_config.py")
    )
    assert made == kept, "run `make graded`"
    for path in made:
        assert (tmp_path / path).read_text() == (ROOT / "graded" / path).read_text(), (
            f"graded/{path} is stale: run `make graded`"
        )


def _cells(path: Path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_every_exercise_has_an_answer_cell_and_a_locked_test_cell_with_hidden_tests():
    assert [p.parent.name for p in SOURCES] == [
        "01_adax",
        "02_one_loss_gan",
        "03_crf_learning_rate",
        "04_tiger_fixed_point",
        "05_fp16_xla",
    ]
    for path, module in zip(SOURCES, graded.LESSONS, strict=True):
        meta = {c.id: c.metadata.get("nbgrader") for c in _cells(path)}
        names = sorted(TESTS[module])
        assert [i for i in meta if i.endswith("-answer")] == [f"{n}-answer" for n in names]
        for name in names:
            answer, tests = meta[f"{name}-answer"], meta[f"{name}-tests"]
            assert answer["solution"] and not answer["grade"] and not answer["locked"]
            assert tests["grade"] and tests["locked"] and tests["points"] == TESTS[module][name][0]
            assert answer["schema_version"] == tests["schema_version"] == 3
        setup = next(c for c in _cells(path) if c.id == "setup")
        assert "from lessons.exercises.graded import exercises" in setup.source
        for cell in _cells(path):
            assert "solution()" not in cell.source and ".check(" not in cell.source
            if cell.id.endswith("-tests"):
                assert cell.source.count("### BEGIN HIDDEN TESTS") == 1
                assert ".expected" not in cell.source and ".reference" not in cell.source


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_hidden_tests_pass_on_the_solutions(path):
    """Setup, every answer cell (solutions in) and every test cell, run in one namespace; a run
    cell (training) is left out: no test needs it."""
    namespace = {}
    for cell in _cells(path):
        if cell.id == "setup" or cell.id.endswith(("-answer", "-tests")):
            exec(cell.source, namespace)  # an AssertionError fails this test


def test_graded_mode_has_hints_and_runs_only():
    q1, *_, q6 = graded.exercises("adax")
    assert q1.title == "Exercise 1" and q1.hint().status == "HINT" and callable(q6.run)
    for q in graded.exercises("gan"):
        for name in ("check", "solution", "expected", "reference", "cases", "hints"):
            assert not hasattr(q, name), name
    assert [len(graded.exercises(m)) for m in graded.LESSONS] == [6, 5, 5, 6, 5]


def test_graded_helpers():
    graded.assert_value((1.0, 2), (1.0 + 1e-9, 2), rtol=1e-6)
    with pytest.raises(AssertionError, match="your 127 is too small by about 0.0078"):
        graded.assert_value(127, 128)
    with pytest.raises(ValueError, match="lesson must be one of adax"):
        graded.exercises("adam")
    with pytest.raises(ValueError, match="name must be an implement exercise of adax, got 'q1'"):
        graded.cases("adax", "q1")
    inputs = graded.cases("adax", "q3")
    inputs[0][1][0][:] = 0.0  # a copy: the next call is unchanged
    assert graded.cases("adax", "q3")[0][1][0].any()
