"""Online linking of per-frame detections into tracks.

The linker works frame by frame and never needs the whole video (DESIGN §1): each call
to :meth:`Linker.update` takes the detections of one frame and returns them with a
``track_id``. Per frame it

1. predicts every live track one frame ahead with an interacting multiple model (IMM)
   of constant-velocity Kalman filters (Kalman 1960; Blom and Bar-Shalom 1988): an
   "immotile" mode with almost no process noise and a "swimming" mode with a lot, so a
   still cell keeps a tight prediction while a swimmer's wobbling head gets room;
2. gates the candidate links by speed: a detection can join a track only if reaching
   it from the track's last detected position needs no more than ``max_speed_um_s``
   (plus three standard deviations of the localisation error of the two positions);
3. solves one global assignment between the live tracks and the detections
   (``scipy.optimize.linear_sum_assignment``), where the cost of a link is the negative
   log-likelihood of the detection under the track's prediction and each track may
   instead take a "missed" alternative of cost ``miss_cost`` (the alternative-cost
   device of Jaqaman et al. 2008);
4. updates the linked tracks; a track not linked keeps being predicted and can be
   linked again up to ``memory`` missed frames later (gap closing, as trackpy's
   ``memory``); after that it ends. Every unlinked detection starts a new track.

This is the particle linking of Crocker and Grier (1996) and trackpy (a displacement
gate, a memory for missed frames) with two changes: one optimal assignment per frame
instead of trackpy's subnetwork search, and a motion model in place of the last
position. Everything is in µm and s at the interface (through the
:class:`~spermlab.Calibration`), so one set of defaults serves a 50 fps VISEM video and
a 9 fps, 1 µm/px recording. With those defaults, on ground-truth positions stripped of
their ids (``benchmarks/linker_gt.py``), HOTA is 100.0 on VISEM-Tracking video 11 and
99.5 / 99.2 / 98.0 on Hart et al. (2025) P001 / P002 / P004, where trackpy's best
search range (10, 20 or 30 px, memory 3) reaches 99.9 and 95.6 / 96.7 / 96.7.

References
----------
.. [1] Kalman, R. E. (1960). A new approach to linear filtering and prediction problems.
   *Journal of Basic Engineering* 82(1), 35-45. doi:10.1115/1.3662552
.. [2] Blom, H. A. P. and Bar-Shalom, Y. (1988). The interacting multiple model
   algorithm for systems with Markovian switching coefficients. *IEEE Transactions on
   Automatic Control* 33(8), 780-783. doi:10.1109/9.1299
.. [3] Jaqaman, K. et al. (2008). Robust single-particle tracking in live-cell
   time-lapse sequences. *Nature Methods* 5, 695-702. doi:10.1038/nmeth.1237
.. [4] Crocker, J. C. and Grier, D. G. (1996). Methods of digital video microscopy for
   colloidal studies. *Journal of Colloid and Interface Science* 179, 298-310.
   doi:10.1006/jcis.1996.0217
.. [5] Allan, D. B. et al. trackpy: fast, flexible particle-tracking toolkit.
   doi:10.5281/zenodo.1226458
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from spermlab import tables
from spermlab.calibration import Calibration
from spermlab.track.kalman import InteractingMultipleModel

__all__ = ["Linker", "link"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


class Linker:
    """Link detections into tracks online, one frame at a time.

    Parameters
    ----------
    calibration : Calibration
        Supplies ``um_per_px`` and ``fps``, which turn the physical parameters below
        into pixels and frames.
    max_speed_um_s : float
        Speed gate, µm/s: a detection is never linked to a track whose last detected
        position, ``k`` frames earlier, is farther than ``max_speed_um_s * k / fps``
        µm plus ``3 * sqrt(2) * position_noise_um`` (the error of the two positions).
        Default 200 µm/s: above every frame-to-frame speed of the hand-corrected
        tracks of Hart et al. (2025) (at most 189 µm/s at 9 fps).
    memory : int, optional
        How many consecutive frames a track may go undetected and still be continued
        (gap closing; the meaning of trackpy's ``memory``). Default: 0.5 s of frames,
        at least 3 (25 at 50 fps, 4 at 9 fps). Half a second bridges the flicker of a
        detector on a still or slow head (on VISEM-Tracking video 11 the full classical
        flow's IDF1 rises from 62.2 at 3 frames to 72.4 at 25,
        ``benchmarks/linker_ablation.py``), while ``gap_reach_um`` keeps a long gap from
        capturing a distant cell.
    gap_reach_um : float, optional
        The farthest a track may be continued from its last detection after missed
        frames, µm. Default: ``3 * max_speed_um_s / fps``, what the fastest cell covers
        in three frames (48 px at VISEM's 50 fps), so a gap of up to 3 frames is closed
        exactly as before, and a longer one only near where the cell was lost: the
        common case of a detector flickering on a still or slow head. Without the cap
        the reach grew with the gap (0.5 s at 200 µm/s is 400 px on VISEM) and 53 links
        of video 11's full flow jumped more than 50 px to another cell; with it, 2
        (``benchmarks/linker_ablation.py``).
    motion_noise_um2_s3 : sequence of float
        Spectral density of the random acceleration of each motion mode, µm²/s³, one
        value per mode of the IMM. Default ``(10, 1e5)``: an immotile mode and a
        swimming mode (a velocity change of about 45 µm/s per frame at 50 fps, 105
        µm/s at 9 fps).
    position_noise_um : float
        Standard deviation of a detected position along one axis, µm. Default 0.5.
        Set it to the localisation error of the detector in use: too small a value
        breaks tracks of a jittery detector at the speed gate and makes immotile
        cells' predictions too tight.
    birth_speed_um_s : float
        Standard deviation of the unknown velocity of a new track along one axis,
        µm/s. Default 50.
    mode_switch : float
        Probability per frame that a track switches motion mode. Default 0.05.
    miss_cost : float
        Cost of leaving a track unlinked in a frame. The cost of a link is
        ``-ln p(detection | track)`` with positions in µm, so a link costlier than
        ``miss_cost`` is refused and its detection starts a new track. Default 15,
        lenient (about 5 standard deviations of a 1 µm-wide prediction): the speed
        gate does most of the rejecting. ``math.inf`` links every gated pair it can.

    Attributes
    ----------
    frame : int or None
        The last frame processed, ``None`` before the first.
    n_tracks : int
        Number of track ids issued so far (ids are ``0 .. n_tracks - 1``).
    params : dict
        The parameters above (without the calibration), JSON-ready, for the record.

    See Also
    --------
    link : the batch form, for a whole Detections table.

    Notes
    -----
    Track ids are integers from 0, issued in birth order (within a frame, in the row
    order of the detections); the result is deterministic. Classes (``cls``) are not
    used: a detector may call the same cell a sperm in one frame and a cluster in the
    next. A frame that is skipped (``update`` called for frame 5 after frame 3) is an
    empty frame: the tracks are predicted across it exactly as if it had been passed
    with no detections, so streaming and :func:`link` give identical ids.

    Examples
    --------
    >>> import pandas as pd
    >>> from spermlab import Calibration
    >>> linker = Linker(Calibration(um_per_px=0.5, fps=50.0))
    >>> for f in range(3):
    ...     det = pd.DataFrame({"frame": [f, f], "x": [10.0 + f, 100.0], "y": [20.0, 50.0 - f],
    ...                         "w": 10.0, "h": 10.0, "cls": 0, "score": 1.0})
    ...     out = linker.update(det)
    >>> out["track_id"].tolist()
    [0, 1]
    >>> linker.finish().empty
    True
    """

    def __init__(
        self,
        calibration: Calibration,
        *,
        max_speed_um_s: float = 200.0,
        memory: int | None = None,
        gap_reach_um: float | None = None,
        motion_noise_um2_s3: Sequence[float] = (10.0, 1e5),
        position_noise_um: float = 0.5,
        birth_speed_um_s: float = 50.0,
        mode_switch: float = 0.05,
        miss_cost: float = 15.0,
    ) -> None:
        if not isinstance(calibration, Calibration):
            got = type(calibration).__name__
            raise TypeError(f"calibration: expected a spermlab Calibration, got {got}")
        self.calibration = calibration
        if memory is None:
            memory = max(3, int(round(0.5 * calibration.fps)))
        self.params: dict[str, Any] = _check_params(
            max_speed_um_s=max_speed_um_s,
            memory=memory,
            motion_noise_um2_s3=motion_noise_um2_s3,
            position_noise_um=position_noise_um,
            birth_speed_um_s=birth_speed_um_s,
            mode_switch=mode_switch,
            miss_cost=miss_cost,
        )
        ump, fps = calibration.um_per_px, calibration.fps
        self._memory = int(memory)
        self._miss_cost = float(miss_cost)
        self._vmax_px = max_speed_um_s / fps / ump
        reach_um = 3.0 * max_speed_um_s / fps if gap_reach_um is None else float(gap_reach_um)
        if not (math.isfinite(reach_um) and reach_um > 0):
            raise ValueError(f"gap_reach_um must be a positive number of µm, got {gap_reach_um!r}")
        self.params["gap_reach_um"] = reach_um
        self._gap_reach_px = max(reach_um / ump, self._vmax_px)
        # Both end points of a displacement carry localisation error: allow 3 sigma of it.
        self._gate_slack_px = 3.0 * math.sqrt(2.0) * position_noise_um / ump
        self._log_um2 = math.log(ump * ump)  # densities per px² -> per µm²
        self._model = InteractingMultipleModel(
            q=tuple(q / fps**3 / ump**2 for q in self.params["motion_noise_um2_s3"]),
            r=(position_noise_um / ump) ** 2,
            v0=(birth_speed_um_s / fps / ump) ** 2,
            switch=float(mode_switch),
        )
        self._state = self._model.empty()
        self._ids: IntArray = np.zeros(0, dtype=np.int64)
        self._last_frame: IntArray = np.zeros(0, dtype=np.int64)
        self._last_pos: FloatArray = np.zeros((0, 2))
        self.frame: int | None = None
        self.n_tracks = 0
        self._finished = False

    @property
    def active_ids(self) -> IntArray:
        """Ids of the tracks that can still be linked (a copy)."""
        return self._ids.copy()

    def update(self, detections: pd.DataFrame, *, frame: int | None = None) -> pd.DataFrame:
        """Link the detections of one frame; return them with their ``track_id``.

        Parameters
        ----------
        detections : DataFrame
            A Detections table (:data:`spermlab.tables.DETECTIONS`, extra columns kept)
            whose rows all belong to one frame, later than the previous call's.
        frame : int, optional
            The frame number. Needed only to place an empty table in time; by default
            an empty table is the frame after the previous one (frame 0 at the start).

        Returns
        -------
        DataFrame
            A new Tracks table: the same rows in the same order, with ``track_id``.

        Raises
        ------
        ValueError
            When the table is not a valid Detections table, already has a
            ``track_id``, spans several frames, or its frame is not after the last one.
        RuntimeError
            After :meth:`finish`.
        """
        if self._finished:
            raise RuntimeError("Linker.update called after finish(); create a new Linker")
        det = _validate_detections(detections)
        frames = np.unique(det["frame"].to_numpy())
        if len(frames) > 1:
            raise ValueError(f"Detections: update() takes one frame, got frames {frames.tolist()}")
        if len(frames) and frame is not None and frames[0] != frame:
            raise ValueError(f"Detections: rows are in frame {frames[0]}, but frame={frame}")
        if len(frames):
            frame = int(frames[0])
        elif frame is None:
            frame = 0 if self.frame is None else self.frame + 1
        det["track_id"] = self._step(int(frame), tables.columns(det, ("x", "y")))
        return tables.validate(det, tables.TRACKS, name="Tracks", extra="keep")

    def finish(self) -> pd.DataFrame:
        """End the stream: every track ends, and later :meth:`update` calls fail.

        Returns
        -------
        DataFrame
            Rows still held back. This linker decides every id at once, so it is always
            an empty Tracks table; the method exists so that a pipeline can treat all
            linkers alike (``concat(updates + [finish()])``).
        """
        self._finished = True
        self._state = self._model.empty()
        self._ids = self._ids[:0]
        self._last_frame = self._last_frame[:0]
        self._last_pos = self._last_pos[:0]
        return tables.empty(tables.TRACKS)

    # -- internals, in px and frames ---------------------------------------------------

    def _advance(self, frame: int) -> None:
        """Predict the live tracks up to ``frame``, ending those gone too long."""
        if frame < 0:
            raise ValueError(f"frames are 0-based, got frame {frame}")
        if self.frame is not None:
            if frame <= self.frame:
                raise ValueError(f"frame {frame} is not after the last frame {self.frame}")
            # Beyond memory + 1 frames every current track has ended: no need to go on.
            for f in range(self.frame + 1, min(frame, self.frame + self._memory + 2) + 1):
                self._state = self._model.predict(self._state)
                self._drop(f - self._last_frame > self._memory + 1)
        self.frame = frame

    def _drop(self, dead: NDArray[np.bool_]) -> None:
        if dead.any():
            keep = ~dead
            self._state = self._state.take(keep)
            self._ids = self._ids[keep]
            self._last_frame = self._last_frame[keep]
            self._last_pos = self._last_pos[keep]

    def _costs(self, xy: FloatArray, frame: int) -> FloatArray:
        """(tracks, detections) link costs; ``inf`` where the speed gate forbids."""
        gap = (frame - self._last_frame).astype(float)
        disp2 = ((xy[None, :, :] - self._last_pos[:, None, :]) ** 2).sum(axis=2)
        reach = np.minimum(self._vmax_px * gap, self._gap_reach_px) + self._gate_slack_px
        rows, cols = np.nonzero(disp2 <= reach[:, None] ** 2)
        cost = np.full(disp2.shape, np.inf)
        loglik = self._model.log_likelihood(self._state.take(rows), xy[cols])
        cost[rows, cols] = self._log_um2 - loglik
        return cost

    def _assign(self, cost: FloatArray) -> tuple[IntArray, IntArray]:
        """Global assignment with a "missed" alternative per track (Jaqaman et al. 2008)."""
        n, m = cost.shape
        finite = cost[np.isfinite(cost)]
        if len(finite) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        miss_cost = self._miss_cost
        if not math.isfinite(miss_cost):
            # Dearer than any set of links, yet small enough to keep the link costs exact.
            miss_cost = float(finite.max() + (finite.max() - finite.min() + 1.0) * (n + 1))
        miss = np.full((n, n), np.inf)
        np.fill_diagonal(miss, miss_cost)
        rows, cols = linear_sum_assignment(np.hstack([cost, miss]))
        linked = cols < m
        return rows[linked].astype(np.int64), cols[linked].astype(np.int64)

    def _step(self, frame: int, xy: FloatArray) -> IntArray:
        """Link one frame's positions ((m, 2) px); return their track ids."""
        self._advance(frame)
        out = np.empty(len(xy), dtype=np.int64)
        rows, cols = self._assign(self._costs(xy, frame))
        if len(rows):
            self._state.put(rows, self._model.update(self._state.take(rows), xy[cols]))
            self._last_frame[rows] = frame
            self._last_pos[rows] = xy[cols]
            out[cols] = self._ids[rows]
        new = np.setdiff1d(np.arange(len(xy)), cols)
        if len(new):
            ids = np.arange(self.n_tracks, self.n_tracks + len(new), dtype=np.int64)
            self.n_tracks += len(new)
            out[new] = ids
            self._state = self._state.concat(self._model.birth(xy[new]))
            self._ids = np.concatenate([self._ids, ids])
            self._last_frame = np.concatenate([self._last_frame, np.full(len(new), frame)])
            self._last_pos = np.concatenate([self._last_pos, xy[new]])
        return out


def link(
    detections: pd.DataFrame,
    calibration: Calibration,
    *,
    n_frames: int | None = None,
    **params: Any,
) -> pd.DataFrame:
    """Link a whole Detections table into tracks (batch form of :class:`Linker`).

    The frames are fed to one :class:`Linker` in increasing order; a frame with no row
    in the table is an empty frame (time still advances across it).

    Parameters
    ----------
    detections : DataFrame
        A Detections table (:data:`spermlab.tables.DETECTIONS`, extra columns kept), in
        any row order. Not modified.
    calibration : Calibration
        Scale and frame rate of the recording.
    n_frames : int, optional
        Number of frames of the recording; when given, every ``frame`` must lie in
        ``[0, n_frames)``.
    **params
        Keyword parameters of :class:`Linker` (``max_speed_um_s``, ``memory``...).

    Returns
    -------
    DataFrame
        A new Tracks table: the rows of ``detections`` in their original order, with
        ``track_id``.

    Examples
    --------
    >>> import pandas as pd
    >>> from spermlab import Calibration
    >>> det = pd.DataFrame({"frame": [0, 0, 1, 1, 3], "x": [10.0, 50.0, 50.5, 11.0, 12.0],
    ...                     "y": 20.0, "w": 8.0, "h": 8.0, "cls": 0, "score": 1.0})
    >>> link(det, Calibration(um_per_px=0.5, fps=50.0))["track_id"].tolist()
    [0, 1, 1, 0, 0]
    """
    det = _validate_detections(detections)
    frames = det["frame"].to_numpy()
    if n_frames is not None and (not isinstance(n_frames, int | np.integer) or n_frames < 0):
        raise ValueError(f"n_frames must be an integer >= 0, got {n_frames!r}")
    if n_frames is not None and len(frames) and not (0 <= frames.min() and frames.max() < n_frames):
        raise ValueError(
            f"Detections: frames must be in [0, {n_frames}), got {frames.min()}..{frames.max()}"
        )
    linker = Linker(calibration, **params)
    order = np.argsort(frames, kind="stable")
    xy = tables.columns(det, ("x", "y"))[order]
    sorted_frames = frames[order]
    ids = np.empty(len(det), dtype=np.int64)
    if len(det):
        starts = np.flatnonzero(np.r_[True, np.diff(sorted_frames) != 0])
        for a, b in zip(starts, np.r_[starts[1:], len(det)], strict=True):
            ids[order[a:b]] = linker._step(int(sorted_frames[a]), xy[a:b])
    det["track_id"] = ids
    return tables.validate(det, tables.TRACKS, name="Tracks", extra="keep")


def _validate_detections(detections: pd.DataFrame) -> pd.DataFrame:
    if isinstance(detections, pd.DataFrame) and "track_id" in detections.columns:
        raise ValueError(
            "Detections: already has a 'track_id' column; drop it to re-link "
            "(detections.drop(columns='track_id'))"
        )
    return tables.validate(detections, tables.DETECTIONS, name="Detections", extra="keep")


def _check_params(**params: Any) -> dict[str, Any]:
    """Check the Linker parameters; return them as plain floats, ints and lists."""
    out: dict[str, Any] = {}
    for name in ("max_speed_um_s", "position_noise_um", "birth_speed_um_s"):
        out[name] = _positive(name, params[name])
    memory = params["memory"]
    if isinstance(memory, bool) or not isinstance(memory, int | np.integer) or memory < 0:
        raise ValueError(f"memory must be an integer >= 0 (frames), got {memory!r}")
    out["memory"] = int(memory)
    noise = params["motion_noise_um2_s3"]
    values = np.atleast_1d(np.asarray(noise, dtype=float)) if _is_numeric(noise) else None
    if values is None or values.ndim != 1 or not (np.isfinite(values) & (values >= 0)).all():
        raise ValueError(
            f"motion_noise_um2_s3 must be a sequence of finite values >= 0 (µm²/s³, one per "
            f"motion mode), got {noise!r}"
        )
    out["motion_noise_um2_s3"] = values.tolist()
    switch = params["mode_switch"]
    if not (_is_numeric(switch) and 0 <= float(switch) < 1):
        raise ValueError(f"mode_switch must be a probability in [0, 1), got {switch!r}")
    out["mode_switch"] = float(switch)
    miss = params["miss_cost"]
    if not (_is_numeric(miss) and -math.inf < float(miss)):  # NaN fails the comparison
        raise ValueError(f"miss_cost must be a number or math.inf, got {miss!r}")
    out["miss_cost"] = float(miss)
    return out


def _is_numeric(value: Any) -> bool:
    try:
        np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return True


def _positive(name: str, value: Any) -> float:
    if not (_is_numeric(value) and np.ndim(value) == 0 and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)
