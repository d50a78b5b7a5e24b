"""Linker accuracy and speed on ground-truth positions: spermlab vs trackpy.

The ground-truth tracks are stripped of their ids, linked again, and scored against
the truth with HOTA (Luiten et al. 2021), IDF1 (Ristani et al. 2016) and identity
switches (CLEAR MOT), computed by TrackEval with a centre-distance similarity
``max(0, 1 - d / zero_distance)``. Detection is perfect by construction (DetA = 100),
so the scores measure association alone.

Data (``$SPERMLAB_DATA`` or ``../shared/data``):

- VISEM-Tracking video 11, frames 0-999, every box of ``labels_ftid`` (both classes),
  50 fps, calibration preset ``visem`` (0.2475 µm/px);
- Hart et al. 2025 hand-corrected tracks P001, P002, P004: 9 fps, 1.0476 µm/px.

Both linkers run with one set of parameters for every file: spermlab with its
defaults (in µm/s, so they carry over from 50 to 9 fps), trackpy with
``search_range`` 10, 20 and 30 px and ``memory=3``.

The zero distance is 10 px for every file (a 0.5 similarity, the TrackEval match
threshold, is then 5 px). With exact positions, a correct match has similarity 1
whatever the zero distance, which only decides whether a wrong-id detection lying
within it of a true position can match. ``--zero-distance-um`` instead fixes it in µm
(2.475 µm is 10 px on VISEM and 2.36 px on Hart); the ranking does not change.

Run: ``.venv/bin/python benchmarks/linker_gt.py [--zero-distance-um 2.475]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from spermlab.calibration import Calibration, preset
from spermlab.track import link

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPERMLAB_DATA", REPO.parent / "shared" / "data"))
HART_CAL = Calibration(um_per_px=1.0476, fps=9.0, sources={"um_per_px": "Hart et al. 2025 "
                       "configs/10X.json", "fps": "Hart et al. 2025 VideoInfo.docx"})
SEARCH_RANGES = (10, 20, 30)


def load_visem_gt(folder: Path, n_frames: int = 1000) -> pd.DataFrame:
    """All boxes of ``labels_ftid`` as ``frame x y w h cls gt_id`` (px, int ids)."""
    rows = []
    for n in range(n_frames):
        path = folder / "labels_ftid" / f"{folder.name}_frame_{n}_with_ftid.txt"
        for line in path.read_text().splitlines():
            tid, cls, xc, yc, w, h = line.split()
            rows.append((n, tid, int(cls), float(xc) * 640, float(yc) * 480,
                         float(w) * 640, float(h) * 480))
    df = pd.DataFrame(rows, columns=["frame", "tid", "cls", "x", "y", "w", "h"])
    df["gt_id"] = pd.factorize(df["tid"])[0]
    return df.drop(columns="tid")


def load_hart_gt(path: Path) -> pd.DataFrame:
    """A Hart et al. 2025 CSV as ``frame x y w h cls gt_id`` (rows sorted by frame)."""
    raw = pd.read_csv(path).sort_values(["frame", "sperm"], kind="stable")
    return pd.DataFrame({
        "frame": raw["frame"].astype(int).to_numpy(), "x": raw["x"].to_numpy(),
        "y": raw["y"].to_numpy(), "w": 0.0, "h": 0.0, "cls": 0,
        "gt_id": raw["sperm"].astype(int).to_numpy(),
    })


def trackeval_scores(gt: pd.DataFrame, pred_ids: np.ndarray, zero_distance: float) -> dict:
    """HOTA, AssA, DetA, IDF1 (percent) and IDSW of ``pred_ids`` (aligned with ``gt``'s rows)."""
    import trackeval  # optional test dependency

    n_t = int(gt["frame"].max()) + 1
    g_ids = pd.factorize(gt["gt_id"])[0]
    p_ids = pd.factorize(pred_ids)[0]
    data: dict = {"num_timesteps": n_t, "num_gt_ids": int(g_ids.max()) + 1,
                  "num_tracker_ids": int(p_ids.max()) + 1, "num_gt_dets": len(gt),
                  "num_tracker_dets": len(gt), "gt_ids": [], "tracker_ids": [],
                  "similarity_scores": []}
    frames = gt["frame"].to_numpy()
    xy = gt[["x", "y"]].to_numpy()
    for t in range(n_t):
        rows = np.flatnonzero(frames == t)
        d = np.linalg.norm(xy[rows, None] - xy[None, rows], axis=2)
        data["gt_ids"].append(g_ids[rows])
        data["tracker_ids"].append(p_ids[rows])
        data["similarity_scores"].append(np.maximum(0.0, 1.0 - d / zero_distance))
    cfg = {"PRINT_CONFIG": False}
    hota = trackeval.metrics.HOTA(cfg).eval_sequence(data)
    clear = trackeval.metrics.CLEAR(cfg).eval_sequence(data)
    ident = trackeval.metrics.Identity(cfg).eval_sequence(data)
    return {"HOTA": 100 * hota["HOTA"].mean(), "AssA": 100 * hota["AssA"].mean(),
            "DetA": 100 * hota["DetA"].mean(), "IDF1": 100 * ident["IDF1"],
            "IDSW": int(clear["IDSW"])}


def timed(fn: Callable[[], np.ndarray], repeats: int = 3) -> tuple[np.ndarray, float]:
    """Result of ``fn`` and its best wall time over ``repeats`` runs, s."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def spermlab_ids(gt: pd.DataFrame, cal: Calibration) -> np.ndarray:
    det = gt[["frame", "x", "y", "w", "h", "cls"]].assign(score=1.0)
    return link(det, cal)["track_id"].to_numpy()


def trackpy_ids(gt: pd.DataFrame, search_range: float) -> np.ndarray:
    import trackpy  # optional test dependency

    trackpy.quiet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = trackpy.link(gt[["frame", "x", "y"]].copy(), search_range=search_range, memory=3)
    return out.loc[gt.index, "particle"].to_numpy()


def sequences() -> list[tuple[str, pd.DataFrame, Calibration]]:
    seqs = [("VISEM 11 (0-999)", load_visem_gt(DATA / "visem_tracking" / "11"), preset("visem"))]
    for k in (1, 2, 4):
        path = DATA / "hart2025_tracks" / f"video_P00{k}_corrected.csv"
        seqs.append((f"Hart P00{k}", load_hart_gt(path), HART_CAL))
    return seqs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zero-distance-um", type=float, default=None,
                        help="HOTA zero distance in µm (default: 10 px on every file)")
    args = parser.parse_args()
    rows = []
    for name, gt, cal in sequences():
        zd = 10.0 if args.zero_distance_um is None else args.zero_distance_um / cal.um_per_px
        n_frames = int(gt["frame"].max()) + 1
        ids, dt = timed(lambda gt=gt, cal=cal: spermlab_ids(gt, cal))
        row = {"sequence": name, "frames": n_frames, "dets/frame": len(gt) / n_frames,
               "zero dist px": zd, **{f"spermlab {k}": v for k, v in
                                      trackeval_scores(gt, ids, zd).items() if k != "DetA"},
               "spermlab fps": n_frames / dt}
        tp_fps = []
        for s in SEARCH_RANGES:
            ids, dt = timed(lambda gt=gt, s=s: trackpy_ids(gt, s))
            row[f"trackpy{s} HOTA"] = trackeval_scores(gt, ids, zd)["HOTA"]
            tp_fps.append(n_frames / dt)
        row["trackpy fps (10/20/30)"] = "/".join(f"{f:.0f}" for f in tp_fps)
        rows.append(row)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
