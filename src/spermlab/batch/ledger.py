"""The batch ledger: each sample's state, its input's hash and its error, rewritten atomically.

``OUT/ledger.json`` maps sample id to ``{"state": "done" | "failed", "path", "sha256",
"error", "seconds", "finished_at"}``. Only the coordinating process writes it, after each
sample, with an atomic replace: a killed batch leaves the ledger of every sample finished
so far, and a rerun skips them (:meth:`Ledger.needs_run`).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from spermlab.io.atomic import write_json

__all__ = ["LEDGER", "Ledger", "finished_row", "input_hash"]

LEDGER = "ledger.json"


def input_hash(path: str | Path) -> str | None:
    """SHA-256 of a video file, or of a frame folder (every file's name and bytes, in order);
    ``None`` when the input cannot be read (it will fail, and be reported)."""
    p = Path(path)
    h = hashlib.sha256()
    try:
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
        for f in files:
            if p.is_dir():
                h.update(str(f.relative_to(p)).encode())
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


class Ledger:
    """The states of a batch's samples (a JSON file, replaced atomically on every change)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LEDGER
        self.rows: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            self.rows = json.loads(self.path.read_text(encoding="utf-8"))

    def needs_run(self, sample_id: str, sha256: str | None, *, retry_failed: bool, force: bool) -> bool:
        """Whether a sample must (re)run: new, changed input, a retried failure, or forced."""
        row = self.rows.get(sample_id)
        if force or row is None or row.get("sha256") != sha256:
            return True
        return row["state"] == "failed" and retry_failed

    def record(self, sample_id: str, row: dict[str, Any]) -> None:
        """Record one sample (the commit point of a sample: written after its store rows)."""
        self.rows[sample_id] = dict(row)
        write_json(self.path, self.rows)


def finished_row(**row: Any) -> dict[str, Any]:
    """A ledger row stamped with the time it finished."""
    return {**row, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
