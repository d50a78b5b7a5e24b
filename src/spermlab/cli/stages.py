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
from spermlab.errors import FormatError, UsageError
from spermlab.tables import DETECTIONS, KINEMATICS, TRACKS, validate

UmOpt = typer.Option(None, "--um-per-px", help="Image scale, µm per pixel.")
FpsOpt = typer.Option(None, "--fps", help="Frame rate.")
PresetOpt = typer.Option(None, "--preset", help="Named calibration preset: visem.")


def _calibration(um_per_px: Optional[float], fps: Optional[float], preset_name: Optional[str],
                 what: str, *, file_fps: Optional[float] = None,
                 table: Optional[Path] = None) -> Calibration:  # fmt: skip
    """Calibration for one stage: flags first, then the file (a video's rate, or the
    calibration an earlier stage recorded beside its table), then the preset; never guessed."""
    base = preset(preset_name) if preset_name else None
    carried = _read_meta(table).get("calibration", {}) if table is not None else {}
    values, sources = {}, {}
    for key, user in (("um_per_px", um_per_px), ("fps", fps)):
        if user is not None:
            values[key], sources[key] = user, "user"
        elif key == "fps" and file_fps is not None:
            values[key], sources[key] = file_fps, "file"
        elif carried.get(key) is not None:
            values[key] = carried[key]
            sources[key] = f"{carried.get('sources', {}).get(key, 'file')} (via {table.name})"
        elif base is not None:
            values[key], sources[key] = getattr(base, key), f"preset:{preset_name}"
        else:
            flag = "--um-per-px" if key == "um_per_px" else "--fps"
            raise UsageError(f"{what} needs {key}: pass {flag} or a preset (--preset visem)")
    try:
        return Calibration(**values, sources=sources)
    except CalibrationError as e:
        raise UsageError(str(e)) from None


def _meta_path(table: Path) -> Path:
    """The sidecar that carries a table's calibration to the next stage: ``det.parquet.json``."""
    return table.with_name(table.name + ".json")


def _read_meta(table: Path) -> dict:
    import json

    meta = _meta_path(table)
    if not meta.is_file():
        return {}
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise FormatError(meta, f"expected the JSON that spermlab wrote beside {table.name}: {e}") from None


def _check_out(out: Path) -> None:
    """Refuse a table path spermlab cannot write, before any work."""
    if out.suffix not in (".csv", ".parquet"):
        raise typer.BadParameter(f"expected a .csv or .parquet file, got {out.name!r}", param_hint="--out")
    if out.is_dir():
        raise typer.BadParameter(f"{out} is a folder; expected a table file name", param_hint="--out")


def _read(path: Path, schema, name: str) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    from spermlab.io.load import read_table_file

    table = read_table_file(path)
    if schema is KINEMATICS:
        from spermlab.io.results import with_flagellum

        table = with_flagellum(table)
    return validate(table, schema, name=str(path), extra="keep")[list(schema)]


def _write(table: pd.DataFrame, out: Path, cal: Optional[Calibration] = None) -> None:
    from spermlab.io.atomic import write_json, write_table

    _check_out(out)
    write_table(table, out.with_suffix(""), formats=(out.suffix[1:],))
    if cal is not None:
        write_json(_meta_path(out), {"calibration": cal.to_dict()})


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
    from spermlab.run import check_detector, make_detector
    from spermlab.io.open import open_source
    from spermlab.pipeline import detect_frames

    check_detector(detector, detector_model, weights)
    _check_out(out)
    setup_logging(quiet)
    src = open_source(source, fps=fps)
    cal = _calibration(um_per_px, fps, preset_name, "detect", file_fps=src.fps)
    det = make_detector(detector, cal, weights, detector_model)
    frames = progress_iter(src, total=src.n_frames, label="detecting", quiet=quiet)
    parts = [d for _, d in detect_frames({"detector": det}, frames) if len(d)]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(DETECTIONS))
    _write(validate(table, DETECTIONS), out, cal)
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
    _check_out(out)
    det = _read(detections, DETECTIONS, "Detections")
    cal = _calibration(um_per_px, fps, preset_name, "track", table=detections)
    n_frames = int(det["frame"].max()) + 1 if len(det) else 0
    tracks = link(det, cal, n_frames=n_frames)
    _write(tracks, out, cal)
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
    _check_out(out)
    t = _read(tracks, TRACKS, "Tracks")
    dup = t.duplicated(["track_id", "frame"], keep=False)
    if dup.any():
        rows = (dup[dup].index[:2] + 2).tolist()  # 1-based lines after the header
        first = t.loc[dup].iloc[0]
        raise FormatError(tracks, f"expected one row per track and frame, got track "
                                  f"{int(first['track_id'])} twice in frame {int(first['frame'])} "
                                  f"(lines {rows[0]} and {rows[1]})", line_no=rows[1])  # fmt: skip
    cal = _calibration(um_per_px, fps, preset_name, "measure", table=tracks)
    t = t[t["cls"] == 0].reset_index(drop=True)
    if drift:
        t = subtract_drift(t, estimate_drift(t, cal.fps))
    kin = measure_tracks(t, cal)
    _write(kin, out, cal)
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
    _check_out(out)
    table = _read(kinematics, KINEMATICS, "Kinematics")
    table = table.assign(grade=table["grade"].fillna("").astype(str).astype(object))
    graded = grade_tracks(table)
    _write(graded, out)
    n = len(graded)
    pct = {g: (100.0 * float((graded["grade"] == g).sum()) / n if n else float("nan")) for g in GRADES}
    if json_out:
        emit_json({"n_graded": n, "percentages": pct})
    else:
        if n == 0:
            typer.echo("no track to grade (n = 0): the table is empty, so there are no percentages")
        else:
            typer.echo("  ".join(f"{g}: {v:.1f} %" for g, v in pct.items()) + f"  (n = {n})")
