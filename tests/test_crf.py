"""Lesson 03, part 1: the CRF layer against brute force, the multiplier, word F1, data.

Training runs, the sweep, the widgets, the claims and the Try-its: ``test_crf_training.py``."""

import importlib.util
import itertools
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from lessons import crf_sweep
from lessons._core.data import TAGS, load_peoples_daily, split_corpus
from lessons.crf import (
    CRF,
    RunConfig,
    Tagger,
    bmes_constraints,
    check_claims,
    format_multiplier_steps,
    live_claims,
    multiplier_step_ratio,
    multiplier_steps,
    path_probabilities,
    prepare_data,
    train_now,
    transition_order,
    word_scores,
    word_spans,
)

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "crf.py"

# ---------------------------------------------------------------------------- helpers


def random_crf(num_tags=3, lr_multiplier=1.0, seed=0, constraints=None):
    """A CRF whose effective weights are random normals (not the small initial values)."""
    crf = CRF(num_tags, lr_multiplier=lr_multiplier, constraints=constraints)
    crf.build()
    rng = np.random.default_rng(seed)
    for var in (crf._transitions, crf._start, crf._end):
        var.assign(rng.normal(size=var.shape).astype(np.float32) / lr_multiplier)
    return crf


def path_score(crf, emissions, path):
    trans, start, end = (np.float64(np.asarray(w)) for w in (
        crf.transitions, crf.start_transitions, crf.end_transitions))
    s = start[path[0]] + end[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
    return s + sum(trans[a, b] for a, b in itertools.pairwise(path))


def brute_force(crf, emissions, length, allowed=None):
    """All num_tags**length paths: (log Z, best path) in float64."""
    e = np.float64(emissions[:length])
    paths = list(itertools.product(range(crf.num_tags), repeat=length))
    if allowed is not None:
        paths = [p for p in paths if allowed["start"][p[0]] and allowed["end"][p[-1]]
                 and all(allowed["transitions"][a][b] for a, b in itertools.pairwise(p))]
    scores = np.array([path_score(crf, e, p) for p in paths])
    top = scores.max()
    return top + np.log(np.exp(scores - top).sum()), paths[int(scores.argmax())]


MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]], bool)


def tiny_batch(scale=1.0, seed=1):
    rng = np.random.default_rng(seed)
    emissions = (scale * rng.normal(size=(4, 5, 3))).astype(np.float32)
    tags = rng.integers(0, 3, size=(4, 5)).astype(np.int32)
    return emissions, tags


# ---------------------------------------------------------------------------- the CRF layer


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
        np.testing.assert_allclose(np.asarray(crf._transitions) * k, crf.transitions)
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
        log_z, _ = brute_force(crf, emissions[b], length)
        want = path_score(crf, np.float64(emissions[b]), tags[b, :length]) - log_z
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
    crf._transitions.assign(free._transitions)
    decoded = ["".join(TAGS[t] for t in row) for row in crf.decode(emissions).numpy()]
    assert not any(re.search("[se][me]|[bm][sb]|^[me]|[bm]$", d) for d in decoded)
    unconstrained = ["".join(TAGS[t] for t in row) for row in free.decode(emissions).numpy()]
    assert any(re.search("[se][me]|[bm][sb]|^[me]|[bm]$", d) for d in unconstrained)


def test_single_step_sequences():
    crf = random_crf()
    emissions, tags = tiny_batch()
    e1, t1 = emissions[:, :1], tags[:, :1]
    for b in range(4):
        log_z, best = brute_force(crf, e1[b], 1)
        assert crf.log_likelihood(e1, t1).numpy()[b] == pytest.approx(
            path_score(crf, np.float64(e1[b]), t1[b]) - log_z, abs=1e-5)
        assert crf.decode(e1).numpy()[b, 0] == best[0]


def test_benchmark_runs_small_and_jit_eager_numpy_agree(capsys):
    """The Try-it benchmark (benchmarks/crf.py) at a small size; it first asserts that eager,
    ``jit_compile=True`` and a float64 NumPy forward-backward / Viterbi agree (log-likelihood,
    gradients, paths) on ragged masks."""
    spec = importlib.util.spec_from_file_location("crf_bench", BENCHMARK)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rates = bench.main(["--repeats", "1", "--batch", "3", "--length", "5"])
    out = capsys.readouterr().out
    assert "eager, jit and NumPy agree" in out and "batch 3 x length 5" in out
    assert set(rates) == {"log-likelihood + gradient", "Viterbi decode"}
    assert all(r > 0 for rate in rates.values() for r in rate.values())
    with pytest.raises(SystemExit):
        bench.main(["--length", "1"])


def test_stable_at_emission_scores_of_1e4():
    crf = random_crf()
    emissions, tags = tiny_batch(scale=1e4)
    got = crf.log_likelihood(emissions, tags, MASK).numpy()
    assert np.isfinite(got).all() and (got <= 0).all()
    decoded = crf.decode(emissions, MASK).numpy()
    for b, length in enumerate(MASK.sum(1)):
        log_z, best = brute_force(crf, emissions[b], length)
        want = path_score(crf, np.float64(emissions[b]), tags[b, :length]) - log_z
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


def test_lr_multiplier_is_k_under_adam_and_k_squared_under_sgd():
    steps = multiplier_steps((10, 100))
    assert steps["kind"] == "multiplier_steps" and steps["multipliers"] == [10.0, 100.0]
    np.testing.assert_allclose(steps["adam"], [10, 100], rtol=1e-4)
    np.testing.assert_allclose(steps["sgd"], [100, 1e4], rtol=1e-4)
    np.testing.assert_allclose(multiplier_step_ratio(1.0, "sgd"), 1.0)
    # every element, not just the median
    np.testing.assert_allclose(multiplier_step_ratio(10.0, "adam", seed=3), 10.0, rtol=1e-3)
    assert "= 1.000 k;" in format_multiplier_steps(steps)


def test_config_round_trip():
    crf = CRF(4, lr_multiplier=100.0, constraints="bmes")
    clone = CRF.from_config(crf.get_config())
    assert (clone.num_tags, clone.lr_multiplier) == (4, 100.0)
    assert clone.constraints == bmes_constraints()
    tagger = Tagger(50, depth=2, head="softmax")
    assert Tagger.from_config(tagger.get_config()).get_config()["depth"] == 2


def test_transition_order_on_the_posts_two_matrices():
    bad = transition_order(crf_sweep.POST_TRANSITIONS["same_lr"])
    good = transition_order(crf_sweep.POST_TRANSITIONS["crf_1000x"])
    assert (good > 0).all()  # every row ranks legal successors first
    # rows s and m are wrong: s -> e (0.707) above s -> b (-0.459); m -> s (0.196) above m -> m
    np.testing.assert_allclose(bad, [-0.459 - 0.707, 0.314 + 0.142, -0.794 - 0.196,
                                     0.769 - 0.572], atol=1e-9)


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
    (lambda: transition_order(np.zeros((3, 3))), "transitions must have shape"),
    (lambda: multiplier_step_ratio(10, "rmsprop"), "optimizer"),
    (lambda: multiplier_step_ratio(0), "k must be"),
    (lambda: Tagger(2), "vocab_size"),
    (lambda: Tagger(50, depth=3), "depth"),
    (lambda: Tagger(50, encoder="gru"), "encoder"),
    (lambda: Tagger(50, head="crf2"), "head"),
    (lambda: RunConfig(body_lr=0), "body_lr"),
    (lambda: RunConfig(lr_multiplier=-1), "lr_multiplier"),
    (lambda: RunConfig(epochs=0), "epochs"),
    (lambda: RunConfig(max_len=1), "max_len"),
    (lambda: RunConfig(depth=5), "depth"),
    (lambda: RunConfig(seed=-1), "seed"),
    (lambda: RunConfig(constraints="bio"), "constraints"),
    (lambda: Tagger(50, constraints="x"), "constraints"),
    (lambda: path_probabilities(length=7), "length"),
    (lambda: multiplier_steps(()), "multipliers"),
    (lambda: train_now(multipliers=(), softmax=False), "multipliers"),
    (lambda: check_claims({"kind": "sweep"}), "kind"),
    (lambda: check_claims([1, 2]), "kind"),
    (lambda: live_claims({"kind": "live", "runs": {}}), "missing"),
    (lambda: crf_sweep.verdict([0.1, 0.1], tie=1.0), "tie must be"),
    (lambda: prepare_data(10**6, 10, 32), "train_sentences"),
    (lambda: word_spans("sbx"), "tags must be letters"),
    (lambda: word_spans([0, 4]), "tag ids"),
    (lambda: word_scores(["se"], []), "same number"),
    (lambda: word_scores(["sbe"], ["se"]), "differ in length"),
    (lambda: word_scores([[0, 0]], [[0, 0]], mask=np.ones((2, 2))), "one row per sequence"),
    (lambda: crf_sweep.load_sweep("/nonexistent/sweep.json"), "path must name"),
    (lambda: crf_sweep.sample_sentence(32, 40), "min_len"),
])
def test_other_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ---------------------------------------------------------------------------- word F1


def test_word_spans_hand_made():
    assert word_spans("sbes") == [(0, 1), (1, 3), (3, 4)]
    assert word_spans("bmmes") == [(0, 4), (4, 5)]
    assert word_spans([1, 2, 3, 0]) == [(0, 3), (3, 4)]
    # illegal predictions still cut text the way their segmented output reads
    assert word_spans("bbe") == [(0, 1), (1, 3)]  # b then b: the first b is a word
    assert word_spans("mms") == [(0, 2), (2, 3)]  # starts inside a word, ends before s
    assert word_spans("sm") == [(0, 1), (1, 2)]
    assert word_spans("") == []


def test_word_scores_hand_made():
    perfect = word_scores(["sbe", "bmes"], ["sbe", "bmes"])
    assert perfect["f1"] == 1.0 and perfect["n_gold"] == 4
    # gold: 他 / 喜欢 / 北京  (s be be); pred: 他喜 / 欢 / 北京 (be s be)
    s = word_scores(["sbebe"], ["bes" + "be"])
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (3, 3, 1)
    assert s["precision"] == pytest.approx(1 / 3) and s["f1"] == pytest.approx(1 / 3)
    # all one word vs 3 single characters: 0 correct
    assert word_scores(["bme"], ["sss"])["f1"] == 0.0
    # over-segmenting: gold 1 word of 4 + s; pred be be s -> P = 1/3, R = 1/2
    s = word_scores(["bmmes"], ["bebes"])
    assert (s["precision"], s["recall"]) == (pytest.approx(1 / 3), 0.5)
    assert s["f1"] == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    # arrays with a mask: padding is cut off before scoring
    gold = np.array([[1, 3, 0, 0], [0, 0, 0, 0]])
    pred = np.array([[1, 3, 2, 2], [0, 1, 1, 1]])
    mask = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], bool)
    assert word_scores(gold, pred, mask)["f1"] == 1.0


# ---------------------------------------------------------------------------- data


def test_corpus_split_and_gold_tags():
    lines = load_peoples_daily()
    assert len(lines) == 19484
    train, test = split_corpus(lines, test_fraction=0.1, seed=0)
    assert (len(train), len(test)) == (17536, 1948)
    assert split_corpus(lines, test_fraction=0.1, seed=0)[1][:5] == test[:5]
    assert {t for s in lines for t in s.tags} == set(TAGS)
    illegal = re.compile("[se][me]|[bm][sb]|^[me]|[bm]$")
    assert not any(illegal.search(s.tags) for s in lines)
    data = prepare_data(300, 50, 16)
    ids, tags, mask = data["train"]
    assert ids.shape == tags.shape == mask.shape and ids.shape[1] == 16
    assert mask[:, 0].all() and not (mask[:, 1:] & ~mask[:, :-1]).any()
    assert (ids[~mask] == 0).all() and (ids[mask] > 0).all()
    assert sum(mask.sum()  for mask in [mask]) == sum(len(s.chars) for s in train[:300])
    rows = ["".join(TAGS[t] for t in r[m]) for r, m in zip(tags, mask, strict=True)]
    assert not any(illegal.search(r) for r in rows)


def test_tagger_heads_and_encoders():
    ids = np.array([[5, 6, 7, 0], [8, 9, 0, 0]], np.int32)
    tags = np.array([[1, 3, 0, 0], [0, 0, 0, 0]], np.int32)
    mask = ids > 0
    for encoder, depth, head in [("conv", 0, "crf"), ("conv", 2, "softmax"),
                                 ("bilstm", 1, "crf")]:
        model = Tagger(20, depth=depth, encoder=encoder, head=head, embed_dim=8, width=8)
        emissions = model(ids)
        assert emissions.shape == (2, 4, 4)
        pred = model.predict_tags(ids, mask).numpy()
        assert pred.shape == (2, 4) and pred.dtype == np.int32
        loss = float(model.loss_on(ids, tags, mask))
        if head == "softmax":
            logp = tf.nn.log_softmax(emissions).numpy()
            want = -np.mean([logp[b, t, tags[b, t]] for b, t in zip(*np.nonzero(mask), strict=True)])
            assert loss == pytest.approx(want, rel=1e-5)
            np.testing.assert_array_equal(pred, emissions.numpy().argmax(-1))
        else:
            assert loss == pytest.approx(float(model.crf.nll_loss(emissions, tags, mask)))
            np.testing.assert_array_equal(pred, model.crf.decode(emissions, mask))
