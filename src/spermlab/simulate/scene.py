"""The scene: a population on a torus larger than the field, and its exact truth tables.

Cells live on a rectangle that extends the imaged field by a margin ``m`` on each side
(``m`` = tail length + head length + 3 µm, so nothing of a cell shows while it is near
the rectangle's edge). Positions wrap around that rectangle (periodic boundaries), so
the density stays uniform and the expected number of heads in the field at any instant
is the concentration times the field volume. A cell that wraps leaves on one side and a
*new* cell (new ``cell_id``, the same motion parameters) enters from the other: this is
how cells enter and leave the field at a constant rate.

Coordinates: x right, y down, origin at the top-left corner of the image; a pixel
``(row r, column c)`` covers ``[c, c+1) × [r, r+1)``, so its centre is at
``(c + 0.5, r + 0.5)`` px. This is the convention of YOLO labels (``x / width``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from spermlab.simulate.config import SimulationConfig
from spermlab.simulate.swimmers import (
    Paths,
    Population,
    compute_paths,
    continuous_vcl,
    sample_population,
)
from spermlab.tables import TRACKS, validate

__all__ = ["CELL_COLUMNS", "FRAME_COLUMNS", "Scene", "build_scene"]

#: Columns of the per-cell truth table (one row per cell, i.e. per visit of the field).
CELL_COLUMNS: tuple[str, ...] = (
    "cell_id",
    "swimmer_id",
    "model",
    "grade",
    "progression",
    "speed",
    "radius",
    "vcl",
    "vsl",
    "vap",
    "vcl_continuous",
    "alh",
    "bcf",
    "beat_hz",
    "first_frame",
    "last_frame",
    "n_frames",
    "n_in_field",
    "crossing_frame",
    "crosses_with",
)

#: Columns of the per-frame truth table (one row per cell and frame).
FRAME_COLUMNS: tuple[str, ...] = (
    "frame",
    "cell_id",
    "x_um",
    "y_um",
    "x_px",
    "y_px",
    "angle",
    "visible",
    "in_field",
)

ROUND_CELL_D_UM2_S = 0.02
#: Diffusion of free debris particles (µm²/s): Stokes-Einstein kT / (6 pi eta r) for
#: r = 0.5 µm in water at 22 °C, 4.1e-21 J / (6 pi 1e-3 Pa s 0.5e-6 m) = 0.43 µm²/s.
BROWNIAN_DEBRIS_D_UM2_S = 0.43


@dataclass(frozen=True)
class Scene:
    """Everything that moves, frame by frame, in image pixels, plus the truth tables.

    Arrays of shape ``(n_swimmers, n_frames)``: ``x``/``y`` (head centre, px), ``psi``
    (head axis, rad), ``theta`` (average-path heading, rad), ``beat`` (beat phase, rad).
    ``round_x``/``round_y`` (``(n_round, n_frames)``, px) and ``round_r`` (px) are the
    round non-sperm cells.
    """

    population: Population
    x: np.ndarray
    y: np.ndarray
    psi: np.ndarray
    theta: np.ndarray
    beat: np.ndarray
    round_x: np.ndarray
    round_y: np.ndarray
    round_r: np.ndarray
    cells: pd.DataFrame
    frames: pd.DataFrame
    tracks: pd.DataFrame
    crossings: int


def margin_um(config: SimulationConfig) -> float:
    """Width of the invisible border around the field (µm)."""
    return config.tail_length_um + config.head_length_um + 3.0


def _volume_count(config: SimulationConfig, conc: float, rng: np.random.Generator) -> int:
    w, h = config.field_um
    m = margin_um(config)
    depth = float(config.calibration.chamber_depth_um or 0.0)
    lam = conc * 1e6 * (w + 2 * m) * (h + 2 * m) * depth * 1e-12
    return int(rng.poisson(lam))


def _plan_crossings(
    pop: Population,
    config: SimulationConfig,
    rng: np.random.Generator,
) -> tuple[Population, list[tuple[int, int, int, float, float]]]:
    """Pick pairs of progressive cells and turn the second so the two cross."""
    cand = np.flatnonzero(np.isin(pop.model, ["progressive", "circling"]))
    cand = rng.permutation(cand)
    n_pairs = min(config.crossings, cand.shape[0] // 2)
    theta0 = pop.theta0.copy()
    plans = []
    n_frames = config.n_frames
    w, h = config.field_um
    for k in range(n_pairs):
        i, j = int(cand[2 * k]), int(cand[2 * k + 1])
        f = int(rng.integers(n_frames // 4, max(n_frames // 4 + 1, (3 * n_frames) // 4)))
        tc = f / config.calibration.fps
        px, py = rng.uniform(0.2 * w, 0.8 * w), rng.uniform(0.2 * h, 0.8 * h)
        turn = rng.choice([-1.0, 1.0]) * rng.uniform(np.pi / 4, 3 * np.pi / 4)
        th_i = theta0[i] + pop.turn[i] / pop.radius[i] * pop.speed[i] * tc
        theta0[j] = th_i + turn - pop.turn[j] / pop.radius[j] * pop.speed[j] * tc
        plans.append((i, j, f, px, py))
    return replace(pop, theta0=theta0), plans


def _segments(ux: np.ndarray, uy: np.ndarray, lx: float, ly: float, m: float) -> np.ndarray:
    """Cell id per swimmer and frame: a new id each time a swimmer wraps around."""
    kx = np.floor((ux + m) / lx)
    ky = np.floor((uy + m) / ly)
    change = np.zeros(ux.shape, dtype=np.int64)
    change[:, 1:] = (kx[:, 1:] != kx[:, :-1]) | (ky[:, 1:] != ky[:, :-1])
    seg = np.cumsum(change, axis=1)
    n_seg = seg[:, -1] + 1
    offset = np.concatenate([[0], np.cumsum(n_seg)[:-1]])
    return seg + offset[:, None]


def _round_cells(
    config: SimulationConfig,
    t: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w, h = config.field_um
    m = margin_um(config)
    n = _volume_count(config, config.round_cell_concentration, rng)
    x0 = rng.uniform(-m, w + m, n)
    y0 = rng.uniform(-m, h + m, n)
    sd = np.sqrt(2.0 * ROUND_CELL_D_UM2_S * np.diff(t, prepend=t[0]))
    steps = rng.standard_normal((2, n, t.shape[0])) * sd[None, None, :]
    dx, dy = config.drift_um_s
    x = -m + np.mod(x0[:, None] + np.cumsum(steps[0], axis=1) + dx * t + m, w + 2 * m)
    y = -m + np.mod(y0[:, None] + np.cumsum(steps[1], axis=1) + dy * t + m, h + 2 * m)
    u = config.calibration.um_per_px
    r = rng.uniform(1.5, 3.5, n)
    if config.brownian_debris_density > 0:  # drawn only when asked: earlier seeds unchanged
        bx, by, br = _brownian_debris(config, t, rng)
        x, y, r = np.vstack([x, bx]), np.vstack([y, by]), np.r_[r, br]
    return x / u, y / u, r / u


def _brownian_debris(
    config: SimulationConfig, t: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Small particles diffusing freely (µm), drawn like round cells of 0.4-1 µm radius."""
    w, h = config.field_um
    m = margin_um(config)
    n = int(rng.poisson(config.brownian_debris_density * (w + 2 * m) * (h + 2 * m) / 1000.0))
    sd = np.sqrt(2.0 * BROWNIAN_DEBRIS_D_UM2_S * np.diff(t, prepend=t[0]))
    steps = rng.standard_normal((2, n, t.shape[0])) * sd[None, None, :]
    dx, dy = config.drift_um_s
    x0, y0 = rng.uniform(-m, w + m, n), rng.uniform(-m, h + m, n)
    x = -m + np.mod(x0[:, None] + np.cumsum(steps[0], axis=1) + dx * t + m, w + 2 * m)
    y = -m + np.mod(y0[:, None] + np.cumsum(steps[1], axis=1) + dy * t + m, h + 2 * m)
    return x, y, rng.uniform(0.4, 1.0, n)


def build_scene(config: SimulationConfig, rng: np.random.Generator) -> Scene:
    """Draw the population, move it, and tabulate the exact truth.

    Parameters
    ----------
    config : SimulationConfig
    rng : Generator

    Returns
    -------
    Scene
    """
    fps = config.calibration.fps
    u = config.calibration.um_per_px
    t = np.arange(config.n_frames) / fps
    w, h = config.field_um
    m = margin_um(config)
    lx, ly = w + 2 * m, h + 2 * m
    pop = sample_population(_volume_count(config, config.concentration, rng), config, rng)
    pop, plans = _plan_crossings(pop, config, rng)
    paths = compute_paths(pop, t, rng)
    x0 = rng.uniform(-m, w + m, len(pop))
    y0 = rng.uniform(-m, h + m, len(pop))
    dx, dy = config.drift_um_s
    for i, j, f, px, py in plans:
        for c in (i, j):
            x0[c] = px - paths.head_x[c, f] - dx * t[f]
            y0[c] = py - paths.head_y[c, f] - dy * t[f]
    ux = x0[:, None] + paths.head_x + dx * t[None, :]
    uy = y0[:, None] + paths.head_y + dy * t[None, :]
    cell_of = _segments(ux, uy, lx, ly, m)
    x_um = -m + np.mod(ux + m, lx)
    y_um = -m + np.mod(uy + m, ly)
    frames = _frame_table(config, cell_of, x_um, y_um, paths.psi)
    cells = _cell_table(config, pop, paths, cell_of, frames, plans)
    rx, ry, rr = _round_cells(config, t, rng)
    return Scene(
        population=pop,
        x=x_um / u,
        y=y_um / u,
        psi=paths.psi,
        theta=paths.theta,
        beat=paths.beat,
        round_x=rx,
        round_y=ry,
        round_r=rr,
        cells=cells,
        frames=frames,
        tracks=_tracks(config, frames),
        crossings=len(plans),
    )


def _frame_table(
    config: SimulationConfig,
    cell_of: np.ndarray,
    x_um: np.ndarray,
    y_um: np.ndarray,
    psi: np.ndarray,
) -> pd.DataFrame:
    u = config.calibration.um_per_px
    n, n_t = cell_of.shape
    xp, yp = x_um / u, y_um / u
    half = 0.5 * config.head_length_um / u
    in_field = (xp >= 0) & (xp < config.width) & (yp >= 0) & (yp < config.height)
    visible = (xp > -half) & (xp < config.width + half) & (yp > -half) & (yp < config.height + half)
    angle = np.mod(psi + np.pi, 2 * np.pi) - np.pi
    data = {
        "frame": np.repeat(np.arange(n_t, dtype=np.int64), n),
        "cell_id": cell_of.T.ravel(),
        "x_um": x_um.T.ravel(),
        "y_um": y_um.T.ravel(),
        "x_px": xp.T.ravel(),
        "y_px": yp.T.ravel(),
        "angle": angle.T.ravel(),
        "visible": visible.T.ravel(),
        "in_field": in_field.T.ravel(),
    }
    return pd.DataFrame(data, columns=list(FRAME_COLUMNS))


def _per_cell_sum(
    ids: np.ndarray, same: np.ndarray, values: np.ndarray, n_cells: int
) -> np.ndarray:
    return np.bincount(ids[same], weights=values[same], minlength=n_cells)


def _segment_kinematics(paths: Paths, cell_of: np.ndarray, dt: float) -> dict[str, np.ndarray]:
    """Swimmer, frame span and VCL/VSL/VAP (fluid frame, frame rate) of every cell."""
    n_cells = int(cell_of.max()) + 1 if cell_of.size else 0
    flat = cell_of.ravel()
    swimmer = np.repeat(np.arange(cell_of.shape[0]), cell_of.shape[1])
    t_idx = np.tile(np.arange(cell_of.shape[1]), cell_of.shape[0])
    n_fr = np.bincount(flat, minlength=n_cells)
    first = np.full(n_cells, cell_of.shape[1], dtype=np.int64)
    last = np.zeros(n_cells, dtype=np.int64)
    np.minimum.at(first, flat, t_idx)
    np.maximum.at(last, flat, t_idx)
    sw = np.zeros(n_cells, dtype=np.int64)
    sw[flat] = swimmer
    same = cell_of[:, 1:] == cell_of[:, :-1]
    ids = cell_of[:, :-1]
    head_step = np.hypot(np.diff(paths.head_x, axis=1), np.diff(paths.head_y, axis=1))
    cen_step = np.hypot(np.diff(paths.centre_x, axis=1), np.diff(paths.centre_y, axis=1))
    dur = (n_fr - 1) * dt
    dx = paths.head_x[sw, last] - paths.head_x[sw, first]
    dy = paths.head_y[sw, last] - paths.head_y[sw, first]
    with np.errstate(invalid="ignore", divide="ignore"):
        vcl = _per_cell_sum(ids, same, head_step, n_cells) / dur
        vap = _per_cell_sum(ids, same, cen_step, n_cells) / dur
        vsl = np.hypot(dx, dy) / dur
    short = n_fr < 2
    vcl[short] = vsl[short] = vap[short] = np.nan
    return {"swimmer_id": sw, "first_frame": first, "last_frame": last,
            "n_frames": n_fr.astype(np.int64), "vcl": vcl, "vsl": vsl, "vap": vap}  # fmt: skip


def _cell_table(
    config: SimulationConfig,
    pop: Population,
    paths: Paths,
    cell_of: np.ndarray,
    frames: pd.DataFrame,
    plans: list[tuple[int, int, int, float, float]],
) -> pd.DataFrame:
    """Per-cell truth, kinematics in the fluid frame at the video frame rate."""
    kin = _segment_kinematics(paths, cell_of, config.calibration.dt)
    sw = kin["swimmer_id"]
    n_cells = sw.shape[0]
    in_field = frames["in_field"].to_numpy()
    n_in = np.bincount(frames["cell_id"].to_numpy()[in_field], minlength=n_cells)
    cross_f = np.full(n_cells, -1, dtype=np.int64)
    cross_w = np.full(n_cells, -1, dtype=np.int64)
    for i, j, f, _, _ in plans:
        ci, cj = cell_of[i, f], cell_of[j, f]
        cross_f[[ci, cj]] = f
        cross_w[ci], cross_w[cj] = cj, ci
    table = {
        **kin,
        "cell_id": np.arange(n_cells, dtype=np.int64),
        "model": pop.model[sw].astype(object),
        "grade": pop.grade[sw].astype(object),
        "progression": pop.progression[sw],
        "speed": pop.speed[sw],
        "radius": pop.radius[sw],
        "vcl_continuous": continuous_vcl(pop)[sw],
        "alh": pop.alh[sw],
        "bcf": 2.0 * pop.beat_hz[sw],
        "beat_hz": pop.beat_hz[sw],
        "n_in_field": n_in.astype(np.int64),
        "crossing_frame": cross_f,
        "crosses_with": cross_w,
    }
    return pd.DataFrame(table, columns=list(CELL_COLUMNS))


def _tracks(config: SimulationConfig, frames: pd.DataFrame) -> pd.DataFrame:
    """Head boxes of the cells in the field, clipped to the image, as a Tracks table."""
    f = frames[frames["in_field"].to_numpy()]
    side = config.head_length_um / config.calibration.um_per_px
    x, y = f["x_px"].to_numpy(), f["y_px"].to_numpy()
    x0, x1 = np.clip(x - side / 2, 0, config.width), np.clip(x + side / 2, 0, config.width)
    y0, y1 = np.clip(y - side / 2, 0, config.height), np.clip(y + side / 2, 0, config.height)
    table = pd.DataFrame(
        {
            "frame": f["frame"].to_numpy(),
            "x": (x0 + x1) / 2,
            "y": (y0 + y1) / 2,
            "w": x1 - x0,
            "h": y1 - y0,
            "cls": np.zeros(len(f), dtype=np.int64),
            "score": np.ones(len(f)),
            "track_id": f["cell_id"].to_numpy(),
        }
    )
    return validate(table.reset_index(drop=True), TRACKS, name="simulated tracks")
