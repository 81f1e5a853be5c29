"""What the benchmark runs: the configurations (precision x XLA route), the workload sizes, the
post's RTX 3090 numbers, and what each configuration must report about itself.

Plain data and arithmetic: no TensorFlow, so the parent process and the notebook import it freely.
"""

from __future__ import annotations

from dataclasses import dataclass

from lessons._core.checks import one_of

__all__ = ["CONFIGS", "CPU_AUTOJIT_FLAG", "MAIN_CONFIGS", "POST_3090", "SIZES", "Config", "Size",
           "expected_checks", "resolve_policy", "size_of", "train_flops"]


@dataclass(frozen=True)
class Config:
    """One benchmark configuration.

    Args:
        name: short name used on the command line.
        precision: "float32", "mixed" (mixed_float16 + LossScaleOptimizer on a GPU,
            mixed_bfloat16 on a CPU) or "float16" (mixed_float16 + LossScaleOptimizer anywhere).
        jit_compile: passed to ``model.compile`` (Keras's XLA switch).
        tf_xla_flags: ``TF_XLA_FLAGS`` for the subprocess (the post's auto-clustering route),
            or "" for none.
        description: one line for tables.
    """

    name: str
    precision: str
    jit_compile: bool
    tf_xla_flags: str
    description: str


CONFIGS = {c.name: c for c in (
    Config("fp32", "float32", False, "", "FP32 baseline"),
    Config("mixed", "mixed", False, "", "mixed precision (bf16 on CPU, fp16 on GPU)"),
    Config("xla", "float32", True, "", "FP32 + jit_compile=True"),
    Config("mixed+xla", "mixed", True, "", "mixed precision + jit_compile=True"),
    Config("fp16", "float16", False, "", "mixed_float16 + LossScaleOptimizer"),
    Config("autojit", "float32", False, "--tf_xla_auto_jit=1",
           "TF_XLA_FLAGS auto-clustering (the post's first try)"),
    Config("autojit-eager", "float32", False,
           "--tf_xla_auto_jit=1 --tf_xla_enable_lazy_compilation=false",
           "auto-clustering, lazy compilation off (second try)"),
    Config("autojit-fusible", "float32", False, "--tf_xla_auto_jit=fusible",
           "auto-clustering of fusible ops only, 'XLA Lite' (third try)"),
)}
MAIN_CONFIGS = ("fp32", "mixed", "xla", "mixed+xla")
# Auto-clustering skips CPU devices unless this flag is added too (TF's default since 2.x).
CPU_AUTOJIT_FLAG = "--tf_xla_cpu_global_jit"

# The post's RTX 3090 measurements (TF 1.15, TF32 on), as speed-ups over FP32.
POST_3090 = {"mixed": 1.10, "xla": 1.15, "mixed+xla": 1.30}


@dataclass(frozen=True)
class Size:
    """Shape of the tagger and of the batch it trains on."""

    layers: int
    dim: int
    heads: int
    ffn: int
    seq_len: int
    batch: int
    vocab: int


SIZES = {
    "micro": Size(layers=1, dim=32, heads=2, ffn=64, seq_len=16, batch=8, vocab=500),
    "tiny": Size(layers=2, dim=64, heads=2, ffn=256, seq_len=32, batch=32, vocab=2000),
    "small": Size(layers=4, dim=128, heads=4, ffn=512, seq_len=64, batch=32, vocab=3000),
    "base": Size(layers=12, dim=768, heads=12, ffn=3072, seq_len=128, batch=32, vocab=8000),
}


def size_of(name: str) -> Size:
    """The :class:`Size` called ``name`` (a key of :data:`SIZES`)."""
    return SIZES[one_of("size", name, SIZES)]


def train_flops(size: str) -> int:
    """Matmul FLOPs of one training step of the tagger (forward x 3; embeddings and
    element-wise ops not counted).

    Per token and layer the forward pass costs ``8 d^2`` (Q, K, V, O projections),
    ``4 d f`` (the feed-forward pair) and ``4 T d`` (scores and weighted sum), plus ``8 d``
    for the 4-tag output layer; backward costs twice the forward.
    """
    s = size_of(size)
    per_token = s.layers * (8 * s.dim**2 + 4 * s.dim * s.ffn + 4 * s.seq_len * s.dim) + 8 * s.dim
    return 3 * s.batch * s.seq_len * per_token


def resolve_policy(precision: str, on_gpu: bool) -> str:
    """The Keras dtype policy a configuration's ``precision`` runs under on this device."""
    if precision == "float32":
        return "float32"
    if precision == "float16" or on_gpu:
        return "mixed_float16"
    return "mixed_bfloat16"


def expected_checks(config: str, on_gpu: bool = False) -> dict[str, object]:
    """What a run of ``config`` must report in its ``checks``: variable and compute
    dtypes, the loss-scale optimizer, Keras keeping ``jit_compile`` as asked, and whether XLA
    compiled (on a CPU the auto-clustering configurations get ``--tf_xla_cpu_global_jit``).

    Args:
        config: a key of :data:`CONFIGS`.
        on_gpu: whether the run was on a GPU (default False).
    """
    c = CONFIGS[one_of("config", config, CONFIGS)]
    compute = {"float32": "float32", "float16": "float16",
               "mixed": "float16" if on_gpu else "bfloat16"}[c.precision]
    return {"variable_dtype": "float32", "compute_dtype": compute,
            "loss_scale_optimizer": compute == "float16", "jit_compile_kept": c.jit_compile,
            "xla_compiled": c.jit_compile or bool(c.tf_xla_flags)}
