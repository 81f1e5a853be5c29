"""Lesson 05's text and figures of the number formats and the benchmark, and the benchmark
explorer driven the way a student drives it (with a stand-in runner returning real results)."""

import numpy as np
import pytest

from lessons import fp16_xla as fx


def test_precision_table_text_is_the_computed_limits():
    lines = fx.format_precision_table().splitlines()
    assert lines[0].split()[:3] == ["format", "E", "M"]
    for line, row in zip(lines[1:4], fx.precision_table(), strict=True):
        fields = line.split()
        assert fields[:3] == [row["dtype"], str(row["exponent_bits"]), str(row["mantissa_bits"])]
        assert float(fields[3]) == pytest.approx(row["max"], rel=1e-3)
        assert float(fields[5]) == pytest.approx(row["smallest_subnormal"], rel=1e-3)
    assert lines[4] == "FP16 flushes |x| <= 2.98e-08 to zero (half the smallest subnormal)"


def test_constant_and_mask_text():
    lines = fx.format_constant_report().splitlines()
    assert len(lines) == 1 + len(fx.constant_report())
    assert lines[1].split() == ["1e+12", "float16", "inf", "inf", "overflow"]
    assert lines[7].split()[-1] == "subnormal"  # Keras's epsilon in FP16
    assert fx.format_mask_and_epsilon().splitlines() == [
        "mask with infinity=1e+12: NaN share FP16 = 0.50, BF16 = 0.00",
        "mask with infinity=1e+04: NaN share FP16 = 0.00, BF16 = 0.00",
        "1 / epsilon in FP16 for epsilon=1e-07: inf",
        "1 / epsilon in FP16 for epsilon=1e-04: 1e+04"]


def test_adam_text():
    lines = fx.format_adam_first_steps().splitlines()
    assert lines == [f"Adam's first step for g = 1e-08 with loss scale {c:.0e}: "
                     f"{fx.adam_first_step(1e-8, c):.3g} (lr = 1e-3)" for c in (1.0, 1e3)]
    gaps = fx.format_adam_gaps({"no_epsilon": 0.0, "epsilon_divided": 1e-7,
                                "tiny_gradients": 159.4}).splitlines()
    assert [line.split("= ")[-1] for line in gaps] == ["0.0e+00", "1.0e-07", "159"]


def test_stored_tables_show_no_spread_and_the_post_beside_them():
    stored = fx.stored_results()
    text = fx.format_stored(stored)
    assert text.count("load average before/after the run") == len(stored)
    for result in stored:
        table = fx.format_table(result).splitlines()
        assert table[0] == result["label"] + "  (TF 2.21.0, Keras 3.15.1)"
        header = table[1].split()
        assert header[:4] == ["config", "policy", "XLA", "median"]
        assert header[7:9] == ["speed-up", "(rounds)"]
        for line, run in zip(table[2:], result["runs"], strict=True):
            fields = line.split()
            assert fields[0] == run["config"] and fields[10] == f"{run['speedup']:.2f}x"
            assert fields[11] == "-"  # stored before the interleaved harness: no spread
        assert "\n".join(table) in text
    lines = fx.format_post_comparison(stored).splitlines()
    assert lines[0] == stored[0]["label"] and lines[1].split()[:4] == ["mixed", "post",
                                                                      "(RTX", "3090):"]
    assert len(lines) == sum(1 + len(fx.post_comparison(r)) for r in stored)


def test_speedup_figure_is_the_matrix():
    stored = fx.stored_results()
    fig = fx.plot_speedups(stored)
    ax = fig.axes[0]
    configs, labels, matrix = fx.speedup_matrix(stored)
    heights = np.array([p.get_height() for p in ax.patches]).reshape(len(labels), len(configs))
    np.testing.assert_array_equal(heights.T, matrix)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels
    assert ax.get_title().startswith("speed-up over FP32")


@pytest.mark.slow
def test_live_table_shows_each_rounds_speedup_range(bench):
    table = fx.format_table(bench).splitlines()
    for line, run in zip(table[2:], bench["runs"], strict=True):
        spread = run["speedup_spread"]
        assert line.split()[11] == f"{spread['min']:.2f}-{spread['max']:.2f}x"


@pytest.mark.slow
def test_check_rows_report_the_checks(bench):
    lines = fx.check_rows(bench)
    assert fx.format_checks(bench) == "\n".join(lines)
    assert len(lines) == 1 + len(bench["runs"])
    for line, run in zip(lines[1:], bench["runs"], strict=True):
        fields = line.split()
        assert fields[:5] == [run["config"], run["checks"]["variable_dtype"],
                              run["checks"]["compute_dtype"],
                              str(run["checks"]["jit_compile_kept"]),
                              str(run["checks"]["xla_compiled"])]


@pytest.mark.slow
def test_explorer_runs_the_selected_configurations(bench):
    calls = []

    def runner(configs, **kwargs):  # the real result, restricted to what was asked for
        calls.append((configs, kwargs))
        return {**bench, "runs": [r for r in bench["runs"] if r["config"] in configs]}

    box = fx.benchmark_explorer(runner=runner)
    assert box.image.layout.display == "none"  # no figure before a run
    box.configs.value = ("fp32", "xla")
    box.size.value = "micro"
    box.steps.value = 3
    box.run_button.click()
    assert calls == [(["fp32", "xla"], {"size": "micro", "steps": 3, "repeats": 5, "warmup": 2,
                                        "progress": False})]
    assert [r["config"] for r in box.state["result"]["runs"]] == ["fp32", "xla"]
    assert "speed-up" in box.table.value and bytes(box.image.value).startswith(b"\x89PNG")
    assert box.image.layout.display == "" and not box.run_button.disabled
    box.configs.value = ()
    box.run_button.click()
    assert len(calls) == 1  # nothing selected: nothing runs
    assert box.table.value == "pick at least one configuration"


def test_explorer_shows_a_failed_run():
    def runner(configs, **kwargs):
        raise RuntimeError("benchmark of ['fp32'] failed:\nout of <memory>")

    box = fx.benchmark_explorer(runner=runner, default_configs=("fp32",))
    box.run_button.click()
    assert "the benchmark failed: benchmark of [&#x27;fp32&#x27;] failed" in box.table.value
    assert "&lt;memory&gt;" in box.table.value and box.state["result"] is None
    assert not box.run_button.disabled
    with pytest.raises(ValueError, match="default_size must be one of"):
        fx.benchmark_explorer(default_size="huge")
