"""A YOLO model exported to ONNX, run by onnxruntime: the YOLO path without torch.

Ultralytics exports YOLOv8/YOLO11 detectors with one input ``images`` (N, 3, S, S), RGB in
0-1, letterboxed (aspect kept, padded with grey 114) and one output (N, 4 + classes, anchors):
box centre and size in input pixels, then one score per class. This module does the same
pre- and post-processing as ``ultralytics.YOLO.predict`` (letterbox, confidence filter,
per-class non-maximum suppression at IoU 0.7, boxes mapped back to the frame), so that a
model trained with ``spermlab yolo train`` or ``benchmarks/train_yolo_grey.py`` runs in the
core install. Non-maximum suppression is written here (a few lines of numpy) because
onnxruntime has none for this output layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spermlab.calibration import Calibration
from spermlab.detect.learned.runtime import onnx_session, sha256_file
from spermlab.detect.learned.shipped import shipped_file
from spermlab.tables import DETECTIONS, empty

__all__ = ["YoloOnnxDetector", "letterbox", "nms", "shipped_onnx"]

SHIPPED = "yolo11n_grey.onnx"


def shipped_onnx() -> Path:
    """The YOLO11n ONNX model shipped with spermlab (card: ``weights/MODEL_CARD.md``)."""
    return shipped_file(SHIPPED, "--weights FILE.onnx")


def letterbox(image: np.ndarray, size: int, stride: int | None = 32) -> tuple[np.ndarray, float, float, float]:
    """Grey or RGB image → (3, H', W') float32 in 0-1, scale, x pad, y pad (Ultralytics'
    LetterBox: shrink or grow to fit ``size``, centre, pad with 114 to a multiple of
    ``stride`` (``predict``'s rectangular inference), or to ``size`` x ``size`` when
    ``stride`` is None)."""
    im = np.asarray(image)
    if im.ndim == 2:
        im = np.repeat(im[:, :, None], 3, axis=2)
    h, w = im.shape[:2]
    r = min(size / h, size / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    if (nw, nh) != (w, h):
        im = _resize_linear(im, nw, nh)
    ow, oh = (size, size) if stride is None else (-(-nw // stride) * stride, -(-nh // stride) * stride)
    px, py = (ow - nw) / 2, (oh - nh) / 2
    top, left = int(round(py - 0.1)), int(round(px - 0.1))
    canvas = np.full((oh, ow, 3), 114, dtype=np.uint8)
    canvas[top:top + nh, left:left + nw] = im
    return canvas.transpose(2, 0, 1).astype(np.float32) / 255.0, r, float(left), float(top)


def _resize_linear(im: np.ndarray, nw: int, nh: int) -> np.ndarray:
    """OpenCV's ``INTER_LINEAR`` resize (half-pixel centres, no anti-aliasing), which
    Ultralytics uses; Pillow's bilinear filter anti-aliases when shrinking and differs."""
    from scipy import ndimage as ndi

    h, w = im.shape[:2]
    ys = np.clip((np.arange(nh) + 0.5) * (h / nh) - 0.5, 0, h - 1)
    xs = np.clip((np.arange(nw) + 0.5) * (w / nw) - 0.5, 0, w - 1)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    out = np.empty((nh, nw, im.shape[2]), dtype=np.uint8)
    for c in range(im.shape[2]):
        v = ndi.map_coordinates(im[:, :, c].astype(np.float32), [yy, xx], order=1, mode="nearest")
        out[:, :, c] = np.clip(np.rint(v), 0, 255)
    return out


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (boxes x0, y0, x1, y1), best first."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while len(order):
        i = order[0]
        keep.append(i)
        rest = order[1:]
        xx0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx1 - xx0, 0, None) * np.clip(yy1 - yy0, 0, None)
        union = area[i] + area[rest] - inter
        order = rest[inter <= iou * np.maximum(union, 1e-12)]
    return np.asarray(keep, dtype=np.int64)


@dataclass
class YoloOnnxDetector:
    """An Ultralytics YOLO detector exported to ONNX, as a spermlab detector.

    Parameters
    ----------
    calibration : Calibration
        Recorded with the results (YOLO works in pixels).
    model : path, optional
        The ``.onnx`` file; default :func:`shipped_onnx`.
    conf : float
        Score threshold (Ultralytics' default 0.25).
    iou : float
        IoU threshold of the per-class non-maximum suppression (Ultralytics' default 0.7).
    threads : int, optional
        onnxruntime intra-op threads.
    """

    calibration: Calibration
    model: str | PathLike[str] | None = None
    conf: float = 0.25
    iou: float = 0.7
    threads: int | None = None
    _session: Any = field(default=None, repr=False, compare=False)
    _size: int = field(default=640, repr=False, compare=False)
    _stride: int | None = field(default=32, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.model = shipped_onnx() if self.model is None else Path(self.model)
        if not Path(self.model).is_file():
            raise FileNotFoundError(f"YOLO model not found: {self.model} (pass --weights FILE.onnx)")
        self._session = onnx_session(self.model, threads=self.threads)
        shape = self._session.get_inputs()[0].shape
        if isinstance(shape[2], int):  # exported with a fixed square input
            self._size, self._stride = int(shape[2]), None
        else:  # dynamic: rectangular input as Ultralytics' predict uses
            meta = self._session.get_modelmeta().custom_metadata_map
            self._size = int(str(meta.get("imgsz", "[640, 640]")).strip("[]").split(",")[0])
            self._stride = int(meta.get("stride", 32))

    @property
    def params(self) -> dict[str, Any]:
        """JSON-ready parameters (recorded in summary.json)."""
        path = Path(self.model)
        return {"weights": str(path), "weights_sha256": sha256_file(path),
                "conf": self.conf, "iou": self.iou, "imgsz": self._size, "runtime": "onnxruntime"}  # fmt: skip

    def detect(self, image: np.ndarray, frame: int = 0) -> pd.DataFrame:
        """Detections of one grey ``(H, W)`` or RGB ``(H, W, 3)`` frame."""
        x, r, left, top = letterbox(image, self._size, self._stride)
        name = self._session.get_inputs()[0].name
        (out,) = self._session.run(None, {name: x[None]})
        pred = out[0].T  # anchors x (4 + classes)
        scores = pred[:, 4:]
        cls = scores.argmax(axis=1)
        score = scores[np.arange(len(cls)), cls]
        ok = score >= self.conf
        if not ok.any():
            return empty(DETECTIONS)
        cx, cy, w, h = (pred[ok, k].astype(np.float64) for k in range(4))
        cls, score = cls[ok], score[ok].astype(np.float64)
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        offset = cls[:, None] * 4096.0  # per-class NMS in one pass, as Ultralytics does
        keep = nms(xyxy + offset, score, self.iou)
        height, width = np.shape(image)[:2]
        b = (xyxy[keep] - [left, top, left, top]) / r  # back to frame pixels, clipped as Ultralytics
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, width)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, height)
        n = len(keep)
        return pd.DataFrame({
            "frame": np.full(n, int(frame), dtype=np.int64),
            "x": (b[:, 0] + b[:, 2]) / 2, "y": (b[:, 1] + b[:, 3]) / 2,
            "w": b[:, 2] - b[:, 0], "h": b[:, 3] - b[:, 1],
            "cls": cls[keep].astype(np.int64), "score": score[keep],
        })  # fmt: skip
