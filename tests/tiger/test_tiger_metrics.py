"""Reading the runs: rare rows, the once-seen band, the summary's output-layer columns (brute
force), sign agreement, the released rule's once-seen count, the unigram loss from the corpus and
the remedy verdicts."""

import numpy as np
import pytest
from tiger_testing import SMALL

from lessons import tiger
from lessons.tiger import ExperimentConfig


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
    cfg = ExperimentConfig(learning_rate=0.01, weight_decay=1.0)  # rare: seen 1-3 times, absent >= 69 steps
    agreement = tiger.sign_agreements({"tied_tiger": tied, "tiger": untied}, cfg)
    assert agreement == {"tied_unseen": 0.75, "n_unseen": 2, "tiger_rare": 0.75, "n_rare": 2}


def test_released_once_seen_on_a_fake_run():
    cfg = ExperimentConfig(released_learning_rate=0.02, weight_decay=1.0, steps=800)
    n = tiger.released_steps_to_fraction(0.999, 0.02, 1.0, 0.005)
    emb = np.array([[0, 0], [0, 0], [1, -0.9995], [0.998, 1], [1, 1], [-1, 1]], np.float32)
    freq = [0, 0, 1, 1, 1, 2]
    last = [-1, -1, 800 - n, 800 - n, 800 - n + 1, 0]  # ids 2, 3 old enough, 4 one update short
    out = tiger.released_once_seen(_fake_run(emb, freq, last, 800), cfg)
    assert out == {"n_updates": n, "count": 2, "at_fixed_point": 0.5}


def test_unigram_test_loss_from_the_corpus():
    from collections import Counter

    from lessons._core.data import Vocab, load_peoples_daily, split_corpus

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
    assert 6.5 < expected < 6.55  # the brute force above; the notebook prints 6.527


def test_sign_agreement():
    assert tiger.sign_agreement(np.ones((5, 3))) == 1.0
    rows = np.array([[1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, 1.0]])
    assert tiger.sign_agreement(rows) == 0.75


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


def test_rare_absence_is_the_half_way_time_or_half_the_run():
    assert tiger.rare_absence(ExperimentConfig()) == 231 == tiger.steps_to_fraction(0.5, 0.003, 1)
    # Try-it 2: lambda 0.1 needs 2,311 steps to get half-way, longer than the 1,500-step run
    assert tiger.steps_to_fraction(0.5, 0.003, 0.1) == 2311
    assert tiger.rare_absence(ExperimentConfig(weight_decay=0.1, steps=1500)) == 750
    assert tiger.rare_absence(ExperimentConfig(steps=1)) == 1


def _fake_untied(frequency, last_seen, steps, dim=2):
    vocab = len(frequency)
    emb = np.linspace(-0.5, 0.5, vocab * dim, dtype=np.float32).reshape(vocab, dim)
    others = {"dense/kernel": np.full((3, vocab), 0.1, np.float32),
              "dense/bias": np.zeros(vocab, np.float32)}
    return _fake_run(emb, frequency, last_seen, steps, others)


def test_try_it_2_setting_has_rare_rows_short_of_half_way():
    cfg = ExperimentConfig(weight_decay=0.1, steps=1500)
    # ids 2, 3 seen once 1,500 and 751 updates before the end: rare; id 4 only 700: not rare
    run = _fake_untied([0, 0, 1, 2, 1, 50], [-1, -1, 0, 749, 800, 1499], 1500)
    np.testing.assert_array_equal(tiger.rare_rows(run, cfg), [0, 0, 1, 1, 0, 0])
    row, = tiger.summarize({"tiger": run}, cfg)
    assert row["rare"] == 2 and row["rare_absent"] == 750
    assert row["rare_median"] == pytest.approx(np.median(run.max_abs[2:4]))
    assert "absent for the last 750 updates or more" in tiger.format_summary([row])


def test_no_rare_rows_at_a_setting_gives_no_nan_and_no_warning():
    import warnings

    cfg = ExperimentConfig(steps=100)
    # nothing seen 1-3 times and absent for 50 updates; no id never seen; none seen >= 100 times
    run = _fake_untied([0, 0, 1, 5, 2], [-1, -1, 99, 10, 60], 100)
    run.frequency[:2] = 1  # PAD and UNK are never rare; here they were "seen"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row, = tiger.summarize({"tiger": run}, cfg)
        text = tiger.format_summary([row])
        verdicts = tiger.remedy_verdicts([row, dict(row, variant="lazy_tiger")])
        released = tiger.released_once_seen(run, cfg)
    assert row["rare"] == 0
    for key in ("rare_pinned", "rare_at_fixed_point", "rare_median", "rare_output_pinned",
                "frequent_median", "unseen_median", "unseen_max"):
        assert row[key] is None, key
    assert not any(isinstance(v, float) and np.isnan(v) for v in row.values())
    assert "nan" not in text
    assert text.splitlines()[-1] == ("no rare rows at this setting: no character was seen 1-3 "
                                     "times and then absent for the last 50 updates")
    assert verdicts["lazy_tiger"].startswith("no rare rows at this setting; test loss 0.000")
    assert released == {"n_updates": released["n_updates"], "count": 0, "at_fixed_point": None}
    assert tiger.format_released_once_seen(released).endswith(": none at this setting")


def test_remedy_verdicts_when_the_baseline_does_not_drift_either():
    rows = [{"variant": "tiger", "rare_pinned": 0.0, "rare_output_pinned": 0.0, "test_loss": 5.78},
            {"variant": "lazy_tiger", "rare_pinned": 0.0, "rare_output_pinned": 0.0,
             "test_loss": 5.79}]
    assert tiger.remedy_verdicts(rows)["lazy_tiger"].startswith(
        "embedding: nothing to fix at this setting (0% of rare rows past 0.5/lambda, tiger: 0%)")
