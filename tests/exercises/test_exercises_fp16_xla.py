"""Lesson 05's exercises: each solution passes, a blank is UNATTEMPTED, and the mistakes students
make FAIL with a message naming the input and expected vs got.

The solutions are read from the instructor notebook (notebooks/exercises/05_fp16_xla.ipynb) by
the shared harness (exercise_harness.py). The Keras facts the exercises rest on (what ``compile``
wraps Adam in under ``mixed_float16``, Adam's first step) are checked against Keras itself here.
"""

import keras
import numpy as np
import pytest
from exercise_harness import ExerciseNotebook, fails

from lessons import fp16_xla as fx
from lessons.exercises import FAIL, UNATTEMPTED
from lessons.exercises import fp16_xla as ex

NOTEBOOK = ExerciseNotebook("05_fp16_xla.ipynb", ex, ("q1", "q2", "q3", "q4", "q5"),
                            {"np": np, "keras": keras, "fx": fx})

(test_every_exercise_has_a_cell_and_the_same_solution_as_the_notebook,
 test_solution_passes_and_student_copy_is_unattempted) = NOTEBOOK.shared_tests(NOTEBOOK.names[:4])


def test_the_notebook_links_the_lesson_once():
    intro = NOTEBOOK.notebook_cells()[0].source
    assert intro.count("](../05_fp16_xla.ipynb)") == 1 and "kexue.fm/archives/9059" in intro


# ---- exercise 1: FP16's largest finite and smallest positive value ------------------------------

def test_q1_expected_is_numpys_finfo_and_wrong_answers_fail():
    info = np.finfo(np.float16)
    assert ex.q1.expected == (float(info.max), float(info.smallest_subnormal)) == (65504.0, 2.0**-24)
    bf16_max = fx.format_limits("bfloat16")["max"]
    fails(ex.q1, (bf16_max, 2.0**-24), "largest finite FP16 value: your 3.3895313892515e+38 is "
          "too large by about 5.2e+33 relative (tolerance rtol 1e-12); check the bias")
    fails(ex.q1, (65504.0, 2.0**-14),  # the smallest normal
          "smallest positive FP16 value: your 6.103515625e-05 is too large by about 1e+03")
    fails(ex.q1, (2.0**16, 2.0**-24),  # 2 instead of 2 - 2^-M
          "largest finite FP16 value: your 65,536 is too large by about 0.00049 relative")
    fails(ex.q1, (65504.0, 2.0**-25),  # the rounding threshold
          "smallest positive FP16 value: your 2.9802322387695e-08 is too small by about 0.5")
    for wrong in ((2.0**16, 2.0**-24), (65504.0, 2.0**-25)):
        message = ex.q1.check(wrong).message
        assert "65,504" not in message and "5.96" not in message  # the answer is not shown
    fails(ex.q1, 65504.0, "expected 2 values (largest finite FP16 value, smallest positive FP16 "
          "value) as a tuple, list or array, got 65504")


# ---- exercise 2: the smallest power-of-two scale keeping 1e-8 ----------------------------------

def test_q2_expected_is_brute_force_and_wrong_answers_fail():
    powers = 2.0 ** np.arange(0, 40)
    first = powers[np.argmax(np.float16(1e-8 * powers) != 0)]
    assert ex.q2.expected == first == 4.0
    assert 2 * 1e-8 <= fx.underflow_threshold("float16") < 4 * 1e-8  # 2 flushes, 4 rounds up
    fails(ex.q2, 8.0,  # ceil(log2(2^-24 / g)): forgets rounding to nearest
          "your 8 is too large by about 1 relative (the exact value is expected); round g * s")
    fails(ex.q2, fx.min_scale_to_keep(1e-8, normal=True), "your 8,192 is too large by about 2e+03")
    fails(ex.q2, 1 / 1e-8, "your 100,000,000 is too large")  # 1 / g
    fails(ex.q2, 6104.0, "your 6,104 is too large")  # ratio to the smallest normal
    fails(ex.q2, 2.0, "your 2 is too small by about 0.5 relative")
    assert ex.q2.check(4).passed


# ---- exercise 3: the loss-scaling step ---------------------------------------------------------

CASES3 = [label for label, _ in ex.q3.cases]


def test_q3_reference_is_the_lessons_step_and_the_cases_show_both_edges():
    ref = ex.fp16_scaled_gradient
    flushed = ex.q3.cases[1][1]
    assert np.all(ref(*flushed) == 0) and np.all(flushed[0] != 0)  # no scale: all lost
    assert np.all(ref(ex.q3.cases[2][1][0], 1e3) != 0)  # the post's 1e3 keeps them
    assert np.all(np.isinf(ref(*ex.q3.cases[4][1])))  # 1e8 overflows
    assert ex.q3.cases[0][1][0].dtype == np.float32
    # at the lesson's threshold: exactly 2^-25 flushes, just above it survives
    threshold = fx.underflow_threshold("float16")
    assert ref(threshold, 1.0) == 0 and ref(1.0001 * threshold, 1.0) == 2.0**-24
    s = fx.min_scale_to_keep(3e-9)
    assert ref(3e-9, s) != 0 and ref(3e-9, s / 2) == 0


def _round_first(grad, scale):  # cast to FP16, then scale: the scale comes too late
    return np.asarray(grad, np.float64).astype(np.float16).astype(np.float64) * scale / scale


def _no_unscale(grad, scale):
    return np.asarray(grad, np.float64) * scale


def _unscale_in_fp16(grad, scale):  # divides inside FP16: 1e8 is inf there, 2^15 leaves subnormals
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = (np.asarray(grad, np.float64) * scale).astype(np.float16)
        return (scaled / np.float16(scale)).astype(np.float64)


def _clipped(grad, scale):  # clips the overflow to FP16's max instead of reporting inf
    return np.clip(ex.fp16_scaled_gradient(grad, scale), -65504 / scale, 65504 / scale)


def _float32(grad, scale):  # the round trip through float32 instead of float16
    return (np.asarray(grad, np.float64) * scale).astype(np.float32).astype(np.float64) / scale


def test_q3_wrong_answers_name_the_case():
    report = ex.q3.check(_round_first)
    assert report.status == FAIL and report.message.startswith(f"for {CASES3[0]}: expected ")
    assert " at index (" in report.message  # rounded before the scale: subnormal digits lost
    report = ex.q3.check(_no_unscale)
    assert report.status == FAIL and report.message.startswith(f"for {CASES3[0]}: expected ")
    report = ex.q3.check(_unscale_in_fp16)
    assert report.status == FAIL and report.message.startswith(f"for {CASES3[0]}: expected ")
    report = ex.q3.check(_clipped)
    assert report.status == FAIL, report
    assert report.message.startswith(f"for {CASES3[4]}: expected array of shape (5,)")
    assert report.message.endswith("(finite or inf/NaN in the wrong places)")
    report = ex.q3.check(_float32)
    assert report.status == FAIL and report.message.startswith(f"for {CASES3[0]}: expected ")
    report = ex.q3.check(lambda grad, scale: grad)  # FP32's gradient, never rounded to FP16
    assert report.status == FAIL and report.message.startswith(f"for {CASES3[0]}: expected ")


def test_q3_case_with_scale_one_flushes_the_unscaled_student():
    # rounding first passes case 2 only by accident (scale 1); case 3 (1e3) catches it too
    case = ex.q3.cases[2][1]
    assert np.all(_round_first(*case) == 0) and np.all(ex.fp16_scaled_gradient(*case) != 0)


# ---- exercise 4: the optimizer compile builds under mixed_float16 -------------------------------

def test_q4_config_is_what_keras_compile_builds_under_mixed_float16():
    policy = keras.DTypePolicy("mixed_float16")
    assert (policy.variable_dtype, policy.compute_dtype) == ("float32", "float16")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    finally:
        keras.config.set_dtype_policy(previous)
    assert ex.q4.check(model.optimizer).passed
    config = model.optimizer.get_config()
    assert {k: config[k] for k in ex.q4.config} == ex.q4.config
    assert ex.q4.check(keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-3))).passed


def test_q4_wrong_answers():
    lso, adam = keras.optimizers.LossScaleOptimizer, keras.optimizers.Adam
    fails(ex.q4, adam(1e-3), "expected a LossScaleOptimizer, got Adam")
    fails(ex.q4, keras.DTypePolicy("mixed_float16"),
          "expected a LossScaleOptimizer, got DTypePolicy")
    fails(ex.q4, lso(adam(1e-3), initial_scale=65504.0),  # FP16's max, not a power of two
          "initial_scale: expected 32,768, got 65,504")
    fails(ex.q4, lso(adam(1e-3), initial_scale=1e3),  # the post's hand-picked constant
          "initial_scale: expected 32,768, got 1,000")
    fails(ex.q4, lso(adam(1e-3), dynamic_growth_steps=1000),
          "dynamic_growth_steps: expected 2,000, got 1,000")
    fails(ex.q4, lso(keras.optimizers.SGD(1e-3)), "inner optimizer: expected an Adam, got SGD")
    fails(ex.q4, lso(adam(1e-2)), "inner optimizer's learning_rate: expected 0.001, got 0.0099999998")
    # the misjudged answers: an AdamW inside, and Adams with other settings, passed
    fails(ex.q4, lso(keras.optimizers.AdamW(1e-3)), "inner optimizer: expected an Adam, got AdamW")
    fails(ex.q4, lso(adam(1e-3, beta_1=0.5)), "inner optimizer's beta_1: expected 0.9, got 0.5")
    fails(ex.q4, lso(adam(1e-3, amsgrad=True)), "inner optimizer's amsgrad: expected False")
    fails(ex.q4, lso(adam(1e-3, epsilon=1e-4)), "inner optimizer's epsilon: expected 1e-07")
    fails(ex.q4, lso(adam(1e-3, weight_decay=0.01)), "inner optimizer's weight_decay: expected 0")
    assert ex.q4.check(lso(adam(learning_rate=1e-3, weight_decay=0.0))).passed  # same update


# ---- exercise 5: predict Adam's first step under a loss scale ----------------------------------

def test_q5_keras_adam_matches_the_lessons_closed_form_and_the_identity():
    steps = ex.keras_adam_first_steps()
    assert steps["unscaled"] == pytest.approx(fx.adam_first_step(1e-8), rel=1e-4)
    assert steps["scaled"] == pytest.approx(fx.adam_first_step(1e-8, scale=1e3), rel=1e-4)
    assert steps["epsilon_divided"] == pytest.approx(steps["scaled"], rel=1e-4)
    assert steps["scaled"] / steps["unscaled"] > 200  # the scale changes the step


def _q5_ran():
    q = ex.AdamScalePrediction("Exercise 5")
    q.run()
    return q


def test_q5_solution_passes_and_student_copy_is_unattempted():
    q = _q5_ran()
    assert q.check(NOTEBOOK.prediction(q)).passed
    assert q.check(NOTEBOOK.prediction(q, student=True)).status == UNATTEMPTED
    report = ex.AdamScalePrediction("Exercise 5").check((3.15e-6, 7.6e-4))
    assert report.status == UNATTEMPTED and "q5.run()" in report.message


def test_q5_wrong_answers():
    q = _q5_ran()
    unscaled, scaled = fx.adam_first_step(1e-8), fx.adam_first_step(1e-8, scale=1e3)
    without = "step without the scale: you predicted "
    with_ = "step with the scale 1e3: you predicted "
    tail_u, tail_s = "Keras's Adam moved 3.15e-06 (within 2% passes)", \
        "Keras's Adam moved 0.00076 (within 2% passes)"
    fails(q, (1e-3, 1e-3), without + "0.001, " + tail_u)  # "Adam's step is always lr"
    fails(q, (unscaled, unscaled), with_ + "3.15231e-06, " + tail_s)  # "the scale cancels"
    textbook = 1e-3 * 1e-5 / (1e-5 + 1e-7)  # epsilon on the bias-corrected sqrt(v-hat)
    fails(q, (1e-3 * 1e-8 / (1e-8 + 1e-7), textbook), without + "9.09091e-05, " + tail_u)
    fails(q, (unscaled, textbook), with_ + "0.000990099, " + tail_s)
    fails(q, (unscaled, 1e3 * unscaled), with_ + "0.00315231, " + tail_s)  # "the step scales"
    fails(q, 7.6e-4, "expected two numbers (step without, step with the scale) as a tuple, "
          "list or array, got 0.00076")
    assert q.check(np.array([unscaled, scaled])).passed  # one rule: any sequence or array
    assert q.check((unscaled, scaled)).passed
