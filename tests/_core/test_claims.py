"""lessons._core.claims: stable lines when claims hold, a loud ClaimFailed naming the value when not."""

import math

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
