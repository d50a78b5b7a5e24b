"""The shipped YOLO model against the classical detector on video 11's held-out frames 800-999.

VISEM-Tracking video 11, frames 800-999 (never seen in training: the model trained on frames
< 750, ``benchmarks/train_yolo.py``), both detectors on the same decoded frames:

* detection, sperm class (cls 0), YOLO on the grey frames spermlab streams and on the JPEGs'
  colour (the model trained on colour), by ``spermlab.evaluate.evaluate_detections``: P, R, F1 at
  centre distance <= 8 px at each detector's operating point (YOLO ``conf`` 0.25, the
  classical ``min_score`` 0.5), AP50 and AP50-95 (COCO 101-point, IoU) and AP@8px over every
  candidate (YOLO at conf 0.001, the classical detector at min_score 0);
* Ultralytics' own ``val`` on the same frames (conf 0.001, NMS IoU 0.7), sperm class and all,
  and the AP50 of spermlab's PR curve integrated by Ultralytics' rule (``AP50_ultralytics_rule``)
  to separate the integration rule from the rest (Ultralytics' val pads each 640x480 frame into
  a 672x512 canvas, its rectangular-batch rule with pad 0.5; prediction uses 640x480);
* the full flow (``Pipeline``: detect, link, grade) on frames 800-999 with each detector, judged
  by ``evaluate_tracking`` against ``labels_ftid`` with centre distance (zero at 10 px), as in
  BENCHMARKS.md section 4;
* CPU inference speed: frames per second of ``detect_batch`` (batch 1 and 8; letterbox,
  forward, NMS, conversion; JPEG decoding excluded) with torch's default threads on this
  machine, and of the classical ``detect`` on one thread.

Run:  .venv/bin/python benchmarks/yolo_heldout.py [--weights W.pt] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from spermlab.calibration import preset
from spermlab.detect import ClassicalDetector
from spermlab.evaluate import evaluate_detections, evaluate_tracking
from spermlab.io.source import Frame
from spermlab.io.visem import read_visem_detections, read_visem_tracks

DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
VIDEO = DATA / "visem_tracking" / "11"
HELD_OUT = range(800, 1000)


def load_frames(numbers: range, mode: str = "L") -> list[Frame]:
    """Frames as spermlab streams them (grey, "L") or as the JPEGs hold them ("RGB")."""
    frames = []
    for n in numbers:
        with Image.open(VIDEO / "images" / f"11_frame_{n}.jpg") as im:
            frames.append(Frame(index=n, image=np.asarray(im.convert(mode)), timestamp=n / 50.0))
    return frames


def run_yolo(det, frames: list[Frame], batch: int) -> tuple[pd.DataFrame, float]:
    t0 = time.perf_counter()
    parts = []
    for i in range(0, len(frames), batch):
        chunk = frames[i : i + batch]
        parts += det.detect_batch([f.image for f in chunk], [f.index for f in chunk])
    return pd.concat(parts, ignore_index=True), time.perf_counter() - t0


def run_classical(det: ClassicalDetector, frames: list[Frame]) -> tuple[pd.DataFrame, float]:
    det = det.adapted_to(frames[0].image)
    t0 = time.perf_counter()
    parts = [det.detect(f.image, f.index) for f in frames]
    return pd.concat(parts, ignore_index=True), time.perf_counter() - t0


def judge(pred: pd.DataFrame, gt: pd.DataFrame, threshold: float) -> dict:
    """Sperm-class P/R/F1 at 8 px (score >= threshold), AP@8px, AP50, AP50-95."""
    dist = evaluate_detections(pred, gt, match="distance", max_distance=8.0,
                               score_threshold=threshold, classes=[0]).per_class[0]  # fmt: skip
    res = evaluate_detections(pred, gt, match="iou", iou_threshold=0.5, classes=[0])
    iou, curve = res.per_class[0], res.curves[0]
    return {"score_threshold": threshold, "n_gt": dist.n_gt, "n_pred": dist.n_pred,
            "P": dist.precision, "R": dist.recall, "F1": dist.f1, "AP@8px": dist.ap,
            "AP50": iou.ap50, "AP50-95": iou.ap50_95,
            "best_F1@8px": dist.best_f1, "best_F1_threshold": dist.best_f1_threshold,
            "AP50_ultralytics_rule": ultralytics_ap(curve.recall, curve.precision)}  # fmt: skip


def ultralytics_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """AP of the same PR curve by Ultralytics' rule (trapezoid over a 101-point linear
    interpolation of the precision envelope) instead of COCO's (mean of the envelope's step
    values at 101 recalls): isolates what the integration rule alone changes."""
    try:
        from ultralytics.utils.metrics import compute_ap
    except ImportError:
        return float("nan")
    return float(compute_ap(list(recall), list(precision))[0])


def ultralytics_val(weights: Path) -> dict:
    """Ultralytics' own val on frames 800-999 (a dataset of links written for the purpose)."""
    from ultralytics import YOLO

    from spermlab.detect.learned.dataset import export_yolo_dataset

    with tempfile.TemporaryDirectory() as tmp:
        data = export_yolo_dataset([VIDEO], Path(tmp) / "ds", val_start=800, gap_s=1.0, fps=50,
                                   every=50)  # fmt: skip
        m = YOLO(str(weights)).val(data=str(data), imgsz=640, batch=8, conf=0.001, iou=0.7,
                                   device="cpu", plots=False, verbose=False,
                                   project=tmp, name="val")  # fmt: skip
    box = m.box
    idx = list(box.ap_class_index)
    sperm = idx.index(0)
    return {"sperm": {"P": float(box.p[sperm]), "R": float(box.r[sperm]),
                      "AP50": float(box.ap50[sperm]), "AP50-95": float(box.ap[sperm])},
            "all": {"P": float(box.mp), "R": float(box.mr), "mAP50": float(box.map50),
                    "mAP50-95": float(box.map)}}  # fmt: skip


def full_flow(detector, frames: list[Frame], gt_tracks: pd.DataFrame) -> dict:
    from spermlab.io.source import FrameSource
    from spermlab.pipeline import Pipeline

    class _Frames(FrameSource):  # the decoded held-out frames as a source
        path = str(VIDEO)
        width, height, fps, n_frames = 640, 480, 50.0, len(frames)

        def __iter__(self):
            return iter(frames)

    result = Pipeline(preset("visem"), detector=detector).run(_Frames())
    pred = result.tracks.assign(frame=result.tracks["frame"] - HELD_OUT.start)
    gt = gt_tracks.assign(frame=gt_tracks["frame"] - HELD_OUT.start)
    r = evaluate_tracking(pred, gt, similarity="distance", zero_distance=10.0, n_frames=len(frames))
    return {"HOTA": r.hota, "DetA": r.deta, "AssA": r.assa, "LocA": r.loca, "MOTA": r.mota,
            "IDF1": r.idf1, "IDSW": int(r.idsw)}  # fmt: skip


def main() -> None:
    from spermlab.detect.learned.yolo import YoloDetector, shipped_weights

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--weights", type=Path, default=None, help="default: the shipped weights")
    ap.add_argument("--json", type=Path, help="write every figure here")
    args = ap.parse_args()
    weights = args.weights or shipped_weights()
    cal = preset("visem")
    frames = load_frames(HELD_OUT)
    gt = read_visem_detections(VIDEO, frames=HELD_OUT)
    gt_tracks = read_visem_tracks(VIDEO, frames=HELD_OUT).tracks

    yolo_all = YoloDetector(cal, weights=weights, conf=0.001, device="cpu")
    pred_yolo, _ = run_yolo(yolo_all, frames, 8)
    pred_colour, _ = run_yolo(yolo_all, load_frames(HELD_OUT, "RGB"), 8)
    yolo_op = YoloDetector(cal, weights=weights, device="cpu")  # conf 0.25: the default
    run_yolo(yolo_op, frames[:8], 8)  # warm-up (the first call builds the predictor)
    _, s1 = run_yolo(yolo_op, frames, 1)
    _, s8 = run_yolo(yolo_op, frames, 8)
    classical = ClassicalDetector(cal)
    pred_cls, sc = run_classical(replace(classical, min_score=0.0), frames)

    out = {
        "frames": [HELD_OUT.start, HELD_OUT.stop - 1], "weights": str(weights),
        "cpu_count": os.cpu_count(),
        "yolo": judge(pred_yolo, gt, yolo_op.conf),
        "yolo_colour_input": judge(pred_colour, gt, yolo_op.conf),
        "classical": judge(pred_cls, gt, classical.min_score),
        "ultralytics_val": ultralytics_val(weights),
        "fps": {"yolo_batch1": len(frames) / s1, "yolo_batch8": len(frames) / s8,
                "classical": len(frames) / sc},
        "full_flow": {"yolo": full_flow(yolo_op, frames, gt_tracks),
                      "classical": full_flow(classical, frames, gt_tracks)},
    }  # fmt: skip
    text = json.dumps(out, indent=2, default=float)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
