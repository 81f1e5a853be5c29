"""One simulated student: log in through the hub's login form, start a server, run a notebook in it.

Everything goes over HTTP and the kernel's websocket on 127.0.0.1, as a browser would: the login form
(``/hub/login``), the hub's REST API (a token, the server), the server's contents, sessions and kernel
channels. A failure keeps its traceback, the cell it happened in and the server's log.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests


@dataclass
class CellFailure:
    cell: int  # 1-based index among code cells
    source: str
    ename: str
    evalue: str
    traceback: str


@dataclass
class Run:
    user: str
    notebook: str
    seconds: float = 0.0
    cells: int = 0
    failures: list[CellFailure] = field(default_factory=list)
    not_holding: list[str] = field(default_factory=list)  # "does not hold on this machine" lines
    stderr: str = ""  # what the cells wrote to stderr (warnings among it)
    error: str = ""  # what stopped the run before the notebook finished (login, spawn, timeout...)
    kernel_id: str = ""
    server_log: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures and not self.error


class Student:
    def __init__(self, hub_url: str, name: str, password: str, timeout: float = 120.0):
        self.hub_url, self.name, self.password, self.timeout = hub_url.rstrip("/"), name, password, timeout
        self.http = requests.Session()
        self.token = ""

    # -- the hub ---------------------------------------------------------------------------------
    def log_in(self) -> None:
        """The login form (as a browser), then a token from the REST API for everything after."""
        self.http.get(f"{self.hub_url}/hub/login", timeout=self.timeout).raise_for_status()
        xsrf = self.http.cookies.get("_xsrf", "")
        answer = self.http.post(f"{self.hub_url}/hub/login?next=", timeout=self.timeout,
                                data={"username": self.name, "password": self.password, "_xsrf": xsrf},
                                allow_redirects=False)
        if answer.status_code != 302:
            raise PermissionError(f"login as {self.name} answered {answer.status_code}")
        xsrf = self.http.cookies.get("_xsrf", "")  # a new one, bound to the logged-in session
        answer = self.http.post(f"{self.hub_url}/hub/api/users/{self.name}/tokens",
                                headers={"X-XSRFToken": xsrf}, timeout=self.timeout,
                                json={"note": "classroom load test", "expires_in": 3600})
        answer.raise_for_status()
        self.token = answer.json()["token"]
        self.http.headers["Authorization"] = f"token {self.token}"

    def start_server(self) -> None:
        answer = self.http.post(f"{self.hub_url}/hub/api/users/{self.name}/server", timeout=self.timeout)
        if answer.status_code not in (201, 202, 400):  # 400: already running
            answer.raise_for_status()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            server = self.http.get(f"{self.hub_url}/hub/api/users/{self.name}",
                                   timeout=self.timeout).json().get("servers", {}).get("", {})
            if server.get("ready"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"{self.name}'s server was not ready in {self.timeout:.0f} s")

    def stop_server(self) -> None:
        self.http.delete(f"{self.hub_url}/hub/api/users/{self.name}/server", timeout=self.timeout)

    # -- the student's server --------------------------------------------------------------------
    @property
    def server(self) -> str:
        return f"{self.hub_url}/user/{self.name}"

    def api(self, method: str, path: str, **kwargs):
        answer = self.http.request(method, f"{self.server}/api/{path}", timeout=self.timeout, **kwargs)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def open_notebook(self, path: str) -> tuple[dict, str]:
        """The notebook's content from the server and a kernel started for it (a session, as
        JupyterLab opens one: the kernel learns the notebook's path from JPY_SESSION_NAME)."""
        notebook = self.api("GET", f"contents/{path}")["content"]
        session = self.api("POST", "sessions", json={
            "path": path, "name": Path(path).name, "type": "notebook", "kernel": {"name": "python3"}})
        return notebook, session["kernel"]["id"]

    def run_notebook(self, path: str, cell_timeout: float = 600.0, home: Path | None = None) -> Run:
        """Run every code cell of ``path`` (relative to the student's home) in order; a cell's error
        is recorded and the run goes on, as Run All with "continue on error" would."""
        run = Run(self.name, path)
        start = time.monotonic()
        try:
            notebook, run.kernel_id = self.open_notebook(path)
            asyncio.run(self._execute(notebook, run, cell_timeout))
        except Exception as error:  # noqa: BLE001 (a load test reports every failure, whatever it is)
            run.error = f"{type(error).__name__}: {error}"
        run.seconds = time.monotonic() - start
        if home is not None and not run.ok:
            log = home / ".jupyter-server.log"
            run.server_log = log.read_text(errors="replace")[-6000:] if log.exists() else "(no log)"
        return run

    def shut_down_kernel(self, kernel_id: str) -> None:
        if kernel_id:
            self.http.delete(f"{self.server}/api/kernels/{kernel_id}", timeout=self.timeout)

    async def _execute(self, notebook: dict, run: Run, cell_timeout: float) -> None:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        session = uuid.uuid4().hex
        url = self.server.replace("http", "ws", 1) + f"/api/kernels/{run.kernel_id}/channels?session_id={session}"
        socket = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {self.token}"},
                                                     connect_timeout=self.timeout),
                                         max_message_size=256 * 2**20)
        try:
            code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
            for number, cell in enumerate(code, 1):
                source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                await asyncio.wait_for(self._run_cell(socket, session, number, source, run), cell_timeout)
                run.cells = number
        finally:
            socket.close()

    async def _run_cell(self, socket, session: str, number: int, source: str, run: Run) -> None:
        msg_id = uuid.uuid4().hex
        socket.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.name,
                       "session": session, "version": "5.3",
                       "date": datetime.datetime.now(datetime.UTC).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": source, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": False}}))
        replied = idle = False
        while not (replied and idle):
            frame = await socket.read_message()
            if frame is None:
                raise ConnectionError(f"the kernel's websocket closed during cell {number}")
            if isinstance(frame, bytes):  # binary frames carry widget buffers: nothing to check
                continue
            message = json.loads(frame)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "execute_reply":
                replied = True
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
            elif kind == "error":
                run.failures.append(CellFailure(number, source, content["ename"], content["evalue"],
                                                "\n".join(content.get("traceback", []))))
            elif kind == "stream":
                text = content.get("text", "")
                run.not_holding += [line for line in text.splitlines() if "does not hold" in line]
                if content.get("name") == "stderr":
                    run.stderr += text
            elif kind == "status" and content.get("execution_state") in ("dead", "restarting"):
                raise RuntimeError(f"the kernel died during cell {number} ({content['execution_state']})")
