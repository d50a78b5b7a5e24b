"""Tests of the classical (training-free) sperm-head detector.

Synthetic frames are drawn here with numpy: phase-contrast heads (a bright ellipse
with a dark surround) with a dark, slightly curved flagellum, on a noisy grey
background, plus distractors that must be rejected (a round cell with a bright ring,
the bright halo around dark debris, a tail-less bead). The real-data test runs on
VISEM-Tracking video 11.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment

from spermlab.calibration import Calibration, preset
from spermlab.detect import ClassicalDetector, detect_source, estimate_polarity
from spermlab.io.source import Frame
from spermlab.tables import DETECTIONS, validate

SHAPE = (256, 384)
BACKGROUND = 100.0
NOISE = 3.0


# ----------------------------------------------------------------- synthetic data
@dataclass
class Scene:
    image: np.ndarray  # float64, heads bright
    heads: np.ndarray  # (n, 2) true head centres (x, y), image coordinates
    distractors: np.ndarray  # (m, 2) centres of things that are not heads


def _add_ellipse(img, cx, cy, theta, sa, sb, amp):
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]].astype(float)
    u = (xx - cx) * np.cos(theta) + (yy - cy) * np.sin(theta)
    v = -(xx - cx) * np.sin(theta) + (yy - cy) * np.cos(theta)
    img += amp * np.exp(-0.5 * ((u / sa) ** 2 + (v / sb) ** 2))


def _add_curve(img, points, amp, width):
    """A line through ``points`` ((k, 2) x, y), Gaussian cross-section."""
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]].astype(float)
    x0, x1 = points[:, 0].min() - 4 * width, points[:, 0].max() + 4 * width
    y0, y1 = points[:, 1].min() - 4 * width, points[:, 1].max() + 4 * width
    box = (xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1)
    px, py = xx[box], yy[box]
    d2 = ((px[:, None] - points[None, :, 0]) ** 2 + (py[:, None] - points[None, :, 1]) ** 2).min(1)
    img[box] += amp * np.exp(-0.5 * d2 / width**2)


def _tail_points(cx, cy, theta, bend):
    """A flagellum leaving the rear of the head and bending gently: (k, 2) x, y."""
    s = np.linspace(6.0, 60.0, 120)
    ang = theta + np.pi + bend * s
    step = s[1] - s[0]
    dx, dy = np.cumsum(np.cos(ang)) * step, np.cumsum(np.sin(ang)) * step
    start = np.array([cx, cy]) + 6.0 * np.array([np.cos(theta + np.pi), np.sin(theta + np.pi)])
    return np.c_[start[0] + dx - dx[0], start[1] + dy - dy[0]]


def _add_sperm(img, cx, cy, theta, tail):
    # Head: about 9 px long, 6 px wide at half maximum, with a dark phase rim.
    _add_ellipse(img, cx, cy, theta, 3.2, 2.0, 140.0)
    _add_ellipse(img, cx, cy, theta, 5.0, 3.6, -20.0)
    _add_curve(img, tail, -35.0, 0.9)


def _add_ring_cell(img, cx, cy):
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]].astype(float)
    r = np.hypot(xx - cx, yy - cy)
    img += 80.0 * np.exp(-0.5 * ((r - 9.0) / 1.5) ** 2)


def _add_debris_halo(img, cx, cy):
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]].astype(float)
    r = np.hypot(xx - cx, yy - cy)
    img -= 75.0 * np.exp(-0.5 * (r / 3.5) ** 2)
    img += 60.0 * np.exp(-0.5 * ((r - 7.0) / 1.6) ** 2)


def _add_bead(img, cx, cy):
    _add_ellipse(img, cx, cy, 0.0, 2.8, 2.8, 100.0)


def make_scene(rng: np.random.Generator, *, n_heads: int = 10, distractors: bool = True) -> Scene:
    """Heads at least 45 px apart; no flagellum passes within 20 px of another object."""
    img = np.full(SHAPE, BACKGROUND)
    adders = (_add_ring_cell, _add_debris_halo, _add_bead) if distractors else ()
    others: list[tuple[float, float]] = []
    heads: list[tuple[float, float]] = []
    angles: list[float] = []
    tails: list[np.ndarray] = []

    def far(p, q_list, dist):
        return all(np.hypot(p[0] - q[0], p[1] - q[1]) > dist for q in q_list)

    while len(others) < len(adders):
        p = (rng.uniform(25, SHAPE[1] - 25), rng.uniform(25, SHAPE[0] - 25))
        if far(p, others, 60):
            others.append(p)
    for _ in range(5000):
        if len(heads) == n_heads:
            break
        cx, cy = rng.uniform(22, SHAPE[1] - 22), rng.uniform(22, SHAPE[0] - 22)
        theta, bend = rng.uniform(0, 2 * np.pi), rng.uniform(-0.012, 0.012)
        tail = _tail_points(cx, cy, theta, bend)
        objects = heads + others
        ok = far((cx, cy), objects, 45) and all(far(t, objects, 20) for t in tail[::4])
        ok = ok and all(far((cx, cy), [tuple(t) for t in old[::4]], 20) for old in tails)
        if ok:
            heads.append((cx, cy))
            angles.append(theta)
            tails.append(tail)
    assert len(heads) == n_heads, "could not place the heads"
    for (cx, cy), theta, tail in zip(heads, angles, tails, strict=True):
        _add_sperm(img, cx, cy, theta, tail)
    for add, (cx, cy) in zip(adders, others, strict=True):
        add(img, cx, cy)
    img += rng.normal(0.0, NOISE, SHAPE)
    # drawn at array indices; image coordinates put pixel (r, c)'s centre at (c+.5, r+.5)
    return Scene(np.clip(img, 0, 255), np.array(heads) + 0.5, np.array(others).reshape(-1, 2) + 0.5)


def match(pred: np.ndarray, truth: np.ndarray, radius: float) -> np.ndarray:
    """One-to-one (Hungarian) matches (i, j) with centre distance <= radius."""
    if len(pred) == 0 or len(truth) == 0:
        return np.zeros((0, 2), dtype=int)
    d = np.hypot(pred[:, None, 0] - truth[None, :, 0], pred[:, None, 1] - truth[None, :, 1])
    cost = np.where(d <= radius, d, 1e6)
    i, j = linear_sum_assignment(cost)
    ok = cost[i, j] <= radius
    return np.c_[i[ok], j[ok]]


@pytest.fixture
def detector() -> ClassicalDetector:
    return ClassicalDetector(preset("visem"))


# ------------------------------------------------------------------------ tests
def test_synthetic_recall_precision_and_subpixel_centroid(rng, detector):
    errors = []
    for _ in range(3):
        scene = make_scene(rng)
        det = detector.detect(scene.image.astype(np.uint8), frame=7)
        pred = det[["x", "y"]].to_numpy()
        m = match(pred, scene.heads, 4.0)
        assert len(m) == len(scene.heads), "every head is found"
        assert len(det) == len(scene.heads), "nothing else is found"
        errors.extend(np.hypot(*(pred[m[:, 0]] - scene.heads[m[:, 1]]).T))
        assert (det["frame"] == 7).all()
    errors = np.array(errors)
    assert errors.mean() < 0.3 and np.percentile(errors, 90) < 0.5


def test_distractors_are_rejected(rng, detector):
    scene = make_scene(rng)
    det = detector.detect(scene.image)
    pred = det[["x", "y"]].to_numpy()
    for cx, cy in scene.distractors:  # ring cell, debris halo, bead
        assert not (np.hypot(pred[:, 0] - cx, pred[:, 1] - cy) < 14).any()
    cand = detector.candidates(scene.image)
    near = lambda p: np.hypot(cand.x - p[0], cand.y - p[1]) < 14  # noqa: E731
    ring, debris, bead = scene.distractors
    assert not cand[near(ring)]["isolated"].all()  # a ring continues beyond a head
    assert cand[near(debris)]["dark"].min() < -0.5  # a dark body beside the halo
    assert cand[near(bead)]["tail"].max() < 2.5  # no flagellum


def test_output_is_a_valid_detections_table(rng, detector):
    scene = make_scene(rng)
    det = detector.detect(scene.image)
    pd.testing.assert_frame_equal(validate(det, DETECTIONS), det)
    assert isinstance(det.index, pd.RangeIndex)
    assert det["score"].between(0, 1).all() and det["score"].is_monotonic_decreasing
    assert (det["cls"] == 0).all()
    assert (det.x - det.w / 2 >= 0).all() and (det.x + det.w / 2 <= SHAPE[1]).all()
    assert (det.y - det.h / 2 >= 0).all() and (det.y + det.h / 2 <= SHAPE[0]).all()
    assert det["w"].between(4, 20).all() and det["h"].between(4, 20).all()


@pytest.mark.parametrize("value", [0.0, 90.0, 255.0])
def test_flat_frame_gives_empty_table_with_schema(detector, value):
    det = detector.detect(np.full(SHAPE, value), frame=3)
    assert len(det) == 0
    assert list(det.columns) == list(DETECTIONS)
    assert [str(t) for t in det.dtypes] == list(DETECTIONS.values())
    assert isinstance(det.index, pd.RangeIndex)


def test_noise_only_frame_gives_nothing(rng, detector):
    img = rng.normal(BACKGROUND, NOISE, SHAPE)
    assert len(detector.detect(img)) == 0


def test_input_is_not_modified(rng, detector):
    img = make_scene(rng).image.astype(np.uint8)
    img.setflags(write=False)
    before = img.copy()
    detector.detect(img)
    detector.candidates(img)
    np.testing.assert_array_equal(img, before)


def test_dark_polarity_on_inverted_frames(rng):
    scene = make_scene(rng)
    bright = ClassicalDetector(preset("visem"), polarity="bright").detect(scene.image)
    dark = ClassicalDetector(preset("visem"), polarity="dark").detect(255.0 - scene.image)
    assert len(bright) == len(dark) == len(scene.heads)
    np.testing.assert_allclose(
        dark[["x", "y"]].to_numpy(), bright[["x", "y"]].to_numpy(), atol=1e-3
    )
    # the wrong polarity does not find the heads
    wrong = ClassicalDetector(preset("visem"), polarity="bright").detect(255.0 - scene.image)
    assert len(match(wrong[["x", "y"]].to_numpy(), scene.heads, 4.0)) <= 1


def test_auto_polarity_picks_correctly(rng):
    scene = make_scene(rng)
    assert estimate_polarity(scene.image) == "bright"
    assert estimate_polarity(255.0 - scene.image) == "dark"
    auto = ClassicalDetector(preset("visem"))
    assert len(auto.detect(255.0 - scene.image)) == len(scene.heads)
    assert auto.adapted_to(255.0 - scene.image).polarity == "dark"
    assert auto.candidates(scene.image).attrs["polarity"] == "bright"


def test_scale_is_measured_within_the_calibrated_range(rng):
    scene = make_scene(rng)
    det = ClassicalDetector(preset("visem")).adapted_to(scene.image)
    lo, hi = det.scale_range_px
    assert lo <= det.head_length_px <= hi
    assert 7.5 < det.head_length_px < 11.5  # the drawn heads are about 9 px long
    assert det.implied_um_per_px == pytest.approx(4.5 / det.head_length_px)
    # a calibration that says the pixels are twice as small still finds the heads
    fine = Calibration(um_per_px=0.125, fps=50.0)
    found = ClassicalDetector(fine, scale_tolerance=4.0).detect(scene.image)
    assert len(match(found[["x", "y"]].to_numpy(), scene.heads, 4.0)) == len(scene.heads)


def test_detect_source_streams_frames_with_a_fixed_scale(rng, detector):
    scenes = [make_scene(rng, distractors=False) for _ in range(3)]
    frames = (
        Frame(index=10 + k, image=s.image.astype(np.uint8), timestamp=k / 50)
        for k, s in enumerate(scenes)
    )
    tables = list(detect_source(frames, detector))
    assert [int(t["frame"].iloc[0]) for t in tables] == [10, 11, 12]
    for table, scene in zip(tables, scenes, strict=True):
        assert len(match(table[["x", "y"]].to_numpy(), scene.heads, 4.0)) == len(scene.heads)
    with pytest.raises(TypeError, match="expected a Frame"):
        list(detect_source([np.zeros(SHAPE)], detector))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"polarity": "up"}, ValueError),
        ({"scale": "guess"}, ValueError),
        ({"head_length_um": -1.0}, ValueError),
        ({"scale_tolerance": 0.5}, ValueError),
        ({"head_length_px": 1.0}, ValueError),
        ({"min_score": 1.5}, ValueError),
    ],
)
def test_bad_parameters_are_refused(kwargs, error):
    with pytest.raises(error):
        ClassicalDetector(preset("visem"), **kwargs)


def test_bad_inputs_are_refused(detector):
    with pytest.raises(TypeError, match="Calibration"):
        ClassicalDetector(0.25)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="grey image"):
        detector.detect(np.zeros((20, 20, 3)))
    with pytest.raises(ValueError, match="NaN"):
        detector.detect(np.full((20, 20), np.nan))
    with pytest.raises(ValueError, match="at least 8x8"):
        detector.detect(np.zeros((4, 4)))


# ----------------------------------------------------------------------- real data
def _visem_truth(labels: Path) -> np.ndarray:
    a = np.loadtxt(labels, ndmin=2)
    sperm = a[a[:, 0] == 0]
    return np.c_[sperm[:, 1] * 640, sperm[:, 2] * 480]


@pytest.mark.needs_data
def test_visem_video_11_precision_and_f1(data_dir):
    from PIL import Image

    root = data_dir / "visem_tracking" / "11"
    detector = ClassicalDetector(preset("visem"))
    tp = n_pred = n_true = 0
    for n in range(0, 1000, 50):
        with Image.open(root / "images" / f"11_frame_{n}.jpg") as im:
            grey = np.asarray(im.convert("L"))
        if n == 0:
            detector = detector.adapted_to(grey)
        det = detector.detect(grey, frame=n)
        truth = _visem_truth(root / "labels" / f"11_frame_{n}.txt")
        tp += len(match(det[["x", "y"]].to_numpy(), truth, 8.0))
        n_pred += len(det)
        n_true += len(truth)
    precision, recall = tp / n_pred, tp / n_true
    f1 = 2 * precision * recall / (precision + recall)
    assert precision >= 0.85, f"precision {precision:.3f} (recall {recall:.3f})"
    assert f1 >= 0.85, f"F1 {f1:.3f} (precision {precision:.3f}, recall {recall:.3f})"
