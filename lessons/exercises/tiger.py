"""Lesson 04's exercises (Tiger's fixed point), ``q1`` ... ``q6``: compute, implement, configure,
predict and run. Every expected value comes from ``lessons.tiger`` (fixed point, step counts,
closed form, ``Tiger(lazy=True)`` itself, the experiment's configuration, the float64 simulations
of eq. (1) and of the released rule) or from Keras's own ``Lion``; none is typed in by hand."""

import numbers

import keras
import numpy as np

from lessons import tiger
from lessons.exercises.kinds import (
    FunctionExercise,
    KerasExercise,
    PredictionExercise,
    ValueExercise,
    show,
)

__all__ = ["DriftPrediction", "keras_lazy_tiger_step", "q1", "q2", "q3", "q4", "q5", "q6"]

q1 = ValueExercise(
    "Exercise 1", float(tiger.fixed_point(1, 0.01)), rtol=1e-9,
    advice="set the bracket sign(m) + lambda theta to 0 and solve for theta (mind the sign)",
    hints=("The row stops moving where the bracket of eq. (1) vanishes: s + lambda theta* = 0.",
           "theta* has the sign opposite to sign(m) and the size 1/lambda."),
    solution="""sign_m, weight_decay = 1, 0.01
answer = -sign_m / weight_decay  # the bracket sign(m) + lambda theta vanishes""")

q2 = ValueExercise(
    "Exercise 2", tiger.steps_to_fraction(0.5, 0.02, 0.5), rtol=0.0, atol=0.0,
    advice="take the exact logarithm ln(1/2) / ln(1 - lr lambda) and round it up (ln 2 / "
           "(lr lambda) is only an approximation)",
    hints=("After t steps the row has covered 1 - (1 - lr lambda)^t of its way to theta*.",
           "The smallest integer t with (1 - lr lambda)^t <= 1/2: a logarithm, then round up "
           "(ln(2) / (lr lambda) is only the approximation)."),
    solution="""learning_rate, weight_decay = 0.02, 0.5
answer = math.ceil(math.log(1 - 0.5) / math.log(1 - learning_rate * weight_decay))""")

_rng = np.random.default_rng(4)
_signs = np.where(_rng.random((4, 3)) < 0.5, -1, 1)
q3 = FunctionExercise("Exercise 3", tiger.closed_form, [
    ("theta0 = 0.03, sign +1, lr 0.003, lambda 1, 1,000 steps", (0.03, 0.003, 1.0, 1, 1000)),
    ("rows [4, 3] of U(-0.05, 0.05), signs +-1 [4, 3], lr 0.003, lambda 1, 300 steps",
     (_rng.uniform(-0.05, 0.05, (4, 3)), 0.003, 1.0, _signs, 300)),
    ("steps = 1 (one step), theta0 = -0.02, sign -1, lr 0.01, lambda 0.5", (-0.02, .01, .5, -1, 1)),
    ("the post's lambda = 0.01, lr 1e-3, sign -1, theta0 = 0.5, 2,000 steps",
     (0.5, 1e-3, 0.01, -1, 2000)),
    ("sign 0 (the momentum underflowed: only the decay acts), rows [2, 3]",
     (_rng.uniform(-1, 1, (2, 3)), 0.003, 1.0, 0, 500)),
    ("small lambda = 1e-6 (nearly a line), lr 1e-3, 5,000 steps", (0.01, 1e-3, 1e-6, 1, 5000)),
    ("lambda = 0 (no weight decay, no fixed point), rows [2, 2], 100 steps",
     (np.zeros((2, 2)), 0.003, 0.0, np.array([[1, -1], [-1, 1]]), 100)),
    ("float32 rows [3, 16] (the lesson's embedding width), sign +1, 200 steps",
     (_rng.uniform(-0.05, 0.05, (3, 16)).astype(np.float32), 0.003, 1.0, 1, 200)),
], rtol=1e-6, atol=1e-7,
    hints=("theta_t = theta* + (1 - lr lambda)^t (theta_0 - theta*) for t = 1 .. steps, with "
           "theta* = -sign / lambda (the lesson, section 3).",
           "t = np.arange(1, steps + 1).reshape(steps, 1, ...), one 1 per axis of theta0, "
           "broadcasts against rows; with lambda = 0 a straight line, theta_0 - lr sign t."),
    solution='''def closed_form(theta0, learning_rate, weight_decay, sign, steps):
    """theta_1 ... theta_steps of eq. (1) with a constant sign(m): shape [steps, *theta0.shape]."""
    theta0 = np.asarray(theta0, dtype=np.float64)
    t = np.arange(1, steps + 1).reshape((steps,) + (1,) * theta0.ndim)
    if weight_decay == 0:  # no fixed point: a straight line
        return theta0 - learning_rate * np.asarray(sign) * t
    star = -np.asarray(sign) / weight_decay  # the fixed point
    return star + (1 - learning_rate * weight_decay) ** t * (theta0 - star)


answer = closed_form''')


class NamedOutputs(FunctionExercise):
    """A `FunctionExercise` on a function returning a tuple; a FAIL names the output ("new m")."""

    names = ("new theta", "new m")  # exercise 4's outputs

    def _verdict(self, answer):
        problem = super()._verdict(answer)
        for i, name in enumerate(self.names):
            problem = problem and problem.replace(f"item {i}: ", f"{name}: ")
        return problem


def keras_lazy_tiger_step(theta, m, grad, learning_rate, beta, weight_decay):
    """Exercise 4's reference: (theta, m) after one step of ``tiger.Tiger(lazy=True)`` run from
    the momentum ``m`` (float32 Keras, returned as float64; public ``variables`` only)."""
    var = keras.Variable(np.asarray(theta, np.float32), name="table")
    opt = tiger.Tiger(learning_rate, beta=beta, weight_decay=weight_decay, lazy=True)
    opt.build([var])
    momentum = next(v for v in opt.variables if v.name.endswith("_momentum"))
    momentum.assign(np.asarray(m, np.float32))
    opt.apply_gradients([(np.asarray(grad, np.float32), var)])
    return var.numpy().astype(np.float64), momentum.numpy().astype(np.float64)


def _lazy_case(rows, dim, absent, dtype=np.float64, zero_entries=False):
    theta, m = _rng.uniform(-0.5, 0.5, (rows, dim)), _rng.normal(size=(rows, dim))
    grad = _rng.normal(size=(rows, dim))
    m[-1] = -0.02 * grad[-1]  # the last row's momentum changes sign this step (if it is touched)
    grad[list(absent)] = 0.0
    if zero_entries:  # a token in the batch whose gradient (and momentum) is 0 in some entries
        grad[0, :2] = m[0, :2] = 0.0
    return tuple(a.astype(dtype) for a in (theta, m, grad)) + (0.003, 0.965, 1.0)


q4 = NamedOutputs("Exercise 4", keras_lazy_tiger_step, [
    ("table [8, 4], rows 1, 3, 6 absent (zero gradient), sign(m) of row 7 flips",
     _lazy_case(8, 4, (1, 3, 6))),
    ("row 0 in the batch, with zero gradient and momentum in entries 0-1; rows 2, 4 absent",
     _lazy_case(5, 3, (2, 4), zero_entries=True)),
    ("every row in the batch [6, 4] (lazy = plain Tiger)", _lazy_case(6, 4, ())),
    ("no row in the batch [4, 3] (nothing may move)", _lazy_case(4, 3, range(4))),
    ("float32 table [10, 16] (the lesson's width), rows 0, 2, ..., 8 absent, row 9's sign flips",
     _lazy_case(10, 16, range(0, 10, 2), np.float32)),
], rtol=1e-5, atol=1e-6,
    hints=("First Tiger's step for every row: m = beta m + (1 - beta) g, then theta - lr "
           "(sign(new m) + lambda theta). Then keep the old theta and m in every row whose "
           "gradient is zero in all its entries.",
           "A row is in the batch if any entry of its gradient is non-zero, np.any(grad != 0, "
           "axis=1, keepdims=True); a zero entry of such a row is still updated (and decayed)."),
    solution='''def lazy_tiger_step(theta, m, grad, learning_rate, beta, weight_decay):
    """One step of Tiger(lazy=True) on a table [rows, dim]: returns (new theta, new m)."""
    new_m = beta * m + (1 - beta) * grad
    new_theta = theta - learning_rate * (np.sign(new_m) + weight_decay * theta)
    touched = np.any(grad != 0, axis=1, keepdims=True)  # rows whose token is in the batch
    return np.where(touched, new_theta, theta), np.where(touched, new_m, m)


answer = lazy_tiger_step''')

_EXPERIMENT = tiger.ExperimentConfig()  # the lesson's run: AdamW at 0.01, lambda = 1


def _lion_probe(optimizer):
    """None if lambda is the experiment's and the rate 3-10x smaller than its AdamW's. The
    exercise keeps lambda (the fixed point 1/lambda the lesson studies) where Keras's docstring
    would raise it 3-10x (to keep lr * lambda, the decay per step): on purpose, see its text."""
    adam, lam = _EXPERIMENT.adam_learning_rate, _EXPERIMENT.weight_decay
    lr, decay = (optimizer.get_config()[k] for k in ("learning_rate", "weight_decay"))
    if decay is None or not np.isclose(decay, lam, rtol=1e-6):
        return f"weight_decay: expected {lam:g} (fixed point +-{1 / lam:g}), got {decay}"
    if not adam / 10 * (1 - 1e-6) <= lr <= adam / 3 * (1 + 1e-6):
        return (f"learning_rate: {lr:.4g} is {adam / lr:.3g}x AdamW's {adam:g}; Keras's Lion "
                f"docstring asks for 3-10x smaller, i.e. {adam / 10:.4g} .. {adam / 3:.4g}")
    return None


q5 = KerasExercise(
    "Exercise 5", keras.optimizers.Lion, probe=_lion_probe,
    config={k: keras.optimizers.Lion().get_config()[k] for k in ("beta_1", "beta_2")},
    hints=("keras.optimizers.Lion(learning_rate=..., weight_decay=...); leave beta_1 and beta_2 "
           "at their defaults.",
           "Smaller than AdamW's rate, not larger: a sign step moves every entry by lr, an Adam "
           "step is usually smaller than lr."),
    solution="answer = keras.optimizers.Lion(learning_rate=0.003, weight_decay=1.0)")


class DriftPrediction(PredictionExercise):
    """Predict (steps under eq. (1)) / (steps under the released Tiger) for a constant-sign row of
    16 entries at |theta| = 0.02 to get half-way to 1/lambda (the README's lr 1.76e-3, the post's
    lambda 0.01, as ``tiger.drift_comparison``), then run both rules step by step in float64
    (``tiger.simulate``, ``tiger.released_row_simulate``: the same on every machine). PASS when
    the prediction is within a factor ``factor`` (default 2) of the run's ratio."""

    kept, run_first = "result", "run both rules first (q6.run()), then check"

    def __init__(self, title: str, factor: float = 2.0, hints=(), solution: str = ""):
        super().__init__(title, hints, solution)
        self.factor, self.result, self.settings = factor, None, (1.76e-3, 0.01, 0.02)

    def run(self) -> dict:
        """Steps of each rule until |theta| >= 0.5 / lambda from |theta| = x0, sign(m) constant."""
        lr, lam, x0 = self.settings  # learning rate, lambda, starting |theta|
        eq1 = tiger.simulate(x0, lr, lam, -1, tiger.steps_to_fraction(0.5, lr, lam))
        horizon = 2 * tiger.released_steps_to_fraction(0.5, lr, lam, x0)
        released = tiger.released_row_simulate(np.full(16, x0), lr, lam, -1, horizon).min(axis=1)
        eq1_half = int(np.argmax(eq1 >= 0.5 / lam)) + 1
        released_half = int(np.argmax(released >= 0.5 / lam)) + 1
        self.result = {"eq1_half": eq1_half, "released_half": released_half}
        self.result["ratio"] = eq1_half / released_half
        return self.result

    def _verdict(self, answer):
        if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
            return (f"expected a number (steps under eq. (1) / steps under the released rule), "
                    f"got {show(answer)}")
        ratio = self.result["ratio"]
        low, high = ratio / self.factor, ratio * self.factor
        if low <= answer <= high:
            return None
        said = ("the released rule slower" if answer < 1 else "the same speed" if answer == 1
                else f"the released rule {show(answer)}x faster")
        return (f"you predicted {show(answer)} ({said}); the run: eq. (1) needs "
                f"{self.result['eq1_half']:,} steps to get half-way, the released rule "
                f"{self.result['released_half']:,}, a ratio of {ratio:.2f} (a prediction within "
                f"a factor of {self.factor:g}, {low:.2f} .. {high:.2f}, passes)")


q6 = DriftPrediction(
    "Exercise 6",
    hints=("Eq. (1): the gap to 1/lambda shrinks by (1 - lr lambda) per step, so half-way takes "
           "about ln(2) / (lr lambda) steps. The released row grows like exp(lr t) while small.",
           "Released rule (the lesson, section 4): t_f = ln(f/(1 - f) (1/(lambda x0) - 1)) / lr, "
           "for f = 1/2 ln(4,999) / lr. Divide the two: lr cancels."),
    solution="prediction = 8.1  # ln(2) / (lr lambda) over ln(4999) / lr = ln 2 / (lambda ln 4999)")
