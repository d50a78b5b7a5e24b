"""Memory stays flat with video length for ``spermlab predict video-features``.

The two simulated videos of ``benchmarks/memory_flat.py`` (5 s and 50 s, 640x480, 50 fps;
made by that script, cached) each go through :func:`extract_video_features` (Lucas-Kanade and
frame images) in a fresh process; the peak RSS (``VmHWM``) and the time of each are reported.

Run:  .venv/bin/python benchmarks/video_features_memory.py [--seconds 5] [--factor 10]
"""

from __future__ import annotations

from _bench import CACHE, status_mb  # pins threads first

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from memory_flat import make_video  # noqa: E402


def child(video: str) -> None:
    from spermlab.predict.video_features import extract_video_features

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        meta = extract_video_features(video, out, kinds=("lk", "frame"))
        print(json.dumps({"seconds": meta["seconds"], "wall_s": time.perf_counter() - t0,
                          "peak_mb": status_mb("VmHWM")}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--child", default=None)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    for s in (args.seconds, args.seconds * args.factor):
        video = make_video(s, 11, CACHE)
        out = subprocess.run([sys.executable, __file__, "--child", str(video)], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{s:g} s video: {r['seconds']} images per kind, peak RSS {r['peak_mb']:.0f} MB, "
              f"{r['wall_s']:.1f} s ({r['seconds'] / r['wall_s']:.1f} video-seconds/s)")


if __name__ == "__main__":
    main()
