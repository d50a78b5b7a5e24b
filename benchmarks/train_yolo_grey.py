"""Retrain the YOLO path on grey frames of every annotated source and export it to ONNX.

Starts from the shipped YOLO11n (trained on VISEM-Tracking video 11, frames < 750) and
fine-tunes it on the development sources of docs/validation.md, as ``spermlab analyze``
streams them (grey): VISEM blocks V1-V3 (every 2nd frame), SVIA clips S1-S3 (each frame
three times, so bright field weighs about as much as phase contrast) and the simulated
frames with a randomised look (the same 320 as SpermNet's). The final-test sources V4 and
S4 are not used. Per-epoch validation is off (``val=False``): the last epoch is kept.
Classes: 0 sperm, 1 cluster (VISEM), as the shipped model's head.

The result is exported to ONNX (``--install`` copies it into the package as the default
YOLO model, run by onnxruntime without torch).

Run:  .venv/bin/python benchmarks/train_yolo_grey.py --out runs/yolo_grey --hours 0.6 [--install]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generalisation as g  # noqa: E402

REPEAT = {"visem": 1, "svia": 3, "sim": 1}


def write_dataset(root: Path) -> Path:
    """YOLO layout of the development sources, grey PNGs; returns data.yaml."""
    if (root / "data.yaml").exists():
        return root / "data.yaml"
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    n = 0
    for name in [*g.DEV, "sim"]:
        frames = g.load(name)
        if name.startswith("V"):
            frames = frames[::2]
        for f in frames:
            h, w = f.image.shape
            lines = [f"0 {x / w:.6f} {y / h:.6f} {bw / w:.6f} {bh / h:.6f}" for x, y, bw, bh in f.boxes]
            lines += [f"1 {x / w:.6f} {y / h:.6f} {bw / w:.6f} {bh / h:.6f}" for x, y, bw, bh in f.ignore]
            for k in range(REPEAT[g.group(f)]):
                stem = f"{f.source}_{f.frame}_{k}"
                Image.fromarray(f.image).save(root / "images" / "train" / f"{stem}.png")
                (root / "labels" / "train" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
                n += 1
    # Ultralytics needs a val entry; with val=False it only checks it exists
    for p in sorted((root / "images" / "train").iterdir())[:4]:
        shutil.copy(p, root / "images" / "val" / p.name)
        lbl = root / "labels" / "train" / f"{p.stem}.txt"
        shutil.copy(lbl, root / "labels" / "val" / lbl.name)
    data = root / "data.yaml"
    data.write_text(f"path: {root.resolve()}\ntrain: images/train\nval: images/val\n"
                    "names:\n  0: sperm\n  1: cluster\n  2: small_or_pinhead\n")
    print(f"dataset: {n} training images", flush=True)
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/yolo_grey"))
    ap.add_argument("--hours", type=float, default=0.6)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--install", action="store_true", help="copy the ONNX model into the package")
    args = ap.parse_args()
    from spermlab.detect.learned.train import train_yolo
    from spermlab.detect.learned.yolo import shipped_weights

    data = write_dataset(args.out / "dataset")
    t0 = time.perf_counter()
    weights, trainer = train_yolo(data, args.out, model=str(shipped_weights()), epochs=300,
                                  hours=args.hours, batch=args.batch, device="cpu", val=False)
    from spermlab.detect.learned.train import export_yolo_onnx

    onnx_path = export_yolo_onnx(weights)
    info = {"weights": str(weights), "onnx": str(onnx_path), "epochs": trainer.epoch + 1,
            "hours": (time.perf_counter() - t0) / 3600, "start": str(shipped_weights())}
    (args.out / "train_info.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info, indent=1))
    if args.install:
        dest = shipped_weights().parent / "yolo11n_grey.onnx"
        shutil.copy(onnx_path, dest)
        print(f"installed: {dest}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
