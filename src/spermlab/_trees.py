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
        node = np.tile(self.roots, n)  # (sample, tree) pairs, flat
        base = np.repeat(np.arange(n) * n_feat, n_trees)
        flat = x.ravel()
        active = np.arange(n * n_trees)
        while active.size:  # one level per pass, only the pairs not yet at a leaf
            nd = node[active]
            inner = ~self.is_leaf[nd]
            active, nd = active[inner], nd[inner]
            go_left = flat[base[active] + self.feature[nd]] <= self.threshold[nd]
            node[active] = np.where(go_left, self.left[nd], self.right[nd])
        raw = self.baseline + self.value[node].reshape(n, n_trees).sum(axis=1, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-raw))

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
