"""Tables, figures and the fixed-point explorer: what they show is the data they were given, and
pyplot keeps no copy of a returned figure (the notebook shows it once)."""

import math
import re

import matplotlib.pyplot as plt
import numpy as np
from tiger_testing import SMALL

from lessons import tiger
from lessons.tiger import ExperimentConfig, closed_form, steps_until_momentum_underflow


def test_explorer_callback_redraws_from_sliders():
    w = tiger.fixed_point_explorer()
    sliders = {c.description: c for c in w.children if hasattr(c, "description")}
    assert set(sliders) >= {"lr", "lambda", "beta", "absent steps"}
    first, png = w.result, bytes(w.children[-1].value)
    assert png.startswith(b"\x89PNG")
    # -1/lambda at lambda = 1; 2258 is the float32 count that the analysis tests check against TF
    assert first["fixed_point"] == -1.0 and first["underflow_step"] == 2258
    assert first["theta"].shape == (3000,)
    sliders["lambda"].value = 2.0
    assert w.result["fixed_point"] == -0.5 and bytes(w.children[-1].value) != png
    sliders["beta"].value = 0.9
    assert w.result["underflow_step"] == steps_until_momentum_underflow(1e-3, 0.9)
    sliders["absent steps"].value = 500
    assert w.result["theta"].shape == (500,)
    np.testing.assert_allclose(w.result["closed_form"], closed_form(0.0, 0.01, 2.0, 1, 500))
    sliders["lr"].value = 0.001
    np.testing.assert_allclose(w.result["closed_form"], closed_form(0.0, 0.001, 2.0, 1, 500))
    assert plt.get_fignums() == []


def test_max_abs_scatter_draws_one_panel_per_run(small_runs):
    fig = tiger.plot_max_abs_vs_frequency(small_runs, ("tiger", "adamw"), SMALL)
    assert len(fig.axes) == 2 and [ax.get_title() for ax in fig.axes] == ["tiger", "adamw"]
    points = fig.axes[0].collections[0].get_offsets()
    seen = small_runs["tiger"].frequency[2:] > 0
    assert len(points) == seen.sum()
    np.testing.assert_allclose(points[:, 1], small_runs["tiger"].max_abs[2:][seen], rtol=1e-6)
    assert plt.get_fignums() == []


def test_plot_drift_comparison_draws_the_closed_forms():
    fig = tiger.plot_drift_comparison(learning_rate=0.01, weight_decay=0.5, x0=0.1, steps=500)
    released, eq1 = (line.get_ydata() for line in fig.axes[0].get_lines()[:2])
    np.testing.assert_allclose(released, tiger.logistic_form(0.1, 0.01, 0.5, 500))
    np.testing.assert_allclose(eq1, np.abs(tiger.closed_form(0.1, 0.01, 0.5, -1, 500)))
    assert plt.get_fignums() == []


def test_plot_absent_token_draws_one_component_per_optimizer():
    paths = {"tiger": np.linspace(0, 1, 30).reshape(10, 3), "adamw": np.ones((10, 3))}
    fig = tiger.plot_absent_token(paths, component=2, weight_decay=0.5)
    lines = fig.axes[0].get_lines()
    np.testing.assert_array_equal(lines[0].get_ydata(), paths["tiger"][:, 2])
    np.testing.assert_array_equal(lines[1].get_ydata(), paths["adamw"][:, 2])
    assert list(lines[2].get_ydata()) == [2.0, 2.0]  # the fixed point 1/lambda
    assert plt.get_fignums() == []


def test_plot_once_seen_draws_the_band_and_the_rows():
    check = {"updates": np.array([30, 10, 20]), "max_abs": np.array([0.3, 0.1, 0.2]),
             "low": np.array([0.25, 0.05, 0.15]), "high": np.array([0.35, 0.15, 0.25])}
    fig = tiger.plot_once_seen(check)
    ax = fig.axes[0]
    scatter = next(c for c in ax.collections if c.get_offsets().shape == (3, 2))
    np.testing.assert_array_equal(scatter.get_offsets(), [[30, 0.3], [10, 0.1], [20, 0.2]])
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == 0.05 and band[:, 1].max() == 0.35


def test_plot_loss_curves_are_trailing_means():
    loss = np.random.default_rng(3).random(40)
    run = tiger.EmbeddingRun("x", np.zeros((3, 2)), np.zeros(3), np.zeros(3), loss, 0.0, {})
    fig = tiger.plot_loss_curves({"x": run}, window=10)
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), np.arange(10, 41))
    np.testing.assert_allclose(line.get_ydata(), [loss[i - 10 : i].mean() for i in range(10, 41)])


def test_format_absent_token_shows_the_rows_at_the_chosen_steps():
    paths = {"tiger": np.array([[0.0, 0.0], [-0.0061, 0.0062], [-0.5, 0.5]]),
             "adamw": np.array([[0.0, 0.0], [1e-5, -2e-5], [0.25, -0.125]])}
    text = tiger.format_absent_token(paths, steps=(1, 2))
    assert text.splitlines() == [
        "tiger  row after 1, 2 absent steps: [-0.006  0.006]  [-0.500  0.500]",
        "adamw  row after 1, 2 absent steps: [ 1.000e-05 -2.000e-05]  [ 0.250 -0.125]"]


def test_format_closed_form_check_and_fixed_points():
    assert tiger.format_closed_form_check().splitlines() == [
        "closed form == simulation to 1e-9: True",
        "fixed points for sign +1, -1 at lambda = 0.01: [-100.  100.]"]


def test_format_steps_to_fraction_against_the_logarithms():
    text = tiger.format_steps_to_fraction([(0.003, 1.0), (1e-3, 0.01)])
    half = math.ceil(math.log(0.5) / math.log(1 - 0.003))  # 230.7 -> 231
    most = math.ceil(math.log(0.05) / math.log(1 - 1e-5))
    assert f"lr = 0.003, lambda = 1: 1/lambda = 1; half-way after {half:,} steps" in text
    assert text.splitlines()[1].endswith(f"95 % after {most:,} steps")
    assert half == 231 and most == 299_572


def test_format_underflow_steps_counts_each_dtype():
    lines = tiger.format_underflow_steps().splitlines()
    assert len(lines) == 8
    assert lines[0].startswith("m0 = 0.001, beta = 0.965, float32  flush=True :  ")
    assert lines[0].split(":")[1].split()[0] == f"{steps_until_momentum_underflow(1e-3, 0.965):,}"
    assert "never" in lines[1] and "NumPy" in lines[1]  # float32 without flushing stalls
    assert "never" in lines[3]  # TensorFlow's float16 keeps subnormals
    m_tiny = np.float32(0.035) * np.float32(1e-6)
    assert lines[-1].endswith(f"after {steps_until_momentum_underflow(m_tiny, 0.965)} steps")


def test_format_drift_comparison_quotes_the_dict():
    d = {"eq1_half": 39372, "eq1_99": 261644, "released_half": 4840, "released_99": 7451,
         "released_at_8000": 99.63, "absence": 2258, "eq1_per_absence": 0.0389,
         "released_per_absence": 53.2, "eq1_absences_99": 116, "released_absences_99": 4}
    lines = tiger.format_drift_comparison(d, learning_rate=1.76e-3).splitlines()
    assert lines[0] == "eq. (1), eta = 0.00176: half-way after 39,372 steps, 99 % after 261,644"
    assert "|theta| after 8,000 steps: 99.6" in lines[1]
    assert "eq. (1) covers 3.9% of the remaining way" in lines[2] and lines[2].endswith("by 53")
    assert lines[3] == "absences pushing the same way to reach 99 %: eq. (1) 116, released rule 4"


def test_format_summary_is_a_table_of_the_rows():
    row = {"variant": "tiger", "train_loss": 5.8271, "test_loss": 5.847, "emb_min": -0.913,
           "emb_max": 0.914, "rare": 253, "rare_absent": 231, "rare_median": 0.8412,
           "rare_pinned": 1.0, "other_pinned": 0.3201, "rare_output_pinned": 0.59}
    header, line, note = tiger.format_summary([row]).splitlines()
    assert re.match(r"variant\s+train\s+test\s+emb min", header)  # the e2e test looks for it
    assert "rare  rare med  rare>0.5" in header
    assert line.split() == ["tiger", "5.827", "5.847", "-0.913", "0.914", "253", "0.841", "100%",
                            "32.0%", "59%"]
    assert note == "rare: characters seen 1-3 times and absent for the last 231 updates or more"
    empty = dict(row, rare=0, rare_median=None, rare_pinned=None, rare_output_pinned=None)
    assert tiger.format_summary([empty]).splitlines()[1].split()[5:8] == ["0", "-", "-"]


def test_format_baselines_quotes_the_closed_form_bound():
    text = tiger.format_baselines(ExperimentConfig(), 6.5271)
    bound = 1 - 0.997**800 * (1 - 0.05)  # 1/lambda - (1 - lr lambda)^steps (1/lambda - 0.05)
    assert text.splitlines() == [
        "unigram model (no context): test loss 6.527",
        f"closed form, eq. (1): a row seen at the first step can reach at most {bound:.3f}"]
    assert f"{bound:.3f}" == "0.914"  # the bound the notebook's Markdown quotes


def test_format_verdicts_once_seen_and_sign_agreements():
    rows = [{"variant": "tiger", "rare_pinned": 1.0, "rare_output_pinned": 0.55,
             "test_loss": 5.8},
            {"variant": "lazy_tiger", "rare_pinned": 0.0, "rare_output_pinned": 0.7,
             "test_loss": 5.81}]
    line, = tiger.format_remedy_verdicts(rows).splitlines()
    assert line.startswith("lazy_tiger  embedding: fixed (0% of rare rows")
    once = tiger.format_released_once_seen({"n_updates": 611, "count": 27, "at_fixed_point": 1.0})
    assert "at least 611 updates before the end: 27;" in once and once.endswith(": 100%")
    agreement = {"tied_unseen": 0.98767, "n_unseen": 71, "tiger_rare": 0.5232, "n_rare": 253}
    unseen, rare = tiger.format_sign_agreements(agreement).splitlines()
    assert unseen.startswith("never-seen rows under tied Tiger (71): 98.8%")
    assert rare.startswith("rare rows under Tiger (253): 52.3%")
