"""Every lesson notebook, opened in JupyterLab and run with Run > Run All Cells, in a real browser.

Stored outputs are cleared before the run, so what is checked here was drawn in this run: no error
output, every figure and table the stored notebook has is rendered again, every widget renders, and
each lesson's key result is on the page.
"""

from __future__ import annotations

import json
import re

import pytest
from e2e_lab import NOTEBOOKS, lesson_notebooks

pytestmark = pytest.mark.e2e

# The key result of each lesson, as text that must appear in the rendered outputs after Run All.
KEY_TEXT = {
    "00_start_here.ipynb": [
        r"device: (CPU|GPU)",
        r"01\s+AdaX vs Adam\s+lessons\.adax\s+https://kexue\.fm/archives/7387",
        r"05\s+Mixed precision and XLA\s+lessons\.fp16_xla\s+https://kexue\.fm/archives/9059",
    ],
    "01_adax.ipynb": [
        r"all \d+ agree to 1e-9: True",  # both v-hat recursions are moving averages
        r"optimizer\s+train loss\s+val loss",  # the Adam / AdaX / Adafactor table
    ],
    "04_tiger_fixed_point.ipynb": [
        r"closed form == simulation to 1e-9: True",
        r"variant\s+train\s+test\s+emb min",  # the embedding experiment's table
    ],
    "05_fp16_xla.ipynb": [
        r"config\s+policy\s+XLA\s+median",  # the speed-up table
    ],
}

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _stored_counts(name: str) -> dict[str, int]:
    """How many figures, HTML tables and widgets the stored notebook's outputs hold."""
    nb = json.loads((NOTEBOOKS / name).read_text())
    counts = {"img": 0, "table": 0, "widget_cells": 0}
    for cell in nb["cells"]:
        outputs = cell.get("outputs", [])
        has_widget = False
        for out in outputs:
            data = out.get("data", {})
            counts["img"] += any(k.startswith("image/") for k in data)
            html = data.get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            counts["table"] += "<table" in html
            has_widget |= WIDGET_MIME in data
        counts["widget_cells"] += has_widget
    return counts


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.notebook(n)) for n in lesson_notebooks()]
)
def test_run_all(name, notebook):
    page = notebook.page
    assert notebook.error_outputs() == []

    stored = _stored_counts(name)
    outputs = page.locator(".jp-Notebook .jp-OutputArea-output")
    rendered = {
        "img": outputs.locator("img").count(),
        "table": outputs.locator("table").count(),
    }
    assert rendered["img"] >= stored["img"], (rendered, stored)
    assert rendered["table"] >= stored["table"], (rendered, stored)
    if stored["widget_cells"]:
        assert page.locator(".jp-Notebook .jupyter-widgets").count() >= stored["widget_cells"]

    # textContent, not innerText: JupyterLab does not lay out cells that are out of view.
    text = "\n".join(outputs.all_text_contents())
    for pattern in KEY_TEXT.get(name, []):
        assert re.search(pattern, text), f"{pattern!r} not in the outputs of {name}"
    notebook.screenshot("_run_all")
