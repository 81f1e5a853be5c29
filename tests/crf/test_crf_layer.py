"""Lesson 03's CRF layer against float64 brute force (every path enumerated), by hand-made cases
and by hypothesis on random small batches with random right-padded masks."""

import itertools
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from crf_testing import (
    ILLEGAL_BMES,
    MASK,
    brute_force,
    effective_weights,
    path_score,
    random_crf,
    tiny_batch,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lessons._core.data import TAGS
from lessons.crf import CRF, bmes_constraints


def test_weights_are_named_and_initialised_alike_for_every_multiplier():
    crfs = []
    for k in (1.0, 10.0, 1000.0):
        keras.utils.set_random_seed(3)
        crf = CRF(4, lr_multiplier=k)
        crf.build()
        crfs.append(crf)
        assert [w.name for w in crf.weights] == ["transitions", "start_transitions",
                                                 "end_transitions"]
        assert crf.weights[0].shape == (4, 4)
        np.testing.assert_allclose(np.asarray(crf.weights[0]) * k, crf.transitions)
    for crf in crfs[1:]:  # effective initial weights do not depend on the multiplier
        np.testing.assert_allclose(crf.transitions, crfs[0].transitions, rtol=1e-5, atol=1e-7)
    assert np.abs(np.asarray(crfs[0].transitions)).max() <= 0.1


@pytest.mark.parametrize("k", [1.0, 7.0])
def test_log_likelihood_matches_brute_force_with_masks(k):
    crf = random_crf(lr_multiplier=k)
    emissions, tags = tiny_batch()
    got = crf.log_likelihood(emissions, tags, MASK).numpy()
    assert got.shape == (4,) and got.dtype == np.float32
    for b, length in enumerate(MASK.sum(1)):
        log_z, _, _ = brute_force(crf, emissions[b], length)
        want = path_score(crf, emissions[b], tags[b, :length]) - log_z
        assert got[b] == pytest.approx(want, abs=1e-5)
    # the probabilities of all paths of a length-3 sequence sum to one
    total = sum(np.exp(crf.log_likelihood(emissions[1:2, :3], np.array([p])).numpy()[0])
                for p in itertools.product(range(3), repeat=3))
    assert total == pytest.approx(1.0, abs=1e-5)


def test_padding_values_are_ignored_and_loss_is_mean_nll():
    crf = random_crf()
    emissions, tags = tiny_batch()
    noisy_e, noisy_t = emissions.copy(), tags.copy()
    noisy_e[~MASK] = 50.0
    noisy_t[~MASK] = 7  # out of range, but masked out
    np.testing.assert_allclose(crf.log_likelihood(noisy_e, noisy_t, MASK),
                               crf.log_likelihood(emissions, tags, MASK), rtol=1e-6)
    assert float(crf.nll_loss(emissions, tags, MASK)) == pytest.approx(
        -float(np.mean(crf.log_likelihood(emissions, tags, MASK))), rel=1e-6)


@pytest.mark.parametrize("mask", [MASK, None])
def test_nll_loss_reductions_match_brute_force(mask):
    crf = random_crf(seed=4)
    emissions, tags = tiny_batch(seed=5)
    lengths = MASK.sum(1) if mask is not None else [5] * 4
    nll = np.array([brute_force(crf, emissions[b], n)[0] - path_score(crf, emissions[b],
                                                                       tags[b, :n])
                    for b, n in enumerate(lengths)])  # float64 [4]
    got = {r: crf.nll_loss(emissions, tags, mask, reduction=r).numpy()
           for r in ("none", "sum", "mean", "token_mean")}
    assert got["none"].shape == (4,)
    np.testing.assert_allclose(got["none"], nll, rtol=1e-5)
    assert got["sum"] == pytest.approx(nll.sum(), rel=1e-5)
    assert got["mean"] == pytest.approx(nll.mean(), rel=1e-5)
    assert got["token_mean"] == pytest.approx(nll.sum() / sum(lengths), rel=1e-5)
    assert crf.nll_loss(emissions, tags, mask).numpy() == got["mean"]  # the default


@pytest.mark.parametrize("reduction", ["elementwise_mean", "Mean", None])
def test_nll_loss_rejects_other_reductions(reduction):
    crf = random_crf()
    emissions, tags = tiny_batch()
    with pytest.raises(ValueError, match="reduction must be one of 'none', 'sum', 'mean', "
                                         "'token_mean'"):
        crf.nll_loss(emissions, tags, MASK, reduction=reduction)


def test_decode_matches_brute_force_argmax_with_and_without_constraints():
    for seed in range(3):
        crf = random_crf(seed=seed)
        emissions, _ = tiny_batch(seed=seed + 10)
        got = crf.decode(emissions, MASK).numpy()
        assert got.dtype == np.int32 and got.shape == (4, 5)
        np.testing.assert_array_equal(crf(emissions, MASK), got)  # call == decode
        for b, length in enumerate(MASK.sum(1)):
            assert tuple(got[b, :length]) == brute_force(crf, emissions[b], length)[1]
    allowed = bmes_constraints()
    crf = random_crf(num_tags=4, seed=5, constraints="bmes")
    emissions = np.random.default_rng(6).normal(size=(4, 5, 4)).astype(np.float32) * 3
    got = crf.decode(emissions, MASK).numpy()
    for b, length in enumerate(MASK.sum(1)):
        assert tuple(got[b, :length]) == brute_force(crf, emissions[b], length, allowed)[1]


def test_bmes_constraints_and_constrained_decoding_are_legal():
    allowed = np.array(bmes_constraints()["transitions"])
    forbidden = {(a, b) for a, b in itertools.product(TAGS, repeat=2)
                 if not allowed[TAGS.index(a), TAGS.index(b)]}
    assert forbidden == {("s", "m"), ("s", "e"), ("b", "s"), ("b", "b"), ("m", "s"),
                         ("m", "b"), ("e", "m"), ("e", "e")}
    assert bmes_constraints()["start"] == [True, True, False, False]
    assert bmes_constraints()["end"] == [True, False, False, True]
    crf = CRF(4, constraints="bmes")
    emissions = np.random.default_rng(0).normal(size=(64, 12, 4)).astype(np.float32) * 5
    free = CRF(4)
    free.build()
    crf.build()
    crf.weights[0].assign(free.weights[0])
    decoded = ["".join(TAGS[t] for t in row) for row in crf.decode(emissions).numpy()]
    assert not any(re.search(ILLEGAL_BMES, d) for d in decoded)
    unconstrained = ["".join(TAGS[t] for t in row) for row in free.decode(emissions).numpy()]
    assert any(re.search(ILLEGAL_BMES, d) for d in unconstrained)


def test_single_step_sequences():
    crf = random_crf()
    emissions, tags = tiny_batch()
    e1, t1 = emissions[:, :1], tags[:, :1]
    for b in range(4):
        log_z, best, _ = brute_force(crf, e1[b], 1)
        assert crf.log_likelihood(e1, t1).numpy()[b] == pytest.approx(
            path_score(crf, e1[b], t1[b]) - log_z, abs=1e-5)
        assert crf.decode(e1).numpy()[b, 0] == best[0]


def test_stable_at_emission_scores_of_1e4():
    crf = random_crf()
    emissions, tags = tiny_batch(scale=1e4)
    got = crf.log_likelihood(emissions, tags, MASK).numpy()
    assert np.isfinite(got).all() and (got <= 0).all()
    decoded = crf.decode(emissions, MASK).numpy()
    for b, length in enumerate(MASK.sum(1)):
        log_z, best, _ = brute_force(crf, emissions[b], length)
        want = path_score(crf, emissions[b], tags[b, :length]) - log_z
        assert got[b] == pytest.approx(want, rel=1e-5, abs=1e-2)
        assert tuple(decoded[b, :length]) == best
    best_tags = decoded.copy()
    assert crf.log_likelihood(emissions, best_tags, MASK).numpy() == pytest.approx(0, abs=1e-2)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_inputs_compute_in_float32(dtype):
    crf = random_crf()
    emissions, tags = tiny_batch(scale=300.0)  # 300^2 overflows float16 if squared; sums do too
    half = tf.cast(emissions, dtype)
    got = crf.log_likelihood(half, tags, MASK)
    assert got.dtype == tf.float32
    rounded = tf.cast(half, tf.float32).numpy()
    np.testing.assert_allclose(got, crf.log_likelihood(rounded, tags, MASK), rtol=1e-6)
    big = tf.cast(np.full((1, 40, 3), 6e4, np.float32), "float16")  # the sum, 2.4e6, > fp16 max
    assert np.isfinite(crf.log_likelihood(big, np.zeros((1, 40), np.int32)).numpy()).all()
    np.testing.assert_array_equal(crf.decode(half, MASK), crf.decode(rounded, MASK))


def test_config_round_trip():
    crf = CRF(4, lr_multiplier=100.0, constraints="bmes")
    clone = CRF.from_config(crf.get_config())
    assert (clone.num_tags, clone.lr_multiplier) == (4, 100.0)
    assert clone.constraints == bmes_constraints()


# ---------------------------------------------------------------------------- hypothesis


@st.composite
def crf_batches(draw):
    """A random CRF problem: 1..4 tags (4 may be constrained to b/m/e/s), 1..4 steps, 1..3
    sequences with random right-padded masks, emissions and effective weights in [-4, 4]."""
    n = draw(st.integers(1, 4))
    steps, batch = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    lengths = draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch))
    values = st.floats(-4, 4, width=32)
    return {
        "emissions": draw(hnp.arrays(np.float32, (batch, steps, n), elements=values)),
        "tags": draw(hnp.arrays(np.int32, (batch, steps), elements=st.integers(0, n - 1))),
        "mask": np.arange(steps)[None] < np.array(lengths)[:, None],
        "weights": [draw(hnp.arrays(np.float32, s, elements=values)) for s in ((n, n), (n,), (n,))],
        "lr_multiplier": draw(st.sampled_from([1.0, 7.0, 1000.0])),
        "constraints": draw(st.sampled_from([None, "bmes"])) if n == 4 else None,
    }


def crf_with(problem):
    crf = CRF(len(problem["weights"][1]), lr_multiplier=problem["lr_multiplier"],
              constraints=problem["constraints"])
    crf.build()
    for var, value in zip(crf.weights, problem["weights"], strict=True):
        var.assign(value / np.float32(problem["lr_multiplier"]))
    return crf


def tolerance(crf, emissions):
    """float32 rounding of a sum of at most ~12 terms of size <= max |score|."""
    biggest = max(np.abs(w).max() for w in effective_weights(crf)) + np.abs(emissions).max()
    return 1e-5 + 2e-6 * 12 * biggest


@settings(max_examples=25, deadline=None)
@given(crf_batches())
def test_log_likelihood_and_viterbi_are_the_brute_force_ones_on_random_masks(problem):
    """log p(tags) equals score(tags) - log Z with Z summed over every path; Viterbi's path
    scores the maximum (ties allowed: hypothesis finds them), is allowed by the constraints,
    and repeats its last real tag over the padding."""
    crf = crf_with(problem)
    emissions, tags, mask = problem["emissions"], problem["tags"], problem["mask"]
    tol, allowed = tolerance(crf, emissions), crf.constraints
    log_likelihood = crf.log_likelihood(emissions, tags, mask).numpy()
    decoded = crf.decode(emissions, mask).numpy()
    for b, length in enumerate(mask.sum(1)):
        log_z, _, _ = brute_force(crf, emissions[b], length)
        want = path_score(crf, emissions[b], tags[b, :length]) - log_z
        assert log_likelihood[b] == pytest.approx(want, abs=tol)
        path = tuple(decoded[b, :length])
        _, _, best = brute_force(crf, emissions[b], length, allowed)
        assert path_score(crf, emissions[b], path) == pytest.approx(best, abs=tol)
        assert (decoded[b, length:] == path[-1]).all()
        if allowed is not None:
            assert allowed["start"][path[0]] and allowed["end"][path[-1]]
            assert all(allowed["transitions"][a][c] for a, c in itertools.pairwise(path))


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize("call, match", [
    (lambda c, e, t, m: c.log_likelihood(e, np.where(m, 3, 0), m), "tags must be in"),
    (lambda c, e, t, m: c.log_likelihood(e, t - 1, None), "tags must be in"),
    (lambda c, e, t, m: c.log_likelihood(e, t.astype(float), m), "tags must be integers"),
    (lambda c, e, t, m: c.log_likelihood(e, t, m[:, ::-1]), "first time step"),
    (lambda c, e, t, m: c.decode(e, np.concatenate([m[:1], [[0, 0, 0, 0, 0]]])[:2]),
     "mask must have shape"),
    (lambda c, e, t, m: c.decode(e[:2], np.array([[1, 1, 1, 1, 1], [0, 0, 0, 0, 0]])),
     "first time step"),
    (lambda c, e, t, m: c.decode(e[:1], np.array([[1, 0, 1, 1, 0]])), "right-padded"),
    (lambda c, e, t, m: c.decode(e[:, :0]), "first time step"),
    (lambda c, e, t, m: c.log_likelihood(e, t[:, :4], m), "tags must have shape"),
    (lambda c, e, t, m: c.log_likelihood(e, t[:3], None), "tags must have shape"),
    (lambda c, e, t, m: c.decode(e, m[:, :4]), "mask must have shape"),
    (lambda c, e, t, m: c.decode(e[..., :2], m), "emissions must have shape"),
    (lambda c, e, t, m: c.decode(e[0], None), "emissions must have shape"),
])
def test_crf_value_errors(call, match):
    crf = random_crf()
    emissions, tags = tiny_batch()
    with pytest.raises(ValueError, match=match):
        call(crf, emissions, tags, MASK)


@pytest.mark.parametrize("make, match", [
    (lambda: CRF(0), "num_tags"),
    (lambda: CRF(2.5), "num_tags"),
    (lambda: CRF(4, lr_multiplier=0), "lr_multiplier"),
    (lambda: CRF(4, init_scale=-1), "init_scale"),
    (lambda: CRF(3, constraints="bmes"), "constraints\\['transitions'\\]"),
    (lambda: CRF(4, constraints={"transitions": []}), "constraints must be"),
    (lambda: CRF(2, constraints={"transitions": [[0, 1], [0, 0]], "start": [1, 1],
                                 "end": [1, 1]}), "successor"),
    (lambda: bmes_constraints("sbmx"), "tags must be"),
])
def test_layer_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
