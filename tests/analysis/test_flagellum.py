"""Flagellar activity: hand-made movies with known motion, and simulated stuck/dead cells."""

import numpy as np
import pandas as pd
import pytest

from spermlab.analysis.flagellum import (
    FlagellumMeter,
    FlagellumParams,
    flagellum_of_tracks,
    flagellum_windows,
    noise_sigma,
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


def _windows(frames, shift_px=0.0):
    rows = pd.DataFrame({"frame": [f.index for f in frames], "x": [60 + shift_px * f.index for f in frames],
                         "y": 60.0, "w": 6.0, "h": 6.0, "cls": 0, "score": 1.0, "track_id": 1})
    return flagellum_windows(frames, rows, CAL, PARAMS)


def _beat(frames, shift_px=0.0):
    rows = pd.DataFrame({"frame": [f.index for f in frames], "x": [60 + shift_px * f.index for f in frames],
                         "y": 60.0, "w": 6.0, "h": 6.0, "cls": 0, "score": 1.0, "track_id": 1})
    return float(flagellum_of_tracks(frames, rows, CAL, PARAMS).loc[1])


PARAMS = FlagellumParams()  # the shipped model's; the 25-µm disc (50 px) fits the 120-px movies


def test_a_beating_tail_moves_and_a_still_one_does_not():
    idx, beating = _windows(_movie(60, beat_px=6.0))
    _, still = _windows(_movie(60, beat_px=0.0))
    # 2.4 s at 25 fps, first measured frame 1: windows from frames 1, 26 and 51 (9 samples)
    assert idx["start"].tolist() == [1, 26, 51] and (idx["track_id"] == 1).all()
    n_map = PARAMS.n_angles * PARAMS.n_radii
    first = beating[:, :n_map].reshape(-1, PARAMS.n_angles, PARAMS.n_radii)[:, 0]
    assert first[:, 2:].mean() > 1.0  # in noise units: the tail's sector moves
    assert np.abs(still[:, :n_map]).mean() < 0.2  # elsewhere and for a still tail: noise (q̄ ≈ 1)
    assert (beating[:, 2 * n_map + 2] >= PARAMS.min_samples).all()  # samples per window


def test_a_rigid_jiggle_of_the_whole_cell_is_not_a_beat():
    # 0.3 px per frame: Brownian jiggle / drift moves head and tail together
    _, x = _windows(_movie(60, beat_px=0.0, shift_px=0.3), shift_px=0.3)
    n_map = PARAMS.n_angles * PARAMS.n_radii
    assert np.abs(x[:, :n_map]).mean() < 0.3


def test_the_features_do_not_depend_on_the_tail_direction():
    _, x = _windows(_movie(50, beat_px=6.0))
    turned = [Frame(f.index, np.ascontiguousarray(np.rot90(f.image)), f.timestamp) for f in _movie(50, beat_px=6.0)]
    _, y = _windows(turned)  # the head stays at (60, 60) (the image is square, centre 59.5)
    n_map = PARAMS.n_angles * PARAMS.n_radii
    assert np.corrcoef(x[0, :n_map], y[0, :n_map])[0, 1] > 0.9
    # the spectral map, on a swing small enough for the image to follow it linearly (a 6-px
    # swing puts as much power in the second harmonic as in the fundamental: a tie)
    _, x = _windows(_movie(50, beat_px=1.0))
    _, y = _windows([Frame(f.index, np.ascontiguousarray(np.rot90(f.image)), f.timestamp)
                     for f in _movie(50, beat_px=1.0)])  # fmt: skip
    assert np.corrcoef(_spectral(x)[0][0], _spectral(y)[0][0])[0, 1] > 0.9


def _spectral(x):
    """The spectral part of window features: polar map, strength, median, Hz, bins."""
    n_map = PARAMS.n_angles * PARAMS.n_radii
    s = x[:, 2 * n_map + 3:]
    return s[:, :n_map], s[:, n_map], s[:, n_map + 1], s[:, n_map + 2], s[:, n_map + 3]


def test_a_faint_periodic_beat_gathers_at_its_frequency():
    # 0.3 px swing of the tail's far end, period 4 frames at 25 fps: 6.25 Hz
    idx, faint = _windows(_movie(60, beat_px=0.3))
    _, still = _windows(_movie(60, beat_px=0.0))
    full = (idx["start"] < 30).to_numpy()  # the two 25-sample windows (1-Hz bins)
    m, strength, median, hz, bins = _spectral(faint)
    _, null_strength, _, _, _ = _spectral(still)
    assert np.all(np.abs(hz[full] - 6.25) <= 0.5)  # nearest bin of a 1-Hz spectrum
    assert (bins[full] == 11).all()  # 2..12 Hz: above 1.5 Hz, below the Nyquist 12.5 Hz
    # noise alone: every pixel's spectrum flat, normalised power ≈ 1 in every bin (the
    # strongest of 11 bins x 24 directions a little above)
    assert np.abs(null_strength).max() < 0.35
    assert (strength[full] > 0.8).all() and (strength[full] > 3 * null_strength.max()).all()
    assert (np.abs(median) < 0.2 * strength).all()  # one bin, not broadband
    first = m[:, : PARAMS.n_radii]
    assert (first[full, 2:].mean(axis=1) > 0.6).all()  # the tail's direction comes first


def test_spectral_features_of_a_window_with_too_few_pixels_are_empty():
    from spermlab.analysis.flagellum import spectral_features

    n_map = PARAMS.n_angles * PARAMS.n_radii
    x = spectral_features(np.zeros((20, 101, 101), np.float16), np.zeros((101, 101), int), 4, 25.0, PARAMS)
    assert x.shape == (n_map + 4,) and (x[:n_map] == -1).all() and (x[n_map:] == 0).all()


def test_the_shipped_model_calls_a_clear_beat_and_a_still_cell():
    assert _beat(_movie(60, beat_px=8.0)) >= 0.5
    assert _beat(_movie(60, beat_px=0.0)) < 0.5


def test_noise_sigma_is_the_mad_and_ignores_codec_copied_pixels():
    rng = np.random.default_rng(1)
    d = rng.normal(0, 2.0, (200, 200))
    assert noise_sigma(d) == pytest.approx(2.0, rel=0.05)
    d[:, :150] = 0.0  # a codec copied 75 % of the blocks unchanged
    assert noise_sigma(d) == pytest.approx(2.0, rel=0.1)
    assert noise_sigma(np.zeros((10, 10))) == 0.25


def test_meter_holds_only_the_lagged_frames_and_the_live_tracks():
    meter = FlagellumMeter(Calibration(um_per_px=0.25, fps=50.0), FlagellumParams(), model=None)
    assert (meter.lag, meter.bin, meter.every, meter.window_frames) == (2, 2, 2, 50)
    img = np.zeros((64, 64), np.uint8)
    for k in range(200):  # a new track every 10 frames, each seen for 10 frames
        meter.update(img, np.array([[32.0, 32.0, 6.0, 6.0]]), np.array([k // 10]), frame=k)
    assert len(meter._past) == meter.lag
    assert len(meter._tracks) <= 7  # tracks gone for a window's length are closed
    assert meter.finish().index.tolist() == list(range(20))


def test_frames_with_a_gap_are_not_differenced():
    frames = _movie(12, beat_px=6.0)
    frames = frames[:5] + frames[7:]  # frames 5 and 6 missing
    meter = FlagellumMeter(CAL, PARAMS, model=None)
    counts = []
    for f in frames:
        meter.update(f.image, np.array([[60, 60, 6, 6]]), np.array([1]), frame=f.index)
        w = meter._tracks[1].window if 1 in meter._tracks else None
        counts.append(0 if w is None else w.n)
    assert counts[0] == 0 and counts[5] == counts[4]  # frame 0; frame 7 (6 missing)
    assert counts[6] == counts[5] + 1  # frame 8 against frame 7


def test_update_checks_its_ids():
    meter = FlagellumMeter(CAL, PARAMS, model=None)
    with pytest.raises(ValueError, match="2 boxes but 1 track ids"):
        meter.update(np.zeros((32, 32)), np.zeros((2, 4)), np.array([1]), frame=0)


@pytest.mark.parametrize("bad", [{"outer_um": 0}, {"q_cap": -1}, {"min_samples": 1},
                                 {"head_margin_um": -1}])
def test_params_are_checked(bad):
    with pytest.raises(ValueError, match="FlagellumParams"):
        FlagellumParams(**bad)


def test_simulated_stuck_cells_beat_and_dead_cells_do_not():
    import pandas as pd

    from spermlab.simulate import SimulationConfig, simulate

    cfg = SimulationConfig(duration_s=2.0, concentration=80, mix=(0, 0, 0.5, 0.5),
                           stuck_fraction=1.0, width=320, height=240)
    dead, strong = [], []
    for seed in (4, 5, 6):  # three small fields: one holds 4-11 dead cells, too few to judge alone
        sim = simulate(cfg, rng=seed)
        fla = flagellum_of_tracks(sim, sim.tracks, sim.calibration)
        cells = sim.cells.set_index("cell_id").join(fla)
        cells = cells[cells["n_in_field"] >= 50]
        amp = sim._scene.population.tail_amp[cells["swimmer_id"]]
        dead.append(cells.loc[cells["model"] == "immotile", "flagellum"].dropna())
        strong.append(cells.loc[(cells["model"] == "stuck").to_numpy() & (amp > 3), "flagellum"].dropna())
    dead, strong = pd.concat(dead), pd.concat(strong)
    assert len(dead) >= 10 and len(strong) >= 4
    # every c cell here beats beside the dead ones (the hardest case for precision: a
    # neighbour's periodic tail reaches a dead cell's disc), so three quarters, not all
    assert (dead < 0.5).mean() >= 0.75
    assert strong.min() > np.median(dead)
    assert (strong >= 0.5).mean() >= 0.5  # (a tail that leaves the small field is not seen)
    assert strong.median() > dead.median() + 0.3


class _PerHeadMeter(FlagellumMeter):
    """Reference: the meter as first written, one head at a time on clipped slices (the
    batched :meth:`FlagellumMeter._accumulate` must give the same windows)."""

    def _accumulate(self, diff, gx, gy, all_heads, heads, ids, measure, frame):
        from spermlab.analysis import flagellum as fl

        sigma = fl.noise_sigma(diff)
        diff = diff - np.median(diff[::2, ::2])
        free = np.ones(diff.shape, dtype=bool)
        for cx, cy, r in all_heads:
            ys, xs, dys, dxs = fl._window(diff.shape, int(cx), int(cy), int(r))
            free[ys, xs] &= ~self._disc(int(r))[dys, dxs]
        crowd = np.zeros(diff.shape, dtype=np.int16)
        for cx, cy, r in heads:
            fl._stamp_add(crowd, self._disc(int(r) + self.collar), int(cx), int(cy))
        side, dist = 2 * self.outer + 1, self._dist
        for i in np.flatnonzero(measure):
            cx, cy, r = (int(v) for v in heads[i])
            ys, xs, dys, dxs = fl._window(diff.shape, cx, cy, self.outer)
            ring = ((dist > r) & (dist <= self.outer))[dys, dxs]
            near, head = (dist <= r + self.collar)[dys, dxs], (dist <= r)[dys, dxs]
            ok = free[ys, xs] & ring & (crowd[ys, xs] - near <= 0)
            d, wx, wy = diff[ys, xs], gx[ys, xs], gy[ys, xs]
            ax, ay, t = wx[near].astype(float), wy[near].astype(float), d[near].astype(float)
            a = np.array([[ax @ ax, ax @ ay], [ax @ ay, ay @ ay]])
            s = np.zeros(2)
            if np.linalg.det(a) > 1e-6 * max(np.trace(a), 1e-12) ** 2:
                s = np.linalg.solve(a, -np.array([ax @ t, ay @ t]))
                s = s if np.hypot(*s) <= 1.5 else np.zeros(2)
            z = (d + wx * np.float32(s[0]) + wy * np.float32(s[1])) / np.float32(sigma)
            q = np.minimum(z**2, np.float32(self.params.q_cap))
            cap = np.sqrt(self.params.q_cap)
            signed = np.zeros((side, side), np.float32)
            signed[dys, dxs] = np.clip(z, -cap, cap) * ok
            track = self._tracks[int(ids[i])]
            w = track.window
            if w is not None and frame - w.start >= self.window_frames:
                self._close(int(ids[i]), track)
                w = None
            if w is None:
                w = track.window = fl._Window(frame, r, np.zeros((side, side), np.float32),
                                              np.zeros((side, side), np.int32),
                                              np.zeros((side, side), np.int32), [])  # fmt: skip
            w.series.append(signed.astype(np.float16))
            w.sum_q[dys, dxs] += q * ok
            w.count[dys, dxs] += ok
            w.hits[dys, dxs] += ok & (q > fl.HIT_Q)
            w.head_q += float(q[head].mean()) if head.any() else 1.0
            w.n += 1


def test_the_batched_meter_matches_the_per_head_reference():
    from spermlab.analysis.flagellum import _stream
    from spermlab.simulate import SimulationConfig, simulate

    # a crowded quarter field, stuck and dead cells, heads at the border and beside others
    sim = simulate(SimulationConfig(duration_s=1.5, width=320, height=240, concentration=200.0,
                                    stuck_fraction=0.5, brownian_debris_density=0.3),
                   rng=np.random.default_rng(7))  # fmt: skip
    frames = list(sim)
    out = []
    for kind in (FlagellumMeter, _PerHeadMeter):
        meter = kind(sim.calibration, model=None)
        _stream(meter, frames, sim.tracks)
        meter.finish()
        out.append(meter.windows)
    fast, ref = out
    assert len(ref) >= 10
    assert [(t, s) for t, s, _ in fast] == [(t, s) for t, s, _ in ref]
    for (_, _, a), (_, _, b) in zip(fast, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
