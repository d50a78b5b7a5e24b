"""Run a batch: every sample through :func:`spermlab.run.analyze_source`, locally or on Dask.

The coordinating process decides what runs (:meth:`Ledger.needs_run`), hands each sample to a
worker (a local process pool, or a Dask cluster: the same function, by path), and, as each
one finishes, records it in the ledger and the store. Workers only write their sample's
results folder, atomically; the ledger and the store are written by the coordinator alone,
so a killed worker, a killed batch or Ctrl-C leaves every finished sample recorded once and
no half-written result; a rerun finishes the job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spermlab.batch.inputs import Sample
from spermlab.batch.ledger import Ledger, finished_row, input_hash
from spermlab.batch.store import update_store

__all__ = ["BatchResult", "ProgressFile", "analyze_one", "run_batch"]

log = logging.getLogger("spermlab.batch")

SAMPLES = "samples"


@dataclass
class BatchResult:
    """What a batch did: the samples it ran, skipped and lost, and their ledger rows."""

    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"done": self.done, "failed": self.failed, "skipped": self.skipped,
                "seconds": self.seconds}  # fmt: skip


def analyze_one(path: str, out: str, cal_args: dict[str, Any], options: dict[str, Any],
                progress_file: str | None = None) -> dict[str, Any]:
    """Analyse one sample into its results folder; report, never raise (the batch goes on).

    Runs in a worker (a local process or a Dask worker): only ``out`` is written, atomically.
    With ``progress_file``, the frames done so far are written there as JSON
    (:class:`ProgressFile`), for a watcher in another process (``spermlab serve``'s queue).
    """
    from spermlab.run import analyze_source

    t0 = time.perf_counter()
    progress = ProgressFile(progress_file) if progress_file else None
    try:
        analyze_source(Path(path), Path(out), cal_args, **options, progress=progress)
    except Exception as e:  # one bad sample is reported in the ledger; the rest go on
        msg = str(e) if str(e) else type(e).__name__
        return {"state": "failed", "error": f"{type(e).__name__}: {msg}",
                "seconds": time.perf_counter() - t0}  # fmt: skip
    return {"state": "done", "error": None, "seconds": time.perf_counter() - t0}


class ProgressFile:
    """A progress wrapper for :func:`spermlab.run.analyze_source` that writes a JSON file.

    ``{"label": "analysing", "done": 120, "total": 752, "updated": <epoch s>}``, replaced
    atomically at most every ``every_s`` seconds and at the end of each stage, so another
    process can show a live progress bar by reading it.
    """

    def __init__(self, path: str | Path, *, every_s: float = 0.3) -> None:
        self.path, self.every_s = Path(path), every_s

    def __call__(self, items, total: int | None, label: str):
        from spermlab.io.atomic import write_json

        last = 0.0
        done = 0
        write_json(self.path, {"label": label, "done": 0, "total": total, "updated": time.time()})
        for item in items:
            yield item
            done += 1
            now = time.monotonic()
            if now - last >= self.every_s:
                last = now
                write_json(self.path, {"label": label, "done": done, "total": total,
                                       "updated": time.time()})  # fmt: skip
        write_json(self.path, {"label": label, "done": done, "total": total, "updated": time.time()})


def run_batch(
    samples: list[Sample],
    out: str | Path,
    *,
    cal_args: dict[str, Any],
    options: dict[str, Any] | None = None,
    workers: int | None = None,
    dask: str | None = None,
    retry_failed: bool = False,
    force: bool = False,
    on_done: Callable[[str, dict[str, Any]], None] | None = None,
    progress_dir: str | Path | None = None,
) -> BatchResult:
    """Run every sample that needs it; record each in the ledger and the store as it ends.

    Parameters
    ----------
    samples : list of Sample
        From :func:`spermlab.batch.collect_samples`.
    out : str or Path
        The batch folder: ``samples/<id>/``, ``ledger.json``, ``spermlab.duckdb``, ``summary.csv``.
    cal_args : dict
        ``um_per_px``, ``fps``, ``depth_um``, ``preset_name`` for every sample (a sample's
        manifest overrides win).
    options : dict
        Keyword arguments of :func:`spermlab.run.analyze_source` (``detector``, ``drift``,
        ``report``...), for every sample.
    workers : int, optional
        Local worker processes (default: the number of CPUs), or Dask workers of ``"local"``.
    dask : str, optional
        ``"local"`` starts a Dask LocalCluster; ``"tcp://host:port"`` uses a running scheduler
        (workers read inputs by path: a shared file system). None: a local process pool.
    retry_failed, force : bool
        Rerun failed samples; rerun every sample.
    on_done : callable, optional
        Called with (sample id, ledger row) after each sample (progress).
    progress_dir : str or Path, optional
        Each worker writes its sample's frame progress to ``<progress_dir>/<id>.json``
        (:class:`ProgressFile`); the file is removed when the sample is recorded.

    Returns
    -------
    BatchResult
    """
    import os

    from spermlab.io.staging import output_lock

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / SAMPLES).mkdir(exist_ok=True)
    options = dict(options or {})
    result = BatchResult()
    t0 = time.perf_counter()
    with output_lock(out, option="--out"):
        ledger = Ledger(out)
        _heal_store(out, ledger)
        todo = []
        for s in samples:
            h = input_hash(s.path)
            if ledger.needs_run(s.sample_id, h, retry_failed=retry_failed, force=force):
                todo.append((s, h))
            else:
                result.skipped.append(s.sample_id)
                if ledger.rows[s.sample_id]["state"] == "failed":
                    result.failed[s.sample_id] = ledger.rows[s.sample_id]["error"]
        pdir = Path(progress_dir) if progress_dir is not None else None
        if pdir is not None:
            pdir.mkdir(parents=True, exist_ok=True)
        jobs = {s.sample_id: (s, h, *_job(s, out, cal_args, options), out / SAMPLES / s.sample_id,
                              None if pdir is None else str(pdir / f"{s.sample_id}.json"))
                for s, h in todo}  # fmt: skip
        n = workers or os.cpu_count() or 1
        runner = _dask if dask else _local
        for sid, res in runner(jobs, n, dask):
            s, h = jobs[sid][:2]
            row = finished_row(state=res["state"], path=str(s.path), sha256=h, error=res["error"],
                               seconds=res["seconds"])  # fmt: skip
            # the store first, then the ledger: a kill in between reruns the sample, which
            # replaces its rows; the ledger never says done for a sample the store lacks
            update_store(out, sid, row, out / SAMPLES / sid if res["state"] == "done" else None)
            ledger.record(sid, row)
            if pdir is not None:
                (pdir / f"{sid}.json").unlink(missing_ok=True)
            if res["state"] == "done":
                result.done.append(sid)
                result.failed.pop(sid, None)
            else:
                result.failed[sid] = res["error"]
            if on_done is not None:
                on_done(sid, ledger.rows[sid])
    result.seconds = time.perf_counter() - t0
    return result


def _heal_store(out: Path, ledger: Ledger) -> None:
    """Put back in the store any sample the ledger has but the store lacks (a store file that
    was deleted or replaced by hand): the ledger and the results folders are the truth."""
    from spermlab.batch.store import STORE, query

    have: set[str] = set()
    if (out / STORE).is_file():
        have = set(query(out, "SELECT sample_id FROM samples")["sample_id"])
    for sid, row in ledger.rows.items():
        if sid not in have:
            done = row["state"] == "done" and (out / SAMPLES / sid / "summary.json").is_file()
            update_store(out, sid, row, out / SAMPLES / sid if done else None)


def _job(s: Sample, out: Path, cal_args: dict, options: dict) -> tuple[dict, dict]:
    cal = dict(cal_args)
    for key in ("um_per_px", "fps", "depth_um"):
        if key in s.overrides:
            cal[key] = s.overrides[key]
    opts = {**options, **({"detector": s.overrides["detector"]} if "detector" in s.overrides else {})}
    return cal, opts


def _local(jobs: dict, n: int, _dask: str | None) -> Iterator[tuple[str, dict]]:
    """A process pool (spawned workers: safe with onnxruntime's threads)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    if not jobs:
        return
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(n, len(jobs)), mp_context=ctx)
    try:
        futures = {pool.submit(analyze_one, str(s.path), str(dest), cal, opts, prog): sid
                   for sid, (s, _h, cal, opts, dest, prog) in jobs.items()}  # fmt: skip
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # Ctrl-C: running samples finish or vanish
        raise
    pool.shutdown(wait=True)


def _dask(jobs: dict, n: int, address: str | None) -> Iterator[tuple[str, dict]]:
    """The same jobs on Dask: a LocalCluster (``"local"``) or a running scheduler."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as e:
        raise ImportError("--dask and --scheduler need Dask: pip install 'spermlab[dask]'") from e
    if not jobs:
        return
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=None) if address == "local" else None  # fmt: skip
    client = Client(cluster if cluster is not None else address)
    try:
        futures = {client.submit(analyze_one, str(s.path), str(dest), cal, opts, prog,
                                 key=f"spermlab-{sid}-{time.time_ns()}", pure=False): sid
                   for sid, (s, _h, cal, opts, dest, prog) in jobs.items()}  # fmt: skip
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
