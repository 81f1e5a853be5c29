"""Lesson 03: a linear-chain CRF on People's Daily word segmentation, and its learning rate.

Post: https://kexue.fm/archives/7196. A tagger scores each character (emissions); the CRF adds
a learnt tag-to-tag transition score and decodes with Viterbi. When the encoder fits the
emissions fast, transitions trained at the body's learning rate barely move and stay
nonsensical; the bert4keras fix is a larger learning rate for the CRF alone (``lr_multiplier``).

The public pieces:
- ``CRF``: the Keras layer (``log_likelihood``, ``decode``, ``nll_loss``), ``bmes_constraints``.
- ``word_spans`` / ``word_scores``: word-level precision, recall and F1 (SIGHAN style).
- ``Tagger``: embedding + encoder of adjustable depth + emissions + CRF or softmax head.
- ``RunConfig`` / ``prepare_data`` / ``train_run``: one deterministic training run, seeded by
  the course seed (``lessons.setup``) unless the config names one; ``train_now``: a few runs
  side by side, live.
- ``path_probabilities``, ``multiplier_steps``: the small float32 checks of sections 1 and 3.
- ``check_claims``: what the notebook says about those live results, with measured bands.
The sweep, its CLI (``python -m lessons.crf sweep ...``) and the widgets live in
``lessons.crf_sweep``.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from functools import lru_cache

import keras
import numpy as np
import tensorflow as tf

from lessons._core.claims import Claim, check
from lessons._core.data import PAD, TAGS, Vocab, encode_tagged, load_peoples_daily, split_corpus
from lessons._core.notebook import course_seed, progress

_FORBIDDEN = -1e9  # score added to a forbidden transition when decoding with constraints


# ----------------------------------------------------------------------------------------------
# The CRF layer


def bmes_constraints(tags=TAGS) -> dict[str, list]:
    """Which transitions the (s, b, m, e) scheme allows, as nested lists of bools.

    A word is ``s`` or ``b m* e``, so after ``s``/``e`` comes ``s``/``b``, after ``b``/``m``
    comes ``m``/``e``; a sentence starts with ``s``/``b`` and ends with ``s``/``e``.

    Args:
        tags: the tag names in index order (default ``lessons._core.data.TAGS``).

    Returns:
        ``{"transitions": [from][to], "start": [tag], "end": [tag]}``, True where allowed.
    """
    if sorted(tags) != sorted(TAGS):
        raise ValueError(f"tags must be a permutation of {TAGS}, got {tags!r}")
    after = {"s": "sb", "e": "sb", "b": "me", "m": "me"}
    return {
        "transitions": [[b in after[a] for b in tags] for a in tags],
        "start": [t in "sb" for t in tags],
        "end": [t in "se" for t in tags],
    }


@keras.saving.register_keras_serializable(package="lessons")
class CRF(keras.layers.Layer):
    """A linear-chain conditional random field over ``num_tags`` tags.

    The score of a tag path y for emissions x is
    ``start[y_0] + sum_t x[t, y_t] + sum_{t>0} transitions[y_{t-1}, y_t] + end[y_last]`` and
    ``log p(y | x) = score(y) - logsumexp over all paths`` (the forward algorithm).

    Learning-rate multiplier (bert4keras): each weight W is stored as ``W / k`` and used as
    ``k * stored``. The gradient on the stored variable is ``k * dL/dW``. Under SGD the stored
    step is ``k * lr * dL/dW`` and W moves ``k^2`` times further. Keras's Adam steps
    ``alpha_t * m_t / (sqrt(v_t) + eps)`` with ``alpha_t = lr * sqrt(1 - beta_2^t) /
    (1 - beta_1^t)`` and uncorrected moments, so scaling the gradient by k leaves the stored step
    unchanged while ``eps << sqrt(v_t)``, and W moves ``k`` times further.

    Args:
        num_tags: number of tags, >= 1.
        lr_multiplier: k above, > 0 (default 1.0, a plain CRF).
        constraints: None (default), ``"bmes"`` or a dict like ``bmes_constraints()``; forbidden
            transitions are excluded when decoding (not when computing the likelihood).
        init_scale: initial weights are uniform in ``[-init_scale, init_scale]`` (default 0.1),
            the same effective values whatever ``lr_multiplier`` is.
    """

    def __init__(self, num_tags, lr_multiplier=1.0, constraints=None, init_scale=0.1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_tags, int | np.integer) or num_tags < 1:
            raise ValueError(f"num_tags must be an int >= 1, got {num_tags!r}")
        if not float(lr_multiplier) > 0:
            raise ValueError(f"lr_multiplier must be > 0, got {lr_multiplier!r}")
        if not float(init_scale) >= 0:
            raise ValueError(f"init_scale must be >= 0, got {init_scale!r}")
        self.num_tags = int(num_tags)
        self.lr_multiplier = float(lr_multiplier)
        self.init_scale = float(init_scale)
        if constraints == "bmes":
            constraints = bmes_constraints()
        self.constraints = _check_constraints(constraints, self.num_tags)

    def build(self, input_shape=None):
        k, n = self.lr_multiplier, self.num_tags
        init = keras.initializers.RandomUniform(-self.init_scale / k, self.init_scale / k)
        self._transitions = self.add_weight(name="transitions", shape=(n, n), initializer=init)
        self._start = self.add_weight(name="start_transitions", shape=(n,), initializer=init)
        self._end = self.add_weight(name="end_transitions", shape=(n,), initializer=init)
        self.built = True

    # Effective weights (k * stored), float32.
    @property
    def transitions(self):
        return self.lr_multiplier * tf.convert_to_tensor(self._transitions)

    @property
    def start_transitions(self):
        return self.lr_multiplier * tf.convert_to_tensor(self._start)

    @property
    def end_transitions(self):
        return self.lr_multiplier * tf.convert_to_tensor(self._end)

    def log_likelihood(self, emissions, tags, mask=None):
        """log p(tags | emissions), shape [batch], float32.

        Args:
            emissions: [batch, time, num_tags] float (any float dtype; computed in float32).
            tags: [batch, time] int in [0, num_tags) where the mask is on.
            mask: [batch, time] bool/int, right-padded with the first step on (default all on).
        """
        emissions, mask = self._prepare(emissions, mask)
        tags = self._check_tags(tags, emissions, mask)
        return self._path_score(emissions, tags, mask) - self._log_partition(emissions, mask)

    def nll_loss(self, emissions, tags, mask=None):
        """Mean negative log-likelihood over the batch (a scalar), the usual CRF training loss."""
        return -tf.reduce_mean(self.log_likelihood(emissions, tags, mask))

    def decode(self, emissions, mask=None):
        """The Viterbi (highest-scoring) tag path, int32 [batch, time].

        Positions where the mask is off repeat the last real tag.
        """
        emissions, mask = self._prepare(emissions, mask)
        return self._viterbi(emissions, mask)

    def call(self, emissions, mask=None):
        return self.decode(emissions, mask)

    def compute_output_spec(self, emissions, mask=None):
        return keras.KerasTensor(emissions.shape[:2], dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_tags": self.num_tags,
            "lr_multiplier": self.lr_multiplier,
            "constraints": self.constraints,
            "init_scale": self.init_scale,
        })
        return config

    # -- private helpers ----------------------------------------------------------------------

    def _prepare(self, emissions, mask):
        if not self.built:
            self.build()
        emissions = tf.cast(tf.convert_to_tensor(emissions), tf.float32)
        if emissions.shape.rank != 3 or emissions.shape[-1] not in (None, self.num_tags):
            raise ValueError(
                f"emissions must have shape [batch, time, num_tags={self.num_tags}], "
                f"got {emissions.shape}")
        if mask is None:
            mask = tf.ones(tf.shape(emissions)[:2], tf.bool)
        mask = tf.convert_to_tensor(mask)
        _check_same_shape("mask", mask, emissions)
        mask = tf.cast(mask, tf.bool)
        if tf.executing_eagerly():
            m = mask.numpy()
            if m.shape[1] == 0 or not m[:, 0].all():
                raise ValueError("mask must have its first time step on for every sequence "
                                 "(empty sequences are not allowed)")
            if (m[:, 1:] & ~m[:, :-1]).any():
                raise ValueError("mask must be right-padded: once off, it stays off "
                                 "(left padding or holes are not allowed)")
        return emissions, mask

    def _check_tags(self, tags, emissions, mask):
        tags = tf.convert_to_tensor(tags)
        if not tags.dtype.is_integer:
            raise ValueError(f"tags must be integers, got dtype {tags.dtype.name}")
        _check_same_shape("tags", tags, emissions)
        tags = tf.cast(tags, tf.int32)
        if tf.executing_eagerly():
            t = tags.numpy()[mask.numpy()]
            if t.size and (t.min() < 0 or t.max() >= self.num_tags):
                raise ValueError(f"tags must be in [0, {self.num_tags}) where the mask is on, "
                                 f"got values in [{t.min()}, {t.max()}]")
        return tf.where(mask, tags, 0)  # padded positions may hold anything

    def _path_score(self, emissions, tags, mask):
        # emissions [B, T, N], tags [B, T], mask [B, T] -> [B]
        maskf = tf.cast(mask, tf.float32)
        emit = tf.gather(emissions, tags, axis=2, batch_dims=2) * maskf  # [B, T]
        pairs = tf.stack([tags[:, :-1], tags[:, 1:]], axis=-1)  # [B, T-1, 2]
        trans = tf.gather_nd(self.transitions, pairs) * maskf[:, 1:]  # [B, T-1]
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)  # [B]
        last = tf.gather(tags, lengths - 1, axis=1, batch_dims=1)  # [B]
        return (tf.gather(self.start_transitions, tags[:, 0]) + tf.reduce_sum(emit, 1)
                + tf.reduce_sum(trans, 1) + tf.gather(self.end_transitions, last))

    def _log_partition(self, emissions, mask):
        # Forward algorithm; alpha[b, j] = log-sum of the scores of all prefixes ending in j.
        trans = self.transitions[tf.newaxis]  # [1, N, N]
        alpha = self.start_transitions + emissions[:, 0]  # [B, N]

        def step(alpha, inputs):
            emit_t, mask_t = inputs  # [B, N], [B]
            nxt = tf.reduce_logsumexp(alpha[:, :, None] + trans + emit_t[:, None, :], axis=1)
            return tf.where(mask_t[:, None], nxt, alpha)

        elems = (tf.transpose(emissions[:, 1:], [1, 0, 2]), tf.transpose(mask[:, 1:]))
        alpha = tf.foldl(step, elems, initializer=alpha)
        return tf.reduce_logsumexp(alpha + self.end_transitions, axis=1)

    def _viterbi(self, emissions, mask):
        trans, start, end = self.transitions, self.start_transitions, self.end_transitions
        if self.constraints is not None:
            c = self.constraints
            trans = trans + _penalty(c["transitions"])
            start, end = start + _penalty(c["start"]), end + _penalty(c["end"])
        n = self.num_tags
        identity = tf.range(n, dtype=tf.int32)

        def forward(carry, inputs):
            score, _ = carry  # [B, N]
            emit_t, mask_t = inputs
            cand = score[:, :, None] + trans[tf.newaxis]  # [B, from, to]
            best_prev = tf.argmax(cand, axis=1, output_type=tf.int32)  # [B, N]
            nxt = tf.reduce_max(cand, axis=1) + emit_t
            score = tf.where(mask_t[:, None], nxt, score)
            # Padded steps point back to the same tag, so backtracking passes through them.
            return score, tf.where(mask_t[:, None], best_prev, identity)

        score0 = start + emissions[:, 0]
        batch = tf.shape(emissions)[0]
        elems = (tf.transpose(emissions[:, 1:], [1, 0, 2]), tf.transpose(mask[:, 1:]))
        scores, history = tf.scan(
            forward, elems, initializer=(score0, tf.zeros([batch, n], tf.int32)))
        final = tf.cond(tf.shape(scores)[0] > 0, lambda: scores[-1], lambda: score0)
        last = tf.argmax(final + end, axis=1, output_type=tf.int32)  # [B]

        def backward(tag, back_t):  # back_t [B, N]: best previous tag for each tag at t
            return tf.gather(back_t, tag, axis=1, batch_dims=1)

        earlier = tf.scan(backward, history, initializer=last, reverse=True)  # [T-1, B]
        return tf.concat([tf.transpose(earlier), last[:, None]], axis=1)


def _penalty(allowed):
    return tf.where(tf.constant(allowed, tf.bool), 0.0, _FORBIDDEN)


def _check_same_shape(name, x, emissions):
    want, got = emissions.shape[:2], x.shape
    if got.rank != 2 or not got.is_compatible_with(want):
        raise ValueError(f"{name} must have shape [batch, time] = {want}, got {got}")
    if tf.executing_eagerly() and tuple(got) != tuple(tf.shape(emissions)[:2].numpy()):
        raise ValueError(f"{name} must have shape [batch, time] = {want}, got {got}")


def _check_constraints(constraints, n):
    if constraints is None:
        return None
    if not isinstance(constraints, dict) or set(constraints) != {"transitions", "start", "end"}:
        raise ValueError("constraints must be None, 'bmes' or a dict with keys "
                         f"'transitions', 'start', 'end'; got {constraints!r}")
    out = {k: np.asarray(v, bool) for k, v in constraints.items()}
    shapes = {"transitions": (n, n), "start": (n,), "end": (n,)}
    for key, shape in shapes.items():
        if out[key].shape != shape:
            raise ValueError(f"constraints[{key!r}] must have shape {shape}, "
                             f"got {out[key].shape}")
    if not out["start"].any() or not out["end"].any() or not out["transitions"].any(1).all():
        raise ValueError("constraints must allow some start tag, some end tag and a successor "
                         "for every tag")
    return {k: v.tolist() for k, v in out.items()}


def transition_order(transitions, tags=TAGS) -> np.ndarray:
    """Per "from" tag: the lowest allowed minus the highest forbidden transition score.

    Positive means the row ranks every legal successor above every illegal one (what a
    sensible (s, b, m, e) transition matrix does); shape [num_tags].
    """
    trans = np.asarray(transitions, np.float64)
    allowed = np.asarray(bmes_constraints(tags)["transitions"])
    if trans.shape != allowed.shape:
        raise ValueError(f"transitions must have shape {allowed.shape}, got {trans.shape}")
    low = np.where(allowed, trans, np.inf).min(1)
    high = np.where(allowed, -np.inf, trans).max(1)
    return low - high


def multiplier_step_ratio(k: float, optimizer: str = "adam", lr: float = 1e-3,
                          seed: int | None = None) -> np.ndarray:
    """How much further one optimizer step moves the effective transitions with
    ``lr_multiplier=k`` than with 1, from the same start on the same random batch.

    Args:
        k: the multiplier, > 0.
        optimizer: ``"adam"`` (expect k; epsilon set to 1e-12 so it is negligible) or ``"sgd"``
            (expect k**2). lr: learning rate (default 1e-3).
        seed: batch and initial weights; None (default) means the course seed.

    Returns:
        the element-wise ratio of the two steps, shape [4, 4].
    """
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    if not k > 0:
        raise ValueError(f"k must be > 0, got {k}")
    rng = np.random.default_rng(course_seed(seed))
    emissions = rng.normal(size=(8, 6, len(TAGS))).astype(np.float32)
    tags = rng.integers(0, len(TAGS), size=(8, 6))
    n = len(TAGS)
    start = [rng.uniform(-0.1, 0.1, size=shape) for shape in ((n, n), (n,), (n,))]

    def step(multiplier):
        crf = CRF(n, lr_multiplier=multiplier)
        crf.build()
        for var, value in zip((crf._transitions, crf._start, crf._end), start, strict=True):
            var.assign((value / multiplier).astype(np.float32))  # same effective weights
        opt = (keras.optimizers.Adam(lr, epsilon=1e-12) if optimizer == "adam"
               else keras.optimizers.SGD(lr))
        before = crf.transitions.numpy()
        with tf.GradientTape() as tape:
            loss = crf.nll_loss(emissions, tags)
        grads = tape.gradient(loss, crf.trainable_variables)
        opt.apply_gradients(zip(grads, crf.trainable_variables, strict=True))
        return crf.transitions.numpy() - before

    return step(float(k)) / step(1.0)


def multiplier_steps(multipliers=(10, 100, 1000), lr: float = 1e-3,
                     seed: int | None = None) -> dict:
    """Section 3's measurement: the median (over the 16 transitions) of
    ``multiplier_step_ratio`` under Adam and under SGD, for each multiplier.

    Args:
        multipliers: the k values (default 10, 100, 1000). lr: learning rate (default 1e-3).
        seed: None (default) means the course seed.

    Returns:
        ``{"kind": "multiplier_steps", "multipliers", "adam", "sgd"}`` (lists of medians).
    """
    multipliers = [float(k) for k in multipliers]
    if not multipliers:
        raise ValueError("multipliers must name at least one k > 0")
    return {"kind": "multiplier_steps", "multipliers": multipliers,
            "adam": [float(np.median(multiplier_step_ratio(k, "adam", lr, seed)))
                     for k in multipliers],
            "sgd": [float(np.median(multiplier_step_ratio(k, "sgd", lr, seed)))
                    for k in multipliers]}


def format_multiplier_steps(steps: dict) -> str:
    """One line per k: the Adam ratio and ratio / k, the SGD ratio and ratio / k**2."""
    return "\n".join(
        f"k = {k:>4g}: Adam step ratio {a:8.4g} = {a / k:.3f} k;"
        f"  SGD step ratio {g:8.4g} = {g / k**2:.3f} k^2"
        for k, a, g in zip(steps["multipliers"], steps["adam"], steps["sgd"], strict=True))


def path_probabilities(num_tags: int = 4, length: int = 3, init_scale: float = 2.0,
                       seed: int | None = None) -> dict:
    """Section 1's check: a random CRF, p(path) for every one of the num_tags**length paths
    of one random sentence, and the Viterbi path.

    Args:
        num_tags: tags (default 4). length: characters, 1..6 (default 3).
        init_scale: weights uniform in [-init_scale, init_scale] (default 2.0; the emissions
            are standard normal). seed: None (default) means the course seed.

    Returns:
        ``{"kind": "paths", "n_paths", "sum_p", "most_likely", "viterbi"}`` (paths as lists).
    """
    if not 1 <= length <= 6:
        raise ValueError(f"length must be in [1, 6], got {length}")
    rng = np.random.default_rng(course_seed(seed))
    layer = CRF(num_tags, init_scale=init_scale)
    layer.build()
    for var in layer.weights:
        var.assign(rng.uniform(-init_scale, init_scale, size=var.shape).astype(np.float32))
    emissions = rng.normal(size=(1, length, num_tags)).astype(np.float32)
    paths = np.array(list(itertools.product(range(num_tags), repeat=length)))
    log_p = layer.log_likelihood(np.repeat(emissions, len(paths), 0), paths).numpy()
    return {"kind": "paths", "n_paths": len(paths),
            "sum_p": float(np.exp(np.float64(log_p)).sum()),
            "most_likely": paths[int(log_p.argmax())].tolist(),
            "viterbi": layer.decode(emissions).numpy()[0].tolist()}


def format_path_probabilities(result: dict) -> str:
    return (f"sum of p over {result['n_paths']} paths: {result['sum_p']:.6f}\n"
            f"most likely path: {result['most_likely']}  Viterbi: {result['viterbi']}")


# ----------------------------------------------------------------------------------------------
# Word-level scores


def word_spans(tags) -> list[tuple[int, int]]:
    """The words a tag sequence cuts, as ``(start, end)`` character spans (end exclusive).

    A word ends after position i when tag i is ``s``/``e`` or tag i+1 is ``s``/``b``; this also
    reads illegal predicted sequences (``b b``, ``m`` first, ...) the way the SIGHAN scorer reads
    the segmented text they produce.

    Args:
        tags: a string over ``"sbme"`` or a sequence of tag ids (0..3 as in ``TAGS``).
    """
    if isinstance(tags, str):
        names = tags
    else:
        ids = [int(t) for t in np.asarray(tags).ravel()]
        if any(t < 0 or t >= len(TAGS) for t in ids):
            raise ValueError(f"tag ids must be in [0, {len(TAGS)}), got {ids}")
        names = "".join(TAGS[t] for t in ids)
    if set(names) - set(TAGS):
        raise ValueError(f"tags must be letters from {TAGS}, got {names!r}")
    spans, start = [], 0
    for i, tag in enumerate(names):
        if tag in "se" or i + 1 == len(names) or names[i + 1] in "sb":
            spans.append((start, i + 1))
            start = i + 1
    return spans


def word_scores(gold, pred, mask=None) -> dict[str, float]:
    """Word-level precision, recall and F1 over a corpus (micro-averaged, as SIGHAN's score).

    A predicted word counts as correct when the same span is a gold word.

    Args:
        gold: sequences of gold tags (strings or id sequences), or an int array [n, time].
        pred: predicted tags, same layout as ``gold``.
        mask: optional bool [n, time]; each row is cut to its mask's length (default: no cut).

    Returns:
        dict with precision, recall, f1 (floats) and n_gold, n_pred, n_correct (ints).
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold and pred must hold the same number of sequences, "
                         f"got {len(gold)} and {len(pred)}")
    lengths = None if mask is None else np.asarray(mask, bool).sum(1)
    if lengths is not None and len(lengths) != len(gold):
        raise ValueError(f"mask must have one row per sequence ({len(gold)}), got {len(lengths)}")
    n_gold = n_pred = n_correct = 0
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if lengths is not None:
            g, p = g[: lengths[i]], p[: lengths[i]]
        if len(g) != len(p):
            raise ValueError(f"gold and pred sequence {i} differ in length: {len(g)} vs {len(p)}")
        gs, ps = set(word_spans(g)), set(word_spans(p))
        n_gold, n_pred, n_correct = n_gold + len(gs), n_pred + len(ps), n_correct + len(gs & ps)
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "n_gold": n_gold, "n_pred": n_pred, "n_correct": n_correct}


# ----------------------------------------------------------------------------------------------
# The tagger


@keras.saving.register_keras_serializable(package="lessons")
class Tagger(keras.Model):
    """Character embedding -> encoder -> dense emissions -> CRF (or softmax) over (s, b, m, e).

    Args:
        vocab_size: number of character ids (``len(vocab)``), >= 3.
        depth: encoder layers, 0 (emissions from the character alone), 1 or 2 (default 1).
        encoder: ``"conv"`` (width-3 convolutions, ReLU; default) or ``"bilstm"``.
        head: ``"crf"`` (default) or ``"softmax"`` (independent per-character tags).
        lr_multiplier: the CRF's learning-rate multiplier (default 1.0; ignored for softmax).
        embed_dim: embedding size (default 64). width: encoder channels (default 64).
        constraints: the CRF's decoding constraints, None (default) or ``"bmes"`` (see ``CRF``;
            training is unchanged, Viterbi never decodes a forbidden transition).
    """

    def __init__(self, vocab_size, depth=1, encoder="conv", head="crf", lr_multiplier=1.0,
                 embed_dim=64, width=64, constraints=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(vocab_size, int | np.integer) or vocab_size < 3:
            raise ValueError(f"vocab_size must be an int >= 3, got {vocab_size!r}")
        if depth not in (0, 1, 2):
            raise ValueError(f"depth must be 0, 1 or 2, got {depth!r}")
        if encoder not in ("conv", "bilstm"):
            raise ValueError(f"encoder must be 'conv' or 'bilstm', got {encoder!r}")
        if head not in ("crf", "softmax"):
            raise ValueError(f"head must be 'crf' or 'softmax', got {head!r}")
        if constraints not in (None, "bmes"):
            raise ValueError(f"constraints must be None or 'bmes', got {constraints!r}")
        self.constraints = constraints
        self.vocab_size, self.depth, self.encoder, self.head = int(vocab_size), depth, encoder, head
        self.lr_multiplier, self.embed_dim, self.width = float(lr_multiplier), embed_dim, width
        self.embedding = keras.layers.Embedding(vocab_size, embed_dim)
        if encoder == "conv":
            self.blocks = [keras.layers.Conv1D(width, 3, padding="same", activation="relu")
                           for _ in range(depth)]
        else:
            self.blocks = [keras.layers.Bidirectional(
                keras.layers.LSTM(width // 2, return_sequences=True)) for _ in range(depth)]
        self.emit = keras.layers.Dense(len(TAGS))
        self.crf = (CRF(len(TAGS), lr_multiplier=lr_multiplier, constraints=constraints)
                    if head == "crf" else None)

    def build(self, input_shape):
        self.embedding.build(input_shape)
        shape = (*input_shape, self.embed_dim)
        for block in self.blocks:
            block.build(shape)
            shape = block.compute_output_shape(shape)
        self.emit.build(shape)
        if self.crf is not None:
            self.crf.build()
        self.built = True

    def call(self, ids):
        """Emission scores [batch, time, 4] for character ids [batch, time] (0 = padding)."""
        x = self.embedding(ids)
        mask = ids != PAD
        for block in self.blocks:
            x = block(x, mask=mask) if self.encoder == "bilstm" else block(x)
        return self.emit(x)

    def loss_on(self, ids, tags, mask):
        """Training loss: CRF mean NLL, or masked mean cross-entropy per character (softmax)."""
        emissions = self(ids)
        if self.crf is not None:
            return self.crf.nll_loss(emissions, tags, mask)
        ce = keras.ops.sparse_categorical_crossentropy(tags, emissions, from_logits=True)
        maskf = tf.cast(mask, ce.dtype)
        return tf.reduce_sum(ce * maskf) / tf.reduce_sum(maskf)

    def predict_tags(self, ids, mask):
        """Viterbi tags (CRF) or per-character argmax (softmax), int32 [batch, time]."""
        emissions = self(ids)
        if self.crf is not None:
            return self.crf.decode(emissions, mask)
        return tf.argmax(emissions, axis=-1, output_type=tf.int32)

    def get_config(self):
        config = super().get_config()
        config.update({k: getattr(self, k) for k in (
            "vocab_size", "depth", "encoder", "head", "lr_multiplier", "embed_dim", "width",
            "constraints")})
        return config


# ----------------------------------------------------------------------------------------------
# One training run


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run (defaults: the notebook's quick run).

    Args:
        body_lr: Adam learning rate of embedding, encoder and emissions (default 1e-3).
        lr_multiplier: the CRF's multiplier; its effective Adam lr is body_lr * lr_multiplier.
        depth, encoder, head: see ``Tagger`` (defaults 1, "conv", "crf").
        epochs: passes over the training pieces (default 3).
        train_sentences, test_sentences: how many corpus lines of the fixed split to use
            (defaults 3000 and 500); lines are cut into pieces of at most ``max_len`` characters.
        max_len: piece length (default 32). batch_size: default 64.
        embed_dim, width: model size (defaults 64, 64).
        seed: initialisation and shuffling; None (default) means the course seed
            (``lessons.setup(seed)``), resolved when ``train_run`` starts.
        constraints: None (default) or ``"bmes"``: Viterbi decoding never uses a forbidden
            transition (training is the same either way).
    """

    body_lr: float = 1e-3
    lr_multiplier: float = 1.0
    depth: int = 1
    encoder: str = "conv"
    head: str = "crf"
    epochs: int = 3
    train_sentences: int = 3000
    test_sentences: int = 500
    max_len: int = 32
    batch_size: int = 64
    embed_dim: int = 64
    width: int = 64
    seed: int | None = None
    constraints: str | None = None

    def __post_init__(self):
        if not 0 < self.body_lr <= 1:
            raise ValueError(f"body_lr must be in (0, 1], got {self.body_lr}")
        if not self.lr_multiplier > 0:
            raise ValueError(f"lr_multiplier must be > 0, got {self.lr_multiplier}")
        for name, low in (("epochs", 1), ("train_sentences", 1), ("test_sentences", 1),
                          ("max_len", 2), ("batch_size", 1), ("embed_dim", 1), ("width", 2)):
            if int(getattr(self, name)) < low:
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if self.seed is not None:
            course_seed(self.seed)  # validates it
        Tagger(3, depth=self.depth, encoder=self.encoder, head=self.head,
               constraints=self.constraints)  # validates those

    def resolved(self) -> RunConfig:
        """This config with ``seed`` resolved (the course seed when it is None)."""
        return dataclasses.replace(self, seed=course_seed(self.seed))


@lru_cache(maxsize=4)
def prepare_data(train_sentences: int, test_sentences: int, max_len: int):
    """The fixed split (``split_corpus`` seed 0), cut to the first ``train_sentences`` /
    ``test_sentences`` lines, the vocabulary of those training lines, and padded arrays.

    Returns:
        dict with ``vocab`` and ``train`` / ``test`` = (ids, tags, mask) NumPy arrays.
    """
    train, test = split_corpus(load_peoples_daily(), test_fraction=0.1, seed=0)
    if not 1 <= train_sentences <= len(train) or not 1 <= test_sentences <= len(test):
        raise ValueError(f"train_sentences must be in [1, {len(train)}] and test_sentences in "
                         f"[1, {len(test)}], got {train_sentences} and {test_sentences}")
    train, test = train[:train_sentences], test[:test_sentences]
    vocab = Vocab.build(train)
    return {"vocab": vocab, "train": encode_tagged(train, vocab, max_len),
            "test": encode_tagged(test, vocab, max_len)}


def build_tagger(config: RunConfig, vocab_size: int) -> Tagger:
    model = Tagger(vocab_size, depth=config.depth, encoder=config.encoder, head=config.head,
                   lr_multiplier=config.lr_multiplier, embed_dim=config.embed_dim,
                   width=config.width, constraints=config.constraints)
    model.build((None, config.max_len))
    return model


def crf_weights(model: Tagger) -> dict[str, list] | None:
    """The effective transitions [from][to], start and end scores of a tagger's CRF."""
    if model.crf is None:
        return None
    return {"transitions": model.crf.transitions.numpy().tolist(),
            "start": model.crf.start_transitions.numpy().tolist(),
            "end": model.crf.end_transitions.numpy().tolist()}


def evaluate(model: Tagger, arrays, predict=None) -> dict[str, float]:
    """Word scores of a tagger on (ids, tags, mask) arrays, plus its mean emission margin
    (best minus second-best emission per character: how sure the encoder alone is)."""
    ids, tags, mask = arrays
    pred = (predict or model.predict_tags)(ids, mask)
    scores = word_scores(tags, np.asarray(pred), mask)
    top2 = np.sort(np.asarray(model(ids)), axis=-1)[..., -2:]
    scores["emission_margin"] = float((top2[..., 1] - top2[..., 0])[mask].mean())
    return scores


def batch_progress(desc: str = "training"):
    """An ``on_batch`` callback for ``train_run`` that drives a tqdm bar (closed at the end).

    Args:
        desc: the bar's label (default "training").
    """
    bar = None

    def on_batch(done, total):
        nonlocal bar
        if bar is None:
            bar = progress(total=total, desc=desc)
        bar.update(done - bar.n)
        if done == total:
            bar.close()

    return on_batch


def train_run(config: RunConfig, on_epoch=None, data=None, on_batch=None,
              jit_compile: bool = True) -> dict:
    """Train one tagger from scratch, deterministically (seeded), scoring the test set each epoch.

    Seeds Python, NumPy and TensorFlow with ``keras.utils.set_random_seed`` (the course seed
    set by ``lessons.setup`` is left as it is; so are matplotlib's settings).

    Args:
        config: a ``RunConfig`` (its ``seed`` None means the course seed).
        on_epoch: optional ``f(epoch, record, model)`` called after every epoch (widgets use it).
        data: optional output of ``prepare_data`` (default: built from the config).
        on_batch: optional ``f(done, total)`` called after every training batch (progress bars,
            e.g. ``batch_progress()``).
        jit_compile: compile the training step and decoding with XLA (default True: faster for
            long runs, ~1-3 s of compilation first; the stored sweep used it). False gives the
            same results up to float32 rounding.

    Returns:
        dict with the config (seed resolved), per-epoch ``f1``/``precision``/``recall``/
        ``loss``/``emission_margin`` lists, final ``crf`` weights (None for softmax) and
        ``seconds``.
    """
    start_time = time.perf_counter()
    config = config.resolved()
    data = data or prepare_data(config.train_sentences, config.test_sentences, config.max_len)
    keras.utils.set_random_seed(config.seed)
    model = build_tagger(config, len(data["vocab"]))
    optimizer = keras.optimizers.Adam(config.body_lr)
    variables = model.trainable_variables
    optimizer.build(variables)

    @tf.function(jit_compile=jit_compile)
    def train_step(ids, tags, mask):
        with tf.GradientTape() as tape:
            loss = model.loss_on(ids, tags, mask)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    predict = tf.function(model.predict_tags, jit_compile=jit_compile)
    ids, tags, mask = data["train"]
    n_batches = max(1, len(ids) // config.batch_size)  # drop the ragged last batch
    rng = np.random.default_rng(config.seed)
    history = {k: [] for k in ("loss", "f1", "precision", "recall", "emission_margin")}
    for epoch in range(config.epochs):
        order = rng.permutation(len(ids))
        losses = []
        for b in range(n_batches):
            rows = order[b * config.batch_size:(b + 1) * config.batch_size]
            losses.append(float(train_step(ids[rows], tags[rows], mask[rows])))
            if on_batch is not None:
                on_batch(epoch * n_batches + b + 1, config.epochs * n_batches)
        scores = evaluate(model, data["test"], predict)
        record = {"loss": float(np.mean(losses)), **{k: scores[k] for k in history if k != "loss"}}
        for key, value in record.items():
            history[key].append(value)
        if on_epoch is not None:
            on_epoch(epoch, record, model)
    return {"config": dataclasses.asdict(config), **history, "crf": crf_weights(model),
            "seconds": time.perf_counter() - start_time}


def train_now(body_lr: float = 1e-3, multipliers=(1.0, 10.0), depth: int = 0,
              softmax: bool = True, epochs: int = 3, train_sentences: int = 1500,
              test_sentences: int = 200, max_len: int = 32, seed: int | None = None,
              constraints: str | None = None, jit_compile: bool = False,
              show_progress: bool = True) -> dict:
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
        show_progress: one tqdm bar over all runs' batches (default True).

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
    bar = progress(total=len(configs) * epochs, desc="training") if show_progress else None
    runs = {}
    for label, config in configs.items():
        on_epoch = None if bar is None else (lambda *_: bar.update(1))
        runs[label] = train_run(config, on_epoch=on_epoch, data=data, jit_compile=jit_compile)
    if bar is not None:
        bar.close()
    return {"kind": "live", "body_lr": body_lr, "depth": depth, "runs": runs}


def live_summary(live: dict) -> list[dict]:
    """One row per run of ``train_now``: F1 after epoch 1, best F1, the transitions' spread
    (max - min) and how many rows rank every legal successor first (None for softmax)."""
    rows = []
    for label, run in live["runs"].items():
        trans = None if run["crf"] is None else np.asarray(run["crf"]["transitions"])
        rows.append({"label": label, "crf_lr": (None if trans is None else
                                                 run["config"]["body_lr"]
                                                 * run["config"]["lr_multiplier"]),
                     "epoch1": run["f1"][0], "best": max(run["f1"]),
                     "spread": None if trans is None else float(trans.max() - trans.min()),
                     "rows_ordered": (None if trans is None else
                                      int((transition_order(trans) > 0).sum()))})
    return rows


def format_live(live: dict) -> str:
    """``live_summary`` as aligned text (F1 to 3 decimals)."""
    lines = [f"{'run':10}{'CRF lr':>8}{'F1 ep1':>8}{'best':>7}{'spread':>8}{'rows ok':>9}"]
    for r in live_summary(live):
        crf_lr = "-" if r["crf_lr"] is None else f"{r['crf_lr']:.0e}"
        spread = "-" if r["spread"] is None else f"{r['spread']:.2f}"
        ok = "-" if r["rows_ordered"] is None else f"{r['rows_ordered']}/4"
        lines.append(f"{r['label']:10}{crf_lr:>8}{r['epoch1']:>8.3f}{r['best']:>7.3f}"
                     f"{spread:>8}{ok:>9}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Claims: what the notebook says about its live (float32, machine-dependent) results


def path_claims(result: dict) -> list[Claim]:
    """Section 1: the probabilities of all paths sum to one; Viterbi finds the most likely.

    Measured spread (seeds 0-4 native on AVX-512, 0-2 under ONEDNN_MAX_CPU_ISA=AVX2 and under
    ONEDNN_MAX_CPU_ISA=SSE41 + TF_NUM_INTRAOP_THREADS=1): sum of p - 1 from -5.1e-7 to +2.1e-7
    (so its 6th decimal depends on the seed; band +-1e-4); Viterbi = most likely path in 11/11.
    """
    n = result["n_paths"]
    return [Claim(f"the probabilities of all {n} paths sum to 1", result["sum_p"],
                  at_least=0.9999, at_most=1.0001, digits=4),
            Claim(f"Viterbi returns the most likely of the {n} paths",
                  float(result["viterbi"] == result["most_likely"]), at_least=1, digits=0)]


def step_claims(steps: dict) -> list[Claim]:
    """Section 3: one step with ``lr_multiplier=k`` moves the transitions k times as far under
    Adam and k**2 times under SGD (the largest relative deviation over the k values).

    Measured spread (as ``path_claims``): largest deviation 7.6e-7 .. 1.3e-6 under Adam,
    2.0e-7 .. 5.1e-6 under SGD; band 1%. A broken multiplier (e.g. k on the weight but not on
    the gradient: ratio 1 under both) is off by 90% or more and fails.
    """
    ks = np.asarray(steps["multipliers"])
    adam = float(np.abs(np.asarray(steps["adam"]) / ks - 1).max())
    sgd = float(np.abs(np.asarray(steps["sgd"]) / ks**2 - 1).max())
    named = ", ".join(f"{k:g}" for k in ks)
    return [Claim(f"Adam: lr_multiplier=k moves the transitions k times as far (k = {named}; "
                  "largest deviation)", adam, at_most=0.01, unit="%"),
            Claim(f"SGD: lr_multiplier=k moves them k^2 times as far (k = {named}; "
                  "largest deviation)", sgd, at_most=0.01, unit="%")]


# Bands of ``live_claims`` (see its docstring for the measured spread).
LIVE_BANDS = {"crf_over_softmax": 0.05, "x10_over_x1": 0.08, "x1_spread": 1.0,
              "x10_spread": 2.0}


def live_claims(live: dict) -> list[Claim]:
    """Section 9: the claims the notebook makes about ``train_now()``'s default run (body lr
    1e-3, depth 0, CRF lr x1 and x10, softmax; 1500 lines, 3 epochs).

    Measured spread, seeds 0-4 native and 0-2 under ONEDNN_MAX_CPU_ISA=AVX2 and
    ONEDNN_MAX_CPU_ISA=SSE41 + TF_NUM_INTRAOP_THREADS=1 (11 runs each):
    CRF x1 minus softmax, best F1 0.103 .. 0.111 (band >= 0.05);
    CRF x10 minus x1, epoch-1 F1 0.135 .. 0.152 (band >= 0.08);
    transitions' spread at x1 0.54 .. 0.65 (band <= 1.0), at x10 2.81 .. 2.98 (band >= 2.0);
    rows ranking legal successors first at x10: 4/4 in every run.
    (The ISA hardly matters for these small models: AVX2 and SSE4.1 runs equal the native
    ones to 3 decimals; the seed moves F1 by up to 0.02.) A multiplier that does nothing
    (x10 = x1) fails the second and fourth claims; a CRF that ignores its transitions fails
    the first as well.
    """
    runs = live["runs"]
    missing = {"CRF x1", "CRF x10", "softmax"} - set(runs)
    if missing:
        raise ValueError(f"live must hold the runs 'CRF x1', 'CRF x10' and 'softmax' "
                         f"(train_now's defaults); missing {sorted(missing)}")
    rows = {r["label"]: r for r in live_summary(live)}
    x1, x10, soft = rows["CRF x1"], rows["CRF x10"], rows["softmax"]
    b = LIVE_BANDS
    return [
        Claim("CRF (CRF lr = body lr) beats softmax on best F1 (gap)",
              x1["best"] - soft["best"], at_least=b["crf_over_softmax"], digits=3),
        Claim("a 10x CRF lr beats 1x after epoch 1 (F1 gap)",
              x10["epoch1"] - x1["epoch1"], at_least=b["x10_over_x1"], digits=3),
        Claim("CRF lr = body lr: the transitions stay small (spread, max - min)",
              x1["spread"], at_most=b["x1_spread"]),
        Claim("CRF lr 10x: the transitions grow (spread, max - min)",
              x10["spread"], at_least=b["x10_spread"]),
        Claim("CRF lr 10x: every row ranks its legal successors first (rows of 4)",
              x10["rows_ordered"], at_least=4, digits=0),
    ]


CLAIMS = {"paths": path_claims, "multiplier_steps": step_claims, "live": live_claims}


def check_claims(result: dict) -> None:
    """Check what the notebook says about a live result and print one stable line per claim
    (``lessons._core.claims.check``: the statement and its band, never the measured digits).

    Args:
        result: what ``path_probabilities``, ``multiplier_steps`` or ``train_now`` returned
            (its ``"kind"`` picks ``path_claims``, ``step_claims`` or ``live_claims``).

    Raises:
        lessons._core.claims.ClaimFailed: when a claim is outside its band on this machine.
    """
    kind = result.get("kind") if isinstance(result, dict) else None
    if kind not in CLAIMS:
        raise ValueError(f"result must come from one of path_probabilities, multiplier_steps "
                         f"or train_now (kind in {sorted(CLAIMS)}), got kind {kind!r}")
    check(CLAIMS[kind](result))


if __name__ == "__main__":  # python -m lessons.crf sweep ...
    import sys

    from lessons.crf_sweep import main

    sys.exit(main())
