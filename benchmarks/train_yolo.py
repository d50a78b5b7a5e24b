"""Train the shipped YOLO nano model on VISEM-Tracking video 11 (frames < 750; 800-999 held out).

Needs the extra: pip install 'spermlab[yolo]'. Nothing is downloaded: the model starts from
Ultralytics' bundled ``yolo11n.yaml`` (random initialisation); the settings are spermlab's
(``spermlab.detect.learned.train.TRAIN_DEFAULTS``: mosaic with ±25 % scale jitter, flips both
ways, no hue/saturation jitter, no plots, no AMP check).

With ``--hours`` Ultralytics fits the number of epochs (and the learning-rate schedule) to the
time budget; the card records how many epochs that was. Per-epoch validation is off (``val=False``)
so no checkpoint is chosen on the held-out frames: the shipped weights are the last epoch's.

Run:  .venv/bin/python benchmarks/train_yolo.py --out runs/yolo11 --hours 1.65 --every 2
      (the shipped model: 2-core CPU; on a GPU add --device 0 and raise --hours or --epochs)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("runs/yolo11"))
    ap.add_argument("--model", default="yolo11n.yaml")
    ap.add_argument("--epochs", type=int, default=300, help="upper bound when --hours is given")
    ap.add_argument("--hours", type=float, default=None, help="train for this wall time")
    ap.add_argument("--every", type=int, default=2, help="keep every n-th training frame")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import torch
    import ultralytics

    from spermlab.detect.learned.dataset import export_yolo_dataset
    from spermlab.detect.learned.train import TRAIN_DEFAULTS, train_yolo

    data = export_yolo_dataset([DATA / "visem_tracking" / "11"], args.out / "dataset",
                               val_start=800, gap_s=1.0, fps=50, every=args.every)  # fmt: skip
    t0 = time.perf_counter()
    weights, trainer = train_yolo(data, args.out, model=args.model, epochs=args.epochs,
                                  hours=args.hours, imgsz=args.imgsz, batch=args.batch,
                                  device=args.device, seed=args.seed, val=False, cache="ram")  # fmt: skip
    seconds = time.perf_counter() - t0
    split = json.loads((data.parent / "split.json").read_text())
    card = {
        "weights": str(weights), "model": args.model, "epochs_run": int(trainer.epoch) + 1,
        "hours_budget": args.hours, "train_seconds": round(seconds, 1), "every": args.every,
        "batch": args.batch, "imgsz": args.imgsz, "seed": args.seed, "settings": TRAIN_DEFAULTS,
        "split": split["rule"], "train_frames": sum(len(v) for v in split["train"].values()),
        "val_frames": sum(len(v) for v in split["val"].values()),
        "hardware": {"device": args.device, "cpu": platform.processor() or platform.machine(),
                     "cpu_count": os.cpu_count(),
                     "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "versions": {"ultralytics": ultralytics.__version__, "torch": torch.__version__},
    }  # fmt: skip
    (args.out / "card.json").write_text(json.dumps(card, indent=2))
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
