"""COCO JSON: ground-truth datasets and detection result lists (pycocotools ``loadRes``).

Conventions of the files written and read here:

* one COCO image per video frame, ``image_id = frame + 1`` (so ``frame = image_id - 1``
  on reading); frames without boxes are images without annotations, which matters for
  false positives in COCO evaluation;
* ``bbox`` is ``[x_left, y_top, width, height]`` in pixels (COCO), converted from and
  to spermlab's box centres;
* categories ``{"id": cls + 1, "name": ...}`` with the names of
  :data:`spermlab.tables.CLASS_NAMES` (1 sperm, 2 cluster, 3 small_or_pinhead); the
  ground-truth reader maps categories by name, the results reader by id;
* ground-truth annotations may carry an integer ``track_id`` (written for Tracks,
  required with ``tracks=True``); pycocotools ignores it.

Rules checked (each breach is a :class:`spermlab.FormatError` naming the entry, e.g.
``annotations[4]``, with the entry as ``line``): valid JSON with the expected top-level
structure (always raised); image ids integers >= 1 and unique; image sizes positive
integers; annotation ids unique; a known ``image_id`` and category; ``bbox`` four finite
numbers with a positive size, inside the image (1e-6 tolerance); ``iscrowd`` 0 when
given; ``score`` in [0, 1] for results; with ``tracks=True`` a ``track_id`` >= 0 at most
once per frame.

References
----------
Lin T.-Y. et al., "Microsoft COCO: Common Objects in Context", ECCV 2014,
doi:10.1007/978-3-319-10602-1_48. Data format: https://cocodataset.org/#format-data
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from spermlab import tables
from spermlab.errors import FormatError
from spermlab.io import _lines
from spermlab.io._lines import LineError, Problems

__all__ = ["CATEGORIES", "read_coco", "read_coco_results", "write_coco", "write_coco_results"]

#: The COCO categories written by :func:`write_coco`.
CATEGORIES: list[dict[str, Any]] = [
    {"id": cls + 1, "name": name, "supercategory": "sperm"}
    for cls, name in tables.CLASS_NAMES.items()
]
_BY_NAME = {name: cls for cls, name in tables.CLASS_NAMES.items()}
_COLUMNS = ("frame", "x", "y", "w", "h", "cls", "score", "track_id")

PathArg = str | PathLike[str]
T = TypeVar("T")


def write_coco(
    detections: pd.DataFrame,
    path: PathArg,
    *,
    width: int,
    height: int,
    frames: int | Iterable[int] | None = None,
    file_name: str = "frame_{frame}.jpg",
) -> Path:
    """Write Detections or Tracks as a COCO ground-truth JSON file.

    Parameters
    ----------
    detections : DataFrame
        Detections or Tracks; ``score`` is not written (ground truth). A ``track_id``
        column is written as each annotation's ``track_id``.
    path : str or PathLike
        The JSON file to write (overwritten).
    width, height : int
        Image size in pixels.
    frames : int or iterable of int, optional
        Frames that get an image: ``n`` means ``0..n-1``; default the frames with boxes.
    file_name : str
        Template of each image's ``file_name``, formatted with ``frame``
        (e.g. ``"11_frame_{frame}.jpg"`` for VISEM-Tracking).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        For an unknown class, a box of zero size or outside the image, a frame outside
        ``frames``, or (Tracks) a track id twice in one frame.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> det = pd.DataFrame({"frame": [0], "x": [20.0], "y": [30.0], "w": [10.0],
    ...                     "h": [12.0], "cls": [0], "score": [1.0]})
    >>> p = write_coco(det, pathlib.Path(tempfile.mkdtemp()) / "gt.json", width=64, height=48)
    >>> read_coco(p)[["frame", "x", "y", "w", "h"]].iloc[0].tolist()
    [0.0, 20.0, 30.0, 10.0, 12.0]
    """
    has_tracks = "track_id" in detections.columns
    schema = tables.TRACKS if has_tracks else tables.DETECTIONS
    table = _lines.as_table(detections, schema, "detections")
    if has_tracks:
        _lines.check_unique_ids(table, "detections")
    images, annotations = [], []
    for frame, rows in _lines.frame_groups(table, frames, "detections"):
        images.append({"id": frame + 1, "file_name": file_name.format(frame=frame),
                       "width": width, "height": height})
        for row in rows.itertuples(index=False):
            bbox = _bbox(row, width, height)
            ann = {"id": len(annotations) + 1, "image_id": frame + 1,
                   "category_id": int(row.cls) + 1, "bbox": bbox, "area": bbox[2] * bbox[3],
                   "iscrowd": 0}
            if has_tracks:
                ann["track_id"] = int(row.track_id)
            annotations.append(ann)
    data = {"info": {"description": "written by spermlab"}, "licenses": [], "images": images,
            "annotations": annotations, "categories": CATEGORIES}
    return _dump(data, path)


def write_coco_results(detections: pd.DataFrame, path: PathArg) -> Path:
    """Write Detections as a COCO detection results list (the ``loadRes`` format).

    Each box becomes ``{"image_id": frame + 1, "category_id": cls + 1, "bbox": [x_left,
    y_top, width, height], "score": score}``. Extra columns are ignored.

    Raises
    ------
    ValueError
        For an unknown class, a box of zero size, or a score outside [0, 1].
    """
    table = _lines.as_table(detections, tables.DETECTIONS, "detections")
    results = []
    for row in table.itertuples(index=False):
        if not 0 <= row.score <= 1:
            raise ValueError(f"detections: expected scores in [0, 1], got {row.score!r}")
        results.append({"image_id": int(row.frame) + 1, "category_id": int(row.cls) + 1,
                        "bbox": _bbox(row, None, None), "score": float(row.score)})
    return _dump(results, path)


def _bbox(row: Any, width: int | None, height: int | None) -> list[float]:
    try:
        _lines.check_class(int(row.cls), "cls")
        _lines.check_size(row.w, row.h)
        if width is not None and height is not None:
            _lines.check_unit_box(row.x / width, row.y / height, row.w / width, row.h / height)
    except LineError as exc:
        raise ValueError(f"detections: frame {row.frame}: {exc}") from None
    return [row.x - row.w / 2, row.y - row.h / 2, float(row.w), float(row.h)]


def _dump(data: Any, path: PathArg) -> Path:
    out = Path(path)
    out.write_text(json.dumps(data, allow_nan=False), encoding="utf-8")
    return out


def read_coco(
    path: PathArg,
    *,
    tracks: bool = False,
    problems: list[FormatError] | None = None,
) -> pd.DataFrame:
    """Read a COCO ground-truth JSON file into Detections (or Tracks).

    Parameters
    ----------
    path : str or PathLike
        The JSON file (``images``, ``annotations``, ``categories``).
    tracks : bool
        Return Tracks, using each annotation's integer ``track_id`` (then required).
    problems : list of FormatError, optional
        Collect mode: bad entries are appended and skipped (a bad image or category
        drops the annotations that refer to it, each reported).

    Returns
    -------
    DataFrame
        Detections or Tracks, ``frame = image_id - 1``, ``score`` 1.0, sorted by frame
        (file order within a frame).

    Raises
    ------
    spermlab.FormatError
        For invalid JSON or structure (always), and for a bad entry (module rules)
        unless ``problems`` is given.
    """
    data = _load(path, dict)
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise FormatError(path, f"expected a list under {key!r}, got "
                                    f"{type(data.get(key)).__name__}")
    cats = dict(_entries(path, data["categories"], "categories", _unique(_category), problems))
    sizes = dict(_entries(path, data["images"], "images", _unique(_image), problems))
    seen_tracks: dict[tuple[int, int], int] = {}

    def parse(ann: dict) -> tuple:
        row = _annotation(ann, sizes, cats, tracks)
        key = (row[0], row[-1])
        if tracks and key in seen_tracks:
            raise LineError(f"track_id: expected each track once per frame, got {key[1]} "
                            f"again in frame {key[0]} (annotation id {seen_tracks[key]})")
        seen_tracks[key] = ann["id"]
        return row

    rows = _entries(path, data["annotations"], "annotations", _unique(parse), problems)
    return _to_table(rows, tracks, str(path))


def _unique(parse: Callable[[dict], T]) -> Callable[[dict], T]:
    """Wrap an entry parser so that a repeated integer ``id`` is an error too."""
    seen: set[int] = set()

    def wrapped(item: dict) -> T:
        ident = _field(item, "id", "int")
        if ident in seen:
            raise LineError(f"id: expected unique ids, got {ident} again")
        out = parse(item)
        seen.add(ident)
        return out

    return wrapped


def read_coco_results(
    path: PathArg, *, problems: list[FormatError] | None = None
) -> pd.DataFrame:
    """Read a COCO detection results list into Detections.

    Each entry needs ``image_id`` (int >= 1, ``frame = image_id - 1``), ``category_id``
    (1-3, ``cls = category_id - 1``), ``bbox`` and ``score`` in [0, 1].

    Raises
    ------
    spermlab.FormatError
        For invalid JSON or a top level that is not a list (always), and for a bad
        entry unless ``problems`` is given.
    """
    data = _load(path, list)
    rows = _entries(path, data, "results", _result, problems)
    return _to_table(rows, False, str(path))


def _load(path: PathArg, kind: type) -> Any:
    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        line = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else None
        raise FormatError(path, f"expected valid JSON, got: {exc.msg} (column {exc.colno})",
                          line_no=exc.lineno, line=line) from None
    if not isinstance(data, kind):
        raise FormatError(path, f"expected a JSON {'object' if kind is dict else 'array'} at "
                                f"the top level, got {type(data).__name__}")
    return data


def _entries(
    path: PathArg, items: list, where: str, parse: Callable[[dict], T], problems: Problems
) -> list[T]:
    """Parse each entry of a JSON list; bad entries are reported with their index."""
    out = []
    for i, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise LineError(f"expected an object, got {type(item).__name__}")
            out.append(parse(item))
        except LineError as exc:
            _lines.report(problems, FormatError(path, f"{where}[{i}]: {exc}",
                                                line=json.dumps(item)[:500]))
    return out


def _field(item: dict, key: str, kind: str) -> Any:
    if key not in item:
        raise LineError(f"{key}: expected a value, got none")
    value = item[key]
    if kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        raise LineError(f"{key}: expected an integer, got {value!r}")
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)
                             or not math.isfinite(value)):
        raise LineError(f"{key}: expected a finite number, got {value!r}")
    if kind == "str" and not isinstance(value, str):
        raise LineError(f"{key}: expected a string, got {value!r}")
    return value


def _category(item: dict) -> tuple[int, int]:
    cid, name = _field(item, "id", "int"), _field(item, "name", "str")
    if name not in _BY_NAME:
        raise LineError(f"name: expected one of {sorted(_BY_NAME)}, got {name!r}")
    return cid, _BY_NAME[name]


def _image(item: dict) -> tuple[int, tuple[int, int]]:
    iid = _field(item, "id", "int")
    w, h = _field(item, "width", "int"), _field(item, "height", "int")
    if iid < 1 or w < 1 or h < 1:
        raise LineError(f"expected id >= 1 and a positive size, got id {iid}, {w} x {h}")
    return iid, (w, h)


def _box(item: dict) -> tuple[float, float, float, float]:
    bbox = item.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise LineError(f"bbox: expected 4 numbers [x, y, width, height], got {bbox!r}")
    left, top, w, h = (_field({"bbox": v}, "bbox", "number") for v in bbox)
    _lines.check_size(w, h)
    return left + w / 2, top + h / 2, w, h


def _annotation(
    item: dict, sizes: dict[int, tuple[int, int]], cats: dict[int, int], tracks: bool
) -> tuple:
    _field(item, "id", "int")
    image_id, cat = _field(item, "image_id", "int"), _field(item, "category_id", "int")
    if image_id not in sizes:
        raise LineError(f"image_id: expected the id of a listed image, got {image_id}")
    if cat not in cats:
        raise LineError(f"category_id: expected one of {sorted(cats)}, got {cat}")
    if item.get("iscrowd", 0) != 0:
        raise LineError(f"iscrowd: expected 0 (crowd regions are not supported), "
                        f"got {item['iscrowd']!r}")
    x, y, w, h = _box(item)
    width, height = sizes[image_id]
    _lines.check_unit_box(x / width, y / height, w / width, h / height)
    track = _field(item, "track_id", "int") if tracks else 0
    if track < 0:
        raise LineError(f"track_id: expected an integer >= 0, got {track}")
    return (image_id - 1, x, y, w, h, cats[cat], 1.0, track)


def _result(item: dict) -> tuple:
    image_id, cat = _field(item, "image_id", "int"), _field(item, "category_id", "int")
    if image_id < 1:
        raise LineError(f"image_id: expected an integer >= 1, got {image_id}")
    _lines.check_class(cat - 1, "category_id - 1")
    x, y, w, h = _box(item)
    score = _field(item, "score", "number")
    if not 0 <= score <= 1:
        raise LineError(f"score: expected a value in [0, 1], got {score!r}")
    return (image_id - 1, x, y, w, h, cat - 1, float(score), 0)


def _to_table(rows: list[tuple], tracks: bool, name: str) -> pd.DataFrame:
    cols = {c: [r[i] for r in rows] for i, c in enumerate(_COLUMNS)}
    schema = tables.TRACKS if tracks else tables.DETECTIONS
    if not tracks:
        del cols["track_id"]
    table = _lines.build_table(cols, schema, name)
    return table.sort_values("frame", kind="stable", ignore_index=True)
