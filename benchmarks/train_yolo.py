"""Train the shipped YOLO nano model on VISEM-Tracking video 11 (frames 0-799; 800-999 held out).

Needs the extra: pip install 'spermlab[yolo]'. Nothing is downloaded: the model starts from
Ultralytics' bundled yaml (random init), plots (which would fetch a font) are off.

Run:  python benchmarks/train_yolo.py --out runs/yolo11 [--epochs 30 --every 4 --device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("runs/yolo11"))
    ap.add_argument("--model", default="yolo11n.yaml")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--every", type=int, default=4, help="keep every n-th training frame")
    ap.add_argument("--val-every", type=int, default=1, help="keep every n-th validation frame")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from ultralytics import YOLO

    from spermlab.detect.learned.dataset import export_yolo_dataset

    data = export_yolo_dataset([DATA / "visem_tracking" / "11"], args.out / "dataset",
                               val_start=800, gap_s=1.0, fps=50, every=args.every,
                               val_every=args.val_every)  # fmt: skip
    model = YOLO(args.model)
    t0 = time.perf_counter()
    model.train(data=str(data), epochs=args.epochs, imgsz=args.imgsz, batch=8, device=args.device,
                seed=args.seed, deterministic=True, mosaic=0.0, close_mosaic=0, plots=False,
                amp=False, workers=0, project=str(args.out.resolve()), name="train", exist_ok=True,
                patience=10, verbose=False)  # fmt: skip
    seconds = time.perf_counter() - t0
    metrics = model.val(data=str(data), imgsz=args.imgsz, device=args.device, plots=False,
                        verbose=False)  # fmt: skip
    card = {"model": args.model, "epochs": args.epochs, "every": args.every, "imgsz": args.imgsz,
            "device": args.device, "train_seconds": round(seconds, 1),
            "ultralytics_val": {"mAP50": float(metrics.box.map50), "mAP50-95": float(metrics.box.map),
                                "P": float(metrics.box.mp), "R": float(metrics.box.mr)}}  # fmt: skip
    (args.out / "card.json").write_text(json.dumps(card, indent=2))
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
