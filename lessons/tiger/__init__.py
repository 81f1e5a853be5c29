"""Lesson 04: Tiger's weight-decay fixed point and the +-1/lambda embeddings (kexue.fm/archives/9736).

The post's eq. (1): ``m = beta m + (1 - beta) g`` and ``theta -= lr (sign(m) + lambda theta)``. A
token that is absent from the batch has ``g = 0`` but its momentum only decays, so ``sign(m)`` stays
+-1 until ``m`` underflows to zero; with a constant sign the iteration converges geometrically, at
rate ``1 - lr lambda`` per step, to the fixed point ``theta* = -sign(m) / lambda``. The Tiger the
author released (github.com/bojone/tiger, ``tiger.py``) scales the step by the RMS of each embedding
row (of each other tensor): same fixed point, reached along a logistic curve at rate ``lr``.

Modules: ``optimizer`` (``Tiger``, eq. (1), only), ``released`` (``ReleasedTiger``, the port of
``tiger.py``, only), ``analysis`` (fixed point, closed form, momentum underflow, the released
rule's logistic drift; float64 NumPy), ``experiment`` (one absent row under the real optimizers;
the next-character model on People's Daily), ``metrics`` (rare rows, once-seen band, summary,
verdicts, unigram loss), ``claims`` (the lesson's claim checks) and ``views`` (tables, figures,
the fixed-point explorer).
"""

from lessons.tiger.analysis import (
    DTYPES,
    closed_form,
    drift_comparison,
    explorer_data,
    fixed_point,
    logistic_form,
    released_row_simulate,
    released_steps_to_fraction,
    simulate,
    steps_to_fraction,
    steps_until_momentum_underflow,
)
from lessons.tiger.claims import (
    absent_token_claims,
    check_absent_token,
    check_once_seen,
    check_released,
    check_remedies,
    check_sign_agreement,
    check_summary,
    once_seen_claims,
    released_claims,
    remedy_claims,
    sign_agreement_claims,
    summary_claims,
)
from lessons.tiger.experiment import (
    ABSENT_GRADIENT,
    VARIANTS,
    EmbeddingRun,
    ExperimentConfig,
    TiedLogits,
    absent_token_paths,
    absent_token_trajectory,
    character_streams,
    embedding_experiment,
    released_step,
)
from lessons.tiger.metrics import (
    INIT_BOUND,
    REMEDIES,
    once_seen_band,
    once_seen_check,
    output_weights,
    rare_absence,
    rare_rows,
    released_once_seen,
    remedy_verdicts,
    sign_agreement,
    sign_agreements,
    smooth,
    summarize,
    unigram_test_loss,
)
from lessons.tiger.optimizer import Tiger
from lessons.tiger.released import ReleasedTiger, piecewise_linear, released_variable_kind
from lessons.tiger.views import (
    fixed_point_explorer,
    format_absent_token,
    format_baselines,
    format_closed_form_check,
    format_drift_comparison,
    format_released_once_seen,
    format_remedy_verdicts,
    format_sign_agreements,
    format_steps_to_fraction,
    format_summary,
    format_underflow_steps,
    plot_absent_token,
    plot_drift_comparison,
    plot_explorer,
    plot_loss_curves,
    plot_max_abs_vs_frequency,
    plot_once_seen,
)

__all__ = [
    "ABSENT_GRADIENT", "DTYPES", "INIT_BOUND", "REMEDIES", "VARIANTS", "EmbeddingRun",
    "ExperimentConfig", "ReleasedTiger", "TiedLogits", "Tiger", "absent_token_claims",
    "absent_token_paths", "absent_token_trajectory", "character_streams", "check_absent_token",
    "check_once_seen", "check_released", "check_remedies", "check_sign_agreement",
    "check_summary", "closed_form", "drift_comparison", "embedding_experiment", "explorer_data",
    "fixed_point", "fixed_point_explorer", "format_absent_token", "format_baselines",
    "format_closed_form_check", "format_drift_comparison", "format_released_once_seen",
    "format_remedy_verdicts", "format_sign_agreements", "format_steps_to_fraction",
    "format_summary", "format_underflow_steps", "logistic_form", "once_seen_band",
    "once_seen_check", "once_seen_claims", "output_weights", "piecewise_linear",
    "plot_absent_token", "plot_drift_comparison", "plot_explorer", "plot_loss_curves",
    "plot_max_abs_vs_frequency", "plot_once_seen", "rare_absence", "rare_rows",
    "released_claims", "released_once_seen", "released_row_simulate", "released_step",
    "released_steps_to_fraction", "released_variable_kind", "remedy_claims", "remedy_verdicts", "sign_agreement",
    "sign_agreement_claims", "sign_agreements", "simulate", "smooth", "steps_to_fraction",
    "steps_until_momentum_underflow", "summarize", "summary_claims", "unigram_test_loss",
]
