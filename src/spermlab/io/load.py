"""Read boxes or tracks from any layout spermlab knows, chosen by what the path is.

=====================================  ===========================================
path                                   read as
=====================================  ===========================================
folder with ``summary.json``           a spermlab results folder (``tracks.parquet``
                                       / ``detections.parquet``)
folder with ``labels_ftid/``           VISEM-Tracking tracks (``labels/`` for boxes)
folder with ``labels/``                VISEM-Tracking boxes
folder of ``*.xml``                    Pascal VOC, one file per frame (SVIA's
                                       ``S_0004_0001.xml``: 1-based, read 0-based);
                                       ``FOLDER/STEM`` picks one video of several
``*.txt``                              MOTChallenge (1-based frames and ids): 9 fields
                                       per line is the ground-truth layout (with
                                       class), 10 the tracker layout
``*.json``                             COCO: a dataset, or a results list
``*.csv`` / ``*.parquet``              a spermlab Detections or Tracks table
=====================================  ===========================================
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path

import pandas as pd

from spermlab.errors import FormatError
from spermlab.tables import DETECTIONS, TRACKS, validate

__all__ = ["read_boxes", "read_sample_table", "read_table_file"]


def read_boxes(path: str | PathLike[str], *, tracks: bool = False) -> pd.DataFrame:
    """Read a Detections (or, with ``tracks=True``, a Tracks) table from any known layout.

    Raises
    ------
    FileNotFoundError
        When the path does not exist.
    ValueError
        When the layout is not recognised, or holds no track ids but tracks were asked.
    """
    from spermlab.io import coco, mot, visem

    p = Path(path)
    if not p.exists() and p.parent.is_dir() and any(p.parent.glob(f"{p.name}_*.xml")):
        from spermlab.io.voc import read_voc_folder  # FOLDER/STEM: one video of a VOC folder

        table = read_voc_folder(p.parent, stem=p.name)
        return validate(table[list(DETECTIONS)].reset_index(drop=True), DETECTIONS, name=str(p))
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    schema = TRACKS if tracks else DETECTIONS
    if p.is_dir() and p.name in ("labels", "labels_ftid") and not (p / "summary.json").exists():
        p = p.parent  # pointed at the label folder itself: read the VISEM-Tracking folder
    if p.is_dir():
        if (p / "summary.json").is_file():
            table = pd.read_parquet(p / ("tracks.parquet" if tracks else "detections.parquet"))
        elif (p / "labels_ftid").is_dir() and tracks:
            _has_labels(p / "labels_ftid")
            table = visem.read_visem_tracks(p).tracks
        elif (p / "labels").is_dir() and not tracks:
            _has_labels(p / "labels")
            table = visem.read_visem_detections(p)
        elif any(p.glob("*.xml")) and not tracks:
            from spermlab.io.voc import read_voc_folder

            table = read_voc_folder(p)
        else:
            want = "labels_ftid/" if tracks else "labels/ (or Pascal VOC .xml files)"
            raise FormatError(p, f"expected a spermlab results folder (summary.json) or a "
                                 f"VISEM-Tracking folder with {want}")  # fmt: skip
    elif p.suffix == ".txt":
        table = mot.read_mot(p, kind=_mot_kind(p))
    elif p.suffix == ".json":
        is_results = isinstance(json.loads(p.read_text(encoding="utf-8")), list)
        table = coco.read_coco_results(p) if is_results else coco.read_coco(p, tracks=tracks)
    elif p.suffix in (".csv", ".parquet"):
        table = read_table_file(p)
        if "score" not in table.columns:
            table = table.assign(score=1.0)
    else:
        raise FormatError(p, "unknown layout; expected a folder (results, VISEM-Tracking or "
                             "Pascal VOC), .txt (MOT), .json (COCO), .csv or .parquet")  # fmt: skip
    if tracks and "track_id" not in table.columns:
        raise FormatError(p, "holds boxes without track ids; tracking evaluation needs tracks")
    cols = [c for c in schema if c in table.columns]
    return validate(table[cols].reset_index(drop=True), schema, name=str(p))


def read_table_file(path: str | PathLike[str], *, semicolon: bool = False) -> pd.DataFrame:
    """A ``.csv`` (UTF-8, comma separated, header row) or ``.parquet`` table; any problem
    with the file is a :class:`~spermlab.FormatError` naming it. ``semicolon``: the CSV is
    semicolon separated with decimal commas, as spreadsheets write it in much of Europe."""
    p = Path(path)
    if p.suffix == ".parquet":
        try:
            return pd.read_parquet(p)
        except (OSError, ValueError) as e:
            if isinstance(e, FileNotFoundError):
                raise
            raise FormatError(p, f"expected a Parquet table: {e}") from None
    try:
        return pd.read_csv(p, encoding="utf-8-sig", sep=";" if semicolon else ",",
                           decimal="," if semicolon else ".")  # fmt: skip
    except UnicodeDecodeError as e:
        raise FormatError(p, f"expected UTF-8 text, got undecodable bytes ({e.reason} at byte "
                             f"{e.start}); save it as UTF-8 CSV") from None  # fmt: skip
    except pd.errors.EmptyDataError:
        raise FormatError(p, "expected a CSV table with a header row, got an empty file") from None
    except pd.errors.ParserError as e:
        raise FormatError(p, f"expected a comma-separated table with the same number of "
                             f"fields on every line: {e}") from None  # fmt: skip


def read_sample_table(path: str | PathLike[str]) -> pd.DataFrame:
    """A table with one row per sample: a CSV or Parquet file, or the VISEM clinical tables (the
    folder, read as its semen-analysis table, or one of its semicolon CSVs), read with
    :func:`spermlab.io.visem.read_clinical` (id column ``participant_id``). A CSV whose header
    has more semicolons than commas is read as semicolon separated with decimal commas (a
    spreadsheet's export in much of Europe)."""
    from spermlab.io.visem import CLINICAL_TABLES, read_clinical

    p = Path(path)
    if p.is_dir() and (p / CLINICAL_TABLES["semen_analysis"]).is_file():
        return read_clinical(p)
    if p.is_file() and p.suffix == ".csv":
        with open(p, "rb") as f:
            head = f.readline(65536)
        if p.name in CLINICAL_TABLES.values() or head.lstrip(b"\xef\xbb\xbf").startswith(b"ID;"):
            return read_clinical(p)
        header = head.decode("utf-8", "replace")
        if header.count(";") > header.count(","):
            return read_table_file(p, semicolon=True)
    return read_table_file(p)


def _has_labels(folder: Path) -> None:
    if not any(f.suffix == ".txt" for f in folder.iterdir()):
        raise FormatError(folder, "holds no label files (.txt): nothing to read. Did the run "
                                  "that should have written them finish?")  # fmt: skip


def _mot_kind(path: Path) -> str:
    """'gt' for 9-field MOT lines (ground truth, with class), else 'tracker'."""
    with open(path, encoding="utf-8-sig", errors="replace") as f:  # the reader reports bad bytes
        for line in f:
            if line.strip():
                return "gt" if len(line.split(",")) == 9 else "tracker"
    return "tracker"
