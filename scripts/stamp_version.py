"""Write the course's version into each notebook's metadata (``metadata.lessons.version``).

    .venv/bin/python scripts/stamp_version.py            # every notebook under notebooks/
    .venv/bin/python scripts/stamp_version.py --check    # exit 1 if a stamp is missing or stale

A notebook that nbgitpuller pulls into a student's home can be newer than the library installed in
the hub's image; ``lessons.setup()`` compares this stamp with ``lessons.__version__`` and warns.
Run it after the notebooks' outputs are stored (it changes nothing else, and nothing when the stamp
is already current).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def course_version() -> str:
    import lessons

    return lessons.__version__


def stamp(path: Path, version: str) -> bool:
    """Set ``metadata.lessons.version`` of the notebook at ``path``; True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.setdefault("lessons", {})
    if meta.get("version") == version:
        return False
    meta["version"] = version
    nbformat.write(nb, path)
    return True


def stale(paths, version: str) -> list[Path]:
    return [p for p in paths if nbformat.read(p, as_version=4).metadata.get("lessons", {})
            .get("version") != version]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/**/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="only report stale stamps (exit 1)")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb")
                                 if ".ipynb_checkpoints" not in p.parts)
    version = course_version()
    if "+unknown" in version:
        parser.error("lessons is not installed (its version is unknown): `make install` first")
    if args.check:
        old = stale(paths, version)
        for p in old:
            print(f"stale stamp (not {version}): {p}")
        return 1 if old else 0
    for p in paths:
        if stamp(p, version):
            print(f"stamped {version}: {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
