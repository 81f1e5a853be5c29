"""Lesson 05's benchmark results: the schema (old stored files and new interleaved ones), the
stored files, the post's numbers beside ours, the speed-up matrix and its spreads, the CLI."""

import copy

import numpy as np
import pytest

from lessons import fp16_xla as fx
from lessons.fp16_xla import __main__ as cli
from lessons.fp16_xla.bench.configs import CPU_AUTOJIT_FLAG, MAIN_CONFIGS
from lessons.fp16_xla.bench.schema import RESULTS_DIR, SCHEMA_ID, result_filename

LIVE = ["fp32", "mixed", "fp16", "xla"]


def _corrupt(result, edit):
    bad = copy.deepcopy(result)
    edit(bad)
    return bad


def test_stored_results_are_what_they_say():
    paths = fx.list_results()
    assert paths, "ship at least one stored benchmark result"
    assert RESULTS_DIR == paths[0].parent and RESULTS_DIR.name == "results"
    for path in paths:
        result = fx.load_result(path)
        assert path.name == result_filename(result) and result["schema"] == SCHEMA_ID
    cpu = [r for r in fx.stored_results() if r["device"]["kind"] == "CPU"]
    assert any({run["config"] for run in r["runs"]} == set(fx.CONFIGS) for r in cpu)
    for result in cpu:  # every configuration, measured when the result was stored
        assert fx.config_mismatches(result) == [], result["label"]
        for run in result["runs"]:
            flags = fx.CONFIGS[run["config"]].tf_xla_flags
            want = f"{flags} {CPU_AUTOJIT_FLAG}" if flags else None
            assert run["checks"]["env"].get("TF_XLA_FLAGS") == want
    assert set(fx.reference_results(cpu)) == {"small", "tiny"}


@pytest.mark.parametrize("edit, match", [
    (lambda r: r.pop("device"), "missing 'device'"),
    (lambda r: r.update(schema="other/1"), "schema"),
    (lambda r: r.update(size="huge"), "size must be one of"),
    (lambda r: r.update(runs=[]), "non-empty list"),
    (lambda r: r["runs"][0].update(config="fp64"), "config"),
    (lambda r: r["runs"][0]["ms_per_step"].update(median=-1.0), "finite and > 0"),
    (lambda r: r["runs"][0]["ms_per_step"].update(min=1e9), "min <= median <= max"),
    (lambda r: r["runs"][0]["ms_per_step"].update(max=float("nan")), "finite and > 0"),
    (lambda r: r["runs"][0]["checks"].update(xla_compiled="yes"), "xla_compiled"),
    (lambda r: r["runs"][0]["checks"].update(xla_compilations=1.5), "xla_compilations"),
    (lambda r: r["settings"].update(share_process="yes"), "share_process"),
    (lambda r: r["workload"].update(batch=True), "got a bool"),
    (lambda r: r["runs"][0].update(examples_per_s=0.0), "examples_per_s"),
])
def test_validator_rejects_broken_results(edit, match):
    stored = fx.stored_results("tiny")[0]  # a result stored before the interleaved harness
    with pytest.raises(ValueError, match=match):
        fx.validate_result(_corrupt(stored, edit))


@pytest.mark.slow
@pytest.mark.parametrize("edit, match", [
    (lambda r: r["runs"][0].update(ms_per_repeat=r["runs"][0]["ms_per_repeat"][:-1]),
     "one value per repeat"),
    (lambda r: r["runs"][1]["ms_per_repeat"].__setitem__(0, 1e9), "span"),
    (lambda r: r["runs"][0]["repeat_start_times"].reverse(), "must increase"),
    (lambda r: r["runs"][1].update(speedup_spread={"min": 2.0, "median": 1.0, "max": 3.0}),
     "min <= median <= max"),
    (lambda r: r["runs"][1].update(speedup_spread={"min": 1.0}), "missing 'median'"),
    (lambda r: r["settings"].update(order=1), "order"),
])
def test_validator_rejects_broken_interleaved_results(bench, edit, match):
    fx.validate_result(bench)
    with pytest.raises(ValueError, match=match):
        fx.validate_result(_corrupt(bench, edit))


@pytest.mark.slow
def test_result_roundtrips_through_json_and_validates(bench, tmp_path):
    path = fx.save_result(bench, tmp_path)
    assert path.name.startswith("fp16_xla_") and path.name.endswith("_micro.json")
    assert fx.load_result(path) == bench
    assert fx.list_results(tmp_path) == [path]
    assert fx.stored_results(directory=tmp_path) == [bench]
    assert fx.stored_results("tiny", directory=tmp_path) == []


@pytest.mark.slow
def test_post_comparison_speedup_matrix_and_spreads(bench):
    rows = fx.post_comparison(bench)
    ours = {r["config"]: r["speedup"] for r in bench["runs"]}
    best = {r["config"]: r["speedup_best"] for r in bench["runs"]}
    cpu = {r["config"]: r["speedup_cpu"] for r in bench["runs"]}
    assert [(r["config"], r["post_3090"], r["ours"], r["ours_best"], r["ours_cpu"])
            for r in rows] == [(c, fx.POST_3090[c], ours[c], best[c], cpu[c])
                               for c in ("mixed", "xla")]
    stored = fx.stored_results("tiny")[0]
    configs, labels, matrix = fx.speedup_matrix([bench, bench, stored])
    low, high = fx.speedup_spreads([bench, bench, stored])
    assert configs == [c for c in fx.CONFIGS if c != "fp32"] and len(labels) == 4
    spread = {r["config"]: r["speedup_spread"] for r in bench["runs"]}
    for i, c in enumerate(configs):
        if c in ours:
            assert matrix[i, 1] == matrix[i, 2] == ours[c]
            assert (low[i, 1], high[i, 1]) == (spread[c]["min"], spread[c]["max"])
        else:
            assert np.isnan(matrix[i, 1]) and np.isnan(matrix[i, 2]) and np.isnan(low[i, 1])
        assert matrix[i, 0] == fx.POST_3090[c] if c in fx.POST_3090 else np.isnan(matrix[i, 0])
        # neither the post nor the results stored before the interleaved harness have spreads
        assert np.isnan(low[i, 0]) and np.isnan(high[i, 3]) and not np.isnan(matrix[i, 3])
    assert fx.speedup_matrix([bench])[0] == ["mixed", "xla", "mixed+xla", "fp16"]


@pytest.mark.slow
@pytest.mark.parametrize("args, configs, size, verbatim_flags", [
    # Try it 4: the post's flags verbatim next to FP32 (the real run: test_the_posts_flags_alone)
    (["--verbatim-flags", "--configs", "fp32,autojit"], ["fp32", "autojit"], "tiny", True),
    # Try it 3: a stored result of another device joins the table and the chart
    (["--size", "small", "--save"], list(fx.CONFIGS), "small", False),
    (["--configs", "main", "--share-process", "--seed", "7"], list(MAIN_CONFIGS), "tiny", False),
])
def test_cli_passes_its_arguments_and_saves(bench, verbatim, monkeypatch, tmp_path, capsys, args,
                                            configs, size, verbatim_flags):
    calls = []

    def runner(names, **kwargs):  # a real result, relabelled as another device's
        calls.append((names, kwargs))
        device = {**bench["device"], "cpu": "Other CPU"}
        source = verbatim if verbatim_flags else bench
        return {**source, "size": kwargs["size"], "device": device,
                "label": f"Other CPU, size {kwargs['size']}"}

    monkeypatch.setattr(cli, "run_benchmark", runner)
    assert cli.main(["benchmark", *args, "--out", str(tmp_path)]) == 0
    ((names, kwargs),) = calls
    assert names == configs and kwargs["size"] == size
    assert kwargs["cpu_global_jit"] is not verbatim_flags
    assert kwargs["share_process"] == ("--share-process" in args)
    assert kwargs["seed"] == (7 if "--seed" in args else None)
    assert kwargs["repeats"] == 5  # the default: five interleaved rounds
    out = capsys.readouterr().out
    assert "speed-up" in out and ("saved" in out) == ("--save" in args)
    if "--save" in args:
        (path,) = fx.list_results(tmp_path)
        joined = fx.stored_results(directory=tmp_path)
        assert path.name.startswith("fp16_xla_cpu-other-cpu-") and path.name.endswith("_small.json")
        _, labels, _ = fx.speedup_matrix([*fx.stored_results(), *joined])
        assert labels[-1] == "Other CPU, size small"


def test_cli_help_and_module_entry_point():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "lessons.fp16_xla", "benchmark", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--repeats" in out and "--verbatim-flags" in out and "rounds" in out
    usage = subprocess.run([sys.executable, "-m", "lessons.fp16_xla.bench"],
                           capture_output=True, text=True)
    assert usage.returncode != 0 and "child SPEC_JSON" in usage.stderr
