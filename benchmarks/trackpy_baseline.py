"""The peer the core flow must beat: trackpy at the settings a published VISEM pipeline used.

trackpy.locate(diameter=11, minmass=900) on every frame of VISEM-Tracking video 11
(frames 0-999), trackpy.link(search_range=5, memory=3); each detection gets the
annotation tool's default 17x18 px box. Scored with spermlab.evaluate against the
video's ground truth (sperm class for detection; all boxes for tracking, as the
tracks of the GT hold both classes).

Run:  .venv/bin/python benchmarks/trackpy_baseline.py [--frames 1000]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import pandas as pd

DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def run_trackpy(folder: Path, n_frames: int) -> tuple[pd.DataFrame, float, float]:
    import trackpy as tp

    from spermlab.io.frames import FrameFolder

    tp.quiet()
    src = FrameFolder(folder / "images", stop=n_frames)
    t0 = time.perf_counter()
    parts = []
    for fr in src:
        f = tp.locate(fr.image, diameter=11, minmass=900)
        f["frame"] = fr.index
        parts.append(f)
    t_locate = time.perf_counter() - t0
    feats = pd.concat(parts, ignore_index=True)
    t0 = time.perf_counter()
    linked = tp.link(feats, search_range=5, memory=3)
    t_link = time.perf_counter() - t0
    tracks = pd.DataFrame({
        "frame": linked["frame"].to_numpy(), "x": linked["x"].to_numpy(), "y": linked["y"].to_numpy(),
        "w": 17.0, "h": 18.0, "cls": 0, "score": linked["mass"].to_numpy() / linked["mass"].max(),
        "track_id": linked["particle"].to_numpy(),
    })  # fmt: skip
    return tracks, t_locate, t_link


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=1000)
    args = ap.parse_args()
    from spermlab.evaluate import evaluate_detections, evaluate_tracking
    from spermlab.io.visem import read_visem_tracks

    folder = DATA / "visem_tracking" / "11"
    gt = read_visem_tracks(folder, frames=range(args.frames)).tracks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred, t_locate, t_link = run_trackpy(folder, args.frames)
    gt_sperm = gt[gt["cls"] == 0].reset_index(drop=True)
    det = evaluate_detections(pred, gt_sperm, match="distance", max_distance=8.0)
    det_iou = evaluate_detections(pred, gt_sperm, match="iou", iou_threshold=0.5)
    rows = {
        "frames": args.frames,
        "P@8px": det.overall.precision, "R@8px": det.overall.recall, "F1@8px": det.overall.f1,
        "AP50 (IoU, 17x18 boxes)": det_iou.overall.ap50,
        "locate fps": args.frames / t_locate, "link fps": args.frames / t_link,
    }  # fmt: skip
    for sim, z in [("iou", None), ("distance", 10.0)]:
        kw = {"zero_distance": z} if z else {}
        tr = evaluate_tracking(pred, gt, similarity=sim, n_frames=args.frames, **kw).to_dict(percent=True)
        for k in ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW"):
            rows[f"{k} ({sim})"] = tr[k]
    width = max(map(len, rows))
    for k, v in rows.items():
        print(f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
