"""Motility shares straight from video (Haugen et al. 2023; VISEM experiment 1) beside the rest.

A simulated cohort with known truth: ``--samples`` videos of 10 s (640x480, 50 fps), half phase
contrast and half bright field, grade mixes spanning the clinical range (total motility 5-90 %,
progressive 30-90 % of the motile, rapid 20-80 % of the progressive; a third of the c cells
stuck to the glass with a beating tail), concentrations 20-100 x 10^6/mL, seeds 8600+. Truth:
each sample's share of simulated cells seen long enough to be graded
(:func:`spermlab.simulate.truth_percentages`).

Methods, all scored on the same truth, three categories (PR, NP, IM):

* the optical-flow ResNet (``spermlab predict video-cv --input flow``: Lucas-Kanade tracks of
  Shi-Tomasi corners over each second drawn as one image);
* the single-frame CNN (``--input frame``, VISEM experiment 1; it cannot see motion);
* ZeroR (the training folds' mean) on the same folds;
* the feature models of ``spermlab predict`` (ridge, random forest on spermlab's results);
* the rule-based CASA shares (``spermlab batch``; PR = a+b, NP = c, IM = d), no training.

**Sized for the 2-core CPU** (say so when quoting): ResNet-18 from scratch (no pretrained weights
can be downloaded here), 96x96 input (``--size``), 4 of the 10 images per sample (``--images``),
at most 15 epochs (``--epochs``) with early stopping after 5 (``--patience``). The paper's protocol (ResNet-50, 224 px, every
second, patience 15) runs unchanged on a GPU with ``spermlab predict video-cv``'s defaults.

VISEM-Tracking video 11 (20 s, the clinic: 11 / 17 / 72) is one more sample: each model trained
on the whole simulated cohort predicts it.

Run:  .venv/bin/python benchmarks/video_model.py [--samples 64] [--until casa|features|all]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CACHE = Path(os.environ.get("SPERMLAB_BENCH", Path(tempfile.gettempdir()) / "spermlab-bench")) / "video_model"
DATA = Path(os.environ.get("SPERMLAB_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
CATS = ("PR", "NP", "IM")
CATS4 = ("a", "b", "c", "d")


def _mix(rng: np.random.Generator) -> tuple[float, float, float, float]:
    motile = rng.uniform(0.05, 0.90)
    pr = motile * rng.uniform(0.3, 0.9)
    a = pr * rng.uniform(0.2, 0.8)
    m = np.round([a, pr - a, motile - pr, 1 - motile], 4)
    m[-1] = round(1 - m[:-1].sum(), 4)
    return tuple(float(v) for v in m)


def make_videos(n: int, duration: float) -> pd.DataFrame:
    """Simulate (once; cached) the cohort's videos; the truth table."""
    from spermlab.simulate import SimulationConfig, simulate, truth_percentages, write_simulation

    rng = np.random.default_rng(86)
    videos = CACHE / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    truth_csv = CACHE / "truth.csv"
    if truth_csv.is_file():
        cached = pd.read_csv(truth_csv)
        if len(cached) == n and all((videos / f"{s}.mp4").is_file() for s in cached["sample_id"]):
            return cached
    rows = []
    for i in range(n):
        mix, conc = _mix(rng), float(np.round(rng.uniform(20, 100), 1))
        look = "phase" if i % 2 == 0 else "brightfield"
        cfg = SimulationConfig(duration_s=duration, concentration=conc, mix=mix, look=look,
                               stuck_fraction=0.33)  # fmt: skip
        stem = f"v{i:03d}"
        dest = videos / f"{stem}.mp4"
        sim = simulate(cfg, rng=8600 + i)
        if not dest.is_file():
            files = write_simulation(sim, CACHE / "tmp", stem=stem)
            shutil.move(str(files.video), dest)
            shutil.rmtree(CACHE / "tmp", ignore_errors=True)
        t = truth_percentages(sim.cells, min_points=10)
        rows.append({"sample_id": stem, "look": look, "a": t["rapid"], "b": t["slow"],
                     "c": t["non_progressive"], "d": t["immotile"], "PR": t["rapid"] + t["slow"],
                     "NP": t["non_progressive"], "IM": t["immotile"]})  # fmt: skip
        print(f"  video {i + 1}/{n} {look} mix {mix}", flush=True)
    truth = pd.DataFrame(rows)
    truth.to_csv(truth_csv, index=False)
    return truth


def run_casa(truth: pd.DataFrame, workers: int) -> Path:
    from spermlab.batch import Sample, run_batch

    out = CACHE / "study"
    samples = [Sample(s, CACHE / "videos" / f"{s}.mp4") for s in truth["sample_id"]]
    run_batch(samples, out, cal_args={"um_per_px": 0.2475, "fps": None, "depth_um": 20.0, "preset_name": None},
              workers=workers)  # fmt: skip
    return out


def video_features(truth: pd.DataFrame) -> Path:
    from spermlab.predict.video_features import extract_video_features, write_index

    out = CACHE / "images"
    for s in truth["sample_id"]:
        extract_video_features(CACHE / "videos" / f"{s}.mp4", out, kinds=("lk", "frame"))
    write_index(out)
    v11 = DATA / "visem_tracking" / "11"
    extract_video_features(v11, CACHE / "images_v11", kinds=("lk", "frame"), fps=50.0, sample_id="11")
    write_index(CACHE / "images_v11")
    return out


def deep_cv(truth: pd.DataFrame, kind: str, args: argparse.Namespace, cats: tuple[str, ...] = CATS) -> pd.DataFrame:
    """Cross-validated predictions of the CNN (and ZeroR) on ``kind`` images; cached as CSV."""
    import torch

    from spermlab.predict.video_cv import TrainParams, cross_validate_video, threads, video_set
    from spermlab.predict.video_features import read_index

    done = CACHE / f"deep_{kind}{'' if cats == CATS else '_' + str(len(cats))}.csv"
    if done.is_file():
        return pd.read_csv(done)
    torch.set_num_threads(threads())
    y = truth.set_index("sample_id")[list(cats)]
    params = TrainParams(arch="resnet18", size=args.size, epochs=args.epochs, patience=args.patience)
    t0 = time.perf_counter()
    data = video_set(read_index(CACHE / "images"), y, kind=kind, size=args.size, images_per_sample=args.images)
    res = cross_validate_video(data, params=params, k=args.folds,
                               progress=lambda m: print(f"  [{kind}] {m}", flush=True))  # fmt: skip
    print(f"{kind}: CV took {time.perf_counter() - t0:.0f} s", flush=True)
    pred = res.predictions.assign(kind=kind)
    pred.to_csv(done, index=False)
    return pred


def deep_video11(truth: pd.DataFrame, kind: str, args: argparse.Namespace) -> dict:
    """The CNN trained on the whole cohort, applied to VISEM-Tracking video 11."""
    from spermlab.predict.video_cv import (TrainParams, fit_video_model, load_images,
                                           predict_video_model, video_set)  # fmt: skip
    from spermlab.predict.video_features import read_index

    done = CACHE / f"v11_{kind}.json"
    if done.is_file():
        return json.loads(done.read_text())
    data = video_set(read_index(CACHE / "images"), truth.set_index("sample_id")[list(CATS)], kind=kind,
                     size=args.size, images_per_sample=args.images)  # fmt: skip
    params = TrainParams(arch="resnet18", size=args.size, epochs=args.epochs, patience=args.patience)
    net = fit_video_model(data.images, data.per_image(), data.sample_of, params)
    v11 = read_index(CACHE / "images_v11")
    v11 = v11[v11["kind"] == kind]
    p = predict_video_model(net, load_images(v11["path"].tolist(), args.size), v11["sample_id"].to_numpy())
    out = dict(zip(CATS, (float(v) for v in p.iloc[0]), strict=True))
    done.write_text(json.dumps(out))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--images", type=int, default=4, help="images per sample for the CPU run")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--only", choices=("videos", "casa", "deep", "all"), default="all",
                    help="run one stage (each caches its result under $TMPDIR/spermlab-bench/video_model)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    t0 = time.perf_counter()
    truth = make_videos(args.samples, args.duration)
    print(f"videos ready ({time.perf_counter() - t0:.0f} s)", flush=True)
    if args.only in ("casa", "all"):
        study = run_casa(truth, args.workers)
        print(f"CASA done ({time.perf_counter() - t0:.0f} s)", flush=True)
    if args.only in ("deep", "all"):
        video_features(truth)
        print(f"video images ready ({time.perf_counter() - t0:.0f} s)", flush=True)
        deep = {k: deep_cv(truth, k, args) for k in ("lk", "frame")}
        v11 = {k: deep_video11(truth, k, args) for k in ("lk", "frame")}
        deep4 = deep_cv(truth, "lk", args, cats=CATS4)
    if args.only != "all":
        return
    from spermlab.predict.features import features_table

    feats = features_table([study])
    report(truth, feats, deep, v11, args)
    report4(truth, feats, deep4, args)


def report(truth, feats, deep, v11, args) -> None:
    """The one table and the one Bland-Altman figure."""
    from spermlab.evaluate.agreement import bland_altman
    from spermlab.predict.train import cross_validate

    data = feats.merge(truth, on="sample_id")
    preds = {}  # method -> DataFrame(sample_id, PR, NP, IM)
    casa = pd.DataFrame({"sample_id": data["sample_id"], "PR": data["pct_a"] + data["pct_b"],
                         "NP": data["pct_c"], "IM": data["pct_d"]})  # fmt: skip
    preds["CASA rules (no training)"] = casa
    x = data[[c for c in feats.columns if c != "sample_id"]]
    cv = cross_validate(x, data[list(CATS)], models=["ridge", "rf"], k=args.folds, seeds=1, shares=True)
    for m, g in cv.predictions.groupby("model"):
        preds[f"features + {m} ({args.folds}-fold CV)"] = g.sort_values("row").assign(
            sample_id=data["sample_id"].to_numpy())[["sample_id", *CATS]]
    names = {"lk": "optical-flow ResNet-18", "frame": "single-frame ResNet-18"}
    for kind, p in deep.items():
        for m, g in p.groupby("model"):
            label = f"ZeroR ({args.folds}-fold CV)" if m == "zeror" else f"{names[kind]} ({args.folds}-fold CV)"
            if m == "zeror" and kind != "lk":
                continue
            preds[label] = g[["sample_id", *CATS]]
    rows = []
    for method, p in preds.items():
        m = truth.merge(p, on="sample_id", suffixes=("", "_pred")).dropna(subset=[f"{c}_pred" for c in CATS])
        for c in CATS:
            ba = bland_altman(m[f"{c}_pred"], m[c])
            rows.append({"method": method, "target": c, "n": len(m),
                         "mae": float(np.mean(np.abs(m[f"{c}_pred"] - m[c]))), "bias_median": ba.bias_median,
                         "loa_low": ba.loa_low, "loa_high": ba.loa_high,
                         "r": float(np.corrcoef(m[f"{c}_pred"], m[c])[0, 1]) if m[f"{c}_pred"].std() > 0 else float("nan")})  # fmt: skip
    table = pd.DataFrame(rows)
    print(f"\n{len(truth)} simulated samples of {args.duration:g} s, half phase contrast, half bright field; "
          f"CNNs: ResNet-18 from scratch, {args.size} px, {args.images} images/sample, <= {args.epochs} epochs "
          f"(patience {args.patience}), CPU")  # fmt: skip
    print("| method | MAE PR | MAE NP | MAE IM | mean MAE | r PR | r NP | r IM | median bias PR | 95 % LoA PR |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for method, g in table.groupby("method", sort=False):
        g = g.set_index("target")
        print(f"| {method} | {g.loc['PR', 'mae']:.1f} | {g.loc['NP', 'mae']:.1f} | {g.loc['IM', 'mae']:.1f} | "
              f"{g['mae'].mean():.1f} | {g.loc['PR', 'r']:.2f} | {g.loc['NP', 'r']:.2f} | {g.loc['IM', 'r']:.2f} | "
              f"{g.loc['PR', 'bias_median']:+.1f} | {g.loc['PR', 'loa_low']:+.1f} to {g.loc['PR', 'loa_high']:+.1f} |")
    print("\nVISEM-Tracking video 11 (clinic PR / NP / IM 11 / 17 / 72):")
    for kind, p in v11.items():
        print(f"  {names[kind]} trained on the whole simulated cohort: "
              f"{p['PR']:.1f} / {p['NP']:.1f} / {p['IM']:.1f}")
    _figure(truth, preds, Path(__file__).resolve().parents[1] / "docs" / "img" / "video_model_bland_altman.png")
    if args.json:
        args.json.write_text(json.dumps({"table": rows, "video11": v11}, indent=2))


def report4(truth: pd.DataFrame, feats: pd.DataFrame, deep4: pd.DataFrame, args) -> None:
    """The four-category model (a, b, c, d) beside ZeroR on the same folds, and CASA's grades."""
    casa = feats[["sample_id", "pct_a", "pct_b", "pct_c", "pct_d"]].rename(
        columns={f"pct_{g}": g for g in CATS4})
    print("\nFour categories (a, b, c, d), MAE in points:")
    print("| method | a | b | c | d | mean |")
    print("|---|---|---|---|---|---|")
    methods = {"CASA rules (no training)": casa}
    for m, g in deep4.groupby("model"):
        methods["ZeroR" if m == "zeror" else "optical-flow ResNet-18"] = g[["sample_id", *CATS4]]
    for name, p in methods.items():
        m = truth.merge(p, on="sample_id", suffixes=("", "_p"))
        maes = [float(np.mean(np.abs(m[f"{c}_p"] - m[c]))) for c in CATS4]
        print(f"| {name} ({args.folds}-fold CV) | " if name != "CASA rules (no training)" else f"| {name} | ", end="")
        print(" | ".join(f"{v:.1f}" for v in maes) + f" | {np.mean(maes):.1f} |")
    m = truth.merge(casa, on="sample_id", suffixes=("", "_p"))
    print("\nCASA rules, mean difference from the truth by optics (points; a b c d):")
    for look, g in m.groupby("look"):
        print(f"  {look:<11} " + "  ".join(f"{c} {float((g[f'{c}_p'] - g[c]).mean()):+5.1f}" for c in CATS4)
              + f"   ({len(g)} samples)")


def _figure(truth, preds, path: Path) -> None:
    """One Bland-Altman figure: total motility (PR + NP) of each method against the truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spermlab.evaluate.agreement import bland_altman

    methods = list(preds)
    fig, axes = plt.subplots(2, (len(methods) + 1) // 2, figsize=(4 * ((len(methods) + 1) // 2), 7),
                             sharey=True, squeeze=False)  # fmt: skip
    for ax, method in zip(axes.flat, methods, strict=False):
        m = truth.merge(preds[method], on="sample_id", suffixes=("", "_p"))
        t, p = m["PR"] + m["NP"], m["PR_p"] + m["NP_p"]
        ba = bland_altman(p, t)
        ax.scatter((t + p) / 2, p - t, s=10, c=np.where(m["look"] == "phase", "tab:blue", "tab:orange"))
        for v, ls in ((ba.bias_median, "-"), (ba.loa_low, "--"), (ba.loa_high, "--")):
            ax.axhline(v, color="k", ls=ls, lw=0.8)
        ax.set_title(method, fontsize=9)
        ax.set_xlabel("mean of method and truth, motile %")
    for ax in axes[:, 0]:
        ax.set_ylabel("method - truth (points)")
    for ax in list(axes.flat)[len(methods):]:
        ax.set_visible(False)
    fig.suptitle("Total motility (PR + NP): blue phase contrast, orange bright field; median bias, 95 % LoA")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


if __name__ == "__main__":
    main()
