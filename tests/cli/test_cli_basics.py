import json

import pandas as pd
import pytest

from spermlab.cli import main


def test_help_lists_verbs_with_examples(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for verb in ("analyze", "convert", "doctor", "evaluate", "simulate"):
        assert verb in out
    assert "Examples" in out


def test_bad_usage_exits_2_and_missing_file_exits_1(tmp_path, capsys):
    assert main(["no-such-verb"]) == 2
    assert main(["convert", str(tmp_path / "missing.txt"), "--to", "mot", "--out", "x.txt"]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["convert", str(tmp_path), "--to", "xlsx", "--out", "x"]) == 2


def test_doctor_json_reports_core_and_codecs(capsys):
    assert main(["doctor", "--json", "--quiet"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["core"]["numpy"] and info["core"]["av"]
    assert info["codecs"]["h264"]["decode"] is True
    assert "yolo" in info["extras"]


def test_convert_round_trip_visem_mot_coco(data_dir, tmp_path, capsys):
    src = data_dir / "visem_tracking" / "11"
    mot = tmp_path / "11.txt"
    assert main(["convert", str(src), "--to", "mot", "--out", str(mot), "--quiet"]) == 0
    # a MOT file does not record the frame size: it is asked for, not assumed
    assert main(["convert", str(mot), "--to", "visem", "--out", str(tmp_path / "v"), "--stem", "11"]) == 2
    assert "--width and --height" in capsys.readouterr().err
    assert main(["convert", str(mot), "--to", "visem", "--out", str(tmp_path / "v"), "--stem", "11",
                 "--width", "640", "--height", "480"]) == 0
    assert main(["convert", str(src), "--boxes", "--to", "coco", "--out", str(tmp_path / "c.json")]) == 0
    capsys.readouterr()
    # the converted tracks score perfectly against the original, classes included
    assert main(["evaluate", "tracking", "--pred", str(tmp_path / "v"), "--gt", str(src), "--json"]) == 0
    tr = json.loads(capsys.readouterr().out)
    assert tr["HOTA"] == pytest.approx(100) and tr["IDF1"] == pytest.approx(100)
    assert main(["evaluate", "detection", "--pred", str(tmp_path / "c.json"), "--gt", str(src), "--json"]) == 0
    det = json.loads(capsys.readouterr().out)
    assert det["overall"]["f1"] == pytest.approx(1.0)
    assert {c["name"]: c["n_gt"] for c in det["per_class"].values()} == {"sperm": 37302, "cluster": 1774}


def test_evaluate_agreement_writes_table_and_plots(tmp_path, capsys):
    ref = pd.DataFrame({"id": range(6), "progressive_pct": [10, 20, 30, 40, 50, 60]})
    pred = ref.assign(progressive_pct=ref["progressive_pct"] + [2, -1, 3, 0, 1, 2])
    ref.to_csv(tmp_path / "ref.csv", index=False)
    pred.to_csv(tmp_path / "pred.csv", index=False)
    out = tmp_path / "out"
    assert main(["evaluate", "agreement", "--pred", str(tmp_path / "pred.csv"), "--ref",
                 str(tmp_path / "ref.csv"), "--out", str(out), "--json"]) == 0  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["column"] == "progressive_pct"
    assert rows[0]["mae"] == pytest.approx(9 / 6)
    assert rows[0]["bias_mean"] == pytest.approx(7 / 6)
    assert (out / "bland_altman_progressive_pct.png").stat().st_size > 1000
    assert (out / "agreement.csv").is_file()
