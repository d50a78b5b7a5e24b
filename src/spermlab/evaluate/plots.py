"""Evaluation plots: the Bland-Altman difference plot and the precision-recall curve.

Figures are built on :class:`matplotlib.figure.Figure` directly, never through
``pyplot``: no backend is selected or needed, no global figure state is kept, and the
functions are safe in worker processes and headless servers. Save a figure with
``fig.savefig(path_or_buffer, format="png" | "svg" | "pdf")``. Pass ``ax`` to draw into
an existing axes (e.g. one panel of a report figure); the root figure is returned.

References
----------
.. [1] Bland JM, Altman DG (1986). Statistical methods for assessing agreement between
   two methods of clinical measurement. Lancet 327(8476):307-310.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from spermlab.evaluate.agreement import BlandAltman

__all__ = ["plot_bland_altman", "plot_pr_curve"]


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """A new figure with one axes, or the root figure of ``ax``."""
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    fig = ax.figure
    while not isinstance(fig, Figure):  # a SubFigure: climb to the root figure
        fig = fig.figure
    return fig, ax


def _hline(ax: Axes, y: float, text: str, gid: str, *, ls: str, color: str,
           left: bool = False) -> None:
    """A horizontal line across the axes with its label written on it."""
    if not math.isfinite(y):
        return
    ax.axhline(y, ls=ls, color=color, lw=1.2, gid=gid, label=text)
    ax.text(0.01 if left else 0.99, y, text, transform=ax.get_yaxis_transform(),
            ha="left" if left else "right", va="bottom", fontsize="small", color=color,
            gid=f"{gid}_label", zorder=4,
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1.0})


def plot_bland_altman(ba: BlandAltman, *, ax: Axes | None = None, title: str | None = None,
                      units: str | None = None,
                      names: tuple[str, str] = ("method", "reference")) -> Figure:
    """Draw a Bland-Altman difference plot [1]_.

    Each pair is a point at (mean of the two, ``method - reference``). Horizontal lines
    mark the bias as the mean difference (solid, gid ``"bias_mean"``), the median
    difference (dotted, ``"bias_median"``), the 95 % limits of agreement (dashed,
    ``"loa_low"``, ``"loa_high"``) and zero (thin grey, ``"zero"``); each line carries
    its value as a label. Where the confidence intervals of the bias and the limits are
    finite they are drawn as shaded bands. Lines whose value is NaN (n < 2) are omitted.

    Parameters
    ----------
    ba : BlandAltman
        The result of :func:`spermlab.evaluate.agreement.bland_altman`.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes instead of a new figure.
    title : str, optional
        Axes title.
    units : str, optional
        Unit appended to both axis labels, e.g. ``"%"`` or ``"10^6/mL"``.
    names : (str, str), default ("method", "reference")
        What the two sides are called in the axis labels.

    Returns
    -------
    matplotlib.figure.Figure
        The new figure, or the root figure of ``ax``.

    Examples
    --------
    >>> from io import BytesIO
    >>> from spermlab.evaluate.agreement import bland_altman
    >>> fig = plot_bland_altman(bland_altman([12.0, 25.0, 33.0], [10.0, 24.0, 30.0]))
    >>> fig.savefig(BytesIO(), format="png")
    """
    if not isinstance(ba, BlandAltman):
        raise TypeError(f"ba must be a BlandAltman (see bland_altman()); got {type(ba).__name__}")
    fig, ax = _axes(ax, (6.0, 4.5))
    unit = f" [{units}]" if units else ""
    ax.axhline(0.0, color="0.6", lw=0.8, gid="zero")
    for lo, hi, gid in ((*ba.bias_ci, "bias_ci"), (*ba.loa_low_ci, "loa_low_ci"),
                        (*ba.loa_high_ci, "loa_high_ci")):
        if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
            ax.axhspan(lo, hi, color="C1" if gid == "bias_ci" else "C3", alpha=0.12,
                       lw=0, gid=gid)
    ax.scatter(ba.means, ba.diffs, s=18, color="C0", alpha=0.8, gid="pairs")
    _hline(ax, ba.bias_mean, f"mean {ba.bias_mean:.3g}", "bias_mean", ls="-", color="C1")
    _hline(ax, ba.bias_median, f"median {ba.bias_median:.3g}", "bias_median", ls=":",
           color="C2", left=True)
    _hline(ax, ba.loa_high, f"+1.96 SD {ba.loa_high:.3g}", "loa_high", ls="--", color="C3")
    _hline(ax, ba.loa_low, f"-1.96 SD {ba.loa_low:.3g}", "loa_low", ls="--", color="C3")
    ax.set_xlabel(f"mean of {names[0]} and {names[1]}{unit}")
    ax.set_ylabel(f"{names[0]} - {names[1]}{unit}")
    if title:
        ax.set_title(title)
    return fig


def _unit_interval_1d(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {arr.shape}")
    if not np.all(np.isfinite(arr) & (arr >= 0.0) & (arr <= 1.0)):
        raise ValueError(f"{name} must be finite and within [0, 1]; got values from "
                         f"{np.nanmin(arr) if arr.size else None} to "
                         f"{np.nanmax(arr) if arr.size else None}")
    return arr


def plot_pr_curve(recall: ArrayLike, precision: ArrayLike, *, ax: Axes | None = None,
                  label: str | None = None) -> Figure:
    """Draw a precision-recall curve from plain arrays.

    The points are joined as a step function (``drawstyle="steps-post"``), the usual
    rendering of the interpolated precision of detection benchmarks. Call again with the
    same ``ax`` to overlay several curves; a legend is drawn when ``label`` is given.

    Parameters
    ----------
    recall, precision : array_like, 1-D
        Matching points of the curve, each in [0, 1], in order of increasing recall
        (e.g. from :mod:`spermlab.evaluate.detection`).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes instead of a new figure.
    label : str, optional
        Legend entry for the curve, e.g. ``"classical (AP 0.61)"``.

    Returns
    -------
    matplotlib.figure.Figure
        The new figure, or the root figure of ``ax``.

    Examples
    --------
    >>> fig = plot_pr_curve([0.0, 0.5, 1.0], [1.0, 0.8, 0.4], label="detector")
    >>> fig.axes[0].get_xlabel()
    'recall'
    """
    r = _unit_interval_1d(recall, "recall")
    p = _unit_interval_1d(precision, "precision")
    if r.size != p.size:
        raise ValueError(f"recall and precision must have the same length; "
                         f"got {r.size} (recall) and {p.size} (precision)")
    fig, ax = _axes(ax, (5.0, 4.5))
    ax.plot(r, p, drawstyle="steps-post", label=label, gid="pr_curve")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    if label is not None:
        ax.legend(loc="lower left")
    return fig
