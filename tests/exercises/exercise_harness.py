"""What every lesson's exercise tests share: the instructor notebook's solution cells, run as the
notebook runs them (and as the student copy ``scripts/make_student.py`` makes), and the PASS /
FAIL / UNATTEMPTED assertions.

Reading the solutions from the notebook keeps notebook, solution strings and tests from drifting
apart.
"""

import sys
from pathlib import Path

import nbformat
import pytest

from lessons.exercises import FAIL, UNATTEMPTED, ____

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from make_student import student_source  # noqa: E402

__all__ = ["ROOT", "ExerciseNotebook", "fails", "fails_on", "student_source", "without_check"]


def without_check(source: str) -> str:
    """A solution cell as its exercise's ``solution()`` shows it: no solution markers, no check
    line (``qN.check(answer)``)."""
    lines = [line for line in source.split("\n")
             if line.strip() not in ("# BEGIN SOLUTION", "# END SOLUTION")]
    if lines[-1].startswith("q"):
        lines = lines[:-1]
    return "\n".join(lines).strip("\n")


class ExerciseNotebook:
    """An instructor notebook's exercise cells, run against its lesson's exercise module.

    Args:
        notebook: the file in notebooks/exercises, e.g. "01_adax.ipynb".
        module: the exercises, e.g. ``lessons.exercises.adax``.
        names: the exercises in order, e.g. ("q1", ..., "q6"); the last is the prediction (its
            cell sets ``prediction = ...``).
        namespace: what the cells use besides the blank and the exercises, e.g. ``{"np": np}``
            (default none).
    """

    def __init__(self, notebook: str, module, names, namespace=None):
        self.path = ROOT / "notebooks" / "exercises" / notebook
        self.module, self.names = module, tuple(names)
        self.globals = dict(namespace or {})
        self.cells = {}  # each exercise's code cell, the one holding its solution block
        for cell in self.notebook_cells():
            if cell.cell_type == "code" and "# BEGIN SOLUTION" in cell.source:
                name = (self.names[-1] if "prediction =" in cell.source
                        else cell.source.split("\n")[-1][:2])
                self.cells[name] = cell.source

    def notebook_cells(self):
        """The notebook's cells, as stored (outputs included)."""
        return nbformat.read(self.path, as_version=4).cells

    def namespace(self, **extra) -> dict:
        """What a cell runs in: the notebook's names, the blank, the exercises, then ``extra``."""
        exercises = {n: getattr(self.module, n) for n in self.names}
        return {**self.globals, "____": ____, **exercises, **extra}

    def run_cell(self, source: str, namespace=None):
        """Execute a cell; return the value of its last line (the check's report).

        Args:
            source: the cell's code.
            namespace: where it runs (default a fresh ``self.namespace()``).
        """
        namespace = self.namespace() if namespace is None else namespace
        *body, last = source.split("\n")
        exec("\n".join(body), namespace)
        return eval(last, namespace)

    def solution_value(self, name: str, variable: str = "answer"):
        """The value a solution cell, run without its check, leaves in ``variable``."""
        namespace = self.namespace()
        exec(without_check(self.cells[name]), namespace)
        return namespace[variable]

    def prediction(self, q=None, student: bool = False):
        """The ``prediction`` the prediction cell makes.

        Args:
            q: the exercise the cell sees under its name (default the module's).
            student: run the student copy instead (default False).
        """
        name = self.names[-1]
        source = student_source(self.cells[name]) if student else self.cells[name]
        namespace = self.namespace(**({} if q is None else {name: q}))
        exec(source, namespace)
        return namespace["prediction"]

    def shared_tests(self, checked):
        """The two tests every lesson's exercise tests bind at module level: every exercise has
        its cell and that cell's solution (``assert_same_solutions``); each exercise in
        ``checked`` passes on its solution and is UNATTEMPTED on the student copy
        (``assert_solution_passes``).

        Args:
            checked: the exercises whose cell ends in its check, e.g. ("q1", ..., "q4"); a
                prediction's check waits for its run and has tests of its own.
        """
        def test_every_exercise_has_a_cell_and_the_same_solution_as_the_notebook():
            self.assert_same_solutions()

        @pytest.mark.parametrize("name", checked)
        def test_solution_passes_and_student_copy_is_unattempted(name):
            self.assert_solution_passes(name)

        return (test_every_exercise_has_a_cell_and_the_same_solution_as_the_notebook,
                test_solution_passes_and_student_copy_is_unattempted)

    def assert_same_solutions(self):
        """Every exercise has a cell, its ``solution()`` is that cell's code, and 1-3 hints."""
        assert sorted(self.cells) == list(self.names)
        for name in self.names:
            q = getattr(self.module, name)
            assert q.solution().message == without_check(self.cells[name]), name
            assert 1 <= len(q.hints) <= 3, name

    def assert_solution_passes(self, name: str):
        """The solution cell passes; its student copy and a blank are UNATTEMPTED."""
        assert self.run_cell(self.cells[name]).passed
        report = self.run_cell(student_source(self.cells[name]))
        assert report.status == UNATTEMPTED, report
        assert getattr(self.module, name).check(____).status == UNATTEMPTED


def fails(q, answer, message: str):
    """``q.check(answer)`` is a FAIL whose message starts with ``message`` (advice may follow)."""
    report = q.check(answer)
    assert report.status == FAIL and report.message.startswith(message), report


def fails_on(q, answer, case, ending: str = "", contains: str = "", then: str = ""):
    """``q.check(answer)`` is a FAIL on the case labelled ``case``: its message starts with
    ``for <case>: <then>`` and holds ``contains`` and ``ending`` (each default "")."""
    report = q.check(answer)
    assert report.status == FAIL, report
    assert report.message.startswith(f"for {case}: {then}"), report
    assert contains in report.message and ending in report.message, report
