"""Multi-object tracking evaluation: HOTA, CLEAR MOT (MOTA) and identity (IDF1) metrics.

The metrics are TrackEval's, reimplemented in spermlab so that no unmaintained
dependency sits in the core (the reimplementation agrees with TrackEval 1.3 to 1e-6;
``tests/evaluate/test_tracking_parity.py`` checks every field):

* HOTA and its decomposition (DetA, AssA, LocA, DetRe, DetPr, AssRe, AssPr), averaged
  over the localisation thresholds alpha = 0.05, 0.10, ..., 0.95 (Luiten et al. 2021);
* CLEAR MOT: MOTA, MOTP, MODA, ID switches, mostly tracked / partially tracked / mostly
  lost, fragmentations (Bernardin & Stiefelhagen 2008), matched at similarity >= 0.5;
* identity: IDF1, IDP, IDR (Ristani et al. 2016), matched at similarity >= 0.5.

The evaluation follows TrackEval's design: :func:`sequence_data` turns two Tracks
tables into TrackEval's per-sequence data dict (ids renumbered 0..n-1 per table, one
similarity matrix per frame), the three metric families are pure functions of that
dict, and :func:`combine_sequences` aggregates sequences as TrackEval's
``combine_sequences`` does. Similarity is box IoU or, for point-like objects such as
sperm heads, TrackEval's Euclidean similarity ``max(0, 1 - d / zero_distance)`` of the
box centres, so that the 0.5 threshold means "centres within zero_distance / 2".

No preprocessing is applied: every row of both tables takes part (select classes with
``cls``). Scores are stored as fractions in [0, 1], like TrackEval internally;
``to_dict(percent=True)`` and ``to_pandas(percent=True)`` give percentages as TrackEval
prints them.

References
----------
.. [1] J. Luiten et al., "HOTA: A Higher Order Metric for Evaluating Multi-object
   Tracking", IJCV 129, 548-578 (2021). https://doi.org/10.1007/s11263-020-01375-2
.. [2] K. Bernardin and R. Stiefelhagen, "Evaluating Multiple Object Tracking
   Performance: The CLEAR MOT Metrics", EURASIP JIVP 2008, 246309 (2008).
.. [3] E. Ristani et al., "Performance Measures and a Data Set for Multi-Target,
   Multi-Camera Tracking", ECCV Workshops 2016.
.. [4] J. Luiten and A. Hoffhues, "TrackEval" (2020),
   https://github.com/JonathonLuiten/TrackEval

Examples
--------
>>> import pandas as pd
>>> gt = pd.DataFrame({"frame": [0, 1, 2], "x": [10.0, 12.0, 14.0], "y": [5.0, 5.0, 5.0],
...                    "w": [8.0, 8.0, 8.0], "h": [8.0, 8.0, 8.0], "track_id": [1, 1, 1]})
>>> res = evaluate_tracking(gt, gt)
>>> res.hota, res.mota, res.idf1
(1.0, 1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from spermlab.evaluate import _clear, _hota, _identity
from spermlab.tables import validate

__all__ = [
    "PER_FRAME_COLUMNS",
    "TrackingResult",
    "box_iou",
    "centre_similarity",
    "combine_sequences",
    "evaluate_sequence_data",
    "evaluate_tracking",
    "sequence_data",
]

Similarity = Literal["iou", "distance"]

#: Columns of :attr:`TrackingResult.per_frame`.
PER_FRAME_COLUMNS: tuple[str, ...] = ("frame", "n_gt", "n_pred", "tp", "fp", "fn", "idsw")

_EPS = np.finfo("float").eps


# --------------------------------------------------------------------------- similarity
def box_iou(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes given as centre and size.

    Parameters
    ----------
    gt, pred : (N, 4) and (M, 4) ndarray
        Boxes ``x, y, w, h`` (centre and size, pixels).

    Returns
    -------
    (N, M) ndarray
        IoU in [0, 1]; a box of zero area has IoU 0 with everything, as in TrackEval's
        ``_calculate_box_ious``.
    """
    a = np.concatenate([gt[:, :2] - gt[:, 2:4] / 2, gt[:, :2] + gt[:, 2:4] / 2], axis=1)
    b = np.concatenate([pred[:, :2] - pred[:, 2:4] / 2, pred[:, :2] + pred[:, 2:4] / 2], axis=1)
    lo = np.minimum(a[:, np.newaxis, :], b[np.newaxis, :, :])
    hi = np.maximum(a[:, np.newaxis, :], b[np.newaxis, :, :])
    inter = np.maximum(lo[..., 2] - hi[..., 0], 0) * np.maximum(lo[..., 3] - hi[..., 1], 0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, np.newaxis] + area_b[np.newaxis, :] - inter
    inter[area_a <= 0 + _EPS, :] = 0
    inter[:, area_b <= 0 + _EPS] = 0
    inter[union <= 0 + _EPS] = 0
    union[union <= 0 + _EPS] = 1
    return inter / union


def centre_similarity(gt: np.ndarray, pred: np.ndarray, zero_distance: float) -> np.ndarray:
    """TrackEval's Euclidean similarity ``max(0, 1 - d / zero_distance)`` of points.

    Parameters
    ----------
    gt, pred : (N, 2) and (M, 2) ndarray
        Points ``x, y`` (pixels).
    zero_distance : float
        Distance (pixels) at which the similarity reaches 0; pairs match at similarity
        >= 0.5 in CLEAR and Identity, i.e. within ``zero_distance / 2``.

    Returns
    -------
    (N, M) ndarray
        Similarity in [0, 1].
    """
    dist = np.linalg.norm(gt[:, np.newaxis] - pred[np.newaxis, :], axis=2)
    return np.maximum(0, 1 - dist / zero_distance)


# ------------------------------------------------------------------------- data dict
def _columns(similarity: Similarity) -> list[str]:
    return ["x", "y", "w", "h"] if similarity == "iou" else ["x", "y"]


def _prepare(
    table: pd.DataFrame, name: str, similarity: Similarity, cls: frozenset[int] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validated (frame, renumbered id, coordinates, original ids) sorted by frame, id."""
    cols = ["frame", "track_id", *_columns(similarity)]
    schema = {c: ("int64" if c in ("frame", "track_id") else "float64") for c in cols}
    if cls is not None:
        schema["cls"] = "int64"
    clean = validate(table, schema, name=name, extra="keep")
    if cls is not None:
        clean = clean[clean["cls"].isin(cls)]
    frame = clean["frame"].to_numpy()
    ids = clean["track_id"].to_numpy()
    order = np.lexsort((ids, frame))
    frame, ids = frame[order], ids[order]
    coords = clean[_columns(similarity)].to_numpy()[order]
    dup = (frame[1:] == frame[:-1]) & (ids[1:] == ids[:-1])
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise ValueError(
            f"{name}: track_id {ids[i]} appears more than once in frame {frame[i]}; "
            "a track has at most one detection per frame"
        )
    unique_ids, dense = np.unique(ids, return_inverse=True)
    return frame, dense.astype(np.int64), coords, unique_ids


def _timesteps(frames: Iterable[np.ndarray], n_frames: int | None) -> np.ndarray:
    all_frames = np.concatenate(list(frames))
    if n_frames is None:
        if all_frames.size == 0:
            return np.zeros(0, dtype=np.int64)
        return np.arange(all_frames.min(), all_frames.max() + 1, dtype=np.int64)
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    bad = (all_frames < 0) | (all_frames >= n_frames)
    if bad.any():
        raise ValueError(
            f"frame {int(all_frames[bad][0])} is outside 0..{n_frames - 1} (n_frames={n_frames})"
        )
    return np.arange(n_frames, dtype=np.int64)


def sequence_data(
    pred: pd.DataFrame,
    gt: pd.DataFrame,
    *,
    similarity: Similarity = "iou",
    zero_distance: float = 10.0,
    n_frames: int | None = None,
    cls: int | Iterable[int] | None = None,
) -> dict[str, Any]:
    """Build TrackEval's per-sequence data dict from two Tracks tables.

    Parameters
    ----------
    pred, gt : DataFrame
        Tracks tables (``frame``, ``track_id``, ``x``, ``y`` and, for IoU, ``w``, ``h``;
        box centre and size in pixels; other columns are ignored). A track id may
        appear at most once per frame.
    similarity : {"iou", "distance"}
        Box IoU, or TrackEval's Euclidean similarity of the box centres.
    zero_distance : float
        For ``"distance"``: the centre distance (pixels) at which similarity is 0.
    n_frames : int, optional
        Evaluate frames ``0 .. n_frames - 1`` (frames without any row count, e.g. in
        ``FP_per_frame``). By default, the frames from the first to the last frame
        present in either table.
    cls : int or iterable of int, optional
        Keep only rows of these classes (column ``cls``) in both tables.

    Returns
    -------
    dict
        ``num_timesteps``, ``num_gt_ids``, ``num_tracker_ids``, ``num_gt_dets``,
        ``num_tracker_dets``, and lists over timesteps ``gt_ids``, ``tracker_ids`` (int
        arrays, ids renumbered 0..n-1 in ascending order of the original ids) and
        ``similarity_scores`` (``(n_gt_t, n_pred_t)`` arrays); plus ``frames`` (frame
        of each timestep), ``gt_id_map`` and ``tracker_id_map`` (original id of each
        renumbered id). The dict can be passed to TrackEval's ``eval_sequence``.
    """
    if similarity not in ("iou", "distance"):
        raise ValueError(f"similarity must be 'iou' or 'distance', got {similarity!r}")
    if similarity == "distance" and not zero_distance > 0:
        raise ValueError(f"zero_distance must be > 0 pixels, got {zero_distance}")
    classes = None if cls is None else frozenset([cls] if isinstance(cls, int) else cls)
    g_frame, g_id, g_xy, g_map = _prepare(gt, "gt", similarity, classes)
    p_frame, p_id, p_xy, p_map = _prepare(pred, "pred", similarity, classes)
    frames = _timesteps([g_frame, p_frame], n_frames)
    g_cut = np.searchsorted(g_frame, frames, side="left"), np.searchsorted(g_frame, frames, "right")
    p_cut = np.searchsorted(p_frame, frames, side="left"), np.searchsorted(p_frame, frames, "right")
    gt_ids, tr_ids, sims = [], [], []
    for t in range(len(frames)):
        gs, ps = slice(g_cut[0][t], g_cut[1][t]), slice(p_cut[0][t], p_cut[1][t])
        gt_ids.append(g_id[gs])
        tr_ids.append(p_id[ps])
        if similarity == "iou":
            sims.append(box_iou(g_xy[gs], p_xy[ps]))
        else:
            sims.append(centre_similarity(g_xy[gs], p_xy[ps], zero_distance))
    return {
        "num_timesteps": len(frames),
        "num_gt_ids": len(g_map),
        "num_tracker_ids": len(p_map),
        "num_gt_dets": int(g_frame.size),
        "num_tracker_dets": int(p_frame.size),
        "gt_ids": gt_ids,
        "tracker_ids": tr_ids,
        "similarity_scores": sims,
        "frames": frames,
        "gt_id_map": g_map,
        "tracker_id_map": p_map,
        "seq": "sequence",
    }


# ---------------------------------------------------------------------------- result
#: (attribute, TrackEval field, is a fraction shown as % by TrackEval)
_FIELDS: tuple[tuple[str, str, bool], ...] = (
    *((f.lower(), f, True) for f in _hota.ARRAY_FIELDS),
    ("hota0", "HOTA(0)", True), ("loca0", "LocA(0)", True), ("hotaloca0", "HOTALocA(0)", True),
    ("mota", "MOTA", True), ("motp", "MOTP", True), ("moda", "MODA", True),
    ("clr_re", "CLR_Re", True), ("clr_pr", "CLR_Pr", True), ("clr_f1", "CLR_F1", True),
    ("smota", "sMOTA", True), ("motal", "MOTAL", True),
    ("mtr", "MTR", True), ("ptr", "PTR", True), ("mlr", "MLR", True),
    ("fp_per_frame", "FP_per_frame", False), ("motp_sum", "MOTP_sum", False),
    ("clr_tp", "CLR_TP", False), ("clr_fn", "CLR_FN", False), ("clr_fp", "CLR_FP", False),
    ("idsw", "IDSW", False), ("mt", "MT", False), ("pt", "PT", False), ("ml", "ML", False),
    ("frag", "Frag", False), ("clr_frames", "CLR_Frames", False),
    ("idf1", "IDF1", True), ("idr", "IDR", True), ("idp", "IDP", True),
    ("idtp", "IDTP", False), ("idfn", "IDFN", False), ("idfp", "IDFP", False),
)
_INT_FIELDS = frozenset(_clear.COUNT_FIELDS + _identity.COUNT_FIELDS)
_PER_ALPHA_COLUMNS = ("alpha", *_hota.ARRAY_FIELDS, *_hota.COUNT_FIELDS)


@dataclass(frozen=True)
class TrackingResult:
    """Tracking metrics of one sequence (or of several, combined).

    Scores are fractions in [0, 1] (TrackEval's internal convention); counts are ints.
    HOTA-family attributes are the means over the 19 alpha thresholds, as TrackEval
    reports them; the per-alpha curves are in :attr:`per_alpha`. Attribute names are
    TrackEval's field names in lower case (``HOTA(0)`` is ``hota0``); :meth:`to_dict`
    and :meth:`to_pandas` use TrackEval's own names.

    Attributes
    ----------
    hota, deta, assa, detre, detpr, assre, asspr, loca, owta : float
        HOTA and its decomposition (Luiten et al. 2021), mean over alpha.
    hota0, loca0, hotaloca0 : float
        HOTA and LocA at alpha = 0.05, and their product.
    mota, motp, moda, clr_re, clr_pr, clr_f1, smota, motal : float
        CLEAR MOT scores; MOTP is the mean similarity of the matches (IoU, or distance
        similarity), not a distance.
    mtr, ptr, mlr : float
        Fractions of ground-truth tracks mostly tracked (> 80 % of their frames
        matched), partially tracked (>= 20 %) and mostly lost (< 20 %).
    fp_per_frame, motp_sum : float
        False positives per frame; sum of the similarities of the matches.
    clr_tp, clr_fn, clr_fp, idsw, mt, pt, ml, frag, clr_frames : int
        CLEAR counts: matches, misses, false positives, identity switches, mostly
        tracked / partially tracked / mostly lost tracks, fragmentations, frames.
    idf1, idr, idp : float
        Identity F1, recall and precision (Ristani et al. 2016).
    idtp, idfn, idfp : int
        Identity true positives, false negatives and false positives.
    similarity : str
        ``"iou"`` or ``"distance"``.
    zero_distance : float or None
        Zero-similarity distance (pixels) for ``"distance"``; ``None`` for IoU.
    n_gt_ids, n_pred_ids, n_gt_dets, n_pred_dets : int
        Number of tracks and of detections in the ground truth and the prediction.
    per_alpha : DataFrame
        One row per alpha: ``alpha`` and the per-alpha HOTA fields (TrackEval names).
    per_frame : DataFrame
        One row per evaluated frame: ``frame, n_gt, n_pred, tp, fp, fn, idsw`` (CLEAR
        matching). A combined result adds a leading ``sequence`` column.
    """

    hota: float
    deta: float
    assa: float
    detre: float
    detpr: float
    assre: float
    asspr: float
    loca: float
    owta: float
    hota0: float
    loca0: float
    hotaloca0: float
    mota: float
    motp: float
    moda: float
    clr_re: float
    clr_pr: float
    clr_f1: float
    smota: float
    motal: float
    mtr: float
    ptr: float
    mlr: float
    fp_per_frame: float
    motp_sum: float
    clr_tp: int
    clr_fn: int
    clr_fp: int
    idsw: int
    mt: int
    pt: int
    ml: int
    frag: int
    clr_frames: int
    idf1: float
    idr: float
    idp: float
    idtp: int
    idfn: int
    idfp: int
    similarity: str
    zero_distance: float | None
    n_gt_ids: int
    n_pred_ids: int
    n_gt_dets: int
    n_pred_dets: int
    per_alpha: pd.DataFrame = field(repr=False, compare=False, hash=False)
    per_frame: pd.DataFrame = field(repr=False, compare=False, hash=False)

    def to_dict(self, *, percent: bool = False) -> dict[str, Any]:
        """The metrics under TrackEval's field names (plus the run description).

        Parameters
        ----------
        percent : bool
            Give scores in percent (0-100) as TrackEval prints them; counts,
            ``FP_per_frame`` and ``MOTP_sum`` are never scaled.
        """
        scale = 100.0 if percent else 1.0
        out: dict[str, Any] = {
            name: getattr(self, attr) * scale if frac else getattr(self, attr)
            for attr, name, frac in _FIELDS
        }
        for attr in ("similarity", "zero_distance", "n_gt_ids", "n_pred_ids", "n_gt_dets",
                     "n_pred_dets"):
            out[attr] = getattr(self, attr)
        return out

    def to_pandas(self, *, percent: bool = False) -> pd.DataFrame:
        """One-row DataFrame of :meth:`to_dict` (concatenate several to compare runs)."""
        return pd.DataFrame([self.to_dict(percent=percent)])

    def trackeval_results(self) -> dict[str, dict[str, Any]]:
        """The result in TrackEval's shape: ``{"HOTA": {...}, "CLEAR": {...}, "Identity": {...}}``.

        HOTA array fields are per-alpha arrays; this is the input of
        :func:`combine_sequences` and of TrackEval's own ``combine_sequences``.
        """
        hota: dict[str, Any] = {f: self.per_alpha[f].to_numpy(dtype=float)
                                for f in _hota.ARRAY_FIELDS + _hota.COUNT_FIELDS}
        hota.update({"HOTA(0)": self.hota0, "LocA(0)": self.loca0, "HOTALocA(0)": self.hotaloca0})
        names = dict((name, attr) for attr, name, _ in _FIELDS)
        clear = {f: getattr(self, names[f]) for f in _clear.COUNT_FIELDS + _clear.FLOAT_FIELDS}
        ident = {f: getattr(self, names[f])
                 for f in _identity.COUNT_FIELDS + _identity.FLOAT_FIELDS}
        return {"HOTA": hota, "CLEAR": clear, "Identity": ident}


def _build_result(
    hota: Mapping[str, Any],
    clear: Mapping[str, Any],
    ident: Mapping[str, Any],
    per_frame: pd.DataFrame,
    meta: Mapping[str, Any],
) -> TrackingResult:
    merged = {**clear, **ident}
    values: dict[str, Any] = {}
    for attr, name, _ in _FIELDS:
        if name in _hota.ARRAY_FIELDS:
            values[attr] = float(np.mean(hota[name]))
        elif name in _hota.SCALAR_FIELDS:
            values[attr] = float(hota[name])
        elif name in _INT_FIELDS:
            values[attr] = int(merged[name])
        else:
            values[attr] = float(merged[name])
    per_alpha = pd.DataFrame({"alpha": _hota.ALPHAS})
    for name in _hota.ARRAY_FIELDS + _hota.COUNT_FIELDS:
        per_alpha[name] = np.asarray(hota[name], dtype=float)
    return TrackingResult(**values, **meta, per_alpha=per_alpha, per_frame=per_frame)


def _per_frame_table(data: Mapping[str, Any], counts: Mapping[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({
        "frame": np.asarray(data["frames"], dtype=np.int64),
        "n_gt": np.array([len(g) for g in data["gt_ids"]], dtype=np.int64),
        "n_pred": np.array([len(p) for p in data["tracker_ids"]], dtype=np.int64),
        **{k: counts[k] for k in ("tp", "fp", "fn", "idsw")},
    })


# ------------------------------------------------------------------------ public API
def evaluate_tracking(
    pred: pd.DataFrame,
    gt: pd.DataFrame,
    *,
    similarity: Similarity = "iou",
    zero_distance: float = 10.0,
    n_frames: int | None = None,
    cls: int | Iterable[int] | None = None,
) -> TrackingResult:
    """Evaluate predicted tracks against ground truth with HOTA, CLEAR MOT and IDF1.

    Parameters
    ----------
    pred, gt : DataFrame
        Tracks tables of one sequence (see :func:`sequence_data`).
    similarity : {"iou", "distance"}
        ``"iou"``: box IoU. ``"distance"``: ``max(0, 1 - d / zero_distance)`` of the
        box centres (TrackEval's Euclidean similarity), for point-like objects.
    zero_distance : float
        Centre distance in pixels at which the distance similarity reaches 0. CLEAR and
        Identity match at similarity >= 0.5, i.e. within ``zero_distance / 2``; HOTA
        averages over similarity thresholds 0.05..0.95. Ignored for IoU.
    n_frames : int, optional
        Evaluate frames ``0 .. n_frames - 1`` so that empty frames count; by default
        the span of frames present in either table.
    cls : int or iterable of int, optional
        Evaluate only these classes (column ``cls``).

    Returns
    -------
    TrackingResult
        The metrics (fractions in [0, 1]), per-alpha curves and per-frame counts.

    Raises
    ------
    ValueError
        On a missing column, a non-finite value, a track id repeated within a frame, a
        frame outside ``0..n_frames-1`` or an unknown ``similarity``.

    References
    ----------
    .. [1] Luiten et al., IJCV 129, 548-578 (2021) (HOTA).
    .. [2] Bernardin & Stiefelhagen, EURASIP JIVP 2008, 246309 (CLEAR MOT).
    .. [3] Ristani et al., ECCV Workshops 2016 (IDF1).
    .. [4] TrackEval, https://github.com/JonathonLuiten/TrackEval
    """
    data = sequence_data(
        pred, gt, similarity=similarity, zero_distance=zero_distance, n_frames=n_frames, cls=cls
    )
    zero = zero_distance if similarity == "distance" else None
    return evaluate_sequence_data(data, similarity=similarity, zero_distance=zero)


def evaluate_sequence_data(
    data: Mapping[str, Any], *, similarity: str = "custom", zero_distance: float | None = None
) -> TrackingResult:
    """Evaluate a TrackEval per-sequence data dict (e.g. from :func:`sequence_data`).

    ``similarity`` and ``zero_distance`` are only recorded in the result. The dict may
    lack ``frames`` (timesteps are then numbered 0..n-1).
    """
    if "frames" not in data:
        data = {**data, "frames": np.arange(data["num_timesteps"])}
    hota = _hota.hota_sequence(data)
    clear, counts = _clear.clear_sequence(data)
    ident = _identity.identity_sequence(data)
    meta = {
        "similarity": similarity,
        "zero_distance": zero_distance,
        "n_gt_ids": int(data["num_gt_ids"]),
        "n_pred_ids": int(data["num_tracker_ids"]),
        "n_gt_dets": int(data["num_gt_dets"]),
        "n_pred_dets": int(data["num_tracker_dets"]),
    }
    return _build_result(hota, clear, ident, _per_frame_table(data, counts), meta)


def combine_sequences(
    results: Mapping[str, TrackingResult] | Sequence[TrackingResult],
) -> TrackingResult:
    """Aggregate several sequences as TrackEval's ``combine_sequences`` does.

    HOTA: TP/FN/FP are summed per alpha, AssA/AssRe/AssPr/LocA are averaged weighted by
    HOTA TP, and HOTA, DetA... are recomputed. CLEAR and Identity: counts (and
    ``MOTP_sum``) are summed and the scores recomputed. So a combined MOTA or IDF1 is
    the detection-weighted one, not the mean of the per-sequence values.

    Parameters
    ----------
    results : mapping of name to TrackingResult, or sequence of TrackingResult
        Per-sequence results. Names (or positions) fill the ``sequence`` column of the
        combined ``per_frame`` table.

    Returns
    -------
    TrackingResult
        The combined metrics.
    """
    named = dict(results) if isinstance(results, Mapping) else dict(enumerate(results))
    if not named:
        raise ValueError("combine_sequences needs at least one result")
    raw = [r.trackeval_results() for r in named.values()]
    hota = _hota.combine_hota([r["HOTA"] for r in raw])
    clear = _clear.combine_clear([r["CLEAR"] for r in raw])
    ident = _identity.combine_identity([r["Identity"] for r in raw])
    firsts = list(named.values())
    kinds = {(r.similarity, r.zero_distance) for r in firsts}
    similarity, zero_distance = kinds.pop() if len(kinds) == 1 else ("mixed", None)
    meta = {"similarity": similarity, "zero_distance": zero_distance}
    for attr in ("n_gt_ids", "n_pred_ids", "n_gt_dets", "n_pred_dets"):
        meta[attr] = sum(getattr(r, attr) for r in firsts)
    frames = [r.per_frame.assign(sequence=name) for name, r in named.items()]
    per_frame = pd.concat(frames, ignore_index=True)
    per_frame = per_frame[["sequence", *PER_FRAME_COLUMNS]]
    return _build_result(hota, clear, ident, per_frame, meta)

