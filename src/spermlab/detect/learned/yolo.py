"""YOLO (Ultralytics) behind the Detections contract; optional extra ``spermlab[yolo]``.

Nothing is downloaded at run time: weights are a local ``.pt`` file, by default the nano
model shipped in the package (``weights/yolo11n_visem11.pt``, its card beside it in
``weights/MODEL_CARD.md``); training starts from a model yaml or from spermlab's own weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spermlab.calibration import Calibration
from spermlab.detect.learned.runtime import sha256_file
from spermlab.detect.learned.shipped import shipped_file
from spermlab.tables import DETECTIONS, empty

__all__ = ["YoloDetector", "require_ultralytics", "results_to_detections", "shipped_weights"]

INSTALL = "pip install 'spermlab[yolo]'"
SHIPPED = "yolo11n_visem11.pt"


def shipped_weights() -> Path:
    """Path of the YOLO11n weights shipped with spermlab (trained on VISEM-Tracking video 11,
    frames 0-749; see ``weights/MODEL_CARD.md`` for data, command and held-out metrics)."""
    return shipped_file(SHIPPED, "--weights FILE.pt")


def default_device() -> str:
    """``"0"`` (the first CUDA GPU) when torch sees one, else ``"cpu"``."""
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


def require_ultralytics() -> Any:
    """Import Ultralytics or raise an ImportError that names the pip command.

    Sets ``YOLO_OFFLINE=1`` unless the caller set it: Ultralytics then skips its online checks
    (spermlab downloads nothing at run time).
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    try:
        import ultralytics
    except ImportError as e:
        raise ImportError(f"the YOLO detector needs Ultralytics and torch: {INSTALL}") from e
    return ultralytics


def results_to_detections(result: Any, frame: int) -> pd.DataFrame:
    """One Ultralytics ``Results`` (boxes in px, centre format) → a Detections table."""
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return empty(DETECTIONS)
    xywh = np.asarray(boxes.xywh.cpu().numpy(), dtype=np.float64)
    n = len(xywh)
    return pd.DataFrame({
        "frame": np.full(n, int(frame), dtype=np.int64),
        "x": xywh[:, 0], "y": xywh[:, 1], "w": xywh[:, 2], "h": xywh[:, 3],
        "cls": np.asarray(boxes.cls.cpu().numpy(), dtype=np.int64),
        "score": np.asarray(boxes.conf.cpu().numpy(), dtype=np.float64),
    })  # fmt: skip


@dataclass
class YoloDetector:
    """A trained YOLO model as a spermlab detector (``detect(image, frame)``).

    Parameters
    ----------
    calibration : Calibration
        Recorded with the results (YOLO works in pixels).
    weights : path, optional
        A local Ultralytics ``.pt`` file; default :func:`shipped_weights`.
    conf : float
        Score threshold.
    imgsz : int
        Inference size (640: VISEM's width; sperm heads are ~17 px objects).
    device : str, optional
        ``"cpu"`` or a CUDA device such as ``"0"``; default the GPU when torch sees one, else
        the CPU.
    batch_size : int
        Frames per forward pass when the pipeline streams a video.
    """

    calibration: Calibration
    weights: str | PathLike[str] | None = None
    conf: float = 0.25
    imgsz: int = 640
    device: str | None = None
    batch_size: int = 8
    _model: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        require_ultralytics()
        if self.weights is None:
            self.weights = shipped_weights()
        if not Path(self.weights).is_file():
            raise FileNotFoundError(f"YOLO weights not found: {self.weights} (pass --weights FILE.pt)")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.device is None:
            self.device = default_device()
        from ultralytics import YOLO

        self._model = YOLO(str(self.weights))

    @property
    def params(self) -> dict[str, Any]:
        """JSON-ready parameters (recorded in summary.json)."""
        return {"weights": str(self.weights), "weights_sha256": sha256_file(self.weights),
                "conf": self.conf, "imgsz": self.imgsz, "device": self.device}  # fmt: skip

    def detect(self, image: np.ndarray, frame: int = 0) -> pd.DataFrame:
        """Detections of one frame: grey (H, W) or RGB colour (H, W, 3).

        The shipped model was trained on VISEM's colour JPEGs; on grey frames (what spermlab's
        frame sources stream) its held-out AP50 is ~0.04 lower (BENCHMARKS.md section 11).
        """
        return self.detect_batch([image], [frame])[0]

    def detect_batch(self, images: list[np.ndarray], frames: list[int]) -> list[pd.DataFrame]:
        """Batched inference: one Detections table per image."""
        if not images:
            return []
        bgr = [_to_bgr(im) for im in images]
        results = self._model.predict(bgr, imgsz=self.imgsz, conf=self.conf, device=self.device,
                                      verbose=False)  # fmt: skip
        return [results_to_detections(r, f) for r, f in zip(results, frames, strict=True)]


def _to_bgr(image: np.ndarray) -> np.ndarray:
    """Grey (H, W) → 3 equal channels; RGB (H, W, 3) → BGR, the order Ultralytics expects."""
    im = np.asarray(image, dtype=np.uint8)
    if im.ndim == 2:
        return np.repeat(im[:, :, None], 3, axis=2)
    if im.ndim == 3 and im.shape[2] == 3:
        return np.ascontiguousarray(im[:, :, ::-1])
    raise ValueError(f"expected a grey (H, W) or RGB (H, W, 3) image, got shape {im.shape}")
