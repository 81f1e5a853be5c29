"""Lesson 03's scores: word spans (also by hypothesis: they partition the sentence, and on a
legal tagging they are its words), word-level F1 by hand, and the transition order."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lessons._core.data import TAGS
from lessons.crf import POST_TRANSITIONS, transition_order, word_scores, word_spans


def test_word_spans_hand_made():
    assert word_spans("sbes") == [(0, 1), (1, 3), (3, 4)]
    assert word_spans("bmmes") == [(0, 4), (4, 5)]
    assert word_spans([1, 2, 3, 0]) == [(0, 3), (3, 4)]
    # illegal predictions still cut text the way their segmented output reads
    assert word_spans("bbe") == [(0, 1), (1, 3)]  # b then b: the first b is a word
    assert word_spans("mms") == [(0, 2), (2, 3)]  # starts inside a word, ends before s
    assert word_spans("sm") == [(0, 1), (1, 2)]
    assert word_spans("") == []


def test_word_scores_hand_made():
    perfect = word_scores(["sbe", "bmes"], ["sbe", "bmes"])
    assert perfect["f1"] == 1.0 and perfect["n_gold"] == 4
    # gold: 他 / 喜欢 / 北京  (s be be); pred: 他喜 / 欢 / 北京 (be s be)
    s = word_scores(["sbebe"], ["bes" + "be"])
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (3, 3, 1)
    assert s["precision"] == pytest.approx(1 / 3) and s["f1"] == pytest.approx(1 / 3)
    # all one word vs 3 single characters: 0 correct
    assert word_scores(["bme"], ["sss"])["f1"] == 0.0
    # over-segmenting: gold 1 word of 4 + s; pred be be s -> P = 1/3, R = 1/2
    s = word_scores(["bmmes"], ["bebes"])
    assert (s["precision"], s["recall"]) == (pytest.approx(1 / 3), 0.5)
    assert s["f1"] == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    # arrays with a mask: padding is cut off before scoring
    gold = np.array([[1, 3, 0, 0], [0, 0, 0, 0]])
    pred = np.array([[1, 3, 2, 2], [0, 1, 1, 1]])
    mask = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], bool)
    assert word_scores(gold, pred, mask)["f1"] == 1.0


def test_transition_order_on_the_posts_two_matrices():
    bad = transition_order(POST_TRANSITIONS["same_lr"])
    good = transition_order(POST_TRANSITIONS["crf_1000x"])
    assert (good > 0).all()  # every row ranks legal successors first
    # rows s and m are wrong: s -> e (0.707) above s -> b (-0.459); m -> s (0.196) above m -> m
    np.testing.assert_allclose(bad, [-0.459 - 0.707, 0.314 + 0.142, -0.794 - 0.196,
                                     0.769 - 0.572], atol=1e-9)


def word_tags(length: int) -> str:
    return "s" if length == 1 else "b" + "m" * (length - 2) + "e"


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="sbme", max_size=30))
def test_word_spans_partition_any_tag_string(tags):
    """Legal or not, the spans cover every character once, in order, none empty; tag ids give
    the same spans as tag letters."""
    spans = word_spans(tags)
    starts, ends = [a for a, _ in spans], [b for _, b in spans]
    assert starts == [0, *ends[:-1]][: len(spans)]  # each starts where the last one ended
    assert ends[-1:] == ([len(tags)] if tags else [])  # the last one ends the sentence
    assert all(b > a for a, b in spans)
    assert word_spans([TAGS.index(t) for t in tags]) == spans


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 6), max_size=12))
def test_word_spans_of_a_legal_tagging_are_its_words(lengths):
    tags = "".join(word_tags(n) for n in lengths)
    ends = np.cumsum(lengths).tolist()
    assert word_spans(tags) == list(zip([0, *ends][:-1], ends, strict=True))
    scores = word_scores([tags], [tags])
    assert scores["n_gold"] == scores["n_correct"] == len(lengths)


@pytest.mark.parametrize("make, match", [
    (lambda: transition_order(np.zeros((3, 3))), "transitions must have shape"),
    (lambda: word_spans("sbx"), "tags must be letters"),
    (lambda: word_spans([0, 4]), "tag ids"),
    (lambda: word_scores(["se"], []), "same number"),
    (lambda: word_scores(["sbe"], ["se"]), "differ in length"),
    (lambda: word_scores([[0, 0]], [[0, 0]], mask=np.ones((2, 2))), "one row per sequence"),
])
def test_scoring_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
