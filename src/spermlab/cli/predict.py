"""``spermlab predict``: sample-level prediction, judged as the VISEM papers judge it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from spermlab.cli._app import JsonOption, QuietOption, app, emit_json, setup_logging, table_cell

predict_app = typer.Typer(help="Sample-level prediction with cross-validation beside ZeroR.",
                          no_args_is_help=True)  # fmt: skip
app.add_typer(predict_app, name="predict")


@predict_app.command("features")
def features(
    results: list[Path] = typer.Argument(..., help="Results folders (spermlab analyze --out) or batch folders."),
    out: Path = typer.Option(..., "--out", "-o", help="Feature table (.parquet or .csv), one row per sample."),
    clinical: Path | None = typer.Option(None, "--clinical", help="VISEM clinical folder: join participant, sex-hormone and serum fatty-acid columns by participant id (the number in the sample id)."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Per-sample features from spermlab's results (shares, kinematic percentiles, counts...).

    Example: spermlab predict features study --out features.parquet
    """
    from spermlab.errors import UsageError
    from spermlab.io.atomic import write_table
    from spermlab.predict.features import features_table

    setup_logging(quiet)
    if out.suffix not in (".parquet", ".csv"):
        raise UsageError(f"--out {out}: expected a .parquet or .csv file")
    table = features_table(results)
    if clinical is not None:
        from spermlab.predict.features import join_clinical

        table = join_clinical(table, clinical)
    write_table(table, out.with_suffix(""), formats=(out.suffix[1:],))
    if json_out:
        emit_json({"out": str(out), "samples": len(table), "columns": list(table.columns)})
    elif not quiet:
        typer.echo(f"{len(table)} samples, {table.shape[1] - 1} features → {out}")


@predict_app.command("train")
def train(
    features: Path = typer.Argument(..., help="Feature table (.parquet/.csv) from 'spermlab predict features'."),
    targets: Path = typer.Argument(..., help="Target table (.csv/.parquet) with the id column and the target columns."),
    columns: str = typer.Option(..., "--targets", help="Comma-separated target columns."),
    model: str = typer.Option("rf", "--model", help="zeror, linear, ridge, rf or gb (the one saved)."),
    on: str = typer.Option("sample_id", "--on", help="Column joining features and targets."),
    group: str | None = typer.Option(None, "--group", help="Column of the targets table to group folds by (a participant)."),
    cv: int = typer.Option(10, "--cv", min=2, help="Cross-validation folds."),
    loo: bool = typer.Option(False, "--loo", help="Leave one out (one group out with --group) instead of --cv folds."),
    report: Path | None = typer.Option(None, "--report", help="Write the CV report (HTML: metrics and difference plots)."),
    seeds: int = typer.Option(5, "--seeds", min=1, help="Fold seeds (the spread)."),
    shares: bool = typer.Option(False, "--shares", help="The targets are shares of 100 % (PR, NP, IM): predicted together, summing to 100."),
    out: Path = typer.Option(..., "--out", "-o", help="Model file (.joblib) with its card."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Cross-validate every model beside ZeroR on the same folds, then save the chosen one.

    Example: spermlab predict train features.parquet clinic.csv --targets PR,NP,IM --shares --out m.joblib
    """
    from rich.console import Console
    from rich.table import Table

    from spermlab.errors import UsageError
    from spermlab.io.load import read_sample_table, read_table_file
    from spermlab.predict.train import MODEL_NAMES, cross_validate, save_model

    setup_logging(quiet)
    if model not in MODEL_NAMES:
        raise UsageError(f"--model {model}: expected one of {', '.join(MODEL_NAMES)}")
    f, t = read_table_file(features), read_sample_table(targets)
    cols = [c.strip() for c in columns.split(",") if c.strip()]
    for table, path, need in ((f, features, [on]), (t, targets, [on, *cols] + ([group] if group else []))):
        missing = [c for c in need if c not in table.columns]
        if missing:
            raise UsageError(f"{path} has no column(s) {missing} (columns: {', '.join(map(str, table.columns))})")
    data = f.merge(t[[on, *cols] + ([group] if group and group not in cols else [])], on=on)
    if not loo and len(data) < cv:
        raise UsageError(f"{len(data)} samples join on {on!r}; --cv {cv} needs at least {cv}")
    x = data[[c for c in f.columns if c != on and pd.api.types.is_numeric_dtype(f[c])]]
    y = data[cols].astype(float)
    res = cross_validate(x, y, models=sorted({"zeror", model}), k=0 if loo else cv,
                         seeds=1 if loo else seeds, groups=data[group].to_numpy() if group else None,
                         shares=shares)  # fmt: skip
    save_model(out, x, y, model, res, shares)
    if report is not None:
        from spermlab.predict.train import write_cv_report

        scheme = "leave one out" if loo else f"{cv}-fold CV, {seeds} seeds"
        write_cv_report(res, y, report, title=f"{model} beside ZeroR: {scheme}, {len(data)} samples")
    if json_out:
        emit_json({**res.to_dict(), "out": str(out)})
        return
    tb = Table(title=f"{cv}-fold CV{' grouped by ' + group if group else ''}, {seeds} seeds ({len(data)} samples)")
    for c in ("target", "model", "MAE", "SD", "RMSE", "r", "bias", "95 % LoA"):
        tb.add_column(c)
    for r in res.table.sort_values(["target", "model"]).itertuples(index=False):
        tb.add_row(r.target, r.model, table_cell(round(r.mae, 3)), table_cell(round(r.mae_sd, 3)),
                   table_cell(round(r.rmse, 3)), table_cell(round(r.pearson_r, 3)),
                   table_cell(round(r.bias_mean, 3)), f"{r.loa_low:.2f} to {r.loa_high:.2f}")
    Console().print(tb)
    typer.echo(f"model: {out}")


@predict_app.command("apply")
def apply(
    model: Path = typer.Argument(..., help="A model file from 'spermlab predict train'."),
    features: Path = typer.Argument(..., help="Feature table (.parquet/.csv)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the predictions (.csv/.parquet)."),
    on: str = typer.Option("sample_id", "--on", help="Id column kept beside the predictions."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Predict with a saved model; features it was not trained with are an error.

    Example: spermlab predict apply m.joblib features.parquet --out predicted.csv
    """
    from spermlab.io.atomic import write_table
    from spermlab.io.load import read_table_file
    from spermlab.predict.train import apply_model

    setup_logging(quiet)
    f = read_table_file(features)
    pred = apply_model(model, f)
    if on in f.columns:
        pred.insert(0, on, f[on].to_numpy())
    if out is not None:
        write_table(pred, out.with_suffix(""), formats=(out.suffix[1:] or "csv",))
    if json_out:
        emit_json(pred.to_dict("records"))
    elif out is None and not quiet:
        typer.echo(pred.to_csv(index=False))


@predict_app.command("visem-exp2")
def visem_exp2(
    folder: Path = typer.Argument(..., help="The VISEM clinical folder (semen_analysis_data.csv, sex_hormones.csv, participant_related_data.csv)."),
    seeds: int = typer.Option(20, "--seeds", min=1, help="Fold seeds to repeat the experiment over (the spread)."),
    folds: int = typer.Option(3, "--folds", min=2, help="Cross-validation folds (the paper: 3)."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Experiment 2 of the VISEM paper: motility and morphology from hormones and participant data.

    Example: spermlab predict visem-exp2 ../shared/data/visem --seeds 20
    """
    from rich.console import Console
    from rich.table import Table

    from spermlab.predict import run_visem_exp2

    setup_logging(quiet)
    res = run_visem_exp2(folder, seeds=seeds, folds=folds)
    if json_out:
        emit_json(res.to_dict())
        return
    t = Table(title=f"summed MAE over each group's attributes, {folds}-fold CV, {seeds} seeds")
    for c in ("group", "model", "mean", "SD", "min", "max"):
        t.add_column(c)
    for r in res.table.itertuples(index=False):
        t.add_row(r.group, r.model, *[table_cell(round(float(v), 3)) for v in (r.mean, r.std, r.min, r.max)])
    Console().print(t)

