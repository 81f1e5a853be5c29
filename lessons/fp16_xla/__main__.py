"""``python -m lessons.fp16_xla benchmark [--size tiny] [--configs main|all|a,b] [--save]``:
lesson 05's benchmark from the command line (``--help`` lists the rest).

``--save`` writes the result into ``--out`` (default ``lessons._core.results.output_dir()``:
``$LESSONS_RESULTS`` or ``~/lessons-results``); it never replaces a file, nor writes into the
course's stored results, without ``--force``."""

from __future__ import annotations

import argparse
from pathlib import Path

from lessons._core.results import SHIPPED_DIR, output_dir
from lessons.fp16_xla.bench.configs import CONFIGS, MAIN_CONFIGS, SIZES
from lessons.fp16_xla.bench.parent import run_benchmark
from lessons.fp16_xla.bench.schema import save_result
from lessons.fp16_xla.tables import format_table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lessons.fp16_xla",
                                     description="Lesson 05's mixed precision / XLA benchmark.")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser(
        "benchmark", help="time training steps, one subprocess per config, interleaved ABAB")
    bench.add_argument("--size", choices=list(SIZES), default="tiny")
    bench.add_argument("--configs", default="all",
                       help=f"'main' (the four), 'all', or names from {','.join(CONFIGS)}")
    bench.add_argument("--steps", type=int, default=10, help="timed steps per repeat")
    bench.add_argument("--repeats", type=int, default=5,
                       help="rounds, each timing every configuration once (default 5)")
    bench.add_argument("--warmup", type=int, default=2)
    bench.add_argument("--verbatim-flags", action="store_true",
                       help="run the post's TF_XLA_FLAGS as is (on a CPU they then do nothing)")
    bench.add_argument("--share-process", action="store_true",
                       help="one subprocess for configurations with the same environment")
    bench.add_argument("--seed", type=int, default=None, help="initialisation seed (default 0)")
    bench.add_argument("--save", action="store_true",
                       help=f"write the result as JSON into --out (default {output_dir()})")
    bench.add_argument("--out", default=None,
                       help="directory for --save (default $LESSONS_RESULTS or ~/lessons-results)")
    bench.add_argument("--force", action="store_true",
                       help="let --save replace an existing file or write into lessons/results")
    return parser


def main(argv=None) -> int:
    """Parse ``argv`` (default: the command line), run the benchmark it names; return 0."""
    args = _parser().parse_args(argv)
    if args.force and not args.save:
        raise SystemExit("--force only applies with --save")
    if args.save and not args.force and args.out is not None and \
            Path(args.out).resolve().is_relative_to(SHIPPED_DIR.resolve()):
        raise SystemExit(f"--out must not be the course's stored results ({SHIPPED_DIR}) "
                         "without --force")  # refused before a run of minutes, not after
    names = {"main": list(MAIN_CONFIGS), "all": list(CONFIGS)}.get(
        args.configs, [c.strip() for c in args.configs.split(",") if c.strip()])
    result = run_benchmark(names, size=args.size, steps=args.steps, repeats=args.repeats,
                           warmup=args.warmup, cpu_global_jit=not args.verbatim_flags,
                           share_process=args.share_process, seed=args.seed)
    print(format_table(result))
    print(f"load average before/after: {result['load_average']['before']} / "
          f"{result['load_average']['after']}")
    if args.save:
        try:
            print(f"saved {save_result(result, args.out, force=args.force)}")
        except ValueError as refused:  # the table above is still on screen
            raise SystemExit(f"not saved: {refused}") from None
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
