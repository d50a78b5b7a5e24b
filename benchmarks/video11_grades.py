"""Real-sample check: WHO grades of VISEM-Tracking video 11 against the clinic, and µm/px.

Video 11 (participant 11), frames 0-999 (20 s at 50 fps), ``visem`` preset. spermlab's
pipeline detects and links once; the tracks are then re-measured and re-graded at µm/px
x 0.8, 1.0 and 1.2 (drift estimated and subtracted as :class:`spermlab.pipeline.Pipeline`
does, then :func:`~spermlab.analysis.kinematics.measure`,
:func:`~spermlab.analysis.motility.grade` and :func:`~spermlab.analysis.motility.summarise`
with the pipeline's own parameters). The same is done on the annotators' ground-truth
tracks of the sperm class (``labels_ftid``), which isolates grading from detection and
linking errors.

Two ways to turn graded tracks into a sample's percentages are printed: per track (what
spermlab's summary reports, one vote per track) and frame-weighted (each track weighted
by its number of detections, i.e. the mean over frames of a snapshot of the graded cells
in view, closer to a manual count of the cells in a field at one instant). In a 20-s
recording an immotile cell is one track for the whole video while motile cells swim
through the field and out, and new ones come in, so per-track shares over-represent
motile cells; and per-track shares move with the linker's fragmentation (a track broken
in three votes three times), frame-weighted shares hardly do.

The clinic's manual assessment (VISEM clinical table: progressive 11 %, non-progressive
17 %, immotile 72 %) is of the whole sample, read at the microscope over several fields;
this 20-s field is one small part of it, so agreement within sampling error is all one
can ask (with n graded cells, the binomial SD of a 11 % share is ``sqrt(.11 .89 / n)``).

Run:  .venv/bin/python benchmarks/video11_grades.py [--frames 1000] [--tracks-cache t.parquet]
      [--json out.json]

``--tracks-cache`` stores spermlab's tracks (and per-frame head counts) after the first
run and reads them back on the next, so the scale sweep can be repeated without
detecting again (delete the file after changing the detector or linker).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from spermlab.analysis.drift import estimate_drift, subtract_drift  # noqa: E402
from spermlab.analysis.flagellum import flagellum_of_tracks  # noqa: E402
from spermlab.analysis.kinematics import measure  # noqa: E402
from spermlab.analysis.motility import grade, summarise  # noqa: E402
from spermlab.calibration import preset  # noqa: E402
from spermlab.io.open import open_source  # noqa: E402
from spermlab.io.visem import read_clinical, read_visem_tracks  # noqa: E402
from spermlab.pipeline import Pipeline  # noqa: E402

DATA = Path(os.environ.get("SPERMLAB_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))
FACTORS = (0.8, 1.0, 1.2)


def spermlab_tracks(folder: Path, n_frames: int, pipe: Pipeline, cache: Path | None):
    """spermlab's Tracks table, mean sperm heads per frame and per-track flagellar activity
    (detect + link + flagellum once)."""
    if cache is not None and cache.exists():
        tracks = pd.read_parquet(cache)
        meta = json.loads(cache.with_suffix(".json").read_text())
        fla = pd.read_parquet(cache.with_suffix(".flagellum.parquet"))["flagellum"]
        return (tracks, meta["mean_heads_per_frame"], meta["n_frames"], meta["seconds"],
                meta["pipeline_pr"], fla)
    source = open_source(folder, fps=pipe.calibration.fps)
    frames = itertools.islice(iter(source), n_frames)
    t0 = time.perf_counter()
    result = pipe.run(source, frames=frames)
    seconds = time.perf_counter() - t0
    n = result.summary.n_frames
    mean_heads = result.summary.mean_heads_per_frame
    pipeline_pr = result.summary.percentages["progressive"]
    fla = result.kinematics.set_index("track_id")["flagellum"]
    if cache is not None:
        result.tracks.to_parquet(cache)
        fla.to_frame().to_parquet(cache.with_suffix(".flagellum.parquet"))
        cache.with_suffix(".json").write_text(json.dumps(
            {"mean_heads_per_frame": mean_heads, "n_frames": n, "seconds": seconds,
             "pipeline_pr": pipeline_pr}))
    return result.tracks, mean_heads, n, seconds, pipeline_pr, fla


def gt_flagellum(folder: Path, gt: pd.DataFrame, n_frames: int, pipe: Pipeline) -> pd.Series:
    """Flagellar activity of the annotated tracks, measured from the same frames."""
    source = open_source(folder, fps=pipe.calibration.fps)
    frames = itertools.islice(iter(source), n_frames)
    heads = gt.assign(track_id=np.where(gt["cls"] == 0, gt["track_id"], -1))
    fla = flagellum_of_tracks(frames, heads, pipe.calibration, pipe.flagellum)
    return fla[fla.index >= 0]


def grades_at(tracks: pd.DataFrame, pipe: Pipeline, factor: float, *, mean_heads: float,
              n_frames: int, width: int, height: int, flagellum: pd.Series,
              use_flagellum: bool = True) -> dict:
    """Drift-correct, measure, grade and summarise the sperm tracks at µm/px x factor."""
    base = pipe.calibration
    cal = base.with_values(source=f"{base.sources['um_per_px']} x {factor:g}",
                           um_per_px=base.um_per_px * factor)
    sperm = tracks[tracks["cls"] == 0].reset_index(drop=True)
    if pipe.drift:
        sperm = subtract_drift(sperm, estimate_drift(sperm, cal.fps))
    kin = measure(sperm, cal, params=pipe.kinematics)
    kin["flagellum"] = kin["track_id"].map(flagellum).astype(float)
    params = replace(pipe.grading, use_flagellum=use_flagellum)
    kin = grade(kin, params=params)
    s = summarise(kin, cal, mean_heads_per_frame=mean_heads, n_frames=n_frames, width=width,
                  height=height, params=params)
    p = s.percentages
    w = kin.groupby("grade")["n_points"].sum().reindex(list("abcd"), fill_value=0)
    fw = 100 * w / max(int(w.sum()), 1)  # each track weighted by its detections
    return {"um_per_px": cal.um_per_px, "n_graded": s.n_graded, "PR": p["progressive"],
            "NP": p["non_progressive"], "IM": p["immotile"], "a": p["rapid"], "b": p["slow"],
            "PR_fw": fw["a"] + fw["b"], "NP_fw": fw["c"], "IM_fw": fw["d"],
            "conc": s.concentration_m_per_ml,
            "median_progression": float(kin["progression"].median()),
            "median_vap": float(kin["vap"].median())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--tracks-cache", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    folder = DATA / "visem_tracking" / "11"
    clinic = read_clinical(DATA / "visem").set_index("participant_id").loc[11]
    ref = {"PR": clinic["progressive_pct"], "NP": clinic["non_progressive_pct"],
           "IM": clinic["immotile_pct"], "conc": clinic["concentration"]}

    pipe = Pipeline(preset("visem"))
    width, height = 640, 480
    tracks, mean_heads, n_frames, seconds, pipeline_pr, fla = spermlab_tracks(
        folder, args.frames, pipe, args.tracks_cache)

    gt = read_visem_tracks(folder, frames=range(args.frames)).tracks
    gt_heads = float(np.bincount(gt.loc[gt["cls"] == 0, "frame"], minlength=args.frames).mean())
    gt_fla = gt_flagellum(folder, gt, args.frames, pipe)

    rows = []
    for name, t, heads, f_act in (("spermlab", tracks, mean_heads, fla),
                                  ("GT tracks", gt, gt_heads, gt_fla)):
        for f in FACTORS:
            r = grades_at(t, pipe, f, mean_heads=heads, n_frames=n_frames, width=width,
                          height=height, flagellum=f_act)
            rows.append({"source": name, "factor": f, **r})
        r = grades_at(t, pipe, 1.0, mean_heads=heads, n_frames=n_frames, width=width,
                      height=height, flagellum=f_act, use_flagellum=False)
        rows.append({"source": f"{name}, head only", "factor": 1.0, **r})
    df = pd.DataFrame(rows)
    own = df.loc[(df.source == "spermlab") & (df.factor == 1.0), "PR"].iloc[0]
    if not math.isclose(own, pipeline_pr, abs_tol=1e-9):  # the re-measure is the pipeline's
        raise RuntimeError(f"re-measured PR {own} differs from the pipeline's {pipeline_pr}")

    print(f"VISEM-Tracking video 11, frames 0-{n_frames - 1} at {pipe.calibration.fps:g} fps, "
          f"preset visem ({pipe.calibration.um_per_px} µm/px), drift removed: {pipe.drift}")
    print(f"spermlab detect+link: {seconds:.0f} s ({n_frames / max(seconds, 1e-9):.1f} frames/s); "
          f"mean sperm heads/frame: spermlab {mean_heads:.1f}, annotators {gt_heads:.1f}")
    for name, f_act in (("spermlab", fla), ("GT tracks", gt_fla)):
        v = f_act.dropna()
        print(f"flagellar beat probability of {name} tracks: median {v.median():.2f}, 90th "
              f"percentile {v.quantile(0.9):.2f}; {int((v >= pipe.grading.flagellum_p).sum())} "
              f"of {len(v)} at or above {pipe.grading.flagellum_p:g}")
    print(f"\n{'source':<19} {'µm/px':>7} {'n graded':>8} {'PR %':>6} {'NP %':>6} {'IM %':>6}"
          f"   {'(a %':>5} {'b %)':>5} {'med prog':>8} {'conc':>6}   frame-weighted PR/NP/IM %")
    for r in df.itertuples():
        print(f"{r.source:<19} {r.um_per_px:7.4f} {r.n_graded:8d} "
              f"{r.PR:6.1f} {r.NP:6.1f} {r.IM:6.1f}"
              f"   {r.a:5.1f} {r.b:5.1f} {r.median_progression:8.2f} {r.conc:6.1f}"
              f"   {r.PR_fw:5.1f} {r.NP_fw:5.1f} {r.IM_fw:5.1f}")
    print(f"{'clinic':<19} {'':>7} {'':>8} {ref['PR']:6.1f} {ref['NP']:6.1f} {ref['IM']:6.1f}"
          f"   {'':>5} {'':>5} {'':>8} {ref['conc']:6.1f}")
    n1 = int(df.loc[(df.source == "GT tracks") & (df.factor == 1.0), "n_graded"].iloc[0])
    sd = 100 * math.sqrt(0.11 * 0.89 / max(n1, 1))
    print("\nmed prog: median WHO progression speed (µm/s) of the graded tracks; conc: 10^6/mL "
          "at 20 µm depth (clinic: haemocytometer).")
    print("frame-weighted: each track counted once per frame it is in the field, i.e. the mean of "
          "per-frame snapshots, as a manual count of the cells in view at one instant; per-track "
          "shares (PR/NP/IM) count a cell that swims through the field once per crossing, and an "
          "immotile cell that stays the whole 20 s once.")
    print("The clinic graded the whole sample at the microscope, not this 20-s field: with "
          f"{n1} graded GT tracks the binomial SD of an 11 % share is already {sd:.1f} points.")
    if args.json:
        clinic_ref = {k: float(v) for k, v in ref.items()}
        args.json.write_text(json.dumps({"rows": rows, "clinic": clinic_ref, "seconds": seconds},
                                        indent=2))


if __name__ == "__main__":
    main()
