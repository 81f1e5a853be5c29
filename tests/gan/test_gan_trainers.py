"""The two trainers do what the notebook says: one simultaneous SGD step, a real alternation,
XLA compilation; and the argument checks of the trainers and models."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_testing import batch, max_diff, models, weights

from lessons import gan


@pytest.mark.parametrize("jit", [False, True])
def test_one_sgd_step_is_the_simultaneous_update(jit):
    lr, lam = 0.1, 0.5
    gen, disc = models(5)
    x, z = batch(5)
    d0, g0 = weights(disc), weights(gen)
    with tf.GradientTape(persistent=True) as tape:
        fake = gen(z)
        d_loss = gan.d_hinge_loss(disc(x), disc(tf.stop_gradient(fake)))
        g_loss = tf.reduce_mean(disc(fake))
    gd = tape.gradient(d_loss, disc.trainable_variables)
    gg = tape.gradient(g_loss, gen.trainable_variables)
    trainer = gan.OneStepGAN(gen, disc, keras.optimizers.SGD(lr), lam, jit_compile=jit)
    assert trainer.train_step._jit_compile is jit
    out = trainer.train_step(x, z)
    assert float(out["d_loss"]) == pytest.approx(float(d_loss), abs=1e-6)
    assert max_diff(weights(disc), [w - lr * g.numpy() for w, g in zip(d0, gd, strict=True)]) < 1e-6
    assert max_diff(weights(gen), [w - lr * lam * g.numpy() for w, g in zip(g0, gg, strict=True)]) < 1e-6


def test_alternating_baseline_really_alternates():
    lr_d, lr_g = 0.1, 0.2
    gen, disc = models(6)
    x, z = batch(6)
    alt = gan.AlternatingGAN(gen, disc, keras.optimizers.SGD(lr_d), keras.optimizers.SGD(lr_g),
                             jit_compile=False)
    d0, g0 = weights(disc), weights(gen)
    alt.d_step(x, z)
    d1 = weights(disc)
    assert max_diff(weights(gen), g0) == 0.0  # the D step leaves G alone
    assert max_diff(d1, d0) > 1e-4
    alt.g_step(z)
    assert max_diff(weights(disc), d1) == 0.0  # the G step leaves D alone
    assert max_diff(weights(gen), g0) > 1e-5


def test_alternating_train_step_uses_the_updated_discriminator():
    lr_d, lr_g = 0.1, 0.2
    gen, disc = models(7)
    x, z = batch(7)
    d0, g0 = weights(disc), weights(gen)
    # by hand: D step at (D0, G0), then G step with gradients taken at (D1, G0)
    with tf.GradientTape() as tape:
        d_loss = gan.d_hinge_loss(disc(x), disc(gen(z)))
    d1 = [w - lr_d * g.numpy()
          for w, g in zip(d0, tape.gradient(d_loss, disc.trainable_variables), strict=True)]
    with tf.GradientTape() as tape:
        g_at_d0 = tape.gradient(tf.reduce_mean(disc(gen(z))), gen.trainable_variables)
    for v, w in zip(disc.trainable_variables, d1, strict=True):
        v.assign(w)
    with tf.GradientTape() as tape:
        g_at_d1 = tape.gradient(tf.reduce_mean(disc(gen(z))), gen.trainable_variables)
    g1 = [w - lr_g * g.numpy() for w, g in zip(g0, g_at_d1, strict=True)]
    simultaneous = [w - lr_g * g.numpy() for w, g in zip(g0, g_at_d0, strict=True)]
    for v, w in zip(disc.trainable_variables, d0, strict=True):
        v.assign(w)
    alt = gan.AlternatingGAN(gen, disc, keras.optimizers.SGD(lr_d), keras.optimizers.SGD(lr_g))
    assert alt.train_step._jit_compile is True  # the XLA path the notebook uses
    out = alt.train_step(x, z)
    assert np.isfinite(float(out["d_loss"])) and np.isfinite(float(out["g_loss"]))
    assert max_diff(weights(disc), d1) < 1e-6
    assert max_diff(weights(gen), g1) < 1e-6
    assert max_diff(weights(gen), simultaneous) > 1e-5  # so the test can tell the two apart


def test_both_trainers_compile_with_xla():
    gen, disc = models(8)
    x, z = batch(8)
    one = gan.OneStepGAN(gen, disc)
    alt = gan.AlternatingGAN(gen, disc)
    for step in (one.train_step, alt.train_step, alt.d_step, alt.g_step):
        assert step._jit_compile is True  # Keras and TF drop jit silently in some setups
    assert "HloModule" in gan.xla_hlo(alt.train_step, x, z)
    # running a step compiles it with XLA (and raises if XLA cannot): the single loss's step
    # runs in test_one_sgd_step_is_the_simultaneous_update[True], the alternating pair in
    # test_alternating_train_step_uses_the_updated_discriminator
    assert gan.OneStepGAN(gen, disc, jit_compile=False).train_step._jit_compile is False
    assert one.get_config()["lam"] == 1.0 and alt.get_config()["jit_compile"] is True


def test_make_trainer_gives_lam_to_g_as_the_notebook_says():
    gen, disc = models(10)
    one = gan.make_trainer("one_step", gen, disc, learning_rate=0.01, lam=3.0, optimizer="sgd")
    assert isinstance(one, gan.OneStepGAN) and one.lam == 3.0
    assert float(one.optimizer.learning_rate) == pytest.approx(0.01)
    alt = gan.make_trainer("alternating", gen, disc, learning_rate=0.01, lam=3.0)
    assert float(alt.g_optimizer.learning_rate) == pytest.approx(0.03)  # G's lr = lam * lr
    assert float(alt.d_optimizer.learning_rate) == pytest.approx(0.01)
    # Adam(lr, beta_1=0.5, beta_2=0.9) and the reference code's RMSprop(lr, rho=0.99)
    adam = gan.make_optimizer("adam", 2e-4).get_config()
    assert (adam["beta_1"], adam["beta_2"]) == (0.5, 0.9)
    assert gan.make_optimizer("rmsprop", 1e-4).get_config()["rho"] == 0.99


def test_trainer_value_errors():
    gen, disc = models(9)
    with pytest.raises(ValueError, match="lam"):
        gan.OneStepGAN(gen, disc, lam=-1.0)
    opt = keras.optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="d_optimizer and g_optimizer"):
        gan.AlternatingGAN(gen, disc, opt, opt)
    with pytest.raises(ValueError, match="method"):
        gan.make_trainer("sequential", gen, disc)
    with pytest.raises(ValueError, match="learning_rate"):
        gan.make_trainer("one_step", gen, disc, learning_rate=0.0)
    with pytest.raises(ValueError, match="lam"):
        gan.make_trainer("alternating", gen, disc, lam=0.0)
    with pytest.raises(ValueError, match="optimizer"):
        gan.make_trainer("one_step", gen, disc, optimizer="lion")
    with pytest.raises(ValueError, match="hidden"):
        gan.make_generator(2, 2, hidden=())
    with pytest.raises(ValueError, match="hidden"):
        gan.make_discriminator(2, hidden=(4, 0))
    with pytest.raises(ValueError, match="latent_dim"):
        gan.make_generator(0, 2)
    with pytest.raises(ValueError, match="output_dim"):
        gan.make_generator(2, 0)
    with pytest.raises(ValueError, match="input_dim"):
        gan.make_discriminator(0)
