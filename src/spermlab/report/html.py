"""The self-contained HTML report of one sample, read from its results folder.

:func:`write_report` turns a results folder (DESIGN §6) into one HTML file that opens
from disk with no network: the figures are embedded as base64 PNG, the track map is
inline SVG over the first frame of the recording (a JPEG data URI), and the page uses
no external script, style sheet or font. The first screen answers "what are this
sample's grades and can I trust them?": the WHO 2021 grades against the lower reference
limits, with a quality badge listing every warning (:mod:`spermlab.report.quality`).

Every result number sits in an element with a stable ``id`` and its exact value in
``data-value`` (e.g. ``<span id="pct-progressive" data-value="26.94...">26.9</span>``),
so scripts and tests can read the page back and compare it with ``summary.json``:

================================  ==========================================
id                                summary.json
================================  ==========================================
``pct-rapid`` ``pct-slow``        ``percentages.rapid``, ``.slow``,
``pct-non-progressive``           ``.non_progressive``, ``.immotile``,
``pct-immotile``                  ``.progressive``, ``.total_motile``
``pct-progressive``
``pct-total-motile``
``count-a`` ... ``count-d``       ``counts.a`` ... ``counts.d``
``n-graded`` ``n-frames``         ``n_graded``, ``n_frames``
``concentration``                 ``concentration_m_per_ml`` (empty if null)
``mean-heads-per-frame``          ``mean_heads_per_frame``
``trust``                         ``data-level``: ok, caution or fail
================================  ==========================================
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spermlab.analysis.motility import GRADES
from spermlab.io.source import FrameSource
from spermlab.report.overlay import track_overlay_svg
from spermlab.report.quality import Quality, verdict_of

__all__ = ["REPORT", "ReportData", "build_context", "load_results", "render_report", "review_context",
           "template_environment", "write_report"]

#: File name of the report in a results folder (DESIGN §6).
REPORT = "report.html"

_PCT_KEYS = (("a", "rapid"), ("b", "slow"), ("c", "non_progressive"), ("d", "immotile"))
_KIN_COLUMNS = (("vcl", "VCL", "µm/s"), ("vsl", "VSL", "µm/s"), ("vap", "VAP", "µm/s"),
                ("lin", "LIN", ""), ("str", "STR", ""), ("wob", "WOB", ""),
                ("alh", "ALH", "µm"), ("bcf", "BCF", "Hz"), ("mad", "MAD", "°"),
                ("progression", "progression", "µm/s"), ("flagellum", "flagellar beat", "p"))  # fmt: skip

SourceLike = str | PathLike[str] | FrameSource


@dataclass(frozen=True)
class ReportData:
    """The content of one results folder.

    Attributes
    ----------
    folder : Path
        The results folder.
    summary : dict
        ``summary.json``.
    detections, tracks, kinematics : DataFrame
        The Detections, Tracks and Kinematics tables.
    drift : DataFrame
        ``drift.csv`` (``frame``, ``dx``, ``dy`` in px); empty when the file is absent.
    """

    folder: Path
    summary: dict[str, Any]
    detections: pd.DataFrame
    tracks: pd.DataFrame
    kinematics: pd.DataFrame
    drift: pd.DataFrame


def load_results(result_dir: str | PathLike[str]) -> ReportData:
    """Read a finished results folder.

    Parameters
    ----------
    result_dir : str or PathLike
        The folder written by ``spermlab analyze``.

    Returns
    -------
    ReportData
        Its summary and tables.

    Raises
    ------
    FileNotFoundError
        When the folder has no ``summary.json`` (the analysis did not finish).
    """
    from spermlab.io.results import read_results

    folder = Path(result_dir)
    r = read_results(folder)
    drift_file = folder / "drift.csv"
    if drift_file.is_file():
        drift = pd.read_csv(drift_file)
    else:
        drift = pd.DataFrame({"frame": pd.Series([], dtype="int64"), "dx": [], "dy": []})
    return ReportData(folder, r["summary"], r["detections"], r["tracks"], r["kinematics"], drift)


def write_report(
    result_dir: str | PathLike[str],
    *,
    source: SourceLike | None = None,
    out: str | PathLike[str] | None = None,
) -> Path:
    """Write the self-contained HTML report of one results folder.

    Parameters
    ----------
    result_dir : str or PathLike
        A finished results folder (``spermlab analyze --out``).
    source : str, PathLike or FrameSource, optional
        The recording, for the background frame of the track map. Default: the input
        recorded in ``summary.json`` (``input.path``) when it still exists; otherwise
        the tracks are drawn on a blank canvas of the frame size.
    out : str or PathLike, optional
        The HTML file; default ``<result_dir>/report.html``.

    Returns
    -------
    Path
        The written file (written atomically).

    Raises
    ------
    FileNotFoundError
        When ``result_dir`` is not a finished results folder, or ``source`` is given
        and does not exist.
    ValueError
        When the frames of ``source`` differ in size from the analysed ones.

    Examples
    --------
    >>> from spermlab.report import write_report
    >>> write_report("r11")  # doctest: +SKIP
    PosixPath('r11/report.html')
    """
    from spermlab.io.atomic import write_text

    html = render_report(result_dir, source=source)
    return write_text(Path(out) if out is not None else Path(result_dir) / REPORT, html)


def render_report(result_dir: str | PathLike[str], *, source: SourceLike | None = None) -> str:
    """The report of one results folder as an HTML string (see :func:`write_report`)."""
    data = load_results(result_dir)
    env = template_environment()
    return env.get_template("report.html.j2").render(**build_context(data, source=source))


def template_environment(*loaders: Any) -> Any:
    """The Jinja2 environment of the report, with its filters (``num``, ``dv``) and test
    (``finite``); ``loaders`` are searched before the report's own templates, so a page
    can extend ``report.html.j2`` (the web app's sample page does).

    Returns
    -------
    jinja2.Environment
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([*loaders, jinja2.PackageLoader("spermlab.report", "templates")]),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )  # fmt: skip
    env.filters["num"] = _num
    env.filters["dv"] = _data_value
    env.tests["finite"] = _is_finite
    return env


def build_context(data: ReportData, *, source: SourceLike | None = None) -> dict[str, Any]:
    """Everything the template shows, computed from one results folder.

    Parameters
    ----------
    data : ReportData
        The results folder's content (:func:`load_results`).
    source : str, PathLike or FrameSource, optional
        The recording for the track map (see :func:`write_report`).

    Returns
    -------
    dict
        The template's variables: ``summary``, ``quality``, ``cards``, ``grades``,
        ``overlay``, ``figures``, ``provenance``...
    """
    from markupsafe import Markup

    s = data.summary
    quality = verdict_of(s, detections=data.detections, tracks=data.tracks, drift=data.drift,
                     kinematics=data.kinematics)
    width, height = int(s["input"].get("width", 0)), int(s["input"].get("height", 0))
    if width <= 0 or height <= 0:
        width, height = _size_from_tracks(data.tracks)
    stream = _resolve_source(s, source)
    image, frame_note = background_frame(s, source=stream if stream is not None else source,
                                         width=width, height=height)  # fmt: skip
    cells = _gallery(data, stream)
    svg = track_overlay_svg(data.tracks, data.kinematics, width=width, height=height,
                            background=image, links={c.track_id for c in cells})  # fmt: skip
    return {
        "title": _sample_name(s),
        "summary": s,
        "quality": quality,
        "cards": _cards(s, quality),
        "grades": _grade_rows(s),
        "overlay": Markup(svg),
        "frame_note": frame_note,
        "legend": _legend(data),
        "figures": _figures(data),
        "qc_metrics": _qc_rows(quality),
        "grade_stats": grade_statistics(data.kinematics),
        "kin_columns": _KIN_COLUMNS,
        "track_rows": _track_rows(data),
        "gallery": cells,
        "grade_names": list(GRADES.items()),
        "gallery_note": _gallery_note(data, cells, stream),
        "provenance": _provenance(s),
        "review": review_context(s),
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


_REVIEW_ROWS = (("rapid", "a rapid progressive"), ("slow", "b slow progressive"),
                ("non_progressive", "c non-progressive"), ("immotile", "d immotile"),
                ("progressive", "progressive (a+b)"), ("total_motile", "total motile (a+b+c)"))  # fmt: skip


def review_context(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The person's review of ``summary.json`` for the report: machine and reviewed shares
    side by side, and every change (None when the sample has no review block).

    Returns
    -------
    dict or None
        The ``review`` block (:mod:`spermlab.analysis.review`) plus ``rows`` (``key``,
        ``id``, ``label``, ``machine``, ``reviewed``, ``changed``) and ``reviewers``.
    """
    review = summary.get("review")
    if not review:
        return None
    rows = []
    for key, label in _REVIEW_ROWS:
        m, r = summary["percentages"].get(key), review["percentages"].get(key)
        same = (m is None and r is None) or (m is not None and r is not None and abs(m - r) < 1e-9)
        rows.append({"key": key, "id": key.replace("_", "-"), "label": label,
                     "machine": _none_nan(m), "reviewed": _none_nan(r), "changed": not same})  # fmt: skip
    reviewers = list(dict.fromkeys(c["reviewer"] for c in review.get("changes", [])))
    return {**review, "rows": rows, "reviewers": reviewers}


def _none_nan(v: Any) -> float:
    return math.nan if v is None else float(v)


def background_frame(
    summary: dict[str, Any], *, source: SourceLike | None, width: int, height: int
) -> tuple[np.ndarray | None, str]:
    """The first frame of the recording for the track map, and a note saying where from.

    Parameters
    ----------
    summary : dict
        ``summary.json`` (``input.path`` is the default source, ``calibration.fps`` its
        frame rate).
    source : str, PathLike or FrameSource, optional
        The recording; default the recorded input.
    width, height : int
        The analysed frame size, in pixels.

    Returns
    -------
    (ndarray or None, str)
        The grey frame, or ``None`` when no source is given and the recorded input is
        gone; and a note saying where the frame came from (or why there is none).

    Raises
    ------
    FileNotFoundError
        When ``source`` is given and does not exist.
    ValueError
        When the source's frames are not ``width`` x ``height``.
    """
    from spermlab.io.open import open_source

    fps = summary.get("calibration", {}).get("fps")
    if source is None:
        path = summary.get("input", {}).get("path")
        if not path or not Path(path).exists():
            return None, f"recording not found ({path or 'no input path recorded'}): blank canvas"
        source = path
    if isinstance(source, (str, os.PathLike)):
        source = open_source(source, fps=fps)
    frames = iter(source)
    try:
        frame = next(frames)
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()  # release the file now, not when the generator is collected
    if frame.image.shape != (height, width):
        h, w = frame.image.shape
        raise ValueError(f"{source.path}: frames are {w}x{h} px, but the analysed recording was "
                         f"{width}x{height} px; wrong source?")  # fmt: skip
    return frame.image, f"frame {frame.index} of {source.path}"


def _resolve_source(summary: dict[str, Any], source: SourceLike | None) -> FrameSource | None:
    """The recording as a FrameSource: ``source`` or the recorded input; None if it is gone."""
    from spermlab.io.open import open_source

    if source is not None and not isinstance(source, (str, os.PathLike)):
        return source
    if source is None:
        path = summary.get("input", {}).get("path")
        if not path or not Path(path).exists():
            return None
        source = path
    if not Path(source).exists():
        raise FileNotFoundError(f"{source}: no such recording")
    return open_source(source, fps=summary.get("calibration", {}).get("fps"))


def _gallery(data: ReportData, stream: FrameSource | None) -> list:
    """The cell gallery, from one more pass over the recording (none without it)."""
    from spermlab.report.gallery import cell_gallery

    if stream is None or data.kinematics.empty:
        return []
    um = float(data.summary["calibration"]["um_per_px"])
    frames = iter(stream)
    try:
        fps = float(data.summary["calibration"]["fps"])
        return cell_gallery(frames, data.tracks, data.kinematics, um_per_px=um, fps=fps)
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()


def _gallery_note(data: ReportData, cells: list, stream: FrameSource | None) -> str:
    n = int(data.kinematics["grade"].isin(list(GRADES)).sum())
    if stream is None:
        return "The recording was not found, so the cells cannot be shown; pass --source to `spermlab report`."
    if len(cells) < n:
        return f"Showing {len(cells)} of {n} graded cells, a share of each grade in proportion."
    return f"All {n} graded cells."


def grade_statistics(kinematics: pd.DataFrame) -> list[dict[str, Any]]:
    """Median and interquartile range of each kinematic, per grade and over all tracks.

    Returns
    -------
    list of dict
        One row per grade that has tracks, then ``"all"``: ``grade``, ``n`` and for each
        kinematic column a ``(median, q1, q3)`` tuple (NaN when undefined).
    """
    rows = []
    for g in [*GRADES, "all"]:
        k = kinematics if g == "all" else kinematics[kinematics["grade"] == g]
        row: dict[str, Any] = {"grade": g, "n": len(k)}
        for col, _, _ in _KIN_COLUMNS:
            v = k[col].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            row[col] = tuple(np.percentile(v, [50, 25, 75])) if v.size else (math.nan,) * 3
        rows.append(row)
    return rows


def _track_rows(data: ReportData) -> list[dict[str, Any]]:
    """The per-track table: kinematics plus the share of frames observed (``coverage``)."""
    from spermlab.report.quality import track_coverage

    k = data.kinematics.sort_values("track_id")
    cov = track_coverage(data.tracks).reindex(k["track_id"]).to_numpy()
    return k.assign(coverage=cov).to_dict("records")


def _is_finite(value: Any) -> bool:
    """Jinja test ``is finite``: a real number that is neither NaN nor infinite."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and bool(
        np.isfinite(value))


def _num(value: Any, digits: int = 1) -> str:
    """A number for people: fixed digits, an em dash for missing."""
    if not _is_finite(value):
        return "—"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return f"{float(value):.{digits}f}"


def _data_value(value: Any) -> str:
    """The exact value for ``data-value``: repr of the float, ``NaN``, or empty for null."""
    if value is None:
        return ""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return "NaN" if math.isnan(float(value)) else repr(float(value))


def _sample_name(summary: dict[str, Any]) -> str:
    path = summary.get("input", {}).get("path")
    if not path:
        return "sample"
    p = Path(path)
    return p.parent.name if p.name == "images" else p.stem


def _size_from_tracks(tracks: pd.DataFrame) -> tuple[int, int]:
    if tracks.empty:
        return 640, 480
    right = (tracks["x"] + tracks["w"] / 2).max()
    bottom = (tracks["y"] + tracks["h"] / 2).max()
    return int(np.ceil(right)), int(np.ceil(bottom))


def _cards(s: dict[str, Any], q: Quality) -> list[dict[str, Any]]:
    lim, p = s["reference_limits"], s["percentages"]
    cal_src = s["calibration"].get("sources", {})
    return [
        {"id": "pct-progressive", "label": "Progressive motility", "sub": "PR = a + b",
         "value": p["progressive"], "unit": "%", "limit": lim["progressive_pct"],
         "ci": q.metrics["ci_progressive"]},
        {"id": "pct-total-motile", "label": "Total motility", "sub": "PR + NP = a + b + c",
         "value": p["total_motile"], "unit": "%", "limit": lim["total_motile_pct"],
         "ci": q.metrics["ci_total_motile"]},
        {"id": "concentration", "label": "Concentration", "value": s["concentration_m_per_ml"],
         "sub": f"chamber depth {_num(s['calibration'].get('chamber_depth_um'), 0)} µm "
                f"({cal_src.get('chamber_depth_um', 'not given')})",
         "unit": "×10⁶/mL", "limit": lim["concentration_m_per_ml"], "ci": None},
    ]  # fmt: skip


def _grade_rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    from spermlab.report.plots import GRADE_COLOURS

    return [{"grade": g, "name": GRADES[g], "key": key, "id": key.replace("_", "-"),
             "pct": s["percentages"][key], "count": s["counts"][g], "colour": GRADE_COLOURS[g]}
            for g, key in _PCT_KEYS]  # fmt: skip


def _legend(data: ReportData) -> list[dict[str, Any]]:
    from spermlab.report.plots import GRADE_COLOURS, UNGRADED_COLOUR

    k = data.kinematics
    sperm_ids = set(data.tracks.loc[data.tracks["cls"] == 0, "track_id"].unique())
    out = [{"label": f"{g} {name}", "colour": GRADE_COLOURS[g], "n": int((k["grade"] == g).sum())}
           for g, name in GRADES.items()]  # fmt: skip
    out.append({"label": "not graded (too short)", "colour": UNGRADED_COLOUR,
                "n": len(sperm_ids - set(k["track_id"]))})  # fmt: skip
    return out


def _figures(data: ReportData) -> dict[str, str]:
    from spermlab.report import plots

    s, k = data.summary, data.kinematics
    fps, um = float(s["calibration"]["fps"]), float(s["calibration"]["um_per_px"])
    min_points = int(s.get("parameters", {}).get("kinematics", {}).get("min_points", 10))
    figs = {
        "velocities": plots.plot_velocity_histograms(k),
        "lin_vsl": plots.plot_lin_vsl(k),
        "per_frame": plots.plot_detections_per_frame(data.detections, n_frames=int(s["n_frames"]),
                                                     fps=fps),
        "lengths": plots.plot_track_lengths(data.tracks, min_points=min_points, fps=fps),
        "drift": plots.plot_drift(data.drift, um_per_px=um, fps=fps),
    }
    return {name: plots.figure_to_data_uri(fig) for name, fig in figs.items()}


def _qc_rows(q: Quality) -> list[tuple[str, str]]:
    m = q.metrics
    return [
        ("recording length", f"{m['duration_s']:.2f} s"),
        ("sperm tracks", str(m["n_tracks"])),
        (f"tracks shorter than {m['min_points']} frames (not graded)",
         f"{_num(100 * m['short_track_share'], 0)} %"),
        ("graded tracks missing > 20 % of their frames (bridged gaps)",
         f"{_num(100 * m['gappy_share'], 0)} %"),
        ("frames with no sperm head", str(m["empty_frames"])),
        ("variation of heads per frame (CV)", f"{_num(100 * m['count_cv'], 0)} %"),
        ("median drift speed", f"{_num(m['drift_um_s'])} µm/s"),
    ]  # fmt: skip


def _provenance(s: dict[str, Any]) -> dict[str, Any]:
    from spermlab import __version__

    inp = dict(s.get("input", {}))
    cal = s["calibration"]
    calibration = [(name, key, cal.get(key), cal.get("sources", {}).get(key, "—"))
                   for name, key in (("scale", "um_per_px"), ("frame rate", "fps"),
                                     ("chamber depth", "chamber_depth_um"))]  # fmt: skip
    return {
        "input": inp,
        "hash": inp.get("sha256") or "not recorded (a frame folder has no single file to hash)",
        "calibration": calibration,
        "parameters": _flatten(s.get("parameters", {})),
        "analysed_with": s.get("software", {}).get("spermlab", "unknown"),
        "report_version": __version__,
        "summary_json": json.dumps(s, indent=1, default=str),
    }


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k, v in d.items():
        if isinstance(v, dict) and k != "sources":
            out += _flatten(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", json.dumps(v, default=str)))
    return out

