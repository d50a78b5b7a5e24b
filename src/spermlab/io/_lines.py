"""Shared helpers of the line-oriented readers: reporting, decoding and field parsing.

Every strict reader in :mod:`spermlab.io` follows the same two modes:

* ``problems=None`` (default): the first malformed line raises
  :class:`spermlab.FormatError`.
* ``problems=[]``: every malformed line is appended to the list as a
  :class:`~spermlab.FormatError`, the whole bad line is dropped and reading goes on.

These helpers are private to the package; their behaviour is documented on the public
readers that use them.
"""

from __future__ import annotations

import glob
import math
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from spermlab import tables
from spermlab.errors import FormatError

Problems = list[FormatError] | None
T = TypeVar("T")

#: Tolerance (in normalised units) for a box edge that lies just outside the image.
EDGE_TOL = 1e-6

DECIMAL_COMMA_RE = re.compile(r"-?\d+(,\d+)?")

_CLASS_TEXT = ", ".join(f"{k} ({v})" for k, v in tables.CLASS_NAMES.items())


class LineError(Exception):
    """A line-level problem: raised by field parsers, turned into a FormatError by callers."""


def report(problems: Problems, error: FormatError) -> None:
    """Raise ``error``, or append it to ``problems`` when a list is given."""
    if problems is None:
        raise error
    problems.append(error)


def read_lines(path: str | PathLike[str], problems: Problems) -> list[str] | None:
    """Return the lines of a UTF-8 text file without line ends (LF or CRLF).

    A file that is not valid UTF-8 is a whole-file problem: reported, then ``None``.
    A missing file raises :class:`FileNotFoundError` as usual.
    """
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report(problems, FormatError(
            path, f"expected UTF-8 text, got undecodable bytes ({exc.reason} at byte {exc.start})"))
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def numbered(lines: list[str]) -> Iterator[tuple[int, str]]:
    """Yield ``(1-based line number, line)`` for every line that is not blank."""
    for i, line in enumerate(lines, start=1):
        if line.strip():
            yield i, line


def parse_rows(
    path: str | PathLike[str],
    lines: list[str],
    parse: Callable[[str], T],
    problems: Problems,
    *,
    start: int = 0,
    key: Callable[[T], Hashable] | None = None,
    key_name: str = "key",
) -> list[T]:
    """Parse ``lines[start:]`` one by one, reporting and dropping the bad ones.

    ``parse`` raises :class:`LineError` for a bad line. With ``key``, a row whose key
    was already seen is an error too. Line numbers in the reports are 1-based.
    """
    out: list[T] = []
    seen: dict[Hashable, int] = {}
    for line_no, line in numbered(lines[start:]):
        line_no += start
        try:
            row = parse(line)
            k = None if key is None else key(row)
            if k is not None and k in seen:
                raise LineError(f"{key_name}: expected each value once, got {k} again "
                                f"(first on line {seen[k]})")
        except LineError as exc:
            report(problems, FormatError(path, str(exc), line_no=line_no, line=line))
            continue
        seen[k] = line_no
        out.append(row)
    return out


def to_float(text: str, name: str) -> float:
    """Parse a finite float or raise :class:`LineError` naming the field."""
    try:
        value = float(text)
    except ValueError:
        raise LineError(f"{name}: expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise LineError(f"{name}: expected a finite number, got {text!r}")
    return value


def to_int(text: str, name: str, *, allow_float: bool = False) -> int:
    """Parse an integer; with ``allow_float`` also integral decimals such as ``"3.0"``."""
    try:
        return int(text)
    except ValueError:
        pass
    if allow_float:
        value = to_float(text, name)
        if value == int(value):
            return int(value)
    raise LineError(f"{name}: expected an integer, got {text!r}")


def check_fields(parts: list[str], expected: Iterable[str]) -> None:
    """Raise :class:`LineError` unless ``parts`` has one field per name in ``expected``."""
    names = list(expected)
    if len(parts) != len(names):
        raise LineError(
            f"expected {len(names)} fields ({' '.join(names)}), got {len(parts)}"
        )


def check_class(cls: int, name: str = "class") -> None:
    """Raise :class:`LineError` unless ``cls`` is a known VISEM-Tracking class id."""
    if cls not in tables.CLASS_NAMES:
        raise LineError(f"{name}: expected one of {_CLASS_TEXT}, got {cls}")


def check_unit_box(xc: float, yc: float, w: float, h: float) -> None:
    """Check a normalised YOLO box: positive size, values in [0, 1], inside the image."""
    check_size(w, h)
    for name, value in (("x_center", xc), ("y_center", yc), ("width", w), ("height", h)):
        if not 0.0 <= value <= 1.0:
            raise LineError(f"{name}: expected a normalised value in [0, 1], got {value!r}")
    for axis, c, s in (("x", xc, w), ("y", yc, h)):
        lo, hi = c - s / 2, c + s / 2
        if lo < -EDGE_TOL or hi > 1 + EDGE_TOL:
            raise LineError(
                f"box extends outside the image along {axis}: expected edges within [0, 1], "
                f"got [{lo:.6g}, {hi:.6g}]"
            )


def check_size(w: float, h: float) -> None:
    """Raise :class:`LineError` unless both box sides are strictly positive."""
    if w <= 0 or h <= 0:
        raise LineError(f"box size: expected width > 0 and height > 0, got {w!r} x {h!r}")


def fmt(value: float) -> str:
    """Format a float with the shortest text that reads back to the same float."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def build_table(
    columns: dict[str, list], schema: tables.Schema, name: str
) -> pd.DataFrame:
    """Make a validated table from column lists (an empty table keeps its schema)."""
    if not columns or not next(iter(columns.values())):
        return tables.empty(schema)
    df = pd.DataFrame({c: np.asarray(v) for c, v in columns.items()})
    return tables.validate(df, schema, name=name)


def as_table(table: pd.DataFrame, schema: tables.Schema, name: str) -> pd.DataFrame:
    """Validate an input table, tolerating extra columns (e.g. Tracks passed as Detections)."""
    return tables.validate(table, schema, name=name, extra="keep")


def frame_files(
    sub: Path,
    pattern: re.Pattern[str],
    template: str,
    *,
    stem: str | None,
    frames: Iterable[int] | None,
    problems: Problems,
    first: int = 0,
) -> list[tuple[int, Path]]:
    """The per-frame files of one video in a folder, in numeric frame order.

    ``pattern`` has the groups ``stem`` and ``n``; ``template`` (``"{stem}_..{n}.txt"``)
    names the expected files in messages; ``first`` is the number of the first frame in
    file names (1 for 1-based names). With ``stem``, only files starting with
    ``<stem>_`` are looked at; without it, the folder must hold the files of one video.
    File names that do not match, two files of one frame, and requested ``frames``
    without a file are reported.
    """
    if not sub.is_dir():
        raise FileNotFoundError(f"{sub}: expected a folder of per-frame files, got nothing there")
    suffix = template.rsplit("}", 1)[-1]
    candidates = sorted(sub.glob(f"{glob.escape(stem)}_*{suffix}" if stem else f"*{suffix}"))
    matches = [(p, pattern.fullmatch(p.name)) for p in candidates]
    stems = sorted({m.group("stem") for _, m in matches if m is not None})
    if stem is None and len(stems) > 1:
        raise ValueError(f"{sub}: expected the files of one video, got the stems {stems}; "
                         f"point at one of them as FOLDER/STEM, e.g. {sub / stems[0]} (in "
                         "Python: stem=...)")
    stem = stem or (stems[0] if stems else sub.parent.name)
    found: dict[int, Path] = {}
    for path, m in matches:
        n = -1 if m is None or m.group("stem") != stem else int(m.group("n")) - first
        if n < 0:
            want = re.sub(r"\{n[^}]*\}", f"<n >= {first}>", template).format(stem=stem)
            report(problems, FormatError(path, f"file name: expected {want}, got {path.name}"))
        elif n in found:
            report(problems, FormatError(path, f"expected one file for frame {n}, got "
                                               f"{found[n].name} and {path.name}"))
        else:
            found[n] = path
    if frames is None:
        return sorted(found.items())
    wanted = {int(n) for n in frames}
    for n in sorted(wanted - set(found)):
        report(problems, FormatError(sub / template.format(stem=stem, n=n + first),
                                     f"expected a file for frame {n}, got none"))
    return [(n, found[n]) for n in sorted(wanted & set(found))]


def frame_groups(
    table: pd.DataFrame, frames: int | Iterable[int] | None, name: str
) -> list[tuple[int, pd.DataFrame]]:
    """Rows per frame for every frame that exists, empty frames included."""
    present = sorted(set(table["frame"].tolist()))
    if frames is None:
        wanted = present
    elif isinstance(frames, int | np.integer):
        wanted = list(range(int(frames)))
    else:
        wanted = sorted({int(f) for f in frames})
    if wanted and wanted[0] < 0:
        raise ValueError(f"{name}: expected 0-based frames >= 0, got {wanted[0]}")
    extra = sorted(set(present) - set(wanted))
    if extra:
        raise ValueError(f"{name}: expected boxes only in the given frames, got boxes in "
                         f"frame(s) {extra[:5]}{' ...' if len(extra) > 5 else ''}")
    by_frame = dict(iter(table.groupby("frame", sort=True)))
    empty = table.iloc[0:0]
    return [(f, by_frame.get(f, empty)) for f in wanted]


def check_unique_ids(table: pd.DataFrame, name: str) -> None:
    """Raise ``ValueError`` when a ``track_id`` occurs twice in one frame of ``table``."""
    dup = table.duplicated(["frame", "track_id"]).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise ValueError(f"{name}: expected each track id once per frame, got track "
                         f"{table['track_id'][i]} twice in frame {table['frame'][i]} (row {i})")


def write_lines(path: Path, lines: list[str]) -> Path:
    """Write ``lines`` as UTF-8 text with LF line ends (an empty list: an empty file)."""
    path.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    return path


def decimal_comma_row(line: str, header: list[str], na: frozenset[str]) -> list[float]:
    """Parse one ``;``-separated row of decimal-comma numbers (the first one a positive id).

    Cells in ``na`` are NaN (not allowed for the id in the first column).
    """
    cells = line.split(";")
    if len(cells) != len(header):
        raise LineError(f"expected {len(header)} cells separated by ';', got {len(cells)}")
    row = []
    for i, (name, cell) in enumerate(zip(header, cells, strict=True)):
        cell = cell.strip()
        if cell in na and i > 0:
            row.append(float("nan"))
        elif DECIMAL_COMMA_RE.fullmatch(cell):
            row.append(float(cell.replace(",", ".")))
        else:
            raise LineError(f"{name}: expected a decimal-comma number, got {cell!r}")
    if row[0] != int(row[0]) or row[0] < 1:
        raise LineError(f"{header[0]}: expected a positive integer, got {cells[0]!r}")
    return row
