"""The gradient split (Sections 2 and 3): checked against gradients the tests take themselves."""

import numpy as np
import pytest
import tensorflow as tf
from gan_testing import batch, max_diff, models

from lessons import gan


def _reference_gradients(gen, disc, x, z, lam):
    """D: the hinge D loss with G's output held fixed; G: lam * grad of mean(D(G(z)))."""
    with tf.GradientTape() as tape:
        fake = tf.constant(gen(z).numpy())  # a fresh constant: no path back into G at all
        d_loss = tf.reduce_mean(tf.nn.relu(1 + disc(x))) + tf.reduce_mean(tf.nn.relu(1 - disc(fake)))
    d_ref = [g.numpy() for g in tape.gradient(d_loss, disc.trainable_variables)]
    with tf.GradientTape() as tape:
        g_obj = tf.reduce_mean(disc(gen(z)))
    g_ref = [lam * g.numpy() for g in tape.gradient(g_obj, gen.trainable_variables)]
    return d_ref, g_ref, float(d_loss)


@pytest.mark.parametrize("seed,lam", [(0, 1.0), (1, 0.5), (2, 3.0), (3, 0.0)])
def test_gradient_split_matches_separate_gradients(seed, lam):
    gen, disc = models(seed, g_hidden=(4 + seed, 3), d_hidden=(5, 2 + seed))
    x, z = batch(seed)
    split = gan.gradient_split(gen, disc, x, z, lam)
    assert split["max_abs_diff"] < 1e-6
    assert max(split["max_rel_diff_d"], split["max_rel_diff_g"]) < 1e-5
    assert split["max_rel_diff"] <= max(split["max_rel_diff_d"], split["max_rel_diff_g"])
    assert split["loss"] == pytest.approx(split["d_loss"], abs=1e-6)
    n_d = len(disc.trainable_variables)
    # D really gets the D-loss gradient, G really gets lam * grad of mean(D(G(z))): both taken
    # here without stop_gradient or the lesson's losses
    d_ref, g_ref, d_loss = _reference_gradients(gen, disc, x, z, lam)
    assert split["d_loss"] == pytest.approx(d_loss, abs=1e-6)
    assert max_diff(split["one_step"][:n_d], d_ref) < 1e-6
    assert max_diff(split["one_step"][n_d:], g_ref) < 1e-6
    assert max_diff(split["separate"], d_ref + g_ref) < 1e-6
    assert max(np.abs(g).max() for g in split["one_step"][:n_d]) > 1e-3
    if lam > 0:
        assert max(np.abs(g).max() for g in split["one_step"][n_d:]) > 1e-4


def test_zero_loss_has_gradient_only_for_g():
    gen, disc = models(4)
    x, z = batch(4)
    out = gan.zero_term(gen, disc, x, z)
    assert out.value == 0.0
    assert out.grad_norm_d < 1e-7
    assert out.grad_norm_g > 1e-3
    # G's gradient of the zero term is the gradient of mean(D(G(z))): the same norm
    with tf.GradientTape() as tape:
        g_obj = tf.reduce_mean(disc(gen(z)))
    norm = float(tf.linalg.global_norm(tape.gradient(g_obj, gen.trainable_variables)))
    assert out.grad_norm_g == pytest.approx(norm, rel=1e-5)


def test_split_check_per_lam():
    gen, disc = models(2)
    x, z = batch(2)
    check = gan.split_check(gen, disc, x, z, lams=(0.5, 2.0))
    assert check.lams == (0.5, 2.0)
    assert len(check.value_diff) == len(check.rel_diff_d) == len(check.rel_diff_g) == 2
    assert max(check.value_diff) < 1e-6 and max(check.rel_diff_g) < 1e-6
    assert max(check.rel_diff_d) < 1e-4  # the bands of the notebook's claim check
    with pytest.raises(ValueError, match="lams"):
        gan.split_check(gen, disc, x, z, lams=())


def test_demo_setup_is_seeded():
    a, b = gan.demo_setup(32, seed=3), gan.demo_setup(32, seed=3)
    c = gan.demo_setup(32, seed=4)
    for u, v in zip(a[0].trainable_variables, b[0].trainable_variables, strict=True):
        np.testing.assert_array_equal(u.numpy(), v.numpy())
    np.testing.assert_array_equal(a[2].numpy(), b[2].numpy())
    assert a[2].shape == (32, 2) and a[3].shape == (32, 2)
    assert not np.array_equal(a[3].numpy(), c[3].numpy())
    assert not np.array_equal(a[0].trainable_variables[0].numpy(),
                              c[0].trainable_variables[0].numpy())
    # the notebook calls demo_setup() twice (Sections 2 and 3): the same networks and batch
    again = gan.demo_setup()
    for u, v in zip(gan.demo_setup()[1].trainable_variables, again[1].trainable_variables,
                    strict=True):
        np.testing.assert_array_equal(u.numpy(), v.numpy())
    with pytest.raises(ValueError, match="batch_size"):
        gan.demo_setup(0)
