"""Settings of the flagellum test on the development seeds, exact head positions (development).

The development samples of ``benchmarks/flagellum_simulated.py --dev`` (seeds 100-111, 3 s,
half phase contrast, half bright field, half the c cells stuck by the head) are simulated once
and kept in memory; for each setting the flagellar activity is measured on the simulator's exact
head positions (isolating the measure from detection and linking), the tracks are graded, and c
versus d recall and precision are printed per optics. Nothing here is a test figure: these seeds
shaped the measure.

Run:  .venv/bin/python benchmarks/flagellum_sweep.py     (~2 min)
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from dataclasses import replace  # noqa: E402

import pandas as pd  # noqa: E402

from flagellum_simulated import c_vs_d, draw_samples  # noqa: E402

#: (FlagellumParams changes, grading threshold flagellum_um2 or None for the default)
SETTINGS = [({}, None), ({"k_sigma": 3.0}, None), ({"k_sigma": 2.5}, None), ({"k_sigma": 3.0}, 5.0),
            ({"outer_um": 40.0}, None), ({"lag_s": 0.08}, None), ({}, 4.0), ({}, 2.0)]  # fmt: skip


def main() -> None:
    from spermlab.analysis.flagellum import FlagellumParams, flagellum_per_detection, track_flagellum
    from spermlab.analysis.kinematics import measure
    from spermlab.analysis.motility import grade
    from spermlab.io.source import Frame
    from spermlab.pipeline import Pipeline
    from spermlab.simulate import SimulationConfig, simulate

    sims = []
    for spec in draw_samples(12, True):
        cfg = SimulationConfig(duration_s=3.0, concentration=spec["concentration"], mix=spec["mix"],
                               look=spec["look"], stuck_fraction=0.5, brownian_debris_density=0.3)  # fmt: skip
        sim = simulate(cfg, rng=spec["seed"])
        sims.append((spec, [Frame(f.index, f.image.copy(), f.timestamp) for f in sim], sim))
    pipe = Pipeline(sims[0][2].calibration)
    print("| setting | phase recall / precision | bright field | both |")
    print("|---|---|---|---|")
    for changes, um2 in SETTINGS:
        params = replace(FlagellumParams(), **changes)
        grading = pipe.grading if um2 is None else replace(pipe.grading, flagellum_um2=um2)
        rows = []
        for spec, frames, sim in sims:
            values = flagellum_per_detection(frames, sim.tracks, sim.calibration, params)
            kin = measure(sim.tracks, sim.calibration, params=pipe.kinematics)
            kin["flagellum"] = kin["track_id"].map(track_flagellum(sim.tracks, values, fps=sim.calibration.fps))
            g = grade(kin.astype({"flagellum": float}), params=grading)
            truth = sim.cells.set_index("cell_id")[["grade", "model"]].rename(columns={"grade": "true_grade"})
            rows.append(g[["track_id", "grade", "flagellum"]].join(truth, on="track_id").assign(look=spec["look"]))
        df = pd.concat(rows)
        cells = []
        for part in (df[df["look"] == "phase"], df[df["look"] == "brightfield"], df):
            r = c_vs_d(part["true_grade"], part["grade"])
            cells.append(f"{r['recall']:.3f} / {r['precision']:.3f}")
        label = ", ".join(f"{k}={v}" for k, v in changes.items()) or "shipped"
        label += f", flagellum_um2={um2:g}" if um2 is not None else ""
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
        if not changes and um2 is None:
            stuck = df[df["model"] == "stuck"].groupby("look")["flagellum"].median().round(2).to_dict()
            print(f"| (shipped: median activity of stuck cells, µm²: {stuck}) | | | |")


if __name__ == "__main__":
    main()
