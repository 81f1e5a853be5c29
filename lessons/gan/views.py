"""What lesson 02's notebook shows: text tables, figures and the ring explorer.

Every ``format_*`` returns text, every ``plot_*`` a matplotlib Figure (closed in pyplot, so a
cell that returns it shows it once); the explorer draws through ``lessons._core.figures``.
"""

from __future__ import annotations

import numpy as np

from lessons._core.checks import one_of
from lessons._core.data import ring_centers
from lessons._core.figures import figure_png, image_widget, new_figure
from lessons._core.notebook import course_seed
from lessons._core.tables import Column, format_table
from lessons.gan.analysis import LamTable
from lessons.gan.coverage import RING_RADIUS, mode_coverage
from lessons.gan.dirac import DiracComparison
from lessons.gan.experiments import DigitsComparison, RingComparison, RingRun, train_ring
from lessons.gan.gradients import SplitCheck, ZeroTerm
from lessons.gan.seeds import SeedStudy
from lessons.gan.timing import BenchmarkResults, StepTiming
from lessons.gan.trainers import METHOD_NAMES, METHODS

__all__ = ["RingExplorer", "format_benchmark", "format_digits", "format_dirac",
           "format_lam_table", "format_ring", "format_seed_study", "format_split_check",
           "format_step_timing", "format_zero_term", "plot_coverage", "plot_digits",
           "plot_dirac", "plot_ring_runs", "ring_explorer"]

# ---------------------------------------------------------------------------------- text


def format_zero_term(zero: ZeroTerm) -> str:
    """``zero_term``'s value and gradient norms, one per line."""
    return (f"value of the zero term:      {zero.value:.3g}\n"
            f"gradient norm for D weights: {zero.grad_norm_d:.3g}\n"
            f"gradient norm for G weights: {zero.grad_norm_g:.3g}")


def format_split_check(split: SplitCheck) -> str:
    """One row per lam: |single loss - D loss| and the relative gradient differences."""
    rows = [{"lam": lam, "value": v, "d": d, "g": g} for lam, v, d, g
            in zip(split.lams, split.value_diff, split.rel_diff_d, split.rel_diff_g, strict=True)]
    return format_table(rows, [Column("lam", "lam", "g"), Column("value", "|loss - D loss|", ".1e"),
                               Column("d", "rel. diff D", ".1e"), Column("g", "rel. diff G", ".1e")])


def format_lam_table(table: LamTable) -> str:
    """G's update ratio per optimizer (rows) and gradient size (columns), after the table's
    number of steps (named in the first column's header)."""
    keys = [f"s{i}" for i in range(len(table.scales))]
    rows = [{"label": label} | dict(zip(keys, ratios, strict=True))
            for label, (_, _, ratios) in table.rows.items()]
    columns = [Column("label", f"optimizer, {table.steps} steps")]
    columns += [Column(k, f"|g|~{s:.0e}", ".3f") for k, s in zip(keys, table.scales, strict=True)]
    return format_table(rows, columns)


def format_dirac(dirac: DiracComparison) -> str:
    """Distance from the equilibrium at the start and the end, per method, and the closed form."""
    lines = []
    for method in dirac.paths:
        r = dirac.distance(method)
        lines.append(f"{method:<11}: distance from equilibrium {r[0]:.3f} -> {r[-1]:.3f} "
                     f"after {len(r) - 1} steps")
    lines.append(f"closed form for the simultaneous update: x{dirac.simultaneous_growth():.3f}")
    return "\n".join(lines)


def format_ring(ring: RingComparison) -> str:
    """Modes covered and high-quality share at every evaluated step, per method."""
    runs = ring.runs
    first = next(iter(runs.values()))
    rows = [{"step": step} | {f"{m} modes": r.modes[i] for m, r in runs.items()}
            | {f"{m} hq": r.high_quality[i] for m, r in runs.items()}
            for i, step in enumerate(first.steps)]
    columns = [Column("step", "step")]
    for m in runs:
        columns += [Column(f"{m} modes", f"{m} modes"), Column(f"{m} hq", "hq", ".2f")]
    return format_table(rows, columns)


def _spread(values, fmt: str = "g") -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{np.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def format_seed_study(study: SeedStudy) -> str:
    """Every seed's final coverage and first step with 8 modes, then the distribution."""
    head = f"{'':>4} " + " ".join(f"{METHOD_NAMES[m]:^26}" for m in METHODS)
    sub = f"{'seed':>4} " + " ".join(f"{'modes':>6} {'hq':>5} {'8 modes at':>12}" for _ in METHODS)
    lines = [head, sub]
    for seed in study.seeds:
        cells = []
        for m in METHODS:
            r = study.run(m, seed)
            first = r.first_step_with(8)
            cells.append(f"{r.modes[-1]:>6} {r.high_quality[-1]:>5.2f} "
                         f"{'never' if first is None else first:>12}")
        lines.append(f"{seed:>4} " + " ".join(cells))
    n = len(study.seeds)
    lines += ["", f"over {n} seed{'s' if n != 1 else ''}, after {study.settings['steps']} steps "
              f"(8 modes checked every {study.settings['eval_every']} steps):",
              f"{'':<36} " + " ".join(f"{METHOD_NAMES[m]:>20}" for m in METHODS)]
    sums = {m: study.summary(m) for m in METHODS}
    rows = [
        ("modes at the end: min / median", lambda s: f"{s['modes_min']} / {s['modes_median']:g}"),
        ("seeds with 8 modes at the end", lambda s: f"{s['full_at_end']} of {s['seeds']}"),
        ("first step with 8 modes: median (range)", lambda s: _spread(s["first_8"])),
        ("high-quality share: median (range)", lambda s: _spread(s["high_quality"], ".2f")),
    ]
    for label, fmt in rows:
        lines.append(f"{label:<36} " + " ".join(f"{fmt(sums[m]):>20}" for m in METHODS))
    h2h = study.head_to_head()
    lines.append("8 modes first: " + ", ".join(f"{k} on {v}" for k, v in h2h.items()))
    return "\n".join(lines)


def format_digits(digits: DigitsComparison) -> str:
    """Mean distance to the nearest real digit and pixel spread, per generator."""
    rows = [{"name": name, "distance": digits.distance(name), "spread": digits.spread(name)}
            for name in digits.images]
    return format_table(rows, [Column("name", ""),
                               Column("distance", "distance to nearest real digit", ".2f"),
                               Column("spread", "spread", ".2f")])


def format_step_timing(timing: StepTiming) -> str:
    """ms per step and samples per second of the three variants, and the two ratios."""
    def row(name, ms):
        return f"{name:<22} {ms:>6.3f} ms {1e3 * timing.batch_size / ms:>10.0f}"

    return "\n".join([f"{'':<22} {'ms/step':>9} {'samples/s':>10}",
                      row("single loss", timing.ms_one_step),
                      row("D+G pair, one call", timing.ms_pair),
                      row("D+G pair, two calls", timing.ms_pair_two_calls),
                      f"single / pair: {timing.ratio:.2f}x, "
                      f"single / two calls: {timing.ratio_two_calls:.2f}x"])


def format_benchmark(bench: BenchmarkResults) -> str:
    """The stored benchmark: median ms and each ratio's median (min-max) over the rounds."""
    env, timing = bench.data["environment"], bench.data["timing"]
    rounds = len(timing[0]["rounds"]) if timing else 0
    lines = [f"benchmarks/gan.py on {env['cpu']} ({env['cpus']} CPUs, load "
             f"{env['load_average'][0]:.1f}): median (min-max) over {rounds} rounds",
             f"{'config':<17} {'jit':>5} {'single':>9} {'pair':>9} {'2 calls':>9} "
             f"{'single/pair':>18} {'single/2 calls':>18}"]
    for e in timing:
        med = {k: float(np.median([r[k] for r in e["rounds"]]))
               for k in ("ms_one_step", "ms_pair", "ms_pair_two_calls")}

        def band(key, e=e):
            v = [r[key] for r in e["rounds"]]
            return f"{np.median(v):.2f}x ({min(v):.2f}-{max(v):.2f})"

        lines.append(f"{e['config']:<17} {e['jit']!s:>5} {med['ms_one_step']:>6.3f} ms "
                     f"{med['ms_pair']:>6.3f} ms {med['ms_pair_two_calls']:>6.3f} ms "
                     f"{band('ratio'):>18} {band('ratio_two_calls'):>18}")
    mem, ratios = bench.data["memory"], bench.memory_ratios()
    if ratios:
        one = np.median([r["one_step"] for r in mem["rounds"]]) / 2**20
        pair = np.median([r["pair"] for r in mem["rounds"]]) / 2**20
        lines.append(f"peak memory, batch {mem['batch']}, hidden {tuple(mem['hidden'])}, graph "
                     f"mode, {len(ratios)} processes: single {one:.1f} MiB, larger alternating "
                     f"step {pair:.1f} MiB, single / pair {np.median(ratios):.2f}x "
                     f"({min(ratios):.2f}-{max(ratios):.2f})")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- figures


def plot_dirac(dirac: DiracComparison):
    """Both Dirac-GAN trajectories in the (theta, psi) plane."""
    fig, ax = new_figure(figsize=(3.6, 3.4))
    for method, p in dirac.paths.items():
        ax.plot(p[:, 0], p[:, 1], marker=".", ms=3, label=method)
    ax.set(xlabel="theta (G)", ylabel="psi (D)", aspect="equal")
    ax.legend()
    return fig


def _runs_of(runs) -> dict:
    return runs.runs if isinstance(runs, RingComparison) else runs


def plot_ring_runs(runs):
    """Scatter the snapshots of each run (one row per method) over the ring's centres.

    Args:
        runs: a ``RingComparison`` or a dict method -> ``RingRun``.
    """
    runs = _runs_of(runs)
    centers = ring_centers(8, RING_RADIUS)
    steps = sorted(set.intersection(*(set(r.snapshots) for r in runs.values())))
    fig, axes = new_figure(len(runs), len(steps), figsize=(1.9 * len(steps), 2.0 * len(runs)),
                           squeeze=False, sharex=True, sharey=True)
    for row, (name, run) in zip(axes, runs.items(), strict=True):
        for ax, step in zip(row, steps, strict=True):
            pts = run.snapshots[step]
            ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.3)
            ax.scatter(centers[:, 0], centers[:, 1], c="red", marker="x", s=12)
            ax.set_title(f"{name} @ {step}: {mode_coverage(pts).modes}/8", fontsize=8)
            ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal")
    fig.tight_layout()
    return fig


def plot_coverage(runs):
    """Modes covered and high-quality share against the step, one line per method.

    Args:
        runs: a ``RingComparison`` or a dict method -> ``RingRun``.
    """
    fig, (left, right) = new_figure(1, 2, figsize=(8.0, 3.0))
    for name, run in _runs_of(runs).items():
        left.plot(run.steps, run.modes, marker="o", ms=3, label=name)
        right.plot(run.steps, run.high_quality, marker="o", ms=3, label=name)
    left.set(xlabel="step", ylabel="modes covered (of 8)", ylim=(-0.3, 8.3))
    right.set(xlabel="step", ylabel="high-quality share", ylim=(0, 1))
    left.legend()
    fig.tight_layout()
    return fig


def plot_digits(images, n: int = 16):
    """One row of generated 8x8 digits per method (the first ``n`` of each).

    Args:
        images: a ``DigitsComparison`` or a dict name -> images [k, 8, 8].
        n: images per row (default 16).
    """
    if isinstance(images, DigitsComparison):
        images = images.images
    images = {name: imgs[:n] for name, imgs in images.items()}
    n = max(len(v) for v in images.values())
    fig, axes = new_figure(len(images), n, figsize=(0.6 * n, 0.75 * len(images)), squeeze=False)
    for row, (name, imgs) in zip(axes, images.items(), strict=True):
        for i, ax in enumerate(row):
            ax.axis("off")
            if i < len(imgs):
                ax.imshow(imgs[i], cmap="gray_r", vmin=0, vmax=1)
        row[0].set_title(name, fontsize=8, loc="left")
    return fig


def _draw_explorer_run(run: RingRun):
    """The explorer's figure: the last samples over the centres, and modes against the step."""
    step = max(run.snapshots)
    samples, centers = run.snapshots[step], ring_centers(8, RING_RADIUS)
    fig, (left, right) = new_figure(1, 2, figsize=(7.0, 3.2))
    left.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4)
    left.scatter(centers[:, 0], centers[:, 1], c="red", marker="x")
    left.set_aspect("equal")
    left.set_title(f"{run.method}, lam={run.lam:g}, step {step}")
    right.plot(run.steps, run.modes, marker="o")
    right.set(xlabel="step", ylabel="modes covered", ylim=(-0.3, 8.3))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------- widget


class RingExplorer:
    """The notebook's widget: pick lam, the step budget and the method, press Run.

    Attributes: ``lam``, ``steps``, ``method`` (the controls), ``button``, ``bar`` (an
    IntProgress), ``summary`` (a Label with the coverage line), ``image`` (the figure, an
    ``ipywidgets.Image``), ``last_run`` (a ``RingRun``), ``widget`` (the assembled box).

    Args:
        lam: the lam slider's start, 0.25..4 (default 1.0).
        steps: the steps slider's start, 250..3000 (default 1000).
        method: "one_step" (default) or "alternating".
        seed: default None: the course seed.
        jit_compile: compile the train step with XLA (default True).
    """

    def __init__(self, lam: float = 1.0, steps: int = 1000, method: str = "one_step",
                 seed: int | None = None, jit_compile: bool = True):
        import ipywidgets as w

        self.seed = course_seed(seed)
        self.jit_compile = bool(jit_compile)
        self.lam = w.FloatSlider(value=lam, min=0.25, max=4.0, step=0.25, description="lam")
        self.steps = w.IntSlider(value=steps, min=250, max=3000, step=250, description="steps")
        self.method = w.Dropdown(options=METHODS, value=one_of("method", method, METHODS),
                                 description="method")
        self.button = w.Button(description="Run", button_style="primary")
        self.bar = w.IntProgress(value=0, min=0, max=steps, description="progress")
        self.summary = w.Label(value="press Run")
        self.image = image_widget()
        self.image.layout.display = "none"  # until the first run has a figure
        self.last_run: RingRun | None = None
        self.button.on_click(lambda _: self.run())
        self.widget = w.VBox([w.HBox([self.lam, self.steps]), w.HBox([self.method, self.button]),
                              self.bar, self.summary, self.image])

    def _tick(self, step: int) -> None:
        if step % 50 == 0 or step == self.bar.max:
            self.bar.value = step

    def run(self) -> RingRun:
        """Train with the controls' settings, then redraw the figure and the summary."""
        steps = int(self.steps.value)
        self.bar.max, self.bar.value = steps, 0
        run = train_ring(self.method.value, steps=steps, lam=float(self.lam.value),
                         seed=self.seed, eval_every=max(steps // 8, 1), snapshots=(steps,),
                         progress=self._tick, jit_compile=self.jit_compile)
        self.last_run = run
        self.image.value = figure_png(_draw_explorer_run(run))
        self.image.layout.display = None
        self.summary.value = (f"{run.method}, lam={run.lam:g}, {steps} steps: "
                              f"{run.modes[-1]}/8 modes covered, "
                              f"high-quality share {run.high_quality[-1]:.2f}")
        return run


def ring_explorer(lam: float = 1.0, steps: int = 1000, method: str = "one_step",
                  seed: int | None = None, jit_compile: bool = True):
    """The widget box of a new ``RingExplorer`` (its explorer is at ``box.explorer``).

    Args: as ``RingExplorer`` (seed default None: the course seed; jit_compile default True).
    """
    explorer = RingExplorer(lam, steps, method, seed, jit_compile)
    explorer.widget.explorer = explorer
    return explorer.widget
