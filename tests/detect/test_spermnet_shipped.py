"""The SpermNet model shipped in the package: small, described by its card, the default of
``analyze`` in the core install (no torch), both polarities, and as good as the card says."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd

from spermlab import preset
from spermlab.cli import main
from spermlab.detect.learned.annotated import from_simulation, from_voc_clip, truth_table
from spermlab.detect.learned.spermnet import SpermNetDetector, shipped_model
from spermlab.evaluate import evaluate_detections
from spermlab.io.frames import read_grey


def _card() -> str:
    return (shipped_model().parent / "SPERMNET_CARD.md").read_text(encoding="utf-8")


def test_shipped_model_is_small_and_matches_its_card():
    path = shipped_model()
    assert path.stat().st_size < 1e6
    assert hashlib.sha256(path.read_bytes()).hexdigest() in _card()


def test_the_default_detector_needs_no_torch():
    code = ("import sys; from spermlab import preset; from spermlab.pipeline import Pipeline; "
            "p = Pipeline(preset('visem')); import numpy as np; "
            "p.detector.detect(np.full((64, 64), 90, np.uint8)); "
            "assert type(p.detector).__name__ == 'SpermNetDetector'; "
            "assert 'torch' not in sys.modules and 'ultralytics' not in sys.modules")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_model_reads_each_microscope_in_its_own_polarity(data_dir):
    det = SpermNetDetector(preset("visem"))
    visem = read_grey(data_dir / "visem_tracking" / "11" / "images" / "11_frame_0.jpg")
    svia = from_voc_clip(data_dir / "videos" / "svia" / "S_0001.mp4", frames=[0])[0].image
    assert det.choose_polarity(visem) == "bright"  # phase contrast: bright heads
    assert det.choose_polarity(255 - visem) == "dark"
    assert det.choose_polarity(svia) == "dark"  # bright field: dark heads
    assert det.adapted_to(svia).params["polarity"] == "dark"


def test_shipped_model_on_simulated_videos_it_never_saw_is_as_good_as_its_card():
    frames = from_simulation(10, 3, seed=9001)  # the card's simtest videos, 3 frames each
    det = SpermNetDetector(preset("visem"))
    adapted: dict = {}
    parts = []
    for k, f in enumerate(frames):
        d = adapted.setdefault(f.source, det.adapted_to(f.image))
        parts.append(d.detect(f.image, k))
    got = evaluate_detections(pd.concat(parts, ignore_index=True), truth_table(frames),
                              match="distance", max_distance=8.0).overall  # fmt: skip
    card_f1 = float(re.search(r"\| simtest \| spermnet \|[^|]*\|[^|]*\|[^|]*\|[^|]*\| ([\d.]+) \|", _card()).group(1))
    assert got.f1 >= card_f1 - 0.05, (got.f1, card_f1)


def test_analyze_runs_the_default_on_a_bright_field_clip(data_dir, tmp_path, capsys):
    clip = data_dir / "videos" / "svia" / "S_0002.mp4"
    out = tmp_path / "r"
    assert main(["analyze", str(clip), "--um-per-px", "0.5", "--out", str(out), "--quiet"]) == 0
    params = json.loads((out / "summary.json").read_text())["parameters"]["detector"]
    assert params["type"] == "SpermNetDetector" and params["polarity"] == "dark"
    assert params["polarity_source"].startswith("auto")
    det = pd.read_parquet(out / "detections.parquet")
    truth = from_voc_clip(clip)
    per_frame = det.groupby("frame").size().reindex(range(len(truth)), fill_value=0).to_numpy()
    heads = np.array([len(f.boxes) for f in truth])
    assert np.abs(per_frame - heads).mean() < 0.15 * heads.mean()  # counts within 15 %
