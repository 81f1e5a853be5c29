"""Lesson 05: number formats, loss scaling, Adam's scale invariance, and the benchmark harness."""

import math

import ml_dtypes
import numpy as np
import pytest

from lessons import fp16_xla as fx

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
    return fx.static_scale_sweep((1.0, 1e2, 1e3, 1e4, 1e6, 1e8))


def test_down_scaled_mlp_has_gradients_below_1e_8():
    mags = fx.gradient_magnitudes()
    assert mags["share_below_1e-8"] > 0.5
    # the share that flushes equals a brute-force cast of the FP32 gradient to FP16
    g = 10.0 ** mags["log10_abs"]
    assert mags["share_flushing_fp16"] == pytest.approx(np.mean(fx.cast(g, "float16") == 0), abs=1e-6)


def test_zero_share_falls_as_the_static_scale_grows(sweep):
    zeros = [r["zero_share"] for r in sweep]
    assert all(a > b for a, b in zip(zeros[:4], zeros[1:4], strict=False))
    assert zeros[0] > 0.9 and zeros[3] < 0.1
    # at scale 1 the FP16 computation loses about what rounding the FP32 gradient would
    flushing = fx.gradient_magnitudes()["share_flushing_fp16"]
    assert zeros[0] == pytest.approx(flushing, abs=0.02)


def test_large_static_scale_overflows_fp16(sweep):
    by_scale = {r["scale"]: r for r in sweep}
    assert by_scale[1e4]["nonfinite_share"] == 0.0
    assert by_scale[1e8]["nonfinite_share"] > 0.5


def test_zeros_left_at_large_scale_are_the_output_kernel(sweep):
    # its input, the last hidden activation (~1e-8), already flushed in the FP16 forward pass
    by_var = {r["scale"]: r for r in sweep}[1e6]["zero_share_by_variable"]
    assert by_var["logits/kernel"] > 0.99
    assert max(v for k, v in by_var.items() if k != "logits/kernel") < 0.01


def test_dynamic_loss_scale_halves_on_overflow_then_holds():
    run = fx.dynamic_loss_scale(steps=12, initial_scale=2.0**30)
    scales, over = run["scales"], run["overflowed"]
    assert over[0]  # brute force agrees: 2**30 overflows the initial weights' gradient
    assert fx.static_scale_sweep((2.0**30,))[0]["nonfinite_share"] > 0
    for i in range(len(scales) - 1):  # Keras's rule: halve after an overflow, else keep
        assert scales[i + 1] == (scales[i] / 2 if over[i] else scales[i])
    assert run["skipped"] == sum(over) and 0 < run["skipped"] < 12
    assert run["final_scale"] == scales[-1] / (2 if over[-1] else 1)
    default = fx.dynamic_loss_scale(steps=3)
    assert default["scales"] == [2.0**15] * 3 and default["skipped"] == 0


# ---------------------------------------------------------------------------- Adam and the scale


@pytest.mark.parametrize("g", [1e-8, 1e-3, -0.5])
@pytest.mark.parametrize("scale", [1.0, 1e3])
@pytest.mark.parametrize("epsilon", [1e-7, 0.0])
def test_adam_first_step_closed_form_matches_keras(g, scale, epsilon):
    import keras

    var = keras.Variable(np.zeros(1, np.float32))
    opt = keras.optimizers.Adam(1e-3, epsilon=epsilon)
    opt.apply([keras.ops.convert_to_tensor(np.float32([g * scale]))], [var])
    expected = fx.adam_first_step(g, scale, epsilon)
    assert -float(var.numpy()[0]) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("scale", [1e3, 2.0**15])
def test_adam_update_is_invariant_to_a_constant_scale_without_epsilon(scale):
    assert fx.adam_scale_gap(scale, epsilon=0.0)["relative_gap"] < 1e-6


def test_loss_scale_equals_adam_with_epsilon_divided_by_the_scale():
    gap = fx.adam_scale_gap(1e3, epsilon=1e-7, gradient_size=1e-8, rescale_epsilon=True)
    assert gap["relative_gap"] < 1e-5


def test_tiny_gradients_make_keras_epsilon_matter():
    # with |g| ~ 1e-8 Keras's epsilon damps Adam; scaling the loss by 1e3 undoes that
    gap = fx.adam_scale_gap(1e3, epsilon=1e-7, gradient_size=1e-8)
    assert gap["relative_gap"] > 10
    assert fx.adam_first_step(1e-8, 1e3) / fx.adam_first_step(1e-8) > 100


# ---------------------------------------------------------------------------- the benchmark

from lessons import fp16_bench as fb  # noqa: E402

EXPECT_XLA = {"fp32": False, "mixed": False, "xla": True, "mixed+xla": True, "fp16": False,
              "autojit": True, "autojit-eager": True, "autojit-fusible": True}


@pytest.fixture(scope="module")
def bench():
    """Every configuration at the micro size; two subprocesses at a time (timings unused)."""
    return fx.run_benchmark(list(fx.CONFIGS), size="micro", steps=2, repeats=2, warmup=1,
                            jobs=2, show_progress=False, peak_seconds=0.02)


def test_every_configuration_covered_by_expectations():
    assert set(EXPECT_XLA) == set(fx.CONFIGS)


@pytest.mark.slow
def test_each_configuration_really_is_what_it_says(bench):
    assert [r["config"] for r in bench["runs"]] == list(fx.CONFIGS)
    on_gpu = bench["device"]["kind"] == "GPU"
    for run in bench["runs"]:
        config, checks = fx.CONFIGS[run["config"]], run["checks"]
        assert checks["variable_dtype"] == "float32", run["config"]
        expected = {"float32": "float32", "float16": "float16",
                    "mixed": "float16" if on_gpu else "bfloat16"}[config.precision]
        assert checks["compute_dtype"] == expected, run["config"]
        assert checks["loss_scale_optimizer"] == (expected == "float16"), run["config"]
        assert checks["jit_compile_kept"] == checks["jit_compile_requested"] == config.jit_compile
        assert checks["xla_compiled"] == EXPECT_XLA[run["config"]], run["config"]
        flags = checks["env"].get("TF_XLA_FLAGS")
        if config.tf_xla_flags:
            assert flags == config.tf_xla_flags + ("" if on_gpu else " " + fb.CPU_AUTOJIT_FLAG)
        else:
            assert flags is None, run["config"]
        assert "XLA_FLAGS" not in checks["env"]


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
        # VmHWM of the child itself: TF alone is hundreds of MB, training adds some
        assert run["memory_mb"] > 200 and run["memory_mb"] > run["memory_growth_mb"] > 0
        assert math.isfinite(run["final_loss"]) and run["final_loss"] > 0
    assert bench["load_average"]["before"] and bench["settings"]["jobs"] == 2


@pytest.mark.slow
def test_post_comparison_and_speedup_matrix(bench):
    rows = fx.post_comparison(bench)
    ours = {r["config"]: r["speedup"] for r in bench["runs"]}
    best = {r["config"]: r["speedup_best"] for r in bench["runs"]}
    cpu = {r["config"]: r["speedup_cpu"] for r in bench["runs"]}
    assert [(r["config"], r["post_3090"], r["ours"], r["ours_best"], r["ours_cpu"])
            for r in rows] == [(c, fx.POST_3090[c], ours[c], best[c], cpu[c])
                               for c in ("mixed", "xla", "mixed+xla")]
    configs, labels, matrix = fx.speedup_matrix([bench, bench])
    assert configs == [c for c in fx.CONFIGS if c != "fp32"] and len(labels) == 3
    for i, c in enumerate(configs):
        assert matrix[i, 1] == matrix[i, 2] == ours[c]
        assert matrix[i, 0] == fx.POST_3090[c] if c in fx.POST_3090 else np.isnan(matrix[i, 0])
    table = fx.format_table(bench).splitlines()
    assert len(table) == 2 + len(bench["runs"])
    assert all(line.split()[0] == c for line, c in zip(table[2:], fx.CONFIGS, strict=True))


@pytest.mark.slow
def test_result_roundtrips_through_json_and_validates(bench, tmp_path):
    path = fx.save_result(bench, tmp_path)
    assert path.name.startswith("fp16_xla_") and path.name.endswith("_micro.json")
    assert fx.load_result(path) == bench
    assert fx.list_results(tmp_path) == [path]


def _corrupt(result, edit):
    import copy

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
    lambda r: r["workload"].update(batch=True),
    lambda r: r["runs"][0].update(examples_per_s=0.0),
])
def test_validator_rejects_broken_results(bench, edit):
    with pytest.raises(ValueError):
        fx.validate_result(_corrupt(bench, edit))


def test_stored_results_validate():
    paths = fx.list_results()
    assert paths, "ship at least one stored benchmark result"
    for path in paths:
        result = fx.load_result(path)
        assert path.name == fb.result_filename(result)
    cpu = [r for r in fx.stored_results() if r["device"]["kind"] == "CPU"]
    assert any({run["config"] for run in r["runs"]} == set(fx.CONFIGS) for r in cpu)


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


def test_child_env_sets_only_the_configurations_flags():
    base = {"TF_XLA_FLAGS": "--leak", "XLA_FLAGS": "--leak", "HOME": "/x"}
    env = fb.child_env("fp32", base=base)
    assert "TF_XLA_FLAGS" not in env and "XLA_FLAGS" not in env and env["HOME"] == "/x"
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "0"  # XLA's "compiled" line is an INFO log
    cpu = fb.child_env("autojit-fusible", on_cpu=True, base=base)["TF_XLA_FLAGS"]
    assert cpu == "--tf_xla_auto_jit=fusible --tf_xla_cpu_global_jit"
    assert fb.child_env("autojit", on_cpu=False, base=base)["TF_XLA_FLAGS"] == "--tf_xla_auto_jit=1"
    verbatim = fb.child_env("autojit-eager", on_cpu=True, base=base, cpu_global_jit=False)
    assert verbatim["TF_XLA_FLAGS"] == "--tf_xla_auto_jit=1 --tf_xla_enable_lazy_compilation=false"


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
    lambda: fb.matmul_peak_gflops("int8"),
    lambda: fb.matmul_peak_gflops(n=4),
    lambda: fb.train_flops("huge"),
    lambda: fb.child_env("fp64"),
    lambda: fx.stored_results("huge"),
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
def test_cli_saves_a_result_and_the_posts_flags_alone_skip_the_cpu(tmp_path, capsys):
    assert fx.main(["benchmark", "--size", "micro", "--configs", "autojit", "--steps", "1",
                    "--repeats", "1", "--warmup", "1", "--verbatim-flags", "--save",
                    "--out", str(tmp_path)]) == 0
    (path,) = fx.list_results(tmp_path)
    run = fx.load_result(path)["runs"][0]
    assert "saved" in capsys.readouterr().out
    assert run["checks"]["env"]["TF_XLA_FLAGS"] == "--tf_xla_auto_jit=1"
    if run["device"]["kind"] == "CPU":  # auto-clustering leaves CPU ops alone without the flag
        assert not run["checks"]["xla_compiled"]


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
