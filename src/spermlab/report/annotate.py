"""The annotated video: the recording with every head boxed, labelled and trailed.

:func:`write_annotated_video` streams the recording one frame at a time (memory does
not grow with its length): it decodes a frame, draws on it with Pillow and encodes it
with PyAV (H.264, ``libx264``, ``yuv420p``, MP4), so the file plays in any browser or
player. Each sperm head of a track gets a box, its track id and a trail of its recent
positions, coloured by the track's WHO grade (:data:`spermlab.report.plots.GRADE_COLOURS`,
Okabe-Ito); heads of tracks too short to be graded are grey; clusters and pinheads
(``cls`` 1 and 2) get a thin reddish-purple box. A strip at the top left shows the frame
number and the grade colours.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spermlab.io.source import Frame, FrameSource
from spermlab.report.plots import GRADE_COLOURS, UNGRADED_COLOUR

__all__ = ["ANNOTATED", "OTHER_COLOUR", "annotate_frame", "hex_to_rgb", "write_annotated_video"]

#: File name of the annotated video in a results folder (DESIGN §6).
ANNOTATED = "annotated.mp4"

#: Box colour of clusters and pinheads (Okabe-Ito reddish purple).
OTHER_COLOUR = "#CC79A7"

#: Height in pixels of the frame-number and legend strip at the top left.
LEGEND_HEIGHT = 16

_BOX_PAD = 3  # px between the detection box and the drawn box, so the head stays visible


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """``"#RRGGBB"`` as an ``(r, g, b)`` tuple of ints.

    Examples
    --------
    >>> hex_to_rgb("#009E73")
    (0, 158, 115)
    """
    c = colour.lstrip("#")
    if len(c) != 6:
        raise ValueError(f"expected a colour as #RRGGBB, got {colour!r}")
    return (int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16))


def _font(size: int = 11) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


class _Labels:
    """Track-id labels rendered once per (text, colour) and pasted, not redrawn each frame."""

    def __init__(self) -> None:
        self.font = _font()
        self.cache: dict[tuple[str, tuple[int, int, int]], Any] = {}

    def get(self, text: str, colour: tuple[int, int, int]) -> Any:
        from PIL import Image, ImageDraw

        key = (text, colour)
        if key not in self.cache:
            left, top, right, bottom = self.font.getbbox(text, stroke_width=1)
            img = Image.new("RGBA", (right - left + 2, bottom - top + 2), (0, 0, 0, 0))
            ImageDraw.Draw(img).text((1 - left, 1 - top), text, fill=colour + (255,),
                                     font=self.font, stroke_width=1,
                                     stroke_fill=(0, 0, 0, 255))  # fmt: skip
            self.cache[key] = img
        return self.cache[key]


def _arrays(tracks: pd.DataFrame) -> dict[str, np.ndarray]:
    """The Tracks columns drawn, as numpy arrays sorted by frame."""
    t = tracks.sort_values(["frame", "track_id"], kind="stable")
    return {c: t[c].to_numpy() for c in ("frame", "track_id", "x", "y", "w", "h", "cls")}


def _colour_table(grades: Mapping[int, str]) -> dict[int, tuple[int, int, int]]:
    return {int(t): hex_to_rgb(GRADE_COLOURS[g]) for t, g in grades.items() if g in GRADE_COLOURS}


def annotate_frame(
    image: np.ndarray,
    tracks: pd.DataFrame,
    *,
    frame: int,
    grades: Mapping[int, str],
    trail_frames: int = 25,
    legend: bool = True,
) -> np.ndarray:
    """Draw the boxes, ids and trails of one frame onto a copy of its image.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W) or (H, W, 3)
        The frame (grey or RGB); not modified.
    tracks : DataFrame
        A Tracks table; rows of ``frame`` get a box and their id, rows of the
        ``trail_frames`` frames up to it draw the trails of the tracks present in
        ``frame``. Other rows are ignored.
    frame : int
        The frame drawn.
    grades : mapping of int to str
        Track id to WHO grade (``a``-``d``); sperm tracks absent are drawn grey.
    trail_frames : int, default 25
        Length of the trail in frames.
    legend : bool, default True
        Draw the frame number and grade colours in a strip (``LEGEND_HEIGHT`` px) at the
        top left.

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
        The annotated RGB frame.
    """
    a = _arrays(tracks)
    keep = (a["frame"] > frame - trail_frames) & (a["frame"] <= frame)
    rows = {k: v[keep] for k, v in a.items()}
    return _draw(image, rows, frame=frame, colours=_colour_table(grades), labels=_Labels(),
                 legend=legend)  # fmt: skip


def _draw(
    image: np.ndarray,
    a: dict[str, np.ndarray],
    *,
    frame: int,
    colours: Mapping[int, tuple[int, int, int]],
    labels: _Labels,
    legend: bool,
) -> np.ndarray:
    """Draw the rows ``a`` (the trail window, sorted by frame) onto ``image``."""
    from PIL import Image, ImageDraw

    rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
    canvas = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    draw = ImageDraw.Draw(canvas)
    grey, other = hex_to_rgb(UNGRADED_COLOUR), hex_to_rgb(OTHER_COLOUR)
    now = a["frame"] == frame
    sperm_now = now & (a["cls"] == 0)
    trail = np.isin(a["track_id"], a["track_id"][sperm_now]) & (a["cls"] == 0)
    order = np.lexsort((a["frame"][trail], a["track_id"][trail]))
    tid, x, y = a["track_id"][trail][order], a["x"][trail][order], a["y"][trail][order]
    for seg in np.split(np.arange(tid.size), np.flatnonzero(np.diff(tid)) + 1):
        if seg.size > 1:
            draw.line(list(zip(x[seg].tolist(), y[seg].tolist(), strict=True)),
                      fill=colours.get(int(tid[seg[0]]), grey), width=2, joint="curve")  # fmt: skip
    for i in np.flatnonzero(now):
        t, sperm = int(a["track_id"][i]), a["cls"][i] == 0
        colour = colours.get(t, grey) if sperm else other
        hw, hh = max(a["w"][i], 6.0) / 2 + _BOX_PAD, max(a["h"][i], 6.0) / 2 + _BOX_PAD
        box = (a["x"][i] - hw, a["y"][i] - hh, a["x"][i] + hw, a["y"][i] + hh)
        draw.rectangle(box, outline=colour, width=2 if sperm else 1)
        if sperm:
            label = labels.get(str(t), colour)
            canvas.paste(label, (int(box[2]) + 2, int(box[1]) - 8), label)
    if legend:
        _legend(draw, frame, labels.font)
    return np.asarray(canvas)


def _legend(draw: Any, frame: int, font: Any) -> None:
    draw.rectangle((0, 0, 150, LEGEND_HEIGHT - 1), fill=(0, 0, 0))
    draw.text((3, 2), f"{frame}", fill=(255, 255, 255), font=font)
    for i, (g, colour) in enumerate(GRADE_COLOURS.items()):
        x = 48 + 25 * i
        draw.rectangle((x, 4, x + 8, 12), fill=hex_to_rgb(colour))
        draw.text((x + 11, 2), g, fill=(255, 255, 255), font=font)


def write_annotated_video(
    result_dir: str | PathLike[str],
    source: str | PathLike[str] | FrameSource | None = None,
    out: str | PathLike[str] | None = None,
    *,
    trail_s: float = 0.5,
    crf: int = 20,
    progress: Callable[[Iterable[Frame]], Iterable[Frame]] | None = None,
) -> Path:
    """Write the recording as an MP4 with every track drawn, coloured by grade.

    Parameters
    ----------
    result_dir : str or PathLike
        A finished results folder (``summary.json``, ``tracks.parquet``,
        ``kinematics.parquet``).
    source : str, PathLike or FrameSource, optional
        The analysed recording (video file or frame folder); default the input recorded
        in ``summary.json``.
    out : str or PathLike, optional
        The MP4 file; default ``<result_dir>/annotated.mp4``. Written atomically.
    trail_s : float, default 0.5
        Length of the trail of recent positions, in seconds.
    crf : int, default 20
        x264 constant rate factor (0 lossless ... 51 worst).
    progress : callable, optional
        Wraps the frame iterator (e.g. a progress bar).

    Returns
    -------
    Path
        The written video: H.264 in MP4, ``yuv420p``, at the analysis frame rate, one
        output frame per source frame (odd frame sizes are padded by one pixel).

    Raises
    ------
    FileNotFoundError
        When the folder is not a finished analysis or the source does not exist.
    ValueError
        When the source's frame size or frame count differs from the analysed one.
    """
    from spermlab.io.atomic import atomic_path
    from spermlab.io.results import SUMMARY, is_complete

    folder = Path(result_dir)
    if not is_complete(folder):
        raise FileNotFoundError(f"{folder}: no {SUMMARY}; the analysis did not finish")
    summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    tracks = pd.read_parquet(folder / "tracks.parquet")
    kin = pd.read_parquet(folder / "kinematics.parquet")
    grades = dict(zip(kin["track_id"].astype(int).tolist(), kin["grade"].tolist(), strict=True))
    src = _open(source, summary)
    fps = float(summary["calibration"]["fps"])
    job = _Job(src, tracks, grades, fps=fps, trail=max(1, round(trail_s * fps)), crf=crf,
               expected=int(summary["n_frames"]), progress=progress)  # fmt: skip
    return atomic_path(Path(out) if out is not None else folder / ANNOTATED, job.encode)


def _open(source: str | PathLike[str] | FrameSource | None, summary: dict[str, Any]) -> FrameSource:
    from spermlab.io.open import open_source

    inp = summary.get("input", {})
    if source is None:
        source = inp.get("path")
        if not source:
            raise FileNotFoundError("summary.json records no input path: pass the source video")
    if isinstance(source, (str, os.PathLike)):
        source = open_source(source, fps=summary["calibration"]["fps"])
    size = (int(inp.get("width", source.width)), int(inp.get("height", source.height)))
    if (source.width, source.height) != size:
        raise ValueError(f"{source.path}: frames are {source.width}x{source.height} px, but "
                         f"the analysed recording was {size[0]}x{size[1]} px; "
                         "wrong source?")  # fmt: skip
    return source


class _Job:
    """One encoding pass: source frames in, annotated H.264 out."""

    def __init__(
        self,
        source: FrameSource,
        tracks: pd.DataFrame,
        grades: dict[int, str],
        *,
        fps: float,
        trail: int,
        crf: int,
        expected: int,
        progress: Callable[[Iterable[Frame]], Iterable[Frame]] | None,
    ) -> None:
        self.source = source
        self.fps, self.trail, self.crf, self.expected = fps, trail, crf, expected
        self.progress = progress
        self.arrays = _arrays(tracks)
        self.frames = self.arrays["frame"]
        self.colours, self.labels = _colour_table(grades), _Labels()

    def _rows(self, frame: int) -> dict[str, np.ndarray]:
        lo = np.searchsorted(self.frames, frame - self.trail + 1, side="left")
        hi = np.searchsorted(self.frames, frame, side="right")
        return {k: v[lo:hi] for k, v in self.arrays.items()}

    def encode(self, path: Path) -> None:
        """Decode, annotate and encode every frame into ``path`` (MP4)."""
        import av

        rate = Fraction(self.fps).limit_denominator(1001)
        w, h = self.source.width, self.source.height
        w, h = w + w % 2, h + h % 2  # yuv420p needs even sizes
        frames: Iterable[Frame] = iter(self.source)
        if self.progress is not None:
            frames = self.progress(frames)
        n = 0
        with av.open(str(path), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.options = {"crf": str(self.crf), "preset": "veryfast"}
            for frame in frames:
                rgb = _draw(frame.image, self._rows(frame.index), frame=frame.index,
                            colours=self.colours, labels=self.labels, legend=True)  # fmt: skip
                if rgb.shape[:2] != (h, w):
                    pad = ((0, h - rgb.shape[0]), (0, w - rgb.shape[1]), (0, 0))
                    rgb = np.pad(rgb, pad, mode="edge")
                vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                vf.pts, vf.time_base = n, 1 / rate
                container.mux(stream.encode(vf))
                n += 1
            container.mux(stream.encode(None))
        if n != self.expected:
            raise ValueError(f"{self.source.path}: {n} frames read, but {self.expected} were "
                             "analysed; wrong source?")  # fmt: skip
