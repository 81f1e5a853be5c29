"""Notebook hygiene: what keeps strict nbval green, diffs small and stored outputs honest."""

import json
import re
from pathlib import Path

import pytest

from lessons._core.notebook import COURSE

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MACHINE_PATH = re.compile(r"(/work/|/tmp/|/root/|/home/[a-z]|/Users/|[A-Z]:\\\\)")
WIDGET_CALL = re.compile(r"\b(interact|interactive|Output|\w+_(explorer|panel|widget))\(")
TF_LOG = re.compile(r"absl::InitializeLog|port\.cc:\d+\]|cudart_stub|oneDNN custom operations")
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


def _load(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    return nb, code


def _text(output):
    return "".join(output.get("text", "")) + json.dumps(output.get("data", {}).get("text/plain", ""))


def test_every_lesson_has_its_notebook():
    names = {p.name for p in ALL}
    assert "00_start_here.ipynb" in names
    missing = [lesson.notebook for lesson in COURSE if lesson.notebook not in names]
    assert not missing


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_notebook_hygiene(path):
    nb, code = _load(path)
    assert path.stat().st_size < 2_000_000, "keep stored notebooks under 2 MB"
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), "restart and run all"
    assert "widgets" not in nb["metadata"], "widget state stored: execute with store_widget_state=False"
    first = "".join(code[0]["source"])
    assert first.startswith("# NBVAL_IGNORE_OUTPUT"), "first cell must be marked NBVAL_IGNORE_OUTPUT"
    assert 'os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"' in first and "import_tensorflow()" in first
    for i, cell in enumerate(code, 1):
        source = "".join(cell["source"])
        assert source.count("\n") + 1 <= 25, f"cell {i} is long: move its logic into lessons"
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"cell {i} stored an error"
            assert not MACHINE_PATH.search(_text(out)), f"cell {i} shows a machine path"
            if out.get("name") == "stderr":
                assert not TF_LOG.search(_text(out)), f"cell {i} stored TensorFlow's C++ log lines"
        if WIDGET_CALL.search(source):
            assert "NBVAL_IGNORE_OUTPUT" in source, f"cell {i} shows a live widget: mark it"


@pytest.mark.parametrize("lesson", COURSE, ids=lambda lesson: lesson.number)
def test_lesson_notebook_links_its_post(lesson):
    path = NOTEBOOKS / lesson.notebook
    if not path.exists():
        pytest.fail(f"{lesson.notebook} missing")
    nb, _ = _load(path)
    markdown = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert lesson.post.removeprefix("https://") in markdown
