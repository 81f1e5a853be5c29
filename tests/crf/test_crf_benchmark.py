"""The Try-it benchmark (benchmarks/crf.py) at a small size."""

import importlib.util
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "crf.py"


def test_benchmark_runs_small_and_jit_eager_numpy_agree(capsys):
    """It first asserts that eager, ``tf.function``, ``jit_compile=True`` and a float64 NumPy
    forward-backward / Viterbi agree (log-likelihood, gradients, paths) on ragged masks, then
    times the variants interleaved and prints each ratio with its spread."""
    spec = importlib.util.spec_from_file_location("crf_bench", BENCHMARK)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rates = bench.main(["--repeats", "2", "--batch", "3", "--length", "5"])
    out = capsys.readouterr().out
    assert "jit and NumPy agree" in out and "batch 3 x length 5" in out
    assert out.count("x [") == 2 * 4  # every ratio (3 variants, jit over eager) has its spread
    assert set(rates) == {"log-likelihood + gradient", "Viterbi decode"}
    assert all(set(rate) == set(bench.VARIANTS) for rate in rates.values())
    assert all(r > 0 for rate in rates.values() for r in rate.values())
    times = bench.abba_times({"a": lambda: None, "b": lambda: None}, rounds=4)
    assert {k: len(v) for k, v in times.items()} == {"a": 4, "b": 4}
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--length", "1"])
    assert exit_.value.code == 2  # argparse's usage error
