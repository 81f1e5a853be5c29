"""The kinds of exercise: a value (or named values), a function checked against the lesson's
reference, a Keras object checked through its public Keras 3 API (``get_config``, ``isinstance``,
calling it), and a prediction checked against a run."""

from __future__ import annotations

import numpy as np

from lessons.exercises.core import UNATTEMPTED, Exercise, Report, Unattempted, is_blank

__all__ = ["FunctionExercise", "KerasExercise", "NamedValues", "PredictionExercise", "ValueExercise",
           "as_values", "compare", "config_problem", "show"]


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


def as_values(answer, n: int):
    """The one rule for an answer of ``n`` values: any sequence (tuple, list) or array (NumPy,
    a tensor) of length ``n`` is accepted, as a tuple of its items; anything else gives None."""
    if isinstance(answer, (str, bytes, dict)) or np.isscalar(answer):
        return None
    if hasattr(answer, "numpy") and callable(answer.numpy):
        answer = answer.numpy()
    if isinstance(answer, np.ndarray):
        return tuple(answer) if answer.ndim >= 1 and len(answer) == n else None
    try:
        items = tuple(answer)
    except TypeError:
        return None
    return items if len(items) == n else None


def precise(value, rtol: float = 0.0) -> str:
    """``value`` with enough significant digits to see a difference of ``rtol`` (all of a
    float's digits when rtol is 0)."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if rtol <= 0:
        return repr(value)
    digits = min(17, max(6, int(np.ceil(-np.log10(rtol))) + 2))
    return f"{value:.{digits}g}"


def gap(expected: float, got: float, rtol: float, atol: float) -> str:
    """How ``got`` misses ``expected``: the direction and the relative (or, at 0, absolute) gap,
    with the tolerance, but not the expected value."""
    tolerance = (f"tolerance rtol {rtol:g}" + (f", atol {atol:g}" if atol else "")
                 if rtol or atol else "the exact value is expected")
    if expected == 0:
        side = "too large" if got > 0 else "too small"
        return f"your {precise(got, rtol)} is {side} by {abs(got):.2g} ({tolerance})"
    if np.sign(got) != np.sign(expected):
        return f"your {precise(got, rtol)} has the wrong sign"
    side = "too large" if abs(got) > abs(expected) else "too small"
    relative = abs(got - expected) / abs(expected)
    return (f"your {precise(got, rtol)} is {side} by about {relative:.2g} relative "
            f"({tolerance})")


def compare(expected, got, rtol: float, atol: float, reveal: bool = False) -> str | None:
    """None if ``got`` matches ``expected`` (shape, then values within tolerance), else why not.

    With ``reveal`` False (a compute question: the number is the answer) the message says in
    which direction and by how much ``got`` misses, never the expected value; with ``reveal``
    (one case of an implement question) it shows both values with enough digits and the gap.
    """
    if isinstance(expected, (bool, np.bool_)):
        if isinstance(got, (bool, np.bool_, int, float, np.number)) and got == expected:
            return None
        return (f"expected {show(expected)}, got {show(got)}" if reveal
                else f"not {show(got)}: think again")
    if isinstance(expected, str) or expected is None:
        if got == expected:
            return None
        return f"expected {show(expected)}, got {show(got)}" if reveal else \
            f"{show(got)} is not it"
    if isinstance(expected, (tuple, list)):
        items = as_values(got, len(expected))
        if items is None:
            return f"expected {len(expected)} values (a tuple, list or array), got {show(got)}"
        for i, (e, g) in enumerate(zip(expected, items, strict=True)):
            problem = compare(e, g, rtol, atol, reveal)
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
        return (f"expected {show(expected)}, got {show(got)} ({where})" if reveal
                else f"got {show(got)}: {where}")
    if not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        with np.errstate(invalid="ignore", over="ignore"):
            miss = np.where(np.isfinite(e), np.abs(g - e), 0.0)
        worst = np.unravel_index(np.argmax(miss), e.shape) if e.shape else ()
        where = f" at index {tuple(int(i) for i in worst)}" if e.shape else ""
        want, have = float(e[worst]), float(g[worst])
        if not reveal:
            return gap(want, have, rtol, atol) + where
        relative = abs(have - want) / abs(want) if want else abs(have - want)
        kind = "relative" if want else "absolute"
        return (f"expected {precise(want, rtol)}, got {precise(have, rtol)}{where} "
                f"({kind} gap {relative:.2g}; tolerance rtol {rtol:g}, atol {atol:g})")
    return None


class ValueExercise(Exercise):
    """A number, array or short tuple, compared with the lesson's value within a tolerance. A
    FAIL says in which direction and by how much the answer misses, then ``advice``; never the
    expected value (that is the answer).

    Args:
        title: the exercise's name in reports.
        expected: the right answer (computed from the lesson's tested functions).
        rtol: relative tolerance (default 1e-6). atol: absolute tolerance (default 0).
        advice: what to check when the answer is off, added to a FAIL (default "").
        hints, solution: see :class:`Exercise`.
    """

    def __init__(self, title: str, expected, *, rtol: float = 1e-6, atol: float = 0.0,
                 advice: str = "", hints=(), solution: str = ""):
        super().__init__(title, hints, solution)
        self.expected, self.rtol, self.atol, self.advice = expected, rtol, atol, advice

    def _verdict(self, answer):
        return advise(compare(self.expected, answer, self.rtol, self.atol), self.advice)


class NamedValues(Exercise):
    """A tuple of values compared item by item, as a `ValueExercise` compares each; a FAIL names
    the item, not its index, and never says the expected value.

    Args:
        title: the exercise's name in reports.
        names: one name per value, for the FAIL messages.
        expected: the right values, or a function returning them, called at the first check
            (for values that need a computation).
        rtol: relative tolerance (default 1e-6). atol: absolute tolerance (default 0).
        advice: what to check when an item is off, added to its FAIL (default "").
        hints, solution: see :class:`Exercise`.
    """

    def __init__(self, title: str, names, expected, *, rtol: float = 1e-6, atol: float = 0.0,
                 advice: str = "", hints=(), solution: str = ""):
        super().__init__(title, hints, solution)
        self.names, self._expected, self.rtol, self.atol = tuple(names), expected, rtol, atol
        self.advice = advice

    @property
    def expected(self) -> tuple:
        self._expected = tuple(self._expected() if callable(self._expected) else self._expected)
        return self._expected

    def _verdict(self, answer):
        expected = self.expected
        items = as_values(answer, len(expected))
        if items is None:
            return (f"expected {len(expected)} values ({', '.join(self.names)}) as a tuple, list "
                    f"or array, got {show(answer)}")
        for name, want, got in zip(self.names, expected, items, strict=True):
            if problem := compare(want, got, self.rtol, self.atol):
                return advise(f"{name}: {problem}", self.advice)
        return None


class PredictionExercise(Exercise):
    """Predict, then run: ``run()`` keeps its run in the attribute named ``kept`` (None until
    then) and the verdict compares the prediction with it. Before the run a filled-in answer is
    UNATTEMPTED with the message ``run_first``; a blank is UNATTEMPTED as everywhere.

    Subclasses set the class attributes ``kept`` (e.g. "runs") and ``run_first`` (e.g. "train
    first (runs = q6.run()), then check"), start ``kept`` at None, and implement ``run`` and
    ``_verdict``.
    """

    kept: str
    run_first: str

    def check(self, answer) -> Report:
        if getattr(self, self.kept) is None and not is_blank(answer):
            return Report(UNATTEMPTED, self.run_first, self.title)
        return super().check(answer)


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
            problem = compare(expected, got, self.rtol, self.atol, reveal=True)
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
        problem = config_problem(self.config, answer.get_config(), self.rtol)
        return problem or (self.probe(answer) if self.probe else None)


# Settings whose values take the same update: no weight decay is None or 0.0 in get_config().
_SAME_UPDATE = {"weight_decay": {None: 0.0}}


def _setting(key, value):
    return _SAME_UPDATE.get(key, {}).get(value, value)


def config_problem(expected: dict, config: dict, rtol: float = 1e-6) -> str | None:
    """None if ``config`` (a ``get_config()``) has every setting of ``expected`` (numbers within
    ``rtol``; ``weight_decay`` None and 0.0 are the same update), else the first that differs."""
    for key, value in expected.items():
        if key not in config:
            return f"get_config() has no {key!r}"
        problem = compare(_setting(key, value), _setting(key, config[key]), rtol, 0.0,
                          reveal=True)
        if problem:
            return f"{key}: {problem}"
    return None


def advise(problem: str | None, advice: str) -> str | None:
    """``problem`` followed by ``advice`` (when there is a problem and advice)."""
    return f"{problem}; {advice}" if problem and advice else problem
