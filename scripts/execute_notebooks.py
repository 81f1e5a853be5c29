"""Re-execute notebooks in place, storing outputs but not widget state (`make notebooks`).

nbclient 0.11 crashes with a KeyError when `store_widget_state=False` and an `Output` widget
captures output during execution, so this runs with widget state on and drops it before saving.

    python scripts/execute_notebooks.py notebooks/*.ipynb
    python scripts/execute_notebooks.py --clear-tagged exercise-run notebooks/exercises/student/*.ipynb

``--clear-tagged TAG`` (optional) drops the outputs of every cell tagged TAG after executing: the
student exercise copies run their predict-then-run cells but store no result of them.
"""

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

# What `make notebooks` sets too: a failing claim raises; no progress bar's first frame is stored.
KERNEL_ENV = {"LESSONS_STRICT": "1", "TQDM_DISABLE": "1"}


def execute(path: Path, timeout: int = 900, clear_tagged: str | None = None) -> float:
    os.environ.update(KERNEL_ENV)
    os.environ.pop("MPLBACKEND", None)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if clear_tagged and clear_tagged in cell.metadata.get("tags", []):
            cell.outputs = []
    nbformat.write(nb, path)
    return seconds


if __name__ == "__main__":
    args, tag = sys.argv[1:], None
    if args[:1] == ["--clear-tagged"]:
        tag, args = args[1], args[2:]
    for name in args:
        print(f"{name}: {execute(Path(name), clear_tagged=tag):.1f} s", flush=True)
