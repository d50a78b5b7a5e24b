"""``spermlab batch`` and ``spermlab query``: many samples, one resumable run, one results store."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from spermlab.cli._app import (
    DETECTOR_HELP,
    JsonOption,
    QuietOption,
    app,
    emit_json,
    setup_logging,
    stderr,
    table_cell,
)


@app.command()
def batch(
    inputs: list[str] = typer.Argument(..., help="Videos, frame or VISEM folders, folders of them, glob patterns, or a CSV manifest (path, sample_id, um_per_px, fps, depth_um, detector)."),
    out: Path = typer.Option(..., "--out", "-o", help="Batch folder: samples/<id>/, ledger.json, spermlab.duckdb, summary.csv."),
    um_per_px: Optional[float] = typer.Option(None, "--um-per-px", help="Image scale, µm per pixel (every sample; a manifest overrides)."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frame rate (default: each file's)."),
    depth_um: Optional[float] = typer.Option(None, "--depth-um", help="Chamber depth, µm."),
    preset_name: Optional[str] = typer.Option(None, "--preset", help="Named calibration preset: visem."),
    detector: str = typer.Option("spermnet", "--detector", help=DETECTOR_HELP),
    detector_model: Optional[Path] = typer.Option(None, "--detector-model", help="A SpermNet model (.onnx)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="YOLO model (.onnx or .pt)."),
    drift: bool = typer.Option(True, "--drift/--no-drift", help="Estimate and subtract field drift."),
    polarity: str = typer.Option("auto", "--polarity", help="bright (phase contrast) or dark (bright field) heads; auto: decided on each video's first frame."),
    report: bool = typer.Option(False, "--report", help="Also write each sample's report.html."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Worker processes (default: the CPUs)."),
    dask: Optional[str] = typer.Option(None, "--dask", help="'local': run on a Dask LocalCluster (spermlab[dask])."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run on a Dask cluster: tcp://HOST:PORT (workers read inputs by path)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Rerun the samples that failed before."),
    force: bool = typer.Option(False, "--force", help="Rerun every sample."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Analyse many samples: resumable, one bad input reported and the rest go on.

    Example: spermlab batch videos/*.mp4 --um-per-px 0.3 --depth-um 20 --out study
    """
    from spermlab.batch import collect_samples, run_batch
    from spermlab.errors import UsageError
    from spermlab.run import check_detector, check_flags

    setup_logging(quiet)
    if dask is not None and dask != "local":
        raise UsageError(f"--dask {dask}: expected 'local' (a cluster of your own: --scheduler tcp://HOST:PORT)")
    if dask and scheduler:
        raise UsageError("--dask local and --scheduler: choose one")
    cal_args = dict(um_per_px=um_per_px, fps=fps, depth_um=depth_um, preset_name=preset_name)
    check_flags(cal_args)
    check_detector(detector, detector_model, weights, polarity)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; expected a folder for the batch")
    samples = collect_samples(inputs)
    options = dict(detector=detector, detector_model=detector_model, weights=weights, drift=drift,
                   report=report, **({"polarity": polarity} if polarity != "auto" else {}))  # fmt: skip
    progress = _Progress(len(samples), quiet)
    with progress:
        result = run_batch(samples, out, cal_args=cal_args, options=options, workers=workers,
                           dask=scheduler or dask, retry_failed=retry_failed, force=force,
                           on_done=progress.advance)  # fmt: skip
    if json_out:
        emit_json({**result.to_dict(), "out": str(out), "samples": len(samples)})
    elif not quiet:
        typer.echo(f"{len(result.done)} done, {len(result.failed)} failed, {len(result.skipped)} "
                   f"skipped (already done) of {len(samples)} samples in {result.seconds:.0f} s; "
                   f"results: {out}/summary.csv, {out}/spermlab.duckdb")  # fmt: skip
    for sid, err in result.failed.items():
        stderr.print(f"[bold red]failed:[/] {sid}: {err}", markup=True, highlight=False, soft_wrap=True)
    if result.failed:
        raise typer.Exit(1)


class _Progress:
    """A rich bar over the samples (stderr), or nothing with --quiet."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet, self.bar, self.task = total, quiet, None, None

    def __enter__(self):
        if not self.quiet:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(TextColumn("samples"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.description}"), console=stderr, transient=True)  # fmt: skip
            self.bar.__enter__()
            self.task = self.bar.add_task("", total=self.total)
        return self

    def advance(self, sample_id: str, row: dict) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=f"{sample_id}: {row['state']}")

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


@app.command()
def query(
    folder: Path = typer.Argument(..., help="A batch folder (spermlab batch --out)."),
    sql: str = typer.Argument(..., help="One SQL statement on the tables samples, kinematics and tracks."),
    csv: bool = typer.Option(False, "--csv", help="Print CSV instead of a table."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Ask the batch's results store (DuckDB) anything, in SQL.

    Example: spermlab query study "SELECT sample_id, progressive, concentration_m_per_ml FROM samples"
    """
    import sys

    from spermlab.batch import query as run_query

    setup_logging(quiet)
    try:
        table = run_query(folder, sql)
    except Exception as e:  # duckdb's errors: a bad query is bad usage, said plainly
        if "duckdb" in type(e).__module__:
            from spermlab.errors import UsageError

            raise UsageError(f"SQL: {e}") from None
        raise
    if json_out:
        emit_json(table.to_dict(orient="records"))
    elif csv:
        table.to_csv(sys.stdout, index=False)
    else:
        from rich.console import Console
        from rich.table import Table

        t = Table()
        for c in table.columns:
            t.add_column(str(c))
        for row in table.itertuples(index=False):
            t.add_row(*[table_cell(v) for v in row])
        Console().print(t)
