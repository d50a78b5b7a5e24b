"""What the linker's gap closing does on real detections: memory and gap reach, ablated.

Relinks the detections of a ``spermlab analyze`` run of VISEM-Tracking video 11 with
different ``memory`` (frames a track may be missed) and ``gap_reach_um`` settings, and
scores each against the annotated tracks (HOTA and IDF1, centre distance, zero at
10 px). Also counts links that jump more than 50 px between consecutive detections of
one track (a track captured by another cell).

Run:  .venv/bin/spermlab analyze ../shared/data/visem_tracking/11 --preset visem --out r11
      .venv/bin/python benchmarks/linker_ablation.py r11
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

from spermlab import preset
from spermlab.evaluate import evaluate_tracking
from spermlab.io.visem import read_visem_tracks
from spermlab.track import link

DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def jumps(tracks: pd.DataFrame, px: float = 50.0) -> int:
    t = tracks.sort_values(["track_id", "frame"])
    same = t["track_id"].to_numpy()[1:] == t["track_id"].to_numpy()[:-1]
    step = np.hypot(np.diff(t["x"].to_numpy()), np.diff(t["y"].to_numpy()))[same]
    return int((step > px).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("results", type=Path, help="results folder of `spermlab analyze` on video 11")
    args = ap.parse_args()
    gt = read_visem_tracks(DATA / "visem_tracking" / "11", frames=range(1000)).tracks
    det = pd.read_parquet(args.results / "detections.parquet")
    cal = preset("visem")
    far = 1e6  # an unlimited gap reach: it then grows with the gap, as trackpy's does
    settings = [("memory 3 frames", {"memory": 3}),
                ("memory 25 frames (0.5 s), unlimited reach", {"memory": 25, "gap_reach_um": far}),
                ("memory 25 frames (0.5 s), default reach (spermlab)", {"memory": 25})]  # fmt: skip
    print("setting                                             HOTA   IDF1  tracks  jumps>50px")
    for name, kw in settings:
        tr = link(det, cal, n_frames=1000, **kw)
        r = evaluate_tracking(tr, gt, similarity="distance", zero_distance=10.0, n_frames=1000)
        print(f"{name:<50} {100 * r.hota:5.1f}  {100 * r.idf1:5.1f}  {tr['track_id'].nunique():6d}"
              f"  {jumps(tr):10d}")


if __name__ == "__main__":
    main()
