"""Temporary alias of :mod:`lessons._core.notebook` while lessons move to the new layout."""

from lessons._core.figures import figure_png  # noqa: E402, F401
from lessons._core.notebook import *  # noqa: F403
from lessons._core.notebook import Source, course_seed, import_tensorflow  # noqa: E402, F401
