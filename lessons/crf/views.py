"""What lesson 03's notebook shows: text tables, figures, the sweep explorer and the train panel.

Every ``format_*`` returns text, every ``plot_*`` a matplotlib Figure (detached from pyplot, so
a cell that returns it shows it once); the widgets draw through ``lessons._core.figures``.
"""

from __future__ import annotations

import dataclasses
import html
import itertools

import numpy as np

from lessons._core.data import TAGS
from lessons._core.figures import figure_explorer, figure_png, image_widget, new_figure
from lessons._core.tables import Column, format_table
from lessons.crf.experiments import live_summary
from lessons.crf.layer import bmes_constraints
from lessons.crf.scoring import transition_order, word_spans
from lessons.crf.sweep import (
    find_run,
    grid_values,
    load_sweep,
    multiplier_effect,
    multiplier_table,
    post_table,
)
from lessons.crf.tagger import RunConfig, crf_weights, prepare_data, sample_sentence, train_run

__all__ = ["TrainPanel", "format_data_summary", "format_live", "format_multiplier_steps",
           "format_multiplier_table", "format_multiplier_tables", "format_path_probabilities",
           "format_post_table", "format_post_tables", "format_sweep_summary", "format_tagged",
           "format_transition_order", "plot_multiplier_effect", "plot_transition_comparison",
           "segment_html", "segment_text", "sweep_explorer", "train_panel"]

# ---------------------------------------------------------------------------------- text


def format_path_probabilities(result: dict) -> str:
    """``path_probabilities``'s sum of p and its most likely and Viterbi paths."""
    return (f"sum of p over {result['n_paths']} paths: {result['sum_p']:.6f}\n"
            f"most likely path: {result['most_likely']}  Viterbi: {result['viterbi']}")


def format_multiplier_steps(steps: dict) -> str:
    """One line per k: the Adam ratio and ratio / k, the SGD ratio and ratio / k**2."""
    return "\n".join(
        f"k = {k:>4g}: Adam step ratio {a:8.4g} = {a / k:.3f} k;"
        f"  SGD step ratio {g:8.4g} = {g / k**2:.3f} k^2"
        for k, a, g in zip(steps["multipliers"], steps["adam"], steps["sgd"], strict=True))


def format_tagged(piece) -> str:
    """A tagged sentence (``lessons._core.data.Sentence``): its characters, tags and words."""
    return f"{piece.chars}\n{piece.tags}\n{segment_text(piece.chars, piece.tags)}"


def format_data_summary(data) -> str:
    """Vocabulary size and piece counts of ``prepare_data``'s result."""
    return (f"vocabulary {len(data['vocab'])} characters; pieces: train {len(data['train'][0])}, "
            f"test {len(data['test'][0])}")


def format_sweep_summary(sweep: dict) -> str:
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


_POST_COLUMNS = (Column("row", "claim"), Column("body_lr", "body lr", ".0e"),
                 Column("crf_lr", "CRF lr", ".0e"), Column("epoch1", "post ep1", ".3f"),
                 Column("best", "post best", ".3f"), Column("ours_epoch1", "ours ep1", ".3f"),
                 Column("ours_best", "ours best", ".3f"), Column("verdict", "verdict"))


def format_post_table(rows) -> str:
    """``post_table`` rows as text: each row's claim, the post's F1 and ours, the verdict."""
    return format_table([{**r, "row": f"{r['name']}: {r['claim']}"} for r in rows],
                        _POST_COLUMNS)


def format_post_tables(sweep: dict, depths) -> str:
    """``format_post_table`` of ``post_table(sweep, depth)`` for each depth, titled."""
    return "\n".join(f"depth {d}\n" + format_post_table(post_table(sweep, d)) for d in depths)


def _rows_ok(row) -> dict:
    ordered = row["rows_ordered"]
    return {**row, "rows_ok": None if ordered is None else f"{ordered}/4"}


_MULTIPLIER_COLUMNS = (Column("head", "head"), Column("lr_multiplier", "CRF lr x", "g"),
                       Column("epoch1", "F1 ep1", ".3f"), Column("best", "best", ".3f"),
                       Column("rows_ok", "rows ok"), Column("spread", "spread", ".2f"),
                       Column("emission_margin", "emission margin", ".2f"))


def format_multiplier_table(rows) -> str:
    """``multiplier_table`` rows as text (F1 to 3 decimals)."""
    return format_table(map(_rows_ok, rows), _MULTIPLIER_COLUMNS)


def format_multiplier_tables(sweep: dict, body_lr: float, depths=None) -> str:
    """``multiplier_table`` at ``body_lr`` for each depth (default: every depth of the sweep),
    one titled block each."""
    depths = grid_values(sweep)["depth"] if depths is None else depths
    return "\n".join(f"body lr {body_lr:g}, depth {d}\n"
                     + format_multiplier_table(multiplier_table(sweep, body_lr, d))
                     for d in depths)


_LIVE_COLUMNS = (Column("label", "run"), Column("crf_lr", "CRF lr", ".0e"),
                 Column("epoch1", "F1 ep1", ".3f"), Column("best", "best", ".3f"),
                 Column("spread", "spread", ".2f"), Column("rows_ok", "rows ok"))


def format_live(live: dict) -> str:
    """``live_summary`` of a ``train_now`` result as text (F1 to 3 decimals)."""
    return format_table(map(_rows_ok, live_summary(live)), _LIVE_COLUMNS)


def format_transition_order(comparison: dict) -> str:
    """``transition_comparison``'s ``order`` per row (s b m e) for each matrix."""
    return "\n".join(f"{label:32} order per row (s b m e): "
                     + " ".join(f"{v:6.2f}" for v in item["order"])
                     for label, item in comparison.items())


def segment_text(chars: str, tags) -> str:
    """The characters cut into words as ``tags`` say, joined by " / "."""
    return " / ".join(chars[a:b] for a, b in word_spans(tags))


_TAG_COLOURS = {"s": "#cfe8ff", "b": "#d7f5d0", "m": "#fff2c2", "e": "#ffd6d6"}


def segment_html(chars: str, tags) -> str:
    """HTML of the segmented text, each character coloured by its tag (s b m e)."""
    names = tags if isinstance(tags, str) else "".join(TAGS[int(t)] for t in tags)
    words = ["".join(f'<span style="background:{_TAG_COLOURS[names[i]]};padding:1px" '
                     f'title="{names[i]}">{html.escape(chars[i])}</span>' for i in range(a, b))
             for a, b in word_spans(names)]
    legend = " ".join(f'<span style="background:{c};padding:1px 4px">{t}</span>'
                      for t, c in _TAG_COLOURS.items())
    return f'<div style="font-size:16px">{" | ".join(words)}</div><div>{legend}</div>'


# ---------------------------------------------------------------------------------- figures


def _draw_transitions(ax, transitions, title: str = "", vmax: float | None = None):
    """A [from][to] transition heatmap with the values written in; bold red = forbidden in b/m/e/s.
    The colour scale is [-vmax, vmax] (default: the largest absolute value in ``transitions``)."""
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
    ax.set(xlabel="to", ylabel="from")
    ax.grid(False)
    ax.set_title(title, fontsize=10)


def plot_transition_comparison(comparison: dict):
    """``transition_comparison``'s matrices as heatmaps, two per row, on one colour scale."""
    rows = (len(comparison) + 1) // 2
    fig, axes = new_figure(rows, 2, figsize=(7.5, 3.4 * rows), squeeze=False)
    vmax = max(float(np.abs(item["transitions"]).max()) for item in comparison.values())
    for ax, (label, item) in zip(axes.ravel(), comparison.items(), strict=False):
        _draw_transitions(ax, item["transitions"], label, vmax=vmax)
    fig.tight_layout()
    return fig


def plot_multiplier_effect(sweep: dict, body_lr: float):
    """F1 at epoch 1 and best against the CRF multiplier, one line per depth, softmax dashed
    (the data: ``multiplier_effect``)."""
    fig, axes = new_figure(1, 2, figsize=(9.0, 3.4), sharey=True)
    for depth, curves in multiplier_effect(sweep, body_lr).items():
        for ax, key in zip(axes, ("epoch1", "best"), strict=True):
            line, = ax.plot(curves["multipliers"], curves[key], "o-", label=f"CRF, depth {depth}")
            ax.axhline(curves[f"softmax_{key}"], ls="--", color=line.get_color(), lw=1)
    for ax, title in zip(axes, ("F1 after epoch 1", "best F1"), strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("CRF lr multiplier")
        ax.set_title(f"{title} (body lr {body_lr:g}; dashed: softmax)", fontsize=10)
    axes[0].set_ylabel("test word F1")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def _draw_run(f1, transitions, title: str, softmax_f1=None, label: str | None = None):
    """F1 per epoch (softmax dashed if given) beside the transition heatmap (None: softmax)."""
    fig, (left, right) = new_figure(1, 2, figsize=(9.0, 3.4))
    epochs = np.arange(1, len(f1) + 1)
    left.plot(epochs, f1, "o-", label=label)
    if softmax_f1 is not None:
        left.plot(epochs, softmax_f1, "s--", color="gray", label="softmax")
    left.set(xlabel="epoch", ylabel="test word F1")
    left.set_title(title, fontsize=10)
    if label is not None:
        left.legend()
    if transitions is None:
        right.set_axis_off()
        right.set_title("softmax: no transitions", fontsize=10)
    else:
        _draw_transitions(right, transitions, "transitions (bold red: forbidden)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------- widgets


def _selection(options, value, description, fmt="{:g}"):
    import ipywidgets as widgets

    return widgets.SelectionSlider(
        options=[(fmt.format(v), v) for v in options], value=value, description=description,
        style={"description_width": "initial"}, continuous_update=False)


def sweep_explorer(sweep: dict | None = None):
    """An instant explorer over the stored sweep: body lr, CRF multiplier and depth sliders ->
    F1 per epoch (CRF and the softmax baseline) and the final transition heatmap.

    Args:
        sweep: a sweep (default: ``load_sweep()``, the stored one).

    Returns the ``ipywidgets.interactive`` of ``lessons._core.figures.figure_explorer``: its
    ``.result`` holds ``f1``, ``softmax_f1``, ``transitions`` and ``order``
    (``transition_order`` per row) of the shown run; its last child is the figure's Image.
    """
    sweep = sweep if sweep is not None else load_sweep()
    grid = grid_values(sweep)

    def draw(body_lr, lr_multiplier, depth):
        run = find_run(sweep, body_lr, depth, lr_multiplier)
        try:
            soft = find_run(sweep, body_lr, depth, head="softmax")["f1"]
        except ValueError:  # a sweep without softmax runs
            soft = None
        trans = run["crf"]["transitions"]
        fig = _draw_run(run["f1"], trans, f"depth {depth}, body lr {body_lr:g}", soft,
                        f"CRF, CRF lr {body_lr * lr_multiplier:g}")
        return fig, {"f1": run["f1"], "softmax_f1": soft, "transitions": trans,
                     "order": transition_order(trans).tolist()}

    return figure_explorer(
        draw,
        body_lr=_selection(grid["body_lr"], grid["body_lr"][len(grid["body_lr"]) // 2],
                           "body lr"),
        lr_multiplier=_selection(grid["lr_multiplier"], grid["lr_multiplier"][0],
                                 "CRF lr multiplier"),
        depth=_selection(grid["depth"], grid["depth"][0], "encoder depth", "{}"))


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
        self.progress = widgets.IntProgress(min=0, max=1, value=0, description="batches")
        self.status = widgets.HTML("Press Train.")
        self.plot = image_widget()
        self.sample = widgets.HTML()
        self.button.on_click(lambda _: self.train())
        self.widget = widgets.VBox([
            widgets.HBox([self.body_lr, self.lr_multiplier]),
            widgets.HBox([self.depth, self.head, self.button]),
            self.progress, self.status, self.plot, self.sample])
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
        config = self.config().resolved()
        piece = sample_sentence(config.max_len, min(20, config.max_len))
        data = prepare_data(config.train_sentences, config.test_sentences, config.max_len)
        ids = np.array([data["vocab"].encode(piece.chars)], np.int32)
        f1s, transitions, tags = [], [], None
        self.button.disabled = True
        self.status.value = "compiling and training..."

        def on_batch(done, total):
            if done == 1 or done % 10 == 0 or done == total:
                self.progress.max, self.progress.value = total, done

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
            self.plot.value = figure_png(_draw_run(
                f1s, None if weights is None else weights["transitions"],
                f"after epoch {epoch + 1}"))

        try:
            run = train_run(config, on_epoch=on_epoch, data=data, on_batch=on_batch,
                            jit_compile=self.jit_compile)
        finally:
            self.button.disabled = False
        self.result = {"config": dataclasses.asdict(config), "f1": f1s,
                       "transitions": transitions, "sample": segment_text(piece.chars, tags),
                       "sample_tags": tags, "run": run}
        return self.result


def train_panel(**kwargs) -> TrainPanel:
    """Build a ``TrainPanel`` (kwargs as its constructor) and return it; a cell shows its widget."""
    return TrainPanel(**kwargs)
