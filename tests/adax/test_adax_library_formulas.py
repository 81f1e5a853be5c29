"""Lesson 01: every formula the notebook states for a library, checked by running that library.

The notebook writes Keras's Adam as ``theta -= alpha_t m / (sqrt(v) + eps)`` with
``alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t)`` (eps on the *uncorrected* v), and Keras's Adafactor as
``v_hat = beta2_hat_t v_hat + (1 - beta2_hat_t)(g^2 + 1e-30)``, ``beta2_hat_t = 1 - t^(-0.8)``,
``theta -= max(1e-3, RMS(theta)) min(lr, 1/sqrt(t)) u / max(1, RMS(u))``, ``u = g / sqrt(v_hat)``.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from lessons import adax


def _run(optimizer, theta0, grads, start_step=1):
    var = keras.Variable(np.asarray(theta0, np.float32))
    optimizer.build([var])
    optimizer.iterations.assign(start_step - 1)
    step = tf.function(lambda g: optimizer.apply_gradients([(g, var)]))
    thetas = []
    for g in grads:
        step(tf.constant(g, tf.float32))
        thetas.append(var.numpy().astype(np.float64))
    return np.asarray(thetas), var


def keras_adam_as_the_notebook_writes_it(theta, grads, lr, b1, b2, eps):
    """alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t); theta -= alpha_t m / (sqrt(v) + eps)."""
    theta = np.array(theta, np.float64)
    m, v, out = np.zeros_like(theta), np.zeros_like(theta), []
    for t, g in enumerate(np.asarray(grads, np.float64), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        theta = theta - alpha * m / (np.sqrt(v) + eps)
        out.append(theta)
    return np.asarray(out)


def textbook_adam(theta, grads, lr, b1, b2, eps):
    """theta -= lr m_hat / (sqrt(v_hat) + eps): eps on the bias-corrected v."""
    theta = np.array(theta, np.float64)
    m, v, out = np.zeros_like(theta), np.zeros_like(theta), []
    for t, g in enumerate(np.asarray(grads, np.float64), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        theta = theta - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        out.append(theta)
    return np.asarray(out)


def test_keras_adam_adds_eps_to_the_uncorrected_root():
    rng = np.random.default_rng(5)
    grads = 1e-3 * rng.normal(size=(30, 4))  # |g| ~ eps, so where eps sits shows
    theta0 = np.zeros(4)
    kwargs = {"lr": 1e-2, "b1": 0.9, "b2": 0.999, "eps": 1e-3}
    got, _ = _run(keras.optimizers.Adam(1e-2, beta_1=0.9, beta_2=0.999, epsilon=1e-3),
                  theta0, grads)
    want = keras_adam_as_the_notebook_writes_it(theta0, grads, **kwargs)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5 * np.max(np.abs(want)))
    textbook = textbook_adam(theta0, grads, **kwargs)
    assert np.max(np.abs(got - textbook)) > 100 * np.max(np.abs(got - want))
    # equivalently eps / sqrt(1 - b2^t) on the corrected root: at t = 1 that is eps / 0.0316
    assert np.max(np.abs(got - textbook)) > 0.1 * np.max(np.abs(got))


def test_keras_adam_defaults_the_notebook_quotes():
    opt = keras.optimizers.Adam()
    assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.9, 0.999, 1e-7)
    assert not opt.amsgrad


def keras_adafactor_as_the_notebook_writes_it(theta, grads, lr, c=0.8, start_step=1):
    """Rank-1 variable: no factoring, no momentum, relative step cap, RMS scaling, clipping."""
    theta = np.array(theta, np.float64)
    v_hat, out = np.zeros_like(theta), []
    for t, g in enumerate(np.asarray(grads, np.float64), start=start_step):
        b = 1 - t ** (-c)
        v_hat = b * v_hat + (1 - b) * (g**2 + 1e-30)
        u = g / np.sqrt(v_hat)
        u = u / max(1.0, np.sqrt(np.mean(u**2)))
        scale = max(1e-3, np.sqrt(np.mean(theta**2))) * min(lr, 1 / np.sqrt(t))
        theta = theta - scale * u
        out.append(theta)
    return np.asarray(out), v_hat


@pytest.mark.parametrize(("theta0", "lr", "start"), [
    (np.zeros(5), 1e-2, 1),  # zero-initialised (a bias): scale max(1e-3, RMS) = 1e-3 at first
    (np.linspace(-1, 2, 5), 1e-2, 1),  # RMS(theta) > 1e-3 scales the step
    (np.linspace(-1, 2, 5), 0.3, 1_000),  # min(lr, 1/sqrt(t)) caps lr at 1/sqrt(1000) = 0.032
])
def test_keras_adafactor_matches_the_notebook_formula(theta0, lr, start):
    rng = np.random.default_rng(6)
    grads = rng.normal(size=(20, 5)) * np.exp(rng.normal(size=(20, 1)))
    opt = keras.optimizers.Adafactor(lr)
    assert opt.beta_2_decay == -0.8 and opt.epsilon_1 == 1e-30 and opt.clip_threshold == 1.0
    got, var = _run(opt, theta0, grads, start)
    # v_hat starts from the zero state at `start`, as the optimizer's slots do
    want, want_vhat = keras_adafactor_as_the_notebook_writes_it(theta0, grads, lr, 0.8, start)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(adax.second_moment_of(opt, var), want_vhat, rtol=2e-5)
    if start == 1:  # v_hat is AdaX's moving average with Adafactor's schedule 1 - t^(-0.8)
        np.testing.assert_allclose(want_vhat, adax.vhat_moving_average(grads, "adafactor")[-1],
                                   rtol=1e-10)


def test_keras_adafactor_clipping_and_rms_scaling_change_the_step():
    grads = np.array([[1.0, 1e-3, 1e-3, 1e-3]])  # step 1: u = sign(g), RMS(u) = 1: no clipping
    got, _ = _run(keras.optimizers.Adafactor(1e-2), np.zeros(4), grads)
    np.testing.assert_allclose(got[0], -1e-3 * 1e-2 * np.sign(grads[0]), rtol=1e-5)
    # the same gradient with a weight of RMS 2: a 2000x larger step than for a zero weight
    got, _ = _run(keras.optimizers.Adafactor(1e-2), np.full(4, 2.0), grads)
    np.testing.assert_allclose(2.0 - got[0], 2.0 * 1e-2 * np.sign(grads[0]), rtol=1e-5)


def test_keras_adafactor_factors_a_matrix():
    rng = np.random.default_rng(7)
    grads = rng.normal(size=(6, 3, 4))
    opt = keras.optimizers.Adafactor(1e-2)
    _, var = _run(opt, rng.normal(size=(3, 4)), grads)
    r, c = np.zeros(3), np.zeros(4)
    for t, g in enumerate(grads, start=1):
        b = 1 - t ** (-0.8)
        r = b * r + (1 - b) * np.mean(g**2 + 1e-30, axis=1)
        c = b * c + (1 - b) * np.mean(g**2 + 1e-30, axis=0)
    np.testing.assert_allclose(adax.second_moment_of(opt, var), np.outer(r / r.mean(), c),
                               rtol=2e-5)


def test_make_optimizer_passes_the_schedule_parameter():
    assert adax.make_optimizer("adam", 1e-3, 0.99).beta_2 == 0.99
    assert adax.make_optimizer("adax", 1e-3, 1e-2).beta_2 == 1e-2
    assert adax.make_optimizer("adafactor", 1e-3, 0.5).beta_2_decay == -0.5
    assert adax.make_optimizer("adafactor").beta_2_decay == -0.8
    with pytest.raises(ValueError, match="beta_2"):
        adax.make_optimizer("adam", 1e-3, 1.0)
