"""Lesson 01: the claim checks, the course seed, the long-run demo and every "Try it yourself".

Bands of the digits claims were measured as recorded in ``DigitsComparison.claims``'s docstring.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import lessons
from lessons import adax
from lessons._core.claims import ClaimFailed
from lessons._core.data import load_digits

QUICK = {"epochs": 1, "batch_size": 128, "progress": False}


# ---------------------------------------------------------------------------------------------
# Claims: each check raises on a violating fake result and passes on a good one


def _scores(rule, lr, train_loss=0.22, val_accuracy=0.955, lr_at_100=0.016, lr_last=0.036,
            traced_rms=0.05):
    return adax.RunScores(rule, lr, train_loss, train_loss, val_accuracy, lr_at_100, lr_last,
                          675, traced_rms)


def _good_comparison(**changes):
    runs = {
        "adam": _scores("adam", 1e-3),
        "adax": _scores("adax", 1e-3, train_loss=0.228, lr_at_100=0.0154, lr_last=0.030),
        "slow": _scores("adafactor", 1e-3, train_loss=1.42, val_accuracy=0.73, lr_at_100=0.013,
                        lr_last=0.0196, traced_rms=1e-4),
        "fast": _scores("adafactor", 1e-2, train_loss=0.10, val_accuracy=0.967, lr_at_100=0.215,
                        lr_last=1.55, traced_rms=3e-4),
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
    ({"adam": {"lr_last": 0.018}}, "Adam (lr 1e-3): lr/sqrt"),  # no rise
    ({"adax": {"lr_last": 0.036}}, "ends below Adam's"),  # AdaX as high as Adam
    ({"adax": {"train_loss": 0.40}}, "final training losses"),
    ({"adax": {"val_accuracy": 0.90}}, "held-out accuracies"),
    ({"slow": {"train_loss": 0.3}}, "trains slowly"),
    ({"fast": {"val_accuracy": 0.081}}, "lr 1e-2 trains"),  # e.g. a NaN kernel
    ({"fast": {"lr_last": 0.3}}, "lr 1e-2: lr/sqrt"),
    ({"fast": {"traced_rms": 0.05}}, "RMS below 1e-3"),
])
def test_each_digits_claim_fails_on_a_violating_result(changes, statement):
    with pytest.raises(ClaimFailed, match=statement.replace("(", r"\(").replace(")", r"\)")):
        adax.check_claims(_good_comparison(**changes))


def test_digits_comparison_needs_the_four_runs():
    partial = adax.DigitsComparison(_good_comparison().runs[:2])
    with pytest.raises(ValueError, match="rule, learning_rate"):
        partial.claims()
    assert "AdaX / Adam lr/sqrt(v) at the last step: 0.833" in str(partial)
    with pytest.raises(ValueError, match="result"):
        adax.check_claims({"adam": 1})
    with pytest.raises(ValueError, match="runs"):
        adax.summarize_digits([])


def test_summarize_digits_reads_the_runs():
    trace = {"steps": np.arange(1, 151), "v_hat": np.ones(150),
             "effective_lr": np.linspace(1.0, 2.5, 150), "rms_last": 0.5}
    run = adax.Run("adax", 1e-3, np.array([0.9, 0.4]), 0.35, 0.91, trace)
    (scores,) = adax.summarize_digits([run]).runs
    assert (scores.train_loss, scores.val_loss, scores.val_accuracy) == (0.4, 0.35, 0.91)
    assert scores.lr_at_100 == trace["effective_lr"][99] and scores.lr_last == 2.5
    assert scores.rise == pytest.approx(2.5 / trace["effective_lr"][99])
    assert (scores.steps, scores.traced_rms) == (150, 0.5)
    short = dict(trace, effective_lr=np.ones(50), steps=np.arange(1, 51))
    assert math.isnan(adax.summarize_digits([adax.Run("adam", 1e-3, run.loss, 0.3, 0.9, short)])
                      .runs[0].lr_at_100)


# ---------------------------------------------------------------------------------------------
# One more gradient at late steps (the "why AdaX stores v-hat" demo)


def test_one_more_gradient_shows_moving_and_frozen_v_hat(capsys):
    demo = adax.one_more_gradient()
    np.testing.assert_array_equal(demo.steps, [100, 10_000, 100_000, 2_000_000])
    b2 = 1e-4
    for t, exact in zip(demo.steps, demo.v_hat_exact, strict=True):
        # the literal float64 rule: v_{t-1} = v_hat ((1 + b2)^(t-1) - 1), one step, divide back
        v = 0.25 * math.expm1((t - 1) * math.log1p(b2))
        v = (1 + b2) * v + b2 * 9.0
        assert exact == pytest.approx(v / math.expm1(t * math.log1p(b2)), rel=1e-12)
    # the notebook: a third at t = 100 (0.25 -> 0.337), 0.2% at 1e4, 1.6e-7 at 1e5, 0 at 2e6
    change = demo.v_hat_exact / 0.25 - 1
    assert demo.v_hat_exact[0] == pytest.approx(0.337, abs=5e-4) and 0.3 < change[0] < 0.37
    assert change[1] == pytest.approx(2.0e-3, abs=1e-4)
    assert change[2] == pytest.approx(1.6e-7, abs=0.05e-7)
    assert demo.v_hat_exact[-1] == 0.25 and demo.weight[-1] < 1e-90  # frozen at 2,000,000
    # ... and the update there is 1e-3 * 0.39 / (0.5 + 1e-6): momentum SGD, frozen scale
    theta, m, _ = adax.step_from_state(2_000_000, [1.0], [3.0], [0.1], [0.25])
    assert m[0] == pytest.approx(0.39, rel=1e-6)
    assert theta[0] == pytest.approx(1.0 - 1e-3 * 0.39 / (0.5 + 1e-6), rel=1e-7)
    np.testing.assert_allclose(demo.v_hat_adax, demo.v_hat_exact, rtol=1e-6)
    assert np.all(np.isfinite(demo.v_hat_literal_float32[:3]))
    assert np.isnan(demo.v_hat_literal_float32[3])  # inf / inf in float32
    adax.check_claims(demo)
    assert capsys.readouterr().out.startswith("holds: AdaX's float32 v_hat equals")
    assert "2,000,000" in str(demo) and "nan" in str(demo)


def test_one_more_gradient_claims_fail_on_violations():
    demo = adax.one_more_gradient(steps=(100, 2_000_000))
    off = adax.OneMoreGradient(**{**demo.__dict__, "v_hat_adax": demo.v_hat_exact * (1 + 1e-5)})
    with pytest.raises(ClaimFailed, match="equals the float64 rule"):
        adax.check_claims(off)
    finite = adax.OneMoreGradient(**{**demo.__dict__, "v_hat_literal_float32": demo.v_hat_exact})
    with pytest.raises(ClaimFailed, match="literal float32 rule"):
        adax.check_claims(finite)


def test_literal_float32_rule_is_wrong_from_the_overflow_step_on(capsys):
    demo = adax.one_more_gradient(steps=(887_125, 887_126))  # 0 at 887,126: finite / inf
    assert np.isfinite(demo.v_hat_literal_float32[0]) and demo.v_hat_literal_float32[1] == 0.0
    adax.check_claims(demo)
    assert "goes wrong" in capsys.readouterr().out


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"gradient": 0.5, "v_hat": 0.25}, "gradient"),  # g^2 = v_hat: nothing could move
    ({"v_hat": 0.0}, "v_hat"), ({"steps": [0]}, "t must"), ({"gradient": math.inf}, "gradient"),
])
def test_one_more_gradient_rejects_a_demo_that_cannot_show_anything(kwargs, name):
    with pytest.raises(ValueError, match=name):
        adax.one_more_gradient(**kwargs)


# ---------------------------------------------------------------------------------------------
# Seeds


def test_train_digits_follows_the_course_seed_and_returns_curves():
    class Keep(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            self.trained = self.model

    keep, two = Keep(), {"epochs": 2, "batch_size": 128, "progress": False}
    try:
        lessons.setup(7)
        run7 = adax.train_digits("adax", **two)
        split7 = adax.digits_split()[0][1]
        lessons.setup(0)
        run0 = adax.train_digits("adax", callbacks=[keep], **two)
        again7 = adax.train_digits("adax", seed=7, **two)
    finally:
        lessons.setup(0)
    # two course seeds differ; an explicit seed overrides the course seed (and re-runs agree)
    assert not np.allclose(run0.loss, run7.loss, rtol=1e-3)
    assert not np.array_equal(adax.digits_split()[0][1], split7)
    np.testing.assert_allclose(again7.loss, run7.loss, rtol=1e-6)
    np.testing.assert_allclose(again7.trace["v_hat"], run7.trace["v_hat"], rtol=1e-6)
    np.testing.assert_array_equal(adax.digits_split(seed=7)[0][1], split7)
    w0 = adax.digits_mlp().get_layer("hidden").kernel.numpy()
    np.testing.assert_array_equal(adax.digits_mlp(seed=0).get_layer("hidden").kernel.numpy(), w0)
    assert not np.array_equal(adax.digits_mlp(seed=7).get_layer("hidden").kernel.numpy(), w0)
    # the run: loss per epoch, held-out scores as Keras's evaluate gives them, a trace per step
    assert run0.loss.shape == (2,) and run0.loss[1] < run0.loss[0]
    assert 0.0 < run0.val_accuracy <= 1.0 and 0.0 < run0.val_loss < run0.loss[0]
    _, (x_val, y_val) = adax.digits_split()
    want = keep.trained.evaluate(x_val, y_val, batch_size=512, verbose=0, return_dict=True)
    assert run0.val_loss == pytest.approx(want["loss"], rel=1e-5)
    assert run0.val_accuracy == pytest.approx(want["accuracy"], abs=1e-6)
    np.testing.assert_array_equal(run0.trace["steps"], np.arange(1, 2 * math.ceil(1438 / 128) + 1))
    assert np.all(np.isfinite(run0.trace["effective_lr"])) and np.all(run0.trace["v_hat"] > 0)


# ---------------------------------------------------------------------------------------------
# Keras's Adafactor and the factored NaN (why make_optimizer raises epsilon_1)


def _one_adafactor_step(optimizer):
    var = keras.Variable(np.ones((3, 4), np.float32))
    g = np.ones((3, 4), np.float32)
    g[0, :] = 0.0  # a pixel that is 0 in the whole batch
    g[:, 0] = 0.0  # a hidden unit inactive on the whole batch
    optimizer.apply_gradients([(g, var)])
    return var.numpy()


def test_keras_adafactor_default_turns_a_kernel_nan_and_ours_does_not():
    assert np.all(np.isnan(_one_adafactor_step(keras.optimizers.Adafactor(1e-2))))
    ours = _one_adafactor_step(adax.make_optimizer("adafactor", 1e-2))
    assert np.all(np.isfinite(ours))
    np.testing.assert_array_equal(ours[0], 1.0)  # no gradient, no step
    assert np.all(ours[1:, 1:] < 1.0)


def test_keras_adafactor_default_breaks_digits_with_course_seed_1():
    (x, y), _ = adax.digits_split(seed=1)
    kernels = []
    for optimizer in (keras.optimizers.Adafactor(1e-2), adax.make_optimizer("adafactor", 1e-2)):
        model = adax.digits_mlp(seed=1)
        with tf.GradientTape() as tape:  # one step on the first 32 training images
            loss = adax.LOSS(y[:32], model(x[:32], training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        kernels.append(model.get_layer("hidden").kernel.numpy())
    assert np.all(np.isnan(kernels[0]))  # Keras's epsilon_1 = 1e-30: the whole kernel
    assert np.all(np.isfinite(kernels[1]))  # make_optimizer's 1e-15


# ---------------------------------------------------------------------------------------------
# The trace: a weight that gets no gradient is refused


def test_trace_of_pixel_0_is_refused_with_a_clear_error():
    # the old Try it 3: kernel[0, 5] is fed by pixel 0, which is 0 in all 1,797 images
    with pytest.raises(ValueError, match="pixel 0, is 0 in every training image"):
        adax.train_digits("adax", trace=adax.SecondMomentTrace("hidden", "kernel", 5), **QUICK)
    with pytest.raises(ValueError, match="pixel 32"):
        adax.train_digits("adax", trace=adax.SecondMomentTrace("hidden", "kernel", (32, 0)),
                          **QUICK)


@pytest.mark.parametrize(("trace", "name"), [
    (lambda: adax.SecondMomentTrace("hidden", "kernel", (64, 0)), "index must fit"),
    (lambda: adax.SecondMomentTrace("logits", "bias", 10), "index must be < 10"),
    (lambda: adax.SecondMomentTrace("output", "bias", 0), "layer must be one of"),
    (lambda: adax.SecondMomentTrace("logits", "weights", 0), "attribute"),
    (lambda: adax.SecondMomentTrace("logits", "bias", -1), "index"),
    (lambda: adax.SecondMomentTrace("logits", "bias", 1.5), "index"),
])
def test_trace_rejects_what_does_not_exist(trace, name):
    with pytest.raises(ValueError, match=name):
        adax.train_digits("adax", trace=trace(), **QUICK)


# ---------------------------------------------------------------------------------------------
# Try it yourself, each at a small size


def test_try_it_1_departure_is_not_freezing():
    # notebook: beta_2 = 1e-2, departure 128, frozen from 926, 50-step windows, 1,125 steps
    # (measured there: v-hat moves 8% after the departure, 4e-5 after the freeze step);
    # here beta_2 = 0.05: 253 steps
    assert (adax.adax_departure_step(1e-2), adax.adax_freeze_step(1e-2)) == (128, 926)
    b2 = 0.05
    depart, freeze = adax.adax_departure_step(b2), adax.adax_freeze_step(b2)
    assert (depart, freeze) == (27, 189)
    run = adax.train_digits("adax", param=b2, epochs=11, batch_size=64, progress=False)
    after_departure = adax.vhat_change(run.trace, depart, depart + 50)
    after_freeze = adax.vhat_change(run.trace, freeze, freeze + 50)
    assert after_departure > 0.02  # v-hat still moves well after the departure step
    assert after_freeze < 1e-3 and after_freeze < after_departure / 50


def test_vhat_change_reads_the_trace():
    trace = {"steps": np.arange(1, 6), "v_hat": np.array([1.0, 2.0, 4.0, 3.0, 3.0])}
    assert adax.vhat_change(trace, 1, 3) == 3.0 and adax.vhat_change(trace, 3, 4) == 0.25
    with pytest.raises(ValueError, match="start < stop"):
        adax.vhat_change(trace, 4, 9)


def test_try_it_2_longer_training_prints_the_gap():
    runs = adax.compare_on_digits([("adam", 1e-3), ("adax", 1e-3)], epochs=1, batch_size=128,
                                  progress=False)
    text = str(adax.summarize_digits(runs))
    ratio = runs[1].trace["effective_lr"][-1] / runs[0].trace["effective_lr"][-1]
    assert f"AdaX / Adam lr/sqrt(v) at the last step: {ratio:.3f}" in text
    assert 0.3 < ratio < 1.5


def test_try_it_3_traces_a_hidden_weight_that_learns():
    seen = []

    class Count(keras.callbacks.Callback):  # train_digits passes extra callbacks to fit
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    trace = adax.SecondMomentTrace("hidden", "kernel", (28, 5))
    run = adax.train_digits("adax", trace=trace, callbacks=[Count()], **QUICK)
    assert len(seen) == len(run.trace["steps"]) == math.ceil(1438 / 128)
    assert run.trace["v_hat"][-1] > 0 and np.isfinite(run.trace["effective_lr"][-1])
    assert 0.0 < run.trace["rms_last"] < 1.0
    model = adax.digits_mlp()
    assert trace.flat_index(model) == 28 * 32 + 5
    x, _ = load_digits()  # pixel 28 (row 3, column 4) is non-zero in most digits ...
    assert np.mean(x[:, 28] > 0) > 0.8 and divmod(28, 8) == (3, 4)
    assert np.flatnonzero(~np.any(x > 0, axis=0)).tolist() == [0, 32, 39]  # ... these never
    adax.plot_runs([run])


def test_try_it_4_epsilon_matters_below_its_own_size():
    effect = adax.epsilon_effect(1e-3)
    g = effect["gradient"]
    np.testing.assert_allclose(effect["adax"], g / (g + 1e-3), rtol=1e-5)
    assert effect["adax"][list(g).index(1e-3)] == pytest.approx(0.5, rel=1e-5)
    assert effect["inside_root"][list(g).index(1e-3)] == pytest.approx(0.0316, abs=1e-4)
    with pytest.raises(ValueError, match="gradient_sizes"):
        adax.epsilon_effect(1e-3, [0.0])
    with pytest.raises(ValueError, match="epsilon"):
        adax.epsilon_effect(-1.0)
