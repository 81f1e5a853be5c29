"""Temporary alias of :mod:`lessons._core.data` while lessons move to the new layout."""

from lessons._core.data import *  # noqa: F403
