"""The multi-seed study behind Section 6's verdict: both methods on the ring for several seeds
(``python -m lessons.gan seeds``), stored as JSON and read back by the notebook."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lessons._core import results
from lessons._core.checks import integer, number, one_of
from lessons._core.notebook import course_seed
from lessons.gan.experiments import RING_BATCH, RING_STEPS, RingComparison, RingRun, train_ring
from lessons.gan.results import POST, SEEDS_FILE, environment, find_result
from lessons.gan.trainers import METHODS

__all__ = ["SeedStudy", "load_seed_study", "run_seeds", "seeds_output"]


def seeds_output(out=None, force: bool = False) -> tuple[Path, bool]:
    """Where ``run_seeds`` writes, and whether it resumes a study already there.

    Without ``force`` a stored run of the course is never touched and an existing file is only
    extended (same settings: its runs are kept, new seeds are added); with ``force`` the file is
    replaced.

    Args:
        out: JSON path (default None: ``gan_seeds.json`` in the results folder,
            ``lessons._core.results.output_dir()``).
        force: replace an existing file, even one of the course's stored results (default False).

    Raises:
        ValueError: ``out`` lies among the course's stored results and ``force`` is False.
    """
    path = results.output_dir() / SEEDS_FILE if out is None else Path(out).expanduser()
    if force or not path.exists():
        return results.output_path(path, SEEDS_FILE, force=force), False
    if path.resolve().is_relative_to(results.SHIPPED_DIR.resolve()):
        results.output_path(path, SEEDS_FILE)  # raises: names the stored folder and --force
    return path, True


def run_seeds(seeds=range(20), out=None, steps: int = RING_STEPS, eval_every: int = 50,
              lam: float = 1.0, jit_compile: bool = True, methods=METHODS,
              progress=print, force: bool = False) -> dict:
    """Train both methods on the ring for every seed (the notebook's settings) and store it.

    The file is rewritten after every run, so a partial study is usable. An existing file with
    the same settings is extended: its runs are kept and only missing (method, seed) runs are
    trained (resume); one with other settings is refused unless ``force`` (``seeds_output``).

    Args:
        seeds: ring seeds (default 0..19, the stored study's), at least one.
        out: JSON path (default None: ``gan_seeds.json`` in the results folder, never the
            package's stored study).
        steps: training steps per run, >= 1 (default 2000, as in the notebook).
        eval_every: coverage evaluated every this many steps, >= 1 (default 50; it does not
            change the training, only how finely "first step with 8 modes" is resolved).
        lam: G weight / G:D ratio (default 1.0).
        jit_compile: XLA (default True, as in the notebook).
        methods: default both.
        progress: called with one line per finished run (default print).
        force: replace an existing file, even the course's stored study (default False).
    """
    out, resume = seeds_output(out, force)
    # the file's keys stay as stored ("lr" is the learning rate)
    settings = {"steps": integer("steps", steps), "eval_every": integer("eval_every", eval_every),
                "lam": number("lam", lam, low=0.0), "jit_compile": bool(jit_compile), "lr": 1e-3,
                "batch_size": RING_BATCH, "n_eval": 2000, "optimizer": "adam"}
    done = {}
    if resume:
        old = json.loads(out.read_text())
        if old.get("settings") != settings:
            raise ValueError(f"out {out} holds a study with other settings "
                             f"({old.get('settings')}); choose another --out or pass --force")
        done = {(r["method"], r["seed"]): r for r in old["runs"]}
    seeds = [course_seed(int(s)) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    seeds = sorted(set(seeds) | {seed for _, seed in done})  # keep every stored seed
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
    """A multi-seed study: the course's stored one, or one written by ``python -m lessons.gan seeds``.

    Args:
        path: None (default: the stored ``lessons/results/gan_seeds.json``), a JSON path, or a
            file name in the results folder (``lessons._core.results.find``), e.g. "my_seeds.json".
    """
    path = find_result(path, SEEDS_FILE, "python -m lessons.gan seeds")
    data = json.loads(path.read_text())
    runs = tuple(RingRun(r["method"], data["settings"]["lam"], list(r["steps"]), list(r["modes"]),
                         list(r["high_quality"]), seed=r["seed"]) for r in data["runs"])
    return SeedStudy(data["settings"], data["environment"], runs)
