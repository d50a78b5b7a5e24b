"""The results folder of one analysis (DESIGN §6): stable names, summary.json last.

::

    <out>/detections.{csv,parquet}   Detections table
    <out>/tracks.{csv,parquet}       Tracks table
    <out>/kinematics.{csv,parquet}   Kinematics table with grades
    <out>/drift.csv                  estimated field drift per frame (px)
    <out>/labels_ftid/, labels/      tracks in the VISEM-Tracking layout
    <out>/mot.txt                    tracks as MOTChallenge txt (1-based frames and ids)
    <out>/summary.json               SampleResult; written last and atomically

A folder is complete only when ``summary.json`` exists.
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from spermlab.io.atomic import write_json, write_table

__all__ = ["SUMMARY", "is_complete", "read_results", "write_results"]

SUMMARY = "summary.json"


def write_results(
    out: str | PathLike[str],
    *,
    detections: pd.DataFrame,
    tracks: pd.DataFrame,
    kinematics: pd.DataFrame,
    drift: pd.DataFrame,
    summary: dict[str, Any],
    width: int,
    height: int,
    n_frames: int,
    stem: str = "sample",
    first_frame: int = 0,
    last_frame: int | None = None,
) -> Path:
    """Write every result file, then ``summary.json`` atomically; return the folder.

    Frame numbers are the source's own (``first_frame`` .. ``first_frame + n_frames - 1``)
    in every table and in the VISEM-Tracking layout's file names; ``mot.txt`` is 1-based as
    MOTChallenge wants, frame + 1 (recorded in ``summary.json`` as ``input.mot_frame``).
    """
    from spermlab.io.mot import write_mot
    from spermlab.io.visem import write_visem_tracks

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SUMMARY).unlink(missing_ok=True)  # the folder is incomplete until the end
    write_table(detections, folder / "detections")
    write_table(tracks, folder / "tracks")
    write_table(kinematics, folder / "kinematics")
    write_table(drift, folder / "drift", formats=("csv",))
    write_visem_tracks(tracks, folder, stem=stem, width=width, height=height,
                       frames=range(first_frame, (first_frame + n_frames - 1 if last_frame is None
                                                  else last_frame) + 1))  # fmt: skip
    write_mot(tracks, folder / "mot.txt")
    summary = {**summary, "input": {**summary.get("input", {}), "mot_frame": "frame + 1"}}
    write_json(folder / SUMMARY, summary)
    return folder


def is_complete(folder: str | PathLike[str]) -> bool:
    """True when the folder holds a finished analysis (its summary.json exists)."""
    return (Path(folder) / SUMMARY).is_file()


def read_results(folder: str | PathLike[str]) -> dict[str, Any]:
    """Read a results folder back: ``summary`` (dict) and the three tables."""
    folder = Path(folder)
    if not is_complete(folder):
        raise FileNotFoundError(f"{folder}: no {SUMMARY}; the analysis did not finish")
    try:
        summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        from spermlab.errors import FormatError

        raise FormatError(folder / SUMMARY, f"expected the JSON spermlab wrote: {e}") from None
    from spermlab.io.load import read_table_file

    return {
        "summary": summary,
        "detections": read_table_file(folder / "detections.parquet"),
        "tracks": read_table_file(folder / "tracks.parquet"),
        "kinematics": with_flagellum(read_table_file(folder / "kinematics.parquet")),
    }


def with_flagellum(kinematics: pd.DataFrame) -> pd.DataFrame:
    """A Kinematics table from before the ``flagellum`` column (spermlab < 0.2), with it
    added as NaN (not measured), so old results folders still read."""
    if "flagellum" in kinematics.columns:
        return kinematics
    return kinematics.assign(flagellum=float("nan"))
