"""A benchmark result as JSON: its schema, the checks that a file is one, and the stored files.

The schema id stays ``lessons.fp16_xla.benchmark/1``: fields added later (the per-repeat timings
of the interleaved runs, the spread of each speed-up) are optional, so that the results stored
before them still validate and still show.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from lessons._core.results import SHIPPED_DIR, output_dir, output_path
from lessons.fp16_xla.bench.configs import CONFIGS, SIZES, size_of

__all__ = ["RESULTS_DIR", "RESULT_SCHEMA", "SCHEMA_ID", "list_results", "load_result",
           "result_filename", "save_result", "stored_results", "validate_result"]

RESULTS_DIR = SHIPPED_DIR  # lessons/results: the results the course ships
SCHEMA_ID = "lessons.fp16_xla.benchmark/1"

_NUM = (int, float)
_OPT_NUM = (int, float, type(None))
_STATS = {"median": _NUM, "min": _NUM, "max": _NUM}
_RUN_SCHEMA = {
    "config": str, "description": str, "policy": str,
    "device": {"kind": str, "cpu": str, "cores": int, "gpu": (str, type(None)),
               "tf32": (bool, type(None))},
    "checks": {"variable_dtype": str, "compute_dtype": str, "jit_compile_requested": bool,
               "jit_compile_kept": bool, "loss_scale_optimizer": bool, "env": dict,
               "xla_compiled": bool},
    "ms_per_step": _STATS,
    "cpu_ms_per_step": _STATS,
    "examples_per_s": _NUM, "warmup_s": _NUM, "memory_mb": _NUM, "memory_kind": str,
    "memory_growth_mb": _NUM, "achieved_gflops": _NUM, "matmul_peak_gflops": _NUM,
    "peak_share": _NUM, "final_loss": _NUM, "speedup": _OPT_NUM, "speedup_best": _OPT_NUM,
    "speedup_cpu": _OPT_NUM,
}
# Fields added later: checked when present (results stored before them lack them).
_OPTIONAL_SETTINGS = {"share_process": bool, "in_process": bool, "seed": int, "order": str}
_OPTIONAL_CHECKS = {"xla_compilations": int, "logits_dtype": str}
_OPTIONAL_RUN = {"ms_per_repeat": [_NUM], "cpu_ms_per_repeat": [_NUM],
                 "repeat_start_times": [_NUM]}
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


def _check_optional(container: dict, specs: dict, where: str):
    for key, spec in specs.items():
        if key in container:
            _check(container[key], spec, f"{where}[{key!r}]")


def _check_timings(run: dict, repeats: int, where: str):
    t = run["ms_per_step"]
    if not all(math.isfinite(v) and v > 0 for v in t.values()):
        raise ValueError(f"{where}['ms_per_step'] must be finite and > 0, got {t}")
    if not t["min"] <= t["median"] <= t["max"]:
        raise ValueError(f"{where}['ms_per_step'] must satisfy min <= median <= max")
    for key in ("ms_per_repeat", "cpu_ms_per_repeat", "repeat_start_times"):
        if key in run and len(run[key]) != repeats:
            raise ValueError(f"{where}[{key!r}] must hold one value per repeat ({repeats}), "
                             f"got {len(run[key])}")
    if "ms_per_repeat" in run and not (math.isclose(min(run["ms_per_repeat"]), t["min"])
                                       and math.isclose(max(run["ms_per_repeat"]), t["max"])):
        raise ValueError(f"{where}['ms_per_repeat'] must span ms_per_step's min and max")
    starts = run.get("repeat_start_times", [])
    if any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
        raise ValueError(f"{where}['repeat_start_times'] must increase")
    spread = run.get("speedup_spread")
    if spread is not None:
        _check(spread, {"min": _NUM, "median": _NUM, "max": _NUM}, f"{where}['speedup_spread']")
        if not 0 < spread["min"] <= spread["median"] <= spread["max"]:
            raise ValueError(f"{where}['speedup_spread'] must satisfy 0 < min <= median <= max")


def validate_result(result: dict) -> dict:
    """Check a benchmark result against :data:`RESULT_SCHEMA` and its invariants; return it.

    Raises ``ValueError`` naming the first offending field: missing keys, wrong types, an
    unknown schema id, configuration or size, timings that are not finite and positive or
    not ordered min <= median <= max, per-repeat lists of the wrong length, a speed-up spread
    out of order.
    """
    _check(result, RESULT_SCHEMA, "result")
    if result["schema"] != SCHEMA_ID:
        raise ValueError(f"result['schema'] must be {SCHEMA_ID!r}, got {result['schema']!r}")
    size_of(result["size"])
    _check_optional(result["settings"], _OPTIONAL_SETTINGS, "result['settings']")
    for i, run in enumerate(result["runs"]):
        where = f"result['runs'][{i}]"
        _check_optional(run["checks"], _OPTIONAL_CHECKS, f"{where}['checks']")
        _check_optional(run, _OPTIONAL_RUN, where)
        if run["config"] not in CONFIGS:
            raise ValueError(f"{where}['config'] must be one of {list(CONFIGS)}")
        _check_timings(run, result["settings"]["repeats"], where)
        for key in ("examples_per_s", "achieved_gflops", "matmul_peak_gflops", "memory_mb"):
            if not (math.isfinite(run[key]) and run[key] > 0):
                raise ValueError(f"{where}[{key!r}] must be finite and > 0, got {run[key]}")
    return result


def result_filename(result: dict) -> str:
    """``fp16_xla_<device>_<size>.json``, the device slugged from the result's device."""
    d = result["device"]
    name = d["gpu"] if d["kind"] == "GPU" else f"{d['cpu']}-{d['cores']}c"
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return f"fp16_xla_{d['kind'].lower()}-{slug}_{result['size']}.json"


def save_result(result: dict, directory: str | Path | None = None, *,
                force: bool = False) -> Path:
    """Validate and write ``result`` as JSON, named by :func:`result_filename`.

    Args:
        result: a benchmark result.
        directory: where to write (default ``lessons._core.results.output_dir()``:
            ``$LESSONS_RESULTS`` or ``~/lessons-results``, never the course's stored results).
        force: replace an existing file, or write into ``lessons/results`` (default False).

    Raises:
        ValueError: the file exists, or ``directory`` is the course's stored results, and
            ``force`` is False.
    """
    validate_result(result)
    name = result_filename(result)
    path = output_path(None if directory is None else Path(directory) / name, name, force=force)
    path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load_result(path: str | Path) -> dict:
    """Read and validate one stored result."""
    return validate_result(json.loads(Path(path).read_text(encoding="utf-8")))


def list_results(directory: str | Path | None = None) -> list[Path]:
    """Stored result files (``fp16_xla_*.json``), sorted by name (default lessons/results)."""
    return sorted((Path(directory) if directory is not None else RESULTS_DIR)
                  .glob("fp16_xla_*.json"))


def stored_results(size: str | None = None, directory=None, *,
                   include_yours: bool = False) -> list[dict]:
    """Every stored result (validated), optionally of one size.

    Args:
        size: a key of ``SIZES``, or None for all (default).
        directory: where to look (default ``lessons/results``, the course's stored runs).
        include_yours: add the results ``python -m lessons.fp16_xla benchmark --save`` wrote
            into ``lessons._core.results.output_dir()`` (default False).
    """
    if size is not None and size not in SIZES:
        raise ValueError(f"size must be one of {list(SIZES)} or None, got {size!r}")
    paths = list_results(directory)
    if include_yours and output_dir().is_dir():
        paths += [p for p in list_results(output_dir()) if p not in paths]
    results = [load_result(p) for p in paths]
    return [r for r in results if size is None or r["size"] == size]
