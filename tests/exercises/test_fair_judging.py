"""Issue 18's judging fixes shared by every lesson: a blank left in a student's own expression
shows the UNATTEMPTED line (not a red traceback), one shape rule for an answer of n values, FAIL
messages with enough digits, and the RIGHT, BUT status of a prediction."""

import numpy as np
import pytest

from lessons.exercises import RIGHT_BUT, UNATTEMPTED, Exercise, ____
from lessons.exercises.core import BLANK_LEFT, RightBut, Unattempted
from lessons.exercises.kinds import as_values, compare, precise


def test_a_blank_left_in_an_expression_shows_the_unattempted_line_in_ipython(capsys):
    """IPython calls ``_render_traceback_`` and prints its lines instead of a traceback."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    capsys.readouterr()
    result = shell.run_cell("from lessons.exercises import ____\nanswer = (1 - ____) * 2")
    shown = capsys.readouterr()
    assert isinstance(result.error_in_exec, Unattempted)
    text = (shown.out + shown.err).strip()
    assert text == f"UNATTEMPTED: {BLANK_LEFT}", text  # one line, the words a check uses
    assert "Traceback" not in text and "File" not in text
    report = Exercise("Exercise 1").check(____)
    assert report.status == UNATTEMPTED and report.message == BLANK_LEFT


@pytest.mark.parametrize("answer", [(1.0, 2.0), [1.0, 2.0], np.array([1.0, 2.0]),
                                    np.array([1.0, 2.0], np.float32)])
def test_one_rule_for_n_values_any_sequence_or_array(answer):
    import tensorflow as tf

    assert as_values(answer, 2) == pytest.approx((1.0, 2.0))
    assert as_values(tf.constant(np.asarray(answer)), 2) == pytest.approx((1.0, 2.0))
    assert compare((1.0, 2.0), answer, 1e-6, 0.0) is None
    for wrong in (1.0, "12", np.array(1.0), np.array([1.0, 2.0, 3.0]), {"a": 1, "b": 2}):
        assert as_values(wrong, 2) is None


def test_the_misjudged_arrays_now_pass_where_tuples_do():
    """02 q3, 03 q4, 03 q5, 05 q5 rejected an array that 01 q1 and 05 q1 accepted."""
    from lessons.exercises import adax, crf, fp16_xla, gan

    assert gan.q3.check(np.array(gan.q3.expected)).passed
    assert crf.q4.check(np.array([30.0, 900.0])).passed
    assert crf.q5.check(np.array([0.2, 0.02])).passed
    assert adax.q1.check(np.array(adax.q1.expected)).passed
    assert fp16_xla.q1.check(np.array(fp16_xla.q1.expected)).passed
    q5 = fp16_xla.AdamScalePrediction("Exercise 5")
    steps = q5.run()
    assert q5.check(np.array([steps["unscaled"], steps["scaled"]])).passed


def test_a_fail_shows_enough_digits_to_see_the_difference():
    """The misjudged message: "expected -100, got -100" under rtol 1e-9."""
    message = compare(-100.0, -100.0000003, 1e-9, 0.0)
    assert message == ("your -100.0000003 is too large by about 3e-09 relative (tolerance rtol "
                       "1e-09)")
    assert precise(0.1 + 0.2, 0.0) == "0.30000000000000004"  # exact: every digit
    assert precise(0.123456789, 1e-4) == "0.123457" and precise(126.0, 1e-9) == "126"
    shown = compare(np.array([1.0, -100.0]), np.array([1.0, -100.0000003]), 1e-9, 0.0,
                    reveal=True)
    assert shown == ("expected -100, got -100.0000003 at index (1,) (relative gap 3e-09; "
                     "tolerance rtol 1e-09, atol 0)")


def test_a_compute_fail_gives_direction_not_the_answer():
    assert compare(2.5, 3.0, 1e-6, 0.0) == ("your 3 is too large by about 0.2 relative "
                                            "(tolerance rtol 1e-06)")
    assert compare(2.5, -2.5, 1e-6, 0.0) == "your -2.5 has the wrong sign"
    assert compare(128, 126, 0.0, 0.0) == ("your 126 is too small by about 0.016 relative (the "
                                           "exact value is expected)")
    assert compare(True, False, 0.0, 0.0) == "not False: think again"
    for message in (compare(2.5, 3.0, 1e-6, 0.0), compare(128, 126, 0.0, 0.0)):
        assert "2.5" not in message and "128" not in message


def test_right_but_is_its_own_status():
    class Fake(Exercise):
        def _verdict(self, answer):
            return RightBut("your prediction is the lesson's; this run left the band")

    report = Fake("Exercise 6").check(0.85)
    assert report.status == RIGHT_BUT == "RIGHT, BUT" and report.passed
    assert repr(report) == "Exercise 6 RIGHT, BUT: your prediction is the lesson's; this run " \
                           "left the band"
    assert "#9a5b00" in report._repr_html_()
