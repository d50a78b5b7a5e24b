"""``spermlab report`` and ``spermlab annotate``: the HTML report and the annotated video."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import typer

from spermlab.cli._app import JsonOption, QuietOption, app, emit_json, progress_iter, setup_logging

_RESULTS_HELP = "A results folder written by 'spermlab analyze' (or a batch folder: the cohort page)."
_SOURCE_HELP = "The analysed video or frame folder (default: summary.json input.path)."


@app.command()
def report(
    result_dir: Path = typer.Argument(..., help=_RESULTS_HELP),
    source: Path | None = typer.Option(None, "--source", "-s", help=_SOURCE_HELP),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="HTML file (default: RESULT_DIR/report.html)."
    ),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Write one self-contained HTML report of a sample: grades, quality, tracks, provenance.

    Example: spermlab report r11 && chromium r11/report.html
    """
    from spermlab.report.html import load_results, write_report
    from spermlab.report.quality import verdict_of

    setup_logging(quiet)
    from spermlab.report.cohort import is_batch_folder, write_cohort_report

    if is_batch_folder(result_dir):  # a batch folder: the cohort page
        path = write_cohort_report(result_dir, out=out)
        if json_out:
            emit_json({"report": str(path), "cohort": True})
        elif not quiet:
            typer.echo(f"report: {path}")
        return
    path = write_report(result_dir, source=source, out=out)
    if json_out:
        data = load_results(result_dir)
        q = verdict_of(data.summary, detections=data.detections, tracks=data.tracks, drift=data.drift,
                   kinematics=data.kinematics)
        emit_json({"report": str(path), "quality": q.level,
                   "warnings": [c.message for c in q.checks]})  # fmt: skip
    elif not quiet:
        typer.echo(f"report: {path}")


@app.command()
def annotate(
    result_dir: Path = typer.Argument(..., help=_RESULTS_HELP),
    source: Path | None = typer.Option(None, "--source", "-s", help=_SOURCE_HELP),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="MP4 file (default: RESULT_DIR/annotated.mp4)."
    ),
    trail: float = typer.Option(0.5, "--trail", min=0.0, help="Trail of recent positions, s."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Write the recording as MP4, each head boxed, numbered and trailed, coloured by grade.

    Example: spermlab annotate r11 --source ../shared/data/visem_tracking/11 --out r11.mp4
    """
    from spermlab.report.annotate import write_annotated_video

    setup_logging(quiet)

    def bar(frames: Iterable) -> Iterable:
        return progress_iter(frames, total=None, label="annotating", quiet=quiet)

    path = write_annotated_video(result_dir, source, out, trail_s=trail, progress=bar)
    if json_out:
        emit_json({"video": str(path)})
    elif not quiet:
        typer.echo(f"annotated video: {path}")
