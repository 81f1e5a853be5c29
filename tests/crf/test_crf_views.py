"""Lesson 03's views: the text tables, the figures (their data and that a cell shows each once),
the segmented sentence, and the two widgets' callbacks."""

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
from crf_testing import TINY, fake_live, same_training

from lessons import crf


def test_segment_text_and_html():
    assert crf.segment_text("他喜欢北京", "sbebe") == "他 / 喜欢 / 北京"
    assert crf.segment_text("他喜欢", [0, 1, 3]) == "他 / 喜欢"
    html = crf.segment_html("他<欢", "sbe")
    assert "&lt;" in html and html.count("<span") == 3 + 4  # 3 characters + legend


def test_text_tables_of_the_stored_sweep():
    sweep = crf.load_sweep()
    rows = crf.multiplier_table(sweep, 1e-3, 0)
    table = crf.format_multiplier_table(rows)
    assert len(table.splitlines()) == 6  # header, 4 multipliers, softmax
    assert table.splitlines()[1].split() == [
        "crf", "1", f"{rows[0]['epoch1']:.3f}", f"{rows[0]['best']:.3f}",
        f"{rows[0]['rows_ordered']}/4", f"{rows[0]['spread']:.2f}",
        f"{rows[0]['emission_margin']:.2f}"]
    assert table.splitlines()[-1].split()[:2] == ["softmax", "-"]
    text = crf.format_multiplier_tables(sweep, 1e-3)
    assert len(text.splitlines()) == 3 * 7 and text.startswith("body lr 0.001, depth 0\n")
    assert table in text
    post = crf.format_post_tables(sweep, depths=(1, 2))
    assert post.startswith("depth 1\n") and crf.format_post_table(crf.post_table(sweep, 2)) in post
    summary = crf.format_sweep_summary(sweep)
    assert summary.startswith(f"{len(sweep['runs'])} runs") and "complete: True" in summary
    order = crf.format_transition_order(crf.transition_comparison(sweep, 1e-4, 0))
    assert len(order.splitlines()) == 4 and "-1.17   0.46  -0.99   0.20" in order  # the post's


def test_texts_of_the_live_results():
    assert "CRF x10" in crf.format_live(fake_live())
    assert crf.format_live(fake_live()).splitlines()[1].split() == [
        "CRF", "x1", "1e-03", "0.650", "0.700", "0.60", "4/4"]
    steps = {"multipliers": [10.0], "adam": [10.0], "sgd": [100.0]}
    assert "= 1.000 k;" in crf.format_multiplier_steps(steps)
    piece = crf.sample_sentence(32)
    assert crf.format_tagged(piece).splitlines() == [
        piece.chars, piece.tags, crf.segment_text(piece.chars, piece.tags)]
    data = crf.prepare_data(300, 50, 16)
    assert crf.format_data_summary(data) == (
        f"vocabulary {len(data['vocab'])} characters; pieces: train {len(data['train'][0])}, "
        f"test {len(data['test'][0])}")


def test_figures_show_the_data_and_are_shown_once():
    """Each plot_* returns a Figure that pyplot does not hold (so a cell that returns it shows
    it once), drawn from the data the tests above check."""
    sweep = crf.load_sweep()
    open_before = plt.get_fignums()
    fig = crf.plot_multiplier_effect(sweep, 1e-3)
    effect = crf.multiplier_effect(sweep, 1e-3)
    left, right = fig.axes
    for ax, key in ((left, "epoch1"), (right, "best")):
        curves = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
        assert [list(line.get_ydata()) for line in curves] == [effect[d][key] for d in (0, 1, 2)]
        assert list(curves[0].get_xdata()) == effect[0]["multipliers"]
    pair = crf.transition_comparison(sweep, 1e-4, 0)
    fig = crf.plot_transition_comparison(pair)
    images = [ax.get_images()[0].get_array() for ax in fig.axes]
    for image, item in zip(images, pair.values(), strict=True):
        np.testing.assert_allclose(image, item["transitions"])
    assert plt.get_fignums() == open_before


def test_sweep_explorer_callback_follows_the_sliders():
    sweep = crf.load_sweep()
    widget = crf.sweep_explorer(sweep)
    body_lr, multiplier, depth = widget.children[:3]
    body_lr.value, multiplier.value, depth.value = 1e-4, 1000.0, 1
    run = crf.find_run(sweep, 1e-4, 1, 1000.0)
    assert widget.result["f1"] == run["f1"]
    assert widget.result["transitions"] == run["crf"]["transitions"]
    assert widget.result["softmax_f1"] == crf.find_run(sweep, 1e-4, 1, head="softmax")["f1"]
    np.testing.assert_allclose(widget.result["order"],
                               crf.transition_order(run["crf"]["transitions"]))
    image = bytes(widget.children[-1].value)
    assert image.startswith(b"\x89PNG")
    multiplier.value = 1.0
    assert widget.result["f1"] == crf.find_run(sweep, 1e-4, 1, 1.0)["f1"]
    assert bytes(widget.children[-1].value) != image  # the figure was redrawn


def test_train_panel_callback_trains_what_the_sliders_say(tiny_run):
    panel = crf.train_panel(epochs=2, train_sentences=100, test_sentences=20, max_len=16,
                            jit_compile=False)
    panel.body_lr.value, panel.lr_multiplier.value, panel.depth.value = 1e-3, 100, 0
    panel.button.click()  # the button's callback is panel.train()
    result = panel.result
    assert result["config"] == dataclasses.asdict(TINY)  # sliders + size, course seed 0
    assert same_training(result["run"], tiny_run)  # what train_run gives for that config
    assert result["f1"] == tiny_run["f1"]
    assert result["transitions"][-1] == tiny_run["crf"]["transitions"]
    assert len(result["transitions"]) == 2 and panel.progress.value == panel.progress.max > 0
    assert "epoch 2/2" in panel.status.value and not panel.button.disabled
    assert bytes(panel.plot.value).startswith(b"\x89PNG") and "<span" in panel.sample.value
    piece = crf.sample_sentence(16, 16)
    assert result["sample"] == crf.segment_text(piece.chars, result["sample_tags"])
    assert len(result["sample_tags"]) == len(piece.chars)
    panel.head.value = "softmax"
    assert panel.train()["transitions"] == [] and panel.result["run"]["crf"] is None
