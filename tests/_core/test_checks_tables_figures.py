"""lessons._core: argument checks, text tables and the figure widget helpers."""

import math

import numpy as np
import pytest

from lessons._core import checks
from lessons._core.figures import figure_explorer, figure_png, image_widget
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
