"""What a stored measurement records about the machine it ran on."""

from __future__ import annotations

import platform
from pathlib import Path

__all__ = ["cpu_name"]


def cpu_name(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name: the first "model name" line of ``cpuinfo`` (Linux), else
    ``platform.processor()`` or, if that is empty, ``platform.machine()``.

    Args:
        cpuinfo: the file to read (default "/proc/cpuinfo").
    """
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
