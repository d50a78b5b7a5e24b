"""The VISEM dataset paper's experiment 2: motility and morphology from the clinical tables.

Haugen et al. (VISEM, MMSys 2019) predict each motility attribute (progressive,
non-progressive, immotile) and each morphology attribute (normal spermatozoa, head, midpiece
and neck, and tail defects, cytoplasmic droplet, teratozoospermia index) from the
sex-hormone and participant tables, one regression model per attribute, with three-fold
cross-validation, and report the mean absolute error summed over each group's attributes, for
ZeroR (the training mean), linear regression and a random forest. This module runs that
protocol as written; nothing is tuned.

Choices the protocol leaves open, made here and recorded in the result: features are the 8
sex-hormone columns and the 3 participant columns (abstinence, BMI, age); a missing feature
value (one participant's) is filled with the training fold's median; the random forest is
scikit-learn's default (100 trees) with the fold seed; folds are shuffled with the seed, and
the experiment is repeated over ``seeds`` seeds to report the spread (mean and SD of the
summed MAE over seeds). Every model sees the same folds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["GROUPS", "MODELS", "Exp2Result", "run_visem_exp2", "load_exp2_data", "cv_mae"]

#: The attributes of each group, as the VISEM semen-analysis table names them.
GROUPS: dict[str, list[str]] = {
    "motility": ["Progressive motility (%)", "Non progressive sperm motility (%)", "Immotile sperm (%)"],
    "morphology": ["Normal spermatozoa (%)", "Head defects (%)", "Midpiece and neck defects (%)",
                   "Tail defects (%)", "Cytoplasmic droplet (%)", "Teratozoospermia index"],
}  # fmt: skip

MODELS = ("zeror", "linear", "random_forest")


def _require_sklearn():
    from spermlab._optional import require

    require("sklearn", "ml", "spermlab predict")


def load_exp2_data(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features (sex hormones + participant data) and targets (semen analysis), by participant."""
    from spermlab.io.visem import read_clinical

    folder = Path(folder)
    hormones = read_clinical(folder, table="sex_hormones")
    participant = read_clinical(folder, table="participant")
    semen = read_clinical(folder, table="semen_analysis")
    x = hormones.merge(participant, on="participant_id").set_index("participant_id").sort_index()
    y = semen.set_index("participant_id").loc[x.index, [c for g in GROUPS.values() for c in g]]
    return x, y


def _model(name: str, seed: int):
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    est = {"zeror": DummyRegressor(strategy="mean"), "linear": LinearRegression(),
           "random_forest": RandomForestRegressor(random_state=seed)}[name]  # fmt: skip
    return make_pipeline(SimpleImputer(strategy="median"), est)


def cv_mae(x: pd.DataFrame, y: pd.Series, model: str, *, folds: int, seed: int) -> float:
    """Mean over ``folds`` shuffled K folds of the MAE of one model on one attribute."""
    from sklearn.model_selection import KFold

    maes = []
    for train, test in KFold(n_splits=folds, shuffle=True, random_state=seed).split(x):
        m = _model(model, seed).fit(x.iloc[train], y.iloc[train])
        maes.append(float(np.mean(np.abs(m.predict(x.iloc[test]) - y.iloc[test].to_numpy()))))
    return float(np.mean(maes))


@dataclass
class Exp2Result:
    """Summed MAE per group and model over seeds, and per attribute."""

    table: pd.DataFrame  # one row per (group, model): mean and SD over seeds of the summed MAE
    per_attribute: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table.to_dict("records"),
                "per_attribute": self.per_attribute.to_dict("records"), "settings": self.settings}  # fmt: skip


def run_visem_exp2(folder: str | Path, *, seeds: int = 20, folds: int = 3) -> Exp2Result:
    """Run experiment 2 of the VISEM paper over ``seeds`` fold seeds (see the module docstring)."""
    _require_sklearn()
    x, y = load_exp2_data(folder)
    rows = []
    for seed in range(seeds):
        for group, attrs in GROUPS.items():
            for model in MODELS:
                for a in attrs:
                    rows.append({"seed": seed, "group": group, "model": model, "attribute": a,
                                 "mae": cv_mae(x, y[a], model, folds=folds, seed=seed)})  # fmt: skip
    per = pd.DataFrame(rows)
    summed = per.groupby(["seed", "group", "model"])["mae"].sum().reset_index()
    table = summed.groupby(["group", "model"])["mae"].agg(["mean", "std", "min", "max"]).reset_index()
    table["model"] = pd.Categorical(table["model"], MODELS)
    table = table.sort_values(["group", "model"]).reset_index(drop=True)
    table["model"] = table["model"].astype(str)
    per_attr = per.groupby(["group", "attribute", "model"])["mae"].agg(["mean", "std"]).reset_index()
    settings = {"folds": folds, "seeds": seeds, "participants": len(x), "features": list(x.columns),
                "missing_feature_values": int(x.isna().sum().sum()), "imputation": "training-fold median",
                "random_forest": "scikit-learn defaults (100 trees), random_state = fold seed"}  # fmt: skip
    return Exp2Result(table, per_attr, settings)
