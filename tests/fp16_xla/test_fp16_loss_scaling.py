"""Lesson 05, loss scaling: the loss-scaling step against a closed-form gradient, the down-scaled
MLP's gradients, static and dynamic scales, the course seed, Try it 1, and Adam's (near)
invariance to a constant scale against Keras's own Adam."""

import math

import numpy as np
import pytest

from lessons import fp16_xla as fx
from lessons.fp16_xla import loss_scaling


@pytest.fixture(scope="module")
def sweep():
    return fx.static_scale_sweep((1.0, 1e2, 1e3, 1e4, 1e6, 1e7, 1e8), seed=0)


@pytest.fixture(scope="module")
def mags():
    return fx.gradient_magnitudes(seed=0)


# ---------------------------------------------------------------------------- the step shown


def _softmax_regression(keras, weights, bias):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(4, name="logits")(inputs))
    model.set_weights([weights.astype(np.float32), bias.astype(np.float32)])
    return model


def test_scaled_gradients_is_the_closed_form_gradient_and_a_power_of_two_cancels():
    import keras

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 3)), rng.integers(0, 4, 16)
    w, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    model = _softmax_regression(keras, w, b)
    grads = fx.scaled_gradients(model, x.astype(np.float32), y, 1.0)
    # cross-entropy of softmax(x W + b): dL/dW = x^T (p - onehot) / n, dL/db = mean(p - onehot)
    logits = x @ w.astype(np.float32).astype(np.float64) + b.astype(np.float32)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    err = (p - np.eye(4)[y]) / len(y)
    np.testing.assert_allclose(grads["logits/kernel"], x.astype(np.float32).T @ err, rtol=1e-4,
                               atol=1e-7)
    np.testing.assert_allclose(grads["logits/bias"], err.sum(0), rtol=1e-4, atol=1e-7)
    # in float32, a power-of-two scale shifts exponents only: dividing it out gives back the same
    scaled = fx.scaled_gradients(model, x.astype(np.float32), y, 2.0**20)
    for k, g in grads.items():
        np.testing.assert_array_equal(scaled[k], g)
        assert g.dtype == np.float64


def test_the_cached_reference_gradient_is_read_only():
    p = loss_scaling._problem(3, 16, 0.1, 32, 0)
    g = next(iter(p.reference.values()))
    with pytest.raises(ValueError, match="read-only"):
        g[...] = 0.0


# ---------------------------------------------------------------------------- the MLP


def test_down_scaled_mlp_has_gradients_below_1e_8(mags):
    assert mags["share_below_1e-8"] > 0.5
    # the share that flushes equals a brute-force cast of the FP32 gradient to FP16
    g = 10.0 ** mags["log10_abs"]
    assert mags["share_flushing_fp16"] == pytest.approx(np.mean(fx.cast(g, "float16") == 0), abs=1e-6)


def test_backward_signal_and_activations_shrink_per_layer(mags):
    # a bias's gradient is the backward signal: recompute the per-layer factor from the medians
    bias = [mags["median_by_variable"][f"hidden_{i}/bias"] for i in range(8)]
    ratios = np.array(bias[:-1]) / np.array(bias[1:])
    assert mags["shrink_per_layer"] == pytest.approx(np.exp(np.mean(np.log(ratios))))
    assert np.all(ratios < 0.5)  # every layer shrinks it, not just on average
    # kernels: activation x signal, the two shrink in opposite directions, so all are tiny
    kernels = [mags["median_by_variable"][f"hidden_{i}/kernel"] for i in range(8)]
    assert max(kernels) < 1e-8 and max(kernels) / min(kernels) < 10


def test_last_hidden_activation_underflows_in_the_fp16_forward_pass(mags):
    import keras

    p = loss_scaling._problem(8, 64, 0.1, 256, 0)
    probe = keras.Model(p.fp16.inputs, p.fp16.get_layer("hidden_7").output)
    out = np.asarray(probe(p.x))
    assert out.dtype == np.float16 and np.mean(out == 0) == mags["last_hidden_zero_share_fp16"]
    assert mags["last_hidden_zero_share_fp16"] > 0.95 and mags["last_hidden_median"] < 1e-8


def test_zero_share_falls_as_the_static_scale_grows(sweep, mags):
    zeros = [r["zero_share"] for r in sweep]
    assert all(a > b for a, b in zip(zeros[:4], zeros[1:4], strict=False))
    assert zeros[0] > 0.9 and zeros[3] < 0.1
    # at scale 1 the FP16 computation loses about what rounding the FP32 gradient would
    assert zeros[0] == pytest.approx(mags["share_flushing_fp16"], abs=0.02)


def test_large_static_scale_overflows_fp16(sweep):
    by_scale = {r["scale"]: r for r in sweep}
    assert by_scale[1e4]["nonfinite_share"] == 0.0
    assert by_scale[1e8]["nonfinite_share"] > 0.5


def test_zeros_left_at_large_scale_are_the_output_kernel(sweep):
    # its input, the last hidden activation (< 1e-8), already flushed in the FP16 forward pass
    by_var = {r["scale"]: r for r in sweep}[1e6]["zero_share_by_variable"]
    assert by_var["logits/kernel"] > 0.99
    assert max(v for k, v in by_var.items() if k != "logits/kernel") < 0.01
    zeros = fx.zeros_by_variable(sweep, 1e6)
    assert zeros == {"scale": 1e6, "logits/kernel": by_var["logits/kernel"],
                     "largest elsewhere": max(v for k, v in by_var.items() if k != "logits/kernel")}
    with pytest.raises(ValueError, match="scale"):
        fx.zeros_by_variable(sweep, 1e5)


def test_dynamic_loss_scale_halves_on_overflow_then_holds():
    # Try it 2 at a smaller size (2**36 and 14 steps instead of 2**40 and 50): count the skips
    run = fx.dynamic_loss_scale(steps=14, initial_scale=2.0**36)
    scales, over = run["scales"], run["overflowed"]
    assert over[0]  # brute force agrees: 2**36 overflows the initial weights' gradient
    assert fx.static_scale_sweep((2.0**36,))[0]["nonfinite_share"] > 0
    for i in range(len(scales) - 1):  # Keras's rule: halve after an overflow, else keep
        assert scales[i + 1] == (scales[i] / 2 if over[i] else scales[i])
    assert run["skipped"] == sum(over) == round(math.log2(2.0**36 / run["final_scale"]))
    assert 2.0**23 <= run["final_scale"] <= 2.0**26 and not any(over[-2:])  # settled
    assert run["final_scale"] == scales[-1] / (2 if over[-1] else 1)
    # the zero share reported is the static sweep's at the final scale
    assert run["zero_share"] == fx.static_scale_sweep((run["final_scale"],))[0]["zero_share"]
    default = fx.dynamic_loss_scale(steps=3)
    assert default["scales"] == [2.0**15] * 3 and default["skipped"] == 0
    # the notebook's pair: Keras's default start, then 2**30 (same runs as one at a time)
    pair = fx.dynamic_loss_scale_runs(steps=2)
    assert [r["scales"][0] for r in pair] == [2.0**15, 2.0**30]
    assert pair[0] == fx.dynamic_loss_scale(steps=2)


def test_scaling_table_lists_every_scale_and_run(sweep):
    runs = [{"scales": [2.0**15], "final_scale": 2.0**15, "skipped": 0, "zero_share": 0.02}]
    lines = fx.scaling_table(sweep, runs).splitlines()
    assert len(lines) == 1 + len(sweep) + 1
    assert [float(line.split()[0]) for line in lines[1:-1]] == [r["scale"] for r in sweep]
    assert lines[-1] == "dynamic from 3.28e+04: settled at 3.28e+04 after skipping 0 steps, zero share 2.0%"


def test_zero_share_figure_draws_the_sweep_and_the_dynamic_runs(sweep):
    runs = [{"scales": [2.0**15], "final_scale": 2.0**15, "skipped": 0, "zero_share": 0.02}]
    fig = fx.plot_zero_share(sweep, runs)
    zeros, nonfinite, star = fig.axes[0].get_lines()
    np.testing.assert_array_equal(zeros.get_xdata(), [r["scale"] for r in sweep])
    np.testing.assert_array_equal(zeros.get_ydata(), [r["zero_share"] for r in sweep])
    np.testing.assert_array_equal(nonfinite.get_ydata(), [r["nonfinite_share"] for r in sweep])
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (2.0**15, 0.02)
    assert star.get_label() == "dynamic, started at 2^15"


def test_gradient_histogram_counts_every_entry_and_marks_fp16s_limits(mags):
    fig = fx.plot_gradient_histogram(mags)
    ax = fig.axes[0]
    assert sum(p.get_height() for p in ax.patches) == len(mags["log10_abs"])
    marks = [line.get_xdata()[0] for line in ax.get_lines()]
    assert marks == pytest.approx([np.log10(2.0**-25), np.log10(2.0**-14)])


def test_output_kernel_and_magnitude_lines(sweep, mags):
    text = fx.format_output_kernel(sweep, mags)
    zeros = fx.zeros_by_variable(sweep, 1e6)
    assert f"zero share of logits/kernel = {zeros['logits/kernel']:.1%}" in text
    assert f"{mags['last_hidden_zero_share_fp16']:.1%} exactly zero" in text
    line = fx.format_gradient_magnitudes(mags)
    assert f"{1 / mags['shrink_per_layer']:.1f}x per layer" in line


# ---------------------------------------------------------------------------- seeds


def test_course_seed_changes_the_mlp_and_an_explicit_seed_overrides():
    import lessons

    lessons.setup(7)
    at7 = fx.gradient_magnitudes(depth=3, width=16, batch=32)["median_by_variable"]
    gap7 = fx.adam_scale_gap(1e3, gradient_size=1e-8, steps=2)
    lessons.setup(0)
    at0 = fx.gradient_magnitudes(depth=3, width=16, batch=32)["median_by_variable"]
    assert at0 != at7
    assert fx.gradient_magnitudes(depth=3, width=16, batch=32, seed=7)["median_by_variable"] == at7
    assert fx.adam_scale_gap(1e3, gradient_size=1e-8, steps=2) != gap7
    assert fx.adam_scale_gap(1e3, gradient_size=1e-8, steps=2, seed=7) == gap7
    assert fx.static_scale_sweep((1e3,), depth=3, width=16, batch=32, seed=7) != \
        fx.static_scale_sweep((1e3,), depth=3, width=16, batch=32)


# ---------------------------------------------------------------------------- Try it yourself


def test_try_it_1_a_larger_init_scale_needs_less_scaling():
    # init_scale=0.3: far fewer zeros at scale 1, none left from 1e3 on, overflow still at 1e8
    rows = {r["scale"]: r for r in fx.static_scale_sweep((1.0, 1e3, 1e7, 1e8), init_scale=0.3)}
    assert 0 < rows[1.0]["zero_share"] < 0.2
    assert rows[1e3]["zero_share"] < 0.005 and rows[1e7]["zero_share"] < 0.005
    assert rows[1e7]["nonfinite_share"] == 0 and rows[1e8]["nonfinite_share"] > 0.5


# ---------------------------------------------------------------------------- Adam and the scale


@pytest.mark.parametrize("epsilon", [1e-7, 0.0])
def test_adam_first_step_closed_form_matches_keras(epsilon):
    import keras

    # Adam is elementwise: one vector holds every (gradient, scale) case
    cases = [(g, c) for g in (1e-8, 1e-3, -0.5) for c in (1.0, 1e3)]
    var = keras.Variable(np.zeros(len(cases), np.float32))
    opt = keras.optimizers.Adam(1e-3, epsilon=epsilon)
    opt.apply([keras.ops.convert_to_tensor(np.float32([g * c for g, c in cases]))], [var])
    expected = [fx.adam_first_step(g, c, epsilon) for g, c in cases]
    np.testing.assert_allclose(-var.numpy(), expected, rtol=1e-5)


def test_keras_effective_epsilon_is_3_2e_6():
    # first step = lr g / (|g| + eps / sqrt(1 - beta_2)): solve for the effective epsilon
    g, step = 1e-6, fx.adam_first_step(1e-6)
    effective = 1e-3 * g / step - g
    assert effective == pytest.approx(1e-7 / math.sqrt(1 - 0.999)) and f"{effective:.1e}" == "3.2e-06"


def test_adam_update_is_invariant_to_a_constant_scale_without_epsilon():
    assert fx.adam_scale_gap(2.0**15, epsilon=0.0)["relative_gap"] < 1e-6  # 1e3: the study below


def test_adam_scale_study_is_the_three_gaps():
    gaps = fx.adam_scale_study(seed=3)
    assert set(gaps) == {"no_epsilon", "epsilon_divided", "tiny_gradients"}
    assert gaps["no_epsilon"] < 1e-6  # |g| ~ 1e-3, epsilon 0: the scale 1e3 cancels
    assert gaps["epsilon_divided"] < 1e-5  # scale c is Adam with epsilon / c
    # with |g| ~ 1e-8 Keras's epsilon damps Adam; scaling the loss by 1e3 undoes that
    assert gaps["tiny_gradients"] > 10
    assert fx.adam_first_step(1e-8, 1e3) / fx.adam_first_step(1e-8) > 100


@pytest.mark.parametrize("call, match", [
    (lambda: fx.adam_first_step(1e-3, scale=0.0), r"scale must be in \(0, inf\)"),
    (lambda: fx.adam_first_step(1e-3, epsilon=-1.0), r"epsilon must be in \[0, inf\)"),
    (lambda: fx.adam_first_step(1e-3, beta_2=1.0), r"beta_2 must be in \[0, 1\)"),
    (lambda: fx.adam_scale_gap(0.0), r"scale must be in \(0, inf\)"),
    (lambda: fx.adam_scale_gap(10.0, steps=0), r"steps must be an int in \[1, inf\)"),
    (lambda: fx.adam_scale_gap(10.0, gradient_size=0.0), r"gradient_size must be in \(0, inf\)"),
    (lambda: fx.adam_scale_gap(10.0, epsilon=-1e-7), r"epsilon must be in \[0, inf\)"),
    (lambda: fx.gradient_magnitudes(depth=0), r"depth must be an int in \[1, inf\)"),
    (lambda: fx.gradient_magnitudes(init_scale=0.0), r"init_scale must be in \(0, 1\]"),
    (lambda: fx.gradient_magnitudes(init_scale=1.5), r"init_scale must be in \(0, 1\]"),
    (lambda: fx.gradient_magnitudes(batch=10**6), r"batch must be an int in \[1, 1797\]"),
    (lambda: fx.gradient_magnitudes(seed=-1), r"seed must be an int in \[0, 2\*\*31\)"),
    (lambda: fx.static_scale_sweep(scales=(1.0, -1.0)), r"scales must be in \(0, inf\)"),
    (lambda: fx.static_scale_sweep(scales=(math.inf,)), "scales must be a finite number"),
    (lambda: fx.dynamic_loss_scale(steps=0), r"steps must be an int in \[1, inf\)"),
    (lambda: fx.dynamic_loss_scale(initial_scale=0.5), r"initial_scale must be in \[1, inf\)"),
])
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
