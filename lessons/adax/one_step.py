"""One AdaX update from a chosen state: the late-step demo and epsilon's effect on the first step.

Running one update at step 2,000,000 needs no 2 million steps before it: the optimizer's step
counter and its state (m, v_hat) are set directly (`step_from_state`).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from lessons._core.checks import integer, number
from lessons.adax.analysis import DEFAULTS, _steps, new_gradient_weight
from lessons.adax.optimizer import AdaX

__all__ = ["OneMoreGradient", "epsilon_effect", "one_more_gradient", "step_from_state"]


def step_from_state(step: int, weight, gradient, m, v_hat, **adax_kwargs):
    """Apply one AdaX update at an arbitrary step without running the steps before it.

    Sets the optimizer's iteration counter to ``step - 1`` and its state to ``(m, v_hat)``.

    Args:
        step: the 1-based step t of this update (>= 1).
        weight, gradient, m, v_hat: float32 arrays of one shape.
        **adax_kwargs: passed to `AdaX` (beta_1, beta_2, epsilon, learning_rate).
    Returns:
        (weight, m, v_hat) after the update, as float32 NumPy arrays.
    """
    step = integer("step", step)
    var = keras.Variable(np.asarray(weight, np.float32), name="w")
    opt = AdaX(**adax_kwargs)
    opt.build([var])
    opt.iterations.assign(step - 1)
    opt.momentum(var).assign(np.asarray(m, np.float32))
    opt.second_moment(var).assign(np.asarray(v_hat, np.float32))
    opt.apply_gradients([(np.asarray(gradient, np.float32), var)])
    return var.numpy(), opt.momentum(var).numpy(), opt.second_moment(var).numpy()


def _literal_float32_vhat(step: int, v_hat: float, gradient: float, beta_2: float) -> float:
    """One step of the literal rule in float32, from ``v_{t-1} = v_hat ((1 + b2)^(t-1) - 1)``."""
    f32 = np.float32
    base = f32(1.0 + beta_2)
    with np.errstate(over="ignore", invalid="ignore"):
        v = f32(v_hat) * (base ** f32(step - 1) - f32(1.0))
        v = base * v + f32(beta_2) * f32(gradient) ** 2
        return float(v / (base ** f32(step) - f32(1.0)))


@dataclass(frozen=True)
class OneMoreGradient:
    """One AdaX step at several late steps, from the same state, with a gradient g^2 != v_hat."""

    steps: np.ndarray  # [n] the 1-based steps t
    gradient: float
    v_hat_before: float
    weight: np.ndarray  # [n] 1 - beta2_hat_t, float64
    v_hat_exact: np.ndarray  # [n] the literal rule in float64 (exact to ~1e-16)
    v_hat_adax: np.ndarray  # [n] adax.AdaX (float32 TensorFlow)
    v_hat_literal_float32: np.ndarray  # [n] the literal rule in float32 (NaN once it overflows)


def one_more_gradient(steps=(100, 10_000, 100_000, 2_000_000), gradient: float = 3.0,
                      v_hat: float = 0.25, m: float = 0.1) -> OneMoreGradient:
    """Feed one gradient into AdaX's state (m, v_hat) at each of ``steps`` (default beta_2 1e-4).

    ``gradient**2`` must differ from ``v_hat``, or v_hat would stay put at any step and the demo
    would show nothing.

    Args:
        steps: 1-based steps t >= 1 (default 100, 10^4, 10^5 and 2,000,000, the last past the
            float32 overflow of (1 + b2)^t at 887,126).
        gradient: the gradient fed at each step (default 3.0, g^2 = 9 = 36 v_hat).
        v_hat: the second moment before the step, > 0 (default 0.25).
        m: the momentum before the step (default 0.1).
    """
    t = _steps(steps).astype(np.int64).ravel()
    v_hat = number("v_hat", v_hat, low=0.0, low_open=True)
    gradient = number("gradient", gradient)
    if gradient**2 == v_hat:
        raise ValueError(f"gradient must satisfy gradient**2 != v_hat ({v_hat}), got {gradient}")
    b2 = DEFAULTS["adax"]
    weight = np.atleast_1d(new_gradient_weight(t, "adax", b2))
    exact = v_hat + weight * (gradient**2 - v_hat)
    ours = [step_from_state(int(s), [0.0], [gradient], [m], [v_hat])[2][0] for s in t]
    literal = [_literal_float32_vhat(int(s), v_hat, gradient, b2) for s in t]
    return OneMoreGradient(t, gradient, v_hat, weight, exact,
                           np.asarray(ours, np.float64), np.asarray(literal, np.float64))


def epsilon_effect(epsilon: float = 1e-3,
                   gradient_sizes=(1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)) -> dict:
    """How much epsilon shrinks AdaX's first step, per gradient size.

    Runs one `AdaX` step (t = 1, so v_hat = g^2) with ``epsilon`` and with epsilon = 0 and returns
    their ratio, ``|g| / (|g| + epsilon)`` since epsilon sits outside the root; for comparison
    also the post's ``sqrt(v_hat + epsilon)`` form, ``|g| / sqrt(g^2 + epsilon)`` (a formula).

    Args:
        epsilon: AdaX's epsilon >= 0 (default 1e-3).
        gradient_sizes: gradients > 0 (default 1e-6 .. 1).
    Returns:
        ``{"gradient": [n], "adax": [n] ratio measured, "inside_root": [n] ratio of the post's
        form}``.
    """
    g = np.asarray(gradient_sizes, np.float64).ravel()
    if g.size == 0 or not np.all((g > 0) & np.isfinite(g)):
        raise ValueError(f"gradient_sizes must be finite numbers > 0, got {gradient_sizes}")
    epsilon = number("epsilon", epsilon, low=0.0)
    zeros = np.zeros_like(g)
    steps = [step_from_state(1, zeros, g, zeros, zeros, learning_rate=1.0, epsilon=e)[0]
             for e in (epsilon, 0.0)]
    return {"gradient": g, "adax": steps[0].astype(np.float64) / steps[1],
            "inside_root": g / np.sqrt(g**2 + epsilon)}

