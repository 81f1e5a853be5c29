"""Lesson 05's text: every table and line the notebook prints, as functions returning strings.

Times print as "12.3 ms" (nbval's sanitizer replaces them); everything else that a strictly
compared cell prints is float64 arithmetic or read from stored JSON.
"""

from __future__ import annotations

from lessons.fp16_xla.analysis import (
    cast,
    constant_report,
    masked_logits_nan_share,
    precision_table,
    underflow_threshold,
)
from lessons.fp16_xla.bench.compare import post_comparison, speedup_rows
from lessons.fp16_xla.bench.schema import validate_result
from lessons.fp16_xla.loss_scaling import adam_first_step, zeros_by_variable

__all__ = ["check_rows", "format_adam_first_steps", "format_adam_gaps", "format_checks",
           "format_constant_report", "format_gradient_magnitudes", "format_mask_and_epsilon",
           "format_output_kernel", "format_post_comparison", "format_precision_table",
           "format_stored", "format_table", "scaling_table"]


# ------------------------------------------------------------------------------ number formats


def format_precision_table() -> str:
    """The bit layout and limits of FP16, BF16 and FP32, and FP16's flush-to-zero threshold."""
    lines = [f"{'format':<10}{'E':>3}{'M':>4}{'max':>11}{'min normal':>12}"
             f"{'min subnormal':>15}{'eps':>10}{'digits':>8}"]
    for r in precision_table():
        lines.append(f"{r['dtype']:<10}{r['exponent_bits']:>3}{r['mantissa_bits']:>4}"
                     f"{r['max']:>11.4g}{r['smallest_normal']:>12.4g}"
                     f"{r['smallest_subnormal']:>15.4g}{r['eps']:>10.3g}"
                     f"{r['decimal_digits']:>8.2f}")
    lines.append(f"FP16 flushes |x| <= {underflow_threshold('float16'):.3g} to zero "
                 "(half the smallest subnormal)")
    return "\n".join(lines)


def format_constant_report(rows=None) -> str:
    """``constant_report``'s rows (default: its default constants) as a table."""
    rows = constant_report() if rows is None else rows
    lines = [f"{'value':>8}  {'format':<9}{'stored as':>12}  {'rel. error':>10}  verdict"]
    for r in rows:
        lines.append(f"{r['value']:>8.0e}  {r['dtype']:<9}{r['stored']:>12.4g}  "
                     f"{r['relative_error']:>10.3g}  {r['verdict']}")
    return "\n".join(lines)


def format_mask_and_epsilon(infinities=(1e12, 1e4), epsilons=(1e-7, 1e-4)) -> str:
    """The NaN share of a masked row for each "infinity" (FP16 and BF16), and 1 / epsilon in
    FP16 for each epsilon (``masked_logits_nan_share``, ``cast``)."""
    lines = [f"mask with infinity={inf:.0e}: NaN share FP16 = "
             f"{masked_logits_nan_share(inf):.2f}, "
             f"BF16 = {masked_logits_nan_share(inf, 'bfloat16'):.2f}" for inf in infinities]
    for eps in epsilons:
        inverse = cast(1 / cast(eps, "float16"), "float16")
        lines.append(f"1 / epsilon in FP16 for epsilon={eps:.0e}: {float(inverse):.4g}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ loss scaling


def format_gradient_magnitudes(magnitudes: dict) -> str:
    """One line: ``gradient_magnitudes``'s shares and per-layer shrink factor."""
    m = magnitudes
    return (f"gradient entries below 1e-8: {m['share_below_1e-8']:.1%}; "
            f"flushing to zero if rounded to FP16: {m['share_flushing_fp16']:.1%}; "
            f"backward signal shrinks {1 / m['shrink_per_layer']:.1f}x per layer")


def scaling_table(sweep: list[dict], dynamics=()) -> str:
    """The static sweep as a table (scale, zero share, inf/NaN share, median relative error),
    then one line per ``dynamic_loss_scale`` run."""
    lines = [f"{'scale':>8}{'zero':>8}{'inf/NaN':>9}{'median rel. error':>19}"]
    for r in sweep:
        lines.append(f"{r['scale']:>8.0e}{r['zero_share']:>8.1%}{r['nonfinite_share']:>9.1%}"
                     f"{r['median_rel_error']:>19.2g}")
    for d in dynamics:
        lines.append(f"dynamic from {d['scales'][0]:.3g}: settled at {d['final_scale']:.3g} "
                     f"after skipping {d['skipped']} steps, zero share {d['zero_share']:.1%}")
    return "\n".join(lines)


def format_output_kernel(sweep: list[dict], magnitudes: dict, scale: float = 1e6) -> str:
    """Where the zeros left at ``scale`` sit (``zeros_by_variable``) and the last hidden
    activation in FP32 and FP16 (``gradient_magnitudes``)."""
    zeros = zeros_by_variable(sweep, scale)
    return (f"at scale {scale:.0e}: zero share of logits/kernel = {zeros['logits/kernel']:.1%}, "
            f"largest elsewhere = {zeros['largest elsewhere']:.1%}\n"
            f"last hidden activation: median |value| {magnitudes['last_hidden_median']:.2g} in "
            f"FP32, {magnitudes['last_hidden_zero_share_fp16']:.1%} exactly zero when computed "
            "in FP16")


def format_adam_first_steps(gradient: float = 1e-8, scales=(1.0, 1e3)) -> str:
    """Keras Adam's first step (closed form, ``adam_first_step``) for ``gradient`` per scale."""
    return "\n".join(
        f"Adam's first step for g = {gradient:.0e} with loss scale {scale:.0e}: "
        f"{adam_first_step(gradient, scale):.3g} (lr = 1e-3)" for scale in scales)


def format_adam_gaps(gaps: dict) -> str:
    """``adam_scale_study``'s three relative gaps, one line each."""
    return (f"|g|~1e-3, epsilon=0, scale 1e3 vs none:  relative gap = {gaps['no_epsilon']:.1e}\n"
            f"|g|~1e-8, scale 1e3 vs epsilon/1e3:      relative gap = "
            f"{gaps['epsilon_divided']:.1e}\n"
            f"|g|~1e-8, scale 1e3 vs none:             relative gap = "
            f"{gaps['tiny_gradients']:.3g}")


# ------------------------------------------------------------------------------ the benchmark


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def format_table(result: dict) -> str:
    """A plain-text table of a result; times as "12.3 ms" (nbval's sanitizer replaces them).

    "speed-up" compares medians with FP32's and "(rounds)" is the range of the per-round
    speed-ups of an interleaved run ("-" for results stored before those); "(best)" compares the
    fastest repeats and "(CPU)" the median CPU time per step (both less disturbed when other
    jobs share the machine); memory is the peak-RSS growth during training on a CPU ("-" when
    configurations shared a process, whose peak they share too, or ran in the caller's).
    """
    memory = "GPU peak" if result["device"]["kind"] == "GPU" else "RSS growth"
    settings = result["settings"]
    shared = settings.get("share_process", False) or settings.get("in_process", False)
    lines = [f"{result['label']}  (TF {result['versions']['tensorflow']}, "
             f"Keras {result['versions']['keras']})",
             f"{'config':<16}{'policy':<16}{'XLA':<6}{'median':>10}{'min':>10}{'max':>10}"
             f"{'ex/s':>8}{'speed-up':>10}{'(rounds)':>13}{'(best)':>8}{'(CPU)':>7}"
             f"{memory:>12}{'of peak':>9}"]
    for r in speedup_rows(result):
        growth = r["memory_mb"] if memory == "GPU peak" else r["memory_growth_mb"]
        spread = ("-" if r["spread_min"] is None
                  else f"{r['spread_min']:.2f}-{r['spread_max']:.2f}x")
        lines.append(
            f"{r['config']:<16}{r['policy']:<16}{r['xla']:<6}{r['ms_median']:>7.3g} ms"
            f"{r['ms_min']:>7.3g} ms{r['ms_max']:>7.3g} ms{r['examples_per_s']:>8.0f}"
            f"{_ratio(r['speedup']):>10}{spread:>13}{_ratio(r['speedup_best']):>8}"
            f"{_ratio(r['speedup_cpu']):>7}"
            + (f"{'-':>12}" if shared else f"{growth:>9.0f} MB")
            + f"{100 * r['peak_share']:>8.1f}%")
    return "\n".join(lines)


def check_rows(result: dict) -> list[str]:
    """What each configuration really ran: policy, dtypes, whether Keras kept ``jit_compile``,
    whether XLA compiled anything, the loss-scale optimizer and the ``TF_XLA_FLAGS`` it saw.
    Deterministic for a given machine, so a notebook can compare it strictly."""
    lines = [f"{'config':<16}{'variables':<11}{'compute':<10}{'jit kept':<10}{'XLA ran':<9}"
             f"{'loss scale':<12}TF_XLA_FLAGS"]
    for run in validate_result(result)["runs"]:
        c = run["checks"]
        lines.append(f"{run['config']:<16}{c['variable_dtype']:<11}{c['compute_dtype']:<10}"
                     f"{str(c['jit_compile_kept']):<10}{str(c['xla_compiled']):<9}"
                     f"{'dynamic' if c['loss_scale_optimizer'] else '-':<12}"
                     f"{c['env'].get('TF_XLA_FLAGS', '-')}")
    return lines


def format_checks(result: dict) -> str:
    """:func:`check_rows` as one string."""
    return "\n".join(check_rows(result))


def format_stored(results) -> str:
    """Each result's :func:`format_table` and the load average around its run."""
    return "\n\n".join(
        f"{format_table(r)}\nload average before/after the run: "
        f"{r['load_average']['before']} / {r['load_average']['after']}" for r in results)


def format_post_comparison(results) -> str:
    """The post's RTX 3090 speed-ups beside each result's (``post_comparison``)."""
    lines = []
    for result in results:
        lines.append(result["label"])
        for row in post_comparison(result):
            lines.append(f"  {row['config']:<10} post (RTX 3090): {row['post_3090']:.2f}x   "
                         f"here: {row['ours']:.2f}x (best repeats {row['ours_best']:.2f}x, "
                         f"CPU time {row['ours_cpu']:.2f}x)")
    return "\n".join(lines)
