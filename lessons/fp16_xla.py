"""Lesson 05: mixed precision and XLA, measured (kexue.fm/archives/9059).

Three parts, each a handful of small functions the notebook calls:

- Number formats: the range of FP16, BF16 and FP32 from their bit layouts, what a value becomes
  after rounding to a format, and why a mask "infinity" of 1e12 and Keras's epsilon 1e-7 break FP16.
- Loss scaling: a DeepNet-style down-scaled MLP whose gradients sit below 1e-8, the share of its
  gradient entries that flush to zero in FP16 under static scales and under Keras's dynamic
  ``LossScaleOptimizer``, and Adam's invariance to a constant scale (up to its epsilon).
- The benchmark (in ``lessons.fp16_bench``): FP32, mixed precision, XLA and both, each in a fresh
  subprocess, shown here next to the post's RTX 3090 numbers and the stored results.

Run ``python -m lessons.fp16_xla benchmark --size tiny --save`` to store a result of this machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lessons.fp16_bench import (
    CONFIGS,
    POST_3090,
    SIZES,
    list_results,
    load_result,
    run_benchmark,
    save_result,
    validate_result,
)

__all__ = [
    "CONFIGS", "FORMATS", "POST_3090", "SIZES", "FloatFormat", "adam_first_step",
    "adam_scale_gap", "benchmark_explorer", "cast", "constant_report", "dynamic_loss_scale",
    "format_limits", "gradient_magnitudes", "list_results", "load_result", "main",
    "masked_logits_nan_share", "min_scale_to_keep", "post_comparison", "precision_table",
    "plot_speedups", "run_benchmark", "save_result", "speedup_matrix", "speedup_rows",
    "static_scale_sweep", "stored_results", "format_table", "underflow_threshold",
    "check_rows", "plot_gradient_histogram", "plot_zero_share",
    "validate_result",
]


# --------------------------------------------------------------------------------------------
# Number formats


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE-style binary float: sign bit, ``exponent_bits``, ``mantissa_bits`` (stored)."""

    name: str
    exponent_bits: int
    mantissa_bits: int

    @property
    def bias(self) -> int:
        return 2 ** (self.exponent_bits - 1) - 1


FORMATS = {
    "float16": FloatFormat("float16", 5, 10),
    "bfloat16": FloatFormat("bfloat16", 8, 7),
    "float32": FloatFormat("float32", 8, 23),
}


def _format(dtype: str) -> FloatFormat:
    if dtype not in FORMATS:
        raise ValueError(f"dtype must be one of {sorted(FORMATS)}, got {dtype!r}")
    return FORMATS[dtype]


def _numpy_dtype(dtype: str):
    import ml_dtypes

    _format(dtype)
    return ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)


def format_limits(dtype: str) -> dict[str, float]:
    """The limits of a format, computed from its bit layout (not looked up).

    Args:
        dtype: "float16", "bfloat16" or "float32".

    Returns:
        ``max`` (largest finite), ``smallest_normal``, ``smallest_subnormal``, ``eps`` (gap
        above 1.0) and ``decimal_digits`` (mantissa bits + 1, in decimal digits).
    """
    f = _format(dtype)
    max_exponent = 2**f.exponent_bits - 2 - f.bias  # the all-ones exponent is inf/NaN
    return {
        "max": (2.0 - 2.0 ** -f.mantissa_bits) * 2.0**max_exponent,
        "smallest_normal": 2.0 ** (1 - f.bias),
        "smallest_subnormal": 2.0 ** (1 - f.bias - f.mantissa_bits),
        "eps": 2.0 ** -f.mantissa_bits,
        "decimal_digits": (f.mantissa_bits + 1) * math.log10(2.0),
    }


def precision_table() -> list[dict[str, object]]:
    """One row per format (FP16, BF16, FP32): bit layout and :func:`format_limits`."""
    return [
        {"dtype": name, "exponent_bits": f.exponent_bits, "mantissa_bits": f.mantissa_bits,
         **format_limits(name)}
        for name, f in FORMATS.items()
    ]


def cast(values, dtype: str) -> np.ndarray:
    """``values`` rounded to ``dtype`` (round to nearest even) and returned as float64.

    BF16 is reached from float32, as TensorFlow and ml_dtypes do (so a float64 input is
    rounded twice); FP16 and FP32 are rounded once from float64.
    """
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        if dtype == "bfloat16":
            x = x.astype(np.float32)
        return x.astype(_numpy_dtype(dtype)).astype(np.float64)


def underflow_threshold(dtype: str) -> float:
    """The largest magnitude that rounds to zero in ``dtype``: half the smallest subnormal.

    Exactly half ties to the even neighbour, which is zero, so the threshold itself flushes.
    """
    return format_limits(dtype)["smallest_subnormal"] / 2.0


def min_scale_to_keep(gradient: float, dtype: str = "float16", *, normal: bool = False) -> float:
    """The smallest power of two ``s`` (>= 1) such that ``gradient * s``, rounded to ``dtype``,
    is non-zero (or normal).

    Args:
        gradient: a non-zero gradient magnitude (its sign is ignored).
        dtype: the compute format (default "float16").
        normal: if True, ask for a normal number (full precision) instead of merely non-zero.
    """
    g = abs(float(gradient))
    if not (math.isfinite(g) and g > 0):
        raise ValueError(f"gradient must be finite and non-zero, got {gradient!r}")
    limits = format_limits(dtype)
    target = limits["smallest_normal"] if normal else limits["smallest_subnormal"]
    exponent = max(0, math.ceil(math.log2(target / g)))
    # rounding to nearest can lift a value just under the target onto it: step down, then up
    while exponent > 0 and cast(g * 2.0 ** (exponent - 1), dtype) >= target:
        exponent -= 1
    while cast(g * 2.0**exponent, dtype) < target:
        exponent += 1
    return 2.0**exponent


def constant_report(values=(1e12, 1e4, 1e-4, 1e-7, 1e-8), dtypes=("float16", "bfloat16")):
    """What each constant becomes in each format: stored value, relative error and a verdict.

    Verdicts: "exact-ish" (relative error < eps), "rounded", "subnormal" (below the smallest
    normal, few significant bits left), "underflow" (becomes 0) or "overflow" (becomes inf).
    """
    rows = []
    for value in values:
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"values must be finite and positive, got {value!r}")
        for dtype in dtypes:
            limits = format_limits(dtype)
            stored = float(cast(value, dtype))
            rel = abs(stored - value) / value
            if math.isinf(stored):
                verdict = "overflow"
            elif stored == 0.0:
                verdict = "underflow"
            elif stored < limits["smallest_normal"]:
                verdict = "subnormal"
            elif rel < limits["eps"] / 2:
                verdict = "exact-ish"
            else:
                verdict = "rounded"
            rows.append({"value": value, "dtype": dtype, "stored": stored,
                         "relative_error": rel if math.isfinite(stored) else math.inf,
                         "verdict": verdict})
    return rows


def masked_logits_nan_share(infinity: float, dtype: str = "float16", length: int = 8) -> float:
    """Share of NaN entries in ``logits - (1 - mask) * infinity`` computed in ``dtype``.

    The usual attention mask. In FP16, 1e12 becomes inf and the *kept* positions compute
    ``0 * inf = NaN``; any constant FP16 can hold (such as 1e4) gives no NaN. Half the
    positions of one row of ``length`` are masked.
    """
    if length < 2:
        raise ValueError(f"length must be >= 2, got {length}")
    if not infinity > 0:
        raise ValueError(f"infinity must be > 0, got {infinity!r}")
    dt = _numpy_dtype(dtype)
    logits = np.linspace(-1.0, 1.0, length).astype(dt)
    mask = (np.arange(length) < length // 2).astype(dt)
    with np.errstate(over="ignore", invalid="ignore"):
        big = np.asarray(infinity).astype(dt)
        out = logits - (np.asarray(1.0, dt) - mask) * big
    return float(np.isnan(out.astype(np.float64)).mean())


# --------------------------------------------------------------------------------------------
# Loss scaling on a DeepNet-style down-scaled MLP


def _check_positive_int(name: str, value, low: int = 1):
    if not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def _scaled_mlp(dtype_policy: str, depth: int, width: int, init_scale: float, seed: int):
    """Dense-tanh stack whose hidden kernels have std ``init_scale / sqrt(fan_in)``.

    Each hidden layer shrinks the backward signal by about ``init_scale``, so the first layers'
    gradients end up many orders of magnitude below the last one's (DeepNet scales its
    initialisation down on purpose, with the same side effect). The output layer stays float32.
    """
    import keras

    inputs = keras.Input((64,))
    h = inputs
    for i in range(depth):
        init = keras.initializers.VarianceScaling(
            init_scale**2, "fan_in", "truncated_normal", seed=seed + i)
        h = keras.layers.Dense(width, activation="tanh", kernel_initializer=init,
                               dtype=dtype_policy, name=f"hidden_{i}")(h)
    init = keras.initializers.VarianceScaling(1.0, "fan_in", "truncated_normal", seed=seed + 997)
    outputs = keras.layers.Dense(10, kernel_initializer=init, dtype="float32", name="logits")(h)
    return keras.Model(inputs, outputs)


@dataclass
class _ScalingProblem:
    x: object
    y: object
    fp32: object  # keras.Model computing in float32
    fp16: object  # the same weights, hidden layers computing in float16
    reference: dict  # FP32 gradient per variable path


_PROBLEMS: dict[tuple, _ScalingProblem] = {}


def _problem(depth: int, width: int, init_scale: float, batch: int, seed: int) -> _ScalingProblem:
    _check_positive_int("depth", depth)
    _check_positive_int("width", width)
    _check_positive_int("batch", batch)
    if not 0.0 < init_scale <= 1.0:
        raise ValueError(f"init_scale must be in (0, 1], got {init_scale!r}")
    key = (depth, width, init_scale, batch, seed)
    if key not in _PROBLEMS:
        import tensorflow as tf

        from lessons.data import load_digits

        x, y = load_digits()
        if batch > len(x):
            raise ValueError(f"batch must be <= {len(x)}, got {batch}")
        x, y = tf.constant(x[:batch]), tf.constant(y[:batch])
        fp32 = _scaled_mlp("float32", depth, width, init_scale, seed)
        fp16 = _scaled_mlp("mixed_float16", depth, width, init_scale, seed)
        fp16.set_weights(fp32.get_weights())
        problem = _ScalingProblem(x, y, fp32, fp16, {})
        problem.reference = _gradients(problem, problem.fp32, 1.0)
        _PROBLEMS[key] = problem
    return _PROBLEMS[key]


def _gradients(problem: _ScalingProblem, model, scale: float) -> dict[str, np.ndarray]:
    """Gradient of ``scale * loss`` divided by ``scale`` in float64, per variable path."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(problem.y, model(problem.x)) * scale
    grads = tape.gradient(loss, model.trainable_variables)
    return {v.path: g.numpy().astype(np.float64) / scale
            for v, g in zip(model.trainable_variables, grads, strict=True)}


def _flat(grads: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([g.ravel() for g in grads.values()])


def gradient_magnitudes(depth: int = 8, width: int = 64, init_scale: float = 0.1,
                        batch: int = 256, seed: int = 0) -> dict[str, object]:
    """FP32 gradient magnitudes of the down-scaled MLP, per layer and overall.

    Args:
        depth: hidden layers (default 8).
        width: hidden units (default 64).
        init_scale: the down-scaling of every hidden kernel's std (default 0.1).
        batch: digits used for the gradient (default 256).
        seed: initialiser seed (default 0).

    Returns:
        ``log10_abs`` (log10 |g| of every non-zero entry), ``share_below_1e-8`` and
        ``share_flushing_fp16`` (shares of the non-zero entries below 1e-8 and at or below
        FP16's :func:`underflow_threshold`), and ``median_by_variable`` (median |g| per variable
        path, input side first).
    """
    p = _problem(depth, width, init_scale, batch, seed)
    flat = _flat(p.reference)
    g = np.abs(flat[flat != 0])
    return {
        "log10_abs": np.log10(g),
        "share_below_1e-8": float(np.mean(g < 1e-8)),
        "share_flushing_fp16": float(np.mean(g <= underflow_threshold("float16"))),
        "median_by_variable": {k: float(np.median(np.abs(v))) for k, v in p.reference.items()},
    }


def static_scale_sweep(scales=(1.0, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8), depth: int = 8,
                       width: int = 64, init_scale: float = 0.1, batch: int = 256,
                       seed: int = 0) -> list[dict[str, float]]:
    """Compute the MLP's gradient in mixed FP16 with each static loss scale, then unscale.

    Args:
        scales: positive loss-scale factors (default 1 to 1e8 by decades).
        depth, width, init_scale, batch, seed: the model, as in :func:`gradient_magnitudes`.

    Returns:
        One row per scale: ``zero_share`` (entries non-zero in FP32 that came back exactly 0),
        ``nonfinite_share`` (inf/NaN entries: the scale overflowed FP16) and
        ``median_rel_error`` (median relative error of the finite, non-zero entries) and
        ``zero_share_by_variable`` (``zero_share`` per variable path).
    """
    for s in scales:
        if not (math.isfinite(s) and s > 0):
            raise ValueError(f"scales must be finite and > 0, got {s!r}")
    p = _problem(depth, width, init_scale, batch, seed)
    ref = _flat(p.reference)
    nonzero = ref != 0
    rows = []
    for s in scales:
        by_var = _gradients(p, p.fp16, float(s))
        g = _flat(by_var)
        finite = np.isfinite(g)
        ok = nonzero & finite & (g != 0)
        rel = np.abs(g[ok] - ref[ok]) / np.abs(ref[ok])
        rows.append({
            "scale": float(s),
            "zero_share": float(np.mean(g[nonzero] == 0)),
            "nonfinite_share": float(np.mean(~finite)),
            "median_rel_error": float(np.median(rel)) if rel.size else math.nan,
            "zero_share_by_variable": {
                k: float(np.mean(v[p.reference[k] != 0] == 0)) if np.any(p.reference[k]) else 0.0
                for k, v in by_var.items()},
        })
    return rows


def dynamic_loss_scale(steps: int = 12, initial_scale: float = 2.0**15, depth: int = 8,
                       width: int = 64, init_scale: float = 0.1, batch: int = 256,
                       seed: int = 0) -> dict[str, object]:
    """Train a copy of the FP16 MLP with Keras's dynamic ``LossScaleOptimizer`` around Adam.

    The optimizer halves its scale whenever a step's gradient is not finite (and skips that
    step) and doubles it after 2,000 finite steps in a row (Keras's default).

    Args:
        steps: training steps (default 12).
        initial_scale: the optimizer's starting scale (default Keras's 2**15).
        depth, width, init_scale, batch, seed: the model, as in :func:`gradient_magnitudes`.

    Returns:
        ``scales`` (the scale used at each step), ``overflowed`` (per step: was the scaled
        gradient not finite, so the step was skipped), ``final_scale``, ``skipped`` (their count) and ``zero_share`` (as in :func:`static_scale_sweep`, for the
        initial weights at the final scale).
    """
    _check_positive_int("steps", steps)
    if not (math.isfinite(initial_scale) and initial_scale >= 1):
        raise ValueError(f"initial_scale must be finite and >= 1, got {initial_scale!r}")
    import keras
    import tensorflow as tf

    p = _problem(depth, width, init_scale, batch, seed)
    model = _scaled_mlp("mixed_float16", depth, width, init_scale, seed)
    model.set_weights(p.fp32.get_weights())
    opt = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(1e-3), initial_scale=initial_scale)
    opt.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    scales, overflowed = [], []
    for _ in range(steps):
        scale = float(opt.dynamic_scale.numpy())
        scales.append(scale)
        with tf.GradientTape() as tape:
            scaled = opt.scale_loss(loss_fn(p.y, model(p.x)))
        grads = tape.gradient(scaled, model.trainable_variables)
        overflowed.append(not all(bool(tf.reduce_all(tf.math.is_finite(g))) for g in grads))
        opt.apply(grads, model.trainable_variables)
    final = float(opt.dynamic_scale.numpy())
    row = static_scale_sweep((final,), depth, width, init_scale, batch, seed)[0]
    return {"scales": scales, "overflowed": overflowed, "final_scale": final,
            "skipped": sum(overflowed), "zero_share": row["zero_share"]}


def plot_gradient_histogram(magnitudes: dict, ax=None):
    """Histogram of log10 |g| from :func:`gradient_magnitudes` with FP16's limits marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    ax.hist(magnitudes["log10_abs"], bins=80, color="tab:blue")
    limits = format_limits("float16")
    for value, label in ((underflow_threshold("float16"), "FP16 flushes to 0 below"),
                         (limits["smallest_normal"], "FP16 smallest normal")):
        ax.axvline(math.log10(value), color="tab:red", ls="--", lw=1)
        ax.text(math.log10(value), ax.get_ylim()[1] * 0.9, " " + label, fontsize=8)
    ax.set_xlabel("log10 |gradient entry| (FP32)")
    ax.set_ylabel("entries")
    return ax


def plot_zero_share(sweep: list[dict], dynamics=(), ax=None):
    """Share of gradient entries lost (zero) or overflowed vs the static scale, log x axis;
    each :func:`dynamic_loss_scale` run is a star at the scale it ended on."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    scales = [r["scale"] for r in sweep]
    ax.semilogx(scales, [r["zero_share"] for r in sweep], "o-", label="flushed to zero")
    ax.semilogx(scales, [r["nonfinite_share"] for r in sweep], "s--", label="inf / NaN")
    for d in dynamics:
        ax.semilogx([d["final_scale"]], [d["zero_share"]], "*", ms=14,
                    label=f"dynamic, started at 2^{round(math.log2(d['scales'][0]))}")
    ax.set_xlabel("loss scale")
    ax.set_ylabel("share of gradient entries")
    ax.legend(fontsize=8)
    return ax


# --------------------------------------------------------------------------------------------
# Adam and a constant loss scale


def adam_first_step(gradient: float, scale: float = 1.0, epsilon: float = 1e-7,
                    learning_rate: float = 1e-3, beta_2: float = 0.999) -> float:
    """Closed form of Keras Adam's first update for a gradient ``scale * gradient``.

    Keras divides by ``sqrt(v) + epsilon`` with the *uncorrected* ``v = (1 - beta_2) g^2``, so
    the first step is ``lr * c g / (|c g| + epsilon / sqrt(1 - beta_2))``: a constant scale ``c``
    cancels unless epsilon is comparable to ``|c g| sqrt(1 - beta_2)``.
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and > 0, got {scale!r}")
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    if not 0.0 <= beta_2 < 1.0:
        raise ValueError(f"beta_2 must be in [0, 1), got {beta_2!r}")
    g = scale * gradient
    if g == 0:
        return 0.0
    return learning_rate * g / (abs(g) + epsilon / math.sqrt(1.0 - beta_2))


def adam_scale_gap(scale: float, epsilon: float = 1e-7, steps: int = 5,
                   gradient_size: float = 1e-3, shape=(64,), seed: int = 0, *,
                   rescale_epsilon: bool = False) -> dict[str, float]:
    """Run Keras Adam on the same gradient stream, once as is and once multiplied by ``scale``.

    Multiplying every gradient by ``c`` multiplies ``m`` by ``c`` and ``sqrt(v)`` by ``c``, so
    the update is that of Adam with epsilon ``epsilon / c`` on the unscaled stream: exactly
    invariant only when epsilon is negligible against ``sqrt(v)``.

    Args:
        scale: the constant loss scale (> 0).
        epsilon: Adam's epsilon (default Keras's 1e-7).
        steps: updates (default 5).
        gradient_size: typical |g| of the stream (default 1e-3).
        shape: parameter shape (default (64,)).
        seed: NumPy seed of the gradient stream (default 0).
        rescale_epsilon: give the unscaled run epsilon / scale (default False): the identity
            above, which must then hold to float rounding.

    Returns:
        ``max_abs_diff`` between the two parameter trajectories' end points, ``max_abs_update``
        (the unscaled run's total movement, for scale) and ``relative_gap`` = their ratio.
    """
    _check_positive_int("steps", steps)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and > 0, got {scale!r}")
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    if not gradient_size > 0:
        raise ValueError(f"gradient_size must be > 0, got {gradient_size!r}")
    import keras

    rng = np.random.default_rng(seed)
    grads = (gradient_size * rng.standard_normal((steps, *shape))).astype(np.float32)
    start = rng.standard_normal(shape).astype(np.float32)
    ends = []
    for c, eps in ((1.0, epsilon / scale if rescale_epsilon else epsilon), (scale, epsilon)):
        var = keras.Variable(start, dtype="float32")
        opt = keras.optimizers.Adam(1e-3, epsilon=eps)
        for g in grads:
            opt.apply([keras.ops.convert_to_tensor(g * np.float32(c))], [var])
        ends.append(np.asarray(var.numpy(), np.float64))
    diff = float(np.max(np.abs(ends[0] - ends[1])))
    moved = float(np.max(np.abs(ends[0] - start)))
    return {"max_abs_diff": diff, "max_abs_update": moved, "relative_gap": diff / moved}


# --------------------------------------------------------------------------------------------
# Benchmark results: tables, the post's numbers, a chart and a widget


def speedup_rows(result: dict) -> list[dict[str, object]]:
    """One flat row per configuration of a (validated) benchmark result, in run order."""
    rows = []
    for run in validate_result(result)["runs"]:
        t, c = run["ms_per_step"], run["checks"]
        rows.append({
            "config": run["config"], "policy": run["policy"],
            "xla": "jit" if c["jit_compile_kept"] else ("auto" if c["xla_compiled"] else "-"),
            "xla_compiled": c["xla_compiled"], "ms_median": t["median"], "ms_min": t["min"],
            "ms_max": t["max"], "examples_per_s": run["examples_per_s"],
            "speedup": run["speedup"], "speedup_best": run["speedup_best"],
            "speedup_cpu": run["speedup_cpu"], "cpu_ms_median": run["cpu_ms_per_step"]["median"],
            "memory_mb": run["memory_mb"],
            "memory_growth_mb": run["memory_growth_mb"], "peak_share": run["peak_share"],
        })
    return rows


def format_table(result: dict) -> str:
    """A plain-text table of a result; times as "12.3 ms" (nbval's sanitizer replaces them).

    "speed-up" compares medians with FP32's, "(best)" the fastest repeats and "(CPU)" the median
    CPU time per step (both less disturbed when other jobs share the machine); memory is the
    peak-RSS growth during training on a CPU.
    """
    memory = "GPU peak" if result["device"]["kind"] == "GPU" else "RSS growth"
    lines = [f"{result['label']}  (TF {result['versions']['tensorflow']}, "
             f"Keras {result['versions']['keras']})",
             f"{'config':<16}{'policy':<16}{'XLA':<6}{'median':>10}{'min':>10}{'max':>10}"
             f"{'ex/s':>8}{'speed-up':>10}{'(best)':>8}{'(CPU)':>7}{memory:>12}{'of peak':>9}"]
    for r in speedup_rows(result):
        growth = r["memory_mb"] if memory == "GPU peak" else r["memory_growth_mb"]
        speed, best, cpu = ("-" if r[k] is None else f"{r[k]:.2f}x"
                            for k in ("speedup", "speedup_best", "speedup_cpu"))
        lines.append(
            f"{r['config']:<16}{r['policy']:<16}{r['xla']:<6}{r['ms_median']:>7.3g} ms"
            f"{r['ms_min']:>7.3g} ms{r['ms_max']:>7.3g} ms{r['examples_per_s']:>8.0f}"
            f"{speed:>10}{best:>8}{cpu:>7}{growth:>9.0f} MB{100 * r['peak_share']:>8.1f}%")
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


def post_comparison(result: dict) -> list[dict[str, object]]:
    """The post's RTX 3090 speed-ups beside this result's (by medians, ``ours``; by best
    repeats, ``ours_best``; by CPU time, ``ours_cpu``), for the configurations both have."""
    rows = {r["config"]: r for r in speedup_rows(result)}
    return [{"config": c, "post_3090": post, "ours": rows[c]["speedup"],
             "ours_best": rows[c]["speedup_best"], "ours_cpu": rows[c]["speedup_cpu"]}
            for c, post in POST_3090.items() if c in rows and rows[c]["speedup"] is not None]


def speedup_matrix(results) -> tuple[list[str], list[str], np.ndarray]:
    """Configurations x sources of speed-up over FP32: the post's 3090 first, then each result.

    Returns ``(configs, labels, matrix)`` with ``matrix[i, j]`` the speed-up of ``configs[i]``
    in source ``labels[j]`` (NaN where a source lacks that configuration).
    """
    results = [validate_result(r) for r in results]
    configs = [c for c in CONFIGS if c != "fp32" and (
        c in POST_3090 or any(run["config"] == c for r in results for run in r["runs"]))]
    labels = ["post: RTX 3090 (TF 1.15)"] + [r["label"] for r in results]
    matrix = np.full((len(configs), len(labels)), np.nan)
    for i, c in enumerate(configs):
        matrix[i, 0] = POST_3090.get(c, np.nan)
        for j, r in enumerate(results, start=1):
            for run in r["runs"]:
                if run["config"] == c and run["speedup"] is not None:
                    matrix[i, j] = run["speedup"]
    return configs, labels, matrix


def plot_speedups(results, ax=None):
    """Grouped bars of :func:`speedup_matrix`; the dashed line is FP32 (1.0x)."""
    import matplotlib.pyplot as plt

    configs, labels, matrix = speedup_matrix(results)
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, 3.6))
    width = 0.8 / len(labels)
    x = np.arange(len(configs))
    for j, label in enumerate(labels):
        ax.bar(x + (j - (len(labels) - 1) / 2) * width, matrix[:, j], width, label=label)
    ax.axhline(1.0, color="k", ls="--", lw=1)
    ax.set_xticks(x, configs, rotation=20)
    ax.set_ylabel("speed-up over FP32")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def stored_results(size: str | None = None) -> list[dict]:
    """Every stored result under ``lessons/results`` (validated), optionally of one size."""
    if size is not None and size not in SIZES:
        raise ValueError(f"size must be one of {list(SIZES)} or None, got {size!r}")
    results = [load_result(p) for p in list_results()]
    return [r for r in results if size is None or r["size"] == size]


def benchmark_explorer(runner=None, default_configs=("fp32", "mixed"), default_size="tiny"):
    """A widget: pick configurations, a size and the timed steps, press Run, get the table.

    Args:
        runner: called as ``runner(configs, size=..., steps=..., repeats=..., warmup=...)``
            and must return a result dict (default :func:`run_benchmark`).
        default_configs: initially selected configurations (default FP32 and mixed).
        default_size: initially selected size (default "tiny").

    Returns:
        An ``ipywidgets.VBox``; its ``run_button.click()`` runs, and ``state["result"]``
        holds the last result. Nothing runs until the button is pressed.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt

    if default_size not in SIZES:
        raise ValueError(f"default_size must be one of {list(SIZES)}, got {default_size!r}")
    runner = run_benchmark if runner is None else runner
    configs = w.SelectMultiple(options=list(CONFIGS), value=tuple(default_configs),
                               rows=len(CONFIGS), description="configs")
    size = w.Dropdown(options=list(SIZES), value=default_size, description="size")
    steps = w.IntSlider(value=5, min=1, max=50, description="timed steps")
    button = w.Button(description="Run", button_style="primary")
    out = w.Output()
    box = w.VBox([w.HBox([configs, w.VBox([size, steps, button])]), out])
    box.state = {"result": None}
    box.configs, box.size, box.steps, box.run_button, box.output = configs, size, steps, button, out

    def run(_=None):
        out.clear_output()
        with out:
            if not configs.value:
                print("pick at least one configuration")
                return
            result = runner(list(configs.value), size=size.value, steps=steps.value,
                            repeats=3, warmup=2)
            box.state["result"] = result
            print(format_table(result))
            if any(r["speedup"] is not None for r in result["runs"]):
                plot_speedups([result])
                plt.show()

    button.on_click(run)
    return box


# --------------------------------------------------------------------------------------------
# Command line


def main(argv=None) -> int:
    """``python -m lessons.fp16_xla benchmark [--size tiny] [--configs main|all|a,b] [--save]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lessons.fp16_xla",
                                     description="Lesson 05's mixed precision / XLA benchmark.")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("benchmark", help="time training steps, one subprocess per config")
    bench.add_argument("--size", choices=list(SIZES), default="tiny")
    bench.add_argument("--configs", default="all",
                       help=f"'main' (the four), 'all', or names from {','.join(CONFIGS)}")
    bench.add_argument("--steps", type=int, default=10)
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--warmup", type=int, default=2)
    bench.add_argument("--verbatim-flags", action="store_true",
                       help="run the post's TF_XLA_FLAGS as is (on a CPU they then do nothing)")
    bench.add_argument("--save", action="store_true", help="write JSON under lessons/results")
    bench.add_argument("--out", default=None, help="directory for --save (default lessons/results)")
    args = parser.parse_args(argv)

    from lessons.fp16_bench import MAIN_CONFIGS

    names = {"main": list(MAIN_CONFIGS), "all": list(CONFIGS)}.get(
        args.configs, [c.strip() for c in args.configs.split(",") if c.strip()])
    result = run_benchmark(names, size=args.size, steps=args.steps, repeats=args.repeats,
                           warmup=args.warmup, cpu_global_jit=not args.verbatim_flags)
    print(format_table(result))
    print(f"load average before/after: {result['load_average']['before']} / "
          f"{result['load_average']['after']}")
    if args.save:
        print(f"saved {save_result(result, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
