"""Lesson 03's exercises: each solution passes, a blank is UNATTEMPTED, and the mistakes students
make FAIL with a message naming the input and expected vs got.

The solutions are read from the instructor notebook (notebooks/exercises/03_crf_learning_rate.ipynb)
by the shared harness (exercise_harness.py). The references (the lesson's CRF layer) are checked
here against float64 brute force over every path.
"""

import functools
import itertools

import numpy as np
import pytest
from exercise_harness import ExerciseNotebook, fails, fails_on

from lessons import crf
from lessons.exercises import FAIL, UNATTEMPTED, ____
from lessons.exercises import crf as ex

_fails_on = functools.partial(fails_on, then="expected ")
NOTEBOOK = ExerciseNotebook("03_crf_learning_rate.ipynb", ex, ("q1", "q2", "q3", "q4", "q5"),
                            {"np": np, "GOLD": ex.GOLD, "PRED": ex.PRED})


def _solution(name: str, function: str):
    namespace = NOTEBOOK.namespace()
    exec(getattr(ex, name).solution().message, namespace)
    return namespace[function]

(test_every_exercise_has_a_cell_and_the_same_solution_as_the_notebook,
 test_solution_passes_and_student_copy_is_unattempted) = NOTEBOOK.shared_tests(NOTEBOOK.names[:4])


# ---- exercise 1: spans and word F1 ---------------------------------------------------------------

def test_q1_expected_values_are_the_hand_count():
    assert ex.SENTENCE[7:11] == "不可分割" and len(ex.SENTENCE) == len(ex.GOLD) == len(ex.PRED)
    assert ex.q1.spans[4:6] == [(7, 9), (9, 11)] and len(ex.q1.spans) == 10
    assert ex.q1.f1 == pytest.approx(2 * 0.8 * (8 / 9) / (0.8 + 8 / 9), rel=1e-12)  # 8 of 10, 8 of 9


def test_q1_wrong_answers():
    spans, f1 = ex.q1.spans, ex.q1.f1
    inclusive = [(start, end - 1) for start, end in spans]  # end inclusive: off by one
    fails(ex.q1, (inclusive, f1),
          "spans: word 1 of the prediction is not (0, 1): a word ends after every s or e tag")
    char_accuracy = float(np.mean([g == p for g, p in zip(ex.GOLD, ex.PRED, strict=True)]))
    assert char_accuracy == 0.875
    fails(ex.q1, (spans, char_accuracy), "word F1: your 0.875 is too large by about 0.039 "
          "relative (tolerance rtol 1e-06); F1 counts words")
    fails(ex.q1, (spans, 0.8), "word F1: your 0.8 is too small by about 0.05")  # precision only
    fails(ex.q1, (spans, 8 / 9), "word F1: your 0.88888889 is too large by about 0.056")  # recall
    for wrong in (char_accuracy, 0.8, 8 / 9):  # the FAIL never shows the answer 0.842105
        assert "0.842" not in ex.q1.check((spans, wrong)).message
    fails(ex.q1, (crf.word_spans(ex.GOLD), f1),  # the gold words, not the predicted ones
          "spans: word 5 of the prediction is not (7, 11)")
    fails(ex.q1, (spans[:-1], f1), "spans: you gave 9 spans; the prediction cuts more words")
    fails(ex.q1, (spans + [(16, 17)], f1), "spans: you gave 11 spans; the prediction cuts fewer")
    fails(ex.q1, f1, "expected a pair (spans, f1) as a tuple, list or array, got 0.842105")
    assert ex.q1.check((np.array(spans), np.float32(f1))).passed  # arrays and float32 are fine


# ---- exercise 2: log Z by the forward algorithm -------------------------------------------------

CASES2 = [label for label, _ in ex.q2.cases]


def _all_scores(emissions, transitions, start, end):
    """float64 score of every one of the K**T paths, and the paths."""
    e, t = np.asarray(emissions, np.float64), np.asarray(transitions, np.float64)
    paths = np.array(list(itertools.product(range(e.shape[1]), repeat=len(e))))
    score = (np.asarray(start, np.float64)[paths[:, 0]] + e[np.arange(len(e)), paths].sum(1)
             + t[paths[:, :-1], paths[:, 1:]].sum(1) + np.asarray(end, np.float64)[paths[:, -1]])
    return score, paths


def _brute_log_z(*args):
    score, _ = _all_scores(*args)
    return score.max() + np.log(np.exp(score - score.max()).sum())


def test_q2_reference_is_the_brute_force_log_z():
    for label, args in ex.q2.cases:
        if len(args[0]) <= 8:
            assert ex.crf_log_partition(*args) == pytest.approx(_brute_log_z(*args),
                                                                rel=1e-6, abs=2e-5), label
    log_partition = _solution("q2", "log_partition")
    long_case = ex.q2.cases[-1][1]
    assert len(long_case[0]) == 32
    assert ex.crf_log_partition(*long_case) == pytest.approx(log_partition(*long_case), abs=1e-4)
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(ex.q2.cases[2][1][0]).max())  # the 1e3 case overflows exp


def _naive(emissions, transitions, start, end):  # linear space: exp of the raw scores
    with np.errstate(over="ignore", invalid="ignore"):
        alpha = np.exp(start + emissions[0])
        for e_t in emissions[1:]:
            alpha = (alpha[:, None] * np.exp(transitions)).sum(0) * np.exp(e_t)
        return float(np.log((alpha * np.exp(end)).sum()))


def test_q2_wrong_answers_name_the_case():
    log_partition = _solution("q2", "log_partition")
    _fails_on(ex.q2, _naive, CASES2[2], "got nan (inf/NaN where a finite value is expected)")
    assert "exp overflows" in CASES2[2]
    _fails_on(ex.q2, lambda e, t, s, f: log_partition(e, t.T, s, f), CASES2[0])  # transposed
    _fails_on(ex.q2, lambda e, t, s, f: log_partition(e - e[0] * (np.arange(len(e)) == 0)[:, None],
                                                      t, s, f), CASES2[0])  # no first emission
    _fails_on(ex.q2, lambda e, t, s, f: log_partition(e, t, 0 * s, 0 * f), CASES2[0])  # no S, F
    _fails_on(ex.q2, lambda e, t, s, f: np.max(_all_scores(e, t, s, f)[0]), CASES2[0])  # max path
    report = ex.q2.check(lambda e, t, s, f: log_partition(e, t, s, f) + np.zeros(1))
    assert report.message == f"for {CASES2[0]}: expected shape (), got shape (1,)"


def test_q2_accepts_a_float32_computation():
    def in_float32(emissions, transitions, start, end):
        alpha = start + emissions[0]
        for e_t in emissions[1:]:
            x = alpha[:, None] + transitions
            alpha = x.max(0) + np.log(np.exp(x - x.max(0)).sum(0)) + e_t
        x = alpha + end
        return x.max() + np.log(np.exp(x - x.max()).sum())

    assert ex.q2.check(in_float32).passed


# ---- exercise 3: Viterbi -------------------------------------------------------------------------

CASES3 = [label for label, _ in ex.q3.cases]


def test_q3_reference_is_the_brute_force_best_path_with_a_clear_margin():
    for label, args in ex.q3.cases:
        score, paths = _all_scores(*args)
        order = np.argsort(score)
        np.testing.assert_array_equal(ex.crf_viterbi(*args), paths[order[-1]], err_msg=label)
        margin = score[order[-1]] - score[order[-2]]
        assert margin > 1e-3 * max(1.0, np.abs(args[0]).max()), label  # float32 cannot flip it


def test_q3_wrong_answers_name_the_case():
    viterbi = _solution("q3", "viterbi")
    _fails_on(ex.q3, lambda e, t, s, f: np.argmax(e, axis=1), CASES3[0],  # greedy per character
              "at index (0,)")
    _fails_on(ex.q3, lambda e, t, s, f: viterbi(e, t.T, s, f), CASES3[4],  # transposed
              "at index (5,)")
    _fails_on(ex.q3, lambda e, t, s, f: viterbi(e, t, s, f)[::-1], CASES3[0])  # not reversed
    _fails_on(ex.q3, lambda e, t, s, f: viterbi(e, t, s, 0 * f), CASES3[1])  # end scores dropped
    report = ex.q3.check(lambda e, t, s, f: viterbi(e, t, s, f)[:-1])  # lost the last tag
    assert report.message == f"for {CASES3[0]}: expected shape (6,), got shape (5,)"


# ---- exercise 4: the step ratio of lr_multiplier=k -----------------------------------------------

def test_q4_measurement_is_k_under_adam_and_k_squared_under_sgd():
    assert ex.q4.k == 30 and list(ex.q4.measured) == ["Adam", "SGD"]
    assert ex.q4.measured["Adam"] == pytest.approx(30, rel=1e-3)
    assert ex.q4.measured["SGD"] == pytest.approx(900, rel=1e-3)


def test_q4_wrong_answers():
    fails(ex.q4, (900, 900), "Adam, k = 30: your 900 is too large by about 29 relative")
    fails(ex.q4, (30, 30), "SGD, k = 30: your 30 is too small by about 0.97 relative")
    fails(ex.q4, (1, 30), "Adam, k = 30: your 1 is too small by about 0.97")  # the stored step
    fails(ex.q4, (900, 30), "Adam, k = 30: your 900 is too large")  # swapped
    for wrong in ((900, 900), (30, 30)):  # direction and a hint, not the measured ratio
        assert "count the factors of k" in ex.q4.check(wrong).message
    assert "900" not in ex.q4.check((30, 30)).message
    fails(ex.q4, 30, "expected a pair (adam_ratio, sgd_ratio) as a tuple, list or array, got 30")
    assert ex.q4.check(np.array([30.0, 900.0])).passed  # one rule: any sequence or array
    report = ex.q4.check(("k", 900))
    assert report.status == FAIL and report.message.startswith("your answer raised TypeError")
    assert ex.q4.check((30.2, 895.0)).passed  # within the lesson's 1%
    assert not ex.q4.check((30.4, 900)).passed


# ---- exercise 5: predict the CRF's lead over softmax, then read the sweep -----------------------

def test_q5_reads_the_post_table_of_the_stored_sweep():
    q = ex.SweepPrediction("Exercise 5")
    rows = q.gaps()
    sweep = crf.load_sweep()
    for row in rows:
        crf_1 = max(crf.find_run(sweep, 1e-3, row["depth"], 1.0)["f1"])
        softmax = max(crf.find_run(sweep, 1e-3, row["depth"], head="softmax")["f1"])
        assert (row["crf"], row["softmax"], row["gap"]) == (crf_1, softmax, crf_1 - softmax)
    assert [r["depth"] for r in rows] == [0, 2]
    assert q.run() == ("depth 0: CRF-1 best F1 0.834, softmax 0.585, gap +0.249\n"
                       "depth 2: CRF-1 best F1 0.934, softmax 0.928, gap +0.007")
    assert q.gaps(sweep) == rows


def test_q5_prediction_verdicts():
    q = ex.q5
    assert q.check(NOTEBOOK.prediction(q)).passed
    assert q.check((0.13, 0.03)).passed and q.check((0.45, 0.001)).passed
    tail0 = ("; the stored sweep's gap is 0.249 (CRF-1 0.834, softmax 0.585); a prediction passes "
             "within a factor of 2 or 0.03 F1 of it")
    tail2 = ("; the stored sweep's gap is 0.007 (CRF-1 0.934, softmax 0.928); a prediction passes "
             "within a factor of 2 or 0.03 F1 of it")
    fails(q, (0.05, 0.02), "depth 0: you predicted 0.05 (too small)" + tail0)  # "just a bit"
    fails(q, (0.6, 0.02), "depth 0: you predicted 0.6 (too large)" + tail0)
    fails(q, (0.25, 0.25), "depth 2: you predicted 0.25 (too large)" + tail2)  # depth ignored
    fails(q, (0.25, -0.01), "depth 2: you predicted -0.01 (softmax would win)" + tail2)
    fails(q, (0.25, 0), "depth 2: you predicted 0 (no difference)" + tail2)
    fails(q, 0.25, "expected a pair (gap at depth 0, gap at depth 2) as a tuple, list or array, "
          "got 0.25")
    assert q.check(np.array([0.2, 0.02])).passed  # one rule: any sequence or array
    assert q.check(NOTEBOOK.prediction(q, student=True)).status == UNATTEMPTED
    assert q.check(____).status == UNATTEMPTED and q.check((0.2, ____)).status == UNATTEMPTED
    report = q.check((0.2, "small"))
    assert report.status == FAIL and report.message.startswith("your answer raised TypeError")
