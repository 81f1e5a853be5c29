"""The benchmark's parent: start one child process per configuration, then time them interleaved.

Each configuration trains in its own fresh subprocess (``python -m lessons.fp16_xla.bench child``),
so that a global dtype policy or ``TF_XLA_FLAGS`` cannot leak into the next. Every child first
builds and warms up its model (tracing and XLA compilation stay out of the timings); then the
parent asks for one timed repeat at a time, in rounds with the same order every round
(A B C A B C ...: "ABAB"). A slow spell of the machine then hits every configuration in the same
round instead of one configuration's whole measurement, and each round gives one speed-up per
configuration: their min..max is the speed-up's spread.

``share_process=True`` runs configurations whose environment is the same in one subprocess
instead (one TensorFlow import instead of several: the tests use it); the memory columns then
mean little, since the process's peak is shared. ``in_process=True`` runs them in the calling
process (the notebook's live run: a second TensorFlow process would add 1.1 GB to the kernel's
0.8, over a hub's budget of 1.2 GB per student); XLA is then seen by :class:`XlaCounter`.
"""

from __future__ import annotations

import json
import os
import platform
import queue
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

from lessons._core.checks import integer, number
from lessons._core.notebook import course_seed, progress_disabled
from lessons._core.notebook import progress as progress_bar
from lessons.fp16_xla.bench.child import XlaCounter, build_runs, trim_heap
from lessons.fp16_xla.bench.configs import (
    CONFIGS,
    CPU_AUTOJIT_FLAG,
    MAIN_CONFIGS,
    size_of,
    train_flops,
)
from lessons.fp16_xla.bench.schema import SCHEMA_ID
from lessons.fp16_xla.bench.workload import make_batch

__all__ = ["child_env", "child_spec", "live_benchmark", "process_groups", "run_benchmark"]

XLA_VMODULE = "device_compilation_profiler=1"
ROOT = Path(__file__).resolve().parents[3]  # the directory holding the lessons package


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
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
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


def _check_configs(configs):
    if isinstance(configs, str) or not configs:
        raise ValueError(f"configs must be a non-empty sequence of names, got {configs!r}")
    for c in configs:
        if c not in CONFIGS:
            raise ValueError(f"configs must be names from {list(CONFIGS)}, got {c!r}")
    if len(set(configs)) != len(configs):
        raise ValueError(f"configs must not repeat a name, got {list(configs)}")


def _gpu_visible() -> bool:
    """Whether a GPU is visible, asked without importing TensorFlow here."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/proc/driver/nvidia/gpus").exists() or Path("/dev/nvidia0").exists()


def child_spec(size: str, steps: int, repeats: int, warmup: int, batch_file: str,
               peak_seconds: float = 0.2, seed: int | None = None) -> dict:
    """The JSON spec every child of one benchmark gets (``configs`` is added per child);
    ``seed`` defaults to the course seed (``lessons.course_seed``)."""
    return {"size": size, "steps": steps, "repeats": repeats, "warmup": warmup,
            "batch_file": batch_file, "peak_seconds": peak_seconds, "seed": course_seed(seed)}


class _Child:
    """A running child process and the JSON lines it sends (read by a thread, so that every
    wait has a timeout)."""

    def __init__(self, group: list[str], spec: dict, env: dict, log_dir: str, timeout: float):
        self.group, self.timeout = group, timeout
        self.stderr_path = Path(log_dir) / f"stderr_{'_'.join(group)}.txt".replace("+", "-")
        with open(self.stderr_path, "w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lessons.fp16_xla.bench", "child",
                 json.dumps({**spec, "configs": group})],
                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def receive(self, key: str):
        """The value of ``key`` in the child's next message (other lines are skipped)."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"benchmark of {self.group} sent no {key!r} within "
                                   f"{self.timeout:g} s") from None
            if line is None:
                self.proc.wait()
                tail = self.stderr_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"benchmark of {self.group} failed:\n{tail}")
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if key in message:
                return message[key]

    def send(self, **message):
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def close(self):
        """Close its stdin (a child then ends), wait a little, else kill it."""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def _interleaved(groups, configs, spec, env_of, repeats, jobs, timeout, bar) -> list[dict]:
    """Start the children (``jobs`` at a time), time ``repeats`` rounds of ``configs`` in the
    same order every round, collect each configuration's result (in ``configs`` order)."""
    children: list[_Child] = []
    with tempfile.TemporaryDirectory(prefix="fp16_xla_log_") as log_dir:
        def start(group: list[str]) -> _Child:
            child = _Child(group, spec, env_of(group[0]), log_dir, timeout)
            children.append(child)
            child.receive("ready")
            if bar is not None:
                bar.update(len(group))
            return child

        try:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                started = list(pool.map(start, groups))
            child_of = {name: child for child in started for name in child.group}
            for _ in range(repeats):  # A B C, A B C, ...: the same order every round
                for name in configs:
                    child_of[name].send(time=name)
                    child_of[name].receive("timed")
                    if bar is not None:
                        bar.update(1)
            by_name = {}
            for child in started:
                child.send(finish=True)
                by_name.update((run["config"], run) for run in child.receive("runs"))
        finally:
            for child in children:
                child.close()
    return [by_name[c] for c in configs]


def _in_process(configs, spec, repeats, bar) -> list[dict]:
    """Build and warm up ``configs`` here, time ``repeats`` rounds in the same order every
    round, and return each configuration's result (in ``configs`` order)."""
    trim_heap()  # what the kernel's earlier cells freed
    # jit-compiled ones first: each XLA compilation peaks while fewer other models are alive
    build_order = sorted(configs, key=lambda name: not CONFIGS[name].jit_compile)
    runs = build_runs(spec, build_order, xla_log=XlaCounter(), release_memory=True)
    if bar is not None:
        bar.update(len(configs))
    for _ in range(repeats):
        for name in configs:
            runs[name].time_repeat()
            if bar is not None:
                bar.update(1)
    return [runs[name].report() for name in configs]


def _add_speedups(runs: list[dict]) -> None:
    """Speed-ups over FP32 (None without an "fp32" run): ``speedup`` by medians,
    ``speedup_best`` by fastest repeats, ``speedup_cpu`` by median CPU time per step, and
    ``speedup_spread``: min, median and max over rounds of FP32's time / the run's time in the
    same round."""
    base = next((r for r in runs if r["config"] == "fp32"), None)
    for r in runs:
        for key, timing, stat in (("speedup", "ms_per_step", "median"),
                                  ("speedup_best", "ms_per_step", "min"),
                                  ("speedup_cpu", "cpu_ms_per_step", "median")):
            r[key] = base[timing][stat] / r[timing][stat] if base is not None else None
        r["speedup_spread"] = None
        if base is not None:
            ratios = np.array(base["ms_per_repeat"]) / np.array(r["ms_per_repeat"])
            r["speedup_spread"] = {"min": float(ratios.min()),
                                   "median": float(np.median(ratios)),
                                   "max": float(ratios.max())}


def run_benchmark(configs=MAIN_CONFIGS, size: str = "tiny", steps: int = 10, repeats: int = 5,
                  warmup: int = 2, *, jobs: int = 1, progress: bool = True,
                  cpu_global_jit: bool = True, peak_seconds: float = 0.2,
                  share_process: bool = False, in_process: bool = False,
                  seed: int | None = None, timeout: float = 900.0) -> dict:
    """Time a training step of the tagger under each configuration, interleaved (ABAB).

    Args:
        configs: names from ``CONFIGS`` (default the four main ones).
        size: a key of ``SIZES`` (default "tiny").
        steps: timed steps per repeat (default 10).
        repeats: rounds; each times every configuration once, in ``configs`` order; the
            median/min/max and the speed-up spreads are over these (default 5).
        warmup: untimed steps first (tracing, XLA compilation; default 2).
        jobs: subprocesses started and warmed up at once (default 1; more only for tests:
            their warm-ups then share the CPU). Timed repeats always run one at a time.
        progress: a progress bar over start-ups and timed repeats (default True).
        cpu_global_jit: on a CPU, add ``--tf_xla_cpu_global_jit`` to the auto-clustering
            configurations' flags (default True; False runs the post's flags verbatim).
        peak_seconds: timing budget of each child's matmul-peak measurement (default 0.2).
        share_process: run configurations with the same environment in one subprocess
            (default False: a fresh one each); see :func:`process_groups`.
        in_process: run every configuration in this process instead, one after another built
            and warmed up, then timed in rounds (default False). Only configurations without
            ``TF_XLA_FLAGS`` can (those are read when TensorFlow starts); it re-seeds this
            process (``keras.utils.set_random_seed(seed)``) and clears Keras's session.
        seed: initialisation seed of every model (default: the course seed).
        timeout: seconds allowed for each reply of a subprocess: its start-up and warm-up, a
            timed repeat, its final report (default 900).

    Returns:
        A result dict (see ``validate_result``); each run holds ``ms_per_repeat`` (in round
        order), ``speedup`` (FP32's median over the configuration's), ``speedup_best`` (the
        same for the fastest repeats), ``speedup_cpu`` (for the median CPU time per step, all
        threads; on a shared machine it is less disturbed than wall time) and
        ``speedup_spread`` (min, median, max of the per-round speed-ups), when "fp32" is among
        ``configs``, else None.
    """
    _check_configs(configs)
    size_of(size)
    integer("steps", steps)
    integer("repeats", repeats)
    integer("warmup", warmup)
    integer("jobs", jobs)
    number("peak_seconds", peak_seconds, low=0.0, high=10.0, low_open=True)
    number("timeout", timeout, low=0.0, low_open=True)
    seed = course_seed(seed)  # checked here, before any work
    configs = list(configs)
    if in_process:
        needs_flags = [c for c in configs if CONFIGS[c].tf_xla_flags]
        if needs_flags:
            raise ValueError(f"configs {needs_flags} set TF_XLA_FLAGS, which TensorFlow reads "
                             "when it starts: they cannot run with in_process=True")

    load_before = [round(v, 2) for v in os.getloadavg()]
    on_cpu = not _gpu_visible()
    groups = process_groups(configs, share_process, on_cpu, cpu_global_jit)
    # outputs stored with $TQDM_DISABLE set must hold no bar's first frame
    bar = (progress_bar(total=len(configs) * (1 + repeats), desc=f"benchmark ({size})")
           if progress and not progress_disabled() else None)
    with tempfile.TemporaryDirectory(prefix="fp16_xla_") as tmp:
        batch_file = str(Path(tmp) / "batch.npz")
        np.savez(batch_file, **make_batch(size))
        spec = child_spec(size, steps, repeats, warmup, batch_file, peak_seconds, seed)
        try:
            if in_process:
                runs = _in_process(configs, spec, repeats, bar)
            else:
                runs = _interleaved(
                    groups, configs, spec,
                    lambda c: child_env(c, on_cpu, cpu_global_jit=cpu_global_jit),
                    repeats, jobs, timeout, bar)
        finally:
            if bar is not None:
                bar.close()
    _add_speedups(runs)
    settings = {"steps": steps, "repeats": repeats, "warmup": warmup, "jobs": jobs,
                "cpu_global_jit": cpu_global_jit, "peak_seconds": peak_seconds,
                "share_process": share_process, "in_process": in_process, "seed": seed,
                "order": "ABAB"}
    return _assemble(runs[0]["device"], size, settings, runs, load_before)


def live_benchmark(configs=("fp32", "xla"), size: str = "tiny", seed: int | None = None,
                   progress: bool = True) -> dict:
    """The notebook's live run: :func:`run_benchmark` in this process (``in_process=True``: the
    kernel peaks at about 1.1 GB instead of 1.9 with a second TensorFlow process), 5 rounds of 4
    steps after 2 warm-up steps, a short matmul peak.

    Args:
        configs: configurations without ``TF_XLA_FLAGS`` (default FP32 and XLA).
        size: a key of ``SIZES`` (default "tiny").
        seed: initialisation seed (default: the course seed).
        progress: a progress bar (default True).
    """
    return run_benchmark(list(configs), size=size, steps=4, repeats=5, warmup=2,
                         peak_seconds=0.05, in_process=True, seed=seed, progress=progress)


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
        "workload": {**asdict(size_of(size)), "train_flops_per_step": train_flops(size)},
        "settings": settings,
        "runs": runs,
    }
