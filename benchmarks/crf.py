"""Lesson 03 benchmark: CRF log-likelihood + gradient and Viterbi throughput (tokens/s).

Batch 32 x length 128 (``--batch``, ``--length``), 4 tags, ragged lengths. Four variants of each
task: a float64 NumPy forward-backward / Viterbi (the baseline, in the same process),
``lessons.crf.CRF`` run eagerly, under ``tf.function`` and under ``tf.function(jit_compile=True)``.
It first checks that they agree. Then it times them interleaved: each round runs every variant
once, in ABBA order (forward in even rounds, reversed in odd ones), and every result is
synchronised (converted to NumPy) before the clock stops. Each ratio (NumPy's time over the
variant's, paired within a round: higher = faster than NumPy) is printed as the median over the
rounds with its min..max spread.

    .venv/bin/python benchmarks/crf.py [--repeats 6] [--batch 32] [--length 128]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lessons.crf import CRF  # noqa: E402

BATCH, LENGTH, TAGS = 32, 128, 4
VARIANTS = ("numpy", "eager", "graph", "jit_compile")


def _logsumexp(x, axis):
    top = x.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def numpy_ll_and_grad(emissions, tags, mask, trans, start, end):
    """Log-likelihood [B] and the gradient of its sum w.r.t. emissions and transitions."""
    b, t_len, n = emissions.shape
    lengths = mask.sum(1)
    rows = np.arange(b)
    alpha = np.zeros((t_len, b, n))
    alpha[0] = start + emissions[:, 0]
    for t in range(1, t_len):
        nxt = _logsumexp(alpha[t - 1][:, :, None] + trans + emissions[:, t, None, :], 1)
        alpha[t] = np.where(mask[:, t, None], nxt, alpha[t - 1])
    log_z = _logsumexp(alpha[-1] + end, 1)
    beta = np.zeros((t_len, b, n))
    beta[-1] = end
    for t in range(t_len - 2, -1, -1):
        nxt = _logsumexp(trans + (emissions[:, t + 1] + beta[t + 1])[:, None, :], 2)
        beta[t] = np.where(mask[:, t + 1, None], nxt, beta[t + 1])
    marg = np.exp(alpha + beta - log_z[None, :, None]).transpose(1, 0, 2) * mask[..., None]
    onehot = np.eye(n)[tags] * mask[..., None]
    score = (start[tags[:, 0]] + (np.take_along_axis(emissions, tags[..., None], 2)[..., 0]
                                  * mask).sum(1) + end[tags[rows, lengths - 1]]
             + (trans[tags[:, :-1], tags[:, 1:]] * mask[:, 1:]).sum(1))
    pair = np.zeros((n, n))
    for t in range(1, t_len):
        on = mask[:, t]
        p = np.exp(alpha[t - 1][:, :, None] + trans + (emissions[:, t] + beta[t])[:, None, :]
                   - log_z[:, None, None])
        pair += p[on].sum(0)
        np.add.at(pair, (tags[on, t - 1], tags[on, t]), -1.0)
    return score - log_z, onehot - marg, -pair


def numpy_viterbi(emissions, mask, trans, start, end):
    b, t_len, n = emissions.shape
    score = start + emissions[:, 0]
    back = np.zeros((t_len, b, n), np.int64)
    back[:] = np.arange(n)
    for t in range(1, t_len):
        cand = score[:, :, None] + trans
        best = cand.argmax(1)
        on = mask[:, t, None]
        back[t] = np.where(on, best, np.arange(n))
        score = np.where(on, cand.max(1) + emissions[:, t], score)
    out = np.zeros((b, t_len), np.int64)
    out[:, -1] = (score + end).argmax(1)
    for t in range(t_len - 1, 0, -1):
        out[:, t - 1] = back[t][np.arange(b), out[:, t]]
    return out


def synchronised(fn):
    """``fn`` with every output converted to NumPy before it returns (TF may run ahead)."""
    def run():
        out = fn()
        return [np.asarray(x) for x in (out if isinstance(out, tuple | list) else [out])]
    return run


def abba_times(fns: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each function over ``rounds`` interleaved rounds, in ABBA order
    (forward, then reversed), after one warm-up call each (tracing, XLA compilation)."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for r in range(rounds):
        for name in (list(fns) if r % 2 == 0 else list(fns)[::-1]):
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times


def spread(ratios) -> str:
    """Median and min..max of per-round ratios."""
    ratios = np.asarray(ratios)
    return f"{np.median(ratios):.3g}x [{ratios.min():.3g} .. {ratios.max():.3g}]"


def make_problem(batch: int, length: int):
    """Random emissions (x3), tags, a ragged right-padded mask and a CRF with random weights."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    emissions = rng.normal(size=(batch, length, TAGS)).astype(np.float32) * 3
    tags = rng.integers(0, TAGS, size=(batch, length)).astype(np.int32)
    lengths = rng.integers(length // 2, length + 1, size=batch)
    mask = np.arange(length)[None] < lengths[:, None]
    crf = CRF(TAGS)
    crf.build()
    for var in crf.weights:
        var.assign(rng.normal(size=var.shape).astype(np.float32))
    return emissions, tags, mask, crf


def check_agreement(crf, emissions, tags, mask, ll_grad: dict, decode: dict) -> None:
    """Every TF variant's log-likelihood, gradients and paths equal the float64 NumPy ones."""
    weights = [np.float64(np.asarray(w)) for w in (
        crf.transitions, crf.start_transitions, crf.end_transitions)]
    np_ll, np_ge, np_gt = numpy_ll_and_grad(np.float64(emissions), tags, mask, *weights)
    for name, fn in ll_grad.items():
        ll, ge, gt = fn()
        np.testing.assert_allclose(ll, np_ll, rtol=1e-4, err_msg=name)
        np.testing.assert_allclose(ge, np_ge, atol=1e-4, err_msg=name)
        # the transitions' gradient (stored variable, k = 1) sums a pair marginal per real step:
        # float32 rounding grows with their number (~1e-3 at 32 x 128, eager or jit)
        np.testing.assert_allclose(gt, np_gt, atol=1e-6 * mask.sum(), err_msg=name)
    np_path = numpy_viterbi(np.float64(emissions), mask, *weights)
    for name, fn in decode.items():
        np.testing.assert_array_equal(np.where(mask, fn()[0], 0), np.where(mask, np_path, 0),
                                      err_msg=name)


def main(argv=None) -> dict:
    """Check agreement, then time; return ``{task: {variant: median tokens/s}}``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6, help="ABBA rounds (default 6)")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--length", type=int, default=LENGTH)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.batch < 1 or args.length < 2:
        parser.error("--repeats and --batch must be >= 1, --length >= 2")
    batch, length = args.batch, args.length
    emissions, tags, mask, crf = make_problem(batch, length)
    weights = [np.float64(np.asarray(w)) for w in (
        crf.transitions, crf.start_transitions, crf.end_transitions)]
    e_tf, e64 = tf.constant(emissions), np.float64(emissions)

    def tf_ll_grad():
        with tf.GradientTape() as tape:
            tape.watch(e_tf)
            ll = crf.log_likelihood(e_tf, tags, mask)
            total = tf.reduce_sum(ll)
        return (ll, *tape.gradient(total, [e_tf, crf.weights[0]]))

    graph_decode = tf.function(crf.decode)
    jit_decode = tf.function(crf.decode, jit_compile=True)
    tasks = {
        "log-likelihood + gradient": {
            "numpy": lambda: numpy_ll_and_grad(e64, tags, mask, *weights),
            "eager": tf_ll_grad,
            "graph": tf.function(tf_ll_grad),  # a TF graph without XLA, for reference
            "jit_compile": tf.function(tf_ll_grad, jit_compile=True)},
        "Viterbi decode": {
            "numpy": lambda: numpy_viterbi(e64, mask, *weights),
            "eager": lambda: crf.decode(emissions, mask),
            "graph": lambda: graph_decode(emissions, mask),
            "jit_compile": lambda: jit_decode(emissions, mask)},
    }
    tasks = {task: {name: synchronised(fn) for name, fn in fns.items()}
             for task, fns in tasks.items()}
    check_agreement(crf, emissions, tags, mask,
                    {k: v for k, v in tasks["log-likelihood + gradient"].items() if k != "numpy"},
                    {k: v for k, v in tasks["Viterbi decode"].items() if k != "numpy"})
    print("eager, graph, jit and NumPy agree (log-likelihood, gradients, Viterbi paths)")
    print(f"batch {batch} x length {length}, {TAGS} tags; {args.repeats} interleaved rounds "
          f"(ABBA), every result synchronised; speed over NumPy's: median [min .. max]")
    rates = {}
    for task, fns in tasks.items():
        times = {name: np.array(t) for name, t in abba_times(fns, args.repeats).items()}
        rates[task] = {name: batch * length / float(np.median(t)) for name, t in times.items()}
        over_numpy = " | ".join(f"{name} {spread(times['numpy'] / times[name])}"
                                for name in VARIANTS[1:])
        print(f"{task}: NumPy {rates[task]['numpy']:,.0f} tok/s | {over_numpy} | "
              f"jit over eager {spread(times['eager'] / times['jit_compile'])}")
    return rates


if __name__ == "__main__":
    main()
