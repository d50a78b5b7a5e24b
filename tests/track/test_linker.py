"""Tests of spermlab.track: hand-made scenarios, invariants, and video 11's ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spermlab import Calibration, preset, tables
from spermlab.track import Linker, link
from spermlab.track.kalman import ConstantVelocity, InteractingMultipleModel

CAL = Calibration(um_per_px=0.5, fps=50.0)  # 200 µm/s = 8 px/frame


def detections(points: list[tuple[int, float, float]]) -> pd.DataFrame:
    """A Detections table from ``(frame, x, y)`` triples, in the given row order."""
    frame, x, y = zip(*points, strict=True) if points else ((), (), ())
    return pd.DataFrame({"frame": np.asarray(frame, dtype=np.int64), "x": np.asarray(x, float),
                         "y": np.asarray(y, float), "w": 10.0, "h": 10.0, "cls": 0,
                         "score": 1.0})


def line(start: tuple[float, float], step: tuple[float, float], frames) -> list:
    return [(f, start[0] + step[0] * i, start[1] + step[1] * i) for i, f in enumerate(frames)]


def ids_by_truth(tracks: pd.DataFrame, truth: list[int]) -> dict[int, set[int]]:
    """For each true id, the set of track ids given to its rows."""
    out: dict[int, set[int]] = {}
    for t, tid in zip(truth, tracks["track_id"], strict=True):
        out.setdefault(t, set()).add(int(tid))
    return out


# -- hand-solved scenarios --------------------------------------------------------------


def interleave(*paths: list) -> tuple[pd.DataFrame, list[int]]:
    """Detections of several true paths, frame by frame, and the true id of each row."""
    labelled = sorted((p[0], k, p) for k, path in enumerate(paths) for p in path)
    return detections([p for _, _, p in labelled]), [k for _, k, _ in labelled]


def test_two_straight_crossing_tracks_keep_their_ids() -> None:
    a = line((0.0, 0.0), (3.0, 3.0), range(40))  # 3 px/frame diagonal = 106 µm/s
    b = line((0.0, 117.0), (3.0, -3.0), range(40))  # crosses a between frames 19 and 20
    det, truth = interleave(a, b)
    assert ids_by_truth(link(det, CAL), truth) == {0: {0}, 1: {1}}


def test_crossing_through_the_same_point_keeps_ids() -> None:
    a = line((0.0, 50.0), (2.0, 0.0), range(30))  # horizontal
    b = line((30.0, 20.0), (0.0, 2.0), range(30))  # vertical; both at (30, 50) in frame 15
    det, truth = interleave(a, b)
    assert ids_by_truth(link(det, CAL), truth) == {0: {0}, 1: {1}}


def test_immotile_cell_keeps_its_id_when_a_swimmer_passes_close() -> None:
    still = [(f, 50.0, 50.0) for f in range(30)]
    swim = line((20.0, 48.5), (2.0, 0.0), range(30))  # passes 1.5 px from it at frame 15
    det, truth = interleave(still, swim)
    assert ids_by_truth(link(det, CAL), truth) == {0: {0}, 1: {1}}


@pytest.mark.parametrize(("memory", "n_ids"), [(3, 1), (2, 1), (1, 2), (0, 2)])
def test_two_frame_gap_closed_within_memory_and_split_beyond(memory: int, n_ids: int) -> None:
    frames = [f for f in range(20) if f not in (8, 9)]  # frames 8 and 9 missed
    out = link(detections(line((10.0, 10.0), (2.0, 1.0), frames)), CAL, memory=memory)
    assert out["track_id"].nunique() == n_ids
    if n_ids == 2:
        assert out["track_id"].tolist() == [0] * 8 + [1] * 10


def test_gap_closing_follows_the_motion() -> None:
    # Across a 3-frame gap the prediction carries the track 4 steps on: the detection
    # there joins it, a distractor left at the last seen position does not.
    track = line((10.0, 10.0), (4.0, 0.0), range(10))
    rows = track + [(13, 10.0 + 4 * 13, 10.0), (13, 10.0 + 4 * 9, 10.0)]
    out = link(detections(rows), CAL, memory=3)
    assert out["track_id"].tolist() == [0] * 11 + [1]


def test_birth_and_death() -> None:
    a = line((10.0, 10.0), (1.0, 0.0), range(0, 10))
    b = line((60.0, 60.0), (0.0, 1.0), range(5, 15))
    c = line((10.0, 10.0), (1.0, 0.0), range(20, 25))  # where a was, long after a died
    out = link(detections(a + b + c), CAL, memory=3)
    assert out["track_id"].tolist() == [0] * 10 + [1] * 10 + [2] * 5


def test_ids_follow_birth_order_then_row_order() -> None:
    rows = [(1, 80.0, 80.0), (0, 50.0, 50.0), (1, 10.0, 10.0), (0, 30.0, 30.0)]
    out = link(detections(rows), CAL)
    # Frame 0: rows 1 then 3 are born as 0 and 1; frame 1: rows 0 and 2 are far from both.
    assert out["track_id"].tolist() == [2, 0, 3, 1]


def test_empty_frames_advance_time_in_streaming() -> None:
    def stream(n_empty: int) -> list[int]:
        linker = Linker(CAL, memory=3)
        ids = []
        for f in range(5):
            ids += linker.update(detections([(f, 10.0 + 2 * f, 10.0)]))["track_id"].tolist()
        for _ in range(n_empty):
            assert linker.update(tables.empty(tables.DETECTIONS)).empty
        f = linker.frame + 1
        ids += linker.update(detections([(f, 10.0 + 2 * f, 10.0)]))["track_id"].tolist()
        return ids

    assert stream(3) == [0] * 6  # frames 5-7 empty, seen again in frame 8: within memory
    assert stream(4) == [0] * 5 + [1]  # frames 5-8 empty: beyond memory, a new track


def test_frame_missing_from_the_table_is_an_empty_frame() -> None:
    rows = line((10.0, 10.0), (2.0, 0.0), [0, 1, 2, 3, 9])
    assert link(detections(rows), CAL, memory=3)["track_id"].tolist() == [0, 0, 0, 0, 1]
    linker = Linker(CAL, memory=3)
    streamed = [linker.update(detections([p]))["track_id"].iloc[0] for p in rows]
    assert streamed == [0, 0, 0, 0, 1]


def test_fast_track_beyond_the_gate_is_not_linked() -> None:
    # The gate is 200 µm/s = 8 px/frame, plus 3 sigma of localisation error (4.2 px).
    # miss_cost=inf: only the gate can refuse a link.
    fast = line((0.0, 50.0), (14.0, 0.0), range(10))  # 14 px/frame = 350 µm/s
    assert link(detections(fast), CAL, miss_cost=np.inf)["track_id"].tolist() == list(range(10))
    assert link(detections(fast), CAL, max_speed_um_s=400, miss_cost=np.inf)[
        "track_id"].nunique() == 1
    slow = line((0.0, 50.0), (11.0, 0.0), range(10))  # 275 µm/s, within the slack
    assert link(detections(slow), CAL, miss_cost=np.inf)["track_id"].nunique() == 1


@pytest.mark.parametrize(("miss_cost", "last_id"), [(5.0, 1), (8.0, 1), (15.0, 0), (np.inf, 0)])
def test_miss_cost_refuses_unlikely_links(miss_cost: float, last_id: int) -> None:
    # A still cell, then a detection 7 px (3.5 µm) away: inside the speed gate (8 px),
    # but unlikely under the cell's prediction; a low miss cost makes it a new track.
    rows = [(f, 50.0, 50.0) for f in range(10)] + [(10, 57.0, 50.0)]
    out = link(detections(rows), CAL, miss_cost=miss_cost)
    assert out["track_id"].iloc[-1] == last_id


# -- API contract -------------------------------------------------------------------------


def random_walks(rng: np.random.Generator, n: int = 12, frames: int = 40) -> pd.DataFrame:
    start = rng.uniform(0, 300, size=(n, 2))
    vel = rng.normal(0, 2.0, size=(n, 2))
    pos = start[:, None] + vel[:, None] * np.arange(frames)[None, :, None]
    pos += rng.normal(0, 0.3, size=pos.shape)
    keep = rng.random((n, frames)) > 0.05  # 5 % missed detections
    i, f = np.nonzero(keep)
    det = detections(list(zip(f.tolist(), pos[i, f, 0], pos[i, f, 1], strict=True)))
    return det.sample(frac=1.0, random_state=1).reset_index(drop=True)  # rows in any order


def test_deterministic(rng: np.random.Generator) -> None:
    det = random_walks(rng)
    pd.testing.assert_frame_equal(link(det, CAL), link(det, CAL))


def test_streaming_update_equals_batch_link(rng: np.random.Generator) -> None:
    det = random_walks(rng)
    batch = link(det, CAL)
    linker = Linker(CAL)
    parts = []
    for f in range(int(det["frame"].max()) + 1):
        one = det[det["frame"] == f].reset_index(drop=True)
        parts.append(linker.update(one, frame=f))
    parts.append(linker.finish())
    streamed = pd.concat([p for p in parts if len(p)], ignore_index=True)
    expected = batch.sort_values("frame", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(streamed, expected)


def test_input_not_mutated(rng: np.random.Generator) -> None:
    det = random_walks(rng).assign(note="kept")
    before = det.copy(deep=True)
    out = link(det, CAL)
    pd.testing.assert_frame_equal(det, before)
    assert list(out.columns) == [*tables.TRACKS, "note"]
    pd.testing.assert_frame_equal(out.drop(columns="track_id"), before)
    one = det[det["frame"] == 0].reset_index(drop=True)
    one_before = one.copy(deep=True)
    Linker(CAL).update(one)
    pd.testing.assert_frame_equal(one, one_before)


def test_empty_input_gives_empty_tracks_with_schema() -> None:
    for out in (link(tables.empty(tables.DETECTIONS), CAL),
                Linker(CAL).update(tables.empty(tables.DETECTIONS))):
        assert out.empty
        assert dict(out.dtypes.astype(str)) == dict(tables.TRACKS)
        assert isinstance(out.index, pd.RangeIndex)


def test_linker_state_and_finish() -> None:
    linker = Linker(CAL)
    assert linker.frame is None and linker.n_tracks == 0
    linker.update(detections([(4, 1.0, 1.0), (4, 90.0, 1.0)]))
    assert linker.frame == 4 and linker.n_tracks == 2
    assert linker.active_ids.tolist() == [0, 1]
    assert linker.update(tables.empty(tables.DETECTIONS)).empty and linker.frame == 5
    assert linker.params["memory"] == round(0.5 * CAL.fps)  # 0.5 s of frames by default
    assert Linker(Calibration(um_per_px=1.0, fps=2.0)).params["memory"] == 3  # at least 3
    assert linker.finish().empty
    with pytest.raises(RuntimeError, match="after finish"):
        linker.update(detections([(6, 1.0, 1.0)]))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: Linker(CAL).update(detections([(0, 1.0, 1.0), (1, 2.0, 2.0)])), "one frame"),
        (lambda: Linker(CAL).update(detections([(3, 1.0, 1.0)]), frame=2), "frame=2"),
        (lambda: link(detections([(0, 1.0, 1.0)]).assign(track_id=0), CAL), "track_id"),
        (lambda: link(detections([(5, 1.0, 1.0)]), CAL, n_frames=5), r"\[0, 5\)"),
        (lambda: link(detections([(0, np.nan, 1.0)]), CAL), "finite"),
        (lambda: link(detections([(-1, 1.0, 1.0)]), CAL), "0-based"),
        (lambda: link(detections([(0, 1.0, 1.0)]), CAL, n_frames=2.5), "n_frames"),
        (lambda: link(detections([(0, 1.0, 1.0)]).set_index("frame"), CAL), "RangeIndex"),
        (lambda: Linker(CAL, max_speed_um_s=0), "max_speed_um_s"),
        (lambda: Linker(CAL, memory=-1), "memory"),
        (lambda: Linker(CAL, memory=1.5), "memory"),
        (lambda: Linker(CAL, position_noise_um=float("nan")), "position_noise_um"),
        (lambda: Linker(CAL, mode_switch=1.0), "mode_switch"),
        (lambda: Linker(CAL, motion_noise_um2_s3=(1.0, -5.0)), "motion_noise_um2_s3"),
        (lambda: Linker(CAL, motion_noise_um2_s3="fast"), "motion_noise_um2_s3"),
        (lambda: Linker(CAL, max_speed_um_s="fast"), "max_speed_um_s"),
        (lambda: Linker(CAL, miss_cost=float("nan")), "miss_cost"),
        (lambda: link(detections([(0, 1.0, 1.0)]), CAL, memroy=3), "memroy"),
    ],
)
def test_bad_input_raises(call, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_frames_must_increase() -> None:
    linker = Linker(CAL)
    linker.update(detections([(5, 1.0, 1.0)]))
    with pytest.raises(ValueError, match="not after the last frame 5"):
        linker.update(detections([(5, 2.0, 1.0)]))


def test_calibration_is_required() -> None:
    with pytest.raises(TypeError, match="Calibration"):
        Linker({"um_per_px": 0.5, "fps": 50.0})  # type: ignore[arg-type]


# -- invariants -------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(dx=st.floats(-500, 500), dy=st.floats(-500, 500), seed=st.integers(0, 2**16))
def test_ids_invariant_under_translation(dx: float, dy: float, seed: int) -> None:
    det = random_walks(np.random.default_rng(seed), n=8, frames=15)
    moved = det.assign(x=det["x"] + dx, y=det["y"] + dy)
    assert link(moved, CAL)["track_id"].tolist() == link(det, CAL)["track_id"].tolist()


@settings(max_examples=10, deadline=None)
@given(scale=st.sampled_from([0.25, 0.5, 2.0, 4.0]), seed=st.integers(0, 2**16))
def test_ids_invariant_under_rescaling_with_the_calibration(scale: float, seed: int) -> None:
    # Physical parameters: magnifying the image by `scale` while dividing µm/px by it
    # describes the same cells, so the tracks must not change.
    det = random_walks(np.random.default_rng(seed), n=8, frames=15)
    zoomed = det.assign(x=det["x"] * scale, y=det["y"] * scale)
    cal = Calibration(um_per_px=CAL.um_per_px / scale, fps=CAL.fps)
    assert link(zoomed, cal)["track_id"].tolist() == link(det, CAL)["track_id"].tolist()


def test_constant_velocity_prediction_composes_over_gaps(rng: np.random.Generator) -> None:
    cv = ConstantVelocity(q=2.0, r=0.5)
    pos, vel = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    cov = np.tile(np.array([[1.0, 0.2], [0.2, 0.5]]), (4, 1, 1))
    once = cv.predict(pos, vel, cov, 3)
    thrice = (pos, vel, cov)
    for _ in range(3):
        thrice = cv.predict(*thrice, 1)
    for a, b in zip(once, thrice, strict=True):
        np.testing.assert_allclose(a, b)


def test_imm_mode_probability_follows_the_motion() -> None:
    imm = InteractingMultipleModel(q=(0.001, 5.0), r=0.1, v0=4.0)
    still, swim = imm.birth(np.zeros((1, 2))), imm.birth(np.zeros((1, 2)))
    for f in range(1, 15):
        still = imm.update(imm.predict(still), np.zeros((1, 2)))
        wobble = np.array([[3.0 * f, 2.0 * (-1) ** f]])
        swim = imm.update(imm.predict(swim), wobble)
    assert still.prob[0, 0] > 0.9 and swim.prob[0, 1] > 0.9


# -- real ground truth ------------------------------------------------------------------


@pytest.mark.needs_data
def test_video11_ground_truth_positions_hota_at_least_99(data_dir: Path) -> None:
    from spermlab.evaluate import evaluate_tracking
    from spermlab.io.visem import read_visem_tracks

    gt = read_visem_tracks(data_dir / "visem_tracking" / "11", frames=range(1000)).tracks
    tracks = link(gt.drop(columns="track_id"), preset("visem"), n_frames=1000)
    res = evaluate_tracking(tracks, gt, similarity="distance", zero_distance=10.0, n_frames=1000)
    assert res.hota >= 0.99, f"HOTA {100 * res.hota:.2f} on video 11 ground-truth positions"


def test_long_gaps_close_only_near_where_the_track_was_lost() -> None:
    # A still head flickers off for 15 frames and comes back where it was: one track.
    # A swimmer at 4 px/frame is lost for 15 frames: its prediction is 60 px on, beyond
    # the gap reach (3 frames x 8 px), so the detection there starts a new track rather
    # than the track jumping; with an unlimited reach it would be taken.
    still = line((100.0, 100.0), (0.0, 0.0), range(10)) + [(25, 100.5, 100.0)]
    swim = line((10.0, 300.0), (4.0, 0.0), range(10)) + [(25, 10.0 + 4 * 25, 300.0)]
    out = link(detections(still + swim), CAL, memory=20)
    assert out["track_id"].tolist() == [0] * 11 + [1] * 10 + [2]
    far = link(detections(still + swim), CAL, memory=20, gap_reach_um=1000.0)
    assert far["track_id"].tolist() == [0] * 11 + [1] * 11
    with pytest.raises(ValueError, match="gap_reach_um"):
        Linker(CAL, gap_reach_um=0.0)
