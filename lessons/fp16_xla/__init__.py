"""Lesson 05: mixed precision and XLA, measured (kexue.fm/archives/9059).

Modules, lowest first (each imports only those above it):

- ``formats``: the range of FP16, BF16 and FP32 from their bit layouts, what a value becomes
  after rounding to a format, and why a mask "infinity" of 1e12 and Keras's epsilon 1e-7 break
  FP16 (float64 NumPy: the same on every machine);
- ``loss_scaling``: ``scaled_gradients`` (the loss-scaling step), a DeepNet-style down-scaled
  MLP whose gradients sit below 1e-8, the share of them that FP16 flushes to zero under static
  scales and under Keras's dynamic ``LossScaleOptimizer``, and Adam's invariance to a constant
  scale (up to its epsilon);
- ``scale_rule``: ``keras_scale_trajectory``, the scales Keras's ``LossScaleOptimizer`` uses for
  a chosen sequence of finite and overflowing steps (its halve/double rule);
- ``bench``: the benchmark: FP32, mixed precision, XLA and both, each in a fresh subprocess,
  timed in interleaved rounds (ABAB), its result schema and the stored results
  (``python -m lessons.fp16_xla benchmark --help``);
- ``claims``: ``check_*_claims``, what the notebook says about each result, as bands;
- ``tables`` (text) and ``views`` (figures, the benchmark explorer).

Every experiment takes ``seed=None`` and then uses the course seed (``lessons.setup(seed)``).
"""

from lessons.fp16_xla.bench import (
    CONFIGS,
    MAIN_CONFIGS,
    POST_3090,
    REFERENCE_CPU,
    SIZES,
    config_mismatches,
    expected_checks,
    list_results,
    live_benchmark,
    load_result,
    post_comparison,
    reference_results,
    run_benchmark,
    save_result,
    speedup_matrix,
    speedup_rows,
    speedup_spreads,
    stored_results,
    validate_result,
)
from lessons.fp16_xla.claims import (
    adam_claims,
    check_adam_claims,
    check_gradient_claims,
    check_live_claims,
    check_output_kernel_claims,
    check_scaling_claims,
    check_verdict_claims,
    gradient_claims,
    live_claims,
    output_kernel_claims,
    scaling_claims,
    verdict_claims,
)
from lessons.fp16_xla.formats import (
    FORMATS,
    FloatFormat,
    cast,
    constant_report,
    format_limits,
    masked_logits_nan_share,
    min_scale_to_keep,
    precision_table,
    underflow_threshold,
)
from lessons.fp16_xla.loss_scaling import (
    adam_first_step,
    adam_scale_gap,
    adam_scale_study,
    dynamic_loss_scale,
    dynamic_loss_scale_runs,
    gradient_magnitudes,
    scaled_gradients,
    scaled_mlp,
    scaling_problem,
    static_scale_sweep,
    zeros_by_variable,
)
from lessons.fp16_xla.scale_rule import keras_scale_trajectory
from lessons.fp16_xla.tables import (
    check_rows,
    format_adam_first_steps,
    format_adam_gaps,
    format_checks,
    format_constant_report,
    format_gradient_magnitudes,
    format_mask_and_epsilon,
    format_output_kernel,
    format_post_comparison,
    format_precision_table,
    format_stored,
    format_table,
    scaling_table,
)
from lessons.fp16_xla.views import (
    benchmark_explorer,
    plot_gradient_histogram,
    plot_speedups,
    plot_zero_share,
)

__all__ = [
    "CONFIGS", "FORMATS", "MAIN_CONFIGS", "POST_3090", "REFERENCE_CPU", "SIZES", "FloatFormat",
    "adam_claims", "adam_first_step", "adam_scale_gap", "adam_scale_study", "benchmark_explorer",
    "cast", "check_adam_claims", "check_gradient_claims", "check_live_claims",
    "check_output_kernel_claims", "check_rows", "check_scaling_claims", "check_verdict_claims",
    "config_mismatches", "constant_report", "dynamic_loss_scale", "dynamic_loss_scale_runs",
    "expected_checks", "format_adam_first_steps", "format_adam_gaps", "format_checks",
    "format_constant_report", "format_gradient_magnitudes", "format_limits",
    "format_mask_and_epsilon", "format_output_kernel", "format_post_comparison",
    "format_precision_table", "format_stored", "format_table", "gradient_claims",
    "gradient_magnitudes", "keras_scale_trajectory", "list_results", "live_benchmark",
    "live_claims", "load_result", "masked_logits_nan_share", "min_scale_to_keep",
    "output_kernel_claims", "plot_gradient_histogram", "plot_speedups", "plot_zero_share",
    "post_comparison", "precision_table", "reference_results", "run_benchmark", "save_result",
    "scaled_gradients", "scaled_mlp", "scaling_claims", "scaling_problem", "scaling_table",
    "speedup_matrix", "speedup_rows", "speedup_spreads", "static_scale_sweep", "stored_results",
    "underflow_threshold", "validate_result", "verdict_claims", "zeros_by_variable",
]
