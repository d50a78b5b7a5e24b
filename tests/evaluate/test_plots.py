"""Evaluation plots: they render headless to PNG and SVG and draw the expected artists."""

from __future__ import annotations

import subprocess
import sys
from io import BytesIO

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from spermlab.evaluate.agreement import bland_altman
from spermlab.evaluate.plots import plot_bland_altman, plot_pr_curve


def _render(fig: Figure, fmt: str) -> bytes:
    buf = BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()


def _line(ax, gid: str) -> Line2D:
    found = [ln for ln in ax.lines if ln.get_gid() == gid]
    assert len(found) == 1, f"expected one line with gid {gid!r}, got {len(found)}"
    return found[0]


@pytest.fixture
def ba():
    ref = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    return bland_altman(ref + np.array([1.0, 2.0, 3.0, 10.0, 2.0]), ref)


def test_bland_altman_plot_renders_png_and_svg(ba):
    fig = plot_bland_altman(ba, title="progressive motility", units="%")
    assert isinstance(fig, Figure)
    assert _render(fig, "png").startswith(b"\x89PNG\r\n\x1a\n")
    svg = _render(fig, "svg")
    assert b"<svg" in svg and b"progressive motility" in svg


def test_bland_altman_plot_draws_bias_median_and_limits(ba):
    fig = plot_bland_altman(ba, units="%", names=("spermlab", "manual"))
    (ax,) = fig.axes
    expected = {"bias_mean": ba.bias_mean, "bias_median": ba.bias_median,
                "loa_low": ba.loa_low, "loa_high": ba.loa_high, "zero": 0.0}
    for gid, y in expected.items():
        np.testing.assert_allclose(_line(ax, gid).get_ydata(), [y, y])
    assert _line(ax, "loa_low").get_linestyle() == "--"
    texts = {t.get_gid(): t.get_text() for t in ax.texts}
    assert texts["bias_mean_label"] == "mean 3.6"
    assert texts["bias_median_label"] == "median 2"
    assert texts["loa_high_label"].startswith("+1.96 SD")
    (points,) = ax.collections
    np.testing.assert_allclose(points.get_offsets(), np.column_stack([ba.means, ba.diffs]))
    assert ax.get_ylabel() == "spermlab - manual [%]"
    assert ax.get_xlabel() == "mean of spermlab and manual [%]"
    ymin, ymax = ax.get_ylim()
    assert ymin <= ba.loa_low_ci[0] and ymax >= ba.loa_high_ci[1]  # limits and bands visible
    assert {p.get_gid() for p in ax.patches} == {"bias_ci", "loa_low_ci", "loa_high_ci"}


def test_bland_altman_plot_draws_into_given_axes():
    fig = Figure()
    left, right = fig.subplots(1, 2)
    out = plot_bland_altman(bland_altman([1.0, 2.0, 4.0], [1.5, 2.0, 3.0]), ax=right)
    assert out is fig and not left.lines and right.lines
    parent = Figure()
    ax = parent.subfigures(1, 2)[1].add_subplot()  # a panel of a sub-figure
    root = plot_bland_altman(bland_altman([1.0, 2.0, 4.0], [1.5, 2.0, 3.0]), ax=ax)
    assert root is parent
    assert _render(root, "png")


def test_bland_altman_plot_of_a_single_pair_skips_undefined_limits():
    fig = plot_bland_altman(bland_altman([3.0], [1.0]))
    (ax,) = fig.axes
    assert {ln.get_gid() for ln in ax.lines} == {"zero", "bias_mean", "bias_median"}
    assert not ax.patches
    assert _render(fig, "svg")


def test_bland_altman_plot_rejects_other_input():
    with pytest.raises(TypeError, match="BlandAltman"):
        plot_bland_altman({"bias_mean": 1.0})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Axes"):
        plot_bland_altman(bland_altman([1.0], [1.0]), ax="left")  # type: ignore[arg-type]


def test_pr_curve_renders_and_overlays():
    recall = np.array([0.0, 0.25, 0.5, 0.75, 0.9])
    precision = np.array([1.0, 1.0, 0.8, 0.6, 0.45])
    fig = plot_pr_curve(recall, precision, label="classical")
    (ax,) = fig.axes
    line = _line(ax, "pr_curve")
    np.testing.assert_allclose(line.get_xdata(), recall)
    np.testing.assert_allclose(line.get_ydata(), precision)
    assert line.get_drawstyle() == "steps-post"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["classical"]
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_xlabel() == "recall"
    assert plot_pr_curve([0.0, 1.0], [1.0, 0.5], ax=ax, label="yolo") is fig
    assert len(ax.lines) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["classical", "yolo"]
    assert _render(fig, "png").startswith(b"\x89PNG")
    assert b"<svg" in _render(fig, "svg")


def test_pr_curve_without_label_has_no_legend():
    fig = plot_pr_curve([0.0, 0.5], [1.0, 0.7])
    assert fig.axes[0].get_legend() is None


@pytest.mark.parametrize(
    "recall, precision, match",
    [
        ([0.0, 0.5], [1.0], "same length; got 2 \\(recall\\) and 1 \\(precision\\)"),
        ([0.0, 1.5], [1.0, 0.5], "recall must be finite and within \\[0, 1\\]"),
        ([0.0, 0.5], [1.0, np.nan], "precision must be finite"),
        ([[0.0, 0.5]], [[1.0, 0.5]], "1-D"),
    ],
)
def test_pr_curve_rejects_bad_arrays(recall, precision, match):
    with pytest.raises(ValueError, match=match):
        plot_pr_curve(recall, precision)


def test_plots_module_needs_no_pyplot():
    code = ("import sys, spermlab.evaluate.plots as p, spermlab.evaluate.agreement as a; "
            "p.plot_bland_altman(a.bland_altman([1.0, 2.0, 4.0], [1.0, 2.5, 3.0])); "
            "sys.exit('matplotlib.pyplot' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
