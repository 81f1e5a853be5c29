"""Lesson 03: a linear-chain CRF on People's Daily word segmentation, and its learning rate.

Post: https://kexue.fm/archives/7196. A tagger scores each character (emissions); the CRF adds
a learnt tag-to-tag transition score and decodes with Viterbi. When the encoder fits the
emissions fast, transitions trained at the body's learning rate barely move; the bert4keras fix
is a larger learning rate for the CRF alone (``lr_multiplier``).

Modules, lowest first (each imports only those above it):

- ``layer``: the ``CRF`` Keras layer (forward algorithm, Viterbi) and ``bmes_constraints``;
- ``scoring``: ``word_spans``, ``word_scores`` (word F1), ``transition_order``;
- ``tagger``: ``Tagger``, ``RunConfig``, ``prepare_data``, ``train_run`` (one seeded run);
- ``experiments``: what the notebook runs live: ``tiny_crf`` (for the from-scratch cells),
  ``path_probabilities``, ``multiplier_steps``, ``train_now``; ``sweep``: the stored sweep (``python -m lessons.crf sweep``) and its tables;
- ``claims``: ``check_claims``, what the notebook says about the live results, with bands;
- ``views``: ``format_*`` text, ``plot_*`` figures, ``sweep_explorer`` and ``train_panel``.
"""

from lessons.crf.claims import (
    CLAIMS,
    LIVE_BANDS,
    check_claims,
    live_claims,
    path_claims,
    step_claims,
)
from lessons.crf.experiments import (
    live_summary,
    multiplier_step_ratio,
    multiplier_steps,
    path_probabilities,
    tiny_crf,
    train_now,
)
from lessons.crf.layer import CRF, bmes_constraints
from lessons.crf.scoring import transition_order, word_scores, word_spans
from lessons.crf.sweep import (
    POST,
    POST_TABLE,
    POST_TRANSITIONS,
    SWEEP_NAME,
    SWEEP_PATH,
    TIE,
    find_run,
    grid_values,
    load_sweep,
    multiplier_effect,
    multiplier_table,
    post_table,
    run_sweep,
    sweep_configs,
    transition_comparison,
    verdict,
)
from lessons.crf.tagger import (
    RunConfig,
    Tagger,
    batch_progress,
    build_tagger,
    crf_weights,
    evaluate,
    prepare_data,
    sample_sentence,
    train_run,
)
from lessons.crf.views import (
    TrainPanel,
    format_data_summary,
    format_live,
    format_multiplier_steps,
    format_multiplier_table,
    format_multiplier_tables,
    format_path_probabilities,
    format_post_table,
    format_post_tables,
    format_sweep_summary,
    format_tagged,
    format_transition_order,
    plot_multiplier_effect,
    plot_transition_comparison,
    segment_html,
    segment_text,
    sweep_explorer,
    train_panel,
)

__all__ = [
    "CLAIMS", "CRF", "LIVE_BANDS", "POST", "POST_TABLE", "POST_TRANSITIONS", "SWEEP_NAME",
    "SWEEP_PATH", "TIE",
    "RunConfig", "Tagger", "TrainPanel", "batch_progress", "bmes_constraints", "build_tagger",
    "check_claims", "crf_weights", "evaluate", "find_run", "format_data_summary", "format_live",
    "format_multiplier_steps", "format_multiplier_table", "format_multiplier_tables",
    "format_path_probabilities", "format_post_table", "format_post_tables",
    "format_sweep_summary", "format_tagged", "format_transition_order", "grid_values",
    "live_claims", "live_summary", "load_sweep", "multiplier_effect", "multiplier_step_ratio",
    "multiplier_steps", "multiplier_table", "path_claims", "path_probabilities",
    "plot_multiplier_effect", "plot_transition_comparison", "post_table", "prepare_data",
    "run_sweep", "sample_sentence", "segment_html", "segment_text", "step_claims",
    "sweep_configs", "sweep_explorer", "tiny_crf", "train_now", "train_panel", "train_run",
    "transition_comparison", "transition_order", "verdict", "word_scores", "word_spans",
]
