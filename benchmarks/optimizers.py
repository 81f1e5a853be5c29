"""Optimizer step time against Keras's own, same model, same process.

Target: each course optimizer costs at most 15 % more per training step than its Keras baseline:
AdaX / Adam <= 1.15 and Tiger / Lion <= 1.15.

Each optimizer trains its own copy of the same MLP (256-1024-1024-10, about 1.3 M weights, so the
update is a visible share of a step). What is timed is a training step, not a ``fit()`` call:
one compiled function doing the forward pass, the gradients and the optimizer's update on a fixed
batch, called ``--steps`` times per block, with the last loss read (``.numpy()``) before the clock
stops. Blocks run in ABBA order (candidate, baseline, baseline, candidate, ...) so that load
drifting over the run hits both alike; each round's two adjacent blocks give one ratio. Printed
per pair: the median time per step of each, and the ratio's median with its min .. max and
interquartile range over the ``--rounds`` rounds.

    python benchmarks/optimizers.py [--steps 20] [--rounds 30]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lessons import setup  # noqa: E402
from lessons.adax import AdaX  # noqa: E402
from lessons.tiger import Tiger  # noqa: E402

PAIRS = {
    "AdaX / Adam": (lambda: AdaX(1e-3), lambda: keras.optimizers.Adam(1e-3)),
    "Tiger / Lion": (lambda: Tiger(1e-3, weight_decay=0.01),
                     lambda: keras.optimizers.Lion(1e-3, weight_decay=0.01)),
}
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
WARMUP_STEPS = 3  # tracing and XLA compilation happen here, outside the clock


def _train_step(optimizer, jit_compile):
    """A compiled training step (forward, gradients, update) of a fresh copy of the MLP."""
    setup(0)  # the same initial weights for every optimizer
    model = keras.Sequential([
        keras.Input((256,)),
        keras.layers.Dense(1024, activation="relu"),
        keras.layers.Dense(1024, activation="relu"),
        keras.layers.Dense(10),
    ])

    @tf.function(jit_compile=jit_compile)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = LOSS(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step


def _seconds_per_step(step, x, y, steps):
    """Wall time of ``steps`` calls, synchronised on the last loss, per step."""
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(x, y)
    loss.numpy()
    return (time.perf_counter() - start) / steps


def time_pair(candidate, baseline, x, y, steps, rounds):
    """Per-step seconds of both in ABBA order: an array [rounds, 2] (candidate, baseline)."""
    for step in (candidate, baseline):
        for _ in range(WARMUP_STEPS):
            step(x, y).numpy()
    times = np.empty((rounds, 2))
    for r in range(rounds):
        order = (0, 1) if r % 2 == 0 else (1, 0)  # A B, then B A, ...
        for which in order:
            times[r, which] = _seconds_per_step((candidate, baseline)[which], x, y, steps)
    return times


def report(mode, name, times):
    """One line: median ms per step of each; the ratio's median, min .. max and IQR."""
    ratio = times[:, 0] / times[:, 1]
    q1, q3 = np.percentile(ratio, [25, 75])
    cand, base = np.median(times, axis=0) * 1e3
    return (f"{mode:5s} {name:13s} {cand:7.3f} ms vs {base:7.3f} ms per step   ratio median "
            f"{np.median(ratio):.3f}  min..max {ratio.min():.3f}..{ratio.max():.3f}  "
            f"IQR {q1:.3f}..{q3:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="train steps per block (20)")
    parser.add_argument("--rounds", type=int, default=30, help="ABBA rounds per pair (30)")
    args = parser.parse_args()
    if args.steps < 1 or args.rounds < 2:
        parser.error("--steps must be >= 1 and --rounds >= 2")
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((32, 256)).astype("float32"))
    y = tf.constant(rng.integers(0, 10, 32))
    print(f"MLP 256-1024-1024-10, batch 32; {args.steps} train steps per block, "
          f"{args.rounds} rounds in ABBA order")
    for jit in (False, True):
        for name, (candidate, baseline) in PAIRS.items():
            steps = (_train_step(candidate(), jit), _train_step(baseline(), jit))
            times = time_pair(*steps, x, y, args.steps, args.rounds)
            print(report("XLA" if jit else "graph", name, times), flush=True)


if __name__ == "__main__":
    main()
