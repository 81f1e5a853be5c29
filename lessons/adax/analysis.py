"""The step-dependent beta2_hat of Adam, AdaX and Adafactor, in float64 NumPy.

Both Adam's and AdaX's bias-corrected second moment is a moving average
``v_hat_t = beta2_hat_t v_hat_{t-1} + (1 - beta2_hat_t) g_t^2`` with a step-dependent ``beta2_hat_t`` (the post,
section "等价形式变换"):

    Adam       beta2_hat_t = b2 (1 - b2^(t-1)) / (1 - b2^t)    0 at t = 1, -> b2
    AdaX       beta2_hat_t = 1 - b2 / ((1 + b2)^t - 1)         0 at t = 1, -> 1
    Adafactor  beta2_hat_t = 1 - t^(-c)                        0 at t = 1, -> 1

Here: the schedules, where AdaX leaves the plain running mean (departure) and where its v-hat
freezes, the step at which the literal ``(1 + b2)^t`` overflows, the post's criterion, and v-hat
computed both ways from a gradient sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lessons._core.checks import integer, number, one_of
from lessons._core.notebook import course_seed

__all__ = [
    "BETA2_HAT", "DEFAULTS", "RULES", "Criterion", "adax_departure_step", "adax_freeze_step",
    "beta2_hat_adafactor", "beta2_hat_adam", "beta2_hat_adax", "check_criterion",
    "later_gradient_share", "new_gradient_weight", "overflow_step", "schedule_curves",
    "vhat_both_ways", "vhat_direct", "vhat_moving_average",
]

RULES = ("adam", "adax", "adafactor")
DEFAULTS = {"adam": 0.999, "adax": 1e-4, "adafactor": 0.8}  # beta_2, beta_2, c


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


def check_param(rule: str, value: float | None) -> float:
    """``value`` checked as the schedule parameter of ``rule`` (None: ``DEFAULTS[rule]``).

    Adam's beta_2 must lie in (0, 1), AdaX's beta_2 and Adafactor's c in (0, inf).
    """
    one_of("rule", rule, RULES)
    if value is None:
        return DEFAULTS[rule]
    if rule == "adam":
        return number("beta_2", value, low=0.0, high=1.0, low_open=True, high_open=True)
    return number("beta_2" if rule == "adax" else "c", value, low=0.0, low_open=True)


def new_gradient_weight(t, rule: str = "adax", param: float | None = None):
    """``1 - beta2_hat_t``: the weight of the newest g^2 in v-hat, computed without cancellation.

    Args:
        t: integer step(s) >= 1, any shape.
        rule: "adam", "adax" or "adafactor" (default "adax").
        param: beta_2 for Adam/AdaX, c for Adafactor; None (default) takes ``DEFAULTS[rule]``.
    """
    param = check_param(rule, param)
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
    """Adam's effective ``beta2_hat_t = b2 (1 - b2^(t-1)) / (1 - b2^t)`` (0 at t = 1, -> b2).

    Args:
        t: integer step(s) >= 1, any shape.
        beta_2: Adam's beta_2 in (0, 1) (default 0.999).
    """
    beta_2 = check_param("adam", beta_2)
    t = _steps(t)
    log_b2 = np.log(beta_2)
    return (beta_2 * np.expm1((t - 1.0) * log_b2) / np.expm1(t * log_b2))[()]


def beta2_hat_adax(t, beta_2: float = 1e-4):
    """AdaX's effective ``beta2_hat_t = 1 - b2 / ((1 + b2)^t - 1)`` (0 at t = 1, -> 1).

    Args:
        t: integer step(s) >= 1, any shape.
        beta_2: AdaX's beta_2 > 0 (default 1e-4).
    """
    return (1.0 - new_gradient_weight(t, "adax", beta_2))[()]


def beta2_hat_adafactor(t, c: float = 0.8):
    """Adafactor's ``beta2_hat_t = 1 - t^(-c)`` (0 at t = 1, -> 1).

    Args:
        t: integer step(s) >= 1, any shape.
        c: decay exponent > 0 (default 0.8, Keras's ``beta_2_decay=-0.8``).
    """
    c = check_param("adafactor", c)
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
    """First step t at which AdaX's new-gradient weight ``1 - beta2_hat_t`` is at most ``ratio / t``.

    Before it, v-hat is (nearly) the plain mean of all g^2 seen, ``beta2_hat_t ~ 1 - 1/t``. Exactly, with
    ``x = t ln(1 + b2)``::

        t (1 - beta2_hat_t) = t b2 / (e^x - 1) = (b2 / ln(1 + b2)) * x / (e^x - 1),

    a function of x times the factor ``b2 / ln(1 + b2) = 1 + b2/2 - ...``. So the step is
    ``ceil(x* / ln(1 + b2))`` where x* solves ``x / (e^x - 1) = ratio ln(1 + b2) / b2``: 12,566 for
    b2 = 1e-4 and 128 for b2 = 1e-2 (dropping the factor would give 1.2564 / 0.01 ~ 126).
    Departure is not freezing: v-hat still moves for many steps after it (`adax_freeze_step`).

    Args:
        beta_2: AdaX's beta_2 > 0 (default 1e-4).
        ratio: threshold in (0, 1) on ``t (1 - beta2_hat_t)`` (default 0.5).
    """
    beta_2 = check_param("adax", beta_2)
    ratio = number("ratio", ratio, low=0.0, high=1.0, low_open=True, high_open=True)
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
    beta_2 = check_param("adax", beta_2)
    after = integer("after", after, low=0)
    log_base = math.log1p(beta_2)
    if t is None:
        return math.exp(-after * log_base)
    t = integer("t", t, low=after + 1)
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
    beta_2 = check_param("adax", beta_2)
    share = number("share", share, low=0.0, high=1.0, low_open=True, high_open=True)
    t = max(1, math.ceil(math.log(1.0 / share) / math.log1p(beta_2)))
    while t > 1 and later_gradient_share(t - 1, beta_2) <= share:
        t -= 1  # guard the rounding, both ways
    while later_gradient_share(t, beta_2) > share:
        t += 1
    return t


def overflow_step(beta_2: float = 1e-4, dtype: str = "float32") -> int:
    """First step t at which the naive ``(1 + b2)^t`` is inf in ``dtype``.

    Args:
        beta_2: AdaX's beta_2 > 0 (default 1e-4).
        dtype: "float32" (default) or "float64".
    """
    beta_2 = check_param("adax", beta_2)
    one_of("dtype", dtype, ("float32", "float64"))
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
    """The post's criterion ``beta2_hat_1 = 0, beta2_hat_inf = 1`` for one schedule, checked numerically."""

    rule: str
    param: float
    b_first: float  # beta2_hat_1
    weight_last: float  # 1 - beta2_hat_t at t_last
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
    """Check ``beta2_hat_1 = 0`` and ``1 - beta2_hat_t <= tol`` at a very late step ``t_last``.

    Args:
        rule: "adam", "adax" or "adafactor".
        param: beta_2 (Adam/AdaX) or c (Adafactor); None (default) takes ``DEFAULTS[rule]``.
        t_last: the late integer step standing in for infinity (default 1e15).
        tol: tolerance in (0, 1) for both checks (default 1e-6).
    """
    param = check_param(rule, param)
    tol = number("tol", tol, low=0.0, high=1.0, low_open=True, high_open=True)
    b_first = float(BETA2_HAT[rule](1, param))
    weight_last = float(new_gradient_weight(t_last, rule, param))
    return Criterion(rule, param, b_first, weight_last, float(_steps(t_last)), tol)


def schedule_curves(t=None, adam_beta_2: float = 0.999, adax_beta_2: float = 1e-4,
                    c: float = 0.8) -> dict:
    """beta2_hat_t and 1 - beta2_hat_t of the three schedules on the steps ``t``.

    Args:
        t: integer steps >= 1; None (default) gives ~300 log-spaced steps from 1 to 1e6.
        adam_beta_2, adax_beta_2, c: the schedules' parameters (defaults 0.999, 1e-4, 0.8).
    Returns:
        ``{"t": t, "beta2_hat": {rule: beta2_hat_t}, "weight": {rule: 1 - beta2_hat_t}, "departure": step}``
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
        beta_2: None (default) takes ``DEFAULTS[rule]``.
    Returns:
        v-hat after every step, shape [steps, ...].
    """
    b2 = check_param(one_of("rule", rule, ("adam", "adax")), beta_2)
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
    """v-hat as the moving average ``v_hat_t = beta2_hat_t v_hat_{t-1} + (1 - beta2_hat_t) g_t^2``.

    Args:
        grads: gradients, shape [steps, ...].
        rule: "adam", "adax" or "adafactor" (default "adax").
        param: beta_2 (Adam/AdaX) or c (Adafactor); None (default) takes ``DEFAULTS[rule]``.
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


def vhat_both_ways(steps: int = 300, scales=(1e-3, 1e-1, 1e1, 1e3), rtol: float = 1e-9,
                   seed: int | None = None) -> dict:
    """Adam's and AdaX's v-hat by the literal rule and by the moving average, on random gradients.

    The gradients are standard normal times ``scales`` (one coordinate per scale), so the check
    covers gradients over many orders of magnitude.

    Args:
        steps: number of gradients, >= 1 (default 300).
        scales: one positive scale per coordinate (default 1e-3, 1e-1, 10, 1e3).
        rtol: relative tolerance of the agreement check, > 0 (default 1e-9).
        seed: seed of the gradients (default None: the course seed).
    Returns:
        ``{"grads": [steps, n], "scales": [n], rule: {"direct": [steps, n],
        "moving_average": [steps, n], "agree": bool} for rule in ("adam", "adax"), "rtol": rtol}``
        where "agree" says whether all steps x coordinates agree to ``rtol``.
    """
    steps = integer("steps", steps)
    rtol = number("rtol", rtol, low=0.0, low_open=True)
    scales = np.asarray(scales, np.float64).ravel()
    if scales.size == 0 or not np.all((scales > 0) & np.isfinite(scales)):
        raise ValueError(f"scales must be finite numbers > 0, got {scales}")
    rng = np.random.default_rng(course_seed(seed))
    grads = rng.normal(size=(steps, scales.size)) * scales
    out = {"grads": grads, "scales": scales, "rtol": rtol}
    for rule in ("adam", "adax"):
        direct, average = vhat_direct(grads, rule), vhat_moving_average(grads, rule)
        out[rule] = {"direct": direct, "moving_average": average,
                     "agree": bool(np.allclose(direct, average, rtol=rtol, atol=0.0))}
    return out
