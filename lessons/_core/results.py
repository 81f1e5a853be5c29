"""Where results live: the course's stored runs inside the package (read-only), new runs in the
user's results folder.

A command that writes a result (``python -m lessons.gan seeds``, ``python -m lessons.crf sweep``,
``python -m lessons.fp16_xla benchmark``, ``benchmarks/*.py``) writes by default into
``output_dir()``: ``$LESSONS_RESULTS`` if set, else ``~/lessons-results``; the same folder from
any working directory, writable on a hub, never the installed package. It refuses to overwrite a
file unless told to (``force=True``, the commands' ``--force``). A notebook reads the stored run
(``shipped(name)``) unless it names another, and ``find`` looks for that name where the commands
write.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["OUTPUT_ENV", "SHIPPED_DIR", "find", "output_dir", "output_path", "shipped"]

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "results"
OUTPUT_ENV = "LESSONS_RESULTS"


def shipped(name: str) -> Path:
    """The course's stored result ``name`` (``lessons/results/<name>``, read-only)."""
    return SHIPPED_DIR / name


def output_dir() -> Path:
    """Where commands write new results: ``$LESSONS_RESULTS``, else ``~/lessons-results``."""
    return Path(os.environ.get(OUTPUT_ENV) or "~/lessons-results").expanduser()


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def output_path(out: str | Path | None, name: str, *, force: bool = False) -> Path:
    """The file a command writes: ``out``, or ``output_dir()/name`` when ``out`` is None.

    Args:
        out: a file path given by the user (default None: ``output_dir() / name``).
        name: the result's file name, e.g. "gan_seeds.json".
        force: allow overwriting an existing file or writing into the course's stored results
            (default False).

    Raises:
        ValueError: the file exists, or lies in the course's stored results, without ``force``.
    """
    path = output_dir() / name if out is None else Path(out).expanduser()
    if not force and _inside(path, SHIPPED_DIR):
        raise ValueError(f"out must not be inside the course's stored results ({SHIPPED_DIR}); "
                         f"got {path}. Write elsewhere, or pass --force to replace a stored run")
    if not force and path.exists():
        raise ValueError(f"out {path} exists; choose another --out or pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def find(path_or_name: str | Path) -> Path:
    """A result a command wrote: the path as given if it exists, else ``output_dir()/<name>``.

    Raises:
        ValueError: neither exists (the message names both places).
    """
    given = Path(path_or_name).expanduser()
    if given.exists():
        return given.resolve()
    candidate = output_dir() / given.name
    if candidate.exists():
        return candidate
    raise ValueError(f"path_or_name {str(path_or_name)!r}: no such file, neither as given nor "
                     f"in the results folder {candidate.parent} (set ${OUTPUT_ENV} to change it)")
