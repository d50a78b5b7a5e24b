"""YOLO label files: one ``class x_center y_center width height`` line per box.

The four box values are normalised by the image width and height, so reading and
writing need the image size. One file holds the boxes of one image (one frame).

Rules checked on every line (each breach is a :class:`spermlab.FormatError` with the
1-based line number and the line itself):

* exactly 5 whitespace-separated fields;
* ``class`` is an integer id known to :data:`spermlab.tables.CLASS_NAMES`
  (0 sperm, 1 cluster, 2 small or pinhead);
* the four box values are finite numbers in [0, 1];
* the box has a strictly positive width and height;
* the box lies inside the image (edges within [0, 1], with a 1e-6 tolerance).

Blank lines are ignored; an empty file is a frame without boxes. Files are UTF-8
(a BOM is accepted) with LF or CRLF line ends.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import pandas as pd

from spermlab import tables
from spermlab.errors import FormatError
from spermlab.io import _lines
from spermlab.io._lines import LineError, Problems

__all__ = ["read_yolo", "write_yolo"]

FIELDS = ("class", "x_center", "y_center", "width", "height")


def parse_line(line: str) -> tuple[int, float, float, float, float]:
    """Parse and check one YOLO line; raise :class:`LineError` when it breaks a rule."""
    parts = line.split()
    _lines.check_fields(parts, FIELDS)
    return parse_values(parts)


def parse_values(parts: list[str]) -> tuple[int, float, float, float, float]:
    """Parse and check the five fields of a YOLO line (already split and counted)."""
    cls = _lines.to_int(parts[0], "class")
    _lines.check_class(cls)
    xc, yc, w, h = (_lines.to_float(t, n) for t, n in zip(parts[1:], FIELDS[1:], strict=True))
    _lines.check_unit_box(xc, yc, w, h)
    return cls, xc, yc, w, h


def parse_file(
    path: str | PathLike[str], problems: Problems
) -> list[tuple[int, str, tuple[int, float, float, float, float] | None]]:
    """Parse every non-blank line of a YOLO file.

    Returns ``(line_no, line, values)`` triples; ``values`` is ``None`` for a bad line,
    which has been reported through ``problems`` (or raised).
    """
    lines = _lines.read_lines(path, problems)
    if lines is None:
        return []
    out = []
    for line_no, line in _lines.numbered(lines):
        try:
            values = parse_line(line)
        except LineError as exc:
            _lines.report(problems, FormatError(path, str(exc), line_no=line_no, line=line))
            values = None
        out.append((line_no, line, values))
    return out


def read_yolo(
    path: str | PathLike[str],
    *,
    width: int,
    height: int,
    frame: int = 0,
    problems: list[FormatError] | None = None,
) -> pd.DataFrame:
    """Read one YOLO label file into a Detections table.

    Parameters
    ----------
    path : str or PathLike
        The label file (``class x_center y_center width height`` per line, normalised).
    width, height : int
        Image size in pixels, used to turn normalised values into pixels.
    frame : int
        0-based frame index given to every box of the file.
    problems : list of FormatError, optional
        Collect mode: when a list is given, malformed lines are appended to it and
        skipped instead of raised.

    Returns
    -------
    DataFrame
        Detections (:data:`spermlab.tables.DETECTIONS`): box centres and sizes in
        pixels, in file order, ``score`` 1.0 (ground truth).

    Raises
    ------
    spermlab.FormatError
        On the first malformed line (see the module rules), unless ``problems`` is given.
    ValueError
        When ``width`` or ``height`` is not positive.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.txt"
    >>> _ = p.write_text("0 0.5 0.5 0.025 0.05\\n")
    >>> read_yolo(p, width=640, height=480)[["x", "y", "w", "h"]].iloc[0].tolist()
    [320.0, 240.0, 16.0, 24.0]
    """
    _check_size(width, height)
    rows = [v for _, _, v in parse_file(path, problems) if v is not None]
    return rows_to_table(rows, [frame] * len(rows), width=width, height=height, name=str(path))


def rows_to_table(
    rows: list[tuple[int, float, float, float, float]],
    frames: list[int],
    *,
    width: int,
    height: int,
    name: str,
    track_ids: list[int] | None = None,
) -> pd.DataFrame:
    """Turn parsed normalised rows into a Detections (or Tracks) table in pixels."""
    schema = tables.DETECTIONS if track_ids is None else tables.TRACKS
    cols: dict[str, list] = {
        "frame": frames,
        "x": [r[1] * width for r in rows],
        "y": [r[2] * height for r in rows],
        "w": [r[3] * width for r in rows],
        "h": [r[4] * height for r in rows],
        "cls": [r[0] for r in rows],
        "score": [1.0] * len(rows),
    }
    if track_ids is not None:
        cols["track_id"] = track_ids
    return _lines.build_table(cols, schema, name)


def format_lines(table: pd.DataFrame, *, width: int, height: int, name: str) -> list[str]:
    """Format the rows of a validated table as YOLO lines, checking each box first.

    Raises :class:`ValueError` for a box the reader would reject, so that every file
    written here reads back.
    """
    out = []
    for i, (x, y, w, h, cls) in enumerate(
        zip(table["x"], table["y"], table["w"], table["h"], table["cls"], strict=True)
    ):
        xc, yc, wn, hn = x / width, y / height, w / width, h / height
        try:
            _lines.check_class(int(cls), "cls")
            _lines.check_unit_box(xc, yc, wn, hn)
        except LineError as exc:
            raise ValueError(f"{name}: row {i} cannot be written as YOLO: {exc}") from None
        out.append(
            f"{int(cls)} {_lines.fmt(xc)} {_lines.fmt(yc)} {_lines.fmt(wn)} {_lines.fmt(hn)}"
        )
    return out


def write_yolo(
    detections: pd.DataFrame,
    path: str | PathLike[str],
    *,
    width: int,
    height: int,
) -> Path:
    """Write the boxes of one frame as a YOLO label file.

    Values are written with the shortest decimal text that reads back to the same
    float (Python ``repr``), so nothing is lost beyond float arithmetic.

    Parameters
    ----------
    detections : DataFrame
        Detections (or Tracks) of a single frame; an empty table writes an empty file.
        Extra columns are ignored.
    path : str or PathLike
        The file to write (overwritten; its folder must exist).
    width, height : int
        Image size in pixels.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        When the table holds more than one frame, a class id is unknown, or a box is
        empty or outside the image.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> det = pd.DataFrame({"frame": [0], "x": [320.0], "y": [240.0], "w": [16.0],
    ...                     "h": [24.0], "cls": [0], "score": [0.9]})
    >>> p = write_yolo(det, pathlib.Path(tempfile.mkdtemp()) / "f.txt", width=640, height=480)
    >>> p.read_text()
    '0 0.5 0.5 0.025 0.05\\n'
    """
    _check_size(width, height)
    table = _lines.as_table(detections, tables.DETECTIONS, "detections")
    n_frames = table["frame"].nunique()
    if n_frames > 1:
        raise ValueError(
            f"detections: expected the boxes of one frame for one YOLO file, got "
            f"{n_frames} frames; write one file per frame"
        )
    lines = format_lines(table, width=width, height=height, name="detections")
    out = Path(path)
    out.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    return out


def _check_size(width: int, height: int) -> None:
    if not (width > 0 and height > 0):
        raise ValueError(f"image size: expected width > 0 and height > 0, got {width} x {height}")
