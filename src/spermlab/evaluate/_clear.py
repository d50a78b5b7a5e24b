"""CLEAR MOT metrics (MOTA, MOTP, ID switches, MT/PT/ML, Frag), exactly as TrackEval.

Follows ``trackeval/metrics/clear.py`` (TrackEval 1.3) line for line: the matching
prefers, with weight 1000, the tracker id each ground-truth id was matched to in the
previous timestep and otherwise maximises similarity; only pairs with similarity
>= ``threshold`` (0.5) can match. Besides TrackEval's fields this module also returns
the per-frame counts (TP, FP, FN, IDSW) that TrackEval sums internally.

References
----------
.. [1] K. Bernardin and R. Stiefelhagen, "Evaluating Multiple Object Tracking
   Performance: The CLEAR MOT Metrics", EURASIP Journal on Image and Video Processing
   2008, 246309 (2008). https://doi.org/10.1155/2008/246309
.. [2] Y. Li, C. Huang and R. Nevatia, "Learning to associate: HybridBoosted
   multi-target tracker for crowded scene", CVPR 2009 (MT, PT, ML, Frag).
.. [3] J. Luiten and A. Hoffhues, "TrackEval", https://github.com/JonathonLuiten/TrackEval
   (2020), ``trackeval/metrics/clear.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["COUNT_FIELDS", "FLOAT_FIELDS", "clear_sequence", "combine_clear"]

#: Integer fields (summed when sequences are combined).
COUNT_FIELDS: tuple[str, ...] = (
    "CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag", "CLR_Frames",
)
#: Float fields (``MOTP_sum`` is summed when combining; the others are recomputed).
FLOAT_FIELDS: tuple[str, ...] = (
    "MOTA", "MOTP", "MODA", "CLR_Re", "CLR_Pr", "MTR", "PTR", "MLR", "sMOTA",
    "CLR_F1", "FP_per_frame", "MOTAL", "MOTP_sum",
)

_EPS = np.finfo("float").eps

ClearResult = dict[str, Any]


def clear_sequence(
    data: Mapping[str, Any], *, threshold: float = 0.5
) -> tuple[ClearResult, dict[str, np.ndarray]]:
    """CLEAR MOT metrics for one sequence, as ``trackeval.metrics.CLEAR``.

    Parameters
    ----------
    data : mapping
        TrackEval's per-sequence dict (see :func:`spermlab.evaluate._hota.hota_sequence`).
    threshold : float
        Minimum similarity of a true-positive match (TrackEval's ``THRESHOLD``, 0.5).

    Returns
    -------
    result : dict
        TrackEval's field names (:data:`COUNT_FIELDS` and :data:`FLOAT_FIELDS`). Scores
        are fractions; MOTP is the mean similarity (IoU or distance similarity) of the
        matches, not a distance.
    per_frame : dict of str to ndarray
        ``tp``, ``fp``, ``fn``, ``idsw`` per timestep (int arrays).

    Notes
    -----
    TrackEval's quirks are kept: an empty prediction or empty ground truth returns at
    once (``MOTA = 0``, ``CLR_Frames = 0``, ``MLR = 1``); a frame without ground truth
    does not break the "previous timestep" used to prefer continuing matches.
    """
    n_t = int(data["num_timesteps"])
    per_frame = {k: np.zeros(n_t, dtype=np.int64) for k in ("tp", "fp", "fn", "idsw")}
    res: ClearResult = {f: 0 for f in COUNT_FIELDS + FLOAT_FIELDS}
    if data["num_tracker_dets"] == 0 or data["num_gt_dets"] == 0:
        for t, (gt_t, tr_t) in enumerate(zip(data["gt_ids"], data["tracker_ids"])):
            per_frame["fn"][t], per_frame["fp"][t] = len(gt_t), len(tr_t)
        if data["num_tracker_dets"] == 0:
            res["CLR_FN"] = data["num_gt_dets"]
            res["ML"] = data["num_gt_ids"]
        else:
            res["CLR_FP"] = data["num_tracker_dets"]
        res["MLR"] = 1.0
        return res, per_frame

    gt_id_count, gt_matched_count, gt_frag_count = _match_frames(data, threshold, res, per_frame)
    tracked_ratio = gt_matched_count[gt_id_count > 0] / gt_id_count[gt_id_count > 0]
    res["MT"] = int(np.sum(np.greater(tracked_ratio, 0.8)))
    res["PT"] = int(np.sum(np.greater_equal(tracked_ratio, 0.2))) - res["MT"]
    res["ML"] = int(data["num_gt_ids"]) - res["MT"] - res["PT"]
    res["Frag"] = int(np.sum(np.subtract(gt_frag_count[gt_frag_count > 0], 1)))
    res["CLR_Frames"] = n_t
    return _final_fields(res), per_frame


def _match_frames(
    data: Mapping[str, Any],
    threshold: float,
    res: ClearResult,
    per_frame: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The timestep loop of TrackEval's CLEAR; fills ``res`` and ``per_frame``."""
    n_gt = int(data["num_gt_ids"])
    gt_id_count = np.zeros(n_gt)
    gt_matched_count = np.zeros(n_gt)
    gt_frag_count = np.zeros(n_gt)
    prev_tracker_id = np.nan * np.zeros(n_gt)  # last matched tracker id, any time ago
    prev_step_tracker_id = np.nan * np.zeros(n_gt)  # matched tracker id at the last step
    motp_sum = 0.0
    steps = zip(data["gt_ids"], data["tracker_ids"], data["similarity_scores"])
    for t, (gt_t, tr_t, sim) in enumerate(steps):
        if len(gt_t) == 0 or len(tr_t) == 0:
            per_frame["fp"][t], per_frame["fn"][t] = len(tr_t), len(gt_t)
            if len(gt_t):
                gt_id_count[gt_t] += 1
            continue
        score = tr_t[np.newaxis, :] == prev_step_tracker_id[gt_t[:, np.newaxis]]
        score = 1000 * score + sim
        score[sim < threshold - _EPS] = 0
        rows, cols = linear_sum_assignment(-score)
        keep = score[rows, cols] > 0 + _EPS
        rows, cols = rows[keep], cols[keep]
        matched_gt, matched_tr = gt_t[rows], tr_t[cols]

        prev_matched = prev_tracker_id[matched_gt]
        idsw = int(np.sum(~np.isnan(prev_matched) & np.not_equal(matched_tr, prev_matched)))

        gt_id_count[gt_t] += 1
        gt_matched_count[matched_gt] += 1
        not_previously_tracked = np.isnan(prev_step_tracker_id)
        prev_tracker_id[matched_gt] = matched_tr
        prev_step_tracker_id[:] = np.nan
        prev_step_tracker_id[matched_gt] = matched_tr
        currently_tracked = ~np.isnan(prev_step_tracker_id)
        gt_frag_count += np.logical_and(not_previously_tracked, currently_tracked)

        n_match = len(matched_gt)
        per_frame["tp"][t], per_frame["idsw"][t] = n_match, idsw
        per_frame["fn"][t], per_frame["fp"][t] = len(gt_t) - n_match, len(tr_t) - n_match
        if n_match > 0:
            motp_sum += sum(sim[rows, cols])
    for key, col in (("CLR_TP", "tp"), ("CLR_FN", "fn"), ("CLR_FP", "fp"), ("IDSW", "idsw")):
        res[key] = int(per_frame[col].sum())
    res["MOTP_sum"] = motp_sum
    return gt_id_count, gt_matched_count, gt_frag_count


def _final_fields(res: ClearResult) -> ClearResult:
    """Fields that depend only on other fields (TrackEval ``_compute_final_fields``)."""
    tp, fn, fp, idsw = res["CLR_TP"], res["CLR_FN"], res["CLR_FP"], res["IDSW"]
    num_gt_ids = res["MT"] + res["ML"] + res["PT"]
    res["MTR"] = res["MT"] / np.maximum(1.0, num_gt_ids)
    res["MLR"] = res["ML"] / np.maximum(1.0, num_gt_ids)
    res["PTR"] = res["PT"] / np.maximum(1.0, num_gt_ids)
    res["CLR_Re"] = tp / np.maximum(1.0, tp + fn)
    res["CLR_Pr"] = tp / np.maximum(1.0, tp + fp)
    res["MODA"] = (tp - fp) / np.maximum(1.0, tp + fn)
    res["MOTA"] = (tp - fp - idsw) / np.maximum(1.0, tp + fn)
    res["MOTP"] = res["MOTP_sum"] / np.maximum(1.0, tp)
    res["sMOTA"] = (res["MOTP_sum"] - fp - idsw) / np.maximum(1.0, tp + fn)
    res["CLR_F1"] = tp / np.maximum(1.0, tp + 0.5 * fn + 0.5 * fp)
    res["FP_per_frame"] = fp / np.maximum(1.0, res["CLR_Frames"])
    safe_log_idsw = np.log10(idsw) if idsw > 0 else idsw
    res["MOTAL"] = (tp - fp - safe_log_idsw) / np.maximum(1.0, tp + fn)
    return res


def combine_clear(results: Sequence[Mapping[str, Any]]) -> ClearResult:
    """Combine per-sequence CLEAR results as ``trackeval.metrics.CLEAR.combine_sequences``.

    The integer fields and ``MOTP_sum`` are summed; every score is recomputed from them.

    Parameters
    ----------
    results : sequence of mapping
        The ``result`` dicts of :func:`clear_sequence`.

    Returns
    -------
    dict
        Same fields as :func:`clear_sequence`'s ``result``.
    """
    res: ClearResult = {f: 0 for f in COUNT_FIELDS + FLOAT_FIELDS}
    for field in COUNT_FIELDS:
        res[field] = int(sum(r[field] for r in results))
    res["MOTP_sum"] = sum(r["MOTP_sum"] for r in results)
    return _final_fields(res)
