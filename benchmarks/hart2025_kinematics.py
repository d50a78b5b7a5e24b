"""spermlab's kinematics against another lab's on identical tracks (Hart et al. 2025, P004).

``hart2025_tracks/video_P004_corrected.csv`` holds hand-corrected trajectories (9 fps,
1024 x 1024 px, 10x) and, per row, that lab's own VAP, VCL, VSL, ALH_mean, ALH_max and
BCF of the row's track. spermlab measures the same positions
(:func:`spermlab.analysis.kinematics.measure`, no drift correction: the lab applies none)
with ``Calibration(um_per_px=1.0476, fps=9)``; for each parameter the script prints the
median relative difference ``spermlab / theirs - 1`` and its interquartile range, for
spermlab's adaptive average path (default), its fixed 0.1-s running average (3 points at
9 fps) and a fixed 5-point running average (the lab's window).

It then identifies the lab's conventions. Their values were computed by ``stats.py`` of
CAS-ReproLab/Sperm_Object_Tracking (``UnifiedFramework/stats.py``; its ``__main__`` runs
it at fps 9, pixel_size 1.0476, win_size 5 after filling gaps of <= 15 frames linearly).
Re-implemented here from its description, as conventions (n points p_0..p_{n-1} in px,
s = 1.0476, f = 9 fps):

=========  ===============================================================================
VCL        (sum of the first n-2 steps) x f / (n-1) x s: the last step is left out of the
           path length but counted in the duration (an off-by-one)
VSL        |p_{n-1} - p_0| x f / (n-1) x s, the WHO definition
VAP        length of the 5-point running mean A_0..A_{n-5} x f / (n-4) x s: divided by
           the number of average points instead of the n-5 intervals between them
ALH        d_i = distance from the midpoint M of p_0 and p_{n-1} (the whole track's first
           and last points) to the line through p_i and p_{i+4}, i = 1..n-6; ALH_mean and
           ALH_max = 2 s x mean and max of the local maxima of d. Not a lateral head
           displacement: it grows with the track's extent and curvature (0 for a
           straight track, hundreds of µm for a curved one)
BCF        number of i in 0..n-7 where the head segment p_i p_{i+1} crosses the average
           segment A_i A_{i+1} (A_i = mean of p_i..p_{i+4}, centred on p_{i+2}: the
           average path is compared with the head 2 frames, 0.22 s, earlier) x f / (n-5)
=========  ===============================================================================

Three tracks (0, 11, 22) carry 2-3 different sets of values: the values were computed
before the final hand correction, and each group of rows sharing one set of values is
exactly a pre-correction track (the re-implementation reproduces every group). Those
tracks are not identical between the two programs, so the comparison uses the 25 tracks
whose values are constant; ``--pieces`` adds the pre-correction pieces as tracks.

Units: the lab's code multiplies pixel distances by 1.0476 (µm/px), while a comment in
the same file reads "10X 1.0476 pixels per micron". spermlab uses 1.0476 µm/px so the
numbers are comparable; if the comment is right, the true scale is 0.9546 µm/px and all
velocities and ALH of both programs are 9.7 % high. Relative differences do not depend on it.

Run:  .venv/bin/python benchmarks/hart2025_kinematics.py [--pieces] [--per-track]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

from spermlab.analysis.kinematics import KinematicsParams, measure
from spermlab.calibration import Calibration

DATA = Path(os.environ.get("SPERMLAB_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))
FILE = DATA / "hart2025_tracks" / "video_P004_corrected.csv"
UM_PER_PX, FPS, WIN = 1.0476, 9.0, 5
COLUMNS = {"vcl": "VCL", "vsl": "VSL", "vap": "VAP", "alh": "ALH_mean", "alh_max": "ALH_max",
           "bcf": "BCF"}  # fmt: skip
VARIANTS = {
    "adaptive (default)": KinematicsParams(min_points=3),
    "fixed 0.1 s (3 pt)": KinematicsParams(min_points=3, adaptive=False),
    "fixed 5 pt": KinematicsParams(min_points=3, adaptive=False, average_window_s=WIN / FPS),
}


def read_p004(path: Path = FILE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The lab's rows as a Tracks table (consistent tracks only) and their per-track values.

    Returns
    -------
    tracks : DataFrame
        Tracks table (px, 0-based frames) of the tracks whose six values are constant.
    theirs : DataFrame
        One row per such track: ``track_id``, ``n`` and the lab's six columns.
    """
    raw = pd.read_csv(path)
    cols = list(COLUMNS.values())
    constant = raw.groupby("sperm")[cols].nunique().eq(1).all(axis=1)
    ok = raw[raw["sperm"].isin(constant.index[constant])]
    return _as_tracks(ok, "sperm"), _their_values(ok, "sperm")


def read_pieces(path: Path = FILE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pre-correction pieces of the inconsistent tracks: rows grouped by their values."""
    raw = pd.read_csv(path)
    cols = list(COLUMNS.values())
    constant = raw.groupby("sperm")[cols].nunique().eq(1).all(axis=1)
    bad = raw[raw["sperm"].isin(constant.index[~constant])].copy()
    bad["piece"] = bad.groupby(cols, sort=True).ngroup() + 1000
    return _as_tracks(bad, "piece"), _their_values(bad, "piece")


def _as_tracks(rows: pd.DataFrame, key: str) -> pd.DataFrame:
    t = rows.sort_values([key, "frame"])
    return pd.DataFrame({
        "frame": t["frame"].astype("int64"), "x": t["x"], "y": t["y"], "w": 10.0, "h": 10.0,
        "cls": 0, "score": 1.0, "track_id": t[key].astype("int64"),
    }).reset_index(drop=True)  # fmt: skip


def _their_values(rows: pd.DataFrame, key: str) -> pd.DataFrame:
    g = rows.groupby(key)
    out = g[list(COLUMNS.values())].first()
    out.insert(0, "n", g.size())
    return out.rename_axis("track_id").reset_index()


# ---- the lab's conventions, re-implemented (see the module docstring) ----------------------

def _filled(frames: np.ndarray, xy: np.ndarray, max_gap: int = 15) -> np.ndarray:
    """Linear interpolation over gaps of at most ``max_gap`` frames (longer gaps kept)."""
    out = [xy[:1]]
    for k in range(1, len(frames)):
        gap = frames[k] - frames[k - 1]
        if 1 < gap <= max_gap:
            f = np.arange(1, gap)[:, None] / gap
            out.append(xy[k - 1] + f * (xy[k] - xy[k - 1]))
        out.append(xy[k : k + 1])
    return np.vstack(out)


def _running_mean(xy: np.ndarray, w: int) -> np.ndarray:
    c = np.vstack([np.zeros((1, 2)), np.cumsum(xy, axis=0)])
    return (c[w:] - c[:-w]) / w


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z of (a - o) x (b - o), row-wise."""
    return (a[:, 0] - o[:, 0]) * (b[:, 1] - o[:, 1]) - (a[:, 1] - o[:, 1]) * (b[:, 0] - o[:, 0])


def hart_convention(xy_px: np.ndarray, fps: float = FPS, s: float = UM_PER_PX,
                    w: int = WIN) -> dict:
    """VCL, VSL, VAP, ALH_mean, ALH_max, BCF of one gap-filled path by the lab's conventions."""
    n = len(xy_px)
    step = np.hypot(*np.diff(xy_px, axis=0).T)
    out = {"VCL": step[: n - 2].sum() * fps / (n - 1) * s,
           "VSL": float(np.hypot(*(xy_px[-1] - xy_px[0]))) * fps / (n - 1) * s}  # fmt: skip
    avg = _running_mean(xy_px, w)
    out["VAP"] = np.hypot(*np.diff(avg, axis=0).T).sum() * fps / len(avg) * s if n >= w else 0.0
    # ALH: distance of the track's mid-point M from the chord p_i -> p_{i+w-1}, i = 1..n-w-1
    i = np.arange(1, n - w)
    m = (xy_px[0] + xy_px[-1]) / 2
    a, b = xy_px[i], xy_px[i + w - 1]
    chord = np.hypot(*(b - a).T)
    area = np.abs(_cross(a, b, np.broadcast_to(m, a.shape)))
    d = np.where(chord > 0, area / np.where(chord > 0, chord, 1.0), 0.0)
    peaks = d[1:-1][(d[1:-1] > d[:-2]) & (d[1:-1] > d[2:])] if len(d) > 2 else np.empty(0)
    out["ALH_mean"] = 2 * s * peaks.mean() if len(peaks) else np.nan
    out["ALH_max"] = 2 * s * peaks.max() if len(peaks) else np.nan
    # BCF: proper intersections of head segment i with average segment i (A_i centred on i+2)
    avg = avg[: n - w]
    k = np.arange(len(avg) - 1)
    p1, p2, q1, q2 = xy_px[k], xy_px[k + 1], avg[k], avg[k + 1]
    hits = ((_cross(p1, p2, q1) > 0) != (_cross(p1, p2, q2) > 0)) & \
           ((_cross(q1, q2, p1) > 0) != (_cross(q1, q2, p2) > 0))  # fmt: skip
    out["BCF"] = hits.sum() * fps / (n - w) if n > w else np.nan
    return out


def convention_table(tracks: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for tid, g in tracks.groupby("track_id"):
        xy = _filled(g["frame"].to_numpy(), g[["x", "y"]].to_numpy())
        last = float(np.hypot(*(xy[-1] - xy[-2]))) * UM_PER_PX * FPS / (len(xy) - 1)
        rows.append({"track_id": tid, "n_filled": len(xy), "vcl_last_step": last,
                     **{f"conv_{k}": v for k, v in hart_convention(xy).items()}})
    return pd.DataFrame(rows)


# ---- comparison ---------------------------------------------------------------------------

def rel(a: pd.Series, b: pd.Series) -> pd.Series:
    r = a / b - 1
    return r.replace([np.inf, -np.inf], np.nan)


def summary_row(r: pd.Series) -> dict:
    r = r.dropna()
    if r.empty:
        return {"n": 0, "median": np.nan, "q25": np.nan, "q75": np.nan}
    return {"n": len(r), "median": r.median(), "q25": r.quantile(0.25), "q75": r.quantile(0.75)}


def compare(tracks: pd.DataFrame, theirs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cal = Calibration(um_per_px=UM_PER_PX, fps=FPS,
                      sources={"um_per_px": "hart2025 configs/10X.json",
                               "fps": "hart2025 VideoInfo"})
    conv = convention_table(tracks)
    merged = theirs.merge(conv, on="track_id")
    table = []
    for name, params in VARIANTS.items():
        k = measure(tracks, cal, params=params)
        m = merged.merge(k, on="track_id", validate="1:1")
        for ours, col in COLUMNS.items():
            table.append({"spermlab": name, "parameter": col, **summary_row(rel(m[ours], m[col])),
                          "n_theirs_0": int((m[col] == 0).sum())})
        merged = merged.merge(k[["track_id", *COLUMNS]].add_suffix(f"|{name}"),
                              left_on="track_id", right_on=f"track_id|{name}")
    return pd.DataFrame(table), merged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pieces", action="store_true",
                    help="add the pre-correction pieces of tracks 0, 11, 22")
    ap.add_argument("--per-track", action="store_true")
    args = ap.parse_args()
    pd.set_option("display.width", 200)

    tracks, theirs = read_p004()
    if args.pieces:
        pt, pv = read_pieces()
        tracks = pd.concat([tracks, pt], ignore_index=True)
        theirs = pd.concat([theirs, pv], ignore_index=True)
    table, m = compare(tracks, theirs)
    print(f"{FILE.name}: {theirs.shape[0]} tracks ({len(tracks)} positions), {UM_PER_PX} µm/px, "
          f"{FPS:g} fps; relative difference spermlab / theirs - 1 per track\n")
    t = table.copy()
    for c in ("median", "q25", "q75"):
        t[c] = (100 * t[c]).map(lambda v: f"{v:+.1f} %")
    t = t.rename(columns={"n": "n (theirs>0)", "n_theirs_0": "theirs = 0"})
    print(t.to_string(index=False))

    print("\nTheir conventions re-implemented (module docstring) against their columns: "
          "max |relative difference| over the tracks")
    for col in COLUMNS.values():
        r = rel(m[f"conv_{col}"], m[col]).abs()
        both0 = ((m[f"conv_{col}"] == 0) & (m[col] == 0)).sum()
        print(f"  {col:<9} {r.max():.1e}  ({r.notna().sum()} tracks, {both0} both 0)")

    fixed5 = "fixed 5 pt"
    print("\nThe VCL, VSL and VAP differences are the conventions' and nothing else:")
    vcl_ours = m["vcl|adaptive (default)"]
    r_vcl = rel(vcl_ours - m["vcl_last_step"], m["VCL"]).abs().max()
    print(f"  VCL: spermlab minus the last step's share (their off-by-one) = theirs within "
          f"{r_vcl:.1e}; "
          f"the off-by-one costs them {100 * rel(vcl_ours, m['VCL']).median():+.2f} % median, "
          f"{100 * rel(vcl_ours, m['VCL']).max():+.1f} % at most "
          f"(shortest track, n = {int(m['n'].min())})")
    r_vsl = rel(m["vsl|adaptive (default)"], m["VSL"]).abs().max()
    print(f"  VSL: identical definition, max |difference| {r_vsl:.1e}")
    n_avg = m["n_filled"] - WIN + 1
    r_vap = rel(m[f"vap|{fixed5}"] * (n_avg - 1) / n_avg, m["VAP"]).abs().max()
    print(f"  VAP: spermlab with their 5-point window x (n-5)/(n-4) (their duration counts points, "
          f"not intervals) = theirs within {r_vap:.1e}")

    motile = m["VSL"] > 5
    print("\nALH and BCF, by kind of track "
          "(their VSL > 5 µm/s: progressive, else (near) immotile):")
    for label, sel in (("progressive", motile), ("immotile", ~motile)):
        g = m[sel]
        print(f"  {label:<11} n={sel.sum():2d}  "
              f"median ALH_mean theirs {g['ALH_mean'].median():7.2f} µm, "
              f"spermlab {g['alh|adaptive (default)'].median():5.2f} µm; median BCF theirs "
              f"{g['BCF'].median():.2f} Hz ({int((g['BCF'] == 0).sum())} zeros), spermlab "
              f"{g['bcf|adaptive (default)'].median():.2f} Hz")

    if args.per_track:
        cols = ["track_id", "n"] + [c for p in COLUMNS
                                    for c in (COLUMNS[p], f"{p}|adaptive (default)")]
        print("\n" + m[cols].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
