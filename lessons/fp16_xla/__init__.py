"""Lesson 05: mixed precision and XLA, measured (kexue.fm/archives/9059).

Modules, lowest first (each imports only those above it):

- ``analysis``: the range of FP16, BF16 and FP32 from their bit layouts, what a value becomes
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

from lessons.fp16_xla import analysis, claims, loss_scaling, scale_rule, tables, views
from lessons.fp16_xla.analysis import *  # noqa: F403
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
from lessons.fp16_xla.claims import *  # noqa: F403
from lessons.fp16_xla.loss_scaling import *  # noqa: F403
from lessons.fp16_xla.scale_rule import *  # noqa: F403
from lessons.fp16_xla.tables import *  # noqa: F403
from lessons.fp16_xla.views import *  # noqa: F403

# the lesson exports exactly the names each submodule lists in its __all__
__all__ = [
    *claims.__all__, *analysis.__all__, *loss_scaling.__all__, *scale_rule.__all__, *tables.__all__,
    *views.__all__,
    # ``bench.__all__`` is the benchmark package's own, wider API: the lesson re-exports the part
    # imported above
    "CONFIGS", "MAIN_CONFIGS", "POST_3090", "REFERENCE_CPU", "SIZES", "config_mismatches",
    "expected_checks", "list_results", "live_benchmark", "load_result", "post_comparison",
    "reference_results", "run_benchmark", "save_result", "speedup_matrix", "speedup_rows",
    "speedup_spreads", "stored_results", "validate_result",
]
