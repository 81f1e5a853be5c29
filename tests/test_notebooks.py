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


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def test_nbval_markers_are_cell_tags_not_comments():
    """Plumbing out of the student's view: `nbval-ignore-output` is a cell tag."""
    for path in sorted(NOTEBOOKS.rglob("*.ipynb")):
        _, code = _load(path)
        for i, cell in enumerate(code, 1):
            source = "".join(cell["source"])
            assert not re.search(r"^\s*#\s*(NBVAL|PYTEST_VALIDATE)_", source, re.M), \
                f"{path.name} cell {i}: use the nbval-ignore-output cell tag, not a comment"


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
    assert "nbval-ignore-output" in _tags(code[0]), "tag the setup cell nbval-ignore-output"
    assert re.search(r"^tf = lessons\.setup\(\d+\)", first, re.M), "one setup cell: tf = lessons.setup(0)"
    for i, cell in enumerate(code, 1):
        source = "".join(cell["source"])
        assert source.count("\n") + 1 <= 25, f"cell {i} is long: move its logic into lessons"
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"cell {i} stored an error"
            assert not MACHINE_PATH.search(_text(out)), f"cell {i} shows a machine path"
            if out.get("name") == "stderr":
                assert not TF_LOG.search(_text(out)), f"cell {i} stored TensorFlow's C++ log lines"
            assert "0%|" not in _text(out), f"cell {i} stored a progress bar's first frame"
        if WIDGET_CALL.search(source):
            assert "nbval-ignore-output" in _tags(cell), f"cell {i} shows a live widget: tag it"


@pytest.mark.parametrize("lesson", COURSE, ids=lambda lesson: lesson.number)
def test_lesson_notebook_links_its_post(lesson):
    path = NOTEBOOKS / lesson.notebook
    if not path.exists():
        pytest.fail(f"{lesson.notebook} missing")
    nb, _ = _load(path)
    markdown = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert lesson.post.removeprefix("https://") in markdown


EXERCISES = sorted((NOTEBOOKS / "exercises").glob("*.ipynb"))
STUDENT = sorted((NOTEBOOKS / "exercises" / "student").glob("*.ipynb"))
STATUS = re.compile(r"\b(PASS|FAIL|UNATTEMPTED|RIGHT, BUT): ")
RUN_TAG = "exercise-run"  # a predict-then-run exercise's run, or the check of that run's result
RUN_CALL = re.compile(r"\bq\d\.run\(|check_claims\(")


def _check_statuses(path):
    """The status each `qN.check(...)` cell displayed, in order."""
    _, code = _load(path)
    statuses = []
    for cell in code:
        if ".check(" not in "".join(cell["source"]):
            continue
        shown = [_text(out) for out in cell["outputs"] if out["output_type"] == "execute_result"]
        found = STATUS.search(" ".join(shown))
        statuses.append(found.group(1) if found else "no report")
    return statuses


@pytest.mark.parametrize("path", EXERCISES + STUDENT, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_exercise_notebook_hygiene(path):
    nb, code = _load(path)
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), "run make exercises"
    assert "widgets" not in nb["metadata"]
    for i, cell in enumerate(code, 1):
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"cell {i} stored an error"
            assert not MACHINE_PATH.search(_text(out)), f"cell {i} shows a machine path"
            if out.get("name") == "stderr":
                assert not TF_LOG.search(_text(out)), f"cell {i} stored TensorFlow's C++ log lines"


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_instructor_solutions_all_pass(path):
    statuses = _check_statuses(path)
    assert len(statuses) >= 4, "each lesson has at least four exercises"
    assert set(statuses) == {"PASS"}, statuses


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.stem)
def test_student_blanks_all_unattempted(path):
    statuses = _check_statuses(path)
    assert len(statuses) >= 4
    assert set(statuses) == {"UNATTEMPTED"}, statuses


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_student_copies_store_no_result_of_a_run_cell(path):
    """A student copy ships no predict-then-run result (01's 0.835 and 04's ratio 8.13 once
    were stored). Each run cell is tagged in the instructor notebook; in the copy it is also
    `nbval-ignore-output`, executed (nbval runs it, compares nothing) and stores no output."""
    _, code = _load(path)
    runs = [i for i, c in enumerate(code) if RUN_CALL.search("".join(c["source"]))]
    assert runs, "a predict-then-run exercise has a run cell"
    assert [i for i, c in enumerate(code) if RUN_TAG in _tags(c)] == runs
    _, student = _load(path.parent / "student" / path.name)
    for i in runs:
        cell = student[i]
        assert {RUN_TAG, "nbval-ignore-output"} <= set(_tags(cell))
        assert cell["execution_count"] is not None, "the copy is executed (make exercises)"
        assert cell["outputs"] == [], f"code cell {i + 1} of the student copy stores a result"


def test_every_lesson_has_exercises_and_a_teacher_guide():
    lessons = [lesson.notebook for lesson in COURSE]
    assert sorted(p.name for p in EXERCISES) == sorted(lessons)
    assert sorted(p.name for p in STUDENT) == sorted(lessons)
    guides = Path(__file__).resolve().parents[1] / "teacher"
    assert sorted(p.name for p in guides.glob("0*.md")) == sorted(
        n.replace(".ipynb", ".md") for n in lessons)
    assert sum(len(_check_statuses(p)) for p in EXERCISES) >= 22


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_slide_metadata_is_current(path):
    """Each ## section is a slide for jupyterlab-rise; `make slides` writes the metadata."""
    import sys

    import nbformat

    sys.path.insert(0, str(NOTEBOOKS.parent / "scripts"))
    from slides import add_slides

    nb = nbformat.read(path, as_version=4)
    stored = [c.metadata.get("slideshow") for c in nb.cells]
    assert stored == [c.metadata["slideshow"] for c in add_slides(nb).cells], "run `make slides`"
    assert stored[0] == {"slide_type": "slide"}
    assert sum(s == {"slide_type": "slide"} for s in stored) >= 5


@pytest.mark.parametrize("lesson", COURSE, ids=lambda lesson: lesson.number)
def test_lesson_notebook_shows_its_algorithm_and_keeps_cells_short(lesson):
    """One `lessons.show_source(...)` where the text derives the algorithm; every other code cell
    is a call of at most 3 lines, except the from-scratch cells (5-12 lines)."""
    _, code = _load(NOTEBOOKS / lesson.notebook)
    assert any("show_source(" in "".join(c["source"]) for c in code)
    long = ["".join(c["source"]) for c in code[1:] if "from-scratch" not in _tags(c)
            and "".join(c["source"]).strip().count("\n") + 1 > 3]
    assert not long, long


@pytest.mark.parametrize("lesson", COURSE, ids=lambda lesson: lesson.number)
def test_each_idea_is_computed_from_scratch_then_checked_against_the_library(lesson):
    """d2l's "from scratch, then concise": >= 3 cells tagged `from-scratch` (5-12 lines of NumPy
    or plain Keras), each followed within two code cells by a `check_agreement(...)` cell."""
    _, code = _load(NOTEBOOKS / lesson.notebook)
    sources = ["".join(c["source"]).strip() for c in code]
    scratch = [i for i, c in enumerate(code) if "from-scratch" in _tags(c)]
    assert len(scratch) >= 3, f"{len(scratch)} from-scratch cells"
    for i in scratch:
        assert 5 <= sources[i].count("\n") + 1 <= 12, sources[i]
        assert any("check_agreement(" in s for s in sources[i + 1:i + 3]), \
            f"no agreement check after from-scratch cell:\n{sources[i]}"


HEADING_LINE = re.compile(r"^#{1,6} ")


def _markdown_lines_outside_code(source):
    fenced = False
    for line in source.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            yield line


@pytest.mark.parametrize("path", ALL + EXERCISES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_heading_opens_its_cell_and_markdown_cells_stay_short(path):
    """A slide is a section: a heading is the first line of its cell, never in the middle; a
    Markdown cell holds one idea (<= 200 words)."""
    nb, _ = _load(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        later = [line for line in list(_markdown_lines_outside_code(source))[1:]
                 if HEADING_LINE.match(line)]
        assert not later, f"cell {i}: heading {later[0]!r} is not the first line of its cell"
        words = len(source.split())
        assert words <= 200, f"cell {i}: {words} words; split it at an idea"


@pytest.mark.parametrize("lesson", COURSE, ids=lambda lesson: lesson.number)
def test_lesson_opens_with_its_run_time_and_ends_with_its_exercises(lesson):
    nb, _ = _load(NOTEBOOKS / lesson.notebook)
    markdown = [("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert re.search(r"^\*\*Run time:\*\* about \d+", markdown[0], re.M), \
        "first cell: **Run time:** about N s on a laptop CPU; what it needs"
    link = f"](exercises/student/{lesson.notebook})"
    assert link in markdown[-1], f"the last Markdown cell links {link[2:-1]}"


def test_start_here_names_every_exercise_notebook():
    nb, _ = _load(NOTEBOOKS / "00_start_here.ipynb")
    markdown = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for lesson in COURSE:
        assert f"](exercises/student/{lesson.notebook})" in markdown, lesson.notebook


def test_no_library_file_over_400_lines():
    root = NOTEBOOKS.parent / "lessons"
    sizes = {str(p.relative_to(root)): len(p.read_text().splitlines()) for p in root.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 400} == {}
