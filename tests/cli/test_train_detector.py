"""``spermlab train detector`` and ``analyze --detector-model``: a lab teaches spermlab its
microscope from annotated frames and uses the model with the core install."""

import json
import shutil
import sys

import pytest

from spermlab.cli import main
from tests.conftest import require_module


@pytest.fixture(scope="module")
def yolo_folder(data_dir, tmp_path_factory):
    """Six VISEM-Tracking frames in a plain YOLO layout (images/ + labels/)."""
    root = tmp_path_factory.mktemp("yolo")
    src = data_dir / "visem_tracking" / "11"
    for sub in ("images", "labels"):
        (root / sub).mkdir()
    for n in range(6):
        shutil.copy(src / "images" / f"11_frame_{n}.jpg", root / "images")
        shutil.copy(src / "labels" / f"11_frame_{n}.txt", root / "labels")
    return root


@pytest.fixture(scope="module")
def model(yolo_folder, data_dir, tmp_path_factory):
    require_module("torch", "pip install 'spermlab[train]'")
    require_module("onnx", "pip install 'spermlab[train]'")
    out = tmp_path_factory.mktemp("m") / "lab.onnx"
    svia = data_dir / "videos" / "svia"
    code = main(["train", "detector", str(yolo_folder), f"{svia / 'S_0002.mp4'}:{svia / 'subset_A'}",
                 "--out", str(out), "--steps", "6", "--simulate", "1", "--quiet", "--json"])
    assert code == 0
    return out


def test_train_detector_reads_yolo_and_voc_sources_and_writes_a_model(model, yolo_folder):
    from spermlab.detect.learned.spermnet import read_metadata

    info = json.loads(read_metadata(model)["spermlab_training"])
    inputs = [s["input"] for s in info["sources"]]
    assert inputs[0] == str(yolo_folder) and inputs[1].endswith("S_0002.mp4:" + inputs[1].split(":")[-1])
    assert inputs[2] == "simulated x1"
    assert [s["frames"] for s in info["sources"]] == [6, 19, 8]
    sperm = sum(line.startswith("0 ") for p in (yolo_folder / "labels").iterdir()
                for line in p.read_text().splitlines())  # fmt: skip
    assert info["sources"][0]["heads"] == sperm > 200
    assert info["config"]["steps"] == 6 and info["command"].startswith("spermlab train detector")


def test_analyze_uses_the_given_model_and_records_it(model, yolo_folder, tmp_path):
    out = tmp_path / "r"
    code = main(["analyze", str(yolo_folder / "images"), "--preset", "visem", "--detector-model",
                 str(model), "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    det = summary["parameters"]["detector"]
    assert det["type"] == "SpermNetDetector" and det["model"] == str(model)


def test_analyze_defaults_to_the_shipped_spermnet(yolo_folder, tmp_path):
    out = tmp_path / "r"
    assert main(["analyze", str(yolo_folder / "images"), "--preset", "visem", "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    det = json.loads((out / "summary.json").read_text())["parameters"]["detector"]
    assert det["type"] == "SpermNetDetector" and det["model"].endswith("spermnet.onnx")


def test_a_model_goes_with_spermnet_only(model, yolo_folder, tmp_path, capsys):
    code = main(["analyze", str(yolo_folder / "images"), "--preset", "visem", "--detector",
                 "classical", "--detector-model", str(model), "--out", str(tmp_path / "r")])  # fmt: skip
    assert code == 2
    assert "--detector-model" in capsys.readouterr().err


def test_train_detector_refuses_bad_output_names_and_missing_inputs(tmp_path, capsys):
    require_module("torch", "pip install 'spermlab[train]'")
    assert main(["train", "detector", str(tmp_path), "--out", str(tmp_path / "m.txt"), "--quiet"]) == 2
    assert main(["train", "detector", str(tmp_path / "nope"), "--out", str(tmp_path / "m.onnx"),
                 "--quiet"]) == 1  # fmt: skip
    assert "nope: no such file or folder" in capsys.readouterr().err
    assert main(["train", "detector", str(tmp_path), "--out", str(tmp_path / "m.onnx"), "--quiet"]) == 1
    assert "expected a YOLO layout with images/ and labels/" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_without_torch_training_names_the_pip_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    assert main(["train", "detector", str(tmp_path), "--out", str(tmp_path / "m.onnx")]) == 1
    assert "pip install 'spermlab[train]'" in capsys.readouterr().err
