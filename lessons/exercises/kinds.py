"""The three kinds of exercise: a value, a function checked against the lesson's reference, and a
Keras object checked through its public Keras 3 API (``get_config``, ``isinstance``, calling it)."""

from __future__ import annotations

import numpy as np

from lessons.exercises.core import Exercise, Unattempted

__all__ = ["FunctionExercise", "KerasExercise", "ValueExercise", "show"]


def show(value) -> str:
    """A short, stable rendering of a value for a FAIL message."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if hasattr(value, "numpy") and callable(value.numpy):
        return show(value.numpy())
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return show(value.item())
        flat = ", ".join(f"{v:.4g}" for v in value.ravel()[:4])
        more = ", ..." if value.size > 4 else ""
        return f"array of shape {value.shape} ({value.dtype}): [{flat}{more}]"
    return repr(value)


def _as_array(value):
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    return np.asarray(value)


def compare(expected, got, rtol: float, atol: float) -> str | None:
    """None if ``got`` matches ``expected`` (shape, then values within tolerance), else why not."""
    if isinstance(expected, (str, bool, np.bool_)) or expected is None:
        return None if got == expected else f"expected {show(expected)}, got {show(got)}"
    if isinstance(expected, (tuple, list)) and not np.isscalar(got):
        if len(got) != len(expected):
            return f"expected {len(expected)} values, got {len(got)}"
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            problem = compare(e, g, rtol, atol)
            if problem:
                return f"item {i}: {problem}"
        return None
    e, g = _as_array(expected), _as_array(got)
    if g.dtype.kind not in "biuf":
        return f"expected a number or an array, got {type(got).__name__}"
    if e.shape != g.shape:
        return f"expected shape {e.shape}, got shape {g.shape}"
    if not np.all(np.isfinite(g) == np.isfinite(e)):
        where = ("inf/NaN where a finite value is expected" if np.all(np.isfinite(e))
                 else "finite or inf/NaN in the wrong places")
        return f"expected {show(expected)}, got {show(got)} ({where})"
    if not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        worst = np.unravel_index(np.argmax(np.abs(g - e)), e.shape) if e.shape else ()
        where = f" at index {tuple(int(i) for i in worst)}" if e.shape else ""
        return f"expected {show(e[worst] if e.shape else expected)}, got " \
               f"{show(g[worst] if e.shape else got)}{where}"
    return None


class ValueExercise(Exercise):
    """A number, array or short tuple, compared with the lesson's value within a tolerance.

    Args:
        title: the exercise's name in reports.
        expected: the right answer (computed from the lesson's tested functions).
        rtol: relative tolerance (default 1e-6). atol: absolute tolerance (default 0).
        hints, solution: see :class:`Exercise`.
    """

    def __init__(self, title: str, expected, *, rtol: float = 1e-6, atol: float = 0.0,
                 hints=(), solution: str = ""):
        super().__init__(title, hints, solution)
        self.expected, self.rtol, self.atol = expected, rtol, atol

    def _verdict(self, answer):
        return compare(self.expected, answer, self.rtol, self.atol)


class FunctionExercise(Exercise):
    """A student's function, run on every case and compared with the lesson's reference.

    Args:
        title: the exercise's name in reports.
        reference: the lesson's tested function with the same signature.
        cases: a sequence of ``(label, args)`` pairs: random inputs and edge cases, with the
            shapes and dtypes the lesson uses; ``args`` is a tuple of positional arguments.
        rtol, atol: tolerances (defaults 1e-5, 1e-6: float32 inputs are allowed).
        hints, solution: see :class:`Exercise`.
    """

    def __init__(self, title: str, reference, cases, *, rtol: float = 1e-5, atol: float = 1e-6,
                 hints=(), solution: str = ""):
        super().__init__(title, hints, solution)
        self.reference, self.cases = reference, tuple(cases)
        self.rtol, self.atol = rtol, atol
        if not self.cases:
            raise ValueError("cases must hold at least one (label, args) pair")

    def _verdict(self, answer):
        if not callable(answer):
            return f"expected a function, got {show(answer)}"
        for label, args in self.cases:
            expected = self.reference(*_copies(args))
            try:
                got = answer(*_copies(args))
            except Unattempted:
                raise
            except Exception as error:
                return f"for {label}: your function raised {type(error).__name__}: {error}"
            problem = compare(expected, got, self.rtol, self.atol)
            if problem:
                return f"for {label}: {problem}"
        return None


def _copies(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


class KerasExercise(Exercise):
    """A Keras object (optimizer, layer, model) checked through the public Keras 3 API only.

    Args:
        title: the exercise's name in reports.
        expected_type: the class the answer must be an instance of (e.g. ``keras.optimizers.Lion``).
        config: keys of ``answer.get_config()`` and the values they must have (numbers within
            ``rtol``); default none.
        probe: optional ``probe(answer) -> str | None``: runs the object (one update step, a
            forward pass) and says what is wrong, or None.
        rtol: relative tolerance for numbers in ``config`` (default 1e-6).
        hints, solution: see :class:`Exercise`.
    """

    def __init__(self, title: str, expected_type, *, config=None, probe=None,
                 rtol: float = 1e-6, hints=(), solution: str = ""):
        super().__init__(title, hints, solution)
        self.expected_type, self.config = expected_type, dict(config or {})
        self.probe, self.rtol = probe, rtol

    def _verdict(self, answer):
        if not isinstance(answer, self.expected_type):
            name = self.expected_type.__name__
            article = "an" if name[0].lower() in "aeiou" else "a"
            return f"expected {article} {name}, got {type(answer).__name__}"
        config = answer.get_config()
        for key, value in self.config.items():
            if key not in config:
                return f"get_config() has no {key!r}"
            problem = compare(value, config[key], self.rtol, 0.0)
            if problem:
                return f"{key}: {problem}"
        return self.probe(answer) if self.probe else None
