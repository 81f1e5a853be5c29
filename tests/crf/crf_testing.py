"""Shared by lesson 03's tests: float64 brute-force references for the CRF, small batches, the
tiny training config, and fake results (no training) for the sweep and the claims."""

import itertools

import numpy as np

from lessons.crf import CRF, RunConfig, bmes_constraints

TINY = RunConfig(body_lr=1e-3, lr_multiplier=100.0, depth=0, epochs=2, train_sentences=100,
                 test_sentences=20, max_len=16, seed=0)
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]], bool)
ALLOWED = np.asarray(bmes_constraints()["transitions"])
ILLEGAL_BMES = "[se][me]|[bm][sb]|^[me]|[bm]$"  # a regex over tag strings


def random_crf(num_tags=3, lr_multiplier=1.0, seed=0, constraints=None):
    """A CRF whose effective weights are random normals (not the small initial values)."""
    crf = CRF(num_tags, lr_multiplier=lr_multiplier, constraints=constraints)
    crf.build()
    rng = np.random.default_rng(seed)
    for var in crf.weights:
        var.assign(rng.normal(size=var.shape).astype(np.float32) / lr_multiplier)
    return crf


def tiny_batch(scale=1.0, seed=1):
    """Emissions [4, 5, 3] (normal x scale) and tags [4, 5] in 0..2."""
    rng = np.random.default_rng(seed)
    emissions = (scale * rng.normal(size=(4, 5, 3))).astype(np.float32)
    tags = rng.integers(0, 3, size=(4, 5)).astype(np.int32)
    return emissions, tags


def effective_weights(crf):
    """The CRF's transitions, start and end scores in float64."""
    return [np.float64(np.asarray(w)) for w in (
        crf.transitions, crf.start_transitions, crf.end_transitions)]


def path_score(crf, emissions, path):
    """score(path) in float64, written out term by term: start + emissions + transitions + end."""
    trans, start, end = effective_weights(crf)
    s = start[path[0]] + end[path[-1]] + sum(np.float64(emissions[t, y]) for t, y in enumerate(path))
    return s + sum(trans[a, b] for a, b in itertools.pairwise(path))


def brute_force(crf, emissions, length, allowed=None):
    """Every num_tags**length path of one sequence: (log Z, best path, best score) in float64;
    ``allowed`` (a ``bmes_constraints``-like dict) keeps only the paths it allows."""
    e = np.float64(emissions[:length])
    paths = list(itertools.product(range(crf.num_tags), repeat=length))
    if allowed is not None:
        paths = [p for p in paths if allowed["start"][p[0]] and allowed["end"][p[-1]]
                 and all(allowed["transitions"][a][b] for a, b in itertools.pairwise(p))]
    scores = np.array([path_score(crf, e, p) for p in paths])
    top = scores.max()
    return top + np.log(np.exp(scores - top).sum()), paths[int(scores.argmax())], top


def fake_sweep(f1s):
    """A sweep with the post's four cells at depth 0 and given F1 curves."""
    runs = []
    for (head, lr, k), f1 in zip([("crf", 1e-3, 1.0), ("crf", 1e-3, 10.0), ("crf", 1e-2, 1.0),
                                  ("softmax", 1e-3, 1.0)], f1s, strict=True):
        runs.append({"config": {"head": head, "body_lr": lr, "lr_multiplier": k, "depth": 0},
                     "f1": f1, "crf": None if head == "softmax" else
                     {"transitions": np.eye(4).tolist()}})
    return {"runs": runs}


def fake_transitions(spread, rows_ordered):
    """Legal successors at +spread/2, forbidden at -spread/2; the first 4 - rows_ordered rows
    flipped (a forbidden successor on top)."""
    trans = np.where(ALLOWED, spread / 2, -spread / 2)
    for row in range(4 - rows_ordered):
        trans[row] = np.where(ALLOWED[row], -spread / 2, spread / 2)
    return trans.tolist()


def fake_live(x1=(0.65, 0.70), x10=(0.79, 0.82), soft=(0.59, 0.59), spread1=0.6, spread10=2.9,
              rows10=4):
    """A train_now-shaped result with chosen F1s, transition spreads and ordered rows."""
    def run(f1, k, transitions):
        return {"config": {"body_lr": 1e-3, "lr_multiplier": k}, "f1": list(f1),
                "crf": None if transitions is None else {"transitions": transitions}}
    return {"kind": "live", "runs": {"CRF x1": run(x1, 1.0, fake_transitions(spread1, 4)),
                                     "CRF x10": run(x10, 10.0, fake_transitions(spread10, rows10)),
                                     "softmax": run(soft, 1.0, None)}}


def same_training(a: dict, b: dict) -> bool:
    """Two train_run results with the same per-epoch numbers and final CRF weights."""
    return all(a[k] == b[k] for k in ("f1", "loss", "emission_margin", "crf"))
