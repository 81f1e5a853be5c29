"""What FP16, BF16 and FP32 can hold: limits from the bit layout, rounding, and two constants.

Everything here is float64 NumPy (and ``ml_dtypes`` for BF16), so its results are the same on every
machine. The notebook's first section prints these; the tests compare them with NumPy's and
``ml_dtypes``' ``finfo`` and with brute force.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lessons._core.checks import integer, one_of

__all__ = ["FORMATS", "FloatFormat", "cast", "constant_report", "format_limits",
           "masked_logits_nan_share", "min_scale_to_keep", "precision_table",
           "underflow_threshold"]


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE-style binary float: sign bit, ``exponent_bits``, ``mantissa_bits`` (stored)."""

    name: str
    exponent_bits: int
    mantissa_bits: int

    @property
    def bias(self) -> int:
        return 2 ** (self.exponent_bits - 1) - 1


FORMATS = {
    "float16": FloatFormat("float16", 5, 10),
    "bfloat16": FloatFormat("bfloat16", 8, 7),
    "float32": FloatFormat("float32", 8, 23),
}


def _format(dtype: str) -> FloatFormat:
    return FORMATS[one_of("dtype", dtype, FORMATS)]


def _numpy_dtype(dtype: str):
    import ml_dtypes

    _format(dtype)
    return ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)


def format_limits(dtype: str) -> dict[str, float]:
    """The limits of a format, computed from its bit layout (not looked up).

    Args:
        dtype: "float16", "bfloat16" or "float32".

    Returns:
        ``max`` (largest finite), ``smallest_normal``, ``smallest_subnormal``, ``eps`` (gap
        above 1.0) and ``decimal_digits`` (mantissa bits + 1, in decimal digits).
    """
    f = _format(dtype)
    max_exponent = 2**f.exponent_bits - 2 - f.bias  # the all-ones exponent is inf/NaN
    return {
        "max": (2.0 - 2.0 ** -f.mantissa_bits) * 2.0**max_exponent,
        "smallest_normal": 2.0 ** (1 - f.bias),
        "smallest_subnormal": 2.0 ** (1 - f.bias - f.mantissa_bits),
        "eps": 2.0 ** -f.mantissa_bits,
        "decimal_digits": (f.mantissa_bits + 1) * math.log10(2.0),
    }


def precision_table() -> list[dict[str, object]]:
    """One row per format (FP16, BF16, FP32): bit layout and :func:`format_limits`."""
    return [
        {"dtype": name, "exponent_bits": f.exponent_bits, "mantissa_bits": f.mantissa_bits,
         **format_limits(name)}
        for name, f in FORMATS.items()
    ]


def cast(values, dtype: str) -> np.ndarray:
    """``values`` rounded to ``dtype`` (round to nearest even) and returned as float64.

    BF16 is reached from float32, as TensorFlow and ml_dtypes do (so a float64 input is
    rounded twice); FP16 and FP32 are rounded once from float64.

    Args:
        values: a number or array of numbers.
        dtype: "float16", "bfloat16" or "float32".
    """
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        if dtype == "bfloat16":
            x = x.astype(np.float32)
        return x.astype(_numpy_dtype(dtype)).astype(np.float64)


def underflow_threshold(dtype: str) -> float:
    """The largest magnitude that rounds to zero in ``dtype``: half the smallest subnormal.

    Exactly half ties to the even neighbour, which is zero, so the threshold itself flushes.
    """
    return format_limits(dtype)["smallest_subnormal"] / 2.0


def min_scale_to_keep(gradient: float, dtype: str = "float16", *, normal: bool = False) -> float:
    """The smallest power of two ``s`` (>= 1) such that ``gradient * s``, rounded to ``dtype``,
    is non-zero (or normal).

    Args:
        gradient: a non-zero gradient magnitude (its sign is ignored).
        dtype: the compute format (default "float16").
        normal: if True, ask for a normal number (full precision) instead of merely non-zero
            (default False).
    """
    g = abs(float(gradient))
    if not (math.isfinite(g) and g > 0):
        raise ValueError(f"gradient must be finite and non-zero, got {gradient!r}")
    limits = format_limits(dtype)
    target = limits["smallest_normal"] if normal else limits["smallest_subnormal"]
    exponent = max(0, math.ceil(math.log2(target / g)))
    # rounding to nearest can lift a value just under the target onto it: step down, then up
    while exponent > 0 and cast(g * 2.0 ** (exponent - 1), dtype) >= target:
        exponent -= 1
    while cast(g * 2.0**exponent, dtype) < target:
        exponent += 1
    return 2.0**exponent


def _verdict(value: float, stored: float, limits: dict) -> str:
    if math.isinf(stored):
        return "overflow"
    if stored == 0.0:
        return "underflow"
    if stored < limits["smallest_normal"]:
        return "subnormal"
    return "exact-ish" if abs(stored - value) / value < limits["eps"] / 2 else "rounded"


def constant_report(values=(1e12, 1e4, 1e-4, 1e-7, 1e-8), dtypes=("float16", "bfloat16")):
    """What each constant becomes in each format: stored value, relative error and a verdict.

    Verdicts: "exact-ish" (relative error < eps / 2), "rounded", "subnormal" (below the
    smallest normal, few significant bits left), "underflow" (becomes 0) or "overflow"
    (becomes inf).

    Args:
        values: finite positive constants (default: a mask's 1e12, 1e4, 1e-4, Keras's epsilon
            1e-7 and 1e-8).
        dtypes: formats to store them in (default FP16 and BF16).
    """
    rows = []
    for value in values:
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"values must be finite and positive, got {value!r}")
        for dtype in dtypes:
            stored = float(cast(value, dtype))
            rows.append({"value": value, "dtype": dtype, "stored": stored,
                         "relative_error": (abs(stored - value) / value
                                            if math.isfinite(stored) else math.inf),
                         "verdict": _verdict(value, stored, format_limits(dtype))})
    return rows


def masked_logits_nan_share(infinity: float, dtype: str = "float16", length: int = 8) -> float:
    """Share of NaN entries in ``logits - (1 - mask) * infinity`` computed in ``dtype``.

    The usual attention mask. In FP16, 1e12 becomes inf and the *kept* positions compute
    ``0 * inf = NaN``; any constant FP16 can hold (such as 1e4) gives no NaN.

    Args:
        infinity: the mask's "infinity" (> 0; math.inf allowed).
        dtype: the compute format (default "float16").
        length: positions in the row, half of them masked (default 8, at least 2).
    """
    integer("length", length, low=2)
    if not infinity > 0:
        raise ValueError(f"infinity must be > 0, got {infinity!r}")
    dt = _numpy_dtype(dtype)
    logits = np.linspace(-1.0, 1.0, length).astype(dt)
    mask = (np.arange(length) < length // 2).astype(dt)
    with np.errstate(over="ignore", invalid="ignore"):
        big = np.asarray(infinity).astype(dt)
        out = logits - (np.asarray(1.0, dt) - mask) * big
    return float(np.isnan(out.astype(np.float64)).mean())
