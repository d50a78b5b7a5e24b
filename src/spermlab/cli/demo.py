"""``spermlab demo``: simulate a VISEM-like sample with known truth, analyse it, compare."""

from __future__ import annotations

from pathlib import Path

import typer

from spermlab.cli._app import JsonOption, QuietOption, app, emit_json, setup_logging

_GRADE_KEYS = [("a", "rapid"), ("b", "slow"), ("c", "non_progressive"), ("d", "immotile")]


@app.command()
def demo(
    out: Path = typer.Option(Path("demo_out"), "--out", "-o", help="Folder for the sample and results."),
    seed: int = typer.Option(2021, help="Random seed of the simulated sample."),
    duration: float = typer.Option(10.0, help="Length of the simulated video, s."),
    concentration: float = typer.Option(60.0, help="Simulated concentration, 10^6/mL."),
    mix: str = typer.Option("0.30,0.15,0.10,0.45", help="Simulated fractions a,b,c,d."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Simulate a sample with exact ground truth, analyse its MP4, print both side by side.

    Example: spermlab demo --out demo_out --seed 1
    """
    from spermlab.cli._app import progress_iter
    from spermlab.cli.analyze import human_summary, print_findings, run_analysis
    from spermlab.simulate import SimulationConfig, simulate, truth_percentages, write_simulation

    setup_logging(quiet)
    try:
        fractions = tuple(float(v) for v in mix.split(","))
    except ValueError:
        raise typer.BadParameter(f"expected four numbers a,b,c,d, got {mix!r}", param_hint="--mix") from None
    config = SimulationConfig(duration_s=duration, concentration=concentration, mix=fractions)
    sim = simulate(config, rng=seed)
    files = write_simulation(sim, out, stem="sample",
                             progress=lambda it: progress_iter(it, total=sim.n_frames,
                                                               label="simulating", quiet=quiet))  # fmt: skip
    cal = config.calibration
    cal_args = dict(um_per_px=cal.um_per_px, fps=None, depth_um=cal.chamber_depth_um, preset_name=None)
    result = run_analysis(files.video, out / "results", cal_args, drift=True, quiet=quiet,
                          report=True)  # fmt: skip
    summary = result.summary.to_dict()
    truth = truth_percentages(sim.cells, min_points=result.summary.parameters["kinematics"]["min_points"])
    truth["concentration"] = config.concentration
    if json_out:
        emit_json({"summary": summary, "truth": truth, "files": files.to_dict()})
        return
    print_findings(summary)
    typer.echo(human_summary(summary))
    typer.echo("\n                        spermlab   simulated truth")
    for g, key in _GRADE_KEYS:
        typer.echo(f"  {g} {key:<20} {summary['percentages'][key]:6.1f} %   {truth[key]:6.1f} %")
    conc = summary["concentration_m_per_ml"]
    typer.echo(f"  concentration          {conc:6.1f}     {truth['concentration']:6.1f}  x10^6/mL")
    typer.echo(f"sample: {files.video}\nresults: {out / 'results'}/ (open report.html in a browser)")
    typer.echo(f"web app: spermlab serve --data {out}  (needs spermlab[web]; then open "
               "http://127.0.0.1:8000 in a browser)")
