"""Lesson 05's statements about Keras itself, each checked by running Keras.

The notebook says (section 2): Keras's ``LossScaleOptimizer`` starts at 2**15, multiplies the loss
by its scale and divides the gradients by it before the inner optimizer's update; when a gradient
is not finite it skips the step and halves the scale; after 2,000 finite steps in a row it
doubles it; ``model.compile`` wraps the optimizer in one by itself when the model's policy is
``mixed_float16``. A ``mixed_*`` policy keeps float32 weights and computes in 16 bits. Keras's
masked softmax replaces masked scores by -3e4 in FP16 (-1e9 otherwise). Each test below runs
Keras and compares with the statement as the notebook writes it.
"""

import numpy as np
import pytest


@pytest.fixture
def keras():
    import keras

    yield keras
    keras.mixed_precision.set_dtype_policy("float32")


def _lso(keras, inner=None, **kwargs):
    var = keras.Variable(np.array([1.0, -2.0, 3.0], np.float32))
    opt = keras.optimizers.LossScaleOptimizer(inner or keras.optimizers.SGD(0.1), **kwargs)
    opt.build([var])
    return opt, var


def test_loss_scale_starts_at_2_15_and_multiplies_the_loss(keras):
    opt, _ = _lso(keras)
    assert float(opt.dynamic_scale.numpy()) == 2.0**15
    assert opt.dynamic_growth_steps == 2000
    assert float(opt.scale_loss(keras.ops.convert_to_tensor(0.75))) == 0.75 * 2.0**15


def test_finite_step_divides_the_gradient_by_the_scale_before_the_inner_update(keras):
    grads = np.array([3.0, -1.0, 0.5], np.float32) * 2.0**15  # what a scaled loss gives
    opt, var = _lso(keras, keras.optimizers.Adam(1e-3))
    opt.apply([keras.ops.convert_to_tensor(grads)], [var])
    # the same Adam on the unscaled gradient, by hand
    ref = keras.Variable(np.array([1.0, -2.0, 3.0], np.float32))
    adam = keras.optimizers.Adam(1e-3)
    adam.apply([keras.ops.convert_to_tensor(grads / 2.0**15)], [ref])
    np.testing.assert_array_equal(var.numpy(), ref.numpy())
    assert float(opt.dynamic_scale.numpy()) == 2.0**15  # one finite step: scale unchanged


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_gradient_skips_the_step_and_halves_the_scale(keras, bad):
    opt, var = _lso(keras, keras.optimizers.Adam(1e-3))
    before = var.numpy().copy()
    opt.apply([keras.ops.convert_to_tensor(np.array([1.0, bad, 1.0], np.float32))], [var])
    np.testing.assert_array_equal(var.numpy(), before)  # skipped: no weight moved
    assert int(opt.iterations.numpy()) == 0  # the inner optimizer did not step either
    assert float(opt.dynamic_scale.numpy()) == 2.0**14
    opt.apply([keras.ops.convert_to_tensor(np.ones(3, np.float32))], [var])
    assert not np.array_equal(var.numpy(), before) and int(opt.iterations.numpy()) == 1


def test_scale_doubles_after_2000_finite_steps_in_a_row(keras):
    import tensorflow as tf

    opt, var = _lso(keras)
    grad = tf.ones(3)

    @tf.function
    def steps(n):
        def body(i):
            opt.apply([grad], [var])
            return (i + 1,)

        tf.while_loop(lambda i: i < n, body, (tf.constant(0),))

    steps(tf.constant(1999))
    assert float(opt.dynamic_scale.numpy()) == 2.0**15  # 1,999 finite steps: not yet
    steps(tf.constant(1))
    assert float(opt.dynamic_scale.numpy()) == 2.0**16  # the 2,000th doubles it
    # every step used the scale in force when it ran: 2,000 float32 SGD steps of 0.1 / 2**15
    expected = np.array([1.0, -2.0, 3.0], np.float32)
    for _ in range(2000):
        expected -= np.float32(0.1) * np.float32(2.0**-15)
    np.testing.assert_array_equal(var.numpy(), expected)
    # an overflow resets the count: after it, 1,999 finite steps do not double
    opt.apply([tf.constant([np.inf, 0.0, 0.0])], [var])
    assert float(opt.dynamic_scale.numpy()) == 2.0**15
    steps(tf.constant(1999))
    assert float(opt.dynamic_scale.numpy()) == 2.0**15


@pytest.mark.parametrize("policy, compute, wrapped", [
    ("mixed_float16", "float16", True),
    ("mixed_bfloat16", "bfloat16", False),
    ("float32", "float32", False),
])
def test_mixed_policies_keep_float32_weights_and_compile_wraps_only_mixed_float16(
        keras, policy, compute, wrapped):
    keras.mixed_precision.set_dtype_policy(policy)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    dense = model.layers[0]
    assert (dense.variable_dtype, dense.compute_dtype) == ("float32", compute)
    assert dense.kernel.dtype == "float32"
    out = model(np.ones((4, 3), np.float32))
    assert keras.backend.standardize_dtype(out.dtype) == compute
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == wrapped
    if wrapped:  # with Keras's defaults
        model.optimizer.build(model.trainable_variables)
        assert float(model.optimizer.dynamic_scale.numpy()) == 2.0**15


def test_the_lessons_fp16_mlp_is_mixed_float16_per_layer(keras):
    from lessons import fp16_xla as fx

    model = fx.scaled_mlp("mixed_float16", depth=2, width=8, init_scale=0.1, seed=0)
    hidden, logits = model.get_layer("hidden_0"), model.get_layer("logits")
    assert (hidden.kernel.dtype, hidden.compute_dtype) == ("float32", "float16")
    assert logits.compute_dtype == "float32"


@pytest.mark.parametrize("dtype, masked_score", [("float16", -3e4), ("float32", -1e9)])
def test_masked_softmax_replaces_masked_scores(keras, dtype, masked_score):
    # a kept score equal to the replacement value ties with the masked one: weight exactly 1/2
    # (Keras then zeroes the masked output); a subtracted "infinity" would leave 123 - 3e4
    layer = keras.layers.Softmax(dtype=dtype)
    scores = np.array([[masked_score, 123.0]], np.float32)
    mask = np.array([[True, False]])
    out = np.asarray(layer(scores, mask=mask), np.float64)
    np.testing.assert_array_equal(out, [[0.5, 0.0]])
    # an ordinary kept score takes all the weight and nothing is NaN, even in FP16
    out = np.asarray(layer(np.array([[0.5, 7.0, -2.0]], np.float32),
                           mask=np.array([[True, False, True]])), np.float64)
    assert np.all(np.isfinite(out)) and out[0, 1] == 0.0 and out.sum() == pytest.approx(1.0, 1e-3)
