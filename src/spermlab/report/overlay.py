"""The track map of the report: every track drawn over a frame, as inline SVG.

Each sperm track is a ``<g class="trk" data-track="ID" data-grade="G">`` holding a
``<title>`` (shown on hover: id, grade, VCL/VSL/VAP, length), the path as a
``<polyline>`` and its last position as a ``<circle>``. Graded tracks are coloured by
grade (:data:`spermlab.report.plots.GRADE_COLOURS`, Okabe-Ito); tracks too short to be
graded are thin and grey. The frame is embedded as a JPEG data URI, or the map is drawn
on a blank canvas of the frame size when no frame is given.
"""

from __future__ import annotations

import base64
import math
from html import escape
from io import BytesIO

import numpy as np
import pandas as pd

from spermlab.analysis.motility import GRADES
from spermlab.report.plots import GRADE_COLOURS, UNGRADED_COLOUR

__all__ = ["image_data_uri", "track_overlay_svg"]

#: Most points drawn per track; longer tracks are thinned evenly (the last point is kept).
MAX_POINTS = 200


def image_data_uri(image: np.ndarray, *, quality: int = 85) -> str:
    """A grey or RGB ``uint8`` image as a ``data:image/jpeg;base64,...`` URI.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W) or (H, W, 3)
        The image.
    quality : int, default 85
        JPEG quality.

    Returns
    -------
    str
        The data URI.
    """
    from PIL import Image

    buf = BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _paths(x: np.ndarray, y: np.ndarray, frames: np.ndarray) -> tuple[str, str]:
    """SVG path data of a track: its continuous runs, and the straight bridges over gaps.

    Runs are thinned evenly to at most about :data:`MAX_POINTS` points; the ends of every
    run are kept, so the bridges join them exactly.
    """
    n = len(x)
    cut = np.flatnonzero(np.diff(frames) > 1) + 1  # first index of each run after a gap
    ends = np.r_[cut - 1, n - 1]
    step = max(1, math.ceil(n / MAX_POINTS))
    keep = np.unique(np.r_[np.arange(0, n, step), 0, cut, ends])
    starts = set(np.r_[0, cut].tolist())
    run = " ".join(("M" if i in starts else "L") + f"{x[i]:.1f} {y[i]:.1f}" for i in keep.tolist())
    gaps = " ".join(f"M{x[i - 1]:.1f} {y[i - 1]:.1f}L{x[i]:.1f} {y[i]:.1f}" for i in cut.tolist())
    return run, gaps


def _title(tid: int, grade: str | None, kin: dict | None, n: int) -> str:
    if grade is None or kin is None:
        return f"track {tid}: not graded ({n} frames)"
    fla = kin.get("flagellum", float("nan"))
    fla_text = f"; flagellar beat p {fla:.2f}" if fla == fla else ""
    return (f"track {tid}: grade {grade} ({GRADES[grade]}); VCL {kin['vcl']:.1f}, "
            f"VSL {kin['vsl']:.1f}, VAP {kin['vap']:.1f} µm/s{fla_text}; {n} frames")  # fmt: skip


def track_overlay_svg(
    tracks: pd.DataFrame,
    kinematics: pd.DataFrame,
    *,
    width: int,
    height: int,
    background: np.ndarray | None = None,
    labels: bool = True,
    links: set[int] | None = None,
) -> str:
    """Every sperm track drawn over a frame, coloured by grade, as an ``<svg>`` element.

    Parameters
    ----------
    tracks : DataFrame
        A Tracks table; only sperm heads (``cls == 0``) are drawn.
    kinematics : DataFrame
        The graded Kinematics table (tracks absent from it are drawn as not graded).
    width, height : int
        Frame size in pixels (the SVG ``viewBox``).
    background : ndarray of uint8, optional
        The frame to draw on; a blank grey canvas when omitted.
    labels : bool, default True
        Write each graded track's id next to its last position.
    links : set of int, optional
        Tracks that link to their card in the report's cell gallery (``#cell-ID``):
        clicking the track shows the cell.

    Returns
    -------
    str
        The SVG markup, scaled to its container's width.
    """
    grade_of = dict(zip(kinematics["track_id"].astype(int), kinematics["grade"], strict=True))
    kin_of = {int(r["track_id"]): r for r in kinematics.to_dict("records")}
    parts = [
        f'<svg id="track-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="tracks coloured by WHO grade" preserveAspectRatio="xMidYMid meet">'
    ]
    size = f'x="0" y="0" width="{width}" height="{height}"'
    if background is not None:
        parts.append(f'<image href="{image_data_uri(background)}" {size}/>')
    else:
        parts.append(f'<rect class="blank" {size} fill="#e8e8e8"/>')
    sperm = tracks[tracks["cls"] == 0].sort_values(["track_id", "frame"])
    groups = list(sperm.groupby("track_id", sort=True))
    groups.sort(key=lambda item: int(item[0]) in grade_of)  # graded tracks on top
    texts = []
    for tid, t in groups:
        grade = grade_of.get(int(tid))
        x, y = t["x"].to_numpy(), t["y"].to_numpy()
        title = _title(int(tid), grade, kin_of.get(int(tid)), len(t))
        element = _track_element(int(tid), grade, t, title)
        if links and int(tid) in links:
            element = f'<a href="#cell-{int(tid)}">{element}</a>'
        parts.append(element)
        if labels and grade:
            texts.append(f'<text x="{x[-1] + 4:.1f}" y="{y[-1] - 4:.1f}" '
                         f'fill="{GRADE_COLOURS[grade]}">{int(tid)}</text>')  # fmt: skip
    parts.append('<g class="tid">' + "".join(texts) + "</g></svg>")
    return "".join(parts)


def _track_element(tid: int, grade: str | None, t: pd.DataFrame, title: str) -> str:
    """One track: ``<g>`` with its hover title, path, dashed gap bridges and last position."""
    x, y = t["x"].to_numpy(), t["y"].to_numpy()
    run, gaps = _paths(x, y, t["frame"].to_numpy())
    colour = GRADE_COLOURS[grade] if grade in GRADE_COLOURS else UNGRADED_COLOUR
    cls = f"trk g-{grade}" if grade else "trk ungraded"
    bridges = f'<path class="gap" d="{gaps}"/>' if gaps else ""
    return (
        f'<g class="{cls}" data-track="{tid}" data-grade="{grade or ""}" stroke="{colour}">'
        f'<title>{escape(title)}</title><path d="{run}"/>{bridges}'
        f'<circle cx="{x[-1]:.1f}" cy="{y[-1]:.1f}" r="{2.5 if grade else 1.5}" '
        f'fill="{colour}"/></g>'
    )
