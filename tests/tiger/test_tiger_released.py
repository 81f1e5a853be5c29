"""ReleasedTiger against a NumPy transcription of bojone/tiger's tiger.py (``_prepare`` and
``_resource_apply``): every branch (relative step, bias/gamma, NaN shrink, accumulation, schedule),
Keras paths of real layers, saving and loading, bad arguments."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from lessons import tiger
from lessons.tiger import ReleasedTiger
from lessons.tiger.released import _piecewise_linear

F32 = np.float32


KINDS = {"embeddings": "embeddings", "kernel": "tensor", "bias": "bias", "gamma": "gamma",
         "beta": "bias"}


def numpy_released_step(theta, m, grad, t, kind, *, lr, beta, wd, k=1, schedule=None,
                        shrink=0.99):
    """One micro-step of tiger.py in float32, in its operation order."""
    grad = np.asarray(grad, F32)
    is_nan = bool(np.isnan(grad).any())
    b1 = F32(beta) if t % k == 0 else F32(1)
    if is_nan:
        b1, grad = F32(1), np.zeros_like(grad)
    b2 = F32((1 - beta) / k)
    lr_t = F32(lr) * F32(tiger.piecewise_linear(t, schedule or {0: 1}))
    if (t + 1) % k != 0:
        lr_t = F32(0)
    d, c = F32(wd), F32(0)
    if kind in ("bias", "gamma"):
        lr_t, d = lr_t * F32(0.5), F32(0)
        c = F32(1) if kind == "gamma" else F32(0)
    elif kind == "embeddings":
        lr_t = lr_t * np.sqrt(np.mean(theta**2, axis=-1, keepdims=True, dtype=F32))
    else:
        lr_t = lr_t * np.sqrt(np.mean(theta**2, dtype=F32))
    new_m = b1 * m + b2 * grad
    u = (np.sign(new_m) + d * theta) * lr_t
    new_theta = (theta - c) * F32(shrink) + c if is_nan else theta - u
    return new_theta.astype(F32), new_m.astype(F32)


SHAPES = {"embeddings": (9, 4), "kernel": (4, 3), "bias": (3,), "gamma": (5,), "beta": (5,)}


def _variables(rng):
    inits = {n: (rng.standard_normal(s) * 0.3 + (1.0 if n == "gamma" else 0.0)).astype(F32)
             for n, s in SHAPES.items()}
    return inits, [keras.Variable(x, name=n) for n, x in inits.items()]


def _run(opt, variables, inits, grads_per_step, jit_compile=False, **rule):
    step = tf.function(lambda grads: opt.apply(grads, variables), jit_compile=jit_compile)
    thetas = {n: x.copy() for n, x in inits.items()}
    moms = {n: np.zeros_like(x) for n, x in inits.items()}
    for t, grads in enumerate(grads_per_step):
        step([tf.constant(grads[n]) for n in SHAPES])
        for n in SHAPES:
            thetas[n], moms[n] = numpy_released_step(thetas[n], moms[n], grads[n], t, KINDS[n],
                                                     **rule)
    for v in variables:
        np.testing.assert_allclose(v.numpy(), thetas[v.name], rtol=2e-5, atol=2e-6,
                                   err_msg=v.name)
        m = opt._momentums[opt._get_variable_index(v)].numpy()
        np.testing.assert_allclose(m, moms[v.name], rtol=2e-5, atol=1e-8, err_msg=v.name)
    return thetas


def _grads(rng, steps, nan_at=()):
    out = []
    for t in range(steps):
        grads = {}
        for n, s in SHAPES.items():
            g = rng.standard_normal(s).astype(F32)
            if len(s) == 2:
                g[rng.random(s[0]) < 0.5] = 0.0  # absent rows
            if (t, n) in nan_at:
                g.flat[0] = np.nan
            grads[n] = g
        out.append(grads)
    return out


def test_released_tiger_under_xla_matches_numpy_tiger_py_for_100_steps():
    rng = np.random.default_rng(11)
    inits, variables = _variables(rng)
    opt = ReleasedTiger(learning_rate=0.02, beta=0.9, weight_decay=0.3)
    thetas = _run(opt, variables, inits, _grads(rng, 100), jit_compile=True,  # as in the notebook
                  lr=0.02, beta=0.9, wd=0.3)
    for n, x in inits.items():  # every kind really moved
        assert np.abs(thetas[n] - x).max() > 0.05, n


def test_released_tiger_accumulation_schedule_and_nan_branch_match_numpy():
    rng = np.random.default_rng(12)
    inits, variables = _variables(rng)
    schedule = {6: 1.0, 30: 0.25}  # warm-up from 0, then down to 0.25
    nan_at = {(4, "kernel"), (7, "gamma"), (9, "embeddings"), (9, "bias"), (20, "beta")}
    opt = ReleasedTiger(0.05, beta=0.8, weight_decay=0.2, grad_accum_steps=3,
                        lr_schedule=schedule, shrink_ratio=0.9)
    _run(opt, variables, inits, _grads(rng, 45, nan_at), lr=0.05, beta=0.8, wd=0.2, k=3,
         schedule=schedule, shrink=0.9)


def test_accumulation_goes_through_the_momentum():
    """k = 2: m = beta m + (1 - beta)/2 g1, then m += (1 - beta)/2 g2; theta moves on step 2 only."""
    theta0 = np.array([0.5, -0.5, 0.2, 0.1], F32)
    v = keras.Variable(theta0, name="kernel")
    opt = ReleasedTiger(0.1, beta=0.5, weight_decay=0.0, grad_accum_steps=2)
    g1, g2 = np.array([1.0, 1.0, -1.0, 0.0], F32), np.array([-3.0, 1.0, 0.0, 0.0], F32)
    opt.apply([tf.constant(g1)], [v])
    m = opt._momentums[0].numpy()
    np.testing.assert_array_equal(v.numpy(), theta0)
    np.testing.assert_allclose(m, 0.25 * g1)
    opt.apply([tf.constant(g2)], [v])
    np.testing.assert_allclose(opt._momentums[0].numpy(), 0.25 * (g1 + g2))
    rms = math.sqrt(float(np.mean(theta0.astype(np.float64) ** 2)))
    np.testing.assert_allclose(v.numpy(), theta0 - 0.1 * rms * np.sign(g1 + g2), rtol=1e-6)


def test_nan_gradient_shrinks_towards_zero_or_one_and_keeps_momentum():
    a = keras.Variable(np.array([2.0, -4.0], F32), name="kernel")
    g = keras.Variable(np.array([3.0, 0.5], F32), name="gamma")
    b = keras.Variable(np.array([1.0, 1.0], F32), name="embeddings")
    opt = ReleasedTiger(0.01, shrink_ratio=0.5)
    opt.apply([tf.constant([1.0, 1.0]), tf.constant([1.0, 1.0]), tf.constant([1.0, 1.0])],
              [a, g, b])
    before = [opt._momentums[i].numpy().copy() for i in range(3)]
    a0, g0, b0 = a.numpy().copy(), g.numpy().copy(), b.numpy().copy()
    np.testing.assert_allclose(g0, [3.0 - 0.005, 0.5 - 0.005])  # 0.5 lr, absolute, no decay
    nan = tf.constant([np.nan, 0.0])
    opt.apply([nan, nan, tf.constant([1.0, 1.0])], [a, g, b])
    np.testing.assert_allclose(a.numpy(), 0.5 * a0)
    np.testing.assert_allclose(g.numpy(), 1.0 + 0.5 * (g0 - 1.0), rtol=1e-6)
    np.testing.assert_array_equal(opt._momentums[0].numpy(), before[0])
    np.testing.assert_array_equal(opt._momentums[1].numpy(), before[1])
    assert np.all(b.numpy() < b0)  # the finite variable took its normal step
    assert np.all(np.isfinite(a.numpy())) and np.all(np.isfinite(g.numpy()))


def test_embedding_rows_step_by_their_own_rms_and_zeros_never_move():
    rows = np.array([[0.1, -0.1, 0.1], [2.0, 2.0, -2.0], [0.0, 0.0, 0.0]], F32)
    table = keras.Variable(rows, name="embeddings")
    opt = ReleasedTiger(0.01, weight_decay=0.0)
    opt.apply([tf.ones((3, 3))], [table])
    step = rows - table.numpy()
    np.testing.assert_allclose(step, 0.01 * np.array([[0.1], [2.0], [0.0]]) * np.ones((3, 3)),
                               rtol=1e-5)
    kernel = keras.Variable(np.zeros((2, 2), F32), name="kernel")  # no epsilon in the RMS
    for _ in range(3):
        ReleasedTiger(0.1).apply([tf.ones((2, 2))], [kernel])
    np.testing.assert_array_equal(kernel.numpy(), 0.0)


def test_variable_kinds_follow_tiger_py_names():
    cases = {"dense/bias": "bias", "layer_normalization/gamma": "gamma",
             "layer_normalization/beta": "bias", "embedding/embeddings": "embeddings",
             "dense/kernel": "tensor", "embeddings_bias/kernel": "bias",
             "batch_normalization/gamma": "gamma", "tied_logits/bias": "bias"}
    for path, kind in cases.items():
        assert tiger.released_variable_kind(path) == kind, path


def test_keras_paths_of_real_layers():
    inputs = keras.Input((4,), dtype="int32")
    h = keras.layers.Embedding(10, 6, name="embedding")(inputs)
    h = keras.layers.LayerNormalization(name="norm")(h)
    out = keras.layers.Dense(2, name="head")(keras.layers.Flatten()(h))
    model = keras.Model(inputs, out)
    kinds = {v.path: tiger.released_variable_kind(v.path) for v in model.trainable_variables}
    assert kinds == {"embedding/embeddings": "embeddings", "norm/gamma": "gamma",
                     "norm/beta": "bias", "head/kernel": "tensor", "head/bias": "bias"}
    model.compile(optimizer=ReleasedTiger(0.01), loss="mse", jit_compile=False)
    x = np.array([[1, 2, 3, 1]] * 8, np.int32)
    table = model.get_layer("embedding").embeddings
    before = table.numpy().copy()
    model.fit(x, np.ones((8, 2), F32), batch_size=8, epochs=2, verbose=0)
    after = table.numpy()
    # absent ids have m = 0: only the (relative) decay acts, a factor (1 - lr lambda RMS(row))
    rms = np.sqrt(np.mean(before[0].astype(np.float64) ** 2))
    shrink = (1 - 0.01 * 0.01 * rms)
    np.testing.assert_allclose(after[0], before[0] * shrink**2, rtol=1e-6)
    assert np.all(np.abs(after[1] - before[1]) > 1e-5)


def test_plain_tf_variables_are_classified_by_name_as_tiger_py_does():
    """A tf.Variable has no Keras path: its name decides (tiger.py reads the name)."""
    rng = np.random.default_rng(15)
    inits = {n: (rng.standard_normal(s) * 0.3 + (1.0 if n == "gamma" else 0.0)).astype(F32)
             for n, s in SHAPES.items()}
    variables = [tf.Variable(x, name=f"layer/{n}") for n, x in inits.items()]
    assert [v.name for v in variables] == [f"layer/{n}:0" for n in SHAPES]
    opt = ReleasedTiger(0.05, beta=0.9, weight_decay=0.2)
    grads = _grads(rng, 3)
    thetas = {n: x.copy() for n, x in inits.items()}
    moms = {n: np.zeros_like(x) for n, x in inits.items()}
    for t, step in enumerate(grads):
        opt.apply([tf.constant(step[n]) for n in SHAPES], variables)
        for n in SHAPES:
            thetas[n], moms[n] = numpy_released_step(thetas[n], moms[n], step[n], t, KINDS[n],
                                                     lr=0.05, beta=0.9, wd=0.2)
    for v, n in zip(variables, SHAPES, strict=True):
        np.testing.assert_allclose(v.numpy(), thetas[n], rtol=2e-5, atol=2e-6, err_msg=n)


def test_keras_variables_are_classified_by_path_not_name():
    """A Keras variable named "kernel" in a layer named "gamma_head" is a gamma, as its path
    (the TF 1 name tiger.py saw) says; as a bare name it would be a tensor."""
    layer = keras.layers.Dense(2, use_bias=False, name="gamma_head")
    layer.build((None, 3))
    kernel = layer.kernel
    assert (kernel.name, kernel.path) == ("kernel", "gamma_head/kernel")
    theta0 = kernel.numpy().copy()
    ReleasedTiger(0.1, weight_decay=0.5).apply([tf.ones((3, 2))], [kernel])
    np.testing.assert_allclose(kernel.numpy(), theta0 - 0.05, rtol=1e-6)  # 0.5 lr, no decay


def test_indexed_slices_match_dense():
    rng = np.random.default_rng(13)
    table = rng.standard_normal((6, 3)).astype(F32)
    values = rng.standard_normal((4, 3)).astype(F32)
    indices = np.array([0, 2, 2, 5])
    dense = np.zeros_like(table)
    np.add.at(dense, indices, values)
    a, b = keras.Variable(table, name="embeddings"), keras.Variable(table, name="embeddings")
    oa, ob = ReleasedTiger(0.05), ReleasedTiger(0.05)
    for _ in range(3):
        oa.apply([tf.IndexedSlices(tf.constant(values), tf.constant(indices), tf.constant([6, 3]))],
                 [a])
        ob.apply([tf.constant(dense)], [b])
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_constant_sign_row_follows_released_row_simulate():
    row0 = np.array([0.03, -0.02, 0.01, 0.04], F32)
    sign = np.array([-1.0, 1.0, 1.0, -1.0])  # entries 0, 1 move away from 0; 2, 3 cross it
    table = keras.Variable(row0[None, :], name="embeddings")
    opt = ReleasedTiger(0.02, weight_decay=1.0)
    opt.build([table])
    grad = tf.constant(sign[None, :].astype(F32))

    @tf.function
    def run():
        path = tf.TensorArray(tf.float32, size=700)
        for t in tf.range(700):
            opt.apply([grad], [table])
            path = path.write(t, table.value[0])
        return path.stack()

    got = run().numpy()
    want = tiger.released_row_simulate(row0.astype(np.float64), 0.02, 1.0, sign, 700)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.all(np.abs(got[-1] - (-sign)) < 1e-3)  # at the fixed point -sign/lambda


def test_save_load_round_trip_with_schedule(tmp_path):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((32, 5)).astype(F32)
    y = rng.standard_normal((32, 1)).astype(F32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(1)])
    opt = ReleasedTiger(0.02, beta=0.9, weight_decay=0.05, grad_accum_steps=2,
                        lr_schedule={4: 1.0, 20: 0.5}, shrink_ratio=0.95)
    model.compile(optimizer=opt, loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "released.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    again = loaded.optimizer
    assert isinstance(again, ReleasedTiger)
    assert (again.beta, again.grad_accum_steps, again.shrink_ratio) == (0.9, 2, 0.95)
    assert again.lr_schedule == {4: 1.0, 20: 0.5} and again.weight_decay == 0.05
    for a, b in zip(model.optimizer.variables, again.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.trainable_weights, loaded.trainable_weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"learning_rate": 0.0}, "learning_rate"), ({"beta": 1.0}, "beta"),
     ({"beta": -0.5}, "beta"), ({"weight_decay": -1.0}, "weight_decay"),
     ({"grad_accum_steps": 0}, "grad_accum_steps"), ({"grad_accum_steps": 2.0}, "grad_accum_steps"),
     ({"grad_accum_steps": 2, "gradient_accumulation_steps": 2}, "grad_accum_steps"),
     ({"shrink_ratio": 0.0}, "shrink_ratio"), ({"shrink_ratio": 1.5}, "shrink_ratio"),
     ({"lr_schedule": {}}, "lr_schedule"), ({"lr_schedule": {-1: 1.0}}, "lr_schedule"),
     ({"lr_schedule": {0: -1.0}}, "lr_schedule")],
)
def test_released_tiger_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ReleasedTiger(**kwargs)


def test_piecewise_linear_as_tiger_py_and_in_ops():
    readme = {40000: 1, 160000: 0.5, 640000: 0.1, 1280000: 0.01}
    t = np.array([0, 20000, 40000, 100000, 160000, 400000, 1280000, 5000000])
    np.testing.assert_allclose(tiger.piecewise_linear(t, readme),
                               [0, 0.5, 1, 0.75, 0.5, 0.3, 0.01, 0.01])
    assert tiger.piecewise_linear(123, {0: 1}) == 1.0
    for step in (0, 3, 10, 17, 50):
        got = float(_piecewise_linear(step, {5: 2.0, 15: 1.0}))
        assert got == pytest.approx(float(tiger.piecewise_linear(step, {5: 2.0, 15: 1.0})))


def test_exclude_from_weight_decay_and_none():
    theta0 = np.array([[0.5, -0.5]], F32)
    keep, skip = keras.Variable(theta0, name="kernel"), keras.Variable(theta0, name="kernel")
    opt = ReleasedTiger(0.1, weight_decay=0.2)
    opt.exclude_from_weight_decay(var_list=[skip])
    opt.apply([tf.zeros((1, 2)), tf.zeros((1, 2))], [keep, skip])  # m = 0: only decay acts
    np.testing.assert_allclose(keep.numpy(), theta0 * (1 - 0.1 * 0.5 * 0.2), rtol=1e-6)
    np.testing.assert_array_equal(skip.numpy(), theta0)
    other = keras.Variable(theta0, name="kernel")
    ReleasedTiger(0.1, weight_decay=None).apply([tf.zeros((1, 2))], [other])
    np.testing.assert_array_equal(other.numpy(), theta0)
