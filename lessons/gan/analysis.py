"""What ``lam`` does under one shared optimizer: each optimizer's step as the notebook writes it
(float64 NumPy) beside Keras 3's own optimizer, and the update ratios of Section 4's table.

Each optimizer's step, written the way the notebook writes it (float64, state starts at zero):
  sgd             w -= lr * g
  adam            Keras 3 (keras/src/optimizers/adam.py): m += (g - m)(1 - b1),
                  v += (g^2 - v)(1 - b2), alpha = lr sqrt(1 - b2^t) / (1 - b1^t),
                  w -= alpha m / (sqrt(v) + eps)   -- v *not* bias-corrected, so in terms of
                  m_hat, v_hat the epsilon is eps / sqrt(1 - b2^t) (3.2e-6 at t = 1 for b2 0.999)
  adam_textbook   w -= lr m_hat / (sqrt(v_hat) + eps)   -- the paper's form; *not* what Keras does
  rmsprop         Keras 3 (keras/src/optimizers/rmsprop.py): v = rho v + (1 - rho) g^2,
                  w -= lr g / sqrt(v + eps)   -- eps inside the square root
  rmsprop_keras2  multi-backend Keras 2.x (keras/optimizers.py, the Keras the post's reference
                  code imported): w -= lr g / (sqrt(v) + eps), eps = K.epsilon() = 1e-7 outside
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from lessons._core.checks import integer, number, one_of
from lessons._core.notebook import course_seed

__all__ = ["KERAS_OPTIMIZERS", "LAM_TABLE_ROWS", "LAM_TABLE_SCALES", "OPTIMIZER_FORMULAS",
           "LamTable", "OptimizerSettings", "adam_effective_epsilon", "keras_optimizer_path",
           "lam_ratio_table", "lam_update_ratio", "optimizer_formula"]

OPTIMIZER_FORMULAS = ("sgd", "adam", "adam_textbook", "rmsprop", "rmsprop_keras2")
KERAS_OPTIMIZERS = ("sgd", "adam", "rmsprop")  # the formulas Keras 3 itself can run


@dataclass(frozen=True)
class OptimizerSettings:
    """Hyper-parameters of the optimizers above (Keras 3's defaults; lr does not change a ratio).

    Args:
        learning_rate: step size (default 1e-3).
        beta_1, beta_2: Adam's moment decays (defaults 0.9, 0.999).
        rho: RMSprop's decay (default 0.9; the post's reference code uses 0.99).
        epsilon: the optimizers' epsilon (default 1e-7, also Keras 2's ``K.epsilon()``).
    """

    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999
    rho: float = 0.9
    epsilon: float = 1e-7


def _check_grads(grads) -> np.ndarray:
    grads = np.asarray(grads, dtype=np.float64)
    if grads.ndim != 2 or grads.shape[0] < 1 or grads.shape[1] < 1:
        raise ValueError(f"grads must have shape [steps >= 1, n >= 1], got {grads.shape}")
    return grads


def optimizer_formula(optimizer: str, grads, settings: OptimizerSettings | None = None):
    """The weights after each step of ``optimizer`` as the notebook writes it, float64.

    Args:
        optimizer: one of ``OPTIMIZER_FORMULAS`` (see the module docstring).
        grads: gradients [steps, n], one row per step; weights and state start at 0.
        settings: hyper-parameters (default ``OptimizerSettings()``, Keras 3's defaults).

    Returns the weights after steps 1..steps, float64 [steps, n].
    """
    one_of("optimizer", optimizer, OPTIMIZER_FORMULAS)
    grads = _check_grads(grads)
    s = settings or OptimizerSettings()
    w, m, v = (np.zeros(grads.shape[1]) for _ in range(3))
    path = []
    for t, g in enumerate(grads, 1):
        if optimizer == "sgd":
            w = w - s.learning_rate * g
        elif optimizer in ("adam", "adam_textbook"):
            m = m + (g - m) * (1 - s.beta_1)
            v = v + (g * g - v) * (1 - s.beta_2)
            if optimizer == "adam":
                alpha = s.learning_rate * math.sqrt(1 - s.beta_2**t) / (1 - s.beta_1**t)
                w = w - alpha * m / (np.sqrt(v) + s.epsilon)
            else:
                m_hat, v_hat = m / (1 - s.beta_1**t), v / (1 - s.beta_2**t)
                w = w - s.learning_rate * m_hat / (np.sqrt(v_hat) + s.epsilon)
        else:
            v = s.rho * v + (1 - s.rho) * g * g
            if optimizer == "rmsprop":
                w = w - s.learning_rate * g / np.sqrt(v + s.epsilon)
            else:
                w = w - s.learning_rate * g / (np.sqrt(v) + s.epsilon)
        path.append(w)
    return np.array(path)


def adam_effective_epsilon(step: int, beta_2: float = 0.999, epsilon: float = 1e-7) -> float:
    """Keras 3's Adam written with the bias-corrected v_hat has epsilon ``eps / sqrt(1 - b2^t)``.

    Args:
        step: optimizer step t, >= 1.
        beta_2: Adam's second-moment decay (default 0.999).
        epsilon: Keras's epsilon (default 1e-7).
    """
    step = integer("step", step)
    return epsilon / math.sqrt(1 - beta_2**step)


def keras_optimizer_path(optimizer: str, grads, settings: OptimizerSettings | None = None):
    """The weights after each step of Keras 3's own optimizer (float32), for the same inputs as
    ``optimizer_formula``.

    Args:
        optimizer: one of ``KERAS_OPTIMIZERS`` ("sgd", "adam", "rmsprop").
        grads: gradients [steps, n]; weights and state start at 0.
        settings: hyper-parameters (default ``OptimizerSettings()``).

    Returns float64 [steps, n].
    """
    one_of("optimizer", optimizer, KERAS_OPTIMIZERS)
    grads = _check_grads(grads)
    s = settings or OptimizerSettings()
    if optimizer == "sgd":
        opt = keras.optimizers.SGD(s.learning_rate)
    elif optimizer == "adam":
        opt = keras.optimizers.Adam(s.learning_rate, beta_1=s.beta_1, beta_2=s.beta_2,
                                    epsilon=s.epsilon)
    else:
        opt = keras.optimizers.RMSprop(s.learning_rate, rho=s.rho, epsilon=s.epsilon)
    w = keras.Variable(np.zeros(grads.shape[1], np.float32))
    opt.build([w])
    path = []
    for g in grads:
        opt.apply_gradients([(tf.constant(g, tf.float32), w)])
        path.append(w.numpy().astype(np.float64))
    return np.array(path)


def lam_update_ratio(lam: float, optimizer: str = "sgd", grad_scale: float = 1.0,
                     steps: int = 1, seed: int | None = None, implementation: str = "keras",
                     settings: OptimizerSettings | None = None) -> dict[str, float]:
    """What multiplying G's gradient by ``lam`` does to G's step under one shared optimizer.

    Two weight vectors (a "D" and a "G" part, 16 entries each) get the same random gradients
    (times ``grad_scale``) for ``steps`` steps, once with G's gradient times ``lam`` and once
    without. Returns the ratio of the total update norms, for G ("g") and for D ("d").
    Under SGD the G ratio is exactly ``lam``; Adam and RMSprop divide by the gradient's own
    scale, so ``lam`` cancels except where the gradient is comparable to their epsilon.

    Args:
        lam: G's gradient weight, > 0.
        optimizer: "sgd" (default), "adam" or "rmsprop"; with ``implementation="formula"`` also
            "adam_textbook" and "rmsprop_keras2" (see ``OPTIMIZER_FORMULAS``).
        grad_scale: size of the gradients, > 0 (default 1.0).
        steps: optimizer steps, >= 1 (default 1).
        seed: seeds the gradients (default None: the course seed).
        implementation: "keras" (Keras 3's optimizer, float32; default) or "formula" (float64).
        settings: hyper-parameters (default ``OptimizerSettings()``: Keras 3's defaults).
    """
    lam = number("lam", lam, low=0.0, low_open=True)
    one_of("implementation", implementation, ("keras", "formula"))
    one_of("optimizer", optimizer,
           KERAS_OPTIMIZERS if implementation == "keras" else OPTIMIZER_FORMULAS)
    grad_scale = number("grad_scale", grad_scale, low=0.0, low_open=True)
    steps = integer("steps", steps)
    grads = grad_scale * np.random.default_rng(course_seed(seed)).standard_normal((steps, 32))
    run = keras_optimizer_path if implementation == "keras" else optimizer_formula

    def total_update(weight):  # D = entries 0..15, G = entries 16..31
        scaled = np.concatenate([grads[:, :16], weight * grads[:, 16:]], axis=1)
        final = run(optimizer, scaled, settings)[-1]
        return np.linalg.norm(final[:16]), np.linalg.norm(final[16:])

    d1, g1 = total_update(1.0)
    dl, gl = total_update(lam)
    return {"d": float(dl / d1), "g": float(gl / g1)}


# (label, optimizer, rho) of the table's rows; Adam runs with Keras's defaults, RMSprop with the
# reference code's rho 0.99 (the learning rate cancels from every ratio)
LAM_TABLE_ROWS = (
    ("SGD", "sgd", 0.9),
    ("Adam, Keras 3", "adam", 0.9),
    ("Adam, textbook eps (not Keras)", "adam_textbook", 0.9),
    ("RMSprop, Keras 3 (eps in sqrt)", "rmsprop", 0.99),
    ("RMSprop, Keras 2 (reference code)", "rmsprop_keras2", 0.99),
)
LAM_TABLE_SCALES = (1.0, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8)


@dataclass(frozen=True)
class LamTable:
    """G's update ratio (with ``lam`` over without) per optimizer row and gradient size."""

    lam: float
    steps: int
    seed: int
    implementation: str  # "formula" (float64) or "keras" (Keras 3's optimizers, float32)
    scales: tuple[float, ...]
    rows: dict  # label -> (optimizer, rho, ratios tuple)

    def ratio(self, optimizer: str, scale: float) -> float:
        """The ratio of the row running ``optimizer`` at gradient size ``scale``."""
        for opt, _, ratios in self.rows.values():
            if opt == optimizer:
                return ratios[self.scales.index(scale)]
        raise ValueError(f"optimizer {optimizer!r} has no row in this table")


def lam_ratio_table(lam: float = 2.0, rows=LAM_TABLE_ROWS, scales=LAM_TABLE_SCALES,
                    steps: int = 5, seed: int | None = None,
                    implementation: str = "formula") -> LamTable:
    """``lam_update_ratio`` for every row and gradient size: the notebook's Section 4 table.

    Args:
        lam: G's gradient weight, > 0 (default 2.0).
        rows: (label, optimizer, rho) triples (default ``LAM_TABLE_ROWS``); with
            ``implementation="keras"`` rows Keras 3 cannot run (textbook Adam, Keras 2's RMSprop)
            are left out.
        scales: gradient sizes (default ``LAM_TABLE_SCALES``).
        steps: optimizer steps, >= 1 (default 5).
        seed: seeds the gradients (default None: the course seed).
        implementation: "formula" (float64, default) or "keras" (Keras 3, float32).
    """
    seed = course_seed(seed)
    table = {}
    for label, optimizer, rho in rows:
        if implementation == "keras" and optimizer not in KERAS_OPTIMIZERS:
            continue
        settings = OptimizerSettings(rho=rho)
        table[label] = (optimizer, rho, tuple(
            lam_update_ratio(lam, optimizer, s, steps, seed, implementation, settings)["g"]
            for s in scales))
    if not table:
        raise ValueError("rows must name at least one optimizer this implementation can run")
    return LamTable(float(lam), steps, seed, implementation, tuple(scales), table)
