"""Lesson 03, part 2: training runs and seeds, the stored sweep and its verdicts, the widgets,
the claim checks, Keras's Adam as the notebook writes it, and every Try-it at a small size.

Training is the slow part, so runs are small (100 lines, pieces of 16 characters, no XLA) and a
run two tests need is trained once (``tiny_run``)."""

import dataclasses
import json
from functools import cache

import keras
import matplotlib
import numpy as np
import pytest
import tensorflow as tf

import lessons
from lessons import crf_sweep
from lessons._core.claims import ClaimFailed
from lessons._core.notebook import course_seed
from lessons.crf import (
    CLAIMS,
    RunConfig,
    batch_progress,
    bmes_constraints,
    build_tagger,
    check_claims,
    format_live,
    format_path_probabilities,
    live_claims,
    live_summary,
    multiplier_step_ratio,
    path_claims,
    path_probabilities,
    prepare_data,
    step_claims,
    train_now,
    train_run,
    transition_order,
    word_scores,
)

TINY = RunConfig(body_lr=1e-3, lr_multiplier=100.0, depth=0, epochs=2, train_sentences=100,
                 test_sentences=20, max_len=16, seed=0)


@cache
def tiny_run(config: RunConfig = TINY) -> dict:
    """One small run without XLA, trained once per test session (do not mutate the result)."""
    return train_run(config, jit_compile=False)


def same_training(a: dict, b: dict) -> bool:
    keys = ("f1", "loss", "emission_margin", "crf")
    return all(a[k] == b[k] for k in keys)


# ---------------------------------------------------------------------------- seeds


def test_train_run_seeds_from_the_course_seed_and_leaves_it_alone():
    base = tiny_run()
    lessons.setup(7)
    matplotlib.rcParams["figure.dpi"] = 55  # a student's own setting
    seven = train_run(dataclasses.replace(TINY, seed=None), jit_compile=False)
    assert seven["config"]["seed"] == 7 and seven["f1"] != base["f1"]
    assert seven["crf"]["transitions"] != base["crf"]["transitions"]
    # an explicit seed overrides the course seed; the Try-it's progress bar changes nothing
    bar = batch_progress("tiny")
    again = train_run(dataclasses.replace(TINY, seed=0), jit_compile=False, on_batch=bar)
    assert same_training(again, base) and again["config"]["seed"] == 0
    # train_run never calls lessons.setup: the course seed and matplotlib stay as they were
    assert course_seed() == 7 and matplotlib.rcParams["figure.dpi"] == 55


def test_small_experiments_follow_the_course_seed():
    lessons.setup(7)
    seven = path_probabilities()
    assert path_probabilities(seed=7) == seven
    lessons.setup(0)
    zero = path_probabilities()
    assert zero != seven and path_probabilities(seed=7) == seven
    for result in (zero, seven):
        assert result["n_paths"] == 64 and result["sum_p"] == pytest.approx(1, abs=1e-5)
        assert result["viterbi"] == result["most_likely"]
    assert format_path_probabilities(zero).startswith("sum of p over 64 paths: ")
    assert not np.array_equal(multiplier_step_ratio(10.0, "sgd"),
                              multiplier_step_ratio(10.0, "sgd", seed=7))


# ---------------------------------------------------------------------------- Keras's Adam


def adam_as_the_notebook_writes_it(grads, lr, beta_1, beta_2, eps):
    """Section 3: m_t = b1 m + (1 - b1) g; v_t = b2 v + (1 - b2) g^2;
    alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t); theta -= alpha_t m_t / (sqrt(v_t) + eps)
    (uncorrected m_t and v_t). Returns theta after each step, from theta = 0, in float64."""
    m = v = theta = np.zeros_like(grads[0], np.float64)
    out = []
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        theta = theta - alpha * m / (np.sqrt(v) + eps)
        out.append(theta)
    return np.array(out)


def textbook_adam(grads, lr, beta_1, beta_2, eps):
    """eta m-hat / (sqrt(v-hat) + eps_t), eps_t = eps(t) if eps is callable, else eps."""
    m = v = theta = np.zeros_like(grads[0], np.float64)
    out = []
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        eps_t = eps(t) if callable(eps) else eps
        theta = theta - lr * (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + eps_t)
        out.append(theta)
    return np.array(out)


def keras_adam(grads, **kwargs):
    var = keras.Variable(np.zeros(grads.shape[1:], np.float32))
    opt = keras.optimizers.Adam(**kwargs)
    out = []
    for g in grads:
        opt.apply_gradients([(tf.constant(g, tf.float32), var)])
        out.append(var.numpy().astype(np.float64))
    return np.array(out)


def test_keras_adam_is_the_formula_the_notebook_writes():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(6, 5)) * np.array([1e-3, 1e-2, 0.1, 1.0, 10.0])
    kw = {"learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-3}
    got = keras_adam(grads, **kw)
    want = adam_as_the_notebook_writes_it(grads, kw["learning_rate"], kw["beta_1"],
                                          kw["beta_2"], kw["epsilon"])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)  # float32 vs float64
    # the textbook form with the same eps differs visibly for the small gradients ...
    lr, b1, b2, eps = kw["learning_rate"], kw["beta_1"], kw["beta_2"], kw["epsilon"]
    textbook = textbook_adam(grads, lr, b1, b2, eps)
    assert np.abs(got[:, 0] - textbook[:, 0]).max() > 0.1 * np.abs(got[:, 0]).max()
    # ... and equals it with eps-hat = eps / sqrt(1 - beta_2^t), as the notebook says
    shifted = textbook_adam(grads, lr, b1, b2, lambda t: eps / np.sqrt(1 - b2**t))
    np.testing.assert_allclose(got, shifted, rtol=1e-4, atol=1e-7)


def test_adam_step_ignores_a_gradient_scale_only_while_eps_is_negligible():
    """Section 3: scaling every gradient by k leaves the step unchanged when eps << sqrt(v_t)."""
    grads = np.random.default_rng(1).normal(size=(3, 4))
    for scale, eps, same in ((1.0, 1e-7, True), (1e-7, 1e-7, False)):
        steps = [keras_adam(k * scale * grads, learning_rate=1e-3, epsilon=eps)
                 for k in (1.0, 100.0)]
        assert np.allclose(steps[0], steps[1], rtol=1e-4) == same


# ---------------------------------------------------------------------------- the stored sweep


def test_stored_sweep_cell_reruns_to_its_first_epoch():
    """Training is seeded and deterministic on CPU, and epoch 1 of a run does not depend on the
    number of epochs, so one epoch of a stored cell reproduces that cell's first numbers (with
    XLA, as the sweep ran; seeding is keras.utils.set_random_seed, as lessons.setup does)."""
    sweep = crf_sweep.load_sweep()
    stored = crf_sweep.find_run(sweep, body_lr=1e-3, depth=0, lr_multiplier=100.0)
    lessons.setup(5)  # the stored config names its seed (0): the course seed does not matter
    rerun = train_run(RunConfig(**{**stored["config"], "epochs": 1}))
    assert rerun["f1"][0] == pytest.approx(stored["f1"][0], abs=1e-3)
    assert rerun["loss"][0] == pytest.approx(stored["loss"][0], rel=1e-4)
    assert rerun["emission_margin"][0] == pytest.approx(stored["emission_margin"][0], rel=1e-3)


def test_stored_sweep_is_complete():
    sweep = crf_sweep.load_sweep()
    grid = crf_sweep.grid_values(sweep)
    assert sweep["complete"]
    assert grid["body_lr"] == [1e-4, 1e-3, 1e-2] and grid["lr_multiplier"] == [1, 10, 100, 1000]
    assert len(sweep["runs"]) == 3 * 4 * 3 + 3 * 3
    for run in sweep["runs"]:
        assert len(run["f1"]) == run["config"]["epochs"] and all(0 < f < 1 for f in run["f1"])
        assert (run["crf"] is None) == (run["config"]["head"] == "softmax")
        assert run["config"]["seed"] == 0


def fake_sweep(f1s):
    """A sweep with the post's four cells at depth 0 and given F1 curves."""
    runs = []
    for (head, lr, k), f1 in zip([("crf", 1e-3, 1.0), ("crf", 1e-3, 10.0), ("crf", 1e-2, 1.0),
                                  ("softmax", 1e-3, 1.0)], f1s, strict=True):
        runs.append({"config": {"head": head, "body_lr": lr, "lr_multiplier": k, "depth": 0},
                     "f1": f1, "crf": None if head == "softmax" else
                     {"transitions": np.eye(4).tolist()}})
    return {"runs": runs}


def test_post_table_verdicts():
    rows = crf_sweep.post_table(fake_sweep([[0.91, 0.92], [0.93, 0.94], [0.6, 0.7], [0.9, 0.91]]))
    assert [r["verdict"] for r in rows] == ["yes", "yes", "yes", "yes"]
    assert rows[1]["ours_epoch1"] == 0.93 and rows[1]["ours_best"] == 0.94
    # CRF-1 vs Softmax: +0.01 at epoch 1, -0.02 best; CRF-2 vs CRF-1: +0.02, -0.01;
    # CRF-3 above CRF-1 on both; Softmax below both CRFs at epoch 1 only
    rows = crf_sweep.post_table(fake_sweep([[0.91, 0.95], [0.93, 0.94], [0.95, 0.96],
                                            [0.9, 0.97]]))
    assert [r["verdict"] for r in rows] == ["partly", "partly", "no", "partly"]
    # differences within the tie margin
    rows = crf_sweep.post_table(fake_sweep([[0.900, 0.910], [0.903, 0.912], [0.899, 0.906],
                                            [0.897, 0.913]]))
    assert [r["verdict"] for r in rows] == ["tie", "tie", "tie", "tie"]
    assert [r["verdict"] for r in crf_sweep.post_table(fake_sweep(
        [[0.900, 0.910], [0.903, 0.912], [0.899, 0.906], [0.897, 0.913]]), tie=0.0)] == [
        "partly", "yes", "yes", "partly"]
    text = crf_sweep.format_post_table(rows)
    assert "CRF-2" in text and "0.929" in text and "(tie)" in text
    with pytest.raises(ValueError, match="no crf run"):
        crf_sweep.post_table(fake_sweep([[0.9]] * 4), depth=1)
    with pytest.raises(ValueError, match="tie must be"):
        crf_sweep.post_table(fake_sweep([[0.9]] * 4), tie=-0.1)


def test_tie_margin_at_its_boundary():
    """A gap must be *larger than* the margin to count as a win; exactly the margin is a tie."""
    v = crf_sweep.verdict
    assert crf_sweep.TIE == 0.005
    assert v([0.076, 0.004]) == "partly"  # CRF-2 vs CRF-1 at depth 0: a double lead, one tie
    assert v([0.076, 0.004], tie=0.0) == "yes"  # without the margin it would be a yes
    assert v([0.076, 0.006]) == "yes"
    assert v([0.004, -0.004]) == "tie" and v([0.004, -0.006]) == "no"
    assert v([0.076, -0.02]) == "partly"  # a win and a loss
    # at the boundary itself, with binary-exact numbers (0.25 = tie; 0.25 + 2**-8 > tie)
    assert v([0.25, 0.25], tie=0.25) == "tie" and v([-0.25, 0.25], tie=0.25) == "tie"
    assert v([0.25 + 2**-8, 0.25], tie=0.25) == "partly"
    assert v([0.25 + 2**-8] * 2, tie=0.25) == "yes"
    assert v([-0.25 - 2**-8, 0.0], tie=0.25) == "no"
    # through post_table: CRF-2 leads CRF-1 by exactly the margin on best F1
    f1s = [[0.25, 0.5], [0.5 + 2**-8, 0.75], [0.0, 0.0], [0.0, 0.0]]  # epoch 1, then best
    rows = crf_sweep.post_table(fake_sweep(f1s), tie=0.25)
    assert rows[1]["verdict"] == "partly"
    f1s[1] = [0.5 + 2**-8, 0.75 + 2**-8]
    assert crf_sweep.post_table(fake_sweep(f1s), tie=0.25)[1]["verdict"] == "yes"


def test_stored_verdicts_and_the_margin_that_decides_crf2():
    """Section 6 as printed: CRF-2 leads CRF-1 on both measures at every depth, but its best-F1
    lead is within the margin, so it is "partly"; with no margin it would be "yes"."""
    sweep = crf_sweep.load_sweep()
    for depth in (0, 1, 2):
        rows = crf_sweep.post_table(sweep, depth)
        assert [r["verdict"] for r in rows] == ["yes", "partly", "no", "yes"]
        crf1, crf2 = rows[0], rows[1]
        assert crf2["ours_epoch1"] - crf1["ours_epoch1"] > crf_sweep.TIE
        assert 0 < crf2["ours_best"] - crf1["ours_best"] <= crf_sweep.TIE
        assert crf_sweep.post_table(sweep, depth, tie=0.0)[1]["verdict"] == "yes"


def test_tie_margin_in_standard_errors_as_the_docstring_says():
    """verdict's docstring: 28,560 test words; SE of F1 0.0015..0.003 for F1 in 0.58..0.93;
    0.005 is 1.2..2.3 standard errors of a difference of two independent F1s."""
    _, tags, mask = prepare_data(8000, 500, 32)["test"]
    n = word_scores(tags, tags, mask)["n_gold"]
    assert n == 28560
    se = np.sqrt(np.array([0.58, 0.93]) * (1 - np.array([0.58, 0.93])) / n)
    np.testing.assert_allclose(se, [0.0029, 0.0015], atol=1e-4)
    np.testing.assert_allclose(0.005 / (np.sqrt(2) * se), [1.2, 2.3], atol=0.05)


def test_sweep_tables_and_figure_data():
    sweep = crf_sweep.load_sweep()
    rows = crf_sweep.multiplier_table(sweep, 1e-3, 0)
    assert [r["lr_multiplier"] for r in rows] == [1, 10, 100, 1000, None]
    for r in rows[:-1]:
        run = crf_sweep.find_run(sweep, 1e-3, 0, r["lr_multiplier"])
        trans = np.asarray(run["crf"]["transitions"])
        assert (r["epoch1"], r["best"]) == (run["f1"][0], max(run["f1"]))
        assert r["rows_ordered"] == int((transition_order(trans) > 0).sum())
        assert r["spread"] == pytest.approx(trans.max() - trans.min())
    assert rows[-1]["best"] == max(crf_sweep.find_run(sweep, 1e-3, 0, head="softmax")["f1"])
    assert len(crf_sweep.format_multiplier_table(rows).splitlines()) == 6
    text = crf_sweep.format_multiplier_tables(sweep, 1e-3)
    assert len(text.splitlines()) == 3 * 7 and text.startswith("body lr 0.001, depth 0\n")
    assert crf_sweep.format_multiplier_table(rows) in text
    pair = crf_sweep.transition_comparison(sweep, 1e-4, 0, show=False)
    assert list(pair)[0] == "post: CRF lr = body lr" and len(pair) == 4
    ours = crf_sweep.find_run(sweep, 1e-4, 0, 1000.0)["crf"]["transitions"]
    assert pair["ours: body 0.0001, CRF lr x1000"]["transitions"] == ours
    effect = crf_sweep.plot_multiplier_effect(sweep, 1e-3)
    assert effect[0]["best"] == [r["best"] for r in rows[:-1]]
    assert effect[0]["softmax_epoch1"] == rows[-1]["epoch1"]
    summary = crf_sweep.sweep_summary(sweep)
    assert summary.startswith(f"{len(sweep['runs'])} runs") and "complete: True" in summary


def test_stored_sweep_backs_the_notebooks_sentences():
    """Sections 5 and 7 as written: magnitudes at 1x and 1000x, the 1000x structure, and
    'beyond 100x nothing more is gained' at body lr 1e-4."""
    sweep = crf_sweep.load_sweep()
    for depth in (0, 1, 2):
        x1 = np.asarray(crf_sweep.find_run(sweep, 1e-4, depth, 1.0)["crf"]["transitions"])
        assert np.abs(x1).max() < 0.4 and x1.max() - x1.min() < 0.7
        rows = crf_sweep.multiplier_table(sweep, 1e-4, depth)
        assert 1.7 < rows[0]["emission_margin"] < 3.5
        assert rows[2]["best"] - rows[0]["best"] > 0.02  # 100x vs 1x
        assert rows[3]["best"] <= rows[2]["best"] + 0.001  # 1000x gains nothing over 100x
        assert rows[2]["emission_margin"] < rows[0]["emission_margin"]
        e1 = [r["epoch1"] for r in crf_sweep.multiplier_table(sweep, 1e-3, depth)[:4]]
        assert e1[3] < min(e1[1], e1[2]) and e1[0] < min(e1[1:])  # 1000x behind 10x-100x
    big = np.asarray(crf_sweep.find_run(sweep, 1e-4, 0, 1000.0)["crf"]["transitions"])
    s, b, m, e = range(4)
    assert 9.5 < big.max() - big.min() < 11
    high = [big[s, s], big[s, b], big[b, m], big[b, e]]  # "about +3 to +4"
    assert 2.9 < min(high) and max(high) < 4
    assert max(big[s, m], big[s, e], big[b, s], big[b, b]) < -5


def test_run_sweep_resumes_json_written_before_new_config_fields(tmp_path):
    """Stored runs lack the newer ``constraints`` field; a config with seed None under course
    seed 0 still finds them, so nothing is retrained."""
    config = dataclasses.replace(TINY, seed=None)
    old = {k: v for k, v in dataclasses.asdict(TINY).items() if k != "constraints"}
    marker = {"config": old, "f1": [0.5, 0.6], "loss": [1.0, 0.9], "seconds": 0.0, "crf": None}
    out = tmp_path / "old.json"
    out.write_text(json.dumps({"runs": [marker]}))
    lines = []
    result = crf_sweep.run_sweep([config], out, progress=lines.append)
    assert result["runs"] == [marker] and result["complete"] and "F1 0.5000 0.6000" in lines[0]


# ---------------------------------------------------------------------------- widgets


def test_segment_text_and_html():
    assert crf_sweep.segment_text("他喜欢北京", "sbebe") == "他 / 喜欢 / 北京"
    assert crf_sweep.segment_text("他喜欢", [0, 1, 3]) == "他 / 喜欢"
    html = crf_sweep.segment_html("他<欢", "sbe")
    assert "&lt;" in html and html.count("<span") == 3 + 4  # 3 characters + legend


def test_sweep_explorer_callback_follows_the_sliders():
    sweep = crf_sweep.load_sweep()
    widget = crf_sweep.sweep_explorer(sweep)
    body_lr, multiplier, depth = widget.children[:3]
    body_lr.value, multiplier.value, depth.value = 1e-4, 1000.0, 1
    run = crf_sweep.find_run(sweep, 1e-4, 1, 1000.0)
    assert widget.result["f1"] == run["f1"]
    assert widget.result["transitions"] == run["crf"]["transitions"]
    assert widget.result["softmax_f1"] == crf_sweep.find_run(sweep, 1e-4, 1, head="softmax")["f1"]
    np.testing.assert_allclose(widget.result["order"],
                               transition_order(run["crf"]["transitions"]))
    image = bytes(widget.children[-1].value)
    assert image.startswith(b"\x89PNG")
    multiplier.value = 1.0
    assert widget.result["f1"] == crf_sweep.find_run(sweep, 1e-4, 1, 1.0)["f1"]
    assert bytes(widget.children[-1].value) != image  # the figure was redrawn


def test_train_panel_callback_trains_what_the_sliders_say():
    panel = crf_sweep.train_panel(epochs=2, train_sentences=100, test_sentences=20, max_len=16,
                                  jit_compile=False)
    panel.body_lr.value, panel.lr_multiplier.value, panel.depth.value = 1e-3, 100, 0
    panel.button.click()  # the button's callback is panel.train()
    result = panel.result
    assert result["config"] == dataclasses.asdict(TINY)  # sliders + size, course seed 0
    assert same_training(result["run"], tiny_run())  # what train_run gives for that config
    assert result["f1"] == tiny_run()["f1"]
    assert result["transitions"][-1] == tiny_run()["crf"]["transitions"]
    assert len(result["transitions"]) == 2 and panel.bar.value == panel.bar.max > 0
    assert "epoch 2/2" in panel.status.value and not panel.button.disabled
    assert bytes(panel.plot.value).startswith(b"\x89PNG") and "<span" in panel.sample.value
    piece = crf_sweep.sample_sentence(16, 16)
    assert result["sample"] == crf_sweep.segment_text(piece.chars, result["sample_tags"])
    assert len(result["sample_tags"]) == len(piece.chars)
    panel.head.value = "softmax"
    assert panel.train()["transitions"] == [] and panel.result["run"]["crf"] is None


# ---------------------------------------------------------------------------- claims


ALLOWED = np.asarray(bmes_constraints()["transitions"])


def fake_transitions(spread, rows_ordered):
    """Legal successors at +spread/2, forbidden at -spread/2; the first 4 - rows_ordered rows
    flipped (a forbidden successor on top)."""
    trans = np.where(ALLOWED, spread / 2, -spread / 2)
    for row in range(4 - rows_ordered):
        trans[row] = np.where(ALLOWED[row], -spread / 2, spread / 2)
    return trans.tolist()


def fake_live(x1=(0.65, 0.70), x10=(0.79, 0.82), soft=(0.59, 0.59), spread1=0.6, spread10=2.9,
              rows10=4):
    """A train_now-shaped result with chosen F1s, transition spreads and ordered rows."""
    def run(f1, k, transitions):
        return {"config": {"body_lr": 1e-3, "lr_multiplier": k}, "f1": list(f1),
                "crf": None if transitions is None else {"transitions": transitions}}
    return {"kind": "live", "runs": {"CRF x1": run(x1, 1.0, fake_transitions(spread1, 4)),
                                     "CRF x10": run(x10, 10.0, fake_transitions(spread10, rows10)),
                                     "softmax": run(soft, 1.0, None)}}


def test_live_claims_pass_on_a_good_result_and_fail_on_each_violation(capsys):
    check_claims(fake_live())
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(line.startswith("holds: ") for line in lines)
    assert "0.70" not in "\n".join(lines)  # no measured digits are printed
    rows = {r["label"]: r for r in live_summary(fake_live(rows10=3))}
    assert rows["CRF x10"]["rows_ordered"] == 3 and rows["CRF x1"]["spread"] == pytest.approx(0.6)
    violations = {
        "beats softmax": fake_live(soft=(0.60, 0.68)),  # gap 0.02 < 0.05
        "beats 1x": fake_live(x10=(0.70, 0.82)),  # epoch-1 gap 0.05 < 0.08
        "stay small": fake_live(spread1=1.5),
        "transitions grow": fake_live(spread10=1.0),
        "every row": fake_live(rows10=3),
    }
    for words, live in violations.items():
        with pytest.raises(ClaimFailed, match=words):
            check_claims(live)
    assert len(live_claims(fake_live())) == 5
    assert "CRF x10" in format_live(fake_live())


def test_path_and_step_claims_pass_and_fail(capsys):
    good = {"kind": "paths", "n_paths": 64, "sum_p": 1.0 - 5e-7, "most_likely": [2, 2, 2],
            "viterbi": [2, 2, 2]}
    check_claims(good)
    assert capsys.readouterr().out.count("holds: ") == 2
    with pytest.raises(ClaimFailed, match="sum to 1"):
        check_claims({**good, "sum_p": 1.01})
    with pytest.raises(ClaimFailed, match="Viterbi"):
        check_claims({**good, "viterbi": [2, 2, 1]})
    steps = {"kind": "multiplier_steps", "multipliers": [10.0, 100.0],
             "adam": [9.99999, 100.0001], "sgd": [100.0, 1e4]}
    check_claims(steps)
    assert capsys.readouterr().out.count("holds: ") == 2
    with pytest.raises(ClaimFailed, match="Adam"):
        check_claims({**steps, "adam": [10.0, 1e4]})  # k^2 under Adam: the lesson is wrong
    with pytest.raises(ClaimFailed, match="SGD"):
        check_claims({**steps, "sgd": [10.0, 100.0]})
    assert set(CLAIMS) == {"paths", "multiplier_steps", "live"}
    assert len(path_claims(good)) == 2 and len(step_claims(steps)) == 2


# ---------------------------------------------------------------------------- Try it yourself


def test_try_it_bilstm_sweep_then_explorer(tmp_path):
    """Try-it 1 at a small size (one BiLSTM run of one epoch: its tracing alone takes seconds):
    the CLI writes a sweep the explorer reads; a second call resumes without retraining."""
    out = tmp_path / "bilstm.json"
    args = ["sweep", "--encoder", "bilstm", "--depth", "1", "--body-lr", "1e-3",
            "--lr-multiplier", "100", "--no-softmax", "--epochs", "1", "--train-sentences", "100",
            "--test-sentences", "20", "--max-len", "16", "--no-jit", "--out", str(out)]
    assert crf_sweep.main(args) == 0
    sweep = crf_sweep.load_sweep(out)
    assert sweep["complete"] and len(sweep["runs"]) == 1
    want = dataclasses.replace(TINY, encoder="bilstm", depth=1, epochs=1)
    assert sweep["runs"][0]["config"] == dataclasses.asdict(want)  # seed: the course seed
    widget = crf_sweep.sweep_explorer(sweep)
    assert [s.value for s in widget.children[:3]] == [1e-3, 100.0, 1]
    assert widget.result["f1"] == sweep["runs"][0]["f1"] and widget.result["softmax_f1"] is None
    assert bytes(widget.children[-1].value).startswith(b"\x89PNG")
    crf_sweep.main(args)  # resumes: nothing retrained, stored runs kept as they were
    assert crf_sweep.load_sweep(out)["runs"] == sweep["runs"]


def test_try_it_train_now_and_the_panels_suggestion():
    """Section 9's suggestion (body lr 1e-4, depth 0, multiplier 1 then 100, then the softmax
    head) via ``train_now`` at a small size: at 100x the transitions grow several times larger
    and F1 is higher; the softmax run has no transitions."""
    live = train_now(body_lr=1e-4, multipliers=(1, 100), epochs=2, train_sentences=300,
                     test_sentences=50, seed=0, show_progress=False)
    assert list(live["runs"]) == ["CRF x1", "CRF x100", "softmax"]
    assert live["runs"]["softmax"]["crf"] is None
    assert live["runs"]["softmax"]["config"]["head"] == "softmax"
    rows = {r["label"]: r for r in live_summary(live)}
    assert rows["CRF x100"]["spread"] > 2.5 * rows["CRF x1"]["spread"]
    assert rows["CRF x100"]["best"] > rows["CRF x1"]["best"] + 0.05
    assert rows["CRF x100"]["crf_lr"] == pytest.approx(1e-2)
    assert live["runs"]["CRF x1"]["config"]["seed"] == 0
    assert len(format_live(live).splitlines()) == 4
    # Try-it 3: bmes constraints change decoding only; at 1x they lift F1
    constrained = train_now(body_lr=1e-4, multipliers=(1,), softmax=False, epochs=2,
                            train_sentences=300, test_sentences=50, seed=0,
                            constraints="bmes", show_progress=False)["runs"]["CRF x1"]
    free = live["runs"]["CRF x1"]
    assert constrained["loss"] == free["loss"] and constrained["crf"] == free["crf"]
    assert max(constrained["f1"]) > max(free["f1"]) + 0.02


def test_try_it_constraints_reach_the_taggers_crf():
    """Try-it 3's constraints go through RunConfig and Tagger to the CRF's decoding."""
    config = dataclasses.replace(TINY, constraints="bmes")
    model = build_tagger(config, vocab_size=50)
    assert model.crf.constraints == bmes_constraints()
    ids = np.random.default_rng(0).integers(1, 50, size=(64, 16))
    tags = np.asarray(model.predict_tags(ids, np.ones_like(ids, bool)))
    assert all(ALLOWED[a, b] for row in tags for a, b in zip(row[:-1], row[1:], strict=True))
    assert build_tagger(TINY, vocab_size=50).crf.constraints is None
