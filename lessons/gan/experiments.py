"""Both trainers on real data: the ring of 8 Gaussians (mode coverage along the way, Section 6)
and scikit-learn's 8x8 digits (Section 7). Every experiment follows the course seed."""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from lessons._core.checks import integer, one_of
from lessons._core.data import load_digits, sample_ring
from lessons._core.notebook import course_seed
from lessons._core.notebook import progress as progress_bar
from lessons.gan.coverage import RING_STD, mode_coverage
from lessons.gan.models import make_discriminator, make_generator
from lessons.gan.trainers import METHODS, make_trainer

__all__ = [
    "DIGITS_STEPS", "RING_BATCH", "RING_STEPS", "DigitsComparison", "RingComparison", "RingRun",
    "compare_digits", "compare_ring", "nearest_digit_distance", "train_digits", "train_ring",
    "untrained_digits",
]

RING_STEPS = 2000
RING_BATCH = 256
RING_POOL = 65536  # real ring points drawn once per run; batches resample them


def _tick(progress, step: int) -> None:
    if progress is not None:
        progress.update(1) if hasattr(progress, "update") else progress(step)


@dataclass
class RingRun:
    """One training run on the ring: coverage at each evaluated step, and kept samples."""

    method: str
    lam: float
    steps: list[int] = field(default_factory=list)  # evaluation steps
    modes: list[int] = field(default_factory=list)  # covered modes at each evaluation
    high_quality: list[float] = field(default_factory=list)
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)  # step -> samples [n, 2]
    seed: int = 0

    def first_step_with(self, modes: int = 8) -> int | None:
        """The first evaluated step with at least ``modes`` modes covered (None if never)."""
        return next((s for s, m in zip(self.steps, self.modes, strict=True) if m >= modes), None)


def train_ring(method: str = "one_step", steps: int = RING_STEPS, lam: float = 1.0,
               seed: int | None = None, learning_rate: float = 1e-3,
               batch_size: int = RING_BATCH, eval_every: int = 250,
               snapshots=(0, 500, 1000, 2000), n_eval: int = 2000, progress=None,
               jit_compile: bool = True, optimizer: str = "adam") -> RingRun:
    """Train a GAN on the 8-Gaussian ring and record mode coverage along the way.

    The same ``seed`` gives both methods the same initial weights, data and noise; evaluating
    more or less often does not change the training.

    Args:
        method: "one_step" or "alternating" (default "one_step").
        steps: training steps, >= 1 (default 2000); one step = one single-loss update or one
            D+G pair.
        lam: G weight in the single loss, G:D lr ratio for the baseline (default 1.0).
        seed: seeds weights, data and noise (default None: the course seed).
        learning_rate: > 0 (default 1e-3).
        batch_size: real and fake samples per step, >= 1 (default 256).
        eval_every: evaluate coverage every this many steps, >= 1 (default 250).
        snapshots: steps at which to keep ``n_eval`` generated samples.
        n_eval: samples drawn for each evaluation, >= 1 (default 2000).
        progress: optional callable ``progress(steps_done)`` or a tqdm-like object with ``update``.
        jit_compile: compile the train step with XLA (default True).
        optimizer: "adam" (default), "sgd" or "rmsprop" (see ``make_optimizer``).
    """
    one_of("method", method, METHODS)
    steps = integer("steps", steps)
    batch_size = integer("batch_size", batch_size)
    eval_every = integer("eval_every", eval_every)
    n_eval = integer("n_eval", n_eval)
    seed = course_seed(seed)
    keras.utils.set_random_seed(seed)
    gen, disc = make_generator(2, 2), make_discriminator(2)
    trainer = make_trainer(method, gen, disc, learning_rate, lam, jit_compile, optimizer)
    rng = np.random.default_rng(seed)
    data = sample_ring(RING_POOL, std=RING_STD, seed=seed)
    z_eval = rng.standard_normal((n_eval, 2)).astype(np.float32)
    run = RingRun(method, float(lam), seed=seed)
    keep = set(snapshots)

    def evaluate(step):
        samples = np.asarray(gen(z_eval))
        cov = mode_coverage(samples)
        run.steps.append(step)
        run.modes.append(cov.modes)
        run.high_quality.append(cov.high_quality)
        if step in keep:
            run.snapshots[step] = samples

    evaluate(0)
    for step in range(1, steps + 1):
        idx = rng.integers(0, len(data), size=batch_size)
        z = rng.standard_normal((batch_size, 2)).astype(np.float32)
        trainer.train_step(tf.constant(data[idx]), tf.constant(z))
        if step % eval_every == 0 or step == steps:
            evaluate(step)
        elif step in keep:
            run.snapshots[step] = np.asarray(gen(z_eval))
        _tick(progress, step)
    return run


@dataclass(frozen=True)
class RingComparison:
    """Both methods on the ring with the same seed: the notebook's Section 6."""

    runs: dict  # method -> RingRun


def compare_ring(steps: int = RING_STEPS, lam: float = 1.0, seed: int | None = None,
                 progress: bool = True, **kwargs) -> RingComparison:
    """Train both methods on the ring with the same seed (a progress bar each if ``progress``).

    Args:
        steps: training steps per method (default 2000).
        lam: G weight / G:D lr ratio (default 1.0).
        seed: default None: the course seed.
        progress: show a tqdm bar per method (default True).
        kwargs: passed on to ``train_ring`` (e.g. ``eval_every``, ``jit_compile``).
    """
    runs = {}
    for method in METHODS:
        bar = progress_bar(total=steps, desc=method) if progress else None
        runs[method] = train_ring(method, steps=steps, lam=lam, seed=seed, progress=bar, **kwargs)
        if bar is not None:
            bar.close()
    return RingComparison(runs)


DIGITS_STEPS = 600
DIGITS_LATENT = 16


def _digits_models(seed: int):
    keras.utils.set_random_seed(seed)
    gen = make_generator(DIGITS_LATENT, 64, hidden=(128,), output_activation="tanh")
    return gen, make_discriminator(64, hidden=(128,))


def _to_images(generated) -> np.ndarray:
    return ((np.asarray(generated) + 1.0) / 2.0).reshape(-1, 8, 8)


def train_digits(method: str = "one_step", steps: int = DIGITS_STEPS, lam: float = 1.0,
                 seed: int | None = None, learning_rate: float = 1e-3, batch_size: int = 64,
                 n_samples: int = 16, progress=None, jit_compile: bool = True) -> np.ndarray:
    """Train a small MLP GAN on scikit-learn's 8x8 digits; return ``n_samples`` images.

    Args:
        method: "one_step" or "alternating" (default "one_step").
        steps: training steps, >= 1 (default 600).
        lam: G weight / G:D lr ratio (default 1.0).
        seed: seeds weights, batches and noise (default None: the course seed).
        learning_rate: Adam's, > 0 (default 1e-3).
        batch_size: real and fake images per step, >= 1 (default 64).
        n_samples: images to return, >= 1 (default 16).
        progress: optional tqdm-like object with ``update`` (or a callable of the step).
        jit_compile: compile the train step with XLA (default True).

    Returns generated images, float32 [n_samples, 8, 8] in [0, 1].
    """
    one_of("method", method, METHODS)
    steps = integer("steps", steps)
    batch_size = integer("batch_size", batch_size)
    n_samples = integer("n_samples", n_samples)
    seed = course_seed(seed)
    gen, disc = _digits_models(seed)
    x, _ = load_digits(scaled="tanh")
    trainer = make_trainer(method, gen, disc, learning_rate, lam, jit_compile)
    rng = np.random.default_rng(seed)
    for step in range(1, steps + 1):
        idx = rng.integers(0, len(x), size=batch_size)
        z = rng.standard_normal((batch_size, DIGITS_LATENT)).astype(np.float32)
        trainer.train_step(tf.constant(x[idx]), tf.constant(z))
        _tick(progress, step)
    z = rng.standard_normal((n_samples, DIGITS_LATENT)).astype(np.float32)
    return _to_images(gen(z))


def untrained_digits(n_samples: int = 16, seed: int | None = None) -> np.ndarray:
    """Images from ``train_digits``'s generator before any step (same seed, same weights).

    Args:
        n_samples: images, >= 1 (default 16).
        seed: default None: the course seed.
    """
    n_samples = integer("n_samples", n_samples)
    gen, _ = _digits_models(course_seed(seed))
    z = np.random.default_rng(course_seed(seed)).standard_normal((n_samples, DIGITS_LATENT))
    return _to_images(gen(z.astype(np.float32)))


def nearest_digit_distance(images) -> np.ndarray:
    """Euclidean distance (pixels in [0, 1], 64 of them) of each image to its nearest real digit.

    Args:
        images: [n, 8, 8] or [n, 64] in [0, 1]. A real digit scores 0; a real digit against the
            *other* real digits about 1.0; uniform noise about 3.5.
    """
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    if flat.shape[1] != 64 or len(flat) < 1:
        raise ValueError(f"images must have shape [n >= 1, 8, 8], got {np.shape(images)}")
    real, _ = load_digits(scaled="unit")
    real = real.astype(np.float64)
    sq = (flat**2).sum(1)[:, None] - 2 * flat @ real.T + (real**2).sum(1)[None, :]
    return np.sqrt(np.maximum(sq.min(axis=1), 0.0))


@dataclass(frozen=True)
class DigitsComparison:
    """Generated digits of both methods (and of the untrained generator), with two measures."""

    images: dict  # "untrained", "one_step", "alternating" -> [n, 8, 8]

    def distance(self, name: str) -> float:
        """Mean distance of ``name``'s images to their nearest real digit."""
        return float(nearest_digit_distance(self.images[name]).mean())

    def spread(self, name: str) -> float:
        """Mean over pixels of the std across ``name``'s images (0 when all images are equal)."""
        return float(self.images[name].reshape(len(self.images[name]), -1).std(axis=0).mean())


def compare_digits(steps: int = DIGITS_STEPS, seed: int | None = None, n_samples: int = 64,
                   progress: bool = True, **kwargs) -> DigitsComparison:
    """Train both methods on the digits (same seed) and keep ``n_samples`` images of each.

    Args:
        steps: training steps per method (default 600).
        seed: default None: the course seed.
        n_samples: images per method (default 64; the figure shows the first 16).
        progress: show a tqdm bar per method (default True).
        kwargs: passed on to ``train_digits`` (e.g. ``jit_compile``).
    """
    images = {"untrained": untrained_digits(n_samples, seed)}
    for method in METHODS:
        bar = progress_bar(total=steps, desc=method) if progress else None
        images[method] = train_digits(method, steps, seed=seed, n_samples=n_samples,
                                      progress=bar, **kwargs)
        if bar is not None:
            bar.close()
    return DigitsComparison(images)
