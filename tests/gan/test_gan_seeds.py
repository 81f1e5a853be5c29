"""The stored multi-seed studies behind Section 6's bands and verdict, and the CLI that writes
them (``python -m lessons.gan seeds``) at a tiny size."""

import json
from pathlib import Path

import pytest
import tensorflow as tf

from lessons import gan
from lessons.gan.__main__ import main

REPO = Path(__file__).resolve().parents[2]
STORED = {"native": "gan_seeds.json", "avx2": "gan_seeds_avx2.json",
          "sse41": "gan_seeds_sse41.json"}


@pytest.mark.parametrize("isa", list(STORED))
def test_ring_bands_pass_every_stored_run(isa):
    # the measured spread behind ring_claims: 10 seeds on each emulated CPU
    study = gan.load_seed_study(REPO / "lessons" / "results" / STORED[isa])
    assert study.settings["steps"] == gan.RING_STEPS and len(study.seeds) >= 5
    for seed in study.seeds:
        gan.check_claims(study.comparison(seed))
    gan.check_claims(study)  # Section 6's words about the distribution hold on every CPU
    if isa == "native":
        assert study.environment["ONEDNN_MAX_CPU_ISA"] == ""
    else:
        assert study.environment["ONEDNN_MAX_CPU_ISA"] == isa.upper()


def test_stored_seed_study_is_what_the_notebook_reads():
    study = gan.load_seed_study()
    assert study.settings | {"eval_every": 0} == {
        "steps": gan.RING_STEPS, "eval_every": 0, "lam": 1.0, "jit_compile": True, "lr": 1e-3,
        "batch_size": gan.RING_BATCH, "n_eval": 2000, "optimizer": "adam"}
    assert all(claim.holds() for claim in gan.claims_for(study))
    for run in study.runs:  # the summary re-derives from the curves
        assert run.steps[-1] == gan.RING_STEPS and len(run.steps) == len(run.modes)
    with pytest.raises(ValueError, match="path must name"):
        gan.load_seed_study(REPO / "nope.json")


def test_seeds_cli_at_tiny_size(ring_runs, tmp_path, capsys):
    out = tmp_path / "seeds.json"
    args = ["seeds", "--seeds", "0", "--steps", "20", "--eval-every", "10", "--no-jit",
            "--out", str(out)]
    assert main(args) == 0
    data = json.loads(out.read_text())
    assert data["complete"] is True and data["settings"]["steps"] == 20
    assert data["environment"]["tensorflow"] == tf.__version__
    assert [(r["method"], r["seed"]) for r in data["runs"]] == [("one_step", 0), ("alternating", 0)]
    for record, method in zip(data["runs"], gan.METHODS, strict=True):  # = train_ring's runs
        assert record["steps"] == [0, 10, 20]
        assert record["modes"] == ring_runs[method].modes[:3]
        assert record["high_quality"] == [round(h, 4) for h in ring_runs[method].high_quality[:3]]
    study = gan.load_seed_study(out)
    assert study.seeds == [0] and study.run("alternating", 0).steps == [0, 10, 20]
    printed = capsys.readouterr().out
    assert "seed 0 alternating" in printed and "8 modes first:" in printed
    # a second call with the same settings resumes instead of training again; new seeds append
    stamp = data["runs"][0]["seconds"]
    gan.run_seeds([0], out, steps=20, eval_every=10, jit_compile=False, progress=lambda _: None)
    assert json.loads(out.read_text())["runs"][0]["seconds"] == stamp


def test_seeds_cli_writes_the_results_folder_and_never_the_stored_study(tmp_path, monkeypatch,
                                                                         capsys):
    shipped = REPO / "lessons" / "results" / gan.SEEDS_FILE
    before = shipped.read_bytes()
    monkeypatch.setenv("LESSONS_RESULTS", str(tmp_path / "mine"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:  # into the package: refused before any training
        main(["seeds", "--seeds", "0", "--steps", "20", "--out", str(shipped)])
    assert exit_.value.code == 2 and "--force" in capsys.readouterr().err
    tiny = ["seeds", "--steps", "20", "--eval-every", "10", "--no-jit"]
    assert main(tiny + ["--seeds", "1"]) == 0
    out = tmp_path / "mine" / gan.SEEDS_FILE
    assert shipped.read_bytes() == before and out.exists()
    assert f"gan.load_seed_study('{out}')" in capsys.readouterr().out
    # the same file again: extended with the new seed, the old run kept (not retrained)
    stamp = json.loads(out.read_text())["runs"][0]["seconds"]
    assert main(tiny + ["--seeds", "2"]) == 0
    study = gan.load_seed_study(gan.SEEDS_FILE)  # a name is looked up in the results folder
    assert study.seeds == [1, 2] and study.settings["steps"] == 20
    assert json.loads(out.read_text())["runs"][0]["seconds"] == stamp
    with pytest.raises(ValueError, match="other settings"):  # other settings: --force or --out
        gan.run_seeds([1], out, steps=10, eval_every=10, jit_compile=False)
    with pytest.raises(ValueError, match="stored results"):
        gan.seeds_output(shipped)
    assert gan.seeds_output(shipped, force=True) == (shipped, False)
    assert gan.load_seed_study().seeds == list(range(20))  # the notebook's study, untouched


def test_cli_help(capsys):
    for command in (["--help"], ["seeds", "--help"], ["memory", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(command)
        assert exit_.value.code == 0
    assert "--eval-every" in capsys.readouterr().out


def test_run_seeds_value_errors(tmp_path):
    with pytest.raises(ValueError, match="seeds"):
        gan.run_seeds([], tmp_path / "x.json")
    with pytest.raises(ValueError, match="steps"):
        gan.run_seeds([0], tmp_path / "x.json", steps=0)
    with pytest.raises(ValueError, match="method"):
        gan.run_seeds([0], tmp_path / "x.json", steps=1, methods=("joint",))
