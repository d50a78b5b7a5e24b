"""The Typer application, shared options, logging and error-to-exit-code handling."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from spermlab.calibration import CalibrationError
from spermlab.errors import FormatError, UsageError

T = TypeVar("T")

EPILOG = """Examples:

  spermlab demo                                  simulate a sample and analyse it

  spermlab simulate --out sim --seed 1 --duration 2

  spermlab convert visem ../shared/data/visem_tracking/11 --to mot --out 11_mot.txt

  spermlab doctor --json
"""

app = typer.Typer(
    name="spermlab",
    help="Computer-assisted sperm analysis (CASA) for phase-contrast microscopy videos.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

stderr = Console(stderr=True)
log = logging.getLogger("spermlab")

QuietOption = typer.Option(False, "--quiet", "-q", help="Only warnings and errors on stderr.")
JsonOption = typer.Option(False, "--json", help="Print the result as JSON on stdout.")


def setup_logging(quiet: bool) -> None:
    """Send spermlab's log to stderr (the library itself configures nothing)."""
    root = logging.getLogger("spermlab")
    root.handlers[:] = [RichHandler(console=stderr, show_path=False, show_time=False)]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    root.propagate = False


def progress_iter(items: Iterable[T], *, total: int | None, label: str, quiet: bool) -> Iterator[T]:
    """Iterate with a rich progress bar on stderr unless ``quiet``."""
    if quiet:
        yield from items
        return
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=total)
        for item in items:
            yield item
            bar.advance(task)


def emit_json(data: Any) -> None:
    """Write ``data`` as indented, strictly valid JSON on stdout (NaN and infinity as null)."""
    sys.stdout.write(json.dumps(_finite(data), indent=2, default=str, allow_nan=False) + "\n")


def _finite(obj: Any) -> Any:
    import math

    import numpy as np

    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def table_cell(v: Any) -> str:
    """A table cell: integers as integers, 4 significant digits, an em dash for missing."""
    import pandas as pd

    if v is None or (pd.api.types.is_scalar(v) and pd.isna(v)):
        return "—"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e9:
        return str(int(v))
    return f"{v:.4g}" if isinstance(v, float) else str(v)



class Failed(Exception):
    """A CLI-level failure: message printed, exit code 1."""


def run(argv: list[str]) -> int:
    """Run the app, turning spermlab's errors into messages and exit codes 0/1/2.

    Usage errors are Typer's own (exit 2); bad input and failed analyses exit 1 with a
    one-paragraph message naming the file, line and expectation.
    """
    from rich.markup import escape

    try:
        app(args=argv, prog_name="spermlab", standalone_mode=True)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except UsageError as e:
        stderr.print(f"[bold red]error:[/] {escape(str(e))}", markup=True, highlight=False,
                     soft_wrap=True)  # fmt: skip
        return 2
    except (FormatError, CalibrationError, OSError, Failed, ValueError, ImportError) as e:
        stderr.print(f"[bold red]error:[/] {escape(_message(e))}", markup=True, highlight=False,
                     soft_wrap=True)  # fmt: skip
        return 1
    return 0


def _message(e: BaseException) -> str:
    """The error's message; an OS error as "PATH: what went wrong", not a bare [Errno 2]."""
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror.lower()}"
    return str(e)


def _version(value: bool) -> None:
    if value:
        from spermlab import __version__

        typer.echo(f"spermlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Computer-assisted sperm analysis (CASA) for phase-contrast microscopy videos."""


DETECTORS = ("spermnet", "classical", "yolo")
DETECTOR_HELP = ("spermnet (default: the learned model shipped with spermlab, or --detector-model), "
                 "classical (hand-set rules, no model) or yolo (the shipped YOLO11n in onnxruntime, "
                 "or --weights FILE.onnx; FILE.pt needs spermlab[yolo]).")
