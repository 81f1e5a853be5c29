"""The ring and digits experiments: training works, seeds are followed, the notebook's "Try it"
suggestions do what they say at a small size, and the comparisons wire both methods alike."""

import numpy as np
import pytest
from gan_testing import RING_KW

import lessons.gan.experiments as experiments
from lessons import gan, setup
from lessons._core.data import load_digits


def _near_circle(pts):
    return float(np.mean(np.abs(np.hypot(pts[:, 0], pts[:, 1]) - gan.RING_RADIUS) < 0.3))


@pytest.mark.parametrize("method", gan.METHODS)
def test_ring_training_pulls_samples_onto_the_circle(ring_runs, method):
    # a cheap check that training works (the notebook's claim checks under nbval and the stored
    # multi-seed runs cover the 2000-step coverage): the untrained generator puts its samples
    # near the origin; after 100 steps >= 10% lie within 0.3 of the circle (seeds 0-3, both
    # methods: 16-26%)
    run = ring_runs[method]
    assert _near_circle(run.snapshots[0]) == 0.0
    assert _near_circle(run.snapshots[100]) > 0.1
    assert run.steps == list(range(0, 101, 10)) and run.seed == 0
    assert run.modes[0] == gan.mode_coverage(run.snapshots[0]).modes
    assert run.first_step_with(0) == 0 and run.first_step_with(9) is None


def test_ring_runs_share_their_start_and_follow_the_course_seed(ring_runs):
    one, alt = ring_runs["one_step"], ring_runs["alternating"]
    np.testing.assert_array_equal(one.snapshots[0], alt.snapshots[0])  # same initial generator
    assert not np.array_equal(one.snapshots[20], alt.snapshots[20])
    kw = RING_KW | {"steps": 20, "snapshots": (20,)}
    setup(7)
    seven = gan.train_ring("one_step", **kw)
    assert seven.seed == 7 and not np.array_equal(seven.snapshots[20], one.snapshots[20])
    # an explicit seed wins over the course seed, and a run repeats exactly
    again = gan.train_ring("one_step", seed=0, **kw)
    np.testing.assert_array_equal(again.snapshots[20], one.snapshots[20])
    assert again.modes == one.modes[:3] and again.high_quality == one.high_quality[:3]


def test_try_it_sgd_makes_lam_matter(ring_runs):
    # "Try it" 1: under SGD lam scales G's first step (the samples move lam times as far, to
    # first order); under Adam G's first step hardly depends on lam
    def first_move(run):
        return float(np.abs(run.snapshots[1] - run.snapshots[0]).mean())

    kw = RING_KW | {"steps": 1, "snapshots": (0, 1), "optimizer": "sgd", "learning_rate": 0.05}
    sgd = first_move(gan.train_ring("one_step", lam=2.0, **kw)) / first_move(
        gan.train_ring("one_step", lam=1.0, **kw))
    adam = first_move(ring_runs[("one_step", 4.0)]) / first_move(ring_runs["one_step"])
    assert sgd == pytest.approx(2.0, rel=0.05)
    assert adam == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="optimizer"):
        gan.train_ring(optimizer="lion")


def test_try_it_widget_lam_for_single_loss_and_alternating(ring_runs):
    # Section 8: under Adam lam = 4 instead of 1 barely changes the single loss's first steps
    # (seeds 0-2: gap 0.1-0.7% of how far the samples moved in 20 steps), while for the
    # alternating baseline it multiplies G's learning rate (gap 1.2-2x the movement)
    def gap_and_move(method):
        a, b = ring_runs[method], ring_runs[(method, 4.0)]
        move = float(np.abs(a.snapshots[20] - a.snapshots[0]).max())
        return float(np.abs(a.snapshots[20] - b.snapshots[20]).max()), move

    single, single_move = gap_and_move("one_step")
    alternating, alternating_move = gap_and_move("alternating")
    assert single < 0.02 * single_move
    assert alternating > 0.5 * alternating_move


def test_try_it_lam_zero_freezes_the_generator():
    # "Try it" 2: with lam = 0 the single loss trains D only; G's samples never move
    run = gan.train_ring("one_step", steps=10, lam=0.0, eval_every=5, snapshots=(0, 10),
                         n_eval=100, jit_compile=False, optimizer="rmsprop")
    np.testing.assert_array_equal(run.snapshots[0], run.snapshots[10])
    assert run.modes == [run.modes[0]] * 3 and run.high_quality == [run.high_quality[0]] * 3


def test_compare_ring_and_compare_digits_wire_both_methods(ring_runs, monkeypatch):
    # the wiring only (the training is the functions tested above): same seed and settings for
    # both methods, one progress bar each
    calls = []

    def fake_ring(method, steps, lam, seed, progress, **kwargs):
        calls.append((method, steps, lam, seed, kwargs))
        progress.update(steps)
        return ring_runs[method]

    monkeypatch.setattr(experiments, "train_ring", fake_ring)
    ring = gan.compare_ring(steps=7, lam=0.5, seed=3, eval_every=1)
    assert calls == [(m, 7, 0.5, 3, {"eval_every": 1}) for m in gan.METHODS]
    assert ring.runs == {m: ring_runs[m] for m in gan.METHODS}

    def fake_digits(method, steps, seed, n_samples, progress, **kwargs):
        calls.append((method, steps, seed, n_samples))
        return np.full((n_samples, 8, 8), 0.5 if method == "one_step" else 0.25, np.float32)

    monkeypatch.setattr(experiments, "train_digits", fake_digits)
    digits = gan.compare_digits(steps=5, seed=2, n_samples=6, progress=False)
    assert calls[-2:] == [("one_step", 5, 2, 6), ("alternating", 5, 2, 6)]
    assert list(digits.images) == ["untrained", "one_step", "alternating"]
    np.testing.assert_array_equal(digits.images["untrained"], gan.untrained_digits(6, seed=2))
    assert digits.spread("one_step") == 0.0


def test_train_digits_and_the_course_seed():
    ticks = []
    imgs = gan.train_digits("alternating", steps=3, n_samples=4, progress=ticks.append,
                            jit_compile=False)
    assert imgs.shape == (4, 8, 8) and imgs.dtype == np.float32
    assert imgs.min() >= 0.0 and imgs.max() <= 1.0
    assert ticks == [1, 2, 3]
    untrained = gan.untrained_digits(4)
    assert not np.array_equal(imgs, untrained)
    setup(7)
    assert not np.array_equal(untrained, gan.untrained_digits(4))  # same init as train_digits
    np.testing.assert_array_equal(gan.untrained_digits(4, seed=0), untrained)
    # an explicit seed wins over the course seed, and a run repeats exactly
    np.testing.assert_array_equal(
        gan.train_digits("alternating", steps=3, n_samples=4, seed=0, jit_compile=False), imgs)
    assert gan.RingExplorer().seed == 7 and gan.RingExplorer(seed=3).seed == 3
    assert gan.lam_ratio_table(steps=2).seed == 7 and gan.lam_ratio_table(seed=0, steps=2).seed == 0


def test_nearest_digit_distance():
    real, _ = load_digits("unit")
    assert np.all(gan.nearest_digit_distance(real[:5]) == 0.0)
    brute = min(np.linalg.norm(real - 0.5, axis=1))
    assert gan.nearest_digit_distance(np.full((1, 64), 0.5))[0] == pytest.approx(brute, rel=1e-6)
    with pytest.raises(ValueError, match="images"):
        gan.nearest_digit_distance(np.zeros((2, 7, 7)))


@pytest.mark.parametrize("fn,kwargs,match", [
    (gan.train_ring, {"method": "both"}, "method"),
    (gan.train_ring, {"steps": 0}, "steps"),
    (gan.train_ring, {"batch_size": 0}, "batch_size"),
    (gan.train_ring, {"eval_every": 0}, "eval_every"),
    (gan.train_ring, {"n_eval": 0}, "n_eval"),
    (gan.train_ring, {"lam": -1.0}, "lam"),
    (gan.train_ring, {"learning_rate": 0.0}, "learning_rate"),
    (gan.train_ring, {"optimizer": "adamw"}, "optimizer"),
    (gan.train_digits, {"method": "x"}, "method"),
    (gan.train_digits, {"steps": -3}, "steps"),
    (gan.train_digits, {"n_samples": 0}, "n_samples"),
    (gan.untrained_digits, {"n_samples": 0}, "n_samples"),
])
def test_experiment_value_errors(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)


def test_nearest_digit_distance_scale_the_notebook_quotes():
    # Section 7's yardsticks: a real digit is about 1.0 from the nearest *other* real digit,
    # uniform noise about 3.5 from the nearest real one (brute force over all pairs)
    from lessons._core.data import load_digits

    real = load_digits(scaled="unit")[0].astype(np.float64).reshape(-1, 64)
    gaps = ((real[:, None, :] - real[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(gaps, np.inf)
    assert np.sqrt(gaps.min(axis=1)).mean() == pytest.approx(1.03, abs=0.01)
    assert gan.nearest_digit_distance(real[:5]) == pytest.approx(np.zeros(5), abs=1e-6)
    noise = np.random.default_rng(0).uniform(size=(64, 64))
    assert gan.nearest_digit_distance(noise).mean() == pytest.approx(3.5, abs=0.1)
