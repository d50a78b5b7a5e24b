"""What the flagellum test does on the SVIA clips (bright field, 30 fps, MPEG-4 Part 2).

The four SVIA clips of ``../shared/data/videos/svia`` are short (0.6-2.7 s) bright-field
recordings with dark heads and faint tails. The repository gives no µm/px; the heads'
boxes (12-15 px for a 4-5 µm head) put it near 0.3 µm/px, which is used here as an
assumption (``--um-per-px``). For each clip spermlab's whole flow runs once; the script
prints the flagellar beat probability of the graded tracks the test measured (heads still
enough) and the grades with and without the flagellum test. Nothing here is tuned.

Run:  .venv/bin/python benchmarks/flagellum_svia.py [--um-per-px 0.3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

from spermlab.analysis.motility import grade  # noqa: E402
from spermlab.calibration import Calibration  # noqa: E402
from spermlab.io.open import open_source  # noqa: E402
from spermlab.pipeline import Pipeline  # noqa: E402

DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--um-per-px", type=float, default=0.3)
    args = ap.parse_args()
    cal = Calibration(um_per_px=args.um_per_px, fps=30.0, chamber_depth_um=20.0,
                      sources={"um_per_px": "assumed (head box size)", "fps": "file",
                               "chamber_depth_um": "assumed"})  # fmt: skip
    print(f"{'clip':<8} {'s':>5} {'graded':>6} {'measured':>8} {'beat p median / p90 / max':>26} "
          f"{'>= 0.5':>6}   grades a/b/c/d with flagellum | head path only")
    for clip in sorted((DATA / "videos" / "svia").glob("S_000*.mp4")):
        source = open_source(clip, fps=30.0)
        pipe = Pipeline(cal)
        kin = pipe.run(source).kinematics
        fla = kin["flagellum"].dropna()
        head = grade(kin, params=replace(pipe.grading, use_flagellum=False))

        def counts(k):
            return "/".join(str(int((k["grade"] == g).sum())) for g in "abcd")

        stats = (f"{fla.median():5.2f} / {fla.quantile(0.9):5.2f} / {fla.max():5.2f}"
                 if len(fla) else "—")  # fmt: skip
        print(f"{clip.stem:<8} {source.n_frames / 30:5.2f} {len(kin):6d} {len(fla):8d} {stats:>26} "
              f"{int((fla >= pipe.grading.flagellum_p).sum()):6d}   {counts(kin):>14} | "
              f"{counts(head)}")


if __name__ == "__main__":
    main()
