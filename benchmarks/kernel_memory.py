"""Peak memory of one kernel per lesson notebook: the kernel and its children, read from /proc.

    .venv/bin/python benchmarks/kernel_memory.py            # every notebook, 00-05
    .venv/bin/python benchmarks/kernel_memory.py 04 --cells # one lesson, with its heaviest cells

Each notebook runs top to bottom in a fresh kernel (nbclient, as a student's Run All does) while a
thread reads the resident memory (VmRSS) of the kernel and every process below it every 0.1 s.
It prints, per notebook, the peak, the memory after the setup cell (TensorFlow imported), the run
time, and whether the peak is within the budget a hub sizes a kernel by (--budget, default 1.2 GB).
With --cells it also lists the cells that raised the peak most. Not a timed test: the numbers are
for the sizing table in teacher/hub.md. Exit status 1 when a notebook is over budget.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.control import descendants, rss_bytes  # noqa: E402

NOTEBOOKS = {path.name[:2]: path for path in sorted((ROOT / "notebooks").glob("0[0-9]_*.ipynb"))}
GB = 2**30


class Poll(threading.Thread):
    """The peak RSS of a process tree, overall and since the last ``mark``."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = self.since_mark = self.now = 0
        self.halt = threading.Event()

    def sample(self) -> None:
        self.now = rss_bytes({self.pid} | descendants(self.pid))
        self.peak = max(self.peak, self.now)
        self.since_mark = max(self.since_mark, self.now)

    def mark(self) -> int:
        """The peak since the previous mark (sampled once more now), and start a new interval."""
        self.sample()
        peak, self.since_mark = self.since_mark, self.now
        return peak

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            self.sample()


def profile(path: Path, timeout: float = 600.0) -> dict:
    """Run one notebook in a fresh kernel; its peak RSS, RSS after the setup cell, per-cell peaks."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    env = {**os.environ, "LESSONS_STRICT": "1", "TQDM_DISABLE": "1"}
    env.pop("MPLBACKEND", None)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    cells, start = [], time.perf_counter()
    with client.setup_kernel(env=env, cwd=str(path.parent)):
        poll = Poll(client.km.provisioner.process.pid)
        poll.start()
        after_setup = None
        try:
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code":
                    continue
                before = poll.peak
                client.execute_cell(cell, index)
                rise = max(0, poll.mark() - before)  # how far this cell lifted the peak so far
                cells.append((rise, index, cell.source.splitlines()[0][:60] if cell.source else ""))
                if after_setup is None and "lessons.setup(" in cell.source:
                    after_setup = poll.now
        finally:
            poll.halt.set()
            poll.join()
    return {"peak": poll.peak, "after_setup": after_setup or 0, "seconds": time.perf_counter() - start,
            "cells": cells}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", metavar="NN",
                        help=f"notebooks by number (default all: {' '.join(NOTEBOOKS)})")
    parser.add_argument("--budget", type=float, default=1.2, help="GB one kernel may peak at (default 1.2)")
    parser.add_argument("--cells", action="store_true", help="list the five cells that raised the peak most (setup first)")
    args = parser.parse_args()
    unknown = [n for n in args.lessons if n not in NOTEBOOKS]
    if unknown:  # checked here: argparse's choices reject an empty list under nargs="*"
        parser.error(f"NN must be among {' '.join(NOTEBOOKS)}, got {' '.join(unknown)}")
    if not 0 < args.budget <= 64:
        parser.error(f"--budget must be in (0, 64] GB, got {args.budget}")

    over = []
    print(f"{'notebook':<32} {'peak GB':>8} {'after setup':>12} {'run s':>6}  within {args.budget} GB")
    for number in args.lessons or list(NOTEBOOKS):
        path = NOTEBOOKS[number]
        result = profile(path)
        within = result["peak"] <= args.budget * GB
        over += [] if within else [path.name]
        print(f"{path.name:<32} {result['peak'] / GB:8.2f} {result['after_setup'] / GB:12.2f} "
              f"{result['seconds']:6.1f}  {'yes' if within else 'NO'}", flush=True)
        if args.cells:
            for rise, index, first_line in sorted(result["cells"], reverse=True)[:5]:
                print(f"    cell {index:3d}  +{rise / GB:4.2f} GB  {first_line}")
    if over:
        print(f"over {args.budget} GB: {', '.join(over)}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
