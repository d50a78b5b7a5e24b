import numpy as np
import pandas as pd
import pytest

from spermlab import Calibration, CalibrationError, preset
from spermlab.analysis.motility import GradingParams, concentration, grade, summarise
from spermlab.tables import KINEMATICS


def _kin(prog, vap, alh=None):
    n = len(prog)
    d = {c: np.full(n, 1.0) for c in KINEMATICS}
    d.update(track_id=np.arange(n), n_points=np.full(n, 50), progression=prog, vap=vap, flagellum=np.nan,
             alh=np.zeros(n) if alh is None else alh, grade=[""] * n)  # fmt: skip
    return pd.DataFrame(d)


def test_who_2021_boundaries():
    prog = [30.0, 25.0, 24.99, 5.0, 4.99, 4.99, 0.0, np.nan]
    vap = [40.0, 30.0, 30.0, 10.0, 10.0, 3.99, 4.0, np.nan]
    g = grade(_kin(prog, vap))["grade"].tolist()
    assert g == ["a", "a", "b", "b", "c", "d", "c", "d"]


def test_a_head_swinging_in_place_is_non_progressive_not_immotile():
    k = _kin([1.0, 1.0, 1.0], [0.5, 0.5, 0.5], alh=[0.74, 0.75, 2.0])
    assert grade(k)["grade"].tolist() == ["d", "c", "c"]
    with pytest.raises(ValueError, match="active_alh_um"):
        GradingParams(active_alh_um=0)


def test_a_beating_flagellum_beside_a_still_head_is_non_progressive():
    k = _kin([1.0, 1.0, 1.0, 1.0, 30.0, 10.0], [0.5] * 4 + [40.0, 12.0])
    k["flagellum"] = [0.49, 0.5, np.nan, 0.9, 0.9, 0.0]
    assert grade(k)["grade"].tolist() == ["d", "c", "d", "c", "a", "b"]
    head_only = grade(k, params=GradingParams(use_flagellum=False))["grade"].tolist()
    assert head_only == ["d", "d", "d", "d", "a", "b"]  # a and b never depend on it
    with pytest.raises(ValueError, match="flagellum_p"):
        GradingParams(flagellum_p=0)
    k["flagellum"] = [0.2, 8.0, np.nan, 0.9, 0.9, 0.0]  # an older table's µm²
    with pytest.raises(ValueError, match=r"row 1: 8 is not a probability"):
        grade(k)


def test_grade_does_not_mutate_and_validates_params():
    k = _kin([30.0], [40.0])
    before = k.copy()
    grade(k)
    pd.testing.assert_frame_equal(k, before)
    with pytest.raises(ValueError, match="progressive_um_s"):
        GradingParams(rapid_um_s=5, progressive_um_s=10)


def test_concentration_formula_by_hand():
    cal = Calibration(um_per_px=0.25, fps=50, chamber_depth_um=20)
    # 640*480 px * 0.0625 µm²/px² = 19200 µm²; x 20 µm = 384000 µm³ = 3.84e-7 mL
    assert concentration(38.4, cal, 640, 480) == pytest.approx(38.4 / 3.84e-7 / 1e6)
    with pytest.raises(CalibrationError, match="--depth-um"):
        concentration(1.0, Calibration(um_per_px=0.25, fps=50), 640, 480)


def test_summarise_percentages_and_warnings():
    k = grade(_kin([30, 30, 10, 1, 1, 1, 1, 1, 1, 1], [40, 40, 20, 10, 10, 1, 1, 1, 1, 1]))
    r = summarise(k, preset("visem"), mean_heads_per_frame=30.0, n_frames=100, width=640, height=480)
    assert r.counts == {"a": 2, "b": 1, "c": 2, "d": 5}
    assert r.percentages["progressive"] == pytest.approx(30.0)
    assert r.percentages["total_motile"] == pytest.approx(50.0)
    assert sum(r.percentages[g] for g in ("rapid", "slow", "non_progressive", "immotile")) == 100
    assert any("only 10 cells graded" in w for w in r.warnings)
    # every track has 50 points here, so the snapshot shares equal the per-track ones
    assert r.percentages_frame_weighted == pytest.approx(r.percentages)
    assert any("preset:visem" in w for w in r.warnings)
    assert r.calibration["sources"]["um_per_px"] == "preset:visem"
    d = r.to_dict()
    assert type(r).from_dict(d) == r


def test_low_frame_rate_warns():
    k = grade(_kin([30.0] * 250, [40.0] * 250))
    r = summarise(k, Calibration(um_per_px=1.0, fps=9, sources={"fps": "user"}),
                  mean_heads_per_frame=1, n_frames=10, width=100, height=100)  # fmt: skip
    assert r.concentration_m_per_ml is None
    assert any("below 50 fps" in w for w in r.warnings)
    assert not any("cells graded" in w for w in r.warnings)


def test_frame_weighted_shares_count_each_track_once_per_frame():
    k = grade(_kin([30.0, 1.0], [40.0, 1.0])).assign(n_points=[10, 90])
    r = summarise(k, preset("visem"), mean_heads_per_frame=1.0, n_frames=100, width=640, height=480)
    assert r.percentages["progressive"] == pytest.approx(50.0)
    assert r.percentages_frame_weighted["progressive"] == pytest.approx(10.0)
    assert r.percentages_frame_weighted["immotile"] == pytest.approx(90.0)
