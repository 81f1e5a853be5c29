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

from lessons._core.claims import Claim, check
from lessons._core.figures import figure_png
from lessons._core.notebook import course_seed

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


def _solve_x_over_expm1(target: float) -> float:
    """The x > 0 with x / (e^x - 1) = target, for target in (0, 1) (the left side falls from 1)."""
    lo, hi = 0.0, 1.0
    while hi / math.expm1(hi) > target:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mid / math.expm1(mid) > target else (lo, mid)
    return hi


def adax_departure_step(beta_2: float = 1e-4, ratio: float = 0.5) -> int:
    """First step t at which AdaX's new-gradient weight ``1 - B_t`` is at most ``ratio / t``.

    Before it, v-hat is (nearly) the plain mean of all g^2 seen, ``B_t ~ 1 - 1/t``. Exactly, with
    ``x = t ln(1 + b2)``::

        t (1 - B_t) = t b2 / (e^x - 1) = (b2 / ln(1 + b2)) * x / (e^x - 1),

    a function of x times the factor ``b2 / ln(1 + b2) = 1 + b2/2 - ...``. So the step is
    ``ceil(x* / ln(1 + b2))`` where x* solves ``x / (e^x - 1) = ratio ln(1 + b2) / b2``: 12,566 for
    b2 = 1e-4 and 128 for b2 = 1e-2 (dropping the factor would give 1.2564 / 0.01 ~ 126).
    Departure is not freezing: v-hat still moves for many steps after it (`adax_freeze_step`).

    Args:
        beta_2: AdaX's beta_2 > 0 (default 1e-4).
        ratio: threshold in (0, 1) on ``t (1 - B_t)`` (default 0.5).
    """
    beta_2 = _check_param("adax", beta_2)
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    log_base = math.log1p(beta_2)
    x = _solve_x_over_expm1(ratio * log_base / beta_2)
    t = max(1, math.ceil(x / log_base))
    while t > 1 and (t - 1) * new_gradient_weight(t - 1, "adax", beta_2) <= ratio:
        t -= 1  # guard the rounding of the continuous solution, both ways
    while t * new_gradient_weight(t, "adax", beta_2) > ratio:
        t += 1
    return t


def later_gradient_share(after: int, beta_2: float = 1e-4, t: int | None = None) -> float:
    """The weight that the gradients of steps ``after + 1 .. t`` together carry in AdaX's v-hat_t.

    ``v_hat_t = sum_k b2 (1 + b2)^(t - k) g_k^2 / ((1 + b2)^t - 1)``, so those gradients weigh
    ``((1 + b2)^(t - after) - 1) / ((1 + b2)^t - 1)``; it grows with t towards
    ``(1 + b2)^(-after)``, the value returned for ``t=None``.

    Args:
        after: integer step >= 0; gradients of later steps are counted.
        beta_2: AdaX's beta_2 > 0 (default 1e-4).
        t: integer step > after at which v-hat is read; None (default) for the limit t -> inf.
    """
    beta_2 = _check_param("adax", beta_2)
    if isinstance(after, bool) or not isinstance(after, int | np.integer) or after < 0:
        raise ValueError(f"after must be an integer step >= 0, got {after!r}")
    log_base = math.log1p(beta_2)
    if t is None:
        return math.exp(-after * log_base)
    if isinstance(t, bool) or not isinstance(t, int | np.integer) or t <= after:
        raise ValueError(f"t must be an integer step > after ({after}) or None, got {t!r}")
    return math.expm1((t - after) * log_base) / math.expm1(t * log_base)


def adax_freeze_step(beta_2: float = 1e-4, share: float = 1e-4) -> int:
    """First step T after which all later gradients together carry at most ``share`` of v-hat.

    Definition: ``later_gradient_share(T, beta_2, t) <= share`` for every later step t, i.e.
    ``(1 + b2)^(-T) <= share``: from step T on, v-hat is frozen up to that share, whatever the
    later gradients are (a later g^2 K times v-hat moves it by at most ``share * K``).
    ``T = ceil(ln(1/share) / ln(1 + b2))``: 92,109 for b2 = 1e-4 and 926 for b2 = 1e-2.

    Args:
        beta_2: AdaX's beta_2 > 0 (default 1e-4).
        share: the weight in (0, 1) left to later gradients (default 1e-4, i.e. 0.01%).
    """
    beta_2 = _check_param("adax", beta_2)
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be in (0, 1), got {share}")
    t = max(1, math.ceil(math.log(1.0 / share) / math.log1p(beta_2)))
    while t > 1 and later_gradient_share(t - 1, beta_2) <= share:
        t -= 1  # guard the rounding, both ways
    while later_gradient_share(t, beta_2) > share:
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
    ``v_hat = v / ((1 + b2)^t - 1)``, ``theta -= lr m / (sqrt(v_hat) + epsilon)``: epsilon outside
    the square root and added to sqrt(v_hat), as in ``AdaX_V2`` (the tf.keras class) of Su
    Jianlin's reference code (bojone/adax, adax.py). Its pure-Keras ``AdaX_V1`` instead multiplies
    the learning rate by ``sqrt((1 + b2)^t - 1)`` and adds epsilon to sqrt(v), the uncorrected v.

    The state is ``v_hat`` itself, updated as ``v_hat += (1 - B_t) (g^2 - v_hat)`` with
    ``1 - B_t = b2 / expm1(t log1p(b2))``: algebraically the same rule, but finite for any number of
    steps: for b2 = 1e-4 the weight falls below float32's smallest normal number near step
    781,000 and is exactly 0 once the float32 denominator overflows (step 887,273); a weight that
    small could not move a float32 v_hat anyway.

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
    weight: np.ndarray  # [n] 1 - B_t, float64
    v_hat_exact: np.ndarray  # [n] the literal rule in float64 (exact to ~1e-16)
    v_hat_adax: np.ndarray  # [n] adax.AdaX (float32 TensorFlow)
    v_hat_literal_float32: np.ndarray  # [n] the literal rule in float32 (NaN once it overflows)

    def __str__(self) -> str:
        lines = [f"one more gradient g = {self.gradient:g} (g^2 = {self.gradient**2:g}) "
                 f"into v_hat = {self.v_hat_before:g}",
                 f"{'step t':>10s} {'1 - B_t':>9s} {'float64 rule':>13s} {'AdaX':>11s} "
                 f"{'literal fp32':>13s}"]
        for row in zip(self.steps, self.weight, self.v_hat_exact, self.v_hat_adax,
                       self.v_hat_literal_float32, strict=True):
            t, w, exact, ours, literal = row
            lines.append(f"{t:>10,d} {w:9.2e} {exact:13.9f} {ours:11.7f} {literal:13.7f}")
        return "\n".join(lines)

    def claims(self) -> list[Claim]:
        """What the lesson says about this table.

        Measured with the default steps (no seed enters) on native AVX-512 and with
        ONEDNN_MAX_CPU_ISA=AVX2 or SSE41 (one thread): AdaX's max relative error 0.040 ppm on
        all three (a float32 rounding is up to 0.06 ppm); the literal float32 rule NaN exactly
        at 2,000,000, the one step past 887,126. Bands: error <= 1 ppm, mismatched steps 0.
        """
        rel_error = np.max(np.abs(self.v_hat_adax / self.v_hat_exact - 1.0))
        literal = self.v_hat_literal_float32
        with np.errstate(invalid="ignore"):
            broken = ~np.isfinite(literal) | ~(np.abs(literal / self.v_hat_exact - 1.0) <= 1e-3)
        past_overflow = self.steps >= overflow_step(DEFAULTS["adax"], "float32")
        return [
            Claim("AdaX's float32 v_hat equals the float64 rule at every step shown "
                  "(max relative error, ppm)", 1e6 * rel_error, at_most=1.0, digits=1),
            Claim("the literal float32 rule goes wrong (NaN, or off by > 0.1%) exactly at the "
                  "steps past its overflow (mismatched steps)", int(np.sum(broken != past_overflow)),
                  at_most=0, digits=0),
        ]


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
    if not (v_hat > 0 and math.isfinite(v_hat)):
        raise ValueError(f"v_hat must be a finite number > 0, got {v_hat}")
    if not math.isfinite(gradient) or gradient**2 == v_hat:
        raise ValueError(f"gradient must be finite with gradient**2 != v_hat ({v_hat}), "
                         f"got {gradient}")
    b2 = DEFAULTS["adax"]
    weight = np.atleast_1d(new_gradient_weight(t, "adax", b2))
    exact = v_hat + weight * (gradient**2 - v_hat)
    ours = [step_from_state(int(s), [0.0], [gradient], [m], [v_hat])[2][0] for s in t]
    literal = [_literal_float32_vhat(int(s), v_hat, gradient, b2) for s in t]
    return OneMoreGradient(t, float(gradient), float(v_hat), weight, exact,
                           np.asarray(ours, np.float64), np.asarray(literal, np.float64))


def epsilon_effect(epsilon: float = 1e-3, gradient_sizes=(1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)):
    """How much epsilon shrinks AdaX's first step, per gradient size.

    Runs one `AdaX` step (t = 1, so v_hat = g^2) with ``epsilon`` and with epsilon = 0 and returns
    their ratio, ``|g| / (|g| + epsilon)`` since epsilon sits outside the root; for comparison
    also the post's ``sqrt(v_hat + epsilon)`` form, ``|g| / sqrt(g^2 + epsilon)`` (a formula).

    Args:
        epsilon: AdaX's epsilon >= 0 (default 1e-3).
        gradient_sizes: gradients > 0 (default 1e-6 .. 1).
    Returns:
        ``{"gradient": [n], "adax": [n] ratio measured, "inside_root": [n] ratio of the post's form}``.
    """
    g = np.asarray(gradient_sizes, np.float64).ravel()
    if g.size == 0 or not np.all((g > 0) & np.isfinite(g)):
        raise ValueError(f"gradient_sizes must be finite numbers > 0, got {gradient_sizes}")
    if not 0.0 <= epsilon < math.inf:
        raise ValueError(f"epsilon must be in [0, inf), got {epsilon}")
    zeros = np.zeros_like(g)
    steps = [step_from_state(1, zeros, g, zeros, zeros, learning_rate=1.0, epsilon=e)[0]
             for e in (epsilon, 0.0)]
    return {"gradient": g, "adax": steps[0].astype(np.float64) / steps[1],
            "inside_root": g / np.sqrt(g**2 + epsilon)}


# ----------------------------------------------------------------------------------------------
# Training on scikit-learn's digits


LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
ADAFACTOR_EPSILON_1 = 1e-15  # Keras's default 1e-30 can turn a whole kernel NaN (make_optimizer)


def digits_mlp(hidden: int = 32, seed: int | None = None) -> keras.Model:
    """A 64 -> hidden (relu) -> 10 logits classifier for 8x8 digits.

    Args:
        hidden: hidden units, >= 1 (default 32).
        seed: seed of the Glorot initialisers (default None: the course seed).
    """
    if hidden < 1:
        raise ValueError(f"hidden must be >= 1, got {hidden}")
    seed = course_seed(seed)
    inputs = keras.Input((64,))
    h = keras.layers.Dense(hidden, activation="relu", name="hidden",
                           kernel_initializer=keras.initializers.GlorotUniform(seed))(inputs)
    logits = keras.layers.Dense(10, name="logits",
                                kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(h)
    return keras.Model(inputs, logits, name="digits_mlp")


def make_optimizer(rule: str, learning_rate: float = 1e-3, param: float | None = None):
    """Keras Adam, our AdaX, or Keras Adafactor.

    Args:
        rule: "adam", "adax" or "adafactor".
        learning_rate: > 0 (default 1e-3).
        param: beta_2 for Adam / AdaX, the decay exponent c for Adafactor (Keras's
            ``beta_2_decay = -c``); None (default) takes ``DEFAULTS[rule]`` (0.999, 1e-4, 0.8).

    Adafactor gets ``epsilon_1 = ADAFACTOR_EPSILON_1`` (1e-15) instead of Keras's 1e-30: Keras
    forms a matrix's factored v-hat as ``(r_i / mean(r)) c_j`` with ``r, c`` moving averages of
    ``g^2 + epsilon_1``; where a gradient row and a gradient column are both all zero (on digits:
    a pixel that is 0 in the whole batch, a hidden unit inactive on the whole batch) that is
    ``1e-30 * 1e-30 / mean(r)``, which underflows float32 to 0, so ``u = 0 / 0 = NaN`` enters
    RMS(u) and the whole kernel turns NaN at step 1 (course seed 1 does this; on our CPU ReLU
    then outputs 0, so the loss stays finite near ln 10 and nothing warns). With 1e-15 the product
    stays a normal float32.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    param = _check_param(rule, DEFAULTS[rule] if param is None else param)
    if rule == "adam":
        return keras.optimizers.Adam(learning_rate, beta_2=param)
    if rule == "adax":
        return AdaX(learning_rate, beta_2=param)
    return keras.optimizers.Adafactor(learning_rate, beta_2_decay=-param,
                                      epsilon_1=ADAFACTOR_EPSILON_1)


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

    Pass it to `train_digits` (``trace=``) or to any ``model.fit(callbacks=[...])``.

    Args:
        layer: name of the layer holding the weight (default "logits").
        attribute: the layer's variable attribute (default "bias").
        index: the weight inside that variable: a flat index or a tuple such as ``(28, 5)`` for
            ``kernel[28, 5]`` (default 0).
    """

    def __init__(self, layer: str = "logits", attribute: str = "bias", index: int | tuple = 0):
        super().__init__()
        try:
            flat = (index,) if isinstance(index, int | np.integer) else tuple(index)
        except TypeError:
            flat = ()
        if not flat or any(isinstance(i, bool) or not isinstance(i, int | np.integer) or i < 0
                           for i in flat):
            raise ValueError(f"index must be an int >= 0 or a tuple of them, got {index!r}")
        self.layer, self.attribute, self.index = layer, attribute, index
        self.steps, self.v_hat, self.learning_rate = [], [], []

    def variable(self, model):
        """The watched variable of ``model``; ValueError if the layer or attribute is missing."""
        try:
            layer = model.get_layer(self.layer)
        except ValueError:
            names = [layer.name for layer in model.layers]
            raise ValueError(f"layer must be one of {names}, got {self.layer!r}") from None
        variable = getattr(layer, self.attribute, None)
        if not isinstance(variable, keras.Variable):
            raise ValueError(f"attribute must name a variable of layer {self.layer!r} "
                             f"(e.g. 'kernel', 'bias'), got {self.attribute!r}")
        return variable

    def flat_index(self, model) -> int:
        """``index`` as a flat index into the variable; ValueError if it is out of range."""
        shape = tuple(self.variable(model).shape)
        size = math.prod(shape)
        if isinstance(self.index, int | np.integer):
            if not self.index < size:
                raise ValueError(f"index must be < {size} for {self.layer}.{self.attribute} "
                                 f"of shape {shape}, got {self.index}")
            return int(self.index)
        if len(self.index) != len(shape) or any(i >= n for i, n in zip(self.index, shape,
                                                                          strict=True)):
            raise ValueError(f"index must fit the shape {shape} of {self.layer}.{self.attribute}, "
                             f"got {self.index}")
        return int(np.ravel_multi_index(self.index, shape))

    def on_train_begin(self, logs=None):
        self._flat = self.flat_index(self.model)

    def on_train_batch_end(self, batch, logs=None):
        optimizer = self.model.optimizer
        variable = self.variable(self.model)
        flat = getattr(self, "_flat", None)
        flat = self.flat_index(self.model) if flat is None else flat
        self.steps.append(int(optimizer.iterations.numpy()))
        self.v_hat.append(float(second_moment_of(optimizer, variable).ravel()[flat]))
        self.learning_rate.append(float(ops.convert_to_numpy(optimizer.learning_rate)))

    def on_train_end(self, logs=None):
        values = ops.convert_to_numpy(self.variable(self.model))
        self.rms_last = float(np.sqrt(np.mean(np.square(values, dtype=np.float64))))

    def result(self) -> dict[str, np.ndarray]:
        """``steps``, ``v_hat`` and ``effective_lr`` = lr / sqrt(v_hat), one entry per step, and
        ``rms_last``, the RMS of the traced variable after training (NaN if not trained yet).

        ``effective_lr`` is the divisor view of Adam/AdaX; it is not the step Adafactor takes
        (that is further scaled by max(1e-3, RMS(w)) and clipped).
        """
        v_hat = np.asarray(self.v_hat)
        with np.errstate(divide="ignore"):
            effective = np.asarray(self.learning_rate) / np.sqrt(v_hat)
        return {"steps": np.asarray(self.steps), "v_hat": v_hat, "effective_lr": effective,
                "rms_last": getattr(self, "rms_last", math.nan)}


def check_trace_gets_gradient(model, trace: SecondMomentTrace, x, y) -> None:
    """Raise ValueError if the traced weight's gradient is 0 on every example of (x, y).

    Such a weight never moves: its v-hat stays 0 and lr / sqrt(v-hat) is inf. In ``digits_mlp``,
    ``hidden.kernel[i, j]`` is fed by pixel i, and pixels 0, 32 and 39 are 0 in all 1,797 images.
    """
    import tensorflow as tf

    variable = trace.variable(model)
    flat = trace.flat_index(model)
    with tf.GradientTape() as tape:
        loss = LOSS(y, model(x, training=False))
    grad = np.abs(ops.convert_to_numpy(tape.gradient(loss, variable))).ravel()
    if grad[flat] == 0.0:
        where = np.unravel_index(flat, tuple(variable.shape))
        best = np.unravel_index(int(np.argmax(grad)), tuple(variable.shape))
        hint = ""
        if trace.layer == "hidden" and trace.attribute == "kernel":
            pixel = int(where[0])
            hint = (f" (its input, pixel {pixel}, is 0 in every training image"
                    if not np.any(np.asarray(x)[:, pixel]) else
                    f" (hidden unit {int(where[1])} is inactive on every training image")
            hint += ")"
        raise ValueError(
            f"index {trace.index!r} of {trace.layer}.{trace.attribute} gets no gradient{hint}: "
            f"its v-hat would stay 0 and lr/sqrt(v-hat) be inf; pick a weight that learns, "
            f"e.g. index {tuple(int(i) for i in best)}")


@dataclass
class Run:
    """One optimizer's training run on digits: loss per epoch, held-out scores, per-step trace."""

    rule: str
    learning_rate: float
    loss: np.ndarray  # [epochs] training loss
    val_loss: float  # after the last epoch
    val_accuracy: float
    trace: dict[str, np.ndarray]  # steps, v_hat, effective_lr
    param: float | None = None  # beta_2 (Adam, AdaX) or c (Adafactor); None: the default


def digits_split(val_fraction: float = 0.2, seed: int | None = None):
    """scikit-learn digits in [0, 1], shuffled and split into train / validation.

    Args:
        val_fraction: held-out share in (0, 1) (default 0.2: 359 of 1,797).
        seed: seed of the shuffle (default None: the course seed).
    """
    from lessons._core.data import load_digits

    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    x, y = load_digits()
    order = np.random.default_rng(course_seed(seed)).permutation(len(x))
    n_val = round(len(x) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def train_digits(rule: str, epochs: int = 15, batch_size: int = 32, learning_rate: float = 1e-3,
                 seed: int | None = None, progress: bool = True, param: float | None = None,
                 trace: SecondMomentTrace | None = None, callbacks=()) -> Run:
    """Train ``digits_mlp`` with one optimizer, tracing v-hat of one weight at every step.

    Args:
        rule: "adam", "adax" or "adafactor".
        epochs: >= 1 (default 15).
        batch_size: >= 1 (default 32).
        learning_rate: > 0 (default 1e-3).
        seed: seeds the initialisers, the split and the shuffling (default None: the course seed).
        progress: show a tqdm bar over epochs (default True).
        param: beta_2 (Adam, AdaX) or c (Adafactor); None (default) takes ``DEFAULTS[rule]``.
        trace: the `SecondMomentTrace` to record (default None: the bias of output class 0); a
            weight that gets no gradient on the training data is refused with a ValueError.
        callbacks: more Keras callbacks for ``fit`` (default none).
    """
    from lessons._core.notebook import keras_progress

    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    optimizer = make_optimizer(rule, learning_rate, param)
    seed = course_seed(seed)
    keras.utils.set_random_seed(seed)
    (x, y), (x_val, y_val) = digits_split(seed=seed)
    model = digits_mlp(seed=seed)
    # no XLA: compiling each small model costs seconds, more than its 675 steps take without it
    model.compile(optimizer=optimizer, metrics=["accuracy"], loss=LOSS, jit_compile=False)
    trace = SecondMomentTrace() if trace is None else trace
    check_trace_gets_gradient(model, trace, x, y)
    bars = [keras_progress(epochs, desc=rule)] if progress else []
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0,
                        callbacks=[trace, *bars, *callbacks])
    logits = model(x_val, training=False)  # eagerly: evaluate() would trace another graph
    val_loss = float(ops.convert_to_numpy(LOSS(y_val, logits)))
    val_accuracy = float(np.mean(np.argmax(ops.convert_to_numpy(logits), axis=1) == y_val))
    return Run(rule, learning_rate, np.asarray(history.history["loss"]), val_loss, val_accuracy,
               trace.result(), param)


def compare_on_digits(settings=(("adam", 1e-3), ("adax", 1e-3), ("adafactor", 1e-3)),
                      epochs: int = 15, batch_size: int = 32, seed: int | None = None,
                      progress: bool = True) -> list[Run]:
    """``train_digits`` once per (rule, learning_rate) pair, same model, data order and seed.

    Args:
        settings: (rule, learning_rate) pairs (default Adam, AdaX, Adafactor at 1e-3).
        epochs, batch_size, progress: as for `train_digits` (defaults 15, 32, True).
        seed: default None: the course seed.
    """
    seed = course_seed(seed)
    return [train_digits(rule, epochs, batch_size, lr, seed, progress) for rule, lr in settings]


def vhat_change(trace: dict, start: int, stop: int) -> float:
    """Relative change ``|v_hat_stop / v_hat_start - 1|`` of a trace between two 1-based steps.

    Args:
        trace: a `SecondMomentTrace.result()` (or ``Run.trace``).
        start, stop: steps present in ``trace["steps"]``, start < stop.
    """
    steps = list(np.asarray(trace["steps"]))
    if not (start in steps and stop in steps and start < stop):
        raise ValueError(f"start < stop must both be traced steps (1..{len(steps)}), "
                         f"got {start}, {stop}")
    v = np.asarray(trace["v_hat"])
    return float(abs(v[steps.index(stop)] / v[steps.index(start)] - 1.0))


def plot_runs(runs: list[Run]):
    """Training loss per epoch, and lr / sqrt(v-hat) of the traced weight per step."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.4))
    for run in runs:
        label = f"{run.rule} (lr {run.learning_rate:g})"
        left.plot(np.arange(1, len(run.loss) + 1), run.loss, label=label)
        right.plot(run.trace["steps"], run.trace["effective_lr"], label=label, lw=1)
    left.set(yscale="log", xlabel="epoch", ylabel="training loss")
    right.set(yscale="log", xlabel="step t", ylabel=r"lr / $\sqrt{\hat v_t}$ (traced weight)")
    left.legend()
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class RunScores:
    """The numbers the lesson reads off one `Run`."""

    rule: str
    learning_rate: float
    train_loss: float  # after the last epoch
    val_loss: float
    val_accuracy: float
    lr_at_100: float  # lr / sqrt(v_hat) of the traced weight at step 100 (NaN if fewer steps)
    lr_last: float  # ... at the last step
    steps: int
    traced_rms: float = math.nan  # RMS of the traced variable after training

    @property
    def rise(self) -> float:
        """How much lr / sqrt(v_hat) grew from step 100 to the last step (a ratio)."""
        return self.lr_last / self.lr_at_100


@dataclass(frozen=True)
class DigitsComparison:
    """`RunScores` of several runs, with the lesson's claims about them."""

    runs: tuple[RunScores, ...]

    def get(self, rule: str, learning_rate: float) -> RunScores:
        for run in self.runs:
            if run.rule == rule and math.isclose(run.learning_rate, learning_rate):
                return run
        have = [(r.rule, r.learning_rate) for r in self.runs]
        raise ValueError(f"(rule, learning_rate) must be one of {have}, "
                         f"got {(rule, learning_rate)}")

    def __str__(self) -> str:
        last = max(r.steps for r in self.runs)
        lines = [f"{'optimizer':18s} {'train loss':>10s} {'val loss':>9s} {'val acc':>8s} "
                 f"{'lr/sqrt(v) @100':>15s} {f'@{last}':>8s}"]
        for r in self.runs:
            lines.append(f"{r.rule:9s} lr {r.learning_rate:<5g} {r.train_loss:10.3f} "
                         f"{r.val_loss:9.3f} {r.val_accuracy:8.3f} {r.lr_at_100:15.4f} "
                         f"{r.lr_last:8.4f}")
        try:
            ratio = self.get("adax", 1e-3).lr_last / self.get("adam", 1e-3).lr_last
            lines.append(f"AdaX / Adam lr/sqrt(v) at the last step: {ratio:.3f}")
        except ValueError:
            pass
        return "\n".join(lines)

    def claims(self) -> list[Claim]:
        """The statements of lesson 01's digits section, with bands (``BANDS``) set from runs.

        Measured (notebook settings: 15 epochs, batch 32) under course seeds 0, 1, 2, 7 x {native
        AVX-512, ONEDNN_MAX_CPU_ISA=AVX2 with 1 thread, SSE41 with 1 thread} and seeds 3-6
        natively; the three CPUs agree to 2e-6 on every value. Spread (min .. max) -> band:
        Adam's rise 2.06 .. 2.26 -> >= 1.5; AdaX / Adam at the last step 0.835 .. 0.879 ->
        0.70 .. 0.95; loss gap 0.6% .. 4.8% -> <= 10%; accuracy gap 0 .. 0.56 points -> <= 2;
        Adafactor lr 1e-3 training loss 1.29 .. 1.52 -> >= 1.0 (Adam, AdaX: ~0.22);
        Adafactor lr 1e-2 accuracy 95.5% .. 98.1% -> >= 93%, its rise 5.45 .. 7.18 -> >= 3,
        its bias RMS 1.6e-4 .. 4.3e-4 -> <= 1e-3. A NaN kernel (Keras's default epsilon_1,
        seed 1) gives accuracy 8% and fails; an AdaX that behaved like Adam gives a ratio ~1.
        """
        adam, adax_run = self.get("adam", 1e-3), self.get("adax", 1e-3)
        slow, fast = self.get("adafactor", 1e-3), self.get("adafactor", 1e-2)
        return [
            Claim("Adam (lr 1e-3): lr/sqrt(v_hat) of the traced bias grows from step 100 to the "
                  "last step", adam.rise, at_least=BANDS["adam_rise"], unit="x"),
            Claim("AdaX (lr 1e-3): its lr/sqrt(v_hat) ends below Adam's (ratio at the last step)",
                  adax_run.lr_last / adam.lr_last, *BANDS["adax_over_adam"], unit="x"),
            Claim("Adam and AdaX: final training losses within 10% (|AdaX / Adam - 1|)",
                  abs(adax_run.train_loss / adam.train_loss - 1.0),
                  at_most=BANDS["loss_gap"], unit="%"),
            Claim("Adam and AdaX: held-out accuracies within 2 points (|difference|)",
                  abs(adax_run.val_accuracy - adam.val_accuracy),
                  at_most=BANDS["accuracy_gap"], unit="%"),
            Claim("Adafactor at lr 1e-3 trains slowly: final training loss",
                  slow.train_loss, at_least=BANDS["slow_loss"]),
            Claim("Adafactor at lr 1e-2 trains: held-out accuracy", fast.val_accuracy,
                  at_least=BANDS["fast_accuracy"], unit="%"),
            Claim("Adafactor at lr 1e-2: lr/sqrt(v_hat) grows from step 100 to the last step",
                  fast.rise, at_least=BANDS["fast_rise"], unit="x"),
            Claim("Adafactor at lr 1e-2: the traced bias ends with RMS below 1e-3, so its steps "
                  "are scaled by max(1e-3, RMS) = 1e-3", fast.traced_rms,
                  at_most=BANDS["fast_bias_rms"], digits=4),
        ]


BANDS = {"adam_rise": 1.5, "adax_over_adam": (0.7, 0.95), "loss_gap": 0.10,
         "accuracy_gap": 0.02, "slow_loss": 1.0, "fast_accuracy": 0.93, "fast_rise": 3.0,
         "fast_bias_rms": 1e-3}


def summarize_digits(runs: list[Run]) -> DigitsComparison:
    """The scores `DigitsComparison` prints and checks, one `RunScores` per run."""
    if not runs:
        raise ValueError("runs must hold at least one Run")
    scores = []
    for run in runs:
        lr = np.asarray(run.trace["effective_lr"])
        scores.append(RunScores(run.rule, run.learning_rate, float(run.loss[-1]), run.val_loss,
                                run.val_accuracy, float(lr[99]) if len(lr) >= 100 else math.nan,
                                float(lr[-1]), len(lr),
                                float(run.trace.get("rms_last", math.nan))))
    return DigitsComparison(tuple(scores))


def check_claims(result) -> None:
    """Check what the lesson says about ``result`` and print one stable line per claim.

    Args:
        result: a `DigitsComparison` (from `summarize_digits`) or a `OneMoreGradient`.
    Raises:
        lessons._core.claims.ClaimFailed: when a statement does not hold for these numbers.
    """
    if not isinstance(result, DigitsComparison | OneMoreGradient):
        raise ValueError(f"result must be a DigitsComparison or a OneMoreGradient, "
                         f"got {type(result).__name__}")
    check(result.claims())


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
