"""The YOLO weights shipped in the package: present, small, described by their card, and as good
on held-out frames of video 11 as the card says (within a margin for the few frames used here)."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.conftest import require_module

require_module("ultralytics", "pip install 'spermlab[yolo]'")

from spermlab import preset  # noqa: E402
from spermlab.cli import main  # noqa: E402
from spermlab.detect.learned.yolo import YoloDetector, shipped_weights  # noqa: E402
from spermlab.evaluate import evaluate_detections  # noqa: E402
from spermlab.io.visem import read_visem_detections  # noqa: E402

HELD_OUT = range(900, 920)  # 20 of the 200 held-out frames (800-999): a few seconds on a CPU


def _card() -> str:
    return (shipped_weights().parent / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_shipped_weights_are_small_and_match_their_card():
    w = shipped_weights()
    assert w.stat().st_size < 20e6
    assert hashlib.sha256(w.read_bytes()).hexdigest() in _card()


def test_shipped_model_finds_heads_on_held_out_frames(data_dir):
    video = data_dir / "visem_tracking" / "11"
    det = YoloDetector(preset("visem"), device="cpu")
    images = [np.asarray(Image.open(video / "images" / f"11_frame_{n}.jpg").convert("L")) for n in HELD_OUT]
    pred = pd.concat(det.detect_batch(images, list(HELD_OUT)), ignore_index=True)
    gt = read_visem_detections(video, frames=HELD_OUT)
    got = evaluate_detections(pred, gt, match="distance", max_distance=8.0, classes=[0]).per_class[0]
    # the card's F1 over all 200 held-out frames, less 0.05 for sampling 20 of them
    card_f1 = float(re.search(r"\| YOLO11n \(this model[^|]*grey frames \| [\d.]+ \| [\d.]+ \| ([\d.]+) \|", _card()).group(1))
    assert got.f1 >= card_f1 - 0.05, (got.f1, card_f1)


def test_analyze_uses_the_shipped_onnx_model_by_default(data_dir, tmp_path):
    from spermlab.detect.learned.yolo_onnx import shipped_onnx

    frames = tmp_path / "frames"
    frames.mkdir()
    for n in range(4):
        (frames / f"11_frame_{n}.jpg").symlink_to(data_dir / "visem_tracking" / "11" / "images" / f"11_frame_{n}.jpg")
    out = tmp_path / "r"
    assert main(["analyze", str(frames), "--preset", "visem", "--detector", "yolo", "--out", str(out), "--quiet"]) == 0
    params = json.loads((out / "summary.json").read_text())["parameters"]["detector"]
    assert params["weights"] == str(shipped_onnx()) and params["runtime"] == "onnxruntime"
    assert params["weights_sha256"] == hashlib.sha256(shipped_onnx().read_bytes()).hexdigest()


def test_training_can_start_from_the_shipped_weights(data_dir, tmp_path):
    from spermlab.detect.learned.dataset import export_yolo_dataset
    from spermlab.detect.learned.train import train_yolo

    data = export_yolo_dataset([data_dir / "visem_tracking" / "11"], tmp_path / "ds", val_start=40,
                               gap_s=0.2, fps=50, every=10, val_every=400)  # fmt: skip
    weights, trainer = train_yolo(data, tmp_path / "run", model="spermlab", epochs=1, imgsz=96,
                                  batch=4, device="cpu", val=False)  # fmt: skip
    assert weights.is_file() and trainer.epoch == 0
    assert trainer.args.model == str(shipped_weights())
