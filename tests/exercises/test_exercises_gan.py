"""Lesson 02's exercises: each solution passes, a blank is UNATTEMPTED, and the mistakes students
make FAIL with a message naming the input (or the item) and expected vs got.

The solutions are read from the instructor notebook (notebooks/exercises/02_one_loss_gan.ipynb)
by the shared harness (exercise_harness.py). No test trains a GAN: exercise 5 is checked on the
stored studies' runs and on small fake runs.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from exercise_harness import ExerciseNotebook, fails
from keras import ops

from lessons import gan
from lessons.exercises import FAIL, RIGHT_BUT, UNATTEMPTED, ____
from lessons.exercises import gan as ex
from lessons.exercises.kinds import precise

STUDIES = ("gan_seeds.json", "gan_seeds_avx2.json", "gan_seeds_sse41.json")
NOTEBOOK = ExerciseNotebook("02_one_loss_gan.ipynb", ex, ("q1", "q2", "q3", "q4", "q5"),
                            {"np": np, "keras": keras, "ops": ops, "gan": gan})

(test_every_exercise_has_a_cell_and_the_same_solution_as_the_notebook,
 test_solution_passes_and_student_copy_is_unattempted) = NOTEBOOK.shared_tests(NOTEBOOK.names[:4])


# ---- exercise 1: the zero term's value and where its gradient goes ----------------------------

def test_q1_expected_is_what_the_lesson_measures_and_claims():
    zero = gan.zero_term(*gan.demo_setup(batch_size=64, seed=0))
    gan.check_claims(zero)  # the lesson's bands: value 0, D's norm 0, G's norm >= 1e-3
    assert ex.q1.expected == (0.0, False, True) == ex.zero_term_facts()


def test_q1_wrong_answers_name_the_item():
    fails(ex.q1, (0.0, True, True),  # the chain rule: D(G(z)) depends on D, so D gets a gradient
          "gradient reaches D's weights: not True: think again; compare D(G(z))")
    fails(ex.q1, (0.0, False, False),  # "a loss that is always 0 has no gradient"
          "gradient reaches G's weights: not False: think again")
    fails(ex.q1, (1.0, False, True), "value of the zero term: your 1 is too large by 1 "
          "(tolerance rtol 1e-06, atol 1e-07)")
    fails(ex.q1, 0.0, "expected 3 values (value of the zero term, gradient reaches D's weights, "
          "gradient reaches G's weights) as a tuple, list or array, got 0")
    assert ex.q1.check([0, 0, 1]).passed  # numbers for the booleans are fine
    assert ex.q1.check(np.array([0.0, 0.0, 1.0])).passed  # one rule: any sequence or array


# ---- exercise 2: the single loss ---------------------------------------------------------------

CASES2 = [label for label, _ in ex.q2.cases]


def _hinge(r, f, f_ng, lam, *, signs=1.0, lam_on_d=False, d_reads=None, zero=True):
    """The single loss in NumPy, with the switches the tests' wrong answers flip."""
    d_part = (np.mean(np.maximum(0, 1 + signs * r))
              + np.mean(np.maximum(0, 1 - signs * (f_ng if d_reads is None else d_reads(f, f_ng)))))
    g_part = np.mean(f - f_ng) if zero else np.mean(f)  # no stop_gradient: the G loss itself
    return lam * d_part + g_part if lam_on_d else d_part + lam * g_part


def _expect_fail(answer, case: int):
    """FAIL on case ``case`` with the exact expected-vs-got numbers of that case."""
    label, args = ex.q2.cases[case]
    want, got = float(gan.one_step_loss(*args)), float(answer(*args))
    assert abs(want - got) > 1e-3
    fails(ex.q2, answer, f"for {label}: expected {precise(want, 1e-5)}, got {precise(got, 1e-5)}")


def test_q2_a_numpy_loss_has_the_right_value_but_no_gradient():
    report = ex.q2.check(_hinge)
    assert report.status == FAIL
    assert report.message.startswith("your loss's value is right, but it is not a tensor a "
                                     "GradientTape can follow (NumPy?): write it with keras.ops")


def _ops_loss(d_real, d_fake, d_fake_ng, lam, stop=lambda name, x: x):
    """The single loss in keras.ops; ``stop(name, x)`` may wrap a piece in stop_gradient."""
    d_loss = (ops.mean(ops.relu(1.0 + stop("real", d_real)))
              + ops.mean(ops.relu(1.0 - stop("fake_ng", d_fake_ng))))
    return stop("d_loss", d_loss) + lam * ops.mean(d_fake - stop("zero_ng", d_fake_ng))


def _stopped(where):
    return lambda *a: _ops_loss(*a, stop=lambda name, x: ops.stop_gradient(x) if name == where
                                else x)


@pytest.mark.parametrize("where, net", [
    ("zero_ng", "D"),  # trains D with lam * grad E[D(G(z))]: the zero term's D paths no longer cancel
    ("real", "D"),  # D gets no gradient from real data
    ("d_loss", "D"),  # D is never trained
    ("fake_ng", "D"),  # D gets no gradient from fake data either
])
def test_q2_a_misplaced_stop_gradient_fails_on_the_gradient(where, net):
    """The misjudged answers: each has the single loss's value on every case, and passed."""
    for _, args in ex.q2.cases:
        assert float(_stopped(where)(*args)) == pytest.approx(float(gan.one_step_loss(*args)),
                                                              rel=1e-6, abs=1e-6)
    report = ex.q2.check(_stopped(where))
    assert report.status == FAIL, report
    assert report.message.startswith(f"your loss has the right value, but the gradient it sends "
                                     f"to {net}'s weights (lam = 1)"), report
    assert "check where stop_gradient sits" in report.message


def test_q2_equivalent_forms_pass():
    def separate_means(d_real, d_fake, d_fake_ng, lam):
        hinge = ops.mean(ops.maximum(0.0, 1 + d_real)) + ops.mean(ops.maximum(1 - d_fake_ng, 0.0))
        return hinge + lam * (ops.mean(d_fake) - ops.mean(d_fake_ng))

    def through_the_lesson(d_real, d_fake, d_fake_ng, lam):  # the lesson's own pieces
        return gan.d_hinge_loss(d_real, d_fake_ng) + lam * gan.zero_loss(d_fake, d_fake_ng)

    def stop_on_the_input_to_g(d_real, d_fake, d_fake_ng, lam):  # D's input already stopped
        return _ops_loss(d_real, d_fake, d_fake_ng, lam) + 0.0 * ops.mean(d_fake)

    for loss in (_ops_loss, separate_means, through_the_lesson, stop_on_the_input_to_g):
        assert ex.q2.check(loss).passed, loss.__name__


def test_q2_gradients_come_from_a_tape_on_fixed_networks():
    want = ex.loss_gradients(gan.one_step_loss, 1.0)
    again = ex.loss_gradients(gan.one_step_loss, 1.0)
    for net in ("D", "G"):
        assert all(np.array_equal(a, b) for a, b in zip(want[net], again[net], strict=True))
        assert any(np.any(g) for g in want[net])  # both networks get a gradient
    d_only = ex.loss_gradients(lambda r, f, f_ng, lam: gan.d_hinge_loss(r, f_ng), 1.0)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(want["D"], d_only["D"], strict=True))
    assert not any(np.any(g) for g in d_only["G"])  # the D loss alone never reaches G
    assert ex.loss_gradients(_hinge, 1.0) is None


def test_q2_wrong_answers_name_the_case():
    _expect_fail(lambda *a: _hinge(*a, signs=-1.0), 0)  # real scored high: the usual convention
    _expect_fail(lambda *a: _hinge(*a, lam_on_d=True), 1)  # lam weights the D part
    _expect_fail(lambda *a: _hinge(*a, zero=False), 0)  # + lam E[D(G(z))]: no stop_gradient term
    _expect_fail(lambda *a: _hinge(*a, d_reads=lambda f, f_ng: f), 1)  # D loss on D(G(z))
    _expect_fail(lambda r, f, f_ng, lam: _hinge(r, f_ng, f, lam), 1)  # zero term's sign flipped
    _expect_fail(lambda r, f, f_ng, lam: _hinge(r, f, f_ng, 1.0), 1)  # lam ignored
    assert "different" not in CASES2[0] and "!=" in CASES2[1]


def test_q2_reference_codes_elementwise_mean_fails_on_unequal_batches():
    # bojone/gan: K.mean(d_loss + g_loss) adds the real and fake terms element by element, right
    # only when both batches have the same size
    def elementwise(r, f, f_ng, lam):
        return np.mean(np.maximum(0, 1 + r) + np.maximum(0, 1 - f_ng) + lam * (f - f_ng))

    report = ex.q2.check(elementwise)
    assert report.status == FAIL
    assert report.message.startswith(f"for {CASES2[5]}: your function raised ValueError")
    assert ex.q2.check(lambda *a: ____).status == UNATTEMPTED
    assert ex.q2.check(3).message == "expected a function, got 3"


def test_q2_cases_cover_the_edges_the_task_names():
    args = dict(ex.q2.cases)
    r, f, f_ng, lam = args[CASES2[0]]
    assert np.array_equal(f, f_ng) and lam == 1.0
    assert not np.array_equal(args[CASES2[1]][1], args[CASES2[1]][2])
    assert np.abs(np.concatenate(args[CASES2[2]][:3])).max() > 2  # outside the hinge
    assert args[CASES2[3]][0].shape == (1, 1) and args[CASES2[4]][3] == 0.0
    r, f, f_ng, _ = args[CASES2[5]]
    assert (r.shape, f.shape, r.dtype) == ((16, 1), (4, 1), np.float32)


def test_q2_solution_has_the_lessons_gradient_split():
    """The notebook's solution, differentiated, sends the gradients where the lesson's does."""
    solution = NOTEBOOK.solution_value("q2")
    r, f, f_ng, lam = (tf.constant(a) if isinstance(a, np.ndarray) else a
                       for a in ex.q2.cases[2][1])
    grads = []
    for loss in (solution, gan.one_step_loss):
        with tf.GradientTape() as tape:
            tape.watch([r, f, f_ng])
            value = loss(r, f, f_ng, lam)
        grads.append([g.numpy() for g in tape.gradient(value, [r, f, f_ng])])
    for mine, lessons in zip(*grads, strict=True):
        np.testing.assert_allclose(mine, lessons, rtol=1e-6)
    np.testing.assert_allclose(grads[0][1], np.full((8, 1), lam / 8))  # D(G(z)): lam / n


# ---- exercise 3: G's first-step ratio under each optimizer -------------------------------------

G, LAM, EPS, RHO = 1e-4, 2.0, 1e-7, 0.99
ADAM = LAM * (G + EPS / np.sqrt(1e-3)) / (LAM * G + EPS / np.sqrt(1e-3))
ADAM_TEXTBOOK = LAM * (G + EPS) / (LAM * G + EPS)
RMS3 = LAM * np.sqrt((1 - RHO) * G**2 + EPS) / np.sqrt((1 - RHO) * (LAM * G) ** 2 + EPS)
RMS2 = LAM * (np.sqrt(1 - RHO) * G + EPS) / (np.sqrt(1 - RHO) * LAM * G + EPS)
RMS3_RHO_09 = LAM * np.sqrt(0.1 * G**2 + EPS) / np.sqrt(0.1 * (LAM * G) ** 2 + EPS)


def test_q3_expected_is_the_closed_form_and_keras_3_itself():
    assert ex.q3.expected == pytest.approx((LAM, ADAM, RMS3, RMS2), rel=1e-12)
    assert [label for label, _, _ in ex.Q3_ROWS] == list(ex.q3.names)
    for optimizer, want in (("adam", ADAM), ("rmsprop", RMS3)):  # float32 Keras, one step
        settings = gan.OptimizerSettings(rho=RHO)
        steps = [gan.keras_optimizer_path(optimizer, [[g]], settings)[0, 0] for g in (LAM * G, G)]
        assert steps[0] / steps[1] == pytest.approx(want, rel=1e-4), optimizer


def test_q3_wrong_answers_name_the_optimizer():
    fails(ex.q3, (LAM, LAM, RMS3, RMS2), "Adam, Keras 3: your 2 is too large by about 0.97 "
          "relative (tolerance rtol 0.0001); divide the step")  # like SGD
    fails(ex.q3, (LAM, 1.0, RMS3, RMS2), "Adam, Keras 3: your 1 is too small by about 0.015")
    fails(ex.q3, (LAM, ADAM_TEXTBOOK, RMS3, RMS2),  # the paper's eps, not Keras's eps_t
          "Adam, Keras 3: your 1.0005 is too small by about 0.015")
    fails(ex.q3, (LAM, ADAM, RMS2, RMS2),  # Keras 2's RMSprop (eps outside) for Keras 3's
          "RMSprop, Keras 3 (eps in sqrt): your 1.00498 is too small by about 0.5")
    fails(ex.q3, (LAM, ADAM, RMS3_RHO_09, RMS2),  # Keras's default rho 0.9, not the code's 0.99
          "RMSprop, Keras 3 (eps in sqrt): your 1.97094 is too small by about 0.013")
    fails(ex.q3, (1.0, ADAM, RMS3, RMS2), "SGD: your 1 is too small by about 0.5")
    for wrong in ((LAM, LAM, RMS3, RMS2), (LAM, ADAM, RMS2, RMS2)):
        assert "1.0155" not in ex.q3.check(wrong).message  # the answer is not shown
        assert "1.997" not in ex.q3.check(wrong).message
    assert ex.q3.check(np.array([LAM, ADAM, RMS3, RMS2])).passed  # one rule: any array
    assert ex.q3.check((2, float(ADAM), RMS3 * (1 + 5e-5), RMS2)).passed  # 4 digits suffice
    assert ex.q3.check((LAM, ____, RMS3, RMS2)).status == UNATTEMPTED


# ---- exercise 4: the reference code's RMSprop(1e-4, 0.99) in Keras 3 ---------------------------

def test_q4_expected_config_is_the_reference_codes_optimizer():
    assert ex.REFERENCE_RMSPROP["rho"] == 0.99  # bojone/gan: RMSprop(1e-4, 0.99)
    assert ex.REFERENCE_RMSPROP["learning_rate"] == pytest.approx(1e-4)
    assert ex.REFERENCE_RMSPROP["momentum"] == 0.0 and ex.REFERENCE_RMSPROP["centered"] is False
    assert ex.q4.check(keras.optimizers.RMSprop(1e-4, 0.99)).passed  # positional, as in the code


def test_q4_wrong_answers():
    rmsprop = keras.optimizers.RMSprop
    fails(ex.q4, rmsprop(1e-4), "rho: expected 0.99, got 0.9")  # Keras's default rho
    fails(ex.q4, rmsprop(1e-4, momentum=0.99), "rho: expected 0.99, got 0.9")  # 0.99 as momentum
    fails(ex.q4, rmsprop(1e-4, rho=0.99, momentum=0.9), "momentum: expected 0, got 0.9")
    fails(ex.q4, rmsprop(1e-4, rho=0.99, weight_decay=0.01), "weight_decay: expected 0, got 0.01")
    # the misjudged answer: weight_decay=0.0 takes the same update as None and was rejected
    assert ex.q4.check(rmsprop(1e-4, rho=0.99, weight_decay=0.0)).passed
    fails(ex.q4, keras.optimizers.Adam(1e-4), "expected a RMSprop, got Adam")
    fails(ex.q4, rmsprop(1e-3, 0.99), "learning_rate: expected 9.9999997e-05, got 0.001")
    fails(ex.q4, rmsprop(1e-4, 0.99, centered=True), "centered: expected False, got True")


# ---- exercise 5: predict which method covers the ring first, then run -------------------------

def _run(method, modes, hq, seed=0, evals_to_end=20):
    """A fake 2,000-step run whose coverage climbs to ``modes`` in ``evals_to_end`` evaluations."""
    steps = list(range(0, 2001, 50))
    curve = np.minimum(np.arange(len(steps)) * modes // evals_to_end, modes).tolist()
    return gan.RingRun(method, 1.0, steps, curve, np.linspace(0, hq, len(steps)).tolist(),
                       seed=seed)


def _q5_with(ring):
    q = ex.RingPrediction("Exercise 5")
    q.ring = ring
    return q


STUDY_SAYS = ("the stored study says 'alternating': of its 20 seeds, alternating first on 18, "
              "single loss first on 2, the same step on 0")


@pytest.mark.parametrize("study", STUDIES)
def test_q5_verdicts_are_the_same_on_every_stored_run(study):
    """The run repeats the stored study's settings, so its spread is the studies' 30 runs."""
    stored = gan.load_seed_study(gan.results_path(study))
    assert stored.settings["steps"] == ex.q5.steps and stored.settings["eval_every"] == 50
    for seed in stored.seeds:
        q = _q5_with(stored.comparison(seed))
        assert q.check(NOTEBOOK.prediction(q)).passed, (study, seed)
        assert q.check(" Single loss").message == "you predicted 'one_step'; " + STUDY_SAYS
        assert q.check("same").message == "you predicted 'same'; " + STUDY_SAYS


def test_q5_blank_unrun_and_invalid_answers():
    assert ex.RingPrediction("Exercise 5").check("alternating").message == \
        "train first (ring = q5.run()), then check"
    assert ex.RingPrediction("Exercise 5").check(____).status == UNATTEMPTED
    q = _q5_with(gan.RingComparison({"one_step": _run("one_step", 8, 0.8),
                                     "alternating": _run("alternating", 8, 0.9)}))
    assert q.check("Alternating").passed
    fails(q, "D", "expected 'alternating', 'one_step' or 'same', got 'D'")
    fails(q, 1, "expected 'alternating', 'one_step' or 'same', got 1")
    assert q.check(NOTEBOOK.prediction(q, student=True)).status == UNATTEMPTED


def test_q5_a_run_that_breaks_the_lessons_claims_is_a_finding_not_a_mistake():
    q = _q5_with(gan.RingComparison({"one_step": _run("one_step", 8, 0.8),
                                     "alternating": _run("alternating", 5, 0.9)}))
    # the misjudged answer: the study's verdict on a run that broke a claim was a FAIL
    report = q.check("alternating")
    assert report.status == RIGHT_BUT and report.passed
    assert report.message.startswith("your prediction 'alternating' is the stored study's "
                                     "verdict; but this machine's run breaks the lesson's claim "
                                     "'alternating: modes covered at the end (of 8)' (>= 6)")
    assert report.message.endswith("A finding to discuss, not your mistake")
    report = q.check("one_step")  # a wrong prediction stays a FAIL and names the broken claim
    assert report.status == FAIL and report.message.startswith("you predicted 'one_step'")
    assert "(and this machine's run breaks the lesson's claim" in report.message


def test_q5_run_trains_as_the_stored_study_and_shows_it_in_its_format(monkeypatch):
    calls = []

    def fake_compare_ring(**kwargs):
        calls.append(kwargs)
        return gan.RingComparison({"one_step": _run("one_step", 8, 0.8, seed=3),
                                   "alternating": _run("alternating", 8, 0.9, 3, 16)})

    monkeypatch.setattr(gan, "compare_ring", fake_compare_ring)
    q = ex.RingPrediction("Exercise 5")
    ring = q.run(seed=3, progress=False)
    assert calls == [{"steps": 2000, "seed": 3, "progress": False, "eval_every": 50,
                      "snapshots": ()}] and q.ring is ring
    table = gan.format_seed_study(q.as_study())
    assert table.splitlines()[2].split() == ["3", "8", "0.80", "1000", "8", "0.90", "800"]
    assert table.endswith("alternating first on 1, same step on 0, single loss first on 0, "
                          "neither on 0")
    assert q.check("alternating").passed
