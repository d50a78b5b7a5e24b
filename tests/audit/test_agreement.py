"""Agreement between annotation sets: hand-computed cases and reference implementations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spermlab.audit.agreement import annotator_agreement


def _set(rows, tracks=None):
    df = pd.DataFrame(rows, columns=["frame", "x", "y", "cls"]).assign(w=10.0, h=10.0, score=1.0)
    if tracks is not None:
        df["track_id"] = tracks
    return df


def test_two_sets_by_hand_and_against_scikit_learn():
    a = _set([(0, 10, 10, 0), (0, 50, 50, 0), (0, 90, 90, 0)])
    b = _set([(0, 11, 10, 0), (0, 50, 52, 1), (0, 200, 200, 0)])
    r = annotator_agreement([a, b], ["A", "B"])
    rows = sorted(map(tuple, r.objects[["A", "B"]].to_numpy().tolist()))
    assert rows == [("0", "0"), ("0", "1"), ("0", "absent"), ("absent", "0")]
    assert r.levels == {"total": 1, "partial": 0, "none": 3}
    from tests.conftest import require_module

    sk = require_module("sklearn.metrics", "pip install scikit-learn (the test extra)")
    assert r.kappa == pytest.approx(sk.cohen_kappa_score(r.objects["A"], r.objects["B"]))
    # by hand: p_o = 1/4; margins A: 0 3/4, absent 1/4; B: 0 2/4, 1 1/4, absent 1/4
    p_e = 3 / 4 * 2 / 4 + 1 / 4 * 1 / 4
    assert r.kappa == pytest.approx((1 / 4 - p_e) / (1 - p_e))
    ps = r.per_set.set_index("set")
    assert ps.loc["A", "precision"] == pytest.approx(1 / 3) and ps.loc["A", "recall"] == 1.0


def test_three_sets_fleiss_against_statsmodels():
    from tests.conftest import require_module

    inter = require_module("statsmodels.stats.inter_rater", "pip install statsmodels (the test extra)")
    rng = np.random.default_rng(3)
    truth = [(f, float(x), float(y)) for f in range(5) for x, y in rng.uniform(20, 600, (6, 2))]
    sets = []
    for k in range(3):
        rows = [(f, x + rng.normal(0, 1), y, int(rng.random() < 0.15)) for f, x, y in truth
                if rng.random() > 0.1 * k]  # fmt: skip
        sets.append(_set(rows))
    r = annotator_agreement(sets)
    table, _ = inter.aggregate_raters(r.objects[["set0", "set1", "set2"]].to_numpy())
    assert r.kappa == pytest.approx(inter.fleiss_kappa(table, method="fleiss"))
    assert sum(r.levels.values()) == len(r.objects)


def test_track_splits_and_merges():
    a = _set([(f, 10 + f, 10, 0) for f in range(4)] + [(f, 100, 100 + f, 0) for f in range(2)]
             + [(f, 100, 100 + f, 0) for f in range(2, 4)], tracks=[1] * 4 + [2] * 2 + [3] * 2)
    b = _set([(f, 10 + f, 10, 0) for f in range(4)] + [(f, 100, 100 + f, 0) for f in range(4)],
             tracks=[7, 7, 8, 8] + [9] * 4)
    r = annotator_agreement([a, b], ["A", "B"])
    t = r.tracks[0]
    assert (t["tracks_split"], t["tracks_merged"]) == (1, 1)
    assert t["split_examples"] == [1] and t["merge_examples"] == [9]


def test_needs_two_sets():
    with pytest.raises(ValueError, match="two or more"):
        annotator_agreement([_set([(0, 1, 1, 0)])])


def test_cli_agree_on_two_tables(tmp_path, capsys):
    import json

    from spermlab.cli import main

    a = _set([(0, 10, 10, 0), (0, 50, 50, 0)])
    b = _set([(0, 11, 10, 0), (0, 300, 300, 0)])
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    assert main(["audit", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--agree", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["levels"] == {"total": 1, "partial": 0, "none": 2}
    assert main(["audit", str(tmp_path / "a.csv"), "--agree"]) == 2
