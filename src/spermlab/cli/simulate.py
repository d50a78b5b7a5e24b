"""``spermlab simulate``: a synthetic recording with exact ground truth."""

from __future__ import annotations

from pathlib import Path

import typer

from spermlab.cli._app import JsonOption, QuietOption, app, emit_json, progress_iter, setup_logging


def _parse_mix(text: str) -> tuple[float, float, float, float]:
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise typer.BadParameter(
            f"expected 4 numbers a,b,c,d, got {text!r}", param_hint="--mix"
        ) from None
    if len(values) != 4:
        raise typer.BadParameter(
            f"expected 4 numbers a,b,c,d, got {len(values)}", param_hint="--mix"
        )
    total = sum(values)
    if total > 1.5:  # given in percent
        values = tuple(v / 100.0 for v in values)
    return values  # type: ignore[return-value]


@app.command()
def simulate(
    out: Path = typer.Option(  # noqa: B008 - Typer's declaration style
        ..., "--out", "-o", help="Output folder; the recording goes to OUT/STEM/."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives identical files."),
    duration: float = typer.Option(5.0, "--duration", help="Length in seconds."),
    concentration: float = typer.Option(
        60.0, "--concentration", help="Sperm concentration, 10^6/mL."
    ),
    mix: str = typer.Option(
        "0.30,0.15,0.10,0.45",
        "--mix",
        help="Fractions (or percentages) of WHO grades a,b,c,d: "
        "rapid, slow, non-progressive, immotile.",
    ),
    um_per_px: float | None = typer.Option(
        None, "--um-per-px", help="Micrometres per pixel [default: 0.2475, the VISEM optics]."
    ),
    fps: float | None = typer.Option(None, "--fps", help="Frames per second [default: 50]."),
    depth: float | None = typer.Option(
        None, "--depth", help="Chamber depth in µm, for the cell count [default: 20]."
    ),
    look: str = typer.Option(
        "phase", "--look", help="phase (VISEM-like) or brightfield (SVIA-like)."
    ),
    drift: str = typer.Option("0,0", "--drift", help="Fluid drift x,y in µm/s."),
    crossings: int = typer.Option(
        0, "--crossings", help="Pairs of progressive cells made to cross."
    ),
    stem: str = typer.Option("sim", "--stem", help="Recording name, used in file names."),
    video: bool = typer.Option(True, "--video/--no-video", help="Write STEM.mp4 (H.264)."),
    frames: bool = typer.Option(
        False, "--frames/--no-frames", help="Write images/STEM_frame_<n>.jpg."
    ),
    tables: str = typer.Option("csv", "--tables", help="Truth table format: csv or parquet."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Simulate a sperm recording and write it with exact labels and truth tables.

    Writes OUT/STEM/ in the VISEM-Tracking layout (labels/, labels_ftid/, and images/
    with --frames), STEM.mp4, truth_cells.csv (grade, VCL, VSL, VAP, ALH, BCF per cell),
    truth_frames.csv (the path of every cell) and simulation.json.

    Examples:

      spermlab simulate --out sim --seed 1 --duration 2

      spermlab simulate --out sim --seed 7 --concentration 97 --mix 5,6,17,72 --frames

      spermlab simulate --out sim --look brightfield --no-video --frames --json
    """
    from spermlab.simulate import LOOKS, SimulationConfig, default_calibration, write_simulation
    from spermlab.simulate import simulate as run_simulation

    setup_logging(quiet)
    if look not in LOOKS:
        raise typer.BadParameter(
            f"expected one of {', '.join(LOOKS)}, got {look!r}", param_hint="--look"
        )
    if tables not in ("csv", "parquet"):
        raise typer.BadParameter(f"expected csv or parquet, got {tables!r}", param_hint="--tables")
    try:
        drift_xy = tuple(float(v) for v in drift.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"expected two numbers x,y, got {drift!r}", param_hint="--drift"
        ) from None
    cal = default_calibration().with_values(
        source="user", um_per_px=um_per_px, fps=fps, chamber_depth_um=depth
    )
    config = SimulationConfig(
        duration_s=duration,
        calibration=cal,
        concentration=concentration,
        mix=_parse_mix(mix),
        drift_um_s=drift_xy,
        look=look,
        crossings=crossings,  # type: ignore[arg-type]
    )
    sim = run_simulation(config, rng=seed)

    def bar(it):  # noqa: ANN001, ANN202 - a thin wrapper over the shared progress bar
        return progress_iter(it, total=sim.n_frames, label="rendering", quiet=quiet)

    files = write_simulation(
        sim, out, video=video, frames=frames, stem=stem, tables=tables, progress=bar
    )
    summary = sim.to_dict()
    info = {
        "out": str(files.root),
        "files": files.to_dict(),
        "seed": seed,
        "n_frames": sim.n_frames,
        "n_cells": summary["n_cells"],
        "grade_counts": summary["grade_counts"],
        "expected_in_field": round(summary["expected_in_field"], 3),
        "mean_in_field": round(summary["mean_in_field"], 3),
        "crossings": summary["crossings"],
        "n_boxes": summary["n_boxes"],
    }
    if json_out:
        emit_json(info)
        return
    g = summary["grade_counts"]
    typer.echo(
        f"wrote {sim.n_frames} frames ({duration:g} s at {sim.fps:g} fps) to {files.root}: "
        f"{summary['n_cells']} cells (a {g['a']}, b {g['b']}, c {g['c']}, d {g['d']} swimmers), "
        f"{summary['mean_in_field']:.1f} in the field on average "
        f"(expected {summary['expected_in_field']:.1f})"
    )
