"""Exercises with self-checks, one module per lesson (``lessons.exercises.adax`` ...).

``____`` is the blank a student fills in; ``q.check(answer)`` reports PASS, FAIL (how it misses,
with a hint), UNATTEMPTED, or for a prediction RIGHT, BUT (right; this machine's run left the
lesson's band); ``q.hint()`` and ``q.solution()`` help.
"""

from lessons.exercises.core import FAIL, PASS, RIGHT_BUT, UNATTEMPTED, Exercise, Report, ____
from lessons.exercises.kinds import FunctionExercise, KerasExercise, ValueExercise

__all__ = ["FAIL", "PASS", "RIGHT_BUT", "UNATTEMPTED", "Exercise", "FunctionExercise", "KerasExercise",
           "Report", "ValueExercise", "____"]
