"""Pascal VOC XML box annotations, one file per frame (e.g. SVIA subset A).

Each file is an ``<annotation>`` with ``<size><width>/<height>`` and one ``<object>``
per box: ``<name>`` and ``<bndbox>`` with pixel ``xmin ymin xmax ymax``. The corners are
read as pixel-edge coordinates: ``x = (xmin + xmax) / 2``, ``w = xmax - xmin`` (the
convention of labelImg, which wrote the SVIA files and clamps ``xmin``/``ymin`` to >= 1;
the original VOC devkit's 1-based inclusive ``xmax - xmin + 1`` is not used).

Class names map to spermlab class ids through ``classes``; a name mapped to ``None`` is
skipped. :data:`SVIA_CLASSES` maps ``S`` (sperm) to 0 and skips ``Impurity``, which has
no VISEM-Tracking class; to keep impurities pass e.g. ``{**SVIA_CLASSES, "Impurity":
IMPURITY}`` (cls -1: not a VISEM-Tracking class, so stages that expect 0-2 reject it).

Rules checked (each breach is a :class:`spermlab.FormatError` with the 1-based line of
the offending element): well-formed XML with an ``<annotation>`` root; a ``<size>`` with
positive integer width and height; every object has a known ``<name>`` and a
``<bndbox>`` of four finite numbers with ``xmin < xmax``, ``ymin < ymax``, inside
``[0, width] x [0, height]``. A bad object is one bad "line": in collect mode it is
dropped and the others are kept; a file-level problem drops the file.

References
----------
Everingham M. et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 88,
303-338 (2010), doi:10.1007/s11263-009-0275-4.
Chen A. et al., "SVIA dataset: a new dataset of microscopic videos and images for
computer-aided sperm analysis", Biocybern. Biomed. Eng. 42, 204-214 (2022).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from xml.parsers import expat

import pandas as pd

from spermlab import tables
from spermlab.errors import FormatError
from spermlab.io import _lines
from spermlab.io._lines import LineError, Problems

__all__ = ["IMPURITY", "SVIA_CLASSES", "read_voc", "read_voc_folder"]

#: Class id for SVIA ``Impurity`` boxes when asked to keep them (not a VISEM class).
IMPURITY = -1

#: SVIA subset-A names: ``S`` is sperm (0); ``Impurity`` is skipped.
SVIA_CLASSES: Mapping[str, int | None] = {"S": 0, "Impurity": None}

_NAME_RE = re.compile(r"(?P<stem>.+)_(?P<n>\d+)\.xml")


@dataclass
class _Node:
    tag: str
    line: int
    children: list[_Node] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)


def _parse_xml(data: bytes, path: str = "<xml>") -> _Node:
    """Parse XML into a small tree that remembers each element's line number."""
    parser = expat.ParserCreate()
    path_hint = [path]
    stack: list[_Node] = [_Node("", 0)]

    def no_dtd(*args) -> None:  # entity expansion (billion laughs) is never needed in VOC
        raise FormatError(path_hint[0], "expected Pascal VOC XML without a DOCTYPE declaration "
                                        "(VOC files have none; it is not read, for safety)",
                          line_no=parser.CurrentLineNumber)

    parser.StartDoctypeDeclHandler = no_dtd

    def start(tag: str, attrs: dict) -> None:
        node = _Node(tag, parser.CurrentLineNumber)
        stack[-1].children.append(node)
        stack.append(node)

    def end(tag: str) -> None:
        stack.pop()

    def chars(text: str) -> None:
        stack[-1].text += text

    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = chars
    parser.Parse(data, True)
    return stack[0].children[0]


def read_voc(
    path: str | PathLike[str],
    *,
    frame: int | None = None,
    classes: Mapping[str, int | None] = SVIA_CLASSES,
    problems: list[FormatError] | None = None,
) -> pd.DataFrame:
    """Read one Pascal VOC XML file into a Detections table.

    Parameters
    ----------
    path : str or PathLike
        The XML file.
    frame : int, optional
        0-based frame of the file's boxes. Default: from a file name ending in
        ``_<NNNN>.xml``, read as 1-based (``S_0004_0001.xml`` is frame 0).
    classes : mapping of str to int or None
        Object name to class id; ``None`` skips the name (see the module notes).
    problems : list of FormatError, optional
        Collect mode: bad objects (and unreadable files) are appended and skipped.

    Returns
    -------
    DataFrame
        Detections (box centres and sizes in pixels, ``score`` 1.0) in file order.

    Raises
    ------
    spermlab.FormatError
        For malformed XML or a rule breach (module notes), unless ``problems`` is given.
    ValueError
        When ``frame`` is not given and the file name has no ``_<NNNN>`` frame number.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "S_0001_0003.xml"
    >>> _ = p.write_text("<annotation><size><width>698</width><height>528</height></size>"
    ...     "<object><name>S</name><bndbox><xmin>191</xmin><ymin>27</ymin><xmax>203</xmax>"
    ...     "<ymax>42</ymax></bndbox></object></annotation>")
    >>> read_voc(p)[["frame", "x", "y", "w", "h", "cls"]].iloc[0].tolist()
    [2.0, 197.0, 34.5, 12.0, 15.0, 0.0]
    """
    if frame is None:
        m = _NAME_RE.fullmatch(Path(path).name)
        if m is None:
            raise ValueError(f"{path}: expected a file name <stem>_<NNNN>.xml (1-based frame "
                             "number) or an explicit frame=, got neither")
        frame = int(m.group("n")) - 1
    rows = _read_objects(Path(path), classes, problems)
    cols = {c: [r[i] for r in rows] for i, c in enumerate(("x", "y", "w", "h", "cls"))}
    cols["frame"] = [frame] * len(rows)
    cols["score"] = [1.0] * len(rows)
    return _lines.build_table(cols, tables.DETECTIONS, str(path))


def read_voc_folder(
    folder: str | PathLike[str],
    *,
    stem: str | None = None,
    frames: Iterable[int] | None = None,
    classes: Mapping[str, int | None] = SVIA_CLASSES,
    problems: list[FormatError] | None = None,
) -> pd.DataFrame:
    """Read the per-frame VOC files ``<stem>_<NNNN>.xml`` of one video into Detections.

    Parameters
    ----------
    folder : str or PathLike
        Folder of XML files; it may hold several videos (then ``stem`` is required).
    stem : str, optional
        The video's file-name prefix, e.g. ``"S_0004"``. Default: the only one present.
    frames : iterable of int, optional
        0-based frames to read (``NNNN - 1``); default every file of the video.
    classes, problems
        As in :func:`read_voc`.

    Returns
    -------
    DataFrame
        Detections in numeric frame order, file order within a frame.

    Raises
    ------
    spermlab.FormatError
        For a malformed file, a badly named file, two files of one frame or a requested
        frame without a file, unless ``problems`` is given.
    ValueError
        When the folder holds several videos and no ``stem`` is given.
    """
    files = _lines.frame_files(Path(folder), _NAME_RE, "{stem}_{n:04d}.xml", stem=stem,
                               frames=frames, problems=problems, first=1)
    parts = [read_voc(p, frame=n, classes=classes, problems=problems) for n, p in files]
    if not parts:
        return tables.empty(tables.DETECTIONS)
    return pd.concat(parts, ignore_index=True)


def _read_objects(path: Path, classes: Mapping[str, int | None], problems: Problems) -> list:
    data = path.read_bytes()
    try:
        root = _parse_xml(data, str(path))
        width, height = _size(path, root)
    except expat.ExpatError as exc:
        _lines.report(problems, FormatError(
            path, f"expected well-formed XML, got: {expat.ErrorString(exc.code)} "
                  f"(column {exc.offset + 1})", line_no=exc.lineno))
        return []
    except FormatError as exc:
        _lines.report(problems, exc)
        return []
    text = data.decode("utf-8", errors="replace").splitlines()
    rows = []
    for obj in (c for c in root.children if c.tag == "object"):
        try:
            row = _object(obj, classes, width, height)
        except LineError as exc:
            line = text[obj.line - 1] if 0 < obj.line <= len(text) else None
            _lines.report(problems, FormatError(path, f"<object>: {exc}", line_no=obj.line,
                                                line=line))
            continue
        if row is not None:
            rows.append(row)
    return rows


def _size(path: Path, root: _Node) -> tuple[int, int]:
    if root.tag != "annotation":
        raise FormatError(path, f"expected an <annotation> root element, got <{root.tag}>",
                          line_no=root.line)
    size = root.find("size")
    values = []
    for tag in ("width", "height"):
        node = size.find(tag) if size is not None else None
        text = node.text.strip() if node is not None else None
        if text is None or not text.isdigit() or int(text) < 1:
            where = node if node is not None else size if size is not None else root
            raise FormatError(path, f"<size><{tag}>: expected a positive integer, got {text!r}",
                              line_no=where.line)
        values.append(int(text))
    return values[0], values[1]


def _object(obj: _Node, classes: Mapping[str, int | None], width: int, height: int) -> tuple | None:
    name_node = obj.find("name")
    name = name_node.text.strip() if name_node is not None else None
    if name not in classes:
        raise LineError(f"<name>: expected one of {sorted(classes)}, got {name!r}")
    box = obj.find("bndbox")
    if box is None:
        raise LineError("expected a <bndbox>, got none")
    values = []
    for tag in ("xmin", "ymin", "xmax", "ymax"):
        node = box.find(tag)
        values.append(_lines.to_float(node.text.strip() if node is not None else "", f"<{tag}>"))
    x0, y0, x1, y1 = values
    if not (x0 < x1 and y0 < y1):
        raise LineError(f"<bndbox>: expected xmin < xmax and ymin < ymax, got {values}")
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        raise LineError(f"<bndbox>: expected a box inside [0, {width}] x [0, {height}], "
                        f"got {values}")
    cls = classes[name]
    if cls is None:
        return None
    return (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, cls
