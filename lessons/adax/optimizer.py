"""The AdaX optimizer (Li et al., 2020), in the style of Keras's own optimizers."""

import math
import numbers

import keras
from keras import ops

from lessons._core.checks import number
from lessons._core.gradients import dense_gradient

__all__ = ["AdaX"]


@keras.saving.register_keras_serializable(package="lessons")
class AdaX(keras.optimizers.Optimizer):
    """Optimizer that implements the AdaX algorithm: Adam with exponential long-term memory.

    AdaX ([Li et al., 2020](https://arxiv.org/abs/2004.09740)) keeps Adam's momentum (without its
    bias correction) and lets the second moment grow instead of decay:

        m = b1 m + (1 - b1) g,   v = (1 + b2) v + b2 g^2,   v_hat = v / ((1 + b2)^t - 1),
        theta -= lr m / (sqrt(v_hat) + epsilon).

    epsilon sits outside the square root and is added to sqrt(v_hat), as in ``AdaX_V2`` (the
    tf.keras class) of Su Jianlin's reference code (bojone/adax, adax.py). Its pure-Keras
    ``AdaX_V1`` instead multiplies the learning rate by ``sqrt((1 + b2)^t - 1)`` and adds epsilon
    to sqrt(v), the uncorrected v.

    The state is ``v_hat`` itself, updated as the moving average
    ``v_hat += (1 - beta2_hat_t) (g^2 - v_hat)`` with ``1 - beta2_hat_t = b2 / expm1(t log1p(b2))``:
    algebraically the same rule, but finite for any number of steps, where ``(1 + b2)^t``
    overflows float32 at step 887,126 for b2 = 1e-4. The weight falls below float32's smallest
    normal number near step 781,000 and is exactly 0 once the float32 denominator overflows
    (step 887,273); a weight that small could not move a float32 v_hat anyway.

    A sparse gradient (the ``tf.IndexedSlices`` of an ``Embedding``) is made dense first, its
    repeated ids summed, so that g^2 is the square of a row's gradient and the step is the dense
    gradient's (see ``apply``).

    Args:
        learning_rate: A float > 0, a
            `keras.optimizers.schedules.LearningRateSchedule` instance, or a callable that takes
            no arguments and returns the actual value to use. Defaults to `0.001`.
        beta_1: A float in [0, 1), the decay rate of the momentum. Defaults to `0.9`.
        beta_2: A float > 0, the growth rate of the second-moment memory. Defaults to `1e-4`.
        epsilon: A float >= 0 added to sqrt(v_hat). Defaults to `1e-6`.
        {{base_optimizer_keyword_args}}
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=1e-4,
        epsilon=1e-6,
        weight_decay=None,
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
        beta_1 = number("beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        beta_2 = number("beta_2", beta_2, low=0.0, low_open=True)
        epsilon = number("epsilon", epsilon, low=0.0)
        super().__init__(
            learning_rate=learning_rate,
            name=name,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            **kwargs,
        )
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def build(self, var_list):
        """Initialize optimizer variables.

        AdaX has 2 types of variables: momentums ``m`` and bias-corrected second moments
        ``v_hat``.

        Args:
            var_list: list of model variables to build AdaX variables on.
        """
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._second_moments = self.add_optimizer_variables(
            var_list, ["momentum", "second_moment"]
        )

    def apply(self, grads, trainable_variables=None):
        """Keras's ``apply``, with each sparse gradient made dense first.

        ``update_step`` squares the gradient; squared slice by slice, the slices of an id that
        repeats in a batch would give v_hat the sum of their squares, not the square of their sum.
        """
        grads = [dense_gradient(g, g.dtype) for g in grads]
        return super().apply(grads, trainable_variables)

    def momentum(self, variable):
        """The first-moment slot ``m`` of a model variable."""
        return self._momentums[self._get_variable_index(variable)]

    def second_moment(self, variable):
        """The bias-corrected second-moment slot ``v_hat`` of a model variable."""
        return self._second_moments[self._get_variable_index(variable)]

    def update_step(self, gradient, variable, learning_rate):
        """Update step given gradient and the associated model variable."""
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        one_minus_beta2_hat = ops.cast(self._new_gradient_weight(), variable.dtype)
        m = self.momentum(variable)
        v_hat = self.second_moment(variable)

        # m += (1 - beta_1) (g - m);  v_hat += (1 - beta2_hat_t) (g^2 - v_hat)
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1.0 - self.beta_1))
        self.assign_add(
            v_hat, ops.multiply(ops.subtract(ops.square(gradient), v_hat), one_minus_beta2_hat)
        )
        # theta -= lr m / (sqrt(v_hat) + epsilon)
        self.assign_sub(
            variable, ops.divide(ops.multiply(m, lr), ops.add(ops.sqrt(v_hat), self.epsilon))
        )

    def _new_gradient_weight(self):
        """``1 - beta2_hat_t = b2 / ((1 + b2)^t - 1)``, without forming the power (float32).

        ``b2 / expm1(t log1p(b2))``: exact near t = 1, and ``b2 / inf = 0`` once it overflows.
        """
        t = ops.cast(self.iterations + 1, "float32")
        power_minus_one = ops.expm1(ops.multiply(t, math.log1p(self.beta_2)))
        return ops.minimum(ops.divide(self.beta_2, power_minus_one), 1.0)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config


AdaX.__doc__ = AdaX.__doc__.replace(
    "{{base_optimizer_keyword_args}}",
    "weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,\n"
    "            ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name:\n"
    "            as for every Keras optimizer (`keras.optimizers.Optimizer`).",
)
