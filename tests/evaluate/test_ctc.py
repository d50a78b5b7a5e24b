"""Cell Tracking Challenge measures (DET, TRA, LNK) of point tracks via py-ctcmetrics.

Hand-solved cases use one ground-truth track A in frames 0-4 (5 vertices, 4 edges), so
AOGM_0 = 10 x 5 + 1.5 x 4 = 56 for TRA, 10 x 5 = 50 for DET and 1.5 x 4 = 6 for LNK
(weights of Matula et al. 2015: FN 10, FP 1, NS 5, ED 1, EA 1.5, EC 1).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spermlab.evaluate._ctc import ctc_lineage, evaluate_ctc, write_ctc


def tracks(rows: list[tuple[int, int, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["frame", "track_id", "x", "y"]).astype(
        {"frame": "int64", "track_id": "int64", "x": "float64", "y": "float64"}
    )


GT = tracks([(f, 7, 20.0, 20.0) for f in range(5)])


def test_lineage_splits_tracks_at_gaps() -> None:
    t = tracks([(0, 5, 0, 0), (1, 5, 0, 0), (3, 5, 0, 0), (0, 9, 1, 1), (4, 5, 0, 0)])
    labels, lineage = ctc_lineage(t)
    assert labels.tolist() == [1, 1, 2, 3, 2]
    assert lineage.tolist() == [[1, 0, 1, 0], [2, 3, 4, 1], [3, 0, 0, 0]]
    empty_labels, empty_lineage = ctc_lineage(t.iloc[:0])
    assert empty_labels.shape == (0,) and empty_lineage.shape == (0, 4)


import ctc_metrics as ctc  # noqa: E402  (the test extra installs it; CI must not skip)

CASES = {
    "perfect": (GT.assign(track_id=1), {"det": 1, "tra": 1, "lnk": 1}),
    # same vertices, id changes at frame 3: the 2->3 edge is missing (EA = 1)
    "split": (
        tracks([(f, 1, 20.0, 20.0) for f in range(3)] + [(f, 2, 20.0, 20.0) for f in (3, 4)]),
        {"det": 1, "tra": 1 - 1.5 * 1 / 56, "lnk": 1 - 1.5 * 1 / 6, "ea": 1, "ed": 0},
    ),
    # frame 2 missed: FN = 1, edges 1-2 and 2-3 missing (EA = 2), and the gap link
    # 1->3 (a parent link of the lineage) is not in the reference (ED = 1)
    "missed_frame": (
        tracks([(f, 1, 20.0, 20.0) for f in (0, 1, 3, 4)]),
        {"det": 1 - 10 * 1 / 50, "tra": 1 - (10 * 1 + 1 * 1 + 1.5 * 2) / 56,
         "lnk": 1 - (1 * 1 + 1.5 * 2) / 6, "fn": 1, "ea": 2, "ed": 1},
    ),
    # a false-positive track (3 vertices; its edges join unmatched vertices, so they
    # are not counted)
    "false_positive": (
        pd.concat([GT.assign(track_id=1), tracks([(f, 2, 60.0, 60.0) for f in range(3)])],
                  ignore_index=True),
        {"det": 1 - 3 / 50, "tra": 1 - 3 / 56, "lnk": 1, "fp": 3},
    ),
    # shifted by 6 px with radius 5: no disc covers half of the reference disc
    "too_far": (GT.assign(x=26.0), {"det": 0, "tra": 0, "lnk": 0, "fn": 5}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hand_solved(name: str) -> None:
    pred, expected = CASES[name]
    res = evaluate_ctc(pred, GT, radius=5.0)
    for key, value in expected.items():
        assert getattr(res, key) == pytest.approx(value, abs=1e-12), key
    assert res.n_vertices == 5 and res.n_edges == 4


def test_empty_prediction_and_hidden_detections() -> None:
    res = evaluate_ctc(GT.iloc[:0], GT)
    assert (res.det, res.tra, res.lnk, res.fn) == (0.0, 0.0, 0.0, 5)
    duplicate = pd.concat([GT, GT.assign(track_id=8)], ignore_index=True)
    res = evaluate_ctc(duplicate, GT)
    assert res.n_hidden_pred == 5 and res.det == 1.0
    assert res.to_dict(percent=True)["DET"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="at least one ground-truth"):
        evaluate_ctc(GT, GT.iloc[:0])


def test_missing_package_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == "ctc_metrics"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    with pytest.raises(ImportError, match="pip install py-ctcmetrics"):
        evaluate_ctc(GT, GT)


def test_same_as_ctc_metrics_on_written_files(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    """evaluate_ctc in memory == py-ctcmetrics' own file-based evaluate_sequence."""
    rows = []
    for tid in range(8):
        xy = rng.uniform(15, 85, 2) + np.cumsum(rng.normal(0, 1.5, (12, 2)), axis=0)
        rows += [(f, tid, *np.clip(xy[f], 2, 98)) for f in range(12)]
    gt = tracks(rows)
    pred = gt.copy()
    pred[["x", "y"]] += rng.normal(0, 1.5, (len(pred), 2))
    pred = pred[rng.random(len(pred)) > 0.15].reset_index(drop=True)
    pred.loc[pred["frame"] >= 6, "track_id"] += 100 * (pred["track_id"] % 3 == 0)
    kwargs = {"radius": 4.0, "shape": (100, 100), "n_frames": 12}
    write_ctc(gt, tmp_path / "gt", kind="gt", **kwargs)
    write_ctc(pred, tmp_path / "res", kind="res", **kwargs)
    theirs = ctc.evaluate_sequence(str(tmp_path / "res"), str(tmp_path / "gt"),
                                   metrics=["Valid", "DET", "TRA", "LNK"], threads=1)
    capsys.readouterr()  # py-ctcmetrics prints its progress
    ours = evaluate_ctc(pred, gt, **kwargs)
    assert theirs["Valid"] == 1
    assert 0 < ours.tra < 1 and ours.ea > 0
    for key in ("DET", "TRA", "LNK", "AOGM"):
        assert ours.to_dict()[key] == pytest.approx(theirs[key], abs=1e-12), key
    for key in ("NS", "FN", "FP", "ED", "EA", "EC"):
        assert getattr(ours, key.lower()) == theirs[f"AOGM_{key}"], key
