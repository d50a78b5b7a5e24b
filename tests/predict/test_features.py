"""Per-sample features from results folders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from spermlab.cli import main


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    from spermlab.simulate import SimulationConfig, simulate, write_simulation

    root = tmp_path_factory.mktemp("feat")
    sim = simulate(SimulationConfig(duration_s=1.5, concentration=60, width=320, height=240), rng=8)
    video = write_simulation(sim, root / "sim", stem="s").video
    assert main(["analyze", str(video), "--um-per-px", "0.25", "--depth-um", "20",
                 "--out", str(root / "r"), "-q"]) == 0  # fmt: skip
    return root / "r"


def test_features_match_the_results(result, tmp_path):
    out = tmp_path / "f.parquet"
    assert main(["predict", "features", str(result), "--out", str(out), "-q"]) == 0
    f = pd.read_parquet(out).iloc[0]
    s = json.loads((result / "summary.json").read_text())
    assert f["n_graded"] == s["n_graded"] and f["sample_id"] == "r"
    assert f[["pct_a", "pct_b", "pct_c", "pct_d"]].sum() == pytest.approx(100.0)
    assert f["concentration_m_per_ml"] == pytest.approx(s["concentration_m_per_ml"])
    kin = pd.read_parquet(result / "kinematics.parquet")
    assert f["vcl_p50"] == pytest.approx(np.percentile(kin.loc[kin["grade"] != "", "vcl"].dropna(), 50))
    assert f["vcl_p10"] <= f["vcl_p50"] <= f["vcl_p90"]
    assert main(["predict", "features", str(result), "--out", str(tmp_path / "f.txt")]) == 2


def test_clinical_join_and_clinical_targets(result, data_dir, tmp_path):
    from spermlab.io.visem import read_clinical
    from spermlab.predict.features import features_table, join_clinical

    f = features_table([result]).assign(sample_id="11")  # VISEM video 11 is participant 11
    j = join_clinical(f, data_dir / "visem")
    hormones = read_clinical(data_dir / "visem", table="sex_hormones").set_index("participant_id")
    col = "Serum total testosterone (nmol/L)"
    assert j.loc[0, f"sex_hormones: {col}"] == hormones.loc[11, col]
    from spermlab.io.load import read_sample_table

    t = read_sample_table(data_dir / "visem")
    assert "progressive_pct" in t.columns and len(t) == 85
