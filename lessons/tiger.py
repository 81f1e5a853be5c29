"""Lesson 04: Tiger's weight-decay fixed point and the +-1/lambda embeddings (kexue.fm/archives/9736).

The post's eq. (1): ``m = beta m + (1 - beta) g`` and ``theta -= lr (sign(m) + lambda theta)``. A
token that is absent from the batch has ``g = 0`` but its momentum only decays, so ``sign(m)`` stays
+-1 until ``m`` underflows to zero; with a constant sign the iteration converges geometrically, at
rate ``1 - lr lambda`` per step, to the fixed point ``theta* = -sign(m) / lambda``. The Tiger the
author released (github.com/bojone/tiger, ``tiger.py``) scales the step by the RMS of each embedding
row (of each other tensor): same fixed point, reached along a logistic curve at rate ``lr``.

Public API:
- ``Tiger``: eq. (1) as a Keras 3 optimizer (serializable), with an optional lazy mode.
- ``ReleasedTiger``: ``tiger.py``'s rule (relative step, bias/LayerNorm branch, NaN shrink,
  gradient accumulation through the momentum, piecewise-linear schedule) in Keras 3.
- ``fixed_point``, ``closed_form``, ``simulate``, ``steps_to_fraction``,
  ``steps_until_momentum_underflow``: the scalar analysis of eq. (1).
- ``released_row_simulate``, ``logistic_form``, ``released_steps_to_fraction``,
  ``drift_comparison``, ``plot_drift_comparison``: the same for the released rule.
- ``fixed_point_explorer``: a widget redrawing one absent token's trajectory.
- ``embedding_experiment``: a next-character model on People's Daily trained with Tiger, Lion,
  AdamW, the three remedies and the released Tiger; ``summarize``, ``remedy_verdicts`` and the
  ``check_*`` claim checks read the runs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from numbers import Real

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from lessons.claims import Claim, check
from lessons.notebook import course_seed, figure_png

# ---------------------------------------------------------------------------------------------
# The optimizer


@keras.saving.register_keras_serializable(package="lessons")
class Tiger(keras.optimizers.Optimizer):
    """Tiger: sign of a single momentum, with decoupled weight decay inside the rule.

    Update per variable (``lambda`` = ``weight_decay``):

        m     = beta * m + (1 - beta) * g
        theta = theta - lr * (sign(m) + lambda * theta)

    The decay is applied by ``update_step`` itself (and only there), so it is applied exactly once
    per step, uses the pre-update ``theta`` and is skipped together with the sign step for lazy
    rows. Variables excluded with ``exclude_from_weight_decay`` get ``lambda = 0``.

    Args:
        learning_rate: A float, a `keras.optimizers.schedules.LearningRateSchedule` instance, or a
            callable that takes no arguments and returns the value to use. Defaults to `0.001`.
        beta: Momentum decay in [0, 1). Defaults to `0.965` (the Tiger author's default).
        weight_decay: Decay rate `lambda` >= 0 (or `None` for 0). Defaults to `0.01`, which puts
            the fixed point of an absent token at +-100.
        lazy: If `True`, rows (first axis) whose gradient is entirely zero this step keep both
            their momentum and their weights unchanged (the post's first remedy). Works for dense
            gradients and for the `tf.IndexedSlices` an `Embedding` produces. Defaults to `False`.
        **base_optimizer_kwargs: `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`,
            `ema_momentum`, `ema_overwrite_frequency`, `loss_scale_factor`,
            `gradient_accumulation_steps`, `name`, as for every Keras optimizer.

    References:
    - Su Jianlin, "Tiger: a tight-fisted optimizer", https://kexue.fm/archives/9512
    - Su Jianlin, "Embedding anomalies under Lion/Tiger", https://kexue.fm/archives/9736
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta=0.965,
        weight_decay=0.01,
        lazy=False,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        if isinstance(learning_rate, Real) and not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if not (isinstance(beta, Real) and 0.0 <= beta < 1.0):
            raise ValueError(f"beta must be in [0, 1), got {beta}")
        if weight_decay is not None and not (isinstance(weight_decay, Real) and weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0 (or None), got {weight_decay}")
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        self.beta = float(beta)
        self.lazy = bool(lazy)

    def build(self, var_list):
        """Create one momentum slot per variable."""
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def _apply_weight_decay(self, variables):
        # The base class would decay every variable before `update_step`; Tiger's rule does it
        # inside `update_step` instead (needed for lazy rows), so the base pass must do nothing.
        return

    def update_step(self, gradient, variable, learning_rate):
        """One Tiger step for one variable."""
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = _dense_gradient(gradient, variable.dtype)
        beta = ops.cast(self.beta, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]

        new_m = ops.add(ops.multiply(m, beta), ops.multiply(gradient, 1.0 - beta))
        direction = ops.sign(new_m)
        if self.weight_decay and self._use_weight_decay(variable):
            wd = ops.cast(self.weight_decay, variable.dtype)
            direction = ops.add(direction, ops.multiply(variable, wd))
        new_variable = ops.subtract(variable, ops.multiply(lr, direction))

        if self.lazy:
            touched = _touched_rows(gradient)  # broadcastable to the variable's shape
            new_m = ops.where(touched, new_m, m)
            new_variable = ops.where(touched, new_variable, variable)
        self.assign(m, new_m)
        self.assign(variable, new_variable)

    def get_config(self):
        config = super().get_config()
        config.update({"beta": self.beta, "lazy": self.lazy})
        return config


@keras.saving.register_keras_serializable(package="lessons")
class ReleasedTiger(keras.optimizers.Optimizer):
    """Tiger as released in github.com/bojone/tiger (``tiger.py``, TF 1.15), ported to Keras 3.

    The post's eq. (1) with a constant ``eta`` is ``Tiger``; the released optimizer differs in
    four ways, each taken from ``tiger.py``'s ``_prepare`` and ``_resource_apply``:

    1. A LAMB-like relative learning rate. The step of a variable whose path contains
       "embeddings" (a Keras ``Embedding``) is ``lr * RMS(row)`` per row (RMS over the last
       axis); any other variable's step is ``lr * RMS(variable)`` over the whole tensor. The RMS
       is ``sqrt(mean(theta^2))`` of the weights before the update, with no epsilon and no
       clipping (a tensor of zeros never moves).
    2. A variable whose path contains "bias", "beta" or "gamma" (biases, LayerNorm/BatchNorm
       offsets and scales) gets ``0.5 * lr`` as an absolute step and no weight decay. This test
       comes first, so e.g. "embeddings_bias" is a bias.
    3. Gradient accumulation through the momentum: with ``k = grad_accum_steps`` micro-steps per
       update, ``m <- beta m + (1 - beta) g / k`` on the first micro-step of each update and
       ``m <- m + (1 - beta) g / k`` on the others; the weights move only on the last
       micro-step (the learning rate is 0 on the others).
    4. A NaN in a variable's gradient: its momentum is kept and the variable is shrunk,
       ``theta <- shrink_ratio * theta``, or ``gamma <- 1 + shrink_ratio * (gamma - 1)`` towards
       1 for a "gamma" (on any micro-step, whatever the learning rate). Other variables of the
       same step update normally. An infinite gradient is not caught.

    With ``t`` the micro-step count (``iterations``, from 0) and ``s(t)`` the piecewise-linear
    ``lr_schedule``, one micro-step of a variable ``theta`` is

        m     = b1 * m + (1 - beta) / k * g           (b1 = beta if t % k == 0 else 1)
        theta = theta - lr_t * (sign(m) + lambda * theta)
        lr_t  = learning_rate * s(t) * RMS  if (t + 1) % k == 0 else 0

    With a constant sign(m) the fixed point is still ``-sign(m) / lambda``, but the step is
    proportional to the row's own RMS: a row that drifts away from 0 grows like
    ``exp(learning_rate * t)`` and saturates at ``1/lambda`` (a logistic curve, see
    ``released_row_simulate``), not geometrically at rate ``eta * lambda``.

    Args:
        learning_rate: The relative learning rate (a float, or a Keras
            `LearningRateSchedule`). Defaults to `0.001` (``tiger.py``'s default; its README
            uses `1.76e-3`).
        beta: Momentum decay in [0, 1). Defaults to `0.965`.
        weight_decay: Decay rate `lambda` >= 0 (or `None` for 0). Defaults to `0.01`.
        grad_accum_steps: Micro-steps per update, an int >= 1. Defaults to `1`.
        lr_schedule: ``{micro-step: multiplier}``, linear in between and constant after the
            last key; when the first key is not 0 the schedule starts at (0, 0), a warm-up.
            Defaults to `None`, i.e. ``{0: 1}`` (constant).
        shrink_ratio: Factor in (0, 1] applied to a variable whose gradient holds a NaN.
            Defaults to `0.99`.
        **base_optimizer_kwargs: `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`,
            `ema_momentum`, `ema_overwrite_frequency`, `loss_scale_factor`, `name`, as for every
            Keras optimizer (Keras's own `gradient_accumulation_steps` may not be combined with
            `grad_accum_steps` > 1).

    References:
    - Su Jianlin, Tiger, https://github.com/bojone/tiger (``tiger.py``, ``README.md``)
    - Su Jianlin, "Tiger: a tight-fisted optimizer", https://kexue.fm/archives/9512
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta=0.965,
        weight_decay=0.01,
        grad_accum_steps=1,
        lr_schedule=None,
        shrink_ratio=0.99,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        if isinstance(learning_rate, Real) and not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if not (isinstance(beta, Real) and 0.0 <= beta < 1.0):
            raise ValueError(f"beta must be in [0, 1), got {beta}")
        if weight_decay is not None and not (isinstance(weight_decay, Real) and weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0 (or None), got {weight_decay}")
        if isinstance(grad_accum_steps, bool) or not isinstance(grad_accum_steps, int) \
                or grad_accum_steps < 1:
            raise ValueError(f"grad_accum_steps must be an int >= 1, got {grad_accum_steps!r}")
        if grad_accum_steps > 1 and gradient_accumulation_steps:
            raise ValueError("grad_accum_steps > 1 cannot be combined with Keras's "
                             f"gradient_accumulation_steps (got {gradient_accumulation_steps})")
        if not (isinstance(shrink_ratio, Real) and 0.0 < shrink_ratio <= 1.0):
            raise ValueError(f"shrink_ratio must be in (0, 1], got {shrink_ratio}")
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        self.beta = float(beta)
        self.grad_accum_steps = grad_accum_steps
        self.lr_schedule = _check_schedule({0: 1.0} if lr_schedule is None else lr_schedule)
        self.shrink_ratio = float(shrink_ratio)

    def build(self, var_list):
        """Create one momentum slot per variable."""
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")
        # The TF backend hands update_step a tf.Variable without Keras's path: classify now.
        self._kinds = [released_variable_kind(v.path) for v in var_list]

    def _apply_weight_decay(self, variables):
        return  # the decay is part of update_step, scaled like the sign step

    def update_step(self, gradient, variable, learning_rate):
        """One micro-step of ``tiger.py``'s rule for one variable."""
        dtype = variable.dtype
        k = self.grad_accum_steps
        gradient = _dense_gradient(gradient, dtype)
        is_nan = ops.any(ops.isnan(gradient))
        keep_m = is_nan  # b1 = 1: the momentum is kept (NaN) or accumulates (not a first step)
        lr = ops.cast(learning_rate, dtype)
        if self.lr_schedule != {0: 1.0}:  # the default schedule is the constant 1
            lr = lr * ops.cast(_piecewise_linear(self.iterations, self.lr_schedule), dtype)
        if k > 1:  # Python-level branches keep the k = 1 graph small (and XLA compiles faster)
            t = ops.cast(self.iterations, "int64")
            keep_m = ops.logical_or(keep_m, ops.not_equal(t % k, 0))
            lr = ops.where(ops.equal((t + 1) % k, 0), lr, ops.zeros_like(lr))
        b1 = ops.cast(ops.where(keep_m, 1.0, self.beta), dtype)
        b2 = ops.cast((1.0 - self.beta) / k, dtype)
        gradient = ops.where(is_nan, ops.zeros_like(gradient), gradient)

        decay, center = self.weight_decay or 0.0, 0.0
        index = self._get_variable_index(variable)
        kind = self._kinds[index]
        if kind in ("bias", "gamma"):
            lr, decay = lr * 0.5, 0.0
            center = 1.0 if kind == "gamma" else 0.0
        elif kind == "embeddings":
            lr = lr * _rms(variable, axis=-1)
        else:
            lr = lr * _rms(variable)
        if not self._use_weight_decay(variable):
            decay = 0.0

        m = self._momentums[index]
        new_m = ops.add(ops.multiply(b1, m), ops.multiply(b2, gradient))
        step = ops.sign(new_m)
        if decay:
            step = ops.add(step, ops.multiply(ops.cast(decay, dtype), variable))
        shrunk = ops.add(ops.multiply(ops.subtract(variable, center), self.shrink_ratio), center)
        new_variable = ops.where(is_nan, shrunk, ops.subtract(variable, ops.multiply(step, lr)))
        self.assign(m, new_m)
        self.assign(variable, new_variable)

    def get_config(self):
        config = super().get_config()
        config.update({
            "beta": self.beta,
            "grad_accum_steps": self.grad_accum_steps,
            "lr_schedule": {str(k): v for k, v in self.lr_schedule.items()},
            "shrink_ratio": self.shrink_ratio,
        })
        return config


def released_variable_kind(path: str) -> str:
    """How ``tiger.py`` treats a variable, from its name/path (its ``re.findall`` tests, in order).

    Returns "gamma" (the path contains "gamma": 0.5 lr, no decay, NaN-shrink towards 1), "bias"
    (contains "bias" or "beta": 0.5 lr, no decay), "embeddings" (contains "embeddings": per-row
    RMS) or "tensor" (anything else: RMS of the whole tensor).
    """
    if re.search("bias|beta|gamma", path):
        return "gamma" if "gamma" in path else "bias"
    return "embeddings" if "embeddings" in path else "tensor"


def _rms(x, axis=None):
    return ops.sqrt(ops.mean(ops.square(x), axis=axis, keepdims=axis is not None))


def _check_schedule(schedule):
    """{int step >= 0: float} from a dict whose keys may be strings (JSON)."""
    if not isinstance(schedule, dict) or not schedule:
        raise ValueError(f"lr_schedule must be a non-empty dict {{step: multiplier}}, got "
                         f"{schedule!r}")
    out = {}
    for key, value in schedule.items():
        step = int(key)
        if step < 0 or not isinstance(value, Real) or not value >= 0:
            raise ValueError(f"lr_schedule entries must be step >= 0: multiplier >= 0, got "
                             f"{key!r}: {value!r}")
        out[step] = float(value)
    return dict(sorted(out.items()))


def _schedule_points(schedule):
    points = sorted(schedule.items())
    return points if points[0][0] == 0 else [(0, 0.0), *points]


def _piecewise_linear(t, schedule):
    """``tiger.py``'s ``piecewise_linear(t, schedule, from_zero=True)`` in Keras ops (float32)."""
    points = _schedule_points(schedule)
    t = ops.cast(t, "float32")
    x = ops.cast(points[0][1], "float32")
    for i, (t_begin, x_begin_value) in enumerate(points):
        x_begin = x
        if i + 1 < len(points):
            slope = (points[i + 1][1] - x_begin_value) / (points[i + 1][0] - t_begin)
            x = x_begin_value + slope * (t - t_begin)
        else:
            x = ops.cast(x_begin_value, "float32")
        x = ops.where(t >= t_begin, x, x_begin)
    return x


def piecewise_linear(t, schedule) -> np.ndarray:
    """The learning-rate multiplier of ``tiger.py``'s ``lr_schedule`` at micro-step(s) ``t``
    (float64 NumPy): linear between the keys, constant after the last; (0, 0) is prepended
    when the first key is not 0.

    Args:
        t: micro-step(s) >= 0 (scalar or array).
        schedule: ``{step: multiplier}``, e.g. the README's ``{40000: 1, 160000: 0.5}``.
    """
    points = _schedule_points(_check_schedule(schedule))
    steps, values = zip(*points, strict=True)
    return np.interp(np.asarray(t, dtype=np.float64), steps, values)


def _dense_gradient(gradient, dtype):
    """IndexedSlices (from an Embedding) -> a dense tensor; repeated ids are summed."""
    if isinstance(gradient, tf.IndexedSlices):
        gradient = tf.convert_to_tensor(gradient)
    return ops.cast(gradient, dtype)


def _touched_rows(gradient):
    """Boolean mask, True where a first-axis row has any non-zero gradient entry.

    Shape [rows, 1, ..., 1] for a variable of rank >= 2, the gradient's own shape otherwise."""
    nonzero = ops.not_equal(gradient, 0)
    rank = len(gradient.shape)
    if rank < 2:
        return nonzero
    return ops.any(nonzero, axis=tuple(range(1, rank)), keepdims=True)


# ---------------------------------------------------------------------------------------------
# The scalar analysis


def _check_lr_wd(lr, weight_decay, *, positive_wd=False):
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if positive_wd and not weight_decay > 0:
        raise ValueError(f"weight_decay must be > 0 (no fixed point without decay), got {weight_decay}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")


def _check_sign(sign):
    sign = np.asarray(sign, dtype=np.float64)
    if not np.all(np.isin(sign, (-1.0, 0.0, 1.0))):
        raise ValueError(f"sign must be -1, 0 or +1 (elementwise), got {sign}")
    return sign


def _check_steps(steps, name="steps"):
    if not isinstance(steps, int | np.integer) or steps < 1:
        raise ValueError(f"{name} must be an int >= 1, got {steps!r}")


def fixed_point(sign, weight_decay):
    """The fixed point ``-sign / weight_decay`` of ``theta -= lr (sign + weight_decay theta)``.

    Args:
        sign: -1, 0 or +1 (scalar or array): the constant sign(m) of an absent token.
        weight_decay: `lambda` > 0.
    """
    sign = _check_sign(sign)
    if not weight_decay > 0:
        raise ValueError(f"weight_decay must be > 0 (no fixed point without decay), got {weight_decay}")
    return -sign / weight_decay


def closed_form(theta0, lr, weight_decay, sign, steps):
    """theta after each of ``steps`` updates with a constant sign and learning rate.

    theta_t = theta* + (1 - lr lambda)^t (theta_0 - theta*), t = 1..steps, with
    theta* = -sign / lambda; for lambda = 0 it is the straight line theta_0 - lr sign t.

    Args:
        theta0: starting value (scalar or array).
        lr: learning rate > 0.
        weight_decay: `lambda` >= 0.
        sign: the constant sign(m), -1, 0 or +1 (scalar or array, broadcast with theta0).
        steps: number of updates >= 1.

    Returns:
        float64 array [steps, *broadcast shape]: theta_1 ... theta_steps.
    """
    _check_lr_wd(lr, weight_decay)
    sign = _check_sign(sign)
    _check_steps(steps)
    theta0 = np.asarray(theta0, dtype=np.float64)
    shape = np.broadcast_shapes(theta0.shape, sign.shape)
    t = np.arange(1, steps + 1, dtype=np.float64).reshape((steps,) + (1,) * len(shape))
    if weight_decay == 0:
        return theta0 - lr * sign * t
    star = -sign / weight_decay
    return star + (1.0 - lr * weight_decay) ** t * (theta0 - star)


def simulate(
    theta0,
    lr,
    weight_decay,
    sign,
    steps,
    *,
    beta=None,
    momentum=1e-3,
    dtype="float32",
    flush_denormals=True,
):
    """The same iteration as ``closed_form``, step by step (theta in float64).

    With ``beta=None`` the sign is constant for all steps, so the result must equal
    ``closed_form``. With a ``beta``, the token's momentum starts at ``sign * |momentum|``
    (its value the step it was last seen) and decays ``m <- beta m`` in ``dtype``; the update of
    step t uses sign(m_t), which switches to 0 once m underflows (see
    ``steps_until_momentum_underflow``), after which only the weight decay acts.

    Args:
        theta0, lr, weight_decay, sign, steps: as for ``closed_form``.
        beta: momentum decay in [0, 1), or None for a constant sign. Defaults to None.
        momentum: |m| when the token was last seen, > 0. Defaults to `1e-3`.
        dtype: float dtype of the momentum: "float16", "bfloat16", "float32" or "float64".
        flush_denormals: flush subnormal momenta to zero, as TensorFlow does on CPU (default).

    Returns:
        float64 array [steps, *broadcast shape]: theta_1 ... theta_steps.
    """
    _check_lr_wd(lr, weight_decay)
    sign = _check_sign(sign)
    _check_steps(steps)
    theta = np.broadcast_to(np.asarray(theta0, dtype=np.float64), np.broadcast_shapes(
        np.shape(theta0), sign.shape)).copy()
    if beta is None:
        alive = steps + 1  # the sign never switches off
    else:
        alive = steps_until_momentum_underflow(momentum, beta, dtype, flush_denormals=flush_denormals)
        alive = steps + 1 if alive is None else alive
    out = np.empty((steps,) + theta.shape)
    for t in range(1, steps + 1):
        s = sign if t < alive else 0.0
        theta = theta - lr * (s + weight_decay * theta)
        out[t - 1] = theta
    return out


def steps_to_fraction(fraction, lr, weight_decay):
    """Steps a constant-sign parameter needs to cover ``fraction`` of its way to theta*.

    From the closed form, 1 - (1 - lr lambda)^t >= fraction, so
    t = ceil(log(1 - fraction) / log(1 - lr lambda)); e.g. lr lambda = 0.01 gives 69 steps for
    half the way and 299 for 95 %.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    _check_lr_wd(lr, weight_decay, positive_wd=True)
    rate = lr * weight_decay
    if not rate < 1.0:
        raise ValueError(f"lr * weight_decay must be < 1, got {rate}")
    return math.ceil(math.log1p(-fraction) / math.log1p(-rate) - 1e-12)


# ---------------------------------------------------------------------------------------------
# The released rule: the step scales with the row's RMS


def released_row_simulate(row0, lr, weight_decay, sign, steps):
    """An embedding row under ``ReleasedTiger``'s rule with a constant sign(m), step by step.

    theta <- theta - lr * RMS(theta) * (sign + lambda * theta), in float64, RMS over the row.

    Args:
        row0: the starting row [dim] (at least one non-zero entry, or the row never moves).
        lr: the relative learning rate > 0.
        weight_decay: `lambda` >= 0.
        sign: the constant sign(m), -1, 0 or +1 (scalar or [dim]).
        steps: number of updates >= 1.

    Returns:
        float64 array [steps, dim]: the row after each update.
    """
    _check_lr_wd(lr, weight_decay)
    sign = _check_sign(sign)
    _check_steps(steps)
    theta = np.atleast_1d(np.asarray(row0, dtype=np.float64)).copy()
    if theta.ndim != 1:
        raise ValueError(f"row0 must be a 1-D row, got shape {theta.shape}")
    sign = np.broadcast_to(sign, theta.shape)
    out = np.empty((steps,) + theta.shape)
    for t in range(steps):
        rms = math.sqrt(float(np.mean(theta * theta)))
        theta = theta - lr * rms * (sign + weight_decay * theta)
        out[t] = theta
    return out


def _check_x0(x0, weight_decay):
    if not 0 < x0 < 1 / weight_decay:
        raise ValueError(f"x0 must be in (0, 1/weight_decay) = (0, {1 / weight_decay:g}), got {x0}")


def logistic_form(x0, lr, weight_decay, steps):
    """|theta| of a row whose entries share one magnitude ``x0`` and drift away from 0, under
    ``ReleasedTiger``'s rule (the continuous-time solution of x' = lr x (1 - lambda x)):

        x_t = (1/lambda) / (1 + (1/(lambda x0) - 1) exp(-lr t)),  t = 1..steps.

    The discrete rule x <- x + lr x (1 - lambda x) stays within lr/lambda of it (tested).

    Args:
        x0: starting magnitude in (0, 1/lambda).
        lr: the relative learning rate > 0.
        weight_decay: `lambda` > 0.
        steps: number of updates >= 1.

    Returns:
        float64 array [steps].
    """
    _check_lr_wd(lr, weight_decay, positive_wd=True)
    _check_x0(x0, weight_decay)
    _check_steps(steps)
    t = np.arange(1, steps + 1, dtype=np.float64)
    return (1 / weight_decay) / (1 + (1 / (weight_decay * x0) - 1) * np.exp(-lr * t))


def released_steps_to_fraction(fraction, lr, weight_decay, x0):
    """Steps until ``logistic_form`` reaches ``fraction / lambda``:
    t = log(f/(1-f) * (1/(lambda x0) - 1)) / lr, rounded up (0 if x0 is already there).

    E.g. lr = 1.76e-3 (the README's), lambda = 0.01, x0 = 0.02: half-way (50) after 4,840 steps
    and 99 after 7,451, where eq. (1) with eta = 1.76e-3 needs 39,384 steps for half-way.

    Args:
        fraction: in (0, 1).
        lr: the relative learning rate > 0.
        weight_decay: `lambda` > 0.
        x0: starting magnitude in (0, 1/lambda).
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    _check_lr_wd(lr, weight_decay, positive_wd=True)
    _check_x0(x0, weight_decay)
    ratio = fraction / (1 - fraction) * (1 / (weight_decay * x0) - 1)
    return max(0, math.ceil(math.log(ratio) / lr - 1e-9))


_DTYPES = ("float16", "bfloat16", "float32", "float64")


def _numpy_dtype(dtype):
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
    if dtype == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(dtype)


def steps_until_momentum_underflow(m0, beta, dtype="float32", *, flush_denormals=True):
    """Absent steps until a momentum ``m0`` decaying as ``m <- beta m`` in ``dtype`` is exactly 0.

    Each product is rounded to ``dtype``. TensorFlow on CPU flushes subnormal results to zero, so
    by default so does this count; it then agrees with iterating the optimizer itself. Without
    flushing, round-to-nearest makes m stall at a few subnormal ulps when beta > 1/2 (e.g. at
    14 ulps for beta = 0.965 in float32) and it never reaches 0: the function returns None.

    Args:
        m0: the momentum when the token was last seen, non-zero and finite.
        beta: decay per step in [0, 1).
        dtype: "float16", "bfloat16", "float32" (default) or "float64".
        flush_denormals: treat subnormal values as 0 (default True, TensorFlow's behaviour).

    Returns:
        int >= 1, or None if m never reaches 0.
    """
    np_dtype = _numpy_dtype(dtype)
    if not (0.0 <= beta < 1.0):
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    m = np_dtype.type(abs(m0))
    if not (np.isfinite(m0) and m0 != 0 and m != 0 and np.isfinite(m)):
        raise ValueError(f"m0 must be non-zero and finite in {dtype}, got {m0}")
    b = np_dtype.type(beta)
    tiny = np_dtype.type(_smallest_normal(np_dtype))
    steps = 0
    while True:
        new = np_dtype.type(m * b)
        steps += 1
        if flush_denormals and new < tiny:
            new = np_dtype.type(0)
        if new == 0:
            return steps
        if new == m:  # rounding stalls (a subnormal ulp or beta rounded to 1)
            return None
        m = new


def _smallest_normal(np_dtype):
    import ml_dtypes

    return ml_dtypes.finfo(np_dtype).smallest_normal


# ---------------------------------------------------------------------------------------------
# The widget


def explorer_data(lr=0.01, weight_decay=1.0, beta=0.965, absent_steps=3000, momentum=1e-3):
    """One token seen once (momentum ``momentum`` > 0, theta 0), then absent for ``absent_steps``.

    Returns a dict with "theta" [absent_steps] (float32 momentum, denormals flushed as in
    TensorFlow), "closed_form" [absent_steps] (sign never switching off), "fixed_point" (the
    token drifts to -1/lambda), "underflow_step" (absent steps until m is 0 in float32; None if
    it never is) and "steps" [absent_steps] = 1..absent_steps.
    """
    _check_steps(absent_steps, "absent_steps")
    theta = simulate(0.0, lr, weight_decay, 1, absent_steps, beta=beta, momentum=momentum)
    return {
        "steps": np.arange(1, absent_steps + 1),
        "theta": theta,
        "closed_form": closed_form(0.0, lr, weight_decay, 1, absent_steps),
        "fixed_point": float(fixed_point(1, weight_decay)),
        "underflow_step": steps_until_momentum_underflow(momentum, beta),
    }


def plot_explorer(data):
    """The explorer's figure for an ``explorer_data`` dict (returned, not shown)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    ax.plot(data["steps"], data["theta"], label="theta_t (float32 momentum)")
    ax.plot(data["steps"], data["closed_form"], ":", label="closed form, sign never 0")
    ax.axhline(data["fixed_point"], color="k", ls="--", lw=1, label="fixed point -1/lambda")
    n = data["underflow_step"]
    if n is not None and n <= len(data["steps"]):
        ax.axvline(n, color="tab:red", lw=1, label=f"m underflows (step {n})")
    ax.set(xlabel="steps since the token was last seen", ylabel="theta")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def fixed_point_explorer():
    """Sliders for lr, lambda, beta and the absent-step count; redraws theta_t, the fixed point
    and the underflow step.

    Returns an ``ipywidgets.interactive``: ``.result`` holds the last ``explorer_data`` and its
    last child is an ``Image`` with the figure (an Image, not the interactive's Output, so that
    ``nbconvert --execute`` works with ``store_widget_state=False``).
    """
    import ipywidgets as w

    image = w.Image(format="png", layout=w.Layout(width="504px"))

    def redraw(lr, weight_decay, beta, absent_steps):
        data = explorer_data(lr, weight_decay, beta, absent_steps)
        image.value = figure_png(plot_explorer(data))
        return data

    style = {"description_width": "100px"}
    explorer = w.interactive(
        redraw,
        lr=w.FloatLogSlider(value=0.01, base=10, min=-4, max=-1, step=0.25, description="lr",
                            style=style),
        weight_decay=w.FloatLogSlider(value=1.0, base=10, min=-2, max=1, step=0.25,
                                      description="lambda", style=style),
        beta=w.FloatSlider(value=0.965, min=0.5, max=0.999, step=0.001, readout_format=".3f",
                           description="beta", style=style),
        absent_steps=w.IntSlider(value=3000, min=100, max=10000, step=100,
                                 description="absent steps", style=style),
    )
    explorer.children = (*explorer.children, image)
    return explorer


# ---------------------------------------------------------------------------------------------
# The embedding experiment

VARIANTS = ("tiger", "lion", "adamw", "lazy_tiger", "tied_tiger", "mixed", "released_tiger")


@dataclass(frozen=True)
class ExperimentConfig:
    """Hyperparameters of ``embedding_experiment``; the defaults are the notebook's run.

    With lr = 0.01 and lambda = 1 an absent token covers half its way to +-1/lambda = +-1 in
    ``steps_to_fraction(0.5, 0.01, 1.0)`` = 69 steps and 95 % in 299, well inside ``steps``.
    """

    steps: int = 800
    batch_size: int = 128
    vocab_size: int = 3000  # most frequent characters kept; the rest map to UNK
    context: int = 3  # characters of left context
    dim: int = 16  # embedding width
    hidden: int = 64
    lr: float = 0.003  # Tiger and Lion
    adam_lr: float = 0.01  # AdamW (alone and for the mixed optimizer's embedding)
    released_lr: float = 0.02  # ReleasedTiger's relative learning rate
    weight_decay: float = 1.0
    seed: int | None = None  # None: the course seed (lessons.setup), see course_seed

    def __post_init__(self):
        for name in ("steps", "batch_size", "vocab_size", "context", "dim", "hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("lr", "adam_lr", "released_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.weight_decay > 0:
            raise ValueError(f"weight_decay must be > 0, got {self.weight_decay}")
        if self.seed is not None:
            course_seed(self.seed)  # validates



@dataclass(frozen=True)
class EmbeddingRun:
    """What one variant of ``embedding_experiment`` leaves behind."""

    name: str
    embedding: np.ndarray  # [vocab, dim] input embedding after training
    frequency: np.ndarray  # [vocab] occurrences of each id in the contexts the model saw
    last_seen: np.ndarray  # [vocab] last step (0-based) whose batch held the id, -1 if never
    loss: np.ndarray  # [steps] training loss per step
    test_loss: float  # mean cross-entropy on held-out sentences
    others: dict  # {variable path: array} every other trainable weight after training

    @property
    def max_abs(self) -> np.ndarray:
        """[vocab] max |value| of each embedding row."""
        return np.abs(self.embedding).max(axis=1)

    @property
    def updates_since_seen(self) -> np.ndarray:
        """[vocab] updates from the last step holding the id to the end (that step included);
        0 for ids never seen."""
        return np.where(self.last_seen >= 0, len(self.loss) - self.last_seen, 0)


@lru_cache(maxsize=2)
def _streams(vocab_size: int, context: int):
    """(vocab, train ids, test ids): sentences joined by ``context`` PADs, PAD first."""
    from lessons.data import PAD, UNK, Vocab, load_peoples_daily, split_corpus

    train, test = split_corpus(load_peoples_daily())
    vocab = Vocab.build(train, max_size=vocab_size)
    index = vocab.index | {"\0": PAD}
    sep = "\0" * context

    def encode(sentences):
        text = sep + sep.join(s.chars for s in sentences)
        return np.fromiter((index.get(c, UNK) for c in text), np.int32, len(text))

    return vocab, encode(train), encode(test)


def _sample(stream, context, shape, rng):
    """Contexts [*shape, context] and targets [*shape] at random non-PAD positions."""
    from lessons.data import PAD

    valid = np.flatnonzero(stream[context:] != PAD) + context
    pos = rng.choice(valid, size=shape)
    x = stream[pos[..., None] + np.arange(-context, 0)]
    return x, stream[pos]


class TiedLogits(keras.layers.Layer):
    """logits = h @ E^T + b, reusing an Embedding's matrix E [vocab, dim] as the output layer."""

    def __init__(self, embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(self.embedding.input_dim,), initializer="zeros",
                                    name="bias")

    def call(self, h):  # h: [batch, dim]
        return ops.matmul(h, ops.transpose(self.embedding.embeddings)) + self.bias


def _build_model(cfg: ExperimentConfig, vocab_size: int, tied: bool, seed: int = 0):
    keras.utils.set_random_seed(seed)  # same initial weights for every variant
    ids = keras.Input((cfg.context,), dtype="int32")
    embed = keras.layers.Embedding(vocab_size, cfg.dim, name="embedding")
    h = keras.layers.Flatten()(embed(ids))  # [batch, context * dim]
    h = keras.layers.Dense(cfg.hidden, activation="tanh")(h)
    if tied:
        logits = TiedLogits(embed)(keras.layers.Dense(cfg.dim)(h))
    else:
        logits = keras.layers.Dense(vocab_size)(h)
    return keras.Model(ids, logits), embed


def _optimizer_groups(name, cfg, model, embed):
    """[(optimizer, variables)] covering every trainable variable once."""
    lam = cfg.weight_decay
    everything = list(model.trainable_variables)
    if name in ("tiger", "tied_tiger"):
        return [(Tiger(cfg.lr, weight_decay=lam), everything)]
    if name == "lazy_tiger":
        return [(Tiger(cfg.lr, weight_decay=lam, lazy=True), everything)]
    if name == "released_tiger":
        return [(ReleasedTiger(cfg.released_lr, weight_decay=lam), everything)]
    if name == "lion":
        return [(keras.optimizers.Lion(cfg.lr, weight_decay=lam), everything)]
    if name == "adamw":
        return [(keras.optimizers.AdamW(cfg.adam_lr, weight_decay=lam), everything)]
    if name == "mixed":
        table = embed.embeddings
        rest = [v for v in everything if v is not table]
        return [(keras.optimizers.AdamW(cfg.adam_lr, weight_decay=lam), [table]),
                (Tiger(cfg.lr, weight_decay=lam), rest)]
    raise ValueError(f"variant must be one of {VARIANTS}, got {name!r}")


def _train(model, groups, x, y, jit_compile, chunk=50):
    """Train on batches x [steps, batch, context], y [steps, batch]; returns the loss per step.

    One compiled call runs ``chunk`` steps in a graph loop (Python overhead per call, not per
    step)."""
    variables = list(model.trainable_variables)
    position = {id(v): i for i, v in enumerate(variables)}
    plan = []
    for opt, vs in groups:
        opt.build(vs)
        plan.append((opt, [position[id(v)] for v in vs]))

    def one_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            loss = ops.mean(keras.losses.sparse_categorical_crossentropy(yb, logits,
                                                                         from_logits=True))
        grads = tape.gradient(loss, variables)
        for opt, idx in plan:
            opt.apply([grads[i] for i in idx], [variables[i] for i in idx])
        return loss

    @tf.function(jit_compile=jit_compile)
    def run(xs, ys):  # xs [chunk, batch, context]
        losses = tf.TensorArray(tf.float32, size=tf.shape(xs)[0])
        for t in tf.range(tf.shape(xs)[0]):
            losses = losses.write(t, one_step(xs[t], ys[t]))
        return losses.stack()

    return np.concatenate([run(x[i : i + chunk], y[i : i + chunk]).numpy()
                           for i in range(0, len(x), chunk)])


def embedding_experiment(variants=VARIANTS, config: ExperimentConfig | None = None, *,
                         seed: int | None = None, jit_compile=True,
                         show_progress=False) -> dict[str, EmbeddingRun]:
    """Train a next-character model on People's Daily once per variant; same data and init.

    The model embeds ``context`` characters, concatenates them, applies a tanh layer and
    predicts the next character over the ``vocab_size`` most frequent ones (+ PAD, UNK).
    Variants: "tiger", "lion" (Keras's Lion), "adamw" (Keras's AdamW), and the remedies
    "lazy_tiger" (``Tiger(lazy=True)``), "tied_tiger" (output layer = input embedding^T) and
    "mixed" (AdamW for the embedding, Tiger for the rest), and "released_tiger"
    (``ReleasedTiger``, the rule of bojone/tiger's ``tiger.py``, relative lr ``released_lr``).
    All use ``weight_decay`` lambda.

    Args:
        variants: names from ``VARIANTS`` (default: all seven).
        config: an ``ExperimentConfig`` (default: the notebook's run).
        seed: seed of the data sample and the initial weights; default None: ``config.seed``,
            and if that is None too, the course seed (``lessons.setup(seed)``, 0 by default).
        jit_compile: compile the training loop with XLA (default True; about 25 % less CPU time
            here than plain graph mode, and it exercises Tiger under XLA).
        show_progress: a progress bar over the variants (default False).

    Returns:
        {variant: EmbeddingRun}, in the order given.
    """
    cfg = config or ExperimentConfig()
    for name in variants:
        if name not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {name!r}")
    seed = course_seed(seed if seed is not None else cfg.seed)
    vocab, train_ids, test_ids = _streams(cfg.vocab_size, cfg.context)
    rng = np.random.default_rng(seed)
    x, y = _sample(train_ids, cfg.context, (cfg.steps, cfg.batch_size), rng)
    x_test, y_test = _sample(test_ids, cfg.context, (8192,), rng)
    frequency, last_seen = _occurrences(x, len(vocab))

    if show_progress:
        from lessons.notebook import progress

        variants = progress(variants, desc="variants")
    runs = {}
    for name in variants:
        keras.backend.clear_session(free_memory=False)  # gc.collect costs ~0.2 s a variant
        model, embed = _build_model(cfg, len(vocab), tied=name == "tied_tiger", seed=seed)
        loss = _train(model, _optimizer_groups(name, cfg, model, embed), x, y, jit_compile)
        logits = model(x_test, training=False)
        test_loss = float(ops.mean(keras.losses.sparse_categorical_crossentropy(
            y_test, logits, from_logits=True)))
        table = embed.embeddings
        others = {v.path: v.numpy() for v in model.trainable_variables if v is not table}
        runs[name] = EmbeddingRun(name, table.numpy(), frequency, last_seen, loss, test_loss,
                                  others)
    return runs


def _occurrences(x, vocab_size):
    """Count of each id in the contexts x [steps, batch, context]; last step holding it."""
    steps = x.shape[0]
    frequency = np.bincount(x.ravel(), minlength=vocab_size)
    last_seen = np.full(vocab_size, -1, np.int64)
    step_of = np.repeat(np.arange(steps), x[0].size)
    np.maximum.at(last_seen, x.ravel(), step_of)
    return frequency, last_seen


# ---------------------------------------------------------------------------------------------
# Reading the runs

INIT_BOUND = 0.05  # Keras's default Embedding initializer is uniform(-0.05, 0.05)


def rare_rows(run: EmbeddingRun, config: ExperimentConfig, max_count: int = 3) -> np.ndarray:
    """[vocab] mask of real characters seen 1..``max_count`` times and then absent for at least
    ``steps_to_fraction(0.5, lr, lambda)`` updates: long enough for the closed form to carry a
    constant-sign row past half of 1/lambda."""
    from lessons.data import UNK

    absent = steps_to_fraction(0.5, config.lr, config.weight_decay)
    mask = (run.frequency >= 1) & (run.frequency <= max_count) & (run.updates_since_seen >= absent)
    mask[: UNK + 1] = False
    return mask


def once_seen_band(updates, config: ExperimentConfig, init_bound: float = INIT_BOUND):
    """Closed-form bounds (lower, upper) on max |row| for a token seen exactly once, ``updates``
    updates before the end of a Tiger/Lion run.

    Before it is seen its momentum is 0, so the row only decays and stays within ``init_bound``;
    from the step it is seen on, every component moves with a constant sign towards +-1/lambda:
    |theta_n| = 1/lambda - (1 - lr lambda)^n (1/lambda -+ |theta_0|).
    """
    lam, rate = config.weight_decay, config.lr * config.weight_decay
    shrink = (1.0 - rate) ** np.asarray(updates, dtype=np.float64)
    return 1.0 / lam - shrink * (1.0 / lam + init_bound), 1.0 / lam - shrink * (1.0 / lam - init_bound)


def once_seen_check(run: EmbeddingRun, config: ExperimentConfig, tol: float = 1e-4) -> dict:
    """Compare every real character seen exactly once with ``once_seen_band``.

    Returns arrays over those characters: ``updates`` (since it was seen), ``max_abs``, ``low``,
    ``high`` and ``inside`` (max |row| within [low - tol, high + tol]).
    """
    from lessons.data import UNK

    once = run.frequency == 1
    once[: UNK + 1] = False
    updates = run.updates_since_seen[once]
    low, high = once_seen_band(updates, config)
    max_abs = run.max_abs[once]
    inside = (max_abs >= low - tol) & (max_abs <= high + tol)
    return {"updates": updates, "max_abs": max_abs, "low": low, "high": high, "inside": inside}


def plot_max_abs_vs_frequency(runs: dict, names, config: ExperimentConfig, ylim=None):
    """One scatter panel per run in ``names``: max |embedding row| against training count, with
    the fixed point 1/lambda dashed. PAD and UNK are left out."""
    import matplotlib.pyplot as plt

    from lessons.data import UNK

    names = tuple(names)
    fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names), 3.2), sharey=True,
                             squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        run = runs[name]
        seen = run.frequency > 0
        seen[: UNK + 1] = False
        ax.scatter(run.frequency[seen], run.max_abs[seen], s=3, alpha=0.4)
        ax.axhline(1 / config.weight_decay, color="k", ls="--", lw=1)
        ax.set(xscale="log", title=name, xlabel="occurrences in training", ylim=ylim)
    axes[0, 0].set_ylabel("max |embedding row|")
    return fig


def sign_agreement(rows) -> float:
    """Fraction of entries of ``rows`` [n, dim] whose sign equals their column's majority sign
    (1.0 when all rows point the same way, about 0.5 for random rows)."""
    rows = np.sign(np.asarray(rows, dtype=np.float64))
    if rows.ndim != 2 or rows.shape[0] < 1:
        raise ValueError(f"rows must be a non-empty [n, dim] array, got shape {rows.shape}")
    majority = np.where(rows.sum(axis=0) >= 0, 1.0, -1.0)
    return float(np.mean(rows == majority))


def output_weights(run: EmbeddingRun) -> np.ndarray:
    """[vocab, n] the weights that score each character in the output layer: the output kernel's
    column per character (transposed), or for tied embeddings the embedding row itself."""
    vocab = len(run.frequency)
    for path, w in run.others.items():
        if path.endswith("kernel") and w.ndim == 2 and w.shape[1] == vocab:
            return w.T
    return run.embedding  # tied: logits = h E^T + b


def _output_bias(run: EmbeddingRun) -> np.ndarray:
    vocab = len(run.frequency)
    return next(w for path, w in run.others.items()
                if path.endswith("bias") and w.shape == (vocab,))


def summarize(runs: dict, config: ExperimentConfig) -> list[dict]:
    """One row per variant: losses and where the embedding rows ended up.

    Keys: variant, train_loss (mean of the last 100 steps), test_loss, emb_max, emb_min,
    rare (number of ``rare_rows``), rare_pinned (fraction of them with max |row| > 0.5/lambda),
    rare_at_fixed_point (fraction of them with every entry within 1e-3 of +-1/lambda),
    rare_median, frequent_median (ids seen >= 100 times), unseen_median and unseen_max (of the
    ids never seen),
    other_pinned (fraction of all other weights with |w| > 0.5/lambda), rare_output_pinned
    (fraction of the rare characters' ``output_weights`` with |w| > 0.5/lambda) and
    output_bias_min (the smallest bias of the output layer).
    """
    half, star = 0.5 / config.weight_decay, 1.0 / config.weight_decay
    out = []
    for name, run in runs.items():
        rare, m = rare_rows(run, config), run.max_abs
        frequent = run.frequency >= 100
        unseen = run.frequency == 0
        unseen[:2] = False
        other = np.concatenate([np.abs(w).ravel() for w in run.others.values()])
        exact = np.all(np.abs(np.abs(run.embedding[rare]) - star) <= 1e-3 * star, axis=1)
        out.append({
            "variant": name,
            "train_loss": float(run.loss[-100:].mean()),
            "test_loss": run.test_loss,
            "emb_max": float(run.embedding.max()),
            "emb_min": float(run.embedding.min()),
            "rare": int(rare.sum()),
            "rare_pinned": float(np.mean(m[rare] > half)),
            "rare_at_fixed_point": float(np.mean(exact)),
            "rare_median": float(np.median(m[rare])),
            "frequent_median": float(np.median(m[frequent])),
            "unseen_median": float(np.median(m[unseen])) if unseen.any() else float("nan"),
            "unseen_max": float(m[unseen].max()) if unseen.any() else float("nan"),
            "other_pinned": float(np.mean(other > half)),
            "rare_output_pinned": float(np.mean(np.abs(output_weights(run)[rare]) > half)),
            "output_bias_min": float(_output_bias(run).min()),
        })
    return out


REMEDIES = ("lazy_tiger", "tied_tiger", "mixed")


def remedy_verdicts(rows: list[dict], baseline: str = "tiger", tolerance: float = 0.05) -> dict:
    """A one-line verdict per remedy from ``summarize`` rows, for the embedding *and* the
    output layer.

    The embedding drift is "fixed" when at most 5 % of the remedy's rare rows pass 0.5/lambda;
    the output layer is "still pinned" when at least half of the rare characters' output
    weights pass 0.5/lambda; the loss is "on par" when the test loss is within ``tolerance``
    nats of the baseline's. The lines quote this run's numbers (they vary by machine; the
    notebook's claim check states the bands).
    """
    table = {r["variant"]: r for r in rows}
    if baseline not in table:
        raise ValueError(f"baseline must be one of {sorted(table)}, got {baseline!r}")
    base = table[baseline]
    out = {}
    for name in REMEDIES:
        if name not in table:
            continue
        r = table[name]
        fixed = r["rare_pinned"] <= 0.05
        pinned_out = r["rare_output_pinned"] >= 0.5
        delta = r["test_loss"] - base["test_loss"]
        cost = "on par with" if abs(delta) <= tolerance else ("worse than" if delta > 0 else
                                                               "better than")
        out[name] = (
            f"embedding: {'fixed' if fixed else 'NOT fixed'} ({r['rare_pinned']:.0%} of rare "
            f"rows past 0.5/lambda, {baseline}: {base['rare_pinned']:.0%}); output layer: "
            f"{'still pinned' if pinned_out else 'not pinned'} ({r['rare_output_pinned']:.0%} "
            f"of the rare characters' output weights past 0.5/lambda, {baseline}: "
            f"{base['rare_output_pinned']:.0%}); test loss {r['test_loss']:.3f}, {cost} "
            f"{baseline} ({base['test_loss']:.3f})")
    return out


def unigram_test_loss(config: ExperimentConfig | None = None) -> float:
    """Cross-entropy (nats) on every held-out target of a unigram model fitted on every training
    target: the loss of a model that ignores the context. Float64, no sampling, so it does not
    depend on the seed.

    Args:
        config: only ``vocab_size`` and ``context`` matter (default: the notebook's).
    """
    from lessons.data import PAD

    cfg = config or ExperimentConfig()
    vocab, train_ids, test_ids = _streams(cfg.vocab_size, cfg.context)
    train_targets = train_ids[cfg.context:][train_ids[cfg.context:] != PAD]
    test_targets = test_ids[cfg.context:][test_ids[cfg.context:] != PAD]
    p = np.bincount(train_targets, minlength=len(vocab)) / len(train_targets)
    return float(-np.mean(np.log(p[test_targets])))


def smooth(values, window: int = 50) -> np.ndarray:
    """Trailing moving average [len(values) - window + 1] (for loss curves)."""
    values = np.asarray(values, dtype=np.float64)
    if not isinstance(window, int) or not 1 <= window <= len(values):
        raise ValueError(f"window must be an int in [1, {len(values)}], got {window!r}")
    csum = np.concatenate([[0.0], np.cumsum(values)])
    return (csum[window:] - csum[:-window]) / window


def absent_token_trajectory(gradient, absent_steps: int, lr: float = 0.003,
                            weight_decay: float = 1.0, optimizer: str = "tiger") -> np.ndarray:
    """Run the real Keras optimizer on one embedding row: one step with ``gradient`` [dim], then
    ``absent_steps`` steps with a zero gradient. Rows start at 0.

    Args:
        optimizer: "tiger" (``Tiger``, beta 0.965), "lion" (``keras.optimizers.Lion``) or
            "adamw" (``keras.optimizers.AdamW``), all with ``weight_decay``.

    Returns:
        float32 [absent_steps + 1, dim]: the row after each step.
    """
    _check_lr_wd(lr, weight_decay)
    _check_steps(absent_steps, "absent_steps")
    makers = {"tiger": lambda: Tiger(lr, weight_decay=weight_decay),
              "lion": lambda: keras.optimizers.Lion(lr, weight_decay=weight_decay),
              "adamw": lambda: keras.optimizers.AdamW(lr, weight_decay=weight_decay)}
    if optimizer not in makers:
        raise ValueError(f"optimizer must be one of {sorted(makers)}, got {optimizer!r}")
    gradient = np.asarray(gradient, dtype=np.float32).reshape(-1)
    row = keras.Variable(np.zeros_like(gradient))
    opt = makers[optimizer]()
    opt.build([row])

    @tf.function
    def run(first):
        path = tf.TensorArray(tf.float32, size=absent_steps + 1)
        opt.apply([first], [row])
        path = path.write(0, row.value)
        for t in tf.range(absent_steps):
            opt.apply([tf.zeros_like(first)], [row])
            path = path.write(t + 1, row.value)
        return path.stack()

    return run(tf.constant(gradient)).numpy()


def released_once_seen(run: EmbeddingRun, config: ExperimentConfig, x0: float = 0.005,
                       fraction: float = 0.999) -> dict:
    """Characters seen exactly once under ``ReleasedTiger``, at least ``n_updates`` =
    ``released_steps_to_fraction(fraction, released_lr, lambda, x0)`` updates before the end:
    the logistic time for a row starting at RMS ``x0`` (default 0.005, a sixth of a typical
    initial row's 0.029, which leaves room for rows whose entries first cross zero).

    Returns {"n_updates", "count" (such characters), "at_fixed_point" (the share of them whose
    every entry is within ``1 - fraction`` of +-1/lambda, relative)}.
    """
    from lessons.data import UNK

    n = released_steps_to_fraction(fraction, config.released_lr, config.weight_decay, x0)
    once = (run.frequency == 1) & (run.updates_since_seen >= n)
    once[: UNK + 1] = False
    star = 1.0 / config.weight_decay
    rows = np.abs(run.embedding[once])
    close = np.all(np.abs(rows - star) <= (1 - fraction) * star, axis=1)
    return {"n_updates": n, "count": int(once.sum()),
            "at_fixed_point": float(close.mean()) if once.any() else float("nan")}


# ---------------------------------------------------------------------------------------------
# Claim checks: what the notebook says about the runs. Bands come from 15 runs of the notebook's
# experiment: seeds 0, 1, 2 x {native (AVX-512), ONEDNN_MAX_CPU_ISA=AVX2, ONEDNN_MAX_CPU_ISA=SSE41
# with TF_NUM_INTRAOP_THREADS=1, the same two with XLA_FLAGS=--xla_cpu_max_isa=AVX2 resp. SSE4_2
# (ONEDNN_MAX_CPU_ISA alone does not reach the XLA-compiled training loop)}. The spread (min .. max
# over the 15 runs) of each quantity is in the comment beside its claim; the seed moves the numbers
# far more than the CPU does.

ABSENT_GRADIENT = (0.01, -0.02, 1e-6)


def absent_token_claims(paths: dict, lr: float = 0.003, weight_decay: float = 1.0,
                        gradient=ABSENT_GRADIENT, beta: float = 0.965) -> list[Claim]:
    """Claims about ``absent_token_trajectory`` runs {"tiger", "lion", "adamw": [steps+1, dim]}
    (section 2 of the notebook): Tiger and Lion follow the constant-sign closed form, the tiny
    component keeps pace until its momentum underflows, AdamW's extra movement dies out."""
    gradient = np.asarray(gradient, dtype=np.float64)
    steps = len(paths["tiger"])
    expected = closed_form(0.0, lr, weight_decay, np.sign(gradient), steps)
    big = np.abs(gradient) >= 1e-3
    tiny = int(np.argmin(np.abs(gradient)))
    m_tiny = np.float32(1 - beta) * np.float32(gradient[tiny])
    n = steps_until_momentum_underflow(m_tiny, beta) or steps
    claims = []
    for name in ("tiger", "lion"):
        err = np.abs(paths[name] - expected)
        worst = max(float(err[:, big].max()), float(err[: n - 1, tiny].max()))
        # spread: identical on every CPU setting (elementwise float32 ops); well below 1e-5
        claims.append(Claim(f"{name}: the absent row follows the closed form while sign(m) is "
                            "constant (max deviation)", worst, at_most=1e-4, digits=5))
    tiger_path = paths["tiger"]
    lag = abs(abs(tiger_path[n - 1, tiny]) - abs(tiger_path[n - 1, big].max()))
    # spread: 0 .. 0 (every component moves by exactly lr per step, whatever its size)
    claims.append(Claim(f"tiger: the {gradient[tiny]:g} component keeps pace with the others "
                        f"until its momentum underflows at step {n} (gap)", lag, at_most=1e-4,
                        digits=5))
    adam = np.abs(paths["adamw"]).max(axis=1)
    # spread: 0.28 % .. 0.28 %
    claims.append(Claim(f"adamw: |row| after {steps - 1} absent steps, as a share of its peak",
                        adam[-1] / adam.max(), at_most=0.05, unit="%"))
    return claims


def check_absent_token(paths: dict, **kwargs) -> None:
    """``lessons.claims.check(absent_token_claims(paths, **kwargs))``."""
    check(absent_token_claims(paths, **kwargs))


def _table(rows: list[dict], needed) -> dict:
    table = {r["variant"]: r for r in rows}
    missing = [n for n in needed if n not in table]
    if missing:
        raise ValueError(f"rows must hold the variants {list(needed)}; missing {missing}")
    return table


def summary_claims(rows: list[dict], config: ExperimentConfig, unigram: float) -> list[Claim]:
    """Claims about the Tiger / Lion / AdamW rows of ``summarize`` (the notebook's table and its
    observations 1-6). ``unigram``: ``unigram_test_loss(config)``."""
    t = _table(rows, ("tiger", "lion", "adamw"))
    bound = float(once_seen_band(config.steps, config)[1])
    claims = []
    for name in ("tiger", "lion"):
        r = t[name]
        # spread: 100 % .. 100 % (both)
        claims.append(Claim(f"{name}: rare rows past 0.5/lambda", r["rare_pinned"],
                            at_least=0.9, unit="%"))
        reach = max(r["emb_max"], -r["emb_min"])
        # spread: -0.0007 .. -0.0002 (tiger), -0.0008 .. -0.0004 (lion)
        claims.append(Claim(f"{name}: largest |embedding entry| minus the closed-form bound "
                            f"{bound:.3f}", reach - bound, at_most=1e-4, digits=4))
        far = max(abs(r["emb_max"] - bound), abs(-r["emb_min"] - bound))
        # spread: 0.0007 .. 0.0012 (tiger), 0.0006 .. 0.0015 (lion)
        claims.append(Claim(f"{name}: embedding max and -min, distance to that bound", far,
                            at_most=0.005, digits=4))
        # spread: 0 % .. 0 % (both)
        claims.append(Claim(f"{name}: rare rows with every entry within 0.1 % of 1/lambda",
                            r["rare_at_fixed_point"], at_most=0.0, unit="%"))
        # spread: 0.64 .. 0.70 (tiger), 0.66 .. 0.77 (lion)
        claims.append(Claim(f"{name}: test loss below the unigram model's {unigram:.2f} by",
                            unigram - r["test_loss"], at_least=0.4))
        # spread: 0.40 .. 0.41 (tiger), 0.43 .. 0.46 (lion)
        claims.append(Claim(f"{name}: test loss below AdamW's by", t["adamw"]["test_loss"]
                            - r["test_loss"], at_least=0.2))
    # spread: 0 % .. 0 %
    claims.append(Claim("adamw: rare rows past 0.5/lambda", t["adamw"]["rare_pinned"],
                        at_most=0.05, unit="%"))
    decayed = INIT_BOUND * (1 - config.lr * config.weight_decay) ** config.steps
    # spread: 0.9964 .. 0.9999 (seeds 0-4; elementwise decay of an entry < 0.05, CPU-independent)
    claims.append(Claim(f"tiger: never-seen rows, largest |entry| / (0.05 (1 - lr lambda)^steps "
                        f"= {decayed:.4f})", t["tiger"]["unseen_max"] / decayed, at_most=1.001,
                        unit="x", digits=3))
    # spread: 29.8 % .. 33.1 %; 54.7 % .. 62.5 %
    claims.append(Claim("tiger: other weights past 0.5/lambda", t["tiger"]["other_pinned"],
                        at_least=0.2, unit="%"))
    claims.append(Claim("tiger: rare characters' output weights past 0.5/lambda",
                        t["tiger"]["rare_output_pinned"], at_least=0.4, unit="%"))
    return claims


def check_summary(rows: list[dict], config: ExperimentConfig, unigram: float) -> None:
    """``lessons.claims.check(summary_claims(rows, config, unigram))``."""
    check(summary_claims(rows, config, unigram))


def once_seen_claims(check_result: dict) -> list[Claim]:
    """Claims about ``once_seen_check`` of the Tiger run: every character seen once lies in the
    closed-form band, and there are enough of them to mean something."""
    inside = np.asarray(check_result["inside"])
    return [
        # spread: 139 .. 170 characters
        Claim("tiger: characters seen exactly once", len(inside), at_least=100, digits=0),
        # spread: 100 % .. 100 %
        Claim("tiger: of them, inside the closed-form band", float(inside.mean()) if len(inside)
              else float("nan"), at_least=1.0, unit="%"),
    ]


def check_once_seen(check_result: dict) -> None:
    """``lessons.claims.check(once_seen_claims(check_result))``."""
    check(once_seen_claims(check_result))


def released_claims(rows: list[dict], config: ExperimentConfig, once: dict,
                    unigram: float) -> list[Claim]:
    """Claims about the ``released_tiger`` row of ``summarize`` and its ``released_once_seen``
    result ``once``: what the released rule does to rare rows, the output layer and the loss."""
    t = _table(rows, ("tiger", "released_tiger"))
    r, star = t["released_tiger"], 1.0 / config.weight_decay
    gap = star - min(r["emb_max"], -r["emb_min"])
    drift = 0.5 * config.released_lr * config.steps
    return [
        # spread: 6.0e-6 .. 7.5e-6
        Claim("released: embedding max and min, distance to +-1/lambda", gap, at_least=0.0,
              at_most=1e-4, digits=5),
        # spread: 99.0 % .. 99.7 %
        Claim("released: rare rows past 0.5/lambda", r["rare_pinned"], at_least=0.9, unit="%"),
        # spread: 28.7 % .. 34.8 % ("about a third")
        Claim("released: rare rows with every entry within 0.1 % of 1/lambda",
              r["rare_at_fixed_point"], at_least=0.2, at_most=0.5, unit="%"),
        # spread: 23 .. 40 characters (611 updates); 100 % .. 100 % (the latest once-seen
        # character not yet there was seen 578 updates before the end)
        Claim(f"released: characters seen once >= {once['n_updates']} updates before the end",
              once["count"], at_least=10, digits=0),
        Claim("released: of them, every entry within 0.1 % of 1/lambda",
              once["at_fixed_point"], at_least=1.0, unit="%"),
        # spread: 3.6 % .. 5.4 %
        Claim("released: rare characters' output weights past 0.5/lambda",
              r["rare_output_pinned"], at_most=0.15, unit="%"),
        # spread: 1.00001 .. 1.00001 (a rare class's bias falls by 0.5 lr every step, no decay)
        Claim(f"released: lowest output bias / (-0.5 lr x steps = {-drift:g})",
              r["output_bias_min"] / -drift, at_least=0.98, at_most=1.02, unit="x"),
        # spread: 0.33 .. 0.48
        Claim(f"released: test loss below the unigram model's {unigram:.2f} by",
              unigram - r["test_loss"], at_least=0.2),
        # spread: 0.23 .. 0.31
        Claim("released: test loss above Tiger's (eq. 1) by", r["test_loss"]
              - t["tiger"]["test_loss"], at_least=0.1),
    ]


def check_released(rows: list[dict], config: ExperimentConfig, once: dict,
                   unigram: float) -> None:
    """``lessons.claims.check(released_claims(rows, config, once, unigram))``."""
    check(released_claims(rows, config, once, unigram))


def remedy_claims(rows: list[dict], config: ExperimentConfig) -> list[Claim]:
    """Claims behind the remedy verdicts: which remedy keeps rare embedding rows in place, what
    happens to the output layer's rare columns, and the loss it costs."""
    t = _table(rows, ("tiger", *REMEDIES))
    base = t["tiger"]
    claims = []
    for name in ("lazy_tiger", "mixed"):
        r = t[name]
        # spread: 0 % .. 0 % (both)
        claims.append(Claim(f"{name}: rare embedding rows past 0.5/lambda", r["rare_pinned"],
                            at_most=0.05, unit="%"))
        # spread: 65.0 % .. 73.9 % (lazy), 70.9 % .. 73.3 % (mixed)
        claims.append(Claim(f"{name}: rare characters' output weights past 0.5/lambda",
                            r["rare_output_pinned"], at_least=0.5, unit="%"))
        # spread: +5.2 .. +15.5 points (lazy), +8.4 .. +18.6 points (mixed)
        claims.append(Claim(f"{name}: that share minus Tiger's (percentage points)",
                            r["rare_output_pinned"] - base["rare_output_pinned"], at_least=0.0,
                            unit="%"))
    # spread: 100 % .. 100 %
    claims.append(Claim("tied_tiger: rare embedding rows past 0.5/lambda",
                        t["tied_tiger"]["rare_pinned"], at_least=0.9, unit="%"))
    # spread: 0.908 .. 0.911 (x 1/lambda)
    claims.append(Claim("tied_tiger: never-seen rows, median max|entry| x lambda",
                        t["tied_tiger"]["unseen_median"] * config.weight_decay, at_least=0.5))
    delta = {n: t[n]["test_loss"] - base["test_loss"] for n in REMEDIES}
    # spread: -0.034 .. +0.015 (lazy), +0.032 .. +0.081 (mixed), +0.234 .. +0.248 (tied)
    claims.append(Claim("lazy_tiger: test loss minus Tiger's", delta["lazy_tiger"],
                        at_least=-0.05, at_most=0.05))
    claims.append(Claim("mixed: test loss minus Tiger's", delta["mixed"], at_least=0.0,
                        at_most=0.12))
    claims.append(Claim("tied_tiger: test loss minus Tiger's", delta["tied_tiger"],
                        at_least=0.15))
    return claims


def check_remedies(rows: list[dict], config: ExperimentConfig) -> None:
    """``lessons.claims.check(remedy_claims(rows, config))``."""
    check(remedy_claims(rows, config))


def sign_agreements(runs: dict, config: ExperimentConfig) -> dict:
    """``sign_agreement`` of the never-seen rows under tied Tiger and of the rare rows under
    Tiger, with the row counts: {"tied_unseen", "n_unseen", "tiger_rare", "n_rare"}."""
    from lessons.data import UNK

    unseen = runs["tied_tiger"].frequency == 0
    unseen[: UNK + 1] = False
    rare = rare_rows(runs["tiger"], config)
    return {"tied_unseen": sign_agreement(runs["tied_tiger"].embedding[unseen]),
            "n_unseen": int(unseen.sum()),
            "tiger_rare": sign_agreement(runs["tiger"].embedding[rare]), "n_rare": int(rare.sum())}


def sign_agreement_claims(agreement: dict) -> list[Claim]:
    """Never-seen rows under tied Tiger share one corner; rare rows under Tiger do not."""
    return [
        # spread: 98.4 % .. 100 %
        Claim("tied_tiger: sign agreement of never-seen rows", agreement["tied_unseen"],
              at_least=0.9, unit="%"),
        # spread: 52.3 % .. 53.3 %
        Claim("tiger: sign agreement of rare rows (random would be about 50 %)",
              agreement["tiger_rare"], at_least=0.45, at_most=0.6, unit="%"),
    ]


def check_sign_agreement(agreement: dict) -> None:
    """``lessons.claims.check(sign_agreement_claims(agreement))``."""
    check(sign_agreement_claims(agreement))


# ---------------------------------------------------------------------------------------------
# Eq. (1) against the released rule, in closed form


def drift_comparison(lr: float = 1.76e-3, weight_decay: float = 0.01, x0: float = 0.02,
                     beta: float = 0.965, m0: float = 1e-3) -> dict:
    """How fast a constant-sign row drifts to 1/lambda under eq. (1) (absolute step ``lr``) and
    under ``ReleasedTiger`` (relative step ``lr``), from |theta| = ``x0`` (float64 closed forms).

    Args:
        lr: the learning rate, absolute for eq. (1) and relative for the released rule
            (default 1.76e-3, bojone/tiger's README).
        weight_decay: `lambda` > 0 (default 0.01, the post's).
        x0: the starting magnitude in (0, 1/lambda) (default 0.02).
        beta, m0: Tiger's beta and the momentum of a token when last seen; they set
            ``absence``, the float32 steps until that momentum underflows (defaults 0.965, 1e-3).

    Returns:
        dict: "eq1_half", "eq1_99" (steps to 50 % and 99 % of the way to 1/lambda),
        "released_half", "released_99" (the same for the released rule), "released_at_8000"
        (|theta| after 8,000 released steps), "absence" (steps of one absence with a constant
        sign), "eq1_per_absence" (share of the remaining way to 1/lambda that one absence
        covers under eq. (1)) and "released_per_absence" (the factor by which one absence
        multiplies a small row under the released rule, exp(lr * absence)), "eq1_absences_99"
        and "released_absences_99" (full absences of constant sign needed to reach 99 %).
    """
    _check_x0(x0, weight_decay)
    star = 1.0 / weight_decay
    absence = steps_until_momentum_underflow(m0, beta)
    return {
        "eq1_half": _eq1_steps(0.5 * star, lr, weight_decay, x0),
        "eq1_99": _eq1_steps(0.99 * star, lr, weight_decay, x0),
        "released_half": released_steps_to_fraction(0.5, lr, weight_decay, x0),
        "released_99": released_steps_to_fraction(0.99, lr, weight_decay, x0),
        "released_at_8000": float(logistic_form(x0, lr, weight_decay, 8000)[-1]),
        "absence": absence,
        "eq1_per_absence": 1.0 - (1.0 - lr * weight_decay) ** absence,
        "released_per_absence": math.exp(lr * absence),
        "eq1_absences_99": math.ceil(_eq1_steps(0.99 * star, lr, weight_decay, x0) / absence),
        "released_absences_99": math.ceil(
            released_steps_to_fraction(0.99, lr, weight_decay, x0) / absence),
    }


def _eq1_steps(target, lr, weight_decay, x0):
    """Steps of eq. (1) from x0 until |theta| >= target (closed form, rounded up)."""
    star = 1.0 / weight_decay
    return math.ceil(math.log((star - target) / (star - x0)) / math.log1p(-lr * weight_decay)
                     - 1e-9)


def plot_drift_comparison(lr: float = 1.76e-3, weight_decay: float = 0.01, x0: float = 0.02,
                          steps: int = 60000):
    """|theta| of a constant-sign row under eq. (1) and under the released rule (closed forms),
    with the fixed point 1/lambda dashed; returns the figure."""
    import matplotlib.pyplot as plt

    t = np.arange(1, steps + 1)
    eq1 = np.abs(closed_form(x0, lr, weight_decay, -1, steps))
    released = logistic_form(x0, lr, weight_decay, steps)
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    ax.plot(t, released, label=f"released rule: logistic, rate lr = {lr:g}")
    ax.plot(t, eq1, label=f"eq. (1): geometric, rate lr*lambda = {lr * weight_decay:g}")
    ax.axhline(1 / weight_decay, color="k", ls="--", lw=1, label="fixed point 1/lambda")
    ax.set(xlabel="steps with a constant sign(m)", ylabel="|theta|")
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    return fig
