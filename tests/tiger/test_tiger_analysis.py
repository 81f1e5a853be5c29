"""The scalar analysis: the closed form against iteration, step counts against the closed form,
the underflow count against TensorFlow itself, the released rule's logistic form against its
step-by-step rule, and the drift comparison against simulation."""

import math

import numpy as np
import pytest
import tensorflow as tf

from lessons import tiger
from lessons.tiger import (
    closed_form,
    fixed_point,
    simulate,
    steps_to_fraction,
    steps_until_momentum_underflow,
)


@pytest.mark.parametrize(
    "theta0, lr, wd, sign",
    [(0.0, 0.01, 1.0, -1), (0.3, 0.003, 0.5, 1), (-2.0, 0.1, 0.01, -1), (1.0, 0.05, 0.0, 1),
     (0.5, 0.2, 2.0, 0), (np.array([0.1, -0.2, 0.0]), 0.01, 1.0, np.array([1, -1, 0]))],
)
def test_closed_form_equals_simulation(theta0, lr, wd, sign):
    a = closed_form(theta0, lr, wd, sign, 700)
    b = simulate(theta0, lr, wd, sign, 700)
    assert a.shape == b.shape == (700,) + np.shape(theta0)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_fixed_point():
    np.testing.assert_array_equal(fixed_point([1, -1, 0], 0.01), [-100.0, 100.0, 0.0])
    assert fixed_point(-1, 4.0) == 0.25
    # the iteration converges to it and stays there once it is reached
    assert closed_form(0.0, 0.01, 1.0, 1, 5000)[-1] == pytest.approx(-1.0, abs=1e-12)
    np.testing.assert_allclose(simulate(-1.0, 0.01, 1.0, 1, 50), -1.0, rtol=0, atol=1e-15)


def test_steps_to_fraction_against_closed_form():
    for lr, wd, frac in [(0.01, 1.0, 0.5), (0.003, 1.0, 0.5), (0.003, 1.0, 0.95), (1e-3, 0.01, 0.3)]:
        n = steps_to_fraction(frac, lr, wd)
        path = closed_form(0.0, lr, wd, -1, n) / fixed_point(-1, wd)  # fraction covered
        assert path[-1] >= frac > (path[-2] if n > 1 else 0.0)
    # ceil(log 0.5 / log 0.99) = ceil(68.97); the loop above checks every count against the
    # closed form's own path, and the docstring quotes 69
    assert steps_to_fraction(0.5, 0.01, 1.0) == 69


def _tf_decay_steps(m0, beta, dtype):
    """Direct TensorFlow iteration of m <- beta m; -stall step if it stops changing."""

    @tf.function
    def run():
        m, b, n = tf.cast(m0, dtype), tf.cast(beta, dtype), tf.constant(0)
        stalled = tf.constant(False)
        while m > 0 and n < 100_000 and not stalled:
            new = m * b
            n += 1
            stalled = new == m
            m = new
        return tf.where(stalled, -n, n)

    return int(run())


@pytest.mark.parametrize(
    "m0, beta, dtype",
    [(1e-3, 0.965, "float32"), (0.035, 0.965, "float32"), (1e-2, 0.9, "float32"),
     (1e-3, 0.99, "float32"), (3e-5, 0.5, "float32"), (1e-3, 0.965, "float64"),
     (1e-3, 0.965, "bfloat16")],
)
def test_underflow_count_matches_tensorflow(m0, beta, dtype):
    assert steps_until_momentum_underflow(m0, beta, dtype) == _tf_decay_steps(m0, beta, dtype)


def test_underflow_without_flushing_stalls_at_subnormals():
    # 2258: test_underflow_count_matches_tensorflow finds the same count iterating in TF itself
    assert steps_until_momentum_underflow(1e-3, 0.965) == 2258
    assert steps_until_momentum_underflow(1e-3, 0.965, flush_denormals=False) is None
    m = np.float32(1e-3)
    for _ in range(3000):
        m = np.float32(m * np.float32(0.965))
    assert m == np.float32(14 * 2.0**-149)  # stuck at 14 subnormal ulps in NumPy
    # TensorFlow's float16 keeps subnormals too, and stalls (the count comes back negative)
    assert steps_until_momentum_underflow(1e-3, 0.965, "float16", flush_denormals=False) is None
    assert _tf_decay_steps(1e-3, 0.965, tf.float16) < 0
    # beta = 0.5 rounds the last subnormal ulp down to zero, so even without flushing it ends
    assert steps_until_momentum_underflow(1e-3, 0.5, flush_denormals=False) == _numpy_steps()


def _numpy_steps():
    m, n = np.float32(1e-3), 0
    while m != 0:
        m, n = np.float32(m * np.float32(0.5)), n + 1
    return n


def test_simulate_switches_sign_off_at_underflow():
    n = steps_until_momentum_underflow(1e-3, 0.965)
    path = simulate(0.0, 0.01, 1.0, -1, 3000, beta=0.965, momentum=1e-3)
    np.testing.assert_allclose(path[: n - 1], closed_form(0.0, 0.01, 1.0, -1, n - 1), atol=1e-12)
    # from step n on only the decay acts: theta shrinks by (1 - lr lambda) per step
    np.testing.assert_allclose(path[n:], path[n - 1] * 0.99 ** np.arange(1, 3000 - n + 1),
                               rtol=1e-12)
    assert path[n - 2] == pytest.approx(1.0, abs=1e-9)


def test_scalar_analysis_rejects_bad_arguments():
    bad = [
        (fixed_point, (1, 0.0), "weight_decay"), (fixed_point, (0.5, 1.0), "sign"),
        (closed_form, (0.0, 0.0, 1.0, 1, 10), "learning_rate"), (closed_form, (0.0, 0.1, -1.0, 1, 10),
                                                      "weight_decay"),
        (closed_form, (0.0, 0.1, 1.0, 2, 10), "sign"), (closed_form, (0.0, 0.1, 1.0, 1, 0), "steps"),
        (closed_form, (0.0, 0.1, 1.0, 1, 2.5), "steps"),
        (simulate, (0.0, -0.1, 1.0, 1, 10), "learning_rate"),
        (steps_to_fraction, (0.0, 0.1, 1.0), "fraction"),
        (steps_to_fraction, (1.0, 0.1, 1.0), "fraction"),
        (steps_to_fraction, (0.5, 0.1, 0.0), "weight_decay"),
        (steps_to_fraction, (0.5, 2.0, 1.0), "learning_rate \\* weight_decay"),
        (steps_until_momentum_underflow, (1e-3, 0.9, "int8"), "dtype"),
        (steps_until_momentum_underflow, (1e-3, 1.0), "beta"),
        (steps_until_momentum_underflow, (0.0, 0.9), "m0"),
        (steps_until_momentum_underflow, (float("inf"), 0.9), "m0"),
        (steps_until_momentum_underflow, (1e-50, 0.9), "m0"),
        (tiger.explorer_data, (0.01, 1.0, 0.965, 0), "absent_steps"),
        (tiger.sign_agreement, (np.zeros(3),), "rows"),
    ]
    for fn, args, name in bad:
        with pytest.raises(ValueError, match=name):
            fn(*args)
    with pytest.raises(ValueError, match="beta"):
        simulate(0.0, 0.1, 1.0, 1, 10, beta=1.0)


def test_logistic_form_tracks_the_discrete_rule():
    for lr, lam, x0, steps in [(1.76e-3, 0.01, 0.02, 12000), (0.02, 1.0, 0.03, 1000),
                               (0.05, 1.0, 0.01, 600)]:
        row0 = x0 * np.array([1.0, -1.0, 1.0])
        sim = np.abs(tiger.released_row_simulate(row0, lr, lam, -np.sign(row0), steps))
        assert np.ptp(sim, axis=1).max() < 1e-9  # equal magnitudes stay equal
        closed = tiger.logistic_form(x0, lr, lam, steps)
        assert np.abs(sim[:, 0] - closed).max() * lam < lr
        assert sim[-1, 0] < 1 / lam and sim[-1, 0] > 0.99 / lam


def test_released_step_counts_against_simulation_and_the_readme_numbers():
    lr, lam, x0 = 1.76e-3, 0.01, 0.02
    sim = np.abs(tiger.released_row_simulate([x0, -x0], lr, lam, [-1, 1], 9000))[:, 0]
    for frac in (0.5, 0.99):
        n = tiger.released_steps_to_fraction(frac, lr, lam, x0)
        first = int(np.argmax(sim >= frac / lam)) + 1
        assert abs(n - first) <= 0.01 * first
    # log(4999) / 1.76e-3 = 4839.3 and log(99 x 4999) / 1.76e-3 = 7450.2 by hand; the loop above
    # puts both within 1 % of the step-by-step rule (the docstring quotes them)
    assert tiger.released_steps_to_fraction(0.5, lr, lam, x0) == 4840
    assert tiger.released_steps_to_fraction(0.99, lr, lam, x0) == 7451
    assert 99.5 < sim[7999] < 99.7  # "about 99 after 8,000 steps"
    # eq. (1) at the same lr: log 0.5 / log(1 - 1.76e-5) = 39383.3 by hand
    assert tiger.steps_to_fraction(0.5, lr, lam) == 39384
    # the closed form: a constant-sign row grows like exp(lr t) while it is small
    early = tiger.logistic_form(x0, lr, lam, 1000)
    assert early[-1] / x0 == pytest.approx(math.exp(lr * 1000), rel=0.02)


def test_released_analysis_rejects_bad_arguments():
    bad = [(tiger.logistic_form, (0.0, 0.01, 1.0, 10), "x0"),
           (tiger.logistic_form, (1.0, 0.01, 1.0, 10), "x0"),
           (tiger.logistic_form, (0.1, 0.0, 1.0, 10), "learning_rate"),
           (tiger.logistic_form, (0.1, 0.01, 0.0, 10), "weight_decay"),
           (tiger.released_steps_to_fraction, (1.0, 0.01, 1.0, 0.1), "fraction"),
           (tiger.released_steps_to_fraction, (0.5, 0.01, 1.0, 2.0), "x0"),
           (tiger.released_row_simulate, (np.zeros((2, 2)), 0.01, 1.0, 1, 5), "row0"),
           (tiger.released_row_simulate, ([0.1], 0.01, 1.0, 2, 5), "sign"),
           (tiger.released_row_simulate, ([0.1], 0.01, 1.0, 1, 0), "steps")]
    for fn, args, name in bad:
        with pytest.raises(ValueError, match=name):
            fn(*args)


def test_drift_comparison_against_simulation():
    d = tiger.drift_comparison(learning_rate=1.76e-3, weight_decay=0.01, x0=0.02)
    path = np.abs(tiger.closed_form(0.02, 1.76e-3, 0.01, -1, 300_000))
    assert d["eq1_half"] == int(np.argmax(path >= 50)) + 1
    assert d["eq1_99"] == int(np.argmax(path >= 99)) + 1
    # the same counts that test_released_step_counts_against_simulation_... checks by simulation
    assert (d["released_half"], d["released_99"]) == (4840, 7451)
    # the step-by-step rule gives 99.5 .. 99.7 at step 8,000 (the released-rule test above)
    assert d["released_at_8000"] == pytest.approx(99.6, abs=0.1)
    assert d["absence"] == tiger.steps_until_momentum_underflow(1e-3, 0.965) == 2258
    remaining = (100 - path[999 + 2258]) / (100 - path[999])  # gap left after one absence
    assert d["eq1_per_absence"] == pytest.approx(1 - remaining, rel=1e-6)
    small = np.abs(tiger.released_row_simulate([1e-3, -1e-3], 1.76e-3, 0.01, [-1, 1], 2258))
    assert d["released_per_absence"] == pytest.approx(small[-1, 0] / 1e-3, rel=0.01)
    # ceil(eq1_99 / 2258) and ceil(7451 / 2258) = ceil(3.3), eq1_99 checked against the path above
    assert d["eq1_absences_99"] == math.ceil(d["eq1_99"] / 2258) == 116
    assert d["released_absences_99"] == 4
    with pytest.raises(ValueError, match="x0"):
        tiger.drift_comparison(x0=200.0)


def test_try_explorer_with_slow_momentum():
    data = tiger.explorer_data(0.01, 1.0, 0.999, 10000)
    assert data["underflow_step"] > 10000  # the momentum outlives the window
    assert data["theta"][-1] == pytest.approx(-1.0, abs=1e-9)  # and the row reaches -1/lambda
    assert data["underflow_step"] == tiger.steps_until_momentum_underflow(1e-3, 0.999)
