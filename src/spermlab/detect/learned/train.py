"""Train a YOLO sperm-head detector with Ultralytics, offline and with defaults for tiny objects.

Used by ``spermlab yolo train`` and by ``benchmarks/train_yolo.py`` (which trained the shipped
weights), so both train alike. Sperm heads in VISEM-Tracking are ~10-20 px objects in 640x480
frames, which drives the defaults:

* ``imgsz=640``: VISEM's width, so heads keep their native size (a 320 model would halve them
  below the stride-8 head's comfortable range).
* Mosaic on, scale jitter ±25 % instead of Ultralytics' ±50 %: Ultralytics' mosaic keeps the
  pixel scale of each tile; it is the scale jitter that shrinks heads, and at 0.5x a head is
  ~5 px. Mosaic is switched off for the last ``close_mosaic`` epochs.
* Up-down and left-right flips (a microscope field has no up), no hue/saturation jitter (grey
  phase-contrast video).
* ``plots=False`` and ``amp=False``: Ultralytics' plots fetch a font and its AMP check fetches
  ``yolo11n.pt``; spermlab downloads nothing at run time.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from spermlab.detect.learned.yolo import default_device, require_ultralytics, shipped_weights

__all__ = ["TRAIN_DEFAULTS", "export_yolo_onnx", "train_yolo"]

#: Augmentation and housekeeping settings spermlab passes to ``YOLO.train``.
TRAIN_DEFAULTS: dict[str, Any] = {
    "mosaic": 1.0, "close_mosaic": 5, "scale": 0.25, "flipud": 0.5, "fliplr": 0.5,
    "hsv_h": 0.0, "hsv_s": 0.0, "plots": False, "amp": False, "deterministic": True,
}  # fmt: skip


def train_yolo(
    data: str | PathLike[str],
    out: str | PathLike[str],
    *,
    model: str = "yolo11n.yaml",
    epochs: int = 100,
    hours: float | None = None,
    imgsz: int = 640,
    batch: int = 8,
    device: str | None = None,
    seed: int = 0,
    patience: int = 20,
    val: bool = True,
    workers: int = 0,
    verbose: bool = False,
    **overrides: Any,
) -> tuple[Path, Any]:
    """Train YOLO on a dataset written by :func:`~spermlab.detect.learned.dataset.export_yolo_dataset`.

    Parameters
    ----------
    data : path
        The dataset's ``data.yaml``.
    out : path
        Training folder; weights land in ``out/train/weights``.
    model : str
        A model yaml bundled with Ultralytics (random initialisation, e.g. ``yolo11n.yaml``),
        a local ``.pt`` file, or ``"spermlab"``: fine-tune the weights shipped with spermlab.
    epochs, hours : int, float
        Epochs; with ``hours`` Ultralytics fits the epoch count (and learning-rate schedule)
        to that wall time, ``epochs`` being an upper bound.
    imgsz, batch, device, seed, patience, workers : see Ultralytics' train settings
        ``device=None`` picks the GPU when torch sees one, else the CPU.
    val : bool
        Validate every epoch (for early stopping with ``patience``, choosing ``best.pt``). With
        ``False`` only the last epoch is validated and ``last.pt`` is returned: use this when
        the validation frames are the test frames, so no choice is made on them.
    **overrides
        Any other Ultralytics train setting; overrides :data:`TRAIN_DEFAULTS`.

    Returns
    -------
    weights : Path
        ``best.pt`` (``val=True``) or ``last.pt``.
    trainer : ultralytics trainer
        Its ``epoch`` is the last epoch run (0-based).
    """
    require_ultralytics()
    from ultralytics import YOLO

    if model == "spermlab":
        model = str(shipped_weights())
    data = Path(data)
    if not data.is_file():
        raise FileNotFoundError(f"{data}: no such data.yaml (run `spermlab yolo dataset` first)")
    if model.endswith(".pt") and not Path(model).is_file():
        raise FileNotFoundError(f"{model}: no such weights file (nothing is downloaded)")
    settings = {**TRAIN_DEFAULTS, **overrides}
    if hours is not None:
        settings["time"] = hours
    yolo = YOLO(model)
    yolo.train(data=str(data), epochs=epochs, imgsz=imgsz, batch=batch,
               device=device if device is not None else default_device(), seed=seed,
               patience=patience, val=val, workers=workers, project=str(Path(out).resolve()),
               name="train", exist_ok=True, verbose=verbose, **settings)  # fmt: skip
    weights_dir = Path(yolo.trainer.save_dir) / "weights"
    weights = weights_dir / ("best.pt" if val and (weights_dir / "best.pt").is_file() else "last.pt")
    return weights, yolo.trainer


def export_yolo_onnx(weights: str | PathLike[str]) -> Path:
    """Export Ultralytics ``.pt`` weights to ONNX beside them (dynamic input size, opset 17,
    not simplified: no onnxslim needed) for :class:`~spermlab.detect.learned.yolo_onnx.YoloOnnxDetector`.

    Ultralytics uses torch's TorchScript exporter, which torch 2.14 (spermlab's pin) flags as
    deprecated; the warning is silenced here, nothing else changes.
    """
    import warnings

    require_ultralytics()
    from ultralytics import YOLO

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        out = YOLO(str(weights)).export(format="onnx", imgsz=640, simplify=False, dynamic=True,
                                        opset=17, verbose=False)  # fmt: skip
    return Path(out)
