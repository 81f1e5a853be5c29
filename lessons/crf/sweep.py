"""The stored learning-rate sweep of lesson 03 and the data of its tables.

``python -m lessons.crf sweep`` runs a grid of ``train_run`` (body lr x CRF lr multiplier x
encoder depth, plus softmax baselines) and writes ``crf_sweep.json`` into the results folder
(``lessons._core.results``; the course's own run is stored as ``lessons/results/crf_sweep.json``);
``load_sweep`` reads the stored run or one a command wrote, ``post_table`` and ``multiplier_table`` turn it into the rows the
notebook prints (``lessons.crf.views`` formats and plots them).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np

from lessons._core import results
from lessons._core.checks import number
from lessons.crf.scoring import transition_order
from lessons.crf.tagger import RunConfig, train_run

__all__ = ["POST", "POST_TABLE", "POST_TRANSITIONS", "SWEEP_NAME", "SWEEP_PATH", "TIE", "find_run",
           "grid_values", "load_sweep", "multiplier_effect", "multiplier_table", "post_table",
           "run_sweep", "sweep_configs", "transition_comparison", "verdict"]

POST = "https://kexue.fm/archives/7196"
SWEEP_NAME = "crf_sweep.json"
SWEEP_PATH = results.shipped(SWEEP_NAME)  # the course's stored sweep (read-only)

# The post's table (section 更多的实验分析: only BERT's first layer as encoder): test F1 after
# epoch 1 and best.
POST_TABLE = (
    {"name": "CRF-1", "head": "crf", "body_lr": 1e-3, "crf_lr": 1e-3, "epoch1": 0.914, "best": 0.925},
    {"name": "CRF-2", "head": "crf", "body_lr": 1e-3, "crf_lr": 1e-2, "epoch1": 0.929, "best": 0.930},
    {"name": "CRF-3", "head": "crf", "body_lr": 1e-2, "crf_lr": 1e-2, "epoch1": 0.673, "best": 0.747},
    {"name": "Softmax", "head": "softmax", "body_lr": 1e-3, "crf_lr": None, "epoch1": 0.899,
     "best": 0.907},
)

# The post's two transition matrices [from][to] over (s, b, m, e) (sections 糟糕的转移矩阵 and
# 学习率的不对等): full BERT base fine-tuned at a body lr of order 1e-5 with the CRF at the same
# lr, and at body lr 1e-5 with the CRF at 1e-2 (1000x).
POST_TRANSITIONS = {
    "same_lr": [[-0.0517, -0.459, -0.244, 0.707], [-0.564, -0.142, 0.314, 0.613],
                [0.196, -0.334, -0.794, 0.672], [0.769, 0.841, -0.683, 0.572]],
    "crf_1000x": [[3.17, 2.16, -3.97, -2.04], [-3.89, -0.451, 1.67, 0.874],
                  [-3.9, -4.41, 3.82, 2.45], [1.88, 0.991, -2.48, -0.247]],
}

TIE = 0.005  # F1 differences of at most this are ties (see ``verdict``)


def sweep_configs(body_lrs, multipliers, depths, softmax=True, **common) -> list[RunConfig]:
    """Every grid cell as a ``RunConfig``: CRF runs for body lr x multiplier x depth, then one
    softmax run per body lr x depth if ``softmax`` (default True). ``common`` sets the shared
    fields."""
    configs = [RunConfig(body_lr=lr, lr_multiplier=k, depth=d, **common)
               for d, lr, k in itertools.product(depths, body_lrs, multipliers)]
    if softmax:
        configs += [RunConfig(body_lr=lr, depth=d, head="softmax", **common)
                    for d, lr in itertools.product(depths, body_lrs)]
    return configs


def _config_key(config: RunConfig) -> str:
    """A config as a string, seed resolved, every field present (older JSON lacks new fields)."""
    return json.dumps(dataclasses.asdict(config.resolved()), sort_keys=True)


def run_sweep(configs, out: str | os.PathLike, log=print, jit_compile: bool = True) -> dict:
    """Run ``configs`` in order, rewriting ``out`` after each run (so a partial sweep is usable
    and an interrupted one resumes: runs already in ``out`` with the same config are kept).

    Args:
        configs: ``RunConfig``s; one whose seed is None runs with the course seed.
        out: the JSON file to write.
        log: called with one line per finished run (default ``print``).
        jit_compile: passed to ``train_run`` (default True).
    """
    out = Path(out)
    done = {}
    if out.exists():
        for run in json.loads(out.read_text())["runs"]:
            done[_config_key(RunConfig(**run["config"]))] = run
    runs, start = [], time.perf_counter()
    for i, config in enumerate(configs):
        run = done.get(_config_key(config)) or train_run(config, jit_compile=jit_compile)
        runs.append(run)
        log(f"[{i + 1}/{len(configs)}] {config.head} depth={config.depth} "
            f"body_lr={config.body_lr:g} x{config.lr_multiplier:g}: "
            f"F1 {' '.join(f'{f:.4f}' for f in run['f1'])} ({run['seconds']:.1f} s)")
        result = {"post": POST, "runs": runs, "complete": i + 1 == len(configs),
                  "sweep_seconds": time.perf_counter() - start}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
    return result


def load_sweep(path_or_name: str | os.PathLike | None = None) -> dict:
    """A sweep: the course's stored one (default None), or one ``python -m lessons.crf sweep``
    wrote, named by its path or by its file name in the results folder (``results.find``)."""
    if path_or_name is None:
        return json.loads(SWEEP_PATH.read_text())
    try:
        path = results.find(path_or_name)
    except ValueError as error:
        raise ValueError(f"path must name a sweep written by `python -m lessons.crf sweep`: "
                         f"{error}") from None
    return json.loads(path.read_text())


def grid_values(sweep: dict) -> dict[str, list]:
    """The distinct body lrs, CRF multipliers and depths of a sweep's runs, sorted."""
    runs = sweep["runs"]
    return {
        "body_lr": sorted({r["config"]["body_lr"] for r in runs}),
        "lr_multiplier": sorted({r["config"]["lr_multiplier"] for r in runs
                                 if r["config"]["head"] == "crf"}),
        "depth": sorted({r["config"]["depth"] for r in runs}),
    }


def find_run(sweep: dict, body_lr: float, depth: int, lr_multiplier: float = 1.0,
             head: str = "crf") -> dict:
    """The run of ``sweep`` with these settings (softmax runs ignore ``lr_multiplier``)."""
    for run in sweep["runs"]:
        c = run["config"]
        if (c["head"] == head and c["depth"] == depth and np.isclose(c["body_lr"], body_lr)
                and (head == "softmax" or np.isclose(c["lr_multiplier"], lr_multiplier))):
            return run
    raise ValueError(f"no {head} run with body_lr={body_lr:g}, depth={depth}, "
                     f"lr_multiplier={lr_multiplier:g} in the sweep; grid: {grid_values(sweep)}")


def verdict(gaps, tie: float = TIE) -> str:
    """The verdict on one claim "A beats B" from its F1 gaps (A - B) on two measures.

    A measure counts as a win only if its gap is *larger than* ``tie``; a gap of at most
    ``tie`` (either sign) is a tie. So a claim that leads on both measures but by 0.004 on one
    is "partly", not "yes" (our CRF-2 vs CRF-1 at depth 0: +0.076 after epoch 1, +0.004 best).

    Args:
        gaps: the two gaps (epoch-1 F1, best F1).
        tie: the tie margin, in [0, 1) (default 0.005: our test set has 28,560 words, so the
            binomial standard error of an F1 between 0.58 and 0.93 is 0.0015 to 0.003 and 0.005
            is 1.2 to 2.3 standard errors of the difference of two independent F1s).

    Returns:
        "yes" (a win on both), "partly" (a win on exactly one, whatever the other), "tie"
        (|gap| <= tie on both) or "no" (no win, and a clear loss on at least one).
    """
    number("tie", tie, low=0, high=1, high_open=True)
    wins = [g > tie for g in gaps]
    if all(wins):
        return "yes"
    if any(wins):
        return "partly"
    return "tie" if all(abs(g) <= tie for g in gaps) else "no"


def post_table(sweep: dict, depth: int = 0, tie: float = TIE) -> list[dict]:
    """The post's four rows next to ours at encoder ``depth`` (default 0), each with a verdict.

    The claims checked, on epoch-1 F1 and on best F1:
    CRF-1 beats Softmax; CRF-2 (CRF lr 10x) beats CRF-1; CRF-3 (body lr 1e-2) is below CRF-1;
    Softmax is below both CRF-1 and CRF-2 (the gap is the smaller of the two). ``verdict``
    turns the two gaps into "yes", "partly", "tie" or "no"; a gap must exceed ``tie``
    (default 0.005) to count as a win.
    """
    number("tie", tie, low=0, high=1, high_open=True)
    ours = {}
    for row in POST_TABLE:
        mult = 1.0 if row["crf_lr"] is None else row["crf_lr"] / row["body_lr"]
        run = find_run(sweep, row["body_lr"], depth, mult, row["head"])
        ours[row["name"]] = (run["f1"][0], max(run["f1"]))

    def judge(better, worse):
        gaps = [min(ours[b][i] - ours[w][i] for b in better for w in worse) for i in (0, 1)]
        return verdict(gaps, tie)

    claims = {
        "CRF-1": ("beats Softmax", judge(["CRF-1"], ["Softmax"])),
        "CRF-2": ("10x CRF lr beats CRF-1", judge(["CRF-2"], ["CRF-1"])),
        "CRF-3": ("body lr 1e-2 is worse than CRF-1", judge(["CRF-1"], ["CRF-3"])),
        "Softmax": ("below both CRF-1 and CRF-2", judge(["CRF-1", "CRF-2"], ["Softmax"])),
    }
    return [{**row, "ours_epoch1": ours[row["name"]][0], "ours_best": ours[row["name"]][1],
             "claim": claims[row["name"]][0], "verdict": claims[row["name"]][1]}
            for row in POST_TABLE]


def multiplier_table(sweep: dict, body_lr: float, depth: int) -> list[dict]:
    """For one body lr and depth, each CRF multiplier (then softmax): F1 at epoch 1 and best,
    how many transition rows rank legal successors first, the spread (max - min) of the
    transitions and the final emission margin (top-1 minus top-2 emission per character)."""
    rows = []
    for k in grid_values(sweep)["lr_multiplier"]:
        run = find_run(sweep, body_lr, depth, k)
        trans = np.asarray(run["crf"]["transitions"])
        rows.append({"head": "crf", "lr_multiplier": k, "epoch1": run["f1"][0],
                     "best": max(run["f1"]),
                     "rows_ordered": int((transition_order(trans) > 0).sum()),
                     "spread": float(trans.max() - trans.min()),
                     "emission_margin": run["emission_margin"][-1]})
    run = find_run(sweep, body_lr, depth, head="softmax")
    rows.append({"head": "softmax", "lr_multiplier": None, "epoch1": run["f1"][0],
                 "best": max(run["f1"]), "rows_ordered": None, "spread": None,
                 "emission_margin": run["emission_margin"][-1]})
    return rows


def multiplier_effect(sweep: dict, body_lr: float) -> dict:
    """The data of section 7's figure: per depth, F1 at epoch 1 and best against the CRF
    multiplier, and the softmax tagger's.

    Returns ``{depth: {"multipliers", "epoch1", "best", "softmax_epoch1", "softmax_best"}}``.
    """
    out = {}
    for depth in grid_values(sweep)["depth"]:
        rows = multiplier_table(sweep, body_lr, depth)
        crf_rows, soft = rows[:-1], rows[-1]
        out[depth] = {"multipliers": [r["lr_multiplier"] for r in crf_rows],
                      "epoch1": [r["epoch1"] for r in crf_rows],
                      "best": [r["best"] for r in crf_rows],
                      "softmax_epoch1": soft["epoch1"], "softmax_best": soft["best"]}
    return out


def transition_comparison(sweep: dict, body_lr: float, depth: int,
                          multipliers=(1.0, 1000.0)) -> dict:
    """The post's two transition matrices next to ours at CRF lr = body lr x each multiplier
    (default 1 and 1000).

    Returns ``{label: {"transitions", "order"}}`` (``order``: ``transition_order`` per row).
    """
    panels = {"post: CRF lr = body lr": POST_TRANSITIONS["same_lr"],
              "post: CRF lr = 1000 x body lr": POST_TRANSITIONS["crf_1000x"]}
    for k in multipliers:
        run = find_run(sweep, body_lr, depth, k)
        panels[f"ours: body {body_lr:g}, CRF lr x{k:g}"] = run["crf"]["transitions"]
    return {label: {"transitions": t, "order": transition_order(t).tolist()}
            for label, t in panels.items()}
