"""Output folders that are complete or absent: build beside, swap in whole, one writer at a time.

A run writes everything (tables, labels, summary, report, video) into a hidden sibling
``.<name>.partial-<pid>`` of its output folder. Only when all of it is written is the
sibling renamed to the output folder (the previous result, if any, is moved aside first
and deleted after), so a reader sees the old complete result, the new complete result,
or nothing; a failed or killed run leaves only the hidden partial folder, which has no
``summary.json`` and is removed by the next run. ``os.rename`` of a folder is atomic
within one file system, which a sibling guarantees.

A lock file ``.<name>.lock`` beside the folder (created with ``O_EXCL``, holding the
writer's process id) refuses a second run into the same folder while the first is
alive; a lock left by a dead process is taken over.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

from spermlab.errors import OutputError

__all__ = ["RESULT_NAMES", "check_output_folder", "output_lock", "staged_folder"]

#: Names a spermlab results folder may hold; a folder with anything else is not replaced.
RESULT_NAMES = frozenset({
    "summary.json", "detections.csv", "detections.parquet", "tracks.csv", "tracks.parquet",
    "kinematics.csv", "kinematics.parquet", "drift.csv", "labels", "labels_ftid", "mot.txt",
    "report.html", "annotated.mp4",
})  # fmt: skip


def check_output_folder(out: str | PathLike[str], *, option: str = "--out") -> Path:
    """Refuse, before any work, an output that cannot become a results folder.

    Accepted: a path that does not exist (its parent is created), an empty folder, or a
    previous spermlab results folder (replaced whole when the new run completes).

    Raises
    ------
    OutputError
        When ``out`` is a file, a folder holding files spermlab did not write, or in a
        place that cannot be written; the message names ``option``.
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {path}: is a file; expected a folder for the results "
                          "(a new name, or an earlier results folder to replace)")
    if path.is_dir():
        foreign = sorted(p.name for p in path.iterdir() if p.name not in RESULT_NAMES)
        if foreign:
            raise OutputError(
                f"{option} {path}: holds files spermlab did not write ({', '.join(foreign[:5])}"
                f"{', ...' if len(foreign) > 5 else ''}); choose an empty or new folder, so "
                "nothing of yours is replaced")  # fmt: skip
    for p in path.absolute().parents:
        if p.exists() and not p.is_dir():
            raise OutputError(f"{option} {path}: {p} is a file, so no folder can be made inside it")
    parent = _existing_parent(path.absolute())
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: cannot write in {parent} (permission denied)")
    return path


@contextlib.contextmanager
def staged_folder(out: str | PathLike[str], *, option: str = "--out") -> Iterator[Path]:
    """Yield a hidden sibling folder to write into; swap it in as ``out`` on success.

    Raises
    ------
    OutputError
        When ``out`` is not acceptable (:func:`check_output_folder`) or another run holds
        its lock.
    """
    out = check_output_folder(out, option=option)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _lock(out, option):
        for stale in out.parent.glob(f".{out.name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)  # a killed run's leftovers
        tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
        tmp.mkdir()
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            os.rename(out, old)
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)


def output_lock(out: str | PathLike[str], *, option: str = "--out"):
    """One writer at a time for ``out`` (a context manager; see the module docstring)."""
    return _lock(Path(out), option)


@contextlib.contextmanager
def _lock(out: Path, option: str) -> Iterator[None]:
    lock = out.parent / f".{out.name}.lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = _read_pid(lock)
            if pid is not None and _alive(pid):
                raise OutputError(f"{option} {out}: another spermlab run (process {pid}) is "
                                  "writing there; wait for it to finish or choose another "
                                  f"folder (if no run is active, delete {lock})") from None
            lock.unlink(missing_ok=True)  # left by a run that died
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        break
    else:  # pragma: no cover - another process raced us twice
        raise OutputError(f"{option} {out}: could not take the lock {lock}")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _read_pid(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process whose parent died too may linger as a zombie: it writes nothing
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _existing_parent(path: Path) -> Path:
    for p in [path, *path.parents]:
        if p.exists():
            return p if p.is_dir() else p.parent
    return Path("/")
