"""Lesson 03's CRF layer when compiled: a Keras model of unknown sequence length, XLA, and masks
whose values a traced function cannot check, each against float64 brute force (every path)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from crf_testing import brute_force, path_score, random_crf

# a left-padded row, a row with holes, an empty row and a right-padded one
ODD_MASK = np.array([[0, 0, 1, 1, 1], [1, 0, 1, 0, 1], [0, 0, 0, 0, 0], [1, 1, 0, 0, 0]], bool)


def _emissions(shape, seed):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32) * 2


def _right_padded(lengths, steps):
    return np.arange(steps)[None] < np.asarray(lengths)[:, None]


def test_a_model_of_unknown_length_decodes_every_length():
    crf = random_crf(seed=2)
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, crf(inputs))
    for steps in (3, 7, 1):  # the second length made Keras's TF scan fail on two inputs
        emissions = _emissions((2, steps, 3), seed=steps)
        got = model.predict(emissions, verbose=0)
        assert got.shape == (2, steps)
        for b in range(2):
            assert tuple(got[b]) == brute_force(crf, emissions[b], steps)[1]


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_decode_under_xla_matches_brute_force(steps):
    crf = random_crf(seed=3)
    emissions = _emissions((3, steps, 3), seed=10 + steps)
    decode = tf.function(crf.decode, jit_compile=True)
    for mask in (None, _right_padded([steps, max(1, steps - 1), 1], steps)):
        got = decode(emissions, mask).numpy()
        lengths = [steps] * 3 if mask is None else mask.sum(1)
        for b, length in enumerate(lengths):
            assert tuple(got[b, :length]) == brute_force(crf, emissions[b], length)[1]
            assert (got[b, length:] == got[b, length - 1]).all()


def test_odd_masks_raise_eagerly():
    crf = random_crf()
    emissions, tags = _emissions((4, 5, 3), seed=4), np.zeros((4, 5), np.int32)
    for rows, match in (([0], "mask must have its first time step on"),
                        ([1], "mask must be right-padded"), ([2], "empty sequences")):
        with pytest.raises(ValueError, match=match):
            crf.log_likelihood(emissions[rows], tags[rows], ODD_MASK[rows])
        with pytest.raises(ValueError, match=match):
            crf.decode(emissions[rows], ODD_MASK[rows])


@pytest.mark.parametrize("jit_compile", [False, True])
def test_traced_odd_masks_score_and_decode_the_positions_that_are_on(jit_compile):
    """Inside tf.function (as in fit), where the mask cannot be checked, a sequence is its on
    positions in order: its log-likelihood and Viterbi path are the brute-force ones of those
    positions, off positions repeat its last tag, and an empty row scores 0 (decodes 0)."""
    crf = random_crf(seed=29)  # the best paths of rows 0 and 1 have three different tags
    emissions = _emissions((4, 5, 3), seed=30)
    tags = np.random.default_rng(7).integers(0, 3, size=(4, 5)).astype(np.int32)
    log_likelihood = tf.function(crf.log_likelihood, jit_compile=jit_compile)
    decode = tf.function(crf.decode, jit_compile=jit_compile)
    got = log_likelihood(emissions, tags, ODD_MASK).numpy()
    path = decode(emissions, ODD_MASK).numpy()
    for b, on in enumerate(ODD_MASK):
        if not on.any():
            assert got[b] == 0.0 and (path[b] == 0).all()
            continue
        log_z, best, _ = brute_force(crf, emissions[b][on], on.sum())
        want = path_score(crf, emissions[b][on], tags[b][on]) - log_z
        assert got[b] == pytest.approx(want, abs=1e-5)
        assert tuple(path[b][on]) == best
        assert (path[b][~on] == best[-1]).all()
    loss = tf.function(crf.nll_loss, jit_compile=jit_compile)
    assert float(loss(emissions, tags, ODD_MASK)) == pytest.approx(-got.mean(), rel=1e-6)


def test_traced_right_padded_masks_give_the_eager_values():
    crf = random_crf(seed=8)
    emissions = _emissions((4, 5, 3), seed=9)
    tags = np.random.default_rng(10).integers(0, 3, size=(4, 5)).astype(np.int32)
    mask = _right_padded([5, 3, 1, 2], 5)
    for jit_compile in (False, True):
        np.testing.assert_allclose(
            tf.function(crf.log_likelihood, jit_compile=jit_compile)(emissions, tags, mask),
            crf.log_likelihood(emissions, tags, mask), rtol=1e-5)
        np.testing.assert_array_equal(
            tf.function(crf.decode, jit_compile=jit_compile)(emissions, mask),
            crf.decode(emissions, mask))
