"""The multi-seed study behind Section 6's verdict: both methods on the ring for several seeds
(``python -m lessons.gan seeds``), stored as JSON and read back by the notebook."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lessons._core.checks import integer, number, one_of
from lessons._core.notebook import course_seed
from lessons.gan.experiments import RING_BATCH, RING_STEPS, RingComparison, RingRun, train_ring
from lessons.gan.results import POST, SEEDS_FILE, environment, results_path
from lessons.gan.trainers import METHODS

__all__ = ["SeedStudy", "load_seed_study", "run_seeds"]


def run_seeds(seeds=range(10), out=None, steps: int = RING_STEPS, eval_every: int = 50,
              lam: float = 1.0, jit_compile: bool = True, methods=METHODS,
              progress=print) -> dict:
    """Train both methods on the ring for every seed (the notebook's settings) and store it.

    ``out`` (default ``lessons/results/gan_seeds.json``) is rewritten after every run, so a
    partial study is usable; runs already in ``out`` with the same settings are kept (resume).

    Args:
        seeds: ring seeds (default 0..9), at least one.
        out: JSON path (default the package's ``results/gan_seeds.json``).
        steps: training steps per run, >= 1 (default 2000, as in the notebook).
        eval_every: coverage evaluated every this many steps, >= 1 (default 50; it does not
            change the training, only how finely "first step with 8 modes" is resolved).
        lam: G weight / G:D ratio (default 1.0).
        jit_compile: XLA (default True, as in the notebook).
        methods: default both.
        progress: called with one line per finished run (default print).
    """
    out = Path(out) if out is not None else results_path(SEEDS_FILE)
    # the file's keys stay as stored ("lr" is the learning rate)
    settings = {"steps": integer("steps", steps), "eval_every": integer("eval_every", eval_every),
                "lam": number("lam", lam, low=0.0), "jit_compile": bool(jit_compile), "lr": 1e-3,
                "batch_size": RING_BATCH, "n_eval": 2000, "optimizer": "adam"}
    done = {}
    if out.exists():
        old = json.loads(out.read_text())
        if old.get("settings") == settings:
            done = {(r["method"], r["seed"]): r for r in old["runs"]}
    seeds = [course_seed(int(s)) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    runs, start = [], time.perf_counter()
    for seed in seeds:
        for method in methods:
            record = done.get((one_of("method", method, METHODS), seed))
            if record is None:
                t0 = time.perf_counter()
                run = train_ring(method, steps, lam, seed, eval_every=eval_every, snapshots=(),
                                 jit_compile=jit_compile)
                record = {"method": method, "seed": seed, "steps": run.steps, "modes": run.modes,
                          "high_quality": [round(h, 4) for h in run.high_quality],
                          "seconds": round(time.perf_counter() - t0, 2)}
            runs.append(record)
            progress(f"seed {seed} {method:<11}: {record['modes'][-1]}/8 modes, high-quality "
                     f"{record['high_quality'][-1]:.2f} ({record['seconds']:.1f} s)")
            result = {"post": POST, "settings": settings, "environment": environment(),
                      "runs": runs, "complete": len(runs) == len(seeds) * len(methods),
                      "seconds": round(time.perf_counter() - start, 1)}
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=1))
    return result


@dataclass(frozen=True)
class SeedStudy:
    """The stored multi-seed ring runs (``python -m lessons.gan seeds``)."""

    settings: dict
    environment: dict
    runs: tuple  # RingRun without snapshots

    @property
    def seeds(self) -> list[int]:
        return sorted({r.seed for r in self.runs})

    def run(self, method: str, seed: int) -> RingRun:
        """The run of ``method`` with ``seed`` (ValueError if the study has none)."""
        for r in self.runs:
            if (r.method, r.seed) == (method, seed):
                return r
        raise ValueError(f"no {method} run with seed {seed}; seeds: {self.seeds}")

    def comparison(self, seed: int) -> RingComparison:
        """Both methods of one seed, as ``compare_ring`` would return them (without samples)."""
        return RingComparison({m: self.run(m, seed) for m in METHODS})

    def summary(self, method: str) -> dict:
        """Distribution over seeds: final modes, 8 modes at the end, first step with 8, hq."""
        runs = [self.run(method, s) for s in self.seeds]
        final = [r.modes[-1] for r in runs]
        first = [r.first_step_with(8) for r in runs]
        return {"modes_min": min(final), "modes_median": float(np.median(final)),
                "full_at_end": sum(m == 8 for m in final), "seeds": len(runs),
                "first_8": first, "high_quality": [r.high_quality[-1] for r in runs]}

    def head_to_head(self) -> dict[str, int]:
        """Seeds on which the alternating baseline reached 8 modes first, at the same evaluation,
        later, or where neither did."""
        out = {"alternating first": 0, "same step": 0, "single loss first": 0, "neither": 0}
        for seed in self.seeds:
            a = self.run("alternating", seed).first_step_with(8)
            o = self.run("one_step", seed).first_step_with(8)
            if a is None and o is None:
                out["neither"] += 1
            elif o is None or (a is not None and a < o):
                out["alternating first"] += 1
            elif a is None or o < a:
                out["single loss first"] += 1
            else:
                out["same step"] += 1
        return out


def load_seed_study(path=None) -> SeedStudy:
    """The stored multi-seed study (default ``lessons/results/gan_seeds.json``).

    Args:
        path: a JSON file written by ``python -m lessons.gan seeds`` (default the stored one).
    """
    path = Path(path) if path is not None else results_path(SEEDS_FILE)
    if not path.exists():
        raise ValueError(f"path must name a file written by `python -m lessons.gan seeds`; "
                         f"{path} does not exist")
    data = json.loads(path.read_text())
    runs = tuple(RingRun(r["method"], data["settings"]["lam"], list(r["steps"]), list(r["modes"]),
                         list(r["high_quality"]), seed=r["seed"]) for r in data["runs"])
    return SeedStudy(data["settings"], data["environment"], runs)
