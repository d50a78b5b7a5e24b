"""``spermlab yolo dataset|train``: the learned detector's data export and training."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from spermlab.cli._app import JsonOption, QuietOption, app, emit_json, setup_logging

yolo_app = typer.Typer(help="Export VISEM-Tracking data for YOLO and train it (extra: spermlab[yolo]).",
                       no_args_is_help=True)  # fmt: skip
app.add_typer(yolo_app, name="yolo")


@yolo_app.command("dataset")
def dataset(
    folders: list[Path] = typer.Argument(..., help="VISEM-Tracking video folders."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder (data.yaml inside)."),
    val_fraction: float = typer.Option(0.2, help="Share of videos (or of one video's frames) held out."),
    val_start: Optional[int] = typer.Option(None, help="One video: first validation frame."),
    gap_s: float = typer.Option(1.0, help="One video: seconds between train and val, used by neither."),
    fps: float = typer.Option(50.0, help="Frame rate, to turn --gap-s into frames."),
    every: int = typer.Option(1, help="Keep every n-th training frame."),
    json_out: bool = JsonOption, quiet: bool = QuietOption,
) -> None:
    """Write an Ultralytics dataset, split by video (or by time blocks with a gap), images linked.

    Example: spermlab yolo dataset ../shared/data/visem_tracking/11 --val-start 800 --out ds
    """
    import json

    from spermlab.detect.learned.dataset import export_yolo_dataset

    setup_logging(quiet)
    data = export_yolo_dataset(folders, out, val_fraction=val_fraction, val_start=val_start,
                               gap_s=gap_s, fps=fps, every=every)  # fmt: skip
    split = json.loads((data.parent / "split.json").read_text())
    info = {"data": str(data), "rule": split["rule"],
            "train_frames": sum(map(len, split["train"].values())),
            "val_frames": sum(map(len, split["val"].values()))}  # fmt: skip
    if json_out:
        emit_json(info)
    else:
        typer.echo(f"{info['train_frames']} train / {info['val_frames']} val frames ({info['rule']})\n{data}")


@yolo_app.command("train")
def train(
    data: Path = typer.Argument(..., help="data.yaml written by `spermlab yolo dataset`."),
    out: Path = typer.Option(Path("runs/yolo"), "--out", "-o", help="Training folder."),
    model: str = typer.Option("yolo11n.yaml", help="Model yaml (random init), local .pt weights, or 'spermlab' (fine-tune the shipped model)."),
    epochs: int = typer.Option(100, help="Epochs (an upper bound with --hours)."),
    hours: Optional[float] = typer.Option(None, help="Train for this wall time instead."),
    imgsz: int = typer.Option(640, help="Image size; keep 640 for ~17 px heads."),
    batch: int = typer.Option(8, help="Images per batch."),
    device: Optional[str] = typer.Option(None, help="cpu or a CUDA device such as 0 (default: GPU if any)."),
    seed: int = typer.Option(0, help="Random seed."),
    patience: int = typer.Option(20, help="Early stopping: epochs without improvement."),
    no_val: bool = typer.Option(False, "--no-val", help="Validate only at the end; keep last.pt."),
    quiet: bool = QuietOption,
) -> None:
    """Train YOLO for sperm heads: offline, seeded, augmentations for tiny objects
    (spermlab.detect.learned.train.TRAIN_DEFAULTS).

    Example: spermlab yolo train ds/data.yaml --epochs 100 --device 0
    """
    from spermlab.detect.learned.train import train_yolo

    setup_logging(quiet)
    weights, trainer = train_yolo(data, out, model=model, epochs=epochs, hours=hours, imgsz=imgsz,
                                  batch=batch, device=device, seed=seed, patience=patience,
                                  val=not no_val, verbose=not quiet)  # fmt: skip
    typer.echo(f"weights: {weights} ({trainer.epoch + 1} epochs)")
