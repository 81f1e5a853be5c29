"""Reading benchmark results: flat rows, the post's numbers beside ours, a speed-up matrix, the
reference machine's results, and every way a run differs from what its name says."""

from __future__ import annotations

import numpy as np

from lessons.fp16_xla.bench.configs import CONFIGS, POST_3090, expected_checks
from lessons.fp16_xla.bench.schema import validate_result

__all__ = ["REFERENCE_CPU", "config_mismatches", "post_comparison", "reference_results",
           "speedup_matrix", "speedup_rows", "speedup_spreads"]

REFERENCE_CPU = ("CPU", "AMD EPYC", 2)  # the machine the shipped results were stored on


def speedup_rows(result: dict) -> list[dict[str, object]]:
    """One flat row per configuration of a (validated) benchmark result, in run order;
    ``spread_min``/``spread_max`` are the per-round speed-ups' range (None when the result has
    none: stored before the interleaved harness, or without an FP32 run)."""
    rows = []
    for run in validate_result(result)["runs"]:
        t, c = run["ms_per_step"], run["checks"]
        spread = run.get("speedup_spread") or {}
        rows.append({
            "config": run["config"], "policy": run["policy"],
            "xla": "jit" if c["jit_compile_kept"] else ("auto" if c["xla_compiled"] else "-"),
            "xla_compiled": c["xla_compiled"], "ms_median": t["median"], "ms_min": t["min"],
            "ms_max": t["max"], "examples_per_s": run["examples_per_s"],
            "speedup": run["speedup"], "speedup_best": run["speedup_best"],
            "speedup_cpu": run["speedup_cpu"], "cpu_ms_median": run["cpu_ms_per_step"]["median"],
            "spread_min": spread.get("min"), "spread_max": spread.get("max"),
            "memory_mb": run["memory_mb"],
            "memory_growth_mb": run["memory_growth_mb"], "peak_share": run["peak_share"],
        })
    return rows


def post_comparison(result: dict) -> list[dict[str, object]]:
    """The post's RTX 3090 speed-ups beside this result's (by medians, ``ours``; by best
    repeats, ``ours_best``; by CPU time, ``ours_cpu``), for the configurations both have."""
    rows = {r["config"]: r for r in speedup_rows(result)}
    return [{"config": c, "post_3090": post, "ours": rows[c]["speedup"],
             "ours_best": rows[c]["speedup_best"], "ours_cpu": rows[c]["speedup_cpu"]}
            for c, post in POST_3090.items() if c in rows and rows[c]["speedup"] is not None]


def speedup_matrix(results) -> tuple[list[str], list[str], np.ndarray]:
    """Configurations x sources of speed-up over FP32: the post's 3090 first, then each result.

    Returns ``(configs, labels, matrix)`` with ``matrix[i, j]`` the speed-up of ``configs[i]``
    in source ``labels[j]`` (NaN where a source lacks that configuration).
    """
    results = [validate_result(r) for r in results]
    configs = [c for c in CONFIGS if c != "fp32" and (
        c in POST_3090 or any(run["config"] == c for r in results for run in r["runs"]))]
    labels = ["post: RTX 3090 (TF 1.15)"] + [r["label"] for r in results]
    matrix = np.full((len(configs), len(labels)), np.nan)
    for i, c in enumerate(configs):
        matrix[i, 0] = POST_3090.get(c, np.nan)
        for j, r in enumerate(results, start=1):
            for run in r["runs"]:
                if run["config"] == c and run["speedup"] is not None:
                    matrix[i, j] = run["speedup"]
    return configs, labels, matrix


def speedup_spreads(results) -> tuple[np.ndarray, np.ndarray]:
    """The per-round speed-up range behind :func:`speedup_matrix`: ``(low, high)``, each of its
    shape (NaN where a source has no spread: the post, and results stored before the harness
    interleaved configurations)."""
    results = [validate_result(r) for r in results]
    configs, _, matrix = speedup_matrix(results)
    low, high = np.full_like(matrix, np.nan), np.full_like(matrix, np.nan)
    for i, c in enumerate(configs):
        for j, r in enumerate(results, start=1):
            for run in r["runs"]:
                if run["config"] == c and run.get("speedup_spread"):
                    low[i, j], high[i, j] = (run["speedup_spread"]["min"],
                                             run["speedup_spread"]["max"])
    return low, high


def reference_results(results) -> dict[str, dict]:
    """The stored results of :data:`REFERENCE_CPU` by size (the verdict's evidence)."""
    out = {}
    for r in results:
        d = r["device"]
        if (d["kind"], d["cpu"], d["cores"]) == REFERENCE_CPU:
            out.setdefault(r["size"], r)
    return out


def config_mismatches(result: dict) -> list[str]:
    """Every way the runs of a result differ from ``expected_checks`` ("config: field")."""
    on_gpu = result["device"]["kind"] == "GPU"
    if not result["settings"].get("cpu_global_jit", True) and not on_gpu:
        raise ValueError("result ran the post's flags verbatim: auto-clustering is expected "
                         "to do nothing on a CPU, so expected_checks does not apply")
    bad = []
    for run in result["runs"]:
        for key, want in expected_checks(run["config"], on_gpu).items():
            if run["checks"].get(key) != want:
                bad.append(f"{run['config']}: {key}")
    return bad
