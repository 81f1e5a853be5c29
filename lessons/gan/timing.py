"""What a step costs (Section 9): ms per training step of the single loss and of the alternating
pair, peak allocator memory, and the stored output of ``benchmarks/gan.py``."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from lessons._core.checks import integer
from lessons._core.data import sample_ring
from lessons._core.notebook import course_seed
from lessons.gan.coverage import RING_STD
from lessons.gan.experiments import RING_BATCH
from lessons.gan.models import check_widths, make_discriminator, make_generator
from lessons.gan.results import BENCHMARK_FILE, find_result
from lessons.gan.trainers import AlternatingGAN, OneStepGAN, make_optimizer

__all__ = ["BenchmarkResults", "StepTiming", "load_benchmark", "peak_memory",
           "peak_memory_in_process", "time_steps"]

_clock = time.perf_counter  # a test replaces it with a fake clock


def _timing_setup(batch_size: int, hidden, jit_compile: bool, seed: int = 0):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = tf.constant(sample_ring(batch_size, std=RING_STD, seed=seed))
    z = tf.constant(rng.standard_normal((batch_size, 2)).astype(np.float32))
    gen, disc = make_generator(2, 2, hidden), make_discriminator(2, hidden)
    one = OneStepGAN(gen, disc, make_optimizer("adam", 1e-4), 1.0, jit_compile)
    alt = AlternatingGAN(gen, disc, make_optimizer("adam", 1e-4), make_optimizer("adam", 1e-4),
                         jit_compile)
    return one, alt, x, z


@dataclass(frozen=True)
class StepTiming:
    """Milliseconds per step of the single loss, the D+G pair in one call, and in two calls."""

    batch_size: int
    ms_one_step: float
    ms_pair: float
    ms_pair_two_calls: float

    @property
    def ratio(self) -> float:
        """Single loss over the pair compiled into one call."""
        return self.ms_one_step / self.ms_pair

    @property
    def ratio_two_calls(self) -> float:
        """Single loss over the pair run as two calls."""
        return self.ms_one_step / self.ms_pair_two_calls

    def as_dict(self) -> dict[str, float]:
        return {"ms_one_step": self.ms_one_step, "ms_pair": self.ms_pair,
                "ms_pair_two_calls": self.ms_pair_two_calls, "ratio": self.ratio,
                "ratio_two_calls": self.ratio_two_calls}


def _wait(out) -> None:
    tf.nest.map_structure(lambda t: t.numpy(), out)  # block until the step has finished


def time_steps(batch_size: int = RING_BATCH, hidden=(64, 64), repeats: int = 21,
               steps_per_repeat: int = 20, jit_compile: bool = True,
               seed: int | None = None) -> StepTiming:
    """Milliseconds per training step: one single-loss step vs one alternating D+G pair.

    Same models, batch and process; each figure is the median over ``repeats`` of the mean over
    ``steps_per_repeat`` calls, after a compile-and-warm-up call. The three variants are timed
    block by block in ABBA order (A B C, then C B A, ...), so a load change on a shared machine
    hits all three alike and none always runs first. "pair" is the baseline's ``train_step`` (D
    and G step in one compiled call); "two calls" calls ``d_step`` and ``g_step`` one after the
    other, as a loop with two ``train_on_batch`` calls would. Every block waits for its last
    step's result before the clock stops.

    Args:
        batch_size: real and fake samples per step, >= 1 (default 256).
        hidden: hidden widths of both networks (default (64, 64)).
        repeats: timed blocks per variant, >= 1 (default 21).
        steps_per_repeat: calls per block, >= 1 (default 20).
        jit_compile: compile the steps with XLA (default True).
        seed: seeds the models and the batch (default None: the course seed).
    """
    batch_size = integer("batch_size", batch_size)
    repeats = integer("repeats", repeats)
    steps_per_repeat = integer("steps_per_repeat", steps_per_repeat)
    one, alt, x, z = _timing_setup(batch_size, check_widths(hidden), jit_compile,
                                   course_seed(seed))

    def pair_two_calls(x, z):
        alt.d_step(x, z)
        return alt.g_step(z)

    def block(fn):  # mean seconds per call over one block of calls
        start = _clock()
        for _ in range(steps_per_repeat):
            out = fn(x, z)
        _wait(out)
        return (_clock() - start) / steps_per_repeat

    fns = (one.train_step, alt.train_step, pair_two_calls)
    for fn in fns:
        _wait(fn(x, z))  # compile and warm up
    times = np.zeros((repeats, len(fns)))
    for r in range(repeats):
        for i in (range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))):
            times[r, i] = block(fns[i])
    one_ms, pair_ms, two_ms = (1e3 * np.median(times, axis=0)).tolist()
    return StepTiming(batch_size, one_ms, pair_ms, two_ms)


def peak_memory_in_process(batch_size: int, hidden, seed: int = 0) -> dict[str, int]:
    """``peak_memory`` measured in this process, which must have been started with
    ``TF_CPU_ALLOCATOR_USE_BFC=true`` (otherwise TensorFlow keeps no statistics).

    Args:
        batch_size: real and fake samples per step, >= 1.
        hidden: hidden widths of both networks.
        seed: seeds the models and the batch (default 0).
    """
    one, alt, x, z = _timing_setup(batch_size, hidden, jit_compile=False, seed=seed)

    def d_then_g(x, z):
        alt.d_step(x, z)
        return alt.g_step(z)

    out = {}
    for name, fn in (("one_step", one.train_step), ("d_step", lambda x, z: alt.d_step(x, z)),
                     ("g_step", lambda x, z: alt.g_step(z)), ("d_then_g", d_then_g)):
        _wait(fn(x, z))  # trace first: tracing allocates too
        tf.config.experimental.reset_memory_stats("CPU:0")
        base = tf.config.experimental.get_memory_info("CPU:0")["current"]
        _wait(fn(x, z))
        out[name] = int(tf.config.experimental.get_memory_info("CPU:0")["peak"] - base)
    # "pair": the larger step; "d_then_g" (the two run back to back) checks that the D step's
    # buffers are gone before the G step runs
    out["pair"] = max(out["d_step"], out["g_step"])
    return out


def peak_memory(batch_size: int = 4096, hidden=(256, 256),
                seed: int | None = None) -> dict[str, int]:
    """Peak bytes TensorFlow's CPU allocator holds during one step, above what it held before.

    Measured in a fresh Python process with ``TF_CPU_ALLOCATOR_USE_BFC=true`` (the default CPU
    allocator keeps no statistics; a process started with that variable measures in place),
    with graph-mode steps: XLA's CPU runtime allocates its scratch buffers outside TensorFlow's
    allocator, so a jit-compiled step cannot be measured this way. Takes a few seconds (the new
    process imports TensorFlow).
    Returns bytes for "one_step", "d_step", "g_step", "pair" (the larger of the two) and
    "d_then_g" (the D and the G step run back to back).

    Args:
        batch_size: real and fake samples per step, >= 1 (default 4096, so activations dominate).
        hidden: hidden widths of both networks (default (256, 256)).
        seed: seeds the models and the batch (default None: the course seed).
    """
    import subprocess
    import sys

    batch_size = integer("batch_size", batch_size)
    hidden = check_widths(hidden)
    if os.environ.get("TF_CPU_ALLOCATOR_USE_BFC") == "true":  # this process keeps statistics
        return peak_memory_in_process(batch_size, hidden, course_seed(seed))
    env = dict(os.environ, TF_CPU_ALLOCATOR_USE_BFC="true", TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "lessons.gan", "memory", str(batch_size),
           ",".join(map(str, hidden)), str(course_seed(seed))]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class BenchmarkResults:
    """The stored output of ``benchmarks/gan.py``: repeated, interleaved timings and memory."""

    data: dict

    def ratios(self, label: str, jit: bool, key: str = "ratio_two_calls") -> list[float]:
        """``key`` ("ratio" or "ratio_two_calls") of every round of one configuration."""
        for entry in self.data["timing"]:
            if entry["config"] == label and entry["jit"] == jit:
                return [r[key] for r in entry["rounds"]]
        raise ValueError(f"no timing for config {label!r} with jit={jit}")

    def memory_ratios(self) -> list[float]:
        """Single-loss peak over the larger alternating step's, per round."""
        return [r["one_step"] / r["pair"] for r in self.data["memory"]["rounds"]]


def load_benchmark(path=None) -> BenchmarkResults:
    """A benchmark: the course's stored one, or one written by ``benchmarks/gan.py``.

    Args:
        path: None (default: the stored ``lessons/results/gan_benchmark.json``), a JSON path, or
            a file name in the results folder (``lessons._core.results.find``).
    """
    path = find_result(path, BENCHMARK_FILE, "benchmarks/gan.py")
    return BenchmarkResults(json.loads(path.read_text()))
