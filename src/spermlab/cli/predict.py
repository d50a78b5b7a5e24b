"""``spermlab predict``: sample-level prediction, judged as the VISEM papers judge it."""

from __future__ import annotations

from pathlib import Path

import typer

from spermlab.cli._app import JsonOption, QuietOption, app, emit_json, setup_logging, table_cell

predict_app = typer.Typer(help="Sample-level prediction with cross-validation beside ZeroR.",
                          no_args_is_help=True)  # fmt: skip
app.add_typer(predict_app, name="predict")


@predict_app.command("features")
def features(
    results: list[Path] = typer.Argument(..., help="Results folders (spermlab analyze --out) or batch folders."),
    out: Path = typer.Option(..., "--out", "-o", help="Feature table (.parquet or .csv), one row per sample."),
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
    write_table(table, out.with_suffix(""), formats=(out.suffix[1:],))
    if json_out:
        emit_json({"out": str(out), "samples": len(table), "columns": list(table.columns)})
    elif not quiet:
        typer.echo(f"{len(table)} samples, {table.shape[1] - 1} features → {out}")


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
