"""Estimate the field's drift from the tracks themselves and subtract it.

A wet preparation flows: every cell, dead or alive, is carried by the same slow drift.
Left in, drift makes immotile cells look motile and biases VSL. spermlab estimates the
drift per frame as the component-wise **median** displacement of all cells present in
two consecutive frames, smoothed by a running median over ``window_s`` seconds. The
median is robust to the motile cells as long as they swim in all directions (their
displacements cancel in the median) and to a minority of mislinked jumps; it is the
estimator trackpy's ``compute_drift`` uses (mean there) restricted to robust statistics.
Samples with a strong common swimming direction (rheotaxis) violate the assumption:
turn drift correction off there (``--no-drift``).

References
----------
Crocker JC, Grier DG. Methods of digital video microscopy for colloidal studies.
J Colloid Interface Sci 179:298-310, 1996 (drift subtraction of particle tracks).
trackpy.motion.compute_drift.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter

from spermlab.tables import TRACKS, validate

__all__ = ["estimate_drift", "subtract_drift"]


def estimate_drift(tracks: pd.DataFrame, fps: float, *, window_s: float = 1.0) -> pd.DataFrame:
    """Cumulative drift of the field per frame, in pixels.

    Parameters
    ----------
    tracks : DataFrame
        A Tracks table.
    fps : float
        Frames per second (sets the smoothing window).
    window_s : float
        Running-median window in seconds.

    Returns
    -------
    DataFrame
        Columns ``frame``, ``dx``, ``dy``: the position of the drifting field at each
        frame relative to the first frame (px). Frames with no pair of observations get
        zero step drift.
    """
    t = validate(tracks, TRACKS, name="Tracks", extra="keep")
    if t.empty:
        return pd.DataFrame({"frame": pd.Series([], dtype="int64"), "dx": [], "dy": []})
    t = t.sort_values(["track_id", "frame"])
    same = (t["track_id"].to_numpy()[1:] == t["track_id"].to_numpy()[:-1]) & (
        np.diff(t["frame"].to_numpy()) == 1
    )
    steps = pd.DataFrame({
        "frame": t["frame"].to_numpy()[1:][same],
        "dx": np.diff(t["x"].to_numpy())[same],
        "dy": np.diff(t["y"].to_numpy())[same],
    })  # fmt: skip
    frames = np.arange(t["frame"].min(), t["frame"].max() + 1)
    med = steps.groupby("frame")[["dx", "dy"]].median().reindex(frames, fill_value=0.0)
    size = max(1, int(round(window_s * fps)) | 1)
    smooth = median_filter(med.to_numpy(), size=(size, 1), mode="nearest")
    smooth[0] = 0.0  # the first frame is the reference
    cum = np.cumsum(smooth, axis=0)
    return pd.DataFrame({"frame": frames.astype("int64"), "dx": cum[:, 0], "dy": cum[:, 1]})


def subtract_drift(tracks: pd.DataFrame, drift: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``tracks`` with the drift at each frame subtracted from x and y."""
    t = validate(tracks, TRACKS, name="Tracks", extra="keep")
    d = drift.set_index("frame").reindex(t["frame"].to_numpy(), fill_value=0.0)
    return t.assign(x=t["x"].to_numpy() - d["dx"].to_numpy(), y=t["y"].to_numpy() - d["dy"].to_numpy())
