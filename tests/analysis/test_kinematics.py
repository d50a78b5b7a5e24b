import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spermlab import Calibration
from spermlab.analysis.kinematics import KinematicsParams, average_path, measure, track_kinematics

FPS = 50.0


def _tracks(xy_px, track_id=0, frames=None):
    n = len(xy_px)
    return pd.DataFrame(
        {
            "frame": np.arange(n) if frames is None else frames,
            "x": xy_px[:, 0], "y": xy_px[:, 1], "w": 17.0, "h": 18.0,
            "cls": 0, "score": 1.0, "track_id": track_id,
        }
    )  # fmt: skip


def test_straight_line_constant_speed():
    v = 40.0  # µm/s
    t = np.arange(101) / FPS
    xy = np.c_[10 + v * t * 0.6, 5 + v * t * 0.8]
    k = track_kinematics(xy, FPS, window=5)
    assert k["vcl"] == pytest.approx(v) and k["vsl"] == pytest.approx(v)
    assert k["vap"] == pytest.approx(v)
    assert k["lin"] == pytest.approx(1) and k["str"] == pytest.approx(1)
    assert k["wob"] == pytest.approx(1)
    assert k["alh"] == pytest.approx(0, abs=1e-9) and k["alh_max"] == pytest.approx(0, abs=1e-9)
    assert k["mad"] == pytest.approx(0, abs=1e-6)


def test_circle_whole_turns_has_no_straight_line_progress():
    r, turns, n_per_turn = 20.0, 3, 50
    theta = np.linspace(0, 2 * np.pi * turns, turns * n_per_turn + 1)
    xy = np.c_[r * np.cos(theta), r * np.sin(theta)]
    k = track_kinematics(xy, FPS, window=5)
    chord = 2 * r * np.sin(np.pi / n_per_turn)  # exact step length
    assert k["vcl"] == pytest.approx(chord * FPS)
    assert k["vsl"] == pytest.approx(0, abs=1e-9)
    assert k["lin"] == pytest.approx(0, abs=1e-9)
    # turning angle per step is 2π/50 rad
    assert k["mad"] == pytest.approx(360 / n_per_turn)


def test_sinusoid_alh_and_bcf():
    # head swings ±A/2 about a straight line at f Hz; window 5 at 50 fps spans one cycle at
    # 10 Hz, so the average path is the straight centre line (sum of 5 equally spaced
    # phases of a sine is 0) and ALH = 2 x (A/2) = A, BCF = 2 crossings per cycle = 2 f.
    amp, f, v, seconds = 6.0, 10.0, 30.0, 5.0
    t = np.arange(int(seconds * FPS) + 1) / FPS
    xy = np.c_[v * t, amp / 2 * np.cos(2 * np.pi * f * t)]  # cos: samples hit the peaks
    k = track_kinematics(xy, FPS, window=5, adaptive=False)
    assert k["alh_max"] == pytest.approx(amp, rel=1e-9)
    # half-beats alternate peaks at +1 and -cos(pi/5)= -0.809 of A/2 (5 samples per cycle)
    assert k["alh"] == pytest.approx(amp * (1 + np.cos(np.pi / 5)) / 2, rel=0.02)
    assert k["bcf"] == pytest.approx(2 * f, abs=1 / seconds)
    assert k["vap"] == pytest.approx(v, rel=0.01)
    assert k["vsl"] == pytest.approx(v, rel=1e-3)
    assert k["vcl"] > k["vap"]


def test_still_point_with_noise_has_no_progression(rng):
    xy = 100 + rng.normal(0, 0.3, size=(150, 2))
    k = track_kinematics(xy, FPS, window=5)
    assert k["vsl"] < 1.0  # µm/s: noise does not progress
    assert k["vcl"] > 10 * k["vsl"]  # while VCL is inflated by localisation noise
    assert k["lin"] < 0.1


def test_average_path_is_the_centred_running_mean():
    xy = np.c_[np.arange(7.0), [0, 1, 0, 1, 0, 1, 0]]
    avg = average_path(xy, 3)
    assert avg.shape == (5, 2)
    np.testing.assert_allclose(avg[0], [1, 1 / 3])
    np.testing.assert_allclose(avg[1], [2, 2 / 3])
    assert average_path(xy[:2], 3).shape == (0, 2)


def test_measure_converts_units_fills_gaps_and_drops_short_tracks():
    cal = Calibration(um_per_px=0.5, fps=FPS)
    line = np.c_[np.arange(30) * 2.0, np.zeros(30)]  # 2 px/frame = 1 µm/frame = 50 µm/s
    keep = np.r_[0:10, 12:30]  # two missed frames, interpolated
    t = pd.concat([_tracks(line[keep], 3, frames=keep), _tracks(line[:5], 7)], ignore_index=True)
    before = t.copy()
    kin = measure(t, cal, params=KinematicsParams(min_points=10))
    pd.testing.assert_frame_equal(t, before)
    assert kin["track_id"].tolist() == [3]
    row = kin.iloc[0]
    assert row["vcl"] == pytest.approx(50.0) and row["vsl"] == pytest.approx(50.0)
    assert row["n_points"] == 28 and row["duration_s"] == pytest.approx(29 / FPS)


def test_measure_empty_and_duplicate_frames():
    cal = Calibration(um_per_px=0.5, fps=FPS)
    empty_in = _tracks(np.zeros((0, 2)))
    out = measure(empty_in, cal)
    assert len(out) == 0 and "vcl" in out.columns
    bad = _tracks(np.zeros((12, 2)), frames=np.r_[0, np.arange(11)])
    with pytest.raises(ValueError, match="two detections in one frame"):
        measure(bad, cal)


def test_window_follows_frame_rate():
    p = KinematicsParams(average_window_s=0.1)
    assert p.window_frames(50) == 5 and p.window_frames(9) == 3 and p.window_frames(100) == 11
    with pytest.raises(ValueError):
        KinematicsParams(average_window_s=0)


paths = st.integers(min_value=0, max_value=2**32 - 1).map(
    lambda s: np.cumsum(np.random.default_rng(s).normal(0, 2, size=(40, 2)), axis=0)
)


@settings(max_examples=40, deadline=None)
@given(xy=paths, angle=st.floats(0, 2 * np.pi), shift=st.tuples(st.floats(-500, 500), st.floats(-500, 500)))
def test_invariant_to_rotation_and_translation(xy, angle, shift):
    c, s = np.cos(angle), np.sin(angle)
    moved = xy @ np.array([[c, s], [-s, c]]) + np.array(shift)
    a, b = track_kinematics(xy, FPS, window=5), track_kinematics(moved, FPS, window=5)
    for key in a:
        assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-6), key


@settings(max_examples=40, deadline=None)
@given(xy=paths, scale=st.floats(0.1, 3.0))
def test_velocities_scale_with_um_per_px_and_ratios_in_unit_interval(xy, scale):
    a = measure(_tracks(xy), Calibration(um_per_px=0.25, fps=FPS)).iloc[0]
    b = measure(_tracks(xy), Calibration(um_per_px=0.25 * scale, fps=FPS)).iloc[0]
    for key in ["vcl", "vsl", "vap", "alh", "alh_max"]:
        assert b[key] == pytest.approx(a[key] * scale, rel=1e-6, abs=1e-9)
    for key in ["lin", "str", "wob", "bcf", "mad"]:
        assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-9)
        if key in ("lin", "str", "wob"):
            assert 0.0 <= a[key] <= 1.0


def test_progression_is_net_displacement_per_second_over_1s_windows():
    # 30 µm/s forward for 2 s, then 2 s back: VSL ~ 0 over the track, but every 1-s
    # window away from the turn gains 30 µm; windows spanning the turn gain less.
    t = np.arange(201) / FPS
    x = np.where(t <= 2, 30 * t, 60 - 30 * (t - 2))
    xy = np.c_[x, np.zeros_like(x)]
    k = track_kinematics(xy, FPS, window=5)
    assert k["vsl"] == pytest.approx(0, abs=1e-9)
    # windows starting at s in [0, 3] (151 of them): gain 30 unless they straddle t=2
    starts = np.arange(151) / FPS
    gain = np.where(starts + 1 <= 2, 30, np.where(starts >= 2, 30, np.abs(2 * (2 - starts) - 1) * 30))
    assert k["progression"] == pytest.approx(gain.mean(), rel=1e-9)


def test_adaptive_average_path_removes_any_beat_frequency():
    # A 7-Hz beat is not removed by the fixed 5-point window (7 Hz x 0.1 s = 0.7 cycles):
    # the average path keeps a ripple and VAP reads high. The adaptive Gaussian (sigma =
    # 0.5 / f) leaves exp(-pi^2/2) = 0.7 % of the ripple, so VAP is the forward speed.
    amp, f, v, seconds = 5.0, 7.0, 40.0, 4.0
    t = np.arange(int(seconds * FPS) + 1) / FPS
    xy = np.c_[v * t, amp / 2 * np.sin(2 * np.pi * f * t)]
    fixed = track_kinematics(xy, FPS, window=5, adaptive=False)
    adaptive = track_kinematics(xy, FPS, window=5)
    assert fixed["vap"] > 1.05 * v
    assert adaptive["vap"] == pytest.approx(v, rel=0.01)
    assert adaptive["bcf"] == pytest.approx(2 * f, abs=1 / seconds)
    # the largest sample of a 7-Hz swing at 50 fps is within cos(pi * 7 / 50) of the peak
    assert amp * np.cos(np.pi * f / FPS) * 0.98 <= adaptive["alh_max"] <= amp * 1.01


def test_adaptive_path_keeps_a_10hz_sinusoid_peak_to_peak():
    amp, f = 6.0, 10.0
    t = np.arange(251) / FPS
    xy = np.c_[30 * t, amp / 2 * np.cos(2 * np.pi * f * t)]
    k = track_kinematics(xy, FPS, window=5)
    assert k["alh_max"] == pytest.approx(amp * (1 - np.exp(-np.pi**2 / 2)), rel=5e-3)
