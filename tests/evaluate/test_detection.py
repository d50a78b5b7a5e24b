"""Hand-solved tests of spermlab.evaluate.detection and matching."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from spermlab.evaluate import (
    DetectionResult,
    box_iou,
    centre_distance,
    evaluate_detections,
    to_coco,
)
from spermlab.evaluate.matching import candidate_pairs, optimal_match

N_RECALL = 101


def boxes(rows, *, score=None) -> pd.DataFrame:
    """A Detections table from (frame, x, y, w, h, cls) rows; scores when given."""
    t = pd.DataFrame(rows, columns=["frame", "x", "y", "w", "h", "cls"])
    t = t.astype({"frame": "int64", "cls": "int64", "x": float, "y": float, "w": float,
                  "h": float})
    if score is not None:
        t["score"] = np.asarray(score, dtype=float)
    return t


def grid(n: int, *, frame: int = 0, cls: int = 0, size: float = 10.0) -> list[tuple]:
    """``n`` disjoint boxes in a row, 30 px apart."""
    return [(frame, 20.0 + 30.0 * i, 20.0, size, size, cls) for i in range(n)]


# --- box_iou and centre_distance ---------------------------------------------------


def test_box_iou_shifted_box_by_arithmetic():
    # 10x10 box shifted 2 px: intersection 8*10 = 80, union 100 + 100 - 80 = 120.
    assert box_iou([[5, 5, 10, 10]], [[7, 5, 10, 10]])[0, 0] == pytest.approx(80 / 120)
    # shifted 3 px right and 4 down: 7*6 = 42, union 158.
    assert box_iou([[5, 5, 10, 10]], [[8, 9, 10, 10]])[0, 0] == pytest.approx(42 / 158)


def test_box_iou_special_cases():
    a = [[0, 0, 10, 10]]
    assert box_iou(a, a)[0, 0] == 1.0
    assert box_iou(a, [[10, 0, 10, 10]])[0, 0] == 0.0  # touching edges
    assert box_iou(a, [[50, 50, 10, 10]])[0, 0] == 0.0  # disjoint
    assert box_iou(a, [[0, 0, 4, 4]])[0, 0] == pytest.approx(16 / 100)  # contained
    assert box_iou([[0, 0, 0, 0]], [[0, 0, 0, 0]])[0, 0] == 0.0  # empty union


def test_box_iou_shapes_and_errors():
    a = np.zeros((3, 4)) + [0, 0, 10, 10]
    b = np.zeros((5, 4)) + [1, 0, 10, 10]
    assert box_iou(a, b).shape == (3, 5)
    assert box_iou(a[None], b[None]).shape == (1, 3, 5)
    assert box_iou(np.empty((0, 4)), b).shape == (0, 5)
    with pytest.raises(ValueError, match="shape"):
        box_iou(np.zeros((3, 3)), b)


def test_centre_distance():
    d = centre_distance([[0, 0, 10, 10], [1, 1, 2, 2]], [[3, 4, 99, 99]])
    np.testing.assert_allclose(d, [[5.0], [math.hypot(2, 3)]])
    assert centre_distance([[0, 0]], [[6, 8]])[0, 0] == 10.0
    with pytest.raises(ValueError, match="shape"):
        centre_distance([[0, 0, 1]], [[0, 0]])


# --- hand-solved evaluations ----------------------------------------------------------


def test_perfect_prediction():
    gt = boxes(grid(5) + grid(3, frame=2))
    pred = gt.assign(score=np.linspace(0.9, 0.5, 8))
    for kw in ({}, {"match": "distance"}):
        r = evaluate_detections(pred, gt, **kw)
        assert (r.tp, r.fp, r.fn) == (8, 0, 0)
        assert r.precision == r.recall == r.f1 == r.ap50 == r.ap50_95 == 1.0
        assert r.overall.ap == 1.0
        assert r.overall.best_f1 == 1.0
        assert r.overall.best_f1_threshold == 0.5


def test_empty_predictions():
    gt = boxes(grid(4))
    pred = boxes([], score=[])
    r = evaluate_detections(pred, gt)
    assert math.isnan(r.precision)  # 0/0: no prediction
    assert r.recall == 0.0 and r.f1 == 0.0
    assert (r.tp, r.fp, r.fn) == (0, 0, 4)
    assert r.ap50 == 0.0 and r.ap50_95 == 0.0  # ground truth present, nothing found
    assert math.isnan(r.overall.best_f1_threshold)
    assert len(r.overall_curve.score) == 0


def test_empty_both_tables():
    r = evaluate_detections(boxes([], score=[]), boxes([]))
    assert r.per_class == ()
    assert (r.tp, r.fp, r.fn) == (0, 0, 0)
    assert all(math.isnan(v) for v in (r.precision, r.recall, r.f1, r.ap50, r.ap50_95))
    assert list(r.per_frame.columns) == ["frame", "n_gt", "n_pred", "tp", "fp", "fn"]
    assert len(r.per_frame) == 0


def test_no_ground_truth_all_false_positives():
    r = evaluate_detections(boxes(grid(3), score=[0.9, 0.8, 0.7]), boxes([]))
    assert (r.tp, r.fp, r.fn) == (0, 3, 0)
    assert r.precision == 0.0 and math.isnan(r.recall)
    assert r.f1 == 0.0
    assert math.isnan(r.ap50)  # no ground truth: no AP, as COCO (-1)


@pytest.mark.parametrize(
    ("threshold", "matched"), [(0.5, True), (0.6, True), (0.66, True), (0.67, False)]
)
def test_shift_gives_known_iou(threshold, matched):
    # IoU of a 10x10 box and its 2 px shift is 80/120 = 0.6667.
    gt = boxes([(0, 50, 50, 10, 10, 0)])
    pred = boxes([(0, 52, 50, 10, 10, 0)], score=[0.9])
    r = evaluate_detections(pred, gt, iou_threshold=threshold)
    assert r.tp == int(matched) and r.fp == r.fn == 1 - int(matched)
    # COCO divides by tp + fp + eps: one TP gives precision 1 - 1e-16.
    assert r.overall.ap == pytest.approx(float(matched), abs=1e-12)


def test_shift_ap50_95_counts_thresholds():
    # IoU 2/3 passes 0.50, 0.55, 0.60, 0.65 and fails 0.70..0.95: AP50-95 = 4/10.
    gt = boxes([(0, 50, 50, 10, 10, 0)])
    pred = boxes([(0, 52, 50, 10, 10, 0)], score=[0.9])
    r = evaluate_detections(pred, gt)
    assert r.ap50 == pytest.approx(1.0, abs=1e-12)
    assert r.ap50_95 == pytest.approx(0.4)


def test_optimal_beats_greedy_distance():
    # gt at x=0 and x=10. The high-score prediction at x=4 is nearest to gt0 (4 px;
    # 6 px from gt1); the low-score one at x=-3 can only reach gt0 (3 px; 13 px).
    # Greedy (COCO): p0 takes gt0, p1 is left unmatched -> 1 TP. Optimal: p0-gt1,
    # p1-gt0 -> 2 TP.
    gt = boxes([(0, 100, 50, 17, 18, 0), (0, 110, 50, 17, 18, 0)])
    pred = boxes([(0, 104, 50, 17, 18, 0), (0, 97, 50, 17, 18, 0)], score=[0.9, 0.8])
    r = evaluate_detections(pred, gt, match="distance", max_distance=8.0)
    assert (r.tp, r.fp, r.fn) == (2, 0, 0)
    # The greedy PR curve (and AP@8px) sees one TP then one FP.
    np.testing.assert_allclose(r.overall_curve.recall, [0.5, 0.5])
    np.testing.assert_allclose(r.overall_curve.precision, [1.0, 0.5])
    assert r.overall.ap == pytest.approx(51 / N_RECALL)


def test_optimal_beats_greedy_iou():
    # gt0 spans x 0..10, gt1 8..18. p0 (x 3.5..13.5) has IoU 65/135 with gt0 and
    # 55/145 with gt1; p1 (x -3..7) has IoU 70/130 with gt0 only. Threshold 0.3:
    # greedy p0-gt0 leaves p1 unmatched; optimal p0-gt1, p1-gt0.
    gt = boxes([(0, 5, 5, 10, 10, 0), (0, 13, 5, 10, 10, 0)])
    pred = boxes([(0, 8.5, 5, 10, 10, 0), (0, 2, 5, 10, 10, 0)], score=[0.9, 0.8])
    ious = box_iou(pred[["x", "y", "w", "h"]], gt[["x", "y", "w", "h"]])
    np.testing.assert_allclose(ious, [[65 / 135, 55 / 145], [70 / 130, 0]])
    r = evaluate_detections(pred, gt, iou_threshold=0.3)
    assert (r.tp, r.fp, r.fn) == (2, 0, 0)
    assert r.overall_curve.precision[-1] == 0.5


def test_score_threshold_removes_known_true_positives():
    gt = boxes(grid(10))
    pred = gt.assign(score=np.arange(1, 11) / 10)  # 0.1 .. 1.0
    r = evaluate_detections(pred, gt, score_threshold=0.55)
    assert (r.tp, r.fp, r.fn) == (5, 0, 5)
    assert r.precision == 1.0 and r.recall == 0.5
    assert r.f1 == pytest.approx(2 / 3)
    assert r.ap50 == 1.0  # AP ignores the threshold
    assert r.per_frame["n_pred"].tolist() == [5]


def test_classes_are_matched_separately():
    gt = boxes(grid(2, cls=0) + [(0, 200, 200, 10, 10, 1)])
    pred = boxes(grid(2, cls=0) + [(0, 200, 200, 10, 10, 0)], score=[0.9, 0.8, 0.7])
    r = evaluate_detections(pred, gt)
    c0, c1 = r.for_class(0), r.for_class(1)
    assert (c0.tp, c0.fp, c0.fn) == (2, 1, 0)  # right box, wrong class: FP of class 0
    assert (c1.tp, c1.fp, c1.fn) == (0, 0, 1)  # ... and a miss of class 1
    assert (r.tp, r.fp, r.fn) == (2, 1, 0)  # "all": the class the prediction holds (0)
    assert c0.ap50 == 1.0 and c1.ap50 == 0.0
    assert r.ap50 == 1.0  # class 1 is never predicted: scored in its own row, not in "all"
    assert c1.name == "cluster"
    with pytest.raises(KeyError):
        r.for_class(2)


def test_class_missing_from_predictions_and_from_ground_truth():
    # class 0: perfect; class 1: ground truth only (AP 0); class 2: predictions only
    # (AP undefined, left out of the mean as COCO does). "all" covers the classes the
    # prediction holds (0 and 2): class 1, never predicted, is scored in its own row only.
    gt = boxes(grid(3, cls=0) + grid(2, frame=1, cls=1))
    pred = boxes(grid(3, cls=0) + grid(2, frame=5, cls=2), score=[0.9] * 5)
    r = evaluate_detections(pred, gt)
    assert [m.cls for m in r.per_class] == [0, 1, 2]
    assert r.for_class(1).ap50 == 0.0 and r.for_class(1).recall == 0.0
    assert math.isnan(r.for_class(1).precision)
    assert math.isnan(r.for_class(2).ap50) and r.for_class(2).precision == 0.0
    assert r.ap50 == 1.0 and r.ap50_95 == 1.0
    assert (r.overall.n_gt, r.overall.recall) == (3, 1.0)


def test_classes_argument_restricts():
    gt = boxes(grid(3, cls=0) + grid(2, frame=1, cls=1))
    pred = gt.assign(score=0.5)
    r = evaluate_detections(pred, gt, classes=[1])
    assert [m.cls for m in r.per_class] == [1]
    assert (r.tp, r.fp, r.fn) == (2, 0, 0)
    assert r.per_frame["frame"].tolist() == [1]


def test_frames_without_ground_truth_and_per_frame_table():
    gt = boxes(grid(3, frame=0) + grid(2, frame=2))
    pred = boxes(grid(3, frame=0) + grid(1, frame=1) + grid(1, frame=2), score=[0.5] * 5)
    r = evaluate_detections(pred, gt)
    pf = r.per_frame
    assert isinstance(pf.index, pd.RangeIndex)
    assert pf.to_dict("list") == {
        "frame": [0, 1, 2], "n_gt": [3, 0, 2], "n_pred": [3, 1, 1],
        "tp": [3, 0, 1], "fp": [0, 1, 0], "fn": [0, 0, 1],
    }
    assert all(str(t) == "int64" for t in pf.dtypes)
    assert pf[["tp", "fp", "fn"]].sum().tolist() == [r.tp, r.fp, r.fn]


def test_max_dets_truncates_like_coco():
    gt = boxes(grid(5))
    pred = gt.assign(score=[0.9, 0.8, 0.7, 0.6, 0.5])
    assert evaluate_detections(pred, gt).ap50 == 1.0
    r = evaluate_detections(pred, gt, max_dets=3)
    assert r.ap50 == pytest.approx(61 / N_RECALL)  # recall stops at 0.6
    assert r.tp == 5  # P/R/F1 are not truncated


def test_area_range_ignores_like_coco():
    # A big gt outside the range is ignored: its match is neither TP nor FP.
    gt = boxes([(0, 20, 20, 10, 10, 0), (0, 100, 100, 40, 40, 0)])
    pred = gt.assign(score=[0.5, 0.9])
    r = evaluate_detections(pred, gt, area_range=(0.0, 32.0**2))
    assert r.ap50 == pytest.approx(1.0, abs=1e-12)
    assert (r.tp, r.fp, r.fn) == (2, 0, 0)  # the range only affects AP
    assert r.overall_curve.n_gt == 1 and len(r.overall_curve.score) == 1


def test_distance_in_micrometres():
    gt = boxes([(0, 50, 50, 17, 18, 0)])
    pred = boxes([(0, 53, 54, 17, 18, 0)], score=[0.9])  # 5 px = 2.5 um at 0.5 um/px
    hit = evaluate_detections(pred, gt, match="distance", max_distance=3.0, um_per_px=0.5)
    miss = evaluate_detections(pred, gt, match="distance", max_distance=2.0, um_per_px=0.5)
    at_px = evaluate_detections(pred, gt, match="distance", max_distance=5.0)
    assert (hit.tp, miss.tp, at_px.tp) == (1, 0, 1)


def test_best_f1_threshold():
    # Scores 0.9 (TP), 0.8 (TP), 0.7 (FP), 0.6 (TP), 0.5 (FP); 4 ground truths.
    # F1 at each cut: 2/5, 4/6, 4/7, 6/8, 6/9 -> best 0.75 at threshold 0.6.
    gt = boxes(grid(4))
    pred = boxes(
        [gt.iloc[0].tolist(), gt.iloc[1].tolist(), (0, 500, 300, 10, 10, 0),
         gt.iloc[2].tolist(), (0, 400, 300, 10, 10, 0)],
        score=[0.9, 0.8, 0.7, 0.6, 0.5],
    )
    r = evaluate_detections(pred, gt)
    np.testing.assert_allclose(r.overall_curve.f1, [2 / 5, 4 / 6, 4 / 7, 6 / 8, 6 / 9])
    assert r.overall.best_f1 == pytest.approx(0.75)
    assert r.overall.best_f1_threshold == 0.6
    assert r.for_class(0).best_f1_threshold == 0.6


def test_best_f1_only_at_reachable_cuts():
    # Tied scores: a threshold keeps both or neither.
    gt = boxes(grid(1))
    pred = boxes([gt.iloc[0].tolist(), (0, 500, 300, 10, 10, 0)], score=[0.7, 0.7])
    r = evaluate_detections(pred, gt)
    assert r.overall.best_f1 == pytest.approx(2 / 3)


def test_result_export_and_immutability():
    gt = boxes(grid(3) + grid(2, cls=1))
    pred = gt.assign(score=0.8)
    r = evaluate_detections(pred, gt, match="distance")
    assert isinstance(r, DetectionResult)
    d = r.to_dict()
    json.dumps(d)
    assert d["overall"]["tp"] == 5 and set(d["per_class"]) == {"0", "1"}
    assert d["params"]["match"] == "distance"
    table = r.to_pandas()
    assert table["name"].tolist() == ["sperm", "cluster", "all"]
    assert table["cls"].isna().tolist() == [False, False, True]
    assert isinstance(table.index, pd.RangeIndex)
    curve = r.curves[0].to_pandas()
    assert list(curve.columns) == ["score", "precision", "recall", "f1"]
    with pytest.raises(AttributeError):
        r.overall = r.overall  # type: ignore[misc]
    with pytest.raises(ValueError):
        r.curves[0].score[0] = 0.0


def test_inputs_not_mutated_and_extra_columns_accepted():
    gt = boxes(grid(3)).assign(track_id=[1, 2, 3])
    pred = boxes(grid(3), score=[0.5, 0.6, 0.7]).assign(track_id=[7, 8, 9])
    gt_copy, pred_copy = gt.copy(), pred.copy()
    evaluate_detections(pred, gt)
    pd.testing.assert_frame_equal(gt, gt_copy)
    pd.testing.assert_frame_equal(pred, pred_copy)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"match": "centre"}, "match"),
        ({"iou_threshold": 0.0}, "iou_threshold"),
        ({"iou_threshold": 1.5}, "iou_threshold"),
        ({"max_distance": -1.0}, "max_distance"),
        ({"score_threshold": math.nan}, "score_threshold"),
        ({"um_per_px": 0.0}, "um_per_px"),
        ({"max_dets": 0}, "max_dets"),
        ({"area_range": (10.0, 1.0)}, "area_range"),
    ],
)
def test_bad_parameters(kwargs, message):
    gt = boxes(grid(1))
    with pytest.raises(ValueError, match=message):
        evaluate_detections(gt.assign(score=1.0), gt, **kwargs)


def test_bad_tables():
    gt = boxes(grid(1))
    with pytest.raises(ValueError, match="pred.*score"):
        evaluate_detections(gt, gt)  # predictions need scores
    with pytest.raises(TypeError, match="DataFrame"):
        evaluate_detections([1, 2], gt)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gt.*finite"):
        evaluate_detections(gt.assign(score=1.0), gt.assign(x=np.nan))


def test_to_coco_layout():
    gt = boxes([(3, 10, 20, 4, 6, 0), (4, 30, 30, 8, 8, 1)])
    pred = boxes([(5, 10, 20, 4, 6, 0)], score=[0.25])
    ds, res = to_coco(gt, pred)
    assert [im["id"] for im in ds["images"]] == [3, 4, 5]
    assert ds["annotations"][0] == {"id": 1, "image_id": 3, "category_id": 0,
                                    "bbox": [8.0, 17.0, 4.0, 6.0], "area": 24.0,
                                    "iscrowd": 0}
    assert [c["id"] for c in ds["categories"]] == [0, 1]
    assert res == [{"image_id": 5, "category_id": 0, "bbox": [8.0, 17.0, 4.0, 6.0],
                    "score": 0.25}]


# --- matching internals against independent references -----------------------------


def random_scene(rng, n_frames=20, n=30, sigma=4.0):
    rows, prows = [], []
    for f in range(n_frames):
        k = int(rng.integers(0, n))
        xy = rng.uniform(0, 200, (k, 2))
        cls = (rng.random(k) < 0.3).astype(int)
        rows += [(f, x, y, 17.0, 18.0, c) for (x, y), c in zip(xy, cls, strict=True)]
        found = rng.random(k) < 0.85
        moved = xy[found] + rng.normal(0, sigma, (int(found.sum()), 2))
        prows += [(f, x, y, 17.0, 18.0, c) for (x, y), c in zip(moved, cls[found], strict=True)]
        prows += [(f, *rng.uniform(0, 200, 2), 17.0, 18.0, 0) for _ in range(3)]
    gt = boxes(rows)
    pred = boxes(prows, score=rng.random(len(prows)))
    return pred, gt


@pytest.mark.parametrize("match", ["iou", "distance"])
def test_optimal_count_is_maximum_matching(rng, match):
    # The TP count equals the maximum bipartite matching of the gated same-class pairs,
    # and it is never below the greedy count (the PR curve's last point).
    pred, gt = random_scene(rng)
    r = evaluate_detections(pred, gt, match=match, iou_threshold=0.3, max_distance=8.0)
    pb, gb = pred[["x", "y", "w", "h"]].to_numpy(), gt[["x", "y", "w", "h"]].to_numpy()
    same = (pred["frame"].to_numpy()[:, None] == gt["frame"].to_numpy()[None]) & (
        pred["cls"].to_numpy()[:, None] == gt["cls"].to_numpy()[None])
    gate = box_iou(pb, gb) >= 0.3 if match == "iou" else centre_distance(pb, gb) <= 8.0
    adj = coo_matrix(same & gate).tocsr()
    n_max = int((maximum_bipartite_matching(adj, perm_type="column") >= 0).sum())
    assert r.tp == n_max
    greedy_tp = sum(round(c.recall[-1] * c.n_gt) for c in r.curves.values() if len(c.recall))
    assert r.tp >= greedy_tp


def test_candidate_pairs_complete(rng):
    pred, gt = random_scene(rng, n_frames=5)
    pb, gb = pred[["x", "y", "w", "h"]].to_numpy(), gt[["x", "y", "w", "h"]].to_numpy()
    groups_p = pred["frame"].to_numpy() * 10 + pred["cls"].to_numpy()
    groups_g = gt["frame"].to_numpy() * 10 + gt["cls"].to_numpy()
    i, j = candidate_pairs(groups_p, pb, groups_g, gb, radius=18.0)
    want = (groups_p[:, None] == groups_g[None]) & (box_iou(pb, gb) > 0)
    got = np.zeros_like(want)
    got[i, j] = True
    assert not (want & ~got).any()  # every overlapping pair found
    assert (groups_p[i] == groups_g[j]).all()


def test_optimal_match_prefers_lower_cost():
    # Two predictions, two ground truths, all pairs gated: the cheaper assignment wins.
    pp, pg = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    cost = np.array([0.1, 0.5, 0.4, 0.9])  # 0-0 + 1-1 = 1.0 ; 0-1 + 1-0 = 0.9
    p, g = optimal_match(pp, pg, cost, n_pred=2, n_gt=2)
    assert p.tolist() == [0, 1] and g.tolist() == [1, 0]


def test_speed_1000_frames_40_boxes(rng):
    n = 40_000
    frame = np.repeat(np.arange(1000), 40)
    xy = rng.uniform(0, [640, 480], (n, 2))
    gt = pd.DataFrame({"frame": frame, "x": xy[:, 0], "y": xy[:, 1], "w": 17.0, "h": 18.0,
                       "cls": 0})
    pred = gt.assign(x=gt["x"] + rng.normal(0, 2, n), y=gt["y"] + rng.normal(0, 2, n),
                     score=rng.random(n))
    t0 = time.perf_counter()
    r = evaluate_detections(pred, gt)
    r2 = evaluate_detections(pred, gt, match="distance")
    elapsed = time.perf_counter() - t0
    assert r.tp > 30_000 and r2.tp > 30_000
    assert elapsed < 2 * 2.0  # two evaluations, < 2 s each
