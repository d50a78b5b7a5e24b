"""The VISEM experiment-2 protocol on hand-built data, and on the real clinical tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import require_module

require_module("sklearn", "pip install 'spermlab[ml]' (the test extra has it)")

from spermlab.predict.visem_exp2 import cv_mae  # noqa: E402


def test_zeror_mae_by_hand():
    # 6 samples, 3 folds of 2 (shuffled); ZeroR predicts the training mean
    x = pd.DataFrame({"f": np.arange(6.0)})
    y = pd.Series([0.0, 0.0, 0.0, 0.0, 6.0, 6.0])
    from sklearn.model_selection import KFold

    expect = []
    for train, test in KFold(3, shuffle=True, random_state=0).split(x):
        mean = y.iloc[train].mean()
        expect.append(np.mean(np.abs(y.iloc[test] - mean)))
    assert cv_mae(x, y, "zeror", folds=3, seed=0) == pytest.approx(float(np.mean(expect)))
    assert cv_mae(x, y, "linear", folds=3, seed=0) >= 0


def test_every_participant_is_tested_once_per_seed():
    from sklearn.model_selection import KFold

    tested = np.concatenate([t for _, t in KFold(3, shuffle=True, random_state=5).split(np.zeros(85))])
    assert sorted(tested.tolist()) == list(range(85))


def test_real_tables_one_seed(data_dir, capsys):
    from spermlab.cli import main

    assert main(["predict", "visem-exp2", str(data_dir / "visem"), "--seeds", "1", "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {(r["group"], r["model"]): r["mean"] for r in out["table"]}
    assert set(rows) == {(g, m) for g in ("motility", "morphology") for m in ("zeror", "linear", "random_forest")}
    assert out["settings"]["participants"] == 85 and len(out["settings"]["features"]) == 11
    assert all(0 < v < 100 for v in rows.values())
