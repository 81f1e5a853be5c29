"""The gradient split, checked numerically: the zero term moves G only, and the single loss's
gradients equal the separately computed D and G gradients (the notebook's Sections 2 and 3)."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from lessons._core.checks import integer, number
from lessons._core.data import sample_ring
from lessons._core.notebook import course_seed
from lessons.gan.coverage import RING_STD
from lessons.gan.losses import d_hinge_loss, g_hinge_loss, one_step_loss, zero_loss
from lessons.gan.models import make_discriminator, make_generator

__all__ = ["SplitCheck", "ZeroTerm", "demo_setup", "gradient_split", "split_check", "zero_term"]


def demo_setup(batch_size: int = 256, seed: int | None = None):
    """Two fresh ring-sized networks and one batch: ``(generator, discriminator, x_real, z)``.

    Args:
        batch_size: real samples and noise vectors, >= 1 (default 256).
        seed: seeds the weights, the data and the noise (default None: the course seed).
    """
    batch_size = integer("batch_size", batch_size)
    seed = course_seed(seed)
    keras.utils.set_random_seed(seed)
    gen, disc = make_generator(2, 2), make_discriminator(2)
    x = tf.constant(sample_ring(batch_size, std=RING_STD, seed=seed))
    z = np.random.default_rng(seed + 1).standard_normal((batch_size, 2)).astype(np.float32)
    return gen, disc, x, tf.constant(z)


@dataclass(frozen=True)
class ZeroTerm:
    """The zero term ``mean(D(G(z)) - D(G_ng(z)))``: its value and gradient norm per network."""

    value: float
    grad_norm_d: float
    grad_norm_g: float


def zero_term(generator, discriminator, x_real, z) -> ZeroTerm:
    """Value of the zero loss ``mean(D(G(z)) - D(G_ng(z)))`` and its gradient norm per network.

    Args:
        generator, discriminator: the two Keras models.
        x_real: real samples [batch, dim] (unused by the zero term; kept for a uniform call).
        z: noise [batch, latent].
    """
    d_vars, g_vars = discriminator.trainable_variables, generator.trainable_variables
    with tf.GradientTape() as tape:
        fake = generator(z)
        zero = zero_loss(discriminator(fake), discriminator(tf.stop_gradient(fake)))
    grads = tape.gradient(zero, d_vars + g_vars)
    grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, d_vars + g_vars, strict=True)]
    d_norm = float(tf.linalg.global_norm(grads[: len(d_vars)]))
    g_norm = float(tf.linalg.global_norm(grads[len(d_vars):]))
    return ZeroTerm(float(zero), d_norm, g_norm)


def _largest_difference(a, b) -> tuple[float, float]:
    """Largest |a - b| over lists of arrays, and that over the largest |b| entry."""
    diff = max(float(np.max(np.abs(u - v))) for u, v in zip(a, b, strict=True))
    scale = max(float(np.max(np.abs(v))) for v in b)
    return diff, diff / scale if scale > 0 else diff


def gradient_split(generator, discriminator, x_real, z, lam: float = 1.0) -> dict:
    """Gradients of ``one_step_loss`` next to the separately computed D and G gradients.

    Returns a dict with "loss" (the single loss's value), "d_loss" (the D loss's value),
    "one_step" (grads of the single loss w.r.t. D's then G's weights), "separate" (grads of the
    D loss w.r.t. D's weights, then lam * grads of mean(D(G(z))) w.r.t. G's weights),
    "max_abs_diff" (largest difference between the two lists), "max_rel_diff" (that over the
    largest separate gradient entry) and the same per network ("max_rel_diff_d", "_g").
    D's single-loss gradient adds and subtracts lam * grad_D E[D(G(z))], so in float32 it carries
    rounding noise that grows with lam; G's gradient is computed the same way both times.

    Args:
        generator, discriminator: the two Keras models.
        x_real: real samples [batch, dim].
        z: noise [batch, latent].
        lam: the single loss's G weight, >= 0 (default 1.0).
    """
    lam = number("lam", lam, low=0.0)
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
    diff, rel_all = _largest_difference(one, sep)
    return {"loss": float(loss), "d_loss": float(d_loss), "one_step": one, "separate": sep,
            "max_abs_diff": diff, "max_rel_diff": rel_all,
            "max_rel_diff_d": _largest_difference(one[:n_d], sep[:n_d])[1],
            "max_rel_diff_g": _largest_difference(one[n_d:], sep[n_d:])[1]}


@dataclass(frozen=True)
class SplitCheck:
    """``gradient_split`` at several lam: how far the single loss's gradients are from the
    separately computed ones (relative to the largest separate gradient entry)."""

    lams: tuple[float, ...]
    value_diff: tuple[float, ...]  # |single loss value - D loss value|
    rel_diff_d: tuple[float, ...]
    rel_diff_g: tuple[float, ...]


def split_check(generator, discriminator, x_real, z, lams=(0.5, 1.0, 2.0)) -> SplitCheck:
    """``gradient_split`` for each lam in ``lams`` (default (0.5, 1.0, 2.0)), summarised.

    Args:
        generator, discriminator, x_real, z: as ``gradient_split`` (e.g. ``*demo_setup()``).
        lams: G weights to check, each >= 0 (default (0.5, 1.0, 2.0)).
    """
    lams = tuple(lams)
    if not lams:
        raise ValueError("lams must name at least one lam >= 0, got ()")
    splits = [gradient_split(generator, discriminator, x_real, z, lam) for lam in lams]
    return SplitCheck(tuple(float(lam) for lam in lams),
                      tuple(abs(s["loss"] - s["d_loss"]) for s in splits),
                      tuple(s["max_rel_diff_d"] for s in splits),
                      tuple(s["max_rel_diff_g"] for s in splits))
