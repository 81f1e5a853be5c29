"""The benchmark's child process: it trains the tagger under its configurations and times one
repeat whenever the parent asks, so that the parent can interleave configurations (A B A B ...).

``python -m lessons.fp16_xla.bench child SPEC_JSON`` speaks one JSON object per line:

- child -> parent ``{"ready": [names]}`` once every configuration is built and warmed up;
- parent -> child ``{"time": name}``, child -> parent ``{"timed": name}``: one timed repeat;
- parent -> child ``{"finish": true}``, child -> parent ``{"runs": [...]}``: one result per
  configuration (timings, memory, FLOP/s, the checks that it is what its name says); then it exits.

TensorFlow's C++ log (and any stray output) goes to a temporary file, where :class:`XlaLog` counts
the XLA compilations of each configuration. A global dtype policy is set while a configuration is
built and while it trains, so configurations can share a process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lessons._core.checks import integer, number, one_of
from lessons._core.machine import cpu_name
from lessons.fp16_xla.bench.configs import CONFIGS, resolve_policy, size_of, train_flops
from lessons.fp16_xla.bench.workload import build_tagger

__all__ = ["XLA_COMPILE_LINE", "XLA_LOG_MARKER", "ConfigRun", "XlaCounter", "XlaLog", "build_runs",
           "child_main", "matmul_peak_gflops", "trim_heap"]

XLA_LOG_MARKER = "Compiled cluster using XLA"  # TF logs this (INFO) once per process
# With TF_CPP_VMODULE=device_compilation_profiler=1 TF logs one line per XLA compilation:
# "Compiled cluster_0 1 times, compile time: 68269 us, ..." (jit_compile and auto-clustering).
XLA_COMPILE_LINE = re.compile(r"Compiled \S+ \d+ times, compile time")
SEEN_ENV = ("TF_XLA_FLAGS", "XLA_FLAGS", "TF_ENABLE_ONEDNN_OPTS", "CUDA_VISIBLE_DEVICES",
            "OMP_NUM_THREADS")


def matmul_peak_gflops(dtype: str = "float32", n: int = 1024, min_time: float = 0.2) -> float:
    """Best measured GFLOP/s of an ``n x n`` matmul in ``dtype`` on TensorFlow's default device.

    Args:
        dtype: "float32", "bfloat16" or "float16" (default "float32").
        n: matrix size, >= 16 (default 1024).
        min_time: seconds per timed batch of calls (default 0.2); best of three batches.
    """
    one_of("dtype", dtype, ("float32", "bfloat16", "float16"))
    integer("n", n, low=16)
    number("min_time", min_time, low=0.0, low_open=True)
    import tensorflow as tf

    a = tf.cast(tf.random.stateless_normal((n, n), seed=(1, 2), dtype=tf.float32), dtype)
    matmul = tf.function(lambda x: tf.matmul(x, x))
    matmul(a).numpy()  # trace and warm up

    def batch(calls: int) -> float:
        t = time.perf_counter()
        for _ in range(calls):
            c = matmul(a)
        c.numpy()
        return time.perf_counter() - t

    calls = 1
    while (elapsed := batch(calls)) < min_time and calls < 4096:  # grow until it takes min_time
        calls *= 2
    best = min([elapsed] + [batch(calls) for _ in range(2)]) / calls
    return 2 * n**3 / best / 1e9


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


class XlaLog:
    """Counts XLA compilations in the file the child's stderr (TF's C++ log) points at.

    Reads with ``os.pread``, which leaves the file offset that TF's writes share alone.
    """

    def __init__(self, fd: int | None = None):
        self.fd = fd
        self.enabled = fd is not None

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


class XlaCounter:
    r"""Sees XLA in this process without its log: TensorFlow's own metric
    ``/tensorflow/core/tf_function_counter`` counts, under the label "1", the ``tf.function``\ s
    with ``jit_compile=True`` it runs or places into a graph outside XLA. Keras's training step
    is one when ``jit_compile`` holds, and TensorFlow must compile such a function with XLA (it
    raises if it cannot). Used where the log cannot be read: a run inside a notebook's kernel.
    It counts functions, not compilations, so it reports ``xla_compiled`` only.
    """

    enabled = True

    def position(self) -> int:
        from tensorflow.python.eager.polymorphic_function import polymorphic_function

        return polymorphic_function._tf_function_counter.get_cell("1").value()

    def since(self, position: int) -> dict:
        """``xla_compiled``: whether a jit-compiled function ran after ``position``."""
        return {"xla_compiled": self.position() > position}


class ConfigRun:
    """One configuration inside a child: built, compiled and warmed up on creation.

    Args:
        spec: ``size``, ``steps``, ``warmup``, ``batch_file`` (an ``.npz`` of ``make_batch``),
            optionally ``seed`` (weights' initialisation, default 0) and ``peak_seconds`` (the
            matmul peak's ``min_time``, default 0.2).
        name: a key of ``CONFIGS``.
        xla_log: how XLA is seen: an ``XlaLog`` of the child's log file or an ``XlaCounter``
            (default: an ``XlaLog`` without a file; the XLA checks are then left out).
        initial_weights: the weights to start from (default: the initialiser's, from the seed
            :func:`build_runs` set).
        keep_initial_weights: keep a copy of them as ``initial_weights`` (default False: a
            copy would count in the process's memory).
    """

    def __init__(self, spec: dict, name: str, xla_log: XlaLog | XlaCounter | None = None,
                 initial_weights: list | None = None, keep_initial_weights: bool = False):
        import keras
        import tensorflow as tf

        self.spec, self.config, self.xla_log = spec, CONFIGS[name], xla_log or XlaLog()
        self.gpus = tf.config.list_physical_devices("GPU")
        self.policy = resolve_policy(self.config.precision, bool(self.gpus))
        self.xla = {}  # what self.xla_log saw while this configuration was active
        self.times, self.cpu_times, self.started = [], [], []
        data = np.load(spec["batch_file"])
        self.x = (tf.constant(data["ids"]), tf.constant(data["mask"]))
        self.y, self.weight = tf.constant(data["tags"]), tf.constant(data["mask"].astype(np.float32))
        self.rss_before = _peak_rss_mb()
        with self._active():
            self.model = build_tagger(spec["size"])
            if initial_weights is not None:
                self.model.set_weights(initial_weights)
            self.initial_weights = self.model.get_weights() if keep_initial_weights else None
            optimizer = keras.optimizers.Adam(1e-3)
            if self.policy == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.model.compile(optimizer,
                               keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                               jit_compile=self.config.jit_compile)
            if self.gpus:
                tf.config.experimental.reset_memory_stats("GPU:0")
            t = time.perf_counter()
            for _ in range(spec["warmup"]):
                self.loss = self._step()
            self.warmup_s = time.perf_counter() - t

    def _step(self):
        return self.model.train_on_batch(self.x, self.y, sample_weight=self.weight)  # synced

    @contextlib.contextmanager
    def _active(self):
        """While the block runs: this configuration's dtype policy, and its share of the XLA log."""
        import keras

        keras.mixed_precision.set_dtype_policy(self.policy)
        start = self.xla_log.position()
        try:
            yield
        finally:
            seen = self.xla_log.since(start)
            merged = {"xla_compiled": self.xla.get("xla_compiled", False) or seen["xla_compiled"]}
            if "xla_compilations" in seen:
                merged["xla_compilations"] = self.xla.get("xla_compilations", 0) + seen["xla_compilations"]
            self.xla = merged
            keras.mixed_precision.set_dtype_policy("float32")

    def time_repeat(self) -> None:
        """One timed repeat: ``steps`` training steps; wall and CPU (all threads) s per step."""
        steps = self.spec["steps"]
        with self._active():
            self.started.append(time.time())
            t, c = time.perf_counter(), time.process_time()
            for _ in range(steps):
                self.loss = self._step()
            self.times.append((time.perf_counter() - t) / steps)
            self.cpu_times.append((time.process_time() - c) / steps)

    def report(self) -> dict:
        """The configuration's result (after its timed repeats)."""
        import keras
        import tensorflow as tf

        if self.gpus:
            memory = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
            memory_kind, growth = "gpu_peak", memory
        else:
            memory = _peak_rss_mb()
            memory_kind, growth = "process_peak_rss", memory - self.rss_before
        compute_dtype = self.model.get_layer("ffn_in_0").compute_dtype
        peak = matmul_peak_gflops(compute_dtype, min_time=self.spec.get("peak_seconds", 0.2))
        median = float(np.median(self.times))
        achieved = train_flops(self.spec["size"]) / median / 1e9
        checks = {
            "variable_dtype": self.model.get_layer("ffn_in_0").kernel.dtype,
            "compute_dtype": compute_dtype,
            "logits_dtype": keras.backend.standardize_dtype(self.model.outputs[0].dtype),
            "jit_compile_requested": self.config.jit_compile,
            "jit_compile_kept": bool(self.model.jit_compile),
            "loss_scale_optimizer": isinstance(self.model.optimizer,
                                               keras.optimizers.LossScaleOptimizer),
            "env": {k: os.environ[k] for k in SEEN_ENV if k in os.environ},
        }
        if self.xla_log.enabled:
            checks.update(self.xla)
        return {
            "config": self.config.name, "description": self.config.description,
            "policy": self.policy, "device": self._device(), "checks": checks,
            "ms_per_step": _stats(self.times), "cpu_ms_per_step": _stats(self.cpu_times),
            "ms_per_repeat": [1e3 * t for t in self.times],
            "cpu_ms_per_repeat": [1e3 * t for t in self.cpu_times],
            "repeat_start_times": self.started,
            "examples_per_s": size_of(self.spec["size"]).batch / median,
            "warmup_s": self.warmup_s, "memory_mb": memory, "memory_kind": memory_kind,
            "memory_growth_mb": growth, "achieved_gflops": achieved,
            "matmul_peak_gflops": peak, "peak_share": achieved / peak,
            "final_loss": float(self.loss if np.isscalar(self.loss) else self.loss[0]),
        }

    def _device(self) -> dict:
        import tensorflow as tf

        device = {"kind": "GPU" if self.gpus else "CPU", "cpu": cpu_name(),
                  "cores": os.cpu_count(), "gpu": None, "tf32": None}
        if self.gpus:
            details = tf.config.experimental.get_device_details(self.gpus[0])
            device["gpu"] = details.get("device_name", self.gpus[0].name)
            device["tf32"] = bool(tf.config.experimental.tensor_float_32_execution_enabled())
        return device


def _stats(seconds: list[float]) -> dict[str, float]:
    return {"median": 1e3 * float(np.median(seconds)), "min": 1e3 * min(seconds),
            "max": 1e3 * max(seconds)}


def build_runs(spec: dict, names, log_fd: int | None = None, xla_log: XlaCounter | None = None,
               release_memory: bool = False) -> dict[str, ConfigRun]:
    """Every configuration of ``names``, built and warmed up, all from the same initial weights.
    XLA is seen in the log file ``log_fd`` (a child), or by ``xla_log`` (in-process runs).
    ``release_memory`` hands the heap that a build freed back to the system before the next
    (glibc's ``malloc_trim``; an XLA compilation of the tiny tagger frees ~0.1 GB it peaked at).

    The seed is set once, before the first model: ``keras.utils.set_random_seed`` also sets
    TensorFlow's global seed, which makes every existing ``tf.function`` retrace on its next call,
    so seeding again for a second configuration would put a retrace (an XLA recompilation, for
    a jit-compiled one) into the first configuration's first timed repeat. Later configurations
    start from the first one's initial weights instead.
    """
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(spec.get("seed", 0))
    runs = {}
    for i, name in enumerate(names):
        first = next(iter(runs.values()), None)
        runs[name] = ConfigRun(spec, name, xla_log or XlaLog(log_fd),
                               initial_weights=first.initial_weights if first else None,
                               keep_initial_weights=i == 0 and len(names) > 1)
        if release_memory:
            trim_heap()
    for run in runs.values():
        run.initial_weights = None
    return runs


def trim_heap() -> None:
    """Return the C heap's free pages to the system (glibc only; elsewhere nothing)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _serve(spec: dict, log_fd: int, reply) -> None:
    """Build every configuration of ``spec["configs"]``, then answer the parent's requests."""
    names = [one_of("configs", name, CONFIGS) for name in spec["configs"]]  # before TF loads
    runs = build_runs(spec, names, log_fd)
    reply({"ready": list(runs)})
    for line in sys.stdin:
        request = json.loads(line)
        if "time" in request:
            runs[request["time"]].time_repeat()
            reply({"timed": request["time"]})
        elif request.get("finish"):
            reply({"runs": [run.report() for run in runs.values()]})
            return


def child_main(spec_json: str) -> int:
    """Entry point of ``python -m lessons.fp16_xla.bench child SPEC``: see the module docstring.

    Messages go out on a copy of the original stdout; stdout and stderr themselves point at the
    log file, so that nothing else reaches the parent's reader. On an error the log's tail goes
    to the original stderr."""
    spec = json.loads(spec_json)
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    real_stderr = os.dup(2)

    def reply(message: dict) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    with tempfile.TemporaryFile(mode="w+b") as log:
        os.dup2(log.fileno(), 2)  # TF's C++ log (and its XLA lines) goes here
        os.dup2(log.fileno(), 1)
        try:
            _serve(spec, log.fileno(), reply)
        except BaseException:
            sys.stderr.flush()
            os.dup2(real_stderr, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
    return 0
