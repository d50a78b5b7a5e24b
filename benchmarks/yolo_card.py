"""Write the shipped model's card from the figures of the two commands that made and judged it.

    .venv/bin/python benchmarks/train_yolo.py --out runs/yolo11 --hours 1.65 --every 2
    .venv/bin/python benchmarks/yolo_heldout.py --weights runs/yolo11/train/weights/last.pt \
        --json runs/yolo11/heldout.json
    .venv/bin/python benchmarks/yolo_card.py runs/yolo11 [runs/stage2 ...] [--install]

(one folder per training stage, in order; the last one holds heldout.json and the weights)

``--install`` also copies the weights into the package (``src/spermlab/detect/learned/weights``);
the card records their SHA-256, which a test checks against the shipped file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "spermlab" / "detect" / "learned" / "weights"
NAME = "yolo11n_visem11.pt"


def pct(x: float) -> str:
    return f"{x:.3f}"


def stage_line(k: int, st: dict) -> str:
    start = ("Ultralytics' bundled `" + st["model"] + "` (random initialisation: no pretrained "
             "weights, nothing downloaded)") if st["model"].endswith(".yaml") else \
        f"stage {k - 1}'s last epoch (`{st['model']}`)"  # fmt: skip
    budget = f" --hours {st['hours_budget']}" if st["hours_budget"] else ""
    return (f"{k}. `python benchmarks/train_yolo.py --out {st['run']}{budget} --every {st['every']}"
            f"{'' if st['model'] == 'yolo11n.yaml' else ' --model ' + st['model']}`: from {start}; "
            f"**{st['epochs_run']} epochs in {st['train_seconds'] / 3600:.2f} h**.")


def render(stages: list[dict], held: dict, sha: str, size_mb: float) -> str:
    y, c, u = held["yolo"], held["classical"], held["ultralytics_val"]
    fy, fc = held["full_flow"]["yolo"], held["full_flow"]["classical"]
    train = stages[-1]
    hw = train["hardware"]
    device = hw["gpu"] or f"CPU only ({hw['cpu']}, {hw['cpu_count']} cores)"
    total = sum(st["train_seconds"] for st in stages) / 3600
    epochs = sum(st["epochs_run"] for st in stages)
    how = "trained on the GPU" if hw["gpu"] else "no GPU was available to this project: trained on the CPU"
    steps = "\n".join(stage_line(k, st) for k, st in enumerate(stages, 1))
    rows = "\n".join(
        f"| {name} | {pct(m['P'])} | {pct(m['R'])} | {pct(m['F1'])} | {pct(m['AP50'])} | "
        f"{pct(m['AP50-95'])} | {pct(m['AP@8px'])} |"
        for name, m in (("YOLO11n (this model, conf >= 0.25), grey frames", y),
                        ("YOLO11n, the JPEGs' colour (as trained)", held["yolo_colour_input"]),
                        ("classical detector (min_score 0.5)", c))
    )  # fmt: skip
    return f"""# Model card: `{NAME}`

YOLO11n (Ultralytics {train['versions']['ultralytics']}, 2.6 M parameters) that finds sperm heads,
clusters and small/pinhead cells in 640x480 phase-contrast frames of VISEM-Tracking. It is the
default of `spermlab analyze --detector yolo`. Research use only; not a medical device.

- File: `{NAME}`, {size_mb:.1f} MB, SHA-256 `{sha}`.
- Classes: 0 sperm, 1 cluster, 2 small or pinhead (VISEM-Tracking's labels).
- Input: grey frames (repeated to 3 channels), letterboxed to {train['imgsz']} px.

## Data and split

VISEM-Tracking (Thambawita et al. 2023, CC BY 4.0) video 11 only: {train['split']}
(50 fps, so 1 s unused between the two sides). Training used one frame in {train['every']} of
the training side ({train['train_frames']} frames); frames 800-999 ({held['frames'][1] - held['frames'][0] + 1})
are held out and were never used to train or to choose a checkpoint (per-epoch validation off, the
last epoch shipped). One video, one microscope, one sample: nothing here says how the model
does on other samples, microscopes or magnifications.

## Training

{steps}

- Settings (each stage): imgsz {train['imgsz']}, batch {train['batch']}, seed {train['seed']},
  {json.dumps(train['settings'])}.
- Hardware: {device}; torch {train['versions']['torch']}; {how}, time-boxed, one frame in
  {train['every']}: {epochs} epochs in {total:.2f} h in all. With `--hours` Ultralytics fits
  the epoch count and learning-rate schedule to the budget (`--epochs N` without `--hours`
  trains the same schedule). A GPU run with more epochs and every frame should do better.

## Held-out metrics (frames 800-999)

`python benchmarks/yolo_heldout.py` ({y['n_gt']} annotated sperm heads). Sperm class;
P/R/F1 by one-to-one matching at centre distance <= 8 px at each detector's operating point;
AP50 and AP50-95 over all candidates (COCO 101-point, IoU), from `spermlab.evaluate`:

| detector | P | R | F1 @8px | AP50 | AP50-95 | AP@8px |
|---|---|---|---|---|---|---|
{rows}

spermlab streams grey frames (`analyze`), so the first row is what `analyze --detector yolo`
gets; the model was trained on VISEM's colour JPEGs (a faint tint), and `YoloDetector.detect`
given the RGB frames (Python API) scores the second row.

Ultralytics' own `val` on the same frames (colour), sperm class: P {pct(u['sperm']['P'])}, R {pct(u['sperm']['R'])},
AP50 {pct(u['sperm']['AP50'])}, AP50-95 {pct(u['sperm']['AP50-95'])} (all three classes: mAP50
{pct(u['all']['mAP50'])}, mAP50-95 {pct(u['all']['mAP50-95'])}). Its P and R are read at the
confidence that maximises F1, and its AP interpolates the PR curve differently from COCO's 101
points; see BENCHMARKS.md section 11.

Full flow on frames 800-999 (detect, link, grade; `evaluate_tracking`, centre distance, zero
at 10 px): YOLO HOTA {100 * fy['HOTA']:.1f}, IDF1 {100 * fy['IDF1']:.1f}; classical HOTA
{100 * fc['HOTA']:.1f}, IDF1 {100 * fc['IDF1']:.1f}.

Speed on {held['cpu_count']} CPU cores: {held['fps']['yolo_batch8']:.1f} frames/s at batch 8,
{held['fps']['yolo_batch1']:.1f} at batch 1 (the classical detector: {held['fps']['classical']:.1f}).
"""


def training_record(run: Path) -> dict:
    """What the run did, from Ultralytics' own records (args.yaml, results.csv) and split.json;
    hardware and versions from train_yolo.py's card.json, else from this machine."""
    import csv
    import os
    import platform

    import torch
    import ultralytics
    import yaml

    args = yaml.safe_load((run / "train" / "args.yaml").read_text())
    rows = list(csv.DictReader((run / "train" / "results.csv").open()))
    split = json.loads((run / "dataset" / "split.json").read_text())
    train_frames = [n for v in split["train"].values() for n in v]
    keys = ("mosaic", "close_mosaic", "scale", "flipud", "fliplr", "hsv_h", "hsv_s", "hsv_v",
            "translate", "optimizer", "lr0", "warmup_epochs", "cache", "amp", "plots")  # fmt: skip
    record = {
        "run": str(run), "weights": str(run / "train" / "weights" / "last.pt"), "model": args["model"],
        "epochs_run": int(rows[-1]["epoch"]), "train_seconds": float(rows[-1]["time"]),
        "hours_budget": args.get("time"), "every": train_frames[1] - train_frames[0],
        "batch": args["batch"], "imgsz": args["imgsz"], "seed": args["seed"],
        "settings": {k: args[k] for k in keys if k in args}, "split": split["rule"],
        "train_frames": len(train_frames),
        "hardware": {"device": args["device"], "cpu": platform.processor() or platform.machine(),
                     "cpu_count": os.cpu_count(),
                     "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "versions": {"ultralytics": ultralytics.__version__, "torch": torch.__version__},
    }  # fmt: skip
    card = run / "card.json"
    if card.is_file():
        saved = json.loads(card.read_text())
        record.update({k: saved[k] for k in ("hardware", "versions") if k in saved})
    return record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("runs", type=Path, nargs="+", help="train_yolo.py --out folders, in order")
    ap.add_argument("--install", action="store_true", help="copy the weights into the package")
    args = ap.parse_args()
    stages = [training_record(run) for run in args.runs]
    held = json.loads((args.runs[-1] / "heldout.json").read_text())
    weights = Path(stages[-1]["weights"])
    data = weights.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    text = render(stages, held, sha, len(data) / 1e6)
    if args.install:
        PKG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(weights, PKG / NAME)
        (PKG / "MODEL_CARD.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
