"""Lesson 01: each claim check raises on a violating fake result and passes on a good one.

Bands of the digits claims were measured as recorded in ``adax.claims.digits_claims``'s docstring.
"""

import math

import numpy as np
import pytest

from lessons import adax
from lessons._core.claims import ClaimFailed


def _scores(rule, lr, train_loss=0.22, val_accuracy=0.955, at_100=0.016, last=0.036,
            traced_rms=0.05):
    """Fake scores; at_100 and last are lr/sqrt(v_hat) at step 100 and at the last step."""
    return adax.RunScores(rule, lr, train_loss, train_loss, val_accuracy, at_100, last,
                          675, traced_rms)


def _good_comparison(**changes):
    runs = {
        "adam": _scores("adam", 1e-3),
        "adax": _scores("adax", 1e-3, train_loss=0.228, at_100=0.0154, last=0.030),
        "slow": _scores("adafactor", 1e-3, train_loss=1.42, val_accuracy=0.73, at_100=0.013,
                        last=0.0196, traced_rms=1e-4),
        "fast": _scores("adafactor", 1e-2, train_loss=0.10, val_accuracy=0.967, at_100=0.215,
                        last=1.55, traced_rms=3e-4),
    }
    for key, fields in changes.items():
        runs[key] = adax.RunScores(**{**runs[key].__dict__, **fields})
    return adax.DigitsComparison(tuple(runs.values()))


def test_digits_claims_pass_on_a_good_result(capsys):
    adax.check_claims(_good_comparison())
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8 and all(line.startswith("holds: ") for line in lines)
    assert not any("0.955" in line or "0.836" in line for line in lines)  # no measured digits


@pytest.mark.parametrize(("changes", "statement"), [
    ({"adam": {"lr_over_sqrt_v_hat_last": 0.018}}, "Adam (lr 1e-3): lr/sqrt"),  # no rise
    ({"adax": {"lr_over_sqrt_v_hat_last": 0.036}}, "ends below Adam's"),  # AdaX as high as Adam
    ({"adax": {"train_loss": 0.40}}, "final training losses"),
    ({"adax": {"val_accuracy": 0.90}}, "held-out accuracies"),
    ({"slow": {"train_loss": 0.3}}, "trains slowly"),
    ({"fast": {"val_accuracy": 0.081}}, "lr 1e-2 trains"),  # e.g. a NaN kernel
    ({"fast": {"lr_over_sqrt_v_hat_last": 0.3}}, "lr 1e-2: lr/sqrt"),
    ({"fast": {"traced_rms": 0.05}}, "RMS below 1e-3"),
])
def test_each_digits_claim_fails_on_a_violating_result(changes, statement):
    with pytest.raises(ClaimFailed, match=statement.replace("(", r"\(").replace(")", r"\)")):
        adax.check_claims(_good_comparison(**changes))


def test_digits_comparison_needs_the_four_runs():
    partial = adax.DigitsComparison(_good_comparison().runs[:2])
    with pytest.raises(ValueError, match="rule, learning_rate"):
        adax.digits_claims(partial)
    with pytest.raises(ValueError, match="rule, learning_rate"):
        adax.check_claims(partial)
    assert "AdaX / Adam lr/sqrt(v) at the last step: 0.833" in adax.format_runs(partial)
    with pytest.raises(ValueError, match="result"):
        adax.check_claims({"adam": 1})
    with pytest.raises(ValueError, match="runs"):
        adax.summarize_digits([])


def test_summarize_digits_reads_the_runs():
    trace = {"steps": np.arange(1, 151), "v_hat": np.ones(150),
             "lr_over_sqrt_v_hat": np.linspace(1.0, 2.5, 150), "rms_last": 0.5}
    run = adax.Run("adax", 1e-3, np.array([0.9, 0.4]), 0.35, 0.91, trace)
    (scores,) = adax.summarize_digits([run]).runs
    assert (scores.train_loss, scores.val_loss, scores.val_accuracy) == (0.4, 0.35, 0.91)
    assert scores.lr_over_sqrt_v_hat_at_100 == trace["lr_over_sqrt_v_hat"][99]
    assert scores.lr_over_sqrt_v_hat_last == 2.5
    assert scores.rise == pytest.approx(2.5 / trace["lr_over_sqrt_v_hat"][99])
    assert (scores.steps, scores.traced_rms) == (150, 0.5)
    short = dict(trace, lr_over_sqrt_v_hat=np.ones(50), steps=np.arange(1, 51))
    assert math.isnan(adax.summarize_digits([adax.Run("adam", 1e-3, run.loss, 0.3, 0.9, short)])
                      .runs[0].lr_over_sqrt_v_hat_at_100)


def test_the_notebook_runs_are_the_ones_the_claims_read():
    assert [(r.rule, r.learning_rate) for r in _good_comparison().runs] == list(
        adax.LESSON_SETTINGS)


def _fake_runs(adax_last=0.030):
    """Runs as compare_on_digits returns them; the traced lr/sqrt(v_hat) rises linearly."""
    runs = []
    for s, (rule, lr) in zip(_good_comparison().runs, adax.LESSON_SETTINGS, strict=True):
        last = adax_last if rule == "adax" else s.lr_over_sqrt_v_hat_last
        ratio = np.linspace(s.lr_over_sqrt_v_hat_at_100 - 99 * 1e-5, last, 675)
        ratio[99] = s.lr_over_sqrt_v_hat_at_100
        trace = {"steps": np.arange(1, 676), "v_hat": (lr / ratio) ** 2,
                 "lr_over_sqrt_v_hat": ratio, "rms_last": s.traced_rms}
        runs.append(adax.Run(rule, lr, np.array([2.0, s.train_loss]), s.val_loss,
                             s.val_accuracy, trace))
    return runs


def test_check_claims_takes_the_runs_the_notebook_trains(capsys):
    adax.check_claims(_fake_runs())
    assert len(capsys.readouterr().out.splitlines()) == 8
    with pytest.raises(ClaimFailed, match="ends below Adam's"):
        adax.check_claims(_fake_runs(adax_last=0.036))
    with pytest.raises(ValueError, match="result"):
        adax.check_claims([])
