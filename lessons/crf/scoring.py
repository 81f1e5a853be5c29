"""How lesson 03 scores a tagger: word spans, word-level F1 (SIGHAN style), and whether a
transition matrix ranks the legal (s, b, m, e) successors first."""

from __future__ import annotations

import numpy as np

from lessons._core.data import TAGS
from lessons.crf.layer import bmes_constraints

__all__ = ["transition_order", "word_scores", "word_spans"]


def word_spans(tags) -> list[tuple[int, int]]:
    """The words a tag sequence cuts, as ``(start, end)`` character spans (end exclusive).

    A word ends after position i when tag i is ``s``/``e`` or tag i+1 is ``s``/``b``; this also
    reads illegal predicted sequences (``b b``, ``m`` first, ...) the way the SIGHAN scorer reads
    the segmented text they produce.

    Args:
        tags: a string over ``"sbme"`` or a sequence of tag ids (0..3 as in ``TAGS``).
    """
    if isinstance(tags, str):
        names = tags
    else:
        ids = [int(t) for t in np.asarray(tags).ravel()]
        if any(t < 0 or t >= len(TAGS) for t in ids):
            raise ValueError(f"tag ids must be in [0, {len(TAGS)}), got {ids}")
        names = "".join(TAGS[t] for t in ids)
    if set(names) - set(TAGS):
        raise ValueError(f"tags must be letters from {TAGS}, got {names!r}")
    spans, start = [], 0
    for i, tag in enumerate(names):
        if tag in "se" or i + 1 == len(names) or names[i + 1] in "sb":
            spans.append((start, i + 1))
            start = i + 1
    return spans


def word_scores(gold, pred, mask=None) -> dict[str, float]:
    """Word-level precision, recall and F1 over a corpus (micro-averaged, as SIGHAN's score).

    A predicted word counts as correct when the same span is a gold word.

    Args:
        gold: sequences of gold tags (strings or id sequences), or an int array [n, time].
        pred: predicted tags, same layout as ``gold``.
        mask: optional bool [n, time]; each row is cut to its mask's length (default: no cut).

    Returns:
        dict with precision, recall, f1 (floats) and n_gold, n_pred, n_correct (ints).
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold and pred must hold the same number of sequences, "
                         f"got {len(gold)} and {len(pred)}")
    lengths = None if mask is None else np.asarray(mask, bool).sum(1)
    if lengths is not None and len(lengths) != len(gold):
        raise ValueError(f"mask must have one row per sequence ({len(gold)}), got {len(lengths)}")
    n_gold = n_pred = n_correct = 0
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if lengths is not None:
            g, p = g[: lengths[i]], p[: lengths[i]]
        if len(g) != len(p):
            raise ValueError(f"gold and pred sequence {i} differ in length: {len(g)} vs {len(p)}")
        gs, ps = set(word_spans(g)), set(word_spans(p))
        n_gold, n_pred, n_correct = n_gold + len(gs), n_pred + len(ps), n_correct + len(gs & ps)
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "n_gold": n_gold, "n_pred": n_pred, "n_correct": n_correct}


def transition_order(transitions, tags=TAGS) -> np.ndarray:
    """Per "from" tag: the lowest allowed minus the highest forbidden transition score.

    Positive means the row ranks every legal successor above every illegal one (what a
    sensible (s, b, m, e) transition matrix does); shape [num_tags].

    Args:
        transitions: a [4, 4] matrix [from][to] (lists or an array).
        tags: the tag names in index order (default ``lessons._core.data.TAGS``).
    """
    trans = np.asarray(transitions, np.float64)
    allowed = np.asarray(bmes_constraints(tags)["transitions"])
    if trans.shape != allowed.shape:
        raise ValueError(f"transitions must have shape {allowed.shape}, got {trans.shape}")
    low = np.where(allowed, trans, np.inf).min(1)
    high = np.where(allowed, -np.inf, trans).max(1)
    return low - high
