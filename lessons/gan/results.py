"""Where lesson 02's long runs store their results, and what they record about the machine."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

__all__ = ["BENCHMARK_FILE", "POST", "SEEDS_FILE", "environment", "results_path"]

SEEDS_FILE = "gan_seeds.json"
BENCHMARK_FILE = "gan_benchmark.json"
POST = "https://kexue.fm/archives/6387"


def results_path(name: str) -> Path:
    """``lessons/results/<name>`` inside the installed package."""
    return Path(str(files("lessons"))) / "results" / name


def environment() -> dict:
    """What a stored result was measured on: CPU, emulation variables, versions, load."""
    import platform

    import keras
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(),
            "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
            "TF_NUM_INTRAOP_THREADS": os.environ.get("TF_NUM_INTRAOP_THREADS", ""),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "load_average": [round(x, 2) for x in os.getloadavg()]}
