"""Simultaneous vs alternating on the Dirac GAN (Section 5): real data at x = 0, G(z) = theta,
D(x) = psi * x, trained by the lesson's own two trainers with SGD."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from lessons._core.checks import integer, number, one_of
from lessons.gan.trainers import METHODS, AlternatingGAN, OneStepGAN

__all__ = ["DiracComparison", "compare_dirac", "dirac_gan"]


def dirac_gan(method: str = "one_step", steps: int = 100, learning_rate: float = 0.1,
              lam: float = 1.0, theta0: float = 0.5, psi0: float = 0.0,
              jit_compile: bool = False) -> np.ndarray:
    """The Dirac GAN (real data at x = 0, G(z) = theta, D(x) = psi * x) trained with SGD.

    Runs the library's own trainers: "one_step" is ``OneStepGAN`` with SGD(learning_rate) (G's
    step is ``lam * learning_rate``), "alternating" is ``AlternatingGAN`` with SGD(learning_rate)
    for D and SGD(lam * learning_rate) for G. While |psi * theta| < 1 the hinge loss is linear and
    the updates (lr = learning_rate) are the matrices simultaneous [[1, lr], [-lam lr, 1]]
    (determinant 1 + lam lr^2: it spirals out) and alternating [[1, lr], [-lam lr, 1 - lam lr^2]]
    (determinant 1: it circles).

    Args:
        method: "one_step" or "alternating" (default "one_step").
        steps: training steps, >= 1 (default 100).
        learning_rate: D's SGD learning rate, > 0 (default 0.1).
        lam: G:D learning-rate ratio, > 0 (default 1.0).
        theta0, psi0: starting generator output and discriminator weight (defaults 0.5, 0.0).
        jit_compile: compile the steps with XLA (default False; the models are two scalars).

    Returns the trajectory (theta, psi), float64 [steps + 1, 2].
    """
    one_of("method", method, METHODS)
    steps = integer("steps", steps)
    lam = number("lam", lam, low=0.0, low_open=True)
    learning_rate = number("learning_rate", learning_rate, low=0.0, low_open=True)
    gen = keras.Sequential([keras.Input((1,)), keras.layers.Dense(
        1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(theta0))])
    disc = keras.Sequential([keras.Input((1,)), keras.layers.Dense(
        1, use_bias=False, kernel_initializer=keras.initializers.Constant(psi0))])
    if method == "one_step":
        trainer = OneStepGAN(gen, disc, keras.optimizers.SGD(learning_rate), lam, jit_compile)
    else:
        trainer = AlternatingGAN(gen, disc, keras.optimizers.SGD(learning_rate),
                                 keras.optimizers.SGD(lam * learning_rate), jit_compile)
    x, z = tf.zeros((1, 1)), tf.zeros((1, 1))  # z = 0, so G's kernel gets no gradient

    def state():
        return float(gen.layers[-1].bias[0]), float(disc.layers[-1].kernel[0, 0])

    path = [state()]
    for _ in range(steps):
        trainer.train_step(x, z)
        path.append(state())
    return np.array(path, dtype=np.float64)


@dataclass(frozen=True)
class DiracComparison:
    """Both trainers on the Dirac GAN from the same start: the notebook's Section 5."""

    paths: dict  # method -> float64 [steps + 1, 2] of (theta, psi)
    learning_rate: float
    lam: float

    @property
    def steps(self) -> int:
        return len(next(iter(self.paths.values()))) - 1

    def distance(self, method: str) -> np.ndarray:
        """Distance from the equilibrium, sqrt(theta^2 + lam psi^2), at every step.

        The simultaneous map multiplies it by exactly sqrt(1 + lam lr^2) per step (while
        |psi theta| < 1); for lam = 1 it is the plain Euclidean distance.
        """
        p = self.paths[method]
        return np.sqrt(p[:, 0] ** 2 + self.lam * p[:, 1] ** 2)

    def growth(self, method: str) -> float:
        """Distance from the equilibrium at the end over that at the start."""
        r = self.distance(method)
        return float(r[-1] / r[0])

    def simultaneous_growth(self) -> float:
        """The closed form for the simultaneous update: det^(steps/2) = (1 + lam lr^2)^(steps/2)."""
        return (1 + self.lam * self.learning_rate**2) ** (self.steps / 2)


def compare_dirac(steps: int = 60, learning_rate: float = 0.2, lam: float = 1.0) -> DiracComparison:
    """``dirac_gan`` for both methods from theta = 0.5, psi = 0 (no randomness involved).

    Args:
        steps: training steps, >= 1 (default 60).
        learning_rate: D's SGD learning rate, > 0 (default 0.2).
        lam: G:D learning-rate ratio, > 0 (default 1.0).
    """
    paths = {m: dirac_gan(m, steps=steps, learning_rate=learning_rate, lam=lam) for m in METHODS}
    return DiracComparison(paths, float(learning_rate), float(lam))
