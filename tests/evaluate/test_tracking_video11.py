"""Video 11's ground truth against altered copies of itself, with the expected values
written as arithmetic (issue 4: shifted, thinned and id-swapped copies)."""

from __future__ import annotations

import numpy as np
import pytest

from spermlab.evaluate import evaluate_tracking
from spermlab.io.visem import read_visem_tracks

N_FRAMES = 300
ALPHAS = np.arange(0.05, 0.99, 0.05)


@pytest.fixture(scope="module")
def gt(data_dir):
    return read_visem_tracks(data_dir / "visem_tracking" / "11", frames=range(N_FRAMES)).tracks


def _eval(pred, gt):
    return evaluate_tracking(pred, gt, similarity="distance", zero_distance=10.0, n_frames=N_FRAMES)


def test_shifted_copy(gt):
    # every box 2 px to the right: similarity 1 - 2/10 = 0.8 for every true pair, so HOTA
    # matches everything at the 16 alphas <= 0.8 and nothing at the 3 above;
    # LocA is 0.8 where matched and TrackEval's 1 where nothing is matched.
    r = _eval(gt.assign(x=gt["x"] + 2.0), gt)
    n_ok = int((ALPHAS <= 0.8 + 1e-9).sum())
    assert n_ok == 16
    assert r.hota == pytest.approx(n_ok / 19)
    assert r.loca == pytest.approx((n_ok * 0.8 + (19 - n_ok) * 1.0) / 19)
    assert r.mota == pytest.approx(1.0) and r.motp == pytest.approx(0.8)
    assert r.idf1 == pytest.approx(1.0) and r.idsw == 0


def test_thinned_copy_drops_whole_tracks(gt):
    # dropping every third track keeps K of N boxes: DetA = K/N, AssA = 1, HOTA = sqrt(K/N);
    # MOTA = 1 - FN/N = K/N; IDF1 = 2K / (2K + (N - K)).
    ids = np.sort(gt["track_id"].unique())
    pred = gt[~gt["track_id"].isin(ids[::3])].reset_index(drop=True)
    n, k = len(gt), len(pred)
    r = _eval(pred, gt)
    assert r.deta == pytest.approx(k / n) and r.assa == pytest.approx(1.0)
    assert r.hota == pytest.approx(np.sqrt(k / n))
    assert r.mota == pytest.approx(k / n)
    assert r.idf1 == pytest.approx(2 * k / (2 * k + (n - k)))


def test_id_swapped_copy(gt):
    # two tracks present in frames 99 and 100 swap ids from frame 100 on: CLEAR counts
    # two ID switches, MOTA = 1 - 2/N; detection is untouched (DetA = 1). IDF1: the best
    # one-to-one id mapping keeps, for each of the two, the longer of its two halves.
    both = gt[gt["frame"].isin([99, 100])].groupby("track_id")["frame"].nunique()
    a, b = both[both == 2].index[:2]
    late = gt["frame"] >= 100
    pred = gt.copy()
    pred.loc[late & (gt["track_id"] == a), "track_id"] = b
    pred.loc[late & (gt["track_id"] == b), "track_id"] = a
    r = _eval(pred, gt)
    n = len(gt)
    assert r.idsw == 2 and r.mota == pytest.approx(1 - 2 / n)
    assert r.deta == pytest.approx(1.0)
    before = gt[~late].groupby("track_id").size()
    after = gt[late].groupby("track_id").size()
    # pred id a holds gt a before 100 and gt b after; pred id b the opposite.
    keep_straight = before.get(a, 0) + before.get(b, 0)  # map a->a, b->b
    keep_crossed = after.get(a, 0) + after.get(b, 0)  # map a->b, b->a
    lost = before.get(a, 0) + before.get(b, 0) + after.get(a, 0) + after.get(b, 0) - max(
        keep_straight, keep_crossed
    )
    idtp = n - lost
    assert r.idf1 == pytest.approx(2 * idtp / (2 * n))
