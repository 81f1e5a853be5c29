"""Mode coverage on the ring of 8 Gaussians: how many modes a generator's samples cover, and what
share of them lies on a mode."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lessons._core.checks import number
from lessons._core.data import ring_centers

__all__ = ["RING_RADIUS", "RING_STD", "Coverage", "mode_coverage"]

RING_STD = 0.05  # wider than the usual 0.02 so "within 3 sigma" is reachable in a few thousand steps
RING_RADIUS = 2.0


@dataclass(frozen=True)
class Coverage:
    """What ``mode_coverage`` found."""

    modes: int  # modes holding >= min_share of the samples within n_sigma
    high_quality: float  # share of samples within n_sigma of their nearest centre
    counts: np.ndarray  # [modes] good samples per mode


def mode_coverage(samples, centers=None, std: float = RING_STD, n_sigma: float = 3.0,
                  min_share: float = 0.01) -> Coverage:
    """How many ring modes the samples cover, and what share of them is good.

    A sample is good ("high quality") if it lies within ``n_sigma * std`` of its nearest centre;
    a mode is covered if at least ``min_share`` of all samples are good samples of that mode.

    Args:
        samples: generated points, shape [n, 2] (n >= 1).
        centers: mode centres [modes, 2] (default ``ring_centers(8, 2.0)``).
        std: the modes' standard deviation, > 0 (default ``RING_STD`` = 0.05).
        n_sigma: radius of a good sample in units of std, > 0 (default 3.0).
        min_share: share of all samples a mode needs, in (0, 1] (default 0.01).
    """
    samples = np.asarray(samples, dtype=np.float64)
    centers = ring_centers(8, RING_RADIUS) if centers is None else np.asarray(centers, np.float64)
    if samples.ndim != 2 or samples.shape[0] < 1:
        raise ValueError(f"samples must have shape [n >= 1, dim], got {samples.shape}")
    if centers.ndim != 2 or centers.shape[1] != samples.shape[1]:
        raise ValueError(f"centers must have shape [modes, {samples.shape[1]}], got {centers.shape}")
    std = number("std", std, low=0.0, low_open=True)
    n_sigma = number("n_sigma", n_sigma, low=0.0, low_open=True)
    min_share = number("min_share", min_share, low=0.0, high=1.0, low_open=True)
    dist = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)  # [n, modes]
    nearest = dist.argmin(axis=1)
    good = dist[np.arange(len(samples)), nearest] <= n_sigma * std
    counts = np.bincount(nearest[good], minlength=len(centers))
    return Coverage(int(np.sum(counts >= min_share * len(samples))), float(good.mean()), counts)
