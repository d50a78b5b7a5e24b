"""``spermlab analyze``: the whole CASA flow on one video, frame folder or VISEM folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from spermlab.calibration import Calibration, CalibrationError, preset
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
    CalibrationError
        When µm/px or fps is known from none of them; the message names the flags.
    """
    base = preset(preset_name) if preset_name else None
    values, sources = {}, {}
    for key, user, from_file in [("um_per_px", um_per_px, None), ("fps", fps, source.fps),
                                 ("chamber_depth_um", depth_um, None)]:  # fmt: skip
        if user is not None:
            values[key], sources[key] = user, "user"
        elif from_file is not None:
            values[key], sources[key] = from_file, getattr(source, "fps_source", None) or "file"
        elif base is not None and getattr(base, key) is not None:
            values[key], sources[key] = getattr(base, key), f"preset:{preset_name}"
    if "um_per_px" not in values:
        raise CalibrationError(
            f"{source.path}: the image scale is unknown: pass --um-per-px (µm per pixel of "
            "your microscope and camera) or a preset (--preset visem)"
        )
    if "fps" not in values:
        raise CalibrationError(
            f"{source.path}: the frame rate is unknown (a frame folder has none): pass --fps "
            "or a preset (--preset visem)"
        )
    return Calibration(**values, sources=sources)


def run_analysis(path: Path, out: Path, cal_args: dict, *, drift: bool, quiet: bool,
                 detector: str = "spermnet", weights: Optional[Path] = None,
                 report: bool = False, video: bool = False, detector_model: Optional[Path] = None):
    """Open, analyse and write one source; return the AnalysisResult."""
    from spermlab.io.open import open_source
    from spermlab.io.results import write_results
    from spermlab.pipeline import Pipeline

    source = open_source(path, fps=cal_args.get("fps"))
    cal = resolve_calibration(source, **cal_args)
    log.info("calibration: %s", cal.to_dict())
    pipe = Pipeline(cal, detector=make_detector(detector, cal, weights, detector_model), drift=drift)
    frames = progress_iter(source, total=source.n_frames, label="analysing", quiet=quiet)
    result = pipe.run(source, frames=frames)
    write_results(out, detections=result.detections, tracks=result.tracks,
                  kinematics=result.kinematics, drift=result.drift,
                  summary=result.summary.to_dict(), width=result.width, height=result.height,
                  n_frames=result.summary.n_frames, stem=path.stem)  # fmt: skip
    if report:
        from spermlab.report import write_report

        log.info("report: %s", write_report(out, source=source))
    if video:
        from spermlab.report import write_annotated_video

        wrap = lambda it: progress_iter(it, total=source.n_frames, label="annotating", quiet=quiet)  # noqa: E731
        log.info("annotated video: %s", write_annotated_video(out, source, out / "annotated.mp4",
                                                              progress=wrap))  # fmt: skip
    return result


def human_summary(summary: dict) -> str:
    """A few lines a person reads: grades, concentration, warnings."""
    p, c = summary["percentages"], summary["counts"]
    lim = summary["reference_limits"]
    conc = summary["concentration_m_per_ml"]
    lines = [
        f"graded cells: {summary['n_graded']} (over {summary['n_frames']} frames)",
        f"  a rapid progressive   {p['rapid']:5.1f} %  ({c['a']})",
        f"  b slow progressive    {p['slow']:5.1f} %  ({c['b']})",
        f"  c non-progressive     {p['non_progressive']:5.1f} %  ({c['c']})",
        f"  d immotile            {p['immotile']:5.1f} %  ({c['d']})",
        f"  progressive (a+b)     {p['progressive']:5.1f} %  (WHO 2021 lower limit {lim['progressive_pct']:g} %)",
        f"  total motile (a+b+c)  {p['total_motile']:5.1f} %  (WHO 2021 lower limit {lim['total_motile_pct']:g} %)",
        "concentration: " + (f"{conc:.1f} x10^6/mL (WHO 2021 lower limit "
                             f"{lim['concentration_m_per_ml']:g})" if conc is not None else "not computed"),
    ]  # fmt: skip
    fw = summary.get("percentages_frame_weighted")
    if fw:
        lines.append(f"snapshot (frame-weighted) PR / NP / IM: {fw['progressive']:.1f} / "
                     f"{fw['non_progressive']:.1f} / {fw['immotile']:.1f} %")  # fmt: skip
    lines += [f"warning: {w}" for w in summary["warnings"]]
    return "\n".join(lines)


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
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Detect, track, measure and grade every spermatozoon of one sample (WHO 2021).

    Example: spermlab analyze ../shared/data/visem_tracking/11 --preset visem --out r11
    """
    setup_logging(quiet)
    check_detector(detector, detector_model)  # before reading the input
    cal_args = dict(um_per_px=um_per_px, fps=fps, depth_um=depth_um, preset_name=preset_name)
    result = run_analysis(path, out, cal_args, drift=drift, quiet=quiet, detector=detector,
                          weights=weights, report=report, video=video,
                          detector_model=detector_model)  # fmt: skip
    summary = result.summary.to_dict()
    if json_out:
        emit_json(summary)
    else:
        typer.echo(human_summary(summary))
        typer.echo(f"results: {out}/")
