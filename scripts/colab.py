"""Put Colab's install lines at the top of each notebook's first code cell (idempotent).

    .venv/bin/python scripts/colab.py --repository https://github.com/OWNER/lessons notebooks/0*.ipynb

On Colab (``google.colab`` is imported there before any cell runs) the lines pip-install the course
from its repository; in JupyterLab, on a hub, under nbval they do nothing and print nothing. Running
the script again replaces the lines (a new repository URL) instead of adding a second copy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

REPOSITORY = "https://github.com/OWNER/lessons"  # a template: the course has no public URL yet
MARKER = "# On Colab only: install the course (about a minute); elsewhere nothing happens."


def install_cell(repository: str = REPOSITORY) -> str:
    """The guarded install lines for a course hosted at ``repository`` (an https Git URL)."""
    if not repository.startswith("https://") or any(c in repository for c in "\"' \n"):
        raise ValueError(f"repository must be an https URL without quotes or spaces, got {repository!r}")
    return (f"{MARKER}\n"
            "import sys\n"
            "if \"google.colab\" in sys.modules:\n"
            "    import subprocess\n"
            "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"--quiet\",\n"
            f"                    \"lessons @ git+{repository}\"], check=True)\n")


def with_install_cell(source: str, repository: str = REPOSITORY) -> str:
    """``source`` (a first code cell) with the install lines on top, replacing an older copy."""
    lines = source.splitlines(keepends=True)
    if lines and lines[0].rstrip("\n") == MARKER:
        lines = lines[install_cell(repository).count("\n"):]
    return install_cell(repository) + "".join(lines)


def insert(path: Path, repository: str = REPOSITORY) -> bool:
    """Add (or update) the install lines in the notebook at ``path``; True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    first = next((c for c in nb.cells if c.cell_type == "code"), None)
    if first is None:
        raise ValueError(f"{path} has no code cell to put the install lines in")
    new = with_install_cell(first.source, repository)
    if new == first.source:
        return False
    first.source = new
    nbformat.write(nb, path)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="notebooks to change")
    parser.add_argument("--repository", default=REPOSITORY, help=f"the course's Git URL ({REPOSITORY})")
    args = parser.parse_args(argv)
    for path in args.paths:
        if insert(path, args.repository):
            print(f"Colab install lines: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
