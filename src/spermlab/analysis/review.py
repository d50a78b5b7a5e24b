"""A person's review of the machine's grades: changes beside the machine's call, never over it.

A reviewer may change a graded track's WHO grade (a, b, c or d), exclude a track (a debris
particle, two cells merged into one track, a cell counted twice) or restore the machine's
call. Each change is recorded with who made it, when and why. The reviewed shares are
recomputed from the machine's Kinematics table with the changes applied (the last change
of a track wins), and kept beside the machine's own, in the ``review`` block of
``summary.json``::

    "review": {
      "status": "reviewed",
      "changes": [{"track_id": 12, "action": "grade", "grade": "b", "machine_grade": "c",
                   "reviewer": "A. Tech", "reason": "tail beats, head stuck", "at": "..."}],
      "counts": {"a": .., "b": .., "c": .., "d": ..},
      "percentages": {...}, "percentages_frame_weighted": {...},
      "n_graded": .., "n_excluded": .., "n_changed": .., "reviewed_at": "..."
    }

Nothing the machine computed is overwritten: ``kinematics.{csv,parquet}`` keep the
machine's grades and the top-level ``counts``/``percentages`` of ``summary.json`` stay the
machine's. The concentration is not changed by a review (it comes from the heads detected
per frame, not from the graded tracks).

Examples
--------
>>> import pandas as pd
>>> from spermlab.analysis.review import Change, review_block
>>> kin = pd.DataFrame({"track_id": [1, 2, 3, 4], "n_points": [10, 10, 20, 20],
...                     "grade": ["a", "b", "c", "d"]})
>>> block = review_block(kin, [Change(3, "grade", grade="a", reviewer="me", reason="fast")])
>>> block["counts"], block["percentages"]["progressive"]
({'a': 2, 'b': 1, 'c': 0, 'd': 1}, 75.0)
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from spermlab.analysis.motility import GRADES, _shares
from spermlab.errors import UsageError

__all__ = ["ACTIONS", "Change", "apply_changes", "review_block", "review_sample",
           "reviewed_kinematics"]  # fmt: skip

#: What a reviewer may do to one track.
ACTIONS: dict[str, str] = {
    "grade": "set the track's grade (a, b, c or d)",
    "exclude": "leave the track out of the shares (debris, merged or duplicate track)",
    "restore": "go back to the machine's call (its grade, included)",
}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass(frozen=True)
class Change:
    """One reviewer's change to one track.

    Parameters
    ----------
    track_id : int
        A graded track of the sample's Kinematics table.
    action : {"grade", "exclude", "restore"}
        See :data:`ACTIONS`.
    grade : str, optional
        The new grade for ``action="grade"`` (a, b, c or d); None otherwise.
    reviewer : str
        Who made the change (a name or initials; required).
    reason : str
        Why (required: a review without a reason cannot be audited).
    at : str
        When, ISO 8601 with the UTC offset; default now.
    machine_grade : str, optional
        The machine's grade of the track; filled in by :func:`apply_changes`.
    """

    track_id: int
    action: str
    grade: str | None = None
    reviewer: str = ""
    reason: str = ""
    at: str = field(default_factory=_now)
    machine_grade: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise UsageError(f"review action: expected one of {', '.join(ACTIONS)}, got {self.action!r}")
        if self.action == "grade" and self.grade not in GRADES:
            raise UsageError(f"track {self.track_id}: expected a grade a, b, c or d, got {self.grade!r}")
        if self.action != "grade" and self.grade is not None:
            raise UsageError(f"track {self.track_id}: a grade goes with action 'grade', not {self.action!r}")
        if not str(self.reviewer).strip():
            raise UsageError(f"track {self.track_id}: who reviewed it? (the reviewer's name is required)")
        if not str(self.reason).strip():
            raise UsageError(f"track {self.track_id}: why? (a reason is required for every change)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the form stored in ``summary.json``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Change:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: d.get(k) for k in ("track_id", "action", "grade", "reviewer", "reason",
                                             "at", "machine_grade")})  # fmt: skip


def apply_changes(kinematics: pd.DataFrame, changes: list[Change]) -> tuple[pd.DataFrame, list[Change]]:
    """The reviewed Kinematics table: the machine's with every change applied in order.

    Parameters
    ----------
    kinematics : DataFrame
        The machine's graded Kinematics table (``track_id``, ``n_points``, ``grade``...).
    changes : list of Change
        In the order they were made; the last change of a track wins.

    Returns
    -------
    (DataFrame, list of Change)
        A copy of ``kinematics`` without the excluded tracks, with the reviewed grades in
        ``grade`` and the machine's in a new ``machine_grade`` column; and the changes with
        ``machine_grade`` filled in.

    Raises
    ------
    UsageError
        When a change names a track that is not in the table (not graded: too short).
    """
    k = kinematics.reset_index(drop=True).copy()
    k["machine_grade"] = k["grade"].astype(object)
    machine = dict(zip(k["track_id"].astype(int), k["machine_grade"], strict=True))
    grade = dict(machine)
    excluded: set[int] = set()
    filled = []
    for c in changes:
        tid = int(c.track_id)
        if tid not in machine:
            raise UsageError(f"track {tid} is not a graded track of this sample (graded tracks: "
                             f"{_ids(machine)})")  # fmt: skip
        if c.action == "grade":
            grade[tid] = c.grade
            excluded.discard(tid)
        elif c.action == "exclude":
            excluded.add(tid)
        else:
            grade[tid] = machine[tid]
            excluded.discard(tid)
        filled.append(Change(**{**c.to_dict(), "track_id": tid, "machine_grade": machine[tid]}))
    k["grade"] = [grade[int(t)] for t in k["track_id"]]
    k = k[~k["track_id"].astype(int).isin(excluded)].reset_index(drop=True)
    return k, filled


def _ids(machine: dict[int, Any]) -> str:
    ids = sorted(machine)
    return ", ".join(map(str, ids[:20])) + (", ..." if len(ids) > 20 else "") if ids else "none"


def review_block(kinematics: pd.DataFrame, changes: list[Change]) -> dict[str, Any]:
    """The ``review`` block of ``summary.json``: the changes and the reviewed shares.

    The shares are computed as :func:`spermlab.analysis.motility.summarise` computes the
    machine's: per track (``percentages``) and weighted by each track's detections
    (``percentages_frame_weighted``), over the tracks that are not excluded.

    Parameters
    ----------
    kinematics : DataFrame
        The machine's graded Kinematics table.
    changes : list of Change
        Every change so far, oldest first.

    Returns
    -------
    dict
        ``status`` ("reviewed", or "machine" when there is no change), ``changes``,
        ``counts``, ``percentages``, ``percentages_frame_weighted``, ``n_graded``,
        ``n_excluded``, ``n_changed`` (tracks whose reviewed call differs from the
        machine's, exclusions included) and ``reviewed_at`` (the last change's time).
    """
    k, filled = apply_changes(kinematics, changes)
    counts = {g: int((k["grade"] == g).sum()) for g in GRADES}
    frames = {g: int(k.loc[k["grade"] == g, "n_points"].sum()) for g in GRADES}
    n_excluded = len(kinematics) - len(k)
    n_regraded = int((k["grade"] != k["machine_grade"]).sum())
    return {
        "status": "reviewed" if filled else "machine",
        "changes": [c.to_dict() for c in filled],
        "counts": counts,
        "percentages": _shares(counts),
        "percentages_frame_weighted": _shares(frames),
        "n_graded": sum(counts.values()),
        "n_excluded": n_excluded,
        "n_changed": n_regraded + n_excluded,
        "reviewed_at": filled[-1].at if filled else None,
    }


def reviewed_kinematics(result_dir: str | PathLike[str]) -> pd.DataFrame:
    """The reviewed Kinematics table of a results folder (the machine's when not reviewed).

    Returns
    -------
    DataFrame
        The tracks that are not excluded, ``grade`` as reviewed, ``machine_grade`` as the
        machine called it.
    """
    from spermlab.io.results import read_results

    r = read_results(result_dir)
    changes = [Change.from_dict(c) for c in (r["summary"].get("review") or {}).get("changes", [])]
    return apply_changes(r["kinematics"], changes)[0]


def review_sample(result_dir: str | PathLike[str], changes: list[Change]) -> dict[str, Any]:
    """Record changes to a results folder's grades; recompute and store the reviewed shares.

    The changes are appended to those already in ``summary.json``'s ``review`` block and
    the block is recomputed (:func:`review_block`); ``summary.json`` is rewritten atomically
    with only that block changed, while holding the folder's lock (a second reviewer or a
    re-analysis waits its turn or is refused, never interleaved). ``kinematics.*`` and the
    machine's shares are not touched.

    Parameters
    ----------
    result_dir : str or PathLike
        A finished results folder (``spermlab analyze --out``, or a batch's
        ``samples/<id>/``).
    changes : list of Change
        The new changes, in order.

    Returns
    -------
    dict
        The new ``review`` block.

    Raises
    ------
    FileNotFoundError
        When the folder has no ``summary.json``.
    UsageError
        When a change names a track that is not graded; nothing is written then.
    OutputError
        When another spermlab process is writing the folder.
    """
    from spermlab.io.atomic import write_json
    from spermlab.io.results import SUMMARY, read_results
    from spermlab.io.staging import output_lock

    folder = Path(result_dir)
    with output_lock(folder, option="review"):
        r = read_results(folder)
        summary = r["summary"]
        before = [Change.from_dict(c) for c in (summary.get("review") or {}).get("changes", [])]
        block = review_block(r["kinematics"], before + list(changes))
        write_json(folder / SUMMARY, {**summary, "review": block})
    return block
