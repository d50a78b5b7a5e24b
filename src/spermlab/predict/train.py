"""Cross-validated sample-level models: train, judge beside ZeroR, save with their card, apply.

Models: ``zeror`` (the training mean), ``linear``, ``ridge``, ``rf`` (random forest), ``gb``
(gradient boosting), from scikit-learn, each behind a training-fold median imputer. Targets
that are shares of one whole (``--shares``: e.g. PR, NP, IM) are predicted together and then
clipped at 0 and rescaled to sum to 100. Cross-validation is k-fold **grouped** by the
``group`` column when there is one (a participant's samples never on both sides), repeated over
seeds with the same folds for every model. Per target: MAE, RMSE, Pearson r with its p value,
Bland-Altman bias (mean and median) and 95 % limits of agreement
(:mod:`spermlab.evaluate.agreement`).

A saved model (joblib) carries its feature list, target list, spermlab and scikit-learn versions
and its cross-validation figures; applying it to a table without those features is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MODEL_NAMES", "CVResult", "apply_model", "cross_validate", "make_model", "save_model",
           "score_rows", "summarise", "write_cv_report"]

MODEL_NAMES = ("zeror", "linear", "ridge", "rf", "gb")


def make_model(name: str, seed: int = 0):
    """An unfitted scikit-learn regressor (multi-output) behind a median imputer."""
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.pipeline import make_pipeline

    if name not in MODEL_NAMES:
        from spermlab.errors import UsageError

        raise UsageError(f"--model {name}: expected one of {', '.join(MODEL_NAMES)}")
    est = {"zeror": DummyRegressor(strategy="mean"), "linear": LinearRegression(), "ridge": Ridge(),
           "rf": RandomForestRegressor(random_state=seed),
           "gb": MultiOutputRegressor(GradientBoostingRegressor(random_state=seed))}[name]  # fmt: skip
    return make_pipeline(SimpleImputer(strategy="median"), est)


def _as_shares(pred: np.ndarray) -> np.ndarray:
    p = np.clip(pred, 0.0, None)
    total = p.sum(axis=1, keepdims=True)
    return np.where(total > 0, 100.0 * p / np.where(total > 0, total, 1.0), 100.0 / p.shape[1])


def folds(n: int, groups: np.ndarray | None, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds (shuffled with ``seed``), grouped so that no group is on both sides; ``k = 0``:
    leave one out (one group out when there are groups)."""
    from sklearn.model_selection import GroupKFold, KFold, LeaveOneGroupOut, LeaveOneOut

    idx = np.arange(n)
    if k == 0:
        if groups is None:
            return list(LeaveOneOut().split(idx))
        return list(LeaveOneGroupOut().split(idx, groups=groups))
    if groups is None:
        return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(idx))
    uniq = np.random.default_rng(seed).permutation(np.unique(groups))  # shuffled, then grouped
    order = {g: i for i, g in enumerate(uniq)}
    return list(GroupKFold(n_splits=k).split(idx, groups=[order[g] for g in groups]))


@dataclass
class CVResult:
    """Per model and target: the metrics over seeds (mean and SD), and the pooled predictions."""

    table: pd.DataFrame
    predictions: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table.to_dict("records")}


def cross_validate(x: pd.DataFrame, y: pd.DataFrame, *, models: list[str], k: int = 10, seeds: int = 5,
                   groups: np.ndarray | None = None, shares: bool = False) -> CVResult:  # fmt: skip
    """Cross-validate each model on the same folds; metrics per target (see the module docstring)."""
    rows, preds = [], []
    for seed in range(seeds):
        split = folds(len(x), groups, k, seed)
        for name in models:
            pred = np.zeros(y.shape)
            for train, test in split:
                m = make_model(name, seed).fit(x.iloc[train], y.iloc[train].to_numpy())
                out = np.asarray(m.predict(x.iloc[test])).reshape(len(test), -1)
                pred[test] = _as_shares(out) if shares else out
            rows += score_rows(pred, y, model=name, seed=seed)
            preds.append(pd.DataFrame(pred, columns=y.columns).assign(seed=seed, model=name,
                                                                     row=np.arange(len(x))))  # fmt: skip
    return summarise(rows, preds)


def score_rows(pred: np.ndarray, y: pd.DataFrame, *, model: str, seed: int) -> list[dict[str, Any]]:
    """One metrics row per target of ``y`` for the predictions ``pred`` (same shape): MAE, RMSE,
    Pearson r with its p value, Bland-Altman bias (mean, median) and 95 % limits of agreement."""
    from scipy.stats import pearsonr

    from spermlab.evaluate.agreement import bland_altman

    rows = []
    for j, t in enumerate(y.columns):
        truth, p = y[t].to_numpy(float), pred[:, j]
        diff = p - truth
        ba = bland_altman(p, truth)
        r, pv = pearsonr(p, truth) if np.std(p) > 0 and np.std(truth) > 0 else (np.nan, np.nan)
        rows.append({"seed": seed, "model": model, "target": t, "mae": float(np.mean(np.abs(diff))),
                     "rmse": float(np.sqrt(np.mean(diff**2))), "pearson_r": float(r),
                     "pearson_p": float(pv), "bias_mean": float(ba.bias_mean),
                     "bias_median": float(ba.bias_median), "loa_low": float(ba.loa_low),
                     "loa_high": float(ba.loa_high)})  # fmt: skip
    return rows


def summarise(rows: list[dict[str, Any]], preds: list[pd.DataFrame]) -> CVResult:
    """The :class:`CVResult` of per-seed metric rows (:func:`score_rows`) and predictions."""
    per = pd.DataFrame(rows)
    metrics = ["mae", "rmse", "pearson_r", "pearson_p", "bias_mean", "bias_median", "loa_low", "loa_high"]
    table = per.groupby(["model", "target"])[metrics].mean().join(
        per.groupby(["model", "target"])["mae"].std().rename("mae_sd")).reset_index()
    return CVResult(table, pd.concat(preds, ignore_index=True))


def write_cv_report(cv: CVResult, y: pd.DataFrame, path: str | Path, *, title: str) -> Path:
    """The CV report as HTML: the metrics table and a Bland-Altman difference plot per target and
    model (pooled predictions of the first seed), self-contained."""
    import jinja2

    from spermlab.evaluate.agreement import bland_altman
    from spermlab.evaluate.plots import plot_bland_altman
    from spermlab.io.atomic import write_text
    from spermlab.report.plots import figure_to_data_uri

    figs = []
    first = cv.predictions[cv.predictions["seed"] == cv.predictions["seed"].min()]
    for model, g in first.groupby("model"):
        g = g.sort_values("row")
        for t in y.columns:
            ba = bland_altman(g[t].to_numpy(), y[t].to_numpy())
            fig = plot_bland_altman(ba, title=f"{t}: {model}", units="points", names=(model, "truth"))
            figs.append({"uri": figure_to_data_uri(fig), "alt": f"{t}, {model} against the reference"})
    page = jinja2.Environment(autoescape=True).from_string(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>{{ title }}</title><style>"
        "body{font:14px system-ui,sans-serif;max-width:1200px;margin:auto;padding:12px}"
        "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}"
        ".g{display:grid;grid-template-columns:1fr 1fr 1fr;gap:8px}img{max-width:100%}</style></head><body>"
        "<h1>{{ title }}</h1><table><tr>{% for c in cols %}<th>{{ c }}</th>{% endfor %}</tr>"
        "{% for r in rows %}<tr>{% for c in cols %}<td>{{ r[c] }}</td>{% endfor %}</tr>{% endfor %}</table>"
        "<div class='g'>{% for f in figs %}<figure><img src='{{ f.uri }}' alt='{{ f.alt }}'>"
        "<figcaption>{{ f.alt }}</figcaption></figure>{% endfor %}</div></body></html>")
    table = cv.table.round(3)
    html = page.render(title=title, cols=list(table.columns), rows=table.to_dict("records"), figs=figs)
    return write_text(path, html)


def save_model(path: str | Path, x: pd.DataFrame, y: pd.DataFrame, name: str, cv: CVResult,
               shares: bool) -> Path:  # fmt: skip
    """Fit on all rows and save the model with its card (features, targets, versions, CV)."""
    import joblib
    import sklearn

    from spermlab import __version__
    from spermlab.io.atomic import atomic_path

    model = make_model(name).fit(x, y.to_numpy())
    card = {"model": name, "features": list(x.columns), "targets": list(y.columns), "shares": shares,
            "spermlab": __version__, "scikit-learn": sklearn.__version__,
            "cv": cv.table[cv.table["model"] == name].to_dict("records")}  # fmt: skip
    return atomic_path(path, lambda p: joblib.dump({"card": card, "model": model}, p))


def apply_model(path: str | Path, x: pd.DataFrame) -> pd.DataFrame:
    """Predict with a saved model; its features must all be in ``x`` (extra columns ignored)."""
    import joblib

    from spermlab.errors import FormatError

    saved = joblib.load(path)
    card = saved["card"]
    missing = [c for c in card["features"] if c not in x.columns]
    if missing:
        raise FormatError(path, f"the model was trained on features this table lacks: {missing[:8]}"
                                f"{' ...' if len(missing) > 8 else ''}; compute them with "
                                "'spermlab predict features'")  # fmt: skip
    pred = np.asarray(saved["model"].predict(x[card["features"]])).reshape(len(x), -1)
    if card["shares"]:
        pred = _as_shares(pred)
    return pd.DataFrame(pred, columns=card["targets"], index=x.index)
