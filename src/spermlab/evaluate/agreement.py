"""Agreement between a method and a reference: errors, correlation, Bland-Altman, kappa.

For continuous sample-level values (motility percentages, concentrations, counts,
kinematics): mean absolute error (MAE), root-mean-square error (RMSE), Pearson's r,
Spearman's rho, Lin's concordance correlation coefficient (CCC), the Bland-Altman bias
and limits of agreement [1]_, and the ZeroR baseline (always predict the reference
mean) that the VISEM papers compare every model against [5]_. For categorical grades
(WHO a/b/c/d): Cohen's kappa for two raters, optionally weighted [3]_, and Fleiss' kappa
for three or more [4]_.

Differences are always ``method - reference``. Correlation-type statistics (r, rho,
CCC) are NaN, without a warning, when fewer than three pairs are given or when either
side is constant: they are undefined (constant input) or uninformative (n < 3) there.

References
----------
.. [1] Bland JM, Altman DG (1986). Statistical methods for assessing agreement between
   two methods of clinical measurement. Lancet 327(8476):307-310.
.. [2] Lin LI-K (1989). A concordance correlation coefficient to evaluate
   reproducibility. Biometrics 45(1):255-268; correction Biometrics 56:324-325 (2000).
.. [3] Cohen J (1960). A coefficient of agreement for nominal scales. Educational and
   Psychological Measurement 20(1):37-46; Cohen J (1968). Weighted kappa. Psychological
   Bulletin 70(4):213-220.
.. [4] Fleiss JL (1971). Measuring nominal scale agreement among many raters.
   Psychological Bulletin 76(5):378-382.
.. [5] Hicks SA, Andersen JM, Witczak O, et al. (2019). Machine learning-based analysis
   of sperm videos and participant data for male fertility prediction. Scientific
   Reports 9:16770 (ZeroR baseline, mean absolute error, three-fold cross-validation).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

__all__ = [
    "AgreementResult", "BlandAltman", "agreement", "agreement_table", "bland_altman",
    "cohen_kappa", "fleiss_kappa", "lin_ccc", "zero_r", "zero_r_folds",
]

NanPolicy = Literal["raise", "omit"]
_NAN = float("nan")


def _as_float_1d(x: ArrayLike, name: str) -> np.ndarray:
    if isinstance(x, pd.Series | pd.Index):
        x = x.to_numpy(dtype=float, na_value=np.nan)
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric; got {type(x).__name__} ({exc})") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {arr.shape}")
    if np.isinf(arr).any():
        raise ValueError(f"{name} has infinite values at {np.flatnonzero(np.isinf(arr))[:5]}")
    return arr


def _paired(method: ArrayLike, reference: ArrayLike,
            nan_policy: NanPolicy) -> tuple[np.ndarray, np.ndarray]:
    """Validated float versions of the two sides, NaN pairs handled per ``nan_policy``."""
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit'; got {nan_policy!r}")
    m, r = _as_float_1d(method, "method"), _as_float_1d(reference, "reference")
    if m.size != r.size:
        raise ValueError(f"method and reference must have the same length; "
                         f"got {m.size} (method) and {r.size} (reference)")
    bad = np.isnan(m) | np.isnan(r)
    if bad.any() and nan_policy == "raise":
        raise ValueError(f"method/reference contain NaN in {int(bad.sum())} of {bad.size} "
                         f"pairs (first at position {int(np.flatnonzero(bad)[0])}); "
                         "pass --drop-missing (in Python: nan_policy='omit') to drop those pairs")
    m, r = m[~bad], r[~bad]
    if m.size == 0:
        raise ValueError(f"no pairs to compare{' after omitting NaN pairs' * bool(bad.any())}")
    return m, r


def _degenerate(x: np.ndarray, y: np.ndarray) -> bool:
    """Fewer than 3 pairs, or a side without spread (constant, or variance underflows)."""
    return bool(x.size < 3 or np.all(x == x[0]) or np.all(y == y[0])
                or not (np.var(x) > 0.0 and np.var(y) > 0.0))


def _rms(e: np.ndarray) -> float:
    """Root mean square, scaled by max |e| so that tiny errors do not underflow to 0."""
    s = float(np.abs(e).max())
    return 0.0 if s == 0.0 else s * float(np.sqrt(np.mean((e / s) ** 2)))


def _check_conf_level(conf_level: float) -> None:
    if not 0.0 < conf_level < 1.0:
        raise ValueError(f"conf_level must lie in (0, 1); got {conf_level!r}")


def _correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Pearson r, its p, Spearman rho, its p; all NaN for n < 3 or constant input."""
    if _degenerate(x, y):
        return _NAN, _NAN, _NAN, _NAN
    with warnings.catch_warnings():  # the estimate is still valid for tiny spreads
        warnings.simplefilter("ignore", stats.NearConstantInputWarning)
        pr = stats.pearsonr(x, y)
    sr = stats.spearmanr(x, y)
    return float(pr.statistic), float(pr.pvalue), float(sr.statistic), float(sr.pvalue)


def _ccc_with_ci(x: np.ndarray, y: np.ndarray, conf_level: float) -> tuple[float, float, float]:
    if _degenerate(x, y):
        return _NAN, _NAN, _NAN
    mx, my = x.mean(), y.mean()
    vx, vy = np.mean((x - mx) ** 2), np.mean((y - my) ** 2)  # 1/n moments, as in Lin 1989
    sxy = np.mean((x - mx) * (y - my))
    p = float(2.0 * sxy / (vx + vy + (mx - my) ** 2))
    with np.errstate(all="ignore"):  # extreme scales: a non-finite variance means no CI
        r = sxy / (np.sqrt(vx) * np.sqrt(vy))
        u2 = (mx - my) ** 2 / (np.sqrt(vx) * np.sqrt(vy))  # squared shift relative to scale
        var_p = float(((1 - r**2) * p**2 * (1 - p**2) / r**2 + 2 * p**3 * (1 - p) * u2 / r
                       - 0.5 * p**4 * u2**2 / r**2) / (x.size - 2))
    if r == 0.0 or abs(p) >= 1.0 or not 0.0 <= var_p < math.inf:
        return p, _NAN, _NAN
    z, se_z = math.atanh(p), math.sqrt(var_p) / (1 - p**2)
    q = float(stats.norm.ppf(0.5 + conf_level / 2))
    return p, math.tanh(z - q * se_z), math.tanh(z + q * se_z)


def lin_ccc(method: ArrayLike, reference: ArrayLike, *, conf_level: float = 0.95,
            nan_policy: NanPolicy = "raise") -> tuple[float, float, float]:
    """Lin's concordance correlation coefficient with its confidence interval [2]_.

    ``ccc = 2 s_xy / (s_x^2 + s_y^2 + (mean_x - mean_y)^2)`` with 1/n moments: Pearson's
    r times a bias-correction factor in (0, 1], so ``|ccc| <= |r|``, and ``ccc = 1`` only
    for identical values. The interval is the asymptotic one on Fisher's Z scale, with
    Lin's variance (as corrected in 2000). Arguments as for :func:`agreement`.

    Returns
    -------
    (ccc, low, high) : tuple of float
        NaN when n < 3 or either side is constant; the interval is NaN when
        ``|ccc| = 1`` or r = 0.

    Examples
    --------
    >>> round(lin_ccc([1, 2, 3, 4], [1, 2, 3, 4])[0], 6)
    1.0
    >>> round(lin_ccc([3, 4, 5, 6], [1, 2, 3, 4])[0], 4)  # 2 * 1.25 / (2.5 + 4)
    0.3846
    """
    _check_conf_level(conf_level)
    return _ccc_with_ci(*_paired(method, reference, nan_policy), conf_level)


@dataclass(frozen=True, eq=False)
class BlandAltman:
    """A Bland-Altman analysis of ``method - reference`` [1]_.

    Attributes
    ----------
    means, diffs : numpy.ndarray
        Per pair: ``(method + reference) / 2`` and ``method - reference`` (read-only).
    n : int
        Number of pairs.
    bias_mean, bias_median, sd_diff : float
        Mean, median and sample SD (ddof=1; NaN for n < 2) of the differences.
    loa_low, loa_high : float
        95 % limits of agreement, ``bias_mean -/+ 1.96 sd_diff``.
    conf_level, bias_ci, loa_low_ci, loa_high_ci
        t-based intervals (n - 1 degrees of freedom) on the bias and on each limit, with
        standard errors ``sd / sqrt(n)`` and ``sqrt(3 sd^2 / n)`` (Bland & Altman 1986).
    """

    means: np.ndarray
    diffs: np.ndarray
    n: int
    bias_mean: float
    bias_median: float
    sd_diff: float
    loa_low: float
    loa_high: float
    conf_level: float
    bias_ci: tuple[float, float]
    loa_low_ci: tuple[float, float]
    loa_high_ci: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """Every field; arrays and intervals as lists (JSON-ready apart from NaN)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["means"], out["diffs"] = self.means.tolist(), self.diffs.tolist()
        out.update({k: list(out[k]) for k in ("bias_ci", "loa_low_ci", "loa_high_ci")})
        return out

    def to_pandas(self) -> pd.DataFrame:
        """The per-pair table: columns ``mean`` and ``diff``, one row per pair."""
        return pd.DataFrame({"mean": self.means, "diff": self.diffs})


def bland_altman(method: ArrayLike, reference: ArrayLike, *, conf_level: float = 0.95,
                 nan_policy: NanPolicy = "raise") -> BlandAltman:
    """Bland-Altman bias and 95 % limits of agreement of a method against a reference.

    Arguments as for :func:`agreement`; ``conf_level`` sets the intervals on the bias and
    on each limit. Returns a :class:`BlandAltman` (Bland & Altman 1986 [1]_).

    Examples
    --------
    >>> ba = bland_altman([3.0, 4.0, 7.0], [1.0, 2.0, 5.0])
    >>> ba.bias_mean, ba.sd_diff, ba.loa_low, ba.loa_high
    (2.0, 0.0, 2.0, 2.0)
    """
    _check_conf_level(conf_level)
    m, r = _paired(method, reference, nan_policy)
    diffs, means, n = m - r, (m + r) / 2.0, int(m.size)
    bias = float(diffs.mean())
    sd = float(diffs.std(ddof=1)) if n > 1 else _NAN
    low, high = bias - 1.96 * sd, bias + 1.96 * sd
    bias_ci = low_ci = high_ci = (_NAN, _NAN)
    if n > 1:
        t = float(stats.t.ppf(0.5 + conf_level / 2, df=n - 1))
        se_b, se_l = sd / math.sqrt(n), math.sqrt(3.0 * sd**2 / n)
        bias_ci = (bias - t * se_b, bias + t * se_b)
        low_ci, high_ci = (low - t * se_l, low + t * se_l), (high - t * se_l, high + t * se_l)
    means.setflags(write=False)
    diffs.setflags(write=False)
    return BlandAltman(means=means, diffs=diffs, n=n, bias_mean=bias,
                       bias_median=float(np.median(diffs)), sd_diff=sd, loa_low=low,
                       loa_high=high, conf_level=conf_level, bias_ci=bias_ci,
                       loa_low_ci=low_ci, loa_high_ci=high_ci)


def zero_r(reference_train: ArrayLike, n_test: int) -> np.ndarray:
    """ZeroR predictions: the mean of ``reference_train``, ``n_test`` times.

    ZeroR ignores every input and always predicts the mean of the training targets: the
    baseline any sample-level model must beat (Hicks et al. 2019 [5]_). Under
    cross-validation the mean must come from the training fold only (see
    :func:`zero_r_folds`). ``reference_train`` must be 1-D, finite and non-empty.

    Examples
    --------
    >>> zero_r([10.0, 20.0, 60.0], 2)
    array([30., 30.])
    """
    y = _as_float_1d(reference_train, "reference_train")
    if y.size == 0 or np.isnan(y).any():
        raise ValueError(f"reference_train must hold at least one value and no NaN; "
                         f"got {y.size} values, {int(np.isnan(y).sum())} NaN")
    if isinstance(n_test, bool) or not isinstance(n_test, int | np.integer) or n_test < 0:
        raise ValueError(f"n_test must be a non-negative int; got {n_test!r}")
    return np.full(int(n_test), float(y.mean()))


def zero_r_folds(reference: ArrayLike,
                 folds: Iterable[tuple[Sequence[int], Sequence[int]]]) -> pd.DataFrame:
    """ZeroR MAE and RMSE on given cross-validation folds, from training-fold means.

    Parameters
    ----------
    reference : array_like, 1-D
        Reference values of all samples (finite).
    folds : iterable of (train_indices, test_indices)
        Positions into ``reference``, e.g. what a K-fold splitter yields; train and test
        of one fold must be non-empty and disjoint.

    Returns
    -------
    pandas.DataFrame
        One row per fold: ``fold``, ``n_train``, ``n_test``, ``train_mean``, ``mae``,
        ``rmse``. Report the mean of ``mae`` over folds, as Hicks et al. (2019) do.

    Examples
    --------
    >>> zero_r_folds([1.0, 2.0, 3.0, 4.0], [([0, 1], [2, 3]), ([2, 3], [0, 1])])["mae"].tolist()
    [2.0, 2.0]
    """
    y = _as_float_1d(reference, "reference")
    if np.isnan(y).any():
        raise ValueError(f"reference contains {int(np.isnan(y).sum())} NaN values")
    rows = []
    for k, (train, test) in enumerate(folds):
        tr, te = np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)
        for name, idx in (("train", tr), ("test", te)):
            if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= y.size:
                raise ValueError(f"fold {k}: {name} must be a non-empty 1-D array of "
                                 f"positions in [0, {y.size}); got {idx.tolist()[:10]}")
        if shared := np.intersect1d(tr, te).tolist():
            raise ValueError(f"fold {k}: train and test share samples {shared[:10]}")
        err = y[te] - zero_r(y[tr], te.size)
        rows.append({"fold": k, "n_train": tr.size, "n_test": te.size,
                     "train_mean": float(y[tr].mean()), "mae": float(np.abs(err).mean()),
                     "rmse": _rms(err)})
    return pd.DataFrame(rows, columns=["fold", "n_train", "n_test", "train_mean", "mae", "rmse"])


@dataclass(frozen=True)
class AgreementResult:
    """All agreement statistics of one method against one reference.

    ``n`` pairs (after omitting NaN pairs, if asked); ``mae`` and ``rmse`` of
    ``method - reference``; ``pearson_r``, ``pearson_p``, ``spearman_rho``,
    ``spearman_p`` (two-sided); ``ccc`` with its ``conf_level`` interval ``ccc_low`` to
    ``ccc_high`` [2]_; ``bias_mean``, ``bias_median``, ``sd_diff``, ``loa_low``,
    ``loa_high`` as in :class:`BlandAltman` [1]_; ``zero_r_mae`` and ``zero_r_rmse``, the
    errors of the ZeroR baseline [5]_. Correlations are NaN for n < 3 or constant input.
    """

    n: int
    mae: float
    rmse: float
    pearson_r: float
    pearson_p: float
    spearman_rho: float
    spearman_p: float
    ccc: float
    ccc_low: float
    ccc_high: float
    bias_mean: float
    bias_median: float
    sd_diff: float
    loa_low: float
    loa_high: float
    zero_r_mae: float
    zero_r_rmse: float
    conf_level: float

    def to_dict(self) -> dict[str, Any]:
        """Field name to value (NaN stays a float NaN)."""
        return asdict(self)

    def to_pandas(self) -> pd.DataFrame:
        """A one-row DataFrame with one column per field."""
        return pd.DataFrame([self.to_dict()])

    def __str__(self) -> str:
        pct = f"{100 * self.conf_level:g}%"
        return "\n".join([
            f"Agreement of method with reference (n={self.n})",
            f"  MAE {self.mae:.4g}, RMSE {self.rmse:.4g} "
            f"(ZeroR baseline: MAE {self.zero_r_mae:.4g}, RMSE {self.zero_r_rmse:.4g})",
            f"  Pearson r {self.pearson_r:.3f} (p={self.pearson_p:.3g}), "
            f"Spearman rho {self.spearman_rho:.3f} (p={self.spearman_p:.3g})",
            f"  Lin's CCC {self.ccc:.3f} ({pct} CI {self.ccc_low:.3f} to {self.ccc_high:.3f})",
            f"  Bland-Altman bias {self.bias_mean:.4g} (median {self.bias_median:.4g}), "
            f"SD {self.sd_diff:.4g}, 95% LoA {self.loa_low:.4g} to {self.loa_high:.4g}",
        ])


def agreement(method: ArrayLike, reference: ArrayLike, *, nan_policy: NanPolicy = "raise",
              conf_level: float = 0.95, zero_r_value: float | None = None) -> AgreementResult:
    """Every agreement statistic of ``method`` against ``reference`` at once.

    Parameters
    ----------
    method, reference : array_like, 1-D
        Paired values (e.g. progressive motility in % per participant).
    nan_policy : {"raise", "omit"}, default "raise"
        A pair containing NaN is an error, or is dropped (``n`` counts the rest).
    conf_level : float, default 0.95
        Coverage of the CCC interval.
    zero_r_value : float, optional
        The constant the ZeroR baseline predicts. Default: the mean of ``reference``
        (in-sample, slightly optimistic); under cross-validation pass the training-fold
        mean, or use :func:`zero_r_folds`.

    Returns
    -------
    AgreementResult
        Correlations (r, rho, CCC) are NaN, without a warning, when ``n < 3`` or either
        side is constant. ``ValueError`` (stating what was got) for lengths that differ,
        NaN pairs under ``"raise"``, infinite values and no pairs at all.

    Examples
    --------
    >>> res = agreement([12.0, 20.0, 31.0, 38.0], [10.0, 20.0, 30.0, 40.0])
    >>> res.mae, res.bias_mean, round(res.pearson_r, 4)
    (1.25, 0.25, 0.9966)
    """
    _check_conf_level(conf_level)
    m, r = _paired(method, reference, nan_policy)
    pr, pp, sr, sp = _correlations(m, r)
    ccc, lo, hi = _ccc_with_ci(m, r, conf_level)
    ba = bland_altman(m, r)
    base = float(r.mean()) if zero_r_value is None else float(zero_r_value)
    if not math.isfinite(base):
        raise ValueError(f"zero_r_value must be finite; got {zero_r_value!r}")
    return AgreementResult(
        n=int(m.size), mae=float(np.abs(m - r).mean()), rmse=_rms(m - r),
        pearson_r=pr, pearson_p=pp, spearman_rho=sr, spearman_p=sp,
        ccc=ccc, ccc_low=lo, ccc_high=hi, bias_mean=ba.bias_mean,
        bias_median=ba.bias_median, sd_diff=ba.sd_diff, loa_low=ba.loa_low,
        loa_high=ba.loa_high, zero_r_mae=float(np.abs(r - base).mean()),
        zero_r_rmse=_rms(r - base), conf_level=conf_level)


def _check_table(df: pd.DataFrame, name: str, on: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame; got {type(df).__name__}")
    if on not in df.columns:
        raise ValueError(f"{name} has no id column {on!r}; columns: {list(df.columns)}")
    if len(dup := df[on][df[on].duplicated()]):  # an id must name one sample
        raise ValueError(f"{name} has duplicate {on!r} values: {dup.unique().tolist()[:10]}")


def _value_columns(pred: pd.DataFrame, ref: pd.DataFrame, on: str,
                   columns: Sequence[str] | None) -> list[str]:
    if columns is None:
        num = pd.api.types.is_numeric_dtype
        columns = [c for c in pred.columns
                   if c != on and c in ref.columns and num(pred[c]) and num(ref[c])]
        if not columns:
            raise ValueError(f"pred and ref share no numeric column besides {on!r}; "
                             f"pred: {list(pred.columns)}, ref: {list(ref.columns)}")
    for c in columns:
        for name, df in (("pred", pred), ("ref", ref)):
            if c not in df.columns or c == on:
                raise ValueError(f"{c!r} is not a value column of {name}: {list(df.columns)}")
    return list(columns)


def agreement_table(pred: pd.DataFrame, ref: pd.DataFrame, *, on: str = "id",
                    columns: Sequence[str] | None = None, nan_policy: NanPolicy = "raise",
                    unmatched: Literal["raise", "ignore"] = "raise") -> pd.DataFrame:
    """Agreement of predicted with reference values, one row per compared column.

    The backend of ``spermlab evaluate agreement --pred CSV --ref CSV``.

    Parameters
    ----------
    pred, ref : pandas.DataFrame
        One row per sample, joined on ``on`` (unique in each table).
    on : str, default "id"
        The sample id column.
    columns : sequence of str, optional
        Columns to compare (e.g. ``progressive_pct``, ``non_progressive_pct``,
        ``immotile_pct``). Default: every numeric column besides ``on`` in both tables.
    nan_policy : {"raise", "omit"}, default "raise"
        Passed to :func:`agreement`, per column.
    unmatched : {"raise", "ignore"}, default "raise"
        Ids present in only one table are an error, or are left out of the comparison.

    Returns
    -------
    pandas.DataFrame
        Column ``column`` followed by the fields of :class:`AgreementResult`.

    Examples
    --------
    >>> pred = pd.DataFrame({"id": [1, 2, 3], "progressive_pct": [12.0, 30.0, 55.0]})
    >>> ref = pd.DataFrame({"id": [3, 2, 1], "progressive_pct": [50.0, 30.0, 10.0]})
    >>> agreement_table(pred, ref)[["column", "n", "mae", "bias_mean"]]
                column  n       mae  bias_mean
    0  progressive_pct  3  2.333333   2.333333
    """
    _check_table(pred, "pred", on)
    _check_table(ref, "ref", on)
    if unmatched not in ("raise", "ignore"):
        raise ValueError(f"unmatched must be 'raise' or 'ignore'; got {unmatched!r}")
    columns = _value_columns(pred, ref, on, columns)
    only_p = sorted(set(pred[on]) - set(ref[on]), key=str)
    only_r = sorted(set(ref[on]) - set(pred[on]), key=str)
    if unmatched == "raise" and (only_p or only_r):
        raise ValueError(f"ids in only one table (pass --only-shared, in Python "
                         f"unmatched='ignore', to leave them out): pred only {only_p[:10]}, ref only {only_r[:10]}")
    merged = pred[[on, *columns]].merge(ref[[on, *columns]], on=on, how="inner",
                                        suffixes=("__pred", "__ref"))
    if merged.empty:
        raise ValueError(f"pred and ref have no {on!r} value in common")
    rows = []
    for c in columns:
        try:
            res = agreement(merged[f"{c}__pred"], merged[f"{c}__ref"], nan_policy=nan_policy)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"column {c!r}: {exc}") from exc
        rows.append({"column": c, **res.to_dict()})
    return pd.DataFrame(rows, columns=["column", *(f.name for f in fields(AgreementResult))])


def _codes(values: np.ndarray, labels: Sequence[Any] | None, name: str) -> tuple[np.ndarray, int]:
    """Integer category codes of ``values`` against ``labels`` (default: sorted unique)."""
    flat = values.ravel().tolist()
    if missing := [i for i, v in enumerate(flat) if pd.isna(v)]:
        raise ValueError(f"{name} has missing labels at flat positions {missing[:10]}")
    if labels is None:
        try:
            labels = sorted(set(flat))
        except TypeError as exc:
            raise TypeError(f"{name}: labels of mixed types cannot be ordered; "
                            f"pass labels=[...] ({exc})") from exc
    index = {lab: i for i, lab in enumerate(labels)}
    if len(index) != len(labels):
        raise ValueError(f"labels must be unique; got {list(labels)}")
    if unknown := sorted({v for v in flat if v not in index}, key=str):
        raise ValueError(f"{name} has labels not in labels={list(labels)}: {unknown[:10]}")
    return np.array([index[v] for v in flat], dtype=np.int64), len(index)


def cohen_kappa(r1: ArrayLike, r2: ArrayLike, *,
                weights: Literal["linear", "quadratic"] | None = None,
                labels: Sequence[Any] | None = None) -> float:
    """Cohen's kappa between two raters, unweighted or weighted [3]_.

    ``kappa = 1 - sum(w * O) / sum(w * E)``, with ``O`` the observed and ``E`` the
    chance-expected (product of the margins) proportions of the confusion matrix and
    ``w`` the disagreement weights: ``1 - I`` (unweighted, giving
    ``(p_o - p_e) / (1 - p_e)``), ``|i - j| / (k - 1)`` (linear) or
    ``((i - j) / (k - 1))^2`` (quadratic). Symmetric in ``r1`` and ``r2``.

    Parameters
    ----------
    r1, r2 : array_like, 1-D
        The two raters' labels for the same items (any hashable, e.g. ``"a"``...``"d"``).
    weights : {None, "linear", "quadratic"}
        Weighting; weighted kappa needs ordered categories.
    labels : sequence, optional
        The categories in their order. Default: the sorted labels seen (alphabetical
        suits WHO grades a < b < c < d). Labels outside ``labels`` are an error.

    Returns
    -------
    float
        NaN when ``sum(w * E) = 0`` (e.g. both raters always give one same category).

    Examples
    --------
    >>> r1 = ["y"] * 25 + ["n"] * 25
    >>> r2 = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    >>> round(cohen_kappa(r1, r2), 6)
    0.4
    """
    a, b = np.asarray(r1, dtype=object), np.asarray(r2, dtype=object)
    if a.ndim != 1 or b.ndim != 1 or a.size != b.size or a.size == 0:
        raise ValueError(f"r1 and r2 must be non-empty 1-D and of the same length; "
                         f"got shapes {a.shape} and {b.shape}")
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic'; got {weights!r}")
    codes, k = _codes(np.concatenate([a, b]), labels, "r1/r2")
    obs = np.zeros((k, k))
    np.add.at(obs, (codes[: a.size], codes[a.size :]), 1.0 / a.size)
    exp = np.outer(obs.sum(axis=1), obs.sum(axis=0))
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(float)
    else:
        w = (np.abs(i - j) / max(k - 1, 1)) ** (2 if weights == "quadratic" else 1)
    denom = float((w * exp).sum())
    return _NAN if denom <= 0.0 else 1.0 - float((w * obs).sum()) / denom


def fleiss_kappa(ratings: ArrayLike, *, counts: bool = False,
                 labels: Sequence[Any] | None = None) -> float:
    """Fleiss' kappa for a fixed number of raters per subject [4]_.

    ``kappa = (P_bar - P_e) / (1 - P_e)``, with ``P_bar`` the mean over subjects of
    ``P_i = (sum_j n_ij^2 - m) / (m (m - 1))`` and ``P_e = sum_j p_j^2``, ``p_j`` the
    overall share of category j. With two raters it is Scott's pi, not Cohen's kappa.

    Parameters
    ----------
    ratings : array_like, 2-D
        ``counts=False`` (default): shape (n_subjects, n_raters), the label each rater
        gave each subject. ``counts=True``: shape (n_subjects, n_categories), how many
        raters put each subject in each category; every row must sum to the same m >= 2.
    counts : bool, default False
        How to read ``ratings`` (the two shapes cannot be told apart reliably).
    labels : sequence, optional
        With label input: the allowed categories (anything else is an error).

    Returns
    -------
    float
        NaN when ``P_e = 1`` (all ratings in one category).

    Examples
    --------
    >>> round(fleiss_kappa([["a", "a", "b"], ["b", "b", "b"], ["a", "b", "a"]]), 4)
    0.1
    """
    table = np.asarray(ratings, dtype=float if counts else object)
    if table.ndim != 2 or table.size == 0:
        raise ValueError(f"ratings must be a non-empty 2-D table; got shape {table.shape}")
    if counts and not (np.isfinite(table) & (table >= 0) & (table % 1 == 0)).all():
        raise ValueError("counts must be non-negative whole numbers")
    if not counts:
        codes, k = _codes(table, labels, "ratings")
        codes = codes.reshape(table.shape)
        table = np.stack([(codes == c).sum(axis=1) for c in range(k)], axis=1).astype(float)
    m = table.sum(axis=1)
    if not np.all(m == m[0]) or m[0] < 2:
        raise ValueError(f"every subject needs the same number (>= 2) of ratings; "
                         f"got row sums {sorted(set(m.astype(int).tolist()))[:10]}")
    p_i = ((table**2).sum(axis=1) - m[0]) / (m[0] * (m[0] - 1.0))
    p_e = float(((table.sum(axis=0) / table.sum()) ** 2).sum())
    return _NAN if p_e >= 1.0 else (float(p_i.mean()) - p_e) / (1.0 - p_e)
