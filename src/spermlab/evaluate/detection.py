"""Detection metrics: precision, recall, F1, AP50 and AP50-95, as the field computes them.

:func:`evaluate_detections` compares a Detections table of predictions (with scores)
to a ground-truth Detections table, frame by frame and class by class, and accumulates
over the whole video.

Two matchings, two kinds of numbers
-----------------------------------
* **Average precision** follows the COCO detection evaluation [1]_ exactly and equals
  ``pycocotools.cocoeval.COCOeval`` on the same boxes up to rounding (~1e-15). Per
  frame and class, predictions are matched greedily by descending score to the free
  ground truth of highest IoU (``IoU >= t``); the precision-recall curve of all frames
  is made monotone and read at the 101 recall points 0, 0.01, ..., 1; AP is their
  mean. AP50 uses ``t = 0.5``; AP50-95 averages ``t = 0.50:0.05:0.95``. The per-class
  APs are averaged over the classes present in the ground truth (a class absent from
  the ground truth has no AP, as in COCO; a class present in the ground truth but never
  predicted has AP 0). AP50 and AP50-95 are always IoU-based. COCO divides by
  ``TP + FP + eps``, so a perfect AP can read 0.9999999999999999; spermlab keeps that.
* **Precision, recall and F1** at ``score_threshold`` count true positives with a
  one-to-one *optimal* matching per frame and class (most pairs, then least total cost;
  :func:`spermlab.evaluate.matching.optimal_match`) of same-class pairs within the gate
  (``IoU >= iou_threshold`` or centre distance ``<= max_distance``). Greedy matching can
  miss pairs (a high-score prediction taking the ground truth a lower-score one
  needed); the optimal count is the fair count at a fixed threshold. Overall P, R and
  F1 come from the summed counts (micro average; for one class, the class's values).

Sperm heads are near-point objects (VISEM-Tracking boxes are ~17x18 px; a few pixels
of jitter cost much IoU), so ``match="distance"`` matches centres within
``max_distance`` px (µm when ``um_per_px`` is given) and ``ap`` is then the COCO-style
AP at that distance ("AP@8px"): same greedy algorithm, ``similarity = -distance``.

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
    RECALL_THRESHOLDS,
    GroupedRows,
    IntArray,
    coco_ap,
    greedy_match,
    group_rows,
    optimal_match,
    scored_pairs,
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
#: COCO's area range "all", in px².
AREA_ALL: tuple[float, float] = (0.0, 1e10)


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
        cols = ("score", "precision", "recall", "f1")
        return pd.DataFrame({c: getattr(self, c) for c in cols})


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
    def tp(self) -> int:
        """Overall true positives at the score threshold."""
        return self.overall.tp

    @property
    def fp(self) -> int:
        """Overall false positives at the score threshold."""
        return self.overall.fp

    @property
    def fn(self) -> int:
        """Overall false negatives (missed ground truths) at the score threshold."""
        return self.overall.fn

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
        """One row per class and a last row ``name == "all"`` (``cls`` is NA there; it
        covers the classes the prediction holds, see :func:`evaluate_detections`)."""
        rows = [asdict(m) for m in (*self.per_class, self.overall)]
        table = pd.DataFrame(rows, columns=list(ClassMetrics.__dataclass_fields__))
        table["cls"] = table["cls"].astype("Int64")
        return table


def _table(table: pd.DataFrame, name: str, *, need_score: bool) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name}: expected a Detections DataFrame, got {type(table).__name__}")
    if not need_score and "score" not in table.columns:
        table = table.assign(score=1.0)  # a ground-truth table's scores are not used
    return validate(table, DETECTIONS, name=name, extra="keep")


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


def _class_list(p: pd.DataFrame, g: pd.DataFrame, classes: Iterable[int] | None) -> IntArray:
    if classes is None:
        return np.union1d(p["cls"].to_numpy(np.int64), g["cls"].to_numpy(np.int64))
    return np.unique(np.asarray(list(classes), dtype=np.int64))


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
    return float(num) / float(den) if den else math.nan


Pairs = tuple[IntArray, IntArray, FloatArray, FloatArray]


def _greedy_ap(
    p: GroupedRows, g: GroupedRows, pairs: Pairs, n_cls: int,
    *, match: str, iou_threshold: float, max_distance: float, scale: float,
    max_dets: int | None,
) -> tuple[FloatArray, dict[int, PRCurve], PRCurve]:
    """COCO matching and accumulation: AP per class (K, 11) and the PR curves.

    Columns 0-9 of the AP array are IoU 0.50:0.95; column 10 is the matching criterion.
    """
    pp, pg, iou, dist = pairs
    kept = p.order < max_dets if max_dets is not None else np.ones(len(p), bool)
    thr = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)  # COCO: iou = min([t, 1 - 1e-10])
    if match == "iou":
        thr = np.r_[thr, min(iou_threshold, 1 - 1e-10)]
    common = {"pred_rank": p.order, "gt_order": g.order, "gt_ignore": g.outside,
              "n_pred": len(p), "n_gt": len(g)}
    sel = kept[pp] & (iou >= thr.min())
    m, mig = greedy_match(pp[sel], pg[sel], iou[sel], thr, **common)
    if match == "distance":
        dd = dist * scale
        sel = kept[pp] & (dd <= max_distance)
        m2, mig2 = greedy_match(pp[sel], pg[sel], -dd[sel], [-max_distance], **common)
        m, mig = np.vstack([m, m2]), np.vstack([mig, mig2])
    ignored = mig | (~m & p.outside[None, :])
    tp = m & ~ignored & kept[None, :]
    fp = ~m & ~ignored & kept[None, :]
    npig = np.bincount(g.cls[~g.outside], minlength=n_cls)
    # COCO concatenates frames in id order, each by score, then sorts by score (stable).
    glob = np.lexsort((p.order, p.frame, -p.score))
    glob = glob[kept[glob]]
    ap = np.full((n_cls, len(thr) if match == "iou" else len(thr) + 1), np.nan)
    curves = {}
    for k in range(n_cls):
        idx = glob[p.cls[glob] == k]
        ap[k] = coco_ap(idx, tp, fp, int(npig[k]))
        curves[k] = _curve(p.score[idx], tp[-1, idx], fp[-1, idx], int(npig[k]))
    pooled = _curve(p.score[glob], tp[-1, glob], fp[-1, glob], int(npig.sum()))
    return ap, curves, pooled


def _optimal_tp(
    p: GroupedRows, g: GroupedRows, pairs: Pairs, *, match: str, iou_threshold: float,
    max_distance: float, scale: float, above: BoolArray,
) -> BoolArray:
    """Which predictions are true positives in the gated one-to-one optimal matching."""
    pp, pg, iou, dist = pairs
    if match == "iou":
        gate, cost = iou >= iou_threshold, 1.0 - iou
    else:
        dd = dist * scale
        gate, cost = dd <= max_distance, dd / max_distance
    gate &= above[pp]
    mp, _ = optimal_match(pp[gate], pg[gate], cost[gate], n_pred=len(p), n_gt=len(g))
    is_tp = np.zeros(len(p), bool)
    is_tp[mp] = True
    return is_tp


def _metrics(
    cls: int | None, name: str, n_gt: int, n_pred: int, tp: int, ap: FloatArray,
    curve: PRCurve,
) -> ClassMetrics:
    fp, fn = n_pred - tp, n_gt - tp
    best, best_thr = curve.best_f1()
    return ClassMetrics(
        cls=cls, name=name, n_gt=int(n_gt), n_pred=int(n_pred), tp=int(tp), fp=int(fp),
        fn=int(fn), precision=_ratio(tp, n_pred), recall=_ratio(tp, n_gt),
        f1=_ratio(2 * tp, 2 * tp + fp + fn), ap=float(ap[-1]), ap50=float(ap[0]),
        ap50_95=float(np.mean(ap[:10])), best_f1=best, best_f1_threshold=best_thr,
    )


def _per_frame(
    p: GroupedRows, g: GroupedRows, above: BoolArray, is_tp: BoolArray
) -> pd.DataFrame:
    frames = np.union1d(p.frame, g.frame)
    n = len(frames)

    def count(frame: IntArray) -> IntArray:
        return np.bincount(np.searchsorted(frames, frame), minlength=n).astype(np.int64)

    n_gt, n_pred, tp = count(g.frame), count(p.frame[above]), count(p.frame[is_tp])
    return pd.DataFrame({"frame": frames.astype(np.int64), "n_gt": n_gt, "n_pred": n_pred,
                         "tp": tp, "fp": n_pred - tp, "fn": n_gt - tp})


def evaluate_detections(
    pred: pd.DataFrame,
    gt: pd.DataFrame,
    *,
    match: Literal["iou", "distance"] = "iou",
    iou_threshold: float = 0.5,
    max_distance: float = 8.0,
    score_threshold: float = 0.0,
    um_per_px: float | None = None,
    classes: Iterable[int] | None = None,
    max_dets: int | None = None,
    area_range: tuple[float, float] = AREA_ALL,
) -> DetectionResult:
    """Precision, recall, F1, AP50 and AP50-95 of predicted boxes against ground truth.

    See the module docstring for the exact definitions and the COCO conventions.

    Parameters
    ----------
    pred : DataFrame
        Detections table (``frame``, ``x``, ``y``, ``w``, ``h`` in px as box centre and
        size, ``cls``, ``score``). Extra columns (e.g. ``track_id``) are ignored.
    gt : DataFrame
        Ground-truth Detections table; its ``score`` column may be absent (unused).
    match : {"iou", "distance"}
        Criterion for a correct detection in P/R/F1, the PR curve and ``ap``: IoU >=
        ``iou_threshold`` or centre distance <= ``max_distance``.
    iou_threshold : float
        IoU gate in (0, 1].
    max_distance : float
        Distance gate, in px, or in µm when ``um_per_px`` is given.
    score_threshold : float
        Predictions with ``score >= score_threshold`` count for P/R/F1 (AP and the PR
        curve use every prediction).
    um_per_px : float, optional
        Pixel size; when given, distances are in µm.
    classes : iterable of int, optional
        Classes to evaluate (rows of other classes are dropped). Default: every class in
        either table.
    max_dets : int, optional
        COCO's ``maxDets``: keep at most this many highest-scoring predictions per frame
        and class for AP. Default ``None``: no limit (COCO uses 100).
    area_range : (float, float)
        COCO area range in px² for AP; default COCO's ``"all"``.

    Returns
    -------
    DetectionResult
        Per-class and overall metrics, the per-frame table and the PR curves.

    Raises
    ------
    ValueError
        On malformed tables (see :func:`spermlab.tables.validate`) or parameters.

    References
    ----------
    .. [1] T.-Y. Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014;
       https://cocodataset.org/#detection-eval
    .. [2] M. Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge",
       IJCV 88, 303-338 (2010).

    Examples
    --------
    >>> import pandas as pd
    >>> gt = pd.DataFrame({"frame": [0, 0], "x": [10.0, 50.0], "y": [10.0, 50.0],
    ...                    "w": [10.0, 10.0], "h": [10.0, 10.0], "cls": [0, 0]})
    >>> pred = gt.assign(x=[12.0, 80.0], score=[0.9, 0.8])
    >>> r = evaluate_detections(pred, gt)
    >>> r.tp, r.precision, r.recall  # the box 2 px off has IoU 80/120
    (1, 0.5, 0.5)
    >>> round(r.ap50, 4)  # precision 1 at 51 of COCO's 101 recall points
    0.505
    >>> evaluate_detections(pred, gt, match="distance", max_distance=8.0).recall
    0.5
    """
    _check_params(match, iou_threshold, max_distance, score_threshold, um_per_px, max_dets,
                  area_range)
    pt, gtt = _table(pred, "pred", need_score=True), _table(gt, "gt", need_score=False)
    cls_list = _class_list(pt, gtt, classes)
    p = group_rows(pt, cls_list, area_range, is_pred=True)
    g = group_rows(gtt, cls_list, area_range, is_pred=False)
    scale = 1.0 if um_per_px is None else float(um_per_px)
    extra = max_distance / scale if match == "distance" else 0.0
    pairs = scored_pairs(p, g, extra_radius=extra)
    opts = {"match": match, "iou_threshold": iou_threshold, "max_distance": max_distance,
            "scale": scale}
    ap, curves, pooled = _greedy_ap(p, g, pairs, len(cls_list), max_dets=max_dets, **opts)
    above = p.score >= score_threshold
    is_tp = _optimal_tp(p, g, pairs, above=above, **opts)
    k = len(cls_list)
    n_gt = np.bincount(g.cls, minlength=k)
    n_pred = np.bincount(p.cls[above], minlength=k)
    n_tp = np.bincount(p.cls[is_tp], minlength=k)
    per_class = tuple(
        _metrics(int(c), CLASS_NAMES.get(int(c), str(int(c))), n_gt[i], n_pred[i], n_tp[i],
                 ap[i], curves[i])
        for i, c in enumerate(cls_list)
    )
    # "all" covers the classes the prediction has: a detector of sperm heads alone is not
    # scored on the annotators' cluster and pinhead boxes (they stay in the per-class rows)
    predicted = np.bincount(p.cls, minlength=k) > 0 if len(p.cls) else np.ones(k, bool)
    present = ~np.isnan(ap[:, 0]) & predicted
    mean_ap = ap[present].mean(axis=0) if present.any() else np.full(ap.shape[1], np.nan)
    overall = _metrics(None, "all", int(n_gt[predicted].sum()), int(n_pred.sum()),
                       int(n_tp.sum()), mean_ap, pooled)
    params = {**opts, "score_threshold": score_threshold, "um_per_px": um_per_px,
              "classes": [int(c) for c in cls_list], "max_dets": max_dets,
              "area_range": [float(area_range[0]), float(area_range[1])]}
    params.pop("scale")
    return DetectionResult(per_class, overall, _per_frame(p, g, above, is_tp),
                           {int(c): curves[i] for i, c in enumerate(cls_list)}, pooled, params)


def to_coco(
    gt: pd.DataFrame, pred: pd.DataFrame, *, classes: Iterable[int] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The COCO ground-truth dataset and results list of two Detections tables.

    Feed them to pycocotools (``COCO()``; ``coco.dataset = dataset``;
    ``coco.createIndex()``; ``coco.loadRes(results)``) to check spermlab's AP.

    Parameters
    ----------
    gt, pred : DataFrame
        Ground-truth and predicted Detections tables (``gt`` needs no ``score``).
    classes : iterable of int, optional
        Categories to write; default every class in either table.

    Returns
    -------
    dataset : dict
        ``images`` (one per frame in either table, ``id`` = frame), ``annotations``
        (``id`` from 1 in row order, ``bbox = [x - w/2, y - h/2, w, h]``, ``area = w*h``,
        ``iscrowd = 0``) and ``categories`` (``id`` = class id).
    results : list of dict
        One entry per prediction in row order: ``image_id``, ``category_id``, ``bbox``,
        ``score``.

    Examples
    --------
    >>> import pandas as pd
    >>> gt = pd.DataFrame({"frame": [3], "x": [10.0], "y": [20.0], "w": [4.0], "h": [6.0],
    ...                    "cls": [0]})
    >>> ds, res = to_coco(gt, gt.assign(score=0.5))
    >>> ds["annotations"][0]["bbox"], res[0]["score"]
    ([8.0, 17.0, 4.0, 6.0], 0.5)
    """
    g, p = _table(gt, "gt", need_score=False), _table(pred, "pred", need_score=True)
    cls_list = _class_list(p, g, classes)
    g, p = g[g["cls"].isin(cls_list)], p[p["cls"].isin(cls_list)]

    def boxes(t: pd.DataFrame) -> list[list[float]]:
        b = t[["x", "y", "w", "h"]].to_numpy(np.float64)
        return np.column_stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 2:]]).tolist()

    frames = np.union1d(g["frame"].to_numpy(), p["frame"].to_numpy())
    anns = [
        {"id": i + 1, "image_id": int(f), "category_id": int(c), "bbox": b,
         "area": b[2] * b[3], "iscrowd": 0}
        for i, (f, c, b) in enumerate(zip(g["frame"], g["cls"], boxes(g), strict=True))
    ]
    results = [
        {"image_id": int(f), "category_id": int(c), "bbox": b, "score": float(s)}
        for f, c, b, s in zip(p["frame"], p["cls"], boxes(p), p["score"], strict=True)
    ]
    dataset = {
        "images": [{"id": int(f), "file_name": f"frame_{int(f)}"} for f in frames],
        "annotations": anns,
        "categories": [{"id": int(c), "name": CLASS_NAMES.get(int(c), str(int(c)))}
                       for c in cls_list],
    }
    return dataset, results
