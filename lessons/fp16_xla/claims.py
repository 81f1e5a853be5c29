"""Lesson 05's claim checks: what the notebook says about each result, as bands.

Each ``*_claims`` function builds the :class:`~lessons._core.claims.Claim` list for one result and
each ``check_*_claims`` prints one stable line per claim and raises ``ClaimFailed`` if one fails,
so that the cells whose digits depend on the CPU are checked by what they claim.

Bands of the live experiments come from runs under seeds 0, 1, 2 and 7, each natively (AVX-512),
with ONEDNN_MAX_CPU_ISA=AVX2 and with ONEDNN_MAX_CPU_ISA=SSE41 TF_NUM_INTRAOP_THREADS=1; the
measured spread (min..max over those 12 runs) is noted beside each band. The verdict's claims read
the stored benchmark results, so they hold on any machine until someone stores new results.
"""

from __future__ import annotations

import math

from lessons._core.claims import Claim, check
from lessons.fp16_xla.bench.compare import config_mismatches, reference_results
from lessons.fp16_xla.bench.configs import expected_checks
from lessons.fp16_xla.bench.schema import validate_result
from lessons.fp16_xla.loss_scaling import zeros_by_variable

__all__ = ["adam_claims", "check_adam_claims", "check_gradient_claims", "check_live_claims",
           "check_output_kernel_claims", "check_scaling_claims", "check_verdict_claims",
           "gradient_claims", "live_claims", "output_kernel_claims", "scaling_claims",
           "verdict_claims"]


def gradient_claims(magnitudes: dict) -> list[Claim]:
    """What the notebook says about :func:`gradient_magnitudes` (default model)."""
    m = magnitudes
    return [
        # spread 98.95% .. 99.02%
        Claim("most gradient entries of the down-scaled MLP are below 1e-8",
              m["share_below_1e-8"], at_least=0.95, unit="%"),
        # spread 99.07% .. 99.10%
        Claim("rounding the FP32 gradient to FP16 would flush most entries to zero",
              m["share_flushing_fp16"], at_least=0.95, unit="%"),
        # spread 9.4 .. 10.2
        Claim("each hidden layer shrinks the backward signal about tenfold (factor)",
              1.0 / m["shrink_per_layer"], at_least=7.0, at_most=14.0, digits=0),
    ]


def check_gradient_claims(magnitudes: dict) -> None:
    """Check :func:`gradient_claims`; print one line each; raise ``ClaimFailed`` if one fails."""
    check(gradient_claims(magnitudes))


def _by_scale(sweep: list[dict]) -> dict[float, dict]:
    rows = {r["scale"]: r for r in sweep}
    missing = {1.0, 1e2, 1e3, 1e7, 1e8} - set(rows)
    if missing:
        raise ValueError(f"sweep must include the scales 1, 1e2, 1e3, 1e7 and 1e8; "
                         f"missing {sorted(missing)}")
    return rows


def scaling_claims(sweep: list[dict], dynamics: list[dict]) -> list[Claim]:
    """What the notebook says about :func:`static_scale_sweep` (default scales) and the two
    :func:`dynamic_loss_scale` runs (Keras's default start, then ``initial_scale=2**30``)."""
    rows = _by_scale(sweep)
    if len(dynamics) != 2:
        raise ValueError(f"dynamics must be the two runs (default start, 2**30), got {len(dynamics)}")
    default, high = dynamics
    mid = [r for s, r in rows.items() if 1e3 <= s <= 1e7]
    best = min(r["zero_share"] for r in sweep)
    return [
        # spread 99.02% .. 99.04%
        Claim("without scaling about 99% of the gradient is lost",
              rows[1.0]["zero_share"], at_least=0.97, unit="%"),
        # spread 40.3% .. 44.1%
        Claim("x100 keeps most of it (zero share)", rows[1e2]["zero_share"],
              at_most=0.5, unit="%"),
        # spread 6.6% .. 7.2% (at x1e3; the rest are smaller)
        Claim("x1e3 to x1e7 keep nearly all of it (largest zero share)",
              max(r["zero_share"] for r in mid), at_most=0.1, unit="%"),
        # spread 0 .. 0
        Claim("no scale up to x1e7 overflows (inf/NaN share)",
              max(r["nonfinite_share"] for s, r in rows.items() if s <= 1e7), at_most=0.0,
              unit="%"),
        # spread 95.4% .. 96.6%
        Claim("x1e8 overflows almost every entry (inf/NaN share)",
              rows[1e8]["nonfinite_share"], at_least=0.9, unit="%"),
        # spread 1.92% .. 1.92% (the output kernel, 640 of the entries: see below)
        Claim("about 2% of the entries stay zero at every scale (smallest zero share)",
              best, at_least=0.01, at_most=0.03, unit="%"),
        # spread 0 .. 0
        Claim("Keras's default dynamic scale skips no step here", default["skipped"],
              at_most=0, digits=0),
        # spread 1 .. 1
        Claim("and stays at 2^15 (final scale / 2^15)", default["final_scale"] / 2.0**15,
              at_least=1.0, at_most=1.0, digits=0),
        # spread 0.31 .. 0.39 points
        Claim("the default dynamic scale loses at most 1 point more than the best static one",
              default["zero_share"] - best, at_most=0.01, unit="%", digits=0),
        # spread 5 .. 6 skipped
        Claim("started at 2^30 it halves its way down within a few skipped steps",
              high["skipped"], at_least=3, at_most=9, digits=0),
        # spread 7.2 .. 7.5 (2^24 .. 2^25)
        Claim("and settles between x1e6 and x1e8 (log10 of the final scale)",
              math.log10(high["final_scale"]), at_least=6.0, at_most=8.0, digits=1),
    ]


def check_scaling_claims(sweep: list[dict], dynamics: list[dict]) -> None:
    """Check :func:`scaling_claims`; print one line each; raise ``ClaimFailed`` if one fails."""
    check(scaling_claims(sweep, dynamics))


def output_kernel_claims(sweep: list[dict], magnitudes: dict) -> list[Claim]:
    """What the notebook says about the zeros left at a large scale (from
    :func:`zeros_by_variable` at 1e6) and the last hidden activation (from
    :func:`gradient_magnitudes`)."""
    zeros = zeros_by_variable(sweep, 1e6)
    return [
        # spread 100% .. 100%
        Claim("at x1e6 the output kernel's gradient is (almost) all zero",
              zeros["logits/kernel"], at_least=0.99, unit="%"),
        # spread 0.02% .. 0.17%
        Claim("and every other variable's is (almost) all kept (largest zero share)",
              zeros["largest elsewhere"], at_most=0.01, unit="%"),
        # spread -8.61 .. -8.43
        Claim("the last hidden activation is between 1e-9 and 1e-8 in FP32 "
              "(log10 of its median |value|)",
              math.log10(magnitudes["last_hidden_median"]), at_least=-9.0, at_most=-8.0,
              digits=0),
        # spread 100% .. 100%
        Claim("and (almost) all zero in the FP16 forward pass",
              magnitudes["last_hidden_zero_share_fp16"], at_least=0.95, unit="%"),
    ]


def check_output_kernel_claims(sweep: list[dict], magnitudes: dict) -> None:
    """Check :func:`output_kernel_claims`; print one line each; raise ``ClaimFailed``."""
    check(output_kernel_claims(sweep, magnitudes))


def adam_claims(gaps: dict) -> list[Claim]:
    """What the notebook says about :func:`adam_scale_study`'s three relative gaps."""
    return [
        # spread 0 .. 0
        Claim("without epsilon a constant scale leaves Adam unchanged (relative gap)",
              gaps["no_epsilon"], at_most=1e-6, digits=6),
        # spread 0 .. 9.5e-7
        Claim("scaling by c is Adam with epsilon / c (relative gap)",
              gaps["epsilon_divided"], at_most=1e-5, digits=5),
        # spread 111 .. 160 (the seed's gradient stream; the CPU changes nothing)
        Claim("with |g| ~ 1e-8, a scale of 1e3 changes Adam's steps many times over "
              "(relative gap)", gaps["tiny_gradients"], at_least=50, digits=0),
    ]


def check_adam_claims(gaps: dict) -> None:
    """Check :func:`adam_claims`; print one line each; raise ``ClaimFailed`` if one fails."""
    check(adam_claims(gaps))


def live_claims(result: dict) -> list[Claim]:
    """What the notebook says about a live benchmark: each configuration is what its name says
    and it trained; nothing about its speed (timings on a shared machine swing too much)."""
    runs = validate_result(result)["runs"]
    bad = config_mismatches(result)
    xla = [r for r in runs if expected_checks(r["config"])["xla_compiled"]]
    trained = [r for r in runs if math.isfinite(r["final_loss"])
               and r["ms_per_step"]["min"] > 0]
    return [
        Claim("every configuration ran with the dtypes, loss scaling and XLA its name says "
              "(mismatches)", len(bad), at_most=0, digits=0),
        Claim("the configurations with XLA compiled their training step (share)",
              sum(r["checks"]["xla_compiled"] for r in xla) / len(xla) if xla else 1.0,
              at_least=1.0, unit="%"),
        Claim("every configuration trained: finite loss, measured step times (share)",
              len(trained) / len(runs), at_least=1.0, unit="%"),
    ]


def check_live_claims(result: dict) -> None:
    """Check :func:`live_claims`; print one line each; raise ``ClaimFailed`` if one fails."""
    check(live_claims(result))


def verdict_claims(results) -> list[Claim]:
    """The notebook's verdict on the stored CPU benchmark (sizes small and tiny). These read
    stored JSON, so they hold on any machine until someone stores new results."""
    by_size = reference_results(results)
    if not {"small", "tiny"} <= set(by_size):
        raise ValueError("results must include the reference CPU's small and tiny results")
    speed = {size: {run["config"]: run["speedup"] for run in r["runs"]}
             for size, r in by_size.items()}
    grow = {size: {run["config"]: run["memory_growth_mb"] for run in r["runs"]}
            for size, r in by_size.items()}
    small, tiny = speed["small"], speed["tiny"]
    return [
        Claim("BF16 helps at small, about 1.2x", small["mixed"], at_least=1.1, at_most=1.3,
              unit="x"),
        Claim("BF16 is slower at tiny, about 0.8x", tiny["mixed"], at_least=0.7, at_most=0.9,
              unit="x"),
        Claim("jit_compile=True gives about 1.3x at both sizes (the smaller)",
              min(small["xla"], tiny["xla"]), at_least=1.2, at_most=1.4, unit="x"),
        Claim("--tf_xla_auto_jit=1 (+ cpu global jit) does about as well (the smaller)",
              min(small["autojit"], tiny["autojit"]), at_least=1.2, at_most=1.4, unit="x"),
        Claim("the 'fusible' variant gives nothing (the larger)",
              max(small["autojit-fusible"], tiny["autojit-fusible"]), at_most=1.05, unit="x"),
        Claim("XLA's peak RSS grows about 200 MB more than FP32's at small (MB)",
              grow["small"]["xla"] - grow["small"]["fp32"], at_least=150, at_most=250,
              digits=0),
        Claim("BF16 and XLA do not stack: both together are about 1.0x (the larger)",
              max(small["mixed+xla"], tiny["mixed+xla"]), at_least=0.95, at_most=1.1,
              unit="x"),
        Claim("and slower than XLA alone (largest difference)",
              max(small["mixed+xla"] - small["xla"], tiny["mixed+xla"] - tiny["xla"]),
              at_most=0.0, unit="x"),
        Claim("mixed precision does not offset XLA's extra memory (smallest extra MB of "
              "mixed+xla over xla)",
              min(g["mixed+xla"] - g["xla"] for g in grow.values()), at_least=0.0, digits=0),
        Claim("FP16 is slow on a CPU, about 0.6-0.8x (the larger)",
              max(small["fp16"], tiny["fp16"]), at_most=0.85, unit="x"),
        Claim("FP16 is slow on a CPU, about 0.6-0.8x (the smaller)",
              min(small["fp16"], tiny["fp16"]), at_least=0.55, unit="x"),
    ]


def check_verdict_claims(results) -> None:
    """Check :func:`verdict_claims`; print one line each; raise ``ClaimFailed`` if one fails."""
    check(verdict_claims(results))
