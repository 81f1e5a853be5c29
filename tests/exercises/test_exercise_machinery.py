"""lessons.exercises: blanks report UNATTEMPTED, wrong answers FAIL with what differed, right
answers PASS, and check() never raises on a student's mistake."""

import numpy as np
import pytest

from lessons.exercises import (
    FAIL,
    UNATTEMPTED,
    FunctionExercise,
    KerasExercise,
    ValueExercise,
    ____,
)


def test_value_exercise_reports_all_three_outcomes():
    q = ValueExercise("Exercise 1", 0.5, hints=("think", "compute"), solution="answer = 0.5")
    assert q.check(____).status == UNATTEMPTED
    assert q.check([1.0, ____]).status == UNATTEMPTED
    wrong = q.check(0.25)
    assert wrong.status == FAIL
    assert wrong.message == "your 0.25 is too small by about 0.5 relative (tolerance rtol 1e-06)"
    assert q.check(0.5 + 1e-9).passed
    assert repr(q.check(0.5)) == "Exercise 1 PASS: correct"


def test_blank_inside_a_computation_is_unattempted_not_a_crash():
    for use in (lambda: ____ * 2, lambda: np.sqrt(____), lambda: ____.shape, lambda: float(____)):
        with pytest.raises(Exception, match="blank ____"):
            use()
    f = FunctionExercise("q", lambda x: x + 1, [("x = 1", (1.0,))])
    assert f.check(lambda x: ____ + x).status == UNATTEMPTED
    assert f.check(lambda x: ____).status == UNATTEMPTED


def test_shapes_and_values_are_named_in_a_fail():
    q = ValueExercise("q", np.arange(6.0).reshape(2, 3))
    assert q.check(np.arange(6.0)).message == "expected shape (2, 3), got shape (6,)"
    got = np.arange(6.0).reshape(2, 3)
    got[1, 2] = 9.0
    assert q.check(got).message == ("your 9 is too large by about 0.8 relative (tolerance rtol "
                                    "1e-06) at index (1, 2)")
    assert q.check("five").message.startswith("expected a number or an array")
    assert ValueExercise("q", 1.0).check(np.nan).message.endswith(
        "inf/NaN where a finite value is expected")
    assert ValueExercise("q", (128, 926), rtol=0.0).check((126, 926)).message == (
        "item 0: your 126 is too small by about 0.016 relative (the exact value is expected)")


def test_function_exercise_names_the_failing_input_and_survives_errors():
    cases = [("x = [1, 2]", (np.array([1.0, 2.0]),)), ("x = [] (empty)", (np.zeros(0),))]
    q = FunctionExercise("q", lambda x: np.cumsum(x), cases)
    assert q.check(np.cumsum).passed
    assert q.check(lambda x: x).message == ("for x = [1, 2]: expected 3, got 2 at index (1,) "
                                            "(relative gap 0.33; tolerance rtol 1e-05, atol 1e-06)")

    def crashes(x):
        return x[5]

    report = q.check(crashes)
    assert report.status == FAIL
    assert report.message.startswith("for x = [1, 2]: your function raised IndexError")
    assert q.check(3).message == "expected a function, got 3"

    def mutates(x):
        x += 1
        return np.cumsum(x - 1)

    assert q.check(mutates).passed  # each call gets its own copy of the inputs
    with pytest.raises(ValueError, match="cases must hold at least one"):
        FunctionExercise("q", np.cumsum, [])


def test_keras_exercise_reads_public_config_and_runs_the_probe():
    import keras

    def probe(opt):
        return None if opt.learning_rate.numpy() > 0 else "learning rate must be positive"

    q = KerasExercise("q", keras.optimizers.Lion, config={"learning_rate": 1e-4, "beta_1": 0.9},
                      probe=probe)
    assert q.check(keras.optimizers.Lion(learning_rate=1e-4)).passed
    assert q.check(keras.optimizers.Adam(1e-4)).message == "expected a Lion, got Adam"
    assert q.check(keras.optimizers.Lion(1e-3)).message.startswith(
        "learning_rate: expected 0.0001, got 0.001 (relative gap 9;")


def test_hints_and_solution_render_as_html_and_text():
    q = ValueExercise("Exercise 2", 1.0, hints=("first", "second"), solution="x = 1.0")
    assert q.hint().message == "first (hint 1 of 2)"
    assert q.hint(5).message == "second (hint 2 of 2)"
    assert ValueExercise("q", 1.0).hint().status == "HINT"
    assert q.solution().message == "x = 1.0"
    html = q.check(2.0)._repr_html_()
    assert "#b3261e" in html and "FAIL" in html and "your 2 is too large by about 1 relative" in html
    assert "<pre" in q.solution()._repr_html_()
    assert "#1b7f3b" in q.check(1.0)._repr_html_()


def test_show_renders_tensors_and_numpy_scalars_as_plain_numbers():
    import tensorflow as tf

    from lessons.exercises.kinds import show

    assert show(tf.constant(2.5, tf.float64)) == "2.5"
    assert show(np.float32(0.125)) == "0.125"
    assert show(np.array(3)) == "3"
    assert show(tf.constant([1.0, 2.0])) == "array of shape (2,) (float32): [1, 2]"


def test_a_missing_inf_is_named_as_such():
    q = ValueExercise("q", np.array([1.0, np.inf]))
    assert q.check(np.array([1.0, 65504.0])).message.endswith(
        ": finite or inf/NaN in the wrong places")
