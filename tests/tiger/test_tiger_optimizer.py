"""Tiger (eq. (1)) against a float32 NumPy transcription of the rule: dense and sparse gradients,
lazy rows, the decay applied once, XLA and graph mode, saving and loading, bad arguments."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from lessons.tiger import Tiger


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
