"""Lesson 04's training runs: one embedding row under the real optimizers, and a next-character
model on People's Daily trained with Tiger, Lion, AdamW, the three remedies and the released Tiger.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from lessons._core.checks import integer, number, one_of
from lessons._core.data import PAD, UNK, Vocab, load_peoples_daily, split_corpus
from lessons._core.notebook import course_seed, progress_disabled
from lessons._core.notebook import progress as progress_bar
from lessons.tiger.optimizer import Tiger
from lessons.tiger.released import ReleasedTiger

__all__ = [
    "ABSENT_GRADIENT", "VARIANTS", "EmbeddingRun", "ExperimentConfig", "TiedLogits",
    "absent_token_paths", "absent_token_trajectory", "character_streams", "embedding_experiment",
    "released_step",
]

VARIANTS = ("tiger", "lion", "adamw", "lazy_tiger", "tied_tiger", "mixed", "released_tiger")
ABSENT_GRADIENT = (0.01, -0.02, 1e-6)  # the notebook's row: two ordinary entries, one tiny


# ---------------------------------------------------------------------------------------------
# One absent row under the real optimizers


def absent_token_trajectory(gradient, absent_steps: int, learning_rate: float = 0.003,
                            weight_decay: float = 1.0, optimizer: str = "tiger") -> np.ndarray:
    """Run the real Keras optimizer on one embedding row: one step with ``gradient`` [dim], then
    ``absent_steps`` steps with a zero gradient. Rows start at 0.

    Args:
        gradient: the row's gradient the step its token is seen, [dim].
        absent_steps: steps without the token, an int >= 1.
        learning_rate: `lr` > 0 (default 0.003).
        weight_decay: `lambda` >= 0 (default 1).
        optimizer: "tiger" (default; ``Tiger``, beta 0.965), "lion" (``keras.optimizers.Lion``)
            or "adamw" (``keras.optimizers.AdamW``), all with ``weight_decay``.

    Returns:
        float32 [absent_steps + 1, dim]: the row after each step.
    """
    lr = number("learning_rate", learning_rate, low=0.0, low_open=True)
    weight_decay = number("weight_decay", weight_decay, low=0.0)
    absent_steps = integer("absent_steps", absent_steps)
    makers = {"tiger": lambda: Tiger(lr, weight_decay=weight_decay),
              "lion": lambda: keras.optimizers.Lion(lr, weight_decay=weight_decay),
              "adamw": lambda: keras.optimizers.AdamW(lr, weight_decay=weight_decay)}
    opt = makers[one_of("optimizer", optimizer, sorted(makers))]()
    gradient = np.asarray(gradient, dtype=np.float32).reshape(-1)
    row = keras.Variable(np.zeros_like(gradient))
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


def absent_token_paths(gradient=ABSENT_GRADIENT, absent_steps: int = 2000,
                       learning_rate: float = 0.003, weight_decay: float = 1.0,
                       optimizers=("tiger", "lion", "adamw")) -> dict[str, np.ndarray]:
    """``absent_token_trajectory`` under each of ``optimizers``: {name: [absent_steps + 1, dim]}.

    Args:
        gradient: default ``ABSENT_GRADIENT`` (0.01, -0.02, 1e-6).
        absent_steps, learning_rate, weight_decay: as for ``absent_token_trajectory`` (defaults
            2000, 0.003, 1).
        optimizers: names (default all three).
    """
    return {name: absent_token_trajectory(gradient, absent_steps, learning_rate, weight_decay,
                                          optimizer=name) for name in optimizers}


def released_step(table, momentum, gradient, learning_rate: float = 0.02,
                  weight_decay: float = 1.0, beta: float = 0.965) -> np.ndarray:
    """One step of the real ``ReleasedTiger`` on an embedding table, from a given momentum.

    The table is a variable named "embeddings", so ``tiger.py``'s per-row rule applies: each row
    steps by ``learning_rate * RMS(row) * (sign(m) + lambda * row)`` with
    ``m = beta * momentum + (1 - beta) * gradient``.

    Args:
        table: the embedding rows before the step, [rows, dim].
        momentum: the optimizer's momentum before the step, [rows, dim].
        gradient: this step's gradient, [rows, dim] (zeros for an absent token's row).
        learning_rate: the relative learning rate > 0 (default 0.02, the lesson's run).
        weight_decay: `lambda` >= 0 (default 1). beta: in [0, 1) (default 0.965).

    Returns:
        float32 [rows, dim]: the table after the step.
    """
    table = np.asarray(table, dtype=np.float32)
    if table.ndim != 2:
        raise ValueError(f"table must be a [rows, dim] array, got shape {table.shape}")
    momentum, gradient = (np.asarray(a, dtype=np.float32) for a in (momentum, gradient))
    for name, array in (("momentum", momentum), ("gradient", gradient)):
        if array.shape != table.shape:
            raise ValueError(f"{name} must have the table's shape {table.shape}, got "
                             f"{array.shape}")
    variable = keras.Variable(table, name="embeddings")
    opt = ReleasedTiger(learning_rate, beta=beta, weight_decay=weight_decay)
    opt.build([variable])
    opt._momentums[0].assign(momentum)
    opt.apply([tf.constant(gradient)], [variable])
    return variable.numpy()


# ---------------------------------------------------------------------------------------------
# The embedding experiment


@dataclass(frozen=True)
class ExperimentConfig:
    """Hyperparameters of ``embedding_experiment``; the defaults are the notebook's run.

    With learning_rate = 0.003 and lambda = 1 an absent token covers half its way to
    +-1/lambda = +-1 in ``steps_to_fraction(0.5, 0.003, 1.0)`` = 231 steps and 95 % in 998:
    the effect shows within ``steps`` = 800.
    """

    steps: int = 800
    batch_size: int = 128
    vocab_size: int = 3000  # most frequent characters kept; the rest map to UNK
    context: int = 3  # characters of left context
    dim: int = 16  # embedding width
    hidden: int = 64
    learning_rate: float = 0.003  # Tiger and Lion
    adam_learning_rate: float = 0.01  # AdamW (alone and for the mixed optimizer's embedding)
    released_learning_rate: float = 0.02  # ReleasedTiger's relative learning rate
    weight_decay: float = 1.0
    seed: int | None = None  # None: the course seed (lessons.setup), see course_seed

    def __post_init__(self):
        for name in ("steps", "batch_size", "vocab_size", "context", "dim", "hidden"):
            integer(name, getattr(self, name))
        for name in ("learning_rate", "adam_learning_rate", "released_learning_rate",
                     "weight_decay"):
            number(name, getattr(self, name), low=0.0, low_open=True)
        if self.seed is not None:
            course_seed(self.seed)  # validates


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


def embedding_experiment(variants=VARIANTS, config: ExperimentConfig | None = None, *,
                         seed: int | None = None, jit_compile: bool = True,
                         progress: bool = False) -> dict[str, EmbeddingRun]:
    """Train a next-character model on People's Daily once per variant; same data and init.

    The model embeds ``context`` characters, concatenates them, applies a tanh layer and
    predicts the next character over the ``vocab_size`` most frequent ones (+ PAD, UNK).
    Variants: "tiger", "lion" (Keras's Lion), "adamw" (Keras's AdamW), and the remedies
    "lazy_tiger" (``Tiger(lazy=True)``), "tied_tiger" (output layer = input embedding^T) and
    "mixed" (AdamW for the embedding, Tiger for the rest), and "released_tiger"
    (``ReleasedTiger``, the rule of bojone/tiger's ``tiger.py``, relative rate
    ``released_learning_rate``). All use ``weight_decay`` lambda.

    Args:
        variants: names from ``VARIANTS`` (default: all seven).
        config: an ``ExperimentConfig`` (default: the notebook's run).
        seed: seed of the data sample and the initial weights; default None: ``config.seed``,
            and if that is None too, the course seed (``lessons.setup(seed)``, 0 by default).
        jit_compile: compile the training loop with XLA (default True; about 25 % less CPU time
            here than plain graph mode, and it exercises Tiger under XLA).
        progress: a progress bar over the variants (default False; none when the environment
            sets ``TQDM_DISABLE``, which tqdm's notebook widget ignores, so that a stored
            notebook holds no bar).

    Returns:
        {variant: EmbeddingRun}, in the order given.
    """
    cfg = config or ExperimentConfig()
    variants = [one_of("variant", name, VARIANTS) for name in variants]
    seed = course_seed(seed if seed is not None else cfg.seed)
    vocab, train_ids, test_ids = character_streams(cfg.vocab_size, cfg.context)
    rng = np.random.default_rng(seed)
    x, y = _sample(train_ids, cfg.context, (cfg.steps, cfg.batch_size), rng)
    x_test, y_test = _sample(test_ids, cfg.context, (8192,), rng)
    frequency, last_seen = _occurrences(x, len(vocab))

    runs = {}
    show = progress and not progress_disabled()
    for name in progress_bar(variants, desc="variants") if show else variants:
        keras.backend.clear_session(free_memory=False)  # gc.collect costs ~0.2 s a variant
        model, embed = _build_model(cfg, len(vocab), tied=name == "tied_tiger", seed=seed)
        loss = _train(model, _optimizer_groups(name, cfg, model, embed), x, y, jit_compile)
        test_loss = _test_loss(model, x_test, y_test)
        table = embed.embeddings
        others = {v.path: v.numpy() for v in model.trainable_variables if v is not table}
        runs[name] = EmbeddingRun(name, table.numpy(), frequency, last_seen, loss, test_loss,
                                  others)
    return runs


@lru_cache(maxsize=2)
def character_streams(vocab_size: int, context: int) -> tuple[Vocab, np.ndarray, np.ndarray]:
    """(vocab, train ids, test ids) of People's Daily: sentences joined by ``context`` PADs, PAD
    first; the id arrays are cached and read-only."""
    train, test = split_corpus(load_peoples_daily())
    vocab = Vocab.build(train, max_size=vocab_size)
    index = vocab.index | {"\0": PAD}
    sep = "\0" * context

    def encode(sentences):
        text = sep + sep.join(s.chars for s in sentences)
        ids = np.fromiter((index.get(c, UNK) for c in text), np.int32, len(text))
        ids.setflags(write=False)
        return ids

    return vocab, encode(train), encode(test)


def _sample(stream, context, shape, rng):
    """Contexts [*shape, context] and targets [*shape] at random non-PAD positions."""
    valid = np.flatnonzero(stream[context:] != PAD) + context
    pos = rng.choice(valid, size=shape)
    x = stream[pos[..., None] + np.arange(-context, 0)]
    return x, stream[pos]


def _occurrences(x, vocab_size):
    """Count of each id in the contexts x [steps, batch, context]; last step holding it."""
    steps = x.shape[0]
    frequency = np.bincount(x.ravel(), minlength=vocab_size)
    last_seen = np.full(vocab_size, -1, np.int64)
    step_of = np.repeat(np.arange(steps), x[0].size)
    np.maximum.at(last_seen, x.ravel(), step_of)
    return frequency, last_seen


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


def _build_model(cfg: ExperimentConfig, vocab_size: int, tied: bool, seed: int = 0):
    keras.utils.set_random_seed(seed)  # same initial weights for every variant
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
        return [(Tiger(cfg.learning_rate, weight_decay=lam), everything)]
    if name == "lazy_tiger":
        return [(Tiger(cfg.learning_rate, weight_decay=lam, lazy=True), everything)]
    if name == "released_tiger":
        return [(ReleasedTiger(cfg.released_learning_rate, weight_decay=lam), everything)]
    if name == "lion":
        return [(keras.optimizers.Lion(cfg.learning_rate, weight_decay=lam), everything)]
    if name == "adamw":
        return [(keras.optimizers.AdamW(cfg.adam_learning_rate, weight_decay=lam), everything)]
    if name == "mixed":
        table = embed.embeddings
        rest = [v for v in everything if v is not table]
        return [(keras.optimizers.AdamW(cfg.adam_learning_rate, weight_decay=lam), [table]),
                (Tiger(cfg.learning_rate, weight_decay=lam), rest)]
    raise ValueError(f"variant must be one of {VARIANTS}, got {name!r}")


def _test_loss(model, x, y, chunk=1024):
    """Mean cross-entropy over x [n, context], y [n], ``chunk`` rows at a time: the logits of all
    8,192 test rows at once are 8,192 x vocab floats (98 MB, and as much again for the softmax),
    which alone lifted the kernel's peak by 0.3 GB."""
    total = 0.0
    for i in range(0, len(x), chunk):
        logits = model(x[i : i + chunk], training=False)
        total += float(ops.sum(keras.losses.sparse_categorical_crossentropy(
            y[i : i + chunk], logits, from_logits=True)))
    return total / len(x)


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
