"""The tables passed between stages: their columns, dtypes, units and validation.

Every stage of spermlab takes and returns pandas DataFrames with the fixed columns
defined here (DESIGN §2). Pixel coordinates are box centres in pixels with the origin
at the top-left corner of the image: pixel (row r, column c) covers [c, c+1) x [r, r+1),
so its centre is (c + 0.5, r + 0.5), as in YOLO / VISEM-Tracking labels
(x = x_center x width). Frames are 0-based. Tables always carry a
``RangeIndex``; an empty table keeps its columns and dtypes.

=============  =====================================================================
table          columns (units)
=============  =====================================================================
Detections     ``frame`` (int), ``x`` ``y`` ``w`` ``h`` (px, box centre and size),
               ``cls`` (0 sperm, 1 cluster, 2 small or pinhead), ``score`` (0-1)
Tracks         Detections + ``track_id`` (int)
Kinematics     ``track_id``, ``n_points``, ``duration_s`` (s), ``vcl`` ``vsl`` ``vap``
               (µm/s), ``lin`` ``str`` ``wob`` (0-1), ``alh`` ``alh_max`` (µm),
               ``bcf`` (Hz), ``mad`` (degrees), ``progression`` (µm/s, the WHO
               progression speed), ``grade`` (a, b, c, d)
=============  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CLASS_NAMES",
    "DETECTIONS",
    "KINEMATICS",
    "TRACKS",
    "Schema",
    "columns",
    "empty",
    "validate",
]

#: VISEM-Tracking class ids (Thambawita et al. 2023).
CLASS_NAMES: dict[int, str] = {0: "sperm", 1: "cluster", 2: "small_or_pinhead"}

Schema = Mapping[str, str]

DETECTIONS: Schema = {
    "frame": "int64",
    "x": "float64",
    "y": "float64",
    "w": "float64",
    "h": "float64",
    "cls": "int64",
    "score": "float64",
}

TRACKS: Schema = {**DETECTIONS, "track_id": "int64"}

KINEMATICS: Schema = {
    "track_id": "int64",
    "n_points": "int64",
    "duration_s": "float64",
    "vcl": "float64",
    "vsl": "float64",
    "vap": "float64",
    "lin": "float64",
    "str": "float64",
    "wob": "float64",
    "alh": "float64",
    "alh_max": "float64",
    "bcf": "float64",
    "mad": "float64",
    "progression": "float64",
    "flagellum": "float64",
    "grade": "object",
}

#: Columns allowed to hold NaN (a kinematic that is undefined for a track, e.g. BCF of
#: a track shorter than its averaging window). Every other column must be finite.
_NULLABLE: dict[int, frozenset[str]] = {
    id(KINEMATICS): frozenset(
        {"vcl", "vsl", "vap", "lin", "str", "wob", "alh", "alh_max", "bcf", "mad", "progression",
         "flagellum"}
    ),
}


def columns(table: pd.DataFrame, names: Sequence[str], dtype: Any = np.float64) -> np.ndarray:
    """Some columns of a table as one ``(n, len(names))`` array.

    For the per-frame hot paths: pandas 3 selects a list of columns (``table[["x", "y"]]``,
    a new DataFrame) about 30 times slower than it reads one column.

    Examples
    --------
    >>> columns(pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}), ["x", "y"])
    array([[1., 3.],
           [2., 4.]])
    """
    return np.column_stack([table[c].to_numpy(dtype) for c in names]).reshape(len(table), len(names))


def empty(schema: Schema) -> pd.DataFrame:
    """Return an empty table with the columns and dtypes of ``schema``.

    Examples
    --------
    >>> empty(DETECTIONS).dtypes["frame"]
    dtype('int64')
    """
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in schema.items()})


def validate(
    table: pd.DataFrame,
    schema: Schema,
    *,
    name: str = "table",
    extra: str = "raise",
) -> pd.DataFrame:
    """Check a table against a schema and return a new, canonical copy.

    The copy has the schema's columns first, in the schema's order, with exact dtypes
    and a fresh ``RangeIndex``. The input is never modified.

    Parameters
    ----------
    table : DataFrame
        The table to check.
    schema : mapping of str to str
        Column name to dtype, e.g. :data:`DETECTIONS`.
    name : str
        Name used in error messages (``"Detections"``, a file path...).
    extra : {"raise", "keep"}
        What to do with columns not in the schema.

    Returns
    -------
    DataFrame
        The validated copy.

    Raises
    ------
    ValueError
        When a column is missing or unknown, a value cannot be converted to the
        column's dtype, a non-nullable value is NaN or infinite, or the index is not a
        RangeIndex.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, got {type(table).__name__}")
    if not isinstance(table.index, pd.RangeIndex):
        raise ValueError(
            f"{name}: expected a RangeIndex (ids belong in columns), got "
            f"{type(table.index).__name__}; call .reset_index(drop=True) first"
        )
    if _already_canonical(table, schema):
        return table.copy()
    missing = [c for c in schema if c not in table.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; expected {list(schema)}")
    unknown = [c for c in table.columns if c not in schema]
    if unknown and extra == "raise":
        raise ValueError(f"{name}: unknown column(s) {unknown}; expected {list(schema)}")
    nullable = _NULLABLE.get(id(schema), frozenset())
    out = {}
    for col, dtype in schema.items():
        out[col] = _convert(table[col], dtype, name=name, col=col, nullable=col in nullable)
    result = pd.DataFrame(out)
    if extra == "keep":
        for col in unknown:
            result[col] = table[col].to_numpy(copy=True)
    return result.reset_index(drop=True)


def _already_canonical(table: pd.DataFrame, schema: Schema) -> bool:
    """Fast path for tables a stage just built: exact columns, dtypes and finite values."""
    if list(table.columns) != list(schema):
        return False
    if any(str(t) != want for t, want in zip(table.dtypes, schema.values(), strict=True)):
        return False
    nullable = _NULLABLE.get(id(schema), frozenset())
    for col, dtype in schema.items():
        if dtype.startswith("float") and col not in nullable:
            if not np.isfinite(table[col].to_numpy()).all():
                return False  # the slow path reports where
    return True


def _convert(s: pd.Series, dtype: str, *, name: str, col: str, nullable: bool) -> pd.Series:
    if dtype == "object":
        return s.astype(object).reset_index(drop=True)
    values = pd.to_numeric(s, errors="coerce")
    bad = values.isna() & s.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{name}: column {col!r} row {row}: {s.iloc[row]!r} is not a number")
    arr = values.to_numpy(dtype="float64")
    finite = np.isfinite(arr)
    if not nullable and not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{name}: column {col!r} row {row}: expected a finite value, got {arr[row]}")
    if dtype.startswith("int"):
        if (finite & (arr != np.round(arr))).any():
            row = int(np.flatnonzero(finite & (arr != np.round(arr)))[0])
            raise ValueError(f"{name}: column {col!r} row {row}: expected an integer, got {arr[row]}")
        return pd.Series(arr.astype(dtype), name=col)
    return pd.Series(arr.astype(dtype), name=col)
