"""Every widget of the course, used the way a student uses it, in a real browser.

Each test changes a widget (keys a slider, clicks a button), waits until the widget's readout
shows the new value and its output has been redrawn, then checks that the output is right: text
the widget prints, and, through a scratch cell added at the end of the (temporary) notebook, the
numbers the widget's callback computed for the new value against an independent reference
(a closed form, or the stored results file). A screenshot of each lesson after the interaction is
saved under test-artifacts/e2e/.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from e2e_lab import (
    REPO,
    WIDGET_TIMEOUT,
    kernel_text,
    key_slider,
    prompt_number,
    settle,
    slider,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


# A widget draws its figure into an Output widget (a matplotlib PNG) or into an Image widget.
FIGURE = ".widget-output img, img.widget-image"


def _single_figure(cell):
    """The one figure of the widget (a redraw replaces it, never adds a second)."""
    img = cell.locator(FIGURE)
    expect(img).to_have_count(1, timeout=WIDGET_TIMEOUT)
    return img


@pytest.mark.notebook("01_adax.ipynb")
def test_adax_schedule_explorer(notebook):
    cell = notebook.code_cell("schedule_explorer(")
    img = _single_figure(cell)
    before = img.get_attribute("src")
    beta2 = slider(cell, "AdaX beta_2")
    expect(beta2.locator(".widget-readout")).to_have_text("0.000100")
    key_slider(beta2, "ArrowRight", 4)  # log10: -4 -> -3, four steps of 0.25
    expect(beta2.locator(".widget-readout")).to_have_text("0.00100")
    expect(img).not_to_have_attribute("src", before, timeout=WIDGET_TIMEOUT)
    _single_figure(cell)
    assert notebook.error_outputs(cell) == []

    # The redrawn AdaX curve is B_t = 1 - b2 / ((1 + b2)^t - 1) with the new b2 = 1e-3.
    t = np.unique(np.round(np.logspace(0, 6, 300)))[150]
    b2 = 1e-3
    expected = f"{t:.0f} {1 - b2 / ((1 + b2) ** t - 1):.8f}"
    out = f"Out[{prompt_number(cell)}]"
    got = kernel_text(
        notebook,
        f"f\"{{{out}.result['t'][150]:.0f}} {{{out}.result['beta2_hat']['adax'][150]:.8f}}\"",
        expected)
    assert got == expected
    notebook.screenshot("_widget", cell)


@pytest.mark.notebook("04_tiger_fixed_point.ipynb")
def test_tiger_fixed_point_explorer(notebook):
    cell = notebook.code_cell("fixed_point_explorer(")
    img = _single_figure(cell)
    before = img.get_attribute("src")
    lam = slider(cell, "lambda")
    expect(lam.locator(".widget-readout")).to_have_text("1.00")
    key_slider(lam, "ArrowRight", 2)  # log10: 0 -> 0.5, lambda = 3.16
    expect(lam.locator(".widget-readout")).to_have_text("3.16")
    steps = slider(cell, "absent steps")
    key_slider(steps, "ArrowLeft", 10, settle=notebook)  # 3000 -> 2000 in steps of 100
    expect(steps.locator(".widget-readout")).to_have_text("2000")
    expect(img).not_to_have_attribute("src", before, timeout=WIDGET_TIMEOUT)
    _single_figure(cell)
    assert notebook.error_outputs(cell) == []

    # The fixed point the widget drew is -sign / lambda for a token last pushed up (sign +1), and
    # until its momentum underflows (step 2258) theta is on the closed form
    # theta* (1 - (1 - lr lambda)^t) with lr = 0.01: at step 50, 80 % of the way.
    lam = 10**0.5
    theta = -1 / lam * (1 - (1 - 0.01 * lam) ** 50)
    expected = f"{-1 / lam:.6f} 2000 {theta:.6f}"
    out = f"Out[{prompt_number(cell)}]"
    got = kernel_text(
        notebook, f"f\"{{{out}.result['fixed_point']:.6f}} {{len({out}.result['theta'])}} "
                  f"{{{out}.result['theta'][49]:.6f}}\"",
        expected)
    assert got == expected
    notebook.screenshot("_widget", cell)


@pytest.mark.notebook("02_one_loss_gan.ipynb")
def test_gan_ring_explorer(notebook):
    cell = notebook.code_cell("ring_explorer(")
    lam, steps = slider(cell, "lam"), slider(cell, "steps")
    key_slider(lam, "ArrowRight", 1)  # 1.0 -> 1.25
    expect(lam.locator(".widget-readout")).to_have_text("1.25")
    key_slider(steps, "ArrowLeft", 3)  # 1000 -> 250: the shortest run
    expect(steps.locator(".widget-readout")).to_have_text("250")
    cell.locator(".widget-dropdown select").select_option("alternating")
    settle(notebook)
    cell.locator("button", has_text="Run").click()

    summary = cell.get_by_text(re.compile(r"modes covered"))
    pattern = (r"alternating, lam=1\.25, 250 steps: (\d)/8 modes covered, "
               r"high-quality share (\d\.\d\d)")
    expect(summary).to_have_text(re.compile(pattern), timeout=WIDGET_TIMEOUT * 3)
    # samples on the ring and modes covered against steps, an Image hidden until the first run
    expect(_single_figure(cell)).to_be_visible()
    expect(cell.locator(".widget-hprogress .progress-bar")).to_have_attribute(
        "style", re.compile(r"width: 100%"))
    assert notebook.error_outputs(cell) == []

    # The run the widget shows is the run it made with the new settings.
    shown = re.search(pattern, summary.inner_text())
    expected = f"alternating 1.25 250 {shown[1]}/8 {shown[2]}"
    run = f"Out[{prompt_number(cell)}].explorer.last_run"
    got = kernel_text(
        notebook,
        f"f\"{{{run}.method}} {{{run}.lam:g}} {{max({run}.snapshots)}} {{{run}.modes[-1]}}/8 "
        f"{{{run}.high_quality[-1]:.2f}}\"",
        expected)
    assert got == expected
    notebook.screenshot("_widget", cell)


def _stored_sweep_run(body_lr, multiplier, depth) -> dict:
    """The CRF run of lessons/results/crf_sweep.json with these settings, read independently."""
    sweep = json.loads((REPO / "lessons" / "results" / "crf_sweep.json").read_text())
    for run in sweep["runs"]:
        c = run["config"]
        if (c["head"], c["depth"]) == ("crf", depth) and np.isclose(c["body_lr"], body_lr) \
                and np.isclose(c["lr_multiplier"], multiplier):
            return run
    raise AssertionError(f"no stored run for {body_lr}, {multiplier}, {depth}")


@pytest.mark.notebook("03_crf_learning_rate.ipynb")
def test_crf_sweep_explorer(notebook):
    sweep = json.loads((REPO / "lessons" / "results" / "crf_sweep.json").read_text())
    crf_runs = [r["config"] for r in sweep["runs"] if r["config"]["head"] == "crf"]
    body_lrs = sorted({r["config"]["body_lr"] for r in sweep["runs"]})
    multipliers = sorted({c["lr_multiplier"] for c in crf_runs})
    depth = min(c["depth"] for c in crf_runs)
    body_lr = body_lrs[len(body_lrs) // 2]  # the explorer's initial values
    assert len(multipliers) >= 2, multipliers

    cell = notebook.code_cell("sweep_explorer(")
    img = _single_figure(cell)
    before = img.get_attribute("src")
    mult = slider(cell, "CRF lr multiplier")
    expect(mult.locator(".widget-readout")).to_have_text(f"{multipliers[0]:g}")
    key_slider(mult, "ArrowRight", 1)
    expect(mult.locator(".widget-readout")).to_have_text(f"{multipliers[1]:g}")
    expect(img).not_to_have_attribute("src", before, timeout=WIDGET_TIMEOUT)
    _single_figure(cell)
    assert notebook.error_outputs(cell) == []

    f1 = _stored_sweep_run(body_lr, multipliers[1], depth)["f1"]
    expected = " ".join(f"{f:.4f}" for f in f1)
    out = f"Out[{prompt_number(cell)}]"
    got = kernel_text(notebook, f"' '.join(f'{{f:.4f}}' for f in {out}.result['f1'])", expected)
    assert got == expected
    notebook.screenshot("_sweep_widget", cell)


@pytest.mark.notebook("03_crf_learning_rate.ipynb")
def test_crf_train_panel(notebook):
    cell = notebook.code_cell("train_panel(")
    mult = slider(cell, "CRF lr multiplier")
    expect(mult.locator(".widget-readout")).to_have_text("1")
    key_slider(mult, "ArrowRight", 2)  # 1 -> 100: the post's remedy
    expect(mult.locator(".widget-readout")).to_have_text("100")
    settle(notebook)
    cell.locator("button", has_text="Train").click()

    status = cell.locator(".widget-html", has_text="test word F1")
    expect(status).to_have_text(re.compile(r"epoch (\d+)/\1: test word F1 (0\.\d{4}(, )?)+$"),
                                timeout=WIDGET_TIMEOUT * 4)
    expect(cell.locator("button", has_text="Train")).to_be_enabled(timeout=WIDGET_TIMEOUT)
    _single_figure(cell)  # the F1 curve and the transition heatmap
    expect(cell.locator(".widget-html", has_text="gold:")).to_contain_text("model:")
    assert notebook.error_outputs(cell) == []

    shown = status.inner_text().split("test word F1 ")[1].strip()
    f1s = [float(f) for f in shown.split(", ")]
    assert all(0.3 < f <= 1.0 for f in f1s), f1s
    # The F1 shown is the F1 of the run the panel made, with the CRF at 100x the body's lr, and
    # one transition matrix (4 tags x 4 tags) per epoch behind the heatmap.
    expected = f"100.0 {shown} {len(f1s)}x(4, 4)"
    panel = f"Out[{prompt_number(cell)}]"
    got = kernel_text(
        notebook,
        f"f\"{{{panel}.result['config']['lr_multiplier']}} "
        f"{{', '.join(f'{{f:.4f}}' for f in {panel}.result['f1'])}} "
        f"{{len({panel}.result['transitions'])}}x{{__import__('numpy').shape({panel}.result['transitions'][-1])}}\"",
        expected)
    assert got == expected
    notebook.screenshot("_train_widget", cell)


@pytest.mark.notebook("05_fp16_xla.ipynb")
def test_fp16_benchmark_explorer(notebook):
    cell = notebook.code_cell("benchmark_explorer(")
    cell.locator(".widget-select-multiple select").select_option(["fp32", "xla"])
    cell.locator(".widget-dropdown select").select_option("micro")
    steps = slider(cell, "timed steps")
    key_slider(steps, "ArrowLeft", 3)  # 5 -> 2
    expect(steps.locator(".widget-readout")).to_have_text("2")
    settle(notebook)
    cell.locator("button", has_text="Run").click()

    # the table arrives in an HTML widget (a <pre>), the speed-up bars in an Image widget
    table = cell.locator(".widget-html pre", has_text="speed-up")
    expect(table).to_contain_text(re.compile(r"^xla\s", re.M), timeout=WIDGET_TIMEOUT * 3)
    expect(cell.locator("img.widget-image")).to_have_count(1)
    expect(cell.locator("img.widget-image")).to_have_attribute("src", re.compile(r"^blob:|^data:"))
    expect(cell.locator("button", has_text="Run")).to_be_enabled()
    assert notebook.error_outputs(cell) == []

    # Rows, in the widget's order, are exactly the picked configurations, with the speed-up
    # column (the 11th field of format_table's rows: each time is "<number> ms") and the range of
    # the five rounds' speed-ups (the 12th) that the kernel's result holds.
    lines = table.inner_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("config"))
    rows = [line.split() for line in lines[header + 1:] if line.strip()]
    assert [r[0] for r in rows] == ["fp32", "xla"], rows
    expected = "micro 5 " + " ".join(f"{r[0]}:{r[10]}:{r[11]}" for r in rows)
    box = f"Out[{prompt_number(cell)}]"
    got = kernel_text(
        notebook,
        f"'{{}} {{}} {{}}'.format({box}.state['result']['size'], "
        f"{box}.state['result']['settings']['repeats'], ' '.join("
        f"r['config'] + ':' + f\"{{r['speedup']:.2f}}x:{{r['speedup_spread']['min']:.2f}}-"
        f"{{r['speedup_spread']['max']:.2f}}x\" for r in {box}.state['result']['runs']))",
        expected)
    assert got == expected
    notebook.screenshot("_widget", cell)
