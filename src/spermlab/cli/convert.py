"""``spermlab convert``: between VISEM-Tracking, MOTChallenge, COCO and spermlab tables."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from spermlab.cli._app import JsonOption, QuietOption, app, emit_json, setup_logging

FORMATS = ("visem", "mot", "coco", "csv", "parquet")


def frame_size(source: Path, width: int | None, height: int | None) -> tuple[int, int]:
    """The frame size for normalised boxes: the flags, else what the source records (a
    results folder's summary.json, a VISEM-Tracking folder's images); never assumed."""
    import json

    if width is not None and height is not None:
        return width, height
    found = None
    if (source / "summary.json").is_file():
        inp = json.loads((source / "summary.json").read_text(encoding="utf-8")).get("input", {})
        if inp.get("width") and inp.get("height"):
            found = (int(inp["width"]), int(inp["height"]))
    elif (source / "images").is_dir():
        from spermlab.io.frames import IMAGE_SUFFIXES, pil_open

        first = next((f for f in sorted((source / "images").iterdir())
                      if f.suffix.lower() in IMAGE_SUFFIXES), None)  # fmt: skip
        if first is not None:
            with pil_open(first) as im:
                found = im.size
    if found is None:
        from spermlab.errors import UsageError

        raise UsageError(f"{source} does not record the frame size: pass --width and --height "
                         "(pixels) for normalised VISEM/COCO boxes")  # fmt: skip
    return (width or found[0], height or found[1])


@app.command()
def convert(
    source: Path = typer.Argument(..., help="VISEM folder, MOT .txt, COCO .json, .csv/.parquet or results folder."),
    to: str = typer.Option(..., "--to", help="visem, mot, coco, csv or parquet."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file (folder for --to visem)."),
    boxes: bool = typer.Option(False, "--boxes", help="Convert boxes only (no track ids)."),
    width: Optional[int] = typer.Option(None, help="Image width in px (VISEM, COCO); default: what the source records."),
    height: Optional[int] = typer.Option(None, help="Image height in px (VISEM, COCO); default: what the source records."),
    stem: str = typer.Option("", help="File-name prefix for --to visem (default: the source's name)."),
    json_out: bool = JsonOption,
    quiet: bool = QuietOption,
) -> None:
    """Convert boxes and tracks between layouts, losslessly to each format's precision.

    Examples:

      spermlab convert ../shared/data/visem_tracking/11 --to mot --out 11.txt

      spermlab convert 11.txt --to visem --out 11_visem --stem 11

      spermlab convert ../shared/data/visem_tracking/11 --boxes --to coco --out 11.json
    """
    from spermlab.io import coco, mot, visem
    from spermlab.io.atomic import write_table
    from spermlab.io.load import read_boxes

    setup_logging(quiet)
    if to not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}, got {to!r}", param_hint="--to")
    table = read_boxes(source, tracks=not boxes)
    span = range(int(table["frame"].min()), int(table["frame"].max()) + 1) if len(table) else range(0)
    n_frames = len(span)  # frame numbers are the source's own: from its first to its last
    if to in ("visem", "coco"):
        width, height = frame_size(source, width, height)
    if to == "visem":
        name = stem or source.stem
        if boxes:
            visem.write_visem_labels(table, out, stem=name, width=width, height=height, frames=span)
        else:
            visem.write_visem_tracks(table, out, stem=name, width=width, height=height, frames=span)
    elif to == "mot":
        if boxes:
            raise typer.BadParameter("MOTChallenge files hold tracks; drop --boxes", param_hint="--to")
        mot.write_mot(table, out, kind="gt")  # the 9-field layout keeps the class
    elif to == "coco":
        coco.write_coco(table, out, width=width, height=height, frames=span)
    else:
        write_table(table, out.with_suffix(""), formats=(to,))
    info = {"source": str(source), "to": to, "out": str(out), "rows": len(table), "frames": n_frames,
            "tracks": int(table["track_id"].nunique()) if "track_id" in table else None}  # fmt: skip
    if json_out:
        emit_json(info)
    else:
        typer.echo(f"wrote {info['rows']} boxes over {n_frames} frames to {out}")
