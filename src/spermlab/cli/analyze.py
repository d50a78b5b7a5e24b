"""``spermlab analyze``: the whole CASA flow on one video, frame folder or VISEM folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from spermlab.calibration import Calibration, CalibrationError, preset
from spermlab.errors import UsageError
from spermlab.cli._app import (DETECTOR_HELP, JsonOption, QuietOption, app, check_detector, emit_json,
                               make_detector, progress_iter, setup_logging)
from spermlab.io.source import FrameSource

log = logging.getLogger("spermlab.cli")


def resolve_calibration(
    source: FrameSource,
    *,
    um_per_px: float | None,
    fps: float | None,
    depth_um: float | None,
    preset_name: str | None,
) -> Calibration:
    """Calibration from user flags, then the file, then a named preset; never guessed.

    Raises
    ------
    UsageError
        When µm/px or fps is known from none of them, or a value is out of range; the
        message names the flag.
    """
    offered = calibration_offered(source, um_per_px=um_per_px, fps=fps, depth_um=depth_um,
                                  preset_name=preset_name)  # fmt: skip
    values, sources = {}, {}
    for key, options in offered.items():
        for origin in ("user", "file", "preset"):
            if options[origin] is not None:
                values[key] = options[origin]
                sources[key] = {"user": "user", "file": getattr(source, "fps_source", None) or "file",
                                "preset": f"preset:{preset_name}"}[origin]  # fmt: skip
                break
    if "um_per_px" not in values:
        raise UsageError(
            f"{source.path}: the image scale is unknown: pass --um-per-px (µm per pixel of "
            "your microscope and camera) or a preset (--preset visem)"
        )
    if "fps" not in values:
        raise UsageError(
            f"{source.path}: the frame rate is unknown (a frame folder has none): pass --fps "
            "or a preset (--preset visem)"
        )
    try:
        return Calibration(**values, sources=sources)
    except CalibrationError as e:  # name the flag that gave the bad value
        flag = {"um_per_px": "--um-per-px", "fps": "--fps", "chamber_depth_um": "--depth-um"}
        bad = next((k for k in flag if k in str(e)), None)
        raise UsageError(f"{flag[bad]} ({sources[bad]}): {e}" if bad else str(e)) from None


def calibration_offered(source: FrameSource, *, um_per_px: float | None, fps: float | None,
                        depth_um: float | None, preset_name: str | None) -> dict[str, dict]:
    """What the user, the file and the preset each say about each calibration value."""
    try:
        base = preset(preset_name) if preset_name else None
    except CalibrationError as e:
        raise UsageError(f"--preset {preset_name}: {e}") from None
    return {key: {"user": user, "file": from_file,
                  "preset": getattr(base, key) if base is not None else None}
            for key, user, from_file in (("um_per_px", um_per_px, None), ("fps", fps, source.fps),
                                         ("chamber_depth_um", depth_um, None))}  # fmt: skip


#: A sperm microscope's scale: 0.05 µm/px (a 100x objective on a small-pixel camera) to
#: 3 µm/px (a 4x objective); outside it a 4.5-µm head is under 1.5 px or over 90 px.
SCALE_RANGE = (0.05, 3.0)


def check_scale(cal: Calibration) -> None:
    """Refuse a scale no sperm microscope has, naming the flag (before any frame is read)."""
    lo, hi = SCALE_RANGE
    if not lo <= cal.um_per_px <= hi:
        src = cal.sources.get("um_per_px", "?")
        flag = "--um-per-px" if src == "user" else f"the scale from {src}"
        raise UsageError(
            f"{flag} {cal.um_per_px:g} µm/px makes a 4.5-µm sperm head "
            f"{4.5 / cal.um_per_px:.2g} px long; expected {lo:g}-{hi:g} µm/px (measure it with a "
            "stage micrometer: µm across the image / pixels across the image)")


def check_flags(cal_args: dict) -> None:
    """Refuse impossible calibration values before anything is opened, naming the flag."""
    import math

    for key, flag, lo, hi in (("um_per_px", "--um-per-px", 0.0, 100.0), ("fps", "--fps", 1.0, 1000.0),
                              ("depth_um", "--depth-um", 0.0, 1000.0)):  # fmt: skip
        v = cal_args.get(key)
        if v is not None and not (math.isfinite(v) and lo < v <= hi if lo == 0 else lo <= v <= hi):
            raise UsageError(f"{flag} {v:g}: expected a number in {'(' if lo == 0 else '['}{lo:g}, "
                             f"{hi:g}]")  # fmt: skip
    if cal_args.get("preset_name"):
        try:
            preset(cal_args["preset_name"])
        except CalibrationError as e:
            raise UsageError(f"--preset {cal_args['preset_name']}: {e}") from None


def run_analysis(path: Path, out: Path, cal_args: dict, *, drift: bool, quiet: bool,
                 detector: str = "spermnet", weights: Optional[Path] = None,
                 report: bool = False, video: bool = False, detector_model: Optional[Path] = None,
                 allow_gaps: bool = False):
    """Check everything, then open, analyse and write one source; return the AnalysisResult.

    Outputs, options and calibration are checked before the first frame is read; every
    file is written into a hidden sibling of ``out`` that replaces ``out`` whole at the
    end (:mod:`spermlab.io.staging`), so a failure leaves the previous result or nothing.
    """
    from spermlab.io.open import open_source
    from spermlab.io.results import write_results
    from spermlab.io.staging import check_output_folder, staged_folder
    from spermlab.pipeline import Pipeline

    check_output_folder(out)
    check_flags(cal_args)
    source = open_source(path, allow_gaps=allow_gaps)
    if source.fps is None and cal_args.get("fps") is not None:  # a frame folder: no rate of its own
        source = open_source(path, fps=cal_args["fps"], allow_gaps=allow_gaps)
        source.fps_source = "user"
    cal = resolve_calibration(source, **cal_args)
    check_scale(cal)
    log.info("calibration: %s", cal.to_dict())
    pipe = Pipeline(cal, detector=make_detector(detector, cal, weights, detector_model), drift=drift)
    with staged_folder(out) as tmp:
        frames = progress_iter(source, total=source.n_frames, label="analysing", quiet=quiet)
        result = pipe.run(source, frames=frames)
        result.summary.input["calibration_offered"] = calibration_offered(source, **cal_args)
        result.summary.input["fps_in_file"] = None if getattr(source, "fps_source", "file") == "user" else source.fps
        first, last = int(result.summary.input["first_frame"]), int(result.summary.input["last_frame"])
        write_results(tmp, detections=result.detections, tracks=result.tracks,
                      kinematics=result.kinematics, drift=result.drift,
                      summary=result.summary.to_dict(), width=result.width, height=result.height,
                      n_frames=result.summary.n_frames, stem=path.stem, first_frame=first,
                      last_frame=last)  # fmt: skip
        if report:
            from spermlab.report import write_report

            write_report(tmp, source=source, out=tmp / "report.html")
            log.info("report: %s", out / "report.html")
        if video:
            from spermlab.report import write_annotated_video

            wrap = lambda it: progress_iter(it, total=source.n_frames, label="annotating", quiet=quiet)  # noqa: E731
            write_annotated_video(tmp, source, tmp / "annotated.mp4", progress=wrap)
            log.info("annotated video: %s", out / "annotated.mp4")
    return result


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
    check_detector(detector, detector_model, weights)  # before reading the input
    cal_args = dict(um_per_px=um_per_px, fps=fps, depth_um=depth_um, preset_name=preset_name)
    result = run_analysis(path, out, cal_args, drift=drift, quiet=quiet, detector=detector,
                          weights=weights, report=report, video=video,
                          detector_model=detector_model, allow_gaps=allow_gaps)  # fmt: skip
    summary = result.summary.to_dict()
    print_findings(summary)
    if json_out:
        emit_json(summary)
    else:
        typer.echo(human_summary(summary))
        typer.echo(f"results: {out}/")
