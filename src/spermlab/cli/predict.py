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



@predict_app.command("video-features")
def video_features(
    videos: list[Path] = typer.Argument(..., help="Video files or frame folders (a VISEM-Tracking folder works)."),
    out: Path = typer.Option(..., "--out", "-o", help="Features folder: one subfolder of images per video, index.csv."),
    kinds: str = typer.Option("lk,frame", "--kinds", help="Comma-separated: lk (Lucas-Kanade tracks, the paper's), dense (Farneback), frame."),
    fps: float | None = typer.Option(None, "--fps", help="Frames per second for frame folders (or to override a file's)."),
    max_seconds: int | None = typer.Option(None, "--max-seconds", min=1, help="Only the first seconds of each video."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """One optical-flow image per second of video (and sampled frames), cached, streamed.

    Example: spermlab predict video-features videos/*.mp4 --out flow
    """
    import logging

    from spermlab.cli._app import progress_iter
    from spermlab.predict.video_features import extract_video_features, write_index

    setup_logging(quiet)
    log = logging.getLogger("spermlab")
    kind_list = [k.strip() for k in kinds.split(",") if k.strip()]
    metas, failed = [], []
    for v in progress_iter(videos, total=len(videos), label="videos", quiet=quiet):
        sid = v.name if v.is_dir() else v.stem
        try:
            metas.append(extract_video_features(v, out, kinds=kind_list, fps=fps, max_seconds=max_seconds,
                                                sample_id=sid))  # fmt: skip
        except (OSError, ValueError) as exc:  # one bad video is reported, the others go on
            from spermlab.errors import UsageError

            if isinstance(exc, UsageError):
                raise
            failed.append({"video": str(v), "error": str(exc)})
            log.error("%s: %s", v, exc)
    if metas:
        write_index(out)
    if json_out:
        emit_json({"out": str(out), "videos": metas, "failed": failed})
    elif not quiet:
        cached = sum(m["cached"] for m in metas)
        typer.echo(f"{len(metas)} videos ({cached} cached), {sum(m['seconds'] for m in metas)} seconds → {out}"
                   + (f"; {len(failed)} failed" if failed else ""))  # fmt: skip
    if failed:
        raise typer.Exit(1)


@predict_app.command("video-cv")
def video_cv(
    folder: Path = typer.Argument(..., help="A folder of videos (their images are made first, cached in FOLDER/.spermlab_video_features), or a features folder from 'spermlab predict video-features'."),
    targets: Path = typer.Option(..., "--targets", help="Targets table: the VISEM semen_analysis_data.csv as is, or a CSV/Parquet with PR,NP,IM or a,b,c,d columns; an id matches a video's stem."),
    arch: str = typer.Option("resnet50", "--arch", help="resnet50 (the paper's), resnet18, inception_v3, tiny."),
    input_kind: str = typer.Option("lk", "--input", help="flow (= lk), lk, dense, or frame (VISEM experiment 1)."),
    n_folds: int = typer.Option(10, "--folds", min=0, help="Folds over samples (0: leave one out)."),
    categories: int = typer.Option(3, "--categories", help="3 (PR, NP, IM) or 4 (a, b, c, d)."),
    id_column: str | None = typer.Option(None, "--id", help="Id column of the targets table (default: sample_id, participant_id or ID)."),
    group: str | None = typer.Option(None, "--group", help="Column of the targets table to group folds by (a participant)."),
    epochs: int = typer.Option(200, "--epochs", min=1, help="Most epochs per fold."),
    patience: int = typer.Option(15, "--patience", min=1, help="Early stopping: epochs without improvement."),
    size: int = typer.Option(224, "--size", min=16, help="Input size in pixels (images are resized)."),
    images: int | None = typer.Option(None, "--images", min=1, help="Use this many images per sample (default: all)."),
    batch_size: int = typer.Option(32, "--batch-size", min=2),
    seeds: int = typer.Option(1, "--seeds", min=1, help="Repeats with other fold shuffles."),
    weights: Path | None = typer.Option(None, "--weights", help="A local torchvision state dict to start from (nothing is downloaded)."),
    fps: float | None = typer.Option(None, "--fps", help="Frames per second for frame folders, when FOLDER holds videos."),
    save: Path | None = typer.Option(None, "--save", help="Also train on every sample and save the network with its card (.pt)."),
    report: Path | None = typer.Option(None, "--report", help="Write the CV report (HTML: metrics and difference plots)."),
    predictions: Path | None = typer.Option(None, "--predictions", help="Write the cross-validated predictions (.csv)."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Haugen et al.'s protocol: a CNN on per-second images, k-fold CV over samples beside ZeroR.

    Example: spermlab predict video-cv flow --targets semen_analysis_data.csv --arch resnet50 --input flow --folds 10
    """
    import logging

    from rich.console import Console
    from rich.table import Table

    from spermlab.errors import UsageError
    from spermlab.io.load import read_sample_table
    from spermlab._optional import require
    from spermlab.predict.video_cv import (ARCHS, TrainParams, cross_validate_video, id_column_of,
                                           match_targets, threads, video_set)  # fmt: skip
    from spermlab.predict.video_features import KINDS, read_index

    setup_logging(quiet)
    log = logging.getLogger("spermlab")
    kind = "lk" if input_kind == "flow" else input_kind
    if kind not in KINDS:
        raise UsageError(f"--input {input_kind}: expected flow, lk, dense or frame")
    if arch not in ARCHS:
        raise UsageError(f"--arch {arch}: expected one of {', '.join(ARCHS)}")
    if weights is not None and not weights.is_file():
        raise UsageError(f"--weights {weights}: no such file")
    torch = require("torch", "deep", "the video models")
    torch.set_num_threads(threads())
    index = read_index(_features_of(folder, kind, fps, quiet))
    table = read_sample_table(targets)
    y = match_targets(sorted(index["sample_id"].unique()), table, categories, id_column)
    groups = None
    if group is not None:
        if group not in table.columns:
            raise UsageError(f"{targets} has no column {group!r}")
        idc = id_column_of(table, id_column)
        gmap = dict(zip(table[idc].astype(str), table[group], strict=False))
        groups = {s: gmap.get(str(s), s) for s in y.index}
    params = TrainParams(arch=arch, size=size, epochs=epochs, patience=patience, batch_size=batch_size,
                         weights=str(weights) if weights else None)  # fmt: skip
    log.info("%d samples, %s images, %s on %s", len(y), kind, arch,
             "cuda" if torch.cuda.is_available() else f"cpu ({threads()} threads)")
    data = video_set(index, y, kind=kind, size=size, images_per_sample=images)
    res = cross_validate_video(data, params=params, k=n_folds, seeds=seeds, groups=groups,
                               progress=None if quiet else log.info)  # fmt: skip
    if predictions is not None:
        from spermlab.io.atomic import write_text

        write_text(predictions, res.predictions.to_csv(index=False))
    if report is not None:
        from spermlab.predict.train import write_cv_report

        write_cv_report(res, y.reset_index(drop=True), report,
                        title=f"{arch} on {kind} images beside ZeroR: {n_folds}-fold CV, {len(y)} samples")  # fmt: skip
    saved = None
    if save is not None:
        from spermlab.predict.video_cv import fit_video_model, save_video_model

        net = fit_video_model(data.images, data.per_image(), data.sample_of, params, None if quiet else log.info)
        saved = str(save_video_model(net, save, params=params, kind=kind, categories=list(y.columns), cv=res))
    if json_out:
        emit_json({**res.to_dict(), "samples": len(y), "arch": arch, "input": kind, "folds": n_folds,
                   "saved": saved})  # fmt: skip
        return
    tb = Table(title=f"{arch} on {kind} images, {n_folds}-fold CV over {len(y)} samples, {seeds} seed(s) (points)")
    for c in ("target", "model", "MAE", "RMSE", "r", "median bias", "95 % LoA"):
        tb.add_column(c)
    for r in res.table.sort_values(["target", "model"]).itertuples(index=False):
        tb.add_row(r.target, r.model, table_cell(round(r.mae, 2)), table_cell(round(r.rmse, 2)),
                   table_cell(round(r.pearson_r, 3)), table_cell(round(r.bias_median, 2)),
                   f"{r.loa_low:.1f} to {r.loa_high:.1f}")
    Console().print(tb)
    if saved:
        typer.echo(f"model: {saved}")


def _features_of(folder: Path, kind: str, fps: float | None, quiet: bool) -> Path:
    """``folder`` itself when it holds video features; else the cached images of its videos."""
    from spermlab.batch.inputs import collect_samples
    from spermlab.cli._app import progress_iter
    from spermlab.errors import UsageError
    from spermlab.predict.video_features import extract_video_features, write_index

    if any(folder.glob("*/meta.json")):
        return folder
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder of videos or of video features")
    samples = collect_samples([str(folder)])
    if not samples:
        raise UsageError(f"{folder}: holds no videos and no video features")
    out = folder / ".spermlab_video_features"
    for s in progress_iter(samples, total=len(samples), label="flow images", quiet=quiet):
        extract_video_features(s.path, out, kinds=(kind,), fps=fps, sample_id=s.sample_id)
    write_index(out)
    return out


@predict_app.command("video-apply")
def video_apply(
    model: Path = typer.Argument(..., help="A network saved by 'spermlab predict video-cv --save'."),
    folder: Path = typer.Argument(..., help="Features folder of the videos to predict (same input kind)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the predictions (.csv)."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Predict each video's shares with a saved network (the mean over its per-second images).

    Example: spermlab predict video-apply flow_resnet.pt flow_new
    """
    from spermlab.errors import UsageError
    from spermlab.predict.video_cv import load_images, load_video_model, predict_video_model
    from spermlab.predict.video_features import read_index

    setup_logging(quiet)
    net, card = load_video_model(model)
    index = read_index(folder)
    sel = index[index["kind"] == card["kind"]]
    if sel.empty:
        raise UsageError(f"{folder} has no {card['kind']!r} images (the model reads those); "
                         f"make them with 'spermlab predict video-features --kinds {card['kind']}'")  # fmt: skip
    pred = predict_video_model(net, load_images(sel["path"].tolist(), card["size"]), sel["sample_id"].to_numpy())
    pred.columns = card["categories"]
    pred = pred.rename_axis("sample_id").reset_index()
    if out is not None:
        from spermlab.io.atomic import write_text

        write_text(out, pred.to_csv(index=False))
    if json_out:
        emit_json(pred.to_dict("records"))
    elif out is None and not quiet:
        typer.echo(pred.round(2).to_csv(index=False))
