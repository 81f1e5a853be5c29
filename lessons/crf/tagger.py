"""The character tagger of lesson 03 and one training run.

- ``Tagger``: embedding -> encoder of adjustable depth -> emissions -> CRF (or softmax) head.
- ``RunConfig``: everything that defines a run; ``prepare_data``: the fixed People's Daily split.
- ``train_run``: one deterministic run, seeded by the course seed (``lessons.setup``) unless the
  config names one, scoring the test set after every epoch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import time
from functools import lru_cache
from types import MappingProxyType

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from lessons._core.checks import integer, number, one_of
from lessons._core.data import (
    PAD,
    TAGS,
    Vocab,
    chunk_sentence,
    encode_tagged,
    load_peoples_daily,
    split_corpus,
)
from lessons._core.notebook import course_seed, progress
from lessons.crf.layer import CRF
from lessons.crf.scoring import word_scores

__all__ = ["RunConfig", "Tagger", "batch_progress", "build_tagger", "crf_weights", "evaluate",
           "prepare_data", "sample_sentence", "train_run"]

DEPTHS = (0, 1, 2)
ENCODERS = ("conv", "bilstm")
HEADS = ("crf", "softmax")
CONSTRAINTS = (None, "bmes")


def _check_architecture(depth, encoder, head, constraints) -> None:
    one_of("depth", depth, DEPTHS)
    one_of("encoder", encoder, ENCODERS)
    one_of("head", head, HEADS)
    one_of("constraints", constraints, CONSTRAINTS)


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
        vocab_size = integer("vocab_size", vocab_size, low=3)
        _check_architecture(depth, encoder, head, constraints)
        self.constraints = constraints
        self.vocab_size, self.depth, self.encoder, self.head = vocab_size, depth, encoder, head
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
        ce = ops.sparse_categorical_crossentropy(tags, emissions, from_logits=True)
        maskf = ops.cast(mask, ce.dtype)
        return ops.sum(ce * maskf) / ops.sum(maskf)

    def predict_tags(self, ids, mask):
        """Viterbi tags (CRF) or per-character argmax (softmax), int32 [batch, time]."""
        emissions = self(ids)
        if self.crf is not None:
            return self.crf.decode(emissions, mask)
        return ops.argmax(emissions, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update({k: getattr(self, k) for k in (
            "vocab_size", "depth", "encoder", "head", "lr_multiplier", "embed_dim", "width",
            "constraints")})
        return config


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run (defaults: the notebook's quick run).

    Args:
        body_lr: Adam learning rate of embedding, encoder and emissions, in (0, 1] (default 1e-3).
        lr_multiplier: the CRF's multiplier, > 0 (default 1.0); its effective Adam learning rate
            is body_lr * lr_multiplier.
        depth, encoder, head: see ``Tagger`` (defaults 1, "conv", "crf").
        epochs: passes over the training pieces (default 3).
        train_sentences, test_sentences: how many corpus lines of the fixed split to use
            (defaults 3000 and 500); lines are cut into pieces of at most ``max_len`` characters.
        max_len: piece length, >= 2 (default 32). batch_size: default 64.
        embed_dim, width: model size (defaults 64, 64; width >= 2).
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

    def __post_init__(self):  # checks only: values stay as given (stored JSON keys match them)
        number("body_lr", self.body_lr, low=0, high=1, low_open=True)
        number("lr_multiplier", self.lr_multiplier, low=0, low_open=True)
        for name, low in (("epochs", 1), ("train_sentences", 1), ("test_sentences", 1),
                          ("max_len", 2), ("batch_size", 1), ("embed_dim", 1), ("width", 2)):
            integer(name, getattr(self, name), low=low)
        _check_architecture(self.depth, self.encoder, self.head, self.constraints)
        if self.seed is not None:
            course_seed(self.seed)  # validates it

    def resolved(self) -> RunConfig:
        """This config with ``seed`` resolved (the course seed when it is None)."""
        return dataclasses.replace(self, seed=course_seed(self.seed))


@lru_cache(maxsize=4)
def prepare_data(train_sentences: int, test_sentences: int, max_len: int):
    """The fixed split (``split_corpus`` seed 0), cut to the first ``train_sentences`` /
    ``test_sentences`` lines, the vocabulary of those training lines, and padded arrays.

    Returns:
        a read-only mapping with ``vocab`` and ``train`` / ``test`` = (ids, tags, mask) NumPy
        arrays (read-only: the result is cached and shared by every caller).
    """
    train, test = split_corpus(load_peoples_daily(), test_fraction=0.1, seed=0)
    if not 1 <= train_sentences <= len(train) or not 1 <= test_sentences <= len(test):
        raise ValueError(f"train_sentences must be in [1, {len(train)}] and test_sentences in "
                         f"[1, {len(test)}], got {train_sentences} and {test_sentences}")
    train, test = train[:train_sentences], test[:test_sentences]
    vocab = Vocab.build(train)
    arrays = {"train": encode_tagged(train, vocab, max_len),
              "test": encode_tagged(test, vocab, max_len)}
    for array in (a for split in arrays.values() for a in split):
        array.setflags(write=False)
    return MappingProxyType({"vocab": vocab, **arrays})


def sample_sentence(max_len: int = 32, min_len: int = 20):
    """A fixed test-split sentence piece: the first with >= ``min_len`` characters.

    Args:
        max_len: pieces are cut at word boundaries to at most this many characters (default 32).
        min_len: the shortest piece accepted, in [2, max_len] (default 20).
    """
    if not 2 <= min_len <= max_len:
        raise ValueError(f"min_len must be in [2, max_len={max_len}], got {min_len}")
    _, test = split_corpus(load_peoples_daily(), test_fraction=0.1, seed=0)
    for sentence in test:
        for piece in chunk_sentence(sentence, max_len):
            if len(piece.chars) >= min_len:
                return piece
    raise ValueError(f"no test sentence piece has >= {min_len} characters")


def build_tagger(config: RunConfig, vocab_size: int) -> Tagger:
    """The (built) ``Tagger`` a config describes, for ``vocab_size`` character ids."""
    model = Tagger(vocab_size, depth=config.depth, encoder=config.encoder, head=config.head,
                   lr_multiplier=config.lr_multiplier, embed_dim=config.embed_dim,
                   width=config.width, constraints=config.constraints)
    model.build((None, config.max_len))
    return model


def crf_weights(model: Tagger) -> dict[str, list] | None:
    """The effective transitions [from][to], start and end scores of a tagger's CRF."""
    if model.crf is None:
        return None
    return {name: ops.convert_to_numpy(getattr(model.crf, attr)).tolist() for name, attr in (
        ("transitions", "transitions"), ("start", "start_transitions"),
        ("end", "end_transitions"))}


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


@contextlib.contextmanager
def _weight_init_seed(seed: int):
    """Seed Keras's weight initialisation for the block, and nothing else.

    Each unseeded Keras initializer takes its seed from Python's ``random`` when its layer is
    made (``keras.random.make_default_seed``), so the block runs with ``random`` seeded and the
    caller's ``random`` state is restored after it. NumPy's and TensorFlow's global seeds are
    not touched.
    """
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def train_run(config: RunConfig, on_epoch=None, data=None, on_batch=None,
              jit_compile: bool = True) -> dict:
    """Train one tagger from scratch, deterministically (seeded), scoring the test set each epoch.

    The initial weights come from the config's seed (see ``_weight_init_seed``), the batch
    order from a NumPy generator of the same seed; no global seed, the course seed or
    matplotlib's settings change.

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
    with _weight_init_seed(config.seed):
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
