"""Lesson 05: number formats, loss scaling, Adam's scale invariance, the claim checks and the
benchmark harness (Keras's own rules that the notebook states: test_fp16_keras_rules.py)."""

import copy
import math

import ml_dtypes
import numpy as np
import pytest

from lessons import fp16_bench as fb
from lessons import fp16_xla as fx
from lessons.claims import ClaimFailed

FINFO = {"float16": np.finfo(np.float16), "bfloat16": ml_dtypes.finfo(ml_dtypes.bfloat16),
         "float32": np.finfo(np.float32)}


# ---------------------------------------------------------------------------- number formats


@pytest.mark.parametrize("dtype", list(fx.FORMATS))
def test_format_limits_match_numpy_and_ml_dtypes(dtype):
    limits, ref = fx.format_limits(dtype), FINFO[dtype]
    assert limits["max"] == float(ref.max)
    assert limits["smallest_normal"] == float(ref.smallest_normal)
    assert limits["smallest_subnormal"] == float(ref.smallest_subnormal)
    assert limits["eps"] == float(ref.eps)


def test_fp16_range_is_the_posts_6e_8_to_65504():
    limits = fx.format_limits("float16")
    assert limits["max"] == 65504.0
    assert limits["smallest_subnormal"] == 2.0**-24 and f"{limits['smallest_subnormal']:.0e}" == "6e-08"
    rows = {r["dtype"]: r for r in fx.precision_table()}
    assert [rows[d]["mantissa_bits"] for d in ("float16", "bfloat16", "float32")] == [10, 7, 23]
    # BF16 keeps FP32's exponent: same smallest normal, max within one BF16 rounding step
    assert rows["bfloat16"]["smallest_normal"] == rows["float32"]["smallest_normal"]
    assert rows["bfloat16"]["max"] < rows["float32"]["max"] < rows["bfloat16"]["max"] * (1 + 2**-7)


def test_cast_rounds_like_numpy_and_overflows_to_inf():
    x = np.array([1 / 3, 1e-5, 70000.0, -2.5e-8])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(fx.cast(x, "float16"),
                                      x.astype(np.float16).astype(np.float64))
    np.testing.assert_array_equal(fx.cast(x, "bfloat16"),
                                  x.astype(ml_dtypes.bfloat16).astype(np.float64))
    assert math.isinf(fx.cast(70000.0, "float16"))


@pytest.mark.parametrize("dtype", list(fx.FORMATS))
def test_underflow_threshold_is_the_last_value_flushing_to_zero(dtype):
    t = fx.underflow_threshold(dtype)
    assert fx.cast(t, dtype) == 0.0
    # the next representable input: float64 for FP16, float32 for formats cast from float32
    up = np.nextafter(t, np.inf) if dtype == "float16" else np.nextafter(np.float32(t), np.inf)
    assert fx.cast(up, dtype) > 0.0
    # brute force over 2,000 magnitudes across the threshold
    g = np.geomspace(t / 100, t * 100, 2000)
    np.testing.assert_array_equal(fx.cast(g, dtype) == 0.0, g <= t)


@pytest.mark.parametrize("g", [1e-9, 3e-12, 2.0**-30, 4e-6])
@pytest.mark.parametrize("normal", [False, True])
def test_min_scale_to_keep_is_minimal_by_brute_force(g, normal):
    s = fx.min_scale_to_keep(g, "float16", normal=normal)
    limits = fx.format_limits("float16")
    target = limits["smallest_normal"] if normal else limits["smallest_subnormal"]
    powers = [2.0**k for k in range(0, 60)]
    brute = next(p for p in powers if fx.cast(g * p, "float16") >= target)
    assert s == brute


def test_constant_report_mask_infinity_and_epsilon():
    rows = {(r["value"], r["dtype"]): r for r in fx.constant_report()}
    assert rows[1e12, "float16"]["verdict"] == "overflow"
    assert math.isfinite(rows[1e12, "bfloat16"]["stored"])
    assert rows[1e4, "float16"]["stored"] == 1e4  # the raised "infinity" fits
    eps16 = rows[1e-7, "float16"]
    assert eps16["verdict"] == "subnormal" and eps16["stored"] == 2 * 2.0**-24
    assert eps16["relative_error"] == pytest.approx((2 * 2.0**-24 - 1e-7) / 1e-7)
    assert rows[1e-8, "float16"]["verdict"] == "underflow"
    assert rows[1e-4, "float16"]["verdict"] == "exact-ish"
    # dividing by Keras's epsilon overflows FP16; by the raised one it does not
    assert math.isinf(fx.cast(1 / eps16["stored"], "float16"))
    assert math.isfinite(fx.cast(1 / rows[1e-4, "float16"]["stored"], "float16"))


def test_masked_logits_nan_share_matches_direct_numpy():
    # half the positions are kept; each kept one computes 0 * inf = NaN in FP16
    assert fx.masked_logits_nan_share(1e12, "float16") == 0.5
    assert fx.masked_logits_nan_share(1e4, "float16") == 0.0
    assert fx.masked_logits_nan_share(1e12, "bfloat16") == 0.0
    assert fx.masked_logits_nan_share(1e12, "float32") == 0.0
    with np.errstate(all="ignore"):
        direct = np.float16(0.0) * np.float16(1e12)
    assert np.isnan(direct)


@pytest.mark.parametrize("call", [
    lambda: fx.format_limits("float8"),
    lambda: fx.cast(1.0, "int8"),
    lambda: fx.min_scale_to_keep(0.0),
    lambda: fx.min_scale_to_keep(math.inf),
    lambda: fx.constant_report(values=(-1.0,)),
    lambda: fx.masked_logits_nan_share(1e4, length=1),
    lambda: fx.masked_logits_nan_share(0.0),
    lambda: fx.adam_first_step(1e-3, scale=0.0),
    lambda: fx.adam_first_step(1e-3, epsilon=-1.0),
    lambda: fx.adam_first_step(1e-3, beta_2=1.0),
    lambda: fx.adam_scale_gap(0.0),
    lambda: fx.adam_scale_gap(10.0, steps=0),
    lambda: fx.adam_scale_gap(10.0, gradient_size=0.0),
    lambda: fx.adam_scale_gap(10.0, epsilon=-1e-7),
    lambda: fx.gradient_magnitudes(depth=0),
    lambda: fx.gradient_magnitudes(init_scale=0.0),
    lambda: fx.gradient_magnitudes(init_scale=1.5),
    lambda: fx.gradient_magnitudes(batch=10**6),
    lambda: fx.static_scale_sweep(scales=(1.0, -1.0)),
    lambda: fx.static_scale_sweep(scales=(math.inf,)),
    lambda: fx.dynamic_loss_scale(steps=0),
    lambda: fx.dynamic_loss_scale(initial_scale=0.5),
])
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------------------- loss scaling


@pytest.fixture(scope="module")
def sweep():
    return fx.static_scale_sweep((1.0, 1e2, 1e3, 1e4, 1e6, 1e7, 1e8), seed=0)


@pytest.fixture(scope="module")
def mags():
    return fx.gradient_magnitudes(seed=0)


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

    p = fx._problem(8, 64, 0.1, 256, 0)
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


def test_scaling_table_lists_every_scale_and_run(sweep):
    runs = [{"scales": [2.0**15], "final_scale": 2.0**15, "skipped": 0, "zero_share": 0.02}]
    lines = fx.scaling_table(sweep, runs).splitlines()
    assert len(lines) == 1 + len(sweep) + 1
    assert [float(line.split()[0]) for line in lines[1:-1]] == [r["scale"] for r in sweep]
    assert lines[-1] == "dynamic from 3.28e+04: settled at 3.28e+04 after skipping 0 steps, zero share 2.0%"


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


def test_benchmark_children_get_the_course_seed_unless_one_is_given():
    import lessons

    lessons.setup(7)
    assert fb.child_spec("micro", 1, 1, 1, "b.npz")["seed"] == 7
    assert fb.child_spec("micro", 1, 1, 1, "b.npz", seed=3)["seed"] == 3
    lessons.setup(0)
    assert fb.child_spec("micro", 1, 1, 1, "b.npz")["seed"] == 0


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


# ---------------------------------------------------------------------------- claim checks


def _rows(zero, nonfinite=None, output_kernel=1.0, elsewhere=0.0):
    scales = (1.0, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8)
    nonfinite = nonfinite or [0.0] * 7 + [0.96]
    return [{"scale": s, "zero_share": z, "nonfinite_share": n, "median_rel_error": 0.01,
             "zero_share_by_variable": {"hidden_0/kernel": elsewhere, "logits/kernel": output_kernel}}
            for s, z, n in zip(scales, zero, nonfinite, strict=True)]


GOOD_ZEROS = [0.99, 0.40, 0.066, 0.028, 0.02, 0.0192, 0.0192, 0.0192]
GOOD_DYNAMIC = [{"scales": [2.0**15] * 12, "skipped": 0, "final_scale": 2.0**15, "zero_share": 0.022},
                {"scales": [2.0**30] * 12, "skipped": 6, "final_scale": 2.0**24, "zero_share": 0.019}]
GOOD_MAGS = {"share_below_1e-8": 0.99, "share_flushing_fp16": 0.991, "shrink_per_layer": 0.1,
             "last_hidden_median": 3e-9, "last_hidden_zero_share_fp16": 1.0}


def _with(base, **changes):
    return {**base, **changes}


@pytest.mark.parametrize("claims, bad", [
    (lambda m: fx.check_gradient_claims(m), {"share_below_1e-8": 0.6}),
    (lambda m: fx.check_gradient_claims(m), {"share_flushing_fp16": 0.2}),
    (lambda m: fx.check_gradient_claims(m), {"shrink_per_layer": 0.5}),  # only 2x per layer
    (lambda m: fx.check_output_kernel_claims(_rows(GOOD_ZEROS), m), {"last_hidden_median": 1e-6}),
    (lambda m: fx.check_output_kernel_claims(_rows(GOOD_ZEROS), m),
     {"last_hidden_zero_share_fp16": 0.3}),
])
def test_gradient_and_output_kernel_claims_hold_or_fail(claims, bad, capsys):
    claims(GOOD_MAGS)
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("holds: ") for line in lines)
    assert not any(str(v) in line for line in lines for v in GOOD_MAGS.values())  # no digits
    with pytest.raises(ClaimFailed):
        claims(_with(GOOD_MAGS, **bad))


def test_output_kernel_claims_fail_when_zeros_are_elsewhere():
    fx.check_output_kernel_claims(_rows(GOOD_ZEROS), GOOD_MAGS)
    with pytest.raises(ClaimFailed, match="output kernel"):
        fx.check_output_kernel_claims(_rows(GOOD_ZEROS, output_kernel=0.5), GOOD_MAGS)
    with pytest.raises(ClaimFailed, match="every other variable"):
        fx.check_output_kernel_claims(_rows(GOOD_ZEROS, elsewhere=0.2), GOOD_MAGS)


@pytest.mark.parametrize("sweep_edit, dynamic_edit, match", [
    ({0: 0.5}, {}, "without scaling"),
    ({1: 0.8}, {}, "x100"),
    ({2: 0.3}, {}, "x1e3 to x1e7"),
    ({5: 0.0, 6: 0.0, 7: 0.0}, {}, "stay zero"),
    ({}, {0: {"skipped": 2}}, "skips no step"),
    ({}, {0: {"final_scale": 2.0**16}}, "stays at 2"),
    # the corrected item-11 statement: dynamic within a point of the best static scale
    ({}, {0: {"zero_share": 0.05}}, "at most 1 point"),
    ({}, {1: {"skipped": 0}}, "halves its way down"),
    ({}, {1: {"final_scale": 2.0**30}}, "settles"),
])
def test_scaling_claims_hold_or_fail(sweep_edit, dynamic_edit, match):
    fx.check_scaling_claims(_rows(GOOD_ZEROS), GOOD_DYNAMIC)
    zeros = [sweep_edit.get(i, z) for i, z in enumerate(GOOD_ZEROS)]
    dynamic = [_with(d, **dynamic_edit.get(i, {})) for i, d in enumerate(GOOD_DYNAMIC)]
    with pytest.raises(ClaimFailed, match=match):
        fx.check_scaling_claims(_rows(zeros), dynamic)


def test_scaling_claims_fail_on_overflow_where_none_is_said():
    with pytest.raises(ClaimFailed, match="no scale up to"):
        fx.check_scaling_claims(_rows(GOOD_ZEROS, [0.0] * 6 + [0.1, 0.96]), GOOD_DYNAMIC)
    with pytest.raises(ClaimFailed, match="x1e8 overflows"):
        fx.check_scaling_claims(_rows(GOOD_ZEROS, [0.0] * 8), GOOD_DYNAMIC)
    with pytest.raises(ValueError, match="sweep must include"):
        fx.check_scaling_claims(_rows(GOOD_ZEROS)[:3], GOOD_DYNAMIC)
    with pytest.raises(ValueError, match="dynamics"):
        fx.check_scaling_claims(_rows(GOOD_ZEROS), GOOD_DYNAMIC[:1])


@pytest.mark.parametrize("bad", [{"no_epsilon": 1e-3}, {"epsilon_divided": 1e-2},
                                 {"tiny_gradients": 2.0}])
def test_adam_claims_hold_or_fail(bad):
    good = {"no_epsilon": 0.0, "epsilon_divided": 0.0, "tiny_gradients": 159.0}
    fx.check_adam_claims(good)
    with pytest.raises(ClaimFailed):
        fx.check_adam_claims(_with(good, **bad))


def test_verdict_claims_hold_on_the_stored_results_and_fail_on_a_changed_one(capsys):
    stored = fx.stored_results()
    fx.check_verdict_claims(stored)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 11 and all(line.startswith("holds: ") for line in lines)
    for config, value, match in (("xla", 1.0, "jit_compile=True"), ("mixed+xla", 1.5, "stack"),
                                 ("fp16", 1.0, "FP16 is slow"),
                                 ("autojit-fusible", 1.3, "fusible")):
        changed = copy.deepcopy(stored)
        small = next(r for r in changed if r["size"] == "small")
        next(run for run in small["runs"] if run["config"] == config)["speedup"] = value
        with pytest.raises(ClaimFailed, match=match):
            fx.check_verdict_claims(changed)
    with pytest.raises(ValueError, match="small and tiny"):
        fx.check_verdict_claims([r for r in stored if r["size"] != "tiny"])


# ---------------------------------------------------------------------------- the benchmark


EXPECT_XLA = {"fp32": False, "mixed": False, "xla": True, "mixed+xla": True, "fp16": False,
              "autojit": True, "autojit-eager": True, "autojit-fusible": True}
# Run live by the tests in one shared subprocess, and autojit in another with the post's flags
# verbatim (each further TF_XLA_FLAGS value costs a subprocess, i.e. a TensorFlow import).
# mixed+xla (the two checked here, combined) and the three auto-clustering configurations with
# --tf_xla_cpu_global_jit are checked in the stored results (test_stored_results_are_what_they_say),
# which the same harness measured; fp32 and xla also in the notebook's strictly compared check.
LIVE = ["fp32", "mixed", "fp16", "xla"]
MICRO = {"size": "micro", "steps": 1, "repeats": 2, "warmup": 1, "show_progress": False,
         "peak_seconds": 0.01}


@pytest.fixture(scope="module", autouse=True)
def _benchmarks(request):
    """Start the benchmark subprocesses with this file's first test (if any selected test needs
    them); the rest of the file runs while they do, and the tests that need a result wait."""
    from concurrent.futures import ThreadPoolExecutor

    needed = any({"bench", "verbatim"} & set(getattr(item, "fixturenames", ()))
                 for item in request.session.items if item.module is request.module)
    if not needed:
        yield {}
        return
    fb.make_batch(MICRO["size"])  # the corpus, once, before the threads start
    pool = ThreadPoolExecutor(max_workers=2)
    futures = {
        "bench": pool.submit(fx.run_benchmark, LIVE, share_process=True, jobs=2, seed=0, **MICRO),
        "verbatim": pool.submit(fx.run_benchmark, ["autojit"], cpu_global_jit=False, seed=0,
                                **MICRO),
    }
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def bench(_benchmarks):
    return _benchmarks["bench"].result()


@pytest.fixture(scope="module")
def verbatim(_benchmarks):
    return _benchmarks["verbatim"].result()


def test_every_configuration_covered_by_expectations():
    assert set(EXPECT_XLA) == set(fx.CONFIGS)
    assert {c: fx.expected_checks(c)["xla_compiled"] for c in fx.CONFIGS} == EXPECT_XLA
    assert [c for c in fx.CONFIGS if fx.expected_checks(c)["loss_scale_optimizer"]] == ["fp16"]
    assert fx.expected_checks("mixed", on_gpu=True)["compute_dtype"] == "float16"
    assert fx.expected_checks("mixed", on_gpu=True)["loss_scale_optimizer"]
    # the policy each precision runs under: BF16 on a CPU, FP16 (with loss scaling) on a GPU
    assert [fb._resolve_policy(p, on_gpu) for p in ("float32", "mixed", "float16")
            for on_gpu in (False, True)] == ["float32", "float32", "mixed_bfloat16",
                                             "mixed_float16", "mixed_float16", "mixed_float16"]


def test_process_groups_share_a_process_only_with_the_same_environment():
    assert fb.process_groups(LIVE) == [[c] for c in LIVE]
    assert fb.process_groups([*LIVE, "autojit"], share_process=True) == [LIVE, ["autojit"]]
    assert fb.process_groups(["autojit", "fp32"], share_process=True, cpu_global_jit=False) == \
        [["autojit"], ["fp32"]]
    every = fb.process_groups(list(fx.CONFIGS), share_process=True)
    assert every == [["fp32", "mixed", "xla", "mixed+xla", "fp16"], ["autojit"],
                     ["autojit-eager"], ["autojit-fusible"]]


@pytest.mark.slow
def test_each_configuration_really_is_what_it_says(bench):
    assert [r["config"] for r in bench["runs"]] == LIVE
    assert bench["settings"]["share_process"] and bench["settings"]["seed"] == 0
    on_gpu = bench["device"]["kind"] == "GPU"
    assert fx.config_mismatches(bench) == []
    for run in bench["runs"]:
        config, checks = fx.CONFIGS[run["config"]], run["checks"]
        for key, want in fx.expected_checks(run["config"], on_gpu).items():
            assert checks[key] == want, (run["config"], key)
        assert checks["jit_compile_requested"] == config.jit_compile
        assert checks["logits_dtype"] == "float32", run["config"]
        # XLA compiled during this configuration's training, or not at all
        assert (checks["xla_compilations"] > 0) == EXPECT_XLA[run["config"]], run["config"]
        flags = checks["env"].get("TF_XLA_FLAGS")
        if config.tf_xla_flags:
            assert flags == config.tf_xla_flags + ("" if on_gpu else " " + fb.CPU_AUTOJIT_FLAG)
        else:
            assert flags is None, run["config"]
        assert "XLA_FLAGS" not in checks["env"]


@pytest.mark.slow
def test_the_posts_flags_alone_skip_the_cpu(verbatim):
    (run,) = verbatim["runs"]
    assert run["checks"]["env"]["TF_XLA_FLAGS"] == "--tf_xla_auto_jit=1"
    assert verbatim["settings"]["cpu_global_jit"] is False
    if run["device"]["kind"] == "CPU":  # auto-clustering leaves CPU ops alone without the flag
        assert not run["checks"]["xla_compiled"] and run["checks"]["xla_compilations"] == 0
        with pytest.raises(ValueError, match="verbatim"):
            fx.config_mismatches(verbatim)


@pytest.mark.slow
def test_timings_and_derived_numbers_are_consistent(bench):
    size = fx.SIZES["micro"]
    runs_by = {r["config"]: r for r in bench["runs"]}
    fp32 = runs_by["fp32"]["ms_per_step"]
    for run in bench["runs"]:
        t = run["ms_per_step"]
        assert all(math.isfinite(v) and v > 0 for v in t.values())
        assert t["min"] <= t["median"] <= t["max"]
        assert run["examples_per_s"] == pytest.approx(1e3 * size.batch / t["median"])
        assert run["speedup"] == pytest.approx(fp32["median"] / t["median"])
        assert run["speedup_best"] == pytest.approx(fp32["min"] / t["min"])
        cpu, cpu32 = run["cpu_ms_per_step"], runs_by["fp32"]["cpu_ms_per_step"]
        assert all(math.isfinite(v) and v > 0 for v in cpu.values())
        assert run["speedup_cpu"] == pytest.approx(cpu32["median"] / cpu["median"])
        assert run["achieved_gflops"] == pytest.approx(
            fb.train_flops("micro") / (t["median"] / 1e3) / 1e9)
        assert run["peak_share"] == pytest.approx(run["achieved_gflops"] / run["matmul_peak_gflops"])
        # VmHWM of the child itself: TF alone is hundreds of MB (in a shared process a later
        # configuration may add nothing to the peak, so its growth means little)
        assert run["memory_mb"] > 200 and run["memory_mb"] > run["memory_growth_mb"]
        assert math.isfinite(run["final_loss"]) and run["final_loss"] > 0
    # the first configuration of the process starts from TF's footprint: training adds some
    assert runs_by["fp32"]["memory_growth_mb"] > 0
    assert bench["load_average"]["before"] and bench["settings"]["jobs"] == 2
    table = fx.format_table(bench).splitlines()
    assert all(line.split()[-2] == "-" for line in table[2:])  # shared process: no memory column


@pytest.mark.slow
def test_live_claims_hold_and_fail_on_a_mislabelled_run(bench, capsys):
    fx.check_live_claims(bench)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("holds: ") for line in lines)
    for config, key, value in (("xla", "xla_compiled", False), ("mixed", "compute_dtype", "float32"),
                               ("fp16", "loss_scale_optimizer", False),
                               ("fp32", "xla_compiled", True)):
        bad = copy.deepcopy(bench)
        next(r for r in bad["runs"] if r["config"] == config)["checks"][key] = value
        with pytest.raises(ClaimFailed, match="its name says"):
            fx.check_live_claims(bad)
    bad = copy.deepcopy(bench)
    bad["runs"][0]["final_loss"] = float("nan")
    with pytest.raises(ClaimFailed, match="trained"):
        fx.check_live_claims(bad)


@pytest.mark.slow
def test_post_comparison_and_speedup_matrix(bench):
    rows = fx.post_comparison(bench)
    ours = {r["config"]: r["speedup"] for r in bench["runs"]}
    best = {r["config"]: r["speedup_best"] for r in bench["runs"]}
    cpu = {r["config"]: r["speedup_cpu"] for r in bench["runs"]}
    assert [(r["config"], r["post_3090"], r["ours"], r["ours_best"], r["ours_cpu"])
            for r in rows] == [(c, fx.POST_3090[c], ours[c], best[c], cpu[c])
                               for c in ("mixed", "xla")]
    configs, labels, matrix = fx.speedup_matrix([bench, bench])
    assert configs == ["mixed", "xla", "mixed+xla", "fp16"] and len(labels) == 3
    for i, c in enumerate(configs):
        if c in ours:
            assert matrix[i, 1] == matrix[i, 2] == ours[c]
        else:
            assert np.isnan(matrix[i, 1]) and np.isnan(matrix[i, 2])
        assert matrix[i, 0] == fx.POST_3090[c] if c in fx.POST_3090 else np.isnan(matrix[i, 0])
    table = fx.format_table(bench).splitlines()
    assert len(table) == 2 + len(bench["runs"])
    assert all(line.split()[0] == c for line, c in zip(table[2:], LIVE, strict=True))


@pytest.mark.slow
def test_result_roundtrips_through_json_and_validates(bench, tmp_path):
    path = fx.save_result(bench, tmp_path)
    assert path.name.startswith("fp16_xla_") and path.name.endswith("_micro.json")
    assert fx.load_result(path) == bench
    assert fx.list_results(tmp_path) == [path]
    assert fx.stored_results(directory=tmp_path) == [bench]
    assert fx.stored_results("tiny", directory=tmp_path) == []


def _corrupt(result, edit):
    bad = copy.deepcopy(result)
    edit(bad)
    return bad


@pytest.mark.slow
@pytest.mark.parametrize("edit", [
    lambda r: r.pop("device"),
    lambda r: r.update(schema="other/1"),
    lambda r: r.update(size="huge"),
    lambda r: r.update(runs=[]),
    lambda r: r["runs"][0].update(config="fp64"),
    lambda r: r["runs"][0]["ms_per_step"].update(median=-1.0),
    lambda r: r["runs"][0]["ms_per_step"].update(min=1e9),
    lambda r: r["runs"][0]["ms_per_step"].update(max=float("nan")),
    lambda r: r["runs"][0]["checks"].update(xla_compiled="yes"),
    lambda r: r["runs"][0]["checks"].update(xla_compilations=1.5),
    lambda r: r["settings"].update(share_process="yes"),
    lambda r: r["workload"].update(batch=True),
    lambda r: r["runs"][0].update(examples_per_s=0.0),
])
def test_validator_rejects_broken_results(bench, edit):
    with pytest.raises(ValueError):
        fx.validate_result(_corrupt(bench, edit))


def test_stored_results_are_what_they_say():
    paths = fx.list_results()
    assert paths, "ship at least one stored benchmark result"
    for path in paths:
        result = fx.load_result(path)
        assert path.name == fb.result_filename(result)
    cpu = [r for r in fx.stored_results() if r["device"]["kind"] == "CPU"]
    assert any({run["config"] for run in r["runs"]} == set(fx.CONFIGS) for r in cpu)
    for result in cpu:  # every configuration, measured when the result was stored
        assert fx.config_mismatches(result) == [], result["label"]
        for run in result["runs"]:
            flags = fx.CONFIGS[run["config"]].tf_xla_flags
            want = f"{flags} {fb.CPU_AUTOJIT_FLAG}" if flags else None
            assert run["checks"]["env"].get("TF_XLA_FLAGS") == want
    assert set(fx.reference_results(cpu)) == {"small", "tiny"}


@pytest.mark.parametrize("size", ["micro", "tiny", "small"])
def test_train_flops_matches_the_models_kernels(size):
    model = fb.build_tagger(size)
    assert fb.model_attention_layers(model) == fx.SIZES[size].layers
    assert fb.counted_flops(model, size) == fb.train_flops(size)


def test_make_batch_is_people_daily_characters():
    s = fx.SIZES["tiny"]
    batch = fb.make_batch("tiny")
    assert batch["ids"].shape == batch["tags"].shape == batch["mask"].shape == (s.batch, s.seq_len)
    np.testing.assert_array_equal(batch["mask"], batch["ids"] != 0)
    assert batch["ids"].max() < s.vocab and set(np.unique(batch["tags"])) <= {0, 1, 2, 3}
    assert batch["mask"].sum(1).min() >= 1
    batch["ids"][:] = 0  # callers get copies: the cached batch is unchanged
    assert fb.make_batch("tiny")["ids"].max() > 0


def test_child_env_sets_only_the_configurations_flags():
    base = {"TF_XLA_FLAGS": "--leak", "XLA_FLAGS": "--leak", "HOME": "/x"}
    env = fb.child_env("fp32", base=base)
    assert "TF_XLA_FLAGS" not in env and "XLA_FLAGS" not in env and env["HOME"] == "/x"
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "0"  # XLA's "compiled" lines are INFO logs
    assert env["TF_CPP_VMODULE"] == "device_compilation_profiler=1"  # one line per compile
    cpu = fb.child_env("autojit-fusible", on_cpu=True, base=base)["TF_XLA_FLAGS"]
    assert cpu == "--tf_xla_auto_jit=fusible --tf_xla_cpu_global_jit"
    assert fb.child_env("autojit", on_cpu=False, base=base)["TF_XLA_FLAGS"] == "--tf_xla_auto_jit=1"
    verbatim = fb.child_env("autojit-eager", on_cpu=True, base=base, cpu_global_jit=False)
    assert verbatim["TF_XLA_FLAGS"] == "--tf_xla_auto_jit=1 --tf_xla_enable_lazy_compilation=false"


def test_xla_log_counts_compilations_after_a_position(tmp_path):
    import os

    path = tmp_path / "log"
    path.write_bytes(b"I0 device_compiler.h:208] Compiled cluster using XLA!  This line...\n"
                     b"I0 device_compilation_profiler.cc:113] Compiled cluster_0 1 times, "
                     b"compile time: 68269 us\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        log = fb._XlaLog(fd)
        assert log.since(0) == {"xla_compiled": True, "xla_compilations": 1}
        end = log.position()
        assert end == path.stat().st_size and log.since(end)["xla_compiled"] is False
        with open(path, "ab") as f:
            f.write(b"x Compiled __inference_one_step_on_data_123 1 times, compile time: 9 us\n"
                    b"x Compiled cluster_7 2 times, compile time: 9 us\n")
        assert log.since(end) == {"xla_compiled": True, "xla_compilations": 2}
    finally:
        os.close(fd)
    assert fb._XlaLog().since(0) == {"xla_compiled": False, "xla_compilations": 0}


def test_matmul_peak_is_positive():
    assert 0.1 < fb.matmul_peak_gflops("float32", n=128, min_time=0.01) < 1e6


@pytest.mark.parametrize("call", [
    lambda: fx.run_benchmark("fp32"),
    lambda: fx.run_benchmark(["fp64"]),
    lambda: fx.run_benchmark(["fp32", "fp32"]),
    lambda: fx.run_benchmark(["fp32"], size="huge"),
    lambda: fx.run_benchmark(["fp32"], steps=0),
    lambda: fx.run_benchmark(["fp32"], repeats=0),
    lambda: fx.run_benchmark(["fp32"], warmup=0),
    lambda: fx.run_benchmark(["fp32"], jobs=0),
    lambda: fx.run_benchmark(["fp32"], peak_seconds=0.0),
    lambda: fx.run_benchmark(["fp32"], seed=-1),
    lambda: fb.matmul_peak_gflops("int8"),
    lambda: fb.matmul_peak_gflops(n=4),
    lambda: fb.train_flops("huge"),
    lambda: fb.child_env("fp64"),
    lambda: fx.stored_results("huge"),
    lambda: fx.expected_checks("fp64"),
    lambda: fx.benchmark_explorer(default_size="huge"),
])
def test_benchmark_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.slow
def test_explorer_runs_the_selected_configurations(bench):
    calls = []

    def runner(configs, **kwargs):  # the real result, restricted to what was asked for
        calls.append((configs, kwargs))
        return {**bench, "runs": [r for r in bench["runs"] if r["config"] in configs]}

    box = fx.benchmark_explorer(runner=runner)
    box.configs.value = ("fp32", "xla")
    box.size.value = "micro"
    box.steps.value = 3
    box.run_button.click()
    assert calls == [(["fp32", "xla"], {"size": "micro", "steps": 3, "repeats": 3, "warmup": 2})]
    assert [r["config"] for r in box.state["result"]["runs"]] == ["fp32", "xla"]
    box.configs.value = ()
    box.run_button.click()
    assert len(calls) == 1  # nothing selected: nothing runs


@pytest.mark.slow
@pytest.mark.parametrize("args, configs, size, verbatim_flags", [
    # Try it 4: the post's flags verbatim next to FP32 (the real run: test_the_posts_flags_alone)
    (["--verbatim-flags", "--configs", "fp32,autojit"], ["fp32", "autojit"], "tiny", True),
    # Try it 3: a stored result of another device joins the table and the chart
    (["--size", "small", "--save"], list(fx.CONFIGS), "small", False),
    (["--configs", "main", "--share-process", "--seed", "7"], list(fb.MAIN_CONFIGS), "tiny", False),
])
def test_cli_passes_its_arguments_and_saves(bench, verbatim, monkeypatch, tmp_path, capsys, args,
                                            configs, size, verbatim_flags):
    calls = []

    def runner(names, **kwargs):  # a real result, relabelled as another device's
        calls.append((names, kwargs))
        device = {**bench["device"], "cpu": "Other CPU"}
        source = verbatim if verbatim_flags else bench
        return {**source, "size": kwargs["size"], "device": device,
                "label": f"Other CPU, size {kwargs['size']}"}

    monkeypatch.setattr(fx, "run_benchmark", runner)
    assert fx.main(["benchmark", *args, "--out", str(tmp_path)]) == 0
    ((names, kwargs),) = calls
    assert names == configs and kwargs["size"] == size
    assert kwargs["cpu_global_jit"] is not verbatim_flags
    assert kwargs["share_process"] == ("--share-process" in args)
    assert kwargs["seed"] == (7 if "--seed" in args else None)
    out = capsys.readouterr().out
    assert "speed-up" in out and ("saved" in out) == ("--save" in args)
    if "--save" in args:
        (path,) = fx.list_results(tmp_path)
        joined = fx.stored_results(directory=tmp_path)
        assert path.name.startswith("fp16_xla_cpu-other-cpu-") and path.name.endswith("_small.json")
        _, labels, _ = fx.speedup_matrix([*fx.stored_results(), *joined])
        assert labels[-1] == "Other CPU, size small"


@pytest.mark.slow
def test_check_rows_report_the_checks(bench):
    lines = fx.check_rows(bench)
    assert len(lines) == 1 + len(bench["runs"])
    for line, run in zip(lines[1:], bench["runs"], strict=True):
        fields = line.split()
        assert fields[:5] == [run["config"], run["checks"]["variable_dtype"],
                              run["checks"]["compute_dtype"],
                              str(run["checks"]["jit_compile_kept"]),
                              str(run["checks"]["xla_compiled"])]
