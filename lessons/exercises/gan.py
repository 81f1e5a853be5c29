"""Lesson 02's exercises (one loss trains a GAN), ``q1`` ... ``q5``: compute, implement, build a
Keras optimizer, predict and run. Every expected value comes from ``lessons.gan`` (``zero_term``,
``one_step_loss``, ``optimizer_formula``, ``make_optimizer``, the stored seed study); none is typed
in by hand."""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf

from lessons import gan
from lessons.exercises.core import RightBut, Unattempted
from lessons.exercises.kinds import (
    FunctionExercise,
    KerasExercise,
    NamedValues,
    PredictionExercise,
    show,
)

__all__ = ["LossExercise", "NamedValues", "RingPrediction", "first_step_ratio", "loss_gradients",
           "q1", "q2", "q3", "q4", "q5", "zero_term_facts"]


@functools.cache
def zero_term_facts() -> tuple[float, bool, bool]:
    """(zero term's value, gradient reaches D?, reaches G?) from ``zero_term(*demo_setup(...))``,
    a norm > 1e-7 counting as a gradient (the claim band); reseeds Keras as the lesson's cell does."""
    zero = gan.zero_term(*gan.demo_setup(batch_size=64, seed=0))
    return zero.value, zero.grad_norm_d > 1e-7, zero.grad_norm_g > 1e-7


q1 = NamedValues(
    "Exercise 1", ("value of the zero term", "gradient reaches D's weights",
                   "gradient reaches G's weights"), zero_term_facts, atol=1e-7,
    advice="compare D(G(z)) and D(G_ng(z)) for the same z, then follow each copy's path back to "
           "D's and to G's weights (stop_gradient cuts a path, it does not change a value)",
    hints=("stop_gradient(G(z)) has the value of G(z): D(G(z)) and D(G_ng(z)) are equal numbers.",
           "D's gradient is the same in both copies and cancels; stop_gradient cuts the path into "
           "G in the second copy only (the post's note, section 生成器的优化)."),
    solution="""value = 0.0  # the two copies hold the same numbers for every z
reaches_d = False  # D's gradient is the same in both copies and cancels
reaches_g = True  # only D(G(z)) has a path into G: stop_gradient cuts it in the other copy
answer = (value, reaches_d, reaches_g)""")


class LossExercise(FunctionExercise):
    """A `FunctionExercise` on a scalar loss, compared as a float on every case, then by its
    gradients: a ``tf.GradientTape`` takes the loss's gradient with respect to D's and G's
    weights on two small fixed networks (``loss_gradients``) and compares them with the lesson's
    ``gan.one_step_loss``'s, for every ``lams``. A misplaced ``stop_gradient`` leaves the value
    alone and changes a gradient: that is what the lesson teaches."""

    lams = (1.0, 2.5)
    grad_rtol, grad_atol = 1e-4, 1e-6  # float32 networks: equivalent forms differ in last bits

    def _verdict(self, answer):
        problem = super()._verdict((lambda *a: _number(answer(*a))) if callable(answer) else answer)
        if problem or not callable(answer):
            return problem
        for lam in self.lams:
            want = loss_gradients(gan.one_step_loss, lam)
            try:
                got = loss_gradients(answer, lam)
            except Unattempted:
                raise
            except Exception as error:
                return (f"under a GradientTape (lam = {lam:g}) your function raised "
                        f"{type(error).__name__}: {error}")
            if got is None:
                return ("your loss's value is right, but it is not a tensor a GradientTape can "
                        "follow (NumPy?): write it with keras.ops (ops.mean, ops.relu), as a "
                        "trainer needs")
            for net, role in (("D", "the D loss on the stopped copy alone (the zero term's two "
                               "paths into D cancel)"),
                              ("G", "lam times the gradient of mean(D(G(z))), from the zero term "
                               "alone")):
                if problem := _gradient_gap(want[net], got[net], self.grad_rtol, self.grad_atol):
                    return (f"your loss has the right value, but the gradient it sends to {net}'s "
                            f"weights (lam = {lam:g}) {problem}. It should be {role}: check "
                            f"where stop_gradient sits and which copy each term reads")
        return None


def _gradient_gap(want, got, rtol, atol) -> str | None:
    if all(not np.any(g) for g in got) and any(np.any(w) for w in want):
        return "is zero"
    for w, g in zip(want, got, strict=True):
        if not np.allclose(g, w, rtol=rtol, atol=atol):
            relative = np.linalg.norm(g - w) / max(np.linalg.norm(w), 1e-30)
            return f"differs from the single loss's by {relative:.2g} relative"
    return None


@functools.cache
def _tape_setup():
    """Two small ring-sized networks with fixed weights and one batch (no global seeding)."""
    rng = np.random.default_rng(22)
    gen = gan.make_generator(2, 2, hidden=(8,), name="tape_generator")
    disc = gan.make_discriminator(2, hidden=(8,), name="tape_discriminator")
    for model in (gen, disc):
        model.set_weights([rng.normal(0.0, 0.7, w.shape).astype(np.float32)
                           for w in model.get_weights()])
    x_real = tf.constant(rng.normal(0.0, 1.0, (6, 2)).astype(np.float32))
    z = tf.constant(rng.normal(0.0, 1.0, (4, 2)).astype(np.float32))
    return gen, disc, x_real, z


def loss_gradients(loss, lam: float) -> dict[str, list[np.ndarray]] | None:
    """The gradients of ``loss(d_real, d_fake, d_fake_ng, lam)`` with respect to D's ("D") and
    G's ("G") weights, one training step's scores on fixed small networks (float32, as float64
    arrays; a weight the loss does not reach gets zeros), or None if the loss is not a tensor."""
    gen, disc, x_real, z = _tape_setup()
    weights = disc.trainable_variables + gen.trainable_variables
    with tf.GradientTape() as tape:
        fake = gen(z)
        value = loss(disc(x_real), disc(fake), disc(tf.stop_gradient(fake)), lam)
    if not tf.is_tensor(value):
        return None
    grads = [np.zeros(w.shape) if g is None else np.asarray(g, np.float64)  # None: not reached
             for w, g in zip(weights, tape.gradient(value, weights), strict=True)]
    n_d = len(disc.trainable_variables)
    return {"D": grads[:n_d], "G": grads[n_d:]}


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
    advice="divide the step for lam g by the step for g, at t = 1 from zero state, with each "
           "optimizer's epsilon where Keras puts it (Adam: eps / sqrt(1 - beta_2) next to |g|; "
           "Keras 3's RMSprop: inside the root)",
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


class RingPrediction(PredictionExercise):
    """Predict which method reaches all 8 ring modes first over the stored study's seeds (its
    verdict, the same on every machine), then train both on your seed exactly as the study did
    (``gan.compare_ring``, 2,000 steps, coverage every 50 steps) and check the run against the
    lesson's ring claims (``gan.claims_for``; bands measured over seeds x CPUs). One seed is one
    draw: measured natively, seeds 15 and 17 reach 8 modes first with the single loss. A right
    prediction on a run that breaks a ring claim is RIGHT, BUT (the run's finding, not a mistake)."""

    kept, run_first = "ring", "train first (ring = q5.run()), then check"

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

    def broken_claims(self) -> list:
        """The lesson's ring claims (``gan.claims_for``) that this machine's run breaks."""
        return [claim for claim in gan.claims_for(self.ring) if not claim.holds()]

    def _verdict(self, answer):
        choice = answer.strip().lower() if isinstance(answer, str) else 0
        choice = {"single loss": "one_step", "one step": "one_step"}.get(choice, choice)
        if choice not in self.STUDY.values():
            return f"expected 'alternating', 'one_step' or 'same', got {show(answer)}"
        failed = self.broken_claims()
        broke = (f"this machine's run breaks the lesson's claim '{failed[0].statement}' "
                 f"({failed[0].band()})" if failed else "")
        counts = gan.load_seed_study().head_to_head()
        expected = self.STUDY[max(self.STUDY, key=counts.get)]
        if choice == expected:
            return RightBut(
                f"your prediction {choice!r} is the stored study's verdict; but {broke}: here "
                f"the lesson's claim did not reproduce (another seed or CPU than its bands were "
                f"measured on). A finding to discuss, not your mistake") if failed else None
        return (f"you predicted {choice!r}; the stored study says {expected!r}: of its "
                f"{sum(counts.values())} seeds, alternating first on {counts['alternating first']}, "
                f"single loss first on {counts['single loss first']}, the same step on "
                f"{counts['same step']}" + (f" (and {broke}: a finding to discuss)" if failed
                                            else ""))


q5 = RingPrediction(
    "Exercise 5",
    hints=("Section 5: a single-loss step moves D and G at the same point (simultaneous); on the "
           "Dirac GAN that spirals out, while alternating steps circle.",),
    solution='prediction = "alternating"  # simultaneous steps drift outwards (the Dirac GAN)')
