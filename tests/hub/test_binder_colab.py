"""The files a Binder/hub image and Colab use: their content, and that Colab's lines do nothing
anywhere else."""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"


def test_post_build_installs_the_course_alone_not_editable():
    script = (BINDER / "postBuild").read_text()
    assert os.access(BINDER / "postBuild", os.X_OK)
    assert script.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in script
    assert re.search(r"^python -m pip install .*--no-deps \.$", script, re.M)
    assert "-e ." not in script


def _start(env, *command):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("CPU_LIMIT", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")}
    return subprocess.run(["bash", str(BINDER / "start"), *command], env={**clean, **env},
                          capture_output=True, text=True, check=True).stdout


PRINT_CAPS = ("sh", "-c", "echo $TF_NUM_INTRAOP_THREADS $TF_NUM_INTEROP_THREADS $OMP_NUM_THREADS")


@pytest.mark.parametrize(("limit", "threads"), [("3", "3"), ("0.5", "1"), ("2.5", "3")])
def test_start_caps_every_thread_pool_at_the_cpu_limit(limit, threads):
    assert _start({"CPU_LIMIT": limit}, *PRINT_CAPS).split() == [threads] * 3


def test_start_keeps_caps_set_before_it_and_runs_the_command_it_is_given():
    assert os.access(BINDER / "start", os.X_OK)
    assert 'exec "$@"' in (BINDER / "start").read_text()
    out = _start({"CPU_LIMIT": "4", "TF_NUM_INTEROP_THREADS": "1"}, *PRINT_CAPS)
    assert out.split() == ["4", "1", "4"]
    assert _start({}, "echo", "the command's own output") == "the command's own output\n"


def test_start_without_a_quota_uses_a_small_default():
    out = _start({}, *PRINT_CAPS).split()
    assert len(set(out)) == 1 and 1 <= int(out[0]) <= 64


sys.path.insert(0, str(ROOT / "scripts"))
import colab  # noqa: E402

SETUP = "import lessons\ntf = lessons.setup(0)  # seeds Python, NumPy and TensorFlow\nfrom lessons import adax"


def test_colab_lines_do_nothing_outside_colab(tmp_path):
    """Run as a plain Python program (no google.colab): no pip, no output, no error."""
    marker = tmp_path / "pip-ran"
    program = colab.install_cell()
    # a pip that would leave a trace if the lines called it
    fake = tmp_path / "sitecustomize.py"
    fake.write_text("import subprocess\n_run = subprocess.run\n"
                    f"def run(*a, **k):\n    open({str(marker)!r}, 'w').write(repr(a))\n    return _run(*a, **k)\n"
                    "subprocess.run = run\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not marker.exists()
    assert "google.colab" in program and "lessons @ git+https://" in program


def test_colab_lines_would_install_the_course_on_colab(tmp_path):
    """With a stand-in google.colab module, the lines ask pip for the course from its repository."""
    (tmp_path / "google").mkdir()
    (tmp_path / "google/__init__.py").write_text("")
    (tmp_path / "google/colab.py").write_text("")
    calls = tmp_path / "calls"
    program = ("import subprocess, google.colab\n"
               f"subprocess.run = lambda args, **k: open({str(calls)!r}, 'w').write(' '.join(args))\n"
               + colab.install_cell("https://github.com/teacher/lessons"))
    subprocess.run([sys.executable, "-c", program], env={**os.environ, "PYTHONPATH": str(tmp_path)},
                   check=True, timeout=60)
    assert calls.read_text().endswith("-m pip install --quiet lessons @ git+https://github.com/teacher/lessons")


def test_colab_lines_go_on_top_of_the_first_code_cell_once(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title"),
                                         nbformat.v4.new_code_cell(SETUP),
                                         nbformat.v4.new_code_cell("adax.demo()")])
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert colab.insert(path)
    once = path.read_bytes()
    assert not colab.insert(path) and path.read_bytes() == once  # a second run changes nothing
    cells = nbformat.read(path, as_version=4).cells
    assert cells[1].source == colab.install_cell() + SETUP
    assert cells[2].source == "adax.demo()"
    # a new URL replaces the lines instead of stacking a second copy
    assert colab.insert(path, "https://github.com/teacher/lessons")
    source = nbformat.read(path, as_version=4).cells[1].source
    assert source.count(colab.MARKER) == 1 and source.endswith(SETUP)
    assert re.search(r"^tf = lessons\.setup\(\d+\)", source, re.M)


@pytest.mark.parametrize("bad", ["http://x/y", "https://x/y\"; import os", "git@github.com:x/y"])
def test_colab_refuses_a_repository_that_is_not_a_plain_https_url(bad):
    with pytest.raises(ValueError, match="repository must be an https URL"):
        colab.install_cell(bad)
