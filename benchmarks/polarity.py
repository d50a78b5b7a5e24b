"""Which way up: three rules for the heads' polarity, on first frames with known optics.

A video is read once, in one polarity, chosen on its first frame: heads brighter than the
background (phase contrast, ``bright``) or darker (bright field, ``dark``). A wrong choice reads
the whole video inverted (BENCHMARKS.md §9). Rules compared on the same frames:

* ``heat``: SpermNet's summed peak heat, each reading (the rule before the fix);
* ``verified``: the heads SpermNet's verifier accepts in each reading (sum of probabilities);
* ``tails``: the image's own intensity tails (:func:`spermlab.detect.classical.estimate_polarity`:
  are the brightest pixels further from the median than the darkest?), no model.

Frames: ``--samples`` simulated first frames with seeds 5000+ (never used before this script;
half phase contrast, half bright field, 10-120 x 10^6/mL, Brownian debris 0-0.5 per 1000 µm²,
durations 1-8 s, drawn from one fixed generator), and the first and middle frames of every
annotated real source (VISEM-Tracking video 11 blocks V1-V4, SVIA clips S1-S4), and the first
frame of the other real clips whose optics the data's README states.

Run:  .venv/bin/python benchmarks/polarity.py [--samples 60]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generalisation import BLOCKS, CLIPS, load  # noqa: E402

RULES = ("heat", "verified", "tails")


def readings(det, image: np.ndarray) -> dict[str, str]:
    """The polarity each rule picks for ``image``."""
    from spermlab.detect.classical import estimate_polarity
    from spermlab.detect.learned.spermnet import peaks

    maps, inputs = det._forward([image, image], invert=[False, True])
    heat = [float(m[0][peaks(m[0], det.threshold)].sum()) for m in maps]
    verified = [det.evidence(m, x) for m, x in zip(maps, inputs, strict=True)]
    pick = lambda e: "dark" if e[1] > e[0] else "bright"  # noqa: E731
    return {"heat": pick(heat), "verified": pick(verified), "tails": estimate_polarity(image)}


def simulated(n: int):
    from spermlab.simulate import SimulationConfig, simulate

    rng = np.random.default_rng(5)
    for i in range(n):
        look = "phase" if i % 2 == 0 else "brightfield"
        mix = np.round(rng.dirichlet(np.ones(4)), 4)
        mix[-1] = round(1 - mix[:-1].sum(), 4)
        cfg = SimulationConfig(duration_s=float(rng.choice([1.0, 2.0, 4.0, 8.0])), look=look,
                               concentration=float(np.round(rng.uniform(10, 120), 1)),
                               mix=tuple(float(m) for m in mix),
                               brownian_debris_density=float(np.round(rng.uniform(0, 0.5), 2)))  # fmt: skip
        sim = simulate(cfg, rng=5000 + i)
        yield (f"sim {5000 + i} {look} {cfg.concentration:g}/mL", "bright" if look == "phase" else "dark",
               next(iter(sim)).image, sim.calibration)  # fmt: skip


#: The unannotated real clips and their optics (``$SPERMLAB_DATA/videos/README.md``).
OTHER_CLIPS = {"fertilisers_hackathon/sample1_vid1_sperm3_id3.mp4": "dark",
               "fertilisers_hackathon/sample1_vid1_sperm9_id92.mp4": "dark",
               "visem_like/seg_000.mp4": "bright"}  # fmt: skip


def real():
    from generalisation import DATA

    from spermlab.calibration import preset
    from spermlab.io.open import open_source

    for name in [*BLOCKS, *CLIPS]:
        frames = load(name)
        for k in (0, len(frames) // 2):
            yield f"{name} frame {k}", "bright" if name.startswith("V") else "dark", frames[k].image, preset("visem")
    for clip, truth in OTHER_CLIPS.items():
        yield f"{clip} frame 0", truth, next(iter(open_source(DATA / "videos" / clip, fps=25))).image, preset("visem")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=60)
    args = ap.parse_args()
    from spermlab.detect.learned.spermnet import SpermNetDetector

    wrong = {(g, r): [] for g in ("simulated", "real") for r in RULES}
    count = {"simulated": 0, "real": 0}
    for group, frames in (("simulated", simulated(args.samples)), ("real", real())):
        for label, truth, image, cal in frames:
            picks = readings(SpermNetDetector(cal), image)
            count[group] += 1
            for r in RULES:
                if picks[r] != truth:
                    wrong[(group, r)].append(label)
    print("| frames | " + " | ".join(f"wrong, {r}" for r in RULES) + " |")
    print("|---|" + "---|" * len(RULES))
    for group in ("simulated", "real"):
        print(f"| {group} ({count[group]}) | " + " | ".join(str(len(wrong[(group, r)])) for r in RULES) + " |")
    for (group, r), labels in wrong.items():
        if labels:
            print(f"{group}, {r} wrong on: " + "; ".join(labels))


if __name__ == "__main__":
    main()
