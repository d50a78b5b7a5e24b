import json

import pandas as pd

from spermlab.cli import main


def test_simulate_writes_the_layout_and_prints_json(tmp_path, capsys):
    code = main(
        [
            "simulate",
            "--out",
            str(tmp_path),
            "--seed",
            "3",
            "--duration",
            "0.3",
            "--concentration",
            "40",
            "--mix",
            "30,20,10,40",
            "--frames",
            "--json",
            "--quiet",
        ]
    )
    assert code == 0
    info = json.loads(capsys.readouterr().out)
    root = tmp_path / "sim"
    assert info["out"] == str(root)
    assert info["n_frames"] == 15
    assert (root / "sim.mp4").is_file()
    assert len(list((root / "images").glob("sim_frame_*.jpg"))) == 15
    assert len(list((root / "labels").glob("sim_frame_*.txt"))) == 15
    assert len(list((root / "labels_ftid").glob("sim_frame_*_with_ftid.txt"))) == 15
    cells = pd.read_csv(root / "truth_cells.csv")
    assert {"cell_id", "model", "grade", "vcl", "vsl", "vap", "alh", "bcf"} <= set(cells.columns)
    meta = json.loads((root / "simulation.json").read_text())
    assert meta["config"]["mix"] == [0.3, 0.2, 0.1, 0.4]
    assert meta["config"]["calibration"]["sources"]["um_per_px"] == "simulation"


def test_simulate_summary_line_and_user_calibration(tmp_path, capsys):
    code = main(
        [
            "simulate",
            "--out",
            str(tmp_path),
            "--duration",
            "0.1",
            "--um-per-px",
            "0.5",
            "--fps",
            "25",
            "--no-video",
            "--look",
            "brightfield",
            "--stem",
            "bf",
            "-q",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("wrote 2 frames (0.1 s at 25 fps)")
    meta = json.loads((tmp_path / "bf" / "simulation.json").read_text())
    assert meta["config"]["calibration"]["um_per_px"] == 0.5
    assert meta["config"]["calibration"]["sources"]["fps"] == "user"
    assert not (tmp_path / "bf" / "bf.mp4").exists()


def test_bad_usage_exits_2_and_impossible_values_exit_1(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path), "--mix", "1,2,3"]) == 2
    assert main(["simulate", "--out", str(tmp_path), "--look", "dic"]) == 2
    assert main(["simulate", "--out", str(tmp_path), "--concentration", "-5", "-q"]) == 1
    err = capsys.readouterr().err
    assert "concentration" in err and "[0.0, 1000.0]" in err
