"""``spermlab evaluate detection|tracking|agreement``: scores against ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from spermlab.cli._app import JsonOption, QuietOption, app, emit_json, setup_logging

evaluate_app = typer.Typer(help="Score detections, tracks or clinical numbers against a reference.",
                           no_args_is_help=True)  # fmt: skip
app.add_typer(evaluate_app, name="evaluate")

PredOpt = typer.Option(..., "--pred", help="Prediction: results folder, VISEM folder, MOT .txt, COCO .json, .csv/.parquet.")
GtOpt = typer.Option(..., "--gt", help="Ground truth, in any of the same layouts.")
OutOpt = typer.Option(None, "--out", "-o", help="Folder for the CSV breakdowns and plots.")


def _table_print(df: pd.DataFrame, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    if len(df.columns) > 8:  # wide tables read better transposed: one metric per line
        body = {"metric": [str(c) for c in df.columns]}
        for i, row in enumerate(df.itertuples(index=False)):
            body[f"row {i}" if len(df) > 1 else "value"] = list(row)
        df = pd.DataFrame(body)
    t = Table(title=title)
    for c in df.columns:
        t.add_column(str(c))
    for row in df.itertuples(index=False):
        t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    Console().print(t)


@evaluate_app.command("detection")
def detection(
    pred: Path = PredOpt, gt: Path = GtOpt, out: Optional[Path] = OutOpt,
    match: str = typer.Option("distance", help="distance (centre, px) or iou."),
    max_distance: float = typer.Option(8.0, help="Match radius in px for --match distance."),
    iou: float = typer.Option(0.5, help="IoU threshold for --match iou."),
    score_threshold: float = typer.Option(0.0, help="Score threshold for P/R/F1."),
    json_out: bool = JsonOption, quiet: bool = QuietOption,
) -> None:
    """Precision, recall, F1, AP50 and AP50-95 per class and overall.

    Example: spermlab evaluate detection --pred r11 --gt ../shared/data/visem_tracking/11
    """
    from spermlab.evaluate import evaluate_detections
    from spermlab.io.load import read_boxes

    setup_logging(quiet)
    if match not in ("distance", "iou"):
        raise typer.BadParameter(f"expected 'distance' or 'iou', got {match!r}", param_hint="--match")
    res = evaluate_detections(read_boxes(pred), read_boxes(gt), match=match, max_distance=max_distance,
                              iou_threshold=iou, score_threshold=score_threshold)  # fmt: skip
    if out is not None:
        from spermlab.evaluate.plots import plot_pr_curve
        from spermlab.io.atomic import write_table

        write_table(res.per_frame, out / "detection_per_frame", formats=("csv",))
        write_table(res.to_pandas(), out / "detection_summary", formats=("csv",))
        c = res.overall_curve
        if len(c.recall) and not pd.isna(c.recall).any():
            plot_pr_curve(c.recall, c.precision, label="all classes").savefig(out / "pr_curve.png", dpi=120)
    if json_out:
        emit_json(res.to_dict())
    else:
        _table_print(res.to_pandas(), f"detection ({match})")


@evaluate_app.command("tracking")
def tracking(
    pred: Path = PredOpt, gt: Path = GtOpt, out: Optional[Path] = OutOpt,
    similarity: str = typer.Option("distance", help="distance (centre) or iou."),
    zero_distance: float = typer.Option(10.0, help="Distance (px) at which similarity reaches 0."),
    json_out: bool = JsonOption, quiet: bool = QuietOption,
) -> None:
    """HOTA (DetA, AssA, LocA), MOTA, MOTP, IDF1, ID switches, MT/PT/ML, Frag.

    Example: spermlab evaluate tracking --pred r11 --gt ../shared/data/visem_tracking/11
    """
    from spermlab.evaluate import evaluate_tracking
    from spermlab.io.load import read_boxes

    setup_logging(quiet)
    if similarity not in ("distance", "iou"):
        raise typer.BadParameter(f"expected 'distance' or 'iou', got {similarity!r}",
                                 param_hint="--similarity")  # fmt: skip
    res = evaluate_tracking(read_boxes(pred, tracks=True), read_boxes(gt, tracks=True),
                            similarity=similarity, zero_distance=zero_distance)  # fmt: skip
    if out is not None:
        from spermlab.io.atomic import write_table

        write_table(res.per_frame, out / "tracking_per_frame", formats=("csv",))
        write_table(res.to_pandas(percent=True), out / "tracking_summary", formats=("csv",))
    if json_out:
        emit_json(res.to_dict(percent=True))
    else:
        d = res.to_dict(percent=True)
        keys = ["HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "IDP", "IDR", "IDSW",
                "MT", "PT", "ML", "Frag"]  # fmt: skip
        _table_print(pd.DataFrame([{k: d[k] for k in keys if k in d}]), f"tracking ({similarity})")


@evaluate_app.command("agreement")
def agreement_cmd(
    pred: Path = typer.Option(..., "--pred", help="CSV of the method's values, one row per sample."),
    ref: Path = typer.Option(..., "--ref", help="CSV of the reference values."),
    on: str = typer.Option("id", help="Column that identifies a sample in both files."),
    columns: Optional[str] = typer.Option(None, help="Comma-separated columns (default: all shared numeric)."),
    out: Optional[Path] = OutOpt, json_out: bool = JsonOption, quiet: bool = QuietOption,
) -> None:
    """MAE, RMSE, Pearson r, Spearman, Lin's CCC, Bland-Altman and ZeroR per column.

    Example: spermlab evaluate agreement --pred mine.csv --ref clinic.csv --on id
    """
    from spermlab.evaluate.agreement import agreement_table, bland_altman

    setup_logging(quiet)
    p, r = pd.read_csv(pred), pd.read_csv(ref)
    cols = columns.split(",") if columns else None
    table = agreement_table(p, r, on=on, columns=cols)
    if out is not None:
        from spermlab.evaluate.plots import plot_bland_altman
        from spermlab.io.atomic import write_table

        write_table(table, out / "agreement", formats=("csv",))
        merged = p.merge(r, on=on, suffixes=("_pred", "_ref"))
        for col in table["column"]:
            ba = bland_altman(merged[f"{col}_pred"], merged[f"{col}_ref"])
            fig = plot_bland_altman(ba, title=col)
            fig.savefig(out / f"bland_altman_{col}.png", dpi=120)
            fig.savefig(out / f"bland_altman_{col}.svg")
    if json_out:
        emit_json(table.to_dict(orient="records"))
    else:
        _table_print(table[["column", "n", "mae", "rmse", "pearson_r", "ccc", "bias_mean", "loa_low",
                            "loa_high", "zero_r_mae"]], "agreement")  # fmt: skip
