"""Loss scaling on a DeepNet-style down-scaled MLP whose gradients sit below FP16's floor.

:func:`scaled_gradients` is the loss-scaling step the notebook shows: multiply the loss by a
scale, let the gradient flow back through FP16, divide the scale out again. Around it:
:func:`gradient_magnitudes` (how small the FP32 gradient is), :func:`static_scale_sweep` (what a
static scale keeps), :func:`dynamic_loss_scale` (Keras's ``LossScaleOptimizer`` training the FP16
copy) and :func:`zeros_by_variable` (where the zeros that no scale rescues sit).

The last part is Adam and a constant scale: :func:`adam_first_step` (the closed form of Keras
Adam's first update), :func:`adam_scale_gap` and :func:`adam_scale_study` (Keras's Adam run with
and without the scale).

Every experiment takes ``seed=None`` and then uses the course seed (``lessons.setup(seed)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lessons._core.checks import integer, number
from lessons._core.notebook import course_seed
from lessons.fp16_xla.analysis import underflow_threshold

__all__ = ["adam_first_step", "adam_scale_gap", "adam_scale_study", "dynamic_loss_scale",
           "dynamic_loss_scale_runs", "gradient_magnitudes", "scaled_gradients", "scaled_mlp",
           "scaling_problem", "static_scale_sweep", "zeros_by_variable"]

DEFAULT_SCALES = (1.0, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8)


def scaled_mlp(dtype_policy: str, depth: int, width: int, init_scale: float, seed: int):
    """Dense-tanh stack on 64 inputs whose hidden kernels have std ``init_scale / sqrt(fan_in)``.

    Each hidden layer shrinks the backward signal by about ``init_scale``, so the first layers'
    gradients end up many orders of magnitude below the last one's (DeepNet scales its
    initialisation down on purpose, with the same side effect). The hidden layers follow
    ``dtype_policy``; the 10-way output layer ``logits`` stays float32.
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


def scaled_gradients(model, x, y, scale: float) -> dict[str, np.ndarray]:
    """The loss-scaling step: the gradient of ``scale * loss``, then divided by ``scale``.

    In a model whose layers compute in FP16 the scaled gradient is rounded to FP16 on its way
    back; the division happens outside FP16 (here in float64, to measure what FP16 kept).

    Args:
        model: a Keras classifier returning logits.
        x, y: inputs and integer labels.
        scale: the loss scale (1.0: no scaling).

    Returns:
        The unscaled gradient of every trainable variable, by variable path, as float64.
    """
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        scaled_loss = loss_fn(y, model(x)) * scale  # every gradient is multiplied by scale...
    grads = tape.gradient(scaled_loss, model.trainable_variables)  # ...through FP16...
    return {v.path: g.numpy().astype(np.float64) / scale  # ...and divided out in float64
            for v, g in zip(model.trainable_variables, grads, strict=True)}


@dataclass
class _ScalingProblem:
    x: object
    y: object
    fp32: object  # keras.Model computing in float32
    fp16: object  # the same weights, hidden layers computing in float16
    reference: dict  # FP32 gradient per variable path (read-only arrays)


_PROBLEMS: dict[tuple, _ScalingProblem] = {}


def _problem(depth: int, width: int, init_scale: float, batch: int,
             seed: int | None) -> _ScalingProblem:
    seed = course_seed(seed)
    integer("depth", depth)
    integer("width", width)
    integer("batch", batch)
    number("init_scale", init_scale, low=0.0, high=1.0, low_open=True)
    key = (depth, width, init_scale, batch, seed)
    if key not in _PROBLEMS:
        import tensorflow as tf

        from lessons._core.data import load_digits

        x, y = load_digits()
        integer("batch", batch, high=len(x))
        x, y = tf.constant(x[:batch]), tf.constant(y[:batch])
        fp32 = scaled_mlp("float32", depth, width, init_scale, seed)
        fp16 = scaled_mlp("mixed_float16", depth, width, init_scale, seed)
        fp16.set_weights(fp32.get_weights())
        reference = scaled_gradients(fp32, x, y, 1.0)
        for g in reference.values():
            g.setflags(write=False)  # cached: callers must not change it
        _PROBLEMS[key] = _ScalingProblem(x, y, fp32, fp16, reference)
    return _PROBLEMS[key]


def scaling_problem(depth: int = 8, width: int = 64, init_scale: float = 0.1, batch: int = 256,
                    seed: int | None = None):
    """``(model, x, y)``: the down-scaled MLP whose hidden layers compute in FP16 (Keras's
    ``mixed_float16``) and the digits batch the experiments take its gradient on (cached; the
    arguments as in :func:`gradient_magnitudes`)."""
    p = _problem(depth, width, init_scale, batch, seed)
    return p.fp16, p.x, p.y


def _flat(grads: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([g.ravel() for g in grads.values()])


def gradient_magnitudes(depth: int = 8, width: int = 64, init_scale: float = 0.1,
                        batch: int = 256, seed: int | None = None) -> dict[str, object]:
    """FP32 gradient magnitudes of the down-scaled MLP, per layer and overall.

    Args:
        depth: hidden layers (default 8).
        width: hidden units (default 64).
        init_scale: the down-scaling of every hidden kernel's std, in (0, 1] (default 0.1).
        batch: digits used for the gradient (default 256).
        seed: initialiser seed (default: the course seed, ``lessons.course_seed``).

    Returns:
        ``log10_abs`` (log10 |g| of every non-zero entry), ``share_below_1e-8`` and
        ``share_flushing_fp16`` (shares of the non-zero entries below 1e-8 and at or below
        FP16's ``underflow_threshold``), ``median_by_variable`` (median |g| per variable
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
    signal = np.array([medians[f"hidden_{i}/bias"] for i in range(depth)])
    shrink = math.exp(np.mean(np.log(signal[:-1] / signal[1:]))) if depth > 1 else math.nan
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


def static_scale_sweep(scales=DEFAULT_SCALES, depth: int = 8, width: int = 64,
                       init_scale: float = 0.1, batch: int = 256,
                       seed: int | None = None) -> list[dict[str, float]]:
    """Compute the MLP's gradient in mixed FP16 with each static loss scale, then unscale.

    Args:
        scales: positive loss-scale factors (default 1 to 1e8 by decades).
        depth, width, init_scale, batch, seed: the model, as in :func:`gradient_magnitudes`.

    Returns:
        One row per scale: ``zero_share`` (entries non-zero in FP32 that came back exactly 0),
        ``nonfinite_share`` (inf/NaN entries: the scale overflowed FP16),
        ``median_rel_error`` (median relative error of the finite, non-zero entries) and
        ``zero_share_by_variable`` (``zero_share`` per variable path).
    """
    for s in scales:
        number("scales", s, low=0.0, low_open=True)
    p = _problem(depth, width, init_scale, batch, seed)
    ref = _flat(p.reference)
    nonzero = ref != 0
    rows = []
    for s in scales:
        by_var = scaled_gradients(p.fp16, p.x, p.y, float(s))
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
        initial_scale: the optimizer's starting scale, >= 1 (default Keras's 2**15).
        depth, width, init_scale, batch, seed: the model, as in :func:`gradient_magnitudes`.

    Returns:
        ``scales`` (the scale used at each step), ``overflowed`` (per step: was the scaled
        gradient not finite, so the step was skipped), ``final_scale``, ``skipped`` (their
        count) and ``zero_share`` (as in :func:`static_scale_sweep`, for the initial weights
        at the final scale).
    """
    integer("steps", steps)
    number("initial_scale", initial_scale, low=1.0)
    import keras
    import tensorflow as tf

    seed = course_seed(seed)
    p = _problem(depth, width, init_scale, batch, seed)
    model = scaled_mlp("mixed_float16", depth, width, init_scale, seed)
    model.set_weights(p.fp32.get_weights())
    opt = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(1e-3), initial_scale=initial_scale)
    opt.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    scales, overflowed = [], []
    for _ in range(steps):
        scales.append(float(opt.dynamic_scale.numpy()))
        with tf.GradientTape() as tape:
            scaled = opt.scale_loss(loss_fn(p.y, model(p.x)))
        grads = tape.gradient(scaled, model.trainable_variables)
        overflowed.append(not all(bool(tf.reduce_all(tf.math.is_finite(g))) for g in grads))
        opt.apply(grads, model.trainable_variables)  # unscales, or skips and halves
    final = float(opt.dynamic_scale.numpy())
    row = static_scale_sweep((final,), depth, width, init_scale, batch, seed)[0]
    return {"scales": scales, "overflowed": overflowed, "final_scale": final,
            "skipped": sum(overflowed), "zero_share": row["zero_share"]}


def dynamic_loss_scale_runs(initial_scales=(2.0**15, 2.0**30), steps: int = 12,
                            seed: int | None = None) -> list[dict[str, object]]:
    """:func:`dynamic_loss_scale` from each start (default Keras's 2**15, then 2**30), in order.

    Args:
        initial_scales: the starting scales (default 2**15 and 2**30).
        steps: training steps of each run (default 12).
        seed: the model's seed (default: the course seed).
    """
    return [dynamic_loss_scale(steps, s, seed=seed) for s in initial_scales]


def zeros_by_variable(sweep: list[dict], scale: float = 1e6) -> dict[str, float]:
    """At ``scale`` (a scale of ``sweep``): the zero share of the output kernel
    (``logits/kernel``) and the largest zero share among all other variables.

    Args:
        sweep: rows of :func:`static_scale_sweep`.
        scale: one of the sweep's scales (default 1e6).
    """
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

    Args:
        gradient: the unscaled gradient.
        scale: the constant loss scale c, > 0 (default 1.0).
        epsilon: Adam's epsilon, >= 0 (default Keras's 1e-7).
        learning_rate: Adam's learning rate (default 1e-3).
        beta_2: Adam's beta_2, in [0, 1) (default 0.999).
    """
    number("scale", scale, low=0.0, low_open=True)
    number("epsilon", epsilon, low=0.0)
    number("beta_2", beta_2, low=0.0, high=1.0, high_open=True)
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
    integer("steps", steps)
    number("scale", scale, low=0.0, low_open=True)
    number("epsilon", epsilon, low=0.0)
    number("gradient_size", gradient_size, low=0.0, low_open=True)
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
