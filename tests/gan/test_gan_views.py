"""What the notebook prints and draws: the text tables, the figures, and the ring explorer."""

import numpy as np
import pytest
from gan_testing import fake_bench, fake_study

from lessons import gan


def test_format_zero_term_and_split_check():
    assert gan.format_zero_term(gan.ZeroTerm(0.0, 0.0, 0.1013)).splitlines() == [
        "value of the zero term:      0", "gradient norm for D weights: 0",
        "gradient norm for G weights: 0.101"]
    split = gan.SplitCheck((0.5, 2.0), (0.0, 1e-8), (8.04e-6, 1.6e-5), (0.0, 0.0))
    lines = gan.format_split_check(split).splitlines()
    assert len(lines) == 3
    assert lines[0].split() == ["lam", "|loss", "-", "D", "loss|", "rel.", "diff", "D", "rel.",
                                "diff", "G"]
    assert lines[1].split() == ["0.5", "0.0e+00", "8.0e-06", "0.0e+00"]
    assert lines[2].split() == ["2", "1.0e-08", "1.6e-05", "0.0e+00"]


def test_format_lam_table():
    table = gan.LamTable(2.0, 5, 0, "formula", (1.0, 1e-6),
                         {"SGD": ("sgd", 0.9, (2.0, 2.0)), "Adam, Keras 3": ("adam", 0.9, (1.0, 1.5284))})
    lines = gan.format_lam_table(table).splitlines()
    assert lines[0].split()[:4] == ["optimizer,", "5", "steps", "|g|~1e+00"]
    assert lines[2].split() == ["Adam,", "Keras", "3", "1.000", "1.528"]


def test_format_ring_and_plots(ring_runs):
    import matplotlib.pyplot as plt

    runs = gan.RingComparison({m: ring_runs[m] for m in gan.METHODS})
    text = gan.format_ring(runs).splitlines()
    assert text[0].split() == ["step", "one_step", "modes", "hq", "alternating", "modes", "hq"]
    assert len(text) == 1 + len(ring_runs["one_step"].steps)
    last = ring_runs["one_step"], ring_runs["alternating"]
    assert text[-1].split() == ["100", str(last[0].modes[-1]), f"{last[0].high_quality[-1]:.2f}",
                                str(last[1].modes[-1]), f"{last[1].high_quality[-1]:.2f}"]
    fig = gan.plot_ring_runs(runs)
    assert len(fig.axes) == 8 and fig.axes[0].get_title() == (  # snapshots 0, 1, 20, 100
        f"one_step @ 0: {ring_runs['one_step'].modes[0]}/8")
    assert len(gan.plot_coverage(runs.runs).axes) == 2
    imgs = {"a": np.zeros((20, 8, 8)), "b": np.ones((3, 8, 8))}
    assert len(gan.plot_digits(imgs, n=4).axes) == 8  # at most n per row
    assert plt.get_fignums() == []  # returned, not left open in pyplot (shown once)


def test_format_and_plot_dirac():
    paths = {"one_step": np.array([[0.5, 0.0], [0.5, 0.1], [0.48, 0.2]]),
             "alternating": np.array([[0.5, 0.0], [0.49, 0.1], [0.47, 0.19]])}
    dirac = gan.DiracComparison(paths, 0.2, 1.0)
    lines = gan.format_dirac(dirac).splitlines()
    assert lines[0] == "one_step   : distance from equilibrium 0.500 -> 0.520 after 2 steps"
    assert lines[2] == "closed form for the simultaneous update: x1.040"  # (1 + 0.04)^(2/2)
    assert len(gan.plot_dirac(dirac).axes) == 1


def test_format_digits():
    images = {"untrained": np.zeros((4, 8, 8)), "one_step": np.ones((4, 8, 8))}
    lines = gan.format_digits(gan.DigitsComparison(images)).splitlines()
    assert lines[0].split() == ["distance", "to", "nearest", "real", "digit", "spread"]
    assert lines[2].split()[0] == "one_step" and lines[2].split()[2] == "0.00"


def test_format_seed_study():
    text = gan.format_seed_study(fake_study()).splitlines()
    assert text[2].split() == ["0", "8", "0.60", "1000", "8", "0.85", "700"]
    assert text[5].split() == ["3", "6", "0.30", "never", "8", "0.85", "750"]
    assert text[-1] == ("8 modes first: alternating first on 5, same step on 0, "
                        "single loss first on 0, neither on 0")
    assert text[8].startswith("over 5 seeds, after 2000 steps")
    one_seed = gan.SeedStudy({"steps": 2000, "eval_every": 50}, {},
                             tuple(r for r in fake_study().runs if r.seed == 0))
    assert "\nover 1 seed, after 2000 steps (" in gan.format_seed_study(one_seed)


def test_format_step_timing_and_benchmark():
    timing = gan.StepTiming(32, 2.0, 2.5, 4.0)
    lines = gan.format_step_timing(timing).splitlines()
    assert lines[1].split() == ["single", "loss", "2.000", "ms", "16000"]  # 32 samples in 2 ms
    assert lines[-1] == "single / pair: 0.80x, single / two calls: 0.50x"
    # the keys benchmarks/gan.py stores per round are the ones the reader looks up
    assert set(timing.as_dict()) == set(fake_bench().data["timing"][0]["rounds"][0])
    lines = gan.format_benchmark(fake_bench()).splitlines()
    assert lines[2].split()[-4:] == ["1.02x", "(0.98-1.30)", "0.70x", "(0.65-0.72)"]
    assert lines[-1].endswith("single / pair 1.40x (1.30-1.50)")


def test_ring_explorer_runs_with_the_chosen_settings():
    box = gan.ring_explorer(steps=250, jit_compile=False)
    ex = box.explorer
    assert ex.last_run is None and ex.bar.value == 0 and ex.summary.value == "press Run"
    assert ex.seed == 0 and ex.jit_compile is False
    assert (ex.steps.min, ex.steps.max, ex.lam.min, ex.lam.max) == (250, 3000, 0.25, 4.0)
    assert bytes(ex.image.value) == b"" and ex.image.layout.display == "none"
    # nothing has run before the button is pressed; a shorter run than the slider allows keeps
    # this test fast (the browser test runs the slider's 250 steps)
    ex.steps.min = 16
    ex.lam.value, ex.steps.value = 2.0, 16
    ex.button.click()
    assert ex.last_run.lam == 2.0 and ex.last_run.method == "one_step"
    assert ex.last_run.steps == list(range(0, 17, 2)) and ex.bar.value == ex.bar.max == 16
    run = ex.last_run
    assert ex.summary.value == (f"one_step, lam=2, 16 steps: {run.modes[-1]}/8 modes covered, "
                                f"high-quality share {run.high_quality[-1]:.2f}")
    assert bytes(ex.image.value).startswith(b"\x89PNG") and ex.image.layout.display is None
    first, first_png = ex.last_run, bytes(ex.image.value)
    ex.method.value = "alternating"
    ex.button.click()
    assert ex.last_run.method == "alternating"
    assert not np.array_equal(first.snapshots[16], ex.last_run.snapshots[16])
    assert bytes(ex.image.value) != first_png  # redrawn
    with pytest.raises(ValueError, match="method"):
        gan.ring_explorer(method="joint")
    assert gan.ring_explorer().explorer.jit_compile is True  # the notebook's widget uses XLA
