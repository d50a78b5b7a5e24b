"""The YOLO path without torch: letterbox, NMS, and parity with Ultralytics' own predict."""

import numpy as np
import pytest

from spermlab import preset
from spermlab.detect.learned.yolo_onnx import YoloOnnxDetector, letterbox, nms
from tests.conftest import require_module


def test_letterbox_pads_to_the_stride_and_keeps_the_aspect():
    img = np.full((480, 640), 7, dtype=np.uint8)
    x, r, left, top = letterbox(img, 640)
    assert x.shape == (3, 480, 640) and (r, left, top) == (1.0, 0.0, 0.0)
    x, r, left, top = letterbox(np.zeros((528, 698), np.uint8), 640)
    assert r == pytest.approx(640 / 698) and x.shape == (3, 512, 640) and top == 14.0
    assert x[0, 0, 0] == pytest.approx(114 / 255) and x[0, 20, 5] == 0.0
    x, *_ = letterbox(img, 640, stride=None)
    assert x.shape == (3, 640, 640) and x[1, 80, 0] == pytest.approx(7 / 255)


def test_nms_keeps_the_best_of_overlapping_boxes_only():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    scores = np.array([0.5, 0.9, 0.4, 0.3])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]  # IoU(0, 1) = 81/119 > 0.5
    assert nms(boxes, scores, 0.7).tolist() == [1, 0, 2]  # 0.68 < 0.7; box 3 = box 0
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_onnx_detections_equal_ultralytics_predict(data_dir, tmp_path):
    require_module("ultralytics", "pip install 'spermlab[yolo]'")
    require_module("onnx", "pip install 'spermlab[train]'")
    import shutil

    from spermlab.detect.learned.train import export_yolo_onnx
    from spermlab.detect.learned.yolo import YoloDetector, shipped_weights
    from spermlab.io.frames import read_grey

    pt = tmp_path / "m.pt"
    shutil.copy(shipped_weights(), pt)
    onnx_path = export_yolo_onnx(pt)
    from PIL import Image

    frame = read_grey(data_dir / "visem_tracking" / "11" / "images" / "11_frame_3.jpg")
    big = np.asarray(Image.fromarray(frame).resize((720, 540), Image.BILINEAR))
    frames = [frame, big]  # as is (640x480), and one that the letterbox shrinks
    a = YoloOnnxDetector(preset("visem"), model=onnx_path)
    b = YoloDetector(preset("visem"), weights=pt, device="cpu")
    for im in frames:
        da = a.detect(im).sort_values(["x", "y"]).reset_index(drop=True)
        db = b.detect(im).sort_values(["x", "y"]).reset_index(drop=True)
        assert len(da) == len(db) > 0
        # a shrunk frame differs by OpenCV's fixed-point resize rounding (< 0.1 px)
        np.testing.assert_allclose(da[["x", "y", "w", "h"]], db[["x", "y", "w", "h"]], atol=0.1)
        np.testing.assert_allclose(da["score"], db["score"], atol=0.01)
        assert (da["cls"] == db["cls"]).all()


def test_shipped_yolo_runs_without_torch_and_finds_heads_in_bright_field(data_dir):
    import hashlib
    import subprocess
    import sys

    from spermlab.detect.learned.annotated import from_voc_clip
    from spermlab.detect.learned.yolo_onnx import shipped_onnx

    card = (shipped_onnx().parent / "YOLO11N_GREY_CARD.md").read_text(encoding="utf-8")
    assert hashlib.sha256(shipped_onnx().read_bytes()).hexdigest() in card
    assert shipped_onnx().stat().st_size < 20e6
    frame = from_voc_clip(data_dir / "videos" / "svia" / "S_0001.mp4", frames=[0])[0]
    det = YoloOnnxDetector(preset("visem")).detect(frame.image)
    assert (det["cls"] == 0).sum() >= 0.7 * len(frame.boxes)  # the VISEM-only model found ~0
    code = ("import sys, numpy as np; from spermlab import preset; "
            "from spermlab.detect.learned.yolo_onnx import YoloOnnxDetector; "
            "YoloOnnxDetector(preset('visem')).detect(np.full((96, 128), 90, np.uint8)); "
            "assert 'torch' not in sys.modules and 'ultralytics' not in sys.modules")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
