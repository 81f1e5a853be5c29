"""Lesson 05's figures and the benchmark explorer.

Every ``plot_*`` returns a matplotlib Figure (detached from pyplot, so a cell that returns it
shows it once); the explorer draws its figure into an image through ``lessons._core.figures``.
"""

from __future__ import annotations

import html
import math

import numpy as np

from lessons._core.figures import axes_or_new, figure_png, image_widget
from lessons.fp16_xla.analysis import format_limits, underflow_threshold
from lessons.fp16_xla.bench.compare import speedup_matrix, speedup_spreads
from lessons.fp16_xla.bench.configs import CONFIGS, SIZES
from lessons.fp16_xla.bench.parent import run_benchmark
from lessons.fp16_xla.tables import format_table

__all__ = ["benchmark_explorer", "plot_gradient_histogram", "plot_speedups", "plot_zero_share"]


def plot_gradient_histogram(magnitudes: dict, ax=None):
    """Histogram of log10 |g| from ``gradient_magnitudes`` with FP16's limits marked.

    Args:
        magnitudes: ``gradient_magnitudes``'s result.
        ax: axes to draw on (default: a new figure).
    """
    ax = axes_or_new(ax)
    ax.hist(magnitudes["log10_abs"], bins=80, color="tab:blue")
    limits = format_limits("float16")
    for value, label in ((underflow_threshold("float16"), "FP16 flushes to 0 below"),
                         (limits["smallest_normal"], "FP16 smallest normal")):
        ax.axvline(math.log10(value), color="tab:red", ls="--", lw=1)
        ax.text(math.log10(value), ax.get_ylim()[1] * 0.9, " " + label, fontsize=8)
    ax.set_xlabel("log10 |gradient entry| (FP32)")
    ax.set_ylabel("entries")
    return ax.figure


def plot_zero_share(sweep: list[dict], dynamics=(), ax=None):
    """Share of gradient entries lost (zero) or overflowed vs the static scale, log x axis;
    each ``dynamic_loss_scale`` run is a star at the scale it ended on.

    Args:
        sweep: ``static_scale_sweep``'s rows.
        dynamics: ``dynamic_loss_scale`` results (default none).
        ax: axes to draw on (default: a new figure).
    """
    ax = axes_or_new(ax)
    scales = [r["scale"] for r in sweep]
    ax.semilogx(scales, [r["zero_share"] for r in sweep], "o-", label="flushed to zero")
    ax.semilogx(scales, [r["nonfinite_share"] for r in sweep], "s--", label="inf / NaN")
    for d in dynamics:
        ax.semilogx([d["final_scale"]], [d["zero_share"]], "*", ms=14,
                    label=f"dynamic, started at 2^{round(math.log2(d['scales'][0]))}")
    ax.set_xlabel("loss scale")
    ax.set_ylabel("share of gradient entries")
    ax.legend(fontsize=8)
    return ax.figure


def plot_speedups(results, title: str = "speed-up over FP32: the post's 3090 and the stored runs",
                  ax=None):
    """Grouped bars of ``speedup_matrix``; a black line on a bar spans its per-round speed-ups
    (``speedup_spreads``: interleaved runs only); the dashed line is FP32 (1.0x).

    Args:
        results: benchmark results (stored or live).
        title: the figure's title (default: the stored runs' comparison).
        ax: axes to draw on (default: a new figure).
    """
    configs, labels, matrix = speedup_matrix(results)
    low, high = speedup_spreads(results)
    own_figure = ax is None
    ax = axes_or_new(ax, figsize=(8.0, 3.6))
    width = 0.8 / len(labels)
    x = np.arange(len(configs))
    for j, label in enumerate(labels):
        centres = x + (j - (len(labels) - 1) / 2) * width
        ax.bar(centres, matrix[:, j], width, label=label)
        ax.vlines(centres, low[:, j], high[:, j], color="k", lw=1.5)
    ax.axhline(1.0, color="k", ls="--", lw=1)
    ax.set_xticks(x, configs, rotation=20)
    ax.set_ylabel("speed-up over FP32")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if own_figure:
        ax.figure.tight_layout()  # room for the legend beside the axes, in any image of it
    return ax.figure


def _pre(text: str) -> str:
    return f"<pre style='font-size: 11px; line-height: 1.3'>{html.escape(text)}</pre>"


def benchmark_explorer(runner=None, default_configs=("fp32", "mixed"), default_size="tiny"):
    """A widget: pick configurations, a size and the timed steps, press Run, get the table and
    the speed-up bars (each configuration in a fresh subprocess, 5 interleaved rounds).

    Args:
        runner: called as ``runner(configs, size=..., steps=..., repeats=5, warmup=2,
            progress=False)`` and must return a result dict (default ``run_benchmark``).
        default_configs: initially selected configurations (default FP32 and mixed).
        default_size: initially selected size (default "tiny").

    Returns:
        An ``ipywidgets.VBox``; its ``run_button.click()`` runs, ``state["result"]`` holds the
        last result, ``table`` (HTML) shows its table or what went wrong, ``image`` its bars.
        Nothing runs until the button is pressed.
    """
    import ipywidgets as w

    if default_size not in SIZES:
        raise ValueError(f"default_size must be one of {list(SIZES)}, got {default_size!r}")
    runner = run_benchmark if runner is None else runner
    configs = w.SelectMultiple(options=list(CONFIGS), value=tuple(default_configs),
                               rows=len(CONFIGS), description="configs")
    size = w.Dropdown(options=list(SIZES), value=default_size, description="size")
    steps = w.IntSlider(value=5, min=1, max=50, description="timed steps")
    button = w.Button(description="Run", button_style="primary")
    table = w.HTML("Pick configurations and press Run.")
    image = image_widget()
    image.layout.display = "none"  # until there is a figure
    box = w.VBox([w.HBox([configs, w.VBox([size, steps, button])]), table, image])
    box.state = {"result": None}
    box.configs, box.size, box.steps, box.run_button = configs, size, steps, button
    box.table, box.image = table, image

    def run(_=None):
        if not configs.value:
            table.value = "pick at least one configuration"
            return
        button.disabled = True
        table.value = f"running {', '.join(configs.value)} at size {size.value} ..."
        try:
            result = runner(list(configs.value), size=size.value, steps=steps.value,
                            repeats=5, warmup=2, progress=False)
        except (RuntimeError, ValueError) as error:
            table.value = _pre(f"the benchmark failed: {error}")
            return
        finally:
            button.disabled = False
        box.state["result"] = result
        table.value = _pre(format_table(result))
        if any(r["speedup"] is not None for r in result["runs"]):
            image.value = figure_png(plot_speedups([result], title="speed-up over FP32"))
            image.layout.display = ""

    button.on_click(run)
    return box
