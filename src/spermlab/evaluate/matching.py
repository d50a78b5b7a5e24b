"""Matching predictions to ground truth: similarity matrices and the two assignments.

Two ways of pairing predicted boxes with ground-truth boxes of one frame and one class
are used by :func:`spermlab.evaluate.evaluate_detections`:

* **greedy by descending score** (:func:`greedy_match`), the rule of the COCO detection
  evaluation [1]_ (``pycocotools.cocoeval.COCOeval.evaluateImg``) and of PASCAL VOC [2]_:
  each prediction, highest score first, takes the still-unmatched ground truth of highest
  similarity at or above the threshold. Average precision is defined on this matching.
* **one-to-one optimal** (:func:`optimal_match`): among all one-to-one pairings that use
  only gated pairs (IoU >= threshold, or distance <= threshold) the one with the most
  pairs, and among those the one of least total cost, solved with
  :func:`scipy.optimize.linear_sum_assignment` [3]_. Precision, recall and F1 at a score
  threshold are counted on this matching: it never counts fewer true positives than the
  greedy rule.

:func:`coco_ap` is COCO's accumulation of the greedy matches into average precision.
Both matchings work on *candidate pairs* (prediction index, ground-truth index, similarity) that
share a group (frame and class); :func:`candidate_pairs` finds them for whole tables at
once with a k-d tree, so no dense per-frame matrix is ever built.

References
----------
.. [1] T.-Y. Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014;
   detection evaluation: https://cocodataset.org/#detection-eval
.. [2] M. Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge",
   IJCV 88, 303-338 (2010). https://doi.org/10.1007/s11263-009-0275-4
.. [3] H. W. Kuhn, "The Hungarian method for the assignment problem", Naval Research
   Logistics Quarterly 2, 83-97 (1955); D. F. Crouse, "On implementing 2D rectangular
   assignment algorithms", IEEE TAES 52, 1679-1696 (2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = [
    "RECALL_THRESHOLDS",
    "GroupedRows",
    "box_iou",
    "candidate_pairs",
    "centre_distance",
    "coco_ap",
    "greedy_match",
    "group_rows",
    "optimal_match",
    "scored_pairs",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: COCO's 101 recall points 0:0.01:1, built as ``COCOeval`` builds them.
RECALL_THRESHOLDS: FloatArray = np.linspace(0.0, 1.0, round(1.0 / 0.01) + 1)
_EPS = np.spacing(1)


def _boxes(a: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] != 4:
        raise ValueError(f"{name}: expected shape (..., 4) [x, y, w, h], got {arr.shape}")
    return arr


def _pair_iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """IoU of centre-format boxes ``a`` and ``b`` (broadcast), as pycocotools' ``bbIou``.

    The corners are formed as pycocotools forms them from a COCO ``[x, y, w, h]`` box
    whose top-left corner is ``centre - size / 2`` (right edge = left + width), so the
    values are bit-identical to ``maskUtils.iou`` on the output of ``to_coco``.
    """
    ax0 = a[..., 0] - a[..., 2] / 2
    ay0 = a[..., 1] - a[..., 3] / 2
    bx0 = b[..., 0] - b[..., 2] / 2
    by0 = b[..., 1] - b[..., 3] / 2
    iw = np.minimum(ax0 + a[..., 2], bx0 + b[..., 2]) - np.maximum(ax0, bx0)
    ih = np.minimum(ay0 + a[..., 3], by0 + b[..., 3]) - np.maximum(ay0, by0)
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def box_iou(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Intersection over union of every box of ``a`` with every box of ``b``.

    Parameters
    ----------
    a : array_like, shape (..., N, 4)
        Boxes as ``[x, y, w, h]``: centre and size in pixels (the Detections layout).
    b : array_like, shape (..., M, 4)
        Boxes in the same layout. Leading dimensions broadcast against those of ``a``.

    Returns
    -------
    ndarray, shape (..., N, M)
        ``|A ∩ B| / |A ∪ B|`` in [0, 1]; 0 for disjoint or touching boxes and for pairs
        whose union is empty. Computed exactly as pycocotools computes box IoU [1]_.

    References
    ----------
    .. [1] T.-Y. Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014;
       https://cocodataset.org/#detection-eval

    Examples
    --------
    A 10x10 box shifted 2 px to the right overlaps 8x10 of 120 px² of union:

    >>> box_iou([[5, 5, 10, 10]], [[7, 5, 10, 10]]).round(4)
    array([[0.6667]])
    """
    aa, bb = _boxes(a, "a"), _boxes(b, "b")
    if aa.ndim < 2 or bb.ndim < 2:
        raise ValueError(f"box_iou: expected (N, 4) and (M, 4) arrays, got {aa.shape}, {bb.shape}")
    return _pair_iou(aa[..., :, None, :], bb[..., None, :, :])


def centre_distance(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Euclidean distance between the centres of every box of ``a`` and of ``b``.

    Parameters
    ----------
    a : array_like, shape (..., N, 2) or (..., N, 4)
        Points ``[x, y]`` or boxes ``[x, y, w, h]`` (only the centre is used), in px.
    b : array_like, shape (..., M, 2) or (..., M, 4)
        Points or boxes in the same layout.

    Returns
    -------
    ndarray, shape (..., N, M)
        Distances in the unit of the input (px for Detections tables).

    Examples
    --------
    >>> centre_distance([[0, 0, 10, 10]], [[3, 4, 10, 10], [0, 8, 5, 5]])
    array([[5., 8.]])
    """
    aa = np.asarray(a, dtype=np.float64)
    bb = np.asarray(b, dtype=np.float64)
    for name, arr in (("a", aa), ("b", bb)):
        if arr.ndim < 2 or arr.shape[-1] not in (2, 4):
            raise ValueError(
                f"centre_distance: {name}: expected shape (..., N, 2) or (..., N, 4), "
                f"got {arr.shape}"
            )
    d = aa[..., :, None, :2] - bb[..., None, :, :2]
    return np.hypot(d[..., 0], d[..., 1])


def candidate_pairs(
    pred_group: ArrayLike,
    pred_boxes: ArrayLike,
    gt_group: ArrayLike,
    gt_boxes: ArrayLike,
    *,
    radius: float,
) -> tuple[IntArray, IntArray]:
    """All (prediction, ground truth) pairs of one group whose centres lie within ``radius``.

    Parameters
    ----------
    pred_group, gt_group : array_like of int, shapes (N,), (M,)
        Group code of each row (a frame and class pair coded as one integer).
    pred_boxes, gt_boxes : array_like, shapes (N, 4), (M, 4)
        Boxes ``[x, y, w, h]`` in px.
    radius : float
        Largest per-axis centre offset (Chebyshev distance) kept, in px. Pairs with a
        positive IoU always lie within ``max(w, h)`` over all boxes; pairs within a
        Euclidean distance ``d`` lie within ``d``.

    Returns
    -------
    pred_index, gt_index : ndarray of int
        Row indices of the pairs, sorted by prediction then ground truth.
    """
    pg = np.asarray(pred_group, dtype=np.int64)
    gg = np.asarray(gt_group, dtype=np.int64)
    if len(pg) == 0 or len(gg) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pb, gb = _boxes(pred_boxes, "pred_boxes"), _boxes(gt_boxes, "gt_boxes")
    # Groups become a third coordinate spaced far beyond the radius: one k-d tree query
    # then finds the pairs of every frame and class at once.
    _, codes = np.unique(np.concatenate([pg, gg]), return_inverse=True)
    step = 2.0 * radius + 1.0
    pts_p = np.column_stack([pb[:, 0], pb[:, 1], codes[: len(pg)] * step])
    pts_g = np.column_stack([gb[:, 0], gb[:, 1], codes[len(pg) :] * step])
    sdm = cKDTree(pts_p).sparse_distance_matrix(
        cKDTree(pts_g), radius, p=np.inf, output_type="ndarray"
    )
    i = sdm["i"].astype(np.int64)
    j = sdm["j"].astype(np.int64)
    keep = pg[i] == gg[j]
    order = np.lexsort((j[keep], i[keep]))
    return i[keep][order], j[keep][order]


def greedy_match(
    pair_pred: ArrayLike,
    pair_gt: ArrayLike,
    similarity: ArrayLike,
    thresholds: ArrayLike,
    *,
    pred_rank: ArrayLike,
    gt_order: ArrayLike,
    gt_ignore: ArrayLike,
    n_pred: int,
    n_gt: int,
) -> tuple[BoolArray, BoolArray]:
    """COCO's greedy matching, for all groups and thresholds at once.

    Within each group the predictions are visited by ``pred_rank`` (0 = highest score);
    each takes, among the still-free ground truths whose similarity is ``>= threshold``,
    a non-ignored one if any, the one of highest similarity, and among equal
    similarities the last in ``gt_order`` -- line for line the rule of
    ``COCOeval.evaluateImg`` [1]_.

    Parameters
    ----------
    pair_pred, pair_gt : array_like of int, shape (P,)
        Candidate pairs (row indices into predictions and ground truths). Pairs must
        join rows of the same group; pairs absent here never match.
    similarity : array_like of float, shape (P,)
        Similarity of each pair, larger is better (IoU, or minus a distance).
    thresholds : array_like of float, shape (T,)
        A pair can match at threshold ``t`` when ``similarity >= t``.
    pred_rank : array_like of int, shape (N,)
        Rank of each prediction in its group by descending score (ties: input order).
    gt_order : array_like of int, shape (M,)
        Position of each ground truth in its group (COCO: non-ignored first, then file
        order); decides ties of similarity.
    gt_ignore : array_like of bool, shape (M,)
        Ground truths that are ignored (outside the area range).
    n_pred, n_gt : int
        Number of predictions and ground truths.

    Returns
    -------
    matched : ndarray of bool, shape (T, N)
        Whether each prediction is matched at each threshold.
    matched_ignored : ndarray of bool, shape (T, N)
        Whether the match is an ignored ground truth (neither TP nor FP in COCO).

    References
    ----------
    .. [1] https://github.com/cocodataset/cocoapi, ``PythonAPI/pycocotools/cocoeval.py``.
    """
    thr = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    pp, pg = np.asarray(pair_pred, np.int64), np.asarray(pair_gt, np.int64)
    sim = np.asarray(similarity, np.float64)
    ig = np.asarray(gt_ignore, bool)
    matched = np.zeros((len(thr), n_pred), bool)
    matched_ig = np.zeros((len(thr), n_pred), bool)
    if len(pp) == 0:
        return matched, matched_ig
    rank = np.asarray(pred_rank, np.int64)[pp]
    # Priority within a prediction: non-ignored first, then similarity, then last gt.
    order = np.lexsort((-np.asarray(gt_order, np.int64)[pg], -sim, ig[pg], pp, rank))
    pp, pg, sim, rank = pp[order], pg[order], sim[order], rank[order]
    gt_taken = np.zeros((len(thr), n_gt), bool)
    bounds = np.flatnonzero(np.diff(rank)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(rank)], strict=True):
        _greedy_round(pp[lo:hi], pg[lo:hi], sim[lo:hi], thr, ig, gt_taken, matched, matched_ig)
    return matched, matched_ig


def _greedy_round(
    pp: IntArray,
    pg: IntArray,
    sim: FloatArray,
    thr: FloatArray,
    ig: BoolArray,
    gt_taken: BoolArray,
    matched: BoolArray,
    matched_ig: BoolArray,
) -> None:
    """One score rank: every group's prediction of that rank picks its ground truth.

    Predictions of one rank belong to different groups, so they never compete for the
    same ground truth and are matched simultaneously. Updates the arrays in place.
    """
    starts = np.r_[0, np.flatnonzero(np.diff(pp)) + 1]
    n = len(pp)
    ok = (sim[None, :] >= thr[:, None]) & ~gt_taken[:, pg]
    first = np.minimum.reduceat(np.where(ok, np.arange(n), n), starts, axis=1)
    t_idx, s_idx = np.nonzero(first < n)
    chosen = first[t_idx, s_idx]
    gt_taken[t_idx, pg[chosen]] = True
    matched[t_idx, pp[chosen]] = True
    matched_ig[t_idx, pp[chosen]] = ig[pg[chosen]]


def optimal_match(
    pair_pred: ArrayLike,
    pair_gt: ArrayLike,
    cost: ArrayLike,
    *,
    n_pred: int,
    n_gt: int,
) -> tuple[IntArray, IntArray]:
    """One-to-one matching with the most pairs, then the least total cost.

    The candidate pairs (already gated, each of cost in [0, 1]) form a bipartite graph;
    each connected component is solved on its own: a lone pair matches directly, a
    larger component by :func:`scipy.optimize.linear_sum_assignment` on a dense matrix
    whose missing pairs cost more than any set of real pairs (so the number of real
    pairs is maximised first).

    Parameters
    ----------
    pair_pred, pair_gt : array_like of int, shape (P,)
        Gated candidate pairs.
    cost : array_like of float, shape (P,)
        Cost of each pair in [0, 1] (``1 - IoU`` or ``distance / max_distance``).
    n_pred, n_gt : int
        Number of predictions and ground truths.

    Returns
    -------
    pred_index, gt_index : ndarray of int
        The matched pairs, sorted by prediction.

    References
    ----------
    .. [1] H. W. Kuhn, "The Hungarian method for the assignment problem", Naval
       Research Logistics Quarterly 2, 83-97 (1955).
    """
    pp, pg = np.asarray(pair_pred, np.int64), np.asarray(pair_gt, np.int64)
    c = np.asarray(cost, np.float64)
    if len(pp) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    graph = coo_matrix((np.ones(len(pp)), (pp, n_pred + pg)), shape=(n_pred + n_gt,) * 2)
    _, label = connected_components(graph, directed=False)
    comp = label[pp]
    size = np.bincount(comp, minlength=label.max() + 1)
    lone = size[comp] == 1  # a component of one edge: one prediction, one ground truth
    out_p, out_g = [pp[lone]], [pg[lone]]
    rest = np.flatnonzero(~lone)
    rest = rest[np.argsort(comp[rest], kind="stable")]
    bounds = np.flatnonzero(np.diff(comp[rest])) + 1
    for idx in np.split(rest, bounds) if len(rest) else []:
        rows, ri = np.unique(pp[idx], return_inverse=True)
        cols, ci = np.unique(pg[idx], return_inverse=True)
        big = float(min(len(rows), len(cols)) + 1)
        mat = np.full((len(rows), len(cols)), big)
        mat[ri, ci] = c[idx]
        r, k = linear_sum_assignment(mat)
        real = mat[r, k] < big
        out_p.append(rows[r[real]])
        out_g.append(cols[k[real]])
    p_all, g_all = np.concatenate(out_p), np.concatenate(out_g)
    order = np.argsort(p_all, kind="stable")
    return p_all[order], g_all[order]


def coco_ap(
    order: IntArray, tp: BoolArray, fp: BoolArray, npig: int
) -> FloatArray:
    """COCO ``accumulate`` for one class: AP (mean interpolated precision) per threshold.

    Parameters
    ----------
    order : ndarray of int
        The class's predictions in COCO's order (descending score, stable over frames
        in id order, each frame's predictions in score order).
    tp, fp : ndarray of bool, shape (T, N)
        Non-ignored matched and unmatched predictions at each threshold.
    npig : int
        Number of non-ignored ground truths of the class.

    Returns
    -------
    ndarray, shape (T,)
        The mean of the monotone precision read at :data:`RECALL_THRESHOLDS` (0 past the
        highest recall reached); NaN for every threshold when ``npig`` is 0.
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


@dataclass(frozen=True, eq=False)
class GroupedRows:
    """One table's rows as arrays, with group codes (frame and class) and COCO order.

    ``order`` is the position within the group in COCO's visiting order: predictions
    by descending score (ties keep row order), ground truths ignored-last (then row
    order). ``outside`` flags boxes whose area ``w*h`` is outside the area range.
    """

    frame: IntArray
    cls: IntArray  # index into the evaluated class list
    group: IntArray
    boxes: FloatArray
    score: FloatArray
    order: IntArray  # pred: rank by score; gt: ignored last, then row order
    outside: BoolArray  # area outside area_range

    def __len__(self) -> int:
        return len(self.frame)


def group_rows(
    t: pd.DataFrame, classes: IntArray, area_range: tuple[float, float], *, is_pred: bool
) -> GroupedRows:
    """Arrays of the rows of ``t`` whose class is in ``classes`` (sorted class ids)."""
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
    return GroupedRows(frame, cls, group, boxes, score, order, outside)


def scored_pairs(
    p: GroupedRows, g: GroupedRows, *, extra_radius: float
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Candidate pairs of one group with their IoU and centre distance (px).

    Every pair with a positive IoU, or a centre distance up to ``extra_radius`` px, is
    among them.
    """
    sizes = np.concatenate([p.boxes[:, 2:], g.boxes[:, 2:]]).ravel()
    radius = max(float(sizes.max()) if len(sizes) else 0.0, extra_radius)
    radius = radius * (1 + 1e-9) + 1e-9
    pp, pg = candidate_pairs(p.group, p.boxes, g.group, g.boxes, radius=radius)
    iou = _pair_iou(p.boxes[pp], g.boxes[pg])
    d = p.boxes[pp, :2] - g.boxes[pg, :2]
    return pp, pg, iou, np.hypot(d[:, 0], d[:, 1])
