"""Lesson 05's benchmark: one BERT-style tagger trained under several precision/XLA settings.

Modules, lowest first: ``configs`` (the configurations, sizes and the post's numbers),
``workload`` (the tagger and its batch), ``schema`` (the result JSON, its checks and the stored
files), ``child`` (the subprocess that trains and times), ``parent`` (``run_benchmark``: the
children, interleaved ABAB) and ``compare`` (rows, the post's numbers beside ours, mismatches).
"""

from lessons.fp16_xla.bench.compare import (
    REFERENCE_CPU,
    config_mismatches,
    post_comparison,
    reference_results,
    speedup_matrix,
    speedup_rows,
    speedup_spreads,
)
from lessons.fp16_xla.bench.configs import (
    CONFIGS,
    CPU_AUTOJIT_FLAG,
    MAIN_CONFIGS,
    POST_3090,
    SIZES,
    Config,
    Size,
    expected_checks,
    resolve_policy,
    size_of,
    train_flops,
)
from lessons.fp16_xla.bench.parent import (
    child_env,
    child_spec,
    live_benchmark,
    process_groups,
    run_benchmark,
)
from lessons.fp16_xla.bench.schema import (
    RESULT_SCHEMA,
    RESULTS_DIR,
    SCHEMA_ID,
    list_results,
    load_result,
    result_filename,
    save_result,
    stored_results,
    validate_result,
)
from lessons.fp16_xla.bench.workload import (
    build_tagger,
    counted_flops,
    make_batch,
    model_attention_layers,
)

__all__ = [
    "CONFIGS", "CPU_AUTOJIT_FLAG", "MAIN_CONFIGS", "POST_3090", "REFERENCE_CPU", "RESULTS_DIR",
    "RESULT_SCHEMA", "SCHEMA_ID", "SIZES", "Config", "Size", "build_tagger", "child_env",
    "child_spec", "config_mismatches", "counted_flops", "expected_checks", "list_results",
    "live_benchmark", "load_result", "make_batch", "model_attention_layers", "post_comparison",
    "process_groups", "reference_results", "resolve_policy", "result_filename",
    "run_benchmark", "save_result", "size_of", "speedup_matrix", "speedup_rows", "speedup_spreads",
    "stored_results", "train_flops", "validate_result",
]
