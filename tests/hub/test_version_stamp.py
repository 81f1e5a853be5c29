"""Notebooks carry the course version they were written for; setup() warns on a mismatch."""

import json
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

import lessons
from lessons._core import notebook

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import stamp_version  # noqa: E402

NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _notebook(path: Path, version: str | None) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import lessons")])
    if version is not None:
        nb.metadata["lessons"] = {"version": version}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def session(monkeypatch):
    """Open a notebook the way Jupyter Server does: its path in JPY_SESSION_NAME."""
    def open_(name: str):
        monkeypatch.setenv("JPY_SESSION_NAME", name)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.setattr(lessons, "__version__", "1.2.0")
    return open_


def test_setup_warns_naming_both_versions_and_what_to_do(tmp_path, session):
    session(str(_notebook(tmp_path / "01_adax.ipynb", "1.3.0")))
    with pytest.warns(UserWarning, match=r"01_adax.ipynb was written for lessons 1\.3\.0, but this "
                                         r"kernel runs lessons 1\.2\.0.*pip install --upgrade lessons"):
        lessons.setup(0)


@pytest.mark.parametrize("stamp", ["1.2.0", None])
def test_setup_is_quiet_when_the_stamp_matches_or_is_absent(tmp_path, session, stamp):
    session(str(_notebook(tmp_path / "n.ipynb", stamp)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lessons.setup(0)
    assert notebook.check_notebook_version() == stamp


def test_a_server_relative_path_is_found_from_the_kernels_folder(tmp_path, session, monkeypatch):
    """Without a file name in the session request, Jupyter Server passes the API path (relative to
    its root); the kernel starts in the notebook's folder."""
    (tmp_path / "lessons").mkdir()
    path = _notebook(tmp_path / "lessons/02_one_loss_gan.ipynb", "0.9")
    monkeypatch.chdir(tmp_path / "lessons")
    session("lessons/02_one_loss_gan.ipynb")
    assert notebook.running_notebook() == path
    with pytest.warns(UserWarning, match="0.9"):
        assert notebook.check_notebook_version() == "0.9"


@pytest.mark.parametrize("name", ["", "console-1", "/nowhere/x.ipynb", "untitled.py"])
def test_no_notebook_no_check(session, name):
    session(name)
    assert notebook.running_notebook() is None
    assert notebook.check_notebook_version() is None


def test_a_broken_notebook_file_is_no_stamp(tmp_path):
    (tmp_path / "bad.ipynb").write_text("{not json")
    (tmp_path / "odd.ipynb").write_text(json.dumps({"metadata": {"lessons": "1.0"}}))
    assert notebook.notebook_version(tmp_path / "bad.ipynb") is None
    assert notebook.notebook_version(tmp_path / "odd.ipynb") is None


def test_stamp_writes_the_version_once(tmp_path):
    path = _notebook(tmp_path / "n.ipynb", None)
    assert stamp_version.stamp(path, "1.2.0")
    once = path.read_bytes()
    assert not stamp_version.stamp(path, "1.2.0") and path.read_bytes() == once
    assert notebook.notebook_version(path) == "1.2.0"
    assert stamp_version.stale([path], "1.2.0") == []
    assert stamp_version.stale([path], "1.3.0") == [path]
    cells = nbformat.read(path, as_version=4).cells
    assert [c.source for c in cells] == ["import lessons"]


def test_every_stored_notebook_is_stamped_with_the_current_version():
    """Fails until `.venv/bin/python scripts/stamp_version.py` has run on the final notebooks."""
    assert stamp_version.stale(NOTEBOOKS, lessons.__version__) == []
