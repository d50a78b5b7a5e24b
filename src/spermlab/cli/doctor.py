"""``spermlab doctor``: versions, optional extras and video codecs of this installation."""

from __future__ import annotations

import importlib
import platform
import sys

import typer

from spermlab.cli._app import JsonOption, QuietOption, app, emit_json, setup_logging

_CORE = ["numpy", "pandas", "pyarrow", "scipy", "av", "PIL", "typer", "rich", "jinja2", "matplotlib",
         "onnxruntime", "duckdb"]  # fmt: skip
_EXTRAS = {
    "yolo": ["ultralytics", "torch", "torchvision"],
    "train": ["torch", "onnx", "sklearn"],
    "deep": ["torch", "torchvision", "cv2"],
    "web": ["fastapi", "uvicorn", "python_multipart"],
    "ml": ["sklearn"],
    "dask": ["dask", "distributed"],
    "test": ["pytest", "hypothesis", "pycocotools", "trackpy", "trackeval"],
}
_CODECS = ["h264", "mpeg4", "mjpeg", "hevc", "libx264", "rawvideo", "png"]


def _version(module: str) -> str | None:
    try:
        mod = importlib.import_module(module)
    except Exception:
        return None
    return str(getattr(mod, "__version__", "installed"))


def collect() -> dict:
    """Everything ``doctor`` reports, as a dict."""
    import av

    from spermlab import __version__

    codecs = {}
    for name in _CODECS:
        entry = {}
        for mode in ("r", "w"):
            try:
                av.codec.Codec(name, mode)
                entry["decode" if mode == "r" else "encode"] = True
            except Exception:
                entry["decode" if mode == "r" else "encode"] = False
        codecs[name] = entry
    return {
        "spermlab": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "core": {m: _version(m) for m in _CORE},
        "extras": {
            extra: {m: _version(m) for m in mods} for extra, mods in _EXTRAS.items()
        },
        "ffmpeg": ".".join(map(str, av.library_versions.get("libavcodec", ()))),
        "codecs": codecs,
    }


@app.command()
def doctor(json_out: bool = JsonOption, quiet: bool = QuietOption) -> None:
    """Check this installation: versions, optional extras, video codecs.

    Example: spermlab doctor --json
    """
    setup_logging(quiet)
    info = collect()
    if json_out:
        emit_json(info)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"spermlab {info['spermlab']} (python {info['python']})")
    table.add_column("component")
    table.add_column("version / status")
    for name, ver in info["core"].items():
        table.add_row(name, ver or "[red]MISSING[/]")
    for extra, mods in info["extras"].items():
        for name, ver in mods.items():
            hint = f"not installed (pip install 'spermlab[{extra}]')"
            table.add_row(escape(f"{name} [{extra}]"), escape(ver or hint))
    table.add_row("libavcodec", info["ffmpeg"])
    for name, c in info["codecs"].items():
        table.add_row(f"codec {name}", f"decode={c['decode']} encode={c['encode']}")
    Console().print(table)
    missing = [m for m, v in info["core"].items() if v is None]
    if missing:
        raise typer.Exit(1)
