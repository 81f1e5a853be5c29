"""Lesson 01's tables (``format_*`` return the text a notebook prints), figures (``plot_*`` return
a matplotlib Figure) and the schedule explorer widget."""

from __future__ import annotations

import numpy as np

from lessons._core.figures import figure_explorer, new_figure
from lessons._core.tables import Column, format_table
from lessons.adax.analysis import (
    DEFAULTS,
    RULES,
    adax_departure_step,
    adax_freeze_step,
    check_criterion,
    new_gradient_weight,
    overflow_step,
    schedule_curves,
)
from lessons.adax.experiments import DigitsComparison, summarize_digits
from lessons.adax.one_step import OneMoreGradient

__all__ = [
    "format_criteria", "format_one_more_gradient", "format_overflow_steps", "format_runs",
    "format_schedule_weights", "format_vhat_both_ways", "plot_runs", "plot_schedules",
    "schedule_explorer",
]

WEIGHT_STEPS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)


def _power_of_ten(x: float) -> str:
    """1e-4 as "1e-4" (not "0.0001" or "1e-04"); other numbers as ``:.3g``."""
    text = f"{x:.0e}"
    return text.replace("e-0", "e-").replace("e+0", "e+") if float(text) == x else f"{x:.3g}"


def format_vhat_both_ways(result: dict, coordinate: int = 2) -> str:
    """One line per rule: the last v-hat of one coordinate both ways, and whether all agree.

    Args:
        result: from `vhat_both_ways`.
        coordinate: the coordinate whose last v-hat is shown (default 2, of scale 10).
    """
    steps, n = result["grads"].shape
    if not 0 <= coordinate < n:
        raise ValueError(f"coordinate must be in [0, {n - 1}], got {coordinate}")
    lines = []
    for rule in ("adam", "adax"):
        r = result[rule]
        lines.append(f"{rule:5s} v_hat after {steps} steps: {r['direct'][-1, coordinate]:9.4f} "
                     f"(direct) {r['moving_average'][-1, coordinate]:9.4f} (moving average); "
                     f"all {steps * n} agree to {_power_of_ten(result['rtol'])}: {r['agree']}")
    return "\n".join(lines)


def format_overflow_steps(beta_2: float = 1e-4) -> str:
    """The first step at which ``(1 + beta_2)^t`` is inf, in float32 and float64.

    Args:
        beta_2: AdaX's beta_2 > 0 (default 1e-4).
    """
    t32, t64 = overflow_step(beta_2, "float32"), overflow_step(beta_2, "float64")
    return (f"(1 + {_power_of_ten(beta_2)})^t is inf from step {t32:,} in float32 and from step "
            f"{t64:,} in float64")


def format_one_more_gradient(demo: OneMoreGradient) -> str:
    """The table of `one_more_gradient`: 1 - beta2_hat_t and v-hat after the step, three ways."""
    lines = [f"one more gradient g = {demo.gradient:g} (g^2 = {demo.gradient**2:g}) "
             f"into v_hat = {demo.v_hat_before:g}",
             f"{'step t':>10s} {'1 - beta2_hat':>13s} {'float64 rule':>13s} {'AdaX':>11s} "
             f"{'literal fp32':>13s}"]
    for row in zip(demo.steps, demo.weight, demo.v_hat_exact, demo.v_hat_adax,
                   demo.v_hat_literal_float32, strict=True):
        t, w, exact, ours, literal = row
        lines.append(f"{t:>10,d} {w:13.2e} {exact:13.9f} {ours:11.7f} {literal:13.7f}")
    return "\n".join(lines)


def format_schedule_weights(steps=WEIGHT_STEPS, beta_2: float = 1e-4) -> str:
    """``1 - beta2_hat_t``, the newest g^2's weight in v-hat, of each rule (default parameters)
    beside 1/t, then AdaX's departure and freeze steps for ``beta_2``.

    Args:
        steps: integer steps >= 1 (default 1, 10, ..., 10^6).
        beta_2: AdaX's beta_2 for the departure and freeze lines (default 1e-4).
    """
    rows = [{"t": t, "one_over_t": 1 / t,
             **{rule: float(new_gradient_weight(t, rule)) for rule in RULES}} for t in steps]
    columns = [Column("t", "t", ",d"), Column("one_over_t", "1/t", ".2e"),
               *(Column(rule, name, ".2e") for rule, name in
                 zip(RULES, ("Adam", "AdaX", "Adafactor"), strict=True))]
    return "\n".join([
        "1 - beta2_hat, the newest g^2's weight in v_hat (default parameters), and 1/t, a plain "
        "mean's:",
        format_table(rows, columns),
        f"AdaX's 1 - beta2_hat falls below half of 1/t from step {adax_departure_step(beta_2, 0.5):,}",
        f"AdaX's v_hat is frozen (later gradients < 0.01% of it) from step "
        f"{adax_freeze_step(beta_2, 1e-4):,}",
    ])


def format_criteria() -> str:
    """The post's criterion beta2_hat_1 = 0, beta2_hat_inf = 1 for each rule (default parameter)."""
    rows = []
    for rule in RULES:
        c = check_criterion(rule)
        rows.append({"rule": rule, "param": DEFAULTS[rule], "b_first": c.b_first,
                     "weight_last": c.weight_last, "starts": c.starts_at_zero,
                     "ends": c.ends_at_one, "holds": c.holds})
    return format_table(rows, [
        Column("rule", "optimizer"), Column("param", "beta_2 / c", "g"),
        Column("b_first", "beta2_hat_1", ".1f"),
        Column("weight_last", "1 - beta2_hat @1e15", ".1e"),
        Column("starts", "starts at 0"), Column("ends", "ends at 1"),
        Column("holds", "criterion holds"),
    ])


def format_runs(runs) -> str:
    """The scores of digits runs and AdaX / Adam's lr/sqrt(v_hat) at the last step.

    Args:
        runs: a list of `Run` (from `compare_on_digits`) or a `DigitsComparison`.
    """
    comparison = runs if isinstance(runs, DigitsComparison) else summarize_digits(runs)
    last = max(r.steps for r in comparison.runs)
    lines = [f"{'optimizer':18s} {'train loss':>10s} {'val loss':>9s} {'val acc':>8s} "
             f"{'lr/sqrt(v) @100':>15s} {f'@{last}':>8s}"]
    for r in comparison.runs:
        lines.append(f"{r.rule:9s} lr {r.learning_rate:<5g} {r.train_loss:10.3f} "
                     f"{r.val_loss:9.3f} {r.val_accuracy:8.3f} "
                     f"{r.lr_over_sqrt_v_hat_at_100:15.4f} {r.lr_over_sqrt_v_hat_last:8.4f}")
    try:
        ratio = (comparison.get("adax", 1e-3).lr_over_sqrt_v_hat_last
                 / comparison.get("adam", 1e-3).lr_over_sqrt_v_hat_last)
        lines.append(f"AdaX / Adam lr/sqrt(v) at the last step: {ratio:.3f}")
    except ValueError:
        pass
    return "\n".join(lines)


def plot_schedules(curves: dict):
    """Two panels: beta2_hat_t against log t, and 1 - beta2_hat_t against 1/t on log-log axes.

    The dashed line marks where AdaX leaves 1 - 1/t (``curves["departure"]``).

    Args:
        curves: from `schedule_curves`.
    """
    fig, (left, right) = new_figure(1, 2, figsize=(9.0, 3.4))
    t = curves["t"]
    for rule, label, style in (("adam", "Adam", "-"), ("adax", "AdaX", "--"),
                               ("adafactor", "Adafactor", "-")):
        left.plot(t, curves["beta2_hat"][rule], style, label=label)
        w = curves["weight"][rule]
        right.plot(t[w > 0], w[w > 0], label=label)
    right.plot(t, 1.0 / t, "k:", label="1/t")
    right.axvline(curves["departure"], color="C1", ls="--", lw=0.8)
    left.set(xscale="log", xlabel="step t", ylabel=r"$\hat\beta_{2,t}$", ylim=(-0.02, 1.02))
    right.set(xscale="log", yscale="log", xlabel="step t", ylabel=r"$1-\hat\beta_{2,t}$",
              ylim=(1e-9, 2.0))
    left.legend(loc="lower right")
    right.legend(loc="lower left")
    fig.tight_layout()
    return fig


def plot_runs(runs):
    """Training loss per epoch, and lr / sqrt(v-hat) of the traced weight per step.

    Args:
        runs: a list of `Run`.
    """
    fig, (left, right) = new_figure(1, 2, figsize=(9.0, 3.4))
    for run in runs:
        label = f"{run.rule} (lr {run.learning_rate:g})"
        left.plot(np.arange(1, len(run.loss) + 1), run.loss, label=label)
        right.plot(run.trace["steps"], run.trace["lr_over_sqrt_v_hat"], label=label, lw=1)
    left.set(yscale="log", xlabel="epoch", ylabel="training loss")
    right.set(yscale="log", xlabel="step t", ylabel=r"lr / $\sqrt{\hat v_t}$ (traced weight)")
    left.legend()
    fig.tight_layout()
    return fig


def schedule_explorer():
    """Sliders for Adam's beta_2, AdaX's beta_2 and Adafactor's c that redraw the schedules.

    Returns an ``ipywidgets.interactive`` (`lessons._core.figures.figure_explorer`): ``.result``
    holds the last `schedule_curves` and its last child is an ``Image`` with the figure.
    """
    import ipywidgets as widgets

    def draw(adam_beta_2, adax_beta_2, c):
        curves = schedule_curves(None, adam_beta_2, adax_beta_2, c)
        return plot_schedules(curves), curves

    style = {"description_width": "110px"}
    return figure_explorer(
        draw,
        adam_beta_2=widgets.FloatSlider(0.999, min=0.9, max=0.9999, step=1e-4, readout_format=".4f",
                                        description="Adam beta_2", style=style),
        adax_beta_2=widgets.FloatLogSlider(1e-4, base=10, min=-6, max=-1, step=0.25,
                                           description="AdaX beta_2", style=style),
        c=widgets.FloatSlider(0.8, min=0.3, max=1.0, step=0.05, description="Adafactor c",
                              style=style),
    )
