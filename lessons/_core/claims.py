"""Claim checks: what a lesson states about a training run, checked with a measured band.

A training run's digits depend on the CPU (oneDNN and XLA pick other kernels on AVX2, AVX-512,
Apple silicon or a GPU), so a notebook shows them in a cell nbval does not compare and, right
after it, checks what the lesson *says* about them. ``check`` prints one line per claim that
names the statement and its band, never the measured digits, so the line is the same on every
machine and nbval compares it strictly. When a claim does not hold it raises
:class:`ClaimFailed`, naming the claim, the band and the measured value.

    check([
        Claim("Tiger: rare embedding rows past 0.5/lambda", share, at_least=0.9, unit="%"),
        Claim("AdamW: rare embedding rows past 0.5/lambda", adamw_share, at_most=0.1, unit="%"),
    ])

Each lesson module builds its claims from its own results (``<lesson>.claims(result)``); the
band of each claim is set from runs under other seeds and emulated CPUs, recorded beside it.
``check_agreement`` is the same for a from-scratch computation against the library's.

In Jupyter a group of claims shows as one line ("holds: 16 statements of this section") with the
statements in a ``<details>``; its ``text/plain`` keeps every line for nbval. A claim that fails
raises ``ClaimFailed`` under nbval, CI, scripts and tests (``strict()``); in a student's kernel it
shows "does not hold on this machine: ..." instead, so Run All goes on.
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass

import numpy as np

__all__ = ["Agreement", "Claim", "ClaimFailed", "ClaimReport", "check", "check_agreement",
           "strict"]

STRICT_ENV = "LESSONS_STRICT"


class ClaimFailed(AssertionError):
    """A lesson's statement does not hold for the numbers this machine produced."""

    def __init__(self, failures: list[tuple[Claim, object]]):
        self.failures = failures
        super().__init__("claim does not hold: " + "; ".join(c.failure() for c, _ in failures))


@dataclass(frozen=True)
class Claim:
    """One statement about a measured value and the band it must lie in.

    Args:
        statement: what the lesson says, in words a student reads (e.g. "CRF beats softmax").
        value: the measured number (bools count as 0/1).
        at_least: lower end of the band, inclusive (default None: no lower end).
        at_most: upper end of the band, inclusive (default None: no upper end).
        unit: "" (default), "%" (value is a fraction, shown as a percentage) or "x" (a ratio).
        digits: decimals shown in the band and in a failure message (default None: 0 for "%",
            2 otherwise).
    """

    statement: str
    value: float
    at_least: float | None = None
    at_most: float | None = None
    unit: str = ""
    digits: int | None = None

    def __post_init__(self):
        if not self.statement.strip():
            raise ValueError("statement must be a non-empty string")
        if self.at_least is None and self.at_most is None:
            raise ValueError(f"claim {self.statement!r} needs at_least, at_most or both")
        if (self.at_least is not None and self.at_most is not None
                and self.at_least > self.at_most):
            raise ValueError(f"claim {self.statement!r}: at_least {self.at_least} > "
                             f"at_most {self.at_most}")
        if self.unit not in ("", "%", "x"):
            raise ValueError(f"unit must be one of '', '%', 'x', got {self.unit!r}")

    def format(self, value) -> str:
        digits = self.digits
        if digits is None:
            whole = all(isinstance(b, int) for b in (self.at_least, self.at_most) if b is not None)
            digits = 0 if self.unit == "%" or (whole and self.unit == "") else 2
        if self.unit == "%":
            return f"{100 * float(value):.{digits}f}%"
        return f"{float(value):.{digits}f}{self.unit}"

    def band(self) -> str:
        lo, hi = self.at_least, self.at_most
        if hi is None:
            return f">= {self.format(lo)}"
        if lo is None:
            return f"<= {self.format(hi)}"
        return f"{self.format(lo)} .. {self.format(hi)}"

    def holds(self) -> bool:
        v = float(self.value)
        if math.isnan(v):
            return False
        return ((self.at_least is None or v >= self.at_least)
                and (self.at_most is None or v <= self.at_most))


    def line(self) -> str:
        """The stable line printed when the claim holds: no measured digits in it."""
        return f"holds: {self.statement} ({self.band()})"

    def failure(self) -> str:
        """What went wrong: the statement, the measured value and the band."""
        return f"{self.statement}: measured {self.format(self.value)}, band {self.band()}"


@dataclass(frozen=True)
class Agreement:
    """A from-scratch computation and the library's give the same numbers.

    Args:
        statement: what agrees, in words (e.g. "v-hat by hand = AdaX's v-hat").
        from_scratch: the notebook's own computation (a number or an array).
        library: the library's result, the same shape.
        rtol: relative tolerance (default 1e-6). atol: absolute tolerance (default 0).
    """

    statement: str
    from_scratch: object
    library: object
    rtol: float = 1e-6
    atol: float = 0.0

    def __post_init__(self):
        if not self.statement.strip():
            raise ValueError("statement must be a non-empty string")
        if not (self.rtol >= 0 and self.atol >= 0):
            raise ValueError(f"rtol and atol must be >= 0, got {self.rtol}, {self.atol}")

    def _arrays(self):
        a = np.asarray(_numpy(self.from_scratch), dtype=np.float64)
        b = np.asarray(_numpy(self.library), dtype=np.float64)
        return a, b

    def holds(self) -> bool:
        a, b = self._arrays()
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=self.rtol, atol=self.atol))

    def line(self) -> str:
        return f"holds: {self.statement} (agree to rtol {self.rtol:g}, atol {self.atol:g})"

    def failure(self) -> str:
        a, b = self._arrays()
        if a.shape != b.shape:
            return f"{self.statement}: shapes differ, {a.shape} vs {b.shape}"
        gap = np.abs(a - b)
        worst = np.unravel_index(int(np.nanargmax(gap)) if np.isfinite(gap).any() else 0,
                                 gap.shape) if gap.shape else ()
        return (f"{self.statement}: largest difference {float(gap[worst]):.3g} "
                f"({float(a[worst]):.9g} vs {float(b[worst]):.9g}), tolerance rtol "
                f"{self.rtol:g}, atol {self.atol:g}")

    @property
    def value(self):
        return self.from_scratch


def _numpy(value):
    return value.numpy() if hasattr(value, "numpy") and callable(value.numpy) else value


def strict() -> bool:
    """True when a failing claim must raise: outside a Jupyter kernel (scripts, tests), under
    nbval or CI (``LESSONS_STRICT=1`` or ``CI`` set, as the Makefile and CI do). False only in a
    student's kernel, where a failing claim is shown and the notebook goes on."""
    flag = os.environ.get(STRICT_ENV, "").strip().lower()
    if flag in ("1", "true", "yes"):
        return True
    if flag in ("0", "false", "no"):
        return not _in_kernel()
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        return True
    return not _in_kernel()


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class ClaimReport:
    """What a claim check shows: one line per claim as text, one summary line in HTML."""

    def __init__(self, claims, failed):
        self.claims, self.failed = list(claims), list(failed)

    def lines(self) -> list[str]:
        failed = {id(c) for c in self.failed}
        return [f"does not hold on this machine: {c.failure()}" if id(c) in failed else c.line()
                for c in self.claims]

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines()
                        if line.startswith("holds: "))
        held = len(self.claims) - len(self.failed)
        parts = []
        for claim in self.failed:
            parts.append(
                "<div style=\"border-left:4px solid #b3261e;padding:0.2em 0.6em\">"
                "<b style=\"color:#b3261e\">does not hold on this machine</b>: "
                f"{html.escape(claim.failure())}. The lesson's statement is not true for the "
                "numbers your computer produced; the notebook goes on (see the course README, "
                "\"Stored outputs\").</div>")
        if held == 1 and not self.failed:
            parts.append(f"<div>{html.escape(self.lines()[0])}</div>")
        elif held:
            what = "statement" if held == 1 else "statements"
            parts.append(f"<details><summary>holds: {held} {what} of this section</summary>"
                         f"<ul>{items}</ul></details>")
        return "".join(parts)


def check(claims) -> None:
    """Check every claim and show the result; raise ``ClaimFailed`` if any fails (``strict()``).

    Returns nothing: in Jupyter it displays a :class:`ClaimReport` (one summary line, the
    statements in a ``<details>``; every line in ``text/plain``), elsewhere it prints one stable
    line per claim ("holds: <statement> (<band>)"). In a student's kernel a failing claim is
    shown as "does not hold on this machine: ..." and does not raise.

    Args:
        claims: an iterable of :class:`Claim` or :class:`Agreement`.
    """
    claims = list(claims)
    if not claims:
        raise ValueError("claims must name at least one Claim")
    failed = [claim for claim in claims if not claim.holds()]
    if failed and strict():
        raise ClaimFailed([(claim, claim.value) for claim in failed])
    report = ClaimReport(claims, failed)
    if _in_kernel():
        from IPython.display import display

        display(report)
    else:
        print(report)


def check_agreement(statement: str, from_scratch, library, *, rtol: float = 1e-6,
                    atol: float = 0.0) -> None:
    """Check that a from-scratch computation agrees with the library's (``check`` of one
    :class:`Agreement`); the line names the tolerance, never the digits.

    Args:
        statement: what agrees, e.g. "v-hat by hand = AdaX's v-hat".
        from_scratch: the notebook's own computation. library: the library's, same shape.
        rtol: relative tolerance (default 1e-6). atol: absolute tolerance (default 0).
    """
    check([Agreement(statement, from_scratch, library, rtol=rtol, atol=atol)])
