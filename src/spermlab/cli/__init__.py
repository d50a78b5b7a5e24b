"""The ``spermlab`` command line (Typer).

Exit codes: 0 ok, 1 failed (bad input, analysis error), 2 bad usage.
Logs go to stderr; data goes to stdout (``--json``) or to files.
"""

from __future__ import annotations

import sys

from spermlab.cli._app import app
from spermlab.cli import analyze, audit, batch, convert, demo, doctor, evaluate, predict, report, serve, simulate, stages, train, yolo  # noqa: F401  (registers the verbs)

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spermlab`` console script."""
    from spermlab.cli._app import run

    return run(argv if argv is not None else sys.argv[1:])
