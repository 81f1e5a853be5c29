"""Figures: a new figure that pyplot does not keep, and figures in widgets (every lesson's explorer
draws a matplotlib figure into an ``Image`` widget).

Widgets draw into ``ipywidgets.Image`` rather than ``Output``: nbclient 0.11 crashes when an
``Output`` captures output while a notebook is executed without storing widget state.
"""

from __future__ import annotations

__all__ = ["axes_or_new", "figure_explorer", "figure_png", "image_widget", "new_figure"]


def new_figure(nrows: int = 1, ncols: int = 1, **subplots):
    """A new figure and its axes (``plt.subplots(nrows, ncols, **subplots)``), closed in pyplot:
    a cell that returns the figure shows it once, and pyplot keeps no second copy.

    Args:
        nrows, ncols: the grid of axes (default 1 x 1: one axes, not an array).
        **subplots: passed on to ``plt.subplots`` (``figsize``, ``sharey``, ``squeeze`` ...).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, **subplots)
    plt.close(fig)
    return fig, axes


def axes_or_new(ax=None, **subplots):
    """``ax`` if given, else the one axes of a ``new_figure(**subplots)``.

    Args:
        ax: axes to draw on (default None: a new figure's).
        **subplots: passed on to ``new_figure`` when ``ax`` is None (``figsize`` ...).
    """
    return ax if ax is not None else new_figure(**subplots)[1]


def figure_png(fig) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def image_widget(fig=None, width: str = "648px"):
    """An ``ipywidgets.Image`` showing ``fig`` (if given); set ``.value = figure_png(fig)`` to redraw."""
    import ipywidgets as widgets

    image = widgets.Image(format="png", layout=widgets.Layout(width=width))
    if fig is not None:
        image.value = figure_png(fig)
    return image


def figure_explorer(draw, width: str = "648px", **controls):
    """Controls that redraw a figure: ``draw(**values)`` returns ``(figure, result)``.

    Returns an ``ipywidgets.interactive`` whose ``.result`` is the last ``result`` and whose last
    child is the Image with the last figure.
    """
    import ipywidgets as widgets

    image = image_widget(width=width)

    def redraw(**values):
        fig, result = draw(**values)
        image.value = figure_png(fig)
        return result

    explorer = widgets.interactive(redraw, **controls)
    explorer.children = (*explorer.children, image)
    return explorer
