"""Lesson 05: mixed precision and XLA, measured (kexue.fm/archives/9059).

Three parts, each a handful of small functions the notebook calls:

- Number formats: the range of FP16, BF16 and FP32 from their bit layouts, what a value becomes
  after rounding to a format, and why a mask "infinity" of 1e12 and Keras's epsilon 1e-7 break FP16.
- Loss scaling: a DeepNet-style down-scaled MLP whose gradients sit below 1e-8, the share of its
  gradient entries that flush to zero in FP16 under static scales and under Keras's dynamic
  ``LossScaleOptimizer``, and Adam's invariance to a constant scale (up to its epsilon).
- The benchmark (in ``lessons.fp16_bench``): FP32, mixed precision, XLA and both, each in a fresh
  subprocess, shown here next to the post's RTX 3090 numbers and the stored results.
- Claim checks (``check_*_claims``): what the notebook says about each result, as bands
  measured over seeds and emulated CPUs (see ``lessons.claims``), so that cells whose digits
  depend on the CPU are checked by what they claim rather than by their digits.

Every experiment takes ``seed=None`` and then uses the course seed (``lessons.setup(seed)``).
Run ``python -m lessons.fp16_xla benchmark --size tiny --save`` to store a result of this machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lessons.claims import Claim, check
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
from lessons.notebook import course_seed

__all__ = [
    "CONFIGS", "FORMATS", "POST_3090", "REFERENCE_CPU", "SIZES", "FloatFormat", "adam_claims",
    "adam_first_step", "adam_scale_gap", "adam_scale_study", "benchmark_explorer", "cast",
    "check_adam_claims", "check_gradient_claims", "check_live_claims",
    "check_output_kernel_claims", "check_rows", "check_scaling_claims", "check_verdict_claims",
    "config_mismatches", "constant_report", "dynamic_loss_scale", "expected_checks",
    "format_limits", "format_table", "gradient_claims", "gradient_magnitudes", "list_results",
    "live_claims", "load_result", "main", "masked_logits_nan_share", "min_scale_to_keep",
    "output_kernel_claims", "plot_gradient_histogram", "plot_speedups", "plot_zero_share",
    "post_comparison", "precision_table", "reference_results", "run_benchmark", "save_result",
    "scaling_claims", "scaling_table", "speedup_matrix", "speedup_rows", "static_scale_sweep",
    "stored_results", "underflow_threshold", "validate_result", "verdict_claims",
    "zeros_by_variable",
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


def _problem(depth: int, width: int, init_scale: float, batch: int,
             seed: int | None) -> _ScalingProblem:
    seed = course_seed(seed)
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
                        batch: int = 256, seed: int | None = None) -> dict[str, object]:
    """FP32 gradient magnitudes of the down-scaled MLP, per layer and overall.

    Args:
        depth: hidden layers (default 8).
        width: hidden units (default 64).
        init_scale: the down-scaling of every hidden kernel's std (default 0.1).
        batch: digits used for the gradient (default 256).
        seed: initialiser seed (default: the course seed, :func:`lessons.notebook.course_seed`).

    Returns:
        ``log10_abs`` (log10 |g| of every non-zero entry), ``share_below_1e-8`` and
        ``share_flushing_fp16`` (shares of the non-zero entries below 1e-8 and at or below
        FP16's :func:`underflow_threshold`), ``median_by_variable`` (median |g| per variable
        path, input side first), ``shrink_per_layer`` (geometric mean over the hidden layers
        of the ratio of a layer's median bias gradient to the next one's: a bias's gradient is
        the backward signal reaching that layer, so this is how much each layer shrinks it),
        ``last_hidden_median`` (median |activation| of the last hidden layer in FP32)
        and ``last_hidden_zero_share_fp16`` (share of that activation that is exactly 0 in the
        model whose hidden layers compute in FP16).
    """
    import keras

    p = _problem(depth, width, init_scale, batch, seed)
    flat = _flat(p.reference)
    g = np.abs(flat[flat != 0])
    medians = {k: float(np.median(np.abs(v))) for k, v in p.reference.items()}
    signal = [medians[f"hidden_{i}/bias"] for i in range(depth)]  # a bias's gradient is the
    shrink = (math.exp(np.mean(np.log(np.array(signal[:-1]) / signal[1:])))  # backward signal
              if depth > 1 else math.nan)
    last = {}
    for name, model in (("fp32", p.fp32), ("fp16", p.fp16)):
        probe = keras.Model(model.inputs, model.get_layer(f"hidden_{depth - 1}").output)
        last[name] = np.asarray(probe(p.x), np.float64)
    return {
        "log10_abs": np.log10(g),
        "share_below_1e-8": float(np.mean(g < 1e-8)),
        "share_flushing_fp16": float(np.mean(g <= underflow_threshold("float16"))),
        "median_by_variable": medians,
        "shrink_per_layer": shrink,
        "last_hidden_median": float(np.median(np.abs(last["fp32"]))),
        "last_hidden_zero_share_fp16": float(np.mean(last["fp16"] == 0)),
    }


def static_scale_sweep(scales=(1.0, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8), depth: int = 8,
                       width: int = 64, init_scale: float = 0.1, batch: int = 256,
                       seed: int | None = None) -> list[dict[str, float]]:
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
                       seed: int | None = None) -> dict[str, object]:
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

    seed = course_seed(seed)
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


def scaling_table(sweep: list[dict], dynamics=()) -> str:
    """The static sweep as a table (scale, zero share, inf/NaN share, median relative error),
    then one line per :func:`dynamic_loss_scale` run."""
    lines = [f"{'scale':>8}{'zero':>8}{'inf/NaN':>9}{'median rel. error':>19}"]
    for r in sweep:
        lines.append(f"{r['scale']:>8.0e}{r['zero_share']:>8.1%}{r['nonfinite_share']:>9.1%}"
                     f"{r['median_rel_error']:>19.2g}")
    for d in dynamics:
        lines.append(f"dynamic from {d['scales'][0]:.3g}: settled at {d['final_scale']:.3g} "
                     f"after skipping {d['skipped']} steps, zero share {d['zero_share']:.1%}")
    return "\n".join(lines)


def zeros_by_variable(sweep: list[dict], scale: float = 1e6) -> dict[str, float]:
    """At ``scale`` (a scale of ``sweep``): the zero share of the output kernel
    (``logits/kernel``) and the largest zero share among all other variables."""
    rows = {r["scale"]: r for r in sweep}
    if scale not in rows:
        raise ValueError(f"scale must be one of the sweep's scales {sorted(rows)}, got {scale!r}")
    by_variable = rows[scale]["zero_share_by_variable"]
    return {"scale": scale, "logits/kernel": by_variable["logits/kernel"],
            "largest elsewhere": max(v for k, v in by_variable.items() if k != "logits/kernel")}


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
                   gradient_size: float = 1e-3, shape=(64,), seed: int | None = None, *,
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
        seed: NumPy seed of the gradient stream (default: the course seed).
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

    rng = np.random.default_rng(course_seed(seed))
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


def adam_scale_study(scale: float = 1e3, seed: int | None = None) -> dict[str, float]:
    """The three :func:`adam_scale_gap` runs the notebook shows, as relative gaps.

    Args:
        scale: the constant loss scale (default 1e3).
        seed: seed of the gradient streams (default: the course seed).

    Returns:
        ``no_epsilon`` (|g| ~ 1e-3, epsilon 0: the scale cancels), ``epsilon_divided``
        (|g| ~ 1e-8; the unscaled run uses epsilon / scale: the identity) and ``tiny_gradients``
        (|g| ~ 1e-8, both with Keras's epsilon 1e-7: the scale changes the steps).
    """
    seed = course_seed(seed)
    return {
        "no_epsilon": adam_scale_gap(scale, epsilon=0.0, seed=seed)["relative_gap"],
        "epsilon_divided": adam_scale_gap(scale, epsilon=1e-7, gradient_size=1e-8, seed=seed,
                                          rescale_epsilon=True)["relative_gap"],
        "tiny_gradients": adam_scale_gap(scale, epsilon=1e-7, gradient_size=1e-8,
                                         seed=seed)["relative_gap"],
    }


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
    peak-RSS growth during training on a CPU ("-" when configurations shared a process, whose
    peak they share too).
    """
    memory = "GPU peak" if result["device"]["kind"] == "GPU" else "RSS growth"
    shared = result["settings"].get("share_process", False)
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
            f"{speed:>10}{best:>8}{cpu:>7}"
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


def stored_results(size: str | None = None, directory=None) -> list[dict]:
    """Every stored result (validated), optionally of one size.

    Args:
        size: a key of :data:`SIZES`, or None for all (default).
        directory: where to look (default ``lessons/results``).
    """
    if size is not None and size not in SIZES:
        raise ValueError(f"size must be one of {list(SIZES)} or None, got {size!r}")
    results = [load_result(p) for p in list_results(directory)]
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
# Claim checks: what the notebook says about each result, with bands measured over seeds and CPUs
#
# Bands come from runs under seeds 0, 1, 2 and 7, each natively (AVX-512), with
# ONEDNN_MAX_CPU_ISA=AVX2 and with ONEDNN_MAX_CPU_ISA=SSE41 TF_NUM_INTRAOP_THREADS=1; the measured
# spread (min..max over those 12 runs) is noted beside each band.


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


def expected_checks(config: str, on_gpu: bool = False) -> dict[str, object]:
    """What a run of ``config`` must report in its ``checks``: variable, compute and logits
    dtypes, the loss-scale optimizer, Keras keeping ``jit_compile`` as asked, and whether XLA
    compiled (on a CPU the auto-clustering configurations get ``--tf_xla_cpu_global_jit``)."""
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {list(CONFIGS)}, got {config!r}")
    c = CONFIGS[config]
    compute = {"float32": "float32", "float16": "float16",
               "mixed": "float16" if on_gpu else "bfloat16"}[c.precision]
    return {"variable_dtype": "float32", "compute_dtype": compute,
            "loss_scale_optimizer": compute == "float16", "jit_compile_kept": c.jit_compile,
            "xla_compiled": c.jit_compile or bool(c.tf_xla_flags)}


def config_mismatches(result: dict) -> list[str]:
    """Every way the runs of a result differ from :func:`expected_checks` ("config: field")."""
    on_gpu = result["device"]["kind"] == "GPU"
    if not result["settings"].get("cpu_global_jit", True) and not on_gpu:
        raise ValueError("result ran the post's flags verbatim: auto-clustering is expected "
                         "to do nothing on a CPU, so expected_checks does not apply")
    bad = []
    for run in result["runs"]:
        for key, want in expected_checks(run["config"], on_gpu).items():
            if run["checks"].get(key) != want:
                bad.append(f"{run['config']}: {key}")
    return bad


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


REFERENCE_CPU = ("CPU", "AMD EPYC", 2)  # the machine the shipped results were stored on


def reference_results(results) -> dict[str, dict]:
    """The stored results of :data:`REFERENCE_CPU` by size (the verdict's evidence)."""
    out = {}
    for r in results:
        d = r["device"]
        if (d["kind"], d["cpu"], d["cores"]) == REFERENCE_CPU:
            out.setdefault(r["size"], r)
    return out


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


# --------------------------------------------------------------------------------------------
# Command line


def main(argv=None) -> int:
    """``python -m lessons.fp16_xla benchmark [--size tiny] [--configs main|all|a,b] [--save]``
    (``--help`` lists the rest)."""
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
    bench.add_argument("--share-process", action="store_true",
                       help="one subprocess for configurations with the same environment")
    bench.add_argument("--seed", type=int, default=None, help="initialisation seed (default 0)")
    bench.add_argument("--save", action="store_true", help="write JSON under lessons/results")
    bench.add_argument("--out", default=None, help="directory for --save (default lessons/results)")
    args = parser.parse_args(argv)

    from lessons.fp16_bench import MAIN_CONFIGS

    names = {"main": list(MAIN_CONFIGS), "all": list(CONFIGS)}.get(
        args.configs, [c.strip() for c in args.configs.split(",") if c.strip()])
    result = run_benchmark(names, size=args.size, steps=args.steps, repeats=args.repeats,
                           warmup=args.warmup, cpu_global_jit=not args.verbatim_flags,
                           share_process=args.share_process, seed=args.seed)
    print(format_table(result))
    print(f"load average before/after: {result['load_average']['before']} / "
          f"{result['load_average']['after']}")
    if args.save:
        print(f"saved {save_result(result, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
