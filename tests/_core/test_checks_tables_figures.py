"""lessons._core: argument checks, dense gradients, text tables, new figures and the figure widget
helpers."""

import math

import numpy as np
import pytest

from lessons._core import checks, gradients
from lessons._core.figures import axes_or_new, figure_explorer, figure_png, image_widget, new_figure
from lessons._core.tables import Column, format_table


def test_integer_accepts_ints_in_range_and_names_the_argument_otherwise():
    assert checks.integer("steps", 5) == 5
    assert checks.integer("steps", np.int64(3)) == 3
    assert checks.integer("depth", 0, low=0, high=2) == 0
    with pytest.raises(ValueError, match=r"steps must be an int in \[1, inf\), got 0"):
        checks.integer("steps", 0)
    with pytest.raises(ValueError, match=r"depth must be an int in \[0, 2\], got 3"):
        checks.integer("depth", 3, low=0, high=2)
    for bad in (1.5, True, "2"):
        with pytest.raises(ValueError, match="steps must be an int"):
            checks.integer("steps", bad)


def test_number_checks_finite_and_open_or_closed_ends():
    assert checks.number("lr", 1e-3, low=0, low_open=True) == 1e-3
    with pytest.raises(ValueError, match=r"lr must be in \(0, inf\), got 0"):
        checks.number("lr", 0.0, low=0, low_open=True)
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\), got 1"):
        checks.number("beta", 1.0, low=0, high=1, high_open=True)
    with pytest.raises(ValueError, match="lam must be a finite number"):
        checks.number("lam", math.nan, low=0)
    with pytest.raises(ValueError, match="lam must be a number"):
        checks.number("lam", "1", low=0)


def test_one_of_lists_the_options():
    assert checks.one_of("method", "adam", ("adam", "sgd")) == "adam"
    with pytest.raises(ValueError, match="method must be one of 'adam', 'sgd'; got 'lion'"):
        checks.one_of("method", "lion", ("adam", "sgd"))


def test_dense_gradient_sums_repeated_ids_and_casts():
    import tensorflow as tf

    # an Embedding's gradient: rows 0 and 2 of a 3 x 2 table, row 2 seen twice in the batch
    sparse = tf.IndexedSlices(values=tf.constant([[1.0, 2.0], [3.0, 4.0], [0.5, 0.25]]),
                              indices=tf.constant([2, 0, 2]), dense_shape=tf.constant([3, 2]))
    dense = gradients.dense_gradient(sparse, "float64")
    assert dense.dtype == tf.float64
    np.testing.assert_array_equal(dense.numpy(), [[3.0, 4.0], [0.0, 0.0], [1.5, 2.25]])
    plain = gradients.dense_gradient(np.array([1.5, -2.0], np.float32), "float16")
    assert plain.dtype == tf.float16 and plain.numpy().tolist() == [1.5, -2.0]


def test_format_table_aligns_columns_and_shows_missing_values():
    rows = [{"name": "tiger", "loss": 5.8123, "share": 0.434},
            {"name": "adamw", "loss": 5.7, "share": None}]
    text = format_table(rows, [Column("name", "optimizer"), Column("loss", "test loss", ".3f"),
                               Column("share", "rows>0.5", ".1%")])
    assert text.splitlines() == ["optimizer  test loss  rows>0.5",
                                 "tiger          5.812     43.4%",
                                 "adamw          5.700         -"]
    with pytest.raises(ValueError, match="columns must name at least one Column"):
        format_table(rows, [])


def _figure(x):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, x])
    return fig


def test_new_figure_is_not_kept_by_pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig, ax = new_figure(figsize=(3.0, 2.0))
    assert plt.get_fignums() == before  # closed: a cell returning it shows it once
    assert tuple(fig.get_size_inches()) == (3.0, 2.0) and ax.figure is fig
    fig, axes = new_figure(2, 3, squeeze=False, sharey=True)
    assert axes.shape == (2, 3) and plt.get_fignums() == before
    assert axes_or_new(ax) is ax
    fresh = axes_or_new(figsize=(4.0, 1.5))
    assert fresh is not ax and tuple(fresh.figure.get_size_inches()) == (4.0, 1.5)


def test_figure_png_and_image_widget_hold_png_bytes():
    png = figure_png(_figure(1.0))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert image_widget(_figure(1.0)).value[:8] == b"\x89PNG\r\n\x1a\n"
    assert image_widget().value == b""


def test_figure_explorer_redraws_and_keeps_the_result():
    import ipywidgets as widgets

    explorer = figure_explorer(lambda x: (_figure(x), {"x": x}),
                               x=widgets.FloatSlider(1.0, min=0.0, max=2.0))
    image = explorer.children[-1]
    first = image.value
    assert explorer.result == {"x": 1.0} and first[:4] == b"\x89PNG"
    explorer.children[0].value = 2.0
    assert explorer.result == {"x": 2.0} and image.value != first
