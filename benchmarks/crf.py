"""Lesson 03 benchmark: CRF log-likelihood + gradient and Viterbi throughput (tokens/s).

Batch 32 x length 128 (``--batch``, ``--length``), 4 tags, ragged lengths. Compares
``lessons.crf.CRF`` run eagerly and under ``tf.function(jit_compile=True)`` against a plain NumPy
forward-backward / Viterbi reference in the same process (plus ``tf.function`` without XLA for
reference), and prints ratios (higher = faster than NumPy). Also checks that all three agree.

    .venv/bin/python benchmarks/crf.py [--repeats 5] [--batch 32] [--length 128]
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


def throughput(fn, repeats, tokens):
    fn()  # warm-up / compile
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return tokens / best


def main(argv=None) -> dict:
    """Run the agreement check and the benchmark; return ``{task: {name: tokens/s}}``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--length", type=int, default=LENGTH)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.batch < 1 or args.length < 2:
        parser.error("--repeats and --batch must be >= 1, --length >= 2")
    batch, length = args.batch, args.length
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    emissions = rng.normal(size=(batch, length, TAGS)).astype(np.float32) * 3
    tags = rng.integers(0, TAGS, size=(batch, length)).astype(np.int32)
    lengths = rng.integers(length // 2, length + 1, size=batch)
    mask = np.arange(length)[None] < lengths[:, None]
    crf = CRF(TAGS)
    crf.build()
    for var in (crf._transitions, crf._start, crf._end):
        var.assign(rng.normal(size=var.shape).astype(np.float32))
    weights = [np.float64(np.asarray(w)) for w in (
        crf.transitions, crf.start_transitions, crf.end_transitions)]
    e_tf = tf.constant(emissions)

    def tf_ll_grad():
        with tf.GradientTape() as tape:
            tape.watch(e_tf)
            ll = crf.log_likelihood(e_tf, tags, mask)
            total = tf.reduce_sum(ll)
        return (ll, *tape.gradient(total, [e_tf, crf._transitions]))

    jit_ll_grad = tf.function(tf_ll_grad, jit_compile=True)
    jit_decode = tf.function(crf.decode, jit_compile=True)
    graph_ll_grad = tf.function(tf_ll_grad)  # a TF graph without XLA, for reference
    graph_decode = tf.function(crf.decode)

    # agreement first
    np_ll, np_ge, np_gt = numpy_ll_and_grad(np.float64(emissions), tags, mask, *weights)
    for name, fn in (("eager", tf_ll_grad), ("jit", jit_ll_grad)):
        ll, ge, gt = (np.asarray(x) for x in fn())
        np.testing.assert_allclose(ll, np_ll, rtol=1e-4, err_msg=name)
        np.testing.assert_allclose(ge, np_ge, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(gt, np_gt, atol=1e-3, err_msg=name)  # stored var, k = 1
    np_path = numpy_viterbi(np.float64(emissions), mask, *weights)
    for path in (crf.decode(emissions, mask), jit_decode(emissions, mask)):
        np.testing.assert_array_equal(np.where(mask, path, 0), np.where(mask, np_path, 0))
    print("eager, jit and NumPy agree (log-likelihood, gradients, Viterbi paths)")

    rows = {
        "log-likelihood + gradient": {
            "numpy": lambda: numpy_ll_and_grad(np.float64(emissions), tags, mask, *weights),
            "eager": tf_ll_grad,
            "graph": graph_ll_grad,
            "jit_compile": jit_ll_grad},
        "Viterbi decode": {
            "numpy": lambda: numpy_viterbi(np.float64(emissions), mask, *weights),
            "eager": lambda: crf.decode(emissions, mask),
            "graph": lambda: graph_decode(emissions, mask).numpy(),
            "jit_compile": lambda: jit_decode(emissions, mask).numpy()},
    }
    print(f"batch {batch} x length {length}, {TAGS} tags, best of {args.repeats}; "
          f"ratios are tokens/s over NumPy's")
    rates = {}
    for task, fns in rows.items():
        rate = rates[task] = {name: throughput(fn, args.repeats, batch * length)
                              for name, fn in fns.items()}
        print(f"{task:27} NumPy {rate['numpy']:>10,.0f} tok/s | eager "
              f"{rate['eager'] / rate['numpy']:6.3f}x | tf.function "
              f"{rate['graph'] / rate['numpy']:6.2f}x | jit_compile "
              f"{rate['jit_compile'] / rate['numpy']:6.2f}x (jit/eager "
              f"{rate['jit_compile'] / rate['eager']:.0f}x)")
    return rates


if __name__ == "__main__":
    main()
