"""``python -m lessons.crf sweep``: train the grid of lesson 03's sweep and store it as JSON.

Body lr x CRF lr multiplier x encoder depth, plus a softmax tagger per body lr and depth. The
file goes to ``--out``, by default ``crf_sweep.json`` in the results folder
(``$LESSONS_RESULTS``, else ``~/lessons-results``), never into the installed package; an
existing file is kept unless ``--resume`` (continue it: runs already stored are not retrained)
or ``--force`` (start it again). The file is rewritten after every run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lessons._core import results
from lessons.crf.sweep import SWEEP_NAME, run_sweep, sweep_configs
from lessons.crf.tagger import ENCODERS, prepare_data


def _output(parser, out, resume: bool, force: bool) -> Path:
    """The file to write: an existing one only with ``resume`` (outside the stored results) or
    ``force``; a usage error (exit 2) otherwise."""
    wanted = results.output_dir() / SWEEP_NAME if out is None else Path(out).expanduser()
    stored = results.shipped(SWEEP_NAME).parent.resolve()
    if resume and not force and wanted.exists() and not wanted.resolve().is_relative_to(stored):
        return wanted
    try:
        return results.output_path(out, SWEEP_NAME, force=force)
    except ValueError as error:
        parser.error(f"{error} (or --resume to continue it)" if wanted.exists() else str(error))


def main(argv=None) -> int:
    """Parse ``argv`` (default: the command line), run the sweep it names; return 0."""
    parser = argparse.ArgumentParser(prog="python -m lessons.crf", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sweep", help="body lr x CRF lr multiplier x depth grid -> JSON")
    p.add_argument("--body-lr", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2])
    p.add_argument("--lr-multiplier", type=float, nargs="+", default=[1, 10, 100, 1000])
    p.add_argument("--depth", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--no-softmax", action="store_true", help="skip the softmax baselines")
    p.add_argument("--encoder", default="conv", choices=ENCODERS)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--train-sentences", type=int, default=8000)
    p.add_argument("--test-sentences", type=int, default=500)
    p.add_argument("--max-len", type=int, default=32)
    p.add_argument("--seed", type=int, default=None,
                   help="initialisation and shuffling seed (default: the course seed, 0)")
    p.add_argument("--no-jit", action="store_true",
                   help="train without XLA (no compilation: faster for tiny runs)")
    p.add_argument("--out", default=None,
                   help=f"the JSON file to write (default: {SWEEP_NAME} in the results folder, "
                        "$LESSONS_RESULTS or ~/lessons-results)")
    p.add_argument("--resume", action="store_true",
                   help="continue an existing --out file: its runs are kept, the rest trained")
    p.add_argument("--force", action="store_true",
                   help="replace an existing file, even the course's stored sweep")
    args = parser.parse_args(argv)
    out = _output(p, args.out, args.resume, args.force)
    if args.force and out.exists() and not args.resume:
        out.unlink()  # start again: run_sweep would otherwise keep the runs stored in it
    configs = sweep_configs(
        args.body_lr, args.lr_multiplier, args.depth, softmax=not args.no_softmax,
        encoder=args.encoder, epochs=args.epochs, train_sentences=args.train_sentences,
        test_sentences=args.test_sentences, max_len=args.max_len, seed=args.seed)
    print(f"writing {out}", flush=True)
    prepare_data(args.train_sentences, args.test_sentences, args.max_len)
    run_sweep(configs, out, log=lambda line: print(line, flush=True),
              jit_compile=not args.no_jit)
    print(f"done: crf.load_sweep({str(out)!r})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
