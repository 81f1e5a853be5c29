"""Lesson 03, part 2: the learning-rate sweep, the post's table, and the two widgets.

``python -m lessons.crf sweep --help`` runs a grid of ``lessons.crf.train_run`` (body lr x CRF
lr multiplier x encoder depth, plus softmax baselines) and writes JSON under
``lessons/results/``; ``sweep_explorer()`` reads that file instantly, ``TrainPanel`` trains live.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import itertools
import json
import os
import time
from importlib.resources import files
from pathlib import Path

import numpy as np

from lessons._core.data import TAGS
from lessons._core.figures import figure_png
from lessons.crf import (
    RunConfig,
    prepare_data,
    train_run,
    transition_order,
    word_spans,
)

POST = "https://kexue.fm/archives/7196"
SWEEP_FILE = "crf_sweep.json"

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


# ----------------------------------------------------------------------------------------------
# The sweep


def sweep_configs(body_lrs, multipliers, depths, softmax=True, **common) -> list[RunConfig]:
    """Every grid cell as a ``RunConfig``: CRF runs for body lr x multiplier x depth, then one
    softmax run per body lr x depth if ``softmax``. ``common`` sets the shared fields."""
    configs = [RunConfig(body_lr=lr, lr_multiplier=k, depth=d, **common)
               for d, lr, k in itertools.product(depths, body_lrs, multipliers)]
    if softmax:
        configs += [RunConfig(body_lr=lr, depth=d, head="softmax", **common)
                    for d, lr in itertools.product(depths, body_lrs)]
    return configs


def _config_key(config: RunConfig) -> str:
    """A config as a string, seed resolved, every field present (older JSON lacks new fields)."""
    return json.dumps(dataclasses.asdict(config.resolved()), sort_keys=True)


def run_sweep(configs, out: str | os.PathLike, progress=print, jit_compile: bool = True) -> dict:
    """Run ``configs`` in order, rewriting ``out`` after each run (so a partial sweep is usable
    and an interrupted one resumes: runs already in ``out`` with the same config are kept).
    A config whose seed is None runs with the course seed (``lessons.setup``);
    ``jit_compile`` is passed to ``train_run`` (default True)."""
    out = Path(out)
    done = {}
    if out.exists():
        for run in json.loads(out.read_text())["runs"]:
            done[_config_key(RunConfig(**run["config"]))] = run
    runs, start = [], time.perf_counter()
    for i, config in enumerate(configs):
        run = done.get(_config_key(config)) or train_run(config, jit_compile=jit_compile)
        runs.append(run)
        progress(f"[{i + 1}/{len(configs)}] {config.head} depth={config.depth} "
                 f"body_lr={config.body_lr:g} x{config.lr_multiplier:g}: "
                 f"F1 {' '.join(f'{f:.4f}' for f in run['f1'])} ({run['seconds']:.1f} s)")
        result = {"post": POST, "runs": runs, "complete": i + 1 == len(configs),
                  "sweep_seconds": time.perf_counter() - start}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
    return result


def load_sweep(path: str | os.PathLike | None = None) -> dict:
    """The stored sweep (default ``lessons/results/crf_sweep.json`` inside the package)."""
    path = Path(path) if path is not None else Path(str(files("lessons"))) / "results" / SWEEP_FILE
    if not path.exists():
        raise ValueError(f"path must name a sweep written by `python -m lessons.crf sweep`; "
                         f"{path.name} does not exist")
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


TIE = 0.005  # F1 differences of at most this are ties (see ``verdict``)


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
    if not 0 <= tie < 1:
        raise ValueError(f"tie must be in [0, 1), got {tie}")
    wins = [g > tie for g in gaps]
    if all(wins):
        return "yes"
    if any(wins):
        return "partly"
    return "tie" if all(abs(g) <= tie for g in gaps) else "no"


def post_table(sweep: dict, depth: int = 0, tie: float = TIE) -> list[dict]:
    """The post's four rows next to ours at encoder ``depth``, each with a verdict.

    The claims checked, on epoch-1 F1 and on best F1:
    CRF-1 beats Softmax; CRF-2 (CRF lr 10x) beats CRF-1; CRF-3 (body lr 1e-2) is below CRF-1;
    Softmax is below both CRF-1 and CRF-2 (the gap is the smaller of the two). ``verdict``
    turns the two gaps into "yes", "partly", "tie" or "no"; a gap must exceed ``tie``
    (default 0.005) to count as a win.
    """
    if not 0 <= tie < 1:
        raise ValueError(f"tie must be in [0, 1), got {tie}")
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


def format_post_table(rows) -> str:
    """``post_table`` rows as aligned text (F1 to 3 decimals, like the post)."""
    lines = [f"{'':8}{'body lr':>8}{'CRF lr':>8} | {'post ep1':>8}{'best':>6} | "
             f"{'ours ep1':>8}{'best':>6} | claim (verdict)"]
    for r in rows:
        crf_lr = "-" if r["crf_lr"] is None else f"{r['crf_lr']:.0e}"
        lines.append(f"{r['name']:8}{r['body_lr']:>8.0e}{crf_lr:>8} | {r['epoch1']:>8.3f}"
                     f"{r['best']:>6.3f} | {r['ours_epoch1']:>8.3f}{r['ours_best']:>6.3f} | "
                     f"{r['claim']} ({r['verdict']})")
    return "\n".join(lines)



def sweep_summary(sweep: dict) -> str:
    """What the stored sweep ran: grid, shared settings, data size and total training time."""
    grid = grid_values(sweep)
    c = sweep["runs"][0]["config"]
    n_crf = sum(r["config"]["head"] == "crf" for r in sweep["runs"])
    seconds = sum(r["seconds"] for r in sweep["runs"])
    return (f"{len(sweep['runs'])} runs ({n_crf} CRF, {len(sweep['runs']) - n_crf} softmax), "
            f"complete: {sweep['complete']}\n"
            f"body lr {grid['body_lr']}, CRF lr multiplier {grid['lr_multiplier']}, "
            f"{c['encoder']} depth {grid['depth']}\n"
            f"each run: {c['train_sentences']} training lines, {c['test_sentences']} test lines, "
            f"pieces of <= {c['max_len']} characters, {c['epochs']} epochs, batch "
            f"{c['batch_size']}, Adam, seed {c['seed']}\n"
            f"total training time {seconds / 60:.0f} min (shared 2-core CPU)")


def multiplier_table(sweep: dict, body_lr: float, depth: int) -> list[dict]:
    """For one body lr and depth, each CRF multiplier (then softmax): F1 at epoch 1 and best,
    how many transition rows rank legal successors first, the spread (max - min) of the
    transitions and the final emission margin (top-1 minus top-2 emission per character)."""
    rows = []
    for k in grid_values(sweep)["lr_multiplier"]:
        run = find_run(sweep, body_lr, depth, k)
        trans = np.asarray(run["crf"]["transitions"])
        rows.append({"head": "crf", "lr_multiplier": k, "epoch1": run["f1"][0],
                     "best": max(run["f1"]), "rows_ordered": int((transition_order(trans) > 0)
                                                                 .sum()),
                     "spread": float(trans.max() - trans.min()),
                     "emission_margin": run["emission_margin"][-1]})
    run = find_run(sweep, body_lr, depth, head="softmax")
    rows.append({"head": "softmax", "lr_multiplier": None, "epoch1": run["f1"][0],
                 "best": max(run["f1"]), "rows_ordered": None, "spread": None,
                 "emission_margin": run["emission_margin"][-1]})
    return rows


def format_multiplier_tables(sweep: dict, body_lr: float, depths=None) -> str:
    """``multiplier_table`` at ``body_lr`` for each depth (default: every depth of the sweep),
    one titled block each."""
    depths = grid_values(sweep)["depth"] if depths is None else depths
    return "\n".join(f"body lr {body_lr:g}, depth {d}\n"
                     + format_multiplier_table(multiplier_table(sweep, body_lr, d))
                     for d in depths)


def format_multiplier_table(rows) -> str:
    lines = [f"{'head':8}{'CRF lr x':>9}{'F1 ep1':>8}{'best':>7}{'rows ok':>9}{'spread':>8}"
             f"{'emission margin':>17}"]
    for r in rows:
        k = "-" if r["lr_multiplier"] is None else f"{r['lr_multiplier']:g}"
        ok = "-" if r["rows_ordered"] is None else f"{r['rows_ordered']}/4"
        spread = "-" if r["spread"] is None else f"{r['spread']:.2f}"
        lines.append(f"{r['head']:8}{k:>9}{r['epoch1']:>8.3f}{r['best']:>7.3f}{ok:>9}"
                     f"{spread:>8}{r['emission_margin']:>17.2f}")
    return "\n".join(lines)


def transition_comparison(sweep: dict, body_lr: float, depth: int, multipliers=(1.0, 1000.0),
                          show: bool = True) -> dict:
    """The post's two transition matrices next to ours at CRF lr = body lr x each multiplier.

    Returns ``{label: {"transitions", "order"}}``; draws a 2 x 2 grid of heatmaps if ``show``.
    """
    panels = {"post: CRF lr = body lr": POST_TRANSITIONS["same_lr"],
              "post: CRF lr = 1000 x body lr": POST_TRANSITIONS["crf_1000x"]}
    for k in multipliers:
        run = find_run(sweep, body_lr, depth, k)
        panels[f"ours: body {body_lr:g}, CRF lr x{k:g}"] = run["crf"]["transitions"]
    out = {label: {"transitions": t, "order": transition_order(t).tolist()}
           for label, t in panels.items()}
    if show:
        import matplotlib.pyplot as plt

        cols = 2
        rows = (len(panels) + 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(7.5, 3.4 * rows))
        vmax = max(float(np.abs(t).max()) for t in panels.values())  # one shared colour scale
        for ax, (label, t) in zip(axes.ravel(), panels.items(), strict=False):
            plot_transitions(ax, t, label, vmax=vmax)
        fig.tight_layout()
        plt.show()
    return out


def plot_multiplier_effect(sweep: dict, body_lr: float) -> dict:
    """F1 at epoch 1 and best against the CRF multiplier, one line per depth, softmax dashed.

    Returns ``{depth: {"multipliers", "epoch1", "best", "softmax_epoch1", "softmax_best"}}``.
    """
    import matplotlib.pyplot as plt

    grid = grid_values(sweep)
    out = {}
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4), sharey=True)
    for depth in grid["depth"]:
        rows = multiplier_table(sweep, body_lr, depth)
        crf_rows, soft = rows[:-1], rows[-1]
        out[depth] = {"multipliers": [r["lr_multiplier"] for r in crf_rows],
                      "epoch1": [r["epoch1"] for r in crf_rows],
                      "best": [r["best"] for r in crf_rows],
                      "softmax_epoch1": soft["epoch1"], "softmax_best": soft["best"]}
        for ax, key in zip(axes, ("epoch1", "best"), strict=True):
            line, = ax.plot(out[depth]["multipliers"], out[depth][key], "o-",
                            label=f"CRF, depth {depth}")
            ax.axhline(out[depth][f"softmax_{key}"], ls="--", color=line.get_color(), lw=1)
    for ax, title in zip(axes, ("F1 after epoch 1", "best F1"), strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("CRF lr multiplier")
        ax.set_title(f"{title} (body lr {body_lr:g}; dashed: softmax)", fontsize=10)
    axes[0].set_ylabel("test word F1")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    plt.show()
    return out

# ----------------------------------------------------------------------------------------------
# Figures and text shared by the notebook and the widgets


def plot_transitions(ax, transitions, title: str = "", vmax: float | None = None):
    """A [from][to] transition heatmap with the values written in; bold red = forbidden in b/m/e/s.

    The colour scale is [-vmax, vmax] (default: the largest absolute value in ``transitions``).
    """
    from lessons.crf import bmes_constraints

    trans = np.asarray(transitions)
    lim = max(1e-6, float(np.abs(trans).max()) if vmax is None else float(vmax))
    ax.imshow(trans, cmap="coolwarm", vmin=-lim, vmax=lim)
    allowed = np.asarray(bmes_constraints()["transitions"])
    for i, j in itertools.product(range(len(TAGS)), repeat=2):
        ax.text(j, i, f"{trans[i, j]:.2f}", ha="center", va="center", fontsize=9,
                color="black" if allowed[i, j] else "darkred",
                fontweight="normal" if allowed[i, j] else "bold")
    ax.set_xticks(range(len(TAGS)), TAGS)
    ax.set_yticks(range(len(TAGS)), TAGS)
    ax.set_xlabel("to")
    ax.set_ylabel("from")
    ax.grid(False)
    ax.set_title(title, fontsize=10)


def segment_text(chars: str, tags) -> str:
    """The characters cut into words as ``tags`` say, joined by " / "."""
    return " / ".join(chars[a:b] for a, b in word_spans(tags))


_TAG_COLOURS = {"s": "#cfe8ff", "b": "#d7f5d0", "m": "#fff2c2", "e": "#ffd6d6"}


def segment_html(chars: str, tags) -> str:
    """HTML of the segmented text, each character coloured by its tag (s b m e)."""
    names = tags if isinstance(tags, str) else "".join(TAGS[int(t)] for t in tags)
    words = []
    for a, b in word_spans(names):
        words.append("".join(
            f'<span style="background:{_TAG_COLOURS[names[i]]};padding:1px" '
            f'title="{names[i]}">{html.escape(chars[i])}</span>' for i in range(a, b)))
    legend = " ".join(f'<span style="background:{c};padding:1px 4px">{t}</span>'
                      for t, c in _TAG_COLOURS.items())
    return f'<div style="font-size:16px">{" | ".join(words)}</div><div>{legend}</div>'


# ----------------------------------------------------------------------------------------------
# Widgets


def _selection(options, value, description, fmt="{:g}"):
    import ipywidgets as widgets

    return widgets.SelectionSlider(
        options=[(fmt.format(v), v) for v in options], value=value, description=description,
        style={"description_width": "initial"}, continuous_update=False)


def sweep_explorer(sweep: dict | None = None):
    """An instant explorer over the stored sweep: body lr, CRF multiplier and depth sliders ->
    F1 per epoch (CRF and the softmax baseline) and the final transition heatmap.

    Returns the ``ipywidgets.interactive``; its ``.result`` is a dict with ``f1``,
    ``softmax_f1``, ``transitions`` and ``order`` (``transition_order`` per row) of the shown run,
    and its last child is an ``Image`` with the figure (an Image, not the interactive's Output:
    nbclient 0.11 fails on output captured by an Output widget when widget state is not stored).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    sweep = sweep if sweep is not None else load_sweep()
    grid = grid_values(sweep)
    image = widgets.Image(format="png", layout=widgets.Layout(width="648px"))

    def show(body_lr, lr_multiplier, depth):
        run = find_run(sweep, body_lr, depth, lr_multiplier)
        try:
            soft = find_run(sweep, body_lr, depth, head="softmax")["f1"]
        except ValueError:
            soft = None
        trans = run["crf"]["transitions"]
        fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.4))
        epochs = np.arange(1, len(run["f1"]) + 1)
        left.plot(epochs, run["f1"], "o-", label=f"CRF, CRF lr {body_lr * lr_multiplier:g}")
        if soft is not None:
            left.plot(epochs, soft, "s--", color="gray", label="softmax")
        left.set_xlabel("epoch")
        left.set_ylabel("test word F1")
        left.legend()
        left.set_title(f"depth {depth}, body lr {body_lr:g}", fontsize=10)
        plot_transitions(right, trans, "final transitions (bold red: forbidden)")
        fig.tight_layout()
        image.value = figure_png(fig)
        return {"f1": run["f1"], "softmax_f1": soft, "transitions": trans,
                "order": transition_order(trans).tolist()}

    explorer = widgets.interactive(
        show,
        body_lr=_selection(grid["body_lr"], grid["body_lr"][len(grid["body_lr"]) // 2],
                           "body lr"),
        lr_multiplier=_selection(grid["lr_multiplier"], grid["lr_multiplier"][0],
                                 "CRF lr multiplier"),
        depth=_selection(grid["depth"], grid["depth"][0], "encoder depth", "{}"),
    )
    explorer.children = (*explorer.children, image)
    return explorer


def sample_sentence(max_len: int = 32, min_len: int = 20):
    """A fixed test-split sentence piece (the first with >= ``min_len`` characters)."""
    from lessons._core.data import chunk_sentence, load_peoples_daily, split_corpus

    if not 2 <= min_len <= max_len:
        raise ValueError(f"min_len must be in [2, max_len={max_len}], got {min_len}")
    _, test = split_corpus(load_peoples_daily(), test_fraction=0.1, seed=0)
    for sentence in test:
        for piece in chunk_sentence(sentence, max_len):
            if len(piece.chars) >= min_len:
                return piece
    raise ValueError(f"no test sentence piece has >= {min_len} characters")


class TrainPanel:
    """A "train now" panel: the sweep's sliders, a Train button, a progress bar, live test F1,
    the transition heatmap after every epoch and a sample sentence segmented by the model.

    Args:
        epochs: epochs per run (default 3).
        train_sentences, test_sentences, max_len: data size (defaults 1500, 200, 32: a few
            seconds per epoch on a laptop CPU).
        jit_compile: passed to ``train_run`` (default True).

    The seed is the course seed (``lessons.setup``). ``panel.widget`` is the ipywidgets box to
    display; ``panel.train()`` is the button's callback and returns (and stores in
    ``panel.result``) a dict with ``config`` (seed resolved), ``f1``, ``transitions`` (after
    every epoch), ``sample`` (the segmented sample sentence), ``sample_tags`` and ``run`` (what
    ``train_run`` returned).
    """

    BODY_LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    MULTIPLIERS = (1, 10, 100, 1000)

    def __init__(self, epochs=3, train_sentences=1500, test_sentences=200, max_len=32,
                 jit_compile=True):
        import ipywidgets as widgets

        self.jit_compile = jit_compile
        self.base = RunConfig(epochs=epochs, train_sentences=train_sentences,
                              test_sentences=test_sentences, max_len=max_len)
        self.body_lr = _selection(self.BODY_LRS, 1e-3, "body lr")
        self.lr_multiplier = _selection(self.MULTIPLIERS, 1, "CRF lr multiplier")
        self.depth = _selection((0, 1, 2), 0, "encoder depth", "{}")
        self.head = widgets.ToggleButtons(options=["crf", "softmax"], value="crf")
        self.button = widgets.Button(description="Train", button_style="primary")
        self.bar = widgets.IntProgress(min=0, max=1, value=0, description="batches")
        self.status = widgets.HTML("Press Train.")
        self.plot = widgets.Image(format="png", layout=widgets.Layout(width="648px"))
        self.sample = widgets.HTML()
        self.button.on_click(lambda _: self.train())
        self.widget = widgets.VBox([
            widgets.HBox([self.body_lr, self.lr_multiplier]),
            widgets.HBox([self.depth, self.head, self.button]),
            self.bar, self.status, self.plot, self.sample])
        self.result = None

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def config(self) -> RunConfig:
        """The run the sliders describe."""
        return dataclasses.replace(self.base, body_lr=self.body_lr.value,
                                   lr_multiplier=float(self.lr_multiplier.value),
                                   depth=self.depth.value, head=self.head.value)

    def train(self) -> dict:
        import matplotlib.pyplot as plt

        from lessons.crf import crf_weights

        config = self.config().resolved()
        piece = sample_sentence(config.max_len, min(20, config.max_len))
        data = prepare_data(config.train_sentences, config.test_sentences, config.max_len)
        ids = np.array([data["vocab"].encode(piece.chars)], np.int32)
        f1s, transitions, tags = [], [], None
        self.button.disabled = True
        self.status.value = "compiling and training..."

        def on_batch(done, total):
            if done == 1 or done % 10 == 0 or done == total:
                self.bar.max, self.bar.value = total, done

        def on_epoch(epoch, record, model):
            nonlocal tags
            f1s.append(record["f1"])
            weights = crf_weights(model)
            tags = "".join(TAGS[t] for t in np.asarray(
                model.predict_tags(ids, np.ones_like(ids, bool)))[0])
            self.status.value = (f"epoch {epoch + 1}/{config.epochs}: test word F1 "
                                 + ", ".join(f"{f:.4f}" for f in f1s))
            self.sample.value = (f"<b>model:</b> {segment_html(piece.chars, tags)}"
                                 f"<b>gold:</b> {segment_html(piece.chars, piece.tags)}")
            if weights is not None:
                transitions.append(weights["transitions"])
            fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.2))
            left.plot(np.arange(1, len(f1s) + 1), f1s, "o-")
            left.set_xlabel("epoch")
            left.set_ylabel("test word F1")
            if weights is not None:
                plot_transitions(right, weights["transitions"], f"after epoch {epoch + 1}")
            else:
                right.set_axis_off()
                right.set_title("softmax: no transitions", fontsize=10)
            fig.tight_layout()
            self.plot.value = figure_png(fig)

        try:
            run = train_run(config, on_epoch=on_epoch, data=data, on_batch=on_batch,
                            jit_compile=self.jit_compile)
        finally:
            self.button.disabled = False
        self.result = {"config": dataclasses.asdict(config), "f1": f1s,
                       "transitions": transitions, "sample": segment_text(piece.chars, tags),
                       "sample_tags": tags, "run": run}
        return self.result


def train_panel(**kwargs):
    """Build a ``TrainPanel`` (kwargs as its constructor) and return it; display ``.widget``."""
    return TrainPanel(**kwargs)


# ----------------------------------------------------------------------------------------------
# CLI


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lessons.crf", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sweep", help="body lr x CRF lr multiplier x depth grid -> JSON")
    p.add_argument("--body-lr", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2])
    p.add_argument("--lr-multiplier", type=float, nargs="+", default=[1, 10, 100, 1000])
    p.add_argument("--depth", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--no-softmax", action="store_true", help="skip the softmax baselines")
    p.add_argument("--encoder", default="conv", choices=["conv", "bilstm"])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--train-sentences", type=int, default=8000)
    p.add_argument("--test-sentences", type=int, default=500)
    p.add_argument("--max-len", type=int, default=32)
    p.add_argument("--seed", type=int, default=None,
                   help="initialisation and shuffling seed (default: the course seed, 0)")
    p.add_argument("--no-jit", action="store_true",
                   help="train without XLA (no compilation: faster for tiny runs)")
    p.add_argument("--out", default=str(Path(str(files("lessons"))) / "results" / SWEEP_FILE))
    args = parser.parse_args(argv)
    configs = sweep_configs(
        args.body_lr, args.lr_multiplier, args.depth, softmax=not args.no_softmax,
        encoder=args.encoder, epochs=args.epochs, train_sentences=args.train_sentences,
        test_sentences=args.test_sentences, max_len=args.max_len, seed=args.seed)
    prepare_data(args.train_sentences, args.test_sentences, args.max_len)
    run_sweep(configs, args.out, progress=lambda line: print(line, flush=True),
              jit_compile=not args.no_jit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
