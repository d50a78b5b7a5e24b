"""Plumbing shared by the speed and memory benchmarks (import it before numpy).

Importing it pins the numeric libraries to one thread (so spermlab and its peers are
compared on equal terms) and gives the process-memory readers and the cache folder.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
from pathlib import Path

SINGLE_THREAD = {
    v: "1"
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
}  # fmt: skip
for _k, _v in SINGLE_THREAD.items():
    os.environ.setdefault(_k, _v)

#: Videos made by the benchmarks are kept here, outside the repository, between runs.
CACHE = Path(tempfile.gettempdir()) / "spermlab-bench"
DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def status_mb(field: str) -> float | None:
    """A field of /proc/self/status in MB (VmRSS: now; VmHWM: peak since exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Current resident set size (MB)."""
    now = status_mb("VmRSS")
    return float("nan") if now is None else now


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MB).

    VmHWM of /proc/self/status: it belongs to the process image, so it starts afresh at
    ``exec``. ``ru_maxrss`` does not (Linux keeps it across ``execve``, so a child would
    report its parent's peak); it is only the fallback where /proc is missing.
    """
    hwm = status_mb("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
