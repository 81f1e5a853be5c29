"""A linear-chain CRF layer (Keras 3, ``keras.ops`` only), in the style of pytorch-crf.

Shapes: ``B`` batch, ``T`` time steps (characters), ``N`` tags. The score of a tag path y is
``S[y_1] + sum_t E_t[y_t] + sum_{t>1} T[y_{t-1}, y_t] + F[y_T]`` (start, emissions,
transitions, end); ``log p(y | x) = score(y) - log Z``. The public API is ``log_likelihood``,
``nll_loss``, ``decode`` and its two parts ``path_score`` and ``log_partition``; the two
recursions the lesson derives are the private ``_log_partition`` (the forward algorithm) and
``_viterbi``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from lessons._core.checks import integer, number
from lessons._core.data import TAGS

__all__ = ["CRF", "bmes_constraints"]

_FORBIDDEN = -1e9  # score added to a forbidden transition when decoding with constraints


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
        self.num_tags = integer("num_tags", num_tags)
        self.lr_multiplier = number("lr_multiplier", lr_multiplier, low=0, low_open=True)
        self.init_scale = number("init_scale", init_scale, low=0)
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

    @property
    def transitions(self):
        """Effective transition scores T [N, N] (row: from, column: to), k * stored."""
        return self.lr_multiplier * ops.convert_to_tensor(self._transitions)

    @property
    def start_transitions(self):
        """Effective start scores S [N]."""
        return self.lr_multiplier * ops.convert_to_tensor(self._start)

    @property
    def end_transitions(self):
        """Effective end scores F [N]."""
        return self.lr_multiplier * ops.convert_to_tensor(self._end)

    def log_likelihood(self, emissions, tags, mask=None):
        """log p(tags | emissions), float32 [B].

        Args:
            emissions: [B, T, N] float (any float dtype; computed in float32).
            tags: [B, T] int in [0, N) where the mask is on.
            mask: [B, T] bool/int, right-padded with the first step on (default all on).
        """
        emissions, mask = self._prepare(emissions, mask)
        tags = self._check_tags(tags, emissions, mask)
        return self._path_score(emissions, tags, mask) - self._log_partition(emissions, mask)

    def path_score(self, emissions, tags, mask=None):
        """score(tags) = S + sum of emissions + sum of transitions + F, float32 [B] (arguments as
        ``log_likelihood``)."""
        emissions, mask = self._prepare(emissions, mask)
        return self._path_score(emissions, self._check_tags(tags, emissions, mask), mask)

    def log_partition(self, emissions, mask=None):
        """log Z, the logsumexp of every path's score, by the forward algorithm, float32 [B]."""
        emissions, mask = self._prepare(emissions, mask)
        return self._log_partition(emissions, mask)

    def nll_loss(self, emissions, tags, mask=None):
        """Mean negative log-likelihood over the batch (a scalar), the usual CRF training loss."""
        return -ops.mean(self.log_likelihood(emissions, tags, mask))

    def decode(self, emissions, mask=None):
        """The Viterbi (highest-scoring) tag path, int32 [B, T].

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

    # -- the two recursions -------------------------------------------------------------------

    def _log_partition(self, emissions, mask):
        """log Z [B] by the forward algorithm: alpha_1 = S + E_1,
        alpha_t(j) = logsumexp_i(alpha_{t-1}(i) + T(i, j)) + E_t(j), log Z = logsumexp(alpha_n + F).
        """
        transitions = self.transitions  # T [N, N]: row i (from), column j (to)
        alpha = self.start_transitions + emissions[:, 0]  # alpha_1 [B, N]
        steps = ops.shape(emissions)[1]

        def step(t, alpha):  # alpha_{t-1} -> alpha_t (t counts from 0 here)
            scores = alpha[:, :, None] + transitions  # [B, i, j]
            new = ops.logsumexp(scores, axis=1) + emissions[:, t]  # [B, N]
            return t + 1, ops.where(mask[:, t, None], new, alpha)  # padded steps keep alpha

        # for t in 1 .. steps - 1; a bounded loop, so that its gradient also compiles with XLA
        _, alpha = ops.while_loop(lambda t, _: t < steps, step, (1, alpha),
                                  maximum_iterations=steps - 1)
        return ops.logsumexp(alpha + self.end_transitions, axis=1)  # [B]

    def _viterbi(self, emissions, mask):
        """The best path [B, T]: delta_t(j) = max_i(delta_{t-1}(i) + T(i, j)) + E_t(j) with the
        back-pointers psi_t(j) = argmax_i(...), then y_n = argmax(delta_n + F), y_{t-1} = psi_t(y_t).
        """
        transitions, start, end = self._decoding_scores()  # forbidden ones at -1e9 if constrained
        stay = ops.arange(self.num_tags, dtype="int32")  # [N]: each tag points to itself

        def step(carry, inputs):  # delta_{t-1} -> delta_t and psi_t
            delta, _ = carry  # [B, N]
            emissions_t, mask_t = inputs  # [B, N], [B]
            scores = delta[:, :, None] + transitions  # [B, i, j]
            new = ops.max(scores, axis=1) + emissions_t  # [B, N]
            psi = ops.argmax(scores, axis=1)  # [B, N] int32: the best i for each j
            on = mask_t[:, None]  # a padded step keeps delta and points each tag to itself
            carry = ops.where(on, new, delta), ops.where(on, psi, stay)
            return carry, carry  # scan stacks what a step returns: psi_t for every t

        delta = start + emissions[:, 0]  # delta_1 [B, N]
        time_major = (ops.transpose(emissions[:, 1:], (1, 0, 2)), ops.transpose(mask[:, 1:]))
        (delta, _), (_, psi) = ops.scan(
            step, (delta, ops.zeros_like(delta, "int32")), time_major)  # psi [T-1, B, N]
        last = ops.argmax(delta + end, axis=1)  # y_n [B]

        def backtrack(y, psi_t):  # y_t -> y_{t-1} = psi_t(y_t)
            previous = ops.take_along_axis(psi_t, y[:, None], axis=1)[:, 0]
            return previous, previous

        _, earlier = ops.scan(backtrack, last, psi, reverse=True)  # [T-1, B]: y_1 .. y_{n-1}
        return ops.concatenate([ops.transpose(earlier), last[:, None]], axis=1)

    # -- private helpers ----------------------------------------------------------------------

    def _decoding_scores(self):
        """Transitions, start and end scores, with forbidden ones pushed to -1e9 if constrained."""
        scores = [self.transitions, self.start_transitions, self.end_transitions]
        if self.constraints is None:
            return scores
        allowed = (self.constraints[k] for k in ("transitions", "start", "end"))
        return [s + np.where(a, 0.0, _FORBIDDEN).astype("float32")
                for s, a in zip(scores, allowed, strict=True)]

    def _path_score(self, emissions, tags, mask):
        """score(tags) [B] for emissions [B, T, N], tags [B, T], mask [B, T]."""
        maskf = ops.cast(mask, "float32")
        emitted = ops.take_along_axis(emissions, tags[..., None], axis=2)[..., 0]  # [B, T]
        rows = ops.take(self.transitions, tags[:, :-1], axis=0)  # [B, T-1, N]
        moved = ops.take_along_axis(rows, tags[:, 1:, None], axis=2)[..., 0]  # [B, T-1]
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)  # [B]
        last = ops.take_along_axis(tags, lengths[:, None] - 1, axis=1)[:, 0]  # [B]
        return (ops.take(self.start_transitions, tags[:, 0]) + ops.sum(emitted * maskf, axis=1)
                + ops.sum(moved * maskf[:, 1:], axis=1) + ops.take(self.end_transitions, last))

    def _prepare(self, emissions, mask):
        if not self.built:
            self.build()
        emissions = ops.cast(ops.convert_to_tensor(emissions), "float32")
        if len(emissions.shape) != 3 or emissions.shape[-1] not in (None, self.num_tags):
            raise ValueError(f"emissions must have shape [batch, time, num_tags={self.num_tags}], "
                             f"got {tuple(emissions.shape)}")
        if mask is None:
            mask = ops.ones(ops.shape(emissions)[:2], "bool")
        mask = ops.convert_to_tensor(mask)
        _check_same_shape("mask", mask, emissions)
        mask = ops.cast(mask, "bool")
        values = _known_values(mask)
        if values is not None and (values.shape[1] == 0 or not values[:, 0].all()):
            raise ValueError("mask must have its first time step on for every sequence "
                             "(empty sequences are not allowed)")
        if values is not None and (values[:, 1:] & ~values[:, :-1]).any():
            raise ValueError("mask must be right-padded: once off, it stays off "
                             "(left padding or holes are not allowed)")
        return emissions, mask

    def _check_tags(self, tags, emissions, mask):
        tags = ops.convert_to_tensor(tags)
        if "int" not in ops.dtype(tags):
            raise ValueError(f"tags must be integers, got dtype {ops.dtype(tags)}")
        _check_same_shape("tags", tags, emissions)
        tags = ops.cast(tags, "int32")
        values, on = _known_values(tags), _known_values(mask)
        if values is not None and values[on].size:
            low, high = values[on].min(), values[on].max()
            if low < 0 or high >= self.num_tags:
                raise ValueError(f"tags must be in [0, {self.num_tags}) where the mask is on, "
                                 f"got values in [{low}, {high}]")
        return ops.where(mask, tags, 0)  # padded positions may hold anything


def _known_values(x):
    """``x`` as a NumPy array when its values are known (eager), None while a function is traced."""
    try:
        return ops.convert_to_numpy(x)
    except NotImplementedError:  # what TensorFlow raises for a symbolic tensor (in tf.function)
        return None


def _check_same_shape(name, x, emissions):
    want, got = tuple(emissions.shape[:2]), tuple(x.shape)
    if len(got) != 2 or any(a is not None and b is not None and a != b
                            for a, b in zip(want, got, strict=True)):
        raise ValueError(f"{name} must have shape [batch, time] = {list(want)}, got {list(got)}")


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
