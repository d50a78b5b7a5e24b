"""VISEM-Tracking video folders, the per-frame count table and the VISEM clinical CSVs.

A VISEM-Tracking video folder (Thambawita et al. 2023) looks like::

    <id>/images/<id>_frame_<n>.jpg
    <id>/labels/<id>_frame_<n>.txt                   YOLO: class xc yc w h (normalised)
    <id>/labels_ftid/<id>_frame_<n>_with_ftid.txt    track_id class xc yc w h

``<n>`` is the 0-based frame index without zero padding; frames are always put in
numeric order (``11_frame_2`` before ``11_frame_10``). The track id is an opaque string
(a CUID of the annotation tool); on reading, the ids are mapped to integers 0, 1, 2...
in order of first appearance (frames in numeric order, lines in file order), and the
mapping is returned with the tracks in a :class:`TrackSet`.

Every line follows the rules of :mod:`spermlab.io.yolo`; ``labels_ftid`` lines also
need a track id that occurs at most once per frame, and (``check_labels=True``) must
equal the line at the same position of the matching ``labels`` file.

Examples
--------
>>> import tempfile, pandas as pd
>>> tracks = pd.DataFrame({"frame": [0, 2], "x": [320.0, 330.0], "y": [240.0, 250.0],
...     "w": [16.0, 16.0], "h": [24.0, 24.0], "cls": [0, 0], "score": [1.0, 1.0],
...     "track_id": [7, 7]})
>>> folder = tempfile.mkdtemp()
>>> _ = write_visem_tracks(tracks, folder, stem="11", frames=3, id_map={7: "ckz3v9"})
>>> back, id_map = read_visem_tracks(folder)
>>> back["frame"].tolist(), back["track_id"].tolist(), id_map
([0, 2], [0, 0], {0: 'ckz3v9'})

References
----------
Thambawita V. et al., "VISEM-Tracking, a human spermatozoa tracking dataset",
Scientific Data 10, 260 (2023), doi:10.1038/s41597-023-02173-4.
Haugen T.B. et al., "VISEM: A Multimodal Video Dataset of Human Spermatozoa",
MMSys'19, doi:10.1145/3304109.3325814.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from spermlab import tables
from spermlab.errors import FormatError
from spermlab.io import _lines, yolo
from spermlab.io._lines import LineError, Problems
from spermlab.io.frames import pil_open

__all__ = [
    "CLINICAL_TABLES", "DEFAULT_SIZE", "NA_MARKERS", "TrackSet", "read_clinical",
    "read_frame_counts", "read_visem_detections", "read_visem_tracks", "write_visem_labels",
    "write_visem_tracks",
]

#: Frame size of every VISEM video (width, height), used when no image is present.
DEFAULT_SIZE: tuple[int, int] = (640, 480)

_LABEL_RE = re.compile(r"(?P<stem>.+)_frame_(?P<n>\d+)\.txt")
_FTID_RE = re.compile(r"(?P<stem>.+)_frame_(?P<n>\d+)_with_ftid\.txt")
_LABEL_NAME = "{stem}_frame_{n}.txt"
_FTID_NAME = "{stem}_frame_{n}_with_ftid.txt"
_FTID_FIELDS = ("track_id", *yolo.FIELDS)

PathArg = str | PathLike[str]


@dataclass(frozen=True, eq=False)
class TrackSet:
    """Tracks read from a file with string track ids, and the id mapping.

    Unpacks as ``tracks, id_map = read_visem_tracks(...)``.

    Attributes
    ----------
    tracks : DataFrame
        Tracks table (:data:`spermlab.tables.TRACKS`) with integer ``track_id``.
    id_map : dict of int to str
        ``track_id`` to the original string id, in order of first appearance.
    """

    tracks: pd.DataFrame
    id_map: dict[int, str]

    def __iter__(self) -> Iterator:
        return iter((self.tracks, self.id_map))

    def to_pandas(self) -> pd.DataFrame:
        """Return the tracks with the original string id in an extra ``track_key`` column."""
        out = self.tracks.copy()
        out["track_key"] = out["track_id"].map(self.id_map).astype(object)
        return out

    def to_dict(self) -> dict:
        """Return ``{"n_boxes", "n_tracks", "id_map"}`` (JSON-ready, keys as strings)."""
        return {"n_boxes": len(self.tracks), "n_tracks": len(self.id_map),
                "id_map": {str(k): v for k, v in self.id_map.items()}}


def read_visem_detections(
    folder: PathArg,
    *,
    width: int | None = None,
    height: int | None = None,
    frames: Iterable[int] | None = None,
    stem: str | None = None,
    problems: list[FormatError] | None = None,
) -> pd.DataFrame:
    """Read the ``labels/`` boxes of a VISEM-Tracking video folder.

    Parameters
    ----------
    folder : str or PathLike
        The video folder (holding ``labels/`` and usually ``images/``).
    width, height : int, optional
        Image size in pixels. By default it is read from the image of the first frame
        read (``images/<stem>_frame_<n>.jpg``, or ``.png``) and, when there is none,
        :data:`DEFAULT_SIZE` (640 x 480). A given size that disagrees with the image
        raises ``ValueError``.
    frames : iterable of int, optional
        0-based frames to read; default every label file in the folder.
    stem : str, optional
        File-name prefix (the video id). Default: the single prefix found in the folder.
    problems : list of FormatError, optional
        Collect mode: malformed lines and files are appended and skipped.

    Returns
    -------
    DataFrame
        Detections in numeric frame order, file order within a frame, ``score`` 1.0.

    Raises
    ------
    spermlab.FormatError
        For a malformed line (see :mod:`spermlab.io.yolo`), a label file name that does
        not follow ``<stem>_frame_<n>.txt``, two files of one frame, or a requested frame
        without a file, unless ``problems`` is given.
    """
    folder = Path(folder)
    files = _lines.frame_files(folder / "labels", _LABEL_RE, _LABEL_NAME, stem=stem,
                               frames=frames, problems=problems)
    w, h = _image_size(folder, files, width, height)
    rows: list = []
    frame_col: list[int] = []
    for frame, path in files:
        parsed = [v for _, _, v in yolo.parse_file(path, problems) if v is not None]
        rows += parsed
        frame_col += [frame] * len(parsed)
    return yolo.rows_to_table(rows, frame_col, width=w, height=h, name=str(folder))


def read_visem_tracks(
    folder: PathArg,
    *,
    width: int | None = None,
    height: int | None = None,
    frames: Iterable[int] | None = None,
    stem: str | None = None,
    check_labels: bool = True,
    problems: list[FormatError] | None = None,
) -> TrackSet:
    """Read the ``labels_ftid/`` boxes and track ids of a VISEM-Tracking video folder.

    Parameters
    ----------
    folder : str or PathLike
        The video folder (holding ``labels_ftid/``, and ``labels/`` when checked).
    width, height, frames, stem, problems
        As in :func:`read_visem_detections`.
    check_labels : bool
        Check every ``labels_ftid`` line against the line at the same position of the
        matching ``labels`` file (class and box must be equal as numbers), and that
        both files of a frame hold the same number of boxes.

    Returns
    -------
    TrackSet
        Tracks in numeric frame order with integer ids 0, 1, 2... given in order of
        first appearance, and ``id_map`` from those integers to the original strings.

    Raises
    ------
    spermlab.FormatError
        For a malformed line, a track id twice in one frame, a line that disagrees with
        ``labels``, a missing or extra ``labels`` file, or a bad file name, unless
        ``problems`` is given.
    """
    folder = Path(folder)
    files = _lines.frame_files(folder / "labels_ftid", _FTID_RE, _FTID_NAME, stem=stem,
                               frames=frames, problems=problems)
    w, h = _image_size(folder, files, width, height)
    labels: dict[int, Path] | None = None
    if check_labels:
        labels = dict(_lines.frame_files(folder / "labels", _LABEL_RE, _LABEL_NAME, stem=stem,
                                         frames=None, problems=problems))
        orphans = sorted(set(labels) - {f for f, _ in files}) if frames is None else []
        for frame in orphans:
            _lines.report(problems, FormatError(
                labels[frame], f"expected a labels_ftid file for frame {frame}, got none"))
    key_to_id: dict[str, int] = {}
    rows: list = []
    frame_col: list[int] = []
    ids: list[int] = []
    for frame, path in files:
        for key, values in _read_ftid_file(path, frame, labels, problems):
            rows.append(values)
            frame_col.append(frame)
            ids.append(key_to_id.setdefault(key, len(key_to_id)))
    tracks = yolo.rows_to_table(rows, frame_col, width=w, height=h, name=str(folder),
                                track_ids=ids)
    return TrackSet(tracks, {v: k for k, v in key_to_id.items()})


def _read_ftid_file(
    path: Path, frame: int, labels: dict[int, Path] | None, problems: Problems
) -> list[tuple[str, tuple]]:
    """Parse one ``labels_ftid`` file, cross-checked with its ``labels`` file if given."""
    lines = _lines.read_lines(path, problems)
    if lines is None:
        return []
    ref = _reference_lines(path, frame, labels, problems)
    seen: dict[str, int] = {}
    out = []
    entries = list(_lines.numbered(lines))
    for pos, (line_no, line) in enumerate(entries):
        try:
            parts = line.split()
            _lines.check_fields(parts, _FTID_FIELDS)
            values = yolo.parse_values(parts[1:])
            key = parts[0]
            if key in seen:
                raise LineError(f"track_id: expected each id once per frame, got {key!r} "
                                f"again in frame {frame} (first on line {seen[key]})")
            if ref is not None:
                _compare(ref, pos, values, parts[1:])
        except LineError as exc:
            _lines.report(problems, FormatError(path, str(exc), line_no=line_no, line=line))
            continue
        seen[key] = line_no
        out.append((key, values))
    if ref is not None:
        for ln, line, _ in ref[1][len(entries):]:
            _lines.report(problems, FormatError(
                ref[0], f"expected {len(entries)} boxes as in {path.name}, got an extra box",
                line_no=ln, line=line))
    return out


def _reference_lines(
    path: Path, frame: int, labels: dict[int, Path] | None, problems: Problems
) -> tuple[Path, list] | None:
    """The parsed lines of the ``labels`` file matching one ``labels_ftid`` file."""
    if labels is None:
        return None
    if frame not in labels:
        _lines.report(problems, FormatError(
            path.parent.parent / "labels" / (path.name.removesuffix("_with_ftid.txt") + ".txt"),
            f"expected a labels file for frame {frame} matching {path.name} "
            "(check_labels=True), got none"))
        return None
    return labels[frame], yolo.parse_file(labels[frame], problems)


def _compare(ref: tuple[Path, list], pos: int, values: tuple, fields: list[str]) -> None:
    ref_path, ref_lines = ref
    if pos >= len(ref_lines):
        raise LineError(f"expected a matching line in {ref_path.name} (box {pos + 1}), "
                        f"got a file with {len(ref_lines)} boxes")
    ln, ref_line, ref_values = ref_lines[pos]
    if ref_values is not None and ref_values != values:
        raise LineError(f"disagrees with {ref_path.name} line {ln}: expected "
                        f"{ref_line.strip()!r}, got {' '.join(fields)!r}")


def _image_size(
    folder: Path, files: list[tuple[int, Path]], width: int | None, height: int | None
) -> tuple[int, int]:
    """Image size: from the first frame's image if present, else the arguments or default."""
    base = files[0][1].name.removesuffix("_with_ftid.txt").removesuffix(".txt") if files else ""
    image = next((p for ext in (".jpg", ".png") if (p := folder / "images" / (base + ext)).is_file()
                  and base), None)
    if image is None:
        return (width or DEFAULT_SIZE[0], height or DEFAULT_SIZE[1])
    try:
        with pil_open(image) as im:
            w, h = im.size
    except OSError as exc:
        raise FormatError(image, f"expected a readable image to take the frame size from, "
                                 f"got {exc}") from None
    if (width is not None and width != w) or (height is not None and height != h):
        raise ValueError(f"{image}: image size is {w} x {h}, but width={width}, "
                         f"height={height} was given")
    return w, h


def write_visem_labels(
    detections: pd.DataFrame,
    folder: PathArg,
    *,
    stem: str,
    width: int = DEFAULT_SIZE[0],
    height: int = DEFAULT_SIZE[1],
    frames: int | Iterable[int] | None = None,
) -> list[Path]:
    """Write detections as ``<folder>/labels/<stem>_frame_<n>.txt`` YOLO files.

    Parameters
    ----------
    detections : DataFrame
        Detections (extra columns such as ``track_id`` are ignored).
    folder : str or PathLike
        The video folder; ``labels/`` is created in it when missing. Existing files of
        the written frames are overwritten, others are left alone.
    stem : str
        File-name prefix, normally the video id.
    width, height : int
        Image size in pixels (VISEM: 640 x 480).
    frames : int or iterable of int, optional
        Which frames exist, so that frames without boxes get an empty file: an int
        ``n`` means frames ``0..n-1``; an iterable lists them. Default: only the frames
        that have boxes.

    Returns
    -------
    list of Path
        The written files, in frame order.

    Raises
    ------
    ValueError
        When a box has a frame outside ``frames``, an unknown class, or cannot be
        written as a valid normalised box.
    """
    table = _lines.as_table(detections, tables.DETECTIONS, "detections")
    return _write_folder(table, Path(folder), None, stem=stem, width=width, height=height,
                         frames=frames, labels=True)


def write_visem_tracks(
    tracks: pd.DataFrame,
    folder: PathArg,
    *,
    stem: str,
    width: int = DEFAULT_SIZE[0],
    height: int = DEFAULT_SIZE[1],
    frames: int | Iterable[int] | None = None,
    id_map: Mapping[int, str] | None = None,
    labels: bool = True,
) -> list[Path]:
    """Write tracks as ``<folder>/labels_ftid/<stem>_frame_<n>_with_ftid.txt`` files.

    Parameters
    ----------
    tracks : DataFrame
        Tracks table.
    folder, stem, width, height, frames
        As in :func:`write_visem_labels`.
    id_map : mapping of int to str, optional
        Track id to the string written in the file (e.g. :attr:`TrackSet.id_map`, to
        write the original CUIDs back). Default: the integer id itself.
    labels : bool
        Also write the matching ``labels/`` files (the same lines without the id), so
        that the folder reads back with ``check_labels=True``.

    Returns
    -------
    list of Path
        The written ``labels_ftid`` files, in frame order.

    Raises
    ------
    ValueError
        As :func:`write_visem_labels`; also for a track id twice in one frame, a track
        id missing from ``id_map``, a mapped id that is empty or holds whitespace, or two
        track ids mapped to the same string.
    """
    table = _lines.as_table(tracks, tables.TRACKS, "tracks")
    keys = _track_keys(table, id_map)
    _lines.check_unique_ids(table, "tracks")
    return _write_folder(table, Path(folder), keys, stem=stem, width=width, height=height,
                         frames=frames, labels=labels)


def _write_folder(
    table: pd.DataFrame, folder: Path, keys: list[str] | None, *, stem: str, width: int,
    height: int, frames: int | Iterable[int] | None, labels: bool,
) -> list[Path]:
    """Write ``labels_ftid/`` (when ``keys``) and ``labels/`` files; return the main ones."""
    table = table.assign(_key=keys if keys is not None else "")
    subs = (["labels_ftid"] if keys is not None else []) + (["labels"] if labels else [])
    for sub in subs:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    written = []
    for frame, rows in _lines.frame_groups(table, frames, "tracks" if keys else "detections"):
        lines = yolo.format_lines(rows, width=width, height=height, name=f"frame {frame}")
        if labels:
            path = _lines.write_lines(folder / "labels" / _LABEL_NAME.format(stem=stem, n=frame),
                                      lines)
        if keys is not None:
            path = _lines.write_lines(
                folder / "labels_ftid" / _FTID_NAME.format(stem=stem, n=frame),
                [f"{k} {ln}" for k, ln in zip(rows["_key"], lines, strict=True)])
        written.append(path)
    return written


def _track_keys(table: pd.DataFrame, id_map: Mapping[int, str] | None) -> list[str]:
    ids = table["track_id"].tolist()
    if id_map is None:
        return [str(i) for i in ids]
    used = sorted(set(ids))
    missing = [i for i in used if i not in id_map]
    if missing:
        raise ValueError(f"id_map: expected a string for every track id, got none for "
                         f"{missing[:5]}{' ...' if len(missing) > 5 else ''}")
    owner: dict[str, int] = {}
    for i in used:
        key = id_map[i]
        if not isinstance(key, str) or key.split() != [key]:
            raise ValueError(f"id_map: expected a non-empty string without whitespace for "
                             f"track {i}, got {key!r}")
        if owner.setdefault(key, i) != i:
            raise ValueError(f"id_map: expected distinct strings, got {key!r} for tracks "
                             f"{owner[key]} and {i}")
    return [id_map[i] for i in ids]


# --- the official per-frame counts of all 20 VISEM-Tracking videos ----------------------

_COUNT_HEADER = ("frame_name", "sperm_count", "cluster_count", "small_or_pinhead_count")
_COUNT_COLUMNS = {"video_id": "int64", "frame": "int64", "sperm": "int64",
                  "cluster": "int64", "small_or_pinhead": "int64"}
_FRAME_NAME_RE = re.compile(r"(\d+)_frame_(\d+)")


def read_frame_counts(
    path: PathArg, *, problems: list[FormatError] | None = None
) -> pd.DataFrame:
    """Read ``sperm_counts_per_frame.csv``, the official VISEM-Tracking counts per frame.

    Header ``frame_name, sperm_count, cluster_count, small_or_pinhead_count`` (the
    leading spaces are accepted), rows such as ``11_frame_0,43,0,0``.

    Parameters
    ----------
    path : str or PathLike
        The CSV file.
    problems : list of FormatError, optional
        Collect mode: malformed rows are appended and skipped.

    Returns
    -------
    DataFrame
        ``video_id``, ``frame`` (0-based), ``sperm``, ``cluster``, ``small_or_pinhead``
        (all int64), sorted by video and frame.

    Raises
    ------
    spermlab.FormatError
        For a wrong header or bad encoding (always), and, unless ``problems`` is given,
        a row without 4 fields, a frame name not ``<video>_frame_<n>``, a count that is
        not a non-negative integer, or a frame seen before.
    """
    lines = _lines.read_lines(path, None) or [""]
    header = tuple(h.strip() for h in lines[0].split(","))
    if header != _COUNT_HEADER:
        raise FormatError(path, f"header: expected {', '.join(_COUNT_HEADER)}, got {lines[0]!r}",
                          line_no=1, line=lines[0])
    rows = _lines.parse_rows(path, lines, _count_row, problems, start=1,
                             key=lambda r: f"{r[0]}_frame_{r[1]}", key_name="frame_name")
    data = np.array(rows, dtype="int64").reshape(len(rows), len(_COUNT_COLUMNS))
    table = pd.DataFrame(data, columns=list(_COUNT_COLUMNS))
    return table.sort_values(["video_id", "frame"], kind="stable", ignore_index=True)


def _count_row(line: str) -> tuple[int, ...]:
    parts = [p.strip() for p in line.split(",")]
    _lines.check_fields(parts, _COUNT_HEADER)
    m = _FRAME_NAME_RE.fullmatch(parts[0])
    if m is None:
        raise LineError(f"frame_name: expected <video>_frame_<n>, got {parts[0]!r}")
    counts = [_lines.to_int(t, n) for t, n in zip(parts[1:], _COUNT_HEADER[1:], strict=True)]
    if min(counts) < 0:
        raise LineError(f"counts: expected non-negative integers, got {counts}")
    return (int(m.group(1)), int(m.group(2)), *counts)


# --- the VISEM clinical tables (Haugen et al. 2019) -------------------------------------

#: Table name -> file name of the five VISEM clinical CSVs.
CLINICAL_TABLES: dict[str, str] = {
    "semen_analysis": "semen_analysis_data.csv",
    "participant": "participant_related_data.csv",
    "sex_hormones": "sex_hormones.csv",
    "fatty_acids_serum": "fatty_acids_serum.csv",
    "fatty_acids_sperm": "fatty_acids_spermatoza.csv",
}

_SEMEN_ALIASES = {
    "concentration": "Sperm concentration (x10⁶/mL)",
    "total_count": "Total sperm count (x10⁶)",
    "volume_ml": "Ejaculate volume (mL)",
    "progressive_pct": "Progressive motility (%)",
    "non_progressive_pct": "Non progressive sperm motility (%)",
    "immotile_pct": "Immotile sperm (%)",
}

#: Cell texts read as a missing value (NaN); participant 24 has "Not reported".
NA_MARKERS = frozenset({"Not reported"})

def read_clinical(
    source: PathArg,
    *,
    table: str | None = None,
    aliases: bool = True,
    problems: list[FormatError] | None = None,
) -> pd.DataFrame:
    """Read one of the five VISEM clinical CSVs (85 participants).

    The files are UTF-8 with a BOM, semicolon separated, with a decimal comma. The
    reader checks the header (``ID`` first, then the expected number of uniquely named
    columns), that every cell is a decimal-comma number (or ``Not reported``, read as
    NaN) and that ids are distinct positive integers.

    Parameters
    ----------
    source : str or PathLike
        The CSV file, or the folder holding the five files.
    table : str, optional
        Which table (a key of :data:`CLINICAL_TABLES`); it picks the file in a folder
        and sets the header to check. Default: from the file's name, or
        ``"semen_analysis"`` for a folder.
    aliases : bool
        For ``semen_analysis``, add short copies of the key columns: ``concentration``
        (10⁶/mL), ``total_count`` (10⁶), ``volume_ml``, ``progressive_pct``,
        ``non_progressive_pct``, ``immotile_pct``. The original columns stay.
    problems : list of FormatError, optional
        Collect mode: malformed rows are appended and skipped.

    Returns
    -------
    DataFrame
        ``participant_id`` (int64, from ``ID``) and the original columns (float64).

    Raises
    ------
    spermlab.FormatError
        For a wrong header (always), and, unless ``problems`` is given, a row with the
        wrong number of cells, a cell that is not a number, or a repeated id.
    ValueError
        For an unknown ``table``, or none given for a file with an unknown name.

    References
    ----------
    Haugen T.B. et al., "VISEM: A Multimodal Video Dataset of Human Spermatozoa",
    MMSys'19, doi:10.1145/3304109.3325814.
    """
    path = Path(source)
    by_name = {v: k for k, v in CLINICAL_TABLES.items()}
    table = table or ("semen_analysis" if path.is_dir() else by_name.get(path.name))
    if table not in CLINICAL_TABLES:
        raise ValueError(f"table: expected one of {sorted(CLINICAL_TABLES)}, got {table!r}")
    path = path / CLINICAL_TABLES[table] if path.is_dir() else path
    lines = _lines.read_lines(path, None) or [""]
    header = lines[0].split(";")
    _check_clinical_header(path, header, table, lines[0])
    rows = _lines.parse_rows(
        path, lines, lambda ln: _lines.decimal_comma_row(ln, header, NA_MARKERS), problems,
        start=1, key=lambda r: int(r[0]), key_name="ID")
    data = np.array(rows, dtype="float64").reshape(len(rows), len(header))
    out = pd.DataFrame(data[:, 1:], columns=header[1:])
    out.insert(0, "participant_id", data[:, 0].astype("int64"))
    if aliases and table == "semen_analysis":
        for alias, column in _SEMEN_ALIASES.items():
            out[alias] = out[column]
    return out


_CLINICAL_N_COLUMNS = {"semen_analysis": 16, "participant": 4, "sex_hormones": 9,
                       "fatty_acids_serum": 16, "fatty_acids_sperm": 24}


def _check_clinical_header(path: Path, header: list[str], table: str, line: str) -> None:
    n, need = _CLINICAL_N_COLUMNS[table], set(_SEMEN_ALIASES.values())
    if header[0] != "ID" or len(header) != n or len(set(header)) != n or (
        table == "semen_analysis" and not need <= set(header)
    ):
        raise FormatError(path, f"header: expected {n} distinct columns starting with 'ID' for "
                                f"table {table!r}, got {len(header)} starting with {header[0]!r}"
                                + ("" if need <= set(header) or table != "semen_analysis"
                                   else f" (missing {sorted(need - set(header))})"),
                          line_no=1, line=line)
