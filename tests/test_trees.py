"""The numpy tree ensemble: the same probabilities as scikit-learn, a file round trip, a
clear error on rows of the wrong width."""

import numpy as np
import pytest

from spermlab._trees import TreeEnsemble


def test_flattened_ensemble_matches_scikit_learn_and_round_trips():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 3] ** 2 > 0.3).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(x, y)
    model = TreeEnsemble.from_sklearn(clf, 0.5)
    assert model.n_features == 5
    np.testing.assert_allclose(model.proba(x), clf.predict_proba(x)[:, 1], atol=1e-5)
    back = TreeEnsemble.from_text(model.to_text())
    np.testing.assert_allclose(back.proba(x[:50]), model.proba(x[:50]))
    assert back.n_features == 5 and (back.keep(x) == (model.proba(x) >= 0.5)).all()
    with pytest.raises(ValueError, match="expected rows of 5 features"):
        model.proba(x[:, :4])


def test_an_ensemble_saved_before_the_width_was_recorded_still_loads():
    import base64
    import io

    model = TreeEnsemble(np.array([0, -1, -1], np.int32), np.array([0.0, 0, 0], np.float32),
                         np.array([1, 0, 0], np.int32), np.array([2, 0, 0], np.int32),
                         np.array([False, True, True]), np.array([0.0, -2.0, 2.0], np.float32),
                         np.array([0], np.int32), 0.0, 0.5)  # fmt: skip
    buf = io.BytesIO()
    np.savez_compressed(buf, feature=model.feature, threshold=model.threshold, left=model.left,
                        right=model.right, is_leaf=model.is_leaf, value=model.value,
                        roots=model.roots, scalars=np.array([0.0, 0.5]))  # fmt: skip
    old = TreeEnsemble.from_text(base64.b64encode(buf.getvalue()).decode("ascii"))
    assert old.n_features == -1
    p = old.proba(np.array([[-1.0], [1.0]]))
    np.testing.assert_allclose(p, 1 / (1 + np.exp([2.0, -2.0])), rtol=1e-6)


def _walk_one(model: TreeEnsemble, row: np.ndarray) -> float:
    """Reference: follow each tree node by node (NaN goes right, as ``not x <= t``)."""
    raw = model.baseline
    for root in model.roots:
        node = int(root)
        while not model.is_leaf[node]:
            go_left = row[model.feature[node]] <= model.threshold[node]
            node = int(model.left[node] if go_left else model.right[node])
        raw += float(model.value[node])
    return 1.0 / (1.0 + np.exp(-raw))


def test_the_vectorised_walk_matches_a_node_by_node_walk_on_deep_uneven_trees():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 6)).astype(np.float32)
    y = ((np.sin(3 * x[:, 0]) + x[:, 1] * x[:, 2] > 0.2) ^ (rng.random(600) < 0.1)).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=63, max_depth=None,
                                         min_samples_leaf=2, random_state=0).fit(x, y)  # fmt: skip
    model = TreeEnsemble.from_sklearn(clf, 0.5)
    feature, threshold, child, full = model._walk
    assert 0 < full < 20 and len(child) == 2 * len(model.feature)
    rows = x[:40].copy()
    rows[::7, 2] = np.nan  # a missing value takes the right branch, as the reference does
    want = np.array([_walk_one(model, r) for r in rows])
    np.testing.assert_allclose(model.proba(rows), want, rtol=1e-12, atol=1e-12)
