"""Lesson 03's claim checks on fake results (no training): each passes on a good result, prints
only stable lines, and raises ClaimFailed on a result that violates it."""

import pytest
from crf_testing import fake_live

from lessons._core.claims import ClaimFailed
from lessons.crf import (
    CLAIMS,
    check_claims,
    live_claims,
    live_summary,
    load_sweep,
    path_claims,
    post_table,
    step_claims,
)
from lessons.crf.claims import SWEEP_GAPS


def test_live_claims_pass_on_a_good_result_and_fail_on_each_violation(capsys):
    check_claims(fake_live())
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7 and all(line.startswith("holds: ") for line in lines)
    assert "0.70" not in "\n".join(lines)  # no measured digits are printed
    rows = {r["label"]: r for r in live_summary(fake_live(rows10=3))}
    assert rows["CRF x10"]["rows_ordered"] == 3 and rows["CRF x1"]["spread"] == pytest.approx(0.6)
    violations = {
        "beats softmax": fake_live(soft=(0.60, 0.68)),  # gap 0.02 < 0.05
        "beats 1x": fake_live(x10=(0.70, 0.82)),  # epoch-1 gap 0.05 < 0.08
        "stay small": fake_live(spread1=1.5),
        "transitions grow": fake_live(spread10=1.0),
        "every row": fake_live(rows10=3),
        "smaller gap than the sweep": fake_live(x1=(0.65, 0.80)),  # 0.21 > 0.2
        "larger gap than the sweep": fake_live(x1=(0.70, 0.70)),  # epoch-1 gap 0.09 < 0.1
    }
    for words, live in violations.items():
        with pytest.raises(ClaimFailed, match=words):
            check_claims(live)
    assert len(live_claims(fake_live())) == 7


def test_the_sweep_gaps_the_live_claims_compare_with_are_the_stored_sweeps():
    rows = {r["name"]: r for r in post_table(load_sweep(), depth=0)}
    crf1, crf2, soft = rows["CRF-1"], rows["CRF-2"], rows["Softmax"]
    assert SWEEP_GAPS["crf_over_softmax"] == round(crf1["ours_best"] - soft["ours_best"], 3)
    assert SWEEP_GAPS["x10_over_x1"] == round(crf2["ours_epoch1"] - crf1["ours_epoch1"], 3)


def test_path_and_step_claims_pass_and_fail(capsys):
    good = {"kind": "paths", "n_paths": 64, "sum_p": 1.0 - 5e-7, "most_likely": [2, 2, 2],
            "viterbi": [2, 2, 2]}
    check_claims(good)
    assert capsys.readouterr().out.count("holds: ") == 2
    with pytest.raises(ClaimFailed, match="sum to 1"):
        check_claims({**good, "sum_p": 1.01})
    with pytest.raises(ClaimFailed, match="Viterbi"):
        check_claims({**good, "viterbi": [2, 2, 1]})
    steps = {"kind": "multiplier_steps", "multipliers": [10.0, 100.0],
             "adam": [9.99999, 100.0001], "sgd": [100.0, 1e4]}
    check_claims(steps)
    assert capsys.readouterr().out.count("holds: ") == 2
    with pytest.raises(ClaimFailed, match="Adam"):
        check_claims({**steps, "adam": [10.0, 1e4]})  # k^2 under Adam: the lesson is wrong
    with pytest.raises(ClaimFailed, match="SGD"):
        check_claims({**steps, "sgd": [10.0, 100.0]})
    assert set(CLAIMS) == {"paths", "multiplier_steps", "live"}
    assert len(path_claims(good)) == 2 and len(step_claims(steps)) == 2


@pytest.mark.parametrize("make, match", [
    (lambda: check_claims({"kind": "sweep"}), "kind"),
    (lambda: check_claims([1, 2]), "kind"),
    (lambda: live_claims({"kind": "live", "runs": {}}), "missing"),
])
def test_claims_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
