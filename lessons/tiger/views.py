"""Lesson 04's tables (``format_*`` return the text a notebook prints), figures (``plot_*`` return
a matplotlib Figure) and the fixed-point explorer widget."""

from __future__ import annotations

import numpy as np

from lessons._core.data import UNK
from lessons._core.figures import figure_explorer, new_figure
from lessons._core.tables import Column, format_table
from lessons.tiger.analysis import (
    closed_form,
    explorer_data,
    fixed_point,
    logistic_form,
    simulate,
    steps_to_fraction,
    steps_until_momentum_underflow,
)
from lessons.tiger.experiments import ExperimentConfig
from lessons.tiger.metrics import once_seen_band, remedy_verdicts, smooth

__all__ = [
    "fixed_point_explorer", "format_absent_token", "format_baselines", "format_closed_form_check",
    "format_drift_comparison", "format_released_once_seen", "format_remedy_verdicts",
    "format_sign_agreements", "format_steps_to_fraction", "format_summary",
    "format_underflow_steps", "plot_absent_token", "plot_drift_comparison", "plot_explorer",
    "plot_loss_curves", "plot_max_abs_vs_frequency", "plot_once_seen",
]

SUMMARY_COLUMNS = (
    Column("variant", "variant"), Column("train_loss", "train", ".3f"),
    Column("test_loss", "test", ".3f"), Column("emb_min", "emb min", ".3f"),
    Column("emb_max", "emb max", ".3f"), Column("rare", "rare", "d"),
    Column("rare_median", "rare med", ".3f"), Column("rare_pinned", "rare>0.5", ".0%"), Column("other_pinned", "other>0.5", ".1%"),
    Column("rare_output_pinned", "rare out>0.5", ".0%"),
)
# (dtype, flush subnormals, who computes that way) for format_underflow_steps
UNDERFLOW_CASES = (("float32", True, "TF on CPU"), ("float32", False, "NumPy"),
                   ("bfloat16", True, "TF on CPU"), ("float16", False, "TF on CPU"),
                   ("float16", True, ""), ("float64", True, "TF on CPU"))


# ---------------------------------------------------------------------------------------------
# Tables


def format_absent_token(paths: dict, steps=(1, 100, 2000)) -> str:
    """One line per optimizer: the row after each of ``steps`` absent steps.

    Args:
        paths: from ``absent_token_paths``.
        steps: absent steps to show (default 1, 100, 2000).
    """
    label = ", ".join(str(t) for t in steps)
    return "\n".join(
        f"{name:6s} row after {label} absent steps: "
        + "  ".join(np.array2string(path[t], precision=3, floatmode="fixed") for t in steps)
        for name, path in paths.items())


def format_closed_form_check(cases=((0.0, 0.003, 1.0, 1), (0.05, 1e-3, 0.01, -1),
                                    (-2.0, 0.1, 2.0, 1)), steps: int = 5000) -> str:
    """Whether ``closed_form`` equals ``simulate`` to 1e-9 on every case (theta0, learning_rate,
    lambda, sign) for ``steps`` steps, and the fixed points for sign +1, -1 at lambda = 0.01."""
    worst = max(float(np.abs(closed_form(*case, steps) - simulate(*case, steps)).max())
                for case in cases)
    return (f"closed form == simulation to 1e-9: {worst < 1e-9}\n"
            f"fixed points for sign +1, -1 at lambda = 0.01: {fixed_point([1, -1], 0.01)}")


def format_steps_to_fraction(settings=((0.003, 1.0), (1e-3, 0.01), (1e-4, 0.01))) -> str:
    """Steps to half-way and to 95 % of the way to 1/lambda for each (learning_rate, lambda)."""
    lines = []
    for lr, lam in settings:
        half, most = (steps_to_fraction(f, lr, lam) for f in (0.5, 0.95))
        lines.append(f"lr = {lr:g}, lambda = {lam:g}: 1/lambda = {1 / lam:g}; half-way after "
                     f"{half:,} steps, 95 % after {most:,} steps")
    return "\n".join(lines)


def format_underflow_steps(m0: float = 1e-3, beta: float = 0.965) -> str:
    """Steps until a momentum ``m0`` decaying by ``beta`` is 0 in each dtype, with and without
    flushing subnormals; Lion's slow momentum; the 1e-6 component of the notebook's row."""
    lines = []
    for dtype, flush, who in UNDERFLOW_CASES:
        n = steps_until_momentum_underflow(m0, beta, dtype, flush_denormals=flush)
        steps = "never" if n is None else f"{n:,} steps"
        lines.append(f"m0 = {m0:g}, beta = {beta:g}, {dtype:8s} flush={flush!s:5s}: "
                     f"{steps:>12s}  {who}")
    lion = steps_until_momentum_underflow(m0, 0.99)
    lines.append(f"Lion's slow momentum, m0 = {m0:g}, beta_2 = 0.99, float32: {lion:,} steps")
    m_tiny = np.float32(1 - beta) * np.float32(1e-6)  # Tiger's momentum of the 1e-6 component
    lines.append(f"the 1e-6 component's sign switches off after "
                 f"{steps_until_momentum_underflow(m_tiny, beta)} steps")
    return "\n".join(lines)


def format_drift_comparison(d: dict, learning_rate: float = 1.76e-3) -> str:
    """The lines of a ``drift_comparison`` result computed at ``learning_rate``."""
    return "\n".join([
        f"eq. (1), eta = {learning_rate:g}: half-way after {d['eq1_half']:,} steps, 99 % after "
        f"{d['eq1_99']:,}",
        f"released rule, lr = {learning_rate:g}: half-way after {d['released_half']:,} steps, "
        f"99 % after {d['released_99']:,}; |theta| after 8,000 steps: {d['released_at_8000']:.1f}",
        f"one absence ({d['absence']:,} steps of constant sign): eq. (1) covers "
        f"{d['eq1_per_absence']:.1%} of the remaining way, the released rule multiplies a small "
        f"row by {d['released_per_absence']:.0f}",
        f"absences pushing the same way to reach 99 %: eq. (1) {d['eq1_absences_99']}, "
        f"released rule {d['released_absences_99']}",
    ])


def format_summary(rows: list[dict]) -> str:
    """The ``summarize`` rows as a table: losses, embedding extremes, rare rows (their number,
    the median of their max |entry|, the share past 0.5/lambda), the shares of other weights
    and of the rare characters' output weights past 0.5/lambda; then a line that says which rows
    count as rare, or that there are none at this setting ("-" in their columns)."""
    table = format_table(rows, SUMMARY_COLUMNS)
    if not rows:
        return table
    absent = rows[0]["rare_absent"]
    if all(r["rare"] == 0 for r in rows):
        return (f"{table}\nno rare rows at this setting: no character was seen 1-3 times and then "
                f"absent for the last {absent:,} updates")
    return (f"{table}\nrare: characters seen 1-3 times and absent for the last {absent:,} "
            f"updates or more")


def format_baselines(config: ExperimentConfig, unigram: float) -> str:
    """The unigram model's test loss and eq. (1)'s bound on |entry| after ``config.steps``."""
    bound = once_seen_band(config.steps, config)[1]
    return (f"unigram model (no context): test loss {unigram:.3f}\n"
            f"closed form, eq. (1): a row seen at the first step can reach at most {bound:.3f}")


def format_released_once_seen(once: dict) -> str:
    """A ``released_once_seen`` result in words."""
    head = f"characters seen once, at least {once['n_updates']} updates before the end: "
    if not once["count"]:
        return head + "none at this setting"
    return (f"{head}{once['count']}; of them with every entry within 0.1 % of +-1/lambda: "
            f"{once['at_fixed_point']:.0%}")


def format_remedy_verdicts(rows: list[dict]) -> str:
    """One line per remedy: ``remedy_verdicts(rows)``."""
    return "\n".join(f"{name:11s} {verdict}" for name, verdict in remedy_verdicts(rows).items())


def format_sign_agreements(agreement: dict) -> str:
    """A ``sign_agreements`` result in words."""
    return (f"never-seen rows under tied Tiger ({agreement['n_unseen']}): "
            f"{agreement['tied_unseen']:.1%} of entries share their column's majority sign\n"
            f"rare rows under Tiger ({agreement['n_rare']}): "
            f"{agreement['tiger_rare']:.1%} of entries share their column's majority sign")


# ---------------------------------------------------------------------------------------------
# Figures


def plot_absent_token(paths: dict, component: int = 1, weight_decay: float = 1.0):
    """One component of each optimizer's absent row against the steps since the token was seen,
    with the fixed point 1/lambda dashed.

    Args:
        paths: from ``absent_token_paths``.
        component: which entry of the row (default 1, the one pushed up).
        weight_decay: `lambda` of the runs (default 1).
    """
    fig, ax = new_figure(figsize=(7.0, 3.2))
    for name, path in paths.items():
        ax.plot(path[:, component], label=f"{name}, component {component + 1}")
    ax.axhline(1.0 / weight_decay, color="k", ls="--", lw=1, label="fixed point 1/lambda")
    ax.set(xlabel="steps since the token was seen", ylabel="theta")
    ax.legend()
    return fig


def plot_explorer(data: dict):
    """The explorer's figure for an ``explorer_data`` dict."""
    fig, ax = new_figure(figsize=(7.0, 3.4))
    ax.plot(data["steps"], data["theta"], label="theta_t (float32 momentum)")
    ax.plot(data["steps"], data["closed_form"], ":", label="closed form, sign never 0")
    ax.axhline(data["fixed_point"], color="k", ls="--", lw=1, label="fixed point -1/lambda")
    n = data["underflow_step"]
    if n is not None and n <= len(data["steps"]):
        ax.axvline(n, color="tab:red", lw=1, label=f"m underflows (step {n})")
    ax.set(xlabel="steps since the token was last seen", ylabel="theta")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def fixed_point_explorer():
    """Sliders for lr, lambda, beta and the absent-step count; redraws theta_t, the fixed point
    and the underflow step.

    Returns an ``ipywidgets.interactive`` (``lessons._core.figures.figure_explorer``): its
    ``.result`` holds the last ``explorer_data`` and its last child is the Image of the figure.
    """
    import ipywidgets as w

    def draw(learning_rate, weight_decay, beta, absent_steps):
        data = explorer_data(learning_rate, weight_decay, beta, absent_steps)
        return plot_explorer(data), data

    style = {"description_width": "100px"}
    return figure_explorer(
        draw,
        learning_rate=w.FloatLogSlider(value=0.01, base=10, min=-4, max=-1, step=0.25,
                                       description="lr", style=style),
        weight_decay=w.FloatLogSlider(value=1.0, base=10, min=-2, max=1, step=0.25,
                                      description="lambda", style=style),
        beta=w.FloatSlider(value=0.965, min=0.5, max=0.999, step=0.001, readout_format=".3f",
                           description="beta", style=style),
        absent_steps=w.IntSlider(value=3000, min=100, max=10000, step=100,
                                 description="absent steps", style=style),
    )


def plot_drift_comparison(learning_rate: float = 1.76e-3, weight_decay: float = 0.01,
                          x0: float = 0.02, steps: int = 60000):
    """|theta| of a constant-sign row under eq. (1) and under the released rule (closed forms),
    with the fixed point 1/lambda dashed (defaults: the README's rate, the post's lambda, a
    starting |theta| of 0.02, 60,000 steps)."""
    t = np.arange(1, steps + 1)
    eq1 = np.abs(closed_form(x0, learning_rate, weight_decay, -1, steps))
    released = logistic_form(x0, learning_rate, weight_decay, steps)
    fig, ax = new_figure(figsize=(7.0, 3.2))
    ax.plot(t, released, label=f"released rule: logistic, rate lr = {learning_rate:g}")
    ax.plot(t, eq1, label=f"eq. (1): geometric, rate lr*lambda = {learning_rate * weight_decay:g}")
    ax.axhline(1 / weight_decay, color="k", ls="--", lw=1, label="fixed point 1/lambda")
    ax.set(xlabel="steps with a constant sign(m)", ylabel="|theta|")
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    return fig


def plot_max_abs_vs_frequency(runs: dict, names, config: ExperimentConfig, ylim=None):
    """One scatter panel per run in ``names``: max |embedding row| against training count, with
    the fixed point 1/lambda dashed. PAD and UNK are left out; ``ylim`` default None (automatic).
    """
    names = tuple(names)
    fig, axes = new_figure(1, len(names), figsize=(3.3 * len(names), 3.2), sharey=True,
                           squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        run = runs[name]
        seen = run.frequency > 0
        seen[: UNK + 1] = False
        ax.scatter(run.frequency[seen], run.max_abs[seen], s=3, alpha=0.4)
        ax.axhline(1 / config.weight_decay, color="k", ls="--", lw=1)
        ax.set(xscale="log", title=name, xlabel="occurrences in training", ylim=ylim)
    axes[0, 0].set_ylabel("max |embedding row|")
    return fig


def plot_once_seen(check: dict, label: str = "Tiger"):
    """Characters seen once: max |row| against updates since they were seen, over the
    closed-form band (a ``once_seen_check`` result; ``label`` names the optimizer)."""
    order = np.argsort(check["updates"])
    fig, ax = new_figure(figsize=(7.0, 3.0))
    ax.fill_between(check["updates"][order], check["low"][order], check["high"][order],
                    color="tab:orange", alpha=0.4, label="closed-form band")
    ax.scatter(check["updates"], check["max_abs"], s=6, label=f"characters seen once ({label})")
    ax.set(xlabel="updates since the character was seen", ylabel="max |embedding row|")
    ax.legend()
    return fig


def plot_loss_curves(runs: dict, window: int = 50, ylim=(5.5, 7.5)):
    """Each run's training loss as a trailing ``window``-step mean (default 50), y in ``ylim``."""
    fig, ax = new_figure(figsize=(7.0, 3.2))
    for name, run in runs.items():
        ax.plot(np.arange(window, len(run.loss) + 1), smooth(run.loss, window), label=name)
    ax.set(ylim=ylim, xlabel="step", ylabel=f"training loss ({window}-step mean)")
    ax.legend(ncol=2, fontsize=8)
    return fig
