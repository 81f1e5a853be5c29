"""The classroom kit in a real browser: a student works an exercise (a wrong answer shows FAIL, a
hint appears, the solution shows PASS), and a lesson is presented as slides with jupyterlab-rise.
Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import json
import re

import pytest
from e2e_lab import ARTIFACTS, NOTEBOOKS, PAGE_TIMEOUT, run_scratch_cell, wait_idle
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

EXERCISE = "exercises/student/01_adax.ipynb"
CHECK = re.compile(r"([\w.]+)\.check\(")


def _first_exercise(name: str) -> tuple[str, str]:
    """The first check cell of the instructor notebook: (the check's object, solution source)."""
    nb = json.loads((NOTEBOOKS / name.replace("student/", "")).read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and CHECK.search(source):
            solution = "\n".join(line for line in source.splitlines()
                                 if "SOLUTION" not in line)
            return CHECK.search(source).group(1), solution
    raise AssertionError(f"{name} has no check cell")


def _replace_and_run(notebook, cell, code: str):
    editor = cell.locator(".jp-InputArea-editor")
    editor.click()
    notebook.page.keyboard.press("Control+A")
    notebook.page.keyboard.insert_text(code)
    notebook.page.keyboard.press("Shift+Enter")
    wait_idle(notebook)


@pytest.mark.notebook(EXERCISE)
def test_student_fails_reads_a_hint_then_passes(notebook):
    assert notebook.error_outputs() == []
    outputs = notebook.page.locator(".jp-Notebook .jp-OutputArea-output")
    text = "\n".join(outputs.all_text_contents())
    assert "UNATTEMPTED" in text and "PASS" not in text and "FAIL" not in text

    target, solution = _first_exercise(EXERCISE)
    cell = notebook.code_cell(f"{target}.check(")
    stored = json.loads((NOTEBOOKS / EXERCISE).read_text())
    blank = next("".join(c["source"]) for c in stored["cells"]
                 if c["cell_type"] == "code" and f"{target}.check(" in "".join(c["source"]))
    assert "____" in blank

    _replace_and_run(notebook, cell, blank.replace("____", "0"))  # a wrong answer
    expect(cell.locator(".jp-OutputArea-output")).to_contain_text("FAIL")
    expect(cell.locator(".jp-OutputArea-output")).to_contain_text("expected")
    notebook.screenshot("_fail", cell)

    assert "HINT" in run_scratch_cell(notebook, f"{target}.hint()")

    _replace_and_run(notebook, cell, solution)
    expect(cell.locator(".jp-OutputArea-output")).to_contain_text("PASS")
    assert notebook.error_outputs(cell) == []
    notebook.screenshot("_pass", cell)


def test_lesson_presents_as_slides(lab_server, browser_context):
    """jupyterlab-rise serves /rise/<notebook>: the title slide, then the next slide."""
    name = "01_adax.ipynb"
    stored = json.loads((NOTEBOOKS / name).read_text())
    slides = [c for c in stored["cells"]
              if c["metadata"].get("slideshow", {}).get("slide_type") == "slide"]
    assert len(slides) >= 5, "run `make slides`"

    page = browser_context.new_page()
    try:
        page.goto(f"{lab_server.url}/rise/{name}?token={lab_server.token}")
        present = page.locator(".reveal .slides > section.present")
        expect(present).to_have_count(1, timeout=PAGE_TIMEOUT)
        expect(present).to_contain_text("Lesson 01", timeout=PAGE_TIMEOUT)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "slides_01_first.png"))
        first = present.inner_text()
        page.locator(".reveal").click()
        page.keyboard.press("ArrowRight")
        expect(page.locator(".reveal .slides > section.present")).not_to_have_text(first)
        page.screenshot(path=str(ARTIFACTS / "slides_01_second.png"))
        assert page.locator(".reveal .slides > section").count() >= len(slides)
    finally:
        page.close()
        lab_server.shutdown_kernels(name)
