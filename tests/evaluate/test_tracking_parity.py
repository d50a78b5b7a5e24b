"""Parity of spermlab's HOTA / CLEAR / Identity with TrackEval (PyPI ``trackeval``).

The same per-sequence data dict is fed to spermlab's metric functions and to TrackEval's
``eval_sequence`` and ``combine_sequences``; every field must agree to 1e-6. Skipped when
TrackEval is not installed. TrackEval 1.3.0 from PyPI no longer uses the removed
``np.float`` aliases (TrackEval issue #114), so it runs with NumPy 2 unpatched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from spermlab.evaluate import _clear, _hota, _identity
from spermlab.evaluate.tracking import (
    box_iou,
    centre_similarity,
    combine_sequences,
    evaluate_sequence_data,
    sequence_data,
)

TOL = 1e-6


@pytest.fixture(scope="module")
def trackeval() -> Any:
    import trackeval as te  # the test extra installs it; CI must not skip

    return te


@pytest.fixture(scope="module")
def te_metrics(trackeval: Any) -> dict[str, Any]:
    quiet = {"THRESHOLD": 0.5, "PRINT_CONFIG": False}
    return {
        "HOTA": trackeval.metrics.HOTA(),
        "CLEAR": trackeval.metrics.CLEAR(quiet),
        "Identity": trackeval.metrics.Identity(quiet),
    }


# ------------------------------------------------------------------------ scenarios
def synthetic_pair(
    seed: int, n_tracks: int = 20, n_frames: int = 120
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random-walk ground truth and a corrupted copy: jitter, drops, swaps, splits, FPs."""
    rng = np.random.default_rng(seed)
    rows = []
    for tid in range(n_tracks):
        start = int(rng.integers(0, n_frames // 2))
        stop = int(rng.integers(start + 5, n_frames + 1))
        xy = rng.uniform(20, 300, 2) + np.cumsum(rng.normal(0, 2.0, (stop - start, 2)), axis=0)
        wh = rng.uniform(8, 20, 2)
        for k, f in enumerate(range(start, stop)):
            rows.append((f, tid, xy[k, 0], xy[k, 1], wh[0], wh[1]))
    gt = pd.DataFrame(rows, columns=["frame", "track_id", "x", "y", "w", "h"])
    pred = gt.copy()
    pred[["x", "y"]] += rng.normal(0, 1.5, (len(pred), 2))
    pred[["w", "h"]] *= rng.uniform(0.8, 1.2, (len(pred), 2))
    pred = pred[rng.random(len(pred)) > 0.1].reset_index(drop=True)  # 10 % missed
    n_swaps = min(4, n_tracks // 2)
    for a, b in rng.choice(n_tracks, (n_swaps, 2), replace=False):  # identity swaps
        after = pred["frame"] >= int(rng.integers(0, n_frames))
        ia, ib = after & (pred.track_id == a), after & (pred.track_id == b)
        pred.loc[ia, "track_id"], pred.loc[ib, "track_id"] = b, a
    for k, tid in enumerate(rng.choice(n_tracks, 4, replace=False)):  # fragmentations
        late = (pred.track_id == tid) & (pred["frame"] >= int(rng.integers(0, n_frames)))
        pred.loc[late, "track_id"] = 1000 + k
    fps = []
    for k in range(6):  # false-positive tracks
        f0 = int(rng.integers(0, n_frames - 10))
        x0, y0 = rng.uniform(20, 300, 2)
        fps += [(f, 2000 + k, x0 + f - f0, y0, 12.0, 12.0) for f in range(f0, f0 + 10)]
    pred = pd.concat([pred, pd.DataFrame(fps, columns=pred.columns)], ignore_index=True)
    return pred, gt


def visem_tracks(data_dir: Path, video: str = "11", last_frame: int = 199) -> pd.DataFrame:
    """Tiny local reader of VISEM-Tracking ``labels_ftid`` (``id cls xc yc w h`` in 0-1)."""
    rows = []
    for path in sorted((data_dir / "visem_tracking" / video / "labels_ftid").glob("*.txt")):
        frame = int(re.search(r"_frame_(\d+)_with_ftid", path.name).group(1))
        if frame > last_frame:
            continue
        for line in path.read_text().splitlines():
            if line.strip():
                tid, cls, xc, yc, w, h = line.split()
                rows.append((frame, tid, int(cls), float(xc) * 640, float(yc) * 480,
                             float(w) * 640, float(h) * 480))
    df = pd.DataFrame(rows, columns=["frame", "sid", "cls", "x", "y", "w", "h"])
    df["track_id"] = pd.factorize(df["sid"], sort=True)[0]
    df["score"] = 1.0
    return df.drop(columns="sid").sort_values(["frame", "track_id"], ignore_index=True)


def perturbed(gt: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Jittered, thinned (8 % dropped) copy with three identity swaps from frame 100."""
    rng = np.random.default_rng(seed)
    pred = gt.copy()
    pred[["x", "y"]] += rng.normal(0, 2.0, (len(pred), 2))
    pred = pred[rng.random(len(pred)) > 0.08].reset_index(drop=True)
    ids = pred["track_id"].unique()
    for a, b in rng.choice(ids, (3, 2), replace=False):
        after = pred["frame"] >= 100
        ia, ib = after & (pred.track_id == a), after & (pred.track_id == b)
        pred.loc[ia, "track_id"], pred.loc[ib, "track_id"] = b, a
    return pred


# ---------------------------------------------------------------------- comparison
def assert_same(ours: Mapping[str, Any], theirs: Mapping[str, Any], family: str) -> float:
    """Every TrackEval field equal to TOL; returns the largest absolute difference."""
    worst = 0.0
    for key, value in theirs.items():
        a = np.asarray(ours[key], dtype=float)
        b = np.asarray(value, dtype=float)
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL, err_msg=f"{family} {key}")
        worst = max(worst, float(np.max(np.abs(a - b), initial=0.0)))
    return worst


def compare_sequence(data: dict[str, Any], te_metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Our vs TrackEval's per-sequence results; returns TrackEval's for combining."""
    ours = {
        "HOTA": _hota.hota_sequence(data),
        "CLEAR": _clear.clear_sequence(data)[0],
        "Identity": _identity.identity_sequence(data),
    }
    theirs = {name: metric.eval_sequence(data) for name, metric in te_metrics.items()}
    for family in ours:
        assert_same(ours[family], theirs[family], family)
    # the public result carries the same numbers
    public = evaluate_sequence_data(data).trackeval_results()
    for family in ours:
        assert_same(public[family], theirs[family], family)
    return theirs


SEEDS = [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("similarity", ["iou", "distance"])
@pytest.mark.parametrize("seed", SEEDS)
def test_synthetic_parity(seed: int, similarity: str, te_metrics: dict[str, Any]) -> None:
    pred, gt = synthetic_pair(seed)
    data = sequence_data(pred, gt, similarity=similarity, zero_distance=10.0)
    theirs = compare_sequence(data, te_metrics)
    assert 0 < theirs["HOTA"]["HOTA"].mean() < 1
    assert theirs["CLEAR"]["IDSW"] > 0 and theirs["CLEAR"]["Frag"] > 0


@pytest.mark.parametrize("similarity", ["iou", "distance"])
def test_combine_parity(similarity: str, te_metrics: dict[str, Any]) -> None:
    ours, theirs = {}, {}
    for seed in SEEDS[:4]:
        pred, gt = synthetic_pair(seed, n_tracks=10 + seed, n_frames=60)
        data = sequence_data(pred, gt, similarity=similarity)
        ours[f"s{seed}"] = evaluate_sequence_data(data)
        theirs[f"s{seed}"] = {n: m.eval_sequence(data) for n, m in te_metrics.items()}
    combined = combine_sequences(ours).trackeval_results()
    for name, metric in te_metrics.items():
        expected = metric.combine_sequences({k: v[name] for k, v in theirs.items()})
        assert_same(combined[name], expected, name)


def test_edge_cases_parity(te_metrics: dict[str, Any]) -> None:
    pred, gt = synthetic_pair(7, n_tracks=5, n_frames=30)
    cases = [
        (pred.iloc[:0], gt),  # empty prediction
        (pred, gt.iloc[:0]),  # empty ground truth
        (pred.iloc[:0], gt.iloc[:0]),  # both empty
        (pred[pred.frame % 3 != 0], gt[gt.frame % 4 != 0]),  # empty frames on each side
        (pred.assign(x=pred.x + 500), gt),  # nothing overlaps
    ]
    for p, g in cases:
        data = sequence_data(p.reset_index(drop=True), g.reset_index(drop=True), n_frames=30)
        compare_sequence(data, te_metrics)


@pytest.mark.needs_data
@pytest.mark.parametrize(("similarity", "zero_distance"), [("iou", 10.0), ("distance", 10.0)])
def test_visem_parity(data_dir: Path, similarity: str, zero_distance: float,
                      te_metrics: dict[str, Any]) -> None:
    gt = visem_tracks(data_dir)
    pred = perturbed(gt, seed=11)
    data = sequence_data(pred, gt, similarity=similarity, zero_distance=zero_distance,
                         n_frames=200)
    theirs = compare_sequence(data, te_metrics)
    assert theirs["CLEAR"]["IDSW"] >= 3
    self_data = sequence_data(gt, gt, similarity=similarity, zero_distance=zero_distance)
    same = compare_sequence(self_data, te_metrics)
    assert same["HOTA"]["HOTA"].mean() == pytest.approx(1.0)


def test_similarity_parity(trackeval: Any) -> None:
    base = trackeval.datasets._base_dataset._BaseDataset
    rng = np.random.default_rng(3)
    a = np.column_stack([rng.uniform(0, 50, (7, 2)), rng.uniform(0, 12, (7, 2))])
    b = np.column_stack([rng.uniform(0, 50, (9, 2)), rng.uniform(0, 12, (9, 2))])
    a[0, 2] = 0.0  # a degenerate box
    to_corner = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [-0.5, 0, 1, 0], [0, -0.5, 0, 1]])
    expected = base._calculate_box_ious(a @ to_corner, b @ to_corner, box_format="xywh")
    np.testing.assert_allclose(box_iou(a, b), expected, atol=1e-12)
    expected = base._calculate_euclidean_similarity(a[:, :2], b[:, :2], zero_distance=10.0)
    np.testing.assert_allclose(centre_similarity(a[:, :2], b[:, :2], 10.0), expected, atol=1e-12)


def test_hand_solved_scenarios_parity(te_metrics: dict[str, Any]) -> None:
    from tests.evaluate.test_tracking import SCENARIOS

    for pred, gt, _ in SCENARIOS.values():
        compare_sequence(sequence_data(pred, gt, similarity="distance"), te_metrics)
