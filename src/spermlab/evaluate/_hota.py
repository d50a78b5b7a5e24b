"""HOTA: Higher Order Tracking Accuracy, computed exactly as TrackEval does.

One function evaluates one sequence from TrackEval's per-sequence data dict (see
:func:`spermlab.evaluate.tracking.sequence_data`), another combines sequences. Field
names, the alpha grid, every ``eps`` guard and the early returns for empty sequences
follow ``trackeval/metrics/hota.py`` (TrackEval 1.3) line for line, so results agree
with TrackEval to floating-point rounding; only the bookkeeping of the per-alpha match
counts is vectorised.

References
----------
.. [1] J. Luiten, A. Osep, P. Dendorfer, P. Torr, A. Geiger, L. Leal-Taixé and
   B. Leibe, "HOTA: A Higher Order Metric for Evaluating Multi-object Tracking",
   International Journal of Computer Vision 129, 548-578 (2021).
   https://doi.org/10.1007/s11263-020-01375-2
.. [2] J. Luiten and A. Hoffhues, "TrackEval", https://github.com/JonathonLuiten/TrackEval
   (2020), ``trackeval/metrics/hota.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "ALPHAS",
    "ARRAY_FIELDS",
    "COUNT_FIELDS",
    "SCALAR_FIELDS",
    "combine_hota",
    "hota_sequence",
]

#: Localisation thresholds alpha; the exact expression TrackEval uses (19 values).
ALPHAS: np.ndarray = np.arange(0.05, 0.99, 0.05)
#: Per-alpha fields that are fractions in [0, 1].
ARRAY_FIELDS: tuple[str, ...] = (
    "HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "OWTA",
)
#: Per-alpha detection counts.
COUNT_FIELDS: tuple[str, ...] = ("HOTA_TP", "HOTA_FN", "HOTA_FP")
#: Scalar fields taken at the first alpha (0.05).
SCALAR_FIELDS: tuple[str, ...] = ("HOTA(0)", "LocA(0)", "HOTALocA(0)")

_EPS = np.finfo("float").eps

HotaResult = dict[str, Any]


def _empty_result() -> HotaResult:
    res: HotaResult = {f: np.zeros(len(ALPHAS)) for f in ARRAY_FIELDS + COUNT_FIELDS}
    res.update({f: 0.0 for f in SCALAR_FIELDS})
    return res


def hota_sequence(data: Mapping[str, Any]) -> HotaResult:
    """HOTA and its sub-metrics for one sequence, as ``trackeval.metrics.HOTA``.

    Parameters
    ----------
    data : mapping
        TrackEval's per-sequence dict: ``num_gt_ids``, ``num_tracker_ids``,
        ``num_gt_dets``, ``num_tracker_dets`` and, per timestep ``t``, ``gt_ids[t]``
        and ``tracker_ids[t]`` (int arrays of ids numbered 0..n-1) and
        ``similarity_scores[t]`` (``(len(gt_ids[t]), len(tracker_ids[t]))`` in [0, 1]).

    Returns
    -------
    dict
        TrackEval's field names. ``HOTA``, ``DetA``, ``AssA``, ``DetRe``, ``DetPr``,
        ``AssRe``, ``AssPr``, ``LocA``, ``OWTA``, ``HOTA_TP``, ``HOTA_FN`` and
        ``HOTA_FP`` are arrays over :data:`ALPHAS`; ``HOTA(0)``, ``LocA(0)`` and
        ``HOTALocA(0)`` are floats at alpha = 0.05. Scores are fractions in [0, 1].

    Notes
    -----
    As in TrackEval, an empty prediction (or empty ground truth) returns at once with
    only the FN (FP) counts set, ``LocA = 1`` and every other score 0.
    """
    res = _empty_result()
    n_alpha = len(ALPHAS)
    if data["num_tracker_dets"] == 0 or data["num_gt_dets"] == 0:
        key = "HOTA_FN" if data["num_tracker_dets"] == 0 else "HOTA_FP"
        n = data["num_gt_dets"] if key == "HOTA_FN" else data["num_tracker_dets"]
        res[key] = n * np.ones(n_alpha)
        res["LocA"] = np.ones(n_alpha)
        res["LocA(0)"] = 1.0
        return res

    alignment, gt_count, tr_count = _global_alignment(data)
    gt_m, tr_m, sim_m = _match_frames(data, alignment, res)
    n_tr = int(data["num_tracker_ids"])
    flat = gt_m * n_tr + tr_m
    for a, alpha in enumerate(ALPHAS):
        keep = sim_m >= alpha - _EPS
        pairs, counts = np.unique(flat[keep], return_counts=True)
        counts = counts.astype(float)
        g_n = gt_count[pairs // n_tr]
        t_n = tr_count[pairs % n_tr]
        tp = np.maximum(1, res["HOTA_TP"][a])
        res["AssA"][a] = np.sum(counts * counts / np.maximum(1, g_n + t_n - counts)) / tp
        res["AssRe"][a] = np.sum(counts * counts / np.maximum(1, g_n)) / tp
        res["AssPr"][a] = np.sum(counts * counts / np.maximum(1, t_n)) / tp
    res["LocA"] = np.maximum(1e-10, res["LocA"]) / np.maximum(1e-10, res["HOTA_TP"])
    return _final_fields(res)


def _global_alignment(data: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Global Jaccard alignment between id pairs, accumulated frame by frame (TrackEval)."""
    potential = np.zeros((data["num_gt_ids"], data["num_tracker_ids"]))
    gt_count = np.zeros((data["num_gt_ids"], 1))
    tr_count = np.zeros((1, data["num_tracker_ids"]))
    for gt_t, tr_t, sim in zip(data["gt_ids"], data["tracker_ids"], data["similarity_scores"]):
        denom = sim.sum(0)[np.newaxis, :] + sim.sum(1)[:, np.newaxis] - sim
        sim_iou = np.zeros_like(sim)
        mask = denom > 0 + _EPS
        sim_iou[mask] = sim[mask] / denom[mask]
        potential[gt_t[:, np.newaxis], tr_t[np.newaxis, :]] += sim_iou
        gt_count[gt_t] += 1
        tr_count[0, tr_t] += 1
    alignment = potential / (gt_count + tr_count - potential)
    return alignment, gt_count[:, 0], tr_count[0]


def _match_frames(
    data: Mapping[str, Any], alignment: np.ndarray, res: HotaResult
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hungarian matching per frame; fills TP/FN/FP and the LocA sums in ``res``.

    Returns the matched (gt id, tracker id, similarity) of every frame, concatenated.
    """
    gt_all: list[np.ndarray] = []
    tr_all: list[np.ndarray] = []
    sim_all: list[np.ndarray] = []
    for gt_t, tr_t, sim in zip(data["gt_ids"], data["tracker_ids"], data["similarity_scores"]):
        if len(gt_t) == 0:
            res["HOTA_FP"] += len(tr_t)
            continue
        if len(tr_t) == 0:
            res["HOTA_FN"] += len(gt_t)
            continue
        score = alignment[gt_t[:, np.newaxis], tr_t[np.newaxis, :]] * sim
        rows, cols = linear_sum_assignment(-score)
        matched = sim[rows, cols]
        mask = matched[np.newaxis, :] >= ALPHAS[:, np.newaxis] - _EPS
        n_match = mask.sum(axis=1)
        res["HOTA_TP"] += n_match
        res["HOTA_FN"] += len(gt_t) - n_match
        res["HOTA_FP"] += len(tr_t) - n_match
        res["LocA"] += np.where(mask, matched[np.newaxis, :], 0.0).sum(axis=1)
        gt_all.append(gt_t[rows])
        tr_all.append(tr_t[cols])
        sim_all.append(matched)
    if not gt_all:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(gt_all), np.concatenate(tr_all), np.concatenate(sim_all)


def _final_fields(res: HotaResult) -> HotaResult:
    """Fields that depend only on other fields (TrackEval ``_compute_final_fields``)."""
    tp, fn, fp = res["HOTA_TP"], res["HOTA_FN"], res["HOTA_FP"]
    res["DetRe"] = tp / np.maximum(1, tp + fn)
    res["DetPr"] = tp / np.maximum(1, tp + fp)
    res["DetA"] = tp / np.maximum(1, tp + fn + fp)
    res["HOTA"] = np.sqrt(res["DetA"] * res["AssA"])
    res["OWTA"] = np.sqrt(res["DetRe"] * res["AssA"])
    res["HOTA(0)"] = float(res["HOTA"][0])
    res["LocA(0)"] = float(res["LocA"][0])
    res["HOTALocA(0)"] = res["HOTA(0)"] * res["LocA(0)"]
    return res


def combine_hota(results: Sequence[Mapping[str, Any]]) -> HotaResult:
    """Combine per-sequence HOTA results as ``trackeval.metrics.HOTA.combine_sequences``.

    Detection counts are summed; AssA, AssRe, AssPr and LocA are averaged weighted by
    ``HOTA_TP`` (per alpha); the other fields are recomputed from these.

    Parameters
    ----------
    results : sequence of mapping
        Outputs of :func:`hota_sequence`.

    Returns
    -------
    dict
        Same fields as :func:`hota_sequence`.
    """
    res = _empty_result()
    zero = np.zeros(len(ALPHAS))
    for field in COUNT_FIELDS:
        res[field] = sum((np.asarray(r[field], dtype=float) for r in results), zero)
    tp = res["HOTA_TP"]
    for field in ("AssRe", "AssPr", "AssA"):
        weighted = sum((r[field] * r["HOTA_TP"] for r in results), zero)
        res[field] = weighted / np.maximum(1.0, tp)
    loca = sum((r["LocA"] * r["HOTA_TP"] for r in results), zero)
    res["LocA"] = np.maximum(1e-10, loca) / np.maximum(1e-10, tp)
    return _final_fields(res)
