import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spermlab.simulate import GRADES, SimulationConfig
from spermlab.simulate.swimmers import (
    BROWNIAN_D_UM2_S,
    compute_paths,
    continuous_vcl,
    sample_population,
    speed_for_progression,
)


@settings(max_examples=50, deadline=None)
@given(
    p=st.floats(0.0, 200.0),
    extra=st.floats(1.06, 1e4),
)
def test_speed_for_progression_gives_back_the_chord(p, extra):
    radius = max(p, 1e-3) / 2.0 * extra
    v = speed_for_progression(np.array([p]), np.array([radius]))[0]
    chord = 2.0 * radius * np.sin(v / (2.0 * radius))
    assert chord == pytest.approx(p, abs=1e-9 * max(1.0, p))


def test_progression_beyond_the_diameter_is_impossible():
    with pytest.raises(ValueError, match="at most 2 × radius"):
        speed_for_progression(np.array([30.0]), np.array([10.0]))


@pytest.fixture(scope="module")
def population():
    cfg = SimulationConfig(mix=(0.25, 0.25, 0.25, 0.25), circling_fraction=0.2)
    return cfg, sample_population(4000, cfg, np.random.default_rng(7))


def test_grades_follow_the_who_2021_progression_ranges(population):
    cfg, pop = population
    p = pop.progression
    assert np.all(p[pop.grade == "a"] >= 25.0)
    assert np.all(p[pop.grade == "a"] < cfg.max_progression_um_s)
    assert np.all((p[pop.grade == "b"] >= 5.0) & (p[pop.grade == "b"] < 25.0))
    assert np.all((p[pop.grade == "c"] >= 0.0) & (p[pop.grade == "c"] < 5.0))
    assert np.all(p[pop.grade == "d"] == 0.0)
    assert np.all(pop.speed[pop.grade == "d"] == 0.0)
    assert set(pop.model[pop.grade == "c"]) == {"nonprogressive"}
    assert set(pop.model[pop.grade == "d"]) == {"immotile"}
    assert set(pop.model[np.isin(pop.grade, ["a", "b"])]) == {"progressive", "circling"}


def test_mix_is_drawn_within_binomial_tolerance(population):
    cfg, pop = population
    n = len(pop)
    for g, frac in zip(GRADES, cfg.mix, strict=True):
        sd = np.sqrt(frac * (1 - frac) / n)
        assert abs(np.mean(pop.grade == g) - frac) < 4 * sd


def test_one_second_chord_of_the_average_path_is_the_progression(population):
    cfg, pop = population
    paths = compute_paths(pop, np.array([0.0, 1.0]), np.random.default_rng(0))
    chord = np.hypot(paths.centre_x[:, 1], paths.centre_y[:, 1])
    motile = pop.grade != "d"
    np.testing.assert_allclose(chord[motile], pop.progression[motile], rtol=1e-9, atol=1e-9)


def test_alh_is_the_peak_to_peak_excursion_and_bcf_the_crossing_rate(population):
    cfg, pop = population
    t = np.arange(0, 4.0, 1 / 1000.0)
    idx = np.flatnonzero(pop.model == "progressive")[:20]
    sub = type(pop)(**{k: v[idx] for k, v in pop.__dict__.items()})
    paths = compute_paths(sub, t, np.random.default_rng(0))
    nx, ny = -np.sin(paths.theta), np.cos(paths.theta)
    lateral = (paths.head_x - paths.centre_x) * nx + (paths.head_y - paths.centre_y) * ny
    np.testing.assert_allclose(lateral.max(axis=1) - lateral.min(axis=1), sub.alh, rtol=2e-3)
    # crossings of the average path per second, both directions = BCF = 2 × beat frequency
    sign = np.sign(lateral)
    crossings = (sign[:, :-1] != sign[:, 1:]).sum(axis=1) / t[-1]
    np.testing.assert_allclose(crossings, 2 * sub.beat_hz, atol=2.0 / t[-1] + 1e-9)


def test_immotile_cells_diffuse_with_the_stated_coefficient():
    cfg = SimulationConfig(mix=(0.0, 0.0, 0.0, 1.0))
    pop = sample_population(3000, cfg, np.random.default_rng(3))
    t = np.arange(0, 2.0 + 1e-9, 0.02)
    paths = compute_paths(pop, t, np.random.default_rng(4))
    msd = np.mean(paths.head_x[:, -1] ** 2 + paths.head_y[:, -1] ** 2)
    expected = 4 * BROWNIAN_D_UM2_S * t[-1]
    # the mean of n chi-square(2)·D t variables: relative sd = 1/sqrt(n)
    assert msd == pytest.approx(expected, rel=4 / np.sqrt(len(pop)))


def test_continuous_vcl_exceeds_the_path_speed(population):
    _, pop = population
    vcl = continuous_vcl(pop)
    motile = pop.grade != "d"
    assert np.all(vcl[motile] >= pop.speed[motile] - 1e-9)
    assert np.all(np.isnan(vcl[~motile]))
