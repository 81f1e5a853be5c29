"""The student notebooks are generated from the instructor ones; a stale copy fails here."""

import nbformat
import pytest
from exercise_harness import ROOT, student_source
from make_student import student_notebook, student_path  # on the path through the harness

INSTRUCTOR = sorted((ROOT / "notebooks" / "exercises").glob("*.ipynb"))


def test_solution_blocks_become_blanks():
    source = ("x = 1\n# BEGIN SOLUTION\nanswer = x + 1\nanswer = answer * 2\n# END SOLUTION\n"
              "q1.check(answer)")
    assert student_source(source) == ("x = 1\n# your code here\nanswer = ____\n"
                                      "q1.check(answer)")
    inside = ("def forward(e, t):\n    # BEGIN SOLUTION\n    a, b = e, t\n"
              "    for i in range(3):\n        a = a + b\n    return a\n    # END SOLUTION")
    assert student_source(inside) == ("def forward(e, t):\n    # your code here\n"
                                      "    a, b = ____, ____\n    return ____")


@pytest.mark.parametrize("bad, match", [
    ("# BEGIN SOLUTION\nx = 1", "without # END SOLUTION"),
    ("x = 1\n# END SOLUTION", "without # BEGIN SOLUTION"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "nested"),
])
def test_malformed_blocks_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        student_source(bad)


@pytest.mark.parametrize("path", INSTRUCTOR, ids=lambda p: p.stem)
def test_student_copy_is_up_to_date(path):
    expected = student_notebook(nbformat.read(path, as_version=4))
    target = student_path(path)
    assert target.exists(), f"run `make exercises` to write {target.name}"
    stored = nbformat.read(target, as_version=4)
    assert [c.source for c in stored.cells] == [c.source for c in expected.cells], \
        f"{target.name} is stale: run `make exercises`"
    assert "BEGIN SOLUTION" not in "".join(c.source for c in stored.cells)


def test_a_run_cell_is_ignored_by_nbval_in_the_copy_and_its_outputs_are_dropped():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("runs = q6.run()", metadata={"tags": ["exercise-run"]}),
        nbformat.v4.new_code_cell("q6.check(prediction)")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="ratio 0.835\n")]
    copy = student_notebook(nb)
    assert copy.cells[0].metadata.tags == ["exercise-run", "nbval-ignore-output"]
    assert copy.cells[0].outputs == [] and "tags" not in copy.cells[1].metadata
