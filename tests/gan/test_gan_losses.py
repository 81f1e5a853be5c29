"""The single loss and its parts against NumPy, and its argument checks."""

import numpy as np
import pytest
import tensorflow as tf
from gan_testing import hinge_np

from lessons import gan


def test_one_step_loss_value_is_the_d_loss():
    rng = np.random.default_rng(1)
    d_real, d_fake = rng.standard_normal((9, 1)), rng.standard_normal((5, 1))
    for lam in (0.0, 0.3, 4.0):
        value = float(gan.one_step_loss(d_real, d_fake, d_fake, lam))
        assert value == pytest.approx(hinge_np(d_real, d_fake), abs=1e-6)
    # with different fake scores the lam term shows up, exactly as the formula says
    other = rng.standard_normal((5, 1))
    value = float(gan.one_step_loss(d_real, d_fake, other, 2.5))
    expect = hinge_np(d_real, other) + 2.5 * np.mean(d_fake - other)
    assert value == pytest.approx(expect, abs=1e-6)


def test_hinge_losses_and_the_zero_term_against_numpy():
    rng = np.random.default_rng(2)
    d_real, d_fake, other = (rng.standard_normal((6, 1)) for _ in range(3))
    assert float(gan.d_hinge_loss(d_real, d_fake)) == pytest.approx(hinge_np(d_real, d_fake))
    assert float(gan.g_hinge_loss(d_fake)) == pytest.approx(np.mean(d_fake))
    assert float(gan.zero_loss(d_fake, d_fake)) == 0.0
    assert float(gan.zero_loss(d_fake, other)) == pytest.approx(np.mean(d_fake - other))
    # the single loss is the D loss on the stopped copy plus lam times the zero term
    for lam in (0.0, 1.0, 3.5):
        whole = float(gan.one_step_loss(d_real, d_fake, other, lam))
        parts = float(gan.d_hinge_loss(d_real, other)) + lam * float(gan.zero_loss(d_fake, other))
        assert whole == pytest.approx(parts, abs=1e-9)


def test_one_step_loss_gradient_reaches_only_the_unstopped_copy():
    # d(loss)/d(d_fake) = lam / n, d(loss)/d(d_fake_ng) = -relu'(1 - s) / n - lam / n: written
    # out for scores inside the hinge (|s| < 1), where relu' = 1
    d_real = tf.constant([[-0.5], [0.2]])
    d_fake = tf.Variable([[0.3], [-0.4], [0.1]])
    d_fake_ng = tf.Variable([[0.3], [-0.4], [0.1]])
    with tf.GradientTape() as tape:
        loss = gan.one_step_loss(d_real, d_fake, d_fake_ng, 2.0)
    g_fake, g_ng = tape.gradient(loss, [d_fake, d_fake_ng])
    np.testing.assert_allclose(g_fake.numpy(), np.full((3, 1), 2.0 / 3), rtol=1e-6)
    np.testing.assert_allclose(g_ng.numpy(), np.full((3, 1), -1.0 / 3 - 2.0 / 3), rtol=1e-6)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "1", True])
def test_one_step_loss_rejects_bad_lam(bad):
    with pytest.raises(ValueError, match="lam"):
        gan.one_step_loss(np.zeros((2, 1)), np.zeros((2, 1)), np.zeros((2, 1)), bad)


def test_one_step_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="d_fake and d_fake_ng"):
        gan.one_step_loss(np.zeros((2, 1)), np.zeros((3, 1)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="d_real and d_fake"):
        gan.one_step_loss(np.zeros((2, 2)), np.zeros((3, 1)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="d_real and d_fake"):
        gan.one_step_loss(np.zeros((2,)), np.zeros((3, 1)), np.zeros((3, 1)))
    # different batch sizes for real and fake are fine
    gan.one_step_loss(np.zeros((2, 1)), np.zeros((3, 1)), np.zeros((3, 1)))
