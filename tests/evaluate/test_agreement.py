"""Agreement statistics: hand-solved scenarios, published worked examples, invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spermlab.evaluate.agreement import (
    AgreementResult,
    BlandAltman,
    agreement,
    agreement_table,
    bland_altman,
    cohen_kappa,
    fleiss_kappa,
    lin_ccc,
    zero_r,
    zero_r_folds,
)

T3_975 = 3.182446305284263  # Student t, 3 degrees of freedom, 97.5 % quantile (tables)

# ----------------------------------------------------------------- hand-solved continuous


def test_constant_offset_gives_exact_bias_and_zero_spread():
    ref = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    res = agreement(ref + 2.0, ref)
    assert res.n == 5
    assert res.bias_mean == 2.0 and res.bias_median == 2.0
    assert res.sd_diff == 0.0 and res.loa_low == 2.0 and res.loa_high == 2.0
    assert res.mae == 2.0 and res.rmse == 2.0
    assert res.pearson_r == pytest.approx(1.0) and res.spearman_rho == pytest.approx(1.0)
    # Lin: 1/n variances of 1..5 are 2, covariance 2, mean shift 2 -> 2*2 / (2 + 2 + 2**2)
    assert res.ccc == pytest.approx(2 * 2 / (2 + 2 + 2**2)) == pytest.approx(0.5)
    assert res.ccc < res.pearson_r
    # ZeroR predicts mean(ref) = 3: |ref - 3| = 2, 1, 0, 1, 2
    assert res.zero_r_mae == pytest.approx(6 / 5)
    assert res.zero_r_rmse == pytest.approx(math.sqrt(10 / 5))


def test_perfect_agreement():
    x = [10.0, 35.5, 20.0, 72.0]
    res = agreement(x, x)
    assert res.ccc == pytest.approx(1.0) and res.pearson_r == pytest.approx(1.0)
    assert res.mae == 0.0 and res.rmse == 0.0
    assert (res.bias_mean, res.sd_diff, res.loa_low, res.loa_high) == (0.0, 0.0, 0.0, 0.0)
    assert math.isnan(res.ccc_low) and math.isnan(res.ccc_high)  # degenerate interval


def test_pearson_spearman_and_p_by_hand():
    # dx = (-1, 0, 1), dy = (-1, 1, 0): r = 1 / sqrt(2 * 2) = 0.5; ranks equal values.
    # n = 3: t = r sqrt(1) / sqrt(1 - r^2) = tan(pi/6), t_1 is Cauchy: p = 2 (1/2 - 1/6).
    res = agreement([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    assert res.pearson_r == pytest.approx(0.5)
    assert res.spearman_rho == pytest.approx(0.5)
    assert res.pearson_p == pytest.approx(2 / 3)
    assert res.spearman_p == pytest.approx(2 / 3)
    # equal means and variances: CCC = r (2 * 1/3 / (2/3 + 2/3))
    assert res.ccc == pytest.approx(0.5)


def test_bland_altman_by_hand():
    ref = np.array([10.0, 20.0, 30.0, 40.0])
    diffs = np.array([1.0, 2.0, 3.0, 10.0])
    ba = bland_altman(ref + diffs, ref)
    sd = math.sqrt((9 + 4 + 1 + 36) / 3)  # deviations from 4: -3, -2, -1, 6
    assert ba.n == 4
    assert ba.bias_mean == pytest.approx(4.0)
    assert ba.bias_median == pytest.approx(2.5)
    assert ba.sd_diff == pytest.approx(sd)
    assert ba.loa_low == pytest.approx(4 - 1.96 * sd)
    assert ba.loa_high == pytest.approx(4 + 1.96 * sd)
    assert ba.bias_ci == pytest.approx((4 - T3_975 * sd / 2, 4 + T3_975 * sd / 2))
    se_loa = math.sqrt(3 * sd**2 / 4)
    assert ba.loa_high_ci == pytest.approx((ba.loa_high - T3_975 * se_loa,
                                            ba.loa_high + T3_975 * se_loa))
    assert ba.loa_low_ci[0] < ba.loa_low < ba.loa_low_ci[1]
    np.testing.assert_allclose(ba.diffs, diffs)
    np.testing.assert_allclose(ba.means, ref + diffs / 2)


def test_bland_altman_result_is_read_only_and_exports():
    ba = bland_altman([3.0, 5.0, 9.0], [1.0, 2.0, 5.0])
    with pytest.raises(ValueError):
        ba.diffs[0] = 0.0
    with pytest.raises(AttributeError):
        ba.bias_mean = 0.0  # type: ignore[misc]
    df = ba.to_pandas()
    assert list(df.columns) == ["mean", "diff"] and isinstance(df.index, pd.RangeIndex)
    d = ba.to_dict()
    assert d["diffs"] == [2.0, 3.0, 4.0] and d["bias_mean"] == 3.0
    assert isinstance(d["bias_ci"], list) and len(d["loa_low_ci"]) == 2


def test_lin_ccc_hand_value_and_interval_contains_it():
    # 1/n variances 1.25, covariance 1.25, mean shift 2: 2.5 / (2.5 + 4)
    ccc, lo, hi = lin_ccc([3, 4, 5, 6], [1, 2, 3, 4])
    assert ccc == pytest.approx(2.5 / 6.5)
    x = np.array([1.0, 2.0, 4.0, 4.5, 6.0, 7.5, 9.0])
    y = np.array([1.5, 2.2, 3.5, 5.0, 6.5, 7.0, 9.9])
    ccc, lo, hi = lin_ccc(x, y, conf_level=0.9)
    assert -1 < lo < ccc < hi < 1
    _, lo95, hi95 = lin_ccc(x, y, conf_level=0.95)
    assert lo95 < lo and hi < hi95


def test_lin_ccc_interval_covers_the_true_value(rng):
    # bivariate normal: true CCC = 2 rho sx sy / (sx^2 + sy^2 + (mx - my)^2)
    rho, sx, sy, mx, my, n, reps = 0.8, 1.0, 1.3, 0.0, 0.4, 40, 400
    truth = 2 * rho * sx * sy / (sx**2 + sy**2 + (mx - my) ** 2)
    cov = [[sx**2, rho * sx * sy], [rho * sx * sy, sy**2]]
    hits = 0
    for _ in range(reps):
        xy = rng.multivariate_normal([mx, my], cov, size=n)
        _, lo, hi = lin_ccc(xy[:, 0], xy[:, 1])
        hits += lo <= truth <= hi
    assert 0.90 <= hits / reps <= 0.99


def test_small_n_and_constant_input_give_nan_correlations_without_warning():
    two = agreement([1.0, 2.0], [1.5, 2.5])
    assert two.n == 2 and two.mae == 0.5
    assert all(math.isnan(v) for v in (two.pearson_r, two.pearson_p, two.spearman_rho,
                                       two.spearman_p, two.ccc))
    one = agreement([3.0], [1.0])
    assert one.bias_mean == 2.0 and math.isnan(one.sd_diff) and math.isnan(one.loa_high)
    assert all(math.isnan(v) for v in bland_altman([3.0], [1.0]).bias_ci)
    const = agreement([5.0, 5.0, 5.0, 5.0], [1.0, 2.0, 3.0, 4.0])
    assert math.isnan(const.pearson_r) and math.isnan(const.spearman_rho)
    assert math.isnan(const.ccc)
    assert const.mae == pytest.approx(2.5)
    tiny = agreement([0.1, 0.1, 0.1], [0.1, 0.2, 0.3])  # mean(0.1, 0.1, 0.1) != 0.1
    assert math.isnan(tiny.pearson_r)


# ----------------------------------------------------------------- input handling


def test_mismatched_lengths_state_both():
    with pytest.raises(ValueError, match=r"got 3 \(method\) and 2 \(reference\)"):
        agreement([1, 2, 3], [1, 2])


def test_nan_pairs_raise_unless_omitted():
    m, r = [1.0, np.nan, 3.0, 4.0], [1.0, 2.0, 3.5, np.nan]
    with pytest.raises(ValueError, match="NaN in 2 of 4 pairs.*position 1.*nan_policy='omit'"):
        agreement(m, r)
    res = agreement(m, r, nan_policy="omit")
    assert res.n == 2 and res.mae == pytest.approx(0.25)
    with pytest.raises(ValueError, match="after omitting NaN"):
        agreement([np.nan], [1.0], nan_policy="omit")
    series = pd.Series([1.0, None, 3.0], dtype="Float64")
    assert agreement(series, [1.0, 2.0, 3.0], nan_policy="omit").n == 2


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"method": [[1, 2]], "reference": [[1, 2]]}, ValueError, "1-D"),
        ({"method": [1, np.inf], "reference": [1, 2]}, ValueError, "infinite"),
        ({"method": ["a", "b"], "reference": [1, 2]}, TypeError, "numeric"),
        ({"method": [], "reference": []}, ValueError, "no pairs"),
        ({"method": [1], "reference": [1], "nan_policy": "drop"}, ValueError, "nan_policy"),
        ({"method": [1], "reference": [1], "conf_level": 95}, ValueError, "conf_level"),
        ({"method": [1], "reference": [1], "zero_r_value": np.nan}, ValueError, "zero_r"),
    ],
)
def test_bad_input_is_rejected(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        agreement(**kwargs)


def test_inputs_are_not_mutated():
    m, r = np.array([3.0, np.nan, 5.0]), np.array([1.0, 2.0, 4.0])
    m0, r0 = m.copy(), r.copy()
    agreement(m, r, nan_policy="omit")
    bland_altman(m, r, nan_policy="omit")
    np.testing.assert_array_equal(m, m0)
    np.testing.assert_array_equal(r, r0)


# ----------------------------------------------------------------- result object


def test_agreement_result_exports():
    res = agreement([12.0, 20.0, 31.0, 38.0], [10.0, 20.0, 30.0, 40.0])
    assert isinstance(res, AgreementResult)
    d = res.to_dict()
    assert list(d)[:3] == ["n", "mae", "rmse"] and d["n"] == 4
    df = res.to_pandas()
    assert df.shape == (1, len(d)) and isinstance(df.index, pd.RangeIndex)
    text = str(res)
    assert "n=4" in text and "MAE 1.25" in text and "ZeroR" in text and "LoA" in text
    with pytest.raises(AttributeError):
        res.mae = 0.0  # type: ignore[misc]


def test_str_survives_nan():
    assert "nan" in str(agreement([1.0], [2.0]))


# ----------------------------------------------------------------- ZeroR


def test_zero_r_predicts_the_training_mean():
    np.testing.assert_array_equal(zero_r([10, 20, 60], 3), [30.0, 30.0, 30.0])
    assert zero_r([1.0], 0).shape == (0,)
    with pytest.raises(ValueError, match="at least one"):
        zero_r([], 2)
    with pytest.raises(ValueError, match="n_test"):
        zero_r([1.0], -1)


def test_zero_r_on_folds_uses_training_means_only():
    y = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    folds = [([2, 3, 4, 5], [0, 1]), ([0, 1, 4, 5], [2, 3]), ([0, 1, 2, 3], [4, 5])]
    out = zero_r_folds(y, folds)
    assert list(out.columns) == ["fold", "n_train", "n_test", "train_mean", "mae", "rmse"]
    # fold 0: train mean 45 -> |10-45|, |20-45| = 35, 25; fold 1: 35 -> 5, 5; fold 2: 25 -> 25, 35
    assert out["train_mean"].tolist() == [45.0, 35.0, 25.0]
    assert out["mae"].tolist() == [30.0, 5.0, 30.0]
    assert out["rmse"].tolist() == pytest.approx([math.sqrt((35**2 + 25**2) / 2), 5.0,
                                                  math.sqrt((25**2 + 35**2) / 2)])
    # the in-sample baseline of agreement() is more optimistic than the fold baseline
    in_sample = agreement(y, y).zero_r_mae  # |y - 35| = 25, 15, 5, 5, 15, 25
    assert in_sample == pytest.approx(15.0) and in_sample < out["mae"].mean()
    # |y - 45| = 35, 25, 15, 5, 5, 15
    assert agreement(y, y, zero_r_value=45.0).zero_r_mae == pytest.approx(100 / 6)


@pytest.mark.parametrize(
    "folds, match",
    [([([0, 1], [1, 2])], "share samples \\[1\\]"), ([([0], [9])], "positions in \\[0, 3\\)"),
     ([([], [0])], "non-empty")],
)
def test_zero_r_folds_rejects_bad_folds(folds, match):
    with pytest.raises(ValueError, match=match):
        zero_r_folds([1.0, 2.0, 3.0], folds)


# ----------------------------------------------------------------- table level


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    pred = pd.DataFrame({"id": [1, 2, 3, 4], "progressive_pct": [12.0, 30.0, 55.0, 40.0],
                         "immotile_pct": [70.0, 50.0, 20.0, 30.0], "note": list("abcd")})
    ref = pd.DataFrame({"id": [4, 3, 2, 1], "progressive_pct": [40.0, 50.0, 30.0, 10.0],
                        "immotile_pct": [35.0, 25.0, 50.0, 70.0], "note": list("wxyz")})
    return pred, ref


def test_agreement_table_matches_per_column_agreement():
    pred, ref = _tables()
    out = agreement_table(pred, ref)
    assert out["column"].tolist() == ["progressive_pct", "immotile_pct"]  # "note" is text
    assert isinstance(out.index, pd.RangeIndex)
    assert list(out.columns) == ["column", *AgreementResult.__dataclass_fields__]
    # joined on id: progressive diffs 2, 0, 5, 0 -> MAE 7/4; immotile diffs 0, 0, -5, -5
    assert out.loc[0, "mae"] == pytest.approx(7 / 4) and out.loc[0, "bias_mean"] == 7 / 4
    assert out.loc[1, "bias_mean"] == pytest.approx(-2.5)
    only = agreement_table(pred, ref, columns=["immotile_pct"])
    assert only["column"].tolist() == ["immotile_pct"]
    pd.testing.assert_frame_equal(pred, _tables()[0])  # not mutated


def test_agreement_table_errors_name_the_problem():
    pred, ref = _tables()
    with pytest.raises(ValueError, match="pred only \\[\\], ref only \\[4\\]"):
        agreement_table(pred.iloc[:3], ref)
    out = agreement_table(pred.iloc[:3], ref, unmatched="ignore")
    assert out.loc[0, "n"] == 3
    with pytest.raises(ValueError, match="duplicate 'id' values: \\[1\\]"):
        agreement_table(pd.concat([pred, pred.iloc[:1]]), ref)
    with pytest.raises(ValueError, match="no id column 'sample'"):
        agreement_table(pred, ref, on="sample")
    with pytest.raises(ValueError, match="'vcl' is not a value column of pred"):
        agreement_table(pred, ref, columns=["vcl"])
    with pytest.raises(ValueError, match="no 'id' value in common"):
        agreement_table(pred.assign(id=[7, 8, 9, 10]), ref, unmatched="ignore")
    with pytest.raises(TypeError, match="DataFrame"):
        agreement_table(pred.to_dict(), ref)  # type: ignore[arg-type]
    holey = ref.assign(immotile_pct=[35.0, np.nan, 50.0, 70.0])
    with pytest.raises(ValueError, match="column 'immotile_pct': .*NaN"):
        agreement_table(pred, holey)
    assert agreement_table(pred, holey, nan_policy="omit").loc[1, "n"] == 3


# ----------------------------------------------------------------- Cohen's kappa


def test_cohen_kappa_wikipedia_example():
    # 50 items: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> p_o 0.7, p_e 0.5, kappa 0.4
    r1 = ["yes"] * 25 + ["no"] * 25
    r2 = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(r1, r2) == pytest.approx(0.4)
    assert cohen_kappa(r2, r1) == pytest.approx(0.4)


def _three_grade_raters() -> tuple[list[str], list[str]]:
    # confusion (rows r1, columns r2) [[2, 1, 0], [0, 2, 1], [1, 0, 3]], n = 10
    cells = {("a", "a"): 2, ("a", "b"): 1, ("b", "b"): 2, ("b", "c"): 1, ("c", "a"): 1,
             ("c", "c"): 3}
    pairs = [p for p, k in cells.items() for _ in range(k)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def test_cohen_kappa_weighted_by_hand():
    r1, r2 = _three_grade_raters()
    # margins 0.3, 0.3, 0.4 both; p_o = 0.7; p_e = 0.09 + 0.09 + 0.16 = 0.34
    assert cohen_kappa(r1, r2) == pytest.approx((0.7 - 0.34) / (1 - 0.34)) == pytest.approx(6 / 11)
    # linear: sum w*O = (0.5 + 0.5 + 1) / 10 = 0.2; sum w*E = 0.5 * 0.42 + 0.24 = 0.45
    assert cohen_kappa(r1, r2, weights="linear") == pytest.approx(1 - 0.2 / 0.45)
    # quadratic: sum w*O = (0.25 + 0.25 + 1) / 10 = 0.15; sum w*E = 0.25 * 0.42 + 0.24
    assert cohen_kappa(r1, r2, weights="quadratic") == pytest.approx(13 / 23)
    # the order of categories matters for weights only
    order = ["a", "c", "b"]
    assert cohen_kappa(r1, r2, labels=order) == pytest.approx(6 / 11)
    assert cohen_kappa(r1, r2, weights="linear", labels=order) != pytest.approx(5 / 9)


def test_cohen_kappa_edge_cases():
    assert cohen_kappa(["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert math.isnan(cohen_kappa(["a", "a"], ["a", "a"]))  # chance agreement is total
    assert cohen_kappa([1, 2, 2, 1], [2, 1, 1, 2]) == pytest.approx(-1.0)
    assert cohen_kappa(["a", "b"], ["a", "b"], labels=["a", "b", "c", "d"]) == 1.0
    with pytest.raises(ValueError, match="same length"):
        cohen_kappa(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="not in labels.*\\['e'\\]"):
        cohen_kappa(["a", "e"], ["a", "b"], labels=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="missing"):
        cohen_kappa(["a", None], ["a", "b"])
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa(["a"], ["a"], weights="cubic")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mixed types"):
        cohen_kappa(["a", 1], ["a", 1])
    with pytest.raises(ValueError, match="unique"):
        cohen_kappa(["a"], ["a"], labels=["a", "a"])


# ----------------------------------------------------------------- Fleiss' kappa

#: Wikipedia "Fleiss' kappa" worked example: 10 subjects, 14 raters, 5 categories.
WIKI_COUNTS = np.array([
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
])


def test_fleiss_kappa_wikipedia_example():
    # published: P_bar = 0.378, P_e = 0.213, kappa = 0.210
    p_j = WIKI_COUNTS.sum(axis=0) / 140
    assert p_j == pytest.approx([0.143, 0.200, 0.279, 0.150, 0.229], abs=5e-4)
    assert fleiss_kappa(WIKI_COUNTS, counts=True) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_from_labels_equals_from_counts():
    labels = np.array([[c for c, k in enumerate(row) for _ in range(k)] for row in WIKI_COUNTS])
    assert labels.shape == (10, 14)
    assert fleiss_kappa(labels) == pytest.approx(fleiss_kappa(WIKI_COUNTS, counts=True))
    grades = np.array(list("abcde"), dtype=object)[labels]
    assert fleiss_kappa(grades) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_two_raters_is_scotts_pi():
    # Cohen example above, pooled: yes 55/100, no 45/100 -> p_e = 0.505; p_o = 0.7
    r1 = ["yes"] * 25 + ["no"] * 25
    r2 = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert fleiss_kappa(np.column_stack([r1, r2])) == pytest.approx(0.195 / 0.495)


def test_fleiss_kappa_edge_cases():
    assert fleiss_kappa([["a", "a", "a"], ["b", "b", "b"]]) == 1.0
    assert math.isnan(fleiss_kappa([["a", "a", "a"], ["a", "a", "a"]]))
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([[3, 0], [2, 0]], counts=True)
    with pytest.raises(ValueError, match="same number \\(>= 2\\)"):
        fleiss_kappa([["a"], ["b"]])
    with pytest.raises(ValueError, match="whole numbers"):
        fleiss_kappa([[1.5, 1.5]], counts=True)
    with pytest.raises(ValueError, match="2-D"):
        fleiss_kappa(["a", "b"])
    with pytest.raises(ValueError, match="missing"):
        fleiss_kappa([["a", None], ["a", "b"]])
    with pytest.raises(ValueError, match="not in labels"):
        fleiss_kappa([["a", "x"], ["a", "b"]], labels=list("abcd"))


# ----------------------------------------------------------------- invariants (Hypothesis)

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
pairs = st.integers(1, 30).flatmap(
    lambda n: st.tuples(st.lists(finite, min_size=n, max_size=n),
                        st.lists(finite, min_size=n, max_size=n)))


@settings(max_examples=150, deadline=None)
@given(pairs)
def test_invariants_of_continuous_agreement(xy):
    m, r = xy
    res = agreement(m, r)
    swapped = agreement(r, m)
    assert res.mae <= res.rmse * (1 + 1e-12) + 1e-300
    assert res.mae == pytest.approx(swapped.mae) and res.rmse == pytest.approx(swapped.rmse)
    assert res.bias_mean == pytest.approx(-swapped.bias_mean, abs=1e-6)
    if not math.isnan(res.pearson_r):
        assert abs(res.pearson_r) <= 1.0 and abs(res.spearman_rho) <= 1.0 + 1e-12
        assert abs(res.ccc) <= abs(res.pearson_r) + 1e-9
        assert res.ccc == pytest.approx(swapped.ccc, abs=1e-9)
        assert 0.0 <= res.pearson_p <= 1.0
    if res.n > 1:
        assert res.loa_low <= res.bias_mean <= res.loa_high


labels = st.sampled_from(list("abcd"))
raters = st.integers(1, 40).flatmap(
    lambda n: st.tuples(st.lists(labels, min_size=n, max_size=n),
                        st.lists(labels, min_size=n, max_size=n)))


@settings(max_examples=150, deadline=None)
@given(raters, st.sampled_from([None, "linear", "quadratic"]))
def test_cohen_kappa_is_symmetric_and_at_most_one(ab, weights):
    a, b = ab
    k = cohen_kappa(a, b, weights=weights, labels=list("abcd"))
    k_swapped = cohen_kappa(b, a, weights=weights, labels=list("abcd"))
    if math.isnan(k):
        assert math.isnan(k_swapped)
    else:
        assert k == pytest.approx(k_swapped) and k <= 1.0 + 1e-12
    self_kappa = cohen_kappa(a, a, weights=weights, labels=list("abcd"))
    assert self_kappa == 1.0 if len(set(a)) > 1 else math.isnan(self_kappa)


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 12), st.integers(2, 6), st.data())
def test_fleiss_kappa_ignores_rater_and_subject_order(n_subjects, n_raters, data):
    table = np.array(data.draw(st.lists(st.lists(labels, min_size=n_raters, max_size=n_raters),
                                        min_size=n_subjects, max_size=n_subjects)), dtype=object)
    k = fleiss_kappa(table)
    perm = np.random.default_rng(0)
    shuffled = table[perm.permutation(n_subjects)][:, perm.permutation(n_raters)]
    k2 = fleiss_kappa(shuffled)
    assert (math.isnan(k) and math.isnan(k2)) or k == pytest.approx(k2)
    if not math.isnan(k):
        assert k <= 1.0 + 1e-12


def test_bland_altman_type():
    assert isinstance(bland_altman([1, 2], [1, 2]), BlandAltman)
