"""Write the student version of each instructor exercise notebook (`make exercises`).

In the instructor notebook (notebooks/exercises/0N_*.ipynb) each solution sits between
`# BEGIN SOLUTION` and `# END SOLUTION`. The student copy (notebooks/exercises/student/) has each
block replaced by blanks: every name the block assigns at its own indentation becomes
`name = ____`, every `return` at that indentation `return ____`, so the check below reports
UNATTEMPTED instead of failing. Outputs are dropped here; `make exercises` then executes the copy.

A cell tagged `exercise-run` (the run of a predict-then-run exercise, or the check of its result)
shows what the student is asked to predict. The copy tags it `nbval-ignore-output` too, and
`make exercises` drops its outputs after executing the copy (`execute_notebooks.py --clear-tagged
exercise-run`): nbval still executes it, compares nothing, and the copy ships no result.

    python scripts/make_student.py notebooks/exercises/01_adax.ipynb ...
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
RUN_TAG, IGNORE_TAG = "exercise-run", "nbval-ignore-output"
ASSIGN = re.compile(r"^(\s*)([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=(?!=)")
RETURN = re.compile(r"^(\s*)return\b")


def blank_block(lines: list[str], indent: str) -> list[str]:
    """The blanks that stand in for one solution block."""
    out = [f"{indent}# your code here"]
    for line in lines:
        if (m := ASSIGN.match(line)) and m.group(1) == indent:
            names = [n.strip() for n in m.group(2).split(",")]
            blank = ", ".join("____" for _ in names)
            out.append(f"{indent}{', '.join(names)} = {blank}")
        elif (m := RETURN.match(line)) and m.group(1) == indent:
            out.append(f"{indent}return ____")
    seen, unique = set(), []
    for line in out:  # a name assigned twice needs one blank
        if line not in seen:
            seen.add(line)
            unique.append(line)
    return unique


def student_source(source: str) -> str:
    """The cell's source with every solution block replaced by blanks."""
    lines, out, block, indent = source.split("\n"), [], None, ""
    for line in lines:
        stripped = line.strip()
        if stripped == BEGIN:
            if block is not None:
                raise ValueError("nested # BEGIN SOLUTION")
            block, indent = [], line[: len(line) - len(line.lstrip())]
        elif stripped == END:
            if block is None:
                raise ValueError("# END SOLUTION without # BEGIN SOLUTION")
            out.extend(blank_block(block, indent))
            block = None
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    if block is not None:
        raise ValueError("# BEGIN SOLUTION without # END SOLUTION")
    return "\n".join(out)


def student_notebook(nb):
    """A copy of the instructor notebook with blanks for solutions and no outputs."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":  # the copy sits one folder deeper
            cell.source = cell.source.replace("](../", "](../../")
        if cell.cell_type == "code":
            cell.source = student_source(cell.source)
            cell.outputs, cell.execution_count = [], None
            tags = cell.metadata.get("tags", [])
            if RUN_TAG in tags and IGNORE_TAG not in tags:
                cell.metadata["tags"] = [*tags, IGNORE_TAG]
    nb.metadata.pop("widgets", None)
    return nb


def student_path(path: Path) -> Path:
    return path.parent / "student" / path.name


def main(paths) -> int:
    for name in paths:
        path = Path(name)
        nb = student_notebook(nbformat.read(path, as_version=4))
        target = student_path(path)
        target.parent.mkdir(exist_ok=True)
        nbformat.write(nb, target)
        print(f"{path} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
