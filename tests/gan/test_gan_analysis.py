"""Section 4: each optimizer's step as the notebook writes it, against Keras 3's own optimizer
and the multi-backend Keras 2 source, and what lam does under each."""

import math

import numpy as np
import pytest

from lessons import gan, setup


def _grads(scale, steps=5, n=8, seed=0):
    return scale * np.random.default_rng(seed).standard_normal((steps, n))


def _assert_close(path, reference, rel):
    """Every entry within ``rel`` of the largest reference entry (weights that cross zero make
    an entry-wise relative tolerance meaningless)."""
    assert np.max(np.abs(path - reference)) <= rel * np.max(np.abs(reference))


def _adam_as_notebook_writes_it(grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    """Section 4: alpha = lr sqrt(1 - b2^t) / (1 - b1^t); w -= alpha m / (sqrt(v) + eps)."""
    w, m, v = (np.zeros(grads.shape[1]) for _ in range(3))
    path = []
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        path.append(w)
    return np.array(path)


@pytest.mark.parametrize("scale", [1.0, 1e-4, 1e-6, 1e-8])
def test_keras_adam_is_the_formula_the_notebook_writes(scale):
    grads = _grads(scale)
    keras_path = gan.keras_optimizer_path("adam", grads)
    # float32 1 - b2^t cancels (relative error ~ulp / 0.001 = 6e-5); the textbook form is off
    # by > 30% at |g| ~ 1e-6 (next test), far outside this tolerance
    _assert_close(keras_path, _adam_as_notebook_writes_it(grads), rel=2e-4)
    np.testing.assert_allclose(gan.optimizer_formula("adam", grads),
                               _adam_as_notebook_writes_it(grads), rtol=1e-12)


def test_keras_adam_is_not_the_textbook_form_at_small_gradients():
    # lr m_hat / (sqrt(v_hat) + eps) agrees at |g| ~ 1 but not near 1e-6, where Keras's
    # effective epsilon eps / sqrt(1 - b2^t) (3.2e-6 at t = 1) is 30x the textbook's
    big, small = _grads(1.0), _grads(1e-6)
    keras_big, keras_small = (gan.keras_optimizer_path("adam", g)[-1] for g in (big, small))
    text_big = gan.optimizer_formula("adam_textbook", big)[-1]
    text_small = gan.optimizer_formula("adam_textbook", small)[-1]
    np.testing.assert_allclose(keras_big, text_big, rtol=1e-4)
    rel = np.linalg.norm(keras_small - text_small) / np.linalg.norm(text_small)
    assert rel > 0.3  # the textbook form moves the weights far more at |g| ~ 1e-6


def test_keras_adam_equals_the_textbook_form_with_the_effective_epsilon():
    # with a constant gradient g, m_hat = g and v_hat = g^2 at every step, so Keras's step t is
    # -lr g / (|g| + eps_t) with eps_t = eps / sqrt(1 - b2^t), the notebook's effective epsilon
    g = 2e-6
    path = gan.keras_optimizer_path("adam", np.full((5, 3), g))[:, 0]
    steps = np.diff(np.concatenate([[0.0], path]))
    for t in (1, 2, 5):
        expect = -1e-3 * g / (g + gan.adam_effective_epsilon(t))
        assert steps[t - 1] == pytest.approx(expect, rel=1e-4)
        assert steps[t - 1] != pytest.approx(-1e-3 * g / (g + 1e-7), rel=0.05)
    assert gan.adam_effective_epsilon(1) == pytest.approx(3.16e-6, rel=1e-3)
    assert gan.adam_effective_epsilon(5) == pytest.approx(1.42e-6, rel=1e-2)
    assert gan.adam_effective_epsilon(10**6) == pytest.approx(1e-7)


@pytest.mark.parametrize("scale", [1.0, 1e-3, 1e-5])
def test_keras_rmsprop_puts_epsilon_inside_the_root(scale):
    # keras/src/optimizers/rmsprop.py: increment = lr * g / sqrt(velocity + epsilon)
    grads = _grads(scale)
    settings = gan.OptimizerSettings(rho=0.99)
    keras_path = gan.keras_optimizer_path("rmsprop", grads, settings)
    _assert_close(keras_path, gan.optimizer_formula("rmsprop", grads, settings), rel=2e-5)
    outside = gan.optimizer_formula("rmsprop_keras2", grads, settings)
    if scale <= 1e-3:  # Keras 2's placement is measurably different at small gradients
        assert np.linalg.norm(keras_path[-1] - outside[-1]) > 0.3 * np.linalg.norm(outside[-1])


def test_keras2_rmsprop_formula_is_the_multi_backend_source():
    # keras-team/keras keras/optimizers.py (multi-backend Keras 2.x, RMSprop.get_updates):
    #   new_a = self.rho * a + (1. - self.rho) * K.square(g)
    #   new_p = p - lr * g / (K.sqrt(new_a) + self.epsilon)      # epsilon = K.epsilon() = 1e-7
    grads = _grads(1e-6, steps=4)
    p, a, path = np.zeros(8), np.zeros(8), []
    for g in grads:
        a = 0.99 * a + (1.0 - 0.99) * np.square(g)
        p = p - 1e-4 * g / (np.sqrt(a) + 1e-7)
        path.append(p)
    settings = gan.OptimizerSettings(learning_rate=1e-4, rho=0.99)
    np.testing.assert_allclose(gan.optimizer_formula("rmsprop_keras2", grads, settings),
                               np.array(path), rtol=1e-12)


def test_keras_sgd_is_the_formula():
    grads = _grads(0.3)
    _assert_close(gan.keras_optimizer_path("sgd", grads), gan.optimizer_formula("sgd", grads),
                  rel=1e-6)


def test_lam_is_the_lr_ratio_under_sgd():
    for lam in (0.5, 2.0, 7.0):
        out = gan.lam_update_ratio(lam, "sgd", steps=3)
        assert out["g"] == pytest.approx(lam, rel=1e-6)
        assert out["d"] == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("scale", [1.0, 1e-6, 1e-8])
def test_lam_under_adam_keras_matches_the_formula(scale):
    lam, steps = 4.0, 3
    keras_out = gan.lam_update_ratio(lam, "adam", grad_scale=scale, steps=steps)
    formula = gan.lam_update_ratio(lam, "adam", grad_scale=scale, steps=steps,
                                   implementation="formula")
    assert keras_out["g"] == pytest.approx(formula["g"], rel=1e-4)
    assert keras_out["d"] == pytest.approx(1.0, rel=1e-6)
    if scale == 1.0:
        assert keras_out["g"] == pytest.approx(1.0, abs=1e-4)  # lam cancels
    if scale == 1e-8:
        assert keras_out["g"] > 3.5  # far below the effective epsilon Adam acts like SGD


def test_lam_ratio_table_rows_and_claims():
    table = gan.lam_ratio_table()
    assert table.implementation == "formula" and table.seed == 0
    assert list(table.rows) == [label for label, _, _ in gan.LAM_TABLE_ROWS]
    assert table.ratio("sgd", 1e-6) == pytest.approx(2.0)
    # the notebook's reading of the table
    assert table.ratio("adam", 1e-6) > 1.4  # Keras's effective epsilon ~1.4e-6..3.2e-6
    assert table.ratio("adam_textbook", 1e-6) < 1.1  # with eps = 1e-7 it would barely show
    assert table.ratio("rmsprop", 1e-3) > 1.4  # Keras 3's RMSprop: lam acts from ~1e-3 down
    assert table.ratio("rmsprop_keras2", 1e-4) < 1.05  # the reference code's: from ~1e-5 down
    assert table.ratio("rmsprop_keras2", 1e-6) > 1.2
    for label in table.rows:
        assert table.rows[label][2][0] == pytest.approx(1.0 if "SGD" not in label else 2.0,
                                                        abs=1e-3)
    keras_table = gan.lam_ratio_table(implementation="keras", scales=(1.0, 1e-6, 1e-8))
    assert list(keras_table.rows) == ["SGD", "Adam, Keras 3", "RMSprop, Keras 3 (eps in sqrt)"]
    claims = gan.claims_for(keras_table)
    assert len(claims) == 6 and all(claim.holds() for claim in claims)
    gan.check_claims(keras_table)
    with pytest.raises(ValueError, match="no row"):
        keras_table.ratio("adam_textbook", 1.0)
    with pytest.raises(ValueError, match="rows"):
        gan.lam_ratio_table(rows=[("textbook", "adam_textbook", 0.9)], implementation="keras")


def test_lam_ratio_depends_on_the_horizon():
    # the notebook's Section 4: the reference code's RMSprop (Keras 2, rho 0.99) at |g| ~ 1e-6
    # moves G about 30% further with lam = 2 over 5 steps, but only about 3% over the ring's
    # 2,000 steps, once v has settled near g^2 (eps / |g| = 0.1: 2.2 / 2.1 = 1.048 for constant g)
    kwargs = {"optimizer": "rmsprop_keras2", "grad_scale": 1e-6, "seed": 0,
              "implementation": "formula", "settings": gan.OptimizerSettings(rho=0.99)}
    short = gan.lam_update_ratio(2.0, steps=5, **kwargs)["g"]
    long = gan.lam_update_ratio(2.0, steps=2000, **kwargs)["g"]
    assert short == pytest.approx(1.296, abs=5e-4) and long == pytest.approx(1.030, abs=5e-4)
    # NumPy reference, a constant gradient g: sqrt(v_t) = g sqrt(1 - rho^t), so the step is
    # lr k g / (k g sqrt(1 - rho^t) + eps) in closed form (k = 1 or lam = 2)
    g = np.full((2000, 32), 1e-6)
    w1, w2 = (gan.optimizer_formula("rmsprop_keras2", g * np.r_[np.ones(16), k * np.ones(16)],
                                    gan.OptimizerSettings(rho=0.99))[-1, 16:] for k in (1, 2))
    root = np.sqrt(1 - 0.99 ** np.arange(1, 2001))
    steps = [np.sum(k * 1e-6 / (k * 1e-6 * root + 1e-7)) for k in (1, 2)]
    assert w2[0] / w1[0] == pytest.approx(steps[1] / steps[0], rel=1e-9)
    assert 1.04 < steps[1] / steps[0] < 1.06  # settled: 2.2 / 2.1 = 1.048
    # Keras 3's Adam over 2,000 steps: lam is back only far below 1e-6
    table = gan.lam_ratio_table(scales=(1e-6, 1e-8), steps=2000, seed=0,
                                rows=[("Adam, Keras 3", "adam", 0.9)])
    assert table.ratio("adam", 1e-6) == pytest.approx(1.054, abs=5e-3)
    assert table.ratio("adam", 1e-8) == pytest.approx(1.859, abs=5e-3)


def test_lam_update_ratio_uses_the_course_seed():
    a = gan.lam_update_ratio(2.0, "adam", grad_scale=1e-6, steps=2)
    setup(7)
    b = gan.lam_update_ratio(2.0, "adam", grad_scale=1e-6, steps=2)
    c = gan.lam_update_ratio(2.0, "adam", grad_scale=1e-6, steps=2, seed=0)
    assert a["g"] != b["g"] and a == c


@pytest.mark.parametrize("kwargs,match", [
    ({"lam": 0.0}, "lam"), ({"lam": -2.0}, "lam"), ({"optimizer": "lion"}, "optimizer"),
    ({"optimizer": "rmsprop_keras2"}, "optimizer"), ({"grad_scale": 0.0}, "grad_scale"),
    ({"steps": 0}, "steps"), ({"implementation": "jax"}, "implementation"),
])
def test_lam_update_ratio_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gan.lam_update_ratio(**({"lam": 1.0} | kwargs))


def test_optimizer_formula_value_errors():
    with pytest.raises(ValueError, match="optimizer"):
        gan.optimizer_formula("adamw", np.ones((2, 2)))
    with pytest.raises(ValueError, match="grads"):
        gan.optimizer_formula("adam", np.ones(3))
    with pytest.raises(ValueError, match="optimizer"):
        gan.keras_optimizer_path("adam_textbook", np.ones((2, 2)))
    with pytest.raises(ValueError, match="step"):
        gan.adam_effective_epsilon(0)
