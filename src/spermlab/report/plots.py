"""The figures of the sample report: kinematics distributions and quality control.

Figures are built on :class:`matplotlib.figure.Figure` directly, never through
``pyplot``: no backend is selected, no global state is kept, and the functions are safe
on headless servers and in worker processes (the pattern of
:mod:`spermlab.evaluate.plots`). Save a figure with ``fig.savefig(buffer, format="png")``
or embed it in HTML with :func:`figure_to_data_uri`.

Grades are coloured with the Okabe-Ito palette, which stays distinguishable with the
common forms of colour-vision deficiency.

References
----------
.. [1] Okabe M, Ito K (2008). Color Universal Design (CUD): how to make figures and
   presentations that are friendly to colorblind people. https://jfly.uni-koeln.de/color/
.. [2] World Health Organization. WHO laboratory manual for the examination and
   processing of human semen, 6th ed. Geneva, 2021, section 3.5.2.
"""

from __future__ import annotations

import base64
from io import BytesIO

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from spermlab.analysis.motility import GRADES

__all__ = [
    "GRADE_COLOURS",
    "UNGRADED_COLOUR",
    "figure_to_data_uri",
    "plot_detections_per_frame",
    "plot_drift",
    "plot_lin_vsl",
    "plot_track_lengths",
    "plot_velocity_histograms",
]

#: Colour of each WHO grade (Okabe-Ito [1]_): a bluish green, b sky blue, c orange,
#: d vermillion.
GRADE_COLOURS: dict[str, str] = {"a": "#009E73", "b": "#56B4E9", "c": "#E69F00", "d": "#D55E00"}

#: Colour of tracks that were not graded (too short, or not a sperm head).
UNGRADED_COLOUR = "#BBBBBB"

#: WHO 2021 speed boundaries drawn on the velocity plots (µm/s) [2]_.
SPEED_LINES: tuple[float, float] = (5.0, 25.0)

_VELOCITIES = (("vcl", "VCL"), ("vsl", "VSL"), ("vap", "VAP"))


def figure_to_data_uri(fig: Figure, *, dpi: int = 110) -> str:
    """Render a figure as a ``data:image/png;base64,...`` URI for a self-contained page.

    Parameters
    ----------
    fig : Figure
        The figure.
    dpi : int, default 110
        Resolution of the PNG.

    Returns
    -------
    str
        The data URI.
    """
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _grade_groups(kinematics: pd.DataFrame, column: str) -> list[tuple[str, np.ndarray]]:
    """Finite values of ``column`` per grade, in grade order."""
    out = []
    for g in GRADES:
        v = kinematics.loc[kinematics["grade"] == g, column].to_numpy(dtype=float)
        out.append((g, v[np.isfinite(v)]))
    return out


def _speed_lines(ax: Axes, *, vertical: bool = True) -> None:
    """The 5 and 25 µm/s lines with their labels (gids ``speed_5`` and ``speed_25``)."""
    for v in SPEED_LINES:
        ax.axvline(v, color="#333333", ls="--", lw=1.0, gid=f"speed_{v:g}", zorder=3)
        ax.text(v, 0.98, f" {v:g}", transform=ax.get_xaxis_transform(), ha="left", va="top",
                fontsize="x-small", color="#333333")


def _empty_note(ax: Axes, text: str = "no graded tracks") -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#777777")


def plot_velocity_histograms(kinematics: pd.DataFrame) -> Figure:
    """VCL, VSL and VAP histograms, stacked by WHO grade, with the 5 and 25 µm/s lines.

    Parameters
    ----------
    kinematics : DataFrame
        A graded Kinematics table (:mod:`spermlab.tables`).

    Returns
    -------
    Figure
        One row of three axes, titled ``VCL``, ``VSL`` and ``VAP``; the 5 and 25 µm/s
        lines carry the gids ``speed_5`` and ``speed_25``.
    """
    fig = Figure(figsize=(10.5, 3.1), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (col, name) in zip(axes, _VELOCITIES, strict=True):
        groups = _grade_groups(kinematics, col)
        values = np.concatenate([v for _, v in groups]) if groups else np.array([])
        ax.set_title(name)
        ax.set_xlabel(f"{name} (µm/s)")
        if values.size == 0:
            _empty_note(ax)
            continue
        top = max(30.0, float(np.percentile(values, 99)) * 1.05)
        bins = np.linspace(0.0, top, 31)
        ax.hist([np.clip(v, 0, top) for _, v in groups], bins=bins, stacked=True,
                color=[GRADE_COLOURS[g] for g, _ in groups],
                label=[f"{g} {GRADES[g]}" for g, _ in groups])  # fmt: skip
        _speed_lines(ax)
        ax.set_xlim(0, top)
    axes[0].set_ylabel("tracks")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize="small",
                   frameon=False)  # fmt: skip
    return fig


def plot_lin_vsl(kinematics: pd.DataFrame) -> Figure:
    """Linearity (LIN = VSL/VCL) against VSL, one point per graded track, coloured by grade.

    Parameters
    ----------
    kinematics : DataFrame
        A graded Kinematics table.

    Returns
    -------
    Figure
        One axes; the 5 and 25 µm/s lines carry the gids ``speed_5`` and ``speed_25``.
    """
    fig = Figure(figsize=(5.2, 3.4), layout="constrained")
    ax = fig.add_subplot()
    for g in GRADES:
        k = kinematics[kinematics["grade"] == g]
        ax.scatter(k["vsl"], k["lin"], s=12, color=GRADE_COLOURS[g], alpha=0.8,
                   edgecolors="none", label=f"{g} {GRADES[g]} ({len(k)})")  # fmt: skip
    _speed_lines(ax)
    ax.set_xlabel("VSL (µm/s)")
    ax.set_ylabel("LIN (VSL / VCL)")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    if len(kinematics):
        ax.legend(fontsize="x-small", frameon=False, loc="best")
    else:
        _empty_note(ax)
    return fig


def plot_detections_per_frame(detections: pd.DataFrame, *, n_frames: int, fps: float) -> Figure:
    """Heads found in each frame over time; a drop shows focus loss or a damaged frame.

    Parameters
    ----------
    detections : DataFrame
        A Detections table.
    n_frames : int
        Frames analysed (frames with no detection count as zero).
    fps : float
        Frame rate, for the time axis.

    Returns
    -------
    Figure
        One axes; the sperm-head count line has the gid ``sperm_per_frame``.
    """
    fig = Figure(figsize=(4.2, 2.6), layout="constrained")
    ax = fig.add_subplot()
    t = np.arange(n_frames) / fps
    sperm = _per_frame(detections[detections["cls"] == 0], n_frames)
    other = _per_frame(detections[detections["cls"] != 0], n_frames)
    ax.plot(t, sperm, color="#0072B2", lw=1.0, gid="sperm_per_frame", label="sperm heads")
    if other.any():
        ax.plot(t, other, color="#CC79A7", lw=1.0, label="clusters / pinheads")
    ax.axhline(float(sperm.mean()) if n_frames else 0.0, color="#333333", ls=":", lw=1.0,
               label=f"mean {sperm.mean():.1f}" if n_frames else "mean")  # fmt: skip
    ax.set_xlabel("time (s)")
    ax.set_ylabel("detections per frame")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="x-small", frameon=False, loc="lower right")
    return fig


def _per_frame(detections: pd.DataFrame, n_frames: int) -> np.ndarray:
    frames = detections["frame"].to_numpy(dtype=np.int64)
    frames = frames[(frames >= 0) & (frames < n_frames)]
    return np.bincount(frames, minlength=n_frames)


def plot_track_lengths(tracks: pd.DataFrame, *, min_points: int, fps: float) -> Figure:
    """Histogram of the sperm tracks' lengths, with the shortest graded length marked.

    Parameters
    ----------
    tracks : DataFrame
        A Tracks table (only sperm heads, ``cls == 0``, are counted).
    min_points : int
        Tracks shorter than this are not graded (line with gid ``min_points``).
    fps : float
        Frame rate, for the secondary axis in seconds.

    Returns
    -------
    Figure
        One axes.
    """
    fig = Figure(figsize=(4.2, 2.6), layout="constrained")
    ax = fig.add_subplot()
    lengths = tracks.loc[tracks["cls"] == 0].groupby("track_id").size().to_numpy()
    if lengths.size:
        bins = np.unique(np.geomspace(1, max(lengths.max(), 2) + 1, 30).astype(int)).tolist()
        short = lengths < min_points
        names = [f"too short ({short.sum()})", f"graded length ({(~short).sum()})"]
        ax.hist([lengths[short], lengths[~short]], bins=bins, stacked=True,
                color=[UNGRADED_COLOUR, "#0072B2"], label=names)  # fmt: skip
        ax.set_xscale("log")
        ax.legend(fontsize="x-small", frameon=False)
    else:
        _empty_note(ax, "no tracks")
    ax.axvline(min_points, color="#333333", ls="--", lw=1.0, gid="min_points")
    ax.set_xlabel(f"track length (frames; {fps:g} frames = 1 s)")
    ax.set_ylabel("tracks")
    return fig


def plot_drift(drift: pd.DataFrame, *, um_per_px: float, fps: float) -> Figure:
    """The field's estimated drift (position relative to the first frame) over time.

    Parameters
    ----------
    drift : DataFrame
        Columns ``frame``, ``dx``, ``dy`` in pixels (``drift.csv``).
    um_per_px, fps : float
        Calibration, for µm and seconds.

    Returns
    -------
    Figure
        One axes with the lines ``drift_x`` and ``drift_y`` (gids), in µm.
    """
    fig = Figure(figsize=(4.2, 2.6), layout="constrained")
    ax = fig.add_subplot()
    if len(drift):
        t = drift["frame"].to_numpy(dtype=float) / fps
        ax.plot(t, drift["dx"].to_numpy() * um_per_px, color="#0072B2", lw=1.2, gid="drift_x",
                label="x")  # fmt: skip
        ax.plot(t, drift["dy"].to_numpy() * um_per_px, color="#D55E00", lw=1.2, gid="drift_y",
                label="y")  # fmt: skip
        ax.legend(fontsize="x-small", frameon=False)
    else:
        _empty_note(ax, "no drift estimated")
    ax.axhline(0, color="#999999", lw=0.8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("drift (µm)")
    return fig
