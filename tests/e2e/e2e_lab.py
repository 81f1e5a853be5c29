"""Driving a real JupyterLab with a real headless Chromium (Playwright, sync API).

``LabServer.start`` runs JupyterLab on a temporary copy of ``notebooks/`` (the stored notebooks are
never touched) with its own HOME, config, data, runtime, settings and workspace directories, news,
update and build checks off, a random free port and a random token. ``LabServer.stop`` shuts its
kernels down through the REST API, then terminates its process group by PID.

``open_and_run`` opens a notebook in its own page, clears the stored outputs (so every output checked
afterwards was produced by this run), runs Run > Run All Cells and waits until the kernel is idle
and every code cell shows an execution count.

Chromium is Debian's (``apt-get install -y chromium``); ``playwright install`` is never used.
Override the executable with ``LESSONS_CHROMIUM=/path/to/chromium``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# LESSONS_E2E_NOTEBOOKS points the suite at another copy of the notebooks (e.g. drafts).
NOTEBOOKS = Path(os.environ.get("LESSONS_E2E_NOTEBOOKS", REPO / "notebooks")).resolve()
ARTIFACTS = REPO / "test-artifacts" / "e2e"
CHROMIUM = os.environ.get("LESSONS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_TIMEOUT = 60.0  # s; measured ~1.5 s on an idle machine
PAGE_TIMEOUT = 90_000  # ms; JupyterLab's page and the kernel start (~5 s idle, more when loaded)
RUN_ALL_TIMEOUT = 240.0  # s; a lesson runs in <= 60 s idle, 90 s on CI; the machine may be shared
WIDGET_TIMEOUT = 60_000  # ms; a widget callback may retrain a small model

NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, OSError)


def lesson_notebooks() -> list[str]:
    """Names of the lesson notebooks present right now, e.g. ``["00_start_here.ipynb", ...]``."""
    return sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def _isolated_env(home: Path) -> dict[str, str]:
    """The server's environment: the caller's, minus any Jupyter setup, with a fresh HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    # The test process sets MPLBACKEND=Agg (tests/conftest.py, .ci/run); a kernel that inherited it
    # would draw no inline figures. ipykernel picks its inline backend when the variable is unset.
    env.pop("MPLBACKEND", None)
    dirs = {
        "HOME": home,
        "JUPYTER_CONFIG_DIR": home / "jupyter-config",
        "JUPYTER_DATA_DIR": home / "jupyter-data",
        "JUPYTER_RUNTIME_DIR": home / "jupyter-runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces",
        "IPYTHONDIR": home / "ipython",
        "MPLCONFIGDIR": home / "matplotlib",
        "XDG_CACHE_HOME": home / "cache",
        "XDG_CONFIG_HOME": home / "config",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env.update({k: str(v) for k, v in dirs.items()})
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONUNBUFFERED"] = "1"
    # No news feed, no update check, no "would you like to receive news?" prompt.
    _write_json(
        dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
        / "notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    # No build check: on a busy 2-core machine it delays the first page by ~20 s.
    _write_json(
        dirs["JUPYTER_CONFIG_DIR"] / "labconfig" / "page_config.json",
        {"buildCheck": False, "buildAvailable": False},
    )
    return env


@dataclass
class LabServer:
    url: str
    token: str
    root: Path  # the temporary notebooks directory the server serves
    runtime_dir: Path
    process: subprocess.Popen
    log_path: Path

    @classmethod
    def start(cls, base: Path, log_path: Path) -> LabServer:
        """Copy notebooks/ under ``base`` and serve it; wait until /api/status answers."""
        root = base / "notebooks"
        shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        env = _isolated_env(base / "home")
        port, token = _free_port(), secrets.token_hex(24)
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--ServerApp.terminals_enabled=False",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w") as log:
            process = subprocess.Popen(cmd, cwd=root, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        server = cls(url=f"http://127.0.0.1:{port}", token=token, root=root,
                     runtime_dir=Path(env["JUPYTER_RUNTIME_DIR"]), process=process,
                     log_path=log_path)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n"
                                   f"{server.log_tail()}")
            try:
                server.api("GET", "/api/status", timeout=2)
                return server
            except NETWORK_ERRORS:
                if time.monotonic() > deadline:
                    server.stop()
                    raise RuntimeError(f"jupyter lab not up after {SERVER_START_TIMEOUT} s:\n"
                                       f"{server.log_tail()}") from None
                time.sleep(0.2)

    def api(self, method: str, path: str, timeout: float = 10.0):
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self, path: str | None = None) -> None:
        """Shut down the kernels of sessions on ``path``, or every kernel when ``path`` is None."""
        if path is None:
            for kernel in self.api("GET", "/api/kernels"):
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=30)
            return
        for session in self.api("GET", "/api/sessions"):
            if session["path"] == path:
                self.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)

    def stop(self) -> None:
        """Kernels down via the REST API, then SIGTERM (SIGKILL after 15 s) to the server's group."""
        if self.process.poll() is None:
            try:
                self.shutdown_kernels()
            except NETWORK_ERRORS:
                pass
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self._kill_stray_kernels()

    def _kill_stray_kernels(self) -> None:
        # Kernels run in their own session, so killpg above does not reach them; any kernel
        # still alive whose connection file is in our runtime dir is ours: terminate it by PID.
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "ipykernel" in cmdline and str(self.runtime_dir) in cmdline:
                try:
                    os.kill(int(proc.name), signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


# Done when the kernel is idle and every non-empty code cell shows an execution count.
_RUN_STATE_JS = """
() => {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-CodeCell')];
  const prompts = cells
    .filter(c => (c.querySelector('.jp-InputArea-editor')?.textContent ?? '').trim() !== '')
    .map(c => (c.querySelector('.jp-InputArea-prompt')?.textContent ?? '').trim());
  const status = [...document.querySelectorAll('.jp-StatusBar-Widget')]
    .map(e => e.textContent).join(' ');
  return {prompts, idle: /\\|\\s*Idle/.test(status), status};
}
"""

# Texts of the outputs that signal an error: error outputs, stderr with a traceback, broken widgets.
_ERRORS_JS = """
(root) => [...(root ?? document).querySelectorAll('.jp-OutputArea-output')]
  .filter(o => o.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr'
               || o.querySelector('.jupyter-widgets') || o.classList.contains('jp-mod-error'))
  .map(o => o.textContent)
  .filter(t => /Traceback|^\\s*\\w*(Error|Exception)\\b|Error displaying widget/m.test(t))
"""


@dataclass
class OpenNotebook:
    """A notebook open in its own browser page, after Run All."""

    name: str
    page: object  # playwright.sync_api.Page
    timings: dict[str, float]
    console_errors: list[str] = field(default_factory=list)

    def code_cell(self, source_contains: str):
        """The code cell whose source contains ``source_contains`` (exactly one must match)."""
        from playwright.sync_api import expect

        cells = self.page.locator(".jp-Notebook .jp-CodeCell").filter(
            has=self.page.locator(".jp-InputArea-editor", has_text=source_contains))
        expect(cells).to_have_count(1)
        # Scroll to it as a student would: JupyterLab skips rendering cells out of view
        # (content-visibility), and widget views render when they are shown.
        cells.scroll_into_view_if_needed()
        return cells

    def error_outputs(self, cell=None) -> list[str]:
        """Error texts in the outputs of ``cell`` (a locator), or of the whole notebook."""
        if cell is not None:
            return cell.evaluate(_ERRORS_JS)
        return self.page.locator(".jp-NotebookPanel").evaluate(_ERRORS_JS)

    def screenshot(self, suffix: str = "", element=None) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{Path(self.name).stem}{suffix}.png"
        if element is None:
            self.page.screenshot(path=str(path))
        else:  # the cell alone: a page shot can catch the notebook mid-scroll, blank
            element.scroll_into_view_if_needed()
            self.page.wait_for_timeout(300)
            element.screenshot(path=str(path))
        return path


def launch_browser(playwright):
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} not found: install it with `apt-get install -y chromium` "
                           "(or set LESSONS_CHROMIUM); never `playwright install`")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{menu}$")).click()
    page.locator(".lm-Menu:visible .lm-Menu-itemLabel",
                 has_text=re.compile(rf"^{re.escape(item)}$")).click()


def _wait_for_run(page, timeout: float) -> dict:
    """Poll until the kernel is idle and no cell is queued or running, three times in a row."""
    deadline = time.monotonic() + timeout
    stable = 0
    state: dict = {}
    while time.monotonic() < deadline:
        state = page.evaluate(_RUN_STATE_JS)
        done = state["idle"] and state["prompts"] and all(
            re.fullmatch(r"\[\d+\]:", p) for p in state["prompts"])
        stable = stable + 1 if done else 0
        if stable >= 3:
            return state
        page.wait_for_timeout(300)
    raise AssertionError(f"Run All did not finish in {timeout:.0f} s: {state}")


def open_and_run(server: LabServer, context, name: str) -> OpenNotebook:
    """Open ``name`` in a new page, clear its outputs, Run All Cells, wait for the end."""
    from playwright.sync_api import expect

    timings: dict[str, float] = {}
    t0 = time.monotonic()
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    # one workspace per notebook path (exercises/student/01_adax is not 01_adax): a shared one
    # would restore the other notebook's tab beside this one
    workspace = "e2e-" + re.sub(r"[^A-Za-z0-9_-]", "-", str(Path(name).with_suffix("")))
    page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{name}?token={server.token}")
    expect(page.locator(".jp-NotebookPanel")).to_have_count(1, timeout=PAGE_TIMEOUT)
    expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=PAGE_TIMEOUT)
    timings["cells visible"] = time.monotonic() - t0
    idle = page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\|\s*Idle"))
    expect(idle.first).to_be_visible(timeout=PAGE_TIMEOUT)
    timings["kernel idle"] = time.monotonic() - t0
    for attempt in range(3):  # a click can land before the notebook takes focus: try again
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        _menu(page, "Edit", "Clear Outputs of All Cells")
        try:
            expect(page.locator(".jp-Notebook .jp-OutputArea-output")).to_have_count(0)
            break
        except AssertionError:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    start = time.monotonic()
    _menu(page, "Run", "Run All Cells")
    _wait_for_run(page, RUN_ALL_TIMEOUT)
    timings["run all"] = time.monotonic() - start
    return OpenNotebook(name=name, page=page, timings=timings, console_errors=console_errors)


# --------------------------------------------------------------------------- acting like a student


def slider(cell, label: str):
    """The slider widget in ``cell`` whose description is exactly ``label``."""
    page = cell.page
    return cell.locator(".widget-slider").filter(
        has=page.locator(".widget-label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")))


def key_slider(slider_widget, key: str = "ArrowRight", times: int = 1, settle=None) -> None:
    """Focus the slider's handle and press ``key`` ``times`` times, as a keyboard user would.

    With ``settle`` (an OpenNotebook), wait for the kernel to go quiet after each press: ten quick
    presses while each one redraws a figure twice left the kernel on the value before them in CI
    (the readout showed the new value), so a test that reads the kernel's value presses slowly.
    """
    handle = slider_widget.locator(".noUi-handle").first
    handle.focus()
    for _ in range(times):
        handle.press(key)
        if settle is not None:
            wait_idle(settle, quiet=0.3)


def prompt_number(cell) -> int:
    """The execution count shown in the cell's ``[n]:`` prompt."""
    text = cell.locator(".jp-InputArea-prompt").inner_text().strip()
    match = re.fullmatch(r"\[(\d+)\]:", text)
    if not match:
        raise AssertionError(f"cell has not run: prompt {text!r}")
    return int(match.group(1))


def run_scratch_cell(nb: OpenNotebook, code: str, timeout: float = 60.0) -> str:
    """Add a code cell at the end of the notebook, type ``code``, Shift+Enter, return its output.

    Only the temporary copy the server serves is changed (and it is never saved)."""
    from playwright.sync_api import expect

    page = nb.page
    cells = page.locator(".jp-Notebook .jp-Cell")
    index = cells.count()
    cells.last.locator(".jp-InputPrompt").first.click()
    page.keyboard.press("Escape")  # command mode
    page.keyboard.press("b")  # insert a cell below
    expect(cells).to_have_count(index + 1)
    new = cells.nth(index)
    new.locator(".jp-InputArea-editor").click()
    page.keyboard.insert_text(code)  # no key events: the editor's auto-closing brackets stay out
    page.keyboard.press("Shift+Enter")
    expect(new.locator(".jp-InputArea-prompt")).to_have_text(re.compile(r"\[\d+\]:"),
                                                              timeout=timeout * 1000)
    errors = nb.error_outputs(new)
    if errors:
        raise AssertionError(f"scratch cell {code!r} failed:\n{errors[0]}")
    return "\n".join(new.locator(".jp-OutputArea-output").all_text_contents())


def wait_idle(nb: OpenNotebook, quiet: float = 1.0, timeout: float = 120.0) -> None:
    """Wait until the kernel has been idle (status bar) for ``quiet`` seconds in a row."""
    page = nb.page
    deadline = time.monotonic() + timeout
    since = None
    while time.monotonic() < deadline:
        if page.evaluate(_RUN_STATE_JS)["idle"]:
            since = since or time.monotonic()
            if time.monotonic() - since >= quiet:
                return
        else:
            since = None
        page.wait_for_timeout(100)
    raise AssertionError(f"kernel not idle for {quiet} s within {timeout} s")


def settle(nb: OpenNotebook) -> None:
    """Let the widget's last change reach the kernel: a slider's updates are throttled in the
    browser, so a click right after keying it can overtake the slider's final value."""
    nb.page.wait_for_timeout(500)
    wait_idle(nb)


def kernel_text(nb: OpenNotebook, expression: str, expected: str, attempts: int = 10) -> str:
    """Print ``expression`` (a str) from a scratch cell until it equals ``expected``, waiting for
    the kernel to go quiet before each try and a second between tries (widget callbacks trail the
    widget: ten slider steps are ten redraws, and on a busy CI machine the third try could still
    see the value before them); return the text."""
    text = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(1.0)
        wait_idle(nb)
        text = run_scratch_cell(nb, f"print({expression})").strip()
        if text == expected:
            break
    return text
