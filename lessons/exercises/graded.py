"""Graded mode (nbgrader, teacher/grading.md): what a graded notebook may use, and the assertions
its hidden tests make.

A graded notebook imports ``____`` and ``exercises(lesson)``: each exercise with its title,
``hint()`` and, for a predict-then-run exercise, ``run()``; no ``check()``, ``solution()``,
expected value or reference. The hidden tests (added back by ``nbgrader autograde``) recompute
what is right from the lesson's tested library (``lessons.adax`` ...) with ``assert_value``,
``assert_function`` and ``assert_config``; a FAIL's message is the self-check's.

    from lessons.exercises.graded import ____, exercises
    q1, q2, q3, q4, q5, q6 = exercises("adax")
"""

from __future__ import annotations

import copy
import importlib

from lessons.exercises.core import ____
from lessons.exercises.kinds import FunctionExercise, compare, config_problem

__all__ = [
    "LESSONS",
    "GradedExercise",
    "____",
    "assert_config",
    "assert_function",
    "assert_value",
    "cases",
    "exercises",
]

LESSONS = ("adax", "gan", "crf", "tiger", "fp16_xla")
_PUBLIC = ("run", "as_study")  # what a predict-then-run exercise needs besides its hints


class GradedExercise:
    """One exercise in graded mode: ``title``, ``hint(n)`` and, if it has one, ``run()``."""

    def __init__(self, exercise):
        self.title, self.hint = exercise.title, exercise.hint
        for name in _PUBLIC:
            if hasattr(exercise, name):
                setattr(self, name, getattr(exercise, name))

    def __repr__(self) -> str:
        return f"<{self.title}, graded: no check, no solution>"


def _module(lesson: str):
    if lesson not in LESSONS:
        raise ValueError(f"lesson must be one of {', '.join(LESSONS)}, got {lesson!r}")
    return importlib.import_module(f"lessons.exercises.{lesson}")


def exercises(lesson: str) -> tuple[GradedExercise, ...]:
    """The lesson's exercises q1, q2, ... in graded mode."""
    module = _module(lesson)
    names = sorted(n for n in module.__all__ if n[0] == "q" and n[1:].isdigit())
    return tuple(GradedExercise(getattr(module, n)) for n in names)


def cases(lesson: str, name: str):
    """The inputs (label, args) an implement exercise is run on, as copies (never its outputs)."""
    exercise = getattr(_module(lesson), name, None)
    if not isinstance(exercise, FunctionExercise):
        raise ValueError(f"name must be an implement exercise of {lesson}, got {name!r}")
    return copy.deepcopy(exercise.cases)


def assert_value(answer, expected, rtol: float = 0.0, atol: float = 0.0):
    """AssertionError (how the answer misses, never the expected value) unless it matches."""
    problem = compare(expected, answer, rtol, atol)
    assert problem is None, problem


def assert_function(answer, reference, cases, exercise=FunctionExercise, **tolerances):
    """AssertionError naming the first case where ``answer`` and the library's ``reference``
    differ (``exercise``: the self-check's class, e.g. one that also compares gradients)."""
    report = exercise("graded", reference, cases, **tolerances).check(answer)
    assert report.passed, report.message


def assert_config(answer, expected_type, config: dict, rtol: float = 1e-6):
    """AssertionError unless ``answer`` is an ``expected_type`` whose ``get_config()`` has these
    settings."""
    assert isinstance(answer, expected_type), (
        f"expected a {expected_type.__name__}, got {type(answer).__name__}"
    )
    problem = config_problem(config, answer.get_config(), rtol)
    assert problem is None, problem
