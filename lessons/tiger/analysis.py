"""The scalar analysis of lesson 04, in float64 NumPy: eq. (1)'s fixed point and closed form, when
an absent token's momentum underflows, and the released rule's logistic drift beside eq. (1).

Eq. (1) with a constant sign ``s`` of the momentum is the affine map
``theta <- theta - lr (s + lambda theta)``: fixed point ``-s / lambda``, approached as
``(1 - lr lambda)^t``. The released rule scales the step by the row's RMS: the same fixed point,
reached along a logistic curve at rate ``lr``.
"""

from __future__ import annotations

import math

import numpy as np

from lessons._core.checks import integer, number, one_of

__all__ = [
    "DTYPES", "closed_form", "drift_comparison", "explorer_data", "fixed_point", "logistic_form",
    "released_row_simulate", "released_steps_to_fraction", "simulate", "steps_to_fraction",
    "steps_until_momentum_underflow",
]

DTYPES = ("float16", "bfloat16", "float32", "float64")


def fixed_point(sign, weight_decay):
    """The fixed point ``-sign / weight_decay`` of ``theta -= lr (sign + weight_decay theta)``.

    Args:
        sign: -1, 0 or +1 (scalar or array): the constant sign(m) of an absent token.
        weight_decay: `lambda` > 0.
    """
    sign = _check_sign(sign)
    weight_decay = number("weight_decay", weight_decay, low=0.0, low_open=True)
    return -sign / weight_decay


def closed_form(theta0, learning_rate, weight_decay, sign, steps):
    """theta after each of ``steps`` updates with a constant sign and learning rate.

    theta_t = theta* + (1 - lr lambda)^t (theta_0 - theta*), t = 1..steps, with
    theta* = -sign / lambda; for lambda = 0 it is the straight line theta_0 - lr sign t.

    Args:
        theta0: starting value (scalar or array).
        learning_rate: `lr` > 0.
        weight_decay: `lambda` >= 0.
        sign: the constant sign(m), -1, 0 or +1 (scalar or array, broadcast with theta0).
        steps: number of updates, an int >= 1.

    Returns:
        float64 array [steps, *broadcast shape]: theta_1 ... theta_steps.
    """
    lr, weight_decay = _check_rates(learning_rate, weight_decay)
    sign = _check_sign(sign)
    steps = integer("steps", steps)
    theta0 = np.asarray(theta0, dtype=np.float64)
    shape = np.broadcast_shapes(theta0.shape, sign.shape)
    t = np.arange(1, steps + 1, dtype=np.float64).reshape((steps,) + (1,) * len(shape))
    if weight_decay == 0:
        return theta0 - lr * sign * t
    star = -sign / weight_decay
    return star + (1.0 - lr * weight_decay) ** t * (theta0 - star)


def simulate(theta0, learning_rate, weight_decay, sign, steps, *, beta=None, momentum=1e-3,
             dtype="float32", flush_denormals=True):
    """The same iteration as ``closed_form``, step by step (theta in float64).

    With ``beta=None`` the sign is constant for all steps, so the result must equal
    ``closed_form``. With a ``beta``, the token's momentum starts at ``sign * |momentum|``
    (its value the step it was last seen) and decays ``m <- beta m`` in ``dtype``; the update of
    step t uses sign(m_t), which switches to 0 once m underflows (see
    ``steps_until_momentum_underflow``), after which only the weight decay acts.

    Args:
        theta0, learning_rate, weight_decay, sign, steps: as for ``closed_form``.
        beta: momentum decay in [0, 1), or None for a constant sign. Defaults to None.
        momentum: |m| when the token was last seen, > 0. Defaults to `1e-3`.
        dtype: float dtype of the momentum: "float16", "bfloat16", "float32" (default) or
            "float64".
        flush_denormals: flush subnormal momenta to zero, as TensorFlow does on CPU (default).

    Returns:
        float64 array [steps, *broadcast shape]: theta_1 ... theta_steps.
    """
    lr, weight_decay = _check_rates(learning_rate, weight_decay)
    sign = _check_sign(sign)
    steps = integer("steps", steps)
    theta = np.broadcast_to(np.asarray(theta0, dtype=np.float64), np.broadcast_shapes(
        np.shape(theta0), sign.shape)).copy()
    alive = steps + 1  # the sign never switches off
    if beta is not None:
        alive = steps_until_momentum_underflow(momentum, beta, dtype,
                                               flush_denormals=flush_denormals) or alive
    out = np.empty((steps,) + theta.shape)
    for t in range(1, steps + 1):
        s = sign if t < alive else 0.0
        theta = theta - lr * (s + weight_decay * theta)
        out[t - 1] = theta
    return out


def steps_to_fraction(fraction, learning_rate, weight_decay):
    """Steps a constant-sign parameter needs to cover ``fraction`` of its way to theta*.

    From the closed form, 1 - (1 - lr lambda)^t >= fraction, so
    t = ceil(log(1 - fraction) / log(1 - lr lambda)); e.g. lr lambda = 0.01 gives 69 steps for
    half the way and 299 for 95 %.

    Args:
        fraction: in (0, 1).
        learning_rate: `lr` > 0.
        weight_decay: `lambda` > 0, with lr * lambda < 1.
    """
    fraction = number("fraction", fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    lr, weight_decay = _check_rates(learning_rate, weight_decay, positive_decay=True)
    rate = lr * weight_decay
    if not rate < 1.0:
        raise ValueError(f"learning_rate * weight_decay must be < 1, got {rate}")
    return math.ceil(math.log1p(-fraction) / math.log1p(-rate) - 1e-12)


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
    np_dtype = _numpy_dtype(one_of("dtype", dtype, DTYPES))
    beta = number("beta", beta, low=0.0, high=1.0, high_open=True)
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


# ---------------------------------------------------------------------------------------------
# The released rule: the step scales with the row's RMS


def released_row_simulate(row0, learning_rate, weight_decay, sign, steps):
    """An embedding row under ``ReleasedTiger``'s rule with a constant sign(m), step by step.

    theta <- theta - lr * RMS(theta) * (sign + lambda * theta), in float64, RMS over the row.

    Args:
        row0: the starting row [dim] (at least one non-zero entry, or the row never moves).
        learning_rate: the relative learning rate `lr` > 0.
        weight_decay: `lambda` >= 0.
        sign: the constant sign(m), -1, 0 or +1 (scalar or [dim]).
        steps: number of updates, an int >= 1.

    Returns:
        float64 array [steps, dim]: the row after each update.
    """
    lr, weight_decay = _check_rates(learning_rate, weight_decay)
    sign = _check_sign(sign)
    steps = integer("steps", steps)
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


def logistic_form(x0, learning_rate, weight_decay, steps):
    """|theta| of a row whose entries share one magnitude ``x0`` and drift away from 0, under
    ``ReleasedTiger``'s rule (the continuous-time solution of x' = lr x (1 - lambda x)):

        x_t = (1/lambda) / (1 + (1/(lambda x0) - 1) exp(-lr t)),  t = 1..steps.

    The discrete rule x <- x + lr x (1 - lambda x) stays within lr/lambda of it (tested).

    Args:
        x0: starting magnitude in (0, 1/lambda).
        learning_rate: the relative learning rate `lr` > 0.
        weight_decay: `lambda` > 0.
        steps: number of updates, an int >= 1.

    Returns:
        float64 array [steps].
    """
    lr, weight_decay = _check_rates(learning_rate, weight_decay, positive_decay=True)
    x0 = _check_x0(x0, weight_decay)
    steps = integer("steps", steps)
    t = np.arange(1, steps + 1, dtype=np.float64)
    return (1 / weight_decay) / (1 + (1 / (weight_decay * x0) - 1) * np.exp(-lr * t))


def released_steps_to_fraction(fraction, learning_rate, weight_decay, x0):
    """Steps until ``logistic_form`` reaches ``fraction / lambda``:
    t = log(f/(1-f) * (1/(lambda x0) - 1)) / lr, rounded up (0 if x0 is already there).

    E.g. lr = 1.76e-3 (the README's), lambda = 0.01, x0 = 0.02: half-way (50) after 4,840 steps
    and 99 after 7,451, where eq. (1) with eta = 1.76e-3 needs 39,384 steps for half-way.

    Args:
        fraction: in (0, 1).
        learning_rate: the relative learning rate `lr` > 0.
        weight_decay: `lambda` > 0.
        x0: starting magnitude in (0, 1/lambda).
    """
    fraction = number("fraction", fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    lr, weight_decay = _check_rates(learning_rate, weight_decay, positive_decay=True)
    x0 = _check_x0(x0, weight_decay)
    ratio = fraction / (1 - fraction) * (1 / (weight_decay * x0) - 1)
    return max(0, math.ceil(math.log(ratio) / lr - 1e-9))


def drift_comparison(learning_rate: float = 1.76e-3, weight_decay: float = 0.01,
                     x0: float = 0.02, beta: float = 0.965, m0: float = 1e-3) -> dict:
    """How fast a constant-sign row drifts to 1/lambda under eq. (1) (absolute step ``lr``) and
    under ``ReleasedTiger`` (relative step ``lr``), from |theta| = ``x0`` (float64 closed forms).

    Args:
        learning_rate: `lr`, absolute for eq. (1) and relative for the released rule
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
    lr, weight_decay = _check_rates(learning_rate, weight_decay, positive_decay=True)
    x0 = _check_x0(x0, weight_decay)
    star = 1.0 / weight_decay
    absence = steps_until_momentum_underflow(m0, beta)
    eq1_99 = _eq1_steps(0.99 * star, lr, weight_decay, x0)
    released_99 = released_steps_to_fraction(0.99, lr, weight_decay, x0)
    return {
        "eq1_half": _eq1_steps(0.5 * star, lr, weight_decay, x0),
        "eq1_99": eq1_99,
        "released_half": released_steps_to_fraction(0.5, lr, weight_decay, x0),
        "released_99": released_99,
        "released_at_8000": float(logistic_form(x0, lr, weight_decay, 8000)[-1]),
        "absence": absence,
        "eq1_per_absence": 1.0 - (1.0 - lr * weight_decay) ** absence,
        "released_per_absence": math.exp(lr * absence),
        "eq1_absences_99": math.ceil(eq1_99 / absence),
        "released_absences_99": math.ceil(released_99 / absence),
    }


def explorer_data(learning_rate=0.01, weight_decay=1.0, beta=0.965, absent_steps=3000,
                  momentum=1e-3) -> dict:
    """One token seen once (momentum ``momentum`` > 0, theta 0), then absent for ``absent_steps``.

    Args:
        learning_rate: `lr` > 0 (default 0.01).
        weight_decay: `lambda` > 0 (default 1).
        beta: Tiger's momentum decay in [0, 1) (default 0.965).
        absent_steps: an int >= 1 (default 3000).
        momentum: |m| the step the token was seen (default 1e-3).

    Returns:
        dict: "theta" [absent_steps] (float32 momentum, denormals flushed as in TensorFlow),
        "closed_form" [absent_steps] (sign never switching off), "fixed_point" (the token drifts
        to -1/lambda), "underflow_step" (absent steps until m is 0 in float32; None if it never
        is) and "steps" [absent_steps] = 1..absent_steps.
    """
    absent_steps = integer("absent_steps", absent_steps)
    theta = simulate(0.0, learning_rate, weight_decay, 1, absent_steps, beta=beta,
                     momentum=momentum)
    return {
        "steps": np.arange(1, absent_steps + 1),
        "theta": theta,
        "closed_form": closed_form(0.0, learning_rate, weight_decay, 1, absent_steps),
        "fixed_point": float(fixed_point(1, weight_decay)),
        "underflow_step": steps_until_momentum_underflow(momentum, beta),
    }


def _eq1_steps(target, lr, weight_decay, x0):
    """Steps of eq. (1) from x0 until |theta| >= target (closed form, rounded up)."""
    star = 1.0 / weight_decay
    return math.ceil(math.log((star - target) / (star - x0)) / math.log1p(-lr * weight_decay)
                     - 1e-9)


def _check_rates(learning_rate, weight_decay, *, positive_decay=False):
    """(learning_rate > 0, weight_decay >= 0, or > 0 where a fixed point is needed) as floats."""
    return (number("learning_rate", learning_rate, low=0.0, low_open=True),
            number("weight_decay", weight_decay, low=0.0, low_open=positive_decay))


def _check_sign(sign):
    sign = np.asarray(sign, dtype=np.float64)
    if not np.all(np.isin(sign, (-1.0, 0.0, 1.0))):
        raise ValueError(f"sign must be -1, 0 or +1 (elementwise), got {sign}")
    return sign


def _check_x0(x0, weight_decay):
    return number("x0", x0, low=0.0, high=1.0 / weight_decay, low_open=True, high_open=True)


def _numpy_dtype(dtype):
    if dtype == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(dtype)


def _smallest_normal(np_dtype):
    import ml_dtypes

    return ml_dtypes.finfo(np_dtype).smallest_normal
