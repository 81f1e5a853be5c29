import re

import numpy as np
import pytest

from lessons._core import data

ILLEGAL = re.compile(r"[bm]$|^[me]|[se][me]|[bm][sb]")  # e.g. s->m, b->s, ending inside a word


@pytest.fixture(scope="module")
def corpus():
    return data.load_peoples_daily()


def test_corpus_size_and_tag_set(corpus):
    assert 19_000 <= len(corpus) <= 19_500
    assert set("".join(s.tags for s in corpus[:500])) == set(data.TAGS)
    assert all(len(s.chars) == len(s.tags) for s in corpus)


def test_gold_tags_are_legal(corpus):
    assert not [s for s in corpus if ILLEGAL.search(s.tags)]


def test_words_follow_tags():
    s = data.Sentence("我爱北京天安门", "ssbebme")
    assert s.words() == ["我", "爱", "北京", "天安门"]


def test_chunks_cut_at_word_boundaries_and_stay_legal(corpus):
    for s in corpus[:300]:
        pieces = data.chunk_sentence(s, 16)
        assert "".join(p.chars for p in pieces) == s.chars or any(
            len(w) > 16 for w in s.words()
        )
        for p in pieces:
            assert 1 <= len(p.chars) <= 16 and not ILLEGAL.search(p.tags)
    long_word = data.Sentence("一二三四五", "bmmme")
    assert data.chunk_sentence(long_word, 3) == [data.Sentence("一二三", "bme")]
    with pytest.raises(ValueError, match="max_len"):
        data.chunk_sentence(long_word, 1)


def test_split_is_deterministic_disjoint_and_complete(corpus):
    train, test = data.split_corpus(corpus, 0.1, seed=0)
    again, _ = data.split_corpus(corpus, 0.1, seed=0)
    assert train == again
    assert len(test) == round(0.1 * len(corpus)) and len(train) + len(test) == len(corpus)
    other, _ = data.split_corpus(corpus, 0.1, seed=1)
    assert other != train
    with pytest.raises(ValueError, match="test_fraction"):
        data.split_corpus(corpus, 1.0)


def test_vocab_ids_by_frequency_and_unknown():
    sents = [data.Sentence("aab", "sss"), data.Sentence("ac", "ss")]
    vocab = data.Vocab.build(sents)
    assert vocab.chars == ("a", "b", "c") and len(vocab) == 5
    assert vocab.encode("abz") == [2, 3, data.UNK]
    np.testing.assert_array_equal(vocab.frequencies(), [0, 0, 3, 1, 1])
    assert data.Vocab.build(sents, min_count=2).chars == ("a",)
    with pytest.raises(ValueError, match="min_count"):
        data.Vocab.build(sents, min_count=0)


def test_encode_tagged_pads_right_with_mask():
    vocab = data.Vocab.build([data.Sentence("北京北", "bes")])  # 北 twice: id 2
    ids, tags, mask = data.encode_tagged([data.Sentence("北京人", "bes")], vocab, max_len=5)
    np.testing.assert_array_equal(ids, [[2, 3, data.UNK, 0, 0]])
    np.testing.assert_array_equal(tags, [[1, 3, 0, 0, 0]])
    np.testing.assert_array_equal(mask, [[True, True, True, False, False]])


def test_tagged_dataset_batches():
    ids = np.arange(10, dtype=np.int32).reshape(5, 2)
    (x, m), y = next(iter(data.tagged_dataset(ids, ids, ids > 0, batch_size=4)))
    assert x.shape == (4, 2) and m.dtype.name == "bool" and y.shape == (4, 2)


def test_digits_scaling():
    x, y = data.load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32 and y.shape == (1797,)
    assert x.min() == 0.0 and x.max() == 1.0
    xt, _ = data.load_digits("tanh")
    np.testing.assert_allclose(xt, 2 * x - 1)
    with pytest.raises(ValueError, match="scaled"):
        data.load_digits("zscore")


def test_ring_samples_sit_near_their_centres():
    centres = data.ring_centers(8, 2.0)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0, rtol=1e-6)
    x = data.sample_ring(4000, std=0.02, seed=1)
    nearest = np.linalg.norm(x[:, None] - centres[None], axis=2).min(axis=1)
    assert nearest.max() < 0.02 * 6
    counts = np.bincount(np.linalg.norm(x[:, None] - centres[None], axis=2).argmin(1), minlength=8)
    assert counts.min() > 400  # all eight modes, roughly equal
    np.testing.assert_array_equal(x, data.sample_ring(4000, std=0.02, seed=1))
    for kwargs, name in [({"n": 0}, "n"), ({"n": 5, "std": 0}, "std"), ({"n": 5, "modes": 0}, "modes")]:
        with pytest.raises(ValueError, match=name):
            data.sample_ring(**kwargs)
