"""Mode coverage against hand-made samples, a brute-force loop and closed forms."""

import math

import numpy as np
import pytest

from lessons import gan
from lessons._core.data import ring_centers, sample_ring


def _brute_coverage(samples, centers, std, n_sigma, min_share):
    counts = [0] * len(centers)
    good = 0
    for p in samples:
        dists = [math.dist(p, c) for c in centers]
        k = min(range(len(centers)), key=dists.__getitem__)
        if dists[k] <= n_sigma * std:
            counts[k] += 1
            good += 1
    return sum(c >= min_share * len(samples) for c in counts), good / len(samples), counts


def test_mode_coverage_on_hand_made_samples():
    centers = ring_centers(8, 2.0)
    std = 0.05
    # 3 modes with 30 good points each, mode 3 with exactly 1 good point in 100 (= 1%: covered),
    # points at 2.9 and 3.1 sigma, and far-away junk at the origin
    samples = [centers[k] + [0.004 * j, 0] for k in range(3) for j in range(30)]
    samples += [centers[3] + [2.9 * std, 0], centers[4] + [0, 3.1 * std]]
    samples += [[0.0, 0.0]] * 8
    samples = np.array(samples)
    assert len(samples) == 100
    cov = gan.mode_coverage(samples, centers, std)
    assert cov.modes == 4
    assert cov.high_quality == pytest.approx(0.91)
    assert cov.counts.tolist() == [30, 30, 30, 1, 0, 0, 0, 0]
    # nothing covered when the one good point falls under a 2% threshold
    assert gan.mode_coverage(samples, centers, std, min_share=0.02).modes == 3
    # the same on random points against a brute-force loop
    rng = np.random.default_rng(0)
    pts = centers[rng.integers(0, 8, 400)] + 0.1 * rng.standard_normal((400, 2))
    cov = gan.mode_coverage(pts, centers, std, 2.0, 0.05)
    modes, hq, counts = _brute_coverage(pts, centers, std, 2.0, 0.05)
    assert (cov.modes, cov.counts.tolist()) == (modes, counts)
    assert cov.high_quality == pytest.approx(hq)


def test_mode_coverage_of_real_ring_data_is_full():
    cov = gan.mode_coverage(sample_ring(4000, std=gan.RING_STD, seed=3))
    assert cov.modes == 8
    assert cov.high_quality == pytest.approx(0.989, abs=0.01)  # 3-sigma disc in 2-D: 1 - e^-4.5


def test_try_it_tighter_std_lowers_the_high_quality_share():
    # "Try it" 3: judging the same samples against the classic 0.02 instead of 0.05
    samples = sample_ring(4000, std=gan.RING_STD, seed=1)
    wide = gan.mode_coverage(samples)
    tight = gan.mode_coverage(samples, std=0.02)
    assert wide.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    # within 0.06 of a centre for a 2-D Gaussian of std 0.05: 1 - exp(-0.72)
    assert tight.high_quality == pytest.approx(1 - math.exp(-0.72), abs=0.03)
    assert tight.modes == 8  # every mode still holds > 1% of the samples
    assert np.all(ring_centers(8) == ring_centers(8, gan.RING_RADIUS))


@pytest.mark.parametrize("kwargs,match", [
    ({"samples": np.zeros((0, 2))}, "samples"),
    ({"samples": np.zeros(4)}, "samples"),
    ({"centers": np.zeros((8, 3))}, "centers"),
    ({"std": 0.0}, "std"),
    ({"n_sigma": -1.0}, "n_sigma"),
    ({"min_share": 0.0}, "min_share"),
    ({"min_share": 1.5}, "min_share"),
])
def test_mode_coverage_value_errors(kwargs, match):
    args = {"samples": np.zeros((4, 2))} | kwargs
    with pytest.raises(ValueError, match=match):
        gan.mode_coverage(**args)
