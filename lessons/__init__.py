"""Five training tricks from kexue.fm as runnable, tested lessons.

Each lesson has a package (``lessons.adax``, ``lessons.gan``, ``lessons.crf``, ``lessons.tiger``,
``lessons.fp16_xla``) and a notebook under ``notebooks/``. What they share lives in
``lessons._core``: ``notebook`` (setup, course seed, progress, show_source), ``data`` (data sets),
``claims`` (claim checks), ``checks`` (argument validation), ``tables`` and ``figures``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lessons")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from lessons._core import claims  # noqa: E402
from lessons._core.notebook import (  # noqa: E402
    COURSE,
    course_seed,
    device_summary,
    import_tensorflow,
    setup,
    show_source,
)

__all__ = ["COURSE", "__version__", "claims", "course_seed", "device_summary",
           "import_tensorflow", "setup", "show_source"]
