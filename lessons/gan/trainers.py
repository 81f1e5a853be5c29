"""The two ways to train lesson 02's GAN, each with an explicit compiled train step.

``OneStepGAN``: the single loss, one optimizer over all weights, one simultaneous update.
``AlternatingGAN``: the usual 1:1 baseline, a D step and then a G step that sees the updated D.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from lessons._core.checks import number, one_of
from lessons.gan.losses import d_hinge_loss, g_hinge_loss, one_step_loss

__all__ = ["METHODS", "METHOD_NAMES", "TRAINER_OPTIMIZERS", "AlternatingGAN", "OneStepGAN",
           "make_optimizer", "make_trainer", "xla_hlo"]

METHODS = ("one_step", "alternating")
METHOD_NAMES = {"one_step": "single loss", "alternating": "alternating"}
TRAINER_OPTIMIZERS = ("adam", "sgd", "rmsprop")


def _apply(optimizer, grads, variables) -> None:
    # Without this barrier TF's graph executor may run an assign before every gradient has been
    # computed, and a late gradient then sees moved weights (seen on the Dirac GAN without XLA).
    with tf.control_dependencies(grads):
        grads = [tf.identity(g) for g in grads]
    optimizer.apply_gradients(zip(grads, variables, strict=True))


def make_optimizer(name: str = "adam", learning_rate: float = 1e-3):
    """A fresh Keras optimizer as the lesson's trainers use it.

    Args:
        name: "adam" (Adam(learning_rate, beta_1=0.5, beta_2=0.9), the GAN setting; default),
            "sgd" (SGD(learning_rate)) or "rmsprop" (RMSprop(learning_rate, rho=0.99), as in the
            post's reference code).
        learning_rate: > 0 (default 1e-3).
    """
    one_of("optimizer", name, TRAINER_OPTIMIZERS)
    learning_rate = number("learning_rate", learning_rate, low=0.0, low_open=True)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=0.9)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate)
    return keras.optimizers.RMSprop(learning_rate, rho=0.99)  # reference code: RMSprop(1e-4, 0.99)


class OneStepGAN:
    """Trains G and D with the single loss, one optimizer and one compiled step.

    Args:
        generator: Keras model z -> x.
        discriminator: Keras model x -> score [batch, 1].
        optimizer: a Keras optimizer over all weights (default Adam(1e-3, beta_1=0.5, beta_2=0.9)).
        lam: weight of the generator term, >= 0 (default 1.0).
        jit_compile: compile the step with XLA (default True).
    """

    def __init__(self, generator, discriminator, optimizer=None, lam: float = 1.0,
                 jit_compile: bool = True):
        self.generator, self.discriminator = generator, discriminator
        self.lam = number("lam", lam, low=0.0)
        self.optimizer = optimizer if optimizer is not None else make_optimizer("adam")
        self.jit_compile = bool(jit_compile)
        self.variables = discriminator.trainable_variables + generator.trainable_variables
        self.optimizer.build(self.variables)
        self.train_step = tf.function(self._train_step, jit_compile=self.jit_compile)

    def _train_step(self, x_real, z):
        # x_real [batch, dim], z [batch, latent]: one forward, one backward, one update
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            d_real = self.discriminator(x_real, training=True)
            d_fake = self.discriminator(fake, training=True)
            d_fake_ng = self.discriminator(tf.stop_gradient(fake), training=True)
            loss = one_step_loss(d_real, d_fake, d_fake_ng, self.lam)
        _apply(self.optimizer, tape.gradient(loss, self.variables), self.variables)
        return {"d_loss": loss, "g_loss": g_hinge_loss(d_fake_ng)}

    def get_config(self) -> dict:
        return {"lam": self.lam, "jit_compile": self.jit_compile,
                "optimizer": keras.optimizers.serialize(self.optimizer)}


class AlternatingGAN:
    """The usual 1:1 alternating baseline: a D step, then a G step that sees the updated D.

    ``d_step`` and ``g_step`` are compiled separately; ``train_step`` runs both in one compiled
    function (the way Keras's own GAN examples do it), so the D+G pair costs one call.

    Args:
        generator: Keras model z -> x.
        discriminator: Keras model x -> score [batch, 1].
        d_optimizer: optimizer for D's weights (default Adam(1e-3, beta_1=0.5, beta_2=0.9)).
        g_optimizer: optimizer for G's weights (default the same settings; TTUR = different lrs).
        jit_compile: compile the steps with XLA (default True).
    """

    def __init__(self, generator, discriminator, d_optimizer=None, g_optimizer=None,
                 jit_compile: bool = True):
        self.generator, self.discriminator = generator, discriminator
        self.d_optimizer = d_optimizer if d_optimizer is not None else make_optimizer("adam")
        self.g_optimizer = g_optimizer if g_optimizer is not None else make_optimizer("adam")
        if self.d_optimizer is self.g_optimizer:
            raise ValueError("d_optimizer and g_optimizer must be two different optimizers")
        self.jit_compile = bool(jit_compile)
        self.d_optimizer.build(discriminator.trainable_variables)
        self.g_optimizer.build(generator.trainable_variables)
        self.d_step = tf.function(self._d_step, jit_compile=self.jit_compile)
        self.g_step = tf.function(self._g_step, jit_compile=self.jit_compile)
        self.train_step = tf.function(self._train_step, jit_compile=self.jit_compile)

    def _d_step(self, x_real, z):
        d_vars = self.discriminator.trainable_variables
        fake = tf.stop_gradient(self.generator(z, training=True))
        with tf.GradientTape() as tape:
            loss = d_hinge_loss(self.discriminator(x_real, training=True),
                                self.discriminator(fake, training=True))
        _apply(self.d_optimizer, tape.gradient(loss, d_vars), d_vars)
        return loss

    def _g_step(self, z):
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            loss = g_hinge_loss(self.discriminator(self.generator(z, training=True), training=True))
        _apply(self.g_optimizer, tape.gradient(loss, g_vars), g_vars)
        return loss

    def _train_step(self, x_real, z):
        # auto control dependencies order the G step's reads of D after the D step's writes
        d_loss = self._d_step(x_real, z)
        g_loss = self._g_step(z)
        return {"d_loss": d_loss, "g_loss": g_loss}

    def get_config(self) -> dict:
        return {"jit_compile": self.jit_compile,
                "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
                "g_optimizer": keras.optimizers.serialize(self.g_optimizer)}


def make_trainer(method: str, generator, discriminator, learning_rate: float = 1e-3,
                 lam: float = 1.0, jit_compile: bool = True, optimizer: str = "adam"):
    """``OneStepGAN`` (one optimizer over everything, G weight ``lam``) or ``AlternatingGAN``
    (optimizer(learning_rate) for D, optimizer(lam * learning_rate) for G: the G:D ratio the post
    assigns to ``lam``).

    Args:
        method: "one_step" or "alternating".
        generator, discriminator: the two Keras models.
        learning_rate: > 0 (default 1e-3).
        lam: G weight / G:D learning-rate ratio, >= 0 (default 1.0; > 0 for "alternating").
        jit_compile: compile the steps with XLA (default True).
        optimizer: "adam" (default), "sgd" or "rmsprop" (see ``make_optimizer``).
    """
    one_of("method", method, METHODS)
    lam = number("lam", lam, low=0.0)
    one_of("optimizer", optimizer, TRAINER_OPTIMIZERS)
    if method == "one_step":
        return OneStepGAN(generator, discriminator, make_optimizer(optimizer, learning_rate),
                          lam, jit_compile)
    if lam == 0:
        raise ValueError("lam must be > 0 for the alternating baseline (G's lr = lam * lr)")
    return AlternatingGAN(generator, discriminator, make_optimizer(optimizer, learning_rate),
                          make_optimizer(optimizer, lam * learning_rate), jit_compile)


def xla_hlo(step, *args) -> str:
    """The HLO text XLA compiles ``step`` (a trainer's ``train_step``) to; raises if it cannot."""
    return step.experimental_get_compiler_ir(*args)(stage="hlo")
