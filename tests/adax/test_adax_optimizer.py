"""Lesson 01: AdaX against a float64 transcription of its literal rule, long runs, XLA, fit,
serialization and its argument checks."""

import math
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

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


@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1.0, 1e3])
@pytest.mark.parametrize("beta_2", [1e-4, 0.05])
def test_adax_matches_literal_rule(scale, beta_2):
    rng = np.random.default_rng(int(scale * 1e6) % 997)
    steps = 120  # with beta_2 = 0.05, b2 t reaches 6: well past where beta2_hat_t leaves 1 - 1/t
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
    g = np.array([1e3, -3.0, 1e-3], np.float32)  # g^2 >> v_hat so a tiny 1 - beta2_hat_t still shows
    m = np.array([0.2, 0.1, -0.3], np.float32)
    v_hat = np.array([1.0, 4.0, 1e-4], np.float32)
    got = adax.step_from_state(step, theta, g, m, v_hat)
    want = _literal_one_step(step, theta, g, m, v_hat)
    for a, b in zip(got, want, strict=True):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, rtol=2e-6)
    if step == 50_000:  # 1 - beta2_hat_t = 6.8e-7 here, and v_hat[0] visibly moves by 0.68
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


def test_adax_weight_underflows_then_is_exactly_zero_once_expm1_overflows():
    # float64: 1 - beta2_hat_t drops below float32's smallest normal number near step 781,000 ...
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


def _sparse_and_dense_steps(jit_compile, steps=4):
    """Two copies of a table, one stepped with IndexedSlices whose ids repeat (an Embedding fed a
    batch with a repeated token), one with their dense sum; the largest difference per step."""
    rng = np.random.default_rng(5)
    table = rng.normal(size=(6, 3)).astype(np.float32)
    indices = tf.constant([0, 2, 2, 5, 2])
    sparse, dense = keras.Variable(table), keras.Variable(table)
    opts = adax.AdaX(learning_rate=0.1), adax.AdaX(learning_rate=0.1)

    def stepper(opt, var):
        return tf.function(lambda g: opt.apply([g], [var]), jit_compile=jit_compile)

    apply = [stepper(opt, var) for opt, var in zip(opts, (sparse, dense), strict=True)]
    gaps = []
    for _ in range(steps):
        values = rng.normal(size=(5, 3)).astype(np.float32)
        summed = np.zeros_like(table)
        np.add.at(summed, indices.numpy(), values)
        apply[0](tf.IndexedSlices(tf.constant(values), indices, tf.constant([6, 3])))
        apply[1](tf.constant(summed))
        gaps.append(float(np.abs(sparse.numpy() - dense.numpy()).max()))
    return gaps, [opt.second_moment(var).numpy() for opt, var in zip(opts, (sparse, dense),
                                                                      strict=True)]


@pytest.mark.parametrize("jit_compile", [False, True])
def test_indexed_slices_with_repeated_ids_step_as_their_dense_sum(jit_compile):
    gaps, (v_sparse, v_dense) = _sparse_and_dense_steps(jit_compile)
    assert max(gaps) <= 1e-6, gaps  # v holds (sum of slices)^2, not the sum of their squares
    np.testing.assert_allclose(v_sparse, v_dense, rtol=1e-6)
    assert np.all(v_dense[[0, 2, 5]] > 0) and np.all(v_dense[[1, 3, 4]] == 0)


def test_default_names_are_unique_as_for_keras_optimizers():
    first, second = adax.AdaX(), adax.AdaX()
    assert first.name != second.name
    # named after the class, as Keras names AdamW adam_w, adam_w_1, ...
    assert all(re.fullmatch(r"ada_x(_\d+)?", opt.name) for opt in (first, second))
    assert adax.AdaX(name="mine").name == "mine"
    again = adax.AdaX.from_config(second.get_config())
    assert again.name == second.name and again.get_config() == second.get_config()


@pytest.mark.parametrize("kwargs", [
    {"beta_2": 0.0}, {"beta_2": -1e-4}, {"beta_1": 1.0}, {"beta_1": -0.1},
    {"epsilon": -1e-8}, {"learning_rate": 0.0}, {"learning_rate": -1e-3},
])
def test_adax_rejects_bad_hyperparameters(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        adax.AdaX(**kwargs)
