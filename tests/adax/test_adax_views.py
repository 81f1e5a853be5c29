"""Lesson 01: the tables the notebook prints, the figures' data and the schedule explorer."""

import numpy as np
import pytest

from lessons import adax


def test_schedule_curves_and_plot():
    curves = adax.schedule_curves()
    t = curves["t"]
    assert t[0] == 1 and t[-1] == 1e6 and np.all(np.diff(t) > 0)
    np.testing.assert_array_equal(curves["beta2_hat"]["adax"], adax.beta2_hat_adax(t))
    np.testing.assert_array_equal(curves["weight"]["adam"], adax.new_gradient_weight(t, "adam"))
    assert curves["departure"] == adax.adax_departure_step(1e-4) == 12_566
    fig = adax.plot_schedules(curves)
    left = fig.axes[0]
    np.testing.assert_array_equal(left.lines[2].get_ydata(), curves["beta2_hat"]["adafactor"])


def test_schedule_explorer_redraws_on_slider_change(monkeypatch):
    import matplotlib

    monkeypatch.setitem(matplotlib.rcParams, "figure.dpi", 30)  # small PNGs: a faster test
    w = adax.schedule_explorer()
    t = w.result["t"]
    np.testing.assert_array_equal(w.result["beta2_hat"]["adax"], adax.beta2_hat_adax(t, 1e-4))
    sliders = {s.description: s for s in w.kwargs_widgets}
    png = w.children[-1].value
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    sliders["AdaX beta_2"].value = 1e-2
    assert w.children[-1].value != png  # the figure was redrawn
    np.testing.assert_allclose(w.result["beta2_hat"]["adax"], adax.beta2_hat_adax(t, 1e-2))
    assert w.result["departure"] == adax.adax_departure_step(1e-2)
    np.testing.assert_array_equal(w.result["beta2_hat"]["adam"], adax.beta2_hat_adam(t, 0.999))
    sliders["Adam beta_2"].value = 0.99
    np.testing.assert_allclose(w.result["beta2_hat"]["adam"], adax.beta2_hat_adam(t, 0.99))
    sliders["Adafactor c"].value = 0.5
    np.testing.assert_allclose(w.result["weight"]["adafactor"], t**-0.5, rtol=1e-12)


def test_plot_runs_draws_the_returned_data():
    trace = {"steps": np.arange(1, 4), "v_hat": np.ones(3),
             "lr_over_sqrt_v_hat": np.array([1.0, 2, 3])}
    runs = [adax.Run("adax", 1e-3, np.array([0.5, 0.25]), 0.3, 0.9, trace)]
    left, right = adax.plot_runs(runs).axes
    np.testing.assert_array_equal(left.lines[0].get_ydata(), [0.5, 0.25])
    np.testing.assert_array_equal(right.lines[0].get_ydata(), [1.0, 2, 3])


def test_try_it_2_longer_training_prints_the_gap():
    runs = adax.compare_on_digits([("adam", 1e-3), ("adax", 1e-3)], epochs=1, batch_size=128,
                                  progress=False)
    text = adax.format_runs(runs)
    ratio = runs[1].trace["lr_over_sqrt_v_hat"][-1] / runs[0].trace["lr_over_sqrt_v_hat"][-1]
    assert f"AdaX / Adam lr/sqrt(v) at the last step: {ratio:.3f}" in text
    assert 0.3 < ratio < 1.5


def test_plots_return_a_figure_pyplot_does_not_keep():
    import matplotlib.pyplot as plt

    plt.close("all")
    fig = adax.plot_schedules(adax.schedule_curves([1, 10, 100]))
    assert plt.get_fignums() == []  # a notebook shows the returned figure once, not twice
    assert len(fig.axes) == 2


def test_format_vhat_both_ways_prints_the_notebook_lines():
    result = adax.vhat_both_ways(steps=300, seed=0)
    text = adax.format_vhat_both_ways(result)
    for line, rule, b2 in zip(text.splitlines(), ("adam", "adax"), (0.999, 1e-4), strict=True):
        t = np.arange(1, 301)
        g2 = result["grads"][:, 2] ** 2
        # an independent v_hat_300 of coordinate 2: the literal rule's explicit weighted sum
        if rule == "adam":
            want = ((1 - b2) * b2 ** (300 - t) / (1 - b2**300)) @ g2
        else:
            want = (b2 * (1 + b2) ** (300 - t) / ((1 + b2) ** 300 - 1)) @ g2
        assert line == (f"{rule:5s} v_hat after 300 steps: {want:9.4f} (direct) {want:9.4f} "
                        f"(moving average); all 1200 agree to 1e-9: True")
    assert "95.8532" in text and "97.0101" in text  # the notebook's numbers (course seed 0)
    with pytest.raises(ValueError, match="coordinate"):
        adax.format_vhat_both_ways(result, coordinate=4)


def test_format_overflow_steps():
    assert adax.format_overflow_steps() == (
        "(1 + 1e-4)^t is inf from step 887,126 in float32 and from step 7,098,183 in float64")
    # the steps are cross-checked against np.power in test_adax_optimizer.py
    assert adax.format_overflow_steps(1.5e-4).startswith("(1 + 0.00015)^t is inf from step ")


def test_format_schedule_weights_against_closed_forms():
    lines = adax.format_schedule_weights().splitlines()
    assert lines[1].split() == ["t", "1/t", "Adam", "AdaX", "Adafactor"]
    rows = [line.split() for line in lines[2:9]]
    for row, t in zip(rows, (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000), strict=True):
        # the naive closed forms in float64 are accurate to far more than 3 digits at these t
        adam = (1 - 0.999) / (1 - 0.999**t)
        adax_weight = 1e-4 / ((1 + 1e-4) ** t - 1)
        want = [f"{t:,}", f"{1 / t:.2e}", f"{adam:.2e}", f"{adax_weight:.2e}", f"{t ** -0.8:.2e}"]
        assert row == want
    assert lines[9] == "AdaX's 1 - beta2_hat falls below half of 1/t from step 12,566"
    assert lines[10].endswith("from step 92,109")  # both tested by brute force in schedules


def test_format_criteria_reads_check_criterion():
    lines = adax.format_criteria().splitlines()
    assert lines[0].split()[:2] == ["optimizer", "beta_2"]
    verdicts = {line.split()[0]: line.split()[-3:] for line in lines[1:]}
    assert verdicts == {"adam": ["True", "False", "False"], "adax": ["True", "True", "True"],
                        "adafactor": ["True", "True", "True"]}
    assert "1.0e-03" in lines[1] and "0.0e+00" in lines[2]  # Adam's 1 - b2; AdaX's exact 0
