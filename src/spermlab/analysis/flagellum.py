r"""Flagellar activity: how much the image moves around a head that itself stays put.

WHO 2021 (laboratory manual, 6th ed., section 3.5.2) grades as non-progressive (c) "all
other patterns of motility with an absence of progression", including "only a flagellar
beat", and as immotile (d) "no movement". A cell stuck to the glass by its head beats its
tail while its head path is still, so the head path alone calls it immotile. This module
measures the tail's movement from the video itself.

Definition (per detection, then per track)
-------------------------------------------
Frames are first binned to about ``bin_um`` µm per pixel (0.5 µm: a flagellum, 0.5-1 µm
wide and blurred by the optics, stays at least one binned pixel wide, and the work drops
four-fold at VISEM's 0.25 µm/px). For frame ``t`` and the frame ``t - L`` one lag earlier
(``lag_s`` = 0.04 s, half the period of a 12.5-Hz beat, the middle of the human range;
at least one frame), the temporal difference ``D = I_t - I_{t-L}`` is taken over the
whole frame, its median removed (flicker), and its noise ``σ`` measured as 1.4826 x the
median absolute value of ``D`` (the MAD: most of any frame is background, so moving
objects hardly move it; a codec that copies unchanged blocks is handled in
:func:`noise_sigma`). A pixel *moves* when ``|D| > k σ`` (``k_sigma`` = 4: under
Gaussian noise, 6 pixels in 100,000 pass by chance).

Around each head, the annulus between ``r_in`` = half the head box's longer side +
``head_margin_um`` (1.5 µm: the phase-contrast halo) and ``outer_um`` (25 µm, the
proximal half of a 45-55 µm human flagellum, where its beat is seen) is the search
region; the discs of every head of frames ``t`` and ``t - L`` are left out of it (heads
that swim past). The detection's activity is the annulus area that moves, in µm², minus
what moves at a random place of the same frame (the moving fraction of every pixel
outside head discs, times the annulus area: the frame's own background):

.. math::

    F_t = A_{annulus} \left( \frac{n_{moving}}{n_{free}} - f_{background} \right)

``NaN`` when fewer than a quarter of the annulus pixels are free (at the border, in a
crowd) or the frame ``t - L`` is missing.

A track's flagellar activity ``flagellum`` (µm²) is then summarised over the same
sliding windows as progression (``window_s`` = 1 s): the median of ``F_t`` in each window
(passers-by count only while they pass), averaged over the windows; a track shorter than
one window takes the median of all its values.

Why the head must be still
--------------------------
``D`` is a difference of whole frames, so a head that moves by more than about a binned
pixel during the lag leaves its own trace in the annulus. The measure is for the cells
whose grade it decides, those that do not progress; it is computed for every track, and
is meaningful where the head moves less than ~0.5 µm per lag (about 12 µm/s). A drifting
dead cell is still (its tail moves with it) only when the drift is slow: at 5 µm/s drift
its tail shifts 0.2 µm per lag, a fraction of a binned pixel.

References
----------
World Health Organization. WHO laboratory manual for the examination and processing of
human semen, 6th ed. Geneva, 2021 (section 3.5.2, motility grades).
Mortimer ST. A critical review of the physiological importance and analysis of sperm
movement in mammals. Hum Reprod Update 3:403-439, 1997 (flagellar beat 5-20 Hz).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from spermlab.calibration import Calibration
from spermlab.io.source import Frame

__all__ = ["FlagellumMeter", "FlagellumParams", "flagellum_per_detection", "noise_sigma",
           "track_flagellum"]


@dataclass(frozen=True)
class FlagellumParams:
    """Parameters of the flagellar activity measure (see the module docstring)."""

    outer_um: float = 25.0
    head_margin_um: float = 1.5
    lag_s: float = 0.04
    k_sigma: float = 4.0
    bin_um: float = 0.5
    min_free_share: float = 0.25
    n_sectors: int = 12
    collar_um: float = 4.0
    bridge_um: float = 0.5
    sample_fps: float = 12.5

    def __post_init__(self) -> None:
        for name in ("outer_um", "lag_s", "k_sigma", "bin_um"):
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"FlagellumParams.{name} must be > 0, got {getattr(self, name)}")
        if self.head_margin_um < 0:
            raise ValueError(
                f"FlagellumParams.head_margin_um must be >= 0, got {self.head_margin_um}")
        if not 0 < self.min_free_share <= 1:
            raise ValueError(
                f"FlagellumParams.min_free_share must be in (0, 1], got {self.min_free_share}")


class FlagellumMeter:
    """Streaming measure of :math:`F_t` for every detection of every frame.

    Holds the last ``lag`` binned frames and their head boxes only, so memory is flat
    with video length.

    Parameters
    ----------
    calibration : Calibration
        µm/px and fps.
    params : FlagellumParams, optional

    Examples
    --------
    >>> from spermlab.calibration import preset
    >>> meter = FlagellumMeter(preset("visem"))
    >>> meter.lag, meter.bin
    (2, 2)
    """

    def __init__(self, calibration: Calibration, params: FlagellumParams | None = None) -> None:
        self.params = p = params or FlagellumParams()
        self.bin = max(1, int(round(p.bin_um / calibration.um_per_px)))
        self.um_per_bin = calibration.um_per_px * self.bin
        self.lag = max(1, int(round(p.lag_s * calibration.fps)))
        self.every = max(1, int(round(calibration.fps / p.sample_fps)))
        self.outer = max(2, int(round(p.outer_um / self.um_per_bin)))
        self._past: deque[list[Any]] = deque(maxlen=self.lag)
        g = np.arange(-self.outer, self.outer + 1)
        self._dist = np.hypot(g[None, :], g[:, None])
        self._discs: dict[int, np.ndarray] = {}
        self._rings: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _head_radius(self, w: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Head disc radius in binned px: half the box's longer side plus the margin."""
        r_um = 0.5 * np.maximum(w, h) * (self.um_per_bin / self.bin) + self.params.head_margin_um
        return np.maximum(1, np.round(r_um / self.um_per_bin)).astype(int)

    def _disc(self, r: int) -> np.ndarray:
        if r not in self._discs:
            g = np.arange(-r, r + 1)
            self._discs[r] = np.hypot(g[None, :], g[:, None]) <= r
        return self._discs[r]

    def _binned(self, image: np.ndarray) -> np.ndarray:
        """Mean of each ``bin`` x ``bin`` block (float32), by strided sums (fast)."""
        b = self.bin
        img = np.asarray(image)
        h, w = (img.shape[0] // b) * b, (img.shape[1] // b) * b
        out = img[0:h:b, 0:w:b].astype(np.float32)
        for dy in range(b):
            for dx in range(b):
                if dy or dx:
                    out += img[dy:h:b, dx:w:b]
        return out / np.float32(b * b) if b > 1 else out

    def update(self, image: np.ndarray, boxes: np.ndarray, *, frame: int) -> np.ndarray:
        """:math:`F_t` (µm²) of each head of one frame, per sector around it.

        Parameters
        ----------
        image : ndarray, shape (H, W)
            The grey frame.
        boxes : ndarray, shape (n, 4)
            ``x, y, w, h`` of each head (px, centre and size), e.g. a Detections table's
            columns.
        frame : int
            The frame's index; the lagged frame is ``frame - lag`` and must have been
            given before, or the values are NaN.

        Returns
        -------
        ndarray, shape (n, n_sectors)
            Moving area per sector (µm²), NaN where it cannot be measured.
        """
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        binned = self._binned(image)
        centres = np.floor(boxes[:, :2] / self.bin).astype(int)
        radii = self._head_radius(boxes[:, 2], boxes[:, 3])
        heads = np.c_[centres, radii]
        out = np.full((len(boxes), self.params.n_sectors), np.nan)
        past = self._past[0] if len(self._past) == self.lag else None
        sampled = frame % self.every == 0
        grad = None
        lagged = past is not None and past[0] == frame - self.lag and past[1].shape == binned.shape
        if sampled and lagged:
            grad = np.gradient(binned)
            if past[3] is None:
                past[3] = np.gradient(past[1])
            gy, gx = 0.5 * (grad[0] + past[3][0]), 0.5 * (grad[1] + past[3][1])
            out = self._measure(binned - past[1], gx, gy, np.vstack([heads, past[2]]), heads)
        self._past.append([frame, binned, heads, grad])
        return out

    def _ring(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        """Sector index (-1 outside the annulus) of a (2 outer + 1)² patch, and sector sizes."""
        if r not in self._rings:
            g = np.arange(-self.outer, self.outer + 1)
            angle = np.arctan2(g[:, None], g[None, :]) % (2 * np.pi)
            n = self.params.n_sectors
            idx = np.minimum((angle / (2 * np.pi) * n).astype(int), n - 1)
            idx[(self._dist <= r) | (self._dist > self.outer)] = -1
            self._rings[r] = (idx, np.bincount(idx[idx >= 0], minlength=n))
        return self._rings[r]

    def _measure(self, diff: np.ndarray, gx: np.ndarray, gy: np.ndarray, all_heads: np.ndarray,
                 heads: np.ndarray) -> np.ndarray:  # fmt: skip
        from scipy.ndimage import binary_dilation, label

        p = self.params
        n_sec = p.n_sectors
        threshold = p.k_sigma * noise_sigma(diff)
        diff = diff - np.median(diff[::2, ::2])
        collar = max(1, int(round(p.collar_um / self.um_per_bin)))
        free = np.ones(diff.shape, dtype=bool)
        for cx, cy, r in all_heads:
            _stamp(free, self._disc(int(r)), int(cx), int(cy))
        crowd = np.zeros(diff.shape, dtype=np.int16)  # how many heads are this close
        for cx, cy, r in heads:
            _stamp_add(crowd, self._disc(int(r) + collar), int(cx), int(cy))
        out = np.full((len(heads), n_sec), np.nan)
        area_px = self.um_per_bin**2
        cross = np.ones((3, 3), bool)
        bridge = max(1, int(round(p.bridge_um / self.um_per_bin)))
        for i, (cx, cy, r) in enumerate(heads):
            idx, size = self._ring(int(r))
            ys, xs, dys, dxs = _window(diff.shape, int(cx), int(cy), self.outer)
            sec, dist = idx[dys, dxs], self._dist[dys, dxs]
            others = crowd[ys, xs] - (dist <= r + collar)  # near another head: its flagellum
            fr = free[ys, xs] & (sec >= 0) & (others <= 0)
            n_free = np.bincount(sec[fr], minlength=n_sec)
            ok = n_free >= p.min_free_share * size
            if not ok.any():
                continue
            d, wx, wy = diff[ys, xs], gx[ys, xs], gy[ys, xs]
            dx, dy = _rigid_shift(d, wx, wy, dist <= r + collar)
            moving = (np.abs(d + wx * dx + wy * dy) > threshold) & fr
            ring = (dist > r) & (dist <= r + collar)
            if not (moving & ring).any():  # nothing moves next to the head: no flagellum
                out[i] = np.where(ok, 0.0, np.nan)
                continue
            lab, _ = label(binary_dilation(moving, cross, iterations=bridge), cross)
            touching = np.unique(lab[ring & moving])
            mine = moving & np.isin(lab, touching)
            n_move = np.bincount(sec[mine], minlength=n_sec)
            out[i] = np.where(ok, n_move * area_px, np.nan)
        return out


def noise_sigma(diff: np.ndarray) -> float:
    """Noise of a frame difference: 1.4826 x its MAD (robust to the few moving pixels).

    A codec that copies unchanged blocks from frame to frame (most inter frames of MPEG-like
    encoders; VISEM-Tracking's frames leave 70-85 % of pixels exactly unchanged) leaves no
    sensor noise there, and the MAD of the whole frame is 0. The noise that remains is the
    codec's, in the blocks it re-encoded, so when more than 30 % of the differences are
    exactly 0 the MAD is taken over the others. Floor: 0.25 grey levels (uint8 rounding).
    """
    sub = diff[::2, ::2].ravel()
    if np.mean(sub == 0) > 0.3:
        sub = sub[sub != 0]
    if sub.size == 0:
        return 0.25
    return max(1.4826 * float(np.median(np.abs(sub - np.median(sub)))), 0.25)


def _rigid_shift(d: np.ndarray, gx: np.ndarray, gy: np.ndarray, near: np.ndarray) -> tuple[float, float]:
    """Translation of the head and proximal flagellum between the two frames (binned px).

    One Lucas-Kanade step over the pixels ``near`` the head: the least-squares ``s`` with
    ``d ≈ -∇I · s``. A dead cell jiggles (Brownian motion, 0.1 µm per 0.04 s) and drifts
    with the fluid; both move its whole tail rigidly, and the residual ``d + ∇I · s``
    no longer shows it. A beating flagellum changes shape, which no translation undoes.
    Shifts beyond 1.5 binned px are not a jiggle: none is removed then.
    """
    ax, ay, t = gx[near], gy[near], d[near]
    a = np.array([[ax @ ax, ax @ ay], [ax @ ay, ay @ ay]])
    b = -np.array([ax @ t, ay @ t])
    if np.linalg.det(a) <= 1e-6 * max(np.trace(a), 1e-12) ** 2:
        return 0.0, 0.0
    sx, sy = np.linalg.solve(a, b)
    if np.hypot(sx, sy) > 1.5:
        return 0.0, 0.0
    return float(sx), float(sy)


def _window(shape: tuple[int, ...], cx: int, cy: int, r: int) -> tuple[slice, slice, slice, slice]:
    """Slices of an image and of a (2r+1)² patch centred at (cx, cy), clipped to the image."""
    h, w = shape
    y0, y1, x0, x1 = max(cy - r, 0), min(cy + r + 1, h), max(cx - r, 0), min(cx + r + 1, w)
    y0, x0 = min(y0, h), min(x0, w)
    return (slice(y0, max(y1, y0)), slice(x0, max(x1, x0)),
            slice(y0 - (cy - r), max(y1, y0) - (cy - r)), slice(x0 - (cx - r), max(x1, x0) - (cx - r)))  # fmt: skip


def _stamp_add(count: np.ndarray, disc: np.ndarray, cx: int, cy: int) -> None:
    r = disc.shape[0] // 2
    ys, xs, dys, dxs = _window(count.shape, cx, cy, r)
    count[ys, xs] += disc[dys, dxs]


def _stamp(free: np.ndarray, disc: np.ndarray, cx: int, cy: int) -> None:
    r = disc.shape[0] // 2
    ys, xs, dys, dxs = _window(free.shape, cx, cy, r)
    free[ys, xs] &= ~disc[dys, dxs]


def flagellum_per_detection(
    frames: Iterable[Frame],
    tracks: pd.DataFrame,
    calibration: Calibration,
    params: FlagellumParams | None = None,
) -> np.ndarray:
    """:math:`F_t` of every row of a Detections or Tracks table, streaming the frames once.

    Parameters
    ----------
    frames : iterable of Frame
        The recording (e.g. a :class:`~spermlab.io.source.FrameSource`).
    tracks : DataFrame
        Heads (``frame``, ``x``, ``y``, ``w``, ``h``), e.g. ground-truth tracks; every
        row of a frame is used as a head to leave out of the others' annuli.
    calibration : Calibration

    Returns
    -------
    ndarray
        One value per row of ``tracks``, in its order (µm², NaN where not measurable).
    """
    meter = FlagellumMeter(calibration, params)
    meter_sectors = meter.params.n_sectors
    out = np.full((len(tracks), meter_sectors), np.nan)
    order = tracks["frame"].to_numpy()
    by_frame = pd.Series(np.arange(len(tracks))).groupby(order).apply(np.asarray).to_dict()
    boxes = tracks[["x", "y", "w", "h"]].to_numpy(dtype=float)
    last = int(order.max()) if len(order) else -1
    for frame in frames:
        rows = by_frame.get(frame.index, np.zeros(0, dtype=int))
        out[rows] = meter.update(frame.image, boxes[rows], frame=frame.index)
        if frame.index >= last:
            break
    return out


def track_flagellum(
    tracks: pd.DataFrame, values: np.ndarray, *, fps: float, window_s: float = 1.0
) -> pd.Series:
    """A track's flagellar activity from its per-frame, per-sector moving areas.

    In each sliding window of ``window_s`` the median over frames of each sector is
    taken, and the largest sector kept: the cell's own flagellum moves in the same
    direction from its head frame after frame, while tails and particles that pass move
    through a sector for a few frames only. The windows' values are averaged.

    Parameters
    ----------
    tracks : DataFrame
        A Tracks table.
    values : ndarray, shape (n_rows, n_sectors)
        Per row of ``tracks`` (:meth:`FlagellumMeter.update`).
    fps : float
        Frame rate (to turn ``window_s`` into frames).
    window_s : float
        Window length, that of progression (1 s).

    Returns
    -------
    Series
        Indexed by ``track_id``: µm², NaN for a track with no measurable frame.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    if len(values) != len(tracks):
        raise ValueError(f"values: expected one row per track row ({len(tracks)}), got {len(values)}")
    win = max(1, int(round(window_s * fps)))
    ids = tracks["track_id"].to_numpy()
    frames = tracks["frame"].to_numpy()
    order = np.lexsort((frames, ids))
    out: dict[int, float] = {}
    bounds = np.flatnonzero(np.diff(ids[order])) + 1
    for rows in np.split(order, bounds):
        if rows.size == 0:
            continue
        tid, f = int(ids[rows[0]]), frames[rows]
        grid = np.full((int(f.max() - f.min()) + 1, values.shape[1]), np.nan)
        grid[f - f.min()] = values[rows]
        out[tid] = _windowed_max_median(grid, win)
    return pd.Series(out, name="flagellum", dtype=float)


def _windowed_max_median(grid: np.ndarray, win: int) -> float:
    """Mean over sliding windows of the largest per-sector median (NaN-aware)."""
    if not np.isfinite(grid).any():
        return float("nan")
    if len(grid) <= win:
        return _max_median(grid)
    med = pd.DataFrame(grid).rolling(win, min_periods=1).median().to_numpy()[win - 1:]
    n_valid = pd.DataFrame(np.isfinite(grid[:, :1])).rolling(win, min_periods=1).sum().to_numpy()
    best = np.where(np.isfinite(med), med, -np.inf).max(axis=1)
    best = best[np.isfinite(best) & (n_valid[win - 1:, 0] >= 1)]
    return float(best.mean()) if best.size else _max_median(grid)


def _max_median(grid: np.ndarray) -> float:
    rows = grid[np.isfinite(grid).any(axis=1)]
    med = np.array([np.median(c[np.isfinite(c)]) if np.isfinite(c).any() else -np.inf
                    for c in rows.T])  # fmt: skip
    return float(med.max()) if np.isfinite(med).any() else float("nan")
