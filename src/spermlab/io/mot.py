"""MOTChallenge text files: ground truth and tracker output, as read by TrackEval.

One box per line, comma separated, pixel boxes given by their top-left corner::

    tracker:  frame,id,bb_left,bb_top,bb_width,bb_height,conf,x,y,z
    gt:       frame,id,bb_left,bb_top,bb_width,bb_height,flag,class,visibility

**Frames and ids are 1-based** in MOTChallenge files and 0-based in spermlab, so
``frame = mot_frame - 1`` and ``track_id = mot_id - 1`` on reading, and the reverse on
writing (every spermlab id, 0 included, gets a valid MOT id; the round trip is exact).

Tracker files (MOTChallenge results): ``conf`` is the score in [0, 1], or -1 for "no
confidence", read as 1.0; ``x y z`` (world coordinates) are written as -1 and ignored
on reading. Tracker files carry no class: every box is read as sperm (``cls`` 0) and
the class is not written.

Ground-truth files (the MOT16/17/20 layout that TrackEval's ``MotChallenge2DBox``
expects): ``flag`` is 1 for a box to evaluate and 0 for one to ignore (rows with 0 are
skipped on reading, as TrackEval does); ``class`` is ``cls + 1`` (1 sperm, 2 cluster,
3 small or pinhead; TrackEval evaluates class 1 and treats 2 as a distractor);
``visibility`` is in [0, 1] and written as 1.

Rules checked on every line (each breach is a :class:`spermlab.FormatError` with the
1-based line number): the field count of the kind; integer frame and id >= 1 (integral
decimals such as ``3.0`` are accepted, as TrackEval does); finite numbers; a strictly
positive box size; conf in [0, 1] or -1; flag 0 or 1; a known class; visibility in
[0, 1]; each id at most once per frame. Blank lines are ignored.

References
----------
Milan A. et al., "MOT16: A Benchmark for Multi-Object Tracking", arXiv:1603.00831 (2016).
Luiten J. and Hoffhues A., TrackEval, https://github.com/JonathonLuiten/TrackEval (2020).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Literal

import pandas as pd

from spermlab import tables
from spermlab.errors import FormatError
from spermlab.io import _lines
from spermlab.io._lines import LineError

__all__ = ["GT_FIELDS", "TRACKER_FIELDS", "read_mot", "write_mot"]

TRACKER_FIELDS = ("frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf",
                  "x", "y", "z")
GT_FIELDS = ("frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "flag", "class",
             "visibility")

Kind = Literal["gt", "tracker"]

_GT_CLASSES = ", ".join(f"{k + 1} ({v})" for k, v in tables.CLASS_NAMES.items())


def read_mot(
    path: str | PathLike[str],
    *,
    kind: Kind = "tracker",
    problems: list[FormatError] | None = None,
) -> pd.DataFrame:
    """Read a MOTChallenge ground-truth or tracker file into a Tracks table.

    Parameters
    ----------
    path : str or PathLike
        The text file.
    kind : {"tracker", "gt"}
        The layout (see the module notes).
    problems : list of FormatError, optional
        Collect mode: malformed lines are appended and skipped.

    Returns
    -------
    DataFrame
        Tracks (:data:`spermlab.tables.TRACKS`) with 0-based frames and ids, box
        centres in pixels, sorted by frame and track id.

    Raises
    ------
    spermlab.FormatError
        On the first malformed line (module rules), unless ``problems`` is given.
    ValueError
        For an unknown ``kind``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
    >>> _ = p.write_text("1,1,10,20,4,6,0.9,-1,-1,-1\\n")
    >>> read_mot(p).iloc[0][["frame", "track_id", "x", "y"]].tolist()
    [0.0, 0.0, 12.0, 23.0]
    """
    fields = _fields(kind)
    lines = _lines.read_lines(path, problems)
    parse = _parse_gt if kind == "gt" else _parse_tracker
    rows = _lines.parse_rows(
        path, lines or [], lambda ln: parse(ln, fields), problems,
        key=lambda r: None if r is None else f"frame {r[0] + 1}, id {r[1] + 1}",
        key_name="frame,id",
    )
    rows = [r for r in rows if r is not None]
    names = ("frame", "track_id", "x", "y", "w", "h", "cls", "score")
    cols = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    table = _lines.build_table(cols, tables.TRACKS, str(path))
    return table.sort_values(["frame", "track_id"], kind="stable", ignore_index=True)


def _box(parts: list[str], fields: tuple[str, ...]) -> tuple[int, int, float, float, float, float]:
    """Frame, id (both 0-based) and the box centre and size of a split MOT line."""
    if len(parts) != len(fields):
        raise LineError(f"expected {len(fields)} comma-separated fields ({','.join(fields)}), "
                        f"got {len(parts)}")
    frame = _lines.to_int(parts[0], "frame", allow_float=True)
    ident = _lines.to_int(parts[1], "id", allow_float=True)
    if frame < 1 or ident < 1:
        raise LineError(f"frame, id: expected 1-based values >= 1, got {frame}, {ident}")
    left, top, w, h = (_lines.to_float(t, n) for t, n in zip(parts[2:6], fields[2:6], strict=True))
    _lines.check_size(w, h)
    return frame - 1, ident - 1, left + w / 2, top + h / 2, w, h


def _parse_tracker(line: str, fields: tuple[str, ...]) -> tuple:
    parts = [p.strip() for p in line.split(",")]
    box = _box(parts, fields)
    conf = _lines.to_float(parts[6], "conf")
    for t, n in zip(parts[7:], fields[7:], strict=True):
        _lines.to_float(t, n)
    if conf != -1 and not 0 <= conf <= 1:
        raise LineError(f"conf: expected a score in [0, 1] or -1, got {conf!r}")
    return (*box, 0, 1.0 if conf == -1 else conf)


def _parse_gt(line: str, fields: tuple[str, ...]) -> tuple | None:
    parts = [p.strip() for p in line.split(",")]
    box = _box(parts, fields)
    flag = _lines.to_int(parts[6], "flag", allow_float=True)
    if flag not in (0, 1):
        raise LineError(f"flag: expected 1 (evaluate) or 0 (ignore), got {flag}")
    mot_class = _lines.to_int(parts[7], "class", allow_float=True)
    if mot_class - 1 not in tables.CLASS_NAMES:
        raise LineError(f"class: expected {_GT_CLASSES} (cls + 1), got {mot_class}")
    visibility = _lines.to_float(parts[8], "visibility")
    if not 0 <= visibility <= 1:
        raise LineError(f"visibility: expected a value in [0, 1], got {visibility!r}")
    return (*box, mot_class - 1, 1.0) if flag == 1 else None


def write_mot(
    tracks: pd.DataFrame,
    path: str | PathLike[str],
    *,
    kind: Kind = "tracker",
) -> Path:
    """Write a Tracks table as a MOTChallenge ground-truth or tracker file.

    Rows are written sorted by frame and track id, with 1-based frames and ids and
    values in the shortest text that reads back to the same float.

    Parameters
    ----------
    tracks : DataFrame
        Tracks table (extra columns are ignored).
    path : str or PathLike
        The file to write (overwritten).
    kind : {"tracker", "gt"}
        ``"tracker"`` writes ``score`` as ``conf`` and drops the class; ``"gt"`` writes
        flag 1, ``cls + 1`` and visibility 1 (see the module notes).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        For an unknown ``kind``, a negative frame or track id, a box of zero or negative
        size, a track id twice in one frame, a score outside [0, 1] (tracker) or an
        unknown class (gt).

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> t = pd.DataFrame({"frame": [0], "x": [12.0], "y": [23.0], "w": [4.0], "h": [6.0],
    ...                   "cls": [0], "score": [0.9], "track_id": [0]})
    >>> write_mot(t, pathlib.Path(tempfile.mkdtemp()) / "t.txt").read_text()
    '1,1,10,20,4,6,0.9,-1,-1,-1\\n'
    """
    _fields(kind)
    table = _lines.as_table(tracks, tables.TRACKS, "tracks")
    _check_writable(table, kind)
    table = table.sort_values(["frame", "track_id"], kind="stable", ignore_index=True)
    f = _lines.fmt
    lines = []
    for fr, tid, x, y, w, h, cls, score in zip(
        *(table[c] for c in ("frame", "track_id", "x", "y", "w", "h", "cls", "score")),
        strict=True,
    ):
        head = f"{fr + 1},{tid + 1},{f(x - w / 2)},{f(y - h / 2)},{f(w)},{f(h)}"
        lines.append(f"{head},1,{cls + 1},1" if kind == "gt" else f"{head},{f(score)},-1,-1,-1")
    return _lines.write_lines(Path(path), lines)


def _check_writable(table: pd.DataFrame, kind: Kind) -> None:
    for col in ("frame", "track_id"):
        if (table[col] < 0).any():
            raise ValueError(f"tracks: expected {col} >= 0, got {int(table[col].min())}")
    bad = (table["w"] <= 0) | (table["h"] <= 0)
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise ValueError(f"tracks: row {i}: expected a box size > 0, got "
                         f"{table['w'][i]!r} x {table['h'][i]!r}")
    _lines.check_unique_ids(table, "tracks")
    if kind == "tracker":
        bad = (table["score"] < 0) | (table["score"] > 1)
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise ValueError(f"tracks: row {i}: expected a score in [0, 1], got "
                             f"{table['score'][i]!r}")
    else:
        unknown = sorted(set(table["cls"].tolist()) - set(tables.CLASS_NAMES))
        if unknown:
            raise ValueError(f"tracks: expected classes in {sorted(tables.CLASS_NAMES)}, "
                             f"got {unknown}")


def _fields(kind: str) -> tuple[str, ...]:
    if kind == "gt":
        return GT_FIELDS
    if kind == "tracker":
        return TRACKER_FIELDS
    raise ValueError(f"kind: expected 'gt' or 'tracker', got {kind!r}")
