"""``spermlab audit``: what is wrong with an annotated dataset, before anyone trains on it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from spermlab.cli._app import JsonOption, QuietOption, app, emit_json, setup_logging


@app.command()
def audit(
    datasets: list[Path] = typer.Argument(..., help="VISEM-Tracking video folders, or Pascal VOC folders (FOLDER/STEM for one video)."),
    json_file: Optional[Path] = typer.Option(None, "--json-file", help="Write every finding as JSON to this file."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the HTML audit report to this file."),
    counts: Optional[Path] = typer.Option(None, "--counts", help="A per-frame counts CSV (default: sperm_counts_per_frame.csv beside a VISEM-Tracking folder)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit 1 when a finding is at least this severe: error or warning."),
    um_per_px: Optional[float] = typer.Option(None, "--um-per-px", help="Scale for the swimming-speed rule (VISEM default: the visem preset)."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frame rate for the speed and reuse rules."),
    agree: bool = typer.Option(False, "--agree", help="Compare the datasets as annotation sets of the same frames (kappa, agreement levels, precision/recall against the consensus, track splits and merges)."),
    max_distance: float = typer.Option(8.0, "--max-distance", help="Centre distance (px) of two boxes of one object, with --agree."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Audit annotated datasets: boxes, tracks, images and classes, each finding with evidence.

    Example: spermlab audit ../shared/data/visem_tracking/11 --fail-on error
    """
    from rich.console import Console
    from rich.table import Table

    from spermlab.audit import RULES, audit_dataset
    from spermlab.audit.findings import SEVERITIES
    from spermlab.errors import UsageError
    from spermlab.io.atomic import write_json

    setup_logging(quiet)
    if fail_on is not None and fail_on not in ("error", "warning"):
        raise UsageError(f"--fail-on {fail_on}: expected error or warning")
    if agree:
        _agreement(datasets, max_distance, json_out, json_file)
        return
    results = [audit_dataset(d, um_per_px=um_per_px, fps=fps, counts=counts) for d in datasets]
    data = [r.to_dict() for r in results]
    if json_file is not None:
        write_json(json_file, data)
    if report is not None:
        from spermlab.audit.report import write_audit_report

        write_audit_report(results, report)
    if json_out:
        emit_json(data)
    elif not quiet:
        for r in results:
            t = Table(title=f"{r.dataset}: {r.stats['frames']} frames, {r.stats['boxes']} boxes")
            for c in ("rule", "severity", "count", "what", "first instance"):
                t.add_column(c)
            for rule, n in r.counts().items():
                first = next(f for f in r.findings if f.rule == rule)
                where = f"{Path(first.file).name}:{first.line}" if first.file and first.line else (
                    Path(first.file).name if first.file else "")  # fmt: skip
                t.add_row(rule, RULES[rule].severity, str(n), RULES[rule].title, f"{where} {first.message}".strip())
            Console().print(t)
    if fail_on is not None:
        worst = max((SEVERITIES[f.severity] for r in results for f in r.findings), default=-1)
        if worst >= SEVERITIES[fail_on]:
            raise typer.Exit(1)


def _agreement(datasets: list[Path], max_distance: float, json_out: bool, json_file: Path | None) -> None:
    from spermlab.audit.agreement import annotator_agreement
    from spermlab.errors import UsageError
    from spermlab.io.atomic import write_json
    from spermlab.io.load import read_boxes

    if len(datasets) < 2:
        raise UsageError("--agree compares two or more annotation sets; got one")
    sets = []
    for d in datasets:
        try:
            sets.append(read_boxes(d, tracks=True))
        except ValueError:  # boxes without track ids: agreement on boxes only
            sets.append(read_boxes(d))
    names = [str(d) for d in datasets]
    r = annotator_agreement(sets, names, max_distance=max_distance)
    data = r.to_dict()
    if json_file is not None:
        write_json(json_file, data)
    if json_out:
        emit_json(data)
        return
    kind = "Cohen" if len(sets) == 2 else "Fleiss"
    typer.echo(f"{len(r.objects)} objects; {kind}'s kappa {r.kappa:.3f}; agreement total "
               f"{r.levels['total']}, partial {r.levels['partial']}, none {r.levels['none']}")
    for c, k in r.kappa_per_class.items():
        typer.echo(f"  class {c}: kappa {k:.3f}")
    for row in r.per_set.to_dict("records"):
        typer.echo(f"  {row['set']}: {row['boxes']} boxes, precision {row['precision']:.3f}, "
                   f"recall {row['recall']:.3f} against the consensus")
    for t in r.tracks:
        typer.echo(f"  tracks {t['sets'][0]} vs {t['sets'][1]}: {t['tracks_split']} split, "
                   f"{t['tracks_merged']} merged")
