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

from lessons._core.checks import integer, number, one_of
from lessons._core.data import TAGS

__all__ = ["CRF", "bmes_constraints"]

_FORBIDDEN = -1e9  # score added to a forbidden transition when decoding with constraints
_REDUCTIONS = ("none", "sum", "mean", "token_mean")  # nll_loss's, as pytorch-crf's


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
            mask: [B, T] bool/int, right-padded with the first step on (default all on); any
                other mask raises ValueError eagerly. While traced (``tf.function``, ``fit``,
                XLA) its values are unknown and cannot be checked, so a sequence is taken to be
                the positions where the mask is on, in order, and an empty one scores 0.
        """
        emissions, mask, tags, order = self._inputs(emissions, mask, tags)
        value = self._path_score(emissions, tags, mask) - self._log_partition(emissions, mask)
        return _zero_if_empty(value, mask, order)

    def path_score(self, emissions, tags, mask=None):
        """score(tags) = S + sum of emissions + sum of transitions + F, float32 [B] (arguments as
        ``log_likelihood``)."""
        emissions, mask, tags, order = self._inputs(emissions, mask, tags)
        return _zero_if_empty(self._path_score(emissions, tags, mask), mask, order)

    def log_partition(self, emissions, mask=None):
        """log Z, the logsumexp of every path's score, by the forward algorithm, float32 [B]."""
        emissions, mask, _, order = self._inputs(emissions, mask)
        return _zero_if_empty(self._log_partition(emissions, mask), mask, order)

    def nll_loss(self, emissions, tags, mask=None, reduction="mean"):
        """The negative log-likelihood, the usual CRF training loss (as pytorch-crf's ``CRF``).

        Args:
            emissions, tags, mask: as ``log_likelihood``.
            reduction: ``"mean"`` (default) over the sequences of the batch, a scalar: the loss
                lesson 03's learning rates (and its sweep) assume; ``"sum"`` over them;
                ``"token_mean"``, the sum divided by the number of unmasked tokens; ``"none"``,
                one value per sequence, float32 [B].
        """
        one_of("reduction", reduction, _REDUCTIONS)
        nll = -self.log_likelihood(emissions, tags, mask)
        if reduction == "none":
            return nll
        if reduction == "mean":
            return ops.mean(nll)
        if reduction == "sum":
            return ops.sum(nll)
        if mask is None:
            tokens = ops.cast(ops.size(nll) * ops.shape(emissions)[1], "float32")
        else:
            tokens = ops.sum(ops.cast(mask, "float32"))
        return ops.sum(nll) / tokens

    def decode(self, emissions, mask=None):
        """The Viterbi (highest-scoring) tag path, int32 [B, T] (arguments as
        ``log_likelihood``).

        Positions where the mask is off repeat the sequence's last tag (an empty one is all 0).
        """
        emissions, mask, _, order = self._inputs(emissions, mask)
        path = self._viterbi(emissions, mask)
        if order is None:
            return path
        path = ops.where(ops.any(mask, axis=1, keepdims=True), path, 0)
        return ops.take_along_axis(path, ops.argsort(order, axis=1), axis=1)  # back in place

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
            emissions_t, on = inputs[:, :-1], inputs[:, -1:] > 0  # [B, N], [B, 1]
            scores = delta[:, :, None] + transitions  # [B, i, j]
            new = ops.max(scores, axis=1) + emissions_t  # [B, N]
            psi = ops.argmax(scores, axis=1)  # [B, N] int32: the best i for each j
            # a padded step keeps delta and points each tag to itself
            carry = ops.where(on, new, delta), ops.where(on, psi, stay)
            return carry, carry  # scan stacks what a step returns: psi_t for every t

        # Steps 2 .. T, then one padded step: XLA cannot compile a scan over no steps (T = 1).
        # Emissions and mask go in as one array, as Keras's TF scan fails on two inputs whose
        # length is unknown (a model built on keras.Input((None, N))).
        following = ops.concatenate([emissions[:, 1:], ops.zeros_like(emissions[:, :1])], axis=1)
        on = ops.concatenate([mask[:, 1:], ops.zeros_like(mask[:, :1])], axis=1)  # [B, T]
        inputs = ops.concatenate([following, ops.cast(on, following.dtype)[..., None]], axis=2)
        delta = start + emissions[:, 0]  # delta_1 [B, N]
        (delta, _), (_, psi) = ops.scan(  # psi [T, B, N]: psi[t] points from step t + 1 to t
            step, (delta, ops.zeros_like(delta, "int32")), ops.transpose(inputs, (1, 0, 2)))
        last = ops.argmax(delta + end, axis=1)  # y_n [B]

        def backtrack(y, psi_t):  # y_{t+1} -> y_t = psi_t(y_{t+1})
            previous = ops.take_along_axis(psi_t, y[:, None], axis=1)[:, 0]
            return previous, previous

        _, path = ops.scan(backtrack, last, psi, reverse=True)  # [T, B]: psi[T-1] keeps y_n
        return ops.transpose(path)

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
        """Checked float32 emissions [B, T, N] and bool mask [B, T] (see ``_inputs``)."""
        return self._inputs(emissions, mask)[:2]

    def _inputs(self, emissions, mask, tags=None):
        """Checked float32 emissions, bool mask and int32 tags (0 where masked), and the order
        [B, T] they were gathered in to make the mask right-padded (None when it already is)."""
        if not self.built:
            self.build()
        emissions = ops.cast(ops.convert_to_tensor(emissions), "float32")
        if len(emissions.shape) != 3 or emissions.shape[-1] not in (None, self.num_tags):
            raise ValueError(f"emissions must have shape [batch, time, num_tags={self.num_tags}], "
                             f"got {tuple(emissions.shape)}")
        if emissions.shape[1] == 0:
            raise ValueError(_FIRST_ON)
        order = None
        if mask is None:
            mask = ops.ones(ops.shape(emissions)[:2], "bool")
        else:
            mask = ops.convert_to_tensor(mask)
            _check_same_shape("mask", mask, emissions)
            mask = ops.cast(mask, "bool")
            order = _right_padding_order(mask)
        if tags is not None:
            tags = self._check_tags(tags, emissions, mask)
        if order is not None:
            emissions, mask = _take(emissions, order), _take(mask, order)
            tags = None if tags is None else _take(tags, order)
        return emissions, mask, tags, order

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


_FIRST_ON = ("mask must have its first time step on for every sequence "
             "(empty sequences are not allowed)")
_RIGHT_PADDED = ("mask must be right-padded: once off, it stays off "
                 "(left padding or holes are not allowed)")


def _right_padding_order(mask):
    """None for a mask whose values are known (eager), after raising ValueError unless it is
    right-padded with every first step on. While traced, when no check can raise (``keras.ops``
    has no assertion, XLA drops TensorFlow's), the order [B, T] that moves each row's on
    positions, in order, to its start."""
    values = _known_values(mask)
    if values is not None:
        if not values[:, 0].all():
            raise ValueError(_FIRST_ON)
        if (values[:, 1:] & ~values[:, :-1]).any():
            raise ValueError(_RIGHT_PADDED)
        return None
    steps = ops.arange(ops.shape(mask)[1], dtype="int32")
    return ops.argsort(ops.where(mask, steps, steps + ops.shape(mask)[1]), axis=1)


def _take(x, order):
    """x [B, T, ...] with its steps in ``order`` [B, T]."""
    return ops.take_along_axis(x, order[:, :, None] if len(x.shape) == 3 else order, axis=1)


def _zero_if_empty(value, mask, order):
    """value [B], 0 for an empty sequence (which only a traced call lets through)."""
    return value if order is None else ops.where(ops.any(mask, axis=1), value, 0.0)


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
