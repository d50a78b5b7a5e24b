"""Where the whole flow spends its time: cProfile of ``Pipeline.run`` on VISEM video 11.

Frames 0-``--frames`` of ``$SPERMLAB_DATA/visem_tracking/11`` (decoded once, before the clock),
the ``visem`` preset with every stage in the calling thread (``overlap=False``: cProfile sees
only its own thread), one warm-up run on 10 frames; prints the cumulative seconds of each stage
(profiling overhead included, so read them as shares, and take frames/s from
``benchmarks/throughput.py``).

Run:  .venv/bin/python benchmarks/profile_flow.py [--frames 300]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import itertools  # noqa: E402
import pstats  # noqa: E402
from pathlib import Path  # noqa: E402

DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

#: (label, file suffix, function name) of the stages reported
STAGES = (("whole flow (Pipeline.run)", "spermlab/pipeline.py", "run"),
          ("detector (SpermNet.detect)", "learned/spermnet.py", "detect"),
          ("  its verifier", "learned/spermnet.py", "_verified"),
          ("linker (Linker.update)", "track/linker.py", "update"),
          ("table validation (tables.validate)", "spermlab/tables.py", "validate"),
          ("flagellum (FlagellumMeter.update)", "analysis/flagellum.py", "update"),
          ("flagellum (FlagellumMeter.finish)", "analysis/flagellum.py", "finish"))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    args = ap.parse_args()
    from spermlab.calibration import preset
    from spermlab.io.open import open_source
    from spermlab.pipeline import Pipeline

    source = open_source(DATA / "visem_tracking" / "11", fps=50)
    frames = list(itertools.islice(iter(source), args.frames))
    pipe = Pipeline(preset("visem"), overlap=False)  # every stage in this thread, where cProfile looks
    pipe.run(source, frames=frames[:10])
    prof = cProfile.Profile()
    prof.enable()
    pipe.run(source, frames=frames)
    prof.disable()
    stats = pstats.Stats(prof).stats
    print(f"VISEM video 11, {len(frames)} frames, cumulative seconds under cProfile:")
    for label, suffix, name in STAGES:
        total = sum(v[3] for (path, _, fn), v in stats.items() if fn == name and path.endswith(suffix))
        print(f"  {label:<38} {total:6.2f} s  ({1000 * total / len(frames):5.1f} ms a frame)")


if __name__ == "__main__":
    main()
