"""Start the course's JupyterHub as a child process, wait until it answers, stop it and all it started.

>>> with running_hub(users=2) as hub:
...     print(hub.url, hub.password)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROXY = HERE / ".proxy/node_modules/.bin/configurable-http-proxy"


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, their children, ...), read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def kernel_pid(kernel_id: str) -> int | None:
    """The process of a Jupyter kernel, found by its connection file (kernel-<id>.json) in /proc."""
    marker = f"kernel-{kernel_id}.json".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except OSError:
                continue
    return None


def environment(pid: int) -> dict[str, str]:
    """A process's environment, from /proc/<pid>/environ."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def rss_bytes(pids) -> int:
    """Resident memory of these processes together (VmRSS from /proc; a vanished one counts 0)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def free_port(span: int = 3) -> int:
    """A port p with p, p+1, ..., p+span-1 all free on 127.0.0.1 (the hub, its API, the proxy's API)."""
    import socket

    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + span > 65000:
            continue
        try:
            sockets = [socket.create_server(("127.0.0.1", base + i)) for i in range(span)]
        except OSError:
            continue
        for s in sockets:
            s.close()
        return base
    raise RuntimeError("no free ports on 127.0.0.1")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Hub:
    url: str
    users: list[str]
    password: str
    state: Path
    process: subprocess.Popen
    seen: set[int] = field(default_factory=set)  # every process the hub started (proxy, servers, kernels)

    def log(self) -> str:
        return (self.state / "jupyterhub.log").read_text(errors="replace")

    def watch(self) -> None:
        """Remember the processes below the hub now (a server's kernels live in their own session)."""
        self.seen |= descendants(self.process.pid)


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyterhub exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/hub/api/", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"jupyterhub did not answer at {url} in {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def start(users: int = 4, port: int = 8765, state: Path | None = None, password: str | None = None,
          threads: int | None = None, mem_limit: str = "1.5G", timeout: float = 60.0) -> Hub:
    """Start JupyterHub on 127.0.0.1:``port`` (also uses port+1, port+2) for student1..``users``."""
    if not 1 <= users <= 500:
        raise ValueError(f"users must be in [1, 500], got {users!r}")
    if not 1024 <= port <= 65000:
        raise ValueError(f"port must be in [1024, 65000], got {port!r}")
    if not PROXY.exists():
        raise FileNotFoundError(f"{PROXY} is missing: run `make hub` (it installs the proxy from npm)")
    state = Path(state or HERE / ".state").resolve()
    state.mkdir(parents=True, exist_ok=True)
    password = password or secrets.token_urlsafe(12)
    env = {**os.environ, "LESSONS_HUB_STATE": str(state), "LESSONS_HUB_PORT": str(port),
           "LESSONS_HUB_USERS": str(users), "LESSONS_HUB_PASSWORD": password,
           "LESSONS_HUB_MEM_LIMIT": mem_limit}
    if threads is not None:
        env["LESSONS_HUB_THREADS"] = str(threads)
    log = state / "jupyterhub.log"
    jupyterhub = Path(sys.executable).parent / "jupyterhub"
    with open(log, "ab") as out:
        process = subprocess.Popen([str(jupyterhub), "-f", str(HERE / "jupyterhub_config.py")],
                                   cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    hub = Hub(url, [f"student{i}" for i in range(1, users + 1)], password, state, process)
    try:
        _wait_until_up(url, process, log, timeout)
    except BaseException:
        stop(hub)
        raise
    hub.watch()
    return hub


def stop(hub: Hub, timeout: float = 60.0) -> set[int]:
    """Stop the hub (SIGTERM: it stops every server and the proxy), then anything left behind.

    Returns the processes that were still alive after the hub's own shutdown and had to be killed
    (an empty set is a clean stop).
    """
    hub.watch()
    if hub.process.poll() is None:
        hub.process.send_signal(signal.SIGTERM)
        try:
            hub.process.wait(timeout)
        except subprocess.TimeoutExpired:
            hub.process.kill()
            hub.process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in hub.seen):
        time.sleep(0.2)
    left = {pid for pid in hub.seen if alive(pid)}
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


@contextlib.contextmanager
def running_hub(**options):
    """``start(**options)`` as a context manager; the hub and all it started stop on exit."""
    hub = start(**options)
    try:
        yield hub
    finally:
        stop(hub)


def fresh_state(path: Path) -> Path:
    """An empty state folder (a hub that starts from nothing: no database, no homes)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
