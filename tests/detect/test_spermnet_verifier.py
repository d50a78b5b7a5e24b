"""The candidate verifier: exact flattening of the tree ensemble, features, and its use."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spermlab.calibration import preset
from spermlab.detect.learned.spermnet import SpermNetDetector
from spermlab.detect.learned.verifier import (
    PATCH_RADIUS, Verifier, add_verifier, candidate_features, fit_verifier)
from tests.conftest import require_module


def _toy(rng, n=600):
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = ((x[:, 0] + 0.5 * x[:, 3] ** 2 + rng.normal(0, 0.3, n)) > 0.4).astype(int)
    return x, y


def test_the_flattened_ensemble_gives_scikit_learns_probabilities(rng):
    require_module("sklearn", "pip install 'spermlab[train]'")
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = _toy(rng)
    verifier, f1 = fit_verifier(x, y, n_heads=int(y.sum()))
    ref = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, random_state=0).fit(x, y)
    new = rng.normal(size=(300, 8)).astype(np.float32)  # unseen rows, too
    np.testing.assert_allclose(verifier.proba(new), ref.predict_proba(new)[:, 1], atol=1e-5)
    assert 0.1 <= verifier.keep_threshold <= 0.9 and f1 > 0.8
    back = Verifier.from_text(verifier.to_text())
    np.testing.assert_array_equal(back.proba(new), verifier.proba(new))
    assert back.keep_threshold == verifier.keep_threshold


def test_fitting_needs_both_heads_and_non_heads(rng):
    require_module("sklearn", "pip install 'spermlab[train]'")
    with pytest.raises(ValueError, match="both heads and non-heads"):
        fit_verifier(rng.normal(size=(20, 3)), np.ones(20, int), n_heads=20)


def test_candidate_features_are_score_and_a_standardised_patch(rng):
    image = rng.normal(size=(40, 50)).astype(np.float32)
    image[20, 25] = 50.0  # a bright point at the patch centre
    det = pd.DataFrame({"x": [25.2, 0.0, 49.9], "y": [19.8, 0.0, 39.9], "score": [0.7, 0.3, 0.4]})
    f = candidate_features(image, det)
    side = len(range(0, 2 * PATCH_RADIUS + 1, 2))
    assert f.shape == (3, 1 + side * side) and f.dtype == np.float32
    assert f[:, 0].tolist() == pytest.approx([0.7, 0.3, 0.4])
    patch = f[0, 1:].reshape(side, side)
    assert np.unravel_index(patch.argmax(), patch.shape) == (side // 2, side // 2)
    assert patch.mean() == pytest.approx(0, abs=1e-5) and patch.std() == pytest.approx(1, abs=1e-3)
    assert np.isfinite(f).all()  # corners: reflected padding
    assert candidate_features(image, det.iloc[:0]).shape == (0, 1 + side * side)


@pytest.fixture(scope="module")
def tiny_verified(tmp_path_factory):
    require_module("onnx", "pip install 'spermlab[train]'")
    require_module("sklearn", "pip install 'spermlab[train]'")
    import shutil

    from spermlab.detect.learned.annotated import from_simulation
    from spermlab.detect.learned.spermnet import shipped_model

    frames = from_simulation(3, 2, seed=5, width=256, height=192)
    folder = tmp_path_factory.mktemp("model")
    shutil.copy(shipped_model(), folder / "tiny.onnx")
    plain = SpermNetDetector(preset("visem"), model=folder / "tiny.onnx", verify=False)
    info = add_verifier(folder / "tiny.onnx", frames, folder / "tiny+v.onnx")
    return folder, frames, info, plain


def test_a_model_with_a_verifier_is_still_one_file_and_the_detector_uses_it(tiny_verified):
    folder, frames, info, plain = tiny_verified
    assert info["candidates"] > 0 and info["heads"] == sum(len(f.boxes) for f in frames)
    checked = SpermNetDetector(preset("visem"), model=folder / "tiny+v.onnx")
    off = SpermNetDetector(preset("visem"), model=folder / "tiny+v.onnx", verify=False)
    assert "verifier" not in plain.params and "verifier" not in off.params
    assert len(list(folder.iterdir())) == 2  # the verifier lives inside the .onnx
    assert checked.params["verifier"]["keep_threshold"] == pytest.approx(info["keep_threshold"])
    image = frames[0].image
    a, b = off.detect(image, 0), plain.detect(image, 0)
    pd.testing.assert_frame_equal(a, b)  # verify=False: the network alone, as before
    v = checked.detect(image, 0)
    assert ((v["score"] >= info["keep_threshold"]) & (v["score"] <= 1)).all()
    assert list(v.columns) == list(a.columns)


def test_with_sources_the_threshold_is_chosen_out_of_fold(rng):
    require_module("sklearn", "pip install 'spermlab[train]'")
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GroupKFold

    x, y = _toy(rng, n=900)
    groups = np.repeat(np.arange(6), 150)
    plain, f1_in = fit_verifier(x, y, n_heads=int(y.sum()))
    oof, f1_out = fit_verifier(x, y, n_heads=int(y.sum()), groups=groups)
    # the same ensemble (fitted on everything); only the threshold's evidence differs
    np.testing.assert_array_equal(oof.proba(x), plain.proba(x))
    assert f1_out < f1_in  # in-sample probabilities flatter every threshold
    # the threshold is the best-F1 one on probabilities from models that did not see the group
    p = np.empty(len(y))
    for train, held in GroupKFold(n_splits=5).split(x, y, groups):
        clf = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, random_state=0)
        p[held] = clf.fit(x[train], y[train]).predict_proba(x[held])[:, 1]
    f1s = []
    for t in np.linspace(0.1, 0.9, 33):
        tp, fp = int(y[p >= t].sum()), int((y[p >= t] == 0).sum())
        prec, rec = tp / max(tp + fp, 1), tp / y.sum()
        f1s.append((2 * prec * rec / max(prec + rec, 1e-9), float(t)))
    assert max(f1s) == pytest.approx((f1_out, oof.keep_threshold))
