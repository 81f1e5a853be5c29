"""Five training tricks from kexue.fm as runnable, tested lessons.

Each lesson has a module (``lessons.adax``, ``lessons.gan``, ``lessons.crf``, ``lessons.tiger``,
``lessons.fp16_xla``) and a notebook under ``notebooks/``. Shared pieces live in
``lessons.notebook`` (setup, progress, device summary), ``lessons.claims`` (claim checks) and
``lessons.data`` (data sets).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lessons")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from lessons import claims  # noqa: E402
from lessons.notebook import COURSE, course_seed, device_summary, setup  # noqa: E402

__all__ = ["COURSE", "__version__", "claims", "course_seed", "device_summary", "setup"]
