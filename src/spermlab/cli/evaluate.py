"""``spermlab evaluate detection|tracking|agreement``: scores against ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from spermlab.cli._app import JsonOption, QuietOption, app, emit_json, setup_logging, table_cell

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
        label = "name" if "name" in df.columns else ("column" if "column" in df.columns else None)
        names = [str(v) for v in df[label]] if label and len(df) > 1 else ["value"] * len(df)
        metrics = [c for c in df.columns if c != label or len(df) == 1]
        body = {"metric": [str(c) for c in metrics]}
        for name, (_, row) in zip(names, df[metrics].iterrows(), strict=True):
            body[name] = list(row)
        df = pd.DataFrame(body)
    t = Table(title=title)
    for c in df.columns:
        t.add_column(str(c))
    for row in df.itertuples(index=False):
        t.add_row(*[table_cell(v) for v in row])
    Console().print(t)


def _same_frames(pred: pd.DataFrame, gt: pd.DataFrame, pred_path: Path, gt_path: Path) -> pd.DataFrame:
    """The ground truth over the prediction's frame span; an error when they do not overlap."""
    lo, hi = int(pred["frame"].min()), int(pred["frame"].max())
    inside = gt[(gt["frame"] >= lo) & (gt["frame"] <= hi)].reset_index(drop=True)
    if inside.empty:
        from spermlab.errors import FormatError

        raise FormatError(pred_path, f"covers frames {lo}-{hi}, but {gt_path} has boxes in frames "
                          f"{int(gt['frame'].min())}-{int(gt['frame'].max())} only: no frame to "
                          "compare (are both numbered the same way?)")  # fmt: skip
    if len(inside) < len(gt):
        import logging

        logging.getLogger("spermlab.cli").info("scored on frames %d-%d, the prediction's span", lo, hi)
    return inside


def _nonempty(table: pd.DataFrame, path: Path, flag: str) -> pd.DataFrame:
    """Refuse to score an empty side: nothing to compare is an error, not a 0 or a NaN."""
    if table.empty:
        from spermlab.errors import FormatError

        raise FormatError(path, f"holds no boxes ({flag}); there is nothing to score. Is it the "
                          "right folder, and did the analysis that wrote it finish?")  # fmt: skip
    return table


def _hint_if_few(n_pred: int, n_gt: int) -> None:
    import logging

    if n_pred < 0.1 * n_gt:
        logging.getLogger("spermlab.cli").warning(
            "the prediction has %d boxes against %d in the ground truth (under 10 %%): the "
            "detector misses almost everything; check its polarity and scale (bright heads or "
            "dark, --um-per-px) or try another detector", n_pred, n_gt)


def _read_csv(path: Path, flag: str) -> pd.DataFrame:
    if path.is_dir() and (path / "semen_analysis_data.csv").is_file():
        path = path / "semen_analysis_data.csv"  # the VISEM clinical folder
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder; expected a CSV file with one row per "
                                 "sample (or the VISEM clinical folder)", param_hint=flag)  # fmt: skip
    if not path.is_file():
        raise typer.BadParameter(f"{path}: no such file", param_hint=flag)
    from spermlab.io.load import read_sample_table

    return read_sample_table(path).rename(columns={"participant_id": "id"})  # clinical: id


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
    p_boxes, g_boxes = _nonempty(read_boxes(pred), pred, "--pred"), _nonempty(read_boxes(gt), gt, "--gt")
    g_boxes = _same_frames(p_boxes, g_boxes, pred, gt)
    res = evaluate_detections(p_boxes, g_boxes, match=match, max_distance=max_distance,
                              iou_threshold=iou, score_threshold=score_threshold)  # fmt: skip
    _hint_if_few(len(p_boxes), len(g_boxes))
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
    p_tr = _nonempty(read_boxes(pred, tracks=True), pred, "--pred")
    g_tr = _same_frames(p_tr, _nonempty(read_boxes(gt, tracks=True), gt, "--gt"), pred, gt)
    res = evaluate_tracking(p_tr, g_tr, similarity=similarity, zero_distance=zero_distance)
    _hint_if_few(len(p_tr), len(g_tr))
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
    only_shared: bool = typer.Option(False, "--only-shared", help="Compare the samples in both files; leave out the others."),
    drop_missing: bool = typer.Option(False, "--drop-missing", help="Drop pairs with a missing value instead of failing."),
    out: Optional[Path] = OutOpt, json_out: bool = JsonOption, quiet: bool = QuietOption,
) -> None:
    """MAE, RMSE, Pearson r, Spearman, Lin's CCC, Bland-Altman and ZeroR per column.

    Example: spermlab evaluate agreement --pred mine.csv --ref clinic.csv --on id
    """
    from spermlab.evaluate.agreement import agreement_table, bland_altman

    setup_logging(quiet)
    p, r = _read_csv(pred, "--pred"), _read_csv(ref, "--ref")
    for df, path, flag in ((p, pred, "--pred"), (r, ref, "--ref")):
        if on not in df.columns:
            raise typer.BadParameter(f"{path} has no column {on!r} to join on (columns: "
                                     f"{', '.join(map(str, df.columns))}); name it with --on",
                                     param_hint=flag)  # fmt: skip
    cols = columns.split(",") if columns else None
    table = agreement_table(p, r, on=on, columns=cols, nan_policy="omit" if drop_missing else "raise",
                            unmatched="ignore" if only_shared else "raise")  # fmt: skip
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
