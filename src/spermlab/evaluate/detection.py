"""Detection metrics: precision, recall, F1, AP50 and AP50-95, as the field computes them.

:func:`evaluate_detections` compares a Detections table of predictions (with scores)
to a ground-truth Detections table, frame by frame and class by class, and accumulates
over the whole video.

Two matchings, two kinds of numbers
-----------------------------------
* **Average precision** follows the COCO detection evaluation [1]_ exactly, so that it
  equals ``pycocotools.cocoeval.COCOeval`` on the same boxes (checked to 1e-12 in the
  test suite): per frame and class, predictions are matched greedily by descending
  score to the free ground truth of highest IoU (``IoU >= t``); the precision-recall
  curve of all frames is made monotone and read at the 101 recall points 0, 0.01, ...,
  1; AP is their mean. AP50 uses ``t = 0.5``; AP50-95 averages ``t = 0.50:0.05:0.95``.
  The per-class APs are averaged over the classes present in the ground truth (a class
  absent from the ground truth has no AP, as in COCO; a class present in the ground
  truth but never predicted has AP 0). AP50 and AP50-95 are always IoU-based.
* **Precision, recall and F1** at ``score_threshold`` count true positives with a
  one-to-one *optimal* matching per frame and class (the most pairs, then the least
  total cost; :func:`spermlab.evaluate.matching.optimal_match`). Only pairs within the
  gate (``IoU >= iou_threshold``, or centre distance ``<= max_distance``) and of the same
  class can match. Greedy matching can miss pairs that an optimal one finds (a
  high-score prediction taking the ground truth a lower-score one needed), so the
  optimal count is the fair count of correct detections at a fixed threshold. The
  overall P, R and F1 are computed from the summed counts (micro average), which for the
  usual single class ``sperm`` is the same as the class's own values.

Sperm heads are near-point objects (VISEM-Tracking boxes are ~17x18 px) and a few
pixels of box jitter cost a lot of IoU, so ``match="distance"`` matches centres within
``max_distance`` px (or µm when ``um_per_px`` is given) instead; it then also gives
``ap``, the COCO-style AP at that distance ("AP@8px"), with the same greedy algorithm
and ``similarity = -distance``.

Choices that differ from ``COCOeval``'s defaults
------------------------------------------------
* ``max_dets=None``: no cap on predictions per frame and class. COCO keeps the 100
  highest-scoring (``maxDets = [1, 10, 100]``), which a dense field of sperm (often
  40-100 per frame, more in concentrated samples) can exceed, silently lowering recall.
* ``area_range=(0, 1e10)``: COCO's ``"all"``. Almost every sperm box is COCO "small"
  (area < 32² px), so COCO's small/medium/large split says nothing here. Ground truths
  outside the range are *ignored* (matching one is neither TP nor FP) and unmatched
  predictions outside it are ignored, exactly as COCO; the range only affects AP.
* For parity with COCO use ``max_dets=100`` (COCO's ``stats[0]`` and ``stats[1]``) or set
  ``params.maxDets = [max_dets]`` and ``params.areaRng = [list(area_range)]`` on
  ``COCOeval``; :func:`to_coco` writes the matching COCO dictionaries.

Undefined values
----------------
Precision with no prediction (0/0) and recall with no ground truth are NaN, not 0.
F1 is ``2 TP / (2 TP + FP + FN)``: 0 when there is ground truth but no prediction, NaN
when there is neither. AP is NaN for a class without ground truth.

References
----------
.. [1] T.-Y. Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014,
   https://doi.org/10.1007/978-3-319-10602-1_48; detection evaluation:
   https://cocodataset.org/#detection-eval and ``pycocotools/cocoeval.py``.
.. [2] M. Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge",
   IJCV 88, 303-338 (2010). https://doi.org/10.1007/s11263-009-0275-4
.. [3] C. J. van Rijsbergen, *Information Retrieval*, 2nd ed., Butterworths (1979) (F1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from spermlab.evaluate.matching import (
    BoolArray,
    FloatArray,
    IntArray,
    _pair_iou,
    candidate_pairs,
    greedy_match,
    optimal_match,
)
from spermlab.tables import CLASS_NAMES, DETECTIONS, validate

__all__ = [
    "IOU_THRESHOLDS",
    "RECALL_THRESHOLDS",
    "ClassMetrics",
    "DetectionResult",
    "PRCurve",
    "evaluate_detections",
    "to_coco",
]

#: COCO's IoU thresholds 0.50:0.05:0.95, built as ``COCOeval`` builds them.
IOU_THRESHOLDS: FloatArray = np.linspace(0.5, 0.95, round((0.95 - 0.5) / 0.05) + 1)
#: COCO's 101 recall points 0:0.01:1.
RECALL_THRESHOLDS: FloatArray = np.linspace(0.0, 1.0, round(1.0 / 0.01) + 1)
#: COCO's area range "all", in px².
AREA_ALL: tuple[float, float] = (0.0, 1e10)

_EPS = np.spacing(1)
_FRAME_COLUMNS = ("frame", "n_gt", "n_pred", "tp", "fp", "fn")


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class PRCurve:
    """Precision and recall as the score threshold is lowered past each prediction.

    Built from the greedy (COCO) matching at the evaluation's matching criterion;
    predictions ignored by the area range are left out. Arrays are read-only and sorted
    by descending score; entry ``i`` counts the first ``i + 1`` predictions.

    Attributes
    ----------
    score : ndarray
        Prediction scores, descending.
    precision, recall, f1 : ndarray
        ``TP/(TP+FP)``, ``TP/n_gt`` (NaN when ``n_gt`` is 0) and ``2TP/(TP+FP+n_gt)``.
    n_gt : int
        Number of (non-ignored) ground-truth objects.
    """

    score: FloatArray
    precision: FloatArray
    recall: FloatArray
    f1: FloatArray
    n_gt: int

    def best_f1(self) -> tuple[float, float]:
        """Return ``(best F1, score threshold reaching it)``.

        Only cuts that a threshold can make are considered (after the last of equal
        scores); ties go to the highest threshold. ``(nan, nan)`` without predictions,
        ``(0.0, nan)`` when no prediction is correct.
        """
        if len(self.score) == 0:
            return math.nan, math.nan
        cut = np.r_[self.score[1:] != self.score[:-1], True]
        f1 = np.where(cut, self.f1, -1.0)
        i = int(np.argmax(f1))
        if f1[i] <= 0:
            return 0.0, math.nan
        return float(f1[i]), float(self.score[i])

    def to_pandas(self) -> pd.DataFrame:
        """The curve as a table with columns score, precision, recall, f1."""
        return pd.DataFrame(
            {"score": self.score, "precision": self.precision, "recall": self.recall,
             "f1": self.f1}
        )


@dataclass(frozen=True)
class ClassMetrics:
    """Detection metrics of one class, or of all classes (``cls`` is ``None``).

    Attributes
    ----------
    cls : int or None
        Class id; ``None`` for the overall row.
    name : str
        Class name (:data:`spermlab.tables.CLASS_NAMES`) or ``"all"``.
    n_gt, n_pred, tp, fp, fn : int
        Ground truths, predictions with ``score >= score_threshold``, and the counts of
        the optimal one-to-one matching.
    precision, recall, f1 : float
        ``TP/(TP+FP)``, ``TP/(TP+FN)``, ``2TP/(2TP+FP+FN)`` (NaN when undefined).
    ap : float
        AP (COCO 101-point) at the matching criterion: ``IoU >= iou_threshold`` or
        ``distance <= max_distance``.
    ap50, ap50_95 : float
        COCO AP at IoU 0.5 and averaged over IoU 0.50:0.05:0.95.
    best_f1, best_f1_threshold : float
        Highest F1 along the greedy PR curve and the score threshold giving it.
    """

    cls: int | None
    name: str
    n_gt: int
    n_pred: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    ap: float
    ap50: float
    ap50_95: float
    best_f1: float
    best_f1_threshold: float


@dataclass(frozen=True, eq=False)
class DetectionResult:
    """Result of :func:`evaluate_detections`.

    Attributes
    ----------
    per_class : tuple of ClassMetrics
        One entry per evaluated class, in class order.
    overall : ClassMetrics
        Summed counts, micro-averaged P/R/F1, APs averaged over the classes present in
        the ground truth, best F1 of the pooled curve.
    per_frame : DataFrame
        Columns frame, n_gt, n_pred, tp, fp, fn (all classes), one row per frame seen in
        either table; for CSV export.
    curves : mapping of int to PRCurve
        The precision-recall curve of each class.
    overall_curve : PRCurve
        The curve of all classes pooled.
    params : mapping
        The parameters of the evaluation.
    """

    per_class: tuple[ClassMetrics, ...]
    overall: ClassMetrics
    per_frame: pd.DataFrame
    curves: Mapping[int, PRCurve]
    overall_curve: PRCurve
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        """Overall precision at the score threshold."""
        return self.overall.precision

    @property
    def recall(self) -> float:
        """Overall recall at the score threshold."""
        return self.overall.recall

    @property
    def f1(self) -> float:
        """Overall F1 at the score threshold."""
        return self.overall.f1

    @property
    def ap50(self) -> float:
        """COCO AP at IoU 0.5, mean over classes present in the ground truth."""
        return self.overall.ap50

    @property
    def ap50_95(self) -> float:
        """COCO AP averaged over IoU 0.50:0.05:0.95 and classes."""
        return self.overall.ap50_95

    def for_class(self, cls: int) -> ClassMetrics:
        """The metrics of class ``cls``; ``KeyError`` when it was not evaluated."""
        for m in self.per_class:
            if m.cls == cls:
                return m
        raise KeyError(f"class {cls} not evaluated; classes: {[m.cls for m in self.per_class]}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python summary: params, overall and per-class metrics (no curves)."""
        return {
            "params": dict(self.params),
            "overall": asdict(self.overall),
            "per_class": {str(m.cls): asdict(m) for m in self.per_class},
        }

    def to_pandas(self) -> pd.DataFrame:
        """One row per class and a last row ``name == "all"`` (``cls`` is NA there)."""
        rows = [asdict(m) for m in (*self.per_class, self.overall)]
        table = pd.DataFrame(rows, columns=list(ClassMetrics.__dataclass_fields__))
        table["cls"] = table["cls"].astype("Int64")
        return table


@dataclass(frozen=True, eq=False)
class _Rows:
    """One table's rows as arrays, with its group codes and within-group order."""

    frame: IntArray
    cls: IntArray  # index into the evaluated class list
    group: IntArray
    boxes: FloatArray
    score: FloatArray
    order: IntArray  # pred: rank by score; gt: ignored last, then row order
    outside: BoolArray  # area outside area_range

    def __len__(self) -> int:
        return len(self.frame)


def _table(table: pd.DataFrame, name: str, *, need_score: bool) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name}: expected a Detections DataFrame, got {type(table).__name__}")
    if not need_score and "score" not in table.columns:
        table = table.assign(score=1.0)  # a ground-truth table's scores are not used
    return validate(table, DETECTIONS, name=name, extra="keep")


def _rows(
    t: pd.DataFrame, classes: IntArray, area_range: tuple[float, float], *, is_pred: bool
) -> _Rows:
    t = t[t["cls"].isin(classes)]
    frame = t["frame"].to_numpy(np.int64)
    cls = np.searchsorted(classes, t["cls"].to_numpy(np.int64)).astype(np.int64)
    group = frame * len(classes) + cls
    boxes = t[["x", "y", "w", "h"]].to_numpy(np.float64)
    score = t["score"].to_numpy(np.float64)
    area = boxes[:, 2] * boxes[:, 3]
    outside = (area < area_range[0]) | (area > area_range[1])
    row = np.arange(len(t))
    # COCO: predictions by descending score (stable); ground truths ignored-last (stable).
    key = -score if is_pred else outside.astype(np.float64)
    srt = np.lexsort((row, key, group))
    starts = np.r_[0, np.flatnonzero(np.diff(group[srt])) + 1] if len(t) else np.empty(0, int)
    pos = np.arange(len(t)) - np.repeat(starts, np.diff(np.r_[starts, len(t)]))
    order = np.empty(len(t), np.int64)
    order[srt] = pos
    return _Rows(frame, cls, group, boxes, score, order, outside)


def _check_params(
    match: str, iou_threshold: float, max_distance: float, score_threshold: float,
    um_per_px: float | None, max_dets: int | None, area_range: tuple[float, float],
) -> None:
    if match not in ("iou", "distance"):
        raise ValueError(f"match: expected 'iou' or 'distance', got {match!r}")
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold: expected a value in (0, 1], got {iou_threshold}")
    if not (math.isfinite(max_distance) and max_distance > 0):
        raise ValueError(f"max_distance: expected a positive finite value, got {max_distance}")
    if not math.isfinite(score_threshold):
        raise ValueError(f"score_threshold: expected a finite value, got {score_threshold}")
    if um_per_px is not None and not (math.isfinite(um_per_px) and um_per_px > 0):
        raise ValueError(f"um_per_px: expected a positive finite value or None, got {um_per_px}")
    if max_dets is not None and (isinstance(max_dets, bool) or int(max_dets) != max_dets
                                 or max_dets < 1):
        raise ValueError(f"max_dets: expected a positive integer or None, got {max_dets!r}")
    lo, hi = area_range
    if not lo <= hi:
        raise ValueError(f"area_range: expected (low, high) with low <= high, got {area_range}")


def _class_list(
    p: pd.DataFrame, g: pd.DataFrame, classes: Iterable[int] | None
) -> IntArray:
    if classes is None:
        return np.union1d(p["cls"].to_numpy(np.int64), g["cls"].to_numpy(np.int64))
    out = np.unique(np.asarray(list(classes), dtype=np.int64))
    return out


def _coco_ap(
    order: IntArray, tp: BoolArray, fp: BoolArray, npig: int
) -> FloatArray:
    """COCO ``accumulate`` for one class: AP (mean interpolated precision) per threshold.

    ``order`` sorts the class's predictions as COCO does; ``tp``/``fp`` are (T, N) flags
    of non-ignored matched / unmatched predictions.
    """
    n_thr = tp.shape[0]
    if npig == 0:
        return np.full(n_thr, np.nan)
    tp_sum = np.cumsum(tp[:, order], axis=1, dtype=np.float64)
    fp_sum = np.cumsum(fp[:, order], axis=1, dtype=np.float64)
    nd = tp_sum.shape[1]
    ap = np.zeros(n_thr)
    if nd == 0:
        return ap
    rc = tp_sum / npig
    pr = tp_sum / (fp_sum + tp_sum + _EPS)
    pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
    for t in range(n_thr):
        idx = np.searchsorted(rc[t], RECALL_THRESHOLDS, side="left")
        q = np.where(idx < nd, pr[t, np.minimum(idx, nd - 1)], 0.0)
        ap[t] = q.mean()
    return ap


def _curve(score: FloatArray, tp: BoolArray, fp: BoolArray, npig: int) -> PRCurve:
    """A PR curve from predictions already sorted by descending score."""
    keep = tp | fp
    ctp = np.cumsum(tp[keep], dtype=np.float64)
    cfp = np.cumsum(fp[keep], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = ctp / (ctp + cfp)
        recall = ctp / npig if npig else np.full(len(ctp), np.nan)
        f1 = 2 * ctp / (ctp + cfp + npig)
    return PRCurve(_readonly(score[keep]), _readonly(precision), _readonly(recall),
                   _readonly(f1), int(npig))


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


def _pairs(
    p: _Rows, g: _Rows, *, extra_radius: float
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Candidate pairs with their IoU and centre distance (px)."""
    sizes = np.concatenate([p.boxes[:, 2:], g.boxes[:, 2:]]).ravel()
    radius = max(float(sizes.max()) if len(sizes) else 0.0, extra_radius)
    radius = radius * (1 + 1e-9) + 1e-9
    pp, pg = candidate_pairs(p.group, p.boxes, g.group, g.boxes, radius=radius)
    iou = _pair_iou(p.boxes[pp], g.boxes[pg])
    d = p.boxes[pp, :2] - g.boxes[pg, :2]
    return pp, pg, iou, np.hypot(d[:, 0], d[:, 1])
