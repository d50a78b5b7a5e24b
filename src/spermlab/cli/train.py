"""``spermlab train detector``: teach SpermNet a microscope from annotated frames."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import typer

from spermlab.cli._app import JsonOption, QuietOption, app, emit_json, setup_logging, stderr

train_app = typer.Typer(help="Train spermlab's learned detector (extra: spermlab[train]).",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(train_app, name="train")
log = logging.getLogger("spermlab.cli")


@train_app.command("detector")
def detector(
    annotated: list[str] = typer.Argument(..., help="Annotated sources: VISEM-Tracking or YOLO folders (images/ + labels/), videos with Pascal VOC files beside them, or VIDEO:VOC_FOLDER."),
    out: Path = typer.Option(..., "--out", "-o", help="The model file to write (.onnx)."),
    simulate: int = typer.Option(40, "--simulate", help="Simulated videos (randomised look, 8 frames each) added as one more source; 0 for none."),
    steps: int = typer.Option(6000, help="Optimiser steps (batches of 16 crops of 192 px); 6000: the shipped model."),
    minutes: Optional[float] = typer.Option(None, help="Stop after this many minutes."),
    seed: int = typer.Option(0, help="Random seed."),
    threads: int = typer.Option(2, help="CPU threads for PyTorch."),
    verifier: bool = typer.Option(True, "--verifier/--no-verifier", help="Also train the patch verifier of the candidates (spermlab.detect.learned.verifier) and store it in the model."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Train a SpermNet detector and write it as one .onnx file (runs without torch).

    Every source is sampled with the same weight. The score threshold is learned on the
    training frames and stored in the model, with a patch verifier of the candidates trained
    on the same frames (needs scikit-learn, in the train extra). Use the result with
    `spermlab analyze VIDEO --detector-model MODEL.onnx`.

    Example: spermlab train detector ../shared/data/visem_tracking/11 my_clip.mp4:voc/ --out lab.onnx
    """
    from spermlab.detect.learned.annotated import from_simulation, load_annotated
    from spermlab.detect.learned.net import require_torch
    from spermlab.detect.learned.spermnet import read_metadata
    from spermlab.detect.learned.train_spermnet import TrainConfig, train_spermnet

    setup_logging(quiet)
    require_torch()
    if out.suffix.lower() != ".onnx":
        raise typer.BadParameter(f"expected a .onnx file name, got {out}", param_hint="--out")
    frames, sources = [], []
    for spec in annotated:
        got = load_annotated(spec)
        name = f"{len(sources)}:{Path(spec.split(':')[0]).name}"
        for f in got:
            f.source = name
        frames += got
        sources.append({"input": spec, "frames": len(got), "heads": int(sum(len(f.boxes) for f in got))})
        log.info("%s: %d frames, %d heads", spec, len(got), sources[-1]["heads"])
    if simulate > 0:
        sim = from_simulation(simulate, 8, seed=1000 + seed)
        for f in sim:
            f.source = "simulated"
        frames += sim
        sources.append({"input": f"simulated x{simulate}", "frames": len(sim),
                        "heads": int(sum(len(f.boxes) for f in sim))})  # fmt: skip
    cfg = TrainConfig(steps=steps, minutes=minutes, seed=seed, threads=threads)
    description = {"sources": sources, "command": "spermlab train detector " + " ".join(annotated)}
    if quiet:
        train_spermnet(frames, out, cfg, description=description)
    else:
        from rich.progress import Progress

        with Progress(console=stderr, transient=True) as bar:
            task = bar.add_task("training", total=steps)
            train_spermnet(frames, out, cfg, description=description,
                           progress=lambda k, n, loss: bar.update(task, completed=k))  # fmt: skip
    verified = None
    if verifier:
        from spermlab.detect.learned.verifier import add_verifier

        try:
            verified = add_verifier(out, frames)
        except ValueError as exc:  # e.g. a very short run whose candidates are all heads
            log.warning("no verifier: %s", exc)
    meta = read_metadata(out)  # read back from the file written
    threshold = float(meta["spermlab_threshold"])
    f1 = json.loads(meta["spermlab_training"]).get("threshold_f1_on_training_frames")
    info = {"model": str(out), "threshold": threshold, "sources": sources,
            "threshold_f1_on_training_frames": f1, "verifier": verified}
    if json_out:
        emit_json(info)
    else:
        typer.echo(f"model: {out} (threshold {threshold:.3f}, training-frame F1 {f1}"
                   + (f"; verifier keeps p >= {verified['keep_threshold']:.2f}" if verified else "") + ")")
