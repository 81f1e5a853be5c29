"""The training runs: one absent row under the real optimizers against the closed form, the
embedding experiment's sampling, model, seeds and arguments, and the "Try it yourself" runs."""

import dataclasses

import keras
import numpy as np
import pytest
from tiger_testing import SMALL, TINY

from lessons import tiger
from lessons.tiger import ExperimentConfig, closed_form
from lessons.tiger.experiments import _build_model, _occurrences, _sample, _test_loss


@pytest.mark.parametrize("optimizer", ["tiger", "lion"])
def test_real_optimizer_follows_closed_form_for_an_absent_token(optimizer):
    g = np.array([0.01, -0.02, 1e-6, -3.0])
    path = tiger.absent_token_trajectory(g, 1200, learning_rate=0.003, weight_decay=1.0, optimizer=optimizer)
    expected = closed_form(0.0, 0.003, 1.0, np.sign(g), 1201)
    assert path.shape == (1201, 4)
    np.testing.assert_allclose(path, expected, atol=2e-5)
    assert np.all(np.abs(path[-1]) > 0.97)


def test_absent_token_paths_runs_each_optimizer_on_the_same_row():
    paths = tiger.absent_token_paths(absent_steps=50, optimizers=("tiger", "adamw"))
    assert list(paths) == ["tiger", "adamw"]
    np.testing.assert_array_equal(
        paths["tiger"], tiger.absent_token_trajectory(tiger.ABSENT_GRADIENT, 50, 0.003, 1.0))
    expected = closed_form(0.0, 0.003, 1.0, np.sign(tiger.ABSENT_GRADIENT), 51)
    np.testing.assert_allclose(paths["tiger"], expected, atol=1e-6)
    with pytest.raises(ValueError, match="optimizer"):
        tiger.absent_token_paths(optimizers=("sgd",))


def test_adamw_absent_token_returns_towards_zero():
    path = tiger.absent_token_trajectory([0.01, -0.02], 1500, optimizer="adamw")
    peak = np.abs(path).max(axis=0)
    assert np.all(peak < 0.05) and np.all(np.abs(path[-1]) < 0.1 * peak)


def test_sampled_contexts_are_the_preceding_characters():
    stream = np.array([0, 0, 5, 6, 7, 0, 0, 8, 9], np.int32)
    x, y = _sample(stream, 2, (50,), np.random.default_rng(0))
    assert np.all(y != 0)
    for ctx, target in zip(x, y, strict=True):
        pos = int(np.flatnonzero(stream == target)[0])
        np.testing.assert_array_equal(ctx, stream[pos - 2 : pos])


def test_occurrences_brute_force():
    rng = np.random.default_rng(6)
    x = rng.integers(0, 12, size=(9, 4, 3))
    freq, last = _occurrences(x, 15)
    for token in range(15):
        steps = [t for t in range(9) if np.any(x[t] == token)]
        assert freq[token] == np.sum(x == token)
        assert last[token] == (steps[-1] if steps else -1)


def test_tied_logits_reuse_the_embedding():
    cfg = ExperimentConfig(dim=4, hidden=5, context=2)
    model, embed = _build_model(cfg, 9, tied=True)
    # embedding 9 x 4, tanh layer (2 x 4 -> 5), projection 5 -> 4, the tied output's 9 biases
    assert model.count_params() == 9 * 4 + (2 * 4 * 5 + 5) + (5 * 4 + 4) + 9
    x = np.array([[2, 3], [4, 1]], np.int32)
    h = keras.Model(model.input, model.layers[-2].output)(x).numpy()
    np.testing.assert_allclose(model(x).numpy(), h @ embed.embeddings.numpy().T, rtol=1e-5)


def test_test_loss_in_chunks_is_the_mean_cross_entropy_of_all_rows():
    cfg = ExperimentConfig(dim=4, hidden=5, context=2)
    model, _ = _build_model(cfg, 11, tied=False, seed=1)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 11, (23, 2)).astype(np.int32), rng.integers(0, 11, 23)
    logits = model(x).numpy().astype(np.float64)
    log_softmax = logits - logits.max(1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(1, keepdims=True))
    want = -log_softmax[np.arange(23), y].mean()
    for chunk in (5, 23, 100):  # a ragged last chunk, one chunk, one larger than the data
        assert _test_loss(model, x, y, chunk=chunk) == pytest.approx(want, rel=1e-5)


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


def test_progress_bar_changes_nothing_but_the_display(capsys, monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    plain = _tiny_run(seed=3)
    shown = _tiny_run(seed=3, progress=True)
    np.testing.assert_array_equal(plain.embedding, shown.embedding)
    assert "variants" in capsys.readouterr().err  # tqdm's text bar outside Jupyter
    monkeypatch.setenv("TQDM_DISABLE", "1")  # as when outputs are stored: no bar at all
    _tiny_run(seed=3, progress=True)
    assert "variants" not in capsys.readouterr().err


def test_character_streams_are_cached_and_read_only():
    vocab, train, test = tiger.character_streams(3000, 3)
    assert tiger.character_streams(3000, 3)[1] is train
    assert len(vocab) == 3002 and train[:3].tolist() == [0, 0, 0]  # PAD, PAD, PAD first
    for ids in (train, test):
        with pytest.raises(ValueError, match="read-only"):
            ids[5] = 0


def test_experiment_rejects_bad_arguments():
    with pytest.raises(ValueError, match="variant"):
        tiger.embedding_experiment(("sgd",), SMALL)
    for field, value in [("steps", 0), ("vocab_size", 2.5), ("learning_rate", 0.0), ("adam_learning_rate", -1.0),
                         ("released_learning_rate", 0.0), ("weight_decay", 0.0), ("seed", -1)]:
        with pytest.raises(ValueError, match=field):
            ExperimentConfig(**{field: value})


def test_try_weight_decay_0_1_reaches_the_closed_form_bound():
    cfg = ExperimentConfig(weight_decay=0.1, steps=150, batch_size=32, hidden=16)
    run = tiger.embedding_experiment(("tiger",), cfg, jit_compile=False)["tiger"]
    bound = tiger.once_seen_band(cfg.steps, cfg)[1]
    assert 0.95 * bound < run.max_abs.max() <= bound + 1e-4  # far below 1/lambda = 10
    assert tiger.steps_to_fraction(0.5, 0.003, 0.1) > cfg.steps


def test_try_adam_over_update_of_an_absent_row():
    path = tiger.absent_token_trajectory([0.01], 300, learning_rate=0.01, optimizer="adamw")
    peak = np.abs(path).max()
    assert 3 < peak / 0.01 < 6  # a few learning rates, then weight decay pulls it back
    assert abs(path[-1, 0]) < 0.8 * peak


def test_try_released_rate_and_steps():
    lr_small, lr_big = 0.01, 0.2
    assert tiger.released_steps_to_fraction(0.999, lr_small, 1.0, 0.029) > 800
    assert tiger.released_steps_to_fraction(0.999, lr_big, 1.0, 0.029) < 60
    cfg = ExperimentConfig(steps=100, batch_size=16, hidden=8)
    small = dataclasses.replace(cfg, released_learning_rate=lr_small)
    run = tiger.embedding_experiment(("released_tiger",), small, jit_compile=False)
    assert run["released_tiger"].max_abs.max() < 0.9  # nowhere near 1/lambda in 120 steps
    big = dataclasses.replace(cfg, released_learning_rate=lr_big)
    run = tiger.embedding_experiment(("released_tiger",), big, jit_compile=False)
    once = tiger.released_once_seen(run["released_tiger"], big)
    assert once["count"] >= 5 and once["at_fixed_point"] == 1.0


def test_try_larger_vocabulary_keeps_characters_seen_twice():
    from lessons._core.data import Vocab, load_peoples_daily, split_corpus

    train, _ = split_corpus(load_peoples_daily())
    vocab = Vocab.build(train, max_size=4000)
    assert vocab.counts[-1] == 2 and vocab.counts[2999] > 2  # 3,000 keeps none seen twice
    cfg = ExperimentConfig(vocab_size=4000, steps=3, batch_size=8, hidden=8, dim=4)
    run = tiger.embedding_experiment(("tiger",), cfg, jit_compile=False)["tiger"]
    assert run.embedding.shape == (4002, 4)


def test_released_step_is_one_step_of_the_row_relative_rule():
    rng = np.random.default_rng(3)
    table = rng.uniform(-0.5, 0.5, (3, 4)) * np.array([[1.0], [0.01], [1.0]])
    m = rng.choice([-1e-3, 1e-3], (3, 4))
    g = np.zeros((3, 4))
    g[2] = rng.standard_normal(4)  # the third token is in the batch
    lr, lam, beta = 0.02, 0.5, 0.9
    t32, m32, g32 = (a.astype(np.float32) for a in (table, m, g))
    new_m = np.float32(beta) * m32 + np.float32(1 - beta) * g32
    rms = np.sqrt(np.mean(t32 * t32, axis=1, keepdims=True))
    expected = t32 - np.float32(lr) * rms * (np.sign(new_m) + np.float32(lam) * t32)
    got = tiger.released_step(table, m, g, learning_rate=lr, weight_decay=lam, beta=beta)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    small, big = np.abs(got - t32)[1], np.abs(got - t32)[0]
    assert np.all(small < 0.05 * big)  # a row 100x smaller steps ~100x less
    with pytest.raises(ValueError, match="table"):
        tiger.released_step(np.zeros(4), np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="momentum"):
        tiger.released_step(table, m[:2], g)
