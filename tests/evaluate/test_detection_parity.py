"""Parity of spermlab's AP with pycocotools' COCOeval, on synthetic and real boxes.

COCOeval prints progress to stdout; it is silenced with ``contextlib.redirect_stdout``.
AP@distance, which COCO does not compute, is checked against a literal transcription
of COCOeval's matching loop with the similarity swapped for the centre distance.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spermlab.evaluate import evaluate_detections, to_coco

from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

TOL = 1e-4  # the brief; the observed difference is ~1e-16
WIDTH, HEIGHT = 640, 480
RECALL = np.linspace(0.0, 1.0, 101)


def coco_eval(gt: pd.DataFrame, pred: pd.DataFrame, params: dict | None = None) -> COCOeval:
    """Run COCOeval ('bbox') on the COCO dictionaries of ``to_coco``, quietly."""
    dataset, results = to_coco(gt, pred)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
        for name, value in (params or {}).items():
            setattr(ev.params, name, value)
        ev.evaluate()
        ev.accumulate()
    return ev


def coco_ap_per_class(ev: COCOeval) -> np.ndarray:
    """AP (T, K) of the first area range and last maxDets; NaN for absent classes."""
    prec = ev.eval["precision"][:, :, :, 0, -1]
    ap = prec.mean(axis=1)
    ap[(prec == -1).all(axis=1)] = np.nan
    return ap


def scenario(rng: np.random.Generator, *, n_frames: int = 5, n: int = 40):
    """~n boxes of ~17x18 px per frame, 2 classes; jittered predictions with random
    scores, ~10 % misses, a few class swaps and ~5 false positives per frame."""
    gt_rows, pred_rows = [], []
    for f in range(n_frames):
        k = int(rng.poisson(n))
        x, y = rng.uniform(10, WIDTH - 10, k), rng.uniform(10, HEIGHT - 10, k)
        w, h = rng.normal(17, 1.5, k), rng.normal(18, 1.5, k)
        cls = (rng.random(k) < 0.3).astype(int)
        gt_rows += list(zip([f] * k, x, y, w, h, cls, strict=True))
        for i in np.flatnonzero(rng.random(k) > 0.1):
            c = cls[i] if rng.random() > 0.05 else 1 - cls[i]
            pred_rows.append((f, x[i] + rng.normal(0, 2), y[i] + rng.normal(0, 2),
                              w[i] * rng.normal(1, 0.08), h[i] * rng.normal(1, 0.08), c,
                              rng.random()))
        for _ in range(int(rng.poisson(5))):
            pred_rows.append((f, rng.uniform(10, WIDTH - 10), rng.uniform(10, HEIGHT - 10),
                              17.0, 18.0, int(rng.random() < 0.3), 0.6 * rng.random()))
    gt = pd.DataFrame(gt_rows, columns=["frame", "x", "y", "w", "h", "cls"])
    pred = pd.DataFrame(pred_rows, columns=["frame", "x", "y", "w", "h", "cls", "score"])
    return pred, gt


def assert_parity(pred, gt, *, max_dets=None, area_range=(0.0, 1e10)) -> float:
    """Check per-class and overall AP50 / AP50-95; return the largest difference."""
    ev = coco_eval(gt, pred, {"maxDets": [max_dets or 10_000],
                              "areaRng": [list(area_range)], "areaRngLbl": ["x"]})
    ref = coco_ap_per_class(ev)
    r = evaluate_detections(pred, gt, max_dets=max_dets, area_range=area_range)
    ours = np.array([[m.ap50, m.ap50_95] for m in r.per_class]).T
    want = np.vstack([ref[0], ref.mean(axis=0)])
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(want))
    diffs = [np.nanmax(np.abs(ours - want)),
             abs(r.ap50 - np.nanmean(ref[0])), abs(r.ap50_95 - np.nanmean(ref))]
    prec = ev.eval["precision"][:, :, :, 0, -1]
    diffs += [abs(r.ap50 - prec[0][prec[0] > -1].mean()), abs(r.ap50_95 - prec[prec > -1].mean())]
    assert max(diffs) < TOL
    return float(max(diffs))


@pytest.mark.parametrize(
    ("max_dets", "area_range"),
    [(None, (0.0, 1e10)), (100, (0.0, 1e10)), (20, (0.0, 1e10)), (None, (0.0, 300.0)),
     (30, (250.0, 400.0))],
)
def test_random_scenario_parity(rng, max_dets, area_range):
    pred, gt = scenario(rng)
    assert_parity(pred, gt, max_dets=max_dets, area_range=area_range)


def test_ties_and_duplicates_parity(rng):
    # Rounded scores (ties across and within frames), duplicated predictions and
    # duplicated ground truths (ties of IoU): COCO's stable orders must be followed.
    pred, gt = scenario(rng, n_frames=4, n=30)
    pred = pred.assign(score=pred["score"].round(1))
    pred = pd.concat([pred, pred.sample(frac=0.2, random_state=1)], ignore_index=True)
    pred = pred.sample(frac=1.0, random_state=2).reset_index(drop=True)
    gt = pd.concat([gt, gt.sample(frac=0.1, random_state=3)], ignore_index=True)
    assert_parity(pred, gt)
    assert_parity(pred, gt, max_dets=10, area_range=(0.0, 300.0))


def test_coco_default_summary(rng):
    # With COCO's own defaults (maxDets 1/10/100, four area ranges) and summarize():
    # stats[0] = AP50-95, stats[1] = AP50, stats[3] = AP small, all at maxDets=100.
    pred, gt = scenario(rng, n_frames=3, n=60)
    ev = coco_eval(gt, pred)
    with contextlib.redirect_stdout(io.StringIO()):
        ev.summarize()
    r = evaluate_detections(pred, gt, max_dets=100)
    small = evaluate_detections(pred, gt, max_dets=100, area_range=(0.0, 32.0**2))
    assert abs(r.ap50_95 - ev.stats[0]) < TOL
    assert abs(r.ap50 - ev.stats[1]) < TOL
    assert abs(small.ap50_95 - ev.stats[3]) < TOL


def test_dense_frames_differ_from_coco_default_cap(rng):
    # 150 sperm per frame: COCO's cap of 100 (per frame and class) lowers AP; spermlab's
    # default does not.
    pred, gt = scenario(rng, n_frames=2, n=150)
    pred, gt = pred.assign(cls=0), gt.assign(cls=0)
    capped = evaluate_detections(pred, gt, max_dets=100)
    assert evaluate_detections(pred, gt).ap50 > capped.ap50 + 0.05
    assert_parity(pred, gt, max_dets=100)
    assert_parity(pred, gt)


def read_visem_labels(folder: Path, frames: range) -> pd.DataFrame:
    """VISEM-Tracking YOLO labels (``cls xc yc w h``, normalised to 640x480) as a table."""
    rows = []
    for n in frames:
        text = (folder / f"11_frame_{n}.txt").read_text()
        for line in text.splitlines():
            if line.strip():
                c, xc, yc, w, h = line.split()
                rows.append((n, float(xc) * WIDTH, float(yc) * HEIGHT, float(w) * WIDTH,
                             float(h) * HEIGHT, int(c)))
    return pd.DataFrame(rows, columns=["frame", "x", "y", "w", "h", "cls"])


@pytest.mark.needs_data
def test_real_visem_ground_truth_parity(data_dir, rng):
    gt = read_visem_labels(data_dir / "visem_tracking" / "11" / "labels", range(50))
    assert len(gt) > 50 * 10 and gt["w"].between(5, 100).all()
    keep = rng.random(len(gt)) > 0.1
    pred = gt[keep].reset_index(drop=True)
    k = len(pred)
    pred = pred.assign(
        x=pred["x"] + rng.normal(0, 2.0, k), y=pred["y"] + rng.normal(0, 2.0, k),
        w=pred["w"] * rng.normal(1, 0.1, k), h=pred["h"] * rng.normal(1, 0.1, k),
        score=rng.random(k),
    )
    fp = gt.sample(n=200, random_state=4).assign(
        x=lambda t: rng.uniform(10, WIDTH - 10, len(t)),
        y=lambda t: rng.uniform(10, HEIGHT - 10, len(t)), score=0.5 * rng.random(200))
    pred = pd.concat([pred, fp], ignore_index=True)
    assert_parity(pred, gt)
    assert_parity(pred, gt, max_dets=100)


def reference_distance_ap(pred: pd.DataFrame, gt: pd.DataFrame, d: float) -> float:
    """COCOeval.evaluateImg + accumulate, transcribed, with similarity = -distance."""
    scores, matched, npig = [], [], len(gt)
    for f in sorted(set(gt["frame"]) | set(pred["frame"])):
        g = gt[gt["frame"] == f].to_numpy()
        p = pred[pred["frame"] == f]
        p = p.iloc[np.argsort(-p["score"].to_numpy(), kind="mergesort")].to_numpy()
        taken = np.zeros(len(g), bool)
        for det in p:
            best, m = -d, -1
            for gi, obj in enumerate(g):
                if taken[gi]:
                    continue
                sim = -np.hypot(det[1] - obj[1], det[2] - obj[2])
                if sim < best:
                    continue
                best, m = sim, gi
            if m > -1:
                taken[m] = True
            scores.append(det[6])
            matched.append(m > -1)
    order = np.argsort(-np.array(scores), kind="mergesort")
    tp = np.cumsum(np.array(matched)[order])
    fp = np.cumsum(~np.array(matched)[order])
    rc, pr = tp / npig, tp / (tp + fp + np.spacing(1))
    pr = np.maximum.accumulate(pr[::-1])[::-1]
    idx = np.searchsorted(rc, RECALL, side="left")
    return float(np.where(idx < len(pr), pr[np.minimum(idx, len(pr) - 1)], 0.0).mean())


@pytest.mark.parametrize("d", [3.0, 8.0])
def test_ap_at_distance_matches_reference(rng, d):
    pred, gt = scenario(rng, n_frames=3, n=40)
    pred, gt = pred.assign(cls=0), gt.assign(cls=0)
    r = evaluate_detections(pred, gt, match="distance", max_distance=d)
    assert abs(r.overall.ap - reference_distance_ap(pred, gt, d)) < 1e-12
