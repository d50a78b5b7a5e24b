"""spermlab.pipeline.Pipeline end to end on a small simulated sample (fast)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from spermlab.analysis.motility import GRADES
from spermlab.io.source import Frame, FrameSource
from spermlab.pipeline import AnalysisResult, Pipeline
from spermlab.simulate import SimulationConfig, simulate
from spermlab.tables import DETECTIONS, KINEMATICS, TRACKS, validate

# A quarter VISEM field (320x240) for 1 s at 50 fps, twice the default concentration so
# that the small field still holds ~8 heads: a few seconds for the whole module.
CONFIG = SimulationConfig(duration_s=1.0, width=320, height=240, concentration=120.0)


@dataclass
class FrameList:
    """A FrameSource over frames held in a list."""

    frames: list[Frame]
    width: int
    height: int
    fps: float | None = 50.0
    path: str = "memory:frames"

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    def __iter__(self):
        return iter(self.frames)


@pytest.fixture(scope="module")
def sim():
    return simulate(CONFIG, rng=np.random.default_rng(20240601))


@pytest.fixture(scope="module")
def frames(sim) -> list[Frame]:
    """The simulation's frames, rendered once and made read-only."""
    out = list(sim)
    for f in out:
        f.image.flags.writeable = False
    return out


@pytest.fixture(scope="module")
def result(sim) -> AnalysisResult:
    return Pipeline(sim.calibration).run(sim)


def _volatile(summary: dict) -> dict:
    """The summary without its time stamp (the only field allowed to differ between runs)."""
    return {**summary, "input": {k: v for k, v in summary["input"].items() if k != "analysed_at"}}


def test_source_is_a_frame_source(sim):
    assert isinstance(sim, FrameSource)


def test_runs_end_to_end_with_validated_tables(sim, result):
    assert isinstance(result, AnalysisResult)
    assert (result.width, result.height) == (sim.width, sim.height)
    # each table already satisfies its schema: validating again changes nothing
    for table, schema in [(result.detections, DETECTIONS), (result.tracks, TRACKS)]:
        pd.testing.assert_frame_equal(validate(table, schema, extra="keep"), table)
    # Kinematics: same, except that pandas >= 3 may hold the ``grade`` strings in its
    # ``str`` dtype where the schema says ``object``
    kin = result.kinematics
    pd.testing.assert_frame_equal(validate(kin, KINEMATICS).drop(columns="grade"),
                                  kin.drop(columns="grade"))  # fmt: skip
    assert kin["grade"].tolist() == validate(kin, KINEMATICS)["grade"].tolist()
    det, trk = result.detections, result.tracks
    assert len(det) > 0 and len(trk) > 0 and len(result.kinematics) > 0
    assert det["frame"].between(0, sim.n_frames - 1).all()
    assert det["x"].between(0, sim.width).all() and det["y"].between(0, sim.height).all()
    assert det["score"].between(0, 1).all()
    # no track holds two boxes in one frame; every graded track is a track of the table
    assert not trk.duplicated(["frame", "track_id"]).any()
    assert set(result.kinematics["track_id"]) <= set(trk["track_id"])
    assert set(result.kinematics["grade"]) <= set(GRADES)


def test_finds_the_simulated_heads(sim, result):
    # loose sanity (accuracy is benchmarked elsewhere): the count per frame is near the truth
    truth = sim.in_field_counts().mean()
    found = result.summary.mean_heads_per_frame
    assert truth > 2
    assert 0.5 * truth <= found <= 1.5 * truth


def test_summary_is_consistent(sim, result):
    s = result.summary
    assert s.n_frames == sim.n_frames
    assert set(s.counts) == set(GRADES)
    assert sum(s.counts.values()) == s.n_graded == len(result.kinematics) > 0
    assert s.counts == {g: int((result.kinematics["grade"] == g).sum()) for g in GRADES}
    p = s.percentages
    assert math.isclose(p["rapid"] + p["slow"] + p["non_progressive"] + p["immotile"], 100.0)
    assert math.isclose(p["progressive"], p["rapid"] + p["slow"])
    assert math.isclose(p["total_motile"], p["progressive"] + p["non_progressive"])
    assert math.isclose(p["rapid"], 100.0 * s.counts["a"] / s.n_graded)
    assert s.concentration_m_per_ml is not None and s.concentration_m_per_ml > 0
    d = s.to_dict()
    assert d["calibration"] == sim.calibration.to_dict()
    assert "detector" in d["parameters"] and "linker" in d["parameters"]


def test_deterministic_and_input_not_mutated(sim, frames, result):
    before = [f.image.copy() for f in frames]
    # the frames are read-only: writing into them in place would raise here
    again = Pipeline(sim.calibration).run(sim, frames=iter(frames))
    for f, b in zip(frames, before, strict=True):
        np.testing.assert_array_equal(f.image, b)
    # same input, same output (rendered on the fly by the fixture or held in a list)
    for name in ("detections", "tracks", "kinematics", "drift"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(result, name))
    assert _volatile(again.summary.to_dict()) == _volatile(result.summary.to_dict())


def test_blank_video_gives_an_empty_result_or_a_clear_error(sim):
    blank = np.full((sim.height, sim.width), 90, dtype=np.uint8)
    source = FrameList([Frame(k, blank, k / 50.0) for k in range(20)], sim.width, sim.height)
    try:
        res = Pipeline(sim.calibration).run(source)
    except ValueError as exc:  # spermlab's FormatError / CalibrationError are ValueErrors
        assert str(exc)
        return
    assert len(res.detections) == 0 and len(res.tracks) == 0 and len(res.kinematics) == 0
    s = res.summary
    assert s.n_graded == 0 and sum(s.counts.values()) == 0 and s.n_frames == 20
    assert s.mean_heads_per_frame == 0
    # percentages of nothing are undefined, not 0 %
    assert all(math.isnan(v) for v in s.percentages.values())
    pd.testing.assert_frame_equal(validate(res.tracks, TRACKS, extra="keep"), res.tracks)


def test_no_frames_is_a_clear_error(sim):
    source = FrameList([], sim.width, sim.height)
    with pytest.raises(ValueError, match="no frames"):
        Pipeline(sim.calibration).run(source)


@dataclass
class _BatchingDetector:
    """Wraps the classical detector behind detect_batch, recording each batch's frames."""

    inner: object
    batch_size: int = 4
    batches: list = None

    def detect(self, image, frame=0):  # pragma: no cover - must not be called
        raise AssertionError("a batching detector gets whole batches")

    def detect_batch(self, images, frames):
        self.batches.append(list(frames))
        return [self.inner.detect(im, f) for im, f in zip(images, frames, strict=True)]


def test_a_batching_detector_gets_frames_in_order_and_in_bounded_batches(sim, frames):
    from spermlab.detect import ClassicalDetector

    inner = ClassicalDetector(sim.calibration).adapted_to(frames[0].image)
    det = _BatchingDetector(inner, batch_size=4, batches=[])
    seen = []
    out = Pipeline(sim.calibration, detector=det).run(
        FrameList(frames, CONFIG.width, CONFIG.height), on_frame=lambda f: seen.append(f.index))
    n = len(frames)
    assert [len(b) for b in det.batches] == [4] * (n // 4) + ([n % 4] if n % 4 else [])
    assert sum(det.batches, []) == seen == [f.index for f in frames]
    # the same detections as the one-frame-at-a-time path with the same adapted detector
    ref = Pipeline(sim.calibration, detector=inner).run(FrameList(frames, CONFIG.width, CONFIG.height))
    pd.testing.assert_frame_equal(out.detections, ref.detections)
    pd.testing.assert_frame_equal(out.tracks, ref.tracks)


def test_the_same_result_with_detection_overlapped_or_not(sim, frames, result):
    serial = Pipeline(sim.calibration, overlap=False).run(sim, frames=iter(frames))
    for name in ("detections", "tracks", "kinematics", "drift"):
        pd.testing.assert_frame_equal(getattr(serial, name), getattr(result, name))


@dataclass
class _FailingDetector:
    """The classical detector until ``bad``, then the error a broken frame would give."""

    inner: object
    bad: int

    def detect(self, image, frame=0):
        if frame == self.bad:
            raise ValueError(f"frame {frame}: cannot read the image")
        return self.inner.detect(image, frame)


@pytest.mark.parametrize("overlap", [True, False])
def test_a_detector_error_reaches_the_caller_and_no_worker_is_left(sim, frames, overlap):
    import threading

    from spermlab.detect import ClassicalDetector

    det = _FailingDetector(ClassicalDetector(sim.calibration).adapted_to(frames[0].image), bad=5)
    seen = []
    with pytest.raises(ValueError, match="frame 5: cannot read the image"):
        Pipeline(sim.calibration, detector=det, overlap=overlap).run(
            FrameList(frames, CONFIG.width, CONFIG.height), on_frame=lambda f: seen.append(f.index))
    assert seen == [0, 1, 2, 3, 4]
    assert not [t for t in threading.enumerate() if t.name == "spermlab-detect"]
