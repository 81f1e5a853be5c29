"""Lesson 05's exercises (mixed precision and XLA), ``q1`` ... ``q5``: compute, implement, build
a Keras object, predict and run.

Every expected value comes from ``lessons.fp16_xla`` (``format_limits``, ``min_scale_to_keep``,
``underflow_threshold``, ``cast``, ``adam_first_step``) or from Keras itself; none is typed in by
hand, except Keras's documented ``LossScaleOptimizer`` defaults, which a test reads back from the
optimizer ``model.compile`` builds under ``mixed_float16``.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np

from lessons import fp16_xla as fx
from lessons.exercises.kinds import (
    FunctionExercise,
    KerasExercise,
    NamedValues,
    PredictionExercise,
    ValueExercise,
    as_values,
    config_problem,
    show,
)

__all__ = ["AdamScalePrediction", "NamedValues", "fp16_scaled_gradient", "keras_adam_first_steps",
           "q1", "q2", "q3", "q4", "q5"]

_FP16 = fx.format_limits("float16")


q1 = NamedValues(
    "Exercise 1", ("largest finite FP16 value", "smallest positive FP16 value"),
    (_FP16["max"], _FP16["smallest_subnormal"]), rtol=1e-12,
    advice="check the bias b = 2^(E-1) - 1, that the largest exponent is 2^E - 2 - b (all ones "
           "is inf/NaN), and that subnormals reach M binary places below the smallest normal",
    hints=("max = (2 - 2^-M) 2^(2^E - 2 - b) and smallest subnormal = 2^(1 - b - M), with "
           "E = 5, M = 10 and the bias b = 2^(E-1) - 1 = 15 (the lesson, section 1).",
           "The smallest *normal* number 2^(1 - b) = 6.1e-5 is not the smallest positive one: "
           "subnormals go M = 10 binary places further down."),
    solution="""E, M = 5, 10  # FP16: exponent bits, stored mantissa bits
bias = 2 ** (E - 1) - 1
largest = (2 - 2.0**-M) * 2.0 ** (2**E - 2 - bias)
smallest = 2.0 ** (1 - bias - M)
answer = (largest, smallest)""")

q2 = ValueExercise(
    "Exercise 2", fx.min_scale_to_keep(1e-8, "float16"), rtol=0.0, atol=0.0,
    advice="round g * s to FP16 to nearest (np.float16) for s = 1, 2, 4, ... and take the first s "
           "that is not 0",
    hints=("Try s = 1, 2, 4, ... and round 1e-8 * s to FP16 with np.float16: the first s whose "
           "result is not 0.",
           "FP16 rounds to nearest: anything above half the smallest subnormal (2^-25, about "
           "3e-8) becomes 2^-24, not 0. It need not reach 2^-24 itself, nor the normal range."),
    solution="""gradient = 1e-8
scale = 1.0
while np.float16(gradient * scale) == 0:  # rounded to FP16, still zero?
    scale *= 2
answer = scale""")


def fp16_scaled_gradient(grad, scale):
    """Exercise 3's reference, from the lesson's tested ``fx.cast``: the gradient ``grad`` (what
    FP32 would give) multiplied by ``scale``, rounded to FP16 on its way back, and divided by
    ``scale`` outside FP16 (float64): the step ``fx.scaled_gradients`` takes on a Keras model."""
    return fx.cast(np.asarray(grad, np.float64) * scale, "float16") / scale


_rng = np.random.default_rng(5)
_mixed = np.array([1e-9, -2e-8, 3e-8, -1e-7, 5e-6, 1e-3, -0.5, 0.0])
_large = np.array([1e-3, -2e-3, 3e-3, -1e-2, 0.1])
q3 = FunctionExercise("Exercise 3", fp16_scaled_gradient, [
    ("random gradients [64] of size ~1e-6 (float32), scale 2^15",
     ((1e-6 * _rng.standard_normal(64)).astype(np.float32), 2.0**15)),
    ("gradients [3, 4] of size ~1e-8 (below FP16's floor unscaled), scale 1 (no scaling)",
     (1e-8 * _rng.standard_normal((3, 4)), 1.0)),
    ("the same gradients of size ~1e-8, scale 1e3 (the post's constant)",
     (1e-8 * _rng.standard_normal((3, 4)), 1e3)),
    ("gradients 1e-9 .. 0.5 and 0 [8], scale 1e4", (_mixed, 1e4)),
    ("gradients 1e-3 .. 0.1 [5], scale 1e8 (overflows FP16: inf, which tells the optimizer "
     "to skip the step)", (_large, 1e8)),
], rtol=1e-9, atol=0.0,
    hints=("Three steps: multiply by scale in float64, round to FP16 (.astype(np.float16)), "
           "divide by scale in float64 (.astype(np.float64) first).",
           "Round *after* scaling (rounding first flushes the small ones before the scale can "
           "help) and divide *outside* FP16 (np.float16(1e8) is inf). Leave inf as inf."),
    solution='''def fp16_scaled_gradient(grad, scale):
    """grad * scale rounded to FP16, then divided by scale in float64."""
    scaled = np.asarray(grad, np.float64) * scale  # the scaled loss's gradient...
    with np.errstate(over="ignore"):
        in_fp16 = scaled.astype(np.float16)  # ...as FP16 holds it (0 or inf at the edges)
    return in_fp16.astype(np.float64) / scale  # unscaled outside FP16


answer = fp16_scaled_gradient''')


INNER_ADAM = {key: value for key, value in
              keras.optimizers.Adam(learning_rate=1e-3).get_config().items() if key != "name"}


def _inner_adam_probe(optimizer):
    """None if the wrapped optimizer is Keras's ``Adam`` itself (not a subclass such as AdamW)
    with the settings the exercise gives compile: learning rate 1e-3, every other at its default."""
    inner = optimizer.inner_optimizer
    if type(inner) is not keras.optimizers.Adam:
        return f"inner optimizer: expected an Adam, got {type(inner).__name__}"
    problem = config_problem(INNER_ADAM, inner.get_config())
    return problem and f"inner optimizer's {problem} (the exercise's Adam: lr 1e-3, defaults)"


q4 = KerasExercise(
    "Exercise 4", keras.optimizers.LossScaleOptimizer,
    config={"initial_scale": 2.0**15, "dynamic_growth_steps": 2000}, probe=_inner_adam_probe,
    hints=("Under the mixed_float16 policy model.compile wraps your optimizer in "
           "keras.optimizers.LossScaleOptimizer (the lesson, 'Dynamic loss scaling').",
           "It starts at 2^15 and doubles after 2,000 finite steps in a row: initial_scale and "
           "dynamic_growth_steps."),
    solution="""answer = keras.optimizers.LossScaleOptimizer(
    keras.optimizers.Adam(learning_rate=1e-3), initial_scale=2.0**15, dynamic_growth_steps=2000)""")


def keras_adam_first_steps(gradient=1e-8, scale=1e3, epsilon=1e-7):
    """How far Keras's own ``Adam(1e-3, epsilon)`` moves a weight from 0 in its first step:
    for ``gradient``, for ``scale * gradient``, and for ``gradient`` with epsilon / scale."""
    steps = []
    for g, eps in ((gradient, epsilon), (scale * gradient, epsilon), (gradient, epsilon / scale)):
        var = keras.Variable(np.zeros(1, np.float32), name="weight")
        keras.optimizers.Adam(1e-3, epsilon=eps).apply([np.full(1, g, np.float32)], [var])
        steps.append(-float(var.numpy()[0]))
    return {"unscaled": steps[0], "scaled": steps[1], "epsilon_divided": steps[2]}


class AdamScalePrediction(PredictionExercise):
    """Predict Adam's first step for g = 1e-8 without and with a loss scale of 1e3, then run
    Keras's Adam. PASS when both predicted steps are within ``rtol`` of the run's (float32: its
    last digits vary by CPU, far less than the 2% band)."""

    kept, run_first = "steps", "run Adam first (steps = q5.run()), then check"

    def __init__(self, title: str, rtol: float = 0.02, hints=(), solution: str = ""):
        super().__init__(title, hints, solution)
        self.rtol, self.steps = rtol, None

    def run(self):
        """One step of Keras's Adam each way; keep and return the steps."""
        self.steps = keras_adam_first_steps()
        return self.steps

    def _verdict(self, answer):
        pair = as_values(answer, 2)
        if pair is None or not all(isinstance(a, numbers.Real) for a in pair):
            return (f"expected two numbers (step without, step with the scale) as a tuple, list "
                    f"or array, got {show(answer)}")
        for name, key, guess in zip(("without the scale", "with the scale 1e3"),
                                    ("unscaled", "scaled"), pair, strict=True):
            ran = self.steps[key]
            if abs(guess - ran) > self.rtol * abs(ran):
                return (f"step {name}: you predicted {show(guess)}, Keras's Adam moved "
                        f"{ran:.3g} (within {self.rtol:.0%} passes)")
        return None


q5 = AdamScalePrediction(
    "Exercise 5",
    hints=("Keras's first step is lr c g / (|c g| + epsilon / sqrt(1 - beta_2)) (the lesson, "
           "'Adam does not care about a constant scale (almost)'): epsilon counts 31.6 times.",
           "Without the scale |g| = 1e-8 is tiny against 3.16e-6, so the step is far below lr; "
           "with c = 1e3, |c g| = 1e-5 is about 3 times that: closer to lr, not lr."),
    solution="""lr, epsilon, beta_2, g, c = 1e-3, 1e-7, 0.999, 1e-8, 1e3
effective_eps = epsilon / (1 - beta_2) ** 0.5  # Keras adds epsilon to the uncorrected sqrt(v)
prediction = (lr * g / (g + effective_eps), lr * c * g / (c * g + effective_eps))""")
