"""Non-progressive (c) versus immotile (d) on simulated samples with cells stuck by the head.

WHO 2021 grades a cell whose head does not progress but whose flagellum beats as c. The
simulator draws such cells (``stuck_fraction``: head fixed to the glass, tail beating at
2-15 Hz with a tip amplitude of 0.3-10 µm) beside dead cells (Brownian jiggle, still
tails) and freely diffusing debris, in phase contrast and bright field, with exact
per-cell truth. spermlab's whole flow (:class:`spermlab.pipeline.Pipeline`: detect,
link, measure, flagellum, grade) runs on the rendered frames; each of its graded tracks
is matched to the simulated cell whose head it follows (the cell nearest within 8 px in
most of the track's frames). Then, among tracks whose true and assigned grades are both
c or d, recall and precision of c; the same on the exact head positions (the simulator's
tracks, with the flagellum measured from the same frames), which isolates the measure
from detection and linking. Grades a and b do not depend on the flagellum (it can move a
cell from d to c only): the script checks that they are identical with and without it.
The stuck cells graded c are also broken down by their simulated tail tip amplitude.

Seeds: ``--dev`` runs the development seeds (100-111), looked at while the measure was
designed; without it the test seeds of ``docs/validation.md``, each set scored once:
``--test-set 1`` (9101-9124) judged the first measure (the area moved frame by frame),
``--test-set 2`` (9201-9224) the second (movement integrated over 1-s windows, learned
decision), ``--test-set 3`` (9301-9324) the third (the second plus the spectrum of each pixel's
movement), ``--test-set 4`` (9401-9424) the fourth (the third trained with the faintest
stuck beats kept), ``--test-set 5`` (9501-9524, the default) kept for a fifth.

Run:  .venv/bin/python benchmarks/flagellum_simulated.py [--dev | --test-set 2] [--samples 24]
      [--duration 4] [--csv per_cell.csv]
(about 10 s per sample on one core.)
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from spermlab.analysis.flagellum import flagellum_of_tracks  # noqa: E402
from spermlab.analysis.kinematics import measure  # noqa: E402
from spermlab.analysis.motility import grade  # noqa: E402
from spermlab.pipeline import Pipeline  # noqa: E402
from spermlab.simulate import SimulationConfig, simulate  # noqa: E402

MATCH_PX = 8.0

#: Tail-tip half-amplitude bins (µm) of the stuck cells' breakdown (the simulator draws
#: 0.3-10 µm, log-uniform).
TIP_BINS = (0.3, 0.6, 1.0, 2.0, 4.0, 10.0)


def draw_samples(n: int, dev: bool, test_set: int = 1) -> list[dict]:
    """Seeds, optics, mixes and concentrations (fixed generator: the run is deterministic).

    ``test_set`` 1: seeds 9101-... (generator 12, spent on the first measure); 2: seeds
    9201-... (generator 13, spent on the second measure); 3: seeds 9301-... (generator 14,
    spent on the third); 4: seeds 9401-... (generator 15, spent on the fourth); 5: seeds
    9501-... (generator 16, kept for a fifth, docs/validation.md)."""
    rng = np.random.default_rng(11 if dev else 11 + test_set)
    first = 100 if dev else 9001 + 100 * test_set
    out = []
    for i in range(n):
        mix = rng.dirichlet(np.ones(4))
        mix = np.round(mix, 4)
        mix[-1] = round(1.0 - mix[:-1].sum(), 4)
        out.append({"seed": first + i, "look": "phase" if i % 2 == 0 else "brightfield",
                    "mix": tuple(float(m) for m in mix),
                    "concentration": float(np.round(rng.uniform(30, 100), 1))})  # fmt: skip
    return out


def match_tracks(tracks: pd.DataFrame, truth: pd.DataFrame) -> pd.Series:
    """For each predicted track, the simulated cell it follows (-1 if none in most frames)."""
    out = {}
    cells = pd.Series(-1, index=tracks.index)
    for f, pred in tracks.groupby("frame"):
        t = truth[truth["frame"] == f]
        if t.empty:
            continue
        dist, j = cKDTree(t[["x", "y"]].to_numpy()).query(pred[["x", "y"]].to_numpy())
        cells.loc[pred.index] = np.where(dist <= MATCH_PX, t["track_id"].to_numpy()[j], -1)
    for tid, c in cells.groupby(tracks["track_id"]):
        mode = c.mode()
        best = int(mode.iloc[0]) if len(mode) else -1
        out[tid] = best if best >= 0 and (c == best).mean() > 0.5 else -1
    return pd.Series(out, name="cell_id")


def c_vs_d(true: pd.Series, pred: pd.Series) -> dict:
    """Recall and precision of c among cells whose true and assigned grades are c or d."""
    keep = true.isin(["c", "d"]) & pred.isin(["c", "d"])
    t, p = true[keep], pred[keep]
    tp = int(((t == "c") & (p == "c")).sum())
    return {"n": int(keep.sum()), "n_c": int((t == "c").sum()), "tp": tp,
            "recall": tp / max(int((t == "c").sum()), 1),
            "precision": tp / max(int((p == "c").sum()), 1)}  # fmt: skip


def run_sample(spec: dict, duration: float) -> pd.DataFrame:
    cfg = SimulationConfig(duration_s=duration, concentration=spec["concentration"],
                           mix=spec["mix"], look=spec["look"], stuck_fraction=0.5,
                           brownian_debris_density=0.3)  # fmt: skip
    sim = simulate(cfg, rng=spec["seed"])
    pipe = Pipeline(sim.calibration)
    result = pipe.run(sim)
    kin = result.kinematics
    head_only = grade(kin, params=replace(pipe.grading, use_flagellum=False))
    sperm = result.tracks[result.tracks["cls"] == 0].reset_index(drop=True)
    match = match_tracks(sperm, sim.tracks)
    truth = sim.cells.set_index("cell_id")
    truth["tip_um"] = sim._scene.population.tail_amp[truth["swimmer_id"].to_numpy()]
    pred = kin[["track_id", "grade", "flagellum"]].assign(
        head_only=head_only["grade"].to_numpy(), cell_id=kin["track_id"].map(match).to_numpy())
    pred = pred[pred["cell_id"] >= 0].join(truth[["grade", "model", "tip_um", "beat_hz"]].rename(
        columns={"grade": "true_grade"}), on="cell_id")  # fmt: skip
    # exact positions: the simulator's tracks, flagellum measured from the same frames
    fla = flagellum_of_tracks(sim, sim.tracks, sim.calibration, pipe.flagellum)
    ek = measure(sim.tracks, sim.calibration, params=pipe.kinematics)
    ek["flagellum"] = ek["track_id"].map(fla).astype(float)
    exact = grade(ek, params=pipe.grading)
    exact_head = grade(ek, params=replace(pipe.grading, use_flagellum=False))
    exact = exact[["track_id", "grade", "flagellum"]].assign(
        head_only=exact_head["grade"].to_numpy()).join(
        truth[["grade", "model", "tip_um", "beat_hz"]].rename(columns={"grade": "true_grade"}),
        on="track_id")
    pred["positions"], exact["positions"] = "spermlab", "exact"
    both = pd.concat([pred.drop(columns="cell_id"), exact], ignore_index=True)
    return both.assign(seed=spec["seed"], look=spec["look"])


def report(df: pd.DataFrame) -> None:
    for (positions, look), g in df.groupby(["positions", "look"]):
        with_f = c_vs_d(g["true_grade"], g["grade"])
        without = c_vs_d(g["true_grade"], g["head_only"])
        ab_same = bool((g.loc[g["grade"].isin(["a", "b"]), "grade"]
                        == g.loc[g["grade"].isin(["a", "b"]), "head_only"]).all())  # fmt: skip
        ab_same &= bool((g["grade"].isin(["a", "b"]) == g["head_only"].isin(["a", "b"])).all())
        print(f"{positions:<8} {look:<11} c vs d: n {with_f['n']:4d} (c {with_f['n_c']:3d})  "
              f"with flagellum recall {with_f['recall']:.3f} precision {with_f['precision']:.3f}  |"
              f"  head path only recall {without['recall']:.3f} precision "
              f"{without['precision']:.3f}  |  a, b unchanged: {ab_same}")
    for positions, g in df.groupby("positions"):
        w, h = c_vs_d(g["true_grade"], g["grade"]), c_vs_d(g["true_grade"], g["head_only"])
        print(f"{positions:<8} {'both':<11} c vs d: n {w['n']:4d} (c {w['n_c']:3d})  "
              f"with flagellum recall {w['recall']:.3f} precision {w['precision']:.3f}  |"
              f"  head path only recall {h['recall']:.3f} precision {h['precision']:.3f}")
    stuck = df[(df["model"] == "stuck") & (df["positions"] == "exact")]
    if len(stuck):
        print(f"stuck cells (exact positions): {int((stuck['grade'] == 'c').sum())} of "
              f"{len(stuck)} graded c; by the tail tip's half-amplitude (µm):")
        bins = pd.cut(stuck["tip_um"], TIP_BINS)
        for interval, g in stuck.groupby(bins, observed=False):
            print(f"  {str(interval):<12} {int((g['grade'] == 'c').sum()):3d} of {len(g):3d} graded c"
                  f"  (flagellum value NaN: {int(g['flagellum'].isna().sum())})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", action="store_true", help="development seeds 100-111")
    ap.add_argument("--test-set", type=int, choices=(1, 2, 3, 4, 5), default=5,
                    help="which test seeds (1: 9101-, 2: 9201-, 3: 9301-, 4: 9401-, spent on the "
                         "first four versions; 5: 9501-)")
    ap.add_argument("--samples", type=int, default=None, help="default 12 (dev) or 24 (test)")
    ap.add_argument("--duration", type=float, default=None, help="s; default 3 (dev) or 4")
    ap.add_argument("--csv", type=Path, default=None, help="write the per-cell table")
    ap.add_argument("--beat-model", type=Path, default=None,
                    help="score another beat classifier instead of the shipped one (e.g. an "
                         "earlier version from git history, as a baseline on the same seeds)")
    args = ap.parse_args()
    if args.beat_model is not None:  # every meter of the run loads "shipped": swap what that means
        from spermlab.analysis import flagellum as fl

        other = fl.load_beat_model(args.beat_model)
        first = other.windows.n_features  # an earlier model reads the leading features only

        class Earlier:
            window_probability = staticmethod(lambda x: other.window_probability(np.atleast_2d(x)[:, :first]))
            track_probability = staticmethod(other.track_probability)

        fl._shipped_model = Earlier
    n = args.samples or (12 if args.dev else 24)
    duration = args.duration or (3.0 if args.dev else 4.0)
    rows = []
    t0 = time.perf_counter()
    for spec in draw_samples(n, args.dev, args.test_set):
        rows.append(run_sample(spec, duration))
        print(f"seed {spec['seed']} {spec['look']:<11} mix {spec['mix']} conc "
              f"{spec['concentration']:5.1f}: {time.perf_counter() - t0:5.0f} s", flush=True)
    df = pd.concat(rows, ignore_index=True)
    if args.csv:
        df.to_csv(args.csv, index=False)
    which = "development" if args.dev else f"test set {args.test_set}"
    print(f"\n{which} seeds, {n} samples of {duration:g} s")
    report(df)


if __name__ == "__main__":
    main()
