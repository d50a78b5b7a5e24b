"""Accuracy and speed of the classical detector on VISEM-Tracking video 11 and SVIA.

VISEM-Tracking video 11, frames 0-999 (JPEGs read with Pillow), sperm class (cls 0 of
``labels/11_frame_<n>.txt``):

* P, R, F1: one-to-one (Hungarian) matching per frame at centre distance <= 8 px, of
  the detections the detector returns (score >= ``min_score``, 0.5);
* AP50: every candidate (``min_score=0``) ranked by score over all frames (trackpy:
  its detections at minmass 900, ranked by mass), matched greedily (highest score
  first) to the nearest free ground-truth head within 8 px (``AP@8px``), or to the
  free box of highest IoU >= 0.5 (``AP@IoU.5``); all-point interpolated (VOC 2010);
* frames per second of ``detect`` alone (decoding excluded), on one thread.

Reported for frames 0-999, 0-499 (where the detector was developed) and 500-999
(held out), side by side with trackpy.locate(diameter=11, minmass=900), whose
detections get the annotation tool's default 17x18 px box and are ranked by mass.

SVIA (bright field, ``videos/svia/S_000k.mp4`` with the Pascal VOC boxes of
``svia/subset_A``, ``NNNN`` 1-based): detections per frame against the ``S`` boxes,
mean absolute count error per frame and Pearson correlation, for the default detector
(polarity "auto") and for a bright-field setting without the flagellum test.

Run:  .venv/bin/python benchmarks/detector_video11.py [--frames 1000] [--json out.json]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

from spermlab.calibration import Calibration, preset  # noqa: E402
from spermlab.detect import ClassicalDetector, detect_source  # noqa: E402
from spermlab.io.source import Frame  # noqa: E402

DATA = Path(
    os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
RADIUS = 8.0


# ------------------------------------------------------------------------- matching
def hungarian(pred: np.ndarray, truth: np.ndarray, radius: float = RADIUS) -> int:
    """Number of one-to-one matches with centre distance <= radius."""
    if len(pred) == 0 or len(truth) == 0:
        return 0
    d = np.hypot(pred[:, None, 0] - truth[None, :, 0], pred[:, None, 1] - truth[None, :, 1])
    cost = np.where(d <= radius, d, 1e6)
    i, j = linear_sum_assignment(cost)
    return int((cost[i, j] <= radius).sum())


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (x, y, w, h centre form): (n, m)."""
    ax0, ax1 = a[:, 0] - a[:, 2] / 2, a[:, 0] + a[:, 2] / 2
    ay0, ay1 = a[:, 1] - a[:, 3] / 2, a[:, 1] + a[:, 3] / 2
    bx0, bx1 = b[:, 0] - b[:, 2] / 2, b[:, 0] + b[:, 2] / 2
    by0, by1 = b[:, 1] - b[:, 3] / 2, b[:, 1] + b[:, 3] / 2
    iw = np.clip(np.minimum(ax1[:, None], bx1[None]) - np.maximum(ax0[:, None], bx0[None]), 0, None)
    ih = np.clip(np.minimum(ay1[:, None], by1[None]) - np.maximum(ay0[:, None], by0[None]), 0, None)
    inter = iw * ih
    return inter / (a[:, 2:].prod(1)[:, None] + b[:, 2:].prod(1)[None] - inter)


def greedy_flags(pred: pd.DataFrame, truth: pd.DataFrame, mode: str) -> np.ndarray:
    """True-positive flag of each prediction, matched greedily by decreasing score."""
    order = np.argsort(-pred["score"].to_numpy(), kind="stable")
    flags = np.zeros(len(pred), dtype=bool)
    if len(truth) == 0 or len(pred) == 0:
        return flags
    p, t = pred[["x", "y", "w", "h"]].to_numpy(), truth[["x", "y", "w", "h"]].to_numpy()
    if mode == "dist":
        quality = -np.hypot(p[:, None, 0] - t[None, :, 0], p[:, None, 1] - t[None, :, 1])
        ok = quality >= -RADIUS
    else:
        quality = iou(p, t)
        ok = quality >= 0.5
    free = np.ones(len(t), dtype=bool)
    for i in order:
        cand = np.flatnonzero(ok[i] & free)
        if len(cand):
            j = cand[np.argmax(quality[i, cand])]
            free[j] = False
            flags[i] = True
    return flags


def average_precision(scores: np.ndarray, flags: np.ndarray, n_truth: int) -> float:
    """All-point interpolated AP (VOC 2010) of pooled, score-ranked detections."""
    if n_truth == 0 or len(scores) == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(flags[order])
    precision = tp / np.arange(1, len(order) + 1)
    recall = tp / n_truth
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * envelope))


# -------------------------------------------------------------------- VISEM video 11
def visem_frames(root: Path, n_frames: int) -> Iterator[Frame]:
    for n in range(n_frames):
        with Image.open(root / "images" / f"11_frame_{n}.jpg") as im:
            yield Frame(index=n, image=np.asarray(im.convert("L")), timestamp=n / 50.0)


def visem_truth(root: Path, n: int) -> pd.DataFrame:
    a = np.loadtxt(root / "labels" / f"11_frame_{n}.txt", ndmin=2)
    a = a[a[:, 0] == 0]
    return pd.DataFrame(
        {"x": a[:, 1] * 640, "y": a[:, 2] * 480, "w": a[:, 3] * 640, "h": a[:, 4] * 480}
    )


def trackpy_detect(image: np.ndarray, frame: int, **kwargs: object) -> pd.DataFrame:
    import trackpy as tp

    f = tp.locate(image, diameter=11, minmass=900, **kwargs)
    return pd.DataFrame({
        "frame": frame, "x": f["x"].to_numpy(), "y": f["y"].to_numpy(), "w": 17.0, "h": 18.0,
        "cls": 0, "score": f["mass"].to_numpy(),
    })  # fmt: skip


def run_visem(root: Path, n_frames: int, with_trackpy: bool) -> tuple[pd.DataFrame, dict]:
    """Per-frame rows: detections, matches and timings of each method."""
    detector = ClassicalDetector(preset("visem"))
    rows, store = [], {"classical": [], "trackpy": []}
    timing = {"classical": 0.0, "trackpy": 0.0}
    adapted = None
    for fr in visem_frames(root, n_frames):
        truth = visem_truth(root, fr.index)
        t0 = time.perf_counter()
        if adapted is None:  # what detect_source does: polarity and scale from frame 0
            adapted = replace(detector.adapted_to(fr.image), min_score=0.0)
        ranked = adapted.detect(fr.image, frame=fr.index)  # every candidate, for AP
        timing["classical"] += time.perf_counter() - t0
        methods = {"classical": ranked}
        if with_trackpy:
            t0 = time.perf_counter()
            methods["trackpy"] = trackpy_detect(fr.image, fr.index)
            timing["trackpy"] += time.perf_counter() - t0
        for name, d in methods.items():
            kept = d[d.score >= detector.min_score] if name == "classical" else d
            pred = kept[["x", "y"]].to_numpy()
            rows.append({
                "method": name, "frame": fr.index, "n_pred": len(kept), "n_true": len(truth),
                "tp": hungarian(pred, truth[["x", "y"]].to_numpy()),
            })  # fmt: skip
            store[name].append(d.assign(
                tp_dist=greedy_flags(d, truth, "dist"), tp_iou=greedy_flags(d, truth, "iou")
            ))
    info = {
        "head_length_px": adapted.head_length_px if adapted else None,
        "implied_um_per_px": adapted.implied_um_per_px if adapted else None,
        "fps": {k: n_frames / v for k, v in timing.items() if v > 0},
        "detections": {k: pd.concat(v, ignore_index=True) for k, v in store.items() if v},
    }
    return pd.DataFrame(rows), info


def summarise(rows: pd.DataFrame, dets: pd.DataFrame, lo: int, hi: int) -> dict[str, float]:
    r = rows[(rows.frame >= lo) & (rows.frame <= hi)]
    d = dets[(dets.frame >= lo) & (dets.frame <= hi)]
    tp, n_pred, n_true = r.tp.sum(), r.n_pred.sum(), r.n_true.sum()
    p, rec = tp / max(n_pred, 1), tp / max(n_true, 1)
    return {
        "P": p, "R": rec, "F1": 2 * p * rec / max(p + rec, 1e-12),
        "AP@8px": average_precision(d.score.to_numpy(), d.tp_dist.to_numpy(), n_true),
        "AP@IoU.5": average_precision(d.score.to_numpy(), d.tp_iou.to_numpy(), n_true),
        "per_frame": n_pred / len(r), "truth_per_frame": n_true / len(r),
    }  # fmt: skip


# ----------------------------------------------------------------------------- SVIA
def svia_truth(folder: Path, video: str, index: int) -> int:
    tree = ET.parse(folder / "subset_A" / f"{video}_{index + 1:04d}.xml")
    return sum(1 for o in tree.findall("object") if o.findtext("name") == "S")


def svia_frames(path: Path) -> Iterator[Frame]:
    import av

    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            yield Frame(index=k, image=frame.to_ndarray(format="gray"), timestamp=k / 30.0)


def run_svia(folder: Path, with_trackpy: bool) -> pd.DataFrame:
    # SVIA publishes no pixel size; the scale is measured (within 0.1-0.6 µm/px).
    cal = Calibration(um_per_px=0.25, fps=30.0, sources={"um_per_px": "assumed", "fps": "file"})
    variants = {
        "classical": ClassicalDetector(cal),
        "classical, no tail, contrast>=20": ClassicalDetector(cal, use_tail=False, min_contrast=20),
    }
    rows = []
    for video in sorted(p.stem for p in folder.glob("S_*.mp4")):
        counts: dict[str, list[int]] = {k: [] for k in variants}
        for name, det in variants.items():
            tables = detect_source(svia_frames(folder / f"{video}.mp4"), det)
            counts[name] = [len(t) for t in tables]
        if with_trackpy:
            counts["trackpy (invert)"] = [
                len(trackpy_detect(f.image, f.index, invert=True))
                for f in svia_frames(folder / f"{video}.mp4")
            ]
        for k in range(len(counts["classical"])):
            truth = svia_truth(folder, video, k)
            for name, c in counts.items():
                rows.append(
                    {"video": video, "frame": k, "method": name, "count": c[k], "truth": truth}
                )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--no-trackpy", action="store_true")
    ap.add_argument("--no-svia", action="store_true")
    ap.add_argument("--json", type=Path, help="write the figures to this JSON file")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", module="trackpy")
    if not args.no_trackpy:
        import trackpy as tp

        tp.quiet()
    out: dict[str, object] = {}
    rows, info = run_visem(args.data / "visem_tracking" / "11", args.frames, not args.no_trackpy)
    half = args.frames // 2
    ranges = {f"0-{args.frames - 1}": (0, args.frames - 1), f"0-{half - 1}": (0, half - 1),
              f"{half}-{args.frames - 1}": (half, args.frames - 1)}  # fmt: skip
    table = []
    for method, dets in info["detections"].items():
        for label, (lo, hi) in ranges.items():
            s = summarise(rows[rows.method == method], dets, lo, hi)
            table.append({"method": method, "frames": label, **s})
    visem = pd.DataFrame(table)
    print(f"VISEM-Tracking video 11, sperm class, {args.frames} frames; match radius {RADIUS:g} px")
    print(visem.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    fps = info["fps"]
    print("frames/s (detect only, 1 thread): " + ", ".join(f"{k} {v:.1f}" for k, v in fps.items()))
    if "trackpy" in fps:
        print(f"speed-up over trackpy: {fps['classical'] / fps['trackpy']:.2f}x")
    print(f"measured head length {info['head_length_px']:.2f} px -> implied "
          f"{info['implied_um_per_px']:.3f} µm/px for a 4.5 µm head (preset 0.2475)")  # fmt: skip
    out["visem"] = visem.to_dict(orient="records")
    out["fps"] = fps
    out["head_length_px"] = info["head_length_px"]
    if not args.no_svia:
        svia = run_svia(args.data / "videos" / "svia", not args.no_trackpy)
        svia["error"] = svia["count"] - svia["truth"]
        summary = svia.groupby("method").apply(
            lambda g: pd.Series({
                "frames": len(g), "truth_per_frame": g.truth.mean(),
                "count_per_frame": g["count"].mean(),
                "MAE": g.error.abs().mean(), "bias": g.error.mean(),
                "r": np.corrcoef(g["count"], g.truth)[0, 1],
            }),  # fmt: skip
            include_groups=False,
        )
        print("\nSVIA subset A (bright field), sperm counts per frame against the S boxes")
        print(summary.to_string(float_format=lambda v: f"{v:.2f}"))
        out["svia"] = summary.reset_index().to_dict(orient="records")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
