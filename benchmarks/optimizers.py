"""Optimizer step time against Keras's own, same model, same process.

Targets (issues 3 and 6): AdaX / Adam <= 1.15 and Tiger / Lion <= 1.15, per training step.
Each optimizer trains a fresh copy of the same MLP (about 1.3 M weights, so the update itself is a
visible share of a step) for `STEPS` steps per round; rounds alternate between candidate and
baseline so that machine load hits both alike. The fastest round of each is compared (on a busy
machine the median is noisy); the median ratio is printed beside it.

    python benchmarks/optimizers.py [--steps 200] [--rounds 5]
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


def _model(optimizer, jit_compile):
    setup(0)
    model = keras.Sequential([
        keras.Input((256,)),
        keras.layers.Dense(1024, activation="relu"),
        keras.layers.Dense(1024, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer=optimizer, jit_compile=jit_compile,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _seconds_per_step(model, data, steps):
    model.fit(data, epochs=1, steps_per_epoch=3, verbose=0, shuffle=False)  # trace and compile outside the clock
    start = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32 * 8, 256)).astype("float32")
    y = rng.integers(0, 10, 32 * 8)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat()
    print(f"MLP 256-1024-1024-10, batch 32, {args.steps} steps x {args.rounds} rounds")
    for jit in (False, True):
        for name, (candidate, baseline) in PAIRS.items():
            models = (_model(candidate(), jit), _model(baseline(), jit))
            if jit:
                assert all(m.jit_compile for m in models), "XLA was dropped"
            times = np.array([[_seconds_per_step(m, data, args.steps) for m in models]
                              for _ in range(args.rounds)])
            cand, base = times.min(axis=0)
            median = np.median(times[:, 0] / times[:, 1])
            print(f"{'XLA' if jit else 'graph':5s} {name:13s} {cand * 1e3:7.3f} ms vs "
                  f"{base * 1e3:7.3f} ms per step  ratio {cand / base:.3f} (median {median:.3f})")


if __name__ == "__main__":
    main()
