"""Reading lesson 04's runs: rare rows, the once-seen band, the output layer, the summary table,
the remedy verdicts and the unigram baseline."""

from __future__ import annotations

import numpy as np

from lessons._core.checks import integer
from lessons._core.data import PAD, UNK
from lessons.tiger.analysis import released_steps_to_fraction, steps_to_fraction
from lessons.tiger.experiments import EmbeddingRun, ExperimentConfig, character_streams

__all__ = [
    "INIT_BOUND", "REMEDIES", "once_seen_band", "once_seen_check", "output_weights", "rare_absence",
    "rare_rows", "released_once_seen", "remedy_verdicts", "sign_agreement", "sign_agreements",
    "smooth", "summarize", "unigram_test_loss",
]

INIT_BOUND = 0.05  # Keras's default Embedding initializer is uniform(-0.05, 0.05)
REMEDIES = ("lazy_tiger", "tied_tiger", "mixed")


def rare_absence(config: ExperimentConfig) -> int:
    """Updates a rare character must have been absent at the end of a run: the closed form's
    half-way time ``steps_to_fraction(0.5, learning_rate, lambda)`` (long enough for a
    constant-sign row to pass 0.5/lambda), or half the run if that is shorter (then no row can
    pass 0.5/lambda, and the rare rows show how far they got). E.g. 231 for the notebook's run;
    750 for lambda = 0.1 and 1,500 steps, whose half-way time is 2,311."""
    half_way = steps_to_fraction(0.5, config.learning_rate, config.weight_decay)
    return max(1, min(half_way, config.steps // 2))


def rare_rows(run: EmbeddingRun, config: ExperimentConfig, max_count: int = 3) -> np.ndarray:
    """[vocab] mask of real characters seen 1..``max_count`` times and then absent for at least
    ``rare_absence(config)`` updates. It may select no row at all (e.g. a run so short that no
    character is absent that long); ``summarize`` then says so.

    Args:
        run: an ``EmbeddingRun``.
        config: its ``ExperimentConfig``.
        max_count: the most occurrences a rare character has (default 3).
    """
    absent = rare_absence(config)
    mask = (run.frequency >= 1) & (run.frequency <= max_count) & (run.updates_since_seen >= absent)
    mask[: UNK + 1] = False
    return mask


def once_seen_band(updates, config: ExperimentConfig, init_bound: float = INIT_BOUND):
    """Closed-form bounds (lower, upper) on max |row| for a token seen exactly once, ``updates``
    updates before the end of a Tiger/Lion run.

    Before it is seen its momentum is 0, so the row only decays and stays within ``init_bound``;
    from the step it is seen on, every component moves with a constant sign towards +-1/lambda:
    |theta_n| = 1/lambda - (1 - lr lambda)^n (1/lambda -+ |theta_0|).

    Args:
        updates: updates since the token was seen (scalar or array).
        config: the run's ``ExperimentConfig`` (its learning_rate and weight_decay).
        init_bound: the largest |entry| at initialisation (default 0.05, Keras's).
    """
    lam, rate = config.weight_decay, config.learning_rate * config.weight_decay
    shrink = (1.0 - rate) ** np.asarray(updates, dtype=np.float64)
    return 1.0 / lam - shrink * (1.0 / lam + init_bound), 1.0 / lam - shrink * (1.0 / lam - init_bound)


def once_seen_check(run: EmbeddingRun, config: ExperimentConfig, tol: float = 1e-4) -> dict:
    """Compare every real character seen exactly once with ``once_seen_band``.

    Returns arrays over those characters: ``updates`` (since it was seen), ``max_abs``, ``low``,
    ``high`` and ``inside`` (max |row| within [low - tol, high + tol]; ``tol`` default 1e-4).
    """
    once = run.frequency == 1
    once[: UNK + 1] = False
    updates = run.updates_since_seen[once]
    low, high = once_seen_band(updates, config)
    max_abs = run.max_abs[once]
    inside = (max_abs >= low - tol) & (max_abs <= high + tol)
    return {"updates": updates, "max_abs": max_abs, "low": low, "high": high, "inside": inside}


def released_once_seen(run: EmbeddingRun, config: ExperimentConfig, x0: float = 0.005,
                       fraction: float = 0.999) -> dict:
    """Characters seen exactly once under ``ReleasedTiger``, at least ``n_updates`` =
    ``released_steps_to_fraction(fraction, released_learning_rate, lambda, x0)`` updates before
    the end: the logistic time for a row starting at RMS ``x0`` (default 0.005, a sixth of a
    typical initial row's 0.029, which leaves room for rows whose entries first cross zero).

    Returns {"n_updates", "count" (such characters), "at_fixed_point" (the share of them whose
    every entry is within ``1 - fraction`` of +-1/lambda, relative; ``fraction`` default 0.999;
    None when there are no such characters)}.
    """
    n = released_steps_to_fraction(fraction, config.released_learning_rate, config.weight_decay,
                                   x0)
    once = (run.frequency == 1) & (run.updates_since_seen >= n)
    once[: UNK + 1] = False
    star = 1.0 / config.weight_decay
    rows = np.abs(run.embedding[once])
    close = np.all(np.abs(rows - star) <= (1 - fraction) * star, axis=1)
    return {"n_updates": n, "count": int(once.sum()), "at_fixed_point": _mean(close)}


def sign_agreement(rows) -> float:
    """Fraction of entries of ``rows`` [n, dim] whose sign equals their column's majority sign
    (1.0 when all rows point the same way, about 0.5 for random rows)."""
    rows = np.sign(np.asarray(rows, dtype=np.float64))
    if rows.ndim != 2 or rows.shape[0] < 1:
        raise ValueError(f"rows must be a non-empty [n, dim] array, got shape {rows.shape}")
    majority = np.where(rows.sum(axis=0) >= 0, 1.0, -1.0)
    return float(np.mean(rows == majority))


def sign_agreements(runs: dict, config: ExperimentConfig) -> dict:
    """``sign_agreement`` of the never-seen rows under tied Tiger and of the rare rows under
    Tiger, with the row counts: {"tied_unseen", "n_unseen", "tiger_rare", "n_rare"}."""
    unseen = runs["tied_tiger"].frequency == 0
    unseen[: UNK + 1] = False
    rare = rare_rows(runs["tiger"], config)
    return {"tied_unseen": sign_agreement(runs["tied_tiger"].embedding[unseen]),
            "n_unseen": int(unseen.sum()),
            "tiger_rare": sign_agreement(runs["tiger"].embedding[rare]), "n_rare": int(rare.sum())}


def output_weights(run: EmbeddingRun) -> np.ndarray:
    """[vocab, n] the weights that score each character in the output layer: the output kernel's
    column per character (transposed), or for tied embeddings the embedding row itself."""
    vocab = len(run.frequency)
    for path, w in run.others.items():
        if path.endswith("kernel") and w.ndim == 2 and w.shape[1] == vocab:
            return w.T
    return run.embedding  # tied: logits = h E^T + b


def _output_bias(run: EmbeddingRun) -> np.ndarray:
    vocab = len(run.frequency)
    return next(w for path, w in run.others.items()
                if path.endswith("bias") and w.shape == (vocab,))


def summarize(runs: dict, config: ExperimentConfig) -> list[dict]:
    """One row per variant: losses and where the embedding rows ended up.

    Keys: variant, train_loss (mean of the last 100 steps), test_loss, emb_max, emb_min,
    rare (number of ``rare_rows``), rare_absent (``rare_absence(config)``), rare_pinned
    (fraction of them with max |row| > 0.5/lambda), rare_at_fixed_point (fraction of them with
    every entry within 1e-3 of +-1/lambda), rare_median (of their max |row|), frequent_median
    (ids seen >= 100 times), unseen_median and unseen_max (of the ids never seen), other_pinned
    (fraction of all other weights with |w| > 0.5/lambda), rare_output_pinned (fraction of the
    rare characters' ``output_weights`` with |w| > 0.5/lambda) and output_bias_min (the
    smallest bias of the output layer). A share, median or maximum over no ids at all (e.g. no
    rare rows at a setting) is None, never NaN.
    """
    half, star = 0.5 / config.weight_decay, 1.0 / config.weight_decay
    out = []
    for name, run in runs.items():
        rare, m = rare_rows(run, config), run.max_abs
        frequent = run.frequency >= 100
        unseen = run.frequency == 0
        unseen[: UNK + 1] = False
        other = np.concatenate([np.abs(w).ravel() for w in run.others.values()])
        exact = np.all(np.abs(np.abs(run.embedding[rare]) - star) <= 1e-3 * star, axis=1)
        out.append({
            "variant": name,
            "train_loss": float(run.loss[-100:].mean()),
            "test_loss": run.test_loss,
            "emb_max": float(run.embedding.max()),
            "emb_min": float(run.embedding.min()),
            "rare": int(rare.sum()),
            "rare_absent": rare_absence(config),
            "rare_pinned": _mean(m[rare] > half),
            "rare_at_fixed_point": _mean(exact),
            "rare_median": _median(m[rare]),
            "frequent_median": _median(m[frequent]),
            "unseen_median": _median(m[unseen]),
            "unseen_max": float(m[unseen].max()) if unseen.any() else None,
            "other_pinned": float(np.mean(other > half)),
            "rare_output_pinned": _mean(np.abs(output_weights(run)[rare]) > half),
            "output_bias_min": float(_output_bias(run).min()),
        })
    return out


def _mean(values) -> float | None:
    """Mean of a non-empty array as a float; None for an empty one (no NaN, no warning)."""
    values = np.asarray(values)
    return float(np.mean(values)) if values.size else None


def _median(values) -> float | None:
    values = np.asarray(values)
    return float(np.median(values)) if values.size else None


def remedy_verdicts(rows: list[dict], baseline: str = "tiger", tolerance: float = 0.05) -> dict:
    """A one-line verdict per remedy from ``summarize`` rows, for the embedding *and* the
    output layer.

    The embedding drift is "fixed" when at most 5 % of the remedy's rare rows pass 0.5/lambda
    while more than 5 % of the ``baseline``'s (default "tiger") do; when the baseline's rare rows
    do not drift that far either, there is "nothing to fix at this setting"; with no rare rows
    at all the line says so. The output layer is "still pinned" when at least half of the rare
    characters' output weights pass 0.5/lambda; the loss is "on par" when the test loss is
    within ``tolerance`` nats (default 0.05) of the baseline's. The lines quote this run's
    numbers (they vary by machine; the notebook's claim check states the bands).
    """
    table = {r["variant"]: r for r in rows}
    if baseline not in table:
        raise ValueError(f"baseline must be one of {sorted(table)}, got {baseline!r}")
    base = table[baseline]
    out = {}
    for name in REMEDIES:
        if name not in table:
            continue
        r = table[name]
        delta = r["test_loss"] - base["test_loss"]
        cost = "on par with" if abs(delta) <= tolerance else ("worse than" if delta > 0 else
                                                               "better than")
        loss = f"test loss {r['test_loss']:.3f}, {cost} {baseline} ({base['test_loss']:.3f})"
        if r["rare_pinned"] is None or base["rare_pinned"] is None:
            out[name] = f"no rare rows at this setting; {loss}"
            continue
        if base["rare_pinned"] <= 0.05:
            verdict = "nothing to fix at this setting"
        else:
            verdict = "fixed" if r["rare_pinned"] <= 0.05 else "NOT fixed"
        pinned_out = r["rare_output_pinned"] >= 0.5
        out[name] = (
            f"embedding: {verdict} ({r['rare_pinned']:.0%} of rare rows past 0.5/lambda, "
            f"{baseline}: {base['rare_pinned']:.0%}); output layer: "
            f"{'still pinned' if pinned_out else 'not pinned'} ({r['rare_output_pinned']:.0%} "
            f"of the rare characters' output weights past 0.5/lambda, {baseline}: "
            f"{base['rare_output_pinned']:.0%}); {loss}")
    return out


def unigram_test_loss(config: ExperimentConfig | None = None) -> float:
    """Cross-entropy (nats) on every held-out target of a unigram model fitted on every training
    target: the loss of a model that ignores the context. Float64, no sampling, so it does not
    depend on the seed.

    Args:
        config: only ``vocab_size`` and ``context`` matter (default: the notebook's).
    """
    cfg = config or ExperimentConfig()
    vocab, train_ids, test_ids = character_streams(cfg.vocab_size, cfg.context)
    train_targets = train_ids[cfg.context:][train_ids[cfg.context:] != PAD]
    test_targets = test_ids[cfg.context:][test_ids[cfg.context:] != PAD]
    p = np.bincount(train_targets, minlength=len(vocab)) / len(train_targets)
    return float(-np.mean(np.log(p[test_targets])))


def smooth(values, window: int = 50) -> np.ndarray:
    """Trailing moving average [len(values) - window + 1] (for loss curves).

    Args:
        values: a 1-D sequence.
        window: an int in [1, len(values)] (default 50).
    """
    values = np.asarray(values, dtype=np.float64)
    window = integer("window", window, high=len(values))
    csum = np.concatenate([[0.0], np.cumsum(values)])
    return (csum[window:] - csum[:-window]) / window
