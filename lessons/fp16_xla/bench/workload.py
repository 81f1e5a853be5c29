"""The benchmark's workload: a BERT-style tagger and one batch of People's Daily characters.

TensorFlow and Keras are imported inside the functions, so that importing this module (as the
parent process does) stays cheap.
"""

from __future__ import annotations

import threading

import numpy as np

from lessons.fp16_xla.bench.configs import size_of

__all__ = ["build_tagger", "counted_flops", "make_batch", "model_attention_layers"]

_BATCHES: dict[str, dict[str, np.ndarray]] = {}
_BATCH_LOCK = threading.Lock()


def make_batch(size: str) -> dict[str, np.ndarray]:
    """One batch of People's Daily characters for ``size``: ids, tags (int32) and mask (bool),
    each [batch, seq_len]; the vocabulary is the ``vocab - 2`` most frequent characters.

    Made once per size and process (cached read-only); each call returns fresh copies.

    Args:
        size: a key of ``SIZES``.
    """
    from lessons._core.data import Vocab, encode_tagged, load_peoples_daily

    s = size_of(size)
    with _BATCH_LOCK:  # benchmarks may run in threads (tests): make each batch once
        if size not in _BATCHES:
            sentences = load_peoples_daily()
            vocab = Vocab.build(sentences[:4000], max_size=s.vocab - 2)
            ids, tags, mask = encode_tagged(sentences[: 4 * s.batch], vocab, s.seq_len)
            _BATCHES[size] = {"ids": ids[: s.batch], "tags": tags[: s.batch],
                              "mask": mask[: s.batch]}
            for array in _BATCHES[size].values():
                array.setflags(write=False)  # the cache; callers get writable copies
        return {k: v.copy() for k, v in _BATCHES[size].items()}


_POSITION_EMBEDDING = []


def _position_embedding_class():
    """The layer class, defined on first use so that importing this module skips Keras."""
    if _POSITION_EMBEDDING:
        return _POSITION_EMBEDDING[0]
    import keras

    @keras.saving.register_keras_serializable(package="lessons")
    class PositionEmbedding(keras.layers.Layer):
        """Adds a learnt vector per position to ``[batch, seq_len, dim]`` inputs.

        Args:
            max_len: the longest sequence (positions 0 .. max_len - 1).
        """

        def __init__(self, max_len: int, **kwargs):
            super().__init__(**kwargs)
            self.max_len = max_len

        def build(self, input_shape):
            self.table = self.add_weight(shape=(self.max_len, input_shape[-1]),
                                         initializer="glorot_uniform", name="table")

        def call(self, x):
            length = keras.ops.shape(x)[1]
            return x + keras.ops.cast(self.table[:length], x.dtype)[None]

        def get_config(self):
            return {**super().get_config(), "max_len": self.max_len}

    _POSITION_EMBEDDING.append(PositionEmbedding)
    return PositionEmbedding


def build_tagger(size: str):
    """A post-norm BERT-style encoder with a 4-tag softmax head (logits in float32).

    Inputs ``ids`` [batch, seq_len] int32 and ``mask`` [batch, seq_len] bool; output
    logits [batch, seq_len, 4]. Layers follow the global dtype policy at build time.

    Args:
        size: a key of ``SIZES``.
    """
    import keras

    s = size_of(size)
    ids = keras.Input((s.seq_len,), dtype="int32", name="ids")
    mask = keras.Input((s.seq_len,), dtype="bool", name="mask")
    x = keras.layers.Embedding(s.vocab, s.dim, name="chars")(ids)
    x = _position_embedding_class()(s.seq_len, name="positions")(x)
    pair_mask = mask[:, None, :] & mask[:, :, None]  # [batch, T, T]
    for i in range(s.layers):
        attn = keras.layers.MultiHeadAttention(s.heads, s.dim // s.heads, name=f"attention_{i}")
        x = keras.layers.LayerNormalization(name=f"norm_a{i}")(
            x + attn(x, x, attention_mask=pair_mask))
        h = keras.layers.Dense(s.ffn, activation="gelu", name=f"ffn_in_{i}")(x)
        x = keras.layers.LayerNormalization(name=f"norm_f{i}")(
            x + keras.layers.Dense(s.dim, name=f"ffn_out_{i}")(h))
    logits = keras.layers.Dense(4, dtype="float32", name="tags")(x)
    return keras.Model([ids, mask], logits, name=f"tagger_{size}")


def counted_flops(model, size: str) -> int:
    """Training FLOPs counted from the built model's kernels (2 per weight per token, x 3 for
    training) plus attention's ``4 T d`` per token and layer: an independent check of
    ``train_flops``."""
    s = size_of(size)
    kernel_weights = sum(int(np.prod(v.shape)) for v in model.weights
                         if v.path.endswith("/kernel"))
    attention = model_attention_layers(model) * 4 * s.seq_len * s.dim
    return 3 * s.batch * s.seq_len * (2 * kernel_weights + attention)


def model_attention_layers(model) -> int:
    """How many ``MultiHeadAttention`` layers ``model`` has."""
    import keras

    return sum(isinstance(layer, keras.layers.MultiHeadAttention) for layer in model.layers)
