"""Lesson 03's data: the People's Daily split and its gold tags, the cached (read-only) arrays
``prepare_data`` gives, and ``chunk_sentence`` by hypothesis."""

import re

import numpy as np
import pytest
from crf_testing import ILLEGAL_BMES
from hypothesis import given, settings
from hypothesis import strategies as st

from lessons._core.data import TAGS, Sentence, chunk_sentence, load_peoples_daily, split_corpus
from lessons.crf import prepare_data, sample_sentence


def test_corpus_split_and_gold_tags():
    lines = load_peoples_daily()
    assert len(lines) == 19484
    train, test = split_corpus(lines, test_fraction=0.1, seed=0)
    assert (len(train), len(test)) == (17536, 1948)
    assert split_corpus(lines, test_fraction=0.1, seed=0)[1][:5] == test[:5]
    assert {t for s in lines for t in s.tags} == set(TAGS)
    illegal = re.compile(ILLEGAL_BMES)
    assert not any(illegal.search(s.tags) for s in lines)
    data = prepare_data(300, 50, 16)
    ids, tags, mask = data["train"]
    assert ids.shape == tags.shape == mask.shape and ids.shape[1] == 16
    assert mask[:, 0].all() and not (mask[:, 1:] & ~mask[:, :-1]).any()
    assert (ids[~mask] == 0).all() and (ids[mask] > 0).all()
    assert mask.sum() == sum(len(s.chars) for s in train[:300])
    rows = ["".join(TAGS[t] for t in r[m]) for r, m in zip(tags, mask, strict=True)]
    assert not any(illegal.search(r) for r in rows)


def test_prepared_data_is_cached_and_read_only():
    data = prepare_data(300, 50, 16)
    assert prepare_data(300, 50, 16) is data  # one copy, shared by every caller ...
    for ids, tags, mask in (data["train"], data["test"]):
        for array in (ids, tags, mask):
            assert not array.flags.writeable  # ... so nobody may change it
    with pytest.raises(ValueError, match="read-only"):
        data["train"][0][0, 0] = 5
    with pytest.raises(TypeError):
        data["vocab"] = None


def test_sample_sentence_is_a_fixed_test_piece():
    piece = sample_sentence(32)
    assert 20 <= len(piece.chars) <= 32 and len(piece.tags) == len(piece.chars)
    _, test = split_corpus(load_peoples_daily(), test_fraction=0.1, seed=0)
    assert any(piece.chars in s.chars for s in test)


def word_tags(length: int) -> str:
    return "s" if length == 1 else "b" + "m" * (length - 2) + "e"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 12), st.characters(categories=["Lo"])), min_size=1,
                max_size=15),
       st.integers(2, 10))
def test_chunk_sentence_keeps_the_text_in_legal_pieces(words, max_len):
    """Pieces concatenate back to the sentence, except that a word longer than ``max_len`` is
    cut to its first ``max_len`` characters (its own piece, documented); every piece is a legal
    b/m/e/s tagging of at most ``max_len`` characters, cut at word boundaries."""
    texts = [char * n for n, char in words]
    sentence = Sentence("".join(texts), "".join(word_tags(len(t)) for t in texts))
    pieces = chunk_sentence(sentence, max_len)
    kept = "".join(t[:max_len] for t in texts)
    assert "".join(p.chars for p in pieces) == kept
    if all(len(t) <= max_len for t in texts):
        assert kept == sentence.chars
    for piece in pieces:
        assert 1 <= len(piece.chars) <= max_len and len(piece.tags) == len(piece.chars)
        assert not re.search(ILLEGAL_BMES, piece.tags)
    # every cut is at a word boundary of the (truncated) words
    bounds = set(np.cumsum([min(len(t), max_len) for t in texts]).tolist())
    assert set(np.cumsum([len(p.chars) for p in pieces]).tolist()) <= bounds


def test_how_often_a_word_is_longer_than_a_piece():
    """``chunk_sentence`` cuts a word longer than ``max_len``; in the corpus at 32 characters
    (the notebook's pieces) that never happens, at 16 (the tests' runs) rarely."""
    tags = "/".join(s.tags for s in load_peoples_daily())  # legal: every word is s or b m* e
    lengths = np.array([len(word) for word in re.findall("s|bm*e", tags)])
    assert lengths.sum() == len(tags) - tags.count("/") and lengths.max() <= 32
    assert (lengths > 16).mean() < 1e-3


@pytest.mark.parametrize("make, match", [
    (lambda: prepare_data(10**6, 10, 32), "train_sentences"),
    (lambda: sample_sentence(32, 40), "min_len"),
    (lambda: chunk_sentence(Sentence("ab", "be"), 1), "max_len"),
])
def test_data_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
