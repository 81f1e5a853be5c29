"""The Tiger optimizer as the post's eq. (1), in the style of Keras's own optimizers (``lion.py``)."""

import numbers

import keras
from keras import ops

from lessons._core.checks import number
from lessons._core.gradients import dense_gradient as _dense_gradient

__all__ = ["Tiger"]


@keras.saving.register_keras_serializable(package="lessons")
class Tiger(keras.optimizers.Optimizer):
    """Optimizer that implements Tiger: the sign of one momentum, with weight decay in the rule.

    Update per variable, with ``lambda`` = ``weight_decay`` (the post's eq. (1)):

        m     = beta * m + (1 - beta) * g
        theta = theta - lr * (sign(m) + lambda * theta)

    The decay is applied by ``update_step`` itself (and only there), so it is applied exactly once
    per step, uses the pre-update ``theta`` and is skipped together with the sign step for lazy
    rows. Variables excluded with ``exclude_from_weight_decay`` get ``lambda = 0``. The step is
    absolute; the Tiger the author released scales it by each row's RMS (``ReleasedTiger``).

    Args:
        learning_rate: A float > 0, a
            `keras.optimizers.schedules.LearningRateSchedule` instance, or a callable that takes
            no arguments and returns the actual value to use. Defaults to `0.001`.
        beta: A float in [0, 1), the decay rate of the momentum. Defaults to `0.965` (the Tiger
            author's default).
        weight_decay: A float `lambda` >= 0, or `None` for 0. Defaults to `0.01`, which puts the
            fixed point of an absent token at +-100.
        lazy: If `True`, rows (first axis) whose gradient is entirely zero this step keep both
            their momentum and their weights unchanged (the post's first remedy). Works for
            dense gradients and for the `tf.IndexedSlices` an `Embedding` produces. Defaults to
            `False`.
        {{base_optimizer_keyword_args}}

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
        if isinstance(learning_rate, numbers.Real):
            number("learning_rate", learning_rate, low=0.0, low_open=True)
        beta = number("beta", beta, low=0.0, high=1.0, high_open=True)
        if weight_decay is not None:
            number("weight_decay", weight_decay, low=0.0)
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
        self.lazy = bool(lazy)

    def build(self, var_list):
        """Initialize optimizer variables: one momentum per model variable.

        Args:
            var_list: list of model variables to build Tiger variables on.
        """
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def _apply_weight_decay(self, variables):
        # The base class would decay every variable before `update_step`; Tiger's rule does it
        # inside `update_step` instead (needed for lazy rows), so the base pass does nothing.
        return

    def update_step(self, gradient, variable, learning_rate):
        """One Tiger step for one variable: eq. (1)."""
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = _dense_gradient(gradient, variable.dtype)
        beta = ops.cast(self.beta, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]

        # m = beta m + (1 - beta) g
        new_m = ops.add(ops.multiply(m, beta), ops.multiply(gradient, 1.0 - beta))
        # theta = theta - lr (sign(m) + lambda theta)
        direction = ops.sign(new_m)
        if self.weight_decay and self._use_weight_decay(variable):
            wd = ops.cast(self.weight_decay, variable.dtype)
            direction = ops.add(direction, ops.multiply(variable, wd))
        new_variable = ops.subtract(variable, ops.multiply(lr, direction))

        if self.lazy:  # rows with an all-zero gradient keep their momentum and weights
            touched = _touched_rows(gradient)  # broadcastable to the variable's shape
            new_m = ops.where(touched, new_m, m)
            new_variable = ops.where(touched, new_variable, variable)
        self.assign(m, new_m)
        self.assign(variable, new_variable)

    def get_config(self):
        config = super().get_config()
        config.update({"beta": self.beta, "lazy": self.lazy})
        return config


Tiger.__doc__ = Tiger.__doc__.replace(
    "{{base_optimizer_keyword_args}}",
    "clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,\n"
    "            loss_scale_factor, gradient_accumulation_steps, name: as for every Keras\n"
    "            optimizer (`keras.optimizers.Optimizer`).",
)


def _touched_rows(gradient):
    """Boolean mask, True where a first-axis row has any non-zero gradient entry.

    Shape [rows, 1, ..., 1] for a variable of rank >= 2, the gradient's own shape otherwise."""
    nonzero = ops.not_equal(gradient, 0)
    rank = len(gradient.shape)
    if rank < 2:
        return nonzero
    return ops.any(nonzero, axis=tuple(range(1, rank)), keepdims=True)
