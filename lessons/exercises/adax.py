"""Lesson 01's exercises (AdaX vs Adam), ``q1`` ... ``q6``: compute, implement, predict and run.

Every expected value comes from ``lessons.adax`` (its tested schedules, departure and freeze steps,
v-hat moving average and claim band) or from running Keras's own Adam; none is typed in by hand.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np

from lessons import adax
from lessons.exercises.core import RightBut
from lessons.exercises.kinds import (
    FunctionExercise,
    KerasExercise,
    NamedValues,
    PredictionExercise,
    ValueExercise,
    show,
)

__all__ = ["RunPrediction", "keras_adam_step", "q1", "q2", "q3", "q4", "q5", "q6"]


q1 = NamedValues(
    "Exercise 1", ("AdaX's beta2-hat at t = 100", "Adam's beta2-hat at t = 100"),
    (float(adax.beta2_hat_adax(100, 1e-4)), float(adax.beta2_hat_adam(100, 0.999))), rtol=1e-6,
    advice="check the exponents (t for AdaX; t and t - 1 for Adam) and that each optimizer has "
           "its own beta_2 (1e-4 for AdaX, 0.999 for Adam)",
    hints=("AdaX: 1 - b2 / ((1 + b2)^t - 1); Adam: b2 (1 - b2^(t-1)) / (1 - b2^t) (the lesson, "
           "'Both are moving averages'), each with its own b2: 1e-4 and 0.999.",),
    solution="""t = 100
adax_hat = 1 - 1e-4 / ((1 + 1e-4) ** t - 1)
adam_hat = 0.999 * (1 - 0.999 ** (t - 1)) / (1 - 0.999**t)
answer = (adax_hat, adam_hat)""")

q2 = ValueExercise(
    "Exercise 2", adax.adax_departure_step(1e-2), rtol=0.0, atol=0.0,
    advice="use the exact weight 1 - beta2-hat_t = b2 / ((1 + b2)^t - 1), not an approximation, "
           "and the first t (counting from 1) with t times that weight <= 1/2",
    hints=("The first t with t (1 - beta2-hat_t) <= 0.5: compute the weight for t = 1 .. 10,000 "
           "with NumPy and take the first t that qualifies.",
           "ceil(1.2564 / b2) = 126 drops the factor b2 / ln(1 + b2); departing is not freezing."),
    solution="""b2 = 1e-2
t = np.arange(1, 10_000)
weight = b2 / np.expm1(t * np.log1p(b2))  # 1 - beta2-hat_t
answer = int(t[np.argmax(t * weight <= 0.5)])  # the first t with t * weight <= 1/2""")


_rng = np.random.default_rng(13)
_zeros = _rng.normal(size=(8, 3))
_zeros[:, 1], _zeros[3:5] = 0.0, 0.0  # an all-zero coordinate and two all-zero steps
q3 = FunctionExercise(
    "Exercise 3", lambda grads, beta_2: adax.vhat_moving_average(grads, "adax", beta_2), [
        ("random N(0, 1) gradients [50, 4], beta_2 = 1e-4", (_rng.normal(size=(50, 4)), 1e-4)),
        ("one step [1, 3] (v_hat_1 = g_1^2), beta_2 = 1e-4", (_rng.normal(size=(1, 3)), 1e-4)),
        ("zero gradients (coordinate 1, steps 4-5) [8, 3], beta_2 = 1e-4", (_zeros, 1e-4)),
        ("3,000 steps [3000, 2], beta_2 = 1e-2 (past departure and freeze)",
         (_rng.normal(size=(3000, 2)), 1e-2)),
        ("2,000 steps [2000, 1], beta_2 = 0.5: (1 + beta_2)^t overflows even float64",
         (_rng.normal(size=(2000, 1)), 0.5)),
        ("float32 gradients [30, 4], beta_2 = 1e-4",
         (_rng.normal(size=(30, 4)).astype(np.float32), 1e-4)),
    ],
    hints=("From v_hat = 0, at each step t = 1, 2, ... move v_hat towards g_t^2 by the weight "
           "1 - beta2-hat_t = b2 / ((1 + b2)^t - 1); return v_hat after every step.",
           "(1 + b2)^t - 1 as np.expm1(t * np.log1p(b2)): exact near t = 1, inf (weight 0, not an "
           "error) once it overflows."),
    solution="""def vhat_moving_average(grads, beta_2):
    \"\"\"AdaX's v-hat after every step, as a moving average; grads: shape [steps, ...].\"\"\"
    g = np.asarray(grads, dtype=np.float64)
    t = np.arange(1, len(g) + 1)
    with np.errstate(over="ignore"):  # expm1 -> inf: the weight is 0
        weight = beta_2 / np.expm1(t * np.log1p(beta_2))  # 1 - beta2-hat_t
    v_hat, out = np.zeros(g.shape[1:]), np.empty_like(g)
    for i in range(len(g)):
        v_hat = v_hat + weight[i] * (g[i] ** 2 - v_hat)
        out[i] = v_hat
    return out


answer = vhat_moving_average""")


def keras_adam_step(theta, m, v, g, t, epsilon):
    """theta after one step of Keras's own ``Adam(1e-3, 0.9, 0.999, epsilon)`` at step ``t`` from
    its state ``(m, v)``: exercise 4's reference (float32; public ``variables``, ``iterations``)."""
    var = keras.Variable(np.asarray(theta, np.float32), name="theta")
    opt = keras.optimizers.Adam(1e-3, beta_1=0.9, beta_2=0.999, epsilon=epsilon)
    opt.build([var])
    opt.iterations.assign(t - 1)
    for slot in opt.variables:
        if slot.name.endswith(("_momentum", "_velocity")):
            slot.assign(np.asarray(m if slot.name.endswith("_momentum") else v, np.float32))
    opt.apply_gradients([(np.asarray(g, np.float32), var)])
    return var.numpy().astype(np.float64)


def _adam_case(t, scale, epsilon, shape=(4,), dtype=np.float64, fresh=False):
    theta, g = 0.01 * _rng.normal(size=shape), scale * _rng.normal(size=shape)
    m = np.zeros(shape) if fresh else 0.5 * scale * _rng.normal(size=shape)
    v = np.zeros(shape) if fresh else (scale * _rng.normal(size=shape)) ** 2 * (1 - 0.999**(t - 1))
    return tuple(a.astype(dtype) for a in (theta, m, v, g)) + (t, epsilon)


q4 = FunctionExercise(
    "Exercise 4", keras_adam_step, [
        ("t = 1 from m = v = 0, |g| ~ epsilon = 1e-4", _adam_case(1, 1e-4, 1e-4, fresh=True)),
        ("t = 10 from a random state, |g| ~ epsilon = 1e-4", _adam_case(10, 1e-4, 1e-4)),
        ("t = 1 from m = v = 0, epsilon = 1e-7, |g| ~ 1", _adam_case(1, 1.0, 1e-7, fresh=True)),
        ("t = 5,000 (corrections near 1), |g| ~ 1e-2", _adam_case(5000, 1e-2, 1e-3)),
        ("float32 inputs [2, 3] at t = 3", _adam_case(3, 1e-4, 1e-4, (2, 3), np.float32)),
    ], rtol=1e-5, atol=1e-7,
    hints=("Keras forms neither m-hat nor v-hat: it folds both corrections into the step size "
           "alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t) (the lesson, 'Where epsilon sits').",
           "Update m and v first, then theta - alpha_t m / (sqrt(v) + epsilon)."),
    solution="""def keras_adam_step(theta, m, v, g, t, epsilon):
    \"\"\"theta after one step of keras.optimizers.Adam at step t (m, v: Keras's state).\"\"\"
    lr, beta_1, beta_2 = 1e-3, 0.9, 0.999
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return theta - alpha * m / (np.sqrt(v) + epsilon)


answer = keras_adam_step""")


def _memory_probe(optimizer):
    """None if AdaX's v-hat is still the plain mean up to step 1,000 and frozen by step 10,000."""
    beta_2 = optimizer.get_config()["beta_2"]
    departure, freeze = adax.adax_departure_step(beta_2), adax.adax_freeze_step(beta_2)
    if departure <= 1_000:
        return f"beta_2 = {beta_2:g}: v-hat departs at step {departure:,}, not after step 1,000"
    if freeze > 10_000:
        return f"beta_2 = {beta_2:g}: v-hat freezes at step {freeze:,}, after step 10,000"
    return None


q5 = KerasExercise(
    "Exercise 5", adax.AdaX, config={"learning_rate": 1e-3}, probe=_memory_probe,
    hints=("AdaX's beta_2 is small (default 1e-4), not Adam's 0.999.",
           "Departure near 1.26 / beta_2, freezing near ln(10^4) / beta_2 = 9.2 / beta_2."),
    solution="answer = adax.AdaX(learning_rate=1e-3, beta_2=1e-3)")


class RunPrediction(PredictionExercise):
    """Predict AdaX / Adam's lr/sqrt(v_hat) of the traced bias at the last step, then train.

    PASS when the prediction and the run's ratio both lie in the lesson's claim band (measured
    over seeds and CPUs for its 15 epochs); RIGHT, BUT when the prediction does and this machine's
    run does not; FAIL when the prediction is outside the band."""

    kept, run_first = "runs", "train first (runs = q6.run()), then check"

    def __init__(self, title: str, epochs: int = 15, hints=(), solution: str = ""):
        super().__init__(title, hints, solution)
        self.band, self.epochs, self.runs = tuple(adax.BANDS["adax_over_adam"]), epochs, None

    def run(self, seed: int | None = None, progress: bool = True):
        """Train Adam and AdaX as the lesson does (lr 1e-3, batch 32); keep and return the runs."""
        self.runs = adax.compare_on_digits([("adam", 1e-3), ("adax", 1e-3)], epochs=self.epochs,
                                           seed=seed, progress=progress)
        return self.runs

    def ratio(self) -> float:
        """AdaX / Adam's lr/sqrt(v_hat) of the traced bias at the last step of the kept runs."""
        scores = adax.summarize_digits(self.runs)
        return (scores.get("adax", 1e-3).lr_over_sqrt_v_hat_last
                / scores.get("adam", 1e-3).lr_over_sqrt_v_hat_last)

    def _verdict(self, answer):
        low, high = self.band
        band = f"the lesson's band {low:.2f}x .. {high:.2f}x"
        if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
            return f"expected a number (the ratio AdaX / Adam), got {show(answer)}"
        ratio = self.ratio()
        run_left = not low <= ratio <= high
        if low <= answer <= high:
            return RightBut(
                f"your prediction {show(answer)} lies in {band}, the lesson's answer; but this "
                f"machine's run gave {ratio:.3f}, outside the band: here the lesson's claim did "
                f"not reproduce (another seed or CPU than the band was measured on). A finding to "
                f"discuss, not your mistake") if run_left else None
        where = ("at or above Adam" if answer >= 1 else "below Adam by too little" if
                 answer > high else "below Adam by too much")
        also = (f" (this machine's run, {ratio:.3f}, also left the band: a finding to discuss)"
                if run_left else "")
        return (f"you predicted {show(answer)} (AdaX {where}); the lesson's runs lie in {band}: "
                f"AdaX ends {1 - high:.0%} to {1 - low:.0%} below Adam{also}")


q6 = RunPrediction(
    "Exercise 6",
    hints=("675 steps are far before AdaX's departure step 12,566: its v-hat is still the plain "
           "mean of every g^2 seen, the large early ones included.",
           "The gradients shrink as the model fits; Adam weights recent steps more (memory ~1,000 "
           "steps): whose v-hat ends larger? Below 1, but not by half."),
    solution="prediction = 0.85  # AdaX / Adam at step 675: below 1 (larger v-hat), by ~15%")
