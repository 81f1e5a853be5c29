"""Fixtures for the browser tests: one JupyterLab and one Chromium for the whole session.

Tests name their notebook with ``@pytest.mark.notebook("NN_name.ipynb")``; they are grouped by it,
so each notebook is opened and run once and only one kernel is alive at a time. How the server
and the browser are driven is in ``e2e_lab.py``.
"""

from __future__ import annotations

import pytest
from e2e_lab import ARTIFACTS, NOTEBOOKS, LabServer, OpenNotebook, launch_browser, open_and_run


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "notebook(name): the notebook an e2e test runs in (tests are grouped by it)")


def pytest_collection_modifyitems(config, items):
    """Group the tests that name a notebook by it, keeping collection order within a notebook
    (test_run_all.py before test_widgets.py), so each notebook is opened and run once."""
    slots = [i for i, item in enumerate(items) if item.get_closest_marker("notebook")]
    ordered = sorted((items[i] for i in slots),
                     key=lambda item: item.get_closest_marker("notebook").args[0])
    for i, item in zip(slots, ordered, strict=True):
        items[i] = item


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    try:
        server = LabServer.start(tmp_path_factory.mktemp("e2e"), ARTIFACTS / "jupyter-server.log")
    except RuntimeError as e:
        pytest.fail(str(e))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        try:
            browser = launch_browser(pw)
        except RuntimeError as e:
            pytest.fail(str(e))
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def browser_context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    yield context
    context.close()


@pytest.fixture(scope="session")
def _notebook_cache(lab_server, browser_context):
    """The notebook currently open; opening another closes it and shuts its kernel down."""
    current: dict[str, OpenNotebook] = {}

    def close_all() -> None:
        for name, nb in list(current.items()):
            nb.page.close()
            lab_server.shutdown_kernels(name)
            del current[name]

    def get(name: str) -> OpenNotebook:
        if name not in current:
            close_all()
            current[name] = open_and_run(lab_server, browser_context, name)
            print(f"\n{name}: " + ", ".join(
                f"{k} {v:.1f} s" for k, v in current[name].timings.items()))
        return current[name]

    yield get
    close_all()


@pytest.fixture
def notebook(request, _notebook_cache) -> OpenNotebook:
    """The notebook named by the test's ``@pytest.mark.notebook(name)``, opened and run."""
    marker = request.node.get_closest_marker("notebook")
    if marker is None:
        pytest.fail("an e2e test using `notebook` needs @pytest.mark.notebook(name)")
    name = marker.args[0]
    if not (NOTEBOOKS / name).exists():
        pytest.fail(f"{name} is not in notebooks/")
    return _notebook_cache(name)
