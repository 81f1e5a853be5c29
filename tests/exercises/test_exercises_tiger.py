"""Lesson 04's exercises: each solution passes, a blank is UNATTEMPTED, and the mistakes students
make FAIL with a message naming the input and expected vs got.

The solutions are read from the instructor notebook (notebooks/exercises/04_tiger_fixed_point.ipynb)
by the shared harness (exercise_harness.py). Exercise 4's reference is the lesson's
``Tiger(lazy=True)`` itself; it is cross-checked here against an independent float64
transcription of the rule.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from exercise_harness import ExerciseNotebook, fails, fails_on

from lessons import tiger
from lessons.exercises import FAIL, UNATTEMPTED
from lessons.exercises import tiger as ex

NOTEBOOK = ExerciseNotebook("04_tiger_fixed_point.ipynb", ex, ("q1", "q2", "q3", "q4", "q5", "q6"),
                            {"np": np, "math": math, "keras": keras, "tiger": tiger})

(test_every_exercise_has_a_cell_and_the_same_solution_as_the_notebook,
 test_solution_passes_and_student_copy_is_unattempted) = NOTEBOOK.shared_tests(NOTEBOOK.names[:5])


# ---- exercise 1: the fixed point -----------------------------------------------------------------

def test_q1_wrong_answers():
    assert ex.q1.expected == -100.0 == -1 / 0.01
    fails(ex.q1, 100.0, "your 100 has the wrong sign; set the bracket")  # +1/lambda
    fails(ex.q1, 0.01, "your 0.01 has the wrong sign")  # lambda itself
    fails(ex.q1, -0.01, "your -0.01 is too small by about 1 relative")  # -lambda * sign
    # the misjudged FAIL: "expected -100, got -100" under rtol 1e-9; now the digits and the gap
    fails(ex.q1, -100.0000002, "your -100.0000002 is too large by about 2e-09 relative "
          "(tolerance rtol 1e-09); set the bracket sign(m) + lambda theta to 0")
    assert "-100," not in ex.q1.check(-100.0000002).message
    assert ex.q1.check(-100).passed


# ---- exercise 2: steps to half-way -------------------------------------------------------------

def test_q2_wrong_answers():
    t = np.arange(1, 1000)
    covered = 1 - (1 - 0.02 * 0.5) ** t
    assert ex.q2.expected == 69 == t[np.argmax(covered >= 0.5)]  # brute force
    fails(ex.q2, 100, "your 100 is too large by about 0.45 relative (the exact value is "
          "expected); take the exact logarithm")  # 1 / (lr lambda): the time scale, no log
    fails(ex.q2, math.ceil(math.log(2) / 0.01), "your 70 is too large by about 0.014")  # approx.
    fails(ex.q2, math.log(2) / 0.01, "your 69.31471805599453 is too large")  # unrounded
    fails(ex.q2, 68, "your 68 is too small by about 0.014")  # the last step before (floor)
    assert "69" not in ex.q2.check(68).message
    assert ex.q2.check(np.int64(69)).passed


# ---- exercise 3: the closed form ---------------------------------------------------------------

CASES3 = [label for label, _ in ex.q3.cases]


def _closed(theta0, lr, lam, sign, steps, start=1, star_sign=-1, rate=None, line=True):
    """The closed form with the mistakes students make switched on by the keywords."""
    theta0 = np.asarray(theta0, np.float64)
    t = np.arange(start, steps + start).reshape((steps,) + (1,) * theta0.ndim)
    if lam == 0 and line:
        return theta0 - lr * np.asarray(sign) * t
    with np.errstate(divide="ignore", invalid="ignore"):
        star = star_sign * np.asarray(sign) / lam
        return star + (1 - (lr * lam if rate is None else rate(lr, lam))) ** t * (theta0 - star)


def test_q3_reference_is_the_tested_simulation_and_any_exact_form_passes():
    for label, args in ex.q3.cases:  # the step-by-step iteration agrees with what the check uses
        want = tiger.closed_form(*args)
        tolerance = ex.q3.atol + ex.q3.rtol * np.abs(want)
        assert np.all(np.abs(tiger.simulate(*args) - want) < 0.1 * tolerance), label
    # at lambda = 1e-6 closed_form loses ~1e-7 to cancellation (theta* = 1e6); the tolerance
    # absorbs it, so an algebraically equal form (or a more accurate expm1 form) passes too
    assert ex.q3.check(lambda *a: _closed(*a)).passed

    def other_order(theta0, lr, lam, sign, steps):
        decay = (1 - lr * lam) ** np.arange(1, steps + 1).reshape((steps,) + (1,) * np.ndim(theta0))
        return theta0 * decay - np.asarray(sign) / lam * (1 - decay) if lam else \
            _closed(theta0, lr, lam, sign, steps)

    def expm1_form(theta0, lr, lam, sign, steps):
        t = np.arange(1, steps + 1).reshape((steps,) + (1,) * np.ndim(theta0))
        return theta0 + (np.asarray(theta0) + np.asarray(sign) / lam) * np.expm1(
            t * np.log1p(-lr * lam)) if lam else _closed(theta0, lr, lam, sign, steps)

    assert ex.q3.check(other_order).passed and ex.q3.check(expm1_form).passed


def test_q3_wrong_answers_name_the_case():
    fails_on(ex.q3, lambda *a: _closed(*a, start=0), CASES3[0], "at index (0,)")  # theta_0 too
    fails_on(ex.q3, lambda *a: _closed(*a, star_sign=1), CASES3[0], "at index (999,)")
    fails_on(ex.q3, lambda *a: _closed(*a, line=False), CASES3[6],
             "(inf/NaN where a finite value is expected)")  # lambda = 0 not handled
    fails_on(ex.q3, lambda *a: _closed(*a, rate=lambda lr, lam: lr), CASES3[2],
             "at index (0,)")  # (1 - lr)^t: right only where lambda = 1
    fails(ex.q3, lambda *a: _closed(*a)[-1], f"for {CASES3[0]}: expected shape (1000,), got "
          "shape ()")  # only the last theta
    report = ex.q3.check(lambda th, lr, lam, s, n: _closed(th, lr, lam, s, n)[:, None]
                         if np.ndim(th) else np.arange(1, n + 1) * 0 + _closed(th, lr, lam, s, n))
    assert report.status == FAIL and "expected shape (300, 4, 3)" in report.message


def test_q3_cases_cover_the_edges_the_task_names():
    shapes = {label: np.shape(args[0]) for label, args in ex.q3.cases}
    assert shapes[CASES3[1]] == (4, 3) and set(np.unique(ex.q3.cases[1][1][3])) == {-1, 1}
    assert ex.q3.cases[2][1][4] == 1 and ex.q3.cases[4][1][3] == 0
    assert ex.q3.cases[5][1][2] == 1e-6 and ex.q3.cases[6][1][2] == 0.0
    assert ex.q3.cases[7][1][0].dtype == np.float32 and shapes[CASES3[7]] == (3, 16)


# ---- exercise 4: one lazy Tiger step -----------------------------------------------------------

CASES4 = [label for label, _ in ex.q4.cases]


def _tiger(theta, m, g, lr, beta, lam, mask="rows", sign_of="new", absent="keep"):
    """Float64 transcription of Tiger(lazy=True), with the students' mistakes as keywords."""
    new_m = beta * m + (1 - beta) * g
    new_theta = theta - lr * (np.sign(new_m if sign_of == "new" else m) + lam * theta)
    if mask == "none":  # plain Tiger: every row moves
        return new_theta, new_m
    touched = np.any(g != 0, axis=1, keepdims=True) if mask == "rows" else g != 0
    kept_theta = theta * (1 - lr * lam) if absent == "decay" else theta
    kept_m = new_m if absent == "move_m" else m
    return np.where(touched, new_theta, kept_theta), np.where(touched, new_m, kept_m)


def test_q4_reference_is_tiger_itself_and_the_solution_matches_it_with_margin():
    for label, args in ex.q4.cases:
        theta, m = ex.keras_lazy_tiger_step(*args)
        want_theta, want_m = _tiger(*[np.asarray(a, np.float64) if isinstance(a, np.ndarray)
                                      else a for a in args])
        for got, want in ((theta, want_theta), (m, want_m)):
            tolerance = ex.q4.atol + ex.q4.rtol * np.abs(want)
            assert np.all(np.abs(got - want) < 0.1 * tolerance), label  # any CPU passes
        new_m = 0.965 * args[1] + 0.035 * args[2]
        assert np.all((np.abs(new_m) > 1e-4) | (new_m == 0)), label  # no sign on a knife's edge
        touched = np.any(args[2] != 0, axis=1)
        if touched[-1]:  # the last row's momentum changes sign: sign(old m) would be wrong
            assert np.all(np.sign(new_m[-1]) == -np.sign(args[1][-1])), label
    absent = ex.q4.cases[0][1]
    theta, m = ex.keras_lazy_tiger_step(*absent)
    assert np.array_equal(theta[[1, 3, 6]], absent[0][[1, 3, 6]].astype(np.float32))
    assert np.all(theta[[0, 2]] != absent[0][[0, 2]])


def test_q4_wrong_answers_name_the_case_and_the_output():
    fails_on(ex.q4, lambda *a: _tiger(*a, mask="none"), CASES4[0], contains=": new theta: ")
    fails_on(ex.q4, lambda *a: _tiger(*a, absent="decay"), CASES4[0], contains=": new theta: ")
    fails_on(ex.q4, lambda *a: _tiger(*a, absent="move_m"), CASES4[0], contains=": new m: ")
    fails_on(ex.q4, lambda *a: _tiger(*a, mask="entries"), CASES4[1],
             contains=": new theta: ")  # the zero entries are decayed too
    fails_on(ex.q4, lambda *a: _tiger(*a, sign_of="old"), CASES4[0], contains=": new theta: ")
    fails_on(ex.q4, lambda *a: _tiger(*a)[::-1], CASES4[0], contains=": new theta: ")  # swapped
    fails(ex.q4, lambda *a: _tiger(*a)[0], f"for {CASES4[0]}: expected 2 values (a tuple, list "
          "or array), got array of shape (8, 4)")
    assert ex.q4.check(lambda *a: _tiger(*a)).passed


# ---- exercise 5: Keras's Lion for the lesson's experiment --------------------------------------

def test_q5_wrong_answers():
    lion = keras.optimizers.Lion
    band = "Keras's Lion docstring asks for 3-10x smaller, i.e. 0.001 .. 0.003333"
    fails(ex.q5, lion(0.01, weight_decay=1.0), f"learning_rate: 0.01 is 1x AdamW's 0.01; {band}")
    fails(ex.q5, lion(0.03, weight_decay=1.0), f"learning_rate: 0.03 is 0.333x AdamW's 0.01; {band}")
    fails(ex.q5, lion(1e-4, weight_decay=1.0), f"learning_rate: 0.0001 is 100x AdamW's 0.01; {band}")
    fails(ex.q5, lion(0.003, weight_decay=0.01),  # the post's lambda
          "weight_decay: expected 1 (fixed point +-1), got 0.01")
    fails(ex.q5, lion(0.003), "weight_decay: expected 1 (fixed point +-1), got None")
    fails(ex.q5, lion(0.003, beta_2=0.999, weight_decay=1.0), "beta_2: expected 0.99, got 0.999")
    fails(ex.q5, keras.optimizers.AdamW(0.003, weight_decay=1.0), "expected a Lion, got AdamW")
    fails(ex.q5, tiger.Tiger(0.003, weight_decay=1.0), "expected a Lion, got Tiger")


def test_q5_band_edges_and_what_the_task_says_about_keras():
    config = tiger.ExperimentConfig()
    assert (config.adam_learning_rate, config.learning_rate, config.weight_decay) == (0.01, 0.003, 1.0)
    for lr, ok in ((0.01 / 3, True), (0.001, True), (0.0034, False), (0.00099, False)):
        assert ex.q5.check(keras.optimizers.Lion(lr, weight_decay=1.0)).passed == ok, lr
    doc = " ".join(keras.optimizers.Lion.__doc__.split())
    assert "a suitable learning rate for Lion is typically 3-10x smaller than that for AdamW" in doc
    v = keras.Variable(np.array([0.5, -2.0], np.float32))  # m = 0, g = 0: only the decay acts
    keras.optimizers.Lion(0.003, weight_decay=1.0).apply([tf.zeros(2)], [v])
    np.testing.assert_allclose(v.numpy(), np.array([0.5, -2.0]) * (1 - 0.003), rtol=1e-6)


# ---- exercise 6: predict the released rule against eq. (1), then run ---------------------------

TAIL = ("; the run: eq. (1) needs 39,372 steps to get half-way, the released rule 4,843, a ratio "
        "of 8.13 (a prediction within a factor of 2, 4.06 .. 16.26, passes)")


def test_q6_verdicts():
    q = ex.DriftPrediction("Exercise 6")
    prediction = NOTEBOOK.prediction(q)
    assert q.check(prediction).status == UNATTEMPTED  # not run yet
    assert "q6.run()" in q.check(8.0).message
    q.run()
    assert q.check(prediction).passed and q.check(4.1).passed
    fails(q, 1.0, "you predicted 1 (the same speed)" + TAIL)  # "same fixed point, same speed"
    fails(q, 100.0, "you predicted 100 (the released rule 100x faster)" + TAIL)  # rate lr vs lr lambda
    fails(q, 0.123, "you predicted 0.123 (the released rule slower)" + TAIL)  # the ratio upside down
    fails(q, 3.5, "you predicted 3.5 (the released rule 3.5x faster)" + TAIL)
    fails(q, "faster", "expected a number (steps under eq. (1) / steps under the released rule), "
          "got 'faster'")
    assert q.check(NOTEBOOK.prediction(q, student=True)).status == UNATTEMPTED


def test_q6_run_agrees_with_the_lessons_closed_forms():
    run = ex.DriftPrediction("q").run()
    lesson = tiger.drift_comparison(learning_rate=1.76e-3, weight_decay=0.01, x0=0.02)
    assert run["eq1_half"] == lesson["eq1_half"] == 39_372
    assert 0 <= run["released_half"] - lesson["released_half"] <= 5  # discrete vs logistic
    assert run["ratio"] == pytest.approx(math.log(2) / (0.01 * math.log(4999)), rel=2e-3)
    stored = [c for c in NOTEBOOK.notebook_cells() if c.cell_type == "code" and "q6.run()" in c.source]
    assert stored[0].outputs[0]["text"] == (
        f"half-way to 1/lambda: eq. (1) after {run['eq1_half']:,} steps, the released rule after "
        f"{run['released_half']:,}; ratio {run['ratio']:.2f}\n")


def test_what_next_claims():
    # lr cancels: the ratio stays near ln 2 / (lambda ln 4999) = 8.14 for other small rates
    for lr in (1e-3, 1e-2):
        q = ex.DriftPrediction("q")
        q.settings = (lr, 0.01, 0.02)
        assert q.run()["ratio"] == pytest.approx(8.14, rel=0.01), lr
    assert tiger.steps_to_fraction(0.5, 0.003, 1.0) == 231
    assert tiger.steps_to_fraction(0.5, 1e-3, 0.01) == 69_315
    assert tiger.drift_comparison()["released_half"] == 4_840
