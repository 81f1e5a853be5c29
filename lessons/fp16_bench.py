"""Lesson 05's benchmark: one BERT-style tagger trained under several precision/XLA settings.

Every configuration runs in a fresh subprocess (``python -m lessons.fp16_bench child SPEC``) so
that a global dtype policy or ``TF_XLA_FLAGS`` cannot leak into the next one. The child prints
one JSON list on stdout, one object per configuration: timings, memory, achieved FLOP/s and the
checks that the configuration really is what its name says (variable and compute dtypes,
whether Keras kept ``jit_compile``, how many XLA compilations TensorFlow logged during
training, the environment it saw).

``run_benchmark(..., share_process=True)`` runs configurations whose environment is the same
one after the other in one subprocess instead (one TensorFlow import instead of several: the
notebook's live run and the tests use it). The dtype policy is set afresh for each
configuration, and XLA is detected per configuration from TensorFlow's per-compilation log
line; the memory columns then mean little, since the process's peak is shared.

The parent (:func:`run_benchmark`) encodes one batch of People's Daily characters once, hands
it to every child, and collects a result that :func:`validate_result` checks and
:func:`save_result` stores under ``lessons/results/``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).with_name("results")
SCHEMA_ID = "lessons.fp16_xla.benchmark/1"
XLA_LOG_MARKER = "Compiled cluster using XLA"  # TF logs this (INFO) once per process
# With TF_CPP_VMODULE=device_compilation_profiler=1 TF logs one line per XLA compilation:
# "Compiled cluster_0 1 times, compile time: 68269 us, ..." (jit_compile and auto-clustering).
XLA_COMPILE_LINE = re.compile(r"Compiled \S+ \d+ times, compile time")
XLA_VMODULE = "device_compilation_profiler=1"
SEEN_ENV = ("TF_XLA_FLAGS", "XLA_FLAGS", "TF_ENABLE_ONEDNN_OPTS", "CUDA_VISIBLE_DEVICES",
            "OMP_NUM_THREADS")


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


def _size(name: str) -> Size:
    if name not in SIZES:
        raise ValueError(f"size must be one of {list(SIZES)}, got {name!r}")
    return SIZES[name]


def train_flops(size: str) -> int:
    """Matmul FLOPs of one training step of the tagger (forward x 3; embeddings and
    element-wise ops not counted).

    Per token and layer the forward pass costs ``8 d^2`` (Q, K, V, O projections),
    ``4 d f`` (the feed-forward pair) and ``4 T d`` (scores and weighted sum), plus ``8 d``
    for the 4-tag output layer; backward costs twice the forward.
    """
    s = _size(size)
    per_token = s.layers * (8 * s.dim**2 + 4 * s.dim * s.ffn + 4 * s.seq_len * s.dim) + 8 * s.dim
    return 3 * s.batch * s.seq_len * per_token


# --------------------------------------------------------------------------------------------
# The workload


_BATCHES: dict[str, dict[str, np.ndarray]] = {}
_BATCH_LOCK = threading.Lock()


def make_batch(size: str) -> dict[str, np.ndarray]:
    """One batch of People's Daily characters for ``size``: ids, tags (int32) and mask (bool),
    each [batch, seq_len]; the vocabulary is the ``vocab - 2`` most frequent characters.

    Made once per size and process; each call returns fresh copies.
    """
    from lessons.data import Vocab, encode_tagged, load_peoples_daily

    s = _size(size)
    with _BATCH_LOCK:  # benchmarks may run in threads (tests): make each batch once
        if size not in _BATCHES:
            sentences = load_peoples_daily()
            vocab = Vocab.build(sentences[:4000], max_size=s.vocab - 2)
            ids, tags, mask = encode_tagged(sentences[: 4 * s.batch], vocab, s.seq_len)
            _BATCHES[size] = {"ids": ids[: s.batch], "tags": tags[: s.batch],
                              "mask": mask[: s.batch]}
        return {k: v.copy() for k, v in _BATCHES[size].items()}


_POSITION_EMBEDDING = []


def _position_embedding_class():
    """The layer class, defined on first use so that importing this module skips Keras."""
    if _POSITION_EMBEDDING:
        return _POSITION_EMBEDDING[0]
    import keras

    @keras.saving.register_keras_serializable(package="lessons")
    class PositionEmbedding(keras.layers.Layer):
        """Adds a learnt vector per position to ``[batch, seq_len, dim]`` inputs.

        Args:
            max_len: the longest sequence (positions 0 .. max_len - 1).
        """

        def __init__(self, max_len: int, **kwargs):
            super().__init__(**kwargs)
            self.max_len = max_len

        def build(self, input_shape):
            self.table = self.add_weight(shape=(self.max_len, input_shape[-1]),
                                         initializer="glorot_uniform", name="table")

        def call(self, x):
            length = keras.ops.shape(x)[1]
            return x + keras.ops.cast(self.table[:length], x.dtype)[None]

        def get_config(self):
            return {**super().get_config(), "max_len": self.max_len}

    _POSITION_EMBEDDING.append(PositionEmbedding)
    return PositionEmbedding


def build_tagger(size: str):
    """A post-norm BERT-style encoder with a 4-tag softmax head (logits in float32).

    Inputs ``ids`` [batch, seq_len] int32 and ``mask`` [batch, seq_len] bool; output
    logits [batch, seq_len, 4]. Layers follow the global dtype policy at build time.
    """
    import keras

    s = _size(size)
    ids = keras.Input((s.seq_len,), dtype="int32", name="ids")
    mask = keras.Input((s.seq_len,), dtype="bool", name="mask")
    x = keras.layers.Embedding(s.vocab, s.dim, name="chars")(ids)
    x = _position_embedding_class()(s.seq_len, name="positions")(x)
    pair_mask = mask[:, None, :] & mask[:, :, None]  # [batch, T, T]
    for i in range(s.layers):
        attn = keras.layers.MultiHeadAttention(s.heads, s.dim // s.heads, name=f"attention_{i}")
        x = keras.layers.LayerNormalization(name=f"norm_a{i}")(
            x + attn(x, x, attention_mask=pair_mask))
        h = keras.layers.Dense(s.ffn, activation="gelu", name=f"ffn_in_{i}")(x)
        x = keras.layers.LayerNormalization(name=f"norm_f{i}")(
            x + keras.layers.Dense(s.dim, name=f"ffn_out_{i}")(h))
    logits = keras.layers.Dense(4, dtype="float32", name="tags")(x)
    return keras.Model([ids, mask], logits, name=f"tagger_{size}")


def counted_flops(model, size: str) -> int:
    """Training FLOPs counted from the built model's kernels (2 per weight per token, x 3 for
    training) plus attention's ``4 T d`` per token and layer: an independent check of
    :func:`train_flops`."""
    s = _size(size)
    kernel_weights = sum(int(np.prod(v.shape)) for v in model.weights
                         if v.path.endswith("/kernel"))
    attention = model_attention_layers(model) * 4 * s.seq_len * s.dim
    return 3 * s.batch * s.seq_len * (2 * kernel_weights + attention)


def model_attention_layers(model) -> int:
    import keras

    return sum(isinstance(layer, keras.layers.MultiHeadAttention) for layer in model.layers)


# --------------------------------------------------------------------------------------------
# The child process


def _resolve_policy(precision: str, on_gpu: bool) -> str:
    if precision == "float32":
        return "float32"
    if precision == "float16" or on_gpu:
        return "mixed_float16"
    return "mixed_bfloat16"


def matmul_peak_gflops(dtype: str = "float32", n: int = 1024, min_time: float = 0.2) -> float:
    """Best measured GFLOP/s of an ``n x n`` matmul in ``dtype`` on TensorFlow's default device.

    Args:
        dtype: "float32", "bfloat16" or "float16" (default "float32").
        n: matrix size (default 1024).
        min_time: seconds per timed batch of calls (default 0.2); best of three batches.
    """
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
    if not isinstance(n, int) or n < 16:
        raise ValueError(f"n must be an int >= 16, got {n!r}")
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), seed=(1, 2), dtype=tf.float32)
    a = tf.cast(a, dtype)
    matmul = tf.function(lambda x: tf.matmul(x, x))
    matmul(a).numpy()  # trace and warm up
    calls = 1
    while True:  # grow the batch until it takes min_time
        t = time.perf_counter()
        for _ in range(calls):
            c = matmul(a)
        c.numpy()
        elapsed = time.perf_counter() - t
        if elapsed >= min_time or calls >= 4096:
            break
        calls *= 2
    best = elapsed / calls
    for _ in range(2):
        t = time.perf_counter()
        for _ in range(calls):
            c = matmul(a)
        c.numpy()
        best = min(best, (time.perf_counter() - t) / calls)
    return 2 * n**3 / best / 1e9


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _peak_rss_mb() -> float:
    """This process's peak resident set in MiB.

    Linux's ``VmHWM`` starts afresh at ``exec``; ``getrusage``'s ``ru_maxrss`` would carry over
    the peak of the process that forked us (a notebook kernel with TensorFlow loaded is large).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024.0 if sys.platform != "darwin" else rss / 2**20  # KiB on Linux, B on macOS


class _XlaLog:
    """Counts XLA compilations in the file the child's stderr (TF's C++ log) points at.

    Reads with ``os.pread``, which leaves the file offset that TF's writes share alone.
    """

    def __init__(self, fd: int | None = None):
        self.fd = fd

    def position(self) -> int:
        sys.stderr.flush()
        return os.fstat(self.fd).st_size if self.fd is not None else 0

    def since(self, position: int) -> dict:
        """``xla_compiled`` and ``xla_compilations`` for the log written after ``position``."""
        end = self.position()
        if self.fd is None or end <= position:
            return {"xla_compiled": False, "xla_compilations": 0}
        segment = os.pread(self.fd, end - position, position).decode(errors="replace")
        count = len(XLA_COMPILE_LINE.findall(segment))
        return {"xla_compiled": count > 0 or XLA_LOG_MARKER in segment, "xla_compilations": count}


def run_child(spec: dict, config_name: str | None = None, xla_log: _XlaLog | None = None) -> dict:
    """Train the tagger under one configuration and measure it (call in a fresh process, or
    one configuration after another in a process whose environment suits them all).

    ``spec`` holds ``size``, ``steps``, ``repeats``, ``warmup``, ``batch_file`` (an ``.npz``
    from :func:`make_batch`), optionally ``seed`` (weights' initialisation, default 0) and
    ``peak_seconds`` (the matmul peak's timing budget, :func:`matmul_peak_gflops`'s
    ``min_time``), and ``config`` unless ``config_name`` is given. TF's own stderr must
    already point at the file ``xla_log`` reads (see :func:`_child_main`): XLA's log lines
    land there. Without ``xla_log`` the XLA checks are left out.
    """
    import keras
    import tensorflow as tf

    config, size = CONFIGS[config_name or spec["config"]], spec["size"]
    xla_log = xla_log or _XlaLog()
    gpus = tf.config.list_physical_devices("GPU")
    policy = _resolve_policy(config.precision, bool(gpus))
    keras.backend.clear_session()
    keras.mixed_precision.set_dtype_policy(policy)
    keras.utils.set_random_seed(spec.get("seed", 0))
    data = np.load(spec["batch_file"])
    x = (tf.constant(data["ids"]), tf.constant(data["mask"]))
    y, weight = tf.constant(data["tags"]), tf.constant(data["mask"].astype(np.float32))
    rss_before = _peak_rss_mb()
    log_start = xla_log.position()

    model = build_tagger(size)
    optimizer = keras.optimizers.Adam(1e-3)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=config.jit_compile)
    if gpus:
        tf.config.experimental.reset_memory_stats("GPU:0")

    t = time.perf_counter()
    for _ in range(spec["warmup"]):
        loss = model.train_on_batch(x, y, sample_weight=weight)
    warmup_s = time.perf_counter() - t
    times, cpu_times = [], []  # wall and CPU (all threads) seconds per step
    for _ in range(spec["repeats"]):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(spec["steps"]):
            loss = model.train_on_batch(x, y, sample_weight=weight)  # returns floats: synced
        times.append((time.perf_counter() - t) / spec["steps"])
        cpu_times.append((time.process_time() - c) / spec["steps"])
    xla = xla_log.since(log_start)

    if gpus:
        memory = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        memory_kind, growth = "gpu_peak", memory
    else:
        memory = _peak_rss_mb()
        memory_kind, growth = "process_peak_rss", memory - rss_before
    compute_dtype = model.get_layer("ffn_in_0").compute_dtype
    peak = matmul_peak_gflops(compute_dtype, min_time=spec.get("peak_seconds", 0.2))
    median = float(np.median(times))
    achieved = train_flops(size) / median / 1e9
    device = {"kind": "GPU" if gpus else "CPU", "cpu": _cpu_name(), "cores": os.cpu_count(),
              "gpu": None, "tf32": None}
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device["gpu"] = details.get("device_name", gpus[0].name)
        device["tf32"] = bool(tf.config.experimental.tensor_float_32_execution_enabled())
    checks = {
        "variable_dtype": model.get_layer("ffn_in_0").kernel.dtype,
        "compute_dtype": compute_dtype,
        "logits_dtype": keras.backend.standardize_dtype(model.outputs[0].dtype),
        "jit_compile_requested": config.jit_compile,
        "jit_compile_kept": bool(model.jit_compile),
        "loss_scale_optimizer": isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer),
        "env": {k: os.environ[k] for k in SEEN_ENV if k in os.environ},
    }
    if xla_log.fd is not None:
        checks.update(xla)
    keras.mixed_precision.set_dtype_policy("float32")
    return {
        "config": config.name,
        "description": config.description,
        "policy": policy,
        "device": device,
        "checks": checks,
        "ms_per_step": {"median": 1e3 * median, "min": 1e3 * min(times),
                        "max": 1e3 * max(times)},
        "cpu_ms_per_step": {"median": 1e3 * float(np.median(cpu_times)),
                            "min": 1e3 * min(cpu_times), "max": 1e3 * max(cpu_times)},
        "examples_per_s": _size(size).batch / median,
        "warmup_s": warmup_s,
        "memory_mb": memory,
        "memory_kind": memory_kind,
        "memory_growth_mb": growth,
        "achieved_gflops": achieved,
        "matmul_peak_gflops": peak,
        "peak_share": achieved / peak,
        "final_loss": float(loss if np.isscalar(loss) else loss[0]),
    }


def _child_main(spec_json: str) -> int:
    """Entry point of ``python -m lessons.fp16_bench child SPEC``: runs each of
    ``spec["configs"]`` in turn and prints one JSON list (one object per configuration)."""
    spec = json.loads(spec_json)
    real_stderr = os.dup(2)
    results = []
    with tempfile.TemporaryFile(mode="w+b") as log:
        os.dup2(log.fileno(), 2)  # TF's C++ log (and its XLA lines) goes here
        try:
            for name in spec["configs"]:
                results.append(run_child(spec, name, _XlaLog(log.fileno())))
        except Exception:
            os.dup2(real_stderr, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        sys.stderr.flush()
        os.dup2(real_stderr, 2)
    print(json.dumps(results))
    return 0


# --------------------------------------------------------------------------------------------
# The parent


def child_env(config: str, on_cpu: bool = True, base: dict | None = None,
              cpu_global_jit: bool = True) -> dict[str, str]:
    """The environment a configuration's subprocess gets: ``base`` (default ``os.environ``)
    without any XLA flags, plus the configuration's ``TF_XLA_FLAGS`` (with
    ``--tf_xla_cpu_global_jit`` added on a CPU unless ``cpu_global_jit`` is False: without it
    auto-clustering leaves CPU ops alone), and TF's INFO log switched on, with one line per
    XLA compilation (``TF_CPP_VMODULE``), so that the child can see whether XLA compiled."""
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {list(CONFIGS)}, got {config!r}")
    env = dict(os.environ if base is None else base)
    for key in ("TF_XLA_FLAGS", "XLA_FLAGS"):
        env.pop(key, None)
    flags = CONFIGS[config].tf_xla_flags
    if flags:
        add = on_cpu and cpu_global_jit
        env["TF_XLA_FLAGS"] = f"{flags} {CPU_AUTOJIT_FLAG}" if add else flags
    env["TF_CPP_MIN_LOG_LEVEL"] = "0"
    env["TF_CPP_VMODULE"] = XLA_VMODULE
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH")) if p)
    return env


def process_groups(configs, share_process: bool = False, on_cpu: bool = True,
                   cpu_global_jit: bool = True) -> list[list[str]]:
    """Which configurations share a subprocess: each its own (default), or, with
    ``share_process``, all whose :func:`child_env` is the same (first-seen order)."""
    if not share_process:
        return [[c] for c in configs]
    groups: dict[str, list[str]] = {}
    for c in configs:
        env = child_env(c, on_cpu, base={}, cpu_global_jit=cpu_global_jit)
        groups.setdefault(env.get("TF_XLA_FLAGS", ""), []).append(c)
    return list(groups.values())


def _check_args(configs, size, steps, repeats, warmup):
    if isinstance(configs, str) or not configs:
        raise ValueError(f"configs must be a non-empty sequence of names, got {configs!r}")
    for c in configs:
        if c not in CONFIGS:
            raise ValueError(f"configs must be names from {list(CONFIGS)}, got {c!r}")
    if len(set(configs)) != len(configs):
        raise ValueError(f"configs must not repeat a name, got {list(configs)}")
    _size(size)
    for name, value, low in (("steps", steps, 1), ("repeats", repeats, 1), ("warmup", warmup, 1)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def _gpu_visible() -> bool:
    """Whether a GPU is visible, asked without importing TensorFlow here."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/proc/driver/nvidia/gpus").exists() or Path("/dev/nvidia0").exists()


def child_spec(size: str, steps: int, repeats: int, warmup: int, batch_file: str,
               peak_seconds: float = 0.2, seed: int | None = None) -> dict:
    """The JSON spec every child of one benchmark gets (``configs`` is added per child);
    ``seed`` defaults to the course seed (:func:`lessons.notebook.course_seed`)."""
    from lessons.notebook import course_seed

    return {"size": size, "steps": steps, "repeats": repeats, "warmup": warmup,
            "batch_file": batch_file, "peak_seconds": peak_seconds, "seed": course_seed(seed)}


def run_benchmark(configs=MAIN_CONFIGS, size: str = "tiny", steps: int = 10, repeats: int = 3,
                  warmup: int = 2, *, jobs: int = 1, show_progress: bool = True,
                  cpu_global_jit: bool = True, peak_seconds: float = 0.2,
                  share_process: bool = False, seed: int | None = None,
                  timeout: float = 900.0) -> dict:
    """Time a training step of the tagger under each configuration, one subprocess each.

    Args:
        configs: names from :data:`CONFIGS` (default the four main ones).
        size: a key of :data:`SIZES` (default "tiny").
        steps: timed steps per repeat (default 10).
        repeats: timed repeats; median/min/max are over these (default 3).
        warmup: untimed steps first (tracing, XLA compilation; default 2).
        jobs: subprocesses at once (default 1; more only for tests: they share the CPU).
        show_progress: a progress bar over configurations (default True).
        cpu_global_jit: on a CPU, add ``--tf_xla_cpu_global_jit`` to the auto-clustering
            configurations' flags (default True; False runs the post's flags verbatim).
        peak_seconds: timing budget of each child's matmul-peak measurement (default 0.2).
        share_process: run configurations with the same environment one after the other in
            one subprocess (default False: a fresh one each); see :func:`process_groups`.
        seed: initialisation seed of every model (default: the course seed).
        timeout: seconds allowed per subprocess (default 900).

    Returns:
        A result dict (see :func:`validate_result`); ``speedup`` is FP32's median over each
        configuration's median, ``speedup_best`` the same for the fastest repeats and
        ``speedup_cpu`` for the median CPU time per step (all threads; on a shared machine it
        is less disturbed than wall time), when "fp32" is among ``configs``, else None.
    """
    _check_args(configs, size, steps, repeats, warmup)
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    if not 0 < peak_seconds <= 10:
        raise ValueError(f"peak_seconds must be in (0, 10], got {peak_seconds!r}")
    from concurrent.futures import ThreadPoolExecutor

    from lessons.notebook import course_seed, progress

    seed = course_seed(seed)  # checked here, before any work

    load_before = os.getloadavg()
    on_cpu = not _gpu_visible()
    groups = process_groups(configs, share_process, on_cpu, cpu_global_jit)
    with tempfile.TemporaryDirectory(prefix="fp16_xla_") as tmp:
        batch_file = str(Path(tmp) / "batch.npz")
        np.savez(batch_file, **make_batch(size))
        spec = child_spec(size, steps, repeats, warmup, batch_file, peak_seconds, seed)

        def one(group: list[str]) -> list[dict]:
            proc = subprocess.run(
                [sys.executable, "-m", "lessons.fp16_bench", "child",
                 json.dumps({**spec, "configs": group})],
                env=child_env(group[0], on_cpu, cpu_global_jit=cpu_global_jit),
                capture_output=True, text=True, timeout=timeout)
            if proc.returncode != 0:
                raise RuntimeError(f"benchmark of {group} failed:\n{proc.stderr[-3000:]}")
            return json.loads(proc.stdout.strip().splitlines()[-1])

        bar = progress(total=len(configs), desc=f"benchmark ({size})") if show_progress else None
        by_name = {}
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for group_runs in pool.map(one, groups):
                for run in group_runs:
                    by_name[run["config"]] = run
                if bar is not None:
                    bar.set_postfix_str(group_runs[-1]["config"], refresh=False)
                    bar.update(len(group_runs))
        if bar is not None:
            bar.close()
    runs = [by_name[c] for c in configs]

    base = next((r for r in runs if r["config"] == "fp32"), None)
    # by medians; by the best repeat and by CPU time too, which a busy machine disturbs less
    for r in runs:
        for key, timing, stat in (("speedup", "ms_per_step", "median"),
                                  ("speedup_best", "ms_per_step", "min"),
                                  ("speedup_cpu", "cpu_ms_per_step", "median")):
            r[key] = base[timing][stat] / r[timing][stat] if base is not None else None
    device = runs[0]["device"]
    settings = {"steps": steps, "repeats": repeats, "warmup": warmup, "jobs": jobs,
                "cpu_global_jit": cpu_global_jit, "peak_seconds": peak_seconds,
                "share_process": share_process, "seed": spec["seed"]}
    return _assemble(device, size, settings, runs, [round(v, 2) for v in load_before])


def _assemble(device, size, settings, runs, load_before) -> dict:
    import importlib.metadata as md

    versions = {"python": platform.python_version()}
    for pkg in ("tensorflow", "keras", "lessons"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "unknown"
    where = (f"{device['gpu']} (GPU)" if device["kind"] == "GPU"
             else f"{device['cpu']}, {device['cores']} cores (CPU)")
    return {
        "schema": SCHEMA_ID,
        "label": f"{where}, size {size}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "device": device,
        "versions": versions,
        "load_average": {"before": load_before, "after": [round(v, 2) for v in os.getloadavg()]},
        "size": size,
        "workload": {**asdict(_size(size)), "train_flops_per_step": train_flops(size)},
        "settings": settings,
        "runs": runs,
    }


# --------------------------------------------------------------------------------------------
# Stored results


_NUM = (int, float)
_OPT_NUM = (int, float, type(None))
_RUN_SCHEMA = {
    "config": str, "description": str, "policy": str,
    "device": {"kind": str, "cpu": str, "cores": int, "gpu": (str, type(None)),
               "tf32": (bool, type(None))},
    "checks": {"variable_dtype": str, "compute_dtype": str, "jit_compile_requested": bool,
               "jit_compile_kept": bool, "loss_scale_optimizer": bool, "env": dict,
               "xla_compiled": bool},
    "ms_per_step": {"median": _NUM, "min": _NUM, "max": _NUM},
    "cpu_ms_per_step": {"median": _NUM, "min": _NUM, "max": _NUM},
    "examples_per_s": _NUM, "warmup_s": _NUM, "memory_mb": _NUM, "memory_kind": str,
    "memory_growth_mb": _NUM, "achieved_gflops": _NUM, "matmul_peak_gflops": _NUM,
    "peak_share": _NUM, "final_loss": _NUM, "speedup": _OPT_NUM, "speedup_best": _OPT_NUM,
    "speedup_cpu": _OPT_NUM,
}
# Fields added later: checked when present (results stored before them lack them).
_OPTIONAL_SETTINGS = {"share_process": bool, "seed": int}
_OPTIONAL_CHECKS = {"xla_compilations": int, "logits_dtype": str}
RESULT_SCHEMA = {
    "schema": str, "label": str, "created": str,
    "device": _RUN_SCHEMA["device"],
    "versions": {"python": str, "tensorflow": str, "keras": str, "lessons": str},
    "load_average": {"before": [_NUM], "after": [_NUM]},
    "size": str,
    "workload": {"layers": int, "dim": int, "heads": int, "ffn": int, "seq_len": int,
                 "batch": int, "vocab": int, "train_flops_per_step": int},
    "settings": {"steps": int, "repeats": int, "warmup": int, "jobs": int,
                 "cpu_global_jit": bool, "peak_seconds": _NUM},
    "runs": [_RUN_SCHEMA],
}


def _check(value, spec, where: str):
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be an object, got {type(value).__name__}")
        for key, sub in spec.items():
            if key not in value:
                raise ValueError(f"{where} is missing {key!r}")
            _check(value[key], sub, f"{where}[{key!r}]")
    elif isinstance(spec, list):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{where} must be a non-empty list")
        for i, item in enumerate(value):
            _check(item, spec[0], f"{where}[{i}]")
    else:
        types = spec if isinstance(spec, tuple) else (spec,)
        if isinstance(value, bool) and bool not in types:  # bool is an int subclass
            raise ValueError(f"{where} must be {spec}, got a bool")
        if not isinstance(value, types):
            raise ValueError(f"{where} must be {spec}, got {type(value).__name__}")


def validate_result(result: dict) -> dict:
    """Check a benchmark result against :data:`RESULT_SCHEMA` and its invariants; return it.

    Raises ``ValueError`` naming the first offending field: missing keys, wrong types, an
    unknown schema id, configuration or size, or timings that are not finite and positive or
    not ordered min <= median <= max.
    """
    _check(result, RESULT_SCHEMA, "result")
    if result["schema"] != SCHEMA_ID:
        raise ValueError(f"result['schema'] must be {SCHEMA_ID!r}, got {result['schema']!r}")
    _size(result["size"])
    for key, spec in _OPTIONAL_SETTINGS.items():
        if key in result["settings"]:
            _check(result["settings"][key], spec, f"result['settings'][{key!r}]")
    for i, run in enumerate(result["runs"]):
        where = f"result['runs'][{i}]"
        for key, spec in _OPTIONAL_CHECKS.items():
            if key in run["checks"]:
                _check(run["checks"][key], spec, f"{where}['checks'][{key!r}]")
        if run["config"] not in CONFIGS:
            raise ValueError(f"{where}['config'] must be one of {list(CONFIGS)}")
        t = run["ms_per_step"]
        if not all(math.isfinite(v) and v > 0 for v in t.values()):
            raise ValueError(f"{where}['ms_per_step'] must be finite and > 0, got {t}")
        if not t["min"] <= t["median"] <= t["max"]:
            raise ValueError(f"{where}['ms_per_step'] must satisfy min <= median <= max")
        for key in ("examples_per_s", "achieved_gflops", "matmul_peak_gflops", "memory_mb"):
            if not (math.isfinite(run[key]) and run[key] > 0):
                raise ValueError(f"{where}[{key!r}] must be finite and > 0, got {run[key]}")
    return result


def result_filename(result: dict) -> str:
    """``fp16_xla_<device>_<size>.json``, the device slugged from the result's label."""
    d = result["device"]
    name = d["gpu"] if d["kind"] == "GPU" else f"{d['cpu']}-{d['cores']}c"
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return f"fp16_xla_{d['kind'].lower()}-{slug}_{result['size']}.json"


def save_result(result: dict, directory: str | Path | None = None) -> Path:
    """Validate and write ``result`` as JSON under ``directory`` (default lessons/results)."""
    validate_result(result)
    out = Path(directory) if directory is not None else RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    path = out / result_filename(result)
    path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load_result(path: str | Path) -> dict:
    """Read and validate one stored result."""
    return validate_result(json.loads(Path(path).read_text(encoding="utf-8")))


def list_results(directory: str | Path | None = None) -> list[Path]:
    """Stored result files (``fp16_xla_*.json``), sorted by name."""
    return sorted((Path(directory) if directory is not None else RESULTS_DIR)
                  .glob("fp16_xla_*.json"))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "child":
        sys.exit("usage: python -m lessons.fp16_bench child SPEC_JSON")
    sys.exit(_child_main(sys.argv[2]))
