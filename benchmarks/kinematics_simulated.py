"""Kinematics against exact truth: spermlab.measure on the simulator's true head paths.

Measures VCL, VSL, VAP, ALH and BCF of every motile simulated cell seen for >= 40 frames
(no detection or linking error: the true positions) and prints the median ratio to the
simulator's truth with its 10th-90th percentiles, for the fixed 0.1-s running average and
for the adaptive average path (spermlab's default).

Run:  .venv/bin/python benchmarks/kinematics_simulated.py [--seeds 3]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from spermlab.analysis.kinematics import KinematicsParams, measure
from spermlab.simulate import SimulationConfig, simulate


def truth_tracks(sim) -> pd.DataFrame:
    fr = sim.frames[sim.frames["visible"]]
    return pd.DataFrame({"frame": fr["frame"], "x": fr["x_px"], "y": fr["y_px"], "w": 17.0,
                         "h": 17.0, "cls": 0, "score": 1.0, "track_id": fr["cell_id"]}).reset_index(drop=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for seed in range(args.seeds):
        sim = simulate(SimulationConfig(duration_s=3, concentration=150, drift_um_s=(0, 0)), rng=seed)
        t = truth_tracks(sim)
        for adaptive in (False, True):
            k = measure(t, sim.calibration, params=KinematicsParams(min_points=40, adaptive=adaptive))
            k = k.merge(sim.cells, left_on="track_id", right_on="cell_id", suffixes=("", "_true"))
            k = k[k["grade_true"] != "d"]
            for c in ("vcl", "vsl", "vap", "alh", "bcf"):
                r = (k[c] / k[f"{c}_true"]).replace([np.inf, -np.inf], np.nan).dropna()
                rows.append({"average path": "adaptive" if adaptive else "fixed 0.1 s", "measure": c,
                             "seed": seed, **{f"r{i}": v for i, v in enumerate(r)}})  # fmt: skip
    df = pd.DataFrame(rows)
    out = []
    for (avg, m), g in df.groupby(["average path", "measure"], sort=False):
        r = g.drop(columns=["average path", "measure", "seed"]).to_numpy().ravel()
        r = r[np.isfinite(r)]
        out.append({"average path": avg, "measure": m, "cells": len(r), "median ratio": np.median(r),
                    "p10": np.quantile(r, 0.1), "p90": np.quantile(r, 0.9)})  # fmt: skip
    print(pd.DataFrame(out).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
