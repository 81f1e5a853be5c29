"""lessons._core.results: commands write to the user's folder, never over a stored run."""

import pytest

from lessons._core import results


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSONS_RESULTS", str(tmp_path / "mine"))
    return tmp_path / "mine"


def test_default_output_is_the_users_folder_not_the_package(folder):
    path = results.output_path(None, "gan_seeds.json")
    assert path == folder / "gan_seeds.json" and folder.is_dir()
    assert results.SHIPPED_DIR not in path.parents


def test_default_folder_without_the_variable_is_in_home(monkeypatch, tmp_path):
    monkeypatch.delenv("LESSONS_RESULTS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert results.output_dir() == tmp_path / "lessons-results"


def test_an_existing_file_is_not_overwritten_without_force(folder):
    path = results.output_path(None, "x.json")
    path.write_text("{}")
    with pytest.raises(ValueError, match="exists; choose another --out or pass --force"):
        results.output_path(None, "x.json")
    assert results.output_path(None, "x.json", force=True) == path


def test_the_stored_runs_are_refused_without_force(folder):
    stored = results.shipped("gan_seeds.json")
    assert stored.exists()
    with pytest.raises(ValueError, match="must not be inside the course's stored results"):
        results.output_path(stored, "gan_seeds.json")
    with pytest.raises(ValueError, match="stored results"):
        results.output_path(results.SHIPPED_DIR / "new.json", "new.json")


def test_find_looks_where_the_commands_write(folder, tmp_path, monkeypatch):
    path = results.output_path(None, "study.json")
    path.write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert results.find("study.json") == path          # not in cwd: the results folder
    (tmp_path / "local.json").write_text("{}")
    assert results.find("local.json") == tmp_path / "local.json"
    with pytest.raises(ValueError, match="no such file, neither as given nor in the results"):
        results.find("missing.json")
