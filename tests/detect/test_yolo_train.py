"""The YOLO extra end to end on a tiny model: export, one epoch of training, inference, analyze.

Real Ultralytics and torch (installed by ``make test`` with the ``yolo`` extra), a handful of
VISEM-Tracking video 11 frames at a small image size: seconds, not minutes. What the model
finds is not judged here (one epoch learns nothing); the contract is.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import require_module

require_module("ultralytics", "pip install 'spermlab[yolo]'")

from spermlab import preset  # noqa: E402
from spermlab.cli import main  # noqa: E402
from spermlab.detect.learned.dataset import export_yolo_dataset  # noqa: E402
from spermlab.detect.learned.train import train_yolo  # noqa: E402
from spermlab.detect.learned.yolo import YoloDetector  # noqa: E402
from spermlab.tables import DETECTIONS, validate  # noqa: E402


@pytest.fixture(scope="module")
def tiny(data_dir, tmp_path_factory):
    """A YOLO11n trained for one epoch at 96 px on 6 frames (val: 3 later frames)."""
    root = tmp_path_factory.mktemp("yolo")
    data = export_yolo_dataset([data_dir / "visem_tracking" / "11"], root / "ds", val_start=40,
                               gap_s=0.2, fps=50, every=5, val_every=400)  # fmt: skip
    weights, trainer = train_yolo(data, root / "run", epochs=1, imgsz=96, batch=4, device="cpu",
                                  val=False)  # fmt: skip
    return {"data": data, "weights": weights, "epochs": trainer.epoch + 1, "root": root}


def test_export_feeds_ultralytics_and_training_writes_weights(tiny):
    split = json.loads((tiny["data"].parent / "split.json").read_text())
    # frames < 40 - 10 (gap 0.2 s at 50 fps), every 5th; val from 40, every 400th
    assert split["train"] == {"11": [0, 5, 10, 15, 20, 25]} and split["val"] == {"11": [40, 440, 840]}
    assert tiny["weights"].name == "last.pt" and tiny["weights"].stat().st_size > 100_000
    assert tiny["epochs"] == 1


def test_adapter_returns_detections_in_frame_pixels(tiny, data_dir):
    det = YoloDetector(preset("visem"), weights=tiny["weights"], imgsz=96, conf=0.0001, device="cpu")
    images = [np.asarray(Image.open(data_dir / "visem_tracking" / "11" / "images" / f"11_frame_{n}.jpg")
                         .convert("L")) for n in (900, 901, 902)]  # fmt: skip
    tables = det.detect_batch(images, [900, 901, 902])
    assert len(tables) == 3 and det.detect_batch([], []) == []
    for n, table in zip((900, 901, 902), tables, strict=True):
        table = validate(table, DETECTIONS)
        assert (table["frame"] == n).all()
        if len(table):  # boxes are scaled back from 96 px to the 640x480 frame
            assert table["x"].between(0, 640).all() and table["y"].between(0, 480).all()
            assert table["score"].between(0.0001, 1).all() and table["cls"].isin([0, 1, 2]).all()
    one = det.detect(images[0], 900)
    assert one.equals(tables[0])
    assert det.params["device"] == "cpu" and len(det.params["weights_sha256"]) == 64


def test_analyze_and_detect_verbs_run_yolo(tiny, data_dir, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for n in range(5):
        (frames / f"11_frame_{n}.jpg").symlink_to(data_dir / "visem_tracking" / "11" / "images" / f"11_frame_{n}.jpg")
    out = tmp_path / "r"
    code = main(["analyze", str(frames), "--preset", "visem", "--detector", "yolo",
                 "--weights", str(tiny["weights"]), "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    params = summary["parameters"]["detector"]
    assert params["type"] == "YoloDetector" and params["weights"] == str(tiny["weights"])
    assert summary["n_frames"] == 5
    code = main(["detect", str(frames), "--preset", "visem", "--detector", "yolo",
                 "--weights", str(tiny["weights"]), "--out", str(tmp_path / "d.csv"), "--quiet"])  # fmt: skip
    assert code == 0 and (tmp_path / "d.csv").is_file()


def test_missing_weights_and_bad_batch_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        YoloDetector(preset("visem"), weights=tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        train_yolo(_yaml(tmp_path), tmp_path / "r", model="yolo11n.pt")


def _yaml(tmp_path):
    p = tmp_path / "data.yaml"
    p.write_text("path: .\n")
    return p
