"""Temporary alias of :mod:`lessons._core.claims` while lessons move to the new layout."""

from lessons._core.claims import *  # noqa: F403
