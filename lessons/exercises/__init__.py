"""Exercises with self-checks, one module per lesson (``lessons.exercises.adax`` ...).

``____`` is the blank a student fills in; ``q.check(answer)`` reports PASS, FAIL (what differed)
or UNATTEMPTED; ``q.hint()`` and ``q.solution()`` help.
"""

from lessons.exercises.core import FAIL, PASS, UNATTEMPTED, Exercise, Report, ____
from lessons.exercises.kinds import FunctionExercise, KerasExercise, ValueExercise

__all__ = ["FAIL", "PASS", "UNATTEMPTED", "Exercise", "FunctionExercise", "KerasExercise",
           "Report", "ValueExercise", "____"]
