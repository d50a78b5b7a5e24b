"""What the candidate verifier adds, and what was tried beside it: leave-one-source-out.

For each development source K (docs/validation.md) the fold model ``fold_K.onnx`` of
``benchmarks/generalisation.py train`` proposes candidates (heat >= 0.25) on every development
source and the simulated frames, each labelled against the annotations (one-to-one within 8 px;
unmatched candidates in VISEM cluster boxes left out, as ``for_scoring`` does). Scored on K only,
with the model or rule fitted on the other sources:

* ``network``: the network alone at its own threshold (the LOSO rows of BENCHMARKS.md §12);
* ``threshold``: the heat threshold re-chosen as the best F1 over the training candidates;
* ``verifier``: the shipped recipe (21-px patch every 2nd pixel, :func:`fit_verifier`);
* ``context``: the same with a 41-px patch every 4th pixel (more of the tail);
* ``balanced``: the shipped recipe with VISEM, SVIA and the simulations weighted equally;
* ``out_of_fold``: the shipped recipe with the keep threshold chosen on out-of-fold
  probabilities, each training source's candidates scored by an ensemble fitted without that
  source (``fit_verifier(..., groups=)``, grouped 5-fold), instead of on the ensemble's own
  training candidates (which it scores almost perfectly);
* ``no_heat``: the patch alone, without the network's heat (the network is more sure of
  itself on its own training frames, where the verifier's candidates come from).

F1 counts every annotated head of K (those no candidate reached are misses), so ``network``
reproduces the LOSO table. Development figures: these sources chose the recipe.

Run:  .venv/bin/python benchmarks/verifier_ablation.py [--out runs/generalisation]   (~20 min)
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from generalisation import DEV, group, load  # noqa: E402

VARIANTS = ("network", "threshold", "verifier", "context", "balanced", "out_of_fold", "no_heat")


def f1(labels: np.ndarray, keep: np.ndarray, n_heads: int) -> float:
    tp, fp = int((labels[keep] == 1).sum()), int((labels[keep] == 0).sum())
    p, r = tp / max(tp + fp, 1), tp / max(n_heads, 1)
    return 2 * p * r / max(p + r, 1e-9)


def best_threshold(score: np.ndarray, labels: np.ndarray, n_heads: int) -> float:
    grid = np.unique(np.round(score, 3))
    return float(max(grid, key=lambda t: f1(labels, score >= t, n_heads)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/generalisation"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from spermlab.calibration import preset
    from spermlab.detect.learned.spermnet import SpermNetDetector
    from spermlab.detect.learned.verifier import fit_verifier, model_candidates

    names = [*DEV, "sim"]
    data = {n: load(n) for n in names}
    rows = []
    for k in DEV:
        model = args.out / f"fold_{k}.onnx"
        own = SpermNetDetector(preset("visem"), model=model, verify=False).threshold
        cand = {patch: {n: model_candidates(model, data[n], patch=patch) for n in names}
                for patch in ((10, 2), (20, 4))}  # fmt: skip
        train = [n for n in names if n != k]
        row = {"source": k}
        for variant in VARIANTS:
            c = cand[(20, 4) if variant == "context" else (10, 2)]
            x = np.vstack([c[n][0] for n in train])
            y = np.concatenate([c[n][1] for n in train])
            heads = sum(c[n][2] for n in train)
            xk, yk, hk = c[k]
            if variant == "network":
                keep = xk[:, 0] >= own
            elif variant == "threshold":
                keep = xk[:, 0] >= best_threshold(x[:, 0], y, heads)
            else:
                weight, sources = None, None
                if variant == "balanced":
                    g = np.concatenate([[group(data[n][0])] * len(c[n][1]) for n in train])
                    _, inv, counts = np.unique(g, return_inverse=True, return_counts=True)
                    weight = len(g) / (len(counts) * counts[inv])
                if variant == "out_of_fold":
                    sources = np.concatenate([[n] * len(c[n][1]) for n in train])
                if variant == "no_heat":  # a constant column: no tree splits on it
                    x, xk = np.c_[np.zeros(len(x)), x[:, 1:]], np.c_[np.zeros(len(xk)), xk[:, 1:]]
                verifier, _ = fit_verifier(x, y, heads, sample_weight=weight, groups=sources)
                keep = verifier.keep(xk)
            row[variant] = round(f1(yk, keep, hk), 3)
        rows.append(row)
        print(row, flush=True)
    print("\n| left-out source | " + " | ".join(VARIANTS) + " |")
    print("|---|" + "---|" * len(VARIANTS))
    for r in rows:
        print(f"| {r['source']} | " + " | ".join(f"{r[v]:.3f}" for v in VARIANTS) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
