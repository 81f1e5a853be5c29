"""Lesson 03's live experiments: the path check (section 1), the multiplier's step under Adam and
SGD against Keras's Adam as the notebook writes it (section 3), and train_now (section 9), each
following the course seed; the Try-its that use them at a small size."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import lessons
from lessons.crf import (
    format_live,
    format_path_probabilities,
    live_summary,
    multiplier_step_ratio,
    multiplier_steps,
    path_probabilities,
    tiny_crf,
    train_now,
)


def _brute_force(tiny):
    """Every path's score by enumeration, in float64 NumPy, and the paths themselves."""
    e, t, n = tiny["emissions"], tiny["transitions"], tiny["emissions"].shape[1]
    paths = np.array(list(itertools.product(range(n), repeat=len(e))))
    scores = (tiny["start"][paths[:, 0]] + e[np.arange(len(e)), paths].sum(1)
              + t[paths[:, :-1], paths[:, 1:]].sum(1) + tiny["end"][paths[:, -1]])
    return paths, scores


def test_tiny_crf_is_what_the_layer_computes_by_brute_force():
    """The notebook's from-scratch cells compare NumPy with the layer on ``tiny_crf()``: its
    float64 arrays are the layer's float32 weights exactly, and the layer's path score, log Z
    and Viterbi path equal enumeration over all 4**5 paths."""
    lessons.setup(0)
    tiny = tiny_crf()
    layer = tiny["layer"]
    np.testing.assert_array_equal(np.asarray(layer.transitions, np.float64), tiny["transitions"])
    np.testing.assert_array_equal(np.asarray(layer.end_transitions, np.float64), tiny["end"])
    assert tiny["emissions"].shape == (5, 4) and tiny["tags"].shape == (5,)
    paths, scores = _brute_force(tiny)
    batch = tiny["emissions"][None]
    gold = int(np.flatnonzero((paths == tiny["tags"]).all(1))[0])
    assert float(layer.path_score(batch, tiny["tags"][None])[0]) == pytest.approx(
        scores[gold], rel=1e-6)
    top = scores.max()
    log_z = top + np.log(np.exp(scores - top).sum())
    assert float(layer.log_partition(batch)[0]) == pytest.approx(log_z, rel=1e-6)
    assert np.asarray(layer.decode(batch))[0].tolist() == paths[scores.argmax()].tolist()
    assert tiny_crf(seed=0)["tags"].tolist() == tiny["tags"].tolist()
    assert not np.array_equal(tiny_crf(seed=3)["emissions"], tiny["emissions"])


def test_small_experiments_follow_the_course_seed():
    lessons.setup(7)
    seven = path_probabilities()
    assert path_probabilities(seed=7) == seven
    lessons.setup(0)
    zero = path_probabilities()
    assert zero != seven and path_probabilities(seed=7) == seven
    for result in (zero, seven):
        assert result["n_paths"] == 64 and result["sum_p"] == pytest.approx(1, abs=1e-5)
        assert result["viterbi"] == result["most_likely"]
    assert format_path_probabilities(zero).startswith("sum of p over 64 paths: ")
    assert not np.array_equal(multiplier_step_ratio(10.0, "sgd"),
                              multiplier_step_ratio(10.0, "sgd", seed=7))


def test_lr_multiplier_is_k_under_adam_and_k_squared_under_sgd():
    steps = multiplier_steps((10, 100))
    assert steps["kind"] == "multiplier_steps" and steps["multipliers"] == [10.0, 100.0]
    np.testing.assert_allclose(steps["adam"], [10, 100], rtol=1e-4)
    np.testing.assert_allclose(steps["sgd"], [100, 1e4], rtol=1e-4)
    np.testing.assert_allclose(multiplier_step_ratio(1.0, "sgd"), 1.0)
    # every element, not just the median
    np.testing.assert_allclose(multiplier_step_ratio(10.0, "adam", seed=3), 10.0, rtol=1e-3)
    # the learning rate cancels in the ratio
    np.testing.assert_allclose(multiplier_step_ratio(10.0, "sgd", learning_rate=1e-2), 100.0,
                               rtol=1e-3)


# ---------------------------------------------------------------------------- Keras's Adam


def adam_as_the_notebook_writes_it(grads, lr, beta_1, beta_2, eps):
    """Section 3: m_t = b1 m + (1 - b1) g; v_t = b2 v + (1 - b2) g^2;
    alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t); theta -= alpha_t m_t / (sqrt(v_t) + eps)
    (uncorrected m_t and v_t). Returns theta after each step, from theta = 0, in float64."""
    m = v = theta = np.zeros_like(grads[0], np.float64)
    out = []
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        theta = theta - alpha * m / (np.sqrt(v) + eps)
        out.append(theta)
    return np.array(out)


def textbook_adam(grads, lr, beta_1, beta_2, eps):
    """eta m-hat / (sqrt(v-hat) + eps_t), eps_t = eps(t) if eps is callable, else eps."""
    m = v = theta = np.zeros_like(grads[0], np.float64)
    out = []
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        eps_t = eps(t) if callable(eps) else eps
        theta = theta - lr * (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + eps_t)
        out.append(theta)
    return np.array(out)


def keras_adam(grads, **kwargs):
    var = keras.Variable(np.zeros(grads.shape[1:], np.float32))
    opt = keras.optimizers.Adam(**kwargs)
    out = []
    for g in grads:
        opt.apply_gradients([(tf.constant(g, tf.float32), var)])
        out.append(var.numpy().astype(np.float64))
    return np.array(out)


def test_keras_adam_is_the_formula_the_notebook_writes():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(6, 5)) * np.array([1e-3, 1e-2, 0.1, 1.0, 10.0])
    kw = {"learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-3}
    got = keras_adam(grads, **kw)
    want = adam_as_the_notebook_writes_it(grads, kw["learning_rate"], kw["beta_1"],
                                          kw["beta_2"], kw["epsilon"])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)  # float32 vs float64
    # the textbook form with the same eps differs visibly for the small gradients ...
    lr, b1, b2, eps = kw["learning_rate"], kw["beta_1"], kw["beta_2"], kw["epsilon"]
    textbook = textbook_adam(grads, lr, b1, b2, eps)
    assert np.abs(got[:, 0] - textbook[:, 0]).max() > 0.1 * np.abs(got[:, 0]).max()
    # ... and equals it with eps-hat = eps / sqrt(1 - beta_2^t), as the notebook says
    shifted = textbook_adam(grads, lr, b1, b2, lambda t: eps / np.sqrt(1 - b2**t))
    np.testing.assert_allclose(got, shifted, rtol=1e-4, atol=1e-7)


def test_adam_step_ignores_a_gradient_scale_only_while_eps_is_negligible():
    """Section 3: scaling every gradient by k leaves the step unchanged when eps << sqrt(v_t)."""
    grads = np.random.default_rng(1).normal(size=(3, 4))
    for scale, eps, same in ((1.0, 1e-7, True), (1e-7, 1e-7, False)):
        steps = [keras_adam(k * scale * grads, learning_rate=1e-3, epsilon=eps)
                 for k in (1.0, 100.0)]
        assert np.allclose(steps[0], steps[1], rtol=1e-4) == same



# ---------------------------------------------------------------------------- train_now


def test_try_it_train_now_and_the_panels_suggestion():
    """Section 9's suggestion (body lr 1e-4, depth 0, multiplier 1 then 100, then the softmax
    head) via ``train_now`` at a small size: at 100x the transitions grow several times larger
    and F1 is higher; the softmax run has no transitions."""
    live = train_now(body_lr=1e-4, multipliers=(1, 100), epochs=2, train_sentences=300,
                     test_sentences=50, seed=0, progress=False)
    assert list(live["runs"]) == ["CRF x1", "CRF x100", "softmax"]
    assert live["runs"]["softmax"]["crf"] is None
    assert live["runs"]["softmax"]["config"]["head"] == "softmax"
    rows = {r["label"]: r for r in live_summary(live)}
    assert rows["CRF x100"]["spread"] > 2.5 * rows["CRF x1"]["spread"]
    assert rows["CRF x100"]["best"] > rows["CRF x1"]["best"] + 0.05
    assert rows["CRF x100"]["crf_lr"] == pytest.approx(1e-2)
    assert live["runs"]["CRF x1"]["config"]["seed"] == 0
    assert len(format_live(live).splitlines()) == 4
    # Try-it 3: bmes constraints change decoding only; at 1x they lift F1
    constrained = train_now(body_lr=1e-4, multipliers=(1,), softmax=False, epochs=2,
                            train_sentences=300, test_sentences=50, seed=0,
                            constraints="bmes", progress=False)["runs"]["CRF x1"]
    free = live["runs"]["CRF x1"]
    assert constrained["loss"] == free["loss"] and constrained["crf"] == free["crf"]
    assert max(constrained["f1"]) > max(free["f1"]) + 0.02


@pytest.mark.parametrize("make, match", [
    (lambda: multiplier_step_ratio(10, "rmsprop"), "optimizer"),
    (lambda: multiplier_step_ratio(0), "k must be"),
    (lambda: path_probabilities(length=7), "length"),
    (lambda: tiny_crf(length=9), "length"),
    (lambda: tiny_crf(scale=0), "scale"),
    (lambda: multiplier_steps(()), "multipliers"),
    (lambda: train_now(multipliers=(), softmax=False), "multipliers"),
])
def test_experiment_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_train_now_shows_no_bar_under_tqdm_disable(monkeypatch):
    """scripts/execute_notebooks.py sets TQDM_DISABLE=1, which tqdm's notebook bar ignores:
    train_now then makes no bar at all, so no first frame is stored."""
    from lessons.crf.experiments import _progress_bar

    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert _progress_bar(3) is None
    monkeypatch.delenv("TQDM_DISABLE")
    bar = _progress_bar(3)
    assert bar.total == 3
    bar.close()
