"""Each claims function of lesson 04 passes on a result like the notebook's and raises
ClaimFailed, naming the claim, on one that violates it (fake results, no training)."""

import copy

import numpy as np
import pytest

from lessons import tiger
from lessons._core.claims import ClaimFailed
from lessons.tiger import ExperimentConfig

CONFIG = ExperimentConfig()
UNIGRAM = 6.527


def _row(variant, **values):
    row = {"variant": variant, "train_loss": 5.83, "test_loss": 5.85, "emb_max": 0.9139,
           "emb_min": -0.9129, "rare": 253, "rare_pinned": 1.0, "rare_at_fixed_point": 0.0,
           "rare_median": 0.84, "frequent_median": 0.47, "unseen_median": 0.004, "unseen_max": 0.0045,
           "other_pinned": 0.32, "rare_output_pinned": 0.59, "output_bias_min": -1.0}
    row.update(values)
    return row


GOOD = [
    _row("tiger"),
    _row("lion", test_loss=5.81),
    _row("adamw", test_loss=6.25, emb_max=0.57, emb_min=-0.53, rare_pinned=0.0,
         other_pinned=0.01, rare_output_pinned=0.03),
    _row("lazy_tiger", test_loss=5.847, emb_max=0.70, emb_min=-0.70, rare_pinned=0.0,
         rare_output_pinned=0.68),
    _row("tied_tiger", test_loss=6.08, rare_output_pinned=0.8, unseen_median=0.91),
    _row("mixed", test_loss=5.89, emb_max=0.54, emb_min=-0.48, rare_pinned=0.0,
         rare_output_pinned=0.71),
    _row("released_tiger", test_loss=6.13, emb_max=0.9999925, emb_min=-0.9999925,
         rare_pinned=0.996, rare_at_fixed_point=0.34, rare_output_pinned=0.05,
         output_bias_min=-8.0001),
]


ONCE = {"n_updates": 611, "count": 35, "at_fixed_point": 1.0}


def _with(rows, variant, **values):
    rows = copy.deepcopy(rows)
    next(r for r in rows if r["variant"] == variant).update(values)
    return rows


def _lines(capsys, fn, *args):
    assert fn(*args) is None
    return capsys.readouterr().out.splitlines()


def _fails(fn, *args, match):
    with pytest.raises(ClaimFailed, match=match):
        fn(*args)


def test_summary_claims(capsys):
    lines = _lines(capsys, tiger.check_summary, GOOD, CONFIG, UNIGRAM)
    assert "holds: tiger: rare rows past 0.5/lambda (>= 90%)" in lines
    # 16 claims: six each for Tiger and Lion, then AdamW, never-seen rows, other and output weights
    assert all(line.startswith("holds: ") for line in lines) and len(lines) == 16
    assert not any("5.8" in line for line in lines)  # no measured digits
    bad = [
        (_with(GOOD, "tiger", rare_pinned=0.5), "tiger: rare rows past 0.5/lambda"),
        (_with(GOOD, "lion", emb_max=1.0), "lion: largest .embedding entry. minus the closed"),
        (_with(GOOD, "tiger", emb_max=0.8, emb_min=-0.8), "tiger: embedding max and -min"),
        (_with(GOOD, "lion", emb_min=-0.5), "lion: embedding max and -min"),
        (_with(GOOD, "tiger", unseen_max=0.02), "tiger: never-seen rows"),
        (_with(GOOD, "tiger", rare_at_fixed_point=0.1), "tiger: rare rows with every entry"),
        (_with(GOOD, "tiger", test_loss=6.4), "tiger: test loss below the unigram"),
        (_with(GOOD, "lion", test_loss=6.2), "lion: test loss below AdamW"),
        (_with(GOOD, "adamw", rare_pinned=0.2), "adamw: rare rows past"),
        (_with(GOOD, "tiger", other_pinned=0.05), "tiger: other weights past"),
        (_with(GOOD, "tiger", rare_output_pinned=0.1), "tiger: rare characters' output"),
    ]
    for rows, match in bad:
        _fails(tiger.check_summary, rows, CONFIG, UNIGRAM, match=match)
    with pytest.raises(ValueError, match="rows must hold"):
        tiger.summary_claims(GOOD[:1], CONFIG, UNIGRAM)


def test_released_claims(capsys):
    lines = _lines(capsys, tiger.check_released, GOOD, CONFIG, ONCE, UNIGRAM)
    assert "holds: released: characters seen once >= 611 updates before the end (>= 10)" in lines
    bad = [
        (_with(GOOD, "released_tiger", emb_max=0.99, emb_min=-0.99), ONCE, "distance to"),
        (_with(GOOD, "released_tiger", rare_pinned=0.5), ONCE, "released: rare rows past"),
        (_with(GOOD, "released_tiger", rare_at_fixed_point=0.0), ONCE, "every entry within"),
        (GOOD, {**ONCE, "at_fixed_point": 0.9}, "of them, every entry"),
        (GOOD, {**ONCE, "count": 3}, "characters seen once"),
        (_with(GOOD, "released_tiger", rare_output_pinned=0.5), ONCE, "output weights"),
        (_with(GOOD, "released_tiger", output_bias_min=-1.0), ONCE, "lowest output bias"),
        (_with(GOOD, "released_tiger", test_loss=6.5), ONCE, "below the unigram"),
        (_with(GOOD, "released_tiger", test_loss=5.85), ONCE, "above Tiger's"),
    ]
    for rows, once, match in bad:
        _fails(tiger.check_released, rows, CONFIG, once, UNIGRAM, match=match)


def test_remedy_claims(capsys):
    lines = _lines(capsys, tiger.check_remedies, GOOD, CONFIG)
    assert "holds: lazy_tiger: rare characters' output weights past 0.5/lambda (>= 50%)" in lines
    bad = [
        (_with(GOOD, "lazy_tiger", rare_pinned=0.3), "lazy_tiger: rare embedding rows"),
        (_with(GOOD, "mixed", rare_pinned=0.3), "mixed: rare embedding rows"),
        (_with(GOOD, "lazy_tiger", rare_output_pinned=0.2), "lazy_tiger: rare characters'"),
        (_with(GOOD, "mixed", rare_output_pinned=0.55), "mixed: that share minus Tiger's"),
        (_with(GOOD, "tied_tiger", rare_pinned=0.1), "tied_tiger: rare embedding rows"),
        (_with(GOOD, "tied_tiger", unseen_median=0.2), "tied_tiger: never-seen rows"),
        (_with(GOOD, "lazy_tiger", test_loss=5.95), "lazy_tiger: test loss minus"),
        (_with(GOOD, "lazy_tiger", test_loss=5.75), "lazy_tiger: test loss minus"),
        (_with(GOOD, "mixed", test_loss=6.1), "mixed: test loss minus"),
        (_with(GOOD, "tied_tiger", test_loss=5.9), "tied_tiger: test loss minus"),
    ]
    for rows, match in bad:
        _fails(tiger.check_remedies, rows, CONFIG, match=match)


def test_once_seen_and_sign_agreement_claims(capsys):
    assert len(_lines(capsys, tiger.check_once_seen, {"inside": np.ones(139, bool)})) == 2
    inside = np.ones(139, bool)
    inside[3] = False
    _fails(tiger.check_once_seen, {"inside": inside}, match="inside the closed-form band")
    _fails(tiger.check_once_seen, {"inside": np.ones(20, bool)}, match="seen exactly once")
    good = {"tied_unseen": 0.99, "n_unseen": 71, "tiger_rare": 0.52, "n_rare": 253}
    assert len(_lines(capsys, tiger.check_sign_agreement, good)) == 2
    _fails(tiger.check_sign_agreement, {**good, "tied_unseen": 0.6}, match="never-seen rows")
    _fails(tiger.check_sign_agreement, {**good, "tiger_rare": 0.9}, match="rare rows")


def _paths(steps=2000, lr=0.003):
    """Absent-token paths as the closed form and Adam's fading step would give them."""
    g = np.array(tiger.ABSENT_GRADIENT)
    exact = tiger.closed_form(0.0, lr, 1.0, np.sign(g), steps + 1)
    n = tiger.steps_until_momentum_underflow(np.float32(0.035) * np.float32(1e-6), 0.965)
    tiger_path = exact.copy()
    tiger_path[n:, 2] = tiger_path[n - 1, 2] * 0.997 ** np.arange(1, steps + 2 - n)
    adam = -np.sign(g) * 0.01 * (1 - 0.9 ** np.arange(1, steps + 2))[:, None] * 0.99 ** np.arange(
        steps + 1)[:, None]
    return {"tiger": tiger_path, "lion": exact.copy(), "adamw": adam}


def test_absent_token_claims(capsys):
    lines = _lines(capsys, tiger.check_absent_token, _paths())
    assert "holds: tiger: the 1e-06 component keeps pace with the others until its momentum " \
           "underflows at step 1970 (gap) (<= 0.00010)" in lines
    bad = _paths()
    bad["lion"][500:, 0] *= 0.9
    _fails(tiger.check_absent_token, bad, match="lion: the absent row follows")
    bad = _paths()
    bad["tiger"][100:, 2] *= 0.5  # the tiny component lagging: sign dropped its size too early
    _fails(tiger.check_absent_token, bad, match="keeps pace|tiger: the absent row")
    bad = _paths()
    bad["adamw"][:] = bad["adamw"][10]  # the over-update never dies out
    _fails(tiger.check_absent_token, bad, match="adamw")


def test_a_setting_without_rare_rows_fails_the_claims_cleanly():
    """summarize gives None for a share over no rows: the claim fails and names it (no TypeError)."""
    empty = {"rare": 0, "rare_pinned": None, "rare_at_fixed_point": None, "rare_median": None,
             "rare_output_pinned": None}
    _fails(tiger.check_summary, _with(GOOD, "tiger", **empty), CONFIG, UNIGRAM,
           match="tiger: rare rows past 0.5/lambda: measured nan%")
    _fails(tiger.check_remedies, _with(GOOD, "lazy_tiger", **empty), CONFIG,
           match="lazy_tiger: rare embedding rows past")
    none_once = {"n_updates": 611, "count": 0, "at_fixed_point": None}
    _fails(tiger.check_released, GOOD, CONFIG, none_once, UNIGRAM,
           match="released: characters seen once")
