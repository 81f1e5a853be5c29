"""Keras's dynamic loss scale on a chosen sequence of steps (the notebook's from-scratch rule),
the loss-scaling problem the notebook's tape cell uses, and where the benchmark CLI writes."""

import numpy as np
import pytest

from lessons import fp16_xla as fx
from lessons._core.results import SHIPPED_DIR
from lessons.fp16_xla import __main__ as cli
from lessons.fp16_xla.bench.schema import result_filename


@pytest.mark.parametrize("finite, growth, start, want", [
    ([True] * 5, 2, 1.0, [1, 1, 2, 2, 4]),  # doubles after every 2 finite steps
    ([False, False, True], 2000, 8.0, [8, 4, 2]),  # halves on every overflow
    ([True, False, True, True, True], 2, 4.0, [4, 4, 2, 2, 4]),  # an overflow resets the count
    ([True] * 3 + [False] + [True] * 4 + [False, False] + [True] * 3, 3, 2.0**15,
     [2.0**e for e in (15, 15, 15, 16, 15, 15, 15, 16, 16, 15, 14, 14, 14)]),  # the notebook's
])
def test_keras_scale_trajectory_halves_on_overflow_and_doubles_after_growth_steps(
        finite, growth, start, want):
    got = fx.keras_scale_trajectory(finite, initial_scale=start, growth_steps=growth)
    assert got.dtype == np.float64 and got.tolist() == want


def test_keras_scale_trajectory_accepts_an_array_of_bools():
    got = fx.keras_scale_trajectory(np.array([True, True]), initial_scale=2.0, growth_steps=1)
    assert got.tolist() == [2.0, 4.0]


@pytest.mark.parametrize("kwargs, match", [
    ({"finite": []}, "finite must be a non-empty sequence of bools"),
    ({"finite": [1, 0]}, "finite must be a non-empty sequence of bools"),
    ({"finite": [True], "initial_scale": 0.5}, "initial_scale"),
    ({"finite": [True], "growth_steps": 0}, "growth_steps"),
])
def test_keras_scale_trajectory_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fx.keras_scale_trajectory(**kwargs)


def test_scaling_problem_is_the_cached_fp16_mlp_and_its_batch():
    model, x, y = fx.scaling_problem()
    again, _, _ = fx.scaling_problem()
    assert again is model and tuple(x.shape) == (256, 64) and tuple(y.shape) == (256,)
    hidden = [layer for layer in model.layers if layer.name.startswith("hidden_")]
    assert len(hidden) == 8 and {layer.compute_dtype for layer in hidden} == {"float16"}
    assert model.get_layer("logits").compute_dtype == "float32"
    # the sweep's no-scale row is this model's gradient
    flat = np.concatenate([g.ravel() for g in fx.scaled_gradients(model, x, y, 1.0).values()])
    mags = fx.gradient_magnitudes()
    assert np.mean(flat == 0) >= mags["share_flushing_fp16"] - 0.02


def _runner(calls):
    stored = fx.stored_results("tiny")[0]

    def run(names, **kwargs):
        calls.append(names)
        return {**stored, "device": {**stored["device"], "cpu": "Other CPU"}}
    return run


def test_cli_saves_into_the_results_folder_and_never_overwrites_without_force(
        monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setenv("LESSONS_RESULTS", str(tmp_path))
    monkeypatch.setattr(cli, "run_benchmark", _runner(calls))
    assert cli.main(["benchmark", "--configs", "fp32", "--save"]) == 0
    (path,) = tmp_path.glob("fp16_xla_*.json")
    assert path.name == "fp16_xla_cpu-other-cpu-2c_tiny.json" and f"saved {path}" in \
        capsys.readouterr().out
    assert [r["device"]["cpu"] for r in fx.stored_results(include_yours=True)].count(
        "Other CPU") == 1
    assert all(r["device"]["cpu"] != "Other CPU" for r in fx.stored_results())
    path.write_text("{}")
    with pytest.raises(SystemExit, match="not saved: .*exists.*--force") as exit_:
        cli.main(["benchmark", "--configs", "fp32", "--save"])
    assert isinstance(exit_.value.code, str)  # a message: printed, exit status 1
    assert path.read_text() == "{}"
    assert cli.main(["benchmark", "--configs", "fp32", "--save", "--force"]) == 0
    assert fx.load_result(path)["device"]["cpu"] == "Other CPU"


def test_cli_refuses_the_courses_stored_results_before_running(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "run_benchmark", _runner(calls))
    with pytest.raises(SystemExit, match="stored results") as exit_:
        cli.main(["benchmark", "--save", "--out", str(SHIPPED_DIR)])
    assert isinstance(exit_.value.code, str)  # a message: printed, exit status 1
    with pytest.raises(SystemExit, match="--force only applies with --save") as exit_:
        cli.main(["benchmark", "--force"])
    assert isinstance(exit_.value.code, str)
    assert calls == []  # refused before a run of minutes


def test_save_result_refuses_the_package_and_an_existing_file(tmp_path):
    stored = fx.stored_results("tiny")[0]
    with pytest.raises(ValueError, match="stored results"):
        fx.save_result(stored, SHIPPED_DIR)
    assert (SHIPPED_DIR / result_filename(stored)).exists()  # the shipped file is untouched
    path = fx.save_result(stored, tmp_path)
    with pytest.raises(ValueError, match="exists"):
        fx.save_result(stored, tmp_path)
    assert fx.save_result(stored, tmp_path, force=True) == path


@pytest.mark.parametrize("env, bars", [("1", 0), ("true", 0), ("", 1), ("0", 1)])
def test_tqdm_disable_leaves_out_the_benchmarks_bar(monkeypatch, env, bars):
    """tqdm.notebook ignores $TQDM_DISABLE; stored outputs must hold no bar's first frame."""
    from lessons.fp16_xla.bench import parent

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    made = []
    monkeypatch.setenv("TQDM_DISABLE", env)
    monkeypatch.setattr(parent, "progress_bar", lambda **kwargs: made.append(kwargs))
    monkeypatch.setattr(parent.tempfile, "TemporaryDirectory", stop)  # stop before any work
    with pytest.raises(Stop):
        parent.run_benchmark(["fp32"], size="micro", progress=True)
    assert len(made) == bars
