"""Section 9's measurements: ``time_steps`` against a fake clock (what it reports and the order
it times in), the benchmark script and ``peak_memory`` at a tiny size, the stored benchmark."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lessons.gan.timing as timing
from lessons import gan

REPO = Path(__file__).resolve().parents[2]


class _Result:
    def numpy(self):
        return 0.0


class _Trainer:
    pass


def test_time_steps_reports_ms_per_step_in_abba_order(monkeypatch):
    # fake steps that advance a fake clock by known amounts: the single loss 1 ms, the pair in
    # one call 2 ms, the D step 1.5 ms and the G step 1 ms (so two calls: 2.5 ms)
    clock, calls = [0.0], []

    def step(name, ms):
        def run(*args):
            calls.append(name)
            clock[0] += ms / 1e3
            return {"loss": _Result()}
        return run

    one, alt = _Trainer(), _Trainer()
    one.train_step = step("one", 1.0)
    alt.train_step, alt.d_step, alt.g_step = step("pair", 2.0), step("d", 1.5), step("g", 1.0)

    def fake_setup(batch_size, hidden, jit_compile, seed):
        assert (batch_size, hidden, jit_compile, seed) == (64, (8,), False, 5)
        return one, alt, None, None

    monkeypatch.setattr(timing, "_timing_setup", fake_setup)
    monkeypatch.setattr(timing, "_clock", lambda: clock[0])
    t = gan.time_steps(64, (8,), repeats=4, steps_per_repeat=2, jit_compile=False, seed=5)
    assert (t.ms_one_step, t.ms_pair, t.ms_pair_two_calls) == pytest.approx((1.0, 2.0, 2.5))
    assert (t.ratio, t.ratio_two_calls) == pytest.approx((0.5, 0.4))
    assert t.batch_size == 64
    # one warm-up call each, then blocks of 2 calls in the order A B C, C B A, A B C, C B A
    assert calls[:4] == ["one", "pair", "d", "g"]
    calls_of = {"one": ["one"], "pair": ["pair"], "two": ["d", "g"]}
    blocks = ["one", "pair", "two", "two", "pair", "one"] * 2
    assert calls[4:] == [c for b in blocks for c in calls_of[b] * 2]


def test_time_steps_leaves_out_the_warm_up_and_takes_the_median_block(monkeypatch):
    clock = [0.0]
    # the single loss's warm-up call (compilation) takes 5 ms, its first timed block 9 ms
    durations = iter([5.0, 9.0] + [1.0] * 100)

    def one_step(*args):
        clock[0] += next(durations) / 1e3
        return _Result()

    def fast(*args):
        clock[0] += 1e-3
        return _Result()

    one, alt = _Trainer(), _Trainer()
    one.train_step, alt.train_step, alt.d_step, alt.g_step = one_step, fast, fast, fast
    monkeypatch.setattr(timing, "_timing_setup", lambda *args: (one, alt, None, None))
    monkeypatch.setattr(timing, "_clock", lambda: clock[0])
    t = gan.time_steps(32, (8,), repeats=3, steps_per_repeat=1, jit_compile=False)
    # blocks of 9, 1 and 1 ms: the median is 1 ms, and the warm-up counts nowhere
    assert t.ms_one_step == pytest.approx(1.0) and t.ms_pair_two_calls == pytest.approx(2.0)


def _benchmark_script():
    spec = importlib.util.spec_from_file_location("gan_benchmark_script",
                                                  REPO / "benchmarks" / "gan.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_script_at_tiny_size_and_peak_memory(tmp_path):
    # "Try it" 5 (python benchmarks/gan.py, gan.peak_memory) and gan.time_steps, at a small size,
    # in one fresh process started with the BFC allocator (so it measures memory in place)
    # without --out it writes into the results folder ($LESSONS_RESULTS), not over the stored run
    shipped = REPO / "lessons" / "results" / gan.BENCHMARK_FILE
    before = shipped.read_bytes()
    out = tmp_path / gan.BENCHMARK_FILE
    env = dict(os.environ, TF_CPU_ALLOCATOR_USE_BFC="true", TF_CPP_MIN_LOG_LEVEL="3",
               LESSONS_RESULTS=str(tmp_path))
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gan.py"), "--tiny"],
                          env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shipped.read_bytes() == before and out.exists()
    assert f"stored in {out}" in proc.stdout
    with pytest.MonkeyPatch.context() as patch:  # the name alone finds it there
        patch.setenv("LESSONS_RESULTS", str(tmp_path))
        assert gan.load_benchmark(gan.BENCHMARK_FILE).data == gan.load_benchmark(out).data
    stored = gan.load_benchmark(out)
    assert gan.format_benchmark(stored) in proc.stdout
    timing_round = stored.data["timing"][0]["rounds"][0]
    for key in ("ms_one_step", "ms_pair", "ms_pair_two_calls"):
        assert 0 < timing_round[key] < 1e4
    assert stored.ratios("tiny MLP 8", False, "ratio_two_calls") == [timing_round["ratio_two_calls"]]
    rounds = stored.data["memory"]["rounds"]
    assert len(rounds) == 3
    # activations of 1024 x 128 floats are 0.5 MiB each: every step holds several of them
    assert min(min(m["one_step"], m["d_step"], m["g_step"]) for m in rounds) > 2**19
    # one step's peak depends on the order TF's executor runs independent ops (single calls at
    # this size: single loss / larger alternating step 0.99-1.9x), so the comparisons are of
    # the median over the three rounds
    assert np.median([m["one_step"] / m["pair"] for m in rounds]) > 1.0
    # the D and the G step run back to back peak below the sum of the two (the D step's buffers
    # are freed before the G step; 0.7-1.3x the larger step in 17 single calls at batch 1024
    # and 4096, widths 128 and 256), and in the median below the single loss
    for m in rounds:
        assert m["d_then_g"] < m["d_step"] + m["g_step"]
    assert np.median([m["one_step"] for m in rounds]) > np.median([m["d_then_g"] for m in rounds])
    assert "peak memory, batch 1024" in gan.format_benchmark(stored)


def test_stored_benchmark_has_its_spread():
    bench = gan.load_benchmark()
    script = _benchmark_script()
    # the stored file is what the script measures: its configurations, each with and without
    # XLA, every round with positive timings
    configs = [(e["config"], e["batch"], tuple(e["hidden"]), e["steps_per_repeat"])
               for e in bench.data["timing"] if e["jit"]]
    assert configs == [(label, batch, tuple(hidden), steps)
                       for label, batch, hidden, steps in script.CONFIGS]
    for entry in bench.data["timing"]:
        assert len(entry["rounds"]) >= 5
        for r in entry["rounds"]:
            assert min(r["ms_one_step"], r["ms_pair"], r["ms_pair_two_calls"]) > 0
    assert (bench.data["memory"]["batch"], tuple(bench.data["memory"]["hidden"])) == script.MEMORY
    assert len(bench.memory_ratios()) >= 3
    assert min(bench.memory_ratios()) > 1.0  # the single loss always holds more memory
    lines = gan.format_benchmark(bench).splitlines()
    assert lines[2].startswith("ring MLP 64x64")
    with pytest.raises(ValueError, match="no timing"):
        bench.ratios("tiny", True)


@pytest.mark.parametrize("fn,kwargs,match", [
    (gan.time_steps, {"batch_size": 0}, "batch_size"),
    (gan.time_steps, {"repeats": 0}, "repeats"),
    (gan.time_steps, {"steps_per_repeat": 0}, "steps_per_repeat"),
    (gan.time_steps, {"hidden": ()}, "hidden"),
    (gan.peak_memory, {"batch_size": 0}, "batch_size"),
    (gan.peak_memory, {"hidden": (0,)}, "hidden"),
    (gan.load_benchmark, {"path": "/nonexistent/gan_benchmark.json"}, "path"),
])
def test_timing_value_errors(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)


def test_benchmark_run_rejects_zero_rounds():
    with pytest.raises(ValueError, match="rounds"):
        _benchmark_script().run(rounds=0, out=False)


def test_benchmark_script_never_replaces_a_result_without_force(tmp_path, monkeypatch, capsys):
    script = _benchmark_script()
    shipped = REPO / "lessons" / "results" / gan.BENCHMARK_FILE
    before = shipped.read_bytes()
    monkeypatch.setenv("LESSONS_RESULTS", str(tmp_path))
    (tmp_path / gan.BENCHMARK_FILE).write_text("{}")
    for argv in (["--tiny", "--out", str(shipped)], ["--tiny"]):  # refused before any timing
        with pytest.raises(SystemExit) as exit_:
            script.main(argv)
        assert exit_.value.code == 2
    message = capsys.readouterr().err
    assert "stored results" in message and "exists" in message and "--force" in message
    assert shipped.read_bytes() == before
    with pytest.raises(ValueError, match="exists"):
        script.run(out=None, rounds=1)
    with pytest.raises(ValueError, match="path must name"):
        gan.load_benchmark("no_such_benchmark.json")
