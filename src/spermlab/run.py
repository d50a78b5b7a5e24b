"""One sample, start to finish: source and calibration arguments in, one complete results folder out.

This is the library function behind ``spermlab analyze``, ``spermlab demo``, ``spermlab batch``
(and its Dask workers): it resolves the calibration from the user's values, the file and a
preset (never guessed), checks every option before the first frame is read, chooses the
detector, runs :class:`~spermlab.pipeline.Pipeline` and writes the results folder atomically
(:mod:`spermlab.io.staging`). The CLI imports it; it never imports the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from spermlab.calibration import Calibration, CalibrationError, preset
from spermlab.errors import UsageError
from spermlab.io.source import FrameSource
from spermlab.pipeline import AnalysisResult

__all__ = ["DETECTORS", "analyze_source", "calibration_offered", "check_detector", "check_flags",
           "check_scale", "make_detector", "resolve_calibration"]

log = logging.getLogger("spermlab.run")


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


def analyze_source(path: Path, out: Path, cal_args: dict, *, drift: bool = True,
                   detector: str = "spermnet", weights: Path | None = None,
                   report: bool = False, video: bool = False, detector_model: Path | None = None,
                   allow_gaps: bool = False, progress: Callable | None = None,
                   polarity: str = "auto") -> AnalysisResult:
    """One source and its calibration arguments to one complete results folder (DESIGN §6).

    The one function the CLI (``analyze``, ``demo``), ``batch`` and its Dask workers call.
    ``cal_args``: ``um_per_px``, ``fps``, ``depth_um``, ``preset_name`` (each may be None).
    ``progress(iterable, total, label)`` wraps the frame stream (a progress bar); default none.
    ``polarity``: ``"bright"`` heads (phase contrast), ``"dark"`` (bright field) or ``"auto"``
    (the detector decides on the first frame; SpermNet and classical only).

    Outputs, options and calibration are checked before the first frame is read; every
    file is written into a hidden sibling of ``out`` that replaces ``out`` whole at the
    end (:mod:`spermlab.io.staging`), so a failure leaves the previous result or nothing.
    """
    from spermlab.io.open import open_source
    from spermlab.io.results import write_results
    from spermlab.io.staging import check_output_folder, staged_folder
    from spermlab.pipeline import Pipeline

    wrap = progress or (lambda it, total, label: it)
    check_detector(detector, detector_model, weights, polarity)
    check_output_folder(out)
    check_flags(cal_args)
    source = open_source(path, allow_gaps=allow_gaps)
    if source.fps is None and cal_args.get("fps") is not None:  # a frame folder: no rate of its own
        source = open_source(path, fps=cal_args["fps"], allow_gaps=allow_gaps)
        source.fps_source = "user"
    cal = resolve_calibration(source, **cal_args)
    check_scale(cal)
    log.info("calibration: %s", cal.to_dict())
    pipe = Pipeline(cal, detector=make_detector(detector, cal, weights, detector_model, polarity), drift=drift)
    with staged_folder(out) as tmp:
        frames = wrap(source, source.n_frames, "analysing")
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

            write_annotated_video(tmp, source, tmp / "annotated.mp4",
                                  progress=lambda it: wrap(it, source.n_frames, "annotating"))
            log.info("annotated video: %s", out / "annotated.mp4")
    return result


DETECTORS = ("spermnet", "classical", "yolo")
#: Head polarity: bright (phase contrast), dark (bright field), or decided by the detector.
POLARITIES = ("auto", "bright", "dark")
DETECTOR_HELP = ("spermnet (default: the learned model shipped with spermlab, or --detector-model), "
                 "classical (hand-set rules, no model) or yolo (the shipped YOLO11n in onnxruntime, "
                 "or --weights FILE.onnx; FILE.pt needs spermlab[yolo]).")


def check_detector(kind: str, model: Path | None = None, weights: Path | None = None,
                   polarity: str = "auto") -> None:
    """:class:`~spermlab.errors.UsageError` unless ``kind`` is a detector name, a model goes with spermnet,
    weights go with yolo, a polarity other than auto goes with spermnet or classical, and the
    named model file exists (checked before any work)."""
    if kind not in DETECTORS:
        raise UsageError(f"--detector: expected one of {', '.join(DETECTORS)}, got {kind!r}")  # fmt: skip
    if polarity not in POLARITIES:
        raise UsageError(f"--polarity: expected one of {', '.join(POLARITIES)}, got {polarity!r}")
    if polarity != "auto" and kind == "yolo":
        raise UsageError("--polarity is for --detector spermnet or classical; YOLO was trained on "
                         "both optics and reads frames as they are")  # fmt: skip
    if weights is not None and kind != "yolo":
        raise UsageError(f"--weights is a YOLO model, for --detector yolo, not --detector "
                                 f"{kind} (a SpermNet model is --detector-model)")  # fmt: skip
    for flag, f in (("--weights", weights), ("--detector-model", model)):
        if f is not None and not Path(f).is_file():
            raise UsageError(f"{f}: no such model file" + f" ({flag})")
    if model is not None and kind != "spermnet":
        raise UsageError(f"--detector-model is a SpermNet .onnx file, not for --detector {kind} "
                                 "(YOLO takes --weights)")  # fmt: skip


def make_detector(kind: str, calibration: Calibration, weights: Path | None = None,
                  model: Path | None = None, polarity: str = "auto"):
    """The detector that ``--detector``/``--weights``/``--detector-model`` name (SpermNet and
    YOLO: the shipped model unless ``model``/``weights``)."""
    check_detector(kind, model, weights, polarity)
    if kind == "yolo" and (weights is None or Path(weights).suffix.lower() == ".onnx"):
        from spermlab.detect.learned.yolo_onnx import YoloOnnxDetector

        return YoloOnnxDetector(calibration, model=weights)  # onnxruntime: no torch
    if kind == "yolo":
        from spermlab.detect.learned.yolo import YoloDetector

        return YoloDetector(calibration, weights=weights)
    if kind == "spermnet":
        from spermlab.detect.learned.spermnet import SpermNetDetector

        return SpermNetDetector(calibration, model=model, polarity=polarity)
    from spermlab.detect.classical import ClassicalDetector

    return ClassicalDetector(calibration, polarity=polarity)
