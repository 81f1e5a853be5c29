"""``python -m lessons.gan seeds ...``: the multi-seed study of lesson 02 (both methods on the
ring for several seeds, stored as JSON in your results folder, ``$LESSONS_RESULTS`` or
~/lessons-results, never over the course's stored study without ``--force``); ``memory``
measures one step's peak memory (run by ``gan.peak_memory`` in a fresh process)."""

from __future__ import annotations

import argparse
import json

from lessons.gan.experiments import RING_STEPS
from lessons.gan.seeds import load_seed_study, run_seeds, seeds_output
from lessons.gan.timing import peak_memory_in_process
from lessons.gan.views import format_seed_study


def main(argv=None) -> int:
    """Parse ``argv`` (default: the command line), run the command it names; return 0."""
    parser = argparse.ArgumentParser(prog="python -m lessons.gan", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("seeds", help="both methods on the ring for several seeds -> JSON")
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(20)),
                   help="ring seeds (default 0..19, the stored study's)")
    p.add_argument("--steps", type=int, default=RING_STEPS)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--lam", type=float, default=1.0)
    p.add_argument("--no-jit", action="store_true", help="run without XLA (not the notebook's)")
    p.add_argument("--out", default=None,
                   help="JSON path (default gan_seeds.json in $LESSONS_RESULTS or "
                   "~/lessons-results); an existing study with the same settings is extended")
    p.add_argument("--force", action="store_true",
                   help="replace an existing file, even the course's stored study")
    m = sub.add_parser("memory", help="peak memory of one step (run by gan.peak_memory)")
    m.add_argument("batch", type=int)
    m.add_argument("hidden", help="hidden widths, e.g. 256,256")
    m.add_argument("seed", type=int, nargs="?", default=0)
    args = parser.parse_args(argv)
    if args.command == "memory":
        widths = tuple(int(h) for h in args.hidden.split(","))
        print(json.dumps(peak_memory_in_process(args.batch, widths, args.seed)))
        return 0
    try:  # a refused --out or a bad setting is reported before any training
        out, _ = seeds_output(args.out, args.force)
        run_seeds(args.seeds, out, args.steps, args.eval_every, args.lam, not args.no_jit,
                  progress=lambda line: print(line, flush=True), force=args.force)
    except ValueError as error:
        parser.error(str(error))
    print(format_seed_study(load_seed_study(out)))
    print(f"stored in {out}; load it with gan.load_seed_study({str(out)!r})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
