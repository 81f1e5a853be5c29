"""Lesson 05's benchmark harness: configurations and their expectations, the subprocess
environment, the XLA log, the workload, speed-ups from hand-made timings, and two live runs at
the micro size (see conftest.py): one shared subprocess, and two subprocesses interleaved."""

import copy
import math
import statistics

import numpy as np
import pytest

from lessons import fp16_xla as fx
from lessons._core.claims import ClaimFailed
from lessons.fp16_xla.bench import child, parent
from lessons.fp16_xla.bench.configs import CPU_AUTOJIT_FLAG, resolve_policy
from lessons.fp16_xla.bench.workload import (
    build_tagger,
    counted_flops,
    make_batch,
    model_attention_layers,
)

EXPECT_XLA = {"fp32": False, "mixed": False, "xla": True, "mixed+xla": True, "fp16": False,
              "autojit": True, "autojit-eager": True, "autojit-fusible": True}
# The live runs (conftest.py). mixed+xla (the two checked here, combined) and the three
# auto-clustering configurations with --tf_xla_cpu_global_jit are checked in the stored results
# (test_fp16_results.py), which the same harness measured; fp32 and xla also in the notebook's
# strictly compared check.
LIVE = ["fp32", "mixed", "fp16", "xla"]
VERBATIM = ["fp32", "autojit"]
MICRO = {"size": "micro", "steps": 1, "repeats": 3, "warmup": 1, "progress": False,
         "peak_seconds": 0.01}  # as conftest.py's live runs


def test_every_configuration_covered_by_expectations():
    assert set(EXPECT_XLA) == set(fx.CONFIGS)
    assert {c: fx.expected_checks(c)["xla_compiled"] for c in fx.CONFIGS} == EXPECT_XLA
    assert [c for c in fx.CONFIGS if fx.expected_checks(c)["loss_scale_optimizer"]] == ["fp16"]
    assert fx.expected_checks("mixed", on_gpu=True)["compute_dtype"] == "float16"
    assert fx.expected_checks("mixed", on_gpu=True)["loss_scale_optimizer"]
    # the policy each precision runs under: BF16 on a CPU, FP16 (with loss scaling) on a GPU
    assert [resolve_policy(p, on_gpu) for p in ("float32", "mixed", "float16")
            for on_gpu in (False, True)] == ["float32", "float32", "mixed_bfloat16",
                                             "mixed_float16", "mixed_float16", "mixed_float16"]


def test_process_groups_share_a_process_only_with_the_same_environment():
    assert parent.process_groups(LIVE) == [[c] for c in LIVE]
    assert parent.process_groups([*LIVE, "autojit"], share_process=True) == [LIVE, ["autojit"]]
    assert parent.process_groups(["autojit", "fp32"], share_process=True,
                                 cpu_global_jit=False) == [["autojit"], ["fp32"]]
    every = parent.process_groups(list(fx.CONFIGS), share_process=True)
    assert every == [["fp32", "mixed", "xla", "mixed+xla", "fp16"], ["autojit"],
                     ["autojit-eager"], ["autojit-fusible"]]


def test_child_env_sets_only_the_configurations_flags():
    base = {"TF_XLA_FLAGS": "--leak", "XLA_FLAGS": "--leak", "HOME": "/x"}
    env = parent.child_env("fp32", base=base)
    assert "TF_XLA_FLAGS" not in env and "XLA_FLAGS" not in env and env["HOME"] == "/x"
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "0"  # XLA's "compiled" lines are INFO logs
    assert env["TF_CPP_VMODULE"] == "device_compilation_profiler=1"  # one line per compile
    cpu = parent.child_env("autojit-fusible", on_cpu=True, base=base)["TF_XLA_FLAGS"]
    assert cpu == "--tf_xla_auto_jit=fusible --tf_xla_cpu_global_jit"
    assert parent.child_env("autojit", on_cpu=False,
                            base=base)["TF_XLA_FLAGS"] == "--tf_xla_auto_jit=1"
    verbatim = parent.child_env("autojit-eager", on_cpu=True, base=base, cpu_global_jit=False)
    assert verbatim["TF_XLA_FLAGS"] == "--tf_xla_auto_jit=1 --tf_xla_enable_lazy_compilation=false"
    # the child finds this checkout's lessons package first
    import os

    import lessons

    root = parent.ROOT
    assert (root / "lessons" / "__init__.py").samefile(lessons.__file__)
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(root)


def test_benchmark_children_get_the_course_seed_unless_one_is_given():
    import lessons

    lessons.setup(7)
    assert parent.child_spec("micro", 1, 1, 1, "b.npz")["seed"] == 7
    assert parent.child_spec("micro", 1, 1, 1, "b.npz", seed=3)["seed"] == 3
    lessons.setup(0)
    assert parent.child_spec("micro", 1, 1, 1, "b.npz")["seed"] == 0


def test_xla_log_counts_compilations_after_a_position(tmp_path):
    import os

    path = tmp_path / "log"
    path.write_bytes(b"I0 device_compiler.h:208] Compiled cluster using XLA!  This line...\n"
                     b"I0 device_compilation_profiler.cc:113] Compiled cluster_0 1 times, "
                     b"compile time: 68269 us\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        log = child.XlaLog(fd)
        assert log.since(0) == {"xla_compiled": True, "xla_compilations": 1}
        end = log.position()
        assert end == path.stat().st_size and log.since(end)["xla_compiled"] is False
        with open(path, "ab") as f:
            f.write(b"x Compiled __inference_one_step_on_data_123 1 times, compile time: 9 us\n"
                    b"x Compiled cluster_7 2 times, compile time: 9 us\n")
        assert log.since(end) == {"xla_compiled": True, "xla_compilations": 2}
    finally:
        os.close(fd)
    assert child.XlaLog().since(0) == {"xla_compiled": False, "xla_compilations": 0}


def test_matmul_peak_is_positive():
    assert 0.1 < child.matmul_peak_gflops("float32", n=128, min_time=0.01) < 1e6


@pytest.mark.parametrize("size", ["micro", "tiny", "small"])
def test_train_flops_matches_the_models_kernels(size):
    model = build_tagger(size)
    assert model_attention_layers(model) == fx.SIZES[size].layers
    assert counted_flops(model, size) == fx.bench.train_flops(size)


def test_make_batch_is_people_daily_characters():
    s = fx.SIZES["tiny"]
    batch = make_batch("tiny")
    assert batch["ids"].shape == batch["tags"].shape == batch["mask"].shape == (s.batch, s.seq_len)
    np.testing.assert_array_equal(batch["mask"], batch["ids"] != 0)
    assert batch["ids"].max() < s.vocab and set(np.unique(batch["tags"])) <= {0, 1, 2, 3}
    assert batch["mask"].sum(1).min() >= 1
    batch["ids"][:] = 0  # callers get copies: the cached batch is unchanged
    assert make_batch("tiny")["ids"].max() > 0
    from lessons.fp16_xla.bench import workload

    assert not workload._BATCHES["tiny"]["ids"].flags.writeable  # the cache is read-only


@pytest.mark.parametrize("call, match", [
    (lambda: fx.run_benchmark("fp32"), "configs must be a non-empty sequence"),
    (lambda: fx.run_benchmark(["fp64"]), "configs must be names from"),
    (lambda: fx.run_benchmark(["fp32", "fp32"]), "configs must not repeat"),
    (lambda: fx.run_benchmark(["fp32"], size="huge"), "size must be one of"),
    (lambda: fx.run_benchmark(["fp32"], steps=0), r"steps must be an int in \[1, inf\)"),
    (lambda: fx.run_benchmark(["fp32"], repeats=0), r"repeats must be an int in \[1, inf\)"),
    (lambda: fx.run_benchmark(["fp32"], warmup=0), r"warmup must be an int in \[1, inf\)"),
    (lambda: fx.run_benchmark(["fp32"], jobs=0), r"jobs must be an int in \[1, inf\)"),
    (lambda: fx.run_benchmark(["fp32"], peak_seconds=0.0), r"peak_seconds must be in \(0, 10\]"),
    (lambda: fx.run_benchmark(["fp32"], timeout=0), r"timeout must be in \(0, inf\)"),
    (lambda: fx.run_benchmark(["fp32"], seed=-1), r"seed must be an int in \[0, 2\*\*31\)"),
    (lambda: child.matmul_peak_gflops("int8"), "dtype must be one of"),
    (lambda: child.matmul_peak_gflops(n=4), r"n must be an int in \[16, inf\)"),
    (lambda: fx.bench.train_flops("huge"), "size must be one of"),
    (lambda: parent.child_env("fp64"), "config must be one of"),
    (lambda: fx.stored_results("huge"), "size must be one of"),
    (lambda: fx.expected_checks("fp64"), "config must be one of"),
])
def test_benchmark_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_failing_child_reports_its_error_and_a_silent_one_times_out(tmp_path):
    env = parent.child_env("fp32")
    broken = parent._Child(["fp64"], {}, env, str(tmp_path), timeout=60)
    try:
        with pytest.raises(RuntimeError, match=r"(?s)benchmark of \['fp64'\] failed:.*"
                                               r"configs must be one of"):
            broken.receive("ready")
    finally:
        broken.close()
    assert broken.proc.returncode != 0
    silent = parent._Child(["fp64"], {}, env, str(tmp_path), timeout=1e-3)
    try:
        with pytest.raises(RuntimeError, match="sent no 'ready' within"):
            silent.receive("ready")
    finally:
        silent.close()


def test_a_shared_process_seeds_once_and_starts_every_configuration_alike(monkeypatch):
    # Seeding again between configurations would make the earlier ones' tf.functions retrace
    # (TensorFlow's global seed changed) inside their first timed repeat: in the notebook's live
    # run, FP32's first repeat took 110 ms per step instead of 15. The live runs check that the
    # configurations really start alike (their final losses agree); this checks how.
    import keras

    seeds, built = [], []

    class Run:  # stands in for ConfigRun: records what each configuration was given
        def __init__(self, spec, name, xla_log, initial_weights=None, keep_initial_weights=False):
            built.append((name, initial_weights, keep_initial_weights))
            self.initial_weights = [f"{name}'s initial weights"] if keep_initial_weights else None

    monkeypatch.setattr(keras.utils, "set_random_seed", seeds.append)
    monkeypatch.setattr(keras.backend, "clear_session", lambda: seeds.append("cleared"))
    monkeypatch.setattr(child, "ConfigRun", Run)
    runs = child.build_runs({"seed": 3}, ["fp32", "xla", "fp16"])
    assert seeds == ["cleared", 3] and list(runs) == ["fp32", "xla", "fp16"]
    assert built == [("fp32", None, True), ("xla", ["fp32's initial weights"], False),
                     ("fp16", ["fp32's initial weights"], False)]
    assert all(run.initial_weights is None for run in runs.values())  # no copy left behind
    child.build_runs({"seed": 3}, ["fp32"])
    assert built[-1] == ("fp32", None, False)  # alone in its process: nothing to copy


def test_the_notebooks_live_run_is_five_rounds_in_the_kernels_own_process(monkeypatch):
    calls = []
    monkeypatch.setattr(parent, "run_benchmark", lambda *a, **kw: calls.append((a, kw)) or {})
    parent.live_benchmark(seed=3)
    assert calls == [((["fp32", "xla"],), {"size": "tiny", "steps": 4, "repeats": 5, "warmup": 2,
                                           "peak_seconds": 0.05, "in_process": True,
                                           "seed": 3, "progress": True})]


# ---------------------------------------------------------------------------- speed-ups


def _timed(config, ms, cpu_ms=None):
    cpu_ms = ms if cpu_ms is None else cpu_ms

    def stats(v):
        return {"median": statistics.median(v), "min": min(v), "max": max(v)}

    return {"config": config, "ms_per_step": stats(ms), "cpu_ms_per_step": stats(cpu_ms),
            "ms_per_repeat": ms, "cpu_ms_per_repeat": cpu_ms}


def test_speedups_of_hand_made_timings():
    runs = [_timed("fp32", [10, 20, 30], [40, 40, 40]), _timed("xla", [5, 10, 15], [20, 40, 80]),
            _timed("mixed", [5, 20, 60])]
    parent._add_speedups(runs)
    fp32, xla, mixed = runs
    assert (fp32["speedup"], fp32["speedup_best"], fp32["speedup_cpu"]) == (1.0, 1.0, 1.0)
    assert fp32["speedup_spread"] == {"min": 1.0, "median": 1.0, "max": 1.0}
    # twice as fast in every round; the same median CPU time
    assert (xla["speedup"], xla["speedup_best"], xla["speedup_cpu"]) == (2.0, 2.0, 1.0)
    assert xla["speedup_spread"] == {"min": 2.0, "median": 2.0, "max": 2.0}
    # rounds 10/5, 20/20, 30/60: 2x, 1x, 0.5x; medians 20 and 20: 1x; fastest 10 and 5: 2x
    assert mixed["speedup_spread"] == {"min": 0.5, "median": 1.0, "max": 2.0}
    assert (mixed["speedup"], mixed["speedup_best"]) == (1.0, 2.0)
    alone = [_timed("xla", [5, 10, 15])]  # no FP32 to compare with
    parent._add_speedups(alone)
    assert [alone[0][k] for k in ("speedup", "speedup_best", "speedup_cpu",
                                  "speedup_spread")] == [None] * 4


# ---------------------------------------------------------------------------- live runs


def _schedule(result):
    """(round, config) of every timed repeat, ordered by the children's own clocks."""
    events = sorted((t, r, run["config"]) for run in result["runs"]
                    for r, t in enumerate(run["repeat_start_times"]))
    return [(r, c) for _, r, c in events]


@pytest.mark.slow
@pytest.mark.parametrize("name, configs", [("bench", LIVE), ("verbatim", VERBATIM)])
def test_configurations_are_timed_in_abab_rounds(bench, verbatim, name, configs):
    result = {"bench": bench, "verbatim": verbatim}[name]
    repeats, steps = result["settings"]["repeats"], result["settings"]["steps"]
    assert result["settings"]["order"] == "ABAB" and repeats == 3
    assert _schedule(result) == [(r, c) for r in range(repeats) for c in configs]
    # one repeat ends before the next one starts (wall clock against the child's perf_counter)
    spans = sorted((t, t + steps * ms / 1e3) for run in result["runs"]
                   for t, ms in zip(run["repeat_start_times"], run["ms_per_repeat"], strict=True))
    assert all(end <= next_start + 1e-3 for (_, end), (next_start, _) in zip(spans, spans[1:],
                                                                              strict=False))


@pytest.mark.slow
def test_each_configuration_really_is_what_it_says(bench):
    assert [r["config"] for r in bench["runs"]] == LIVE
    assert bench["settings"]["share_process"] and bench["settings"]["seed"] == 0
    on_gpu = bench["device"]["kind"] == "GPU"
    assert fx.config_mismatches(bench) == []
    for run in bench["runs"]:
        config, checks = fx.CONFIGS[run["config"]], run["checks"]
        for key, want in fx.expected_checks(run["config"], on_gpu).items():
            assert checks[key] == want, (run["config"], key)
        assert checks["jit_compile_requested"] == config.jit_compile
        assert checks["logits_dtype"] == "float32", run["config"]
        # XLA compiled during this configuration's training, or not at all
        assert (checks["xla_compilations"] > 0) == EXPECT_XLA[run["config"]], run["config"]
        flags = checks["env"].get("TF_XLA_FLAGS")
        if config.tf_xla_flags:
            assert flags == config.tf_xla_flags + ("" if on_gpu else " " + CPU_AUTOJIT_FLAG)
        else:
            assert flags is None, run["config"]
        assert "XLA_FLAGS" not in checks["env"]


@pytest.mark.slow
def test_the_posts_flags_alone_skip_the_cpu(verbatim):
    assert [r["config"] for r in verbatim["runs"]] == VERBATIM
    run = verbatim["runs"][1]
    assert run["checks"]["env"]["TF_XLA_FLAGS"] == "--tf_xla_auto_jit=1"
    assert verbatim["settings"]["cpu_global_jit"] is False
    assert not verbatim["settings"]["share_process"]  # fp32 and autojit: a subprocess each
    # two fresh processes, one seed: the same start, the same float32 arithmetic (no XLA here)
    assert run["final_loss"] == pytest.approx(verbatim["runs"][0]["final_loss"], rel=1e-5)
    if run["device"]["kind"] == "CPU":  # auto-clustering leaves CPU ops alone without the flag
        assert not run["checks"]["xla_compiled"] and run["checks"]["xla_compilations"] == 0
        with pytest.raises(ValueError, match="verbatim"):
            fx.config_mismatches(verbatim)


@pytest.mark.slow
def test_timings_and_derived_numbers_are_consistent(bench):
    runs_by = {r["config"]: r for r in bench["runs"]}
    # FLOPs counted from the built model's kernels, not the formula the child used
    flops = counted_flops(build_tagger("micro"), "micro")
    for run in bench["runs"]:
        t, per_repeat = run["ms_per_step"], run["ms_per_repeat"]
        assert all(math.isfinite(v) and v > 0 for v in t.values())
        assert t["min"] <= t["median"] <= t["max"]
        # the summary is the per-repeat list's (statistics, not NumPy)
        assert t["median"] == pytest.approx(statistics.median(per_repeat))
        assert (t["min"], t["max"]) == (min(per_repeat), max(per_repeat))
        cpu = run["cpu_ms_per_step"]
        assert all(math.isfinite(v) and v > 0 for v in cpu.values())
        assert cpu["median"] == pytest.approx(statistics.median(run["cpu_ms_per_repeat"]))
        assert run["examples_per_s"] * t["median"] / 1e3 == pytest.approx(bench["workload"]["batch"])
        assert run["achieved_gflops"] * 1e9 * t["median"] / 1e3 == pytest.approx(flops)
        assert run["peak_share"] == pytest.approx(run["achieved_gflops"] / run["matmul_peak_gflops"])
        # VmHWM of the child itself: TF alone is hundreds of MB (in a shared process a later
        # configuration may add nothing to the peak, so its growth means little)
        assert run["memory_mb"] > 200 and run["memory_mb"] > run["memory_growth_mb"]
        assert math.isfinite(run["final_loss"]) and run["final_loss"] > 0
    # every configuration started from the same weights and trained on the same batch: XLA's
    # float32 arithmetic differs from the plain kernels' in the last bits only
    assert runs_by["xla"]["final_loss"] == pytest.approx(runs_by["fp32"]["final_loss"], rel=1e-3)
    fp32 = runs_by["fp32"]  # the baseline against itself, round by round
    assert (fp32["speedup"], fp32["speedup_best"], fp32["speedup_cpu"]) == (1.0, 1.0, 1.0)
    assert fp32["speedup_spread"] == {"min": 1.0, "median": 1.0, "max": 1.0}
    # the first configuration of the process starts from TF's footprint: training adds some
    assert fp32["memory_growth_mb"] > 0
    assert bench["load_average"]["before"] and bench["settings"]["jobs"] == 2
    table = fx.format_table(bench).splitlines()
    assert all(line.split()[-2] == "-" for line in table[2:])  # shared process: no memory column


@pytest.mark.slow
def test_live_claims_hold_and_fail_on_a_mislabelled_run(bench, capsys):
    fx.check_live_claims(bench)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("holds: ") for line in lines)
    for config, key, value in (("xla", "xla_compiled", False), ("mixed", "compute_dtype", "float32"),
                               ("fp16", "loss_scale_optimizer", False),
                               ("fp32", "xla_compiled", True)):
        bad = copy.deepcopy(bench)
        next(r for r in bad["runs"] if r["config"] == config)["checks"][key] = value
        with pytest.raises(ClaimFailed, match="its name says"):
            fx.check_live_claims(bad)
    bad = copy.deepcopy(bench)
    bad["runs"][0]["final_loss"] = float("nan")
    with pytest.raises(ClaimFailed, match="trained"):
        fx.check_live_claims(bad)


# ---------------------------------------------------------------------------- in this process


@pytest.mark.parametrize("jit_compile", [True, False])
def test_xla_counter_sees_a_jit_compiled_training_step_and_only_that(jit_compile):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse", jit_compile=jit_compile)
    counter = child.XlaCounter()
    start = counter.position()
    assert counter.since(start) == {"xla_compiled": False}
    model.train_on_batch(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32))
    assert counter.since(start) == {"xla_compiled": jit_compile}


def test_in_process_refuses_configurations_that_need_tensorflows_start_up_flags():
    with pytest.raises(ValueError, match=r"TF_XLA_FLAGS.*in_process"):
        fx.run_benchmark(["fp32", "autojit"], in_process=True, **MICRO)


@pytest.mark.slow
def test_an_in_process_run_times_both_configurations_and_sees_xla_in_one_only():
    import keras

    result = fx.run_benchmark(["fp32", "xla"], in_process=True, seed=0, **MICRO)
    fx.validate_result(result)
    assert result["settings"]["in_process"] and not result["settings"]["share_process"]
    assert [r["config"] for r in result["runs"]] == ["fp32", "xla"]
    assert _schedule(result) == [(r, c) for r in range(MICRO["repeats"]) for c in ("fp32", "xla")]
    for run in result["runs"]:
        checks = run["checks"]
        assert checks["xla_compiled"] == (run["config"] == "xla")
        assert "xla_compilations" not in checks  # the counter counts functions, not compilations
        assert checks["jit_compile_requested"] == (run["config"] == "xla")
        assert len(run["ms_per_repeat"]) == MICRO["repeats"]
    assert fx.config_mismatches(result) == []
    assert keras.mixed_precision.global_policy().name == "float32"  # left as it found it
    # same initial weights and float32 arithmetic; XLA's fusions reorder some sums
    fp32, xla = (r["final_loss"] for r in result["runs"])
    assert xla == pytest.approx(fp32, rel=1e-3)
    table = fx.format_table(result).splitlines()
    assert all(line.split()[-2] == "-" for line in table[2:])  # the kernel's memory, not theirs
    fx.check_live_claims(result)  # the notebook's check after its live run
