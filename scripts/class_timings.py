"""Measure how long each section of a lesson notebook runs (for the teacher guides' plans).

Executes the notebook in a fresh kernel (nothing is written back) and prints, per `##` section,
the seconds its code cells took and the number of Markdown words a class reads there.

    python scripts/class_timings.py notebooks/01_adax.ipynb ...
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def section_times(path: Path) -> list[tuple[str, float, int]]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    sections, current = [], ["(title)", 0.0, 0]
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                heading = re.search(r"^##\s+(.*)", cell.source, re.M)
                if heading:
                    sections.append(tuple(current))
                    current = [heading.group(1).strip(), 0.0, 0]
                current[2] += len(cell.source.split())
            elif cell.cell_type == "code":
                start = time.perf_counter()
                client.execute_cell(cell, index)
                current[1] += time.perf_counter() - start
    sections.append(tuple(current))
    return sections


if __name__ == "__main__":
    for name in sys.argv[1:]:
        rows = section_times(Path(name))
        print(f"== {name}: {sum(r[1] for r in rows):.1f} s of code, "
              f"{sum(r[2] for r in rows)} words")
        for title, seconds, words in rows:
            print(f"  {seconds:6.1f} s {words:5d} words  {title}")
