"""Lesson 02's exercises (one loss trains a GAN), ``q1`` ... ``q5``: compute, implement, build a
Keras optimizer, predict and run. Every expected value comes from ``lessons.gan`` (``zero_term``,
``one_step_loss``, ``optimizer_formula``, ``make_optimizer``, the stored seed study); none is typed
in by hand."""

from __future__ import annotations

import functools

import keras
import numpy as np

from lessons import gan
from lessons.exercises.core import UNATTEMPTED, Exercise, Report, is_blank
from lessons.exercises.kinds import FunctionExercise, KerasExercise, compare, show

__all__ = ["LossExercise", "NamedValues", "RingPrediction", "first_step_ratio", "q1", "q2", "q3",
           "q4", "q5", "zero_term_facts"]


class NamedValues(Exercise):
    """A tuple of values compared item by item; a FAIL names the item. ``expected`` may be a
    function, called at the first check (for answers that need a computation)."""

    def __init__(self, title: str, names, expected, *, rtol: float = 1e-6, atol: float = 0.0,
                 hints=(), solution: str = ""):
        super().__init__(title, hints, solution)
        self.names, self._expected, self.rtol, self.atol = tuple(names), expected, rtol, atol

    @property
    def expected(self) -> tuple:
        self._expected = tuple(self._expected() if callable(self._expected) else self._expected)
        return self._expected

    def _verdict(self, answer):
        expected = self.expected
        if not isinstance(answer, (tuple, list)) or len(answer) != len(expected):
            return (f"expected a tuple of {len(expected)} values ({', '.join(self.names)}), "
                    f"got {show(answer)}")
        for name, want, got in zip(self.names, expected, answer, strict=True):
            if problem := compare(want, got, self.rtol, self.atol):
                return f"{name}: {problem}"
        return None


@functools.cache
def zero_term_facts() -> tuple[float, bool, bool]:
    """(zero term's value, gradient reaches D?, reaches G?) from ``zero_term(*demo_setup(...))``,
    a norm > 1e-7 counting as a gradient (the claim band); reseeds Keras as the lesson's cell does."""
    zero = gan.zero_term(*gan.demo_setup(batch_size=64, seed=0))
    return zero.value, zero.grad_norm_d > 1e-7, zero.grad_norm_g > 1e-7


q1 = NamedValues(
    "Exercise 1", ("value of the zero term", "gradient reaches D's weights",
                   "gradient reaches G's weights"), zero_term_facts, atol=1e-7,
    hints=("stop_gradient(G(z)) has the value of G(z): D(G(z)) and D(G_ng(z)) are equal numbers.",
           "D's gradient is the same in both copies and cancels; stop_gradient cuts the path into "
           "G in the second copy only (the post's note, section 生成器的优化)."),
    solution="""value = 0.0  # the two copies hold the same numbers for every z
reaches_d = False  # D's gradient is the same in both copies and cancels
reaches_g = True  # only D(G(z)) has a path into G: stop_gradient cuts it in the other copy
answer = (value, reaches_d, reaches_g)""")


class LossExercise(FunctionExercise):
    """A `FunctionExercise` on a scalar loss (NumPy or keras.ops), compared as a float."""

    def _verdict(self, answer):
        return super()._verdict((lambda *a: _number(answer(*a))) if callable(answer) else answer)


def _number(value):
    array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)  # blank: Unattempted
    return float(array) if array.ndim == 0 and array.dtype.kind in "biuf" else value


_rng = np.random.default_rng(2)  # the scores of exercise 2's cases


def _scores(n: int, scale: float = 1.0, dtype=np.float64, copies: int = 1):
    return tuple((scale * _rng.standard_normal((n, 1))).astype(dtype) for _ in range(copies))


_same = _scores(8)[0]
q2 = LossExercise(
    "Exercise 2", lambda *args: _number(gan.one_step_loss(*args)), [
        ("random N(0, 1) scores [8, 1], d_fake_ng = d_fake (as in training), lam = 1",
         (*_scores(8), _same, _same.copy(), 1.0)),
        ("d_fake_ng != d_fake [8, 1] (shows which copy each term reads), lam = 2.5",
         (*_scores(8, copies=3), 2.5)),
        ("scores of scale 3 [8, 1] (many outside the hinge, where relu clips), lam = 0.5",
         (*_scores(8, 3.0, copies=3), 0.5)),
        ("batch 1 [1, 1], lam = 1", (*_scores(1, copies=3), 1.0)),
        ("lam = 0 (the D loss alone) [8, 1]", (*_scores(8, copies=3), 0.0)),
        ("float32 scores, real batch 16 and fake batch 4 ([16, 1], [4, 1]), lam = 1",
         (*_scores(16, dtype=np.float32), *_scores(4, dtype=np.float32, copies=2), 1.0)),
    ], rtol=1e-5, atol=1e-6,
    hints=("The D loss reads the stopped copy, in the post's signs (real scored low): "
           "mean(relu(1 + d_real)) + mean(relu(1 - d_fake_ng)); then add lam times the zero term.",
           "Each mean runs over its own batch: real and fake batches may differ in size."),
    solution="""def one_step_loss(d_real, d_fake, d_fake_ng, lam):
    \"\"\"The single loss: the D loss on the stopped copy plus lam times the zero term.\"\"\"
    d_loss = ops.mean(ops.relu(1.0 + d_real)) + ops.mean(ops.relu(1.0 - d_fake_ng))
    zero = ops.mean(d_fake - d_fake_ng)  # 0 in value; its gradient reaches G only
    return d_loss + lam * zero


answer = one_step_loss""")

Q3_ROWS = tuple(row for row in gan.LAM_TABLE_ROWS if row[1] != "adam_textbook")  # Keras 3 / 2


def first_step_ratio(optimizer: str, rho: float = 0.9, grad: float = 1e-4, lam: float = 2.0):
    """G's first step (t = 1) with gradient ``lam * grad`` over that with ``grad``: the lesson's
    ``optimizer_formula`` (float64, Keras 3's defaults but ``rho``)."""
    settings = gan.OptimizerSettings(rho=rho)
    with_lam, without = (gan.optimizer_formula(optimizer, [[g]], settings)[0, 0]
                         for g in (lam * grad, grad))
    return float(with_lam / without)


q3 = NamedValues(
    "Exercise 3", tuple(label for label, _, _ in Q3_ROWS),
    tuple(first_step_ratio(opt, rho) for _, opt, rho in Q3_ROWS), rtol=1e-4,
    hints=("At t = 1 from zero state: Adam has m = (1 - b1) g, v = (1 - b2) g^2 and alpha = "
           "lr sqrt(1 - b2) / (1 - b1), so its step is lr g / (|g| + eps / sqrt(1 - b2)).",
           "RMSprop at t = 1: v = (1 - rho) g^2; Keras 3 steps lr g / sqrt(v + eps), Keras 2 "
           "lr g / (sqrt(v) + eps). Divide the step for lam g by the step for g."),
    solution="""g, lam, eps, rho = 1e-4, 2.0, 1e-7, 0.99  # G's gradient, its weight, epsilon, rho
sgd = lam  # SGD: the step is proportional to the gradient
eps_1 = eps / np.sqrt(1 - 0.999)  # Keras 3's Adam: the effective epsilon at t = 1
adam = lam * (g + eps_1) / (lam * g + eps_1)
v, v_lam = (1 - rho) * g**2, (1 - rho) * (lam * g) ** 2  # RMSprop's v after one step
rmsprop_keras3 = lam * np.sqrt(v + eps) / np.sqrt(v_lam + eps)  # eps inside the root
rmsprop_keras2 = lam * (np.sqrt(v) + eps) / (np.sqrt(v_lam) + eps)  # eps outside
answer = (sgd, adam, rmsprop_keras3, rmsprop_keras2)""")

REFERENCE_RMSPROP = {key: value for key, value in
                     gan.make_optimizer("rmsprop", 1e-4).get_config().items() if key != "name"}
q4 = KerasExercise(
    "Exercise 4", keras.optimizers.RMSprop, config=REFERENCE_RMSPROP,
    hints=("Keras 2's RMSprop(lr, rho, epsilon, decay): the second argument is rho, not momentum; "
           "Keras 3's RMSprop(learning_rate, rho, momentum, ...) keeps that order.",),
    solution="answer = keras.optimizers.RMSprop(learning_rate=1e-4, rho=0.99)")


class RingPrediction(Exercise):
    """Predict which method reaches all 8 ring modes first over the stored study's seeds (its
    verdict, the same on every machine), then train both on your seed exactly as the study did
    (``gan.compare_ring``, 2,000 steps, coverage every 50 steps) and check the run against the
    lesson's ring claims (``gan.claims_for``; bands measured over seeds x CPUs). One seed is one
    draw: measured natively, seeds 15 and 17 reach 8 modes first with the single loss."""

    STUDY = {"alternating first": "alternating", "single loss first": "one_step",
             "same step": "same"}

    def __init__(self, title: str, steps: int = gan.RING_STEPS, hints=(), solution: str = ""):
        super().__init__(title, hints, solution)
        self.steps, self.ring = steps, None

    def run(self, seed: int | None = None, progress: bool = True):
        """Train both methods on the ring as the stored study did; keep and return the runs."""
        self.ring = gan.compare_ring(steps=self.steps, seed=seed, progress=progress,
                                     eval_every=50, snapshots=())
        return self.ring

    def as_study(self) -> gan.SeedStudy:
        """The run as a one-seed study: ``gan.format_seed_study`` shows it as the stored one."""
        return gan.SeedStudy({"steps": self.steps, "eval_every": 50}, {},
                             tuple(self.ring.runs.values()))

    def check(self, answer) -> Report:
        if self.ring is None and not is_blank(answer):
            return Report(UNATTEMPTED, "train first (ring = q5.run()), then check", self.title)
        return super().check(answer)

    def _verdict(self, answer):
        choice = answer.strip().lower() if isinstance(answer, str) else 0
        choice = {"single loss": "one_step", "one step": "one_step"}.get(choice, choice)
        if choice not in self.STUDY.values():
            return f"expected 'alternating', 'one_step' or 'same', got {show(answer)}"
        failed = [claim for claim in gan.claims_for(self.ring) if not claim.holds()]
        if failed:
            return (f"your run breaks the lesson's claim '{failed[0].statement}' "
                    f"({failed[0].band()}): a finding to discuss (seed? CPU?), not your mistake")
        counts = gan.load_seed_study().head_to_head()
        expected = self.STUDY[max(self.STUDY, key=counts.get)]
        return None if choice == expected else (
            f"you predicted {choice!r}; the stored study says {expected!r}: of its "
            f"{sum(counts.values())} seeds, alternating first on {counts['alternating first']}, "
            f"single loss first on {counts['single loss first']}, the same step on "
            f"{counts['same step']}")


q5 = RingPrediction(
    "Exercise 5",
    hints=("Section 5: a single-loss step moves D and G at the same point (simultaneous); on the "
           "Dirac GAN that spirals out, while alternating steps circle.",),
    solution='prediction = "alternating"  # simultaneous steps drift outwards (the Dirac GAN)')
