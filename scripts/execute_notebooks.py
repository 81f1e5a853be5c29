"""Re-execute notebooks in place, storing outputs but not widget state (`make notebooks`).

nbclient 0.11 crashes with a KeyError when `store_widget_state=False` and an `Output` widget
captures output during execution, so this runs with widget state on and drops it before saving.

    python scripts/execute_notebooks.py notebooks/*.ipynb
"""

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


# What `make notebooks` sets too: a failing claim raises; no progress bar's first frame is stored.
KERNEL_ENV = {"LESSONS_STRICT": "1", "TQDM_DISABLE": "1"}


def execute(path: Path, timeout: int = 900) -> float:
    os.environ.update(KERNEL_ENV)
    os.environ.pop("MPLBACKEND", None)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {execute(Path(name)):.1f} s", flush=True)
