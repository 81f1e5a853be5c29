"""Lesson 02: one loss trains a GAN, by stopping gradients (https://kexue.fm/archives/6387).

The hinge GAN in the post's sign convention: D minimises E[relu(1 + D(x))] + E[relu(1 - D(G(z)))],
G minimises E[D(G(z))]. With ``G_ng(z) = stop_gradient(G(z))`` the single loss

    L = E[relu(1 + D(x))] + E[relu(1 - D(G_ng(z)))] + lam * E[D(G(z)) - D(G_ng(z))]

has the value of the D loss, gives D exactly the D-loss gradient and G exactly ``lam`` times the
gradient of E[D(G(z))]. One optimizer over all weights then trains both networks in one step.

Public API:
- ``one_step_loss``, ``d_hinge_loss``, ``g_hinge_loss``: the losses.
- ``make_generator``, ``make_discriminator``: small MLPs.
- ``OneStepGAN`` (one loss, one optimizer) and ``AlternatingGAN`` (D step then G step, two
  optimizers): trainers with explicit ``tf.function`` train steps (``jit_compile`` by default).
- ``mode_coverage``: how many ring modes the samples hit, and how many samples are good.
- ``train_ring``, ``train_digits``: the notebook's experiments; ``ring_explorer``: its widget.
- ``lam_update_ratio``: what ``lam`` does to G's step under SGD, Adam and RMSprop.
- ``time_steps``, ``peak_memory``: ms per step and peak allocator memory, one-step vs D+G pair.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from lessons.data import load_digits, ring_centers, sample_ring

__all__ = [
    "AlternatingGAN",
    "Coverage",
    "OneStepGAN",
    "RingRun",
    "d_hinge_loss",
    "g_hinge_loss",
    "gradient_split",
    "lam_update_ratio",
    "make_discriminator",
    "make_generator",
    "mode_coverage",
    "one_step_loss",
    "peak_memory",
    "ring_explorer",
    "time_steps",
    "train_digits",
    "train_ring",
]

RING_STD = 0.05  # wider than the usual 0.02 so "within 3 sigma" is reachable in a few thousand steps
RING_RADIUS = 2.0


# ----------------------------------------------------------------------------- losses


def _check_lam(lam) -> float:
    if isinstance(lam, bool) or not isinstance(lam, int | float) or not math.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    return float(lam)


def _static_shape(x) -> tuple:
    return tuple(x.shape)


def one_step_loss(d_real, d_fake, d_fake_ng, lam: float = 1.0):
    """The post's single GAN loss (hinge, D(x) -> -1 for real data, D(G(z)) -> +1 for fakes).

    ``mean(relu(1 + d_real)) + mean(relu(1 - d_fake_ng)) + lam * mean(d_fake - d_fake_ng)``.
    Its value is the D loss (the last term is 0); D gets exactly the D-loss gradient and G exactly
    ``lam`` times the gradient of ``mean(D(G(z)))``.

    Args:
        d_real: D(x) on real data, shape [batch_real, ...].
        d_fake: D(G(z)), shape [batch_fake, ...], gradients flowing into both networks.
        d_fake_ng: D(stop_gradient(G(z))), same shape as ``d_fake`` (and the same value).
        lam: weight of the generator term, >= 0 (default 1.0): the G:D learning-rate ratio
            under plain SGD.
    """
    lam = _check_lam(lam)
    real, fake, fake_ng = _static_shape(d_real), _static_shape(d_fake), _static_shape(d_fake_ng)
    if fake != fake_ng:
        raise ValueError(f"d_fake and d_fake_ng must have the same shape, got {fake} and {fake_ng}")
    if real[1:] != fake[1:] or len(real) != len(fake):
        raise ValueError(
            f"d_real and d_fake must agree in every axis but the batch, got {real} and {fake}")
    d_part = ops.mean(ops.relu(1.0 + d_real)) + ops.mean(ops.relu(1.0 - d_fake_ng))
    return d_part + lam * ops.mean(d_fake - d_fake_ng)


def d_hinge_loss(d_real, d_fake):
    """The discriminator's hinge loss ``mean(relu(1 + d_real)) + mean(relu(1 - d_fake))``."""
    return ops.mean(ops.relu(1.0 + d_real)) + ops.mean(ops.relu(1.0 - d_fake))


def g_hinge_loss(d_fake):
    """The generator's loss ``mean(d_fake)`` (G pushes its samples towards D's "real" side)."""
    return ops.mean(d_fake)


# ----------------------------------------------------------------------------- models


def _check_widths(hidden, name: str) -> tuple[int, ...]:
    hidden = tuple(hidden)
    if not hidden or any(not isinstance(h, int) or h < 1 for h in hidden):
        raise ValueError(f"{name} must be a non-empty sequence of ints >= 1, got {hidden!r}")
    return hidden


def make_generator(latent_dim: int = 2, output_dim: int = 2, hidden=(64, 64),
                   output_activation: str | None = None, name: str = "generator") -> keras.Model:
    """An MLP generator z [batch, latent_dim] -> x [batch, output_dim], ReLU hidden layers.

    Args:
        latent_dim: size of the noise vector, >= 1 (default 2).
        output_dim: size of a sample, >= 1 (default 2).
        hidden: widths of the hidden layers (default (64, 64)).
        output_activation: None for R^d data (default), "tanh" for images in [-1, 1].
        name: Keras model name (default "generator").
    """
    if latent_dim < 1 or output_dim < 1:
        raise ValueError(f"latent_dim and output_dim must be >= 1, got {latent_dim}, {output_dim}")
    hidden = _check_widths(hidden, "hidden")
    layers = [keras.Input((latent_dim,))]
    layers += [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(output_dim, activation=output_activation))
    return keras.Sequential(layers, name=name)


def make_discriminator(input_dim: int = 2, hidden=(64, 64), name: str = "discriminator"):
    """An MLP critic x [batch, input_dim] -> score [batch, 1], leaky-ReLU hidden layers.

    Args:
        input_dim: size of a sample, >= 1 (default 2).
        hidden: widths of the hidden layers (default (64, 64)).
        name: Keras model name (default "discriminator").
    """
    if input_dim < 1:
        raise ValueError(f"input_dim must be >= 1, got {input_dim}")
    hidden = _check_widths(hidden, "hidden")
    layers = [keras.Input((input_dim,))]
    layers += [keras.layers.Dense(h, activation="leaky_relu") for h in hidden]
    layers.append(keras.layers.Dense(1))
    return keras.Sequential(layers, name=name)


def gradient_split(generator, discriminator, x_real, z, lam: float = 1.0):
    """Gradients of ``one_step_loss`` next to the separately computed D and G gradients.

    Returns a dict with "loss" (the single loss's value), "d_loss" (the D loss's value),
    "one_step" (grads of the single loss w.r.t. D's then G's weights), "separate" (grads of the
    D loss w.r.t. D's weights, then lam * grads of mean(D(G(z))) w.r.t. G's weights),
    "max_abs_diff" (largest difference between the two lists), "max_rel_diff" (that over the
    largest separate gradient entry) and the same per network ("max_rel_diff_d", "_g").
    D's single-loss gradient adds and subtracts lam * grad_D E[D(G(z))], so in float32 it carries
    rounding noise that grows with lam; G's gradient is computed the same way both times.
    """
    lam = _check_lam(lam)
    d_vars, g_vars = discriminator.trainable_variables, generator.trainable_variables
    with tf.GradientTape() as tape:
        fake = generator(z)
        fake_ng = tf.stop_gradient(fake)
        loss = one_step_loss(discriminator(x_real), discriminator(fake),
                             discriminator(fake_ng), lam)
    one = tape.gradient(loss, d_vars + g_vars)
    with tf.GradientTape() as tape:
        d_loss = d_hinge_loss(discriminator(x_real), discriminator(tf.stop_gradient(generator(z))))
    sep_d = tape.gradient(d_loss, d_vars)
    with tf.GradientTape() as tape:
        g_loss = g_hinge_loss(discriminator(generator(z)))
    sep_g = [lam * g for g in tape.gradient(g_loss, g_vars)]
    one = [g.numpy() for g in one]
    sep = [g.numpy() for g in sep_d + sep_g]
    n_d = len(d_vars)

    def rel(a, b):  # largest difference over the largest reference entry
        diff = max(float(np.max(np.abs(u - v))) for u, v in zip(a, b, strict=True))
        scale = max(float(np.max(np.abs(v))) for v in b)
        return diff, diff / scale if scale > 0 else diff

    diff, rel_all = rel(one, sep)
    return {"loss": float(loss), "d_loss": float(d_loss), "one_step": one, "separate": sep,
            "max_abs_diff": diff, "max_rel_diff": rel_all,
            "max_rel_diff_d": rel(one[:n_d], sep[:n_d])[1],
            "max_rel_diff_g": rel(one[n_d:], sep[n_d:])[1]}


def grad_norms(generator, discriminator, x_real, z) -> dict[str, float]:
    """Value of the zero loss ``mean(D(G(z)) - D(G_ng(z)))`` and its gradient norm per network."""
    d_vars, g_vars = discriminator.trainable_variables, generator.trainable_variables
    with tf.GradientTape() as tape:
        fake = generator(z)
        zero = ops.mean(discriminator(fake) - discriminator(tf.stop_gradient(fake)))
    grads = tape.gradient(zero, d_vars + g_vars)
    grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, d_vars + g_vars, strict=True)]
    d_norm = float(tf.linalg.global_norm(grads[: len(d_vars)]))
    g_norm = float(tf.linalg.global_norm(grads[len(d_vars):]))
    return {"value": float(zero), "grad_norm_d": d_norm, "grad_norm_g": g_norm}


# ----------------------------------------------------------------------------- trainers


def _apply(optimizer, grads, variables) -> None:
    # Without this barrier TF's graph executor may run an assign before every gradient has been
    # computed, and a late gradient then sees moved weights (seen on the Dirac GAN without XLA).
    with tf.control_dependencies(grads):
        grads = [tf.identity(g) for g in grads]
    optimizer.apply_gradients(zip(grads, variables, strict=True))


def _adam(learning_rate: float):
    return keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=0.9)


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
        self.lam = _check_lam(lam)
        self.optimizer = optimizer if optimizer is not None else _adam(1e-3)
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
        self.d_optimizer = d_optimizer if d_optimizer is not None else _adam(1e-3)
        self.g_optimizer = g_optimizer if g_optimizer is not None else _adam(1e-3)
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


def xla_hlo(step, *args) -> str:
    """The HLO text XLA compiles ``step`` (a trainer's ``train_step``) to; raises if it cannot."""
    return step.experimental_get_compiler_ir(*args)(stage="hlo")


# ----------------------------------------------------------------------------- metric


@dataclass(frozen=True)
class Coverage:
    modes: int  # modes holding >= min_share of the samples within n_sigma
    high_quality: float  # share of samples within n_sigma of their nearest centre
    counts: np.ndarray  # [modes] good samples per mode


def mode_coverage(samples, centers=None, std: float = RING_STD, n_sigma: float = 3.0,
                  min_share: float = 0.01) -> Coverage:
    """How many ring modes the samples cover, and what share of them is good.

    A sample is good ("high quality") if it lies within ``n_sigma * std`` of its nearest centre;
    a mode is covered if at least ``min_share`` of all samples are good samples of that mode.

    Args:
        samples: generated points, shape [n, 2] (n >= 1).
        centers: mode centres [modes, 2] (default ``ring_centers(8, 2.0)``).
        std: the modes' standard deviation, > 0 (default ``RING_STD`` = 0.05).
        n_sigma: radius of a good sample in units of std, > 0 (default 3.0).
        min_share: share of all samples a mode needs, in (0, 1] (default 0.01).
    """
    samples = np.asarray(samples, dtype=np.float64)
    centers = ring_centers(8, RING_RADIUS) if centers is None else np.asarray(centers, np.float64)
    if samples.ndim != 2 or samples.shape[0] < 1:
        raise ValueError(f"samples must have shape [n >= 1, dim], got {samples.shape}")
    if centers.ndim != 2 or centers.shape[1] != samples.shape[1]:
        raise ValueError(f"centers must have shape [modes, {samples.shape[1]}], got {centers.shape}")
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    if not n_sigma > 0:
        raise ValueError(f"n_sigma must be > 0, got {n_sigma}")
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must be in (0, 1], got {min_share}")
    dist = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)  # [n, modes]
    nearest = dist.argmin(axis=1)
    good = dist[np.arange(len(samples)), nearest] <= n_sigma * std
    counts = np.bincount(nearest[good], minlength=len(centers))
    return Coverage(int(np.sum(counts >= min_share * len(samples))), float(good.mean()), counts)


# ----------------------------------------------------------------------------- experiments


METHODS = ("one_step", "alternating")


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def make_trainer(method: str, generator, discriminator, lr: float = 1e-3, lam: float = 1.0,
                 jit_compile: bool = True):
    """``OneStepGAN`` (Adam(lr) over everything, weight ``lam``) or ``AlternatingGAN``
    (Adam(lr) for D, Adam(lam * lr) for G: the same G:D ratio the post assigns to ``lam``)."""
    _check_method(method)
    lam = _check_lam(lam)
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if method == "one_step":
        return OneStepGAN(generator, discriminator, _adam(lr), lam, jit_compile)
    if lam == 0:
        raise ValueError("lam must be > 0 for the alternating baseline (G's lr = lam * lr)")
    return AlternatingGAN(generator, discriminator, _adam(lr), _adam(lam * lr), jit_compile)


@dataclass
class RingRun:
    method: str
    lam: float
    steps: list[int] = field(default_factory=list)  # evaluation steps
    modes: list[int] = field(default_factory=list)  # covered modes at each evaluation
    high_quality: list[float] = field(default_factory=list)
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)  # step -> samples [n, 2]


RING_STEPS = 2000
RING_BATCH = 256
RING_POOL = 65536  # real ring points drawn once per run; batches resample them


def train_ring(method: str = "one_step", steps: int = RING_STEPS, lam: float = 1.0,
               seed: int = 0, lr: float = 1e-3, batch_size: int = RING_BATCH,
               eval_every: int = 250, snapshots=(0, 500, 1000, 2000), n_eval: int = 2000,
               progress=None, jit_compile: bool = True) -> RingRun:
    """Train a GAN on the 8-Gaussian ring and record mode coverage along the way.

    The same ``seed`` gives both methods the same initial weights, data and noise.

    Args:
        method: "one_step" or "alternating" (default "one_step").
        steps: training steps (default 2000); one step = one single-loss update or one D+G pair.
        lam: G weight in the single loss, G:D lr ratio for the baseline (default 1.0).
        seed: seeds weights, data and noise (default 0).
        lr: Adam learning rate (default 1e-3).
        batch_size: real and fake samples per step (default 256).
        eval_every: evaluate coverage every this many steps (default 250).
        snapshots: steps at which to keep ``n_eval`` generated samples.
        n_eval: samples drawn for each evaluation (default 2000).
        progress: optional callable ``progress(steps_done)`` or a tqdm-like object with ``update``.
        jit_compile: compile the train step with XLA (default True).
    """
    _check_method(method)
    steps = _check_positive_int(steps, "steps")
    batch_size = _check_positive_int(batch_size, "batch_size")
    eval_every = _check_positive_int(eval_every, "eval_every")
    n_eval = _check_positive_int(n_eval, "n_eval")
    keras.utils.set_random_seed(seed)
    gen, disc = make_generator(2, 2), make_discriminator(2)
    trainer = make_trainer(method, gen, disc, lr, lam, jit_compile)
    rng = np.random.default_rng(seed)
    data = sample_ring(RING_POOL, std=RING_STD, seed=seed)
    z_eval = rng.standard_normal((n_eval, 2)).astype(np.float32)
    run = RingRun(method, float(lam))
    keep = set(snapshots)

    def evaluate(step):
        samples = np.asarray(gen(z_eval))
        cov = mode_coverage(samples)
        run.steps.append(step)
        run.modes.append(cov.modes)
        run.high_quality.append(cov.high_quality)
        if step in keep:
            run.snapshots[step] = samples

    evaluate(0)
    for step in range(1, steps + 1):
        idx = rng.integers(0, len(data), size=batch_size)
        z = rng.standard_normal((batch_size, 2)).astype(np.float32)
        trainer.train_step(tf.constant(data[idx]), tf.constant(z))
        if step % eval_every == 0 or step == steps:
            evaluate(step)
        elif step in keep:
            run.snapshots[step] = np.asarray(gen(z_eval))
        if progress is not None:
            progress.update(1) if hasattr(progress, "update") else progress(step)
    return run


DIGITS_STEPS = 600
DIGITS_LATENT = 16


def train_digits(method: str = "one_step", steps: int = DIGITS_STEPS, lam: float = 1.0,
                 seed: int = 0, lr: float = 1e-3, batch_size: int = 64, n_samples: int = 16,
                 progress=None, jit_compile: bool = True) -> np.ndarray:
    """Train a small MLP GAN on scikit-learn's 8x8 digits; return ``n_samples`` images.

    Args:
        method: "one_step" or "alternating" (default "one_step").
        steps: training steps (default 600).
        lam: G weight / G:D lr ratio (default 1.0).
        seed: seeds weights, batches and noise (default 0).
        lr: Adam learning rate (default 1e-3).
        batch_size: real and fake images per step (default 64).
        n_samples: images to return (default 16).
        progress: optional tqdm-like object with ``update`` (or a callable of the step).
        jit_compile: compile the train step with XLA (default True).

    Returns generated images, float32 [n_samples, 8, 8] in [0, 1].
    """
    _check_method(method)
    steps = _check_positive_int(steps, "steps")
    batch_size = _check_positive_int(batch_size, "batch_size")
    n_samples = _check_positive_int(n_samples, "n_samples")
    keras.utils.set_random_seed(seed)
    x, _ = load_digits(scaled="tanh")
    gen = make_generator(DIGITS_LATENT, 64, hidden=(128,), output_activation="tanh")
    disc = make_discriminator(64, hidden=(128,))
    trainer = make_trainer(method, gen, disc, lr, lam, jit_compile)
    rng = np.random.default_rng(seed)
    for step in range(1, steps + 1):
        idx = rng.integers(0, len(x), size=batch_size)
        z = rng.standard_normal((batch_size, DIGITS_LATENT)).astype(np.float32)
        trainer.train_step(tf.constant(x[idx]), tf.constant(z))
        if progress is not None:
            progress.update(1) if hasattr(progress, "update") else progress(step)
    z = rng.standard_normal((n_samples, DIGITS_LATENT)).astype(np.float32)
    return ((np.asarray(gen(z)) + 1.0) / 2.0).reshape(n_samples, 8, 8)


# ----------------------------------------------------------------------------- lam and optimizers


def lam_update_ratio(lam: float, optimizer: str = "sgd", grad_scale: float = 1.0,
                     steps: int = 1, seed: int = 0) -> dict[str, float]:
    """What multiplying G's gradient by ``lam`` does to G's step under one shared optimizer.

    Two weight vectors (a "D" and a "G" part, 16 entries each) get the same random gradients
    (times ``grad_scale``) for ``steps`` steps, once with G's gradient times ``lam`` and once
    without. Returns the ratio of the total update norms, for G ("g") and for D ("d").
    Under SGD the G ratio is exactly ``lam``; Adam and RMSprop divide by the gradient's own scale,
    so ``lam`` cancels except where the gradient is comparable to their epsilon (1e-7).

    Args:
        lam: G's gradient weight, > 0.
        optimizer: "sgd", "adam" or "rmsprop" (default "sgd"), Keras defaults, lr 1e-3.
        grad_scale: size of the gradients, > 0 (default 1.0).
        steps: optimizer steps, >= 1 (default 1).
        seed: seeds the gradients (default 0).
    """
    lam = _check_lam(lam)
    if lam == 0:
        raise ValueError("lam must be > 0 for a ratio")
    makers = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam,
              "rmsprop": keras.optimizers.RMSprop}
    if optimizer not in makers:
        raise ValueError(f"optimizer must be one of {tuple(makers)}, got {optimizer!r}")
    if not grad_scale > 0:
        raise ValueError(f"grad_scale must be > 0, got {grad_scale}")
    steps = _check_positive_int(steps, "steps")
    grads = grad_scale * np.random.default_rng(seed).standard_normal((steps, 2, 16))

    def total_update(weight):
        opt = makers[optimizer](learning_rate=1e-3)
        d, g = keras.Variable(np.zeros(16, np.float32)), keras.Variable(np.zeros(16, np.float32))
        opt.build([d, g])
        for gd, gg in grads:
            opt.apply_gradients([(tf.constant(gd, tf.float32), d),
                                 (tf.constant(weight * gg, tf.float32), g)])
        return np.linalg.norm(d.numpy()), np.linalg.norm(g.numpy())

    d1, g1 = total_update(1.0)
    dl, gl = total_update(lam)
    return {"d": float(dl / d1), "g": float(gl / g1)}


# ----------------------------------------------------------------------------- Dirac GAN


def dirac_gan(method: str = "one_step", steps: int = 100, lr: float = 0.1, lam: float = 1.0,
              theta0: float = 0.5, psi0: float = 0.0, jit_compile: bool = False) -> np.ndarray:
    """The Dirac GAN (real data at x = 0, G(z) = theta, D(x) = psi * x) trained with SGD.

    Runs the library's own trainers: "one_step" is ``OneStepGAN`` with SGD(lr) (G's step is
    ``lam * lr``), "alternating" is ``AlternatingGAN`` with SGD(lr) for D and SGD(lam * lr) for G.
    While |psi * theta| < 1 the hinge loss is linear and the updates are the matrices
    simultaneous [[1, lr], [-lam lr, 1]] (determinant 1 + lam lr^2: it spirals out) and
    alternating [[1, lr], [-lam lr, 1 - lam lr^2]] (determinant 1: it circles).

    Args:
        method: "one_step" or "alternating" (default "one_step").
        steps: training steps, >= 1 (default 100).
        lr: D's SGD learning rate, > 0 (default 0.1).
        lam: G:D learning-rate ratio, > 0 (default 1.0).
        theta0, psi0: starting generator output and discriminator weight (defaults 0.5, 0.0).
        jit_compile: compile the steps with XLA (default False; the models are two scalars).

    Returns the trajectory (theta, psi), float64 [steps + 1, 2].
    """
    _check_method(method)
    steps = _check_positive_int(steps, "steps")
    lam = _check_lam(lam)
    if lam == 0:
        raise ValueError("lam must be > 0")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    gen = keras.Sequential([keras.Input((1,)), keras.layers.Dense(
        1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(theta0))])
    disc = keras.Sequential([keras.Input((1,)), keras.layers.Dense(
        1, use_bias=False, kernel_initializer=keras.initializers.Constant(psi0))])
    if method == "one_step":
        trainer = OneStepGAN(gen, disc, keras.optimizers.SGD(lr), lam, jit_compile)
    else:
        trainer = AlternatingGAN(gen, disc, keras.optimizers.SGD(lr),
                                 keras.optimizers.SGD(lam * lr), jit_compile)
    x, z = tf.zeros((1, 1)), tf.zeros((1, 1))  # z = 0, so G's kernel gets no gradient

    def state():
        return float(gen.layers[-1].bias[0]), float(disc.layers[-1].kernel[0, 0])

    path = [state()]
    for _ in range(steps):
        trainer.train_step(x, z)
        path.append(state())
    return np.array(path, dtype=np.float64)


# ----------------------------------------------------------------------------- cost


def _timing_setup(batch_size: int, hidden, jit_compile: bool, seed: int = 0):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = tf.constant(sample_ring(batch_size, std=RING_STD, seed=seed))
    z = tf.constant(rng.standard_normal((batch_size, 2)).astype(np.float32))
    gen, disc = make_generator(2, 2, hidden), make_discriminator(2, hidden)
    one = OneStepGAN(gen, disc, _adam(1e-4), 1.0, jit_compile)
    alt = AlternatingGAN(gen, disc, _adam(1e-4), _adam(1e-4), jit_compile)
    return one, alt, x, z


def time_steps(batch_size: int = RING_BATCH, hidden=(64, 64), repeats: int = 21,
               steps_per_repeat: int = 20, jit_compile: bool = True) -> dict[str, float]:
    """Milliseconds per training step: one single-loss step vs one alternating D+G pair.

    Same models, batch and process; each figure is the median over ``repeats`` of the mean over
    ``steps_per_repeat`` calls, after a compile-and-warm-up call; the three are timed in turn,
    block by block. "pair" is the baseline's
    ``train_step`` (D and G step in one compiled call); "pair_two_calls" calls ``d_step`` and
    ``g_step`` one after the other, as a training loop with two ``train_on_batch`` calls would.

    Returns ms_one_step, ms_pair, ms_pair_two_calls, ratio (one_step / pair), ratio_two_calls,
    samples_per_s_one_step and samples_per_s_pair (real samples consumed per second).
    """
    batch_size = _check_positive_int(batch_size, "batch_size")
    repeats = _check_positive_int(repeats, "repeats")
    steps_per_repeat = _check_positive_int(steps_per_repeat, "steps_per_repeat")
    one, alt, x, z = _timing_setup(batch_size, hidden, jit_compile)

    def pair_two_calls(x, z):
        alt.d_step(x, z)
        return alt.g_step(z)

    def block(fn):  # mean seconds per call over one block of calls
        start = time.perf_counter()
        for _ in range(steps_per_repeat):
            out = fn(x, z)
        tf.nest.map_structure(lambda t: t.numpy(), out)  # wait for the last step
        return (time.perf_counter() - start) / steps_per_repeat

    fns = (one.train_step, alt.train_step, pair_two_calls)
    for fn in fns:
        tf.nest.map_structure(lambda t: t.numpy(), fn(x, z))  # compile and warm up
    # interleave short blocks so that load changes on a shared machine hit all three alike
    times = np.array([[block(fn) for fn in fns] for _ in range(repeats)])  # [repeats, 3]
    one_ms, pair_ms, two_ms = (1e3 * np.median(times, axis=0)).tolist()
    return {"ms_one_step": one_ms, "ms_pair": pair_ms, "ms_pair_two_calls": two_ms,
            "ratio": one_ms / pair_ms, "ratio_two_calls": one_ms / two_ms,
            "samples_per_s_one_step": 1e3 * batch_size / one_ms,
            "samples_per_s_pair": 1e3 * batch_size / pair_ms}


def _peak_memory_here(batch_size: int, hidden) -> dict[str, int]:
    one, alt, x, z = _timing_setup(batch_size, hidden, jit_compile=False)
    out = {}
    for name, fn in (("one_step", one.train_step), ("d_step", lambda x, z: alt.d_step(x, z)),
                     ("g_step", lambda x, z: alt.g_step(z))):
        fn(x, z)  # trace first: tracing allocates too
        tf.config.experimental.reset_memory_stats("CPU:0")
        base = tf.config.experimental.get_memory_info("CPU:0")["current"]
        tf.nest.map_structure(lambda t: t.numpy(), fn(x, z))
        out[name] = int(tf.config.experimental.get_memory_info("CPU:0")["peak"] - base)
    out["pair"] = max(out["d_step"], out["g_step"])
    return out


def peak_memory(batch_size: int = 4096, hidden=(256, 256)) -> dict[str, int]:
    """Peak bytes TensorFlow's CPU allocator holds during one step, above what it held before.

    Measured in a fresh Python process with ``TF_CPU_ALLOCATOR_USE_BFC=true`` (the default CPU
    allocator keeps no statistics), with graph-mode steps: XLA's CPU runtime allocates its scratch
    buffers outside TensorFlow's allocator, so a jit-compiled step cannot be measured this way.
    Returns bytes for "one_step", "d_step", "g_step" and "pair" (the larger of the two).

    Args:
        batch_size: real and fake samples per step (default 4096, so activations dominate).
        hidden: hidden widths of both networks (default (256, 256)).
    """
    import json
    import subprocess
    import sys

    batch_size = _check_positive_int(batch_size, "batch_size")
    hidden = _check_widths(hidden, "hidden")
    env = dict(os.environ, TF_CPU_ALLOCATOR_USE_BFC="true", TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "lessons.gan", "memory", str(batch_size),
           ",".join(map(str, hidden))]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- figures


def plot_ring_runs(runs: dict[str, RingRun]):
    """Scatter the snapshots of each run (one row per method) over the ring's centres."""
    import matplotlib.pyplot as plt

    centers = ring_centers(8, RING_RADIUS)
    steps = sorted(set.intersection(*(set(r.snapshots) for r in runs.values())))
    fig, axes = plt.subplots(len(runs), len(steps), figsize=(1.9 * len(steps), 2.0 * len(runs)),
                             squeeze=False, sharex=True, sharey=True)
    for row, (name, run) in zip(axes, runs.items(), strict=True):
        for ax, step in zip(row, steps, strict=True):
            pts = run.snapshots[step]
            ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.3)
            ax.scatter(centers[:, 0], centers[:, 1], c="red", marker="x", s=12)
            cov = mode_coverage(pts)
            ax.set_title(f"{name} @ {step}: {cov.modes}/8", fontsize=8)
            ax.set_xlim(-3, 3)
            ax.set_ylim(-3, 3)
            ax.set_aspect("equal")
    fig.tight_layout()
    return fig


def plot_coverage(runs: dict[str, RingRun]):
    """Modes covered and high-quality share against the step, one line per method."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.0))
    for name, run in runs.items():
        left.plot(run.steps, run.modes, marker="o", ms=3, label=name)
        right.plot(run.steps, run.high_quality, marker="o", ms=3, label=name)
    left.set(xlabel="step", ylabel="modes covered (of 8)", ylim=(-0.3, 8.3))
    right.set(xlabel="step", ylabel="high-quality share", ylim=(0, 1))
    left.legend()
    fig.tight_layout()
    return fig


def plot_digits(images: dict[str, np.ndarray]):
    """One row of generated 8x8 digits per method."""
    import matplotlib.pyplot as plt

    n = max(len(v) for v in images.values())
    fig, axes = plt.subplots(len(images), n, figsize=(0.6 * n, 0.75 * len(images)), squeeze=False)
    for row, (name, imgs) in zip(axes, images.items(), strict=True):
        for i, ax in enumerate(row):
            ax.axis("off")
            if i < len(imgs):
                ax.imshow(imgs[i], cmap="gray_r", vmin=0, vmax=1)
        row[0].set_title(name, fontsize=8, loc="left")
    return fig


# ----------------------------------------------------------------------------- widget


class RingExplorer:
    """The notebook's widget: pick lam, the step budget and the method, press Run.

    Attributes: ``lam``, ``steps``, ``method`` (the controls), ``button``, ``bar`` (an
    IntProgress), ``summary`` (a Label with the coverage line), ``output`` (the figure), ``last_run`` (a ``RingRun``),
    ``widget`` (the assembled box).
    """

    def __init__(self, lam: float = 1.0, steps: int = 1000, method: str = "one_step",
                 seed: int = 0):
        import ipywidgets as w

        self.seed = seed
        self.lam = w.FloatSlider(value=lam, min=0.25, max=4.0, step=0.25, description="lam")
        self.steps = w.IntSlider(value=steps, min=250, max=3000, step=250,
                                 description="steps")
        self.method = w.Dropdown(options=METHODS, value=_check_method(method),
                                 description="method")
        self.button = w.Button(description="Run", button_style="primary")
        self.bar = w.IntProgress(value=0, min=0, max=steps, description="progress")
        self.summary = w.Label(value="press Run")
        self.output = w.Output()
        self.last_run: RingRun | None = None
        self.button.on_click(lambda _: self.run())
        self.widget = w.VBox([w.HBox([self.lam, self.steps]), w.HBox([self.method, self.button]),
                              self.bar, self.summary, self.output])

    def _tick(self, step: int) -> None:
        if step % 50 == 0 or step == self.bar.max:
            self.bar.value = step

    def run(self) -> RingRun:
        steps = int(self.steps.value)
        self.bar.max, self.bar.value = steps, 0
        run = train_ring(self.method.value, steps=steps, lam=float(self.lam.value),
                         seed=self.seed, eval_every=max(steps // 8, 1),
                         snapshots=(steps,), progress=self._tick)
        self.last_run = run
        self.output.clear_output(wait=True)
        with self.output:
            import matplotlib.pyplot as plt

            samples, centers = run.snapshots[steps], ring_centers(8, RING_RADIUS)
            fig, (left, right) = plt.subplots(1, 2, figsize=(7.0, 3.2))
            left.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4)
            left.scatter(centers[:, 0], centers[:, 1], c="red", marker="x")
            left.set_aspect("equal")
            left.set_title(f"{run.method}, lam={run.lam:g}, step {steps}")
            right.plot(run.steps, run.modes, marker="o")
            right.set_xlabel("step")
            right.set_ylabel("modes covered")
            right.set_ylim(-0.3, 8.3)
            plt.show()
        self.summary.value = (f"{run.method}, lam={run.lam:g}, {steps} steps: "
                              f"{run.modes[-1]}/8 modes covered, "
                              f"high-quality share {run.high_quality[-1]:.2f}")
        return run


def ring_explorer(lam: float = 1.0, steps: int = 1000, method: str = "one_step") -> object:
    """The widget box of a new ``RingExplorer`` (its explorer is at ``box.explorer``)."""
    explorer = RingExplorer(lam, steps, method)
    explorer.widget.explorer = explorer
    return explorer.widget


if __name__ == "__main__":  # python -m lessons.gan memory BATCH W1,W2
    import json
    import sys

    if len(sys.argv) == 4 and sys.argv[1] == "memory":
        widths = tuple(int(h) for h in sys.argv[3].split(","))
        print(json.dumps(_peak_memory_here(int(sys.argv[2]), widths)))
    else:
        sys.exit("usage: python -m lessons.gan memory BATCH W1,W2")
