"""YOLO (Ultralytics) behind the Detections contract; optional extra ``spermlab[yolo]``.

Nothing is downloaded at run time: weights are a local ``.pt`` file (training starts
from a model yaml or from spermlab's own weights).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spermlab.calibration import Calibration
from spermlab.tables import DETECTIONS, empty

__all__ = ["YoloDetector", "require_ultralytics", "results_to_detections"]

INSTALL = "pip install 'spermlab[yolo]'"


def require_ultralytics() -> Any:
    """Import Ultralytics or raise an ImportError that names the pip command."""
    try:
        import ultralytics
    except ImportError as e:  # pragma: no cover - depends on the environment
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
    weights : path
        A local Ultralytics ``.pt`` file.
    conf : float
        Score threshold.
    imgsz : int
        Inference size (640: VISEM's width; sperm heads are ~17 px objects).
    device : str
        ``"cpu"`` (default) or a CUDA device such as ``"0"``.
    """

    calibration: Calibration
    weights: str | PathLike[str] | None = None
    conf: float = 0.25
    imgsz: int = 640
    device: str = "cpu"
    _model: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        require_ultralytics()
        if self.weights is None or not Path(self.weights).is_file():
            raise FileNotFoundError(f"YOLO weights not found: {self.weights} (pass --weights FILE.pt)")
        from ultralytics import YOLO

        self._model = YOLO(str(self.weights))

    @property
    def params(self) -> dict[str, Any]:
        """JSON-ready parameters (recorded in summary.json)."""
        return {"weights": str(self.weights), "conf": self.conf, "imgsz": self.imgsz, "device": self.device}

    def detect(self, image: np.ndarray, frame: int = 0) -> pd.DataFrame:
        """Detections of one grey frame."""
        return self.detect_batch([image], [frame])[0]

    def detect_batch(self, images: list[np.ndarray], frames: list[int]) -> list[pd.DataFrame]:
        """Batched inference: one Detections table per image."""
        rgb = [np.repeat(np.asarray(im, dtype=np.uint8)[:, :, None], 3, axis=2) for im in images]
        results = self._model.predict(rgb, imgsz=self.imgsz, conf=self.conf, device=self.device,
                                      verbose=False)  # fmt: skip
        return [results_to_detections(r, f) for r, f in zip(results, frames, strict=True)]
