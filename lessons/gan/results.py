"""Where lesson 02's long runs store their results, and what they record about the machine."""

from __future__ import annotations

import os
from pathlib import Path

from lessons._core import results
from lessons._core.machine import cpu_name
from lessons._core.results import shipped as results_path

__all__ = ["BENCHMARK_FILE", "POST", "SEEDS_FILE", "environment", "results_path"]

SEEDS_FILE = "gan_seeds.json"
BENCHMARK_FILE = "gan_benchmark.json"
POST = "https://kexue.fm/archives/6387"


def find_result(path, name: str, command: str) -> Path:
    """The course's stored ``name`` if ``path`` is None, else ``path`` as given or a file of that
    name in the results folder (``lessons._core.results.find``); ``command`` wrote it.

    Raises:
        ValueError: neither exists (naming ``command`` and both places).
    """
    if path is None:
        return results_path(name)
    try:
        return results.find(path)
    except ValueError as error:
        raise ValueError(f"path must name a file written by `{command}`; {error}") from None


def environment() -> dict:
    """What a stored result was measured on: CPU, emulation variables, versions, load."""
    import keras
    import tensorflow as tf

    return {"cpu": cpu_name(), "cpus": os.cpu_count(),
            "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
            "TF_NUM_INTRAOP_THREADS": os.environ.get("TF_NUM_INTRAOP_THREADS", ""),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "load_average": [round(x, 2) for x in os.getloadavg()]}
