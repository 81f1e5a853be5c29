"""Lesson 04: Tiger's weight-decay fixed point and the +-1/lambda embeddings (kexue.fm/archives/9736).

Tiger updates ``m = beta m + (1 - beta) g`` and ``theta -= lr (sign(m) + lambda theta)``. A token
that is absent from the batch has ``g = 0`` but its momentum only decays, so ``sign(m)`` stays +-1
until ``m`` underflows to zero; with a constant sign the iteration converges geometrically, at rate
``1 - lr lambda`` per step, to the fixed point ``theta* = -sign(m) / lambda``.

Public API:
- ``Tiger``: the optimizer (Keras 3, serializable), with an optional lazy mode.
- ``fixed_point``, ``closed_form``, ``simulate``, ``steps_to_fraction``,
  ``steps_until_momentum_underflow``: the scalar analysis.
- ``fixed_point_explorer``: a widget redrawing one absent token's trajectory.
- ``embedding_experiment``: a next-character model on People's Daily trained with Tiger, Lion,
  AdamW and the three remedies; returns per-token frequency and max |embedding|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from numbers import Real

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from lessons.notebook import figure_png

# ---------------------------------------------------------------------------------------------
# The optimizer


@keras.saving.register_keras_serializable(package="lessons")
class Tiger(keras.optimizers.Optimizer):
    """Tiger: sign of a single momentum, with decoupled weight decay inside the rule.

    Update per variable (``lambda`` = ``weight_decay``):

        m     = beta * m + (1 - beta) * g
        theta = theta - lr * (sign(m) + lambda * theta)

    The decay is applied by ``update_step`` itself (and only there), so it is applied exactly once
    per step, uses the pre-update ``theta`` and is skipped together with the sign step for lazy
    rows. Variables excluded with ``exclude_from_weight_decay`` get ``lambda = 0``.

    Args:
        learning_rate: A float, a `keras.optimizers.schedules.LearningRateSchedule` instance, or a
            callable that takes no arguments and returns the value to use. Defaults to `0.001`.
        beta: Momentum decay in [0, 1). Defaults to `0.965` (the Tiger author's default).
        weight_decay: Decay rate `lambda` >= 0 (or `None` for 0). Defaults to `0.01`, which puts
            the fixed point of an absent token at +-100.
        lazy: If `True`, rows (first axis) whose gradient is entirely zero this step keep both
            their momentum and their weights unchanged (the post's first remedy). Works for dense
            gradients and for the `tf.IndexedSlices` an `Embedding` produces. Defaults to `False`.
        **base_optimizer_kwargs: `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`,
            `ema_momentum`, `ema_overwrite_frequency`, `loss_scale_factor`,
            `gradient_accumulation_steps`, `name`, as for every Keras optimizer.

    References:
    - Su Jianlin, "Tiger: a tight-fisted optimizer", https://kexue.fm/archives/9512
    - Su Jianlin, "Embedding anomalies under Lion/Tiger", https://kexue.fm/archives/9736
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta=0.965,
        weight_decay=0.01,
        lazy=False,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        if isinstance(learning_rate, Real) and not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if not (isinstance(beta, Real) and 0.0 <= beta < 1.0):
            raise ValueError(f"beta must be in [0, 1), got {beta}")
        if weight_decay is not None and not (isinstance(weight_decay, Real) and weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0 (or None), got {weight_decay}")
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        self.beta = float(beta)
        self.lazy = bool(lazy)

    def build(self, var_list):
        """Create one momentum slot per variable."""
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def _apply_weight_decay(self, variables):
        # The base class would decay every variable before `update_step`; Tiger's rule does it
        # inside `update_step` instead (needed for lazy rows), so the base pass must do nothing.
        return

    def update_step(self, gradient, variable, learning_rate):
        """One Tiger step for one variable."""
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = _dense_gradient(gradient, variable.dtype)
        beta = ops.cast(self.beta, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]

        new_m = ops.add(ops.multiply(m, beta), ops.multiply(gradient, 1.0 - beta))
        direction = ops.sign(new_m)
        if self.weight_decay and self._use_weight_decay(variable):
            wd = ops.cast(self.weight_decay, variable.dtype)
            direction = ops.add(direction, ops.multiply(variable, wd))
        new_variable = ops.subtract(variable, ops.multiply(lr, direction))

        if self.lazy:
            touched = _touched_rows(gradient)  # broadcastable to the variable's shape
            new_m = ops.where(touched, new_m, m)
            new_variable = ops.where(touched, new_variable, variable)
        self.assign(m, new_m)
        self.assign(variable, new_variable)

    def get_config(self):
        config = super().get_config()
        config.update({"beta": self.beta, "lazy": self.lazy})
        return config


def _dense_gradient(gradient, dtype):
    """IndexedSlices (from an Embedding) -> a dense tensor; repeated ids are summed."""
    if isinstance(gradient, tf.IndexedSlices):
        gradient = tf.convert_to_tensor(gradient)
    return ops.cast(gradient, dtype)


def _touched_rows(gradient):
    """Boolean mask, True where a first-axis row has any non-zero gradient entry.

    Shape [rows, 1, ..., 1] for a variable of rank >= 2, the gradient's own shape otherwise."""
    nonzero = ops.not_equal(gradient, 0)
    rank = len(gradient.shape)
    if rank < 2:
        return nonzero
    return ops.any(nonzero, axis=tuple(range(1, rank)), keepdims=True)


# ---------------------------------------------------------------------------------------------
# The scalar analysis


def _check_lr_wd(lr, weight_decay, *, positive_wd=False):
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if positive_wd and not weight_decay > 0:
        raise ValueError(f"weight_decay must be > 0 (no fixed point without decay), got {weight_decay}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")


def _check_sign(sign):
    sign = np.asarray(sign, dtype=np.float64)
    if not np.all(np.isin(sign, (-1.0, 0.0, 1.0))):
        raise ValueError(f"sign must be -1, 0 or +1 (elementwise), got {sign}")
    return sign


def _check_steps(steps, name="steps"):
    if not isinstance(steps, int | np.integer) or steps < 1:
        raise ValueError(f"{name} must be an int >= 1, got {steps!r}")


def fixed_point(sign, weight_decay):
    """The fixed point ``-sign / weight_decay`` of ``theta -= lr (sign + weight_decay theta)``.

    Args:
        sign: -1, 0 or +1 (scalar or array): the constant sign(m) of an absent token.
        weight_decay: `lambda` > 0.
    """
    sign = _check_sign(sign)
    if not weight_decay > 0:
        raise ValueError(f"weight_decay must be > 0 (no fixed point without decay), got {weight_decay}")
    return -sign / weight_decay


def closed_form(theta0, lr, weight_decay, sign, steps):
    """theta after each of ``steps`` updates with a constant sign and learning rate.

    theta_t = theta* + (1 - lr lambda)^t (theta_0 - theta*), t = 1..steps, with
    theta* = -sign / lambda; for lambda = 0 it is the straight line theta_0 - lr sign t.

    Args:
        theta0: starting value (scalar or array).
        lr: learning rate > 0.
        weight_decay: `lambda` >= 0.
        sign: the constant sign(m), -1, 0 or +1 (scalar or array, broadcast with theta0).
        steps: number of updates >= 1.

    Returns:
        float64 array [steps, *broadcast shape]: theta_1 ... theta_steps.
    """
    _check_lr_wd(lr, weight_decay)
    sign = _check_sign(sign)
    _check_steps(steps)
    theta0 = np.asarray(theta0, dtype=np.float64)
    shape = np.broadcast_shapes(theta0.shape, sign.shape)
    t = np.arange(1, steps + 1, dtype=np.float64).reshape((steps,) + (1,) * len(shape))
    if weight_decay == 0:
        return theta0 - lr * sign * t
    star = -sign / weight_decay
    return star + (1.0 - lr * weight_decay) ** t * (theta0 - star)


def simulate(
    theta0,
    lr,
    weight_decay,
    sign,
    steps,
    *,
    beta=None,
    momentum=1e-3,
    dtype="float32",
    flush_denormals=True,
):
    """The same iteration as ``closed_form``, step by step (theta in float64).

    With ``beta=None`` the sign is constant for all steps, so the result must equal
    ``closed_form``. With a ``beta``, the token's momentum starts at ``sign * |momentum|``
    (its value the step it was last seen) and decays ``m <- beta m`` in ``dtype``; the update of
    step t uses sign(m_t), which switches to 0 once m underflows (see
    ``steps_until_momentum_underflow``), after which only the weight decay acts.

    Args:
        theta0, lr, weight_decay, sign, steps: as for ``closed_form``.
        beta: momentum decay in [0, 1), or None for a constant sign. Defaults to None.
        momentum: |m| when the token was last seen, > 0. Defaults to `1e-3`.
        dtype: float dtype of the momentum: "float16", "bfloat16", "float32" or "float64".
        flush_denormals: flush subnormal momenta to zero, as TensorFlow does on CPU (default).

    Returns:
        float64 array [steps, *broadcast shape]: theta_1 ... theta_steps.
    """
    _check_lr_wd(lr, weight_decay)
    sign = _check_sign(sign)
    _check_steps(steps)
    theta = np.broadcast_to(np.asarray(theta0, dtype=np.float64), np.broadcast_shapes(
        np.shape(theta0), sign.shape)).copy()
    if beta is None:
        alive = steps + 1  # the sign never switches off
    else:
        alive = steps_until_momentum_underflow(momentum, beta, dtype, flush_denormals=flush_denormals)
        alive = steps + 1 if alive is None else alive
    out = np.empty((steps,) + theta.shape)
    for t in range(1, steps + 1):
        s = sign if t < alive else 0.0
        theta = theta - lr * (s + weight_decay * theta)
        out[t - 1] = theta
    return out


def steps_to_fraction(fraction, lr, weight_decay):
    """Steps a constant-sign parameter needs to cover ``fraction`` of its way to theta*.

    From the closed form, 1 - (1 - lr lambda)^t >= fraction, so
    t = ceil(log(1 - fraction) / log(1 - lr lambda)); e.g. lr lambda = 0.01 gives 69 steps for
    half the way and 299 for 95 %.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    _check_lr_wd(lr, weight_decay, positive_wd=True)
    rate = lr * weight_decay
    if not rate < 1.0:
        raise ValueError(f"lr * weight_decay must be < 1, got {rate}")
    return math.ceil(math.log1p(-fraction) / math.log1p(-rate) - 1e-12)


_DTYPES = ("float16", "bfloat16", "float32", "float64")


def _numpy_dtype(dtype):
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
    if dtype == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(dtype)


def steps_until_momentum_underflow(m0, beta, dtype="float32", *, flush_denormals=True):
    """Absent steps until a momentum ``m0`` decaying as ``m <- beta m`` in ``dtype`` is exactly 0.

    Each product is rounded to ``dtype``. TensorFlow on CPU flushes subnormal results to zero, so
    by default so does this count; it then agrees with iterating the optimizer itself. Without
    flushing, round-to-nearest makes m stall at a few subnormal ulps when beta > 1/2 (e.g. at
    14 ulps for beta = 0.965 in float32) and it never reaches 0: the function returns None.

    Args:
        m0: the momentum when the token was last seen, non-zero and finite.
        beta: decay per step in [0, 1).
        dtype: "float16", "bfloat16", "float32" (default) or "float64".
        flush_denormals: treat subnormal values as 0 (default True, TensorFlow's behaviour).

    Returns:
        int >= 1, or None if m never reaches 0.
    """
    np_dtype = _numpy_dtype(dtype)
    if not (0.0 <= beta < 1.0):
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    m = np_dtype.type(abs(m0))
    if not (np.isfinite(m0) and m0 != 0 and m != 0 and np.isfinite(m)):
        raise ValueError(f"m0 must be non-zero and finite in {dtype}, got {m0}")
    b = np_dtype.type(beta)
    tiny = np_dtype.type(_smallest_normal(np_dtype))
    steps = 0
    while True:
        new = np_dtype.type(m * b)
        steps += 1
        if flush_denormals and new < tiny:
            new = np_dtype.type(0)
        if new == 0:
            return steps
        if new == m:  # rounding stalls (a subnormal ulp or beta rounded to 1)
            return None
        m = new


def _smallest_normal(np_dtype):
    import ml_dtypes

    return ml_dtypes.finfo(np_dtype).smallest_normal


# ---------------------------------------------------------------------------------------------
# The widget


def explorer_data(lr=0.01, weight_decay=1.0, beta=0.965, absent_steps=3000, momentum=1e-3):
    """One token seen once (momentum ``momentum`` > 0, theta 0), then absent for ``absent_steps``.

    Returns a dict with "theta" [absent_steps] (float32 momentum, denormals flushed as in
    TensorFlow), "closed_form" [absent_steps] (sign never switching off), "fixed_point" (the
    token drifts to -1/lambda), "underflow_step" (absent steps until m is 0 in float32; None if
    it never is) and "steps" [absent_steps] = 1..absent_steps.
    """
    _check_steps(absent_steps, "absent_steps")
    theta = simulate(0.0, lr, weight_decay, 1, absent_steps, beta=beta, momentum=momentum)
    return {
        "steps": np.arange(1, absent_steps + 1),
        "theta": theta,
        "closed_form": closed_form(0.0, lr, weight_decay, 1, absent_steps),
        "fixed_point": float(fixed_point(1, weight_decay)),
        "underflow_step": steps_until_momentum_underflow(momentum, beta),
    }


def plot_explorer(data):
    """The explorer's figure for an ``explorer_data`` dict (returned, not shown)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    ax.plot(data["steps"], data["theta"], label="theta_t (float32 momentum)")
    ax.plot(data["steps"], data["closed_form"], ":", label="closed form, sign never 0")
    ax.axhline(data["fixed_point"], color="k", ls="--", lw=1, label="fixed point -1/lambda")
    n = data["underflow_step"]
    if n is not None and n <= len(data["steps"]):
        ax.axvline(n, color="tab:red", lw=1, label=f"m underflows (step {n})")
    ax.set(xlabel="steps since the token was last seen", ylabel="theta")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def fixed_point_explorer():
    """Sliders for lr, lambda, beta and the absent-step count; redraws theta_t, the fixed point
    and the underflow step.

    Returns an ``ipywidgets.interactive``: ``.result`` holds the last ``explorer_data`` and its
    last child is an ``Image`` with the figure (an Image, not the interactive's Output, so that
    ``nbconvert --execute`` works with ``store_widget_state=False``).
    """
    import ipywidgets as w

    image = w.Image(format="png", layout=w.Layout(width="504px"))

    def redraw(lr, weight_decay, beta, absent_steps):
        data = explorer_data(lr, weight_decay, beta, absent_steps)
        image.value = figure_png(plot_explorer(data))
        return data

    style = {"description_width": "100px"}
    explorer = w.interactive(
        redraw,
        lr=w.FloatLogSlider(value=0.01, base=10, min=-4, max=-1, step=0.25, description="lr",
                            style=style),
        weight_decay=w.FloatLogSlider(value=1.0, base=10, min=-2, max=1, step=0.25,
                                      description="lambda", style=style),
        beta=w.FloatSlider(value=0.965, min=0.5, max=0.999, step=0.001, readout_format=".3f",
                           description="beta", style=style),
        absent_steps=w.IntSlider(value=3000, min=100, max=10000, step=100,
                                 description="absent steps", style=style),
    )
    explorer.children = (*explorer.children, image)
    return explorer


# ---------------------------------------------------------------------------------------------
# The embedding experiment

VARIANTS = ("tiger", "lion", "adamw", "lazy_tiger", "tied_tiger", "mixed")


@dataclass(frozen=True)
class ExperimentConfig:
    """Hyperparameters of ``embedding_experiment``; the defaults are the notebook's run.

    With lr = 0.01 and lambda = 1 an absent token covers half its way to +-1/lambda = +-1 in
    ``steps_to_fraction(0.5, 0.01, 1.0)`` = 69 steps and 95 % in 299, well inside ``steps``.
    """

    steps: int = 800
    batch_size: int = 128
    vocab_size: int = 3000  # most frequent characters kept; the rest map to UNK
    context: int = 3  # characters of left context
    dim: int = 16  # embedding width
    hidden: int = 64
    lr: float = 0.003  # Tiger and Lion
    adam_lr: float = 0.01  # AdamW (alone and for the mixed optimizer's embedding)
    weight_decay: float = 1.0
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "batch_size", "vocab_size", "context", "dim", "hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("lr", "adam_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.weight_decay > 0:
            raise ValueError(f"weight_decay must be > 0, got {self.weight_decay}")



@dataclass(frozen=True)
class EmbeddingRun:
    """What one variant of ``embedding_experiment`` leaves behind."""

    name: str
    embedding: np.ndarray  # [vocab, dim] input embedding after training
    frequency: np.ndarray  # [vocab] occurrences of each id in the contexts the model saw
    last_seen: np.ndarray  # [vocab] last step (0-based) whose batch held the id, -1 if never
    loss: np.ndarray  # [steps] training loss per step
    test_loss: float  # mean cross-entropy on held-out sentences
    others: dict  # {variable path: array} every other trainable weight after training

    @property
    def max_abs(self) -> np.ndarray:
        """[vocab] max |value| of each embedding row."""
        return np.abs(self.embedding).max(axis=1)

    @property
    def updates_since_seen(self) -> np.ndarray:
        """[vocab] updates from the last step holding the id to the end (that step included);
        0 for ids never seen."""
        return np.where(self.last_seen >= 0, len(self.loss) - self.last_seen, 0)


@lru_cache(maxsize=2)
def _streams(vocab_size: int, context: int):
    """(vocab, train ids, test ids): sentences joined by ``context`` PADs, PAD first."""
    from lessons.data import PAD, UNK, Vocab, load_peoples_daily, split_corpus

    train, test = split_corpus(load_peoples_daily())
    vocab = Vocab.build(train, max_size=vocab_size)
    index = vocab.index | {"\0": PAD}
    sep = "\0" * context

    def encode(sentences):
        text = sep + sep.join(s.chars for s in sentences)
        return np.fromiter((index.get(c, UNK) for c in text), np.int32, len(text))

    return vocab, encode(train), encode(test)


def _sample(stream, context, shape, rng):
    """Contexts [*shape, context] and targets [*shape] at random non-PAD positions."""
    from lessons.data import PAD

    valid = np.flatnonzero(stream[context:] != PAD) + context
    pos = rng.choice(valid, size=shape)
    x = stream[pos[..., None] + np.arange(-context, 0)]
    return x, stream[pos]


class TiedLogits(keras.layers.Layer):
    """logits = h @ E^T + b, reusing an Embedding's matrix E [vocab, dim] as the output layer."""

    def __init__(self, embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(self.embedding.input_dim,), initializer="zeros",
                                    name="bias")

    def call(self, h):  # h: [batch, dim]
        return ops.matmul(h, ops.transpose(self.embedding.embeddings)) + self.bias


def _build_model(cfg: ExperimentConfig, vocab_size: int, tied: bool):
    keras.utils.set_random_seed(cfg.seed)  # same initial weights for every variant
    ids = keras.Input((cfg.context,), dtype="int32")
    embed = keras.layers.Embedding(vocab_size, cfg.dim, name="embedding")
    h = keras.layers.Flatten()(embed(ids))  # [batch, context * dim]
    h = keras.layers.Dense(cfg.hidden, activation="tanh")(h)
    if tied:
        logits = TiedLogits(embed)(keras.layers.Dense(cfg.dim)(h))
    else:
        logits = keras.layers.Dense(vocab_size)(h)
    return keras.Model(ids, logits), embed


def _optimizer_groups(name, cfg, model, embed):
    """[(optimizer, variables)] covering every trainable variable once."""
    lam = cfg.weight_decay
    everything = list(model.trainable_variables)
    if name in ("tiger", "tied_tiger"):
        return [(Tiger(cfg.lr, weight_decay=lam), everything)]
    if name == "lazy_tiger":
        return [(Tiger(cfg.lr, weight_decay=lam, lazy=True), everything)]
    if name == "lion":
        return [(keras.optimizers.Lion(cfg.lr, weight_decay=lam), everything)]
    if name == "adamw":
        return [(keras.optimizers.AdamW(cfg.adam_lr, weight_decay=lam), everything)]
    if name == "mixed":
        table = embed.embeddings
        rest = [v for v in everything if v is not table]
        return [(keras.optimizers.AdamW(cfg.adam_lr, weight_decay=lam), [table]),
                (Tiger(cfg.lr, weight_decay=lam), rest)]
    raise ValueError(f"variant must be one of {VARIANTS}, got {name!r}")


def _train(model, groups, x, y, jit_compile, chunk=50):
    """Train on batches x [steps, batch, context], y [steps, batch]; returns the loss per step.

    One compiled call runs ``chunk`` steps in a graph loop (Python overhead per call, not per
    step)."""
    variables = list(model.trainable_variables)
    position = {id(v): i for i, v in enumerate(variables)}
    plan = []
    for opt, vs in groups:
        opt.build(vs)
        plan.append((opt, [position[id(v)] for v in vs]))

    def one_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            loss = ops.mean(keras.losses.sparse_categorical_crossentropy(yb, logits,
                                                                         from_logits=True))
        grads = tape.gradient(loss, variables)
        for opt, idx in plan:
            opt.apply([grads[i] for i in idx], [variables[i] for i in idx])
        return loss

    @tf.function(jit_compile=jit_compile)
    def run(xs, ys):  # xs [chunk, batch, context]
        losses = tf.TensorArray(tf.float32, size=tf.shape(xs)[0])
        for t in tf.range(tf.shape(xs)[0]):
            losses = losses.write(t, one_step(xs[t], ys[t]))
        return losses.stack()

    return np.concatenate([run(x[i : i + chunk], y[i : i + chunk]).numpy()
                           for i in range(0, len(x), chunk)])


def embedding_experiment(variants=VARIANTS, config: ExperimentConfig | None = None, *,
                         jit_compile=True, show_progress=False) -> dict[str, EmbeddingRun]:
    """Train a next-character model on People's Daily once per variant; same data and init.

    The model embeds ``context`` characters, concatenates them, applies a tanh layer and
    predicts the next character over the ``vocab_size`` most frequent ones (+ PAD, UNK).
    Variants: "tiger", "lion" (Keras's Lion), "adamw" (Keras's AdamW), and the remedies
    "lazy_tiger" (``Tiger(lazy=True)``), "tied_tiger" (output layer = input embedding^T) and
    "mixed" (AdamW for the embedding, Tiger for the rest). All use ``weight_decay`` lambda.

    Args:
        variants: names from ``VARIANTS`` (default: all six).
        config: an ``ExperimentConfig`` (default: the notebook's run).
        jit_compile: compile the training loop with XLA (default True; about 25 % less CPU time
            here than plain graph mode, and it exercises Tiger under XLA).
        show_progress: a progress bar over the variants (default False).

    Returns:
        {variant: EmbeddingRun}, in the order given.
    """
    cfg = config or ExperimentConfig()
    for name in variants:
        if name not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {name!r}")
    vocab, train_ids, test_ids = _streams(cfg.vocab_size, cfg.context)
    rng = np.random.default_rng(cfg.seed)
    x, y = _sample(train_ids, cfg.context, (cfg.steps, cfg.batch_size), rng)
    x_test, y_test = _sample(test_ids, cfg.context, (8192,), rng)
    frequency, last_seen = _occurrences(x, len(vocab))

    if show_progress:
        from lessons.notebook import progress

        variants = progress(variants, desc="variants")
    runs = {}
    for name in variants:
        keras.backend.clear_session()
        model, embed = _build_model(cfg, len(vocab), tied=name == "tied_tiger")
        loss = _train(model, _optimizer_groups(name, cfg, model, embed), x, y, jit_compile)
        logits = model(x_test, training=False)
        test_loss = float(ops.mean(keras.losses.sparse_categorical_crossentropy(
            y_test, logits, from_logits=True)))
        table = embed.embeddings
        others = {v.path: v.numpy() for v in model.trainable_variables if v is not table}
        runs[name] = EmbeddingRun(name, table.numpy(), frequency, last_seen, loss, test_loss,
                                  others)
    return runs


def _occurrences(x, vocab_size):
    """Count of each id in the contexts x [steps, batch, context]; last step holding it."""
    steps = x.shape[0]
    frequency = np.bincount(x.ravel(), minlength=vocab_size)
    last_seen = np.full(vocab_size, -1, np.int64)
    step_of = np.repeat(np.arange(steps), x[0].size)
    np.maximum.at(last_seen, x.ravel(), step_of)
    return frequency, last_seen


# ---------------------------------------------------------------------------------------------
# Reading the runs

INIT_BOUND = 0.05  # Keras's default Embedding initializer is uniform(-0.05, 0.05)


def rare_rows(run: EmbeddingRun, config: ExperimentConfig, max_count: int = 3) -> np.ndarray:
    """[vocab] mask of real characters seen 1..``max_count`` times and then absent for at least
    ``steps_to_fraction(0.5, lr, lambda)`` updates: long enough for the closed form to carry a
    constant-sign row past half of 1/lambda."""
    from lessons.data import UNK

    absent = steps_to_fraction(0.5, config.lr, config.weight_decay)
    mask = (run.frequency >= 1) & (run.frequency <= max_count) & (run.updates_since_seen >= absent)
    mask[: UNK + 1] = False
    return mask


def once_seen_band(updates, config: ExperimentConfig, init_bound: float = INIT_BOUND):
    """Closed-form bounds (lower, upper) on max |row| for a token seen exactly once, ``updates``
    updates before the end of a Tiger/Lion run.

    Before it is seen its momentum is 0, so the row only decays and stays within ``init_bound``;
    from the step it is seen on, every component moves with a constant sign towards +-1/lambda:
    |theta_n| = 1/lambda - (1 - lr lambda)^n (1/lambda -+ |theta_0|).
    """
    lam, rate = config.weight_decay, config.lr * config.weight_decay
    shrink = (1.0 - rate) ** np.asarray(updates, dtype=np.float64)
    return 1.0 / lam - shrink * (1.0 / lam + init_bound), 1.0 / lam - shrink * (1.0 / lam - init_bound)


def once_seen_check(run: EmbeddingRun, config: ExperimentConfig, tol: float = 1e-4) -> dict:
    """Compare every real character seen exactly once with ``once_seen_band``.

    Returns arrays over those characters: ``updates`` (since it was seen), ``max_abs``, ``low``,
    ``high`` and ``inside`` (max |row| within [low - tol, high + tol]).
    """
    from lessons.data import UNK

    once = run.frequency == 1
    once[: UNK + 1] = False
    updates = run.updates_since_seen[once]
    low, high = once_seen_band(updates, config)
    max_abs = run.max_abs[once]
    inside = (max_abs >= low - tol) & (max_abs <= high + tol)
    return {"updates": updates, "max_abs": max_abs, "low": low, "high": high, "inside": inside}


def plot_max_abs_vs_frequency(runs: dict, names, config: ExperimentConfig, ylim=None):
    """One scatter panel per run in ``names``: max |embedding row| against training count, with
    the fixed point 1/lambda dashed. PAD and UNK are left out."""
    import matplotlib.pyplot as plt

    from lessons.data import UNK

    names = tuple(names)
    fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names), 3.2), sharey=True,
                             squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        run = runs[name]
        seen = run.frequency > 0
        seen[: UNK + 1] = False
        ax.scatter(run.frequency[seen], run.max_abs[seen], s=3, alpha=0.4)
        ax.axhline(1 / config.weight_decay, color="k", ls="--", lw=1)
        ax.set(xscale="log", title=name, xlabel="occurrences in training", ylim=ylim)
    axes[0, 0].set_ylabel("max |embedding row|")
    return fig


def sign_agreement(rows) -> float:
    """Fraction of entries of ``rows`` [n, dim] whose sign equals their column's majority sign
    (1.0 when all rows point the same way, about 0.5 for random rows)."""
    rows = np.sign(np.asarray(rows, dtype=np.float64))
    if rows.ndim != 2 or rows.shape[0] < 1:
        raise ValueError(f"rows must be a non-empty [n, dim] array, got shape {rows.shape}")
    majority = np.where(rows.sum(axis=0) >= 0, 1.0, -1.0)
    return float(np.mean(rows == majority))


def summarize(runs: dict, config: ExperimentConfig) -> list[dict]:
    """One row per variant: losses and where the embedding rows ended up.

    Keys: variant, train_loss (mean of the last 100 steps), test_loss, emb_max, emb_min,
    rare (number of ``rare_rows``), rare_pinned (fraction of them with max |row| > 0.5/lambda),
    rare_median, frequent_median (ids seen >= 100 times), unseen_median (ids never seen),
    other_pinned (fraction of all other weights with |w| > 0.5/lambda).
    """
    half = 0.5 / config.weight_decay
    out = []
    for name, run in runs.items():
        rare, m = rare_rows(run, config), run.max_abs
        frequent = run.frequency >= 100
        unseen = run.frequency == 0
        unseen[:2] = False
        other = np.concatenate([np.abs(w).ravel() for w in run.others.values()])
        out.append({
            "variant": name,
            "train_loss": float(run.loss[-100:].mean()),
            "test_loss": run.test_loss,
            "emb_max": float(run.embedding.max()),
            "emb_min": float(run.embedding.min()),
            "rare": int(rare.sum()),
            "rare_pinned": float(np.mean(m[rare] > half)),
            "rare_median": float(np.median(m[rare])),
            "frequent_median": float(np.median(m[frequent])),
            "unseen_median": float(np.median(m[unseen])) if unseen.any() else float("nan"),
            "other_pinned": float(np.mean(other > half)),
        })
    return out


def remedy_verdicts(rows: list[dict], baseline: str = "tiger", tolerance: float = 0.05) -> dict:
    """A one-line verdict per remedy from ``summarize`` rows.

    A remedy "fixes the drift" when at most 5 % of its rare rows pass 0.5/lambda; its loss is
    "on par" when its test loss is within ``tolerance`` nats of the baseline's.
    """
    table = {r["variant"]: r for r in rows}
    if baseline not in table:
        raise ValueError(f"baseline must be one of {sorted(table)}, got {baseline!r}")
    base = table[baseline]
    out = {}
    for name in ("lazy_tiger", "tied_tiger", "mixed"):
        if name not in table:
            continue
        r = table[name]
        fixed = r["rare_pinned"] <= 0.05
        delta = r["test_loss"] - base["test_loss"]
        cost = "on par with" if abs(delta) <= tolerance else ("worse than" if delta > 0 else
                                                               "better than")
        out[name] = (f"{'fixes' if fixed else 'does NOT fix'} the drift "
                     f"({100 * r['rare_pinned']:.0f} % of rare rows past 0.5/lambda, "
                     f"{baseline}: {100 * base['rare_pinned']:.0f} %); test loss "
                     f"{r['test_loss']:.3f}, {cost} {baseline} ({base['test_loss']:.3f})")
    return out


def smooth(values, window: int = 50) -> np.ndarray:
    """Trailing moving average [len(values) - window + 1] (for loss curves)."""
    values = np.asarray(values, dtype=np.float64)
    if not isinstance(window, int) or not 1 <= window <= len(values):
        raise ValueError(f"window must be an int in [1, {len(values)}], got {window!r}")
    csum = np.concatenate([[0.0], np.cumsum(values)])
    return (csum[window:] - csum[:-window]) / window


def absent_token_trajectory(gradient, absent_steps: int, lr: float = 0.003,
                            weight_decay: float = 1.0, optimizer: str = "tiger") -> np.ndarray:
    """Run the real Keras optimizer on one embedding row: one step with ``gradient`` [dim], then
    ``absent_steps`` steps with a zero gradient. Rows start at 0.

    Args:
        optimizer: "tiger" (``Tiger``, beta 0.965), "lion" (``keras.optimizers.Lion``) or
            "adamw" (``keras.optimizers.AdamW``), all with ``weight_decay``.

    Returns:
        float32 [absent_steps + 1, dim]: the row after each step.
    """
    _check_lr_wd(lr, weight_decay)
    _check_steps(absent_steps, "absent_steps")
    makers = {"tiger": lambda: Tiger(lr, weight_decay=weight_decay),
              "lion": lambda: keras.optimizers.Lion(lr, weight_decay=weight_decay),
              "adamw": lambda: keras.optimizers.AdamW(lr, weight_decay=weight_decay)}
    if optimizer not in makers:
        raise ValueError(f"optimizer must be one of {sorted(makers)}, got {optimizer!r}")
    gradient = np.asarray(gradient, dtype=np.float32).reshape(-1)
    row = keras.Variable(np.zeros_like(gradient))
    opt = makers[optimizer]()
    opt.build([row])

    @tf.function
    def run(first):
        path = tf.TensorArray(tf.float32, size=absent_steps + 1)
        opt.apply([first], [row])
        path = path.write(0, row.value)
        for t in tf.range(absent_steps):
            opt.apply([tf.zeros_like(first)], [row])
            path = path.write(t + 1, row.value)
        return path.stack()

    return run(tf.constant(gradient)).numpy()
