"""Batch throughput: samples per minute for 1 and 2 local workers and for Dask, and scaling.

Inputs: ``--samples`` simulated VISEM-like videos of ``--duration`` s (640x480, 50 fps,
``visem`` calibration, seeds 7000+), written once to a cache folder outside the repository.
Each configuration runs ``spermlab batch`` (the library's :func:`spermlab.batch.run_batch`,
as the CLI does) into a fresh folder, timing the whole batch wall-clock (worker start-up,
analysis, ledger and DuckDB store included):

* ``local-1``: one worker process;  ``local-2``: two;  ``dask-2``: a Dask LocalCluster with
  two single-threaded worker processes (started inside the timing).

Reported per configuration: samples per minute, seconds per sample, the overhead per sample
(batch wall time x workers / samples minus the mean in-worker analysis time from the
ledger), and peak RSS of the worker processes (local pool: the largest child's VmHWM,
sampled every 0.2 s). ``--scale 20,40,80`` repeats ``local-2`` on the first N samples to
show how the cost grows with the number of samples; beyond ``--samples`` the extra samples
are links to the same videos under new names (same cost per sample, distinct sample ids).

Run:  .venv/bin/python benchmarks/batch.py [--samples 20] [--duration 10] [--scale 20,40,80]
      [--configs local-1,local-2,dask-2] [--json runs/batch.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

CACHE = Path(tempfile.gettempdir()) / "spermlab-bench" / "batch"


def make_inputs(n: int, duration: float) -> Path:
    from spermlab.simulate import SimulationConfig, simulate, write_simulation

    folder = CACHE / f"in_{duration:g}s"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        dest = folder / f"sim{i:03d}.mp4"
        if dest.is_file():
            continue
        sim = simulate(SimulationConfig(duration_s=duration, concentration=60.0), rng=7000 + i)
        tmp = CACHE / "tmp"
        files = write_simulation(sim, tmp, stem=f"sim{i:03d}", frames=False)
        shutil.move(str(files.video), dest)
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


class PeakChildRSS:
    """Largest VmHWM (peak RSS) among this process's children, sampled in a thread."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()

    def _children(self) -> list[int]:
        me = os.getpid()
        out = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    stat = (d / "stat").read_text().split(")")[-1].split()
                    if int(stat[1]) == me:
                        out.append(int(d.name))
                except (OSError, IndexError, ValueError):
                    pass
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self._children():
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)
                except OSError:
                    pass
            time.sleep(0.2)

    def __enter__(self):
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def run(config: str, inputs: list[Path], work: Path) -> dict:
    from spermlab.batch import Sample, run_batch

    out = work / config
    shutil.rmtree(out, ignore_errors=True)
    kind, n = config.split("-")
    samples = [Sample(p.stem, p) for p in inputs]
    t0 = time.perf_counter()
    with PeakChildRSS() as rss:
        res = run_batch(samples, out, cal_args={"um_per_px": 0.2475, "fps": None, "depth_um": 20.0,
                                                "preset_name": None},
                        workers=int(n), dask="local" if kind == "dask" else None)  # fmt: skip
    wall = time.perf_counter() - t0
    ledger = json.loads((out / "ledger.json").read_text())
    analysis = [v["seconds"] for v in ledger.values()]
    assert not res.failed, res.failed
    per = wall / len(samples)
    return {"config": config, "samples": len(samples), "wall_s": wall, "samples_per_min": 60 / per,
            "s_per_sample": per, "mean_analysis_s": sum(analysis) / len(analysis),
            "overhead_s_per_sample": per * int(n) - sum(analysis) / len(analysis),
            "peak_worker_rss_mb": rss.peak_mb if kind == "local" else None}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--configs", default="local-1,local-2,dask-2")
    ap.add_argument("--scale", default="", help="comma-separated sample counts for local-2")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    counts = [int(c) for c in args.scale.split(",") if c]
    folder = make_inputs(args.samples, args.duration)
    videos = sorted(folder.glob("sim*.mp4"))[: args.samples]
    for i in range(len(videos), max([args.samples, *counts])):  # more samples: links to the same
        link = folder / f"copy{i:03d}.mp4"                      # videos (the cost per sample is
        if not link.exists():                                   # the same; ids differ)
            link.symlink_to(videos[i % args.samples])
    videos += sorted(folder.glob("copy*.mp4"))
    work = CACHE / "runs"
    rows = []
    for config in [c for c in args.configs.split(",") if c]:
        rows.append(run(config, videos[: args.samples], work))
        print(json.dumps(rows[-1]), flush=True)
    for n in counts:
        r = run("local-2", videos[:n], work)
        r["config"] = f"local-2 x{n}"
        rows.append(r)
        print(json.dumps(r), flush=True)
    print(f"\n{args.duration:g}-s simulated videos (640x480, 50 fps), 2-core machine")
    print("| configuration | samples | wall s | samples/min | s/sample | mean analysis s | "
          "overhead s/sample | peak worker RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        rss = f"{r['peak_worker_rss_mb']:.0f}" if r["peak_worker_rss_mb"] else "—"
        print(f"| {r['config']} | {r['samples']} | {r['wall_s']:.0f} | {r['samples_per_min']:.2f} | "
              f"{r['s_per_sample']:.1f} | {r['mean_analysis_s']:.1f} | {r['overhead_s_per_sample']:.1f} | {rss} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
