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
    evidence = det.adapted_to(svia).params["polarity_evidence"]
    assert evidence["dark"] > 10 and evidence["bright"] < 0.1 * evidence["dark"]


def test_a_sparse_phase_contrast_field_is_read_bright_side_up():
    """A phase-contrast field with few heads (40 x 10^6/mL, 10 in view): read inverted, its
    dark particles and halo rims carry as much heat as the heads do right side up (what the
    polarity rule counted before); the image's intensity tails decide now."""
    from spermlab.detect.learned.spermnet import peaks
    from spermlab.simulate import SimulationConfig, simulate

    cfg = SimulationConfig(duration_s=8.0, concentration=40.3, mix=(0.5125, 0.2181, 0.149, 0.1204))
    sim = simulate(cfg, rng=105)
    image = next(iter(sim)).image
    det = SpermNetDetector(sim.calibration)
    maps, inputs = det._forward([image, image], invert=[False, True])
    heat = [float(m[0][peaks(m[0], det.threshold)].sum()) for m in maps]
    assert heat[1] > heat[0]  # heat alone would read this field inverted
    assert det.choose_polarity(image) == "bright"


def test_a_field_that_reads_alike_both_ways_gets_the_caution():
    """Seed 9207 of the flagellum benchmark (phase contrast, 34 x 10^6/mL, ten heads in view):
    its first frame shows about as many verified heads read either way, so whichever way the
    rule goes, the verdict must say the choice is doubtful and name --polarity."""
    from spermlab.report.quality import AMBIGUOUS_POLARITY
    from spermlab.simulate import SimulationConfig, simulate

    cfg = SimulationConfig(duration_s=4.0, concentration=33.6, mix=(0.0358, 0.3066, 0.3662, 0.2914),
                           look="phase", stuck_fraction=0.5, brownian_debris_density=0.3)  # fmt: skip
    sim = simulate(cfg, rng=9207)
    params = SpermNetDetector(sim.calibration).adapted_to(next(iter(sim)).image).params
    weak, strong = sorted(params["polarity_evidence"].values())
    assert weak > AMBIGUOUS_POLARITY * strong


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
