"""`make hub-test`: a real JupyterHub on 127.0.0.1, two students, notebook 00 in each, a clean stop.

Skipped unless LESSONS_HUB_TEST=1 (the Makefile's hub-test target sets it and installs the [hub]
extra and the proxy first); `make test` does not start a hub.
"""

import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

pytestmark = [pytest.mark.hub, pytest.mark.skipif(
    os.environ.get("LESSONS_HUB_TEST") != "1", reason="starts a JupyterHub: make hub-test")]

NOTEBOOK = "lessons/00_start_here.ipynb"


def test_two_students_log_in_run_start_here_and_the_hub_stops_cleanly(tmp_path):
    from hub import control, student

    assert shutil.which("node"), "configurable-http-proxy needs node"
    state = control.fresh_state(tmp_path / "hub")
    hub = control.start(users=2, port=control.free_port(), state=state, timeout=120)
    try:
        students = [student.Student(hub.url, name, hub.password, timeout=180) for name in hub.users]
        wrong = student.Student(hub.url, "student1", hub.password + "x")
        with pytest.raises(PermissionError):
            wrong.log_in()

        def one(s):
            s.log_in()
            s.start_server()
            return s.run_notebook(NOTEBOOK, home=state / "homes" / s.name)

        with ThreadPoolExecutor(len(students)) as pool:
            runs = list(pool.map(one, students))
        for run in runs:
            assert run.ok, (run.error, [f.traceback for f in run.failures], run.server_log)
            assert run.cells >= 4 and not run.not_holding

        for s, run in zip(students, runs, strict=True):
            home = state / "homes" / s.name
            assert (home / NOTEBOOK).exists() and (home / "lessons/01_adax.ipynb").exists()
            pid = control.kernel_pid(run.kernel_id)
            assert pid, "the kernel runs on this machine"
            env = control.environment(pid)
            # 2 students share this machine's cores: each kernel's pools get its share
            share = str(max(1, len(os.sched_getaffinity(0)) // 2))
            assert {env[k] for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                                     "OMP_NUM_THREADS")} == {share}
            assert env["MEM_LIMIT"] == str(int(1.5 * 2**30))
            # JupyterLab's way of opening a notebook tells the kernel its path (lessons.setup reads it)
            assert env["JPY_SESSION_NAME"].endswith(NOTEBOOK)
            # nbgitpuller is a server extension of every student's server
            answer = s.http.get(f"{s.server}/git-pull", timeout=60, allow_redirects=False)
            assert answer.status_code != 404, answer.status_code
        # a notebook newer than the library (as nbgitpuller may bring): setup() in it warns
        old = state / "homes/student1/lessons/newer.ipynb"
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import lessons\ntf = lessons.setup(0)")])
        nb.metadata["lessons"] = {"version": "999.0"}
        nbformat.write(nb, old)
        run = students[0].run_notebook("lessons/newer.ipynb")
        assert run.ok and "newer.ipynb was written for lessons 999.0" in run.stderr, run.stderr
        # a failing cell: its traceback and the server's log are kept, and the run goes on
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0"),
                                             nbformat.v4.new_code_cell("print('after')")])
        nbformat.write(nb, state / "homes/student2/lessons/broken.ipynb")
        run = students[1].run_notebook("lessons/broken.ipynb", home=state / "homes/student2")
        assert not run.ok and run.cells == 2
        [failure] = run.failures
        assert (failure.cell, failure.ename, failure.source) == (1, "ZeroDivisionError", "1 / 0")
        assert "ZeroDivisionError" in failure.traceback
        assert "Jupyter Server" in run.server_log or "jupyterhub" in run.server_log.lower()
        hub.watch()
        assert len(hub.seen) >= 5  # the proxy, two servers, two kernels
    finally:
        left = control.stop(hub)
    assert left == set(), f"processes left after the hub stopped: {sorted(left)}"
    assert not any(control.alive(pid) for pid in hub.seen)
    assert hub.process.returncode is not None
