"""How much of a left-out source's false positives is a handful of still, unannotated objects?

Reading aid for the leave-one-source-out table of ``benchmarks/generalisation.py``: each fold
model (``runs/generalisation/fold_NAME+v.onnx``, made by its ``train`` and ``verify`` stages) runs
on the source it never saw, detections are matched one-to-one to the annotated heads within 8 px
(VISEM cluster boxes ignored, as there), and the unmatched detections (false positives) are
grouped across frames (single linkage, 6 px). A group present in at least half of the frames is
one object that stays put and is never annotated: a dead head, a head-sized particle, or a head
the annotators left out. Such objects cost precision once per frame.

Printed per source: detections, false positives, how many still objects and how many of the false
positives they make, and P / R / F1 as scored next to P / F1 with those objects' detections set
aside. The second pair is **not** a claim (whether the objects are heads is unknown); it says how
much of the gap to the annotations one or two ambiguous objects explain. ``--sheet`` writes a
contact sheet of the objects (100-px crops, the model's detection marked, annotated boxes green).

Run:  .venv/bin/python benchmarks/static_false_positives.py [--sources S1,S2,S3,V1,V2,V3]
      [--models runs/generalisation] [--sheet docs/img/static_false_positives.png]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.cluster.hierarchy import fcluster, linkage  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402
from scipy.spatial.distance import cdist  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generalisation import _per_video, for_scoring, load  # noqa: E402

MATCH_PX = 8.0
GROUP_PX = 6.0


def false_positives(name: str, model: Path) -> tuple[list, np.ndarray, int, int]:
    """Frames, the false positives ``(x, y, frame)``, the scored detections and the heads."""
    from spermlab.calibration import preset
    from spermlab.detect.learned.spermnet import SpermNetDetector

    frames = load(name)
    parts = _per_video(SpermNetDetector(preset("visem"), model=model, threads=2), frames)
    det = for_scoring(pd.concat(parts, ignore_index=True), frames)
    fps, n_heads = [], 0
    for k, f in enumerate(frames):
        d = det[det["frame"] == k]
        xy = d[["x", "y"]].to_numpy()
        n_heads += len(f.boxes)
        matched = np.zeros(len(d), dtype=bool)
        if len(f.boxes) and len(d):
            cost = cdist(xy, f.boxes[:, :2])
            r, c = linear_sum_assignment(np.where(cost <= MATCH_PX, cost, 1e6))
            matched[r[cost[r, c] <= MATCH_PX]] = True
        fps += [(x, y, k) for x, y in xy[~matched]]
    return frames, np.array(fps, dtype=float).reshape(-1, 3), len(det), n_heads


def still_objects(fps: np.ndarray, n_frames: int) -> list[np.ndarray]:
    """Groups of false positives (rows of ``fps``) present in at least half of the frames."""
    if len(fps) < 2:
        return []
    label = fcluster(linkage(fps[:, :2], "single"), GROUP_PX, "distance")
    groups = [fps[label == g] for g in np.unique(label)]
    return [g for g in groups if len(np.unique(g[:, 2])) >= 0.5 * n_frames]


def prf(tp: int, n_det: int, n_heads: int) -> tuple[float, float, float]:
    p, r = tp / max(n_det, 1), tp / max(n_heads, 1)
    return p, r, 2 * p * r / max(p + r, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", default="V1,V2,V3,S1,S2,S3")
    ap.add_argument("--models", type=Path, default=Path("runs/generalisation"))
    ap.add_argument("--variant", default="+v")
    ap.add_argument("--sheet", type=Path, default=None)
    args = ap.parse_args()
    print("| left-out source | frames | detections | false positives | still unannotated objects | "
          "their false positives | P / R / F1 as scored | P / F1 without those objects |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    sheet = []
    for name in args.sources.split(","):
        model = args.models / f"fold_{name}{args.variant}.onnx"
        if not model.is_file():
            raise SystemExit(f"{model}: missing (run benchmarks/generalisation.py train verify first)")
        frames, fps, n_det, n_heads = false_positives(name, model)
        objects = still_objects(fps, len(frames))
        n_obj = sum(len(g) for g in objects)
        tp = n_det - len(fps)
        p, r, f1 = prf(tp, n_det, n_heads)
        p2, _, f12 = prf(tp, n_det - n_obj, n_heads)
        print(f"| {name} | {len(frames)} | {n_det} | {len(fps)} | {len(objects)} | {n_obj} | "
              f"{p:.3f} / {r:.3f} / {f1:.3f} | {p2:.3f} / {f12:.3f} |", flush=True)
        sheet += [(name, frames, g) for g in objects]
    if args.sheet and sheet:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cols = min(8, len(sheet))
        rows = -(-len(sheet) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.5 * rows), squeeze=False)
        for ax in axes.ravel()[len(sheet):]:
            ax.axis("off")
        for ax, (name, frames, g) in zip(axes.ravel()[: len(sheet)], sheet, strict=True):
            x, y, k = int(g[:, 0].mean()), int(g[:, 1].mean()), int(g[0, 2])
            img = frames[k].image
            y0, x0 = max(y - 50, 0), max(x - 50, 0)
            ax.imshow(img[y0:y + 50, x0:x + 50], cmap="gray")
            ax.plot(x - x0, y - y0, "r+", ms=14)
            for bx, by, bw, bh in frames[k].boxes[:, :4]:
                if abs(bx - x) < 50 and abs(by - y) < 50:
                    ax.add_patch(plt.Rectangle((bx - bw / 2 - x0, by - bh / 2 - y0), bw, bh, fill=False, ec="lime"))
            ax.set_title(f"{name} ({x}, {y})\nin {len(np.unique(g[:, 2]))} of {len(frames)} frames", fontsize=8)
            ax.axis("off")
        fig.tight_layout()
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.sheet, dpi=90)
        print(f"\ncontact sheet: {args.sheet}")


if __name__ == "__main__":
    main()
