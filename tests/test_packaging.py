"""The two ways to install (pip via pyproject.toml, conda via environment.yml) must not drift."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {_name(r): r.replace(" ", "") for r in reqs}


def _conda_pip_requirements() -> dict[str, str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    reqs = [line.strip()[2:] for line in lines[start + 1 :] if line.strip().startswith("- ")]
    return {_name(r): r.replace(" ", "") for r in reqs if not r.startswith("-e")}


def test_environment_yml_names_the_same_dependencies_with_the_same_bounds():
    assert _conda_pip_requirements() == _pyproject_requirements()


def test_python_bounds_agree():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11,<3.14"
    assert "python>=3.11,<3.14" in (ROOT / "environment.yml").read_text()
    assert "(3, 11) <= v <= (3, 13)" in (ROOT / "Makefile").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    ci = (ROOT / ".ci/run").read_text()
    assert re.search(r"^\s*(timed \"make test\" )?make test\s*$", ci, re.M)
    assert re.search(r"^\s*(timed \"make nbval-portable\" )?make nbval-portable\s*$", ci, re.M)
