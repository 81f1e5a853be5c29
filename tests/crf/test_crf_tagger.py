"""Lesson 03's tagger and one training run: both heads checked independently (a float64 log-softmax
and a brute-force CRF), RunConfig's checks (without building a model), and train_run's seeding:
the course seed or the config's, and no global generator or matplotlib setting touched."""

import dataclasses
import itertools
import random

import keras
import matplotlib
import numpy as np
import pytest
import tensorflow as tf
from crf_testing import ALLOWED, TINY, brute_force, path_score, same_training

import lessons
from lessons._core.notebook import course_seed
from lessons.crf import RunConfig, Tagger, batch_progress, bmes_constraints, build_tagger, train_run

IDS = np.array([[5, 6, 7, 0], [8, 9, 0, 0]], np.int32)
TAGS_01 = np.array([[1, 3, 0, 0], [0, 0, 0, 0]], np.int32)


def test_softmax_head_loss_and_tags_are_the_masked_cross_entropy_and_argmax():
    mask = IDS > 0
    for encoder, depth in (("conv", 2), ("bilstm", 1)):
        model = Tagger(20, depth=depth, encoder=encoder, head="softmax", embed_dim=8, width=8)
        emissions = np.float64(model(IDS))
        assert emissions.shape == (2, 4, 4)
        logp = emissions - np.log(np.exp(emissions).sum(-1, keepdims=True))
        want = -np.mean([logp[b, t, TAGS_01[b, t]] for b, t in zip(*np.nonzero(mask), strict=True)])
        assert float(model.loss_on(IDS, TAGS_01, mask)) == pytest.approx(want, rel=1e-5)
        pred = model.predict_tags(IDS, mask).numpy()
        assert pred.shape == (2, 4) and pred.dtype == np.int32
        np.testing.assert_array_equal(pred, emissions.argmax(-1))


def test_crf_head_loss_and_tags_are_the_brute_force_nll_and_best_path():
    """The CRF head's loss is the mean over sentences of log Z - score(gold), and its tags the
    best path, both found by enumerating every path of each (unpadded) sentence."""
    mask = IDS > 0
    for encoder, depth in (("conv", 0), ("bilstm", 1)):
        model = Tagger(20, depth=depth, encoder=encoder, embed_dim=8, width=8)
        emissions = np.asarray(model(IDS))
        nll, best = [], []
        for b, length in enumerate(mask.sum(1)):
            log_z, path, _ = brute_force(model.crf, emissions[b], length)
            nll.append(log_z - path_score(model.crf, emissions[b], TAGS_01[b, :length]))
            best.append(path)
        assert float(model.loss_on(IDS, TAGS_01, mask)) == pytest.approx(np.mean(nll), rel=1e-5)
        pred = model.predict_tags(IDS, mask).numpy()
        assert pred.shape == (2, 4) and pred.dtype == np.int32
        for b, length in enumerate(mask.sum(1)):
            assert tuple(pred[b, :length]) == best[b]


def test_tagger_config_round_trip():
    tagger = Tagger(50, depth=2, head="softmax")
    assert Tagger.from_config(tagger.get_config()).get_config()["depth"] == 2


def test_run_config_checks_its_strings_without_building_a_model(monkeypatch):
    def no_layers(*args, **kwargs):
        raise AssertionError("RunConfig built a Keras layer")

    monkeypatch.setattr(keras.layers.Layer, "__init__", no_layers)
    config = RunConfig(depth=2, encoder="bilstm", head="softmax", constraints="bmes")
    assert config.resolved().seed == course_seed()
    with pytest.raises(ValueError, match="encoder"):
        RunConfig(encoder="gru")


def draws():
    """One number from each global generator: Python's, NumPy's and TensorFlow's."""
    return random.random(), np.random.random(), float(tf.random.uniform([]))


def test_train_run_seeds_from_the_course_seed_and_leaves_it_alone(tiny_run):
    base = tiny_run
    lessons.setup(7)
    want = draws()  # what the global generators give next after setup(7)
    lessons.setup(7)
    matplotlib.rcParams["figure.dpi"] = 55  # a student's own setting
    seven = train_run(dataclasses.replace(TINY, seed=None), jit_compile=False)
    # no global generator was re-seeded or advanced (Keras's weight init is seeded privately)
    assert draws() == want
    assert seven["config"]["seed"] == 7 and seven["f1"] != base["f1"]
    assert seven["crf"]["transitions"] != base["crf"]["transitions"]
    # an explicit seed overrides the course seed; the Try-it's progress bar changes nothing
    bar = batch_progress("tiny")
    again = train_run(dataclasses.replace(TINY, seed=0), jit_compile=False, on_batch=bar)
    assert same_training(again, base) and again["config"]["seed"] == 0
    # train_run never calls lessons.setup: the course seed and matplotlib stay as they were
    assert course_seed() == 7 and matplotlib.rcParams["figure.dpi"] == 55


def test_try_it_constraints_reach_the_taggers_crf():
    """Try-it 3's constraints go through RunConfig and Tagger to the CRF's decoding."""
    config = dataclasses.replace(TINY, constraints="bmes")
    model = build_tagger(config, vocab_size=50)
    assert model.crf.constraints == bmes_constraints()
    ids = np.random.default_rng(0).integers(1, 50, size=(64, 16))
    tags = np.asarray(model.predict_tags(ids, np.ones_like(ids, bool)))
    assert all(ALLOWED[a, b] for row in tags for a, b in itertools.pairwise(row))
    assert build_tagger(TINY, vocab_size=50).crf.constraints is None


@pytest.mark.parametrize("make, match", [
    (lambda: Tagger(2), "vocab_size"),
    (lambda: Tagger(50, depth=3), "depth"),
    (lambda: Tagger(50, encoder="gru"), "encoder"),
    (lambda: Tagger(50, head="crf2"), "head"),
    (lambda: Tagger(50, constraints="x"), "constraints"),
    (lambda: RunConfig(body_lr=0), "body_lr"),
    (lambda: RunConfig(lr_multiplier=-1), "lr_multiplier"),
    (lambda: RunConfig(epochs=0), "epochs"),
    (lambda: RunConfig(max_len=1), "max_len"),
    (lambda: RunConfig(depth=5), "depth"),
    (lambda: RunConfig(seed=-1), "seed"),
    (lambda: RunConfig(constraints="bio"), "constraints"),
])
def test_tagger_and_config_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
