"""Tests for lessons.tiger: the optimizer against NumPy, the closed form against iteration, the
underflow count against TensorFlow itself, and a small seeded run of the embedding experiment."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from lessons import tiger
from lessons.tiger import (
    ExperimentConfig,
    Tiger,
    closed_form,
    fixed_point,
    simulate,
    steps_to_fraction,
    steps_until_momentum_underflow,
)

# ------------------------------------------------------------------ optimizer vs NumPy


def numpy_tiger(theta, m, grad, lr, beta, wd, lazy=False):
    """Float32 transcription of the rule, same operation order as Tiger.update_step."""
    f32 = np.float32
    beta = f32(beta)
    new_m = m * beta + grad * (f32(1) - beta)
    new_theta = theta - f32(lr) * (np.sign(new_m) + theta * f32(wd))
    if lazy:
        touched = np.any(grad != 0, axis=tuple(range(1, grad.ndim)), keepdims=True) \
            if grad.ndim >= 2 else grad != 0
        new_m = np.where(touched, new_m, m)
        new_theta = np.where(touched, new_theta, theta)
    return new_theta.astype(f32), new_m.astype(f32)


def sparse_grads(rng, shapes, steps):
    """Gradients where ~60 % of rows (and some single entries) are exactly zero."""
    out = []
    for _ in range(steps):
        step = []
        for shape in shapes:
            g = rng.standard_normal(shape).astype(np.float32)
            rows = rng.random(shape[0]) < 0.6
            g[rows] = 0.0
            g[rng.random(shape) < 0.1] = 0.0
            step.append(g)
        out.append(step)
    return out


@pytest.mark.parametrize("lazy", [False, True])
def test_tiger_matches_numpy_for_120_steps(lazy):
    rng = np.random.default_rng(1)
    shapes = [(7, 5), (6,), (3, 2, 4)]
    inits = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    variables = [keras.Variable(x) for x in inits]
    opt = Tiger(learning_rate=0.01, beta=0.9, weight_decay=0.3, lazy=lazy)
    opt.build(variables)
    step = tf.function(lambda grads: opt.apply(grads, variables))  # graph mode, as in fit
    thetas, moms = [x.copy() for x in inits], [np.zeros_like(x) for x in inits]
    for grads in sparse_grads(rng, shapes, 120):
        step([tf.constant(g) for g in grads])
        for i, g in enumerate(grads):
            thetas[i], moms[i] = numpy_tiger(thetas[i], moms[i], g, 0.01, 0.9, 0.3, lazy)
    for v, t in zip(variables, thetas, strict=True):
        np.testing.assert_allclose(v.numpy(), t, rtol=1e-6, atol=1e-6)
    for m_var, m in zip(opt._momentums, moms, strict=True):
        np.testing.assert_allclose(m_var.numpy(), m, rtol=1e-6, atol=1e-9)
    # the parameters really moved and are not at a trivial state
    assert min(np.abs(v.numpy() - x).max() for v, x in zip(variables, inits, strict=True)) > 0.1


def test_weight_decay_applied_exactly_once():
    theta0 = np.array([[2.0, -4.0]], np.float32)
    v = keras.Variable(theta0)
    opt = Tiger(learning_rate=0.1, weight_decay=0.5)
    opt.apply([tf.zeros_like(theta0)], [v])  # sign(m) = 0: only the decay acts
    np.testing.assert_allclose(v.numpy(), theta0 * (1 - 0.1 * 0.5), rtol=1e-7)
    assert opt.get_config()["weight_decay"] == 0.5


def test_exclude_from_weight_decay_and_none():
    theta0 = np.array([1.0, -1.0], np.float32)
    a, b = keras.Variable(theta0, name="keep"), keras.Variable(theta0, name="bias")
    opt = Tiger(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply([tf.zeros(2), tf.zeros(2)], [a, b])
    np.testing.assert_allclose(a.numpy(), theta0 * 0.95, rtol=1e-7)
    np.testing.assert_array_equal(b.numpy(), theta0)
    c = keras.Variable(theta0)
    Tiger(learning_rate=0.1, weight_decay=None).apply([tf.zeros(2)], [c])
    np.testing.assert_array_equal(c.numpy(), theta0)


def test_indexed_slices_match_dense_and_sum_duplicates():
    rng = np.random.default_rng(2)
    table = rng.standard_normal((6, 3)).astype(np.float32)
    values = rng.standard_normal((4, 3)).astype(np.float32)
    indices = np.array([0, 2, 2, 5])
    dense = np.zeros_like(table)
    np.add.at(dense, indices, values)
    a, b = keras.Variable(table), keras.Variable(table)
    oa, ob = Tiger(0.01, lazy=True), Tiger(0.01, lazy=True)
    for _ in range(3):
        oa.apply([tf.IndexedSlices(tf.constant(values), tf.constant(indices), tf.constant([6, 3]))],
                 [a])
        ob.apply([tf.constant(dense)], [b])
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(a.numpy()[[1, 3, 4]], table[[1, 3, 4]])


def _momentum(opt, variable):
    return opt._momentums[opt._get_variable_index(variable)].numpy().copy()


@pytest.mark.parametrize("sparse", [False, True])
def test_lazy_rows_bit_identical_when_gradient_is_zero(sparse):
    rng = np.random.default_rng(3)
    table = keras.Variable(rng.standard_normal((8, 4)).astype(np.float32))
    opt = Tiger(0.05, beta=0.9, weight_decay=0.2, lazy=True)
    opt.apply([tf.constant(rng.standard_normal((8, 4)).astype(np.float32))], [table])  # all rows
    before, m_before = table.numpy().copy(), _momentum(opt, table)
    assert np.all(m_before != 0)
    rows = np.array([1, 4, 6])
    values = rng.standard_normal((3, 4)).astype(np.float32)
    if sparse:
        grad = tf.IndexedSlices(tf.constant(values), tf.constant(rows), tf.constant([8, 4]))
    else:
        dense = np.zeros((8, 4), np.float32)
        dense[rows] = values
        grad = tf.constant(dense)
    opt.apply([grad], [table])
    after, m_after = table.numpy(), _momentum(opt, table)
    idle = np.setdiff1d(np.arange(8), rows)
    assert after[idle].tobytes() == before[idle].tobytes()
    assert m_after[idle].tobytes() == m_before[idle].tobytes()
    assert np.all(after[rows] != before[rows]) and np.all(m_after[rows] != m_before[rows])
    # the non-lazy optimizer does move idle rows (momentum and decay keep acting)
    eager = keras.Variable(before)
    plain = Tiger(0.05, beta=0.9, weight_decay=0.2)
    plain.apply([tf.zeros((8, 4))], [eager])
    assert np.all(eager.numpy() != before)


def _embedding_model(vocab=10, dim=3):
    inputs = keras.Input((4,), dtype="int32")
    h = keras.layers.Embedding(vocab, dim, name="embedding")(inputs)
    outputs = keras.layers.Dense(1, name="dense")(keras.layers.Flatten()(h))
    return keras.Model(inputs, outputs)


def test_keras_passes_indexed_slices_for_embeddings_and_lazy_fit_keeps_rows():
    """In Keras 3 on TensorFlow, fit hands the Embedding's gradient over as IndexedSlices."""
    seen = []

    class Recording(Tiger):
        def update_step(self, gradient, variable, learning_rate):
            seen.append((variable.name.split(":")[0], isinstance(gradient, tf.IndexedSlices)))
            super().update_step(gradient, variable, learning_rate)

    model = _embedding_model()
    model.compile(optimizer=Recording(0.01, lazy=True), loss="mse")
    x = np.array([[1, 2, 3, 1]] * 8, np.int32)  # ids 0 and 4..9 never appear
    table = model.get_layer("embedding").embeddings
    before = table.numpy().copy()
    model.fit(x, np.ones((8, 1), np.float32), batch_size=8, epochs=3, verbose=0)
    assert ("embedding/embeddings", True) in seen
    assert ("dense/kernel", False) in seen
    after = table.numpy()
    idle = [0, 4, 5, 6, 7, 8, 9]
    assert after[idle].tobytes() == before[idle].tobytes()
    assert np.all(after[[1, 2, 3]] != before[[1, 2, 3]])


def _regression(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((5,))
    outputs = keras.layers.Dense(1)(keras.layers.Dense(8, activation="tanh")(inputs))
    return keras.Model(inputs, outputs)


def test_fit_with_jit_compile_matches_eager_numpy():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = rng.standard_normal((64, 1)).astype(np.float32)
    results = []
    for jit in (True, False):
        model = _regression()
        model.compile(optimizer=Tiger(0.01, weight_decay=0.1), loss="mse", jit_compile=jit)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        assert model.jit_compile is jit
        results.append([w.numpy() for w in model.trainable_weights])
    # NumPy: the same 8 steps with gradients from an eager tape
    model = _regression()
    thetas = [w.numpy() for w in model.trainable_weights]
    moms = [np.zeros_like(t) for t in thetas]
    for _ in range(2):
        for i in range(0, 64, 16):
            for w, t in zip(model.trainable_weights, thetas, strict=True):
                w.assign(t)
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x[i : i + 16]) - y[i : i + 16]))
            grads = tape.gradient(loss, model.trainable_weights)
            for k, g in enumerate(grads):
                thetas[k], moms[k] = numpy_tiger(thetas[k], moms[k], g.numpy(), 0.01, 0.965, 0.1)
    for jit_w, eager_w, ref in zip(results[0], results[1], thetas, strict=True):
        np.testing.assert_allclose(jit_w, ref, atol=1e-5)
        np.testing.assert_allclose(eager_w, ref, atol=1e-5)


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 5)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    model = _regression()
    model.compile(optimizer=Tiger(0.02, beta=0.9, weight_decay=0.05, lazy=True), loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "tiger.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    opt = loaded.optimizer
    assert isinstance(opt, Tiger)
    assert (opt.beta, opt.lazy, opt.weight_decay) == (0.9, True, 0.05)
    assert float(opt.learning_rate) == pytest.approx(0.02)
    for a, b in zip(model.optimizer.variables, opt.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.trainable_weights, loaded.trainable_weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    config = keras.optimizers.serialize(Tiger(0.003, beta=0.5, weight_decay=1.0))
    again = keras.optimizers.deserialize(config)
    assert isinstance(again, Tiger) and again.get_config() == Tiger.from_config(
        again.get_config()).get_config()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"learning_rate": 0.0}, {"learning_rate": -1e-3},
        {"beta": -0.1}, {"beta": 1.0}, {"beta": 1.5},
        {"weight_decay": -0.01},
    ],
)
def test_tiger_rejects_bad_arguments(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        Tiger(**kwargs)


# ------------------------------------------------------------------ the scalar analysis


@pytest.mark.parametrize(
    "theta0, lr, wd, sign",
    [(0.0, 0.01, 1.0, -1), (0.3, 0.003, 0.5, 1), (-2.0, 0.1, 0.01, -1), (1.0, 0.05, 0.0, 1),
     (0.5, 0.2, 2.0, 0), (np.array([0.1, -0.2, 0.0]), 0.01, 1.0, np.array([1, -1, 0]))],
)
def test_closed_form_equals_simulation(theta0, lr, wd, sign):
    a = closed_form(theta0, lr, wd, sign, 700)
    b = simulate(theta0, lr, wd, sign, 700)
    assert a.shape == b.shape == (700,) + np.shape(theta0)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_fixed_point():
    np.testing.assert_array_equal(fixed_point([1, -1, 0], 0.01), [-100.0, 100.0, 0.0])
    assert fixed_point(-1, 4.0) == 0.25
    # the iteration converges to it and stays there once it is reached
    assert closed_form(0.0, 0.01, 1.0, 1, 5000)[-1] == pytest.approx(-1.0, abs=1e-12)
    np.testing.assert_allclose(simulate(-1.0, 0.01, 1.0, 1, 50), -1.0, rtol=0, atol=1e-15)


def test_steps_to_fraction_against_closed_form():
    for lr, wd, frac in [(0.01, 1.0, 0.5), (0.003, 1.0, 0.5), (0.003, 1.0, 0.95), (1e-3, 0.01, 0.3)]:
        n = steps_to_fraction(frac, lr, wd)
        path = closed_form(0.0, lr, wd, -1, n) / fixed_point(-1, wd)  # fraction covered
        assert path[-1] >= frac > (path[-2] if n > 1 else 0.0)
    assert steps_to_fraction(0.5, 0.01, 1.0) == 69


def _tf_decay_steps(m0, beta, dtype):
    """Direct TensorFlow iteration of m <- beta m; -stall step if it stops changing."""

    @tf.function
    def run():
        m, b, n = tf.cast(m0, dtype), tf.cast(beta, dtype), tf.constant(0)
        stalled = tf.constant(False)
        while m > 0 and n < 100_000 and not stalled:
            new = m * b
            n += 1
            stalled = new == m
            m = new
        return tf.where(stalled, -n, n)

    return int(run())


@pytest.mark.parametrize(
    "m0, beta, dtype",
    [(1e-3, 0.965, "float32"), (0.035, 0.965, "float32"), (1e-2, 0.9, "float32"),
     (1e-3, 0.99, "float32"), (3e-5, 0.5, "float32"), (1e-3, 0.965, "float64"),
     (1e-3, 0.965, "bfloat16")],
)
def test_underflow_count_matches_tensorflow(m0, beta, dtype):
    assert steps_until_momentum_underflow(m0, beta, dtype) == _tf_decay_steps(m0, beta, dtype)


def test_underflow_without_flushing_stalls_at_subnormals():
    assert steps_until_momentum_underflow(1e-3, 0.965) == 2258
    assert steps_until_momentum_underflow(1e-3, 0.965, flush_denormals=False) is None
    m = np.float32(1e-3)
    for _ in range(3000):
        m = np.float32(m * np.float32(0.965))
    assert m == np.float32(14 * 2.0**-149)  # stuck at 14 subnormal ulps in NumPy
    # TensorFlow's float16 keeps subnormals too, and stalls (the count comes back negative)
    assert steps_until_momentum_underflow(1e-3, 0.965, "float16", flush_denormals=False) is None
    assert _tf_decay_steps(1e-3, 0.965, tf.float16) < 0
    # beta = 0.5 rounds the last subnormal ulp down to zero, so even without flushing it ends
    assert steps_until_momentum_underflow(1e-3, 0.5, flush_denormals=False) == _numpy_steps()


def _numpy_steps():
    m, n = np.float32(1e-3), 0
    while m != 0:
        m, n = np.float32(m * np.float32(0.5)), n + 1
    return n


def test_simulate_switches_sign_off_at_underflow():
    n = steps_until_momentum_underflow(1e-3, 0.965)
    path = simulate(0.0, 0.01, 1.0, -1, 3000, beta=0.965, momentum=1e-3)
    np.testing.assert_allclose(path[: n - 1], closed_form(0.0, 0.01, 1.0, -1, n - 1), atol=1e-12)
    # from step n on only the decay acts: theta shrinks by (1 - lr lambda) per step
    np.testing.assert_allclose(path[n:], path[n - 1] * 0.99 ** np.arange(1, 3000 - n + 1),
                               rtol=1e-12)
    assert path[n - 2] == pytest.approx(1.0, abs=1e-9)


def test_scalar_analysis_rejects_bad_arguments():
    bad = [
        (fixed_point, (1, 0.0), "weight_decay"), (fixed_point, (0.5, 1.0), "sign"),
        (closed_form, (0.0, 0.0, 1.0, 1, 10), "lr"), (closed_form, (0.0, 0.1, -1.0, 1, 10),
                                                      "weight_decay"),
        (closed_form, (0.0, 0.1, 1.0, 2, 10), "sign"), (closed_form, (0.0, 0.1, 1.0, 1, 0), "steps"),
        (closed_form, (0.0, 0.1, 1.0, 1, 2.5), "steps"),
        (simulate, (0.0, -0.1, 1.0, 1, 10), "lr"),
        (steps_to_fraction, (0.0, 0.1, 1.0), "fraction"),
        (steps_to_fraction, (1.0, 0.1, 1.0), "fraction"),
        (steps_to_fraction, (0.5, 0.1, 0.0), "weight_decay"),
        (steps_to_fraction, (0.5, 2.0, 1.0), "lr \\* weight_decay"),
        (steps_until_momentum_underflow, (1e-3, 0.9, "int8"), "dtype"),
        (steps_until_momentum_underflow, (1e-3, 1.0), "beta"),
        (steps_until_momentum_underflow, (0.0, 0.9), "m0"),
        (steps_until_momentum_underflow, (float("inf"), 0.9), "m0"),
        (steps_until_momentum_underflow, (1e-50, 0.9), "m0"),
        (tiger.explorer_data, (0.01, 1.0, 0.965, 0), "absent_steps"),
        (tiger.sign_agreement, (np.zeros(3),), "rows"),
    ]
    for fn, args, name in bad:
        with pytest.raises(ValueError, match=name):
            fn(*args)
    with pytest.raises(ValueError, match="beta"):
        simulate(0.0, 0.1, 1.0, 1, 10, beta=1.0)


def test_sign_agreement():
    assert tiger.sign_agreement(np.ones((5, 3))) == 1.0
    rows = np.array([[1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, 1.0]])
    assert tiger.sign_agreement(rows) == 0.75


# ------------------------------------------------------------------ the widget


def test_explorer_callback_redraws_from_sliders():
    w = tiger.fixed_point_explorer()
    sliders = {c.description: c for c in w.children if hasattr(c, "description")}
    first, png = w.result, bytes(w.children[-1].value)
    assert png.startswith(b"\x89PNG")
    assert first["fixed_point"] == -1.0 and first["underflow_step"] == 2258
    assert first["theta"].shape == (3000,)
    sliders["lambda"].value = 2.0
    assert w.result["fixed_point"] == -0.5 and bytes(w.children[-1].value) != png
    sliders["beta"].value = 0.9
    assert w.result["underflow_step"] == steps_until_momentum_underflow(1e-3, 0.9)
    sliders["absent steps"].value = 500
    assert w.result["theta"].shape == (500,)
    np.testing.assert_allclose(w.result["closed_form"], closed_form(0.0, 0.01, 2.0, 1, 500))


# ------------------------------------------------------------------ the embedding experiment


def test_sampled_contexts_are_the_preceding_characters():
    stream = np.array([0, 0, 5, 6, 7, 0, 0, 8, 9], np.int32)
    x, y = tiger._sample(stream, 2, (50,), np.random.default_rng(0))
    assert np.all(y != 0)
    for ctx, target in zip(x, y, strict=True):
        pos = int(np.flatnonzero(stream == target)[0])
        np.testing.assert_array_equal(ctx, stream[pos - 2 : pos])


def test_occurrences_brute_force():
    rng = np.random.default_rng(6)
    x = rng.integers(0, 12, size=(9, 4, 3))
    freq, last = tiger._occurrences(x, 15)
    for token in range(15):
        steps = [t for t in range(9) if np.any(x[t] == token)]
        assert freq[token] == np.sum(x == token)
        assert last[token] == (steps[-1] if steps else -1)


def test_tied_logits_reuse_the_embedding():
    cfg = ExperimentConfig(dim=4, hidden=5, context=2)
    model, embed = tiger._build_model(cfg, 9, tied=True)
    assert model.count_params() == 9 * 4 + (2 * 4 * 5 + 5) + (5 * 4 + 4) + 9
    x = np.array([[2, 3], [4, 1]], np.int32)
    h = keras.Model(model.input, model.layers[-2].output)(x).numpy()
    np.testing.assert_allclose(model(x).numpy(), h @ embed.embeddings.numpy().T, rtol=1e-5)


SMALL = ExperimentConfig(steps=300, batch_size=32, hidden=32, lr=0.005, adam_lr=0.01)


@pytest.fixture(scope="module")
def small_runs():  # graph mode: cheaper than compiling three XLA loops for 300 steps
    return tiger.embedding_experiment(("tiger", "adamw", "lazy_tiger"), SMALL, jit_compile=False)


def test_experiment_rare_rows_pinned_under_tiger_not_adam(small_runs):
    lam = SMALL.weight_decay
    rare = tiger.rare_rows(small_runs["tiger"], SMALL)
    assert rare.sum() >= 20
    assert np.all(small_runs["tiger"].max_abs[rare] > 0.5 / lam)
    assert np.all(small_runs["adamw"].max_abs[rare] < 0.1 / lam)
    assert np.all(small_runs["lazy_tiger"].max_abs[rare] < 0.1 / lam)
    table = {r["variant"]: r for r in tiger.summarize(small_runs, SMALL)}
    assert table["tiger"]["rare_pinned"] == 1.0 and table["adamw"]["rare_pinned"] == 0.0
    assert table["tiger"]["emb_max"] <= 1.0 / lam
    for run in small_runs.values():  # every variant learnt something (uniform guess: log 3002)
        assert run.loss[-50:].mean() < np.log(3002) - 1.0 and np.isfinite(run.test_loss)


def test_experiment_once_seen_rows_follow_the_closed_form(small_runs):
    run = small_runs["tiger"]
    once = run.frequency == 1
    once[:2] = False
    lo, hi = tiger.once_seen_band(run.updates_since_seen[once], SMALL)
    m = run.max_abs[once]
    assert once.sum() >= 50
    assert np.all(m >= lo - 1e-4) and np.all(m <= hi + 1e-4)
    check = tiger.once_seen_check(run, SMALL)
    assert check["inside"].all() and len(check["inside"]) == once.sum()
    np.testing.assert_array_equal(check["low"], lo)
    np.testing.assert_array_equal(check["max_abs"], m)
    adam = tiger.once_seen_check(small_runs["adamw"], SMALL)  # AdamW rows do not follow Tiger's band
    assert not adam["inside"].all()


def test_max_abs_scatter_draws_one_panel_per_run(small_runs):
    import matplotlib.pyplot as plt

    fig = tiger.plot_max_abs_vs_frequency(small_runs, ("tiger", "adamw"), SMALL)
    assert len(fig.axes) == 2 and [ax.get_title() for ax in fig.axes] == ["tiger", "adamw"]
    points = fig.axes[0].collections[0].get_offsets()
    seen = small_runs["tiger"].frequency[2:] > 0
    assert len(points) == seen.sum()
    np.testing.assert_allclose(points[:, 1], small_runs["tiger"].max_abs[2:][seen], rtol=1e-6)
    plt.close(fig)


TINY = ExperimentConfig(steps=6, batch_size=16, hidden=8, dim=4)


def _tiny_run(**kwargs):
    return tiger.embedding_experiment(("tiger",), kwargs.pop("config", TINY), jit_compile=False,
                                      **kwargs)["tiger"]


def test_experiment_follows_the_course_seed_and_an_explicit_seed_overrides():
    from lessons import setup

    setup(0)
    first = _tiny_run()
    setup(7)
    seven = _tiny_run()
    assert not np.array_equal(first.embedding, seven.embedding)
    assert not np.array_equal(first.frequency, seven.frequency)  # another data sample too
    # under course seed 7, seed=0 (or config.seed=0, beaten by seed=0) reproduces course seed 0
    run = _tiny_run(config=dataclasses.replace(TINY, seed=7), seed=0)
    np.testing.assert_array_equal(run.embedding, first.embedding)
    np.testing.assert_array_equal(run.loss, first.loss)
    setup(0)


def test_experiment_rejects_bad_arguments():
    with pytest.raises(ValueError, match="variant"):
        tiger.embedding_experiment(("sgd",), SMALL)
    for field, value in [("steps", 0), ("vocab_size", 2.5), ("lr", 0.0), ("adam_lr", -1.0),
                         ("released_lr", 0.0), ("weight_decay", 0.0), ("seed", -1)]:
        with pytest.raises(ValueError, match=field):
            ExperimentConfig(**{field: value})


# ------------------------------------------------------------------ small helpers


@pytest.mark.parametrize("optimizer", ["tiger", "lion"])
def test_real_optimizer_follows_closed_form_for_an_absent_token(optimizer):
    g = np.array([0.01, -0.02, 1e-6, -3.0])
    path = tiger.absent_token_trajectory(g, 1200, lr=0.003, weight_decay=1.0, optimizer=optimizer)
    expected = closed_form(0.0, 0.003, 1.0, np.sign(g), 1201)
    assert path.shape == (1201, 4)
    np.testing.assert_allclose(path, expected, atol=2e-5)
    assert np.all(np.abs(path[-1]) > 0.97)


def test_adamw_absent_token_returns_towards_zero():
    path = tiger.absent_token_trajectory([0.01, -0.02], 1500, optimizer="adamw")
    peak = np.abs(path).max(axis=0)
    assert np.all(peak < 0.05) and np.all(np.abs(path[-1]) < 0.1 * peak)


def test_smooth_brute_force():
    x = np.random.default_rng(7).standard_normal(30)
    np.testing.assert_allclose(tiger.smooth(x, 7), [x[i : i + 7].mean() for i in range(24)])
    with pytest.raises(ValueError, match="window"):
        tiger.smooth(x, 31)


def test_remedy_verdicts():
    def row(name, pinned, out, loss):
        return {"variant": name, "rare_pinned": pinned, "rare_output_pinned": out,
                "test_loss": loss}

    rows = [row("tiger", 1.0, 0.55, 5.80), row("lazy_tiger", 0.0, 0.68, 5.81),
            row("tied_tiger", 0.9, 0.7, 6.2), row("mixed", 0.04, 0.3, 5.70)]
    v = tiger.remedy_verdicts(rows)
    assert v["lazy_tiger"].startswith("embedding: fixed (0% of rare rows")
    assert "output layer: still pinned (68% " in v["lazy_tiger"] and "tiger: 55%" in v["lazy_tiger"]
    assert "on par with" in v["lazy_tiger"]
    assert v["tied_tiger"].startswith("embedding: NOT fixed (90%") and "worse than" in v["tied_tiger"]
    assert "output layer: not pinned (30%" in v["mixed"] and "better than" in v["mixed"]
    with pytest.raises(ValueError, match="baseline"):
        tiger.remedy_verdicts(rows[1:])
    with pytest.raises(ValueError, match="optimizer"):
        tiger.absent_token_trajectory([1.0], 10, optimizer="sgd")


def test_summarize_output_layer_columns_brute_force(small_runs):
    rows = {r["variant"]: r for r in tiger.summarize(small_runs, SMALL)}
    half = 0.5 / SMALL.weight_decay
    for name, run in small_runs.items():
        rare = tiger.rare_rows(run, SMALL)
        kernel = next(w for p, w in run.others.items() if p.endswith("kernel")
                      and w.shape[-1] == len(run.frequency))
        bias = next(w for p, w in run.others.items() if p.endswith("bias")
                    and w.shape == run.frequency.shape)
        expected = np.mean([abs(kernel[i, j]) > half for j in np.flatnonzero(rare)
                            for i in range(kernel.shape[0])])
        assert rows[name]["rare_output_pinned"] == pytest.approx(expected)
        assert rows[name]["output_bias_min"] == pytest.approx(float(bias.min()))
        exact = [np.all(np.abs(np.abs(run.embedding[j]) - 1 / SMALL.weight_decay) <= 1e-3)
                 for j in np.flatnonzero(rare)]
        assert rows[name]["rare_at_fixed_point"] == pytest.approx(np.mean(exact))
    # the remedies fix the embedding, and the output layer's rare columns stay pinned
    assert rows["lazy_tiger"]["rare_pinned"] == 0.0
    assert rows["lazy_tiger"]["rare_output_pinned"] > 0.3
    assert rows["tiger"]["rare_output_pinned"] > 0.3 > rows["adamw"]["rare_output_pinned"]


def _fake_run(embedding, frequency, last_seen, steps, others=None):
    return tiger.EmbeddingRun("fake", np.asarray(embedding, np.float32), np.asarray(frequency),
                              np.asarray(last_seen), np.zeros(steps), 0.0, others or {})


def test_output_weights_and_sign_agreements_on_fake_runs():
    emb = np.array([[0, 0], [0, 0], [1, 1], [1, -1], [-1, 1], [1, 1]], np.float32)
    kernel = np.arange(12, dtype=np.float32).reshape(2, 6)
    untied = _fake_run(emb, [0, 0, 1, 1, 0, 0], [-1, -1, 0, 0, -1, -1], 500,
                       {"dense/kernel": kernel, "dense/bias": np.zeros(6, np.float32)})
    np.testing.assert_array_equal(tiger.output_weights(untied), kernel.T)
    tied = _fake_run(emb, [0, 0, 1, 1, 0, 0], [-1, -1, 0, 0, -1, -1], 500,
                     {"tied_logits/bias": np.zeros(6, np.float32)})
    np.testing.assert_array_equal(tiger.output_weights(tied), emb)
    cfg = ExperimentConfig(lr=0.01, weight_decay=1.0)  # rare: seen 1-3 times, absent >= 69 steps
    agreement = tiger.sign_agreements({"tied_tiger": tied, "tiger": untied}, cfg)
    assert agreement == {"tied_unseen": 0.75, "n_unseen": 2, "tiger_rare": 0.75, "n_rare": 2}


def test_released_once_seen_on_a_fake_run():
    cfg = ExperimentConfig(released_lr=0.02, weight_decay=1.0, steps=800)
    n = tiger.released_steps_to_fraction(0.999, 0.02, 1.0, 0.005)
    emb = np.array([[0, 0], [0, 0], [1, -0.9995], [0.998, 1], [1, 1], [-1, 1]], np.float32)
    freq = [0, 0, 1, 1, 1, 2]
    last = [-1, -1, 800 - n, 800 - n, 800 - n + 1, 0]  # ids 2, 3 old enough, 4 one update short
    out = tiger.released_once_seen(_fake_run(emb, freq, last, 800), cfg)
    assert out == {"n_updates": n, "count": 2, "at_fixed_point": 0.5}


def test_unigram_test_loss_from_the_corpus():
    from collections import Counter

    from lessons.data import Vocab, load_peoples_daily, split_corpus

    train, test = split_corpus(load_peoples_daily())
    vocab = Vocab.build(train, max_size=3000)
    counts = Counter(c for s in train for c in s.chars)
    total = sum(counts.values())
    known = set(vocab.chars)
    unk = sum(n for c, n in counts.items() if c not in known)
    logp = {c: np.log(counts[c] / total) for c in known}
    chars = [c for s in test for c in s.chars]
    expected = -np.mean([logp.get(c, np.log(unk / total)) for c in chars])
    assert tiger.unigram_test_loss() == pytest.approx(expected, rel=1e-12)
    assert 6.5 < expected < 6.55  # "about 6.53"


# ------------------------------------------------------------------ Keras's Lion and AdamW as the
# notebook writes them


def test_keras_lion_is_the_notebooks_formula():
    rng = np.random.default_rng(21)
    theta = rng.standard_normal(6).astype(np.float32)
    v = keras.Variable(theta)
    opt = keras.optimizers.Lion(0.01, weight_decay=0.5)  # beta_1 0.9, beta_2 0.99 by default
    assert (opt.beta_1, opt.beta_2) == (0.9, 0.99)
    m = np.zeros(6)
    t = theta.astype(np.float64)
    for _ in range(50):
        g = rng.standard_normal(6)
        g[rng.random(6) < 0.3] = 0.0
        opt.apply([tf.constant(g, tf.float32)], [v])
        c = 0.9 * m + 0.1 * g
        t = t - 0.01 * (np.sign(c) + 0.5 * t)
        m = 0.99 * m + 0.01 * g
    np.testing.assert_allclose(v.numpy(), t, rtol=1e-5, atol=1e-6)
    assert "3-10x smaller than that for AdamW" in " ".join(keras.optimizers.Lion.__doc__.split())


def test_keras_adamw_step_and_decay_as_the_notebook_writes_them():
    # decay: with zero gradients AdamW multiplies weights by (1 - lr lambda): 1 % at 0.01 and 1
    v = keras.Variable(np.array([2.0, -3.0], np.float32))
    opt = keras.optimizers.AdamW(0.01, weight_decay=1.0)
    for _ in range(5):
        opt.apply([tf.zeros(2)], [v])
    np.testing.assert_allclose(v.numpy(), np.array([2.0, -3.0]) * 0.99**5, rtol=1e-6)
    # step: lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps); for an absent row each step is
    # about beta_1 / sqrt(beta_2) times the previous one
    v = keras.Variable(np.zeros(1, np.float32))
    opt = keras.optimizers.AdamW(0.01, weight_decay=0.0)
    grads = [0.5] + [0.0] * 150
    theta, m, s, path = 0.0, 0.0, 0.0, []
    for t, g in enumerate(grads, 1):
        opt.apply([tf.constant([g], tf.float32)], [v])
        m, s = 0.9 * m + 0.1 * g, 0.999 * s + 0.001 * g * g
        theta -= 0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(s) + 1e-7)
        path.append(float(v.numpy()[0]))
        assert path[-1] == pytest.approx(theta, rel=1e-5)
    steps = -np.diff(path)
    assert steps[120] / steps[119] == pytest.approx(0.9 / np.sqrt(0.999), rel=0.01)


# ------------------------------------------------------------------ eq. (1) vs the released rule


def test_drift_comparison_against_simulation():
    d = tiger.drift_comparison(lr=1.76e-3, weight_decay=0.01, x0=0.02)
    path = np.abs(tiger.closed_form(0.02, 1.76e-3, 0.01, -1, 300_000))
    assert d["eq1_half"] == int(np.argmax(path >= 50)) + 1
    assert d["eq1_99"] == int(np.argmax(path >= 99)) + 1
    assert (d["released_half"], d["released_99"]) == (4840, 7451)
    assert d["released_at_8000"] == pytest.approx(99.6, abs=0.1)
    assert d["absence"] == tiger.steps_until_momentum_underflow(1e-3, 0.965) == 2258
    remaining = (100 - path[999 + 2258]) / (100 - path[999])  # gap left after one absence
    assert d["eq1_per_absence"] == pytest.approx(1 - remaining, rel=1e-6)
    small = np.abs(tiger.released_row_simulate([1e-3, -1e-3], 1.76e-3, 0.01, [-1, 1], 2258))
    assert d["released_per_absence"] == pytest.approx(small[-1, 0] / 1e-3, rel=0.01)
    assert d["eq1_absences_99"] == 116 and d["released_absences_99"] == 4
    with pytest.raises(ValueError, match="x0"):
        tiger.drift_comparison(x0=200.0)


def test_plot_drift_comparison_draws_the_closed_forms():
    import matplotlib.pyplot as plt

    fig = tiger.plot_drift_comparison(lr=0.01, weight_decay=0.5, x0=0.1, steps=500)
    released, eq1 = (line.get_ydata() for line in fig.axes[0].get_lines()[:2])
    np.testing.assert_allclose(released, tiger.logistic_form(0.1, 0.01, 0.5, 500))
    np.testing.assert_allclose(eq1, np.abs(tiger.closed_form(0.1, 0.01, 0.5, -1, 500)))
    plt.close(fig)


# ------------------------------------------------------------------ "Try it yourself", small


def test_try_explorer_with_slow_momentum():
    data = tiger.explorer_data(0.01, 1.0, 0.999, 10000)
    assert data["underflow_step"] > 10000  # the momentum outlives the window
    assert data["theta"][-1] == pytest.approx(-1.0, abs=1e-9)  # and the row reaches -1/lambda
    assert data["underflow_step"] == tiger.steps_until_momentum_underflow(1e-3, 0.999)


def test_try_weight_decay_0_1_reaches_the_closed_form_bound():
    cfg = ExperimentConfig(weight_decay=0.1, steps=150, batch_size=32, hidden=16)
    run = tiger.embedding_experiment(("tiger",), cfg, jit_compile=False)["tiger"]
    bound = tiger.once_seen_band(cfg.steps, cfg)[1]
    assert 0.95 * bound < run.max_abs.max() <= bound + 1e-4  # far below 1/lambda = 10
    assert tiger.steps_to_fraction(0.5, 0.003, 0.1) > cfg.steps


def test_try_adam_over_update_of_an_absent_row():
    path = tiger.absent_token_trajectory([0.01], 300, lr=0.01, optimizer="adamw")
    peak = np.abs(path).max()
    assert 3 < peak / 0.01 < 6  # a few learning rates, then weight decay pulls it back
    assert abs(path[-1, 0]) < 0.8 * peak


def test_try_released_rate_and_steps():
    lr_small, lr_big = 0.01, 0.2
    assert tiger.released_steps_to_fraction(0.999, lr_small, 1.0, 0.029) > 800
    assert tiger.released_steps_to_fraction(0.999, lr_big, 1.0, 0.029) < 60
    cfg = ExperimentConfig(steps=100, batch_size=16, hidden=8)
    small = dataclasses.replace(cfg, released_lr=lr_small)
    run = tiger.embedding_experiment(("released_tiger",), small, jit_compile=False)
    assert run["released_tiger"].max_abs.max() < 0.9  # nowhere near 1/lambda in 120 steps
    big = dataclasses.replace(cfg, released_lr=lr_big)
    run = tiger.embedding_experiment(("released_tiger",), big, jit_compile=False)
    once = tiger.released_once_seen(run["released_tiger"], big)
    assert once["count"] >= 5 and once["at_fixed_point"] == 1.0


def test_try_larger_vocabulary_keeps_characters_seen_twice():
    from lessons.data import Vocab, load_peoples_daily, split_corpus

    train, _ = split_corpus(load_peoples_daily())
    vocab = Vocab.build(train, max_size=4000)
    assert vocab.counts[-1] == 2 and vocab.counts[2999] > 2  # 3,000 keeps none seen twice
    cfg = ExperimentConfig(vocab_size=4000, steps=3, batch_size=8, hidden=8, dim=4)
    run = tiger.embedding_experiment(("tiger",), cfg, jit_compile=False)["tiger"]
    assert run.embedding.shape == (4002, 4)
