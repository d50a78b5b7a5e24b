"""What µm/px reconciles VISEM's clinical concentrations with the official per-frame counts?

For each of the 20 VISEM-Tracking videos: the mean number of annotated sperm per frame
(``sperm_counts_per_frame.csv``) turned into a concentration with spermlab's formula
(:func:`spermlab.analysis.motility.concentration`) at a given µm/px and chamber depth,
against the clinic's concentration of the same participant (``semen_analysis_data.csv``,
video id = participant id). Prints Pearson r, Bland-Altman bias and limits at the optical
µm/px, and the µm/px that best reconciles the two at the stated depth (median of the
per-video values, and the least-squares fit in concentration space).

Run:  .venv/bin/python benchmarks/visem_calibration.py [--depth-um 20]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
W, H = 640, 480
OPTICAL_UM_PER_PX = 9.9 / 40  # IDS UI-2210C 9.9 µm pixel behind a 40x objective, 1x adapter


def table(depth_um: float) -> pd.DataFrame:
    from spermlab.io.visem import read_clinical, read_frame_counts

    counts = read_frame_counts(DATA / "visem_tracking" / "sperm_counts_per_frame.csv")
    per_video = counts.groupby("video_id")["sperm"].agg(["mean", "size"]).reset_index()
    clin = read_clinical(DATA / "visem" / "semen_analysis_data.csv")
    conc_col = "concentration" if "concentration" in clin.columns else "Sperm concentration (x10⁶/mL)"
    merged = per_video.merge(clin[["participant_id", conc_col]], left_on="video_id",
                             right_on="participant_id")  # fmt: skip
    return merged.rename(columns={"mean": "mean_sperm_per_frame", "size": "frames",
                                  conc_col: "clinic_m_per_ml"})[
        ["video_id", "frames", "mean_sperm_per_frame", "clinic_m_per_ml"]]  # fmt: skip


def implied(mean_count: np.ndarray, um_per_px: float, depth_um: float) -> np.ndarray:
    return mean_count / (W * H * um_per_px**2 * depth_um) * 1e12 / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--depth-um", type=float, default=20.0)
    args = ap.parse_args()
    from spermlab.evaluate.agreement import agreement

    t = table(args.depth_um)
    n, c = t["mean_sperm_per_frame"].to_numpy(), t["clinic_m_per_ml"].to_numpy()
    t["implied_at_optical"] = implied(n, OPTICAL_UM_PER_PX, args.depth_um)
    # per-video µm/px that makes the implied concentration equal the clinic's
    t["um_per_px_fit"] = np.sqrt(n / (W * H * args.depth_um * c) * 1e6)
    ls = minimize_scalar(lambda s: np.sum((implied(n, s, args.depth_um) - c) ** 2),
                         bounds=(0.05, 2.0), method="bounded").x  # fmt: skip
    med = float(np.median(t["um_per_px_fit"]))
    pd.set_option("display.width", 120)
    print(t.round(3).to_string(index=False))
    print()
    for name, s in [("optical 0.2475", OPTICAL_UM_PER_PX), (f"median fit {med:.4f}", med),
                    (f"least-squares fit {ls:.4f}", ls)]:  # fmt: skip
        a = agreement(implied(n, s, args.depth_um), c)
        print(f"um/px {name:>24}: r={a.pearson_r:.3f} (p={a.pearson_p:.2g})  bias={a.bias_mean:+.1f}"
              f"  median bias={a.bias_median:+.1f}  LoA=[{a.loa_low:.1f}, {a.loa_high:.1f}]"
              f"  MAE={a.mae:.1f} x10^6/mL")  # fmt: skip
    print(f"\ndepth {args.depth_um:g} µm; n videos = {len(t)}; per-video fitted µm/px: "
          f"median {med:.4f}, IQR {t['um_per_px_fit'].quantile(0.25):.4f}-"
          f"{t['um_per_px_fit'].quantile(0.75):.4f}")


if __name__ == "__main__":
    main()
