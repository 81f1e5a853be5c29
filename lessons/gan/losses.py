"""Lesson 02's losses: the hinge GAN in the post's sign convention, and the single loss.

D minimises ``E[relu(1 + D(x))] + E[relu(1 - D(G(z)))]`` (real data scored low, fakes high); G
minimises ``E[D(G(z))]``. With ``G_ng(z) = stop_gradient(G(z))`` the single loss

    L = E[relu(1 + D(x))] + E[relu(1 - D(G_ng(z)))] + lam * E[D(G(z)) - D(G_ng(z))]

has the value of the D loss: its last term (``zero_loss``) is 0 in value, has no gradient for D
and gives G ``lam`` times the gradient of ``E[D(G(z))]``.
"""

from __future__ import annotations

from keras import ops

from lessons._core.checks import number

__all__ = ["d_hinge_loss", "g_hinge_loss", "one_step_loss", "zero_loss"]


def d_hinge_loss(d_real, d_fake):
    """The discriminator's hinge loss ``mean(relu(1 + d_real)) + mean(relu(1 - d_fake))``."""
    return ops.mean(ops.relu(1.0 + d_real)) + ops.mean(ops.relu(1.0 - d_fake))


def g_hinge_loss(d_fake):
    """The generator's loss ``mean(d_fake)`` (G pushes its samples towards D's "real" side)."""
    return ops.mean(d_fake)


def zero_loss(d_fake, d_fake_ng):
    """The zero term ``mean(d_fake - d_fake_ng)``: 0 in value, since ``d_fake_ng`` is ``d_fake``
    computed from ``stop_gradient(G(z))``; its gradient reaches G only through ``d_fake``."""
    return ops.mean(d_fake - d_fake_ng)


def one_step_loss(d_real, d_fake, d_fake_ng, lam=1.0):
    """The post's single GAN loss: the D loss plus ``lam`` times the zero term.

    Args:
        d_real: D(x) on real data, shape [batch_real, ...].
        d_fake: D(G(z)), shape [batch_fake, ...], gradients flowing into both networks.
        d_fake_ng: D(stop_gradient(G(z))), the same shape (and the same value) as ``d_fake``.
        lam: weight of the generator term, >= 0 (default 1.0): the G:D learning-rate ratio
            under plain SGD.
    """
    lam = number("lam", lam, low=0.0)
    _check_scores(d_real, d_fake, d_fake_ng)
    d_loss = ops.mean(ops.relu(1.0 + d_real)) + ops.mean(ops.relu(1.0 - d_fake_ng))
    zero = ops.mean(d_fake - d_fake_ng)  # 0 in value; D's two gradients cancel, G's remains
    return d_loss + lam * zero


def _check_scores(d_real, d_fake, d_fake_ng) -> None:
    real, fake, fake_ng = tuple(d_real.shape), tuple(d_fake.shape), tuple(d_fake_ng.shape)
    if fake != fake_ng:
        raise ValueError(f"d_fake and d_fake_ng must have the same shape, got {fake} and {fake_ng}")
    if len(real) != len(fake) or real[1:] != fake[1:]:
        raise ValueError(
            f"d_real and d_fake must agree in every axis but the batch, got {real} and {fake}")
