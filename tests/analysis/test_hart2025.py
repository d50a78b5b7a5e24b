"""spermlab's VCL, VSL and VAP against another lab's values on identical tracks (Hart 2025, P004).

``hart2025_tracks/video_P004_corrected.csv`` carries, per row, the VCL, VSL and VAP that
the lab's ``stats.py`` (CAS-ReproLab/Sperm_Object_Tracking, ``UnifiedFramework/stats.py``)
computed for the row's track at 9 fps and 1.0476 µm/px. 25 of its 28 tracks carry one
set of values; tracks 0, 11 and 22 carry two or three (their values predate the last hand
correction, see ``benchmarks/hart2025_kinematics.py``) and are left out here. None of the
25 has a missed frame, so both programs measure exactly the same positions.

Tolerances:

* VSL has one definition (first-to-last displacement over (n - 1) / fps): the two must
  agree to floating-point error, 1e-9 relative.
* VCL: the lab's path length leaves out the track's last step but its duration counts
  it (an off-by-one). spermlab's VCL less that step's share must equal theirs to 1e-9;
  without the correction spermlab reads at most 1 / (n - 2) high per step-size spread,
  bounded here by 7 % (their shortest track has 19 points: 1/17 = 5.9 % for equal steps).
* VAP with spermlab's fixed running average over the lab's 5 points: the lab divides the
  average path's length by its number of points (n - 4) instead of the n - 5 intervals,
  so theirs x (n - 4) / (n - 5) must equal spermlab's to 1e-9.

Any change to how spermlab fills, scales or times a path breaks one of these.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spermlab import Calibration
from spermlab.analysis.kinematics import KinematicsParams, measure

UM_PER_PX, FPS = 1.0476, 9.0
EXACT = 1e-9


@pytest.fixture(scope="module")
def p004(data_dir) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(data_dir / "hart2025_tracks" / "video_P004_corrected.csv")
    cols = ["VCL", "VSL", "VAP", "ALH_mean", "ALH_max", "BCF"]
    constant = raw.groupby("sperm")[cols].nunique().eq(1).all(axis=1)
    assert sorted(constant.index[~constant]) == [0, 11, 22]
    raw = raw[raw["sperm"].isin(constant.index[constant])].sort_values(["sperm", "frame"])
    tracks = pd.DataFrame({
        "frame": raw["frame"], "x": raw["x"], "y": raw["y"], "w": 10.0, "h": 10.0, "cls": 0,
        "score": 1.0, "track_id": raw["sperm"],
    }).reset_index(drop=True)  # fmt: skip
    g = raw.groupby("sperm")
    last, before = g[["x", "y"]].nth(-1), g[["x", "y"]].nth(-2)
    step = np.hypot(*(last.to_numpy() - before.to_numpy()).T)
    theirs = g[cols].first().assign(
        n=g.size(), span=g["frame"].max() - g["frame"].min() + 1,
        last_step=pd.Series(step, index=raw.loc[last.index, "sperm"].to_numpy()),
    ).rename_axis("track_id")  # fmt: skip
    assert len(theirs) == 25 and (theirs["n"] == theirs["span"]).all()  # no missed frames
    return tracks, theirs


def _measured(tracks, theirs, **params) -> pd.DataFrame:
    cal = Calibration(um_per_px=UM_PER_PX, fps=FPS)
    k = measure(tracks, cal, params=KinematicsParams(min_points=3, **params))
    assert len(k) == len(theirs)
    return k.set_index("track_id").join(theirs, validate="1:1")


def test_vsl_equals_theirs(p004):
    m = _measured(*p004)
    np.testing.assert_allclose(m["vsl"], m["VSL"], rtol=EXACT)


def test_vcl_equals_theirs_but_for_their_last_step(p004):
    m = _measured(*p004)
    last_step_share = m["last_step"] * UM_PER_PX * FPS / (m["n"] - 1)
    np.testing.assert_allclose(m["vcl"] - last_step_share, m["VCL"], rtol=EXACT)
    ratio = m["vcl"] / m["VCL"]
    assert (ratio >= 1 - EXACT).all() and (ratio < 1.07).all()


def test_vap_with_their_window_equals_theirs_but_for_their_duration(p004):
    m = _measured(*p004, adaptive=False, average_window_s=5 / FPS)
    n_avg = m["n"] - 4
    np.testing.assert_allclose(m["vap"], m["VAP"] * n_avg / (n_avg - 1), rtol=EXACT)
