import sys
from types import SimpleNamespace

import numpy as np
import pytest

from spermlab import preset
from spermlab.cli import main
from spermlab.detect.learned.yolo import results_to_detections
from spermlab.tables import DETECTIONS, validate

class _T:  # the slice of torch.Tensor that Results.boxes exposes
    def __init__(self, a):
        self.a = np.asarray(a)

    def cpu(self):
        return self

    def numpy(self):
        return self.a

    def __len__(self):
        return len(self.a)


class _Boxes:
    def __init__(self, xywh, cls, conf):
        self.xywh, self.cls, self.conf = _T(xywh), _T(cls), _T(conf)

    def __len__(self):
        return len(self.xywh)


def test_results_become_a_detections_table():
    res = SimpleNamespace(boxes=_Boxes([[10.0, 20.0, 17.0, 18.0], [5.0, 6.0, 7.0, 8.0]],
                                       [0.0, 1.0], [0.9, 0.3]))  # fmt: skip
    det = validate(results_to_detections(res, frame=7), DETECTIONS)
    assert det["frame"].tolist() == [7, 7]
    assert det[["x", "y", "w", "h"]].to_numpy().tolist() == [[10, 20, 17, 18], [5, 6, 7, 8]]
    assert det["cls"].tolist() == [0, 1] and det["score"].tolist() == [0.9, 0.3]
    for empty_res in (SimpleNamespace(boxes=None), SimpleNamespace(boxes=_Boxes([], [], []))):
        assert list(results_to_detections(empty_res, 0).columns) == list(DETECTIONS)


def test_missing_extra_names_the_pip_command(tmp_path, capsys, monkeypatch):
    from spermlab.detect.learned.yolo import YoloDetector

    monkeypatch.setitem(sys.modules, "ultralytics", None)  # as if the extra were not installed

    with pytest.raises(ImportError, match=r"pip install 'spermlab\[yolo\]'"):
        YoloDetector(preset("visem"), weights=tmp_path / "w.pt")
    frames = tmp_path / "frames"
    frames.mkdir()
    from PIL import Image

    Image.fromarray(np.full((48, 64), 90, np.uint8)).save(frames / "f_frame_0.png")
    (tmp_path / "w.pt").write_bytes(b"not read: the import fails first")
    code = main(["analyze", str(frames), "--preset", "visem", "--detector", "yolo", "--weights",
                 str(tmp_path / "w.pt"), "--out", str(tmp_path / "r"), "--quiet"])  # fmt: skip
    assert code == 1  # .pt weights need torch; the shipped .onnx model does not
    assert "pip install 'spermlab[yolo]'" in capsys.readouterr().err


def test_yolo_train_without_the_extra_names_the_pip_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", None)
    (tmp_path / "data.yaml").write_text("path: .\n")
    assert main(["yolo", "train", str(tmp_path / "data.yaml"), "--quiet"]) == 1
    assert "pip install 'spermlab[yolo]'" in capsys.readouterr().err


def test_frames_reach_ultralytics_as_bgr():
    from spermlab.detect.learned.yolo import _to_bgr

    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert (_to_bgr(grey) == grey[:, :, None]).all() and _to_bgr(grey).shape == (3, 4, 3)
    rgb = np.stack([grey, grey + 100, grey + 200], axis=2)
    bgr = _to_bgr(rgb)
    assert (bgr[..., 0] == rgb[..., 2]).all() and (bgr[..., 2] == rgb[..., 0]).all()
    with pytest.raises(ValueError, match=r"grey \(H, W\) or RGB \(H, W, 3\).*\(3, 4, 4\)"):
        _to_bgr(np.zeros((3, 4, 4), np.uint8))
