"""``spermlab analyze``: the whole CASA flow on one video, frame folder or VISEM folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from spermlab.cli._app import (
    DETECTOR_HELP,
    JsonOption,
    QuietOption,
    app,
    emit_json,
    progress_iter,
    setup_logging,
)

log = logging.getLogger("spermlab.cli")


def run_analysis(path: Path, out: Path, cal_args: dict, *, drift: bool, quiet: bool,
                 detector: str = "spermnet", weights: Optional[Path] = None,
                 report: bool = False, video: bool = False, detector_model: Optional[Path] = None,
                 allow_gaps: bool = False, polarity: str = "auto"):
    """:func:`spermlab.run.analyze_source` with a progress bar on stderr unless ``quiet``."""
    from spermlab.run import analyze_source

    def bar(items, total, label):
        return progress_iter(items, total=total, label=label, quiet=quiet)

    return analyze_source(path, out, cal_args, drift=drift, detector=detector, weights=weights,
                          report=report, video=video, detector_model=detector_model,
                          allow_gaps=allow_gaps, progress=bar, polarity=polarity)  # fmt: skip


def _pct(value: float | None) -> str:
    return "    —" if value is None or value != value else f"{value:5.1f}"


def human_summary(summary: dict) -> str:
    """A few lines a person reads: grades, concentration, the verdict (stdout)."""
    p, c = summary["percentages"], summary["counts"]
    lim = summary["reference_limits"]
    conc = summary["concentration_m_per_ml"]
    lines = [f"graded cells: {summary['n_graded']} (over {summary['n_frames']} frames)"]
    if summary["n_graded"] == 0:
        lines.append("  no cell could be graded, so there are no percentages (—). Hint: check "
                     "that the detector finds heads (spermlab detect ...), and the scale "
                     "(--um-per-px) and frame rate (--fps)")  # fmt: skip
    lines += [
        f"  a rapid progressive   {_pct(p['rapid'])} %  ({c['a']})",
        f"  b slow progressive    {_pct(p['slow'])} %  ({c['b']})",
        f"  c non-progressive     {_pct(p['non_progressive'])} %  ({c['c']})",
        f"  d immotile            {_pct(p['immotile'])} %  ({c['d']})",
        f"  progressive (a+b)     {_pct(p['progressive'])} %  (WHO 2021 lower limit {lim['progressive_pct']:g} %)",
        f"  total motile (a+b+c)  {_pct(p['total_motile'])} %  (WHO 2021 lower limit {lim['total_motile_pct']:g} %)",
        "concentration: " + (f"{conc:.1f} x10^6/mL (WHO 2021 lower limit "
                             f"{lim['concentration_m_per_ml']:g})" if conc is not None else "not computed"),
    ]  # fmt: skip
    fw = summary.get("percentages_frame_weighted")
    if fw:
        lines.append(f"snapshot PR / NP / IM (each cell once per frame in view): "
                     f"{_pct(fw['progressive']).strip()} / {_pct(fw['non_progressive']).strip()} / "
                     f"{_pct(fw['immotile']).strip()} %")  # fmt: skip
    q = summary.get("quality") or {}
    if q:
        from spermlab.report.quality import VERDICTS

        n = len(q.get("checks", []))
        lines.append(f"verdict: {VERDICTS[q['level']]}" + (f" ({n} finding{'s' if n != 1 else ''}, "
                     "listed on stderr)" if n else ""))  # fmt: skip
    return "\n".join(lines)


def print_findings(summary: dict) -> None:
    """Every quality finding on stderr (shown with --quiet too: they are warnings)."""
    from rich.markup import escape

    from spermlab.cli._app import stderr

    for c in (summary.get("quality") or {}).get("checks", []):
        tag = "FAIL" if c["level"] == "fail" else "CAUTION"
        stderr.print(f"[bold]{tag}:[/] {escape(c['message'])}", markup=True, highlight=False,
                     soft_wrap=True)  # fmt: skip


@app.command()
def analyze(
    path: Path = typer.Argument(..., help="Video file, frame folder or VISEM-Tracking video folder."),
    out: Path = typer.Option(Path("spermlab_out"), "--out", "-o", help="Results folder."),
    um_per_px: Optional[float] = typer.Option(None, "--um-per-px", help="Image scale, µm per pixel."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frame rate (default: the file's)."),
    depth_um: Optional[float] = typer.Option(None, "--depth-um", help="Chamber depth, µm (for concentration)."),
    preset_name: Optional[str] = typer.Option(None, "--preset", help="Named calibration preset: visem."),
    detector: str = typer.Option("spermnet", "--detector", help=DETECTOR_HELP),
    detector_model: Optional[Path] = typer.Option(None, "--detector-model", help="A SpermNet model (.onnx) from 'spermlab train detector'; default: the shipped one."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="YOLO model: .onnx (onnxruntime) or .pt (needs spermlab[yolo]); default: the shipped ONNX model."),
    drift: bool = typer.Option(True, "--drift/--no-drift", help="Estimate and subtract field drift."),
    polarity: str = typer.Option("auto", "--polarity", help="Heads brighter than the background (bright: phase contrast) or darker (dark: bright field); auto: the detector decides on the first frame (spermnet, classical)."),
    report: bool = typer.Option(False, "--report", help="Also write report.html (self-contained)."),
    video: bool = typer.Option(False, "--video", help="Also write annotated.mp4."),
    allow_gaps: bool = typer.Option(False, "--allow-gaps", help="Analyse a frame folder with missing frame numbers (counted in summary.json)."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Detect, track, measure and grade every spermatozoon of one sample (WHO 2021).

    Example: spermlab analyze ../shared/data/visem_tracking/11 --preset visem --out r11
    """
    setup_logging(quiet)
    cal_args = dict(um_per_px=um_per_px, fps=fps, depth_um=depth_um, preset_name=preset_name)
    result = run_analysis(path, out, cal_args, drift=drift, quiet=quiet, detector=detector,
                          weights=weights, report=report, video=video,
                          detector_model=detector_model, allow_gaps=allow_gaps,
                          polarity=polarity)  # fmt: skip
    summary = result.summary.to_dict()
    print_findings(summary)
    if json_out:
        emit_json(summary)
    else:
        typer.echo(human_summary(summary))
        typer.echo(f"results: {out}/")
