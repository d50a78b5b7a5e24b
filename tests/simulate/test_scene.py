import numpy as np
import pytest

from spermlab.simulate import GRADES, SimulationConfig, simulate
from spermlab.simulate.scene import CELL_COLUMNS, FRAME_COLUMNS, margin_um
from spermlab.tables import TRACKS, validate


@pytest.fixture(scope="module")
def sim():
    cfg = SimulationConfig(duration_s=2.0, concentration=80.0, crossings=2)
    return simulate(cfg, rng=2024)


def test_tables_have_their_documented_columns(sim):
    assert tuple(sim.cells.columns) == CELL_COLUMNS
    assert tuple(sim.frames.columns) == FRAME_COLUMNS
    validate(sim.tracks, TRACKS, name="tracks")
    assert len(sim.frames) == sim.cells["swimmer_id"].nunique() * sim.n_frames
    assert sim.cells["cell_id"].is_unique
    assert set(sim.cells["grade"]) <= set(GRADES)


def test_pixel_and_micrometre_coordinates_agree(sim):
    u = sim.calibration.um_per_px
    f = sim.frames
    np.testing.assert_allclose(f["x_px"] * u, f["x_um"], rtol=1e-12)
    np.testing.assert_allclose(f["y_px"] * u, f["y_um"], rtol=1e-12)
    inside = (
        (f["x_px"] >= 0) & (f["x_px"] < sim.width) & (f["y_px"] >= 0) & (f["y_px"] < sim.height)
    )
    assert (inside == f["in_field"]).all()
    assert (f["visible"] | ~f["in_field"]).all()


def test_boxes_are_centred_on_the_head_and_sized_from_the_head_length(sim):
    side = sim.config.head_length_um / sim.calibration.um_per_px  # 4.5 / 0.2475 = 18.18 px
    t = sim.tracks
    f = sim.frames[sim.frames["in_field"]]
    assert len(t) == len(f)
    interior = np.isclose(t["w"], side) & np.isclose(t["h"], side)
    assert interior.mean() > 0.8
    merged = t.merge(f, left_on=["frame", "track_id"], right_on=["frame", "cell_id"])
    full = merged[(merged["w"] > side - 1e-9) & (merged["h"] > side - 1e-9)]
    np.testing.assert_allclose(full["x"], full["x_px"], atol=1e-9)
    np.testing.assert_allclose(full["y"], full["y_px"], atol=1e-9)
    assert (t["x"] - t["w"] / 2 >= -1e-9).all() and (t["x"] + t["w"] / 2 <= sim.width + 1e-9).all()
    assert (t["y"] - t["h"] / 2 >= -1e-9).all() and (t["y"] + t["h"] / 2 <= sim.height + 1e-9).all()


def _kinematics_from_path(x, y, centre_x, centre_y, dt):
    n = len(x)
    dur = (n - 1) * dt
    vcl = np.hypot(np.diff(x), np.diff(y)).sum() / dur
    vsl = np.hypot(x[-1] - x[0], y[-1] - y[0]) / dur
    vap = np.hypot(np.diff(centre_x), np.diff(centre_y)).sum() / dur
    return vcl, vsl, vap


def test_truth_vcl_vsl_of_a_progressive_cell_match_its_path(sim):
    cells = sim.cells
    prog = cells[(cells["model"] == "progressive") & (cells["n_frames"] == sim.n_frames)]
    assert len(prog) > 3
    dt = sim.calibration.dt
    for row in prog.head(10).itertuples():
        path = sim.frames[sim.frames["cell_id"] == row.cell_id].sort_values("frame")
        x, y = path["x_um"].to_numpy(), path["y_um"].to_numpy()  # no drift here
        vcl = np.hypot(np.diff(x), np.diff(y)).sum() / ((len(x) - 1) * dt)
        vsl = np.hypot(x[-1] - x[0], y[-1] - y[0]) / ((len(x) - 1) * dt)
        assert vcl == pytest.approx(row.vcl, rel=1e-9)
        assert vsl == pytest.approx(row.vsl, rel=1e-9)
        # the frame-sampled VCL lies between the path speed and the continuous VCL
        assert row.speed - 1e-6 <= row.vcl <= row.vcl_continuous + 1e-6
        # VAP is the average-path speed up to the chord error of a 1/50 s step
        assert row.vap == pytest.approx(row.speed, rel=1e-3)
        # VSL over 2 s of a gently curved path: progression, within the lateral amplitude
        assert abs(row.vsl - row.progression) < row.alh / 2.0 + row.progression * 0.05


def test_mix_of_the_population_matches_what_was_asked():
    mix = (0.35, 0.15, 0.2, 0.3)
    grades = []
    for seed in range(8):
        cfg = SimulationConfig(duration_s=0.02, concentration=300.0, mix=mix)
        s = simulate(cfg, rng=seed)
        grades.append(s.cells.drop_duplicates("swimmer_id")["grade"].to_numpy())
    grades = np.concatenate(grades)
    n = len(grades)
    assert n > 2500
    for g, frac in zip(GRADES, mix, strict=True):
        assert abs(np.mean(grades == g) - frac) < 4 * np.sqrt(frac * (1 - frac) / n)


def test_mean_number_in_the_field_matches_the_concentration():
    cfg = SimulationConfig(duration_s=0.02, concentration=150.0)
    lam = cfg.expected_in_field  # 56.45 heads
    seeds = range(20)
    total = sum(int(simulate(cfg, rng=s).in_field_counts()[0]) for s in seeds)
    # the count in the field is Poisson(lam) per seed: the sum over 20 seeds is Poisson(20 lam)
    assert abs(total - len(seeds) * lam) < 4 * np.sqrt(len(seeds) * lam)


def test_mean_over_time_matches_within_the_binomial_share_of_the_population():
    cfg = SimulationConfig(duration_s=2.0, concentration=100.0, mix=(0.6, 0.2, 0.1, 0.1))
    s = simulate(cfg, rng=5)
    w, h = cfg.field_um
    m = margin_um(cfg)
    share = w * h / ((w + 2 * m) * (h + 2 * m))
    n = s.cells["swimmer_id"].nunique()
    counts = s.in_field_counts()
    assert abs(counts.mean() - n * share) < 4 * np.sqrt(n * share * (1 - share))


def test_cells_enter_and_leave_the_field(sim):
    cells = sim.cells
    entered = cells[cells["first_frame"] > 0]
    assert len(entered) > 0
    assert cells["cell_id"].nunique() > cells["swimmer_id"].nunique()
    f = sim.frames
    state = f.pivot(index="frame", columns="cell_id", values="in_field")
    changes = (state.astype(float).diff().abs() > 0).sum().sum()
    assert changes > 0


def test_crossing_pairs_meet_at_the_same_point(sim):
    crossing = sim.cells[sim.cells["crossing_frame"] >= 0]
    assert sim.crossings == 2 and len(crossing) == 4
    f = sim.frames.set_index(["frame", "cell_id"])
    for row in crossing.itertuples():
        a = f.loc[(row.crossing_frame, row.cell_id)]
        b = f.loc[(row.crossing_frame, row.crosses_with)]
        assert np.hypot(a.x_um - b.x_um, a.y_um - b.y_um) < 1e-6
        assert a.in_field and b.in_field


def test_drift_moves_immotile_cells_at_the_drift_velocity():
    cfg = SimulationConfig(
        duration_s=1.0, concentration=60.0, mix=(0, 0, 0, 1), drift_um_s=(10.0, -5.0)
    )
    s = simulate(cfg, rng=11)
    f = s.frames
    one = s.cells[s.cells["n_frames"] == s.n_frames]
    start = f[f["frame"] == 0].set_index("cell_id").loc[one["cell_id"]]
    end = f[f["frame"] == s.n_frames - 1].set_index("cell_id").loc[one["cell_id"]]
    t = (s.n_frames - 1) / cfg.calibration.fps
    dx = (end["x_um"] - start["x_um"]).mean() / t
    dy = (end["y_um"] - start["y_um"]).mean() / t
    # Brownian spread of the mean: sqrt(2 D t / n) per axis, D = 0.1 µm²/s
    tol = 4 * np.sqrt(2 * 0.1 * t / len(one)) / t
    assert dx == pytest.approx(10.0, abs=tol) and dy == pytest.approx(-5.0, abs=tol)
    # kinematic truth is relative to the fluid: immotile VSL stays Brownian-small
    assert one["vsl"].max() < 5.0


def test_same_seed_same_truth_and_generator_is_accepted(rng):
    cfg = SimulationConfig(duration_s=0.2)
    a = simulate(cfg, rng=3)
    b = simulate(cfg, rng=3)
    c = simulate(cfg, rng=rng)
    assert a.cells.equals(b.cells) and a.frames.equals(b.frames)
    assert not a.frames.equals(c.frames)
    with pytest.raises(TypeError, match="rng"):
        simulate(cfg, rng="3")
