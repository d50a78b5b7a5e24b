"""What a batch analyses: files, folders, glob patterns or a CSV manifest, as named samples."""

from __future__ import annotations

import csv
import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spermlab.errors import FormatError, UsageError
from spermlab.io.frames import IMAGE_SUFFIXES

__all__ = ["MANIFEST_COLUMNS", "Sample", "collect_samples"]

#: Columns a manifest may have; ``path`` is required, the others override the batch's flags.
MANIFEST_COLUMNS = ("path", "sample_id", "um_per_px", "fps", "depth_um", "detector")
_FLOAT_COLUMNS = ("um_per_px", "fps", "depth_um")
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".wmv", ".mpg", ".mpeg"})


@dataclass(frozen=True)
class Sample:
    """One sample of a batch: an id, the source, and per-sample option overrides."""

    sample_id: str
    path: Path
    overrides: dict[str, Any] = field(default_factory=dict)


def collect_samples(inputs: list[str]) -> list[Sample]:
    """Turn the batch's inputs into samples, in a stable order, with unique ids.

    An input is a video file; a source folder (a VISEM-Tracking folder with ``images/``, or a
    folder of frame images) as one sample; a folder of videos or of source folders (each a
    sample); a glob pattern; or a ``.csv`` manifest with the columns of
    :data:`MANIFEST_COLUMNS` (relative paths are relative to the manifest). Ids are the
    manifest's ``sample_id`` or the file or folder name; repeated names get ``-2``, ``-3``.

    Raises
    ------
    UsageError
        When an input matches nothing.
    FormatError
        For a manifest row that is not valid, naming the line.
    """
    samples: list[Sample] = []
    for item in inputs:
        p = Path(item)
        if p.suffix.lower() == ".csv" and p.is_file():
            samples += _manifest(p)
        elif p.exists():
            samples += [Sample(_name(s), s) for s in _expand(p)]
        else:
            matches = sorted(glob.glob(item))
            if not matches:
                raise UsageError(f"{item}: no such file or folder, and no file matches it as a pattern")
            samples += [Sample(_name(Path(m)), Path(m)) for m in matches]
    return _unique(samples)


def _expand(p: Path) -> list[Path]:
    if p.is_file() or (p / "images").is_dir() or _has_images(p):
        return [p]
    children = sorted(c for c in p.iterdir() if not c.name.startswith("."))
    found = [c for c in children if (c.is_file() and c.suffix.lower() in VIDEO_SUFFIXES)
             or (c.is_dir() and ((c / "images").is_dir() or _has_images(c)))]  # fmt: skip
    empty = [c for c in children if c.is_dir() and c not in found]
    return found + empty  # an empty or odd sub-folder is a sample that fails, and is reported


def _has_images(p: Path) -> bool:
    return p.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.iterdir())


def _name(p: Path) -> str:
    name = p.name if p.is_dir() else p.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "sample"


def _manifest(path: Path) -> list[Sample]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        if "path" not in header:
            raise FormatError(path, f"expected a header with a 'path' column (and optionally "
                                    f"{', '.join(MANIFEST_COLUMNS[1:])}), got {header}", line_no=1)
        unknown = [c for c in header if c not in MANIFEST_COLUMNS]
        if unknown:
            raise FormatError(path, f"unknown column(s) {unknown}; expected some of "
                                    f"{list(MANIFEST_COLUMNS)}", line_no=1)  # fmt: skip
        out = []
        for line_no, row in enumerate(reader, start=2):
            src = (row.get("path") or "").strip()
            if not src:
                raise FormatError(path, "expected a path", line_no=line_no)
            p = Path(src) if Path(src).is_absolute() else path.parent / src
            overrides: dict[str, Any] = {}
            for col in _FLOAT_COLUMNS:
                text = (row.get(col) or "").strip()
                if text:
                    try:
                        overrides[col] = float(text)
                    except ValueError:
                        raise FormatError(path, f"{col}: expected a number, got {text!r}",
                                          line_no=line_no) from None
            if (row.get("detector") or "").strip():
                overrides["detector"] = row["detector"].strip()
            sid = (row.get("sample_id") or "").strip() or _name(p)
            out.append(Sample(re.sub(r"[^A-Za-z0-9._-]+", "_", sid), p, overrides))
    return out


def _unique(samples: list[Sample]) -> list[Sample]:
    seen: dict[str, int] = {}
    out = []
    for s in samples:
        n = seen.get(s.sample_id, 0) + 1
        seen[s.sample_id] = n
        out.append(s if n == 1 else Sample(f"{s.sample_id}-{n}", s.path, s.overrides))
    return out
