"""Online linking of per-frame detections into tracks.

draft
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from spermlab import tables
from spermlab.calibration import Calibration
from spermlab.track.kalman import ConstantVelocity, KalmanState

__all__ = ["Linker", "link"]


class Linker:
    """draft"""

    def __init__(
        self,
        calibration: Calibration,
        *,
        max_speed_um_s: float = 200.0,
        memory: int = 3,
        motion_noise_um2_s3: float = 1e5,
        position_noise_um: float = 0.5,
        birth_speed_um_s: float = 50.0,
        miss_cost: float = 10.0,
        cost: str = "nll",
    ) -> None:
        self.calibration = calibration
        self.max_speed_um_s = float(max_speed_um_s)
        self.memory = int(memory)
        self.miss_cost = float(miss_cost)
        self.cost = cost
        ump, fps = calibration.um_per_px, calibration.fps
        self._um2 = ump * ump
        self._vmax = max_speed_um_s / fps / ump
        self._model = ConstantVelocity(
            q=motion_noise_um2_s3 / fps**3 / ump**2,
            r=(position_noise_um / ump) ** 2,
            v0=(birth_speed_um_s / fps / ump) ** 2,
        )
        self._state = KalmanState.empty()
        self._ids = np.zeros(0, dtype=np.int64)
        self._last_frame = np.zeros(0, dtype=np.int64)
        self._last_pos = np.zeros((0, 2))
        self._frame: int | None = None
        self._next_id = 0

    def _advance(self, frame: int) -> None:
        if self._frame is not None:
            if frame <= self._frame:
                raise ValueError(f"frame {frame} is not after the last frame {self._frame}")
            self._state = self._model.predict(self._state, frame - self._frame)
            alive = frame - self._last_frame <= self.memory + 1
            if not alive.all():
                self._state = self._state.take(alive)
                self._ids = self._ids[alive]
                self._last_frame = self._last_frame[alive]
                self._last_pos = self._last_pos[alive]
        self._frame = frame

    def _costs(self, xy: NDArray[np.float64], frame: int) -> NDArray[np.float64]:
        gap = (frame - self._last_frame).astype(float)
        disp = np.linalg.norm(xy[None, :, :] - self._last_pos[:, None, :], axis=2)
        d2 = ((xy[None, :, :] - self._state.pos[:, None, :]) ** 2).sum(axis=2)
        if self.cost == "nll":
            s = self._model.innovation_var(self._state)[:, None]
            c = 0.5 * d2 / s + np.log(2 * math.pi * s * self._um2)
        else:
            c = d2 * self._um2
        c[disp > self._vmax * gap[:, None]] = np.inf
        return c

    def _step(self, frame: int, xy: NDArray[np.float64]) -> NDArray[np.int64]:
        self._advance(frame)
        n, m = len(self._ids), len(xy)
        out = np.empty(m, dtype=np.int64)
        matched_det = np.zeros(m, dtype=bool)
        if n and m:
            c = self._costs(xy, frame)
            big = np.full((n, n), np.inf)
            np.fill_diagonal(big, self.miss_cost)
            rows, cols = linear_sum_assignment(np.hstack([c, big]))
            link = cols < m
            rows, cols = rows[link], cols[link]
            if len(rows):
                sub = self._state.take(rows)
                sub = self._model.update(sub, xy[cols])
                self._state.pos[rows] = sub.pos
                self._state.vel[rows] = sub.vel
                self._state.cov[rows] = sub.cov
                self._last_frame[rows] = frame
                self._last_pos[rows] = xy[cols]
                out[cols] = self._ids[rows]
                matched_det[cols] = True
        new = np.flatnonzero(~matched_det)
        if len(new):
            ids = np.arange(self._next_id, self._next_id + len(new), dtype=np.int64)
            self._next_id += len(new)
            out[new] = ids
            self._state = self._state.concat(self._model.birth(xy[new]))
            self._ids = np.concatenate([self._ids, ids])
            self._last_frame = np.concatenate([self._last_frame, np.full(len(new), frame)])
            self._last_pos = np.concatenate([self._last_pos, xy[new]])
        return out


def link(detections: pd.DataFrame, calibration: Calibration, **params: Any) -> pd.DataFrame:
    """draft"""
    det = tables.validate(detections, tables.DETECTIONS, name="Detections", extra="keep")
    linker = Linker(calibration, **params)
    frames = det["frame"].to_numpy()
    order = np.argsort(frames, kind="stable")
    xy = det[["x", "y"]].to_numpy()[order]
    fs = frames[order]
    ids = np.empty(len(det), dtype=np.int64)
    bounds = np.flatnonzero(np.diff(fs)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(fs)]])
    for a, b in zip(starts, ends, strict=True):
        if b > a:
            ids[order[a:b]] = linker._step(int(fs[a]), xy[a:b])
    det["track_id"] = ids
    return tables.validate(det, tables.TRACKS, name="Tracks", extra="keep")
