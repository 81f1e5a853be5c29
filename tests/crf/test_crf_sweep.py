"""Lesson 03's stored sweep: it reruns, it is complete, its verdicts and the tie margin, the
numbers behind the notebook's sentences, resuming, and the CLI (Try-it 1) at a small size."""

import dataclasses
import json

import numpy as np
import pytest
from crf_testing import TINY, fake_sweep

import lessons
from lessons import crf
from lessons.crf.__main__ import main


def test_stored_sweep_cell_reruns_to_its_first_epoch():
    """Training is seeded and deterministic on CPU, and epoch 1 of a run does not depend on the
    number of epochs, so one epoch of a stored cell reproduces that cell's first numbers (with
    XLA, as the sweep ran)."""
    sweep = crf.load_sweep()
    stored = crf.find_run(sweep, body_lr=1e-3, depth=0, lr_multiplier=100.0)
    lessons.setup(5)  # the stored config names its seed (0): the course seed does not matter
    rerun = crf.train_run(crf.RunConfig(**{**stored["config"], "epochs": 1}))
    assert rerun["f1"][0] == pytest.approx(stored["f1"][0], abs=1e-3)
    assert rerun["loss"][0] == pytest.approx(stored["loss"][0], rel=1e-4)
    assert rerun["emission_margin"][0] == pytest.approx(stored["emission_margin"][0], rel=1e-3)


def test_stored_sweep_is_complete():
    sweep = crf.load_sweep()
    grid = crf.grid_values(sweep)
    assert sweep["complete"]
    assert grid["body_lr"] == [1e-4, 1e-3, 1e-2] and grid["lr_multiplier"] == [1, 10, 100, 1000]
    assert len(sweep["runs"]) == 3 * 4 * 3 + 3 * 3
    for run in sweep["runs"]:
        assert len(run["f1"]) == run["config"]["epochs"] and all(0 < f < 1 for f in run["f1"])
        assert (run["crf"] is None) == (run["config"]["head"] == "softmax")
        assert run["config"]["seed"] == 0


def test_post_table_verdicts():
    rows = crf.post_table(fake_sweep([[0.91, 0.92], [0.93, 0.94], [0.6, 0.7], [0.9, 0.91]]))
    assert [r["verdict"] for r in rows] == ["yes", "yes", "yes", "yes"]
    assert rows[1]["ours_epoch1"] == 0.93 and rows[1]["ours_best"] == 0.94
    # CRF-1 vs Softmax: +0.01 at epoch 1, -0.02 best; CRF-2 vs CRF-1: +0.02, -0.01;
    # CRF-3 above CRF-1 on both; Softmax below both CRFs at epoch 1 only
    rows = crf.post_table(fake_sweep([[0.91, 0.95], [0.93, 0.94], [0.95, 0.96], [0.9, 0.97]]))
    assert [r["verdict"] for r in rows] == ["partly", "partly", "no", "partly"]
    # differences within the tie margin
    ties = [[0.900, 0.910], [0.903, 0.912], [0.899, 0.906], [0.897, 0.913]]
    rows = crf.post_table(fake_sweep(ties))
    assert [r["verdict"] for r in rows] == ["tie", "tie", "tie", "tie"]
    assert [r["verdict"] for r in crf.post_table(fake_sweep(ties), tie=0.0)] == [
        "partly", "yes", "yes", "partly"]
    text = crf.format_post_table(rows)
    assert "CRF-2" in text and "0.929" in text
    assert all(line.endswith(" tie") for line in text.splitlines()[1:])  # the verdict column
    with pytest.raises(ValueError, match="no crf run"):
        crf.post_table(fake_sweep([[0.9]] * 4), depth=1)
    with pytest.raises(ValueError, match="tie must be"):
        crf.post_table(fake_sweep([[0.9]] * 4), tie=-0.1)


def test_tie_margin_at_its_boundary():
    """A gap must be *larger than* the margin to count as a win; exactly the margin is a tie."""
    v = crf.verdict
    assert crf.TIE == 0.005
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
    rows = crf.post_table(fake_sweep(f1s), tie=0.25)
    assert rows[1]["verdict"] == "partly"
    f1s[1] = [0.5 + 2**-8, 0.75 + 2**-8]
    assert crf.post_table(fake_sweep(f1s), tie=0.25)[1]["verdict"] == "yes"


def test_stored_verdicts_and_the_margin_that_decides_crf2():
    """Section 6 as printed: CRF-2 leads CRF-1 on both measures at every depth, but its best-F1
    lead is within the margin, so it is "partly"; with no margin it would be "yes"."""
    sweep = crf.load_sweep()
    for depth in (0, 1, 2):
        rows = crf.post_table(sweep, depth)
        assert [r["verdict"] for r in rows] == ["yes", "partly", "no", "yes"]
        crf1, crf2 = rows[0], rows[1]
        assert crf2["ours_epoch1"] - crf1["ours_epoch1"] > crf.TIE
        assert 0 < crf2["ours_best"] - crf1["ours_best"] <= crf.TIE
        assert crf.post_table(sweep, depth, tie=0.0)[1]["verdict"] == "yes"


def test_tie_margin_in_standard_errors_as_the_docstring_says():
    """verdict's docstring: 28,560 test words; SE of F1 0.0015..0.003 for F1 in 0.58..0.93;
    0.005 is 1.2..2.3 standard errors of a difference of two independent F1s."""
    _, tags, mask = crf.prepare_data(8000, 500, 32)["test"]
    n = crf.word_scores(tags, tags, mask)["n_gold"]
    assert n == 28560
    se = np.sqrt(np.array([0.58, 0.93]) * (1 - np.array([0.58, 0.93])) / n)
    np.testing.assert_allclose(se, [0.0029, 0.0015], atol=1e-4)
    np.testing.assert_allclose(0.005 / (np.sqrt(2) * se), [1.2, 2.3], atol=0.05)


def test_multiplier_table_transition_comparison_and_effect_data():
    sweep = crf.load_sweep()
    rows = crf.multiplier_table(sweep, 1e-3, 0)
    assert [r["lr_multiplier"] for r in rows] == [1, 10, 100, 1000, None]
    for r in rows[:-1]:
        run = crf.find_run(sweep, 1e-3, 0, r["lr_multiplier"])
        trans = np.asarray(run["crf"]["transitions"])
        assert (r["epoch1"], r["best"]) == (run["f1"][0], max(run["f1"]))
        assert r["rows_ordered"] == int((crf.transition_order(trans) > 0).sum())
        assert r["spread"] == pytest.approx(trans.max() - trans.min())
    assert rows[-1]["best"] == max(crf.find_run(sweep, 1e-3, 0, head="softmax")["f1"])
    pair = crf.transition_comparison(sweep, 1e-4, 0)
    assert list(pair)[0] == "post: CRF lr = body lr" and len(pair) == 4
    ours = crf.find_run(sweep, 1e-4, 0, 1000.0)["crf"]["transitions"]
    assert pair["ours: body 0.0001, CRF lr x1000"]["transitions"] == ours
    effect = crf.multiplier_effect(sweep, 1e-3)
    assert sorted(effect) == [0, 1, 2]
    assert effect[0]["best"] == [r["best"] for r in rows[:-1]]
    assert effect[0]["softmax_epoch1"] == rows[-1]["epoch1"]


def test_stored_sweep_backs_the_notebooks_sentences():
    """Sections 5 and 7 as written: magnitudes at 1x and 1000x, the 1000x structure, and
    'beyond 100x nothing more is gained' at body lr 1e-4."""
    sweep = crf.load_sweep()
    for depth in (0, 1, 2):
        x1 = np.asarray(crf.find_run(sweep, 1e-4, depth, 1.0)["crf"]["transitions"])
        assert np.abs(x1).max() < 0.4 and x1.max() - x1.min() < 0.7
        rows = crf.multiplier_table(sweep, 1e-4, depth)
        assert 1.7 < rows[0]["emission_margin"] < 3.5
        assert rows[2]["best"] - rows[0]["best"] > 0.02  # 100x vs 1x
        assert rows[3]["best"] <= rows[2]["best"] + 0.001  # 1000x gains nothing over 100x
        assert rows[2]["emission_margin"] < rows[0]["emission_margin"]
        e1 = [r["epoch1"] for r in crf.multiplier_table(sweep, 1e-3, depth)[:4]]
        assert e1[3] < min(e1[1], e1[2]) and e1[0] < min(e1[1:])  # 1000x behind 10x-100x
    big = np.asarray(crf.find_run(sweep, 1e-4, 0, 1000.0)["crf"]["transitions"])
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
    result = crf.run_sweep([config], out, log=lines.append)
    assert result["runs"] == [marker] and result["complete"] and "F1 0.5000 0.6000" in lines[0]


def test_sweep_configs_cover_the_grid_then_the_softmax_baselines():
    configs = crf.sweep_configs([1e-4, 1e-3], [1, 10], [0, 1], epochs=2)
    assert [(c.depth, c.body_lr, c.lr_multiplier, c.head) for c in configs[:4]] == [
        (0, 1e-4, 1, "crf"), (0, 1e-4, 10, "crf"), (0, 1e-3, 1, "crf"), (0, 1e-3, 10, "crf")]
    assert len(configs) == 2 * 2 * 2 + 2 * 2 and all(c.epochs == 2 for c in configs)
    assert {c.head for c in configs[8:]} == {"softmax"}
    assert len(crf.sweep_configs([1e-3], [1], [0], softmax=False)) == 1


def test_try_it_bilstm_sweep_then_explorer(tmp_path, capsys):
    """Try-it 1 at a small size (one BiLSTM run of one epoch: its tracing alone takes seconds):
    the CLI writes a sweep the explorer reads; a second call resumes without retraining."""
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "--help"])
    assert exit_.value.code == 0
    assert "--lr-multiplier" in capsys.readouterr().out
    out = tmp_path / "bilstm.json"
    args = ["sweep", "--encoder", "bilstm", "--depth", "1", "--body-lr", "1e-3",
            "--lr-multiplier", "100", "--no-softmax", "--epochs", "1", "--train-sentences", "100",
            "--test-sentences", "20", "--max-len", "16", "--no-jit", "--out", str(out)]
    assert main(args) == 0
    sweep = crf.load_sweep(out)
    assert sweep["complete"] and len(sweep["runs"]) == 1
    want = dataclasses.replace(TINY, encoder="bilstm", depth=1, epochs=1)
    assert sweep["runs"][0]["config"] == dataclasses.asdict(want)  # seed: the course seed
    widget = crf.sweep_explorer(sweep)
    assert [s.value for s in widget.children[:3]] == [1e-3, 100.0, 1]
    assert widget.result["f1"] == sweep["runs"][0]["f1"] and widget.result["softmax_f1"] is None
    assert bytes(widget.children[-1].value).startswith(b"\x89PNG")
    with pytest.raises(SystemExit) as exit_:
        main(args)  # the file exists: kept unless --resume or --force
    assert exit_.value.code == 2  # argparse's usage error
    assert "--resume" in capsys.readouterr().err
    main(args + ["--resume"])  # resumes: nothing retrained, stored runs kept as they were
    assert crf.load_sweep(out)["runs"] == sweep["runs"]


def test_sweep_command_writes_to_the_results_folder_never_over_the_stored_sweep(
        tmp_path, monkeypatch, capsys):
    """Without --out the command writes crf_sweep.json into $LESSONS_RESULTS (here tmp_path),
    from any working directory; the stored sweep and an existing file are refused without
    --force; load_sweep finds what it wrote by name. Training is replaced by a stub."""
    import lessons.crf.__main__ as command

    written = []

    def fake_run_sweep(configs, out, **_):
        written.append(out)
        out.write_text(json.dumps({"runs": [], "complete": True, "configs": len(configs)}))

    monkeypatch.setattr(command, "run_sweep", fake_run_sweep)
    monkeypatch.setattr(command, "prepare_data", lambda *_: None)
    monkeypatch.setenv("LESSONS_RESULTS", str(tmp_path / "results"))
    monkeypatch.chdir(tmp_path)
    small = ["sweep", "--depth", "0", "--body-lr", "1e-3", "--lr-multiplier", "1"]
    assert main(small) == 0
    assert written == [tmp_path / "results" / "crf_sweep.json"]
    assert crf.load_sweep("crf_sweep.json")["configs"] == 2  # one CRF run, one softmax
    stored = crf.SWEEP_PATH.read_bytes()
    for args in (small, small + ["--out", str(crf.SWEEP_PATH)],
                 small + ["--out", str(crf.SWEEP_PATH), "--resume"]):
        with pytest.raises(SystemExit) as exit_:
            main(args)
        assert exit_.value.code == 2  # argparse's usage error
    assert "stored results" in capsys.readouterr().err
    assert crf.SWEEP_PATH.read_bytes() == stored and len(written) == 1
    assert main(small + ["--no-softmax", "--force"]) == 0  # replaces the user's own file
    assert crf.load_sweep("crf_sweep.json")["configs"] == 1
    assert crf.load_sweep()["complete"]  # the default is still the course's stored sweep


@pytest.mark.parametrize("make, match", [
    (lambda: crf.verdict([0.1, 0.1], tie=1.0), "tie must be"),
    (lambda: crf.load_sweep("/nonexistent/sweep.json"), "path must name"),
    (lambda: crf.load_sweep("no_such_sweep.json"), "results folder"),
])
def test_sweep_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
