"""A learned second look at SpermNet's candidate heads: is this peak a spermatozoon?

SpermNet's heat map proposes candidates at a low threshold (``CANDIDATE_THRESHOLD``); each
candidate is then described by its peak heat and the 21 x 21-pixel patch around its centre in
the network's own input scaling and polarity (sampled every second pixel: 121 values,
standardised per patch), and a gradient-boosted tree ensemble (scikit-learn's
``HistGradientBoostingClassifier``) trained on the candidates of the model's own training frames
(annotated heads = 1; candidates matching none = 0; candidates in an ignore box matching no head
are left out) gives the probability that it is a head. A candidate is kept when that probability
is at least the verifier's threshold, the one of best F1 over those training candidates
(``fit_verifier(..., groups=)`` chooses it out of fold instead; tried in leave-one-source-out
and not adopted, BENCHMARKS.md §12).

Why: on frames it was not trained on, SpermNet's errors are mostly false positives (specks,
debris beside heads, halo fragments; precision 0.76-0.88 in leave-one-source-out), which a
patch classifier that sees the candidate's shape and context removes better than a higher heat
threshold (raising the threshold changed F1 by less than 0.01; BENCHMARKS.md §12).

The fitted ensemble is stored as a handful of flat node arrays inside the SpermNet ONNX file's
metadata (``spermlab_verifier``, base64 of an ``.npz``), so one file is still the whole model;
it is evaluated here with numpy, all trees at once (a tree ensemble is a few array lookups; that
keeps scikit-learn out of the core install). Training needs scikit-learn
(``pip install 'spermlab[train]'``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from spermlab._trees import TreeEnsemble

__all__ = ["CANDIDATE_THRESHOLD", "PATCH_RADIUS", "Verifier", "add_verifier", "candidate_features",
           "fit_verifier", "model_candidates", "training_candidates", "write_verifier"]

CANDIDATE_THRESHOLD = 0.25
PATCH_RADIUS = 10
PATCH_STEP = 2
METADATA_KEY = "spermlab_verifier"


def candidate_features(image: np.ndarray, det: pd.DataFrame, *, radius: int = PATCH_RADIUS,
                       step: int = PATCH_STEP) -> np.ndarray:  # fmt: skip
    """Features of each detection: its ``score`` and its standardised patch.

    Parameters
    ----------
    image : ndarray, shape (H, W), float32
        The frame as the network reads it (:func:`spermlab.detect.learned.preprocess.normalise`,
        polarity applied).
    det : DataFrame
        Detections of that frame (``x``, ``y``, ``score``).
    radius, step : int
        The patch is ``2 radius + 1`` pixels wide, sampled every ``step`` pixels (the shipped
        verifier's: 10 and 2).

    Returns
    -------
    ndarray, shape (len(det), 1 + 11 * 11), float32
    """
    r, s = radius, step
    n_side = len(range(0, 2 * r + 1, s))
    if len(det) == 0:
        return np.zeros((0, 1 + n_side * n_side), np.float32)
    pad = np.pad(np.asarray(image, np.float32), r, mode="reflect")
    h, w = image.shape
    x = np.clip(np.round(det["x"].to_numpy()).astype(int), 0, w - 1)
    y = np.clip(np.round(det["y"].to_numpy()).astype(int), 0, h - 1)
    off = np.arange(0, 2 * r + 1, s)
    patches = pad[y[:, None, None] + off[None, :, None], x[:, None, None] + off[None, None, :]]
    flat = patches.reshape(len(det), -1)
    flat = (flat - flat.mean(axis=1, keepdims=True)) / (flat.std(axis=1, keepdims=True) + 1e-6)
    return np.c_[det["score"].to_numpy(np.float32), flat].astype(np.float32)


#: The fitted ensemble with its keep threshold (:class:`spermlab._trees.TreeEnsemble`).
Verifier = TreeEnsemble


def fit_verifier(x: np.ndarray, y: np.ndarray, n_heads: int, *, seed: int = 0,
                 sample_weight: np.ndarray | None = None,
                 groups: np.ndarray | None = None) -> tuple[Verifier, float]:  # fmt: skip
    """Fit the ensemble on candidates ``x`` with labels ``y`` (1 = an annotated head), and choose
    the probability threshold of best F1, counting the ``n_heads`` annotated heads (those no
    candidate reached are misses).

    With ``groups`` (each candidate's source, at least two of them) the threshold is chosen on
    out-of-fold probabilities: each group's candidates scored by an ensemble fitted without
    that group (grouped k-fold, at most 5 folds). An ensemble scores its own training
    candidates with near certainty, so a threshold chosen on them is arbitrary; on candidates
    it did not see, it is the threshold that would have served a new source best. The
    ensemble returned is always the one fitted on every candidate.

    Returns
    -------
    Verifier, float
        The verifier and the F1 at the chosen threshold (out of fold with ``groups``, else on
        the training candidates).
    """
    from spermlab._optional import require

    require("sklearn", "train", "training the verifier")
    from sklearn.ensemble import HistGradientBoostingClassifier

    y = np.asarray(y, int)
    if len(np.unique(y)) < 2:
        raise ValueError("fit_verifier: the candidates need both heads and non-heads")

    def fitted(rows: np.ndarray) -> HistGradientBoostingClassifier:
        w = None if sample_weight is None else np.asarray(sample_weight)[rows]
        clf = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, random_state=seed)
        return clf.fit(x[rows], y[rows], sample_weight=w)

    everything = np.ones(len(y), dtype=bool)
    clf = fitted(everything)
    p = clf.predict_proba(x)[:, 1]
    chosen_on = p
    if groups is not None and len(np.unique(groups)) >= 2:
        from sklearn.model_selection import GroupKFold

        groups = np.asarray(groups)
        chosen_on = np.empty(len(y))
        folds = GroupKFold(n_splits=min(5, len(np.unique(groups))))
        for train, held in folds.split(x, y, groups):
            rows = np.zeros(len(y), dtype=bool)
            rows[train] = True
            if len(np.unique(y[rows])) < 2:  # a fold of heads only: fall back for its rows
                chosen_on[held] = p[held]
                continue
            chosen_on[held] = fitted(rows).predict_proba(x[held])[:, 1]
    best = (-1.0, 0.5)
    for t in np.linspace(0.1, 0.9, 33):
        tp, fp = int((y[chosen_on >= t] == 1).sum()), int((y[chosen_on >= t] == 0).sum())
        prec, rec = tp / max(tp + fp, 1), tp / max(n_heads, 1)
        f1 = 2 * prec * rec / max(prec + rec, 1e-9)
        best = max(best, (f1, float(t)))
    verifier = TreeEnsemble.from_sklearn(clf, best[1])
    if not np.allclose(verifier.proba(x[:200]), p[:200], atol=1e-4):  # the flattening is exact
        raise RuntimeError("fit_verifier: the flattened ensemble disagrees with scikit-learn")
    return verifier, best[0]


def training_candidates(maps_of: Callable, frames: Sequence, image_of: Callable, *, stride: int = 4,
                        radius: float = 8.0, patch: tuple[int, int] = (PATCH_RADIUS, PATCH_STEP),
                        ) -> tuple[np.ndarray, np.ndarray, int]:  # fmt: skip
    """Candidates of annotated frames with their labels: ``maps_of(frame)`` gives the network's
    maps and ``image_of(frame)`` its input image; returns features (``patch``: radius and
    step of :func:`candidate_features`), labels, annotated heads."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    from spermlab.detect.learned.annotated import inside_any
    from spermlab.detect.learned.spermnet import decode

    xs, ys, n_heads = [], [], 0
    for k, f in enumerate(frames):
        h, w = f.image.shape[:2]
        det = decode(maps_of(f), CANDIDATE_THRESHOLD, stride=stride, frame=k, height=h, width=w)
        det = det[det["cls"] == 0].reset_index(drop=True)
        n_heads += len(f.boxes)
        if det.empty:
            continue
        xy = det[["x", "y"]].to_numpy()
        lab = np.zeros(len(det), int)
        if len(f.boxes):
            cost = cdist(xy, f.boxes[:, :2])
            r, c = linear_sum_assignment(np.where(cost <= radius, cost, 1e6))
            lab[r[cost[r, c] <= radius]] = 1
        scored = (lab == 1) | ~(inside_any(xy, f.ignore) if len(f.ignore) else np.zeros(len(det), bool))
        xs.append(candidate_features(image_of(f), det[scored], radius=patch[0], step=patch[1]))
        ys.append(lab[scored])
    if not xs:
        return np.zeros((0, 1)), np.zeros(0, int), n_heads
    return np.vstack(xs), np.concatenate(ys), n_heads


def model_candidates(model: str | PathLike[str], frames: Sequence, *, dark_sources: set[str] | None = None,
                     patch: tuple[int, int] = (PATCH_RADIUS, PATCH_STEP)) -> tuple[np.ndarray, np.ndarray, int]:  # fmt: skip
    """:func:`training_candidates` of a SpermNet ``model`` (network alone) on annotated
    ``frames``, each source read in its polarity: ``dark_sources`` (heads dark, read
    inverted), default chosen by the model on the source's first frame, as
    :class:`SpermNetDetector` does on a video."""
    from spermlab.calibration import preset
    from spermlab.detect.learned.preprocess import normalise
    from spermlab.detect.learned.spermnet import SpermNetDetector

    det = SpermNetDetector(preset("visem"), model=model, verify=False)
    dark: dict[str, bool] = {}
    for f in frames:
        if f.source not in dark:
            dark[f.source] = (f.source in dark_sources) if dark_sources is not None else \
                det.choose_polarity(f.image) == "dark"  # fmt: skip
    return training_candidates(lambda f: det.heatmaps([f.image], invert=dark[f.source])[0], frames,
                               lambda f: normalise(f.image, invert=dark[f.source]), stride=det.stride,
                               patch=patch)  # fmt: skip


def add_verifier(model: str | PathLike[str], frames: Sequence, out: str | PathLike[str] | None = None,
                 *, dark_sources: set[str] | None = None) -> dict:  # fmt: skip
    """Train a verifier on ``frames`` (annotated) with the candidates of the SpermNet ``model``
    and write the model with it (to ``out``, default: in place).

    ``dark_sources``: the frames' sources whose heads are dark (read inverted), default: chosen
    by the model per source, as :class:`SpermNetDetector` does on a video's first frame.

    Returns
    -------
    dict
        ``keep_threshold``, ``f1_on_training_candidates``, ``candidates``, ``heads``.
    """
    x, y, n_heads = model_candidates(model, frames, dark_sources=dark_sources)
    verifier, f1 = fit_verifier(x, y, n_heads)
    info = {"keep_threshold": round(verifier.keep_threshold, 4), "f1_on_training_candidates": round(f1, 4),
            "candidates": int(len(y)), "heads": int(n_heads)}  # fmt: skip
    write_verifier(model, verifier, info, out)
    return info


def write_verifier(model: str | PathLike[str], verifier: Verifier, info: dict,
                   out: str | PathLike[str] | None = None) -> Path:  # fmt: skip
    """Store ``verifier`` (and ``info``) in the ONNX model's metadata; atomic."""
    import json

    from spermlab._optional import require
    from spermlab.io.atomic import atomic_path

    onnx = require("onnx", "train", "writing a verifier into a model")
    m = onnx.load(str(model))
    props = {p.key: p.value for p in m.metadata_props}
    props[METADATA_KEY] = verifier.to_text()
    props["spermlab_verifier_info"] = json.dumps(info)
    del m.metadata_props[:]
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    return atomic_path(out or model, lambda p: onnx.save(m, str(p)))
