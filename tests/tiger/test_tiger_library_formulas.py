"""Keras's Lion and AdamW, run and compared with the formulas as the notebook writes them."""

import keras
import numpy as np
import pytest
import tensorflow as tf


def test_keras_lion_is_the_notebooks_formula():
    rng = np.random.default_rng(21)
    theta = rng.standard_normal(6).astype(np.float32)
    v = keras.Variable(theta)
    opt = keras.optimizers.Lion(0.01, weight_decay=0.5)  # beta_1 0.9, beta_2 0.99 by default
    assert (opt.beta_1, opt.beta_2) == (0.9, 0.99)
    m = np.zeros(6)
    t = theta.astype(np.float64)
    for _ in range(50):
        g = rng.standard_normal(6)
        g[rng.random(6) < 0.3] = 0.0
        opt.apply([tf.constant(g, tf.float32)], [v])
        c = 0.9 * m + 0.1 * g
        t = t - 0.01 * (np.sign(c) + 0.5 * t)
        m = 0.99 * m + 0.01 * g
    np.testing.assert_allclose(v.numpy(), t, rtol=1e-5, atol=1e-6)
    assert "3-10x smaller than that for AdamW" in " ".join(keras.optimizers.Lion.__doc__.split())


def test_keras_adamw_step_and_decay_as_the_notebook_writes_them():
    # decay: with zero gradients AdamW multiplies weights by (1 - lr lambda): 1 % at 0.01 and 1
    v = keras.Variable(np.array([2.0, -3.0], np.float32))
    opt = keras.optimizers.AdamW(0.01, weight_decay=1.0)
    for _ in range(5):
        opt.apply([tf.zeros(2)], [v])
    np.testing.assert_allclose(v.numpy(), np.array([2.0, -3.0]) * 0.99**5, rtol=1e-6)
    # step: lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps); for an absent row each step is
    # about beta_1 / sqrt(beta_2) times the previous one
    v = keras.Variable(np.zeros(1, np.float32))
    opt = keras.optimizers.AdamW(0.01, weight_decay=0.0)
    grads = [0.5] + [0.0] * 150
    theta, m, s, path = 0.0, 0.0, 0.0, []
    for t, g in enumerate(grads, 1):
        opt.apply([tf.constant([g], tf.float32)], [v])
        m, s = 0.9 * m + 0.1 * g, 0.999 * s + 0.001 * g * g
        theta -= 0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(s) + 1e-7)
        path.append(float(v.numpy()[0]))
        assert path[-1] == pytest.approx(theta, rel=1e-5)
    steps = -np.diff(path)
    assert steps[120] / steps[119] == pytest.approx(0.9 / np.sqrt(0.999), rel=0.01)
