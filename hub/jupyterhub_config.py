"""JupyterHub settings for a class on one machine: read by `jupyterhub -f` (hub/control.py starts it).

The environment hub/control.py sets: LESSONS_HUB_STATE (the folder for the database, logs and the
students' homes), LESSONS_HUB_PORT, LESSONS_HUB_USERS (N: students student1..N), LESSONS_HUB_PASSWORD
(one shared password: test users only), LESSONS_HUB_THREADS (threads per student's kernel; default
the CPU share, cores // N, at least 1) and LESSONS_HUB_MEM_LIMIT (e.g. 1.5G).
"""

import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub defines it when it runs this file)

HERE = Path(__file__).resolve().parent
COURSE = HERE.parent
STATE = Path(os.environ["LESSONS_HUB_STATE"])
PORT = int(os.environ.get("LESSONS_HUB_PORT", "8765"))
USERS = int(os.environ.get("LESSONS_HUB_USERS", "4"))
THREADS = int(os.environ.get("LESSONS_HUB_THREADS") or max(1, len(os.sched_getaffinity(0)) // USERS))
VENV_BIN = Path(sys.executable).parent

c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{PORT + 1}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [str(HERE / ".proxy/node_modules/.bin/configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every student's server
c.JupyterHub.cleanup_proxy = True

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["LESSONS_HUB_PASSWORD"]
c.Authenticator.allowed_users = {f"student{i}" for i in range(1, USERS + 1)}
c.Authenticator.admin_users = {"teacher"}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "homes" / "{username}")
# the course's environment; the server's output (its kernels' too) goes to a log in the home
c.Spawner.cmd = ["/bin/sh", "-c", 'exec "$@" >>"$HOME/.jupyter-server.log" 2>&1', "sh",
                 str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab/tree/lessons/00_start_here.ipynb"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
# every TF/OpenMP pool a kernel starts is capped at the student's CPU share: without it each of
# N kernels starts one thread per core and N students oversubscribe the machine N times
c.Spawner.environment = {
    "TF_NUM_INTRAOP_THREADS": str(THREADS),
    "TF_NUM_INTEROP_THREADS": str(THREADS),
    "OMP_NUM_THREADS": str(THREADS),
    "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
}
c.Spawner.cpu_limit = float(THREADS)
# LocalProcessSpawner does not enforce this (it only sets MEM_LIMIT in the server's environment);
# SystemdSpawner (TLJH) and KubeSpawner (z2jh) do.
c.Spawner.mem_limit = os.environ.get("LESSONS_HUB_MEM_LIMIT", "1.5G")


def copy_course(spawner):
    """Put the course's notebooks in the student's home (lessons/), keeping any file they changed."""
    target = Path(spawner.home_dir) / "lessons"
    for source in (COURSE / "notebooks").rglob("*"):
        if ".ipynb_checkpoints" in source.parts or not source.is_file():
            continue
        copy = target / source.relative_to(COURSE / "notebooks")
        if not copy.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)


c.Spawner.pre_spawn_hook = copy_course
if os.getuid() == 0:  # a container or CI runs as root; Jupyter refuses root without this
    c.Spawner.args = ["--allow-root"]
