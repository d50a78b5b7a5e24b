"""The web app's queue: analyses submitted from the page, run by the batch runner in worker processes.

One coordinating thread takes the submissions in order and hands each to
:func:`spermlab.batch.run_batch` (the same runner, ledger and DuckDB store as ``spermlab
batch``); the analyses themselves run in spawned worker processes, so the server's threads
only wait. Each worker writes its sample's frame progress to a small JSON file
(:class:`spermlab.batch.runner.ProgressFile`) that :meth:`JobQueue.status` reads: the page's
progress bars. Finished samples are read back from the ledger, so the queue page also lists
every sample analysed before the server started.

Each submitted file becomes a new sample with a new id (``name``, ``name-2``...): a second
analysis of the same file, with another calibration, never replaces the first.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spermlab.batch.inputs import Sample
from spermlab.batch.ledger import Ledger

__all__ = ["JobQueue", "Submission"]

log = logging.getLogger("spermlab.web")

PROGRESS = ".progress"


@dataclass(frozen=True)
class Submission:
    """Samples submitted together, with their calibration arguments and analysis options."""

    samples: list[Sample]
    cal_args: dict[str, Any]
    options: dict[str, Any]
    submitted_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))


class JobQueue:
    """Run submissions one after another in worker processes; report every sample's state.

    Parameters
    ----------
    study : Path
        The batch folder (``samples/<id>/``, ``ledger.json``, ``spermlab.duckdb``).
    workers : int, optional
        Worker processes per submission; default one less than the CPUs (at least 1).
    """

    def __init__(self, study: Path, *, workers: int | None = None) -> None:
        self.study = Path(study)
        self.progress_dir = self.study / PROGRESS
        self.workers = workers or max(1, (os.cpu_count() or 2) - 1)
        self._queue: queue.Queue[Submission | None] = queue.Queue()
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, Any]] = {}  # submitted, not yet in the ledger
        self._errors: dict[str, dict[str, Any]] = {}  # a submission the runner refused as a whole
        self._reserved: set[str] = set()  # ids handed out by new_ids
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    # -- submitting -------------------------------------------------------------------

    def new_ids(self, names: list[str]) -> list[str]:
        """Fresh sample ids for these names, reserved: never one of the ledger, the queue, a
        folder or an id handed out before (two submissions at once get different ids)."""
        with self._lock:
            taken = set(Ledger(self.study).rows) | set(self._pending) | set(self._errors) | self._reserved
            samples = self.study / "samples"
            if samples.is_dir():
                taken |= {p.name for p in samples.iterdir()}
            out = []
            for name in names:
                sid, n = name, 2
                while sid in taken:
                    sid, n = f"{name}-{n}", n + 1
                taken.add(sid)
                out.append(sid)
            self._reserved |= set(out)
        return out

    def submit(self, submission: Submission) -> list[str]:
        """Queue the samples of a submission; return their ids (the worker thread starts if needed)."""
        with self._lock:
            for s in submission.samples:
                self._pending[s.sample_id] = {"sample_id": s.sample_id, "path": str(s.path),
                                              "state": "queued", "submitted_at": submission.submitted_at}  # fmt: skip
            self._idle.clear()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="spermlab-jobs", daemon=True)
                self._thread.start()
        self._queue.put(submission)
        return [s.sample_id for s in submission.samples]

    # -- reporting --------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Every sample: queued and running ones first (in order), then the ledger's, newest first.

        Each row has ``sample_id``, ``path``, ``state`` (queued, running, done, failed),
        ``label`` (the stage: analysing, annotating), ``done`` and ``total`` frames,
        ``fraction`` (0-1), ``error`` and ``finished_at``.
        """
        with self._lock:
            pending = [dict(r) for r in self._pending.values()]
            errors = [dict(r) for r in self._errors.values()]
        rows = []
        for r in pending:
            prog = self._progress(r["sample_id"])
            if prog is not None:
                r.update(state="running", label=prog.get("label"), done=prog.get("done", 0),
                         total=prog.get("total"))  # fmt: skip
            rows.append(_with_fraction(r))
        ledger = Ledger(self.study).rows
        listed = {r["sample_id"] for r in rows}
        finished = [{"sample_id": sid, "path": row.get("path"), "state": row["state"],
                     "error": row.get("error"), "finished_at": row.get("finished_at"),
                     "seconds": row.get("seconds")}
                    for sid, row in ledger.items() if sid not in listed]  # fmt: skip
        finished += [e for e in errors if e["sample_id"] not in ledger]
        finished.sort(key=lambda r: r.get("finished_at") or "", reverse=True)
        return rows + [_with_fraction(r) for r in finished]

    def _progress(self, sample_id: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.progress_dir / f"{sample_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every submission has finished; False on timeout."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking submissions; queued ones are dropped, a running one finishes."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the coordinating thread ------------------------------------------------------

    def _loop(self) -> None:
        from spermlab.batch.runner import run_batch

        while True:
            sub = self._queue.get()
            if sub is None:
                return
            try:
                run_batch(sub.samples, self.study, cal_args=sub.cal_args, options=sub.options,
                          workers=min(self.workers, len(sub.samples)), on_done=self._done,
                          progress_dir=self.progress_dir)  # fmt: skip
            except Exception as e:  # the runner refused the whole submission (another writer...)
                log.error("analysis of %s failed: %s", [s.sample_id for s in sub.samples], e)
                with self._lock:
                    for s in sub.samples:
                        if self._pending.pop(s.sample_id, None) is not None:
                            self._errors[s.sample_id] = {
                                "sample_id": s.sample_id, "path": str(s.path), "state": "failed",
                                "error": f"{type(e).__name__}: {e}",
                                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}  # fmt: skip
            finally:
                with self._lock:
                    for s in sub.samples:  # each was recorded (on_done) or refused above
                        self._pending.pop(s.sample_id, None)
                    if self._queue.empty() and not self._pending:
                        self._idle.set()

    def _done(self, sample_id: str, row: dict[str, Any]) -> None:
        with self._lock:
            self._pending.pop(sample_id, None)


def _with_fraction(row: dict[str, Any]) -> dict[str, Any]:
    row.setdefault("label", None)
    row.setdefault("done", None)
    row.setdefault("total", None)
    row.setdefault("error", None)
    row.setdefault("finished_at", None)
    if row["state"] in ("done", "failed"):
        row["fraction"] = 1.0
    elif row["state"] == "running" and row.get("total"):
        row["fraction"] = min(1.0, (row.get("done") or 0) / row["total"])
    else:
        row["fraction"] = 0.0
    return row
