"""Hand-solved tracking scenarios (in the manner of TrackEval's tests/test_metrics.py).

Objects are points 4 px wide evaluated with the distance similarity (zero_distance 10
px), placed either exactly on the ground truth (similarity 1) or far from it
(similarity 0), so that the expected values can be worked out by hand and are written
as arithmetic. Letters A, B are ground-truth tracks; 1, 2, ... predicted ids.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from math import sqrt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spermlab.evaluate.tracking import (
    PER_FRAME_COLUMNS,
    TrackingResult,
    combine_sequences,
    evaluate_tracking,
    sequence_data,
)

A, B = 100, 200  # ground-truth ids; positions: A at (0, 0), B at (100, 0)
POS = {A: (0.0, 0.0), B: (100.0, 0.0)}


def tracks(rows: Iterable[tuple[int, int, float, float]], size: float = 4.0) -> pd.DataFrame:
    """Tracks table from (frame, track_id, x, y) rows."""
    df = pd.DataFrame(list(rows), columns=["frame", "track_id", "x", "y"])
    return df.assign(w=size, h=size, cls=0, score=1.0).astype(
        {"frame": "int64", "track_id": "int64", "x": "float64", "y": "float64"}
    )


def on(gt_id: int, pred_id: int, frames: Iterable[int]) -> list[tuple[int, int, float, float]]:
    """Rows for ``pred_id`` sitting exactly on ground-truth track ``gt_id``."""
    return [(f, pred_id, *POS[gt_id]) for f in frames]


def evaluate(pred: pd.DataFrame, gt: pd.DataFrame, **kw: object) -> TrackingResult:
    return evaluate_tracking(pred, gt, similarity="distance", zero_distance=10.0, **kw)


# ------------------------------------------------------------------ hand-solved cases
GT_AB6 = tracks(on(A, A, range(6)) + on(B, B, range(6)))
GT_A6 = tracks(on(A, A, range(6)))
GT_A5 = tracks(on(A, A, range(5)))
GT_A4 = tracks(on(A, A, range(4)))

SCENARIOS: dict[str, tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]] = {
    # Perfect tracking under other id numbers: every score is 1.
    "perfect": (
        tracks(on(A, 7, range(6)) + on(B, 9, range(6))),
        GT_AB6,
        {"HOTA": 1, "DetA": 1, "AssA": 1, "LocA": 1, "DetRe": 1, "DetPr": 1, "AssRe": 1,
         "AssPr": 1, "MOTA": 1, "MOTP": 1, "IDF1": 1, "IDP": 1, "IDR": 1, "IDSW": 0,
         "MT": 2, "PT": 0, "ML": 0, "Frag": 0, "CLR_TP": 12, "CLR_FN": 0, "CLR_FP": 0},
    ),
    # 1 follows A then B, 2 follows B then A (switch at frame 3): 2 switches.
    # Each of the four (gt, pred) pairs matches 3 times: Jaccard 3 / (6 + 6 - 3) = 1/3.
    "id_switch": (
        tracks(on(A, 1, range(3)) + on(B, 1, range(3, 6)) + on(B, 2, range(3))
               + on(A, 2, range(3, 6))),
        GT_AB6,
        {"HOTA": sqrt(1 * 1 / 3), "DetA": 1, "AssA": 4 * 3 * (3 / 9) / 12,
         "AssRe": 4 * 3 * (3 / 6) / 12, "AssPr": 4 * 3 * (3 / 6) / 12, "LocA": 1,
         "MOTA": (12 - 0 - 2) / 12, "MOTP": 1, "IDSW": 2, "Frag": 0, "MT": 2,
         "IDTP": 6, "IDFN": 6, "IDFP": 6, "IDF1": 6 / (6 + 0.5 * 6 + 0.5 * 6),
         "IDP": 6 / 12, "IDR": 6 / 12},
    ),
    # A tracked by 1 in frames 0-2 and by 2 in frames 3-5: one switch, no fragment.
    "split_track": (
        tracks(on(A, 1, range(3)) + on(A, 2, range(3, 6))),
        GT_A6,
        {"HOTA": sqrt(1 * 1 / 2), "DetA": 1, "AssA": 2 * 3 * (3 / (6 + 3 - 3)) / 6,
         "AssRe": 2 * 3 * (3 / 6) / 6, "AssPr": 2 * 3 * (3 / 3) / 6,
         "MOTA": (6 - 0 - 1) / 6, "IDSW": 1, "Frag": 0, "MT": 1,
         "IDTP": 3, "IDFN": 3, "IDFP": 3, "IDF1": 3 / (3 + 0.5 * 3 + 0.5 * 3),
         "IDP": 3 / 6, "IDR": 3 / 6},
    ),
    # Frame 2 missed: one FN, no switch (same id resumes). Tracked ratio 4/5 = 0.8 is
    # not > 0.8, so A is partially tracked. TrackEval quirk: a frame with no prediction
    # at all is skipped without ending the "tracked" state, so no fragmentation.
    "missed_frame": (
        tracks(on(A, 1, [0, 1, 3, 4])),
        GT_A5,
        {"HOTA": sqrt(4 / 5 * 4 / 5), "DetA": 4 / 5, "DetRe": 4 / 5, "DetPr": 1,
         "AssA": 4 * (4 / (5 + 4 - 4)) / 4, "AssRe": 4 / 5, "AssPr": 1,
         "MOTA": (4 - 0 - 0) / 5, "CLR_TP": 4, "CLR_FN": 1, "CLR_FP": 0, "IDSW": 0,
         "Frag": 0, "MT": 0, "PT": 1, "ML": 0,
         "IDTP": 4, "IDFN": 1, "IDFP": 0, "IDF1": 4 / (4 + 0.5 * 0 + 0.5 * 1),
         "IDP": 1, "IDR": 4 / 5},
    ),
    # The same miss while B is tracked in every frame: now A's track is interrupted,
    # one fragmentation. AssA = ((A,1): 4 x 4/(5+4-4) + (B,2): 5 x 1) / 9 TP.
    "missed_frame_among_others": (
        tracks(on(A, 1, [0, 1, 3, 4]) + on(B, 2, range(5))),
        tracks(on(A, A, range(5)) + on(B, B, range(5))),
        {"HOTA": sqrt(9 / 10 * (4 * 4 / 5 + 5 * 1) / 9), "DetA": 9 / 10,
         "AssA": (4 * 4 / 5 + 5 * 1) / 9, "MOTA": (9 - 0 - 0) / 10, "CLR_FN": 1,
         "IDSW": 0, "Frag": 1, "MT": 1, "PT": 1, "ML": 0,
         "IDF1": 9 / (9 + 0.5 * 0 + 0.5 * 1)},
    ),
    # A perfectly tracked by 1, plus a false-positive track 2 far away in all 4 frames.
    "false_positive_track": (
        tracks(on(A, 1, range(4)) + [(f, 2, 300.0, 300.0) for f in range(4)]),
        GT_A4,
        {"HOTA": sqrt(4 / (4 + 0 + 4) * 1), "DetA": 4 / 8, "DetRe": 1, "DetPr": 4 / 8,
         "AssA": 1, "MOTA": (4 - 4 - 0) / 4, "MODA": 0, "CLR_Pr": 4 / 8, "CLR_Re": 1,
         "CLR_FP": 4, "FP_per_frame": 4 / 4, "MT": 1,
         "IDTP": 4, "IDFN": 0, "IDFP": 4, "IDF1": 4 / (4 + 0.5 * 4 + 0.5 * 0),
         "IDP": 4 / 8, "IDR": 1},
    ),
    # No prediction at all: TrackEval returns early (scores 0, LocA 1, all GT lost).
    "empty_prediction": (
        tracks([]),
        GT_AB6,
        {"HOTA": 0, "DetA": 0, "AssA": 0, "LocA": 1, "MOTA": 0, "IDF1": 0,
         "CLR_TP": 0, "CLR_FN": 12, "CLR_FP": 0, "ML": 2, "MLR": 1, "IDFN": 12, "IDTP": 0},
    ),
    # Every prediction 2.2 px off (similarity 1 - 2.2/10 = 0.78): matched for the 15
    # alphas 0.05..0.75, unmatched for the 4 alphas 0.80..0.95, where TrackEval's LocA
    # is 1e-10 / 1e-10 = 1.
    "localisation": (
        tracks([(f, 1, 2.2, 0.0) for f in range(4)]),
        GT_A4,
        {"HOTA": 15 / 19, "DetA": 15 / 19, "AssA": 15 / 19, "HOTA(0)": 1,
         "LocA": (15 * 0.78 + 4 * 1) / 19, "LocA(0)": 0.78, "MOTA": 1, "MOTP": 0.78,
         "IDF1": 1},
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_hand_solved(name: str) -> None:
    pred, gt, expected = SCENARIOS[name]
    got = evaluate(pred, gt).to_dict()
    for field, value in expected.items():
        assert got[field] == pytest.approx(value, abs=1e-12), field


def test_iou_half_overlap_is_negative_mota() -> None:
    # 10x10 boxes shifted by 5 px: IoU = 50 / 150 = 1/3 < 0.5, so CLEAR and Identity
    # match nothing, while HOTA matches for the 6 alphas 0.05..0.30.
    gt = tracks(on(A, A, range(3)), size=10.0)
    pred = tracks([(f, 1, 5.0, 0.0) for f in range(3)], size=10.0)
    res = evaluate_tracking(pred, gt, similarity="iou")
    assert res.mota == pytest.approx((0 - 3 - 0) / 3)
    assert res.motp == 0 and res.clr_tp == 0 and res.idf1 == 0 and res.ml == 1
    assert res.hota == pytest.approx(6 / 19)
    assert res.hota0 == pytest.approx(1.0)
    assert res.loca0 == pytest.approx(1 / 3)


def test_per_frame_table() -> None:
    pred, gt, _ = SCENARIOS["id_switch"]
    table = evaluate(pred, gt).per_frame
    assert tuple(table.columns) == PER_FRAME_COLUMNS
    assert table["frame"].tolist() == list(range(6))
    assert table["idsw"].tolist() == [0, 0, 0, 2, 0, 0]
    assert (table["tp"] == 2).all() and (table[["fp", "fn"]] == 0).all().all()
    missed = evaluate(*SCENARIOS["missed_frame"][:2]).per_frame
    assert missed["fn"].tolist() == [0, 0, 1, 0, 0]
    assert missed["n_pred"].tolist() == [1, 1, 0, 1, 1]


def test_empty_frames_count_with_n_frames() -> None:
    pred, gt, _ = SCENARIOS["false_positive_track"]
    res = evaluate(pred, gt, n_frames=8)
    assert res.clr_frames == 8
    assert res.fp_per_frame == pytest.approx(4 / 8)
    assert len(res.per_frame) == 8
    assert res.per_frame["n_gt"].tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    assert res.mota == pytest.approx(0.0)


def test_combine_sequences_weights_by_detections() -> None:
    split = evaluate(*SCENARIOS["split_track"][:2])
    fp = evaluate(*SCENARIOS["false_positive_track"][:2])
    res = combine_sequences({"split": split, "fp": fp})
    # summed: TP 6 + 4, FP 0 + 4, IDSW 1 + 0, GT dets 6 + 4
    assert res.mota == pytest.approx((10 - 4 - 1) / 10)
    assert res.idf1 == pytest.approx((3 + 4) / ((3 + 4) + 0.5 * (3 + 4) + 0.5 * (3 + 0)))
    # HOTA: DetA = 10 / (10 + 0 + 4); AssA = TP-weighted (1/2 * 6 + 1 * 4) / 10
    assert res.deta == pytest.approx(10 / 14)
    assert res.assa == pytest.approx((0.5 * 6 + 1 * 4) / 10)
    assert res.hota == pytest.approx(sqrt(10 / 14 * 7 / 10))
    assert res.per_frame["sequence"].tolist() == ["split"] * 6 + ["fp"] * 4
    assert combine_sequences([split]).to_dict() == split.to_dict()


def test_sequence_data_contract() -> None:
    pred, gt, _ = SCENARIOS["id_switch"]
    data = sequence_data(pred, gt, similarity="distance", zero_distance=10.0)
    assert data["num_timesteps"] == 6
    assert (data["num_gt_ids"], data["num_tracker_ids"]) == (2, 2)
    assert (data["num_gt_dets"], data["num_tracker_dets"]) == (12, 12)
    assert data["gt_id_map"].tolist() == [A, B]
    assert data["gt_ids"][0].tolist() == [0, 1]
    np.testing.assert_array_equal(data["similarity_scores"][3], [[0, 1], [1, 0]])


def test_cls_selects_classes() -> None:
    gt = pd.concat([GT_A4, tracks(on(B, B, range(4))).assign(cls=1)], ignore_index=True)
    pred = tracks(on(A, 1, range(4)))
    assert evaluate(pred, gt, cls=0).mota == pytest.approx(1.0)
    assert evaluate(pred, gt).mota == pytest.approx(4 / 8)


def test_result_conversions() -> None:
    res = evaluate(*SCENARIOS["split_track"][:2])
    pct = res.to_dict(percent=True)
    assert pct["MOTA"] == pytest.approx(100 * 5 / 6)
    assert pct["IDSW"] == 1 and pct["CLR_TP"] == 6  # counts are never scaled
    table = res.to_pandas()
    assert table.shape[0] == 1 and table.loc[0, "HOTA"] == pytest.approx(res.hota)
    assert isinstance(res.idsw, int) and isinstance(res.hota, float)
    assert len(res.per_alpha) == 19 and res.per_alpha["alpha"].iloc[0] == pytest.approx(0.05)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.mota = 0.0  # type: ignore[misc]


def test_inputs_not_modified() -> None:
    pred, gt, _ = SCENARIOS["id_switch"]
    before = pred.copy(), gt.copy()
    evaluate_tracking(pred, gt)
    pd.testing.assert_frame_equal(pred, before[0])
    pd.testing.assert_frame_equal(gt, before[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"similarity": "mahalanobis"}, "similarity must be"),
        ({"similarity": "distance", "zero_distance": 0.0}, "zero_distance must be > 0"),
        ({"n_frames": 3}, "outside 0..2"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_tracking(GT_A4, GT_A4, **kwargs)


def test_bad_tables() -> None:
    dup = pd.concat([GT_A4, GT_A4.iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match="track_id 100 appears more than once in frame 0"):
        evaluate_tracking(dup, GT_A4)
    with pytest.raises(ValueError, match="missing column"):
        evaluate_tracking(GT_A4.drop(columns="w"), GT_A4)
    # points need no box size with the distance similarity
    points = GT_A4.drop(columns=["w", "h"])
    assert evaluate(points, points).hota == pytest.approx(1.0)


# ----------------------------------------------------------------------- real data
def _visem_gt(data_dir: Path) -> pd.DataFrame:
    from tests.evaluate.test_tracking_parity import visem_tracks

    return visem_tracks(data_dir, last_frame=999)


@pytest.mark.needs_data
@pytest.mark.parametrize("similarity", ["iou", "distance"])
def test_visem_ground_truth_against_itself_is_perfect_and_fast(
    data_dir: Path, similarity: str
) -> None:
    gt = _visem_gt(data_dir)
    start = time.perf_counter()
    res = evaluate_tracking(gt, gt, similarity=similarity, n_frames=1000)
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0, f"1000 frames x ~40 objects took {elapsed:.1f} s"
    for name in ("hota", "deta", "assa", "loca", "mota", "motp", "idf1", "idp", "idr"):
        assert getattr(res, name) == pytest.approx(1.0), name
    assert res.idsw == 0 and res.clr_fn == 0 and res.clr_fp == 0
    assert res.mt == res.n_gt_ids == gt["track_id"].nunique()
