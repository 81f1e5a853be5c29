"""Lesson 01's exercises: each solution passes, a blank is UNATTEMPTED, and the mistakes students
make FAIL with a message naming the input and expected vs got.

The solutions are read from the instructor notebook (notebooks/exercises/01_adax.ipynb) by the
shared harness (exercise_harness.py).
"""

import functools
import math

import keras
import numpy as np
import pytest
from exercise_harness import ExerciseNotebook, fails, fails_on

from lessons import adax
from lessons.exercises import FAIL, RIGHT_BUT, UNATTEMPTED, ____
from lessons.exercises import adax as ex

_fails_on = functools.partial(fails_on, then="expected ")
NOTEBOOK = ExerciseNotebook("01_adax.ipynb", ex, ("q1", "q2", "q3", "q4", "q5", "q6"),
                            {"np": np, "adax": adax})

(test_every_exercise_has_a_cell_and_the_same_solution_as_the_notebook,
 test_solution_passes_and_student_copy_is_unattempted) = NOTEBOOK.shared_tests(NOTEBOOK.names[:5])


# ---- exercise 1: beta2-hat at t = 100 ------------------------------------------------------------

ADAX_100 = 1 - 1e-4 / ((1 + 1e-4) ** 100 - 1)
ADAM_100 = 0.999 * (1 - 0.999**99) / (1 - 0.999**100)


def test_q1_wrong_answers_name_the_optimizer():
    assert ex.q1.expected == pytest.approx((ADAX_100, ADAM_100), rel=1e-12)
    no_minus_one = 1 - 1e-4 / (1 + 1e-4) ** 100  # (1 + b2)^t instead of (1 + b2)^t - 1
    fails(ex.q1, (no_minus_one, ADAM_100),
          "AdaX's beta2-hat at t = 100: your 0.99990099 is too large by about 0.01 relative "
          "(tolerance rtol 1e-06); check the exponents")
    fails(ex.q1, (ADAX_100, 0.999),  # Adam's beta_2 itself, not its step-dependent beta2-hat
          "Adam's beta2-hat at t = 100: your 0.999 is too large by about 0.0096 relative")
    off_by_one = 1 - 1e-4 / ((1 + 1e-4) ** 99 - 1)
    fails(ex.q1, (off_by_one, ADAM_100),
          "AdaX's beta2-hat at t = 100: your 0.9899484 is too small by about 0.0001 relative")
    fails(ex.q1, (ADAM_100, ADAX_100),  # swapped
          "AdaX's beta2-hat at t = 100: your 0.98949666 is too small by about 0.00056 relative")
    for wrong in ((no_minus_one, ADAM_100), (ADAX_100, 0.999), (ADAM_100, ADAX_100)):
        message = ex.q1.check(wrong).message  # direction and advice, never the answer
        assert "0.990049" not in message and "0.989497" not in message
    fails(ex.q1, ADAX_100, "expected 2 values (AdaX's beta2-hat at t = 100, Adam's beta2-hat at "
          "t = 100) as a tuple, list or array, got 0.990049")
    assert ex.q1.check(np.array([ADAX_100, ADAM_100])).passed


# ---- exercise 2: the departure step for beta_2 = 1e-2 -------------------------------------------

def test_q2_wrong_answers():
    t = np.arange(1, 50_000)
    with np.errstate(over="ignore"):
        weight = 1e-2 / np.expm1(t * np.log1p(1e-2))
    assert ex.q2.expected == 128 == t[np.argmax(t * weight <= 0.5)]
    fails(ex.q2, math.ceil(1.2564 / 1e-2),  # without b2 / ln(1 + b2)
          "your 126 is too small by about 0.016 relative (the exact value is expected); use the "
          "exact weight")
    fails(ex.q2, adax.adax_freeze_step(1e-2), "your 926 is too large by about 6.2 relative")
    fails(ex.q2, 127, "your 127 is too small by about 0.0078")  # the last step before
    assert "128" not in ex.q2.check(127).message
    assert ex.q2.check(np.int64(128)).passed


# ---- exercise 3: v-hat as a moving average ------------------------------------------------------

CASES3 = [label for label, _ in ex.q3.cases]


def _plain_mean(grads, beta_2):  # weight 1/t: right only while beta_2 t << 1
    g = np.asarray(grads, np.float64)
    steps = np.arange(1, len(g) + 1).reshape((-1,) + (1,) * (g.ndim - 1))
    return np.cumsum(g**2, axis=0) / steps


def _zero_based(grads, beta_2):  # steps counted from 0: the weight at "t = 0" is b2 / 0
    g = np.asarray(grads, np.float64)
    v_hat, out = np.zeros(g.shape[1:]), np.empty_like(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(len(g)):
            v_hat = v_hat + beta_2 / np.expm1(t * np.log1p(beta_2)) * (g[t] ** 2 - v_hat)
            out[t] = v_hat
    return out


def _literal_rule(grads, beta_2):  # v = (1 + b2) v + b2 g^2, v / ((1 + b2)^t - 1), NumPy powers
    g = np.asarray(grads, np.float64)
    v, out = np.zeros(g.shape[1:]), np.empty_like(g)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(len(g)):
            v = (1 + beta_2) * v + beta_2 * g[i] ** 2
            out[i] = v / (np.power(1 + beta_2, i + 1.0) - 1)
    return out


def test_q3_wrong_answers_name_the_case():
    _fails_on(ex.q3, _plain_mean, CASES3[0], "at index (38, 2)")
    _fails_on(ex.q3, _zero_based, CASES3[0], "(inf/NaN where a finite value is expected)")
    _fails_on(ex.q3, _literal_rule, CASES3[4], "(inf/NaN where a finite value is expected)")
    assert "overflows even float64" in CASES3[4]
    fails(ex.q3, lambda grads, beta_2: adax.vhat_moving_average(grads, "adax", beta_2)[-1],
          f"for {CASES3[0]}: expected shape (50, 4), got shape (4,)")  # only the last v-hat
    _fails_on(ex.q3, lambda grads, beta_2: adax.vhat_moving_average(np.abs(grads) ** 0.5,
                                                                      "adax", beta_2),
              CASES3[0], ")")  # g instead of g^2
    # the lesson's literal rule in Python floats raises at (1.5)^2000: reported, not raised
    report = ex.q3.check(lambda grads, beta_2: adax.vhat_direct(grads, "adax", beta_2))
    assert report.status == FAIL
    assert report.message.startswith("for 2,000 steps") and "raised OverflowError" in report.message


def test_q3_cases_cover_the_edges_the_task_names():
    shapes = {label: (args[0].shape, args[0].dtype, args[1]) for label, args in ex.q3.cases}
    assert shapes[CASES3[1]] == ((1, 3), np.float64, 1e-4)
    assert shapes[CASES3[3]] == ((3000, 2), np.float64, 1e-2)
    assert 3000 > adax.adax_freeze_step(1e-2) > adax.adax_departure_step(1e-2)
    assert shapes[CASES3[5]][1] == np.float32
    zeros = ex.q3.cases[2][1][0]
    assert np.all(zeros[:, 1] == 0) and np.all(zeros[3:5] == 0) and np.all(zeros[:3, 0] != 0)
    assert adax.overflow_step(0.5, "float64") < 2000  # the literal rule really overflows there


# ---- exercise 4: one step of Keras's Adam -------------------------------------------------------

CASES4 = [label for label, _ in ex.q4.cases]


def _adam(theta, m, v, g, t, epsilon, where="keras", correct=True, power_step=0):
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g**2
    s = t - power_step
    m_hat, v_hat = (m / (1 - 0.9**s), v / (1 - 0.999**s)) if correct else (m, v)
    if where == "keras":
        return theta - 1e-3 * np.sqrt(1 - 0.999**s) / (1 - 0.9**s) * m / (np.sqrt(v) + epsilon)
    if where == "inside_root":  # the post's sqrt(v_hat + eps)
        return theta - 1e-3 * m_hat / np.sqrt(v_hat + epsilon)
    return theta - 1e-3 * m_hat / (np.sqrt(v_hat) + epsilon)  # the textbook's


def test_q4_reference_is_keras_and_the_solution_matches_it_with_margin():
    for label, args in ex.q4.cases:
        keras_theta = ex.keras_adam_step(*args)
        want = _adam(*[np.asarray(a, np.float64) if isinstance(a, np.ndarray) else a
                       for a in args])
        tolerance = ex.q4.atol + ex.q4.rtol * np.abs(want)
        assert np.all(np.abs(keras_theta - want) < 0.1 * tolerance), label  # any CPU passes
    textbook = _adam(*ex.q4.cases[0][1], where="textbook")
    gap = np.abs(textbook - ex.keras_adam_step(*ex.q4.cases[0][1]))
    assert np.max(gap / (ex.q4.atol + ex.q4.rtol * np.abs(textbook))) > 20  # a clear FAIL


def test_q4_wrong_answers_name_the_case():
    at_index = " at index ("
    _fails_on(ex.q4, lambda *a: _adam(*a, where="textbook"), CASES4[0], "")
    assert at_index in ex.q4.check(lambda *a: _adam(*a, where="textbook")).message
    _fails_on(ex.q4, lambda *a: _adam(*a, where="inside_root"), CASES4[0], "")
    _fails_on(ex.q4, lambda *a: _adam(*a, correct=False, where="textbook"), CASES4[0], "")
    with np.errstate(divide="ignore", invalid="ignore"):
        _fails_on(ex.q4, lambda *a: _adam(*a, power_step=1), CASES4[0],
                  "(inf/NaN where a finite value is expected)")  # b^(t-1): 0 / 0 at t = 1
    _fails_on(ex.q4, lambda *a: _adam(*a[:5], 1e-7), CASES4[0], "")  # epsilon hard-coded
    assert ex.q4.check(lambda *a: _adam(*a)).passed


# ---- exercise 5: AdaX's beta_2 for departure > 1,000 and freeze <= 10,000 ----------------------

def test_q5_wrong_answers():
    fails(ex.q5, adax.AdaX(1e-3, beta_2=0.999),  # Adam's habit
          "beta_2 = 0.999: v-hat departs at step 3, not after step 1,000")
    fails(ex.q5, adax.AdaX(1e-3),  # the default 1e-4
          "beta_2 = 0.0001: v-hat freezes at step 92,109, after step 10,000")
    fails(ex.q5, adax.AdaX(1e-3, beta_2=1e-2), "beta_2 = 0.01: v-hat departs at step 128, "
          "not after step 1,000")
    fails(ex.q5, keras.optimizers.Adam(1e-3), "expected an AdaX, got Adam")
    fails(ex.q5, adax.AdaX(1e-2, beta_2=1e-3), "learning_rate: expected 0.001, got 0.0099999998")


def test_q5_accepts_exactly_the_betas_the_lesson_functions_allow():
    for beta_2 in np.geomspace(5e-4, 3e-3, 25):
        ok = adax.adax_departure_step(beta_2) > 1_000 and adax.adax_freeze_step(beta_2) <= 10_000
        assert ex.q5.check(adax.AdaX(1e-3, beta_2=float(beta_2))).passed == ok, beta_2
    assert ex.q5.check(adax.AdaX(1e-3, beta_2=9.3e-4)).passed
    assert not ex.q5.check(adax.AdaX(1e-3, beta_2=1.3e-3)).passed


# ---- exercise 6: predict AdaX / Adam, then run --------------------------------------------------

def _fake_run(rule, last):
    ratio = np.linspace(0.016, last, 675)
    trace = {"steps": np.arange(1, 676), "v_hat": (1e-3 / ratio) ** 2, "lr_over_sqrt_v_hat": ratio}
    return adax.Run(rule, 1e-3, np.array([0.5, 0.22]), 0.23, 0.955, trace)


def _q6_with(ratio):
    q = ex.RunPrediction("Exercise 6")
    q.runs = [_fake_run("adam", 0.0358), _fake_run("adax", 0.0358 * ratio)]
    return q


BAND_TEXT = "the lesson's band 0.70x .. 0.95x"


@pytest.mark.parametrize("ratio", [0.835, 0.879])  # the lesson's measured spread (seeds x CPUs)
def test_q6_verdicts_are_the_same_anywhere_in_the_measured_spread(ratio):
    q = _q6_with(ratio)
    assert q.check(NOTEBOOK.prediction(q)).passed
    assert q.check(0.72).passed
    tail = f"; the lesson's runs lie in {BAND_TEXT}: AdaX ends 5% to 30% below Adam"
    fails(q, 1.0, "you predicted 1 (AdaX at or above Adam)" + tail)  # "same moving average"
    fails(q, 1.2, "you predicted 1.2 (AdaX at or above Adam)" + tail)  # "long memory: larger"
    fails(q, 0.98, "you predicted 0.98 (AdaX below Adam by too little)" + tail)
    fails(q, 0.5, "you predicted 0.5 (AdaX below Adam by too much)" + tail)
    fails(q, "below", "expected a number (the ratio AdaX / Adam), got 'below'")
    assert q.check(NOTEBOOK.prediction(q, student=True)).status == UNATTEMPTED


def test_q6_needs_the_run_and_reports_a_run_outside_the_band():
    report = ex.RunPrediction("Exercise 6").check(0.85)
    assert report.status == UNATTEMPTED and "q6.run()" in report.message
    assert ex.RunPrediction("Exercise 6").check(____).status == UNATTEMPTED
    # the misjudged answer: the right prediction 0.85 on a run that left the band was a FAIL
    report = _q6_with(1.0).check(0.85)
    assert report.status == RIGHT_BUT and report.passed
    assert report.message.startswith(f"your prediction 0.85 lies in {BAND_TEXT}, the lesson's "
                                     f"answer; but this machine's run gave 1.000, outside the band")
    assert "not your mistake" in report.message
    report = _q6_with(1.0).check(1.2)  # a wrong prediction stays a FAIL, and the run is named
    assert report.status == FAIL and report.message.startswith("you predicted 1.2")
    assert report.message.endswith("(this machine's run, 1.000, also left the band: a finding "
                                   "to discuss)")
    assert ex.q6.band == adax.BANDS["adax_over_adam"]


def test_q6_run_trains_adam_and_adax_as_the_lesson_does(monkeypatch):
    calls = []

    def fake_compare(settings, epochs, seed, progress):
        calls.append((settings, epochs, seed, progress))
        return [_fake_run("adam", 0.0358), _fake_run("adax", 0.030)]

    monkeypatch.setattr(adax, "compare_on_digits", fake_compare)
    q = ex.RunPrediction("Exercise 6")
    runs = q.run(seed=3, progress=False)
    assert calls == [([("adam", 1e-3), ("adax", 1e-3)], 15, 3, False)] and q.runs is runs
    assert q.check(0.85).passed
