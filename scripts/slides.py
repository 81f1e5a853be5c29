"""Give every lesson notebook RISE slide metadata (`make slides`; idempotent).

A Markdown cell that opens with a level-1 or level-2 heading starts a new slide; one that opens
with a level-3 heading a sub-slide (below the current slide); every other cell continues the slide
it follows. Headings open their cells (a test keeps it so), so a slide never carries the tail of
the section before. jupyterlab-rise (the `teach` extra) presents the notebook from this metadata.

    python scripts/slides.py notebooks/0*.ipynb
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

HEADING = re.compile(r"^(#{1,3}) ")


def slide_type(cell) -> str:
    """A Markdown cell that opens with a #/## heading opens a slide, with a ### a sub-slide."""
    if cell.cell_type == "markdown" and (m := HEADING.match(cell.source)):
        return "slide" if len(m.group(1)) <= 2 else "subslide"
    return "-"


def add_slides(nb):
    """Set ``metadata.slideshow.slide_type`` on every cell; the first cell always opens a slide."""
    for i, cell in enumerate(nb.cells):
        kind = "slide" if i == 0 else slide_type(cell)
        cell.metadata["slideshow"] = {"slide_type": kind}
    return nb


def main(paths) -> int:
    for name in paths:
        path = Path(name)
        nb = nbformat.read(path, as_version=4)
        before = [c.metadata.get("slideshow") for c in nb.cells]
        add_slides(nb)
        if before != [c.metadata.get("slideshow") for c in nb.cells]:
            nbformat.write(nb, path)
            print(f"{path}: slide metadata written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
