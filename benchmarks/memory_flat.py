"""Memory stays flat with video length: peak RSS of the whole flow on 1x and 10x the length.

Two VISEM-like phase-contrast videos are simulated (``spermlab.simulate``, same
settings and seed, ``--seconds`` and ``--factor`` x ``--seconds`` long, 50 fps, 640x480)
and written as H.264 MP4s into a cache folder outside the repository (reused on reruns).
Each is analysed in a fresh process with ``Pipeline(calibration).run(VideoReader(mp4))``
(decode, detection, linking, drift, kinematics, grading; nothing written), numeric
libraries on one thread.

Per video it reports the peak RSS of the process (``VmHWM``: interpreter and
libraries included), the RSS after imports and a 5-frame warm-up (``base``), the RSS
sampled at every tenth of the video while it streams, and the number of detections and
tracks. Frames are streamed one at a time, so RSS may grow only with the result tables
the flow keeps (the detections and tracks of every frame, a few tens of bytes per
detection in the final tables, plus per-frame overhead while they are collected); the
last line divides the growth in peak RSS between the two videos by the growth in
detections.

Run:  .venv/bin/python benchmarks/memory_flat.py [--seconds 5] [--factor 10] [--json out.json]
"""

from __future__ import annotations

from _bench import CACHE, SINGLE_THREAD, status_mb  # pins threads first

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from itertools import islice  # noqa: E402
from pathlib import Path  # noqa: E402

WARMUP_FRAMES = 5


def make_video(seconds: float, seed: int, cache: Path) -> Path:
    """Simulate and write a ``seconds`` long MP4 once; return its path."""
    from spermlab.simulate import SimulationConfig, simulate, write_simulation

    stem = f"sim{seconds:g}s_seed{seed}".replace(".", "p")
    video = cache / stem / f"{stem}.mp4"
    if not video.exists():
        sim = simulate(SimulationConfig(duration_s=seconds), rng=seed)
        write_simulation(sim, cache, video=True, stem=stem)
    return video


def run_one(path: str) -> dict:
    """Child: analyse one video, sampling RSS as it streams."""
    warnings.simplefilter("ignore")
    from spermlab.io.video import VideoReader
    from spermlab.pipeline import Pipeline
    from spermlab.simulate import default_calibration

    source = VideoReader(path)
    pipe = Pipeline(default_calibration())
    pipe.run(source, frames=islice(iter(source), WARMUP_FRAMES))
    base = status_mb("VmRSS")
    n_total = source.n_frames or 0
    step = max(n_total // 10, 1)
    samples: list[tuple[int, float]] = []

    def on_frame(frame) -> None:
        if (frame.index + 1) % step == 0:
            samples.append((frame.index + 1, status_mb("VmRSS")))

    t0 = time.perf_counter()
    result = pipe.run(source, on_frame=on_frame)
    wall = time.perf_counter() - t0
    tables_mb = sum(t.memory_usage(deep=True).sum() for t in
                    (result.detections, result.tracks, result.kinematics, result.drift)) / 2**20
    return {
        "video": path, "frames": result.summary.n_frames, "wall_s": wall,
        "fps": result.summary.n_frames / wall,
        "n_detections": len(result.detections),
        "n_tracks": int(result.tracks["track_id"].nunique()) if len(result.tracks) else 0,
        "base_rss_mb": base, "peak_rss_mb": status_mb("VmHWM"),
        "end_rss_mb": status_mb("VmRSS"), "tables_mb": tables_mb, "rss_samples": samples,
    }  # fmt: skip


def spawn(video: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", str(video)]
    proc = subprocess.run(cmd, env={**os.environ, **SINGLE_THREAD}, capture_output=True,
                          text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"analysis of {video} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=5.0, help="length of the short video")
    ap.add_argument("--factor", type=int, default=10, help="the long one is this many times longer")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--cache", type=Path, default=CACHE, help="where the videos are kept")
    ap.add_argument("--json", type=Path, help="write the figures to this JSON file")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return

    rows = []
    for mult in (1, args.factor):
        seconds = args.seconds * mult
        t0 = time.perf_counter()
        video = make_video(seconds, args.seed, args.cache)
        prep = time.perf_counter() - t0
        r = spawn(video)
        r.update(length=f"{mult}x ({seconds:g} s)", prepare_s=prep)
        rows.append(r)
        print(f"  {r['length']}: {r['frames']} frames, {r['fps']:.1f} frames/s, "
              f"peak {r['peak_rss_mb']:.1f} MB (video ready in {prep:.0f} s)", flush=True)

    print()
    print("Whole flow (Pipeline.run on a simulated H.264 MP4), one fresh process per video, "
          f"numeric libraries single-threaded, load average {os.getloadavg()[0]:.2f}")
    print()
    print("| length | frames | detections | tracks | base RSS MB | peak RSS MB | peak - base MB "
          "| result tables MB | frames/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['length']} | {r['frames']} | {r['n_detections']} | {r['n_tracks']} "
              f"| {r['base_rss_mb']:.1f} | {r['peak_rss_mb']:.1f} "
              f"| {r['peak_rss_mb'] - r['base_rss_mb']:.1f} | {r['tables_mb']:.1f} "
              f"| {r['fps']:.1f} |")
    print()
    for r in rows:
        trace = ", ".join(f"{f}: {m:.0f}" for f, m in r["rss_samples"])
        print(f"RSS while streaming, {r['length']} (frame: MB): {trace}")
    short, long_ = rows
    d_peak = long_["peak_rss_mb"] - short["peak_rss_mb"]
    d_det = long_["n_detections"] - short["n_detections"]
    d_frames = long_["frames"] - short["frames"]
    print()
    print(f"peak RSS {args.factor}x / 1x: {long_['peak_rss_mb'] / short['peak_rss_mb']:.3f} "
          f"({d_peak:+.1f} MB for {d_frames:+d} frames, {d_det:+d} detections: "
          f"{d_peak * 2**20 / max(d_det, 1):.0f} bytes per extra detection, "
          f"{d_peak * 2**20 / max(d_frames, 1):.0f} bytes per extra frame)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, indent=2))


if __name__ == "__main__":
    main()
