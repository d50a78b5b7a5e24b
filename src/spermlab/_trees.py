"""Gradient-boosted tree ensembles evaluated with numpy (no scikit-learn at inference).

scikit-learn's ``HistGradientBoostingClassifier`` is fitted in the ``train`` extra; its trees
are flattened into a handful of node arrays and evaluated here, all trees at once (a tree
ensemble is a few array lookups; that keeps scikit-learn out of the core install). Used by
SpermNet's candidate verifier (:mod:`spermlab.detect.learned.verifier`) and the flagellar
beat classifier (:mod:`spermlab.analysis.flagellum`).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["TreeEnsemble"]


@dataclass(frozen=True)
class TreeEnsemble:
    """A fitted binary tree ensemble as flat arrays (all trees' nodes, child indices global).

    ``proba(X) = sigmoid(baseline + sum over trees of the leaf value X reaches)``, the
    prediction of scikit-learn's ``HistGradientBoostingClassifier`` it was taken from.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    baseline: float
    keep_threshold: float
    n_features: int = -1  # -1: not recorded (ensembles saved before it was)

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Probability of the positive class for each row of ``x`` (the features fitted on)."""
        x = np.asarray(x, np.float32)
        if self.n_features >= 0 and (x.ndim != 2 or x.shape[1] != self.n_features):
            raise ValueError(f"TreeEnsemble: expected rows of {self.n_features} features, "
                             f"got shape {x.shape} (a model trained on other features?)")
        if len(x) == 0:
            return np.zeros(0)
        n, n_trees, n_feat = len(x), len(self.roots), x.shape[1]
        feature, threshold, child, full = self._walk
        node = np.tile(self.roots, n)  # (sample, tree) pairs, flat
        base = np.repeat(np.arange(n, dtype=np.intp) * n_feat, n_trees)
        flat = x.ravel()
        for _ in range(full):  # the first levels: every pair (leaves step onto themselves)
            node = child[2 * node + ~(flat[base + feature[node]] <= threshold[node])]
        active = np.flatnonzero(~self.is_leaf[node])
        while active.size:  # the deeper levels: only the pairs not yet at a leaf
            nd = node[active]
            nd = child[2 * nd + ~(flat[base[active] + feature[nd]] <= threshold[nd])]
            node[active] = nd
            active = active[~self.is_leaf[nd]]
        raw = self.baseline + self.value[node].reshape(n, n_trees).sum(axis=1, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-raw))

    @cached_property
    def _walk(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Arrays for the traversal: per node its feature and threshold (a leaf: feature 0,
        threshold +inf) and ``child[2 node + went_right]`` (a leaf: itself, twice), and how
        many levels to walk for every pair before only the unfinished ones are followed
        (the depth by which half of the leaves are reached: before it, picking out the
        unfinished pairs costs more than it saves)."""
        leaf = self.is_leaf
        idx = np.arange(len(leaf))
        feature = np.where(leaf, 0, self.feature).astype(np.intp)
        threshold = np.where(leaf, np.inf, self.threshold).astype(np.float32)
        child = np.empty(2 * len(leaf), dtype=np.intp)
        child[0::2] = np.where(leaf, idx, self.left)
        child[1::2] = np.where(leaf, idx, self.right)
        depth = np.zeros(len(leaf), dtype=np.intp)
        for _ in range(64):  # a node's depth is one more than its parent's
            inner = idx[~leaf]
            new = depth.copy()
            new[self.left[inner]] = depth[inner] + 1
            new[self.right[inner]] = depth[inner] + 1
            if np.array_equal(new, depth):
                break
            depth = new
        full = int(np.median(depth[leaf])) if leaf.any() else 0
        return feature, threshold, child, full

    def keep(self, x: np.ndarray) -> np.ndarray:
        """Boolean mask of the rows called positive (probability >= ``keep_threshold``)."""
        return self.proba(x) >= self.keep_threshold

    def to_text(self) -> str:
        """Base64 of an ``.npz`` with every array (for ONNX metadata or a text file)."""
        buf = io.BytesIO()
        np.savez_compressed(buf, feature=self.feature, threshold=self.threshold, left=self.left,
                            right=self.right, is_leaf=self.is_leaf, value=self.value,
                            roots=self.roots,
                            scalars=np.array([self.baseline, self.keep_threshold, self.n_features]))  # fmt: skip
        return base64.b64encode(buf.getvalue()).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> TreeEnsemble:
        """The inverse of :meth:`to_text`."""
        with np.load(io.BytesIO(base64.b64decode(text))) as z:
            arrays = {k: z[k] for k in z.files}
        scalars = arrays.pop("scalars")
        n_features = int(scalars[2]) if len(scalars) > 2 else -1
        return cls(**arrays, baseline=float(scalars[0]), keep_threshold=float(scalars[1]),
                   n_features=n_features)

    @classmethod
    def from_sklearn(cls, clf, keep_threshold: float) -> TreeEnsemble:
        """Flatten a fitted binary ``HistGradientBoostingClassifier`` (fitted without missing
        values: NaN inputs are not routed as scikit-learn would)."""
        feats, thrs, lefts, rights, leaves, values, roots = [], [], [], [], [], [], []
        offset = 0
        for (pred,) in clf._predictors:  # one tree per iteration (binary: one output)
            nodes = pred.nodes
            roots.append(offset)
            feats.append(nodes["feature_idx"].astype(np.int32))
            thrs.append(nodes["num_threshold"].astype(np.float32))
            lefts.append(nodes["left"].astype(np.int32) + offset)
            rights.append(nodes["right"].astype(np.int32) + offset)
            leaves.append(nodes["is_leaf"].astype(bool))
            values.append(nodes["value"].astype(np.float32))
            offset += len(nodes)
        return cls(np.concatenate(feats), np.concatenate(thrs), np.concatenate(lefts),
                   np.concatenate(rights), np.concatenate(leaves), np.concatenate(values),
                   np.array(roots, np.int32), float(np.ravel(clf._baseline_prediction)[0]),
                   keep_threshold, int(clf.n_features_in_))  # fmt: skip
