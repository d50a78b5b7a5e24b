"""Cross-validation protocol on hand-built data: grouped folds, ZeroR by hand, shares, apply."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import require_module

require_module("sklearn", "pip install 'spermlab[ml]' (the test extra has it)")

from spermlab.cli import main  # noqa: E402
from spermlab.predict.train import cross_validate, folds  # noqa: E402


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "x1": rng.normal(size=n),
                      "x2": rng.normal(size=n)})  # fmt: skip
    pr = np.clip(40 + 15 * f["x1"] + rng.normal(0, 3, n), 0, 90)
    t = pd.DataFrame({"sample_id": f["sample_id"], "participant": np.repeat(np.arange(n // 2), 2),
                      "PR": pr, "NP": 10.0, "IM": 90 - pr})  # fmt: skip
    return f, t


def test_grouped_folds_keep_each_participant_on_one_side():
    groups = np.repeat(np.arange(15), 3)
    for seed in range(3):
        for train, test in folds(len(groups), groups, 5, seed):
            assert not set(groups[train]) & set(groups[test])
    seen = np.concatenate([t for _, t in folds(len(groups), groups, 5, 0)])
    assert sorted(seen.tolist()) == list(range(45))


def test_zeror_mae_by_hand_and_shares_sum_to_100():
    f, t = _data()
    y = t[["PR", "NP", "IM"]]
    res = cross_validate(f[["x1", "x2"]], y, models=["zeror", "linear"], k=4, seeds=1, shares=True)
    pr_pred = np.zeros(len(y))
    for train, test in folds(len(y), None, 4, 0):
        m = y.iloc[train].mean()
        pr_pred[test] = 100 * m["PR"] / m.sum()  # the mean shares, already summing to 100
    zr = res.table.set_index(["model", "target"]).loc[("zeror", "PR")]
    assert zr["mae"] == pytest.approx(np.mean(np.abs(pr_pred - y["PR"])))
    p = res.predictions
    assert np.allclose(p[["PR", "NP", "IM"]].sum(axis=1), 100.0)
    lin = res.table.set_index(["model", "target"]).loc[("linear", "PR")]
    assert lin["mae"] < zr["mae"] and lin["pearson_r"] > 0.8  # the signal is there: it is found


def test_train_then_apply_and_a_feature_mismatch_is_an_error(tmp_path, capsys):
    f, t = _data()
    f.to_csv(tmp_path / "f.csv", index=False)
    t.to_csv(tmp_path / "t.csv", index=False)
    m = tmp_path / "m.joblib"
    assert main(["predict", "train", str(tmp_path / "f.csv"), str(tmp_path / "t.csv"), "--targets",
                 "PR,NP,IM", "--shares", "--model", "linear", "--cv", "4", "--seeds", "1",
                 "--group", "participant", "--out", str(m), "-q"]) == 0  # fmt: skip
    assert main(["predict", "apply", str(m), str(tmp_path / "f.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    p = pd.read_csv(tmp_path / "p.csv")
    assert np.allclose(p[["PR", "NP", "IM"]].sum(axis=1), 100.0) and len(p) == 40
    f.drop(columns="x2").to_csv(tmp_path / "g.csv", index=False)
    assert main(["predict", "apply", str(m), str(tmp_path / "g.csv")]) == 1
    assert "x2" in capsys.readouterr().err
    assert main(["predict", "train", str(tmp_path / "f.csv"), str(tmp_path / "t.csv"), "--targets",
                 "PR", "--model", "svm", "--out", str(m)]) == 2  # fmt: skip


def test_leave_one_out_and_the_cv_report(tmp_path):
    f, t = _data(20)
    groups = t["participant"].to_numpy()
    lo = folds(20, groups, 0, 0)
    assert len(lo) == 10 and all(len(set(groups[te])) == 1 for _, te in lo)  # one participant out
    f.to_csv(tmp_path / "f.csv", index=False)
    t.to_csv(tmp_path / "t.csv", index=False)
    assert main(["predict", "train", str(tmp_path / "f.csv"), str(tmp_path / "t.csv"), "--targets", "PR",
                 "--model", "ridge", "--loo", "--group", "participant", "--out", str(tmp_path / "m.joblib"),
                 "--report", str(tmp_path / "cv.html"), "-q"]) == 0  # fmt: skip
    html = (tmp_path / "cv.html").read_text()
    assert html.count("data:image/png") == 2 and "leave one out" in html  # ridge and ZeroR, PR
