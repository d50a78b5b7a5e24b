"""Detection that holds on data it has never seen: the protocol of docs/validation.md.

Sources: VISEM-Tracking video 11 blocks V1 (0-199), V2 (250-449), V3 (500-699) and the
final-test block V4 (800-999); SVIA clips S1-S3 and the final-test clip S4 (Subset-A boxes);
simulated frames with a randomised look (seeds 1000+, training only) and a simulated check
set (seeds 9001-9010, never trained on).

Stages (each resumes: models and scores already in --out are reused):

* ``train``: one SpermNet per development fold (trained on the other five folds + sim,
  threshold learned on its own training frames) and the final model (all six + sim);
* ``verify``: each of those models plus a patch verifier trained on the same frames
  (:mod:`spermlab.detect.learned.verifier`), written as ``NAME+v.onnx``; ``--variant +v``
  scores those in ``loso`` and ``final``;
* ``loso``: each fold model on its left-out source, with trackpy (published VISEM settings,
  inverted frames for bright field) and spermlab's classical detector on the same frames;
* ``final``: the final model, trackpy and classical on V4 and S4 and on simtest: run it
  ONCE, after everything else is frozen (docs/validation.md, rule 4). ``--kinds`` may add
  ``yolo`` (the shipped YOLO11n, ONNX) and ``yolo-visem11`` (the earlier VISEM-only YOLO,
  exported to ``runs/yolo_onnx/yolo11n_visem11.onnx``); their ``cluster`` detections are
  not scored.

Metrics per source: P, R, F1 (one-to-one within 8 px, sperm class), count MAE per frame,
AP@8px, and on VISEM blocks the full flow (detector + spermlab's linker, or trackpy.link for
trackpy) HOTA / IDF1 with centre-distance similarity, zero at 10 px, against every annotated
box with a track id (every detection linked). VISEM ``cluster`` boxes are ignore regions for
every detector: a detection that matches no annotated head and lies in one is not scored
(:func:`for_scoring`).

Run:  .venv/bin/python benchmarks/generalisation.py train loso [final] --out runs/generalisation
      [--steps 6000] [--json FILE]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from spermlab.calibration import preset  # noqa: E402
from spermlab.detect.learned.annotated import (  # noqa: E402
    AnnotatedFrame,
    from_simulation,
    from_visem,
    from_voc_clip,
    inside_any,
    truth_table,
)

DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
VISEM = DATA / "visem_tracking" / "11"
SVIA = DATA / "videos" / "svia"
BLOCKS = {"V1": range(0, 200), "V2": range(250, 450), "V3": range(500, 700), "V4": range(800, 1000)}
CLIPS = {"S1": "S_0001", "S2": "S_0002", "S3": "S_0003", "S4": "S_0004"}
DEV = ["V1", "V2", "V3", "S1", "S2", "S3"]
FINAL = ["V4", "S4"]
SIM_VIDEOS, SIM_FRAMES, SIM_SEED = 40, 8, 1000
log = logging.getLogger("generalisation")


def _shipped_yolo() -> Path:
    from spermlab.detect.learned.yolo_onnx import shipped_onnx

    return shipped_onnx()


# YOLO models scored in the final stage only (one training run each is hours on this CPU, so
# there are no LOSO folds for YOLO): the shipped grey-frame model (benchmarks/train_yolo_grey.py)
# and the earlier VISEM-only model, exported to ONNX by spermlab.detect.learned.train.export_yolo_onnx
YOLO_MODELS = {"yolo": _shipped_yolo,
               "yolo-visem11": lambda: Path("runs/yolo_onnx/yolo11n_visem11.onnx")}


def load(name: str) -> list[AnnotatedFrame]:
    if name in BLOCKS:
        return from_visem(VISEM, frames=BLOCKS[name], source=name)
    if name in CLIPS:
        return from_voc_clip(SVIA / f"{CLIPS[name]}.mp4", SVIA / "subset_A", source=name)
    if name == "sim":
        return from_simulation(SIM_VIDEOS, SIM_FRAMES, seed=SIM_SEED)
    if name == "simtest":
        return from_simulation(10, 10, seed=9001)
    raise KeyError(name)


def group(f: AnnotatedFrame) -> str:
    return {"V": "visem", "S": "svia"}.get(f.source[0], "sim")


# ----------------------------------------------------------------------------- training
def _jobs(out: Path, suffix: str):
    """``(name, frames, path)`` of each model still to make: the final model (every development
    source) and each fold model (all but one), ``path`` = ``out/NAME{suffix}.onnx``."""
    data = {name: load(name) for name in [*DEV, "sim"]}
    jobs = [("final", [*DEV, "sim"])] + [(f"fold_{k}", [n for n in [*DEV, "sim"] if n != k]) for k in DEV]
    for name, train_on in jobs:
        path = out / f"{name}{suffix}.onnx"
        if path.exists():
            log.info("%s exists, skipped", path)
            continue
        yield name, [f for n in train_on for f in data[n]], train_on, path


def train_all(out: Path, steps: int) -> None:
    from spermlab.detect.learned.train_spermnet import TrainConfig, train_spermnet

    for name, frames, train_on, path in _jobs(out, ""):
        t0 = time.monotonic()
        train_spermnet(frames, path, TrainConfig(steps=steps), group_of=group,
                       description={"sources": train_on,
                                    "command": f"benchmarks/generalisation.py train --steps {steps}"})
        log.info("%s: %d frames, %.1f min", name, len(frames), (time.monotonic() - t0) / 60)


def verify_all(out: Path) -> None:
    """Each trained model plus a verifier trained on the same frames (``NAME+v.onnx``)."""
    from spermlab.detect.learned.verifier import add_verifier

    for name, frames, _, dest in _jobs(out, "+v"):
        t0 = time.monotonic()
        info = add_verifier(out / f"{name}.onnx", frames, dest)
        log.info("%s: %s, %.1f min", dest.name, info, (time.monotonic() - t0) / 60)


# ------------------------------------------------------------------------------ scoring
def _per_video(detector, frames: list[AnnotatedFrame]) -> list[pd.DataFrame]:
    """Each video's frames through the detector adapted to that video's first frame (as the
    pipeline does); frames renumbered 0..n-1."""
    adapted = {}
    parts = []
    for k, f in enumerate(frames):
        if f.source not in adapted:
            adapted[f.source] = detector.adapted_to(f.image)
            log.info("%s: %s", f.source, getattr(adapted[f.source], "polarity", "adapted"))
        parts.append(adapted[f.source].detect(f.image, k))
    return parts


def _detect(kind: str, frames: list[AnnotatedFrame], model: Path | None) -> tuple[pd.DataFrame, float]:
    """Detections of every frame (frames renumbered 0..n-1) and seconds spent."""
    t0 = time.perf_counter()
    parts = []
    if kind == "spermnet":
        from spermlab.detect.learned.spermnet import SpermNetDetector

        parts = _per_video(SpermNetDetector(preset("visem"), model=model, threads=2), frames)
    elif kind == "classical":
        from spermlab.detect import ClassicalDetector

        parts = _per_video(ClassicalDetector(preset("visem")), frames)
    elif kind.startswith("yolo"):
        from spermlab.detect.learned.yolo_onnx import YoloOnnxDetector

        det = YoloOnnxDetector(preset("visem"), model=YOLO_MODELS[kind](), threads=2)
        parts = [det.detect(f.image, k) for k, f in enumerate(frames)]
    elif kind == "trackpy":
        import trackpy as tp

        tp.quiet()
        dark: dict[str, bool] = {}  # SVIA clips are bright field; simulated: by the rule of the
        for k, f in enumerate(frames):  # classical detector (trackpy has none of its own)
            if f.source not in dark:
                dark[f.source] = f.source.startswith("S") or _is_dark(f.image)
            im = 255 - f.image if dark[f.source] else f.image
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loc = tp.locate(im, diameter=11, minmass=900)
            parts.append(pd.DataFrame({"frame": k, "x": loc["x"].to_numpy() + 0.5,
                                       "y": loc["y"].to_numpy() + 0.5, "w": 17.0, "h": 18.0,
                                       "cls": 0, "score": loc["mass"].to_numpy()}))
    seconds = time.perf_counter() - t0
    table = pd.concat(parts, ignore_index=True)
    table["frame"] = table["frame"].astype(np.int64)
    table["cls"] = table["cls"].astype(np.int64)
    return table, seconds


def for_scoring(det: pd.DataFrame, frames: list[AnnotatedFrame], radius: float = 8.0) -> pd.DataFrame:
    """The sperm-class detections that are scored: all of them, less those that match no
    annotated head (one-to-one, within ``radius``) and lie in an ignore box (a VISEM cluster):
    those are neither right nor wrong. A detection on an annotated head inside a cluster box
    counts as usual."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    det = det[det["cls"] == 0]
    keep = []
    for k, f in enumerate(frames):
        d = det[det["frame"] == k]
        if len(f.ignore) == 0 or len(d) == 0:
            keep.append(d)
            continue
        xy = d[["x", "y"]].to_numpy()
        matched = np.zeros(len(d), dtype=bool)
        if len(f.boxes):
            cost = cdist(xy, f.boxes[:, :2])
            r, c = linear_sum_assignment(np.where(cost <= radius, cost, 1e6))
            matched[r[cost[r, c] <= radius]] = True
        keep.append(d[matched | ~inside_any(xy, f.ignore)])
    return pd.concat(keep, ignore_index=True)


def _is_dark(image: np.ndarray) -> bool:
    from spermlab.detect import estimate_polarity

    return estimate_polarity(image) == "dark"


def _tracking(kind: str, det: pd.DataFrame, name: str) -> dict[str, float]:
    from spermlab.evaluate import evaluate_tracking
    from spermlab.io.visem import read_visem_tracks

    frames = BLOCKS[name]
    gt = read_visem_tracks(VISEM, frames=frames).tracks
    gt["frame"] = gt["frame"] - frames.start
    if kind == "trackpy":
        import trackpy as tp

        linked = tp.link(det.rename(columns={}), search_range=5, memory=3)
        pred = det.assign(track_id=linked["particle"].to_numpy())
    else:
        from spermlab.track import link

        pred = link(det, preset("visem"), n_frames=len(frames))
    r = evaluate_tracking(pred, gt.reset_index(drop=True), similarity="distance", zero_distance=10.0,
                          n_frames=len(frames)).to_dict(percent=True)
    return {"HOTA": r["HOTA"], "IDF1": r["IDF1"], "MOTA": r["MOTA"], "IDSW": r["IDSW"]}


def score(name: str, frames: list[AnnotatedFrame], model: Path | None, kinds: list[str]) -> list[dict]:
    from spermlab.evaluate import evaluate_detections

    gt = truth_table(frames)
    rows = []
    for kind in kinds:
        found, seconds = _detect(kind, frames, model)
        det = for_scoring(found, frames)
        r = evaluate_detections(det, gt, match="distance", max_distance=8.0)
        n_pred = det.groupby("frame").size().reindex(range(len(frames)), fill_value=0).to_numpy()
        n_true = np.array([len(f.boxes) for f in frames])
        row = {"source": name, "detector": kind, "frames": len(frames), "heads": int(n_true.sum()),
               "P": r.overall.precision, "R": r.overall.recall, "F1": r.overall.f1,
               "count_MAE": float(np.abs(n_pred - n_true).mean()), "AP@8px": r.overall.ap,
               "detect_fps": len(frames) / seconds}
        if name in BLOCKS:  # every detection (YOLO's clusters too): the tracks hold every box
            row.update(_tracking(kind, found, name))
        rows.append(row)
        log.info("%s", {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})
    return rows


def _pooled(rows: list[dict]) -> list[dict]:
    """Per detector: heads-weighted P/R/F1 are not additive, so pool by re-deriving from counts."""
    out = []
    df = pd.DataFrame(rows)
    for kind, g in df.groupby("detector", sort=False):
        tp = (g["R"] * g["heads"]).sum()
        n_pred = (g["R"] * g["heads"] / g["P"].replace(0, np.nan)).fillna(0).sum()
        p, r = tp / max(n_pred, 1e-9), tp / g["heads"].sum()
        out.append({"source": "pooled", "detector": kind, "frames": int(g["frames"].sum()),
                    "heads": int(g["heads"].sum()), "P": p, "R": r, "F1": 2 * p * r / max(p + r, 1e-9),
                    "count_MAE": float((g["count_MAE"] * g["frames"]).sum() / g["frames"].sum())})
    return out


def table_md(rows: list[dict]) -> str:
    cols = ["source", "detector", "frames", "heads", "P", "R", "F1", "count_MAE", "AP@8px", "HOTA",
            "IDF1", "detect_fps"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            cells.append(f"{v:.3f}" if isinstance(v, float) and c in ("P", "R", "F1", "AP@8px")
                         else f"{v:.1f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stages", nargs="+", choices=["train", "verify", "loso", "final"])
    ap.add_argument("--variant", default="", help="'+v': the models with a verifier (stage verify)")
    ap.add_argument("--out", type=Path, default=Path("runs/generalisation"))
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--kinds", default="spermnet,trackpy,classical")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    kinds = args.kinds.split(",")
    if "train" in args.stages:
        train_all(args.out, args.steps)
    if "verify" in args.stages:
        verify_all(args.out)
    for stage, names in (("loso", DEV), ("final", [*FINAL, "simtest"])):
        if stage not in args.stages:
            continue
        rows = []
        for name in names:
            model = args.out / (f"fold_{name}{args.variant}.onnx" if stage == "loso" else f"final{args.variant}.onnx")
            rows += score(name, load(name), model, kinds)
        rows += _pooled([r for r in rows if r["source"] != "simtest"])
        (args.out / f"{stage}{args.variant}.json").write_text(json.dumps(rows, indent=1))
        md = table_md(rows)
        (args.out / f"{stage}{args.variant}.md").write_text(md + "\n")
        print(f"\n## {stage}\n\n{md}\n")


if __name__ == "__main__":
    main()
