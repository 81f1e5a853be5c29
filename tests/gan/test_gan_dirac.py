"""Section 5: the Dirac GAN follows the linear maps the notebook writes, and its closed form."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from lessons import gan


@pytest.fixture(scope="module")
def dirac():
    return gan.compare_dirac(steps=40, learning_rate=0.2, lam=1.5)


@pytest.mark.parametrize("method", gan.METHODS)
def test_dirac_gan_follows_the_linear_maps(dirac, method):
    lr, lam, steps = 0.2, 1.5, 40
    path = dirac.paths[method]
    assert path.shape == (steps + 1, 2)
    assert np.all(np.abs(path[:, 0] * path[:, 1]) < 1)  # stayed where the hinge is linear
    theta, psi = 0.5, 0.0
    ref = [(theta, psi)]
    for _ in range(steps):
        # D descends relu(1 - psi*theta): psi += lr * theta; G descends psi*theta
        new_psi = psi + lr * theta
        theta = theta - lam * lr * (psi if method == "one_step" else new_psi)
        psi = new_psi
        ref.append((theta, psi))
    np.testing.assert_allclose(path, np.array(ref), atol=1e-5)
    radius = np.hypot(path[:, 0], path[:, 1])
    if method == "one_step":
        assert radius[-1] > 1.3 * radius[0]  # simultaneous updates spiral out
    else:
        assert radius.max() < 1.5 * radius[0]  # alternating ones circle


def test_compare_dirac_matches_the_closed_form(dirac):
    # sqrt(theta^2 + lam psi^2) grows by exactly sqrt(1 + lam lr^2) per simultaneous step
    r = dirac.distance("one_step")
    np.testing.assert_allclose(r[1:] / r[:-1], math.sqrt(1 + 1.5 * 0.04), rtol=1e-5)
    assert dirac.simultaneous_growth() == pytest.approx(1.06**20)
    assert dirac.growth("one_step") == pytest.approx(1.06**20, rel=1e-5)
    assert 0.8 < dirac.growth("alternating") < 1.25
    assert dirac.steps == 40 and dirac.learning_rate == 0.2


def test_dirac_gan_value_errors():
    with pytest.raises(ValueError, match="lam"):
        gan.dirac_gan(lam=0.0)
    with pytest.raises(ValueError, match="learning_rate"):
        gan.dirac_gan(learning_rate=-1.0)
    with pytest.raises(ValueError, match="steps"):
        gan.dirac_gan(steps=0)
    with pytest.raises(ValueError, match="method"):
        gan.dirac_gan("joint")


def test_one_step_update_never_sees_moved_weights():
    # regression: without a barrier TF's executor sometimes applied G's update before D's
    # gradient (which reads G's output) was computed; the Dirac GAN shows it at step 2.
    # The race is in running the graph, so one traced step is run from a reset start 8 times.
    path = gan.dirac_gan("one_step", steps=2, learning_rate=0.2, lam=1.5)
    assert path[2, 1] == pytest.approx(0.2, abs=1e-7)  # psi_2 = psi_1 + lr * theta_1
    gen = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    disc = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    trainer = gan.OneStepGAN(gen, disc, keras.optimizers.SGD(0.2), 1.5, jit_compile=False)
    x = z = tf.zeros((1, 1))
    for _ in range(8):
        gen.layers[-1].bias.assign([0.5])
        disc.layers[-1].kernel.assign([[0.0]])
        trainer.train_step(x, z)
        trainer.train_step(x, z)
        assert float(disc.layers[-1].kernel[0, 0]) == pytest.approx(0.2, abs=1e-7)
