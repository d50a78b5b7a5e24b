"""Identity metrics (IDF1, IDP, IDR), exactly as TrackEval.

Follows ``trackeval/metrics/identity.py`` (TrackEval 1.3): a detection pair counts as a
potential identity match when its similarity is >= ``threshold`` (0.5); a single global
one-to-one assignment of ground-truth ids to tracker ids (Hungarian, with a dummy
column/row per id for "unmatched") minimises IDFN + IDFP.

References
----------
.. [1] E. Ristani, F. Solera, R. Zou, R. Cucchiara and C. Tomasi, "Performance Measures
   and a Data Set for Multi-Target, Multi-Camera Tracking", ECCV Workshops 2016,
   LNCS 9914, 17-35. https://doi.org/10.1007/978-3-319-48881-3_2
.. [2] J. Luiten and A. Hoffhues, "TrackEval", https://github.com/JonathonLuiten/TrackEval
   (2020), ``trackeval/metrics/identity.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["COUNT_FIELDS", "FLOAT_FIELDS", "combine_identity", "identity_sequence"]

COUNT_FIELDS: tuple[str, ...] = ("IDTP", "IDFN", "IDFP")
FLOAT_FIELDS: tuple[str, ...] = ("IDF1", "IDR", "IDP")

IdentityResult = dict[str, Any]


def identity_sequence(data: Mapping[str, Any], *, threshold: float = 0.5) -> IdentityResult:
    """IDF1, IDR, IDP and their counts for one sequence, as ``trackeval.metrics.Identity``.

    Parameters
    ----------
    data : mapping
        TrackEval's per-sequence dict (see :func:`spermlab.evaluate._hota.hota_sequence`).
    threshold : float
        Minimum similarity of an identity match (TrackEval's ``THRESHOLD``, 0.5).

    Returns
    -------
    dict
        ``IDTP``, ``IDFN``, ``IDFP`` (int) and ``IDF1``, ``IDR``, ``IDP`` (fractions).

    Notes
    -----
    The assignment matrix is square with side ``num_gt_ids + num_tracker_ids``, so
    memory grows with the square of the number of ids (8 bytes x 3 matrices).
    """
    res: IdentityResult = {f: 0 for f in COUNT_FIELDS + FLOAT_FIELDS}
    if data["num_tracker_dets"] == 0:
        res["IDFN"] = data["num_gt_dets"]
        return res
    if data["num_gt_dets"] == 0:
        res["IDFP"] = data["num_tracker_dets"]
        return res

    n_gt, n_tr = int(data["num_gt_ids"]), int(data["num_tracker_ids"])
    potential = np.zeros((n_gt, n_tr))
    gt_count = np.zeros(n_gt)
    tr_count = np.zeros(n_tr)
    for gt_t, tr_t, sim in zip(data["gt_ids"], data["tracker_ids"], data["similarity_scores"]):
        idx_gt, idx_tr = np.nonzero(np.greater_equal(sim, threshold))
        potential[gt_t[idx_gt], tr_t[idx_tr]] += 1
        gt_count[gt_t] += 1
        tr_count[tr_t] += 1

    size = n_gt + n_tr
    fp_mat = np.zeros((size, size))
    fn_mat = np.zeros((size, size))
    fp_mat[n_gt:, :n_tr] = 1e10
    fn_mat[:n_gt, n_tr:] = 1e10
    fn_mat[:n_gt, :n_tr] = gt_count[:, np.newaxis]
    fn_mat[np.arange(n_gt), n_tr + np.arange(n_gt)] = gt_count
    fp_mat[:n_gt, :n_tr] = tr_count[np.newaxis, :]
    fp_mat[n_gt + np.arange(n_tr), np.arange(n_tr)] = tr_count
    fn_mat[:n_gt, :n_tr] -= potential
    fp_mat[:n_gt, :n_tr] -= potential

    rows, cols = linear_sum_assignment(fn_mat + fp_mat)
    res["IDFN"] = int(fn_mat[rows, cols].sum())
    res["IDFP"] = int(fp_mat[rows, cols].sum())
    res["IDTP"] = int(gt_count.sum() - res["IDFN"])
    return _final_fields(res)


def _final_fields(res: IdentityResult) -> IdentityResult:
    """Fields that depend only on other fields (TrackEval ``_compute_final_fields``)."""
    tp, fn, fp = res["IDTP"], res["IDFN"], res["IDFP"]
    res["IDR"] = tp / np.maximum(1.0, tp + fn)
    res["IDP"] = tp / np.maximum(1.0, tp + fp)
    res["IDF1"] = tp / np.maximum(1.0, tp + 0.5 * fp + 0.5 * fn)
    return res


def combine_identity(results: Sequence[Mapping[str, Any]]) -> IdentityResult:
    """Combine per-sequence results as ``trackeval.metrics.Identity.combine_sequences``.

    Parameters
    ----------
    results : sequence of mapping
        Outputs of :func:`identity_sequence`.

    Returns
    -------
    dict
        The summed counts and the scores recomputed from them.
    """
    res: IdentityResult = {f: int(sum(r[f] for r in results)) for f in COUNT_FIELDS}
    return _final_fields(res)
