"""Per-sample features from spermlab's own results, one row per sample, documented columns.

=================================  ==============================================================
column                             meaning
=================================  ==============================================================
``sample_id``                      the results folder's name (a batch folder: each sample's id)
``pct_a`` .. ``pct_d``             WHO 2021 shares per graded track (%)
``pct_pr_snapshot`` ...            the same per frame in view (``pr``, ``np``, ``im``; %)
``n_tracks``, ``n_graded``         sperm tracks, graded tracks
``track_len_median``               median sperm track length (frames)
``{m}_p10``, ``{m}_p50``,          10th, 50th, 90th percentile over graded tracks of each
``{m}_p90``                        kinematic ``m`` in vcl, vsl, vap, alh, lin, progression
                                   (µm/s, µm, ratio) and flagellum (beat probability)
``drift_um_s``                     median drift speed of the field (µm/s)
``concentration_m_per_ml``         10⁶/mL (NaN without a chamber depth)
``heads_per_frame``                mean sperm heads per frame
``um_per_px``, ``fps``             the calibration the features were measured with
=================================  ==============================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["KINEMATIC_FEATURES", "features_table", "join_clinical", "sample_features"]

KINEMATIC_FEATURES = ("vcl", "vsl", "vap", "alh", "lin", "progression", "flagellum")


def sample_features(result_dir: str | Path) -> dict:
    """The feature row of one results folder (see the module table)."""
    from spermlab.io.results import read_results

    folder = Path(result_dir)
    r = read_results(folder)
    s, kin, tracks = r["summary"], r["kinematics"], r["tracks"]
    p, fw = s["percentages"], s["percentages_frame_weighted"]
    sperm = tracks[tracks["cls"] == 0]
    row = {"sample_id": folder.name,
           **{f"pct_{g}": p[k] for g, k in zip("abcd", ("rapid", "slow", "non_progressive", "immotile"),
                                               strict=True)},
           "pct_pr_snapshot": fw["progressive"], "pct_np_snapshot": fw["non_progressive"],
           "pct_im_snapshot": fw["immotile"], "n_tracks": int(sperm["track_id"].nunique()),
           "n_graded": int(s["n_graded"]),
           "track_len_median": float(sperm.groupby("track_id").size().median()) if len(sperm) else np.nan}  # fmt: skip
    graded = kin[kin["grade"].isin(list("abcd"))]
    for m in KINEMATIC_FEATURES:
        v = graded[m].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        for q in (10, 50, 90):
            row[f"{m}_p{q}"] = float(np.percentile(v, q)) if v.size else np.nan
    q = s.get("quality") or {}
    row.update(drift_um_s=(q.get("metrics") or {}).get("drift_um_s", np.nan),
               concentration_m_per_ml=s["concentration_m_per_ml"] if s["concentration_m_per_ml"] is not None else np.nan,
               heads_per_frame=s["mean_heads_per_frame"], um_per_px=s["calibration"]["um_per_px"],
               fps=s["calibration"]["fps"])  # fmt: skip
    return {k: (np.nan if v is None else v) for k, v in row.items()}


def join_clinical(features: pd.DataFrame, folder: str | Path,
                  tables: tuple[str, ...] = ("participant", "sex_hormones", "fatty_acids_serum")) -> pd.DataFrame:
    """Add VISEM clinical columns by participant id: the first number in ``sample_id`` (VISEM
    video 11 is participant 11), prefixed by table (``sex_hormones: ...``)."""
    import re

    from spermlab.io.visem import read_clinical

    out = features.assign(participant_id=[int(m.group()) if (m := re.search(r"\d+", str(s))) else -1
                                          for s in features["sample_id"]])  # fmt: skip
    for table in tables:
        c = read_clinical(folder, table=table, aliases=False)
        c = c.rename(columns={k: f"{table}: {k}" for k in c.columns if k != "participant_id"})
        out = out.merge(c, on="participant_id", how="left")
    return out


def features_table(result_dirs: list[str | Path]) -> pd.DataFrame:
    """Feature rows of results folders; a batch folder contributes each of its done samples."""
    rows = []
    for d in result_dirs:
        d = Path(d)
        if (d / "ledger.json").is_file():  # a batch folder
            rows += [sample_features(s) for s in sorted((d / "samples").iterdir())
                     if (s / "summary.json").is_file()]  # fmt: skip
        else:
            rows.append(sample_features(d))
    return pd.DataFrame(rows)
