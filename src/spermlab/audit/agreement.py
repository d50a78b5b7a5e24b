"""Agreement between annotation sets of the same frames (two people, or a person and a model).

Boxes of every pair of sets are matched one to one per frame within ``max_distance`` px of
their centres (Hungarian assignment, :func:`scipy.optimize.linear_sum_assignment`); the
connected groups of matched boxes are the *objects*. Each set then rates each object with the
class it gave it, or ``absent``. From that table:

* kappa: Cohen's (two sets) or Fleiss' (three or more) over all objects and classes, and per
  class (the class against anything else), with :mod:`spermlab.evaluate.agreement`;
* the agreement level of each object, as in the three-expert protocols of sperm morphology
  (e.g. SCIAN-MorphoSpermGS, HuSHeM): ``total`` (every set, same class), ``partial`` (at least
  two sets agree on the class, not all), ``none`` (no two sets agree);
* the consensus (objects a strict majority of sets gave the same class) and each set's
  precision and recall against it;
* track agreement for sets with track ids: for each pair, the tracks of one set whose boxes are
  spread over several tracks of the other (*splits*) and the reverse (*merges*).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from spermlab.evaluate.agreement import cohen_kappa, fleiss_kappa

__all__ = ["ABSENT", "AgreementResult", "annotator_agreement"]

ABSENT = "absent"


@dataclass
class AgreementResult:
    """Agreement of several annotation sets (see the module docstring)."""

    names: list[str]
    objects: pd.DataFrame
    kappa: float
    kappa_per_class: dict[str, float]
    levels: dict[str, int]
    per_set: pd.DataFrame
    tracks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"sets": self.names, "kappa": self.kappa, "kappa_per_class": self.kappa_per_class,
                "levels": self.levels, "per_set": self.per_set.to_dict("records"),
                "tracks": self.tracks}  # fmt: skip


def annotator_agreement(sets: list[pd.DataFrame], names: list[str] | None = None, *,
                        max_distance: float = 8.0) -> AgreementResult:  # fmt: skip
    """Match the boxes of several annotation sets and measure how far they agree.

    Parameters
    ----------
    sets : list of DataFrame
        Two or more Detections or Tracks tables of the same frames (``frame``, ``x``, ``y``,
        ``cls``; ``track_id`` for track agreement).
    names : list of str, optional
        A name per set (default ``set0``, ``set1``...).
    max_distance : float
        Largest centre distance (px) of two boxes of one object.

    Returns
    -------
    AgreementResult
    """
    if len(sets) < 2:
        raise ValueError(f"need two or more annotation sets, got {len(sets)}")
    names = names or [f"set{i}" for i in range(len(sets))]
    boxes = pd.concat([s.assign(_set=i, _row=np.arange(len(s))) for i, s in enumerate(sets)],
                      ignore_index=True)  # fmt: skip
    parent = np.arange(len(boxes))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for _, g in boxes.groupby("frame"):
        by_set = [g[g["_set"] == k] for k in range(len(sets))]
        for a in range(len(sets)):
            for b in range(a + 1, len(sets)):
                A, B = by_set[a], by_set[b]
                if A.empty or B.empty:
                    continue
                d = np.hypot(A["x"].to_numpy()[:, None] - B["x"].to_numpy(),
                             A["y"].to_numpy()[:, None] - B["y"].to_numpy())  # fmt: skip
                cost = np.where(d <= max_distance, d, 1e9)
                ia, ib = linear_sum_assignment(cost)
                for i, j in zip(ia, ib, strict=True):
                    if d[i, j] <= max_distance:
                        parent[find(A.index[i])] = find(B.index[j])
    boxes["object"] = [find(i) for i in range(len(boxes))]
    ratings = []
    for obj, g in boxes.groupby("object", sort=True):
        row: dict[str, Any] = {"object": int(obj), "frame": int(g["frame"].iloc[0])}
        for k, n in enumerate(names):
            c = g.loc[g["_set"] == k, "cls"]
            row[n] = str(int(c.iloc[0])) if len(c) else ABSENT  # a set's extra box of one object: its first
        ratings.append(row)
    objects = pd.DataFrame(ratings)
    labels = objects[names].to_numpy(dtype=object)
    kappa = cohen_kappa(labels[:, 0], labels[:, 1]) if len(names) == 2 else fleiss_kappa(labels)
    per_class = {}
    for c in sorted({v for v in labels.ravel() if v != ABSENT}):
        binary = np.where(labels == c, c, "other").astype(object)
        per_class[c] = (cohen_kappa(binary[:, 0], binary[:, 1]) if len(names) == 2
                        else fleiss_kappa(binary))  # fmt: skip
    objects["level"] = [_level(r) for r in labels]
    majority = [_majority(r) for r in labels]
    objects["consensus"] = majority
    per_set = []
    for k, n in enumerate(names):
        mine = labels[:, k] != ABSENT
        cons = np.array([m is not None for m in majority])
        hit = np.array([m is not None and labels[i, k] == m for i, m in enumerate(majority)])
        per_set.append({"set": n, "boxes": int(mine.sum()), "consensus_objects": int(cons.sum()),
                        "precision": float(hit.sum() / mine.sum()) if mine.sum() else float("nan"),
                        "recall": float(hit.sum() / cons.sum()) if cons.sum() else float("nan")})  # fmt: skip
    levels = {lv: int((objects["level"] == lv).sum()) for lv in ("total", "partial", "none")}
    tracks = _track_agreement(boxes, names) if all("track_id" in s.columns for s in sets) else []
    return AgreementResult(names, objects, kappa, per_class, levels, pd.DataFrame(per_set), tracks)


def _level(row: np.ndarray) -> str:
    present = [v for v in row if v != ABSENT]
    top = Counter(present).most_common(1)[0][1] if present else 0
    if top == len(row):
        return "total"
    return "partial" if top >= 2 else "none"


def _majority(row: np.ndarray) -> str | None:
    present = [v for v in row if v != ABSENT]
    if not present:
        return None
    label, n = Counter(present).most_common(1)[0]
    return label if n > len(row) / 2 else None


def _track_agreement(boxes: pd.DataFrame, names: list[str]) -> list[dict[str, Any]]:
    out = []
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            pair = boxes[boxes["_set"].isin([a, b])]
            both = pair.groupby("object").filter(lambda g: set(g["_set"]) == {a, b})
            ta = both[both["_set"] == a].set_index("object")["track_id"]
            tb = both[both["_set"] == b].set_index("object")["track_id"]
            m = pd.DataFrame({"a": ta, "b": tb}).dropna()
            splits = m.groupby("a")["b"].nunique()
            merges = m.groupby("b")["a"].nunique()
            out.append({"sets": [names[a], names[b]], "tracks_split": int((splits > 1).sum()),
                        "tracks_merged": int((merges > 1).sum()),
                        "split_examples": [int(t) for t in splits[splits > 1].index[:5]],
                        "merge_examples": [int(t) for t in merges[merges > 1].index[:5]]})  # fmt: skip
    return out
