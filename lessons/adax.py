"""Lesson 01: AdaX vs Adam, and the step-dependent beta2-hat behind both.

Post: https://kexue.fm/archives/7387. Both optimizers' bias-corrected second moment is a moving
average ``v_hat_t = B_t v_hat_{t-1} + (1 - B_t) g_t^2`` with a step-dependent ``B_t``:

    Adam       B_t = b2 (1 - b2^(t-1)) / (1 - b2^t)    0 at t = 1, -> b2
    AdaX       B_t = 1 - b2 / ((1 + b2)^t - 1)         0 at t = 1, -> 1
    Adafactor  B_t = 1 - t^(-c)                        0 at t = 1, -> 1

``AdaX`` keeps ``v_hat`` itself as its state and updates it in that moving-average form, so it never
forms ``(1 + b2)^t``, which overflows float32 near step 887,000 (and ``v`` with it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from lessons.notebook import figure_png

RULES = ("adam", "adax", "adafactor")
DEFAULTS = {"adam": 0.999, "adax": 1e-4, "adafactor": 0.8}  # beta_2, beta_2, c


# ----------------------------------------------------------------------------------------------
# Schedules (float64 NumPy)


def _steps(t) -> np.ndarray:
    """Validate integer steps t >= 1 (ints or whole-valued floats) and return them as float64."""
    arr = np.asarray(t)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"t must be integer steps >= 1, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr) | (arr < 1) | (arr != np.floor(arr))
    if np.any(bad):
        raise ValueError(f"t must be integer steps >= 1, got {arr[bad].ravel()[:3]}")
    return arr


def _check_param(rule: str, value: float) -> float:
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    value = float(value)
    if rule == "adam" and not 0.0 < value < 1.0:
        raise ValueError(f"Adam's beta_2 must be in (0, 1), got {value}")
    if rule == "adax" and not 0.0 < value < math.inf:
        raise ValueError(f"AdaX's beta_2 must be in (0, inf), got {value}")
    if rule == "adafactor" and not 0.0 < value < math.inf:
        raise ValueError(f"Adafactor's c must be in (0, inf), got {value}")
    return value


def new_gradient_weight(t, rule: str = "adax", param: float | None = None):
    """``1 - B_t``: the weight of the newest g^2 in v-hat, computed without cancellation.

    Args:
        t: integer step(s) >= 1, any shape.
        rule: "adam", "adax" or "adafactor" (default "adax").
        param: beta_2 for Adam/AdaX, c for Adafactor; None takes ``DEFAULTS[rule]``.
    """
    param = _check_param(rule, DEFAULTS.get(rule) if param is None else param)
    t = _steps(t)
    with np.errstate(over="ignore"):
        if rule == "adam":  # (1 - b2) / (1 - b2^t)
            w = (1.0 - param) / -np.expm1(t * np.log(param))
        elif rule == "adax":  # b2 / ((1 + b2)^t - 1); -> 0 cleanly once the power overflows
            w = param / np.expm1(t * np.log1p(param))
        else:  # t^(-c)
            w = np.exp(-param * np.log(t))
    return np.clip(w, 0.0, 1.0)[()]


def beta2_hat_adam(t, beta_2: float = 0.999):
    """Adam's effective ``B_t = b2 (1 - b2^(t-1)) / (1 - b2^t)`` (0 at t = 1, -> b2).

    Args:
        t: integer step(s) >= 1, any shape.
        beta_2: Adam's beta_2 in (0, 1) (default 0.999).
    """
    beta_2 = _check_param("adam", beta_2)
    t = _steps(t)
    log_b2 = np.log(beta_2)
    return (beta_2 * np.expm1((t - 1.0) * log_b2) / np.expm1(t * log_b2))[()]


def beta2_hat_adax(t, beta_2: float = 1e-4):
    """AdaX's effective ``B_t = 1 - b2 / ((1 + b2)^t - 1)`` (0 at t = 1, -> 1).

    Args:
        t: integer step(s) >= 1, any shape.
        beta_2: AdaX's beta_2 > 0 (default 1e-4).
    """
    return (1.0 - new_gradient_weight(t, "adax", beta_2))[()]


def beta2_hat_adafactor(t, c: float = 0.8):
    """Adafactor's ``B_t = 1 - t^(-c)`` (0 at t = 1, -> 1).

    Args:
        t: integer step(s) >= 1, any shape.
        c: decay exponent > 0 (default 0.8, Keras's ``beta_2_decay=-0.8``).
    """
    c = _check_param("adafactor", c)
    return (-np.expm1(-c * np.log(_steps(t))))[()]


BETA2_HAT = {"adam": beta2_hat_adam, "adax": beta2_hat_adax, "adafactor": beta2_hat_adafactor}


def adax_departure_step(beta_2: float = 1e-4, ratio: float = 0.5) -> int:
    """First step at which AdaX's new-gradient weight drops below ``ratio`` times 1/t.

    Before it AdaX's v-hat is (nearly) the plain mean of all g^2 seen, ``B_t ~ 1 - 1/t``; after
    it ``1 - B_t ~ b2 exp(-b2 t)`` falls off exponentially and B_t turns toward 1. With x = t log(1+b2),
    ``t (1 - B_t) = x / (e^x - 1)`` depends on x alone, so the step is about x*/b2.

    Args:
        beta_2: AdaX's beta_2 > 0 (default 1e-4).
        ratio: threshold in (0, 1) on ``t (1 - B_t)`` (default 0.5).
    """
    beta_2 = _check_param("adax", beta_2)
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    lo, hi = 0.0, 1.0  # bisect x / expm1(x) = ratio; the left side falls from 1 to 0
    while hi / math.expm1(hi) > ratio:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mid / math.expm1(mid) > ratio else (lo, mid)
    t = max(1, math.ceil(hi / math.log1p(beta_2)))
    while t > 1 and (t - 1) * new_gradient_weight(t - 1, "adax", beta_2) <= ratio:
        t -= 1  # guard the rounding of the continuous solution, both ways
    while t * new_gradient_weight(t, "adax", beta_2) > ratio:
        t += 1
    return t


def overflow_step(beta_2: float = 1e-4, dtype="float32") -> int:
    """First step t at which the naive ``(1 + b2)^t`` is inf in ``dtype``.

    Args:
        beta_2: AdaX's beta_2 > 0 (default 1e-4).
        dtype: "float32" (default) or "float64".
    """
    beta_2 = _check_param("adax", beta_2)
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    base = np.asarray(1.0 + beta_2, dtype=dtype)
    t = math.floor(math.log(float(np.finfo(dtype).max)) / math.log(float(base)))
    with np.errstate(over="ignore"):
        while not np.isinf(np.power(base, np.asarray(t, dtype))):
            t += 1
        while t > 1 and np.isinf(np.power(base, np.asarray(t - 1, dtype))):
            t -= 1
    return t


@dataclass(frozen=True)
class Criterion:
    """The post's criterion ``B_1 = 0, B_inf = 1`` for one schedule, checked numerically."""

    rule: str
    param: float
    b_first: float  # B_1
    weight_last: float  # 1 - B_t at t_last
    t_last: float
    tol: float

    @property
    def starts_at_zero(self) -> bool:
        return abs(self.b_first) <= self.tol

    @property
    def ends_at_one(self) -> bool:
        return self.weight_last <= self.tol

    @property
    def holds(self) -> bool:
        return self.starts_at_zero and self.ends_at_one


def check_criterion(rule: str, param: float | None = None, t_last: float = 1e15,
                    tol: float = 1e-6) -> Criterion:
    """Check ``B_1 = 0`` and ``1 - B_t <= tol`` at a very late step ``t_last``.

    Args:
        rule: "adam", "adax" or "adafactor".
        param: beta_2 (Adam/AdaX) or c (Adafactor); None takes ``DEFAULTS[rule]``.
        t_last: the late integer step standing in for infinity (default 1e15).
        tol: tolerance in (0, 1) for both checks (default 1e-6).
    """
    param = _check_param(rule, DEFAULTS.get(rule) if param is None else param)
    if not 0.0 < tol < 1.0:
        raise ValueError(f"tol must be in (0, 1), got {tol}")
    b_first = float(BETA2_HAT[rule](1, param))
    weight_last = float(new_gradient_weight(t_last, rule, param))
    return Criterion(rule, param, b_first, weight_last, float(_steps(t_last)), tol)


# ----------------------------------------------------------------------------------------------
# v-hat from a gradient sequence, both ways (float64)


def _grads(grads) -> np.ndarray:
    g = np.asarray(grads, dtype=np.float64)
    if g.ndim < 1 or g.shape[0] < 1 or not np.all(np.isfinite(g)):
        raise ValueError("grads must be a finite array of shape [steps, ...] with steps >= 1")
    return g


def vhat_direct(grads, rule: str = "adax", beta_2: float | None = None) -> np.ndarray:
    """v-hat by the literal rule: accumulate v, then divide by the bias correction.

    Adam: ``v = b2 v + (1 - b2) g^2, v_hat = v / (1 - b2^t)``;
    AdaX: ``v = (1 + b2) v + b2 g^2, v_hat = v / ((1 + b2)^t - 1)`` (overflows for long runs).

    Args:
        grads: gradients, shape [steps, ...].
        rule: "adam" or "adax" (default "adax").
        beta_2: None takes ``DEFAULTS[rule]``.
    Returns:
        v-hat after every step, shape [steps, ...].
    """
    if rule not in ("adam", "adax"):
        raise ValueError(f"rule must be 'adam' or 'adax', got {rule!r}")
    b2 = _check_param(rule, DEFAULTS[rule] if beta_2 is None else beta_2)
    g = _grads(grads)
    v = np.zeros(g.shape[1:])
    out = np.empty_like(g)
    for i, g_t in enumerate(g):
        t = i + 1
        if rule == "adam":
            v = b2 * v + (1.0 - b2) * g_t**2
            out[i] = v / (1.0 - b2**t)
        else:
            v = (1.0 + b2) * v + b2 * g_t**2
            out[i] = v / ((1.0 + b2) ** t - 1.0)
    return out


def vhat_moving_average(grads, rule: str = "adax", param: float | None = None) -> np.ndarray:
    """v-hat as the moving average ``v_hat_t = B_t v_hat_{t-1} + (1 - B_t) g_t^2``.

    Args:
        grads: gradients, shape [steps, ...].
        rule: "adam", "adax" or "adafactor" (default "adax").
        param: beta_2 (Adam/AdaX) or c (Adafactor); None takes ``DEFAULTS[rule]``.
    Returns:
        v-hat after every step, shape [steps, ...].
    """
    g = _grads(grads)
    weights = new_gradient_weight(np.arange(1, len(g) + 1), rule, param)  # [steps]
    v_hat = np.zeros(g.shape[1:])
    out = np.empty_like(g)
    for i, (g_t, w) in enumerate(zip(g, np.atleast_1d(weights), strict=True)):
        v_hat = v_hat + w * (g_t**2 - v_hat)
        out[i] = v_hat
    return out


# ----------------------------------------------------------------------------------------------
# The optimizer


@keras.saving.register_keras_serializable(package="lessons")
class AdaX(keras.optimizers.Optimizer):
    """AdaX (Li et al., 2020, arXiv:2004.09740): Adam with exponential long-term memory.

    ``m = b1 m + (1 - b1) g`` (no bias correction), ``v = (1 + b2) v + b2 g^2``,
    ``v_hat = v / ((1 + b2)^t - 1)``, ``theta -= lr m / (sqrt(v_hat) + epsilon)``, epsilon outside
    the square root as in Su Jianlin's reference code (bojone/adax).

    The state is ``v_hat`` itself, updated as ``v_hat += (1 - B_t) (g^2 - v_hat)`` with
    ``1 - B_t = b2 / expm1(t log1p(b2))``: algebraically the same rule, but finite for any number of
    steps (once the denominator overflows, the weight is exactly 0 and v_hat stops moving, as
    its true value b2 / e^(b2 t) ~ 0 says it should).

    Args:
        learning_rate: a float > 0, a `keras.optimizers.schedules.LearningRateSchedule`, or a
            callable returning the rate. Defaults to `0.001`.
        beta_1: momentum decay in [0, 1). Defaults to `0.9`.
        beta_2: growth rate of the second-moment memory, > 0. Defaults to `1e-4`.
        epsilon: added to sqrt(v_hat), >= 0. Defaults to `1e-6`.
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
        name="adax",
        **kwargs,
    ):
        if isinstance(learning_rate, int | float) and not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if not 0.0 <= beta_1 < 1.0:
            raise ValueError(f"beta_1 must be in [0, 1), got {beta_1}")
        if not 0.0 < beta_2 < math.inf:
            raise ValueError(f"beta_2 must be in (0, inf), got {beta_2}")
        if not 0.0 <= epsilon < math.inf:
            raise ValueError(f"epsilon must be in [0, inf), got {epsilon}")
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
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)

    def build(self, var_list):
        """Create the momentum ``m`` and the bias-corrected second moment ``v_hat`` per variable."""
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._second_moments = self.add_optimizer_variables(
            var_list, ["momentum", "second_moment"]
        )

    def momentum(self, variable):
        """The first-moment slot ``m`` of a model variable."""
        return self._momentums[self._get_variable_index(variable)]

    def second_moment(self, variable):
        """The bias-corrected second-moment slot ``v_hat`` of a model variable."""
        return self._second_moments[self._get_variable_index(variable)]

    def _new_gradient_weight(self):
        # 1 - B_t = b2 / ((1 + b2)^t - 1) without forming the power; b2 / inf = 0 once it overflows.
        t = ops.cast(self.iterations + 1, "float32")
        power_minus_one = ops.expm1(ops.multiply(t, math.log1p(self.beta_2)))
        return ops.minimum(ops.divide(self.beta_2, power_minus_one), 1.0)

    def update_step(self, gradient, variable, learning_rate):
        """Update step given gradient and the associated model variable."""
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        weight = ops.cast(self._new_gradient_weight(), variable.dtype)
        m = self.momentum(variable)
        v_hat = self.second_moment(variable)

        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1.0 - self.beta_1))
        self.assign_add(v_hat, ops.multiply(ops.subtract(ops.square(gradient), v_hat), weight))
        self.assign_sub(
            variable, ops.divide(ops.multiply(m, lr), ops.add(ops.sqrt(v_hat), self.epsilon))
        )

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config


AdaX.__doc__ = AdaX.__doc__.replace(
    "{{base_optimizer_keyword_args}}",
    "weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ...: as for every Keras\n"
    "            optimizer (`keras.optimizers.Optimizer`).",
)


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
    if not isinstance(step, int | np.integer) or step < 1:
        raise ValueError(f"step must be an integer >= 1, got {step!r}")
    var = keras.Variable(np.asarray(weight, np.float32), name="w")
    opt = AdaX(**adax_kwargs)
    opt.build([var])
    opt.iterations.assign(step - 1)
    opt.momentum(var).assign(np.asarray(m, np.float32))
    opt.second_moment(var).assign(np.asarray(v_hat, np.float32))
    opt.apply_gradients([(np.asarray(gradient, np.float32), var)])
    return var.numpy(), opt.momentum(var).numpy(), opt.second_moment(var).numpy()


# ----------------------------------------------------------------------------------------------
# Training on scikit-learn's digits


def digits_mlp(hidden: int = 32, seed: int = 0) -> keras.Model:
    """A 64 -> hidden (relu) -> 10 logits classifier for 8x8 digits.

    Args:
        hidden: hidden units, >= 1 (default 32).
        seed: seed of the Glorot initialisers (default 0).
    """
    if hidden < 1:
        raise ValueError(f"hidden must be >= 1, got {hidden}")
    inputs = keras.Input((64,))
    h = keras.layers.Dense(hidden, activation="relu", name="hidden",
                           kernel_initializer=keras.initializers.GlorotUniform(seed))(inputs)
    logits = keras.layers.Dense(10, name="logits",
                                kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(h)
    return keras.Model(inputs, logits, name="digits_mlp")


def make_optimizer(rule: str, learning_rate: float = 1e-3):
    """Keras Adam, our AdaX, or Keras Adafactor, each with its default beta_2 / decay.

    Args:
        rule: "adam", "adax" or "adafactor".
        learning_rate: > 0 (default 1e-3).
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if rule == "adam":
        return keras.optimizers.Adam(learning_rate)
    if rule == "adax":
        return AdaX(learning_rate)
    return keras.optimizers.Adafactor(learning_rate)


def second_moment_of(optimizer, variable) -> np.ndarray:
    """The bias-corrected second moment v-hat the optimizer currently holds for ``variable``.

    Keras's Adam stores the raw v (v-hat = v / (1 - b2^t)); its Adafactor stores v-hat directly
    (no correction needed since B_1 = 0); for a variable of rank >= 2 it is the factored estimate.
    """
    index = optimizer._get_variable_index(variable)
    if isinstance(optimizer, AdaX):
        return optimizer.second_moment(variable).numpy()
    if isinstance(optimizer, keras.optimizers.Adam):
        t = int(optimizer.iterations.numpy())
        return optimizer._velocities[index].numpy() / -math.expm1(t * math.log(optimizer.beta_2))
    if isinstance(optimizer, keras.optimizers.Adafactor):
        return optimizer._v[index].numpy()
    raise ValueError(f"optimizer must be Adam, AdaX or Adafactor, got {type(optimizer).__name__}")


class SecondMomentTrace(keras.callbacks.Callback):
    """Record v-hat and the effective learning rate lr / sqrt(v-hat) of one weight after each step.

    Args:
        layer: name of the layer holding the weight (default "logits").
        attribute: the layer's variable attribute (default "bias").
        index: flat index of the weight inside that variable (default 0).
    """

    def __init__(self, layer: str = "logits", attribute: str = "bias", index: int = 0):
        super().__init__()
        self.layer, self.attribute, self.index = layer, attribute, index
        self.steps, self.v_hat, self.learning_rate = [], [], []

    def on_train_batch_end(self, batch, logs=None):
        optimizer = self.model.optimizer
        variable = getattr(self.model.get_layer(self.layer), self.attribute)
        self.steps.append(int(optimizer.iterations.numpy()))
        self.v_hat.append(float(second_moment_of(optimizer, variable).ravel()[self.index]))
        self.learning_rate.append(float(ops.convert_to_numpy(optimizer.learning_rate)))

    def result(self) -> dict[str, np.ndarray]:
        """Arrays ``steps``, ``v_hat`` and ``effective_lr`` = lr / sqrt(v_hat), one entry per step."""
        v_hat = np.asarray(self.v_hat)
        with np.errstate(divide="ignore"):
            effective = np.asarray(self.learning_rate) / np.sqrt(v_hat)
        return {"steps": np.asarray(self.steps), "v_hat": v_hat, "effective_lr": effective}


@dataclass
class Run:
    """One optimizer's training run on digits: loss per epoch, held-out scores, per-step trace."""

    rule: str
    learning_rate: float
    loss: np.ndarray  # [epochs] training loss
    val_loss: float  # after the last epoch
    val_accuracy: float
    trace: dict[str, np.ndarray]  # steps, v_hat, effective_lr


def digits_split(val_fraction: float = 0.2, seed: int = 0):
    """scikit-learn digits in [0, 1], shuffled with ``seed`` and split into train / validation."""
    from lessons.data import load_digits

    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    x, y = load_digits()
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = round(len(x) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def train_digits(rule: str, epochs: int = 15, batch_size: int = 32, learning_rate: float = 1e-3,
                 seed: int = 0, progress: bool = True) -> Run:
    """Train ``digits_mlp`` with one optimizer, tracing v-hat of the first output bias.

    Args:
        rule: "adam", "adax" or "adafactor".
        epochs: >= 1 (default 15).
        batch_size: >= 1 (default 32).
        learning_rate: > 0 (default 1e-3).
        seed: seeds the initialisers and the shuffling (default 0).
        progress: show a tqdm bar over epochs (default True).
    """
    from lessons.notebook import keras_progress

    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    optimizer = make_optimizer(rule, learning_rate)
    keras.utils.set_random_seed(seed)
    (x, y), (x_val, y_val) = digits_split(seed=seed)
    model = digits_mlp(seed=seed)
    model.compile(optimizer=optimizer, metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    trace = SecondMomentTrace()
    callbacks = [trace] + ([keras_progress(epochs, desc=rule)] if progress else [])
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=callbacks)
    val_loss, val_accuracy = model.evaluate(x_val, y_val, batch_size=512, verbose=0)
    return Run(rule, learning_rate, np.asarray(history.history["loss"]), float(val_loss),
               float(val_accuracy), trace.result())


def compare_on_digits(settings=(("adam", 1e-3), ("adax", 1e-3), ("adafactor", 1e-3)),
                      epochs: int = 15, batch_size: int = 32, seed: int = 0) -> list[Run]:
    """``train_digits`` once per (rule, learning_rate) pair, same model, data order and seed."""
    return [train_digits(rule, epochs, batch_size, lr, seed) for rule, lr in settings]


def plot_runs(runs: list[Run]):
    """Training loss per epoch, and lr / sqrt(v-hat) of the traced weight per step."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.4))
    for run in runs:
        label = f"{run.rule} (lr {run.learning_rate:g})"
        left.plot(np.arange(1, len(run.loss) + 1), run.loss, label=label)
        right.plot(run.trace["steps"], run.trace["effective_lr"], label=label, lw=1)
    left.set(yscale="log", xlabel="epoch", ylabel="training loss")
    right.set(yscale="log", xlabel="step t", ylabel=r"lr / $\sqrt{\hat v_t}$ (one output bias)")
    left.legend()
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# Figures and the widget


def schedule_curves(t=None, adam_beta_2: float = 0.999, adax_beta_2: float = 1e-4,
                    c: float = 0.8) -> dict:
    """B_t and 1 - B_t of the three schedules on the steps ``t``.

    Args:
        t: integer steps >= 1; None gives ~300 log-spaced steps from 1 to 1e6.
        adam_beta_2, adax_beta_2, c: the schedules' parameters (defaults 0.999, 1e-4, 0.8).
    Returns:
        ``{"t": t, "beta2_hat": {rule: B_t}, "weight": {rule: 1 - B_t}, "departure": step}``
        where ``departure = adax_departure_step(adax_beta_2)``.
    """
    t = np.unique(np.round(np.logspace(0, 6, 300))) if t is None else _steps(t)
    params = {"adam": adam_beta_2, "adax": adax_beta_2, "adafactor": c}
    return {
        "t": t,
        "beta2_hat": {r: np.asarray(BETA2_HAT[r](t, p)) for r, p in params.items()},
        "weight": {r: np.asarray(new_gradient_weight(t, r, p)) for r, p in params.items()},
        "departure": adax_departure_step(adax_beta_2),
    }


def plot_schedules(curves: dict):
    """Two panels: B_t against log t, and 1 - B_t against 1/t on log-log axes.

    The dashed line marks where AdaX leaves 1 - 1/t (``curves["departure"]``).
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.4))
    t = curves["t"]
    for rule, label, style in (("adam", "Adam", "-"), ("adax", "AdaX", "--"),
                               ("adafactor", "Adafactor", "-")):
        left.plot(t, curves["beta2_hat"][rule], style, label=label)
        w = curves["weight"][rule]
        right.plot(t[w > 0], w[w > 0], label=label)
    right.plot(t, 1.0 / t, "k:", label="1/t")
    right.axvline(curves["departure"], color="C1", ls="--", lw=0.8)
    left.set(xscale="log", xlabel="step t", ylabel=r"$\hat\beta_{2,t}$", ylim=(-0.02, 1.02))
    right.set(xscale="log", yscale="log", xlabel="step t", ylabel=r"$1-\hat\beta_{2,t}$",
              ylim=(1e-9, 2.0))
    left.legend(loc="lower right")
    right.legend(loc="lower left")
    fig.tight_layout()
    return fig


def schedule_explorer():
    """Sliders for Adam's beta_2, AdaX's beta_2 and Adafactor's c that redraw the schedules.

    Returns an ``ipywidgets.interactive``: ``.result`` holds the last ``schedule_curves`` and its
    last child is an ``Image`` with the figure. Drawing into an Image rather than the interactive's
    Output keeps ``nbconvert --execute`` working with ``store_widget_state=False`` (nbclient 0.11
    raises a KeyError for output captured by an Output widget when widget state is not stored).
    """
    import ipywidgets as widgets

    image = widgets.Image(format="png", layout=widgets.Layout(width="648px"))

    def redraw(adam_beta_2, adax_beta_2, c):
        curves = schedule_curves(None, adam_beta_2, adax_beta_2, c)
        image.value = figure_png(plot_schedules(curves))
        return curves

    style = {"description_width": "110px"}
    explorer = widgets.interactive(
        redraw,
        adam_beta_2=widgets.FloatSlider(0.999, min=0.9, max=0.9999, step=1e-4, readout_format=".4f",
                                        description="Adam beta_2", style=style),
        adax_beta_2=widgets.FloatLogSlider(1e-4, base=10, min=-6, max=-1, step=0.25,
                                           description="AdaX beta_2", style=style),
        c=widgets.FloatSlider(0.8, min=0.3, max=1.0, step=0.05, description="Adafactor c",
                              style=style),
    )
    explorer.children = (*explorer.children, image)
    return explorer
