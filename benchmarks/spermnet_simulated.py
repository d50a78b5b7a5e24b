"""SpermNet and the classical detector on a simulated VISEM-like video (the demo's look).

One second (50 frames) of ``simulate(SimulationConfig(duration_s=1.0), rng=3)``: phase
contrast at 0.2475 µm/px with the simulator's default debris and round cells. Sperm heads
against the exact truth, one-to-one within 8 px; SpermNet adapted to the first frame, as the
pipeline does. Shows how many simulated debris particles each detector takes for heads.

Run:  .venv/bin/python benchmarks/spermnet_simulated.py [--model FILE.onnx]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="SpermNet model (default: shipped)")
    args = ap.parse_args()
    from spermlab.calibration import preset
    from spermlab.detect import ClassicalDetector
    from spermlab.detect.learned.spermnet import SpermNetDetector
    from spermlab.evaluate import evaluate_detections
    from spermlab.simulate import SimulationConfig, simulate

    sim = simulate(SimulationConfig(duration_s=1.0), rng=3)
    cal = preset("visem")
    print(f"{'detector':10s} {'per frame':>9s} {'truth':>6s} {'P':>6s} {'R':>6s} {'F1':>6s}")
    for name, det in (("spermnet", SpermNetDetector(cal, model=args.model)),
                      ("classical", ClassicalDetector(cal))):  # fmt: skip
        frames = list(sim)
        det = det.adapted_to(frames[0].image)
        pred = pd.concat([det.detect(f.image, f.index) for f in frames], ignore_index=True)
        r = evaluate_detections(pred, sim.tracks, match="distance", max_distance=8.0).overall
        print(f"{name:10s} {len(pred) / sim.n_frames:9.1f} {len(sim.tracks) / sim.n_frames:6.1f} "
              f"{r.precision:6.3f} {r.recall:6.3f} {r.f1:6.3f}")


if __name__ == "__main__":
    main()
