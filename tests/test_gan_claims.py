"""Lesson 02's claim checks (each raises on a violating fake result and passes on a good one),
the stored results behind its bands, its CLI and benchmark at a tiny size, its seeds, and the
notebook's "Try it" suggestions at a small size."""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lessons import gan
from lessons.claims import ClaimFailed
from lessons.data import load_digits, ring_centers, sample_ring

REPO = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- fake results


def _run(method, modes, hq, steps=(0, 1000, 2000), seed=0):
    return gan.RingRun(method, 1.0, list(steps), list(modes), list(hq), seed=seed)


def _ring(one_modes=8, one_hq=0.7, alt_modes=8, alt_hq=0.85):
    return gan.RingComparison({"one_step": _run("one_step", [0, 3, one_modes], [0, .1, one_hq]),
                               "alternating": _run("alternating", [0, 8, alt_modes],
                                                   [0, .6, alt_hq])})


def _ok(result):
    assert all(claim.holds() for claim in result.claims())
    gan.check_claims(result)  # prints the stable lines; raises if a claim fails


def _fails(result, words):
    with pytest.raises(ClaimFailed, match=words):
        gan.check_claims(result)


def test_zero_term_claims():
    _ok(gan.ZeroTerm(0.0, 0.0, 0.3))
    _fails(gan.ZeroTerm(1e-4, 0.0, 0.3), "value is 0")
    _fails(gan.ZeroTerm(0.0, 1e-3, 0.3), "for D's weights is 0")
    _fails(gan.ZeroTerm(0.0, 0.0, 0.0), "for G's weights is not 0")


def test_split_claims():
    good = dict(lams=(0.5, 1.0), value_diff=(0.0, 1e-8), rel_diff_d=(1e-6, 2e-5),
                rel_diff_g=(0.0, 1e-7))
    _ok(gan.SplitCheck(**good))
    _fails(gan.SplitCheck(**good | {"value_diff": (0.0, 1e-3)}), "value equals the D loss")
    _fails(gan.SplitCheck(**good | {"rel_diff_g": (0.0, 1e-4)}), "G's gradients agree")
    _fails(gan.SplitCheck(**good | {"rel_diff_d": (0.0, 1e-2)}), "D's gradients agree")


def _lam_table(rows, implementation="keras", scales=(1.0, 1e-8)):
    return gan.LamTable(2.0, 2, 0, implementation, scales, rows)


def test_lam_table_claims():
    formula = gan.lam_ratio_table(scales=(1.0, 1e-8), steps=2, seed=0,
                                  rows=[r for r in gan.LAM_TABLE_ROWS if r[1] in ("sgd", "adam")])
    _ok(formula)
    rows = dict(formula.rows)
    _ok(_lam_table(rows))  # Keras giving exactly the formula's ratios
    adam = rows["Adam, Keras 3"]
    _fails(_lam_table(rows | {"Adam, Keras 3": (adam[0], adam[1], (1.0, 1.5))}),
           "Keras 3's Adam gives the formula's ratios")
    _fails(_lam_table(rows | {"SGD": ("sgd", 0.9, (2.0, 1.0))}, "formula"), "SGD: G's step")
    _fails(_lam_table(rows | {"Adam, Keras 3": ("adam", 0.9, (1.3, adam[2][1]))}, "formula"),
           "lam cancels")
    _fails(_lam_table(rows | {"Adam, Keras 3": ("adam", 0.9, (1.0, 1.0))}, "formula"),
           "lam is back")


def _dirac(one_growth, alt_growth, steps=60, lr=0.2):
    def path(growth):
        p = np.zeros((steps + 1, 2))
        p[:, 0] = 0.5 * np.geomspace(1.0, growth, steps + 1)
        return p
    return gan.DiracComparison({"one_step": path(one_growth), "alternating": path(alt_growth)},
                               lr, 1.0)


def test_dirac_claims():
    _ok(_dirac(1.04**30, 1.05))
    _fails(_dirac(1.0, 1.05), "grows as the closed form")
    _fails(_dirac(1.04**30, 2.0), "stays on its orbit")


def test_ring_claims():
    _ok(_ring())
    _ok(_ring(one_modes=4, one_hq=0.05, alt_modes=6, alt_hq=0.5))  # the bands' edges
    _fails(_ring(one_modes=3), "single loss: modes covered")
    _fails(_ring(alt_modes=5), "alternating: modes covered")
    _fails(_ring(one_hq=0.04), "single loss: high-quality share")
    _fails(_ring(alt_hq=0.3), "alternating: high-quality share")


def _study(first_one=(1000, 1100, 900, None, 1200), first_alt=(700, 800, 600, 750, 800),
           final_one=(8, 7, 8, 6, 7), final_alt=(8, 8, 8, 8, 8), hq_one=0.6, hq_alt=0.85):
    runs = []
    for seed, values in enumerate(zip(first_one, first_alt, final_one, final_alt, strict=True)):
        for method, first, final, hq in (("one_step", values[0], values[2], hq_one),
                                         ("alternating", values[1], values[3], hq_alt)):
            steps = [0, 500, first, 2000] if first is not None else [0, 500, 1000, 2000]
            modes = [0, 1, 8, final] if first is not None else [0, 1, 5, final]
            runs.append(_run(method, modes, [0, .1, .5, hq], steps, seed))
    return gan.SeedStudy({"steps": 2000, "eval_every": 50, "lam": 1.0}, {}, tuple(runs))


def test_seed_study_summary_and_claims():
    study = _study()
    assert study.seeds == [0, 1, 2, 3, 4]
    assert study.summary("one_step")["full_at_end"] == 2
    assert study.summary("one_step")["modes_min"] == 6
    assert study.summary("one_step")["first_8"] == [1000, 1100, 900, None, 1200]
    assert study.head_to_head() == {"alternating first": 5, "same step": 0,
                                    "single loss first": 0, "neither": 0}
    assert study.run("alternating", 2).first_step_with(8) == 600
    _ok(study)
    _fails(_study(first_alt=(700, 800, 600, 750, 1300)), "reached 8 modes before")
    _fails(_study(first_alt=(700, 800, 900, 750, 800)), "reached 8 modes before")  # a tie
    _fails(_study(final_alt=(8, 8, 7, 8, 7)), "alternating: seeds ending with all 8")
    _fails(_study(final_one=(8, 8, 8, 6, 8)), "single loss: seeds ending with all 8")
    _fails(_study(hq_one=0.8), "median high-quality share")
    _fails(gan.SeedStudy({}, {}, tuple(r for r in study.runs if r.seed < 3)), "seeds in the study")
    text = str(study).splitlines()
    assert text[2].split() == ["0", "8", "0.60", "1000", "8", "0.85", "700"]
    assert text[5].split() == ["3", "6", "0.60", "never", "8", "0.85", "750"]
    assert text[-1] == ("8 modes first: alternating first on 5, same step on 0, "
                        "single loss first on 0, neither on 0")
    with pytest.raises(ValueError, match="seed 9"):
        study.run("one_step", 9)


def test_digits_claims():
    real, _ = load_digits("unit")
    rng = np.random.default_rng(0)
    good = real[rng.choice(len(real), 32, replace=False)].reshape(-1, 8, 8)
    noisy = np.clip(good + 0.1 * rng.standard_normal(good.shape), 0, 1)
    images = {"untrained": rng.random((32, 8, 8)), "one_step": noisy, "alternating": good}
    _ok(gan.DigitsComparison(images))
    _fails(gan.DigitsComparison(images | {"one_step": rng.random((32, 8, 8))}),
           "single loss: mean distance")
    _fails(gan.DigitsComparison(images | {"alternating": np.repeat(good[:1], 32, axis=0)}),
           "alternating: images differ")
    assert gan.DigitsComparison(images).distance("alternating") == 0.0


def test_step_timing_claims():
    _ok(gan.StepTiming(256, 1.0, 1.0, 1.5))
    _fails(gan.StepTiming(256, 3.2, 3.0, 1.5), "single loss / D\\+G pair in two calls")
    _fails(gan.StepTiming(256, 0.1, 1.0, 0.5), "single loss / D\\+G pair in one call")
    _fails(gan.StepTiming(256, 3.5, 1.0, 3.0), "single loss / D\\+G pair in one call")


def _bench(two=(0.65, 0.7, 0.72), one=(0.98, 1.02, 1.3), wide_two=(0.9, 0.92), mem=(1.3, 1.5)):
    def rounds(twos, ones):
        return [{"ms_one_step": 1.0, "ms_pair": 1.0 / o, "ms_pair_two_calls": 1.0 / t,
                 "ratio": o, "ratio_two_calls": t} for t, o in zip(twos, ones, strict=True)]
    timing = [{"config": "ring", "jit": True, "rounds": rounds(two, one)},
              {"config": "wide", "jit": True, "rounds": rounds(wide_two, (1.0,) * len(wide_two))}]
    memory = {"batch": 4096, "hidden": [256, 256],
              "rounds": [{"one_step": m * 100, "d_step": 100, "g_step": 90, "pair": 100}
                         for m in mem]}
    return gan.BenchmarkResults({"environment": {"cpu": "x", "cpus": 2, "load_average": [0.1]},
                                 "timing": timing, "memory": memory})


def test_benchmark_claims():
    _ok(_bench())
    _fails(_bench(mem=(1.1, 1.5)), "costs memory")
    _fails(_bench(two=(0.65, 0.95, 0.7)), "saves time against two calls")
    _fails(_bench(one=(1.2, 1.3, 1.25)), "about even against one compiled call")
    _fails(_bench(wide_two=(0.7, 0.72)), "the saving shrinks")
    lines = str(_bench()).splitlines()
    assert lines[2].split()[-4:] == ["1.02x", "(0.98-1.30)", "0.70x", "(0.65-0.72)"]
    assert lines[-1].endswith("single / pair 1.40x (1.30-1.50)")


def test_check_claims_rejects_other_results():
    with pytest.raises(ValueError, match="result must be one of"):
        gan.check_claims({"modes": 8})


def test_nearest_digit_distance():
    real, _ = load_digits("unit")
    assert np.all(gan.nearest_digit_distance(real[:5]) == 0.0)
    brute = min(np.linalg.norm(real - 0.5, axis=1))
    assert gan.nearest_digit_distance(np.full((1, 64), 0.5))[0] == pytest.approx(brute, rel=1e-6)
    with pytest.raises(ValueError, match="images"):
        gan.nearest_digit_distance(np.zeros((2, 7, 7)))


# ----------------------------------------------------------------------------- stored results


STORED = {"native": "gan_seeds.json", "avx2": "gan_seeds_avx2.json",
          "sse41": "gan_seeds_sse41.json"}


@pytest.mark.parametrize("isa", list(STORED))
def test_ring_bands_pass_every_stored_run(isa):
    # the measured spread behind RingComparison.claims: 10 seeds on each emulated CPU
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
    _ok(study)
    for run in study.runs:  # the summary re-derives from the curves
        assert run.steps[-1] == gan.RING_STEPS and len(run.steps) == len(run.modes)
    with pytest.raises(ValueError, match="path must name"):
        gan.load_seed_study(REPO / "nope.json")


def test_stored_benchmark_has_its_spread():
    bench = gan.load_benchmark()
    for entry in bench.data["timing"]:
        assert len(entry["rounds"]) >= 5
        for r in entry["rounds"]:
            assert r["ratio"] == pytest.approx(r["ms_one_step"] / r["ms_pair"], rel=1e-3)
    assert len(bench.memory_ratios()) >= 3
    assert min(bench.memory_ratios()) > 1.0  # the single loss always holds more memory
    lines = str(bench).splitlines()
    assert lines[2].startswith("ring MLP 64x64")
    with pytest.raises(ValueError, match="no timing"):
        bench.ratios("tiny", True)


# ----------------------------------------------------------------------------- CLI, benchmark


def test_benchmark_script_at_tiny_size_and_peak_memory(tmp_path):
    # "Try it" 5 (python benchmarks/gan.py, gan.peak_memory) and gan.time_steps, at a small size,
    # in one fresh process started with the BFC allocator (so it measures memory in place)
    out = tmp_path / "bench.json"
    env = dict(os.environ, TF_CPU_ALLOCATOR_USE_BFC="true", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gan.py"), "--tiny",
                           "--out", str(out)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stored = gan.load_benchmark(out)
    assert str(stored) in proc.stdout
    timing = stored.data["timing"][0]["rounds"][0]
    for key in ("ms_one_step", "ms_pair", "ms_pair_two_calls"):
        assert 0 < timing[key] < 1e4
    assert timing["ratio"] == pytest.approx(timing["ms_one_step"] / timing["ms_pair"], rel=1e-3)
    assert stored.ratios("tiny MLP 8", False, "ratio_two_calls") == [timing["ratio_two_calls"]]
    mem = stored.data["memory"]["rounds"][0]
    assert mem["pair"] == max(mem["d_step"], mem["g_step"])
    # activations of 1024 x 128 floats are 0.5 MiB each: every step holds several of them
    assert min(mem["one_step"], mem["d_step"], mem["g_step"]) > 2**19
    assert mem["one_step"] > mem["pair"]
    assert "peak memory, batch 1024" in str(stored)


def test_step_timing_table():
    t = gan.StepTiming(32, 2.0, 2.5, 4.0)
    assert (t.ratio, t.ratio_two_calls) == (0.8, 0.5)
    lines = str(t).splitlines()
    assert lines[1].split() == ["single", "loss", "2.000", "ms", "16000"]
    assert lines[-1] == "single / pair: 0.80x, single / two calls: 0.50x"
    assert t.as_dict()["ratio_two_calls"] == 0.5


# ----------------------------------------------------------------------------- Try it


def test_try_it_tighter_std_lowers_the_high_quality_share():
    # "Try it" 3: judging the same samples against the classic 0.02 instead of 0.05
    samples = sample_ring(4000, std=gan.RING_STD, seed=1)
    wide = gan.mode_coverage(samples)
    tight = gan.mode_coverage(samples, std=0.02)
    assert wide.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    # within 0.06 of a centre for a 2-D Gaussian of std 0.05: 1 - exp(-0.72)
    assert tight.high_quality == pytest.approx(1 - math.exp(-0.72), abs=0.03)
    assert tight.modes == 8  # every mode still holds > 1% of the samples
    assert np.all(ring_centers(8) == ring_centers(8, gan.RING_RADIUS))


