"""benchmarks/classroom.py's table and plot from a made-up class (the load test itself needs a hub)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# loaded from its file: benchmarks/ on sys.path would let its crf.py, gan.py shadow other imports
_spec = importlib.util.spec_from_file_location("classroom", ROOT / "benchmarks/classroom.py")
classroom = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(classroom)


def _row(user, run_s, rss, failures=(), error=""):
    return {"user": user, "start_s": 9.0, "run_s": run_s, "cells": 12, "peak_rss_gb": rss,
            "ok": not failures and not error, "failures": list(failures), "error": error,
            "not_holding": [], "server_log": "[I ServerApp] Jupyter Server is running"}


RESULT = {"lesson": "02", "notebook": "lessons/02_one_loss_gan.ipynb", "students": 2, "threads": 1,
          "cores": 2, "hub_start_s": 7.5, "alone": {"run_s": 30.0, "ok": True, "peak_rss_gb": 0.8},
          "wall_s": 50.0, "throughput_vs_alone": 2 * 30.0 / 50.0, "peak_rss_all_kernels_gb": 1.7,
          "processes_left_after_stop": [],
          "rows": [_row("student1", 48.0, 0.85),
                   _row("student2", 50.0, 0.9, [{"cell": 7, "source": "gan.train()", "ename": "MemoryError",
                                                 "evalue": "", "traceback": "Traceback ... MemoryError"}])]}


def test_the_table_gives_each_student_and_every_failure_in_full():
    text = classroom.report(RESULT)
    assert "student1        9.0     48.0     12     0.85  ok" in text
    assert "student2        9.0     50.0     12     0.90  FAILED (1 cell(s))" in text
    assert "throughput 1.20x one student alone" in text and "peaked at 1.70 GB" in text
    assert "--- student2: cell 7 raised MemoryError" in text and "Traceback ... MemoryError" in text
    assert "student2's server log" in text and "student1's server log" not in text


def test_the_plot_is_written(tmp_path):
    classroom.plot(RESULT, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_students_it_says_how_to_run_it_and_starts_nothing(capsys):
    assert classroom.main([]) == 0
    assert "--students K" in capsys.readouterr().out


@pytest.mark.parametrize("k", ["0", "33"])
def test_class_size_is_bounded(k):
    with pytest.raises(SystemExit) as exit_:
        classroom.main(["--students", k])
    assert exit_.value.code == 2  # argparse's usage error
