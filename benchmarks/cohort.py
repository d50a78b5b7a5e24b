"""A simulated cohort with known truth: the rule-based CASA shares and an ML prediction, side by side.

``--samples`` simulated VISEM-like videos (640x480, 50 fps, ``--duration`` s; grade mixes from a
flat Dirichlet and concentrations 30-100 x 10^6/mL drawn from one fixed generator, seeds
8000+) go through the whole pipeline (``spermlab batch``); truth is each sample's share of
simulated cells seen long enough to be graded (:func:`spermlab.simulate.truth_percentages`).

* CASA: spermlab's per-track shares PR = a+b, NP = c, IM = d, against the truth.
* ML: features from the results (``spermlab predict features``) and cross-validated models
  (ZeroR, ridge, random forest; 10 folds, 5 seeds; the three shares predicted together, summing
  to 100), against the same truth.

Per method and target: MAE, Bland-Altman bias (mean) and 95 % limits of agreement, Pearson r.

Run:  .venv/bin/python benchmarks/cohort.py [--samples 40] [--duration 4] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

CACHE = Path(tempfile.gettempdir()) / "spermlab-bench" / "cohort"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from spermlab.batch import Sample, run_batch
    from spermlab.evaluate.agreement import bland_altman
    from spermlab.predict.features import features_table
    from spermlab.predict.train import cross_validate
    from spermlab.simulate import SimulationConfig, simulate, truth_percentages, write_simulation

    rng = np.random.default_rng(40)
    videos = CACHE / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    truth_rows, samples = [], []
    for i in range(args.samples):
        mix = np.round(rng.dirichlet(np.ones(4)), 4)
        mix[-1] = round(1 - mix[:-1].sum(), 4)
        conc = float(np.round(rng.uniform(30, 100), 1))
        sim = simulate(SimulationConfig(duration_s=args.duration, concentration=conc,
                                        mix=tuple(float(m) for m in mix)), rng=8000 + i)  # fmt: skip
        dest = videos / f"c{i:03d}.mp4"
        if not dest.is_file():
            files = write_simulation(sim, CACHE / "tmp", stem=f"c{i:03d}")
            shutil.move(str(files.video), dest)
            shutil.rmtree(CACHE / "tmp", ignore_errors=True)
        t = truth_percentages(sim.cells, min_points=10)
        truth_rows.append({"sample_id": dest.stem, "PR": t["rapid"] + t["slow"],
                           "NP": t["non_progressive"], "IM": t["immotile"]})  # fmt: skip
        samples.append(Sample(dest.stem, dest))
    out = CACHE / "study"
    run_batch(samples, out, cal_args={"um_per_px": 0.2475, "fps": None, "depth_um": 20.0, "preset_name": None},
              workers=args.workers)  # fmt: skip
    truth = pd.DataFrame(truth_rows).dropna()
    feats = features_table([out])
    data = feats.merge(truth, on="sample_id")
    x = data[[c for c in feats.columns if c != "sample_id"]]
    y = data[["PR", "NP", "IM"]]
    casa = data[["pct_a", "pct_b", "pct_c", "pct_d"]]
    casa_pred = pd.DataFrame({"PR": casa["pct_a"] + casa["pct_b"], "NP": casa["pct_c"], "IM": casa["pct_d"]})
    cv = cross_validate(x, y, models=["zeror", "ridge", "rf"], k=10, seeds=5, shares=True)
    rows = []
    for t in ("PR", "NP", "IM"):
        ba = bland_altman(casa_pred[t], y[t])
        rows.append({"method": "CASA (rules)", "target": t, "mae": float(np.mean(np.abs(casa_pred[t] - y[t]))),
                     "bias": ba.bias_mean, "loa_low": ba.loa_low, "loa_high": ba.loa_high,
                     "r": float(np.corrcoef(casa_pred[t], y[t])[0, 1])})  # fmt: skip
    for r in cv.table.itertuples(index=False):
        rows.append({"method": f"ML {r.model} (10-fold CV)", "target": r.target, "mae": r.mae,
                     "bias": r.bias_mean, "loa_low": r.loa_low, "loa_high": r.loa_high, "r": r.pearson_r})  # fmt: skip
    table = pd.DataFrame(rows)
    print(f"{len(data)} simulated samples of {args.duration:g} s (truth: cells seen >= 10 frames)")
    print("| method | target | MAE (points) | bias | 95 % LoA | r |")
    print("|---|---|---|---|---|---|")
    for r in table.sort_values(["target", "method"]).itertuples(index=False):
        print(f"| {r.method} | {r.target} | {r.mae:.1f} | {r.bias:+.1f} | {r.loa_low:+.1f} to {r.loa_high:+.1f} | {r.r:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
