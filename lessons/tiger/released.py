"""The Tiger the author released (github.com/bojone/tiger, ``tiger.py``, TF 1.15), in Keras 3."""

import numbers
import re

import keras
import numpy as np
from keras import ops

from lessons._core.checks import integer, number
from lessons._core.gradients import dense_gradient as _dense_gradient

__all__ = ["ReleasedTiger", "piecewise_linear", "released_variable_kind"]


@keras.saving.register_keras_serializable(package="lessons")
class ReleasedTiger(keras.optimizers.Optimizer):
    """Optimizer that implements the rule of bojone/tiger's ``tiger.py``: Tiger with a step
    relative to each weight's size.

    The post's eq. (1) with a constant ``eta`` is ``Tiger``; the released optimizer differs in
    four ways, each taken from ``tiger.py``'s ``_prepare`` and ``_resource_apply``:

    1. A LAMB-like relative learning rate. The step of a variable whose path (its name for a
       plain ``tf.Variable``) contains "embeddings" (a Keras ``Embedding``) is ``lr * RMS(row)``
       per row (RMS over the last axis); any other variable's step is ``lr * RMS(variable)`` over
       the whole tensor. The RMS is ``sqrt(mean(theta^2))`` of the weights before the update,
       with no epsilon and no clipping (a tensor of zeros never moves).
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
        learning_rate: The relative learning rate, a float > 0 or a Keras
            `LearningRateSchedule`. Defaults to `0.001` (``tiger.py``'s default; its README
            uses `1.76e-3`).
        beta: A float in [0, 1), the decay rate of the momentum. Defaults to `0.965`.
        weight_decay: A float `lambda` >= 0, or `None` for 0. Defaults to `0.01`.
        grad_accum_steps: Micro-steps per update, an int >= 1. Defaults to `1`.
        lr_schedule: ``{micro-step: multiplier}`` (``tiger.py``'s name), linear in between and
            constant after the last key; when the first key is not 0 the schedule starts at
            (0, 0), a warm-up. Defaults to `None`, i.e. ``{0: 1}`` (constant).
        shrink_ratio: A float in (0, 1], the factor applied to a variable whose gradient holds
            a NaN. Defaults to `0.99`.
        {{base_optimizer_keyword_args}}

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
        if isinstance(learning_rate, numbers.Real):
            number("learning_rate", learning_rate, low=0.0, low_open=True)
        beta = number("beta", beta, low=0.0, high=1.0, high_open=True)
        if weight_decay is not None:
            number("weight_decay", weight_decay, low=0.0)
        grad_accum_steps = integer("grad_accum_steps", grad_accum_steps)
        if grad_accum_steps > 1 and gradient_accumulation_steps:
            raise ValueError("grad_accum_steps > 1 cannot be combined with Keras's "
                             f"gradient_accumulation_steps (got {gradient_accumulation_steps})")
        shrink_ratio = number("shrink_ratio", shrink_ratio, low=0.0, high=1.0, low_open=True)
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
        self.beta = beta
        self.grad_accum_steps = grad_accum_steps
        self.lr_schedule = _check_schedule({0: 1.0} if lr_schedule is None else lr_schedule)
        self.shrink_ratio = shrink_ratio

    def build(self, var_list):
        """Initialize optimizer variables: one momentum per model variable.

        Args:
            var_list: list of model variables to build Tiger variables on.
        """
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")
        # The TF backend hands update_step a tf.Variable without Keras's path: classify now. A
        # plain tf.Variable has no path either; tiger.py itself reads the name.
        self._kinds = [released_variable_kind(getattr(v, "path", v.name)) for v in var_list]

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

        # The relative step: lr * RMS(row) for embeddings, lr * RMS(tensor) for other weights,
        # an absolute 0.5 lr and no decay for biases and normalisation (gamma shrinks towards 1).
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

        # m = b1 m + b2 g;  theta = theta - lr (sign(m) + lambda theta), or shrink on a NaN
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


ReleasedTiger.__doc__ = ReleasedTiger.__doc__.replace(
    "{{base_optimizer_keyword_args}}",
    "clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,\n"
    "            loss_scale_factor, gradient_accumulation_steps, name: as for every Keras\n"
    "            optimizer (Keras's own `gradient_accumulation_steps` may not be combined with\n"
    "            `grad_accum_steps` > 1).",
)


def released_variable_kind(path: str) -> str:
    """How ``tiger.py`` treats a variable, from its name/path (its ``re.findall`` tests, in order).

    Returns "gamma" (the path contains "gamma": 0.5 lr, no decay, NaN-shrink towards 1), "bias"
    (contains "bias" or "beta": 0.5 lr, no decay), "embeddings" (contains "embeddings": per-row
    RMS) or "tensor" (anything else: RMS of the whole tensor).
    """
    if re.search("bias|beta|gamma", path):
        return "gamma" if "gamma" in path else "bias"
    return "embeddings" if "embeddings" in path else "tensor"


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
        if step < 0 or not isinstance(value, numbers.Real) or not value >= 0:
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
