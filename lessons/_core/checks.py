"""Argument checks shared by every lesson: one helper per kind, each raising a ValueError that names
the argument and the allowed range, so bad input fails at the call and never as a NaN later."""

from __future__ import annotations

import math
import numbers

__all__ = ["integer", "number", "one_of"]


def integer(name: str, value, *, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (default: a positive int, no upper end)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int in {_interval(low, high, False, False)}, "
                         f"got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an int in {_interval(low, high, False, False)}, "
                         f"got {value}")
    return value


def number(name: str, value, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float in the interval (closed ends unless ``*_open``; None: no end)."""
    where = _interval(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number in {where}, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number in {where}, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be in {where}, got {value:g}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be in {where}, got {value:g}")
    return value


def one_of(name: str, value, options):
    """``value`` itself if it is one of ``options``."""
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value


def _interval(low, high, low_open, high_open) -> str:
    left = "(" if low is None or low_open else "["
    right = ")" if high is None or high_open else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"
