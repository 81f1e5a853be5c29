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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Claim", "ClaimFailed", "check"]


class ClaimFailed(AssertionError):
    """A lesson's statement does not hold for the numbers this machine produced."""

    def __init__(self, failures: list[tuple[Claim, object]]):
        self.failures = failures
        lines = [f"{c.statement}: measured {c.format(v)}, band {c.band()}" for c, v in failures]
        super().__init__("claim does not hold: " + "; ".join(lines))


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


def check(claims) -> None:
    """Check every claim; print one stable line each; raise ``ClaimFailed`` if any fails.

    Returns nothing, so a notebook cell ending in ``check(...)`` shows only the printed lines.

    Args:
        claims: an iterable of :class:`Claim`; each prints "holds: <statement> (<band>)".
    """
    claims = list(claims)
    if not claims:
        raise ValueError("claims must name at least one Claim")
    failures = [(claim, claim.value) for claim in claims if not claim.holds()]
    if failures:
        raise ClaimFailed(failures)
    print("\n".join(claim.line() for claim in claims))
