"""Lesson 01: digits training, the second-moment trace, the course seed, Keras's Adafactor NaN and
the "Try it yourself" runs that train."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import lessons
from lessons import adax
from lessons._core.data import load_digits

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
QUICK = {"epochs": 1, "batch_size": 128, "progress": False}


@pytest.mark.parametrize("rule", adax.RULES)
def test_trace_matches_numpy_on_recorded_gradients(rule):
    model = adax.digits_mlp(hidden=8, seed=2)
    model.compile(optimizer=adax.make_optimizer(rule, 1e-2), loss=LOSS)
    (x, y), _ = adax.digits_split()
    trace = adax.SecondMomentTrace("logits", "bias", 3)
    trace.set_model(model)
    bias = model.get_layer("logits").bias
    recorded = []
    for i in range(25):
        xb, yb = x[32 * i: 32 * i + 32], y[32 * i: 32 * i + 32]
        with tf.GradientTape() as tape:
            loss = LOSS(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        index = next(i for i, v in enumerate(model.trainable_variables) if v is bias)
        recorded.append(grads[index].numpy()[3])
        trace.on_train_batch_end(i)
    out = trace.result()
    want = adax.vhat_moving_average(np.asarray(recorded, np.float64), rule)
    np.testing.assert_array_equal(out["steps"], np.arange(1, 26))
    np.testing.assert_allclose(out["v_hat"], want, rtol=2e-5)
    np.testing.assert_allclose(out["lr_over_sqrt_v_hat"], 1e-2 / np.sqrt(want), rtol=2e-5)


def test_second_moment_of_rejects_other_optimizers():
    var = keras.Variable(np.zeros(2, np.float32))
    opt = keras.optimizers.SGD()
    opt.build([var])
    with pytest.raises(ValueError, match="optimizer"):
        adax.second_moment_of(opt, var)


def test_digits_split_and_model():
    (x, y), (xv, yv) = adax.digits_split()
    assert x.shape == (1438, 64) and xv.shape == (359, 64) and set(np.unique(yv)) == set(range(10))
    from lessons._core.data import load_digits

    x_all, y_all = load_digits()
    np.testing.assert_array_equal(np.bincount(np.r_[y, yv]), np.bincount(y_all))  # a partition
    np.testing.assert_allclose(np.r_[x, xv].sum(), x_all.sum(), rtol=1e-6)
    np.testing.assert_array_equal(adax.digits_split()[0][1], y)  # deterministic
    assert not np.array_equal(adax.digits_split(seed=1)[0][1], y)
    assert adax.digits_mlp(hidden=5).count_params() == 64 * 5 + 5 + 5 * 10 + 10


@pytest.mark.parametrize(("call", "name"), [
    (lambda: adax.make_optimizer("sgd"), "rule"),
    (lambda: adax.make_optimizer("adam", 0.0), "learning_rate"),
    (lambda: adax.digits_mlp(hidden=0), "hidden"),
    (lambda: adax.digits_split(val_fraction=1.0), "val_fraction"),
    (lambda: adax.train_digits("adax", epochs=0), "epochs"),
    (lambda: adax.step_from_state(0, [1.0], [1.0], [0.0], [0.0]), "step"),
])
def test_training_helpers_reject_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_make_optimizer_types():
    assert isinstance(adax.make_optimizer("adam"), keras.optimizers.Adam)
    assert isinstance(adax.make_optimizer("adax"), adax.AdaX)
    assert isinstance(adax.make_optimizer("adafactor"), keras.optimizers.Adafactor)


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
    assert np.all(np.isfinite(run0.trace["lr_over_sqrt_v_hat"])) and np.all(run0.trace["v_hat"] > 0)


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


def test_try_it_3_traces_a_hidden_weight_that_learns():
    seen = []

    class Count(keras.callbacks.Callback):  # train_digits passes extra callbacks to fit
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    trace = adax.SecondMomentTrace("hidden", "kernel", (28, 5))
    run = adax.train_digits("adax", trace=trace, callbacks=[Count()], **QUICK)
    assert len(seen) == len(run.trace["steps"]) == math.ceil(1438 / 128)
    assert run.trace["v_hat"][-1] > 0 and np.isfinite(run.trace["lr_over_sqrt_v_hat"][-1])
    assert 0.0 < run.trace["rms_last"] < 1.0
    model = adax.digits_mlp()
    assert trace.flat_index(model) == 28 * 32 + 5
    x, _ = load_digits()  # pixel 28 (row 3, column 4) is non-zero in most digits ...
    assert np.mean(x[:, 28] > 0) > 0.8 and divmod(28, 8) == (3, 4)
    assert np.flatnonzero(~np.any(x > 0, axis=0)).tolist() == [0, 32, 39]  # ... these never
    adax.plot_runs([run])


@pytest.mark.parametrize("rule", ["adam", "adax"])
def test_vhat_by_optimizer_is_the_moving_average_with_beta2_hat(rule):
    """The notebook's from-scratch cells: Keras's Adam and our AdaX hold the float64 moving
    average v_hat_t = beta2_hat_t v_hat_{t-1} + (1 - beta2_hat_t) g_t^2, to float32 rounding."""
    g = np.array([[0.5, 1e-3], [-1.0, 2e-3], [2.0, 0.0], [0.1, -5e-4], [-3.0, 1e-3], [1.5, 0.0]])
    got = adax.vhat_by_optimizer(rule, g)
    t = np.arange(1, len(g) + 1)
    beta2_hat = adax.BETA2_HAT[rule](t)
    want = np.zeros_like(g)
    for i in range(len(g)):  # an independent loop of the notebook's recursion
        previous = want[i - 1] if i else 0.0
        want[i] = beta2_hat[i] * previous + (1.0 - beta2_hat[i]) * g[i] ** 2
    assert got.shape == g.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=2e-6)
    np.testing.assert_allclose(got[0], g[0] ** 2, rtol=1e-6)  # beta2_hat_1 = 0


def test_vhat_by_optimizer_takes_beta_2_and_rejects_bad_input():
    g = np.array([1.0, 3.0, -2.0])
    wide = adax.vhat_by_optimizer("adax", g, param=0.5)
    np.testing.assert_allclose(wide, adax.vhat_direct(g, "adax", 0.5), rtol=1e-6)
    with pytest.raises(ValueError, match="rule"):
        adax.vhat_by_optimizer("adafactor", g)
    with pytest.raises(ValueError, match="grads"):
        adax.vhat_by_optimizer("adam", [])
    with pytest.raises(ValueError, match="grads"):
        adax.vhat_by_optimizer("adam", [1.0, np.nan])
    with pytest.raises(ValueError, match="beta_2"):
        adax.vhat_by_optimizer("adam", g, param=1.0)


def test_tqdm_disable_turns_the_training_bar_off(monkeypatch):
    """tqdm.notebook ignores TQDM_DISABLE, so train_digits honours it (stored notebooks)."""
    from lessons.adax.experiments import _bars_wanted

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert _bars_wanted(True) and not _bars_wanted(False)
    for value, wanted in (("1", False), ("true", False), ("0", True), ("", True)):
        monkeypatch.setenv("TQDM_DISABLE", value)
        assert _bars_wanted(True) is wanted, value
