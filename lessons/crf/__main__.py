"""``python -m lessons.crf sweep``: train the grid of lesson 03's sweep and store it as JSON.

Body lr x CRF lr multiplier x encoder depth, plus a softmax tagger per body lr and depth; the
file is rewritten after every run, and a re-run resumes (runs already stored are kept).
"""

from __future__ import annotations

import argparse

from lessons.crf.sweep import SWEEP_PATH, run_sweep, sweep_configs
from lessons.crf.tagger import ENCODERS, prepare_data


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
    p.add_argument("--out", default=str(SWEEP_PATH),
                   help="the JSON file to write (default: the stored sweep the notebook reads)")
    args = parser.parse_args(argv)
    configs = sweep_configs(
        args.body_lr, args.lr_multiplier, args.depth, softmax=not args.no_softmax,
        encoder=args.encoder, epochs=args.epochs, train_sentences=args.train_sentences,
        test_sentences=args.test_sentences, max_len=args.max_len, seed=args.seed)
    prepare_data(args.train_sentences, args.test_sentences, args.max_len)
    run_sweep(configs, args.out, log=lambda line: print(line, flush=True),
              jit_compile=not args.no_jit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
