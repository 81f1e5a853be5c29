"""Self-checked exercises: a blank reports UNATTEMPTED, a wrong answer FAIL with what differed,
a right one PASS. ``check()`` never raises on a student's mistake; it reports it.

    answer = ____                 # the student replaces the blank
    q1.check(answer)              # UNATTEMPTED / FAIL: too small by about 50% ... / PASS
    q1.hint()                     # hints one at a time (q1.hint(2) for the second)
    q1.solution()                 # the instructor's solution, as code

A predict-then-run exercise has a fourth status, RIGHT, BUT: the prediction is the lesson's answer,
but this machine's own run landed outside the lesson's band (a finding to discuss, not a mistake).
A report renders as coloured HTML in JupyterLab and as one plain line elsewhere.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["FAIL", "PASS", "RIGHT_BUT", "UNATTEMPTED", "Blank", "Exercise", "Report", "RightBut",
           "____"]

PASS, FAIL, UNATTEMPTED, RIGHT_BUT = "PASS", "FAIL", "UNATTEMPTED", "RIGHT, BUT"
_COLOURS = {PASS: "#1b7f3b", FAIL: "#b3261e", UNATTEMPTED: "#8a6d00", RIGHT_BUT: "#9a5b00",
            "HINT": "#30588c", "SOLUTION": "#30588c"}
BLANK_LEFT = "replace the blank ____ with your answer, then run this cell again"


class Unattempted(Exception):
    """Raised when a computation touches the blank ``____``; ``check`` reports UNATTEMPTED.

    Raised in a student's own cell (a blank left in an expression), IPython shows the one line
    ``_render_traceback_`` returns instead of a red traceback: the same words as a check's report.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"UNATTEMPTED: {self}"]


class RightBut(str):
    """A verdict message for RIGHT, BUT: the answer is right, the machine's own run is not."""


class Blank:
    """The blank a student fills in. Any use of it other than passing it along raises
    :class:`Unattempted`, so code that still holds a blank is reported, not crashed on."""

    def __repr__(self) -> str:
        return "____"

    def _touched(self, *args, **kwargs):
        raise Unattempted(BLANK_LEFT)

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _touched
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __matmul__ = __rmatmul__ = _touched
    __neg__ = __abs__ = __float__ = __int__ = __index__ = __bool__ = __len__ = _touched
    __iter__ = __getitem__ = __call__ = __array__ = __lt__ = __gt__ = __le__ = __ge__ = _touched

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise Unattempted(BLANK_LEFT)


____ = Blank()


def is_blank(value) -> bool:
    """True if ``value`` is the blank or a container holding it."""
    if isinstance(value, Blank):
        return True
    if isinstance(value, (list, tuple)):
        return any(is_blank(v) for v in value)
    if isinstance(value, dict):
        return any(is_blank(v) for v in value.values())
    return False


@dataclass(frozen=True)
class Report:
    """What a check, hint or solution says: a status and a message."""

    status: str
    message: str
    title: str = ""

    @property
    def passed(self) -> bool:
        """True when the answer is right: PASS, or RIGHT, BUT (right, the machine's run not)."""
        return self.status in (PASS, RIGHT_BUT)

    def __repr__(self) -> str:
        head = f"{self.title} " if self.title else ""
        return f"{head}{self.status}: {self.message}"

    def _repr_html_(self) -> str:
        colour = _COLOURS.get(self.status, "#333333")
        head = f"{html.escape(self.title)} " if self.title else ""
        body = html.escape(self.message)
        if self.status == "SOLUTION":
            body = f"<pre style=\"margin:0.3em 0 0 0\">{body}</pre>"
        return (f"<div style=\"border-left:4px solid {colour};padding:0.2em 0.6em\">"
                f"<span style=\"color:{colour};font-weight:bold\">{head}{self.status}</span>: "
                f"{body}</div>")


class Exercise:
    """One exercise: a check of the student's answer, hints and a solution.

    Subclasses implement ``_verdict(answer)``, returning None when the answer is right, a
    message saying what differs (which input, in which direction, a hint), or a
    :class:`RightBut` message (right answer; this machine's run left the lesson's band).

    Args:
        title: how the exercise is named in reports (e.g. "Exercise 1").
        hints: hints, from gentle to explicit (default none).
        solution: the instructor's solution as code text (default "").
    """

    def __init__(self, title: str, hints=(), solution: str = ""):
        self.title = title
        self.hints = tuple(hints)
        self._solution = solution.strip("\n")

    def check(self, answer) -> Report:
        """PASS, FAIL with what differed, or UNATTEMPTED while the answer holds the blank."""
        if is_blank(answer):
            return Report(UNATTEMPTED, BLANK_LEFT, self.title)
        try:
            problem = self._verdict(answer)
        except Unattempted:
            return Report(UNATTEMPTED, "your code still uses the blank ____ somewhere",
                          self.title)
        except Exception as error:  # the student's code failed: report it, do not raise
            return Report(FAIL, f"your answer raised {type(error).__name__}: {error}", self.title)
        if problem is None:
            return Report(PASS, "correct", self.title)
        if isinstance(problem, RightBut):
            return Report(RIGHT_BUT, str(problem), self.title)
        return Report(FAIL, problem, self.title)

    def hint(self, n: int = 1) -> Report:
        """The n-th hint (1-based)."""
        if not self.hints:
            return Report("HINT", "no hint for this one: look at the lesson's text", self.title)
        n = min(max(int(n), 1), len(self.hints))
        more = f" (hint {n} of {len(self.hints)})" if len(self.hints) > 1 else ""
        return Report("HINT", self.hints[n - 1] + more, self.title)

    def solution(self) -> Report:
        """The instructor's solution."""
        return Report("SOLUTION", self._solution or "(no solution written)", self.title)

    def _verdict(self, answer):  # pragma: no cover - abstract
        raise NotImplementedError
