"""How much HOTA does localisation error alone cost? Video 11's ground truth against itself
with every box centre moved by isotropic Gaussian noise of sigma px (ids and detections
perfect), centre-distance similarity with zero at 10 px, frames 0-999.

Run:  .venv/bin/python benchmarks/hota_localisation_ceiling.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spermlab.evaluate import evaluate_tracking
from spermlab.io.visem import read_visem_tracks

DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    gt = read_visem_tracks(DATA / "visem_tracking" / "11", frames=range(1000)).tracks
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
