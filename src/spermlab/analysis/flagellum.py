r"""Flagellar beat: does the image move beside a head that itself stays put?

WHO 2021 (laboratory manual, 6th ed., section 3.5.2) grades as non-progressive (c) "all
other patterns of motility with an absence of progression", including "only a flagellar
beat", and as immotile (d) "no movement". A cell stuck to the glass by its head beats its
tail while its head path is still, so the head path alone calls it immotile. This module
looks at the tail's movement in the video itself.

Definition
----------
*Movement in noise units.* Frames are binned to about ``bin_um`` µm per pixel (0.5 µm: a
flagellum, 0.5-1 µm wide and blurred by the optics, stays at least one binned pixel wide).
For a sampled frame ``t`` (``sample_fps``, 25 per second) and the frame one lag earlier
(``lag_s`` = 0.04 s, half the period of a 12.5-Hz beat, the middle of the human range), the
difference ``D = I_t - I_{t-L}`` is taken, its median removed (flicker), and its noise
``σ`` measured as 1.4826 x the median absolute value of ``D`` (the MAD: most of a frame is
background; a codec that copies unchanged blocks is handled in :func:`noise_sigma`). Around
each head, the cell's own rigid movement (Brownian jiggle, drift) is removed by one
Lucas-Kanade step on the pixels near the head (:func:`_rigid_shifts`), leaving the residual
``R``. Each pixel of the disc of radius ``outer_um`` (25 µm: the proximal half of a 45-55 µm
flagellum) around the head, outside every head's disc, contributes
``q = min((R / σ)², q_cap)``: 1 on average where nothing moves (whatever the optics, the
camera or the codec), more where something does; the cap (16, i.e. 4σ) keeps one passing
swimmer from dominating.

*Integration over a window.* The tail of a weak or faintly contrasted beat changes a pixel
by a fraction of the noise in one frame, but it does so again and again; a swimmer or a
particle that passes does so once. So per track and per window of ``window_s`` (1 s, that
of progression), ``q`` is averaged per pixel in the head's frame of reference (``q̄``;
about 25 samples), and summarised as a polar map: the mean of ``q̄ - 1`` in ``n_angles`` x
``n_radii`` sectors (24 x 8) around the head, turned so that the most active direction
comes first and mirrored so that its stronger neighbour follows (a tail has no preferred
side), plus the same quantity on the head itself (a stuck head rocks with its beat), the
share of the disc that could be measured and the number of samples.

*Periodicity.* A beat is periodic: each pixel the flagellum crosses changes at the beat
frequency, again and again, while noise, a passing swimmer or a jiggling dead cell spread
their change over all frequencies. So the window also keeps each pixel's signed residual
``z = R / σ`` (capped like ``q``), and :func:`spectral_features` takes its spectrum: the power
per frequency bin in units of that bin's background level, as a polar map at the frequency
where one direction is strongest. A swing too small to raise ``q̄`` much (a fraction of a
binned pixel) still gathers its power in one bin of 25: this is what finds faint beats.

*Decision, learned.* Whether such maps show a beating flagellum (a fan anchored at the
head, persistent, in one direction) or a still cell among passing swimmers, jiggling debris
and crowded neighbours is a pattern, so it is learned: a gradient-boosted tree ensemble
(:class:`spermlab._trees.TreeEnsemble`, trained by ``benchmarks/flagellum_train.py`` on
simulated recordings with exact truth, both optics, seeds apart from every evaluation seed;
model card ``weights/FLAGELLUM_BEAT_CARD.md``) gives the probability that the window shows
a beat. A track's windows are pooled as the mean of their probabilities, and turned into the
track's ``flagellum`` value, the probability (0-1) that the cell beats, by a logistic
calibration fitted on the training recordings' tracks (out-of-fold window probabilities), so
that the value means what it says at the level where it is used; NaN when no window could be
measured (at the border, in a crowd, or a head that moved).
:func:`spermlab.analysis.motility.grade` calls a non-progressing cell c when it is at least
``flagellum_p`` = 0.5 (as likely as not: the two errors weighted alike).

*Which heads.* A head that moved more than ``still_um_s`` (15 µm/s) since its previous
sample is skipped: its grade comes from its path, and its own movement would leave traces
in ``D`` (the rigid-shift step handles up to 1.5 binned px per lag, about 18 µm/s).

It needs the frames after linking (the track ids): :class:`FlagellumMeter` takes each frame
with its heads and their ids while the video streams once, and keeps the lagged frames and
one accumulating patch per live track and the current window's samples of ``z`` (at most
``sample_fps`` x ``window_s`` patches, float16: 0.5 MB a track at the defaults) only, so
memory is flat with video length.

References
----------
World Health Organization. WHO laboratory manual for the examination and processing of
human semen, 6th ed. Geneva, 2021 (section 3.5.2, motility grades).
Mortimer ST. A critical review of the physiological importance and analysis of sperm
movement in mammals. Hum Reprod Update 3:403-439, 1997 (flagellar beat 5-20 Hz).
Lucas BD, Kanade T. An iterative image registration technique with an application to stereo
vision. IJCAI 1981, 674-679 (the rigid-shift step).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from spermlab._trees import TreeEnsemble
from spermlab.calibration import Calibration
from spermlab.io.source import Frame

__all__ = ["BeatModel", "FlagellumMeter", "FlagellumParams", "flagellum_of_tracks", "flagellum_windows",
           "heads_by_frame", "load_beat_model", "noise_sigma", "spectral_features", "window_features"]

#: A sample "hits" a pixel when ``q`` exceeds 4 (2σ); under noise alone 4.55 % of samples do.
HIT_Q = 4.0
HIT_NULL = 0.0455

#: The shipped beat classifier (base64 text of the tree ensemble, see the model card).
BEAT_MODEL = "flagellum_beat.txt"

#: ``blocked`` value of a pixel on a head's disc or outside the frame (never measured).
_BLOCKED = 1000

#: How far (binned px) outside the frame a head's centre may lie and still be measured.
_EDGE = 4


@dataclass(frozen=True)
class FlagellumParams:
    """Parameters of the flagellar beat measure (see the module docstring).

    The shipped classifier was trained with the defaults; changing any of them changes its
    input, so a changed setting needs a model trained with it (``flagellum_train.py``).
    """

    outer_um: float = 25.0
    head_margin_um: float = 1.5
    lag_s: float = 0.04
    bin_um: float = 0.5
    collar_um: float = 4.0
    sample_fps: float = 25.0
    window_s: float = 1.0
    q_cap: float = 16.0
    still_um_s: float = 15.0
    min_samples: int = 8
    n_angles: int = 24
    n_radii: int = 8

    def __post_init__(self) -> None:
        for name in ("outer_um", "lag_s", "bin_um", "sample_fps", "window_s", "q_cap",
                     "still_um_s"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"FlagellumParams.{name} must be > 0, got {getattr(self, name)}")
        if self.head_margin_um < 0:
            raise ValueError(
                f"FlagellumParams.head_margin_um must be >= 0, got {self.head_margin_um}")
        if self.min_samples < 2 or self.n_angles < 4 or self.n_radii < 1:
            raise ValueError("FlagellumParams: need min_samples >= 2, n_angles >= 4, n_radii >= 1")


@dataclass(frozen=True)
class BeatModel:
    """The beat classifier: a tree ensemble on windows and a logistic calibration of tracks.

    ``track_probability(ps) = sigmoid(slope * logit(mean(ps)) + intercept)`` for the window
    probabilities ``ps`` of one track.
    """

    windows: TreeEnsemble
    slope: float = 1.0
    intercept: float = 0.0

    def window_probability(self, x: np.ndarray) -> np.ndarray:
        """Probability that each window (row of :func:`window_features`) shows a beat."""
        return self.windows.proba(np.atleast_2d(x))

    def track_probability(self, window_ps: list[float] | np.ndarray) -> float:
        """The track's beat probability from its windows' (NaN for none)."""
        ps = np.asarray(window_ps, float)
        if ps.size == 0:
            return float("nan")
        m = float(np.clip(ps.mean(), 1e-6, 1 - 1e-6))
        z = self.slope * np.log(m / (1 - m)) + self.intercept
        return float(1.0 / (1.0 + np.exp(-z)))

    def to_text(self) -> str:
        """Two lines: the ensemble (:meth:`TreeEnsemble.to_text`), then the calibration."""
        return f"{self.windows.to_text()}\ncalibration {self.slope!r} {self.intercept!r}\n"

    @classmethod
    def from_text(cls, text: str) -> BeatModel:
        """The inverse of :meth:`to_text`."""
        lines = text.strip().splitlines()
        ensemble = TreeEnsemble.from_text(lines[0].strip())
        if len(lines) < 2:
            return cls(ensemble)
        word, slope, intercept = lines[1].split()
        if word != "calibration":
            raise ValueError(f"flagellar beat model: second line should start with 'calibration', got {word!r}")
        return cls(ensemble, float(slope), float(intercept))


@dataclass
class _Window:
    """One track's accumulating window: per-pixel sums of ``q`` in the head's frame."""

    start: int
    radius: int
    sum_q: np.ndarray
    count: np.ndarray
    hits: np.ndarray
    series: list[np.ndarray]
    head_q: float = 0.0
    n: int = 0


@dataclass
class _Track:
    last_frame: int
    last_xy: tuple[float, float]
    window: _Window | None = None
    best: tuple[float, np.ndarray] | None = None


class FlagellumMeter:
    """Streaming measure of every track's flagellar beat (see the module docstring).

    Parameters
    ----------
    calibration : Calibration
        µm/px and fps.
    params : FlagellumParams, optional
    model : BeatModel, path, "shipped" or None
        The beat classifier; ``None`` only collects the windows' features (training).
    keep_maps : bool
        Keep, per track, the per-pixel movement ``q̄ - 1`` of its most beat-like window
        (``maps`` after :meth:`finish`; for the report's cell gallery).

    Examples
    --------
    >>> from spermlab.calibration import preset
    >>> meter = FlagellumMeter(preset("visem"), model=None)
    >>> meter.lag, meter.bin, meter.every
    (2, 2, 2)
    """

    def __init__(self, calibration: Calibration, params: FlagellumParams | None = None,
                 model: BeatModel | str | PathLike[str] | None = "shipped",
                 keep_maps: bool = False) -> None:  # fmt: skip
        self.params = p = params or FlagellumParams()
        self.model = load_beat_model(model) if isinstance(model, (str, PathLike)) else model
        self.fps = calibration.fps
        self.um_per_px = calibration.um_per_px
        self.bin = max(1, int(round(p.bin_um / calibration.um_per_px)))
        self.um_per_bin = calibration.um_per_px * self.bin
        self.lag = max(1, int(round(p.lag_s * calibration.fps)))
        self.every = max(1, int(round(calibration.fps / p.sample_fps)))
        self.window_frames = max(1, int(round(p.window_s * calibration.fps)))
        self.outer = max(2, int(round(p.outer_um / self.um_per_bin)))
        self.collar = max(1, int(round(p.collar_um / self.um_per_bin)))
        self._past: deque[list[Any]] = deque(maxlen=self.lag)
        g = np.arange(-self.outer, self.outer + 1)
        self._dist = np.hypot(g[None, :], g[:, None])
        self._discs: dict[int, np.ndarray] = {}
        self._allowed_cache: dict[int, np.ndarray] = {}
        self._tracks: dict[int, _Track] = {}
        #: (track_id, first frame, features) of every closed window, in closing order
        self.windows: list[tuple[int, int, np.ndarray]] = []
        self._done: set[int] = set()
        self.keep_maps = keep_maps
        #: track_id -> (2 outer + 1)² float16 map of ``q̄ - 1`` (NaN unmeasured), keep_maps only
        self.maps: dict[int, np.ndarray] = {}

    # -- geometry ----------------------------------------------------------------------

    def _head_radius(self, w: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Head disc radius in binned px: half the box's longer side plus the margin."""
        r_um = 0.5 * np.maximum(w, h) * self.um_per_px + self.params.head_margin_um
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

    # -- streaming ---------------------------------------------------------------------

    def update(self, image: np.ndarray, boxes: np.ndarray, track_ids: np.ndarray, *,
               frame: int) -> None:  # fmt: skip
        """Take one frame with its heads.

        Parameters
        ----------
        image : ndarray, shape (H, W)
            The grey frame.
        boxes : ndarray, shape (n, 4)
            ``x, y, w, h`` of each head (px, centre and size): every head of the frame,
            all of which are left out of the others' discs.
        track_ids : ndarray, shape (n,)
            Each head's track; negative ids are heads to leave out but not to measure.
        frame : int
            The frame's index; frames must come in increasing order. A frame ``frame - lag``
            that was not given (a gap) leaves this frame unmeasured.
        """
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        if len(ids) != len(boxes):
            raise ValueError(f"FlagellumMeter.update: {len(boxes)} boxes but {len(ids)} track ids")
        sampled = frame % self.every == 0
        # a frame is only used when sampled or as a later sample's lagged frame
        binned = self._binned(image) if sampled or (frame + self.lag) % self.every == 0 else None
        centres = np.floor(boxes[:, :2] / self.bin).astype(int)
        heads = np.c_[centres, self._head_radius(boxes[:, 2], boxes[:, 3])]
        past = self._past[0] if len(self._past) == self.lag else None
        grad = None
        lagged = (past is not None and past[0] == frame - self.lag and past[1] is not None
                  and binned is not None and past[1].shape == binned.shape)  # fmt: skip
        if sampled and lagged:
            measure = self._still(ids, boxes, frame)
            grad = np.gradient(binned)
            if past[3] is None:
                past[3] = np.gradient(past[1])
            if measure.any():
                gy, gx = 0.5 * (grad[0] + past[3][0]), 0.5 * (grad[1] + past[3][1])
                self._accumulate(binned - past[1], gx, gy, np.vstack([heads, past[2]]),
                                 heads, ids, measure, frame)  # fmt: skip
        self._past.append([frame, binned, heads, grad])
        self._close_stale(frame)

    def _still(self, ids: np.ndarray, boxes: np.ndarray, frame: int) -> np.ndarray:
        """Which heads to measure: tracked, and no faster than ``still_um_s`` since last seen."""
        out = ids >= 0
        for i, tid in enumerate(ids):
            if tid < 0:
                continue
            t = self._tracks.get(int(tid))
            xy = (float(boxes[i, 0]), float(boxes[i, 1]))
            if t is None:
                self._tracks[int(tid)] = _Track(frame, xy)
                continue
            dt = (frame - t.last_frame) / self.fps
            moved = np.hypot(xy[0] - t.last_xy[0], xy[1] - t.last_xy[1]) * self.um_per_px
            out[i] = dt <= 0 or moved <= self.params.still_um_s * dt
            t.last_frame, t.last_xy = frame, xy
        return out

    def _accumulate(self, diff: np.ndarray, gx: np.ndarray, gy: np.ndarray, all_heads: np.ndarray,
                    heads: np.ndarray, ids: np.ndarray, measure: np.ndarray, frame: int) -> None:  # fmt: skip
        """Add one sample of ``q`` to the window of every measured head.

        The heads are processed together on stacked (2 outer + 1)² patches cut from the
        frames padded with unmeasurable pixels (one NumPy call per step for all of them,
        instead of a few dozen per head: the same arithmetic, at a fraction of the cost).
        """
        p = self.params
        sigma = noise_sigma(diff)
        diff = diff - np.median(diff[::2, ::2])
        # per pixel: how many heads have it in their collar, _BLOCKED on a head's disc
        blocked = np.zeros(diff.shape, dtype=np.int16)
        for cx, cy, r in heads:
            _stamp_add(blocked, self._disc(int(r) + self.collar), int(cx), int(cy))
        for cx, cy, r in all_heads:
            _stamp_set(blocked, self._disc(int(r)), int(cx), int(cy), _BLOCKED)
        o, e = self.outer, _EDGE
        h, w = diff.shape
        sel = np.flatnonzero(measure & (heads[:, 0] >= -e) & (heads[:, 0] < w + e)
                             & (heads[:, 1] >= -e) & (heads[:, 1] < h + e))  # fmt: skip
        if not len(sel):
            return
        cx, cy, r = heads[sel, 0], heads[sel, 1], heads[sel, 2]

        def patches(a: np.ndarray, fill: Any) -> np.ndarray:
            padded = np.pad(a, o + e, constant_values=fill)
            return sliding_window_view(padded, (2 * o + 1, 2 * o + 1))[cy + e, cx + e]

        d, wx, wy = patches(diff, 0.0), patches(gx, 0.0), patches(gy, 0.0)
        uniq, which = np.unique(r, return_inverse=True)
        # measured: on the annulus, in the frame, off every head's disc, and near no other
        # head (its flagellum, not this one's): at most this head's own collar
        ok = patches(blocked, _BLOCKED) <= np.stack([self._allowed(int(v)) for v in uniq])[which]
        # the rigid shift from the square around the head that holds every near pixel
        k = int(uniq.max()) + self.collar
        c = slice(o - k, o + k + 1)
        dist = self._dist[c, c]
        g = np.arange(-k, k + 1)
        in_frame = (((cy[:, None] + g) >= 0) & ((cy[:, None] + g) < h))[:, :, None] \
            & (((cx[:, None] + g) >= 0) & ((cx[:, None] + g) < w))[:, None, :]  # fmt: skip
        near = dist <= (r + self.collar)[:, None, None]
        dx, dy = _rigid_shifts(d[:, c, c], wx[:, c, c], wy[:, c, c], near)
        z = d + wx * dx[:, None, None] + wy * dy[:, None, None]
        z /= np.float32(sigma)
        q = np.square(z)
        np.minimum(q, np.float32(p.q_cap), out=q)
        cap = np.float32(np.sqrt(p.q_cap))
        z = np.clip(z, -cap, cap, out=z)
        z *= ok
        hit = ok & (q > HIT_Q)
        q_ok = q * ok
        head = (dist <= r[:, None, None]) & in_frame
        n_head = head.sum(axis=(1, 2))
        head_q = np.where(n_head > 0, (q[:, c, c] * head).sum(axis=(1, 2)) / np.maximum(n_head, 1), 1.0)
        side = 2 * o + 1
        for j, i in enumerate(sel):
            track = self._tracks[int(ids[i])]
            win = track.window
            if win is not None and frame - win.start >= self.window_frames:
                self._close(int(ids[i]), track)
                win = None
            if win is None:
                win = track.window = _Window(frame, int(r[j]), np.zeros((side, side), np.float32),
                                             np.zeros((side, side), np.int32),
                                             np.zeros((side, side), np.int32), [])  # fmt: skip
            win.series.append(z[j].astype(np.float16))
            win.sum_q += q_ok[j]
            win.count += ok[j]
            win.hits += hit[j]
            win.head_q += float(head_q[j])
            win.n += 1

    def _allowed(self, r: int) -> np.ndarray:
        """For a head of radius ``r``, per pixel of the (2 outer + 1)² patch: the highest
        ``blocked`` count at which the pixel is measured (1 on the collar around the head,
        where this head itself counts; 0 further out on the annulus; -1 never: the head's
        disc and beyond ``outer``)."""
        if r not in self._allowed_cache:
            dist = self._dist
            allowed = np.where(dist <= r + self.collar, 1, 0).astype(np.int16)
            allowed[(dist <= r) | (dist > self.outer)] = -1
            self._allowed_cache[r] = allowed
        return self._allowed_cache[r]

    def _close(self, tid: int, track: _Track) -> None:
        w, track.window = track.window, None
        if w is None or w.n < self.params.min_samples:
            return
        x = np.r_[window_features(w.sum_q, w.count, w.hits, w.head_q / w.n, w.radius, w.n, self.params),
                  spectral_features(np.stack(w.series), w.count, w.radius, self.fps / self.every,
                                    self.params)]  # fmt: skip
        self.windows.append((tid, w.start, x))  # probabilities: all at once in finish()
        if not self.keep_maps:
            return
        score = float(np.max(x[: self.params.n_radii]))  # the most active sector, without a model
        if self.model is not None:
            score = float(self.model.window_probability(x)[0])
        if track.best is None or score > track.best[0]:
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(w.count > 0, w.sum_q / w.count - 1.0, np.nan)
            track.best = (score, mean.astype(np.float16))

    def _close_stale(self, frame: int) -> None:
        """Close the windows of tracks not seen for a window's length (they ended)."""
        gone = [tid for tid, t in self._tracks.items() if frame - t.last_frame > self.window_frames]
        for tid in gone:
            self._end(tid)

    def _end(self, tid: int) -> None:
        t = self._tracks.pop(tid)
        self._close(tid, t)
        self._done.add(tid)
        if t.best is not None:
            self.maps[tid] = t.best[1]

    def finish(self) -> pd.Series:
        """Close every window; each track's flagellum value (its beat probability).

        Returns
        -------
        Series
            Indexed by ``track_id``, named ``flagellum``: 0-1, NaN for a track with no
            measured window (or every value NaN when the meter has no model).
        """
        for tid in list(self._tracks):
            self._end(tid)
        out = dict.fromkeys(sorted(self._done), float("nan"))
        if self.model is not None and self.windows:
            ids = np.array([w[0] for w in self.windows])
            ps = self.model.window_probability(np.stack([w[2] for w in self.windows]))
            for tid in np.unique(ids):
                out[int(tid)] = self.model.track_probability(ps[ids == tid])
        return pd.Series(out, name="flagellum", dtype=float)


def window_features(sum_q: np.ndarray, count: np.ndarray, hits: np.ndarray, head_q: float,
                    radius: int, n_samples: int, params: FlagellumParams | None = None) -> np.ndarray:  # fmt: skip
    """The classifier's input for one window (see the module docstring).

    Parameters
    ----------
    sum_q, count, hits : ndarray, shape (2 outer + 1, 2 outer + 1)
        Per pixel: sum of ``q``, number of samples, and samples with ``q`` > ``HIT_Q``
        (2σ); the head at the centre.
    head_q : float
        Mean ``q`` on the head's own disc.
    radius : int
        The head disc's radius (binned px).
    n_samples : int
        Samples in the window.

    Returns
    -------
    ndarray, float32, shape (2 n_angles n_radii + 3,)
        Two polar maps turned and mirrored alike: ``q̄ - 1`` (movement in noise units) and
        the share of samples above 2σ minus its noise-only share (how persistently it moves;
        a swimmer that passes moves a pixel once, a beating flagellum again and again), each
        -1 where a sector has no measured pixel; then ``head_q - 1``, the measured share of
        the disc and ``n_samples``.
    """
    p = params or FlagellumParams()
    outer = sum_q.shape[0] // 2
    sector, inside, n_disc = _polar_bins(outer, radius, p.n_angles, p.n_radii)
    ok = (count > 0) & inside
    n_bins = p.n_angles * p.n_radii
    cells = sector[ok]
    n = np.bincount(cells, minlength=n_bins).reshape(p.n_angles, p.n_radii).astype(float)
    maps = []
    for per_pixel in (sum_q[ok] / count[ok] - 1.0, hits[ok] / count[ok] - HIT_NULL):
        total = np.bincount(cells, weights=per_pixel, minlength=n_bins).reshape(p.n_angles, p.n_radii)
        maps.append(np.where(n > 0, total / np.maximum(n, 1), -1.0))
    m, h = maps
    active = np.where(n > 0, m, 0.0)[:, : max(1, (3 * p.n_radii) // 4)].sum(axis=1)
    active = active + 0.5 * (np.roll(active, 1) + np.roll(active, -1))
    order = np.roll(np.arange(p.n_angles), -int(np.argmax(active)))  # most active direction first
    if m[order[1]].sum() < m[order[-1]].sum():  # its stronger neighbour second
        order = np.r_[order[:1], order[1:][::-1]]
    share = float(ok.sum()) / max(n_disc, 1)
    return np.r_[m[order].ravel(), h[order].ravel(), head_q - 1.0, share,
                 float(n_samples)].astype(np.float32)  # fmt: skip


def spectral_features(series: np.ndarray, count: np.ndarray, radius: int, rate: float,
                      params: FlagellumParams | None = None) -> np.ndarray:  # fmt: skip
    """The window's periodic movement: power at the beat frequency, by polar sector.

    A beating flagellum changes each pixel it crosses periodically, at the beat frequency
    (2-15 Hz in human sperm, Mortimer 1997), so the power of that pixel's series gathers in
    one bin of its spectrum; sensor and codec noise, a passing swimmer and a jiggling dead
    cell spread theirs over all bins. Per pixel, the periodogram ``|F_k|²`` of the signed
    residual ``z = R / σ`` (the square root of ``q``, capped alike) is divided by its own mean
    over the searched bins (how peaked the pixel's spectrum is, whatever its level: a codec
    that re-encodes some blocks and copies others changes the level, not the shape; a pixel
    the codec copied throughout has no spectrum and counts as flat), then, bin by bin, by the
    median of that over the window's pixels divided by ln 2 (most of the disc is background, so
    the null shape that the lag difference gives the noise comes from the window itself; ln 2
    is the median of an exponential variable of mean 1). The polar sector means of that
    normalised power minus 1 are formed for
    every bin from 1.5 Hz up to (not including) the Nyquist frequency, whose power has one
    degree of freedom instead of two and another null; the bin whose most active direction
    (three neighbouring sectors, inner three quarters of the rings) is strongest is the
    window's beat frequency.

    Parameters
    ----------
    series : ndarray, shape (n, 2 outer + 1, 2 outer + 1)
        The window's samples of ``z``, 0 where a pixel was not measured.
    count : ndarray, shape (2 outer + 1, 2 outer + 1)
        Per pixel, the number of samples in which it was measured.
    radius : int
        The head disc's radius (binned px).
    rate : float
        Samples per second.

    Returns
    -------
    ndarray, float32, shape (n_angles n_radii + 4,)
        The polar map at the beat frequency (turned so that its most active direction comes
        first, and mirrored so that its stronger neighbour follows; -1 where a sector has no
        pixel measured in most samples), then that direction's strength, the median strength
        over the bins, the beat frequency (Hz) and the number of bins searched.
    """
    p = params or FlagellumParams()
    n = series.shape[0]
    n_bins = p.n_angles * p.n_radii
    empty = np.r_[np.full(n_bins, -1.0), 0.0, 0.0, 0.0, 0.0].astype(np.float32)
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    band = np.flatnonzero((freqs >= 1.5) & (freqs < 0.5 * rate - 1e-9))  # Nyquist: one degree of freedom
    outer = count.shape[0] // 2
    sector, inside, _ = _polar_bins(outer, radius, p.n_angles, p.n_radii)
    ok = inside & (count >= max(p.min_samples, (2 * n + 2) // 3))
    if not len(band) or ok.sum() < 16:
        return empty
    z = series[:, ok].astype(np.float32)
    z *= np.sqrt(n / count[ok], dtype=np.float32)  # unmeasured samples held 0
    z -= z.mean(axis=0)
    power = np.abs(np.fft.rfft(z, axis=0)[band]) ** 2
    level = power.mean(axis=0)
    live = level > 1e-9 * max(float(level.max()), 1e-30)  # a codec-copied pixel has no spectrum
    power = np.where(live, power / np.where(live, level, 1.0), 1.0)
    null = np.median(power[:, live], axis=1, keepdims=True) / np.log(2.0) if live.any() else 1.0
    power = power / np.maximum(null, 1e-6) - 1.0
    cells = sector[ok]
    npix = np.bincount(cells, minlength=n_bins).astype(float)
    maps = np.stack([np.bincount(cells, weights=pk, minlength=n_bins) for pk in power])
    maps = np.where(npix > 0, maps / np.maximum(npix, 1), 0.0).reshape(len(band), p.n_angles, p.n_radii)
    inner = maps[:, :, : max(1, (3 * p.n_radii) // 4)].mean(axis=2)
    strength = (inner + np.roll(inner, 1, axis=1) + np.roll(inner, -1, axis=1)) / 3.0
    best = strength.max(axis=1)
    k = int(np.argmax(best))
    m = np.where(npix.reshape(p.n_angles, p.n_radii) > 0, maps[k], -1.0)
    order = np.roll(np.arange(p.n_angles), -int(np.argmax(strength[k])))
    if m[order[1]].sum() < m[order[-1]].sum():
        order = np.r_[order[:1], order[1:][::-1]]
    return np.r_[m[order].ravel(), best[k], float(np.median(best)), freqs[band[k]],
                 float(len(band))].astype(np.float32)  # fmt: skip


@lru_cache(maxsize=64)
def _polar_bins(outer: int, radius: int, n_angles: int, n_radii: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Per pixel of the (2 outer + 1)² patch: its polar sector (angle x n_radii + ring) and
    whether the rings cover it; and the number of pixels with ``radius < rho <= outer``."""
    g = np.arange(-outer, outer + 1)
    xx, yy = np.meshgrid(g, g)
    rho = np.hypot(xx, yy)
    ai = np.minimum(((np.arctan2(yy, xx) % (2 * np.pi)) / (2 * np.pi) * n_angles).astype(int),
                    n_angles - 1)  # fmt: skip
    ri = np.floor((rho - radius) / max(outer - radius, 1) * n_radii).astype(int)
    inside = (rho > radius) & (ri >= 0) & (ri < n_radii)
    return np.where(inside, ai * n_radii + ri, 0), inside, int(((rho > radius) & (rho <= outer)).sum())


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


def _rigid_shifts(d: np.ndarray, gx: np.ndarray, gy: np.ndarray, near: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Translation of each head and its proximal flagellum between the two frames (binned px).

    One Lucas-Kanade step per head over the pixels ``near`` it: the least-squares ``s`` with
    ``d ≈ -∇I · s``. A dead cell jiggles (Brownian motion, 0.1 µm per 0.04 s) and drifts
    with the fluid; both move its whole tail rigidly, and the residual ``d + ∇I · s``
    no longer shows it. A beating flagellum changes shape, which no translation undoes.
    Shifts beyond 1.5 binned px are not a jiggle: none is removed then, nor where the
    2 x 2 system is (nearly) singular.

    Parameters
    ----------
    d, gx, gy : ndarray, shape (n, k, k)
        Per head: the frame difference and the image gradient (x, y) on a square around it.
    near : ndarray of bool, shape (n, k, k)
        The pixels that take part.

    Returns
    -------
    ndarray, ndarray
        ``sx``, ``sy`` (float32), one per head.
    """
    m = near.astype(np.float64)
    ax, ay, t = gx * m, gy * m, d.astype(np.float64)
    sxx, sxy, syy = (np.einsum("nij,nij->n", u, v) for u, v in ((ax, ax), (ax, ay), (ay, ay)))
    bx, by = -np.einsum("nij,nij->n", ax, t), -np.einsum("nij,nij->n", ay, t)
    det = sxx * syy - sxy * sxy
    solvable = det > 1e-6 * np.maximum(sxx + syy, 1e-12) ** 2
    safe = np.where(solvable, det, 1.0)
    sx, sy = (bx * syy - by * sxy) / safe, (sxx * by - sxy * bx) / safe
    keep = solvable & (np.hypot(sx, sy) <= 1.5)
    return np.where(keep, sx, 0.0).astype(np.float32), np.where(keep, sy, 0.0).astype(np.float32)


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


def _stamp_set(a: np.ndarray, disc: np.ndarray, cx: int, cy: int, value: int) -> None:
    r = disc.shape[0] // 2
    ys, xs, dys, dxs = _window(a.shape, cx, cy, r)
    a[ys, xs][disc[dys, dxs]] = value


def heads_by_frame(tracks: pd.DataFrame) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``frame -> (boxes, track_ids)`` of a Tracks table, the input of
    :meth:`FlagellumMeter.update` (negative ids: heads left out of the others' discs only)."""
    return {int(f): (g[["x", "y", "w", "h"]].to_numpy(float), g["track_id"].to_numpy(np.int64))
            for f, g in tracks.groupby("frame")}  # fmt: skip


_NO_HEADS = (np.zeros((0, 4)), np.zeros(0, np.int64))


def _stream(meter: FlagellumMeter, frames: Iterable[Frame], tracks: pd.DataFrame) -> None:
    by_frame = heads_by_frame(tracks)
    last = int(tracks["frame"].max()) if len(tracks) else -1
    for frame in frames:
        meter.update(frame.image, *by_frame.get(frame.index, _NO_HEADS), frame=frame.index)
        if frame.index >= last:
            break


def flagellum_of_tracks(
    frames: Iterable[Frame],
    tracks: pd.DataFrame,
    calibration: Calibration,
    params: FlagellumParams | None = None,
    model: BeatModel | str | PathLike[str] = "shipped",
) -> pd.Series:
    """Each track's flagellum value from a recording and a Tracks table (one pass).

    Parameters
    ----------
    frames : iterable of Frame
        The recording (e.g. a :class:`~spermlab.io.source.FrameSource`).
    tracks : DataFrame
        ``frame``, ``track_id``, ``x``, ``y``, ``w``, ``h`` (e.g. ground-truth tracks); rows
        with a negative ``track_id`` are heads left out of the others' discs only.
    calibration : Calibration
    params : FlagellumParams, optional
    model : BeatModel, path or "shipped"

    Returns
    -------
    Series
        Indexed by ``track_id``: mean beat probability (0-1), NaN where not measurable.
    """
    meter = FlagellumMeter(calibration, params, model)
    _stream(meter, frames, tracks)
    return meter.finish()


def flagellum_windows(
    frames: Iterable[Frame],
    tracks: pd.DataFrame,
    calibration: Calibration,
    params: FlagellumParams | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Every closed window's features, for training the classifier.

    Returns
    -------
    DataFrame, ndarray
        ``track_id`` and ``start`` (first frame) of each window, and its features
        (:func:`window_features`), one row per window.
    """
    meter = FlagellumMeter(calibration, params, model=None)
    _stream(meter, frames, tracks)
    meter.finish()
    n_feat = 3 * meter.params.n_angles * meter.params.n_radii + 7
    x = np.stack([w[2] for w in meter.windows]) if meter.windows else np.zeros((0, n_feat), np.float32)
    index = pd.DataFrame({"track_id": [w[0] for w in meter.windows],
                          "start": [w[1] for w in meter.windows]}, dtype=np.int64)  # fmt: skip
    return index, x


def load_beat_model(path: BeatModel | str | PathLike[str] | None = "shipped") -> BeatModel | None:
    """The beat classifier: the shipped one (``"shipped"``), one from a file, or ``None``."""
    if path is None or isinstance(path, BeatModel):
        return path
    if str(path) == "shipped":
        return _shipped_model()
    return BeatModel.from_text(Path(path).read_text(encoding="ascii"))


@lru_cache(maxsize=1)
def _shipped_model() -> BeatModel:
    ref = resources.files("spermlab.analysis") / "weights" / BEAT_MODEL
    try:
        text = ref.read_text(encoding="ascii")
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"the shipped flagellar beat model {BEAT_MODEL} is missing from the package "
            "(reinstall spermlab, or run benchmarks/flagellum_train.py)") from exc
    return BeatModel.from_text(text)
