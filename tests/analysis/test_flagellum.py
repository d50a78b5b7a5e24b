"""Flagellar activity: hand-made movies with known motion, and simulated stuck/dead cells."""

import numpy as np
import pandas as pd
import pytest

from spermlab.analysis.flagellum import (
    FlagellumMeter,
    FlagellumParams,
    flagellum_per_detection,
    noise_sigma,
    track_flagellum,
)
from spermlab.calibration import Calibration
from spermlab.io.source import Frame

CAL = Calibration(um_per_px=0.5, fps=25.0, chamber_depth_um=20.0)  # 1 px per bin, lag 1


def _movie(n: int, *, beat_px: float, shift_px: float = 0.0, seed: int = 0):
    """A bright head at (60, 60) with a dark 30-px tail to the left; the tail's far half
    swings up and down by ``beat_px``, the whole picture moves by ``shift_px`` per frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:120, 0:120].astype(float)
    frames = []
    for k in range(n):
        dx = shift_px * k
        img = np.full((120, 120), 100.0)
        img += 80 * np.exp(-((xx - 60 - dx) ** 2 + (yy - 60) ** 2) / (2 * 2.0**2))
        s = np.linspace(0, 30, 300)
        lateral = beat_px * (s / 30) * np.sin(2 * np.pi * k / 4)
        for si, li in zip(s, lateral, strict=True):
            img -= 40 * np.exp(-((xx - (56 - si) - dx) ** 2 + (yy - 60 - li) ** 2) / (2 * 0.8**2)) / 10
        img += rng.normal(0, 1.0, img.shape)
        frames.append(Frame(index=k, image=np.clip(img, 0, 255).astype(np.uint8), timestamp=k / 25))
    return frames


def _activity(frames, shift_px=0.0):
    rows = pd.DataFrame({"frame": [f.index for f in frames], "x": [60 + shift_px * f.index for f in frames],
                         "y": 60.0, "w": 6.0, "h": 6.0, "cls": 0, "score": 1.0, "track_id": 1})
    values = flagellum_per_detection(frames, rows, CAL, FlagellumParams(sample_fps=25))
    return float(track_flagellum(rows, values, fps=CAL.fps).loc[1])


def test_a_beating_tail_moves_and_a_still_one_does_not():
    beating = _activity(_movie(40, beat_px=6.0))
    still = _activity(_movie(40, beat_px=0.0))
    assert beating >= 8.0  # µm²: counted as a beat by the default grading threshold
    assert still < 1.0


def test_a_rigid_jiggle_of_the_whole_cell_is_not_a_beat():
    # 0.3 px per frame: Brownian jiggle / drift moves head and tail together
    assert _activity(_movie(40, beat_px=0.0, shift_px=0.3), shift_px=0.3) < 2.0


def test_noise_sigma_is_the_mad_and_ignores_codec_copied_pixels():
    rng = np.random.default_rng(1)
    d = rng.normal(0, 2.0, (200, 200))
    assert noise_sigma(d) == pytest.approx(2.0, rel=0.05)
    d[:, :150] = 0.0  # a codec copied 75 % of the blocks unchanged
    assert noise_sigma(d) == pytest.approx(2.0, rel=0.1)
    assert noise_sigma(np.zeros((10, 10))) == 0.25


def test_track_value_is_the_largest_sector_median_over_windows():
    fps = 10.0
    n = 30
    values = np.zeros((n, 12))
    values[:, 3] = 10.0  # the cell's own flagellum, always in sector 3
    values[5:8, 7] = 100.0  # a swimmer passing for 0.3 s: not a median
    tracks = pd.DataFrame({"track_id": 5, "frame": np.arange(n)})
    assert track_flagellum(tracks, values, fps=fps).loc[5] == pytest.approx(10.0)
    values[::2] = np.nan  # frames not sampled are skipped
    assert track_flagellum(tracks, values, fps=fps).loc[5] == pytest.approx(10.0)
    assert np.isnan(track_flagellum(tracks, np.full((n, 12), np.nan), fps=fps).loc[5])
    with pytest.raises(ValueError, match="one row per track row"):
        track_flagellum(tracks, values[:3], fps=fps)


def test_meter_holds_only_the_lagged_frames():
    meter = FlagellumMeter(Calibration(um_per_px=0.25, fps=50.0), FlagellumParams())
    assert (meter.lag, meter.bin, meter.every) == (2, 2, 4)
    for k in range(20):
        meter.update(np.zeros((64, 64), np.uint8), np.zeros((0, 4)), frame=k)
    assert len(meter._past) == meter.lag


def test_frames_with_a_gap_are_not_differenced():
    frames = _movie(12, beat_px=6.0)
    frames = frames[:5] + frames[7:]  # frames 5 and 6 missing
    meter = FlagellumMeter(CAL, FlagellumParams(sample_fps=25))
    out = [meter.update(f.image, np.array([[60, 60, 6, 6]]), frame=f.index) for f in frames]
    assert np.isnan(out[0]).all() and np.isnan(out[5]).all()  # frame 0, frame 7 (6 missing)
    assert np.isfinite(out[6]).any()  # frame 8 against frame 7


@pytest.mark.parametrize("bad", [{"outer_um": 0}, {"k_sigma": -1}, {"min_free_share": 0},
                                 {"head_margin_um": -1}])
def test_params_are_checked(bad):
    with pytest.raises(ValueError, match="FlagellumParams"):
        FlagellumParams(**bad)


def test_simulated_stuck_cells_beat_and_dead_cells_do_not():
    from spermlab.simulate import SimulationConfig, simulate

    cfg = SimulationConfig(duration_s=1.2, concentration=80, mix=(0, 0, 0.5, 0.5),
                           stuck_fraction=1.0, width=320, height=240)
    sim = simulate(cfg, rng=4)
    values = flagellum_per_detection(sim, sim.tracks, sim.calibration)
    fla = track_flagellum(sim.tracks, values, fps=sim.calibration.fps)
    cells = sim.cells.set_index("cell_id").join(fla)
    cells = cells[cells["n_in_field"] >= 50]
    amp = sim._scene.population.tail_amp[cells["swimmer_id"]]
    dead = cells.loc[cells["model"] == "immotile", "flagellum"].dropna()
    strong = cells.loc[(cells["model"] == "stuck").to_numpy() & (amp > 3), "flagellum"].dropna()
    assert len(dead) >= 3 and len(strong) >= 2
    assert dead.max() < 8.0  # the grading threshold
    assert (strong >= 8.0).sum() >= 2  # (a tail that leaves the small field is not seen)
    assert strong.median() > 3 * dead.median()
