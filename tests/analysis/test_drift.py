import numpy as np
import pandas as pd
import pytest

from spermlab.analysis.drift import estimate_drift, subtract_drift


def _tracks(rng, n_still=30, n_swim=10, n_frames=100, drift=(0.4, -0.2)):
    rows = []
    for tid in range(n_still + n_swim):
        p0 = rng.uniform(50, 500, 2)
        v = np.zeros(2) if tid < n_still else rng.normal(0, 3, 2)  # swimmers: random direction
        for f in range(n_frames):
            x, y = p0 + (v + drift) * f + rng.normal(0, 0.1, 2)
            rows.append((f, x, y, 17.0, 18.0, 0, 1.0, tid))
    return pd.DataFrame(rows, columns=["frame", "x", "y", "w", "h", "cls", "score", "track_id"])


def test_recovers_constant_drift_and_subtraction_stills_dead_cells(rng):
    t = _tracks(rng)
    d = estimate_drift(t, fps=50)
    assert d["frame"].tolist() == list(range(100))
    assert d["dx"].iloc[-1] == pytest.approx(0.4 * 99, rel=0.05)
    assert d["dy"].iloc[-1] == pytest.approx(-0.2 * 99, rel=0.05)
    fixed = subtract_drift(t, d)
    still = fixed[fixed["track_id"] < 30].groupby("track_id")
    travel = still.apply(lambda g: np.hypot(g.x.iloc[-1] - g.x.iloc[0], g.y.iloc[-1] - g.y.iloc[0]))
    assert travel.max() < 3.0  # px, vs 44 px of raw drift


def test_no_drift_gives_near_zero_and_empty_input():
    rng = np.random.default_rng(0)
    d = estimate_drift(_tracks(rng, drift=(0.0, 0.0)), fps=50)
    # 10 swimmers at ~3 px/frame bias the median by a few hundredths of a px per frame
    assert np.abs(d[["dx", "dy"]].to_numpy()).max() < 2.5
    empty = _tracks(rng).iloc[:0].reset_index(drop=True)
    assert estimate_drift(empty, fps=50).empty
