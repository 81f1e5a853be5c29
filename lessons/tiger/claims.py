"""Lesson 04's claim checks: each statement the notebook makes about a run, as a ``Claim`` with a
band, checked by ``lessons._core.claims.check`` (one stable ``holds:`` line per claim; a
``ClaimFailed`` naming the claim and the measured value when one does not hold).

Bands come from 15 runs of the notebook's experiment: seeds 0, 1, 2 x {native (AVX-512),
ONEDNN_MAX_CPU_ISA=AVX2, ONEDNN_MAX_CPU_ISA=SSE41 with TF_NUM_INTRAOP_THREADS=1, the same two with
XLA_FLAGS=--xla_cpu_max_isa=AVX2 resp. SSE4_2 (ONEDNN_MAX_CPU_ISA alone does not reach the
XLA-compiled training loop)}. The spread (min .. max over the 15 runs) of each quantity is in the
comment beside its claim; the seed moves the numbers far more than the CPU does.
"""

from __future__ import annotations

import numpy as np

from lessons._core.claims import Claim, check
from lessons.tiger.analysis import closed_form, steps_until_momentum_underflow
from lessons.tiger.experiments import ABSENT_GRADIENT, ExperimentConfig
from lessons.tiger.metrics import INIT_BOUND, REMEDIES, once_seen_band

__all__ = [
    "absent_token_claims", "check_absent_token", "check_once_seen", "check_released",
    "check_remedies", "check_sign_agreement", "check_summary", "once_seen_claims",
    "released_claims", "remedy_claims", "sign_agreement_claims", "summary_claims",
]


def absent_token_claims(paths: dict, learning_rate: float = 0.003, weight_decay: float = 1.0,
                        gradient=ABSENT_GRADIENT, beta: float = 0.965) -> list[Claim]:
    """Claims about ``absent_token_trajectory`` runs {"tiger", "lion", "adamw": [steps+1, dim]}
    (section 2 of the notebook): Tiger and Lion follow the constant-sign closed form, the tiny
    component keeps pace until its momentum underflows, AdamW's extra movement dies out."""
    gradient = np.asarray(gradient, dtype=np.float64)
    steps = len(paths["tiger"])
    expected = closed_form(0.0, learning_rate, weight_decay, np.sign(gradient), steps)
    big = np.abs(gradient) >= 1e-3
    tiny = int(np.argmin(np.abs(gradient)))
    m_tiny = np.float32(1 - beta) * np.float32(gradient[tiny])
    n = steps_until_momentum_underflow(m_tiny, beta) or steps
    claims = []
    for name in ("tiger", "lion"):
        err = np.abs(paths[name] - expected)
        worst = max(float(err[:, big].max()), float(err[: n - 1, tiny].max()))
        # spread: identical on every CPU setting (elementwise float32 ops); well below 1e-5
        claims.append(Claim(f"{name}: the absent row follows the closed form while sign(m) is "
                            "constant (max deviation)", worst, at_most=1e-4, digits=5))
    tiger_path = paths["tiger"]
    lag = abs(abs(tiger_path[n - 1, tiny]) - abs(tiger_path[n - 1, big].max()))
    # spread: 0 .. 0 (every component moves by exactly lr per step, whatever its size)
    claims.append(Claim(f"tiger: the {gradient[tiny]:g} component keeps pace with the others "
                        f"until its momentum underflows at step {n} (gap)", lag, at_most=1e-4,
                        digits=5))
    adam = np.abs(paths["adamw"]).max(axis=1)
    # spread: 0.28 % .. 0.28 %
    claims.append(Claim(f"adamw: |row| after {steps - 1} absent steps, as a share of its peak",
                        adam[-1] / adam.max(), at_most=0.05, unit="%"))
    return claims


def check_absent_token(paths: dict, **kwargs) -> None:
    """``lessons._core.claims.check(absent_token_claims(paths, **kwargs))``."""
    check(absent_token_claims(paths, **kwargs))


def _table(rows: list[dict], needed) -> dict:
    """{variant: row}, with None (a share over no rows) as NaN, so such a claim fails."""
    table = {r["variant"]: {k: float("nan") if v is None else v for k, v in r.items()}
             for r in rows}
    missing = [n for n in needed if n not in table]
    if missing:
        raise ValueError(f"rows must hold the variants {list(needed)}; missing {missing}")
    return table


def summary_claims(rows: list[dict], config: ExperimentConfig, unigram: float) -> list[Claim]:
    """Claims about the Tiger / Lion / AdamW rows of ``summarize`` (the notebook's table and its
    observations 1-6). ``unigram``: ``unigram_test_loss(config)``."""
    t = _table(rows, ("tiger", "lion", "adamw"))
    bound = float(once_seen_band(config.steps, config)[1])
    claims = []
    for name in ("tiger", "lion"):
        r = t[name]
        # spread: 100 % .. 100 % (both)
        claims.append(Claim(f"{name}: rare rows past 0.5/lambda", r["rare_pinned"],
                            at_least=0.9, unit="%"))
        reach = max(r["emb_max"], -r["emb_min"])
        # spread: -0.0007 .. -0.0002 (tiger), -0.0008 .. -0.0004 (lion)
        claims.append(Claim(f"{name}: largest |embedding entry| minus the closed-form bound "
                            f"{bound:.3f}", reach - bound, at_most=1e-4, digits=4))
        far = max(abs(r["emb_max"] - bound), abs(-r["emb_min"] - bound))
        # spread: 0.0007 .. 0.0012 (tiger), 0.0006 .. 0.0015 (lion)
        claims.append(Claim(f"{name}: embedding max and -min, distance to that bound", far,
                            at_most=0.005, digits=4))
        # spread: 0 % .. 0 % (both)
        claims.append(Claim(f"{name}: rare rows with every entry within 0.1 % of 1/lambda",
                            r["rare_at_fixed_point"], at_most=0.0, unit="%"))
        # spread: 0.64 .. 0.70 (tiger), 0.66 .. 0.77 (lion)
        claims.append(Claim(f"{name}: test loss below the unigram model's {unigram:.2f} by",
                            unigram - r["test_loss"], at_least=0.4))
        # spread: 0.40 .. 0.41 (tiger), 0.43 .. 0.46 (lion)
        claims.append(Claim(f"{name}: test loss below AdamW's by", t["adamw"]["test_loss"]
                            - r["test_loss"], at_least=0.2))
    # spread: 0 % .. 0 %
    claims.append(Claim("adamw: rare rows past 0.5/lambda", t["adamw"]["rare_pinned"],
                        at_most=0.05, unit="%"))
    decayed = INIT_BOUND * (1 - config.learning_rate * config.weight_decay) ** config.steps
    # spread: 0.9964 .. 0.9999 (seeds 0-4; elementwise decay of an entry < 0.05, CPU-independent)
    claims.append(Claim(f"tiger: never-seen rows, largest |entry| / (0.05 (1 - lr lambda)^steps "
                        f"= {decayed:.4f})", t["tiger"]["unseen_max"] / decayed, at_most=1.001,
                        unit="x", digits=3))
    # spread: 29.8 % .. 33.1 %; 54.7 % .. 62.5 %
    claims.append(Claim("tiger: other weights past 0.5/lambda", t["tiger"]["other_pinned"],
                        at_least=0.2, unit="%"))
    claims.append(Claim("tiger: rare characters' output weights past 0.5/lambda",
                        t["tiger"]["rare_output_pinned"], at_least=0.4, unit="%"))
    return claims


def check_summary(rows: list[dict], config: ExperimentConfig, unigram: float) -> None:
    """``lessons._core.claims.check(summary_claims(rows, config, unigram))``."""
    check(summary_claims(rows, config, unigram))


def once_seen_claims(check_result: dict) -> list[Claim]:
    """Claims about ``once_seen_check`` of the Tiger run: every character seen once lies in the
    closed-form band, and there are enough of them to mean something."""
    inside = np.asarray(check_result["inside"])
    return [
        # spread: 139 .. 170 characters
        Claim("tiger: characters seen exactly once", len(inside), at_least=100, digits=0),
        # spread: 100 % .. 100 %
        Claim("tiger: of them, inside the closed-form band", float(inside.mean()) if len(inside)
              else float("nan"), at_least=1.0, unit="%"),
    ]


def check_once_seen(check_result: dict) -> None:
    """``lessons._core.claims.check(once_seen_claims(check_result))``."""
    check(once_seen_claims(check_result))


def released_claims(rows: list[dict], config: ExperimentConfig, once: dict,
                    unigram: float) -> list[Claim]:
    """Claims about the ``released_tiger`` row of ``summarize`` and its ``released_once_seen``
    result ``once``: what the released rule does to rare rows, the output layer and the loss."""
    t = _table(rows, ("tiger", "released_tiger"))
    r, star = t["released_tiger"], 1.0 / config.weight_decay
    gap = star - min(r["emb_max"], -r["emb_min"])
    drift = 0.5 * config.released_learning_rate * config.steps
    return [
        # spread: 6.0e-6 .. 7.5e-6
        Claim("released: embedding max and min, distance to +-1/lambda", gap, at_least=0.0,
              at_most=1e-4, digits=5),
        # spread: 99.0 % .. 99.7 %
        Claim("released: rare rows past 0.5/lambda", r["rare_pinned"], at_least=0.9, unit="%"),
        # spread: 28.7 % .. 34.8 % ("about a third")
        Claim("released: rare rows with every entry within 0.1 % of 1/lambda",
              r["rare_at_fixed_point"], at_least=0.2, at_most=0.5, unit="%"),
        # spread: 23 .. 40 characters (611 updates); 100 % .. 100 % (the latest once-seen
        # character not yet there was seen 578 updates before the end)
        Claim(f"released: characters seen once >= {once['n_updates']} updates before the end",
              once["count"], at_least=10, digits=0),
        Claim("released: of them, every entry within 0.1 % of 1/lambda",
              float("nan") if once["at_fixed_point"] is None else once["at_fixed_point"],
              at_least=1.0, unit="%"),
        # spread: 3.6 % .. 5.4 %
        Claim("released: rare characters' output weights past 0.5/lambda",
              r["rare_output_pinned"], at_most=0.15, unit="%"),
        # spread: 1.00001 .. 1.00001 (a rare class's bias falls by 0.5 lr every step, no decay)
        Claim(f"released: lowest output bias / (-0.5 lr x steps = {-drift:g})",
              r["output_bias_min"] / -drift, at_least=0.98, at_most=1.02, unit="x"),
        # spread: 0.33 .. 0.48
        Claim(f"released: test loss below the unigram model's {unigram:.2f} by",
              unigram - r["test_loss"], at_least=0.2),
        # spread: 0.23 .. 0.31
        Claim("released: test loss above Tiger's (eq. 1) by", r["test_loss"]
              - t["tiger"]["test_loss"], at_least=0.1),
    ]


def check_released(rows: list[dict], config: ExperimentConfig, once: dict,
                   unigram: float) -> None:
    """``lessons._core.claims.check(released_claims(rows, config, once, unigram))``."""
    check(released_claims(rows, config, once, unigram))


def remedy_claims(rows: list[dict], config: ExperimentConfig) -> list[Claim]:
    """Claims behind the remedy verdicts: which remedy keeps rare embedding rows in place, what
    happens to the output layer's rare columns, and the loss it costs."""
    t = _table(rows, ("tiger", *REMEDIES))
    base = t["tiger"]
    claims = []
    for name in ("lazy_tiger", "mixed"):
        r = t[name]
        # spread: 0 % .. 0 % (both)
        claims.append(Claim(f"{name}: rare embedding rows past 0.5/lambda", r["rare_pinned"],
                            at_most=0.05, unit="%"))
        # spread: 65.0 % .. 73.9 % (lazy), 70.9 % .. 73.3 % (mixed)
        claims.append(Claim(f"{name}: rare characters' output weights past 0.5/lambda",
                            r["rare_output_pinned"], at_least=0.5, unit="%"))
        # spread: +5.2 .. +15.5 points (lazy), +8.4 .. +18.6 points (mixed)
        claims.append(Claim(f"{name}: that share minus Tiger's (percentage points)",
                            r["rare_output_pinned"] - base["rare_output_pinned"], at_least=0.0,
                            unit="%"))
    # spread: 100 % .. 100 %
    claims.append(Claim("tied_tiger: rare embedding rows past 0.5/lambda",
                        t["tied_tiger"]["rare_pinned"], at_least=0.9, unit="%"))
    # spread: 0.908 .. 0.911 (x 1/lambda)
    claims.append(Claim("tied_tiger: never-seen rows, median max|entry| x lambda",
                        t["tied_tiger"]["unseen_median"] * config.weight_decay, at_least=0.5))
    delta = {n: t[n]["test_loss"] - base["test_loss"] for n in REMEDIES}
    # spread: -0.034 .. +0.015 (lazy), +0.032 .. +0.081 (mixed), +0.234 .. +0.248 (tied)
    claims.append(Claim("lazy_tiger: test loss minus Tiger's", delta["lazy_tiger"],
                        at_least=-0.05, at_most=0.05))
    claims.append(Claim("mixed: test loss minus Tiger's", delta["mixed"], at_least=0.0,
                        at_most=0.12))
    claims.append(Claim("tied_tiger: test loss minus Tiger's", delta["tied_tiger"],
                        at_least=0.15))
    return claims


def check_remedies(rows: list[dict], config: ExperimentConfig) -> None:
    """``lessons._core.claims.check(remedy_claims(rows, config))``."""
    check(remedy_claims(rows, config))


def sign_agreement_claims(agreement: dict) -> list[Claim]:
    """Never-seen rows under tied Tiger share one corner; rare rows under Tiger do not."""
    return [
        # spread: 98.4 % .. 100 %
        Claim("tied_tiger: sign agreement of never-seen rows", agreement["tied_unseen"],
              at_least=0.9, unit="%"),
        # spread: 52.3 % .. 53.3 %
        Claim("tiger: sign agreement of rare rows (random would be about 50 %)",
              agreement["tiger_rare"], at_least=0.45, at_most=0.6, unit="%"),
    ]


def check_sign_agreement(agreement: dict) -> None:
    """``lessons._core.claims.check(sign_agreement_claims(agreement))``."""
    check(sign_agreement_claims(agreement))
