"""The measurements lesson 03 runs live (float32, so their digits depend on the machine):

- ``tiny_crf`` (section 1): a random CRF and sentence for the notebook's NumPy cells;
- ``path_probabilities`` (section 1): every path of a random CRF, and the Viterbi path;
- ``multiplier_steps`` (section 3): one step with ``lr_multiplier=k`` under Adam and SGD;
- ``train_now`` (section 9): the post's table in miniature, CRF x1, x10 and softmax.

``lessons.crf.claims`` checks what the notebook says about each result.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np
import tensorflow as tf

from lessons._core import notebook
from lessons._core.checks import integer, number, one_of
from lessons._core.data import TAGS
from lessons._core.notebook import course_seed
from lessons.crf.layer import CRF
from lessons.crf.scoring import transition_order
from lessons.crf.tagger import RunConfig, prepare_data, train_run

__all__ = ["live_summary", "multiplier_step_ratio", "multiplier_steps", "path_probabilities",
           "tiny_crf", "train_now"]


def tiny_crf(length: int = 5, num_tags: int = 4, scale: float = 1.0,
             seed: int | None = None) -> dict:
    """A random CRF layer and one random sentence, for computing by hand what the layer does.

    The weights are uniform in [-scale, scale] and the emissions standard normal, all rounded to
    float32 (the layer's precision), so the float64 copies returned are exactly the layer's.

    Args:
        length: characters, 1..8 (default 5: 4**5 = 1024 paths, cheap to enumerate).
        num_tags: tags, >= 1 (default 4). scale: > 0 (default 1.0).
        seed: None (default) means the course seed.

    Returns:
        ``{"layer": CRF, "emissions": [length, num_tags], "tags": a random gold path [length],
        "transitions": [num_tags, num_tags], "start": [num_tags], "end": [num_tags]}`` (float64
        NumPy arrays, tags int).
    """
    length = integer("length", length, low=1, high=8)
    num_tags = integer("num_tags", num_tags, low=1)
    scale = number("scale", scale, low=0, low_open=True)
    rng = np.random.default_rng(course_seed(seed))
    layer = CRF(num_tags)
    layer.build()
    weights = {}
    for name, var in zip(("transitions", "start", "end"), layer.trainable_variables, strict=True):
        weights[name] = rng.uniform(-scale, scale, size=var.shape).astype(np.float32)
        var.assign(weights[name])  # lr_multiplier 1: stored = effective
    emissions = rng.normal(size=(length, num_tags)).astype(np.float32)
    return {"layer": layer, "emissions": emissions.astype(np.float64),
            "tags": rng.integers(0, num_tags, size=length),
            **{name: w.astype(np.float64) for name, w in weights.items()}}


def path_probabilities(num_tags: int = 4, length: int = 3, init_scale: float = 2.0,
                       seed: int | None = None) -> dict:
    """Section 1's check: a random CRF, p(path) for every one of the num_tags**length paths
    of one random sentence, and the Viterbi path.

    Args:
        num_tags: tags, >= 1 (default 4). length: characters, 1..6 (default 3).
        init_scale: weights uniform in [-init_scale, init_scale] (default 2.0; the emissions
            are standard normal). seed: None (default) means the course seed.

    Returns:
        ``{"kind": "paths", "n_paths", "sum_p", "most_likely", "viterbi"}`` (paths as lists).
    """
    length = integer("length", length, low=1, high=6)
    rng = np.random.default_rng(course_seed(seed))
    layer = CRF(num_tags, init_scale=init_scale)
    layer.build()
    for var in layer.weights:
        var.assign(rng.uniform(-init_scale, init_scale, size=var.shape).astype(np.float32))
    emissions = rng.normal(size=(1, length, num_tags)).astype(np.float32)
    paths = np.array(list(itertools.product(range(num_tags), repeat=length)))
    log_p = np.asarray(layer.log_likelihood(np.repeat(emissions, len(paths), 0), paths))
    return {"kind": "paths", "n_paths": len(paths),
            "sum_p": float(np.exp(np.float64(log_p)).sum()),
            "most_likely": paths[int(log_p.argmax())].tolist(),
            "viterbi": np.asarray(layer.decode(emissions))[0].tolist()}


def multiplier_step_ratio(k: float, optimizer: str = "adam", learning_rate: float = 1e-3,
                          seed: int | None = None) -> np.ndarray:
    """How much further one optimizer step moves the effective transitions with
    ``lr_multiplier=k`` than with 1, from the same start on the same random batch.

    Args:
        k: the multiplier, > 0.
        optimizer: ``"adam"`` (default; expect k, epsilon set to 1e-12 so it is negligible) or
            ``"sgd"`` (expect k**2).
        learning_rate: the optimizer's learning rate (default 1e-3).
        seed: batch and initial weights; None (default) means the course seed.

    Returns:
        the element-wise ratio of the two steps, shape [4, 4].
    """
    one_of("optimizer", optimizer, ("adam", "sgd"))
    k = number("k", k, low=0, low_open=True)
    rng = np.random.default_rng(course_seed(seed))
    n = len(TAGS)
    emissions = rng.normal(size=(8, 6, n)).astype(np.float32)
    tags = rng.integers(0, n, size=(8, 6))
    start = [rng.uniform(-0.1, 0.1, size=shape) for shape in ((n, n), (n,), (n,))]

    def step(multiplier):
        crf = CRF(n, lr_multiplier=multiplier)
        crf.build()
        for var, value in zip(crf.trainable_variables, start, strict=True):
            var.assign((value / multiplier).astype(np.float32))  # same effective weights
        opt = (keras.optimizers.Adam(learning_rate, epsilon=1e-12) if optimizer == "adam"
               else keras.optimizers.SGD(learning_rate))
        before = np.asarray(crf.transitions)
        with tf.GradientTape() as tape:
            loss = crf.nll_loss(emissions, tags)
        grads = tape.gradient(loss, crf.trainable_variables)
        opt.apply_gradients(zip(grads, crf.trainable_variables, strict=True))
        return np.asarray(crf.transitions) - before

    return step(k) / step(1.0)


def multiplier_steps(multipliers=(10, 100, 1000), learning_rate: float = 1e-3,
                     seed: int | None = None) -> dict:
    """Section 3's measurement: the median (over the 16 transitions) of
    ``multiplier_step_ratio`` under Adam and under SGD, for each multiplier.

    Args:
        multipliers: the k values (default 10, 100, 1000).
        learning_rate: the optimizers' learning rate (default 1e-3).
        seed: None (default) means the course seed.

    Returns:
        ``{"kind": "multiplier_steps", "multipliers", "adam", "sgd"}`` (lists of medians).
    """
    multipliers = [float(k) for k in multipliers]
    if not multipliers:
        raise ValueError("multipliers must name at least one k > 0")
    return {"kind": "multiplier_steps", "multipliers": multipliers,
            **{name: [float(np.median(multiplier_step_ratio(k, name, learning_rate, seed)))
                      for k in multipliers] for name in ("adam", "sgd")}}


def train_now(body_lr: float = 1e-3, multipliers=(1.0, 10.0), depth: int = 0,
              softmax: bool = True, epochs: int = 3, train_sentences: int = 1500,
              test_sentences: int = 200, max_len: int = 32, seed: int | None = None,
              constraints: str | None = None, jit_compile: bool = False,
              progress: bool = True) -> dict:
    """Train, live, one CRF tagger per CRF lr multiplier and a softmax tagger on the same data.

    Args:
        body_lr: the body's Adam learning rate (default 1e-3, the post's table).
        multipliers: CRF lr multipliers, one CRF run each (default (1, 10): CRF-1 and CRF-2).
        depth: encoder depth (default 0, the weakest encoder). softmax: add a softmax run (True).
        epochs, train_sentences, test_sentences, max_len: see ``RunConfig`` (defaults 3, 1500,
            200, 32: a few seconds per run on a laptop CPU).
        seed: None (default) means the course seed.
        constraints: the CRF runs' decoding constraints, None (default) or ``"bmes"``.
        jit_compile: see ``train_run`` (default False: these small models train about as fast
            without XLA and skip its seconds of compilation).
        progress: one tqdm bar over all runs' epochs (default True).

    Returns:
        ``{"kind": "live", "body_lr", "depth", "runs": {label: train_run result}}``, labels
        ``"CRF x<k>"`` and ``"softmax"``.
    """
    if not multipliers and not softmax:
        raise ValueError("multipliers must name at least one multiplier when softmax is False")
    common = {"body_lr": body_lr, "depth": depth, "epochs": epochs,
              "train_sentences": train_sentences, "test_sentences": test_sentences,
              "max_len": max_len, "seed": course_seed(seed)}
    configs = {f"CRF x{k:g}": RunConfig(lr_multiplier=float(k), constraints=constraints,
                                        **common) for k in multipliers}
    if softmax:
        configs["softmax"] = RunConfig(head="softmax", **common)
    data = prepare_data(train_sentences, test_sentences, max_len)
    bar = _progress_bar(len(configs) * epochs) if progress else None
    runs = {}
    for label, config in configs.items():
        on_epoch = None if bar is None else (lambda *_: bar.update(1))
        runs[label] = train_run(config, on_epoch=on_epoch, data=data, jit_compile=jit_compile)
    if bar is not None:
        bar.close()
    return {"kind": "live", "body_lr": body_lr, "depth": depth, "runs": runs}


def _progress_bar(total: int):
    """A bar over ``total`` epochs, or None when ``$TQDM_DISABLE`` is set: tqdm's notebook bar
    ignores that variable (tqdm 4.70), and scripts/execute_notebooks.py sets it so that no
    bar's first frame is stored in the notebook."""
    if notebook.progress_disabled():
        return None
    return notebook.progress(total=total, desc="training")


def live_summary(live: dict) -> list[dict]:
    """One row per run of ``train_now``: F1 after epoch 1, best F1, the transitions' spread
    (max - min) and how many rows rank every legal successor first (None for softmax)."""
    rows = []
    for label, run in live["runs"].items():
        trans = None if run["crf"] is None else np.asarray(run["crf"]["transitions"])
        config = run["config"]
        rows.append({
            "label": label,
            "crf_lr": None if trans is None else config["body_lr"] * config["lr_multiplier"],
            "epoch1": run["f1"][0], "best": max(run["f1"]),
            "spread": None if trans is None else float(trans.max() - trans.min()),
            "rows_ordered": None if trans is None else int((transition_order(trans) > 0).sum())})
    return rows
