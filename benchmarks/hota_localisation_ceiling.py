"""How much HOTA does localisation error alone cost? Video 11's ground truth against itself
with every box centre moved by isotropic Gaussian noise of sigma px (ids and detections
perfect), centre-distance similarity with zero at 10 px, frames 0-999.

With ``--pred RESULTS_DIR`` (a ``spermlab analyze`` folder of video 11) it also prints that
analysis's localisation error: the median distance and the mean offset between its sperm
detections and the annotated box centres they match one-to-one within 8 px.

Run:  .venv/bin/python benchmarks/hota_localisation_ceiling.py [--pred r11]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from spermlab.evaluate import evaluate_tracking
from spermlab.io.visem import read_visem_tracks

DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def localisation_error(pred: pd.DataFrame, gt: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Offsets pred - gt of one-to-one matches within 8 px, all frames."""
    offsets = []
    for f, g in gt.groupby("frame"):
        p = pred[pred["frame"] == f]
        if p.empty:
            continue
        d = np.hypot(p["x"].to_numpy()[:, None] - g["x"].to_numpy()[None],
                     p["y"].to_numpy()[:, None] - g["y"].to_numpy()[None])  # fmt: skip
        r, c = linear_sum_assignment(np.where(d <= 8, d, 1e6))
        ok = d[r, c] <= 8
        offsets.append(np.c_[p["x"].to_numpy()[r[ok]] - g["x"].to_numpy()[c[ok]],
                             p["y"].to_numpy()[r[ok]] - g["y"].to_numpy()[c[ok]]])  # fmt: skip
    o = np.vstack(offsets)
    return np.hypot(o[:, 0], o[:, 1]), o


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pred", type=Path, help="results folder of `spermlab analyze` on video 11")
    args = ap.parse_args()
    gt = read_visem_tracks(DATA / "visem_tracking" / "11", frames=range(1000)).tracks
    if args.pred is not None:
        pred = pd.read_parquet(args.pred / "detections.parquet")
        err, off = localisation_error(pred[pred["cls"] == 0], gt[gt["cls"] == 0])
        print(f"{args.pred}: {len(err)} matches, median error {np.median(err):.2f} px, "
              f"mean offset x {off[:, 0].mean():+.2f} y {off[:, 1].mean():+.2f} px, "
              f"sd {off[:, 0].std():.2f} / {off[:, 1].std():.2f} px")
    rng = np.random.default_rng(0)
    print("sigma px  median error px   HOTA   DetA   AssA   LocA   IDF1")
    for sigma in (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0):
        noise = rng.normal(0.0, sigma, size=(len(gt), 2))
        pred = gt.assign(x=gt["x"] + noise[:, 0], y=gt["y"] + noise[:, 1])
        r = evaluate_tracking(pred, gt, similarity="distance", zero_distance=10.0, n_frames=1000)
        err = float(np.median(np.hypot(noise[:, 0], noise[:, 1])))
        print(f"{sigma:8.1f}  {err:15.2f}  {100 * r.hota:5.1f}  {100 * r.deta:5.1f}  "
              f"{100 * r.assa:5.1f}  {100 * r.loca:5.1f}  {100 * r.idf1:5.1f}")


if __name__ == "__main__":
    main()
