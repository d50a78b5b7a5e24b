"""One verb per stage: ``detect``, ``track``, ``measure``, ``grade`` (``analyze`` runs all).

Each reads and writes a table file (``.csv`` or ``.parquet``, chosen by the suffix of
``--out``) with the columns of :mod:`spermlab.tables`, so a lab can stop, inspect or
replace any stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from spermlab.calibration import Calibration, CalibrationError, preset
from spermlab.cli._app import (DETECTOR_HELP, JsonOption, QuietOption, app, emit_json, progress_iter,
                               setup_logging)
from spermlab.tables import DETECTIONS, KINEMATICS, TRACKS, validate

UmOpt = typer.Option(None, "--um-per-px", help="Image scale, µm per pixel.")
FpsOpt = typer.Option(None, "--fps", help="Frame rate.")
PresetOpt = typer.Option(None, "--preset", help="Named calibration preset: visem.")


def _calibration(um_per_px: Optional[float], fps: Optional[float], preset_name: Optional[str],
                 what: str, *, file_fps: Optional[float] = None) -> Calibration:  # fmt: skip
    """Calibration for one stage: flags first, then the file, then the preset; never guessed."""
    base = preset(preset_name) if preset_name else None
    values, sources = {}, {}
    for key, user in (("um_per_px", um_per_px), ("fps", fps)):
        if user is not None:
            values[key], sources[key] = user, "user"
        elif key == "fps" and file_fps is not None:
            values[key], sources[key] = file_fps, "file"
        elif base is not None:
            values[key], sources[key] = getattr(base, key), f"preset:{preset_name}"
        else:
            flag = "--um-per-px" if key == "um_per_px" else "--fps"
            raise CalibrationError(f"{what} needs {key}: pass {flag} or a preset (--preset visem)")
    return Calibration(**values, sources=sources)


def _read(path: Path, schema, name: str) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if schema is KINEMATICS:
        from spermlab.io.results import with_flagellum

        table = with_flagellum(table)
    return validate(table, schema, name=str(path), extra="keep")[list(schema)]


def _write(table: pd.DataFrame, out: Path) -> None:
    from spermlab.io.atomic import write_table

    if out.suffix not in (".csv", ".parquet"):
        raise typer.BadParameter(f"expected a .csv or .parquet file, got {out.name!r}", param_hint="--out")
    write_table(table, out.with_suffix(""), formats=(out.suffix[1:],))


@app.command()
def detect(
    source: Path = typer.Argument(..., help="Video file, frame folder or VISEM-Tracking folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Detections table (.csv or .parquet)."),
    um_per_px: Optional[float] = UmOpt, fps: Optional[float] = FpsOpt,
    preset_name: Optional[str] = PresetOpt,
    detector: str = typer.Option("spermnet", "--detector", help=DETECTOR_HELP),
    detector_model: Optional[Path] = typer.Option(None, "--detector-model", help="A SpermNet model (.onnx); default: the shipped one."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="YOLO model: .onnx (onnxruntime) or .pt (needs spermlab[yolo]); default: the shipped ONNX model."),
    quiet: bool = QuietOption,
) -> None:
    """Find sperm heads in every frame and write the Detections table.

    Example: spermlab detect sample.mp4 --um-per-px 0.3 --out detections.parquet
    """
    from spermlab.cli._app import check_detector, make_detector
    from spermlab.io.open import open_source
    from spermlab.pipeline import detect_frames

    check_detector(detector, detector_model)
    setup_logging(quiet)
    src = open_source(source, fps=fps)
    cal = _calibration(um_per_px, fps, preset_name, "detect", file_fps=src.fps)
    det = make_detector(detector, cal, weights, detector_model)
    frames = progress_iter(src, total=src.n_frames, label="detecting", quiet=quiet)
    parts = [d for _, d in detect_frames({"detector": det}, frames) if len(d)]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(DETECTIONS))
    _write(validate(table, DETECTIONS), out)
    typer.echo(f"{len(table)} detections → {out}")


@app.command()
def track(
    detections: Path = typer.Argument(..., help="Detections table (.csv or .parquet)."),
    out: Path = typer.Option(..., "--out", "-o", help="Tracks table (.csv or .parquet)."),
    um_per_px: Optional[float] = UmOpt, fps: Optional[float] = FpsOpt,
    preset_name: Optional[str] = PresetOpt, quiet: bool = QuietOption,
) -> None:
    """Link detections into tracks (Kalman motion model, global assignment, gap closing).

    Example: spermlab track detections.parquet --preset visem --out tracks.parquet
    """
    from spermlab.track import link

    setup_logging(quiet)
    det = _read(detections, DETECTIONS, "Detections")
    cal = _calibration(um_per_px, fps, preset_name, "track")
    n_frames = int(det["frame"].max()) + 1 if len(det) else 0
    tracks = link(det, cal, n_frames=n_frames)
    _write(tracks, out)
    typer.echo(f"{tracks['track_id'].nunique()} tracks → {out}")


@app.command()
def measure(
    tracks: Path = typer.Argument(..., help="Tracks table (.csv or .parquet)."),
    out: Path = typer.Option(..., "--out", "-o", help="Kinematics table (.csv or .parquet)."),
    um_per_px: Optional[float] = UmOpt, fps: Optional[float] = FpsOpt,
    preset_name: Optional[str] = PresetOpt,
    drift: bool = typer.Option(True, "--drift/--no-drift", help="Estimate and subtract field drift."),
    quiet: bool = QuietOption,
) -> None:
    """Measure VCL, VSL, VAP, LIN, STR, WOB, ALH, BCF, MAD and progression per track (µm, s).

    Example: spermlab measure tracks.parquet --um-per-px 0.3 --fps 50 --out kinematics.csv
    """
    from spermlab.analysis.drift import estimate_drift, subtract_drift
    from spermlab.analysis.kinematics import measure as measure_tracks

    setup_logging(quiet)
    t = _read(tracks, TRACKS, "Tracks")
    cal = _calibration(um_per_px, fps, preset_name, "measure")
    t = t[t["cls"] == 0].reset_index(drop=True)
    if drift:
        t = subtract_drift(t, estimate_drift(t, cal.fps))
    kin = measure_tracks(t, cal)
    _write(kin, out)
    typer.echo(f"{len(kin)} tracks measured → {out}")


@app.command()
def grade(
    kinematics: Path = typer.Argument(..., help="Kinematics table (.csv or .parquet)."),
    out: Path = typer.Option(..., "--out", "-o", help="Graded Kinematics table (.csv or .parquet)."),
    json_out: bool = JsonOption, quiet: bool = QuietOption,
) -> None:
    """Grade each track into WHO 2021 a/b/c/d and print the percentages.

    Example: spermlab grade kinematics.csv --out graded.csv --json
    """
    from spermlab.analysis.motility import GRADES
    from spermlab.analysis.motility import grade as grade_tracks

    setup_logging(quiet)
    table = _read(kinematics, KINEMATICS, "Kinematics")
    table = table.assign(grade=table["grade"].fillna("").astype(str).astype(object))
    graded = grade_tracks(table)
    _write(graded, out)
    n = len(graded)
    pct = {g: (100.0 * float((graded["grade"] == g).sum()) / n if n else float("nan")) for g in GRADES}
    if json_out:
        emit_json({"n_graded": n, "percentages": pct})
    else:
        typer.echo("  ".join(f"{g}: {v:.1f} %" for g, v in pct.items()) + f"  (n = {n})")
