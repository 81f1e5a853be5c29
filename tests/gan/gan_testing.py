"""Helpers shared by lesson 02's tests: tiny seeded models and batches, weight snapshots."""

import keras
import numpy as np
import tensorflow as tf

from lessons import gan


def models(seed, latent=3, dim=2, g_hidden=(5, 4), d_hidden=(6,)):
    keras.utils.set_random_seed(seed)
    return gan.make_generator(latent, dim, g_hidden), gan.make_discriminator(dim, d_hidden)


def batch(seed, n=7, latent=3, dim=2):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    z = rng.standard_normal((n, latent)).astype(np.float32)
    return tf.constant(x), tf.constant(z)


def weights(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def max_diff(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True))


def hinge_np(d_real, d_fake):
    return np.mean(np.maximum(0, 1 + d_real)) + np.mean(np.maximum(0, 1 - d_fake))


# the settings of the shared short ring runs (conftest.py's ``ring_runs``)
RING_KW = {"eval_every": 10, "jit_compile": False}


# ----------------------------------------------------------------------------- fake results


def fake_run(method, modes, hq, steps=(0, 1000, 2000), seed=0):
    return gan.RingRun(method, 1.0, list(steps), list(modes), list(hq), seed=seed)


def fake_ring(one_modes=8, one_hq=0.7, alt_modes=8, alt_hq=0.85):
    return gan.RingComparison({
        "one_step": fake_run("one_step", [0, 3, one_modes], [0, .1, one_hq]),
        "alternating": fake_run("alternating", [0, 8, alt_modes], [0, .6, alt_hq])})


def fake_study(first_one=(1000, 1100, 900, None, 1200), first_alt=(700, 800, 600, 750, 800),
               final_one=(8, 8, 8, 6, 8), final_alt=(8, 8, 8, 8, 8),
               hq_one=(0.6, 0.75, 0.8, 0.3, 0.75), hq_alt=0.85):
    """A fake five-seed study (a final high-quality share per seed, or one for all)."""
    runs = []
    hq_one, hq_alt = ([h] * 5 if isinstance(h, float) else h for h in (hq_one, hq_alt))
    for seed, values in enumerate(zip(first_one, first_alt, final_one, final_alt, hq_one, hq_alt,
                                      strict=True)):
        for method, first, final, hq in (("one_step", values[0], values[2], values[4]),
                                         ("alternating", values[1], values[3], values[5])):
            steps = [0, 500, first, 2000] if first is not None else [0, 500, 1000, 2000]
            modes = [0, 1, 8, final] if first is not None else [0, 1, 5, final]
            runs.append(fake_run(method, modes, [0, .1, .5, hq], steps, seed))
    return gan.SeedStudy({"steps": 2000, "eval_every": 50, "lam": 1.0}, {}, tuple(runs))


def fake_bench(two=(0.65, 0.7, 0.72), one=(0.98, 1.02, 1.3), wide_two=(0.9, 0.92),
               mem=(1.3, 1.5)):
    """A fake stored benchmark."""
    def rounds(twos, ones):
        return [{"ms_one_step": 1.0, "ms_pair": 1.0 / o, "ms_pair_two_calls": 1.0 / t,
                 "ratio": o, "ratio_two_calls": t} for t, o in zip(twos, ones, strict=True)]
    timing = [{"config": "ring", "jit": True, "rounds": rounds(two, one)},
              {"config": "wide", "jit": True, "rounds": rounds(wide_two, (1.0,) * len(wide_two))}]
    memory = {"batch": 4096, "hidden": [256, 256],
              "rounds": [{"one_step": m * 100, "d_step": 100, "g_step": 90, "pair": 100}
                         for m in mem]}
    return gan.BenchmarkResults({"environment": {"cpu": "x", "cpus": 2, "load_average": [0.1]},
                                 "timing": timing, "memory": memory})
