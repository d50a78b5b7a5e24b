import json

import pandas as pd
import pytest

from spermlab.cli import main
from spermlab.simulate import SimulationConfig, simulate, write_simulation


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    sim = simulate(SimulationConfig(duration_s=2.0, concentration=80.0), rng=7)
    return write_simulation(sim, out, stem="s").video


def test_stage_verbs_chain_to_the_same_result_as_analyze(sample, tmp_path, capsys):
    d, t, k, g = (tmp_path / n for n in ("det.parquet", "trk.csv", "kin.csv", "graded.parquet"))
    cal = ["--um-per-px", "0.2475", "--fps", "50"]
    assert main(["detect", str(sample), "--out", str(d), "--um-per-px", "0.2475", "--quiet"]) == 0
    assert main(["track", str(d), "--out", str(t), *cal, "--quiet"]) == 0
    assert main(["measure", str(t), "--out", str(k), *cal, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["grade", str(k), "--out", str(g), "--json", "--quiet"]) == 0
    staged = json.loads(capsys.readouterr().out)
    assert main(["analyze", str(sample), "--um-per-px", "0.2475", "--depth-um", "20",
                 "--out", str(tmp_path / "r"), "--json", "--quiet"]) == 0  # fmt: skip
    whole = json.loads(capsys.readouterr().out)
    assert staged["n_graded"] == whole["n_graded"] > 0
    for grade, key in zip("abcd", ("rapid", "slow", "non_progressive", "immotile"), strict=True):
        assert staged["percentages"][grade] == pytest.approx(whole["percentages"][key])
    assert set(pd.read_parquet(g)["grade"]) <= set("abcd")


def test_stage_verbs_refuse_missing_calibration_and_bad_files(sample, tmp_path, capsys):
    d = tmp_path / "det.csv"
    assert main(["detect", str(sample), "--out", str(d), "--quiet"]) == 2  # bad usage
    assert "--um-per-px" in capsys.readouterr().err
    assert main(["detect", str(sample), "--out", str(d), "--preset", "visem", "--quiet"]) == 0
    # the calibration travels with the table (det.csv.json): track needs no flags again
    assert main(["track", str(d), "--out", str(tmp_path / "t.csv"), "--quiet"]) == 0
    meta = json.loads((tmp_path / "t.csv.json").read_text())["calibration"]
    assert meta["fps"] == 50.0 and meta["sources"]["fps"] == "file (via det.csv)"
    (tmp_path / "det.csv.json").unlink()
    assert main(["track", str(d), "--out", str(tmp_path / "t.csv"), "--quiet"]) == 2
    assert "--preset" in capsys.readouterr().err
    pd.DataFrame({"frame": [0], "x": [1.0]}).to_csv(tmp_path / "bad.csv", index=False)
    assert main(["track", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "t.csv"),
                 "--preset", "visem", "--quiet"]) == 1  # fmt: skip
    assert "missing column" in capsys.readouterr().err
    assert main(["measure", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "k.csv"),
                 "--preset", "visem"]) == 1  # fmt: skip
