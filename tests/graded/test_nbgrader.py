"""The real nbgrader on the course graded/ (`make grade-test`, in .venv-grade; skipped without
nbgrader): per lesson `nbgrader generate_assignment`, three submissions (the instructor's solutions,
the blank release, realistic wrong answers: the mistakes tests/exercises checks the self-checks
with), `nbgrader autograde` and the scores `nbgrader export` writes. 15 notebook runs in all."""

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parents[2]
REGION = re.compile(r"^( *)### BEGIN SOLUTION\n.*?^ *### END SOLUTION$", re.M | re.S)

# Per lesson: {exercise: the wrong solution block} (the same mistakes as tests/exercises/), the
# points those answers deserve and the maximum.
WRONG = {
    "01_adax": (
        {
            "q2": "answer = int(np.ceil(1.2564 / b2))  # ceil(1.2564 / b2) = 126: without b2 / ln(1 + b2)",
            "q3": "g = np.asarray(grads, np.float64)  # the plain mean, right only while beta_2 t << 1\n"
            "steps = np.arange(1, len(g) + 1).reshape((-1,) + (1,) * (g.ndim - 1))\n"
            "return np.cumsum(g**2, axis=0) / steps",
            "q5": "answer = adax.AdaX(1e-3, beta_2=0.999)  # Adam's habit",
        },
        4,
        8,
    ),
    "02_one_loss_gan": (
        {
            "q3": "sgd = adam = lam  # Adam treated like SGD\n"
            "v, v_lam = (1 - rho) * g**2, (1 - rho) * (lam * g) ** 2\n"
            "rmsprop_keras3 = lam * np.sqrt(v + eps) / np.sqrt(v_lam + eps)\n"
            "rmsprop_keras2 = lam * (np.sqrt(v) + eps) / (np.sqrt(v_lam) + eps)",
            "q4": "answer = keras.optimizers.RMSprop(1e-4)  # Keras's default rho 0.9",
        },
        4,
        6,
    ),
    "03_crf_learning_rate": (
        {
            "q4": "answer = (k**2, k**2)  # Adam counted like SGD",
            "q5": "prediction = (-0.05, 0.02)  # softmax ahead without context",
        },
        5,
        7,
    ),
    "04_tiger_fixed_point": (
        {
            "q1": "answer = sign_m / weight_decay  # +1/lambda: the wrong sign",
            "q5": "answer = keras.optimizers.Lion(0.01, weight_decay=1.0)  # AdamW's rate",
        },
        6,
        8,
    ),
    "05_fp16_xla": (
        {
            "q1": "answer = (2.0**16, 2.0**-24)  # 2 instead of 2 - 2^-M",
            "q4": "answer = keras.optimizers.LossScaleOptimizer(\n"
            "    keras.optimizers.Adam(learning_rate=1e-3), initial_scale=1e3)  # the post's",
        },
        4,
        6,
    ),
}


def _nbgrader(course: Path, *args):
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TQDM_DISABLE": "1",
    }  # nbgrader runs alembic from the venv's bin
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _fill(release, source, blocks: dict[str, str]):
    """The release with every answer cell's solution in, or the wrong block for those named."""
    answers = {c.id: c.source for c in source.cells if c.id.endswith("-answer")}
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        if cell.get("id") in answers:
            text, block = answers[cell.id], blocks.get(cell.id.removesuffix("-answer"))
            if block:  # the wrong block, at the indentation of the solution it replaces
                indent = REGION.search(text).group(1)
                wrong = "\n".join(indent + line for line in block.split("\n"))
                text = REGION.sub(lambda _, wrong=wrong: wrong, text)
            cell.source = text
    return nb


@pytest.mark.parametrize("assignment", sorted(WRONG))
def test_autograde_scores(tmp_path, assignment):
    course = tmp_path / "course"
    shutil.copytree(ROOT / "graded", course)
    _nbgrader(course, "generate_assignment", assignment)
    name = f"{assignment}.ipynb"
    release = nbformat.read(course / "release" / assignment / name, as_version=4)
    source = nbformat.read(course / "source" / assignment / name, as_version=4)
    blocks, wrong_points, max_points = WRONG[assignment]
    submissions = {
        "solutions": _fill(release, source, {}),
        "blank": release,
        "wrong": _fill(release, source, blocks),
    }
    for student, nb in submissions.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / name)
    _nbgrader(course, "autograde", assignment)
    _nbgrader(course, "export", "--to", str(course / "grades.csv"))
    with open(course / "grades.csv") as f:
        scores = {
            row["student_id"]: (float(row["score"]), float(row["max_score"]))
            for row in csv.DictReader(f)
        }
    print(assignment, scores)
    assert scores == {
        "solutions": (max_points, max_points),
        "blank": (0.0, max_points),
        "wrong": (wrong_points, max_points),
    }
