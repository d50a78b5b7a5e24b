"""Atomic file writes: a reader never sees half a file, a crash never leaves one.

Each writer writes to a temporary file in the destination folder and renames it into
place with :func:`os.replace`, which is atomic on POSIX and Windows for files on one
file system.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["atomic_path", "write_json", "write_table", "write_text"]


def atomic_path(path: str | PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then rename it to ``path``."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_path(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(path: str | PathLike[str], data: Any) -> Path:
    """Write indented JSON atomically (NaN written as null)."""
    text = json.dumps(_nan_to_none(data), indent=2, ensure_ascii=False, default=str)
    return write_text(path, text + "\n")


def write_table(table: pd.DataFrame, stem: str | PathLike[str], *, formats=("csv", "parquet")) -> list[Path]:
    """Write a table as ``<stem>.csv`` and/or ``<stem>.parquet``, each atomically."""
    out = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        if fmt == "csv":
            out.append(atomic_path(path, lambda p: table.to_csv(p, index=False)))
        elif fmt == "parquet":
            out.append(atomic_path(path, lambda p: table.to_parquet(p, index=False)))
        else:
            raise ValueError(f"unknown table format {fmt!r}; expected 'csv' or 'parquet'")
    return out


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    return obj
