"""The ways to install must not drift: pip (pyproject.toml's runtime and extras), conda for developers
(environment.yml), a kernel image (binder/environment.yml, the runtime alone)."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _requirements(reqs) -> dict[str, str]:
    return {_name(r): r.replace(" ", "") for r in reqs}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pyproject_requirements() -> dict[str, str]:
    project = _project()
    return _requirements(project["dependencies"] + project["optional-dependencies"]["dev"])


def _conda_pip_requirements(path: str = "environment.yml") -> dict[str, str]:
    lines = (ROOT / path).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    reqs = [line.strip()[2:] for line in lines[start + 1 :] if line.strip().startswith("- ")]
    return {_name(r): r.replace(" ", "") for r in reqs if not r.startswith("-e")}


def test_environment_yml_names_the_same_dependencies_with_the_same_bounds():
    assert _conda_pip_requirements() == _pyproject_requirements()


def test_a_kernel_needs_no_lab_and_no_test_tools():
    """`pip install lessons` (Colab, Binder, a hub image) installs what a kernel imports, no more."""
    runtime = set(_requirements(_project()["dependencies"]))
    assert {"tensorflow", "keras", "numpy", "matplotlib", "ipywidgets", "ipykernel", "tqdm",
            "snownlp", "scikit-learn", "ml-dtypes"} == runtime
    assert not runtime & {"jupyterlab", "nbval", "pytest", "ruff", "playwright", "jupyterhub"}


def test_extras_are_the_ways_people_install():
    extras = {name: _requirements(reqs) for name, reqs in _project()["optional-dependencies"].items()}
    assert set(extras["lab"]) == {"jupyterlab"}
    assert set(extras["teach"]) == {"jupyterlab-rise"}
    # dev is a developer's lab too: `make install` installs it and `make lab` runs JupyterLab
    assert extras["lab"].items() <= extras["dev"].items()
    assert extras["teach"].items() <= extras["dev"].items()
    assert {"nbval", "pytest", "ruff", "playwright", "pytest-xdist", "nbconvert",
            "hypothesis"} <= set(extras["dev"])
    assert {"jupyterhub", "nbgitpuller", "jupyterlab"} <= set(extras["hub"])
    assert '-e ".[dev]"' in (ROOT / "Makefile").read_text()


def test_binder_environment_is_the_runtime_alone_on_one_python():
    binder = _conda_pip_requirements("binder/environment.yml")
    assert binder == _requirements(_project()["dependencies"])
    text = (ROOT / "binder/environment.yml").read_text()
    assert re.search(r"^\s*- python=3\.11\s*$", text, re.M), "pin one Python"
    assert "-e ." not in text  # postBuild installs the course itself, without its dependencies


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
