"""One single-loss GAN step vs one alternating D+G pair: same models, batch and process.

Times the train steps themselves (no ``fit``), ms per step, for the ring models at the
notebook's batch and for a larger, compute-bound configuration, with and without XLA, in
several rounds. Each round rebuilds the models and times the three variants in blocks in ABBA
order (``gan.time_steps``: A B C, C B A, ...); the rounds run the configurations in ABBA order
too, so a change of load hits all of them alike. Every ratio is reported as the median over the
rounds with its min-max spread. Then peak memory is measured in fresh processes.
"pair" runs the D and the G step in one compiled call; "two calls" runs them as two calls (two
data transfers, like a training loop with two ``train_on_batch`` calls). Writes
``gan_benchmark.json`` in your results folder ($LESSONS_RESULTS or ~/lessons-results; load it
with ``gan.load_benchmark("gan_benchmark.json")``); the notebook shows the course's stored run,
``lessons/results/gan_benchmark.json``, which only ``--out`` into it with ``--force`` replaces.

Usage: .venv/bin/python benchmarks/gan.py [--quick | --tiny] [--rounds N] [--out PATH] [--force]
Run it on a quiet machine: the load average is recorded with the results.
"""

import argparse
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from lessons import gan  # noqa: E402
from lessons._core import results  # noqa: E402
from lessons._core.checks import integer  # noqa: E402

CONFIGS = (  # (label, batch, hidden, steps per repeat)
    ("ring MLP 64x64", gan.RING_BATCH, (64, 64), 30),
    ("wide MLP 256x256", 1024, (256, 256), 3),
)
TINY = (("tiny MLP 8", 32, (8,), 2),)  # --tiny: checks the script in seconds (a unit test runs it)
MEMORY = (4096, (256, 256))  # batch, hidden: activations dominate
GOAL = 0.75  # single loss / D+G pair in two calls


def run(configs=CONFIGS, rounds: int = 7, repeats: int = 15, jits=(True, False),
        memory_rounds: int = 5, memory=MEMORY, out=None, echo=print,
        force: bool = False) -> dict:
    """Time every configuration ``rounds`` times and measure memory ``memory_rounds`` times.

    Args:
        configs: (label, batch, hidden, steps per repeat) tuples (default ``CONFIGS``).
        rounds: timing rounds per configuration, >= 1 (default 7); round r uses seed r.
        repeats: interleaved blocks per variant within a round (default 15).
        jits: XLA settings to time (default (True, False)).
        memory_rounds: fresh processes measuring peak memory (default 5; 0 skips memory).
        memory: (batch, hidden) of the memory measurement (default ``MEMORY``).
        out: JSON path (default None: ``gan_benchmark.json`` in the results folder,
            ``lessons._core.results.output_dir()``; False: write nothing).
        echo: called with one line per finished round.
        force: replace an existing file, even the course's stored benchmark (default False).
    """
    rounds = integer("rounds", rounds)
    # refused before hours of timing, not after
    path = None if out is False else results.output_path(out, gan.BENCHMARK_FILE, force=force)
    env = gan.environment()
    timing = [{"config": label, "batch": batch, "hidden": list(hidden), "jit": jit,
               "steps_per_repeat": steps, "repeats": repeats, "rounds": []}
              for label, batch, hidden, steps in configs for jit in jits]
    for r in range(rounds):
        for entry in timing if r % 2 == 0 else timing[::-1]:  # ABBA over configurations
            t = gan.time_steps(entry["batch"], tuple(entry["hidden"]), repeats,
                               entry["steps_per_repeat"], entry["jit"], seed=r)
            entry["rounds"].append({k: round(v, 5) for k, v in t.as_dict().items()})
            echo(f"round {r + 1}/{rounds} {entry['config']:<17} jit={entry['jit']!s:<5} "
                 f"single {t.ms_one_step:7.3f} ms, pair {t.ms_pair:7.3f} ms, two calls "
                 f"{t.ms_pair_two_calls:7.3f} ms: {t.ratio:.2f}x, {t.ratio_two_calls:.2f}x")
    batch, hidden = memory
    mem = [gan.peak_memory(batch, hidden, seed=r) for r in range(memory_rounds)]
    env["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result = {"post": gan.POST, "environment": env, "goal": GOAL,
              "timing": timing, "memory": {"batch": batch, "hidden": list(hidden), "rounds": mem}}
    if path is not None:
        path.write_text(json.dumps(result, indent=1))
        echo(f"stored in {path}; load it with gan.load_benchmark({str(path)!r})")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/gan.py", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="ring config only, 3 rounds")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--memory-rounds", type=int, default=5)
    parser.add_argument("--out", default=None, help="JSON path (default gan_benchmark.json in "
                        "$LESSONS_RESULTS or ~/lessons-results)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing file, even the course's stored benchmark")
    parser.add_argument("--tiny", action="store_true",
                        help="a seconds-long smoke run (tiny MLP, no XLA, one timing round, three "
                        "memory rounds)")
    args = parser.parse_args(argv)
    echo = lambda line: print(line, flush=True)  # noqa: E731
    try:  # an --out that would replace a result is refused before any timing
        results.output_path(args.out, gan.BENCHMARK_FILE, force=args.force)
    except ValueError as error:
        parser.error(str(error))
    if args.tiny:
        result = run(TINY, 1, repeats=2, jits=(False,), memory_rounds=3, memory=(1024, (128, 128)),
                     out=args.out, echo=echo, force=args.force)
        print(gan.format_benchmark(gan.BenchmarkResults(result)))
        return 0
    configs = CONFIGS[:1] if args.quick else CONFIGS
    rounds = min(args.rounds, 3) if args.quick else args.rounds
    result = run(configs, rounds, memory_rounds=args.memory_rounds, out=args.out, echo=echo,
                 force=args.force)
    stored = gan.BenchmarkResults(result)
    print(gan.format_benchmark(stored))
    ring = stored.ratios(configs[0][0], True)
    print(f"goal: single loss <= {GOAL}x the D+G pair in two calls (ring, XLA): median "
          f"{float(np.median(ring)):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
