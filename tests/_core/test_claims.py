"""lessons._core.claims: stable lines when claims hold, a loud ClaimFailed naming the value when not."""

import math

import numpy as np
import pytest

from lessons._core.claims import Claim, ClaimFailed, check


def test_holding_claims_print_band_not_value(capsys):
    result = check([Claim("CRF beats softmax", 0.0712, at_least=0.05),
                   Claim("AdamW rows past 0.5/lambda", 0.031, at_most=0.1, unit="%"),
                   Claim("speed-up", 1.31, at_least=1.1, at_most=1.6, unit="x"),
                   Claim("modes covered", 7, at_least=6, at_most=8)])
    lines = capsys.readouterr().out.splitlines()
    assert result is None
    assert lines == ["holds: CRF beats softmax (>= 0.05)",
                     "holds: AdamW rows past 0.5/lambda (<= 10%)",
                     "holds: speed-up (1.10x .. 1.60x)",
                     "holds: modes covered (6 .. 8)"]
    assert not any("0.0712" in line or "3%" in line or "1.31" in line for line in lines)


def test_band_edges_are_inclusive():
    assert Claim("a", 0.05, at_least=0.05).holds()
    assert Claim("a", 0.1, at_most=0.1).holds()
    assert not Claim("a", 0.0499, at_least=0.05).holds()


def test_failure_names_claim_band_and_measured_value():
    with pytest.raises(ClaimFailed, match=r"CRF beats softmax: measured 0.01, band >= 0.05"):
        check([Claim("ok", 1.0, at_least=0.0), Claim("CRF beats softmax", 0.01, at_least=0.05)])
    with pytest.raises(AssertionError, match="measured 71%, band <= 10%"):
        check([Claim("AdamW", 0.71, at_most=0.1, unit="%")])


def test_nan_never_holds():
    with pytest.raises(ClaimFailed, match="measured nan"):
        check([Claim("loss is finite and small", math.nan, at_most=10.0)])


@pytest.mark.parametrize("kwargs, match", [
    (dict(statement="x", value=1.0), "needs at_least, at_most or both"),
    (dict(statement="x", value=1.0, at_least=2.0, at_most=1.0), "at_least 2.0 > at_most 1.0"),
    (dict(statement=" ", value=1.0, at_least=0.0), "statement must be a non-empty string"),
    (dict(statement="x", value=1.0, at_least=0.0, unit="s"), "unit must be one of"),
])
def test_bad_claims_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Claim(**kwargs)


def test_check_needs_claims():
    with pytest.raises(ValueError, match="at least one Claim"):
        check([])


# --- student mode, the HTML summary, agreement checks ---------------------------------------

from lessons._core import claims as claims_module  # noqa: E402
from lessons._core.claims import Agreement, ClaimReport, check_agreement, strict  # noqa: E402


@pytest.fixture
def student_kernel(monkeypatch):
    """A student's Jupyter kernel: in a kernel, neither LESSONS_STRICT nor CI set."""
    monkeypatch.setattr(claims_module, "_in_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda obj: print(repr(obj)))
    monkeypatch.delenv("LESSONS_STRICT", raising=False)
    monkeypatch.delenv("CI", raising=False)


def test_outside_a_kernel_claims_are_strict(monkeypatch):
    monkeypatch.delenv("LESSONS_STRICT", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert strict()


def test_in_a_students_kernel_a_failing_claim_is_shown_and_run_all_goes_on(student_kernel,
                                                                            capsys):
    assert not strict()
    check([Claim("ok", 1.0, at_least=0.0), Claim("CRF beats softmax", 0.01, at_least=0.05)])
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["holds: ok (>= 0.00)",
                     "does not hold on this machine: CRF beats softmax: measured 0.01, "
                     "band >= 0.05"]


@pytest.mark.parametrize("env", [{"LESSONS_STRICT": "1"}, {"CI": "true"}])
def test_nbval_and_ci_kernels_still_raise(student_kernel, monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert strict()
    with pytest.raises(ClaimFailed, match="CRF beats softmax"):
        check([Claim("CRF beats softmax", 0.01, at_least=0.05)])


def test_a_group_renders_as_one_summary_line_with_the_statements_inside():
    group = [Claim(f"statement {i}", 1.0, at_least=0.0) for i in range(16)]
    report = ClaimReport(group, [])
    page = report._repr_html_()
    assert "<summary>holds: 16 statements of this section</summary>" in page
    assert page.count("<li>") == 16 and "<details>" in page
    assert repr(report).splitlines() == [c.line() for c in group]
    assert ClaimReport(group[:1], [])._repr_html_() == "<div>holds: statement 0 (&gt;= 0.00)</div>"


def test_a_failed_claim_is_visible_in_html_not_folded_away():
    bad = Claim("AdamW rows", 0.71, at_most=0.1, unit="%")
    page = ClaimReport([Claim("ok", 1.0, at_least=0.0), bad], [bad])._repr_html_()
    assert "does not hold on this machine" in page.split("<details>")[0]
    assert "measured 71%" in page and "holds: 1 statement of this section" in page


def test_agreement_holds_within_tolerance_and_names_no_digits(capsys):
    scratch = np.array([1.0, 2.0, 3.0]) * (1 + 1e-8)
    check_agreement("v-hat by hand = AdaX's v-hat", scratch, np.array([1.0, 2.0, 3.0]))
    assert capsys.readouterr().out == \
        "holds: v-hat by hand = AdaX's v-hat (agree to rtol 1e-06, atol 0)\n"


def test_agreement_failure_names_the_largest_difference():
    with pytest.raises(ClaimFailed, match=r"largest difference 0.5 \(3.5 vs 3\)"):
        check_agreement("forward recursion", [1.0, 2.0, 3.5], np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ClaimFailed, match=r"shapes differ, \(2,\) vs \(3,\)"):
        check_agreement("forward recursion", [1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="rtol and atol"):
        Agreement("x", 1.0, 1.0, rtol=-1.0)


def test_a_real_kernel_goes_on_in_student_mode_and_raises_under_nbval(tmp_path):
    """The same cell in a real Jupyter kernel: shown in a student's, an error under nbval's."""
    import os

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    def run(env):
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell(
                "from lessons._core.claims import Claim, check\n"
                "check([Claim('CRF beats softmax', 0.01, at_least=0.05)])"),
            nbformat.v4.new_code_cell("print('next cell ran')")])
        saved = dict(os.environ)
        os.environ.pop("LESSONS_STRICT", None)
        os.environ.pop("CI", None)
        os.environ.update(env)
        try:
            NotebookClient(nb, timeout=120, kernel_name="python3").execute()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return nb

    nb = run({})
    shown = nb.cells[0].outputs[0]
    assert shown["output_type"] == "display_data"
    assert shown["data"]["text/plain"].startswith("does not hold on this machine: CRF beats")
    assert nb.cells[1].outputs[0]["text"] == "next cell ran\n"
    with pytest.raises(CellExecutionError, match="ClaimFailed"):
        run({"LESSONS_STRICT": "1"})
