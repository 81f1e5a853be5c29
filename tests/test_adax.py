"""Lesson 01: AdaX against a float64 transcription of its literal rule, the beta2-hat schedules
against closed forms and exact arithmetic, long runs, serialization, the trace and the widget."""

import math
import warnings
from decimal import Decimal, getcontext

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lessons import adax

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def literal_adax(theta, grads, lr=1e-3, b1=0.9, b2=1e-4, eps=1e-6):
    """The rule as published, in float64: v grows like (1 + b2)^t and is divided back down."""
    theta = np.array(theta, np.float64)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t, g in enumerate(np.asarray(grads, np.float64), start=1):
        m = b1 * m + (1 - b1) * g
        v = (1 + b2) * v + b2 * g**2
        v_hat = v / ((1 + b2) ** t - 1)
        theta = theta - lr * m / (np.sqrt(v_hat) + eps)
    return theta, m, v_hat


def run_adax(theta, grads, **kwargs):
    var = keras.Variable(np.asarray(theta, np.float32))
    opt = adax.AdaX(**kwargs)
    step = tf.function(lambda g: opt.apply_gradients([(g, var)]))  # graph mode, as in fit
    for g in grads:
        step(tf.constant(g, tf.float32))
    return var.numpy(), opt.momentum(var).numpy(), opt.second_moment(var).numpy()


# ---------------------------------------------------------------------------------------------
# The optimizer


@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1.0, 1e3])
@pytest.mark.parametrize("beta_2", [1e-4, 0.05])
def test_adax_matches_literal_rule(scale, beta_2):
    rng = np.random.default_rng(int(scale * 1e6) % 997)
    steps = 120  # with beta_2 = 0.05, b2 t reaches 6: well past where B_t leaves 1 - 1/t
    theta0 = rng.normal(size=(4, 3))
    # gradients whose size also drifts over an order of magnitude, as in training
    grads = scale * rng.normal(size=(steps, 4, 3)) * np.exp(rng.normal(size=(steps, 1, 1)))
    kwargs = {"learning_rate": 1e-2, "beta_1": 0.9, "beta_2": beta_2, "epsilon": 1e-6}
    want_theta, want_m, want_vhat = literal_adax(
        theta0, grads, lr=1e-2, b1=0.9, b2=beta_2, eps=1e-6)
    got_theta, got_m, got_vhat = run_adax(theta0.astype(np.float32), grads.astype(np.float32),
                                          **kwargs)
    np.testing.assert_allclose(got_m, want_m, rtol=2e-5, atol=1e-6 * scale)
    np.testing.assert_allclose(got_vhat, want_vhat, rtol=2e-5)
    np.testing.assert_allclose(got_theta - theta0, want_theta - theta0, rtol=1e-4, atol=1e-6)
    assert np.max(np.abs(want_theta - theta0)) > 0.1  # the weights really moved


def test_epsilon_is_outside_the_square_root():
    g = np.array([1e-6, -2e-6, 4.0], np.float32)
    theta, m, v_hat = run_adax(np.zeros(3, np.float32), [g], learning_rate=1.0, epsilon=1e-6)
    # step 1: m = 0.1 g, v_hat = g^2, update = m / (|g| + eps)
    np.testing.assert_allclose(v_hat, g.astype(np.float64) ** 2, rtol=1e-6)
    np.testing.assert_allclose(theta, -0.1 * g / (np.abs(g) + 1e-6), rtol=1e-6)
    inside = -0.1 * g / np.sqrt(g.astype(np.float64) ** 2 + 1e-6)
    assert abs(theta[0] - inside[0]) > 0.04  # the post's sqrt(v_hat + eps) gives another answer


def _literal_one_step(step, theta, g, m, v_hat, lr=1e-3, b1=0.9, b2=1e-4, eps=1e-6):
    """One literal update at step t from v_{t-1} = v_hat_{t-1} ((1 + b2)^(t-1) - 1), float64."""
    theta, g, m, v_hat = (np.asarray(a, np.float64) for a in (theta, g, m, v_hat))
    v = v_hat * ((1 + b2) ** (step - 1) - 1)
    v = (1 + b2) * v + b2 * g**2
    v_hat = v / ((1 + b2) ** step - 1)
    m = b1 * m + (1 - b1) * g
    return theta - lr * m / (np.sqrt(v_hat) + eps), m, v_hat


@pytest.mark.parametrize("step", [1, 2, 10_000, 50_000, 886_000, 890_000, 2_000_000])
def test_long_runs_match_float64_literal_rule(step):
    theta = np.array([0.5, -1.0, 2.0], np.float32)
    g = np.array([1e3, -3.0, 1e-3], np.float32)  # g^2 >> v_hat so a tiny 1 - B_t still shows
    m = np.array([0.2, 0.1, -0.3], np.float32)
    v_hat = np.array([1.0, 4.0, 1e-4], np.float32)
    got = adax.step_from_state(step, theta, g, m, v_hat)
    want = _literal_one_step(step, theta, g, m, v_hat)
    for a, b in zip(got, want, strict=True):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, rtol=2e-6)
    if step == 50_000:  # 1 - B_t = 6.8e-7 here, and v_hat[0] visibly moves by 0.68
        assert got[2][0] == pytest.approx(1.0 + 1e6 * 1e-4 / math.expm1(5e4 * math.log1p(1e-4)),
                                          rel=1e-5)


def test_naive_float32_power_overflows_where_adax_state_does_not():
    t = adax.overflow_step(1e-4, "float32")
    base = np.float32(1 + 1e-4)
    with np.errstate(over="ignore"):
        assert np.isfinite(np.power(base, np.float32(t - 1)))
        assert np.isinf(np.power(base, np.float32(t)))
        assert np.isinf(np.power(base, np.float32(2_000_000)))
    assert 886_000 < t < 888_000
    assert t == pytest.approx(math.log(np.finfo(np.float32).max) / math.log(float(base)), abs=1)
    t64 = adax.overflow_step(1e-4, "float64")
    assert np.isfinite(np.power(1 + 1e-4, t64 - 1)) and 7.0e6 < t64 < 7.2e6
    with np.errstate(over="ignore"):
        assert np.isinf(np.power(1 + 1e-4, float(t64)))


def test_adax_state_is_finite_for_any_step_under_xla():
    var = keras.Variable(np.array([1.0], np.float32))
    opt = adax.AdaX()
    opt.build([var])
    step = tf.function(lambda g: opt.apply_gradients([(g, var)]), jit_compile=True)
    for t in (887_126, 2_000_000, 10**9):  # at the float32 overflow step and far beyond
        opt.iterations.assign(t - 1)
        opt.momentum(var).assign([0.1])
        opt.second_moment(var).assign([0.25])
        var.assign([1.0])
        step(tf.constant([0.5]))
        np.testing.assert_allclose(opt.second_moment(var).numpy(), [0.25], rtol=1e-7)
        np.testing.assert_allclose(var.numpy(), 1.0 - 1e-3 * 0.14 / (0.5 + 1e-6), rtol=1e-6)


def _mlp_and_data(jit):
    keras.utils.set_random_seed(1)
    model = adax.digits_mlp(hidden=16, seed=1)
    model.compile(optimizer=adax.AdaX(learning_rate=3e-3), loss=LOSS, jit_compile=jit)
    (x, y), _ = adax.digits_split()
    return model, x[:256], y[:256]


def test_compile_fit_and_xla_agree():
    weights = []
    for jit in (False, True):
        model, x, y = _mlp_and_data(jit)
        history = model.fit(x, y, batch_size=64, epochs=3, shuffle=False, verbose=0)
        assert model.jit_compile is jit
        assert history.history["loss"][-1] < history.history["loss"][0]
        assert int(model.optimizer.iterations.numpy()) == 12
        weights.append([w.numpy() for w in model.trainable_weights])
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_save_load_round_trip_resumes_identically(tmp_path):
    model, x, y = _mlp_and_data(False)
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "adax.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.optimizer, adax.AdaX)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert int(loaded.optimizer.iterations.numpy()) == 4
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    model.train_on_batch(x[:64], y[:64])
    loaded.train_on_batch(x[:64], y[:64])
    for a, b in zip(model.trainable_weights, loaded.trainable_weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(model.trainable_weights[0].numpy(),
                           keras.models.load_model(path).trainable_weights[0].numpy())


def test_config_round_trip():
    opt = adax.AdaX(learning_rate=0.01, beta_1=0.8, beta_2=1e-3, epsilon=1e-8, clipnorm=1.0)
    again = adax.AdaX.from_config(opt.get_config())
    assert (again.beta_1, again.beta_2, again.epsilon, again.clipnorm) == (0.8, 1e-3, 1e-8, 1.0)
    assert keras.optimizers.get(keras.optimizers.serialize(opt)).get_config() == opt.get_config()


@pytest.mark.parametrize("kwargs", [
    {"beta_2": 0.0}, {"beta_2": -1e-4}, {"beta_1": 1.0}, {"beta_1": -0.1},
    {"epsilon": -1e-8}, {"learning_rate": 0.0}, {"learning_rate": -1e-3},
])
def test_adax_rejects_bad_hyperparameters(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        adax.AdaX(**kwargs)


# ---------------------------------------------------------------------------------------------
# Schedules


def test_schedules_match_naive_closed_forms_where_those_are_accurate():
    t = np.arange(1, 3001)
    np.testing.assert_allclose(adax.beta2_hat_adam(t, 0.99),
                               0.99 * (1 - 0.99 ** (t - 1)) / (1 - 0.99**t), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(adax.beta2_hat_adax(t, 1e-2),
                               1 - 1e-2 / ((1 + 1e-2) ** t - 1), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(adax.beta2_hat_adafactor(t, 0.8), 1 - t**-0.8,
                               rtol=1e-12, atol=1e-15)
    for rule, fn in adax.BETA2_HAT.items():
        b = fn(t)
        assert fn(1) == pytest.approx(0.0, abs=1e-15), rule  # B_1 = 0: v_hat_1 = g_1^2
        assert np.all(np.diff(b) >= 0) and np.all((0 <= b) & (b <= 1)), rule


@pytest.mark.parametrize("t", [1, 2, 1_000, 100_000, 1_000_000, 7_000_000])
def test_adax_weight_against_exact_decimal_arithmetic(t):
    getcontext().prec = 60
    b2 = Decimal(1e-4)  # the float 1e-4, exactly
    exact = b2 / ((1 + b2) ** t - 1)
    assert adax.new_gradient_weight(t, "adax", 1e-4) == pytest.approx(float(exact), rel=1e-10)


def test_schedules_are_stable_at_ten_million_steps():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings either
        assert adax.beta2_hat_adam(1e7) == pytest.approx(0.999, abs=1e-15)
        assert adax.beta2_hat_adax(1e7) == 1.0
        assert adax.new_gradient_weight(1e7, "adax") == 0.0
        assert adax.beta2_hat_adafactor(1e7) == pytest.approx(1 - 1e7**-0.8, abs=1e-15)
        assert adax.new_gradient_weight(1e7, "adafactor") == pytest.approx(1e7**-0.8, rel=1e-12)
        assert adax.new_gradient_weight(1e7, "adam") == pytest.approx(1e-3, rel=1e-12)


def test_schedules_are_vectorised_and_keep_shape():
    t = np.array([[1, 10], [100, 1000]])
    for fn in adax.BETA2_HAT.values():
        out = fn(t)
        assert out.shape == (2, 2)
        np.testing.assert_array_equal(out.ravel(), [fn(int(s)) for s in t.ravel()])
    assert np.ndim(adax.beta2_hat_adax(5)) == 0


@pytest.mark.parametrize("t", [0, -3, 1.5, np.nan, np.inf, [1, 0], True, "3"])
def test_schedules_reject_bad_steps(t):
    for fn in adax.BETA2_HAT.values():
        with pytest.raises(ValueError, match="t must be integer steps >= 1"):
            fn(t)


@pytest.mark.parametrize(("fn", "value", "name"), [
    (adax.beta2_hat_adam, 0.0, "beta_2"), (adax.beta2_hat_adam, 1.0, "beta_2"),
    (adax.beta2_hat_adax, 0.0, "beta_2"), (adax.beta2_hat_adax, -1.0, "beta_2"),
    (adax.beta2_hat_adafactor, 0.0, "c"), (adax.beta2_hat_adafactor, -0.8, "c"),
])
def test_schedules_reject_bad_parameters(fn, value, name):
    with pytest.raises(ValueError, match=name):
        fn(10, value)


def test_new_gradient_weight_rejects_unknown_rule():
    with pytest.raises(ValueError, match="rule"):
        adax.new_gradient_weight(3, "sgd")


@pytest.mark.parametrize("beta_2", [0.05, 1e-2, 1e-3, 1e-4])
@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.9])
def test_departure_step_by_brute_force(beta_2, ratio):
    t = np.arange(1, int(6 / beta_2) + 10)
    tw = t * adax.new_gradient_weight(t, "adax", beta_2)
    want = int(t[np.argmax(tw <= ratio)])
    assert adax.adax_departure_step(beta_2, ratio) == want
    # before it AdaX's weight is within a factor `ratio` of the plain mean's 1/t
    assert np.all(tw[: want - 1] > ratio)


def test_departure_step_scales_like_one_over_beta_2():
    x = 1.2564  # x / (e^x - 1) = 1/2
    assert adax.adax_departure_step(1e-4, 0.5) == pytest.approx(x / 1e-4, rel=1e-3)
    assert adax.adax_departure_step(1e-6, 0.5) == pytest.approx(x / 1e-6, rel=1e-3)


@pytest.mark.parametrize("beta_2", [1e-4, 1e-2, 0.3])
def test_departure_formula_against_exact_float64_weights(beta_2):
    t = np.unique(np.round(np.logspace(0, np.log10(20 / beta_2), 200)))
    exact = t * adax.new_gradient_weight(t, "adax", beta_2)  # t b2 / expm1(t log1p(b2))
    x = t * np.log1p(beta_2)
    # the notebook's formula: t (1 - B_t) = (b2 / ln(1 + b2)) x / (e^x - 1)
    np.testing.assert_allclose(exact, beta_2 / np.log1p(beta_2) * x / np.expm1(x), rtol=1e-12)
    if beta_2 >= 1e-2:  # without the factor b2 / ln(1 + b2) it is off by b2 / 2 and more
        assert np.min(np.abs(exact / (x / np.expm1(x)) - 1)) > 0.4 * beta_2


def test_departure_step_for_beta_2_1e_2_is_128_not_126():
    assert adax.adax_departure_step(1e-2) == 128
    assert round(1.2564 / 1e-2) == 126  # x* / b2, the value the factor-free formula suggests
    tw = np.array([t * adax.new_gradient_weight(t, "adax", 1e-2) for t in (126, 127, 128)])
    assert tw[0] > 0.5 and tw[1] > 0.5 and tw[2] <= 0.5


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.5, 2.0])
def test_departure_step_rejects_bad_ratio(ratio):
    with pytest.raises(ValueError, match="ratio"):
        adax.adax_departure_step(1e-4, ratio)


def _coefficients(t_read, beta_2):
    """Weights of g_1..g_T in v_hat_T from the recursion: w_k prod_{j > k} (1 - w_j)."""
    w = adax.new_gradient_weight(np.arange(1, t_read + 1), "adax", beta_2)
    tail = np.concatenate([np.cumprod((1 - w)[::-1])[::-1][1:], [1.0]])
    return w * tail


@pytest.mark.parametrize(("beta_2", "t_read"), [(1e-2, 178), (1e-2, 3_000), (0.2, 60)])
def test_later_gradient_share_against_the_recursion(beta_2, t_read):
    coef = _coefficients(t_read, beta_2)
    assert coef.sum() == pytest.approx(1.0, abs=1e-12)
    for after in (0, 1, t_read // 3, t_read - 1):
        want = coef[after:].sum()
        assert adax.later_gradient_share(after, beta_2, t_read) == pytest.approx(want, rel=1e-9)
        assert adax.later_gradient_share(after, beta_2) >= want - 1e-12  # the limit bounds all t
    assert adax.later_gradient_share(128, 1e-2, 178) == pytest.approx(0.1322, abs=1e-4)


@pytest.mark.parametrize(("beta_2", "share", "want"),
                         [(1e-4, 1e-4, 92_109), (1e-2, 1e-4, 926), (1e-2, 1e-2, 463)])
def test_freeze_step_by_definition(beta_2, share, want):
    t = adax.adax_freeze_step(beta_2, share)
    assert t == want
    assert adax.later_gradient_share(t, beta_2) <= share < adax.later_gradient_share(t - 1, beta_2)
    # read far later, the gradients after t weigh at most `share` (brute force for 1e-2)
    if beta_2 == 1e-2:
        assert _coefficients(5_000, beta_2)[t:].sum() <= share
        assert _coefficients(5_000, beta_2)[t - 1:].sum() > share
    assert t > adax.adax_departure_step(beta_2)  # departing is not yet being frozen
    if (beta_2, share) == (1e-4, 1e-4):  # the notebook: 1 - B_t is about 1e-8 there, 7.3x later
        assert adax.new_gradient_weight(t, "adax", beta_2) == pytest.approx(1e-8, rel=1e-3)
        assert t / adax.adax_departure_step(beta_2) == pytest.approx(7.33, abs=0.01)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: adax.adax_freeze_step(1e-4, 0.0), "share"),
    (lambda: adax.adax_freeze_step(1e-4, 1.0), "share"),
    (lambda: adax.adax_freeze_step(0.0), "beta_2"),
    (lambda: adax.later_gradient_share(-1), "after"),
    (lambda: adax.later_gradient_share(2.5), "after"),
    (lambda: adax.later_gradient_share(10, 1e-4, 10), "t must"),
])
def test_freeze_helpers_reject_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_float32_power_minus_one_loses_about_four_digits_near_step_one():
    b2 = 1e-4
    naive = float(np.float32(1 + b2) ** np.float32(1) - np.float32(1))
    assert 1e-5 < abs(naive / b2 - 1) < 1e-3  # ~1.7e-4: only ~4 of float32's 7 digits survive


def test_adax_weight_underflows_then_is_exactly_zero_once_expm1_overflows():
    # float64: 1 - B_t drops below float32's smallest normal number near step 781,000 ...
    t = np.arange(780_000, 783_000)
    below = adax.new_gradient_weight(t, "adax", 1e-4) < np.finfo(np.float32).tiny
    assert int(t[np.argmax(below)]) == 781_302
    # ... and float32 expm1(t log1p(b2)), AdaX's denominator, overflows at step 887,273
    x = np.float32(math.log1p(1e-4))
    assert np.isfinite(tf.math.expm1(np.float32(887_272) * x).numpy())
    assert np.isinf(tf.math.expm1(np.float32(887_273) * x).numpy())
    var = keras.Variable(np.zeros(1, np.float32))
    opt = adax.AdaX()
    opt.build([var])
    for step, at_most in ((781_301, 1.2e-38), (887_272, 1.2e-38), (887_273, 0.0)):
        opt.iterations.assign(step - 1)
        assert 0.0 <= float(opt._new_gradient_weight().numpy()) <= at_most
    # no float32 v_hat could feel such a weight unless g^2 were ~1e31 (1e35) times v_hat
    for weight, ratio in ((np.finfo(np.float32).tiny, 1e30),
                          (adax.new_gradient_weight(887_273, "adax", 1e-4), 1e35)):
        assert weight * ratio < np.finfo(np.float32).eps / 2
        assert np.float32(1.0) + np.float32(weight * ratio) == np.float32(1.0)


def test_overflow_step_rejects_bad_dtype():
    with pytest.raises(ValueError, match="dtype"):
        adax.overflow_step(1e-4, "float16")


def test_criterion_per_optimizer():
    adam, ax, af = (adax.check_criterion(r) for r in adax.RULES)
    assert adam.starts_at_zero and not adam.ends_at_one and not adam.holds
    assert adam.weight_last == pytest.approx(1 - 0.999, rel=1e-12)  # B_inf = b2, not 1
    assert ax.holds and ax.b_first == pytest.approx(0, abs=1e-15) and ax.weight_last == 0.0
    assert af.holds and af.weight_last == pytest.approx(1e15**-0.8, rel=1e-12)
    # an Adam with beta_2 -> 1 passes the late check but is then slow from the very start
    assert adax.check_criterion("adam", 1 - 1e-7).ends_at_one
    with pytest.raises(ValueError, match="tol"):
        adax.check_criterion("adax", tol=0.0)


# ---------------------------------------------------------------------------------------------
# v-hat both ways


@settings(max_examples=40, deadline=None)
@given(
    grads=hnp.arrays(np.float64, st.tuples(st.integers(1, 60), st.integers(1, 3)),
                     elements=st.floats(-1e3, 1e3)),
    rule=st.sampled_from(["adam", "adax"]),
    u=st.floats(0.0, 1.0),
)
def test_direct_and_moving_average_vhat_agree(grads, rule, u):
    beta_2 = 0.5 + 0.4999 * u if rule == "adam" else 10 ** (-5 + 4.7 * u)  # (0.5, 1), (1e-5, 0.5)
    direct = adax.vhat_direct(grads, rule, beta_2)
    average = adax.vhat_moving_average(grads, rule, beta_2)
    scale = np.max(grads**2) + 1e-300
    np.testing.assert_allclose(direct, average, rtol=1e-9, atol=1e-12 * scale)


def test_moving_average_against_explicit_weighted_sum():
    g = np.random.default_rng(3).normal(size=(40,))
    t = np.arange(1, 41)
    for rule in adax.RULES:
        w = adax.new_gradient_weight(t, rule)
        # v_hat_T = sum_k w_k g_k^2 prod_{j > k} (1 - w_j); the coefficients sum to 1
        coef = np.array([w[k] * np.prod(1 - w[k + 1:]) for k in range(40)])
        assert coef.sum() == pytest.approx(1.0, abs=1e-12)
        assert adax.vhat_moving_average(g, rule)[-1] == pytest.approx(coef @ g**2, rel=1e-12)
    np.testing.assert_allclose(adax.vhat_moving_average(np.full((50, 2), 3.0), "adax"), 9.0)


def test_vhat_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="grads"):
        adax.vhat_direct([], "adax")
    with pytest.raises(ValueError, match="grads"):
        adax.vhat_moving_average([1.0, np.nan], "adam")
    with pytest.raises(ValueError, match="rule"):
        adax.vhat_direct([1.0], "adafactor")
    with pytest.raises(ValueError, match="beta_2"):
        adax.vhat_direct([1.0], "adam", 1.5)


# ---------------------------------------------------------------------------------------------
# Training on digits, the trace, figures and the widget


@pytest.mark.parametrize("rule", adax.RULES)
def test_trace_matches_numpy_on_recorded_gradients(rule):
    model = adax.digits_mlp(hidden=8, seed=2)
    model.compile(optimizer=adax.make_optimizer(rule, 1e-2), loss=LOSS)
    (x, y), _ = adax.digits_split()
    trace = adax.SecondMomentTrace("logits", "bias", 3)
    trace.set_model(model)
    bias = model.get_layer("logits").bias
    recorded = []
    for i in range(25):
        xb, yb = x[32 * i: 32 * i + 32], y[32 * i: 32 * i + 32]
        with tf.GradientTape() as tape:
            loss = LOSS(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        index = next(i for i, v in enumerate(model.trainable_variables) if v is bias)
        recorded.append(grads[index].numpy()[3])
        trace.on_train_batch_end(i)
    out = trace.result()
    want = adax.vhat_moving_average(np.asarray(recorded, np.float64), rule)
    np.testing.assert_array_equal(out["steps"], np.arange(1, 26))
    np.testing.assert_allclose(out["v_hat"], want, rtol=2e-5)
    np.testing.assert_allclose(out["effective_lr"], 1e-2 / np.sqrt(want), rtol=2e-5)


def test_second_moment_of_rejects_other_optimizers():
    var = keras.Variable(np.zeros(2, np.float32))
    opt = keras.optimizers.SGD()
    opt.build([var])
    with pytest.raises(ValueError, match="optimizer"):
        adax.second_moment_of(opt, var)


# train_digits's curves, trace and held-out scores, and the course seed:
# test_adax_claims.py::test_train_digits_follows_the_course_seed_and_returns_curves


def test_digits_split_and_model():
    (x, y), (xv, yv) = adax.digits_split()
    assert x.shape == (1438, 64) and xv.shape == (359, 64) and set(np.unique(yv)) == set(range(10))
    from lessons._core.data import load_digits

    x_all, y_all = load_digits()
    np.testing.assert_array_equal(np.bincount(np.r_[y, yv]), np.bincount(y_all))  # a partition
    np.testing.assert_allclose(np.r_[x, xv].sum(), x_all.sum(), rtol=1e-6)
    np.testing.assert_array_equal(adax.digits_split()[0][1], y)  # deterministic
    assert not np.array_equal(adax.digits_split(seed=1)[0][1], y)
    assert adax.digits_mlp(hidden=5).count_params() == 64 * 5 + 5 + 5 * 10 + 10


@pytest.mark.parametrize(("call", "name"), [
    (lambda: adax.make_optimizer("sgd"), "rule"),
    (lambda: adax.make_optimizer("adam", 0.0), "learning_rate"),
    (lambda: adax.digits_mlp(hidden=0), "hidden"),
    (lambda: adax.digits_split(val_fraction=1.0), "val_fraction"),
    (lambda: adax.train_digits("adax", epochs=0), "epochs"),
    (lambda: adax.step_from_state(0, [1.0], [1.0], [0.0], [0.0]), "step"),
])
def test_training_helpers_reject_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_make_optimizer_types():
    assert isinstance(adax.make_optimizer("adam"), keras.optimizers.Adam)
    assert isinstance(adax.make_optimizer("adax"), adax.AdaX)
    assert isinstance(adax.make_optimizer("adafactor"), keras.optimizers.Adafactor)


def test_schedule_curves_and_plot():
    curves = adax.schedule_curves()
    t = curves["t"]
    assert t[0] == 1 and t[-1] == 1e6 and np.all(np.diff(t) > 0)
    np.testing.assert_array_equal(curves["beta2_hat"]["adax"], adax.beta2_hat_adax(t))
    np.testing.assert_array_equal(curves["weight"]["adam"], adax.new_gradient_weight(t, "adam"))
    assert curves["departure"] == adax.adax_departure_step(1e-4) == 12_566
    fig = adax.plot_schedules(curves)
    left = fig.axes[0]
    np.testing.assert_array_equal(left.lines[2].get_ydata(), curves["beta2_hat"]["adafactor"])


def test_schedule_explorer_redraws_on_slider_change(monkeypatch):
    import matplotlib

    monkeypatch.setitem(matplotlib.rcParams, "figure.dpi", 30)  # small PNGs: a faster test
    w = adax.schedule_explorer()
    t = w.result["t"]
    np.testing.assert_array_equal(w.result["beta2_hat"]["adax"], adax.beta2_hat_adax(t, 1e-4))
    sliders = {s.description: s for s in w.kwargs_widgets}
    png = w.children[-1].value
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    sliders["AdaX beta_2"].value = 1e-2
    assert w.children[-1].value != png  # the figure was redrawn
    np.testing.assert_allclose(w.result["beta2_hat"]["adax"], adax.beta2_hat_adax(t, 1e-2))
    assert w.result["departure"] == adax.adax_departure_step(1e-2)
    np.testing.assert_array_equal(w.result["beta2_hat"]["adam"], adax.beta2_hat_adam(t, 0.999))
    sliders["Adam beta_2"].value = 0.99
    np.testing.assert_allclose(w.result["beta2_hat"]["adam"], adax.beta2_hat_adam(t, 0.99))
    sliders["Adafactor c"].value = 0.5
    np.testing.assert_allclose(w.result["weight"]["adafactor"], t**-0.5, rtol=1e-12)


def test_plot_runs_draws_the_returned_data():
    trace = {"steps": np.arange(1, 4), "v_hat": np.ones(3), "effective_lr": np.array([1.0, 2, 3])}
    runs = [adax.Run("adax", 1e-3, np.array([0.5, 0.25]), 0.3, 0.9, trace)]
    left, right = adax.plot_runs(runs).axes
    np.testing.assert_array_equal(left.lines[0].get_ydata(), [0.5, 0.25])
    np.testing.assert_array_equal(right.lines[0].get_ydata(), [1.0, 2, 3])
