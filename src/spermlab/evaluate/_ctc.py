"""Cell Tracking Challenge measures (DET, TRA, LNK) for point tracks, via py-ctcmetrics.

The Cell Tracking Challenge (CTC) scores a tracking result by the cost of the
acyclic-oriented-graph matching (AOGM) operations that turn it into the reference:
splitting, adding or deleting vertices (detections) and adding, deleting or re-typing
edges (links). DET, TRA and LNK are ``1 - min(AOGM, AOGM_0) / AOGM_0`` for the
detection part, the whole graph and the edges (Matula et al. 2015). The graph
operations are counted by ``py-ctcmetrics`` (the CTC's own Python implementation,
Kaiser et al. 2024), an optional dependency: ``pip install py-ctcmetrics``.

The CTC works on label masks. spermlab's tracks are boxes or points, so each detection
is rendered as a disc of ``radius`` pixels around its centre (pixel ``(i, j)`` belongs
to a disc when its centre ``(j + 0.5, i + 0.5)`` lies within ``radius``); where discs
overlap, a pixel goes to the nearest centre. A detection whose disc is entirely taken
by nearer centres (centres about a pixel apart) cannot be represented in a label mask;
it is left out and counted in ``n_hidden_gt`` / ``n_hidden_pred``. As in the CTC, a
predicted detection matches a reference one when it covers more than half of the
reference disc; with equal radii that means centres closer than about 0.8 x radius.

The lineage (CTC ``res_track.txt``: ``L B E P`` per line) is built by splitting every
track at its gaps: each gap-free segment gets its own label, and a segment continuing a
track after a gap has the previous segment as parent (the CTC's encoding of a cell lost
for some frames). Sperm do not divide, so there are no other parent links.

References
----------
.. [1] P. Matula, M. Maška, D. V. Sorokin, P. Matula, C. Ortiz-de-Solórzano and
   M. Kozubek, "Cell Tracking Accuracy Measurement Based on Comparison of Acyclic
   Oriented Graphs", PLoS ONE 10(12), e0144959 (2015).
   https://doi.org/10.1371/journal.pone.0144959
.. [2] M. Maška et al., "The Cell Tracking Challenge: 10 years of objective
   benchmarking", Nature Methods 20, 1010-1020 (2023).
.. [3] T. Kaiser et al., "CHOTA: A Higher Order Accuracy Metric for Cell Tracking",
   ECCV Workshops 2024; https://github.com/CellTrackingChallenge/py-ctcmetrics
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spermlab.tables import validate

__all__ = ["CTCResult", "ctc_lineage", "evaluate_ctc", "write_ctc"]

_INSTALL = "Cell Tracking Challenge measures need py-ctcmetrics: pip install py-ctcmetrics"
_SCHEMA = {"frame": "int64", "track_id": "int64", "x": "float64", "y": "float64"}


@dataclass(frozen=True)
class CTCResult:
    """CTC measures of one sequence (fractions in [0, 1]) and the AOGM operation counts.

    Attributes
    ----------
    det, tra, lnk : float
        Detection, tracking and linking accuracy (Matula et al. 2015).
    aogm, aogm_0 : float
        Weighted cost of the corrections, and of building the reference from nothing.
    ns, fn, fp, ed, ea, ec : int
        Vertex splits, missed and false vertices; redundant, missing and wrongly typed
        edges.
    n_vertices, n_edges : int
        Vertices and edges of the reference graph.
    n_hidden_gt, n_hidden_pred : int
        Detections left out because their disc was entirely covered by nearer ones.
    radius : float
        Disc radius in pixels.
    """

    det: float
    tra: float
    lnk: float
    aogm: float
    aogm_0: float
    ns: int
    fn: int
    fp: int
    ed: int
    ea: int
    ec: int
    n_vertices: int
    n_edges: int
    n_hidden_gt: int
    n_hidden_pred: int
    radius: float

    def to_dict(self, *, percent: bool = False) -> dict[str, Any]:
        """Fields under the CTC's names (``DET``, ``TRA``, ``LNK``, ``AOGM``, ...)."""
        out = {k.upper() if k in ("det", "tra", "lnk", "aogm") else k: v
               for k, v in asdict(self).items()}
        out["AOGM_0"] = out.pop("aogm_0")
        if percent:
            for key in ("DET", "TRA", "LNK"):
                out[key] *= 100.0
        return out


def _require() -> Any:
    try:
        from ctc_metrics.utils import representations
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc
    return representations


# ---------------------------------------------------------------------- lineage
def ctc_lineage(tracks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Split tracks at their gaps into CTC track segments.

    Parameters
    ----------
    tracks : DataFrame
        A Tracks table (``frame``, ``track_id`` used); at most one row per track and
        frame.

    Returns
    -------
    labels : (n_rows,) int ndarray
        The CTC label (1, 2, ...) of each row of ``tracks``, in the table's row order.
    lineage : (n_segments, 4) int ndarray
        ``L B E P`` rows: label, first frame, last frame, parent label (0 for none; the
        previous segment of the same track when the track resumes after a gap).
    """
    frame = tracks["frame"].to_numpy(dtype=np.int64)
    tid = tracks["track_id"].to_numpy(dtype=np.int64)
    order = np.lexsort((frame, tid))
    f, t = frame[order], tid[order]
    new_track = np.r_[True, t[1:] != t[:-1]] if len(t) else np.zeros(0, bool)
    new_segment = new_track | np.r_[True, f[1:] - f[:-1] > 1] if len(t) else new_track
    seg = np.cumsum(new_segment)  # labels 1..n in (track, frame) order
    labels = np.empty_like(seg)
    labels[order] = seg
    starts = np.flatnonzero(new_segment)
    ends = np.r_[starts[1:] - 1, len(f) - 1] if len(f) else starts
    parent = np.where(new_track[starts], 0, seg[starts] - 1)
    lineage = np.column_stack([seg[starts], f[starts], f[ends], parent]).astype(np.int64)
    return labels.astype(np.int64), lineage.reshape(-1, 4)


# -------------------------------------------------------------------- rendering
def _render(xy: np.ndarray, shape: tuple[int, int], radius: float) -> np.ndarray:
    """Label image (values 1..n for the rows of ``xy``; 0 background), nearest centre wins."""
    img = np.zeros(shape, dtype=np.int32)
    best = np.full(shape, np.inf)
    for k, (x, y) in enumerate(xy):
        i0, i1 = max(int(np.floor(y - radius)), 0), min(int(np.ceil(y + radius)) + 1, shape[0])
        j0, j1 = max(int(np.floor(x - radius)), 0), min(int(np.ceil(x + radius)) + 1, shape[1])
        if i0 >= i1 or j0 >= j1:
            continue
        ii, jj = np.ogrid[i0:i1, j0:j1]
        d2 = (jj + 0.5 - x) ** 2 + (ii + 0.5 - y) ** 2
        patch = best[i0:i1, j0:j1]
        take = (d2 <= radius**2) & (d2 < patch)
        patch[take] = d2[take]
        img[i0:i1, j0:j1][take] = k + 1
    return img


def _labels(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flat image and the flat indices of its labelled pixels."""
    flat = img.ravel()
    return flat, np.flatnonzero(flat)


def _match(
    ref: tuple[np.ndarray, np.ndarray], comp: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CTC detection test on two label images: comp covers > 50 % of the ref label.

    Takes :func:`_labels` of each image; returns matched (ref label, comp label, IoU),
    as ``ctc_metrics.utils.representations.match`` does.
    """
    (fr, on_r), (fc, on_c) = ref, comp
    area_r, area_c = np.bincount(fr[on_r]), np.bincount(fc[on_c])
    n_c = max(len(area_c), 1)
    inter = np.bincount(fr[on_r].astype(np.int64) * n_c + fc[on_r])
    pairs = np.flatnonzero(inter)
    r, c, inter = pairs // n_c, pairs % n_c, inter[pairs]
    keep = (c > 0) & (inter / np.maximum(area_r[r], 1) > 0.5)
    r, c, inter = r[keep], c[keep], inter[keep]
    iou = inter / np.maximum(area_r[r] + area_c[c] - inter, 1)
    return r, c, iou


def _present(labelled: tuple[np.ndarray, np.ndarray], n: int) -> np.ndarray:
    """Which of the labels 1..n have at least one pixel (boolean array of length n)."""
    flat, on = labelled
    return np.bincount(flat[on], minlength=n + 1)[1:] > 0


def _prepare(table: pd.DataFrame, name: str) -> pd.DataFrame:
    clean = validate(table, _SCHEMA, name=name, extra="keep")
    if clean.duplicated(["frame", "track_id"]).any():
        row = clean[clean.duplicated(["frame", "track_id"])].iloc[0]
        raise ValueError(f"{name}: track_id {row.track_id} appears twice in frame {row.frame}")
    return clean.sort_values(["frame", "track_id"], kind="stable", ignore_index=True)


def _frame_rows(frame: np.ndarray, n_frames: int) -> list[np.ndarray]:
    cuts = np.searchsorted(frame, np.arange(n_frames + 1))
    return [np.arange(cuts[t], cuts[t + 1]) for t in range(n_frames)]


def _geometry(gt: pd.DataFrame, pred: pd.DataFrame, radius: float,
              shape: tuple[int, int] | None, n_frames: int | None) -> tuple[tuple[int, int], int]:
    both = pd.concat([gt[["frame", "x", "y"]], pred[["frame", "x", "y"]]])
    if shape is None:
        shape = (int(np.ceil(both["y"].max() + radius)) + 1,
                 int(np.ceil(both["x"].max() + radius)) + 1)
    last = int(both["frame"].max())
    if n_frames is None:
        n_frames = last + 1
    elif last >= n_frames or int(both["frame"].min()) < 0:
        raise ValueError(f"frames must lie in 0..{n_frames - 1} (n_frames={n_frames})")
    return shape, n_frames


# ------------------------------------------------------------------- evaluation
def evaluate_ctc(
    pred: pd.DataFrame,
    gt: pd.DataFrame,
    *,
    radius: float = 5.0,
    shape: tuple[int, int] | None = None,
    n_frames: int | None = None,
) -> CTCResult:
    """Cell Tracking Challenge DET, TRA and LNK of point tracks rendered as discs.

    Parameters
    ----------
    pred, gt : DataFrame
        Tracks tables (``frame``, ``track_id``, ``x``, ``y`` in pixels).
    radius : float
        Disc radius in pixels. A prediction matches a reference detection when its
        disc covers more than half of the reference disc (centres within ~0.8 x radius).
    shape : (height, width), optional
        Image size in pixels; by default just large enough for every disc.
    n_frames : int, optional
        Frames ``0 .. n_frames - 1``; by default up to the last frame of either table.

    Returns
    -------
    CTCResult

    Raises
    ------
    ImportError
        When py-ctcmetrics is not installed.
    ValueError
        When the ground truth is empty, a track id repeats in a frame, or a frame lies
        outside ``0..n_frames-1``.
    """
    representations = _require()
    if not radius > 0:
        raise ValueError(f"radius must be > 0 pixels, got {radius}")
    g, p = _prepare(gt, "gt"), _prepare(pred, "pred")
    if g.empty:
        raise ValueError("gt: the CTC measures need at least one ground-truth detection")
    shape, n_frames = _geometry(g, p, radius, shape, n_frames)
    g_rows = _frame_rows(g["frame"].to_numpy(), n_frames)
    p_rows = _frame_rows(p["frame"].to_numpy(), n_frames)
    g_xy, p_xy = g[["x", "y"]].to_numpy(), p[["x", "y"]].to_numpy()
    g_seen, p_seen = np.zeros(len(g), bool), np.zeros(len(p), bool)
    matches = []
    for gr, pr in zip(g_rows, p_rows):
        ref = _labels(_render(g_xy[gr], shape, radius))
        comp = _labels(_render(p_xy[pr], shape, radius))
        g_seen[gr] = _present(ref, len(gr))
        p_seen[pr] = _present(comp, len(pr))
        r, c, _ = _match(ref, comp)
        matches.append((gr[r - 1], pr[c - 1]))
    g_label, g_lineage = ctc_lineage(g[g_seen])
    p_label, p_lineage = ctc_lineage(p[p_seen])
    g_lab = np.zeros(len(g), np.int64)
    g_lab[g_seen] = g_label
    p_lab = np.zeros(len(p), np.int64)
    p_lab[p_seen] = p_label
    traj = _trajectory(g_rows, p_rows, g_lab, p_lab, matches)
    stats = representations.count_acyclic_graph_correction_operations(
        g_lineage if n_frames > 1 else None,
        p_lineage if n_frames > 1 and len(p_lineage) else None,
        *traj,
    )
    return _result(stats, radius, int((~g_seen).sum()), int((~p_seen).sum()))


def _trajectory(
    g_rows: list[np.ndarray],
    p_rows: list[np.ndarray],
    g_lab: np.ndarray,
    p_lab: np.ndarray,
    matches: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[list[list[int]], ...]:
    """Per-frame ``labels_ref, labels_comp, mapped_ref, mapped_comp`` as ctc_metrics builds them."""
    labels_ref, labels_comp, mapped_ref, mapped_comp = [], [], [], []
    for gr, pr, (mg, mp) in zip(g_rows, p_rows, matches):
        labels_ref.append(sorted(int(v) for v in g_lab[gr] if v))
        labels_comp.append(sorted(int(v) for v in p_lab[pr] if v))
        order = np.argsort(g_lab[mg], kind="stable")
        mapped_ref.append([int(v) for v in g_lab[mg][order]])
        mapped_comp.append([int(v) for v in p_lab[mp][order]])
    return labels_ref, labels_comp, mapped_ref, mapped_comp


def _result(stats: dict[str, Any], radius: float, hidden_gt: int, hidden_pred: int) -> CTCResult:
    from ctc_metrics.metrics import det, lnk, tra

    tra_value, aogm, aogm_0 = tra(**stats)
    counts = {k.lower(): int(stats[k]) for k in ("NS", "FN", "FP", "ED", "EA", "EC")}
    return CTCResult(
        det=det(**stats), tra=tra_value, lnk=lnk(**stats), aogm=float(aogm),
        aogm_0=float(aogm_0), **counts, n_vertices=int(stats["num_vertices"]),
        n_edges=int(stats["num_edges"]), n_hidden_gt=hidden_gt, n_hidden_pred=hidden_pred,
        radius=float(radius),
    )


# ---------------------------------------------------------------------- writing
def write_ctc(
    tracks: pd.DataFrame,
    folder: str | Path,
    *,
    kind: str = "res",
    radius: float = 5.0,
    shape: tuple[int, int],
    n_frames: int,
) -> Path:
    """Write tracks in the CTC layout (disc masks + lineage), e.g. for the CTC software.

    ``kind="res"`` writes ``mask000.tif ...`` and ``res_track.txt`` into ``folder``;
    ``kind="gt"`` writes ``TRA/man_track000.tif ...`` and ``TRA/man_track.txt``. Masks
    are uint16 TIFFs (tifffile, installed with py-ctcmetrics); rows whose disc is
    hidden by nearer centres are left out, as in :func:`evaluate_ctc`.

    Returns
    -------
    Path
        The folder holding the masks and the lineage file.
    """
    try:
        import tifffile
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL) from exc
    if kind not in ("res", "gt"):
        raise ValueError(f"kind must be 'res' or 'gt', got {kind!r}")
    clean = _prepare(tracks, kind)
    rows = _frame_rows(clean["frame"].to_numpy(), n_frames)
    xy = clean[["x", "y"]].to_numpy()
    images = [_render(xy[r], shape, radius) for r in rows]
    seen = np.zeros(len(clean), bool)
    for r, img in zip(rows, images):
        seen[r] = _present(_labels(img), len(r))
    labels, lineage = ctc_lineage(clean[seen])
    lab = np.zeros(len(clean) + 1, np.int64)
    lab[1:][seen] = labels
    if lineage.size and lineage[:, 0].max() > np.iinfo(np.uint16).max:
        raise ValueError("the CTC format holds at most 65535 track segments")
    out = Path(folder) / ("TRA" if kind == "gt" else "")
    out.mkdir(parents=True, exist_ok=True)
    stem = "man_track" if kind == "gt" else "mask"
    digits = max(3, len(str(n_frames - 1)))
    for t, (r, img) in enumerate(zip(rows, images)):
        lut = np.r_[0, lab[1:][r]].astype(np.uint16)
        tifffile.imwrite(out / f"{stem}{t:0{digits}d}.tif", lut[img])
    text = "".join(f"{a} {b} {c} {d}\n" for a, b, c, d in lineage)
    (out / ("man_track.txt" if kind == "gt" else "res_track.txt")).write_text(text)
    return out
