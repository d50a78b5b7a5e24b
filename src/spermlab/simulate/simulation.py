"""The public entry point: :func:`simulate` and the :class:`Simulation` it returns."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spermlab.calibration import Calibration
from spermlab.io.source import Frame
from spermlab.simulate.config import GRADES, SimulationConfig
from spermlab.simulate.render import Renderer
from spermlab.simulate.scene import Scene, build_scene

__all__ = ["Simulation", "simulate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Simulation:
    """A simulated recording: exact truth tables and lazily rendered frames.

    A ``Simulation`` is a :class:`spermlab.io.source.FrameSource`: it has ``path``,
    ``fps``, ``width``, ``height`` and ``n_frames``, and iterating over it (or over
    :meth:`iter_frames`) renders one :class:`~spermlab.io.source.Frame` at a time. Every
    pass yields the same images.

    Attributes
    ----------
    config : SimulationConfig
        The parameters.
    seed : int or None
        The integer seed given to :func:`simulate`, if one was.
    cells : DataFrame
        One row per cell (a swimmer's visit of the simulated area, see
        :mod:`spermlab.simulate.scene`): ``cell_id``, ``swimmer_id``, ``model``,
        ``grade`` (WHO 2021 a-d), ``progression`` (µm/s, net distance of the average path
        in 1 s), ``speed`` (µm/s along the average path), ``radius`` (µm, of the average
        path; NaN if immotile), ``vcl`` ``vsl`` ``vap`` (µm/s, from the exact positions at
        the frame rate, fluid frame, over the cell's frames), ``vcl_continuous`` (µm/s,
        frame-rate-free limit), ``alh`` (µm, peak-to-peak), ``bcf`` (Hz, crossings
        of the average path per second, ``2 × beat_hz``), ``beat_hz`` (Hz),
        ``first_frame``,
        ``last_frame``, ``n_frames``, ``n_in_field``, ``crossing_frame`` and
        ``crosses_with`` (-1 if none).
    frames : DataFrame
        One row per cell and frame: ``frame``, ``cell_id``, ``x_um`` ``y_um`` (head
        centre, image plane, drift included), ``x_px`` ``y_px``, ``angle`` (head axis,
        rad, image axes), ``visible`` (the head box overlaps the image), ``in_field``
        (the head centre is in the image).
    tracks : DataFrame
        The labels as a :data:`spermlab.tables.TRACKS` table: the head box (side = head
        length) of every cell in the field, clipped to the image, ``cls`` 0, ``score`` 1,
        ``track_id`` = ``cell_id``.
    """

    config: SimulationConfig
    seed: int | None
    cells: pd.DataFrame
    frames: pd.DataFrame
    tracks: pd.DataFrame
    crossings: int
    _scene: Scene = field(repr=False)
    _renderer: Renderer = field(repr=False)

    @property
    def path(self) -> str:
        """A descriptive pseudo-path: ``simulation:seed=<seed>``."""
        return f"simulation:seed={self.seed}" if self.seed is not None else "simulation"

    @property
    def fps(self) -> float:
        """Frames per second."""
        return self.config.calibration.fps

    @property
    def width(self) -> int:
        """Image width in pixels."""
        return self.config.width

    @property
    def height(self) -> int:
        """Image height in pixels."""
        return self.config.height

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return self.config.n_frames

    @property
    def calibration(self) -> Calibration:
        """The calibration the frames were rendered with."""
        return self.config.calibration

    @property
    def background(self) -> np.ndarray:
        """The static background image (float32), without cells or noise."""
        return self._renderer.background

    def iter_frames(self) -> Iterator[Frame]:
        """Render the frames one by one (grey uint8, height × width)."""
        dt = self.config.calibration.dt
        for k, image in enumerate(self._renderer.frames()):
            yield Frame(index=k, image=image, timestamp=k * dt)

    def __iter__(self) -> Iterator[Frame]:
        return self.iter_frames()

    def render(self, k: int, *, noise: bool = False) -> np.ndarray:
        """Frame ``k`` alone, as float32 (no temporal noise unless ``noise``).

        With ``noise=True`` the noise is drawn fresh and is not that of
        :meth:`iter_frames`.
        """
        if not 0 <= k < self.n_frames:
            raise ValueError(f"frame index must be in [0, {self.n_frames}), got {k}")
        img = self._renderer.render(k)
        if noise and self.config.noise > 0:
            rng = np.random.default_rng([self._renderer.noise_seed, k])
            img += np.float32(self.config.noise) * rng.standard_normal(img.shape, dtype=np.float32)
        return img

    def in_field_counts(self) -> np.ndarray:
        """Number of heads in the field in each frame (int array of length n_frames)."""
        f = self.frames
        return np.bincount(f["frame"].to_numpy()[f["in_field"].to_numpy()], minlength=self.n_frames)

    def to_pandas(self) -> pd.DataFrame:
        """The per-cell truth table (a copy)."""
        return self.cells.copy()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: parameters, expected and realised counts, grade mix."""
        swimmers = self.cells.drop_duplicates("swimmer_id")
        counts = swimmers["grade"].value_counts()
        in_field = self.in_field_counts()
        return {
            "config": self.config.to_dict(),
            "seed": self.seed,
            "n_frames": self.n_frames,
            "n_swimmers": int(len(swimmers)),
            "n_cells": int(len(self.cells)),
            "grade_counts": {g: int(counts.get(g, 0)) for g in GRADES},
            "expected_in_field": self.config.expected_in_field,
            "mean_in_field": float(in_field.mean()) if in_field.size else 0.0,
            "crossings": self.crossings,
            "n_boxes": int(len(self.tracks)),
        }


def simulate(
    config: SimulationConfig | None = None, *, rng: np.random.Generator | int
) -> Simulation:
    """Simulate a phase-contrast (or bright-field) sperm recording with exact truth.

    The cells and their paths are drawn now; the frames are rendered lazily when the
    result is iterated (or written with :func:`spermlab.simulate.write_simulation`).

    Parameters
    ----------
    config : SimulationConfig, optional
        The parameters; default ``SimulationConfig()``.
    rng : Generator or int
        Source of all randomness. The same int seed gives identical truth and frames.

    Returns
    -------
    Simulation

    Examples
    --------
    >>> from spermlab.simulate import SimulationConfig, simulate
    >>> sim = simulate(SimulationConfig(duration_s=0.2, concentration=40), rng=1)
    >>> sim.n_frames, sim.width, sim.height
    (10, 640, 480)
    >>> frame = next(iter(sim))
    >>> frame.image.shape, frame.image.dtype.name
    ((480, 640), 'uint8')
    """
    if config is None:
        config = SimulationConfig()
    if not isinstance(config, SimulationConfig):
        raise TypeError(f"config: expected a SimulationConfig, got {type(config).__name__}")
    seed: int | None = None
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        seed = int(rng)
        gen = np.random.default_rng(seed)
    elif isinstance(rng, np.random.Generator):
        gen = rng
    else:
        raise TypeError(f"rng: expected a numpy Generator or an int seed, got {type(rng).__name__}")
    background_seed, noise_seed = (int(s) for s in gen.integers(0, 2**63 - 1, size=2))
    scene = build_scene(config, gen)
    if scene.crossings < config.crossings:
        log.warning(
            "asked for %d crossing pairs, made %d: the population has %d progressive cells",
            config.crossings,
            scene.crossings,
            int(np.isin(scene.population.model, ["progressive", "circling"]).sum()),
        )
    renderer = Renderer(config, scene, background_seed=background_seed, noise_seed=noise_seed)
    log.info(
        "simulated %d swimmers, %d cells, %d frames",
        len(scene.population),
        len(scene.cells),
        config.n_frames,
    )
    return Simulation(
        config=config,
        seed=seed,
        cells=scene.cells,
        frames=scene.frames,
        tracks=scene.tracks,
        crossings=scene.crossings,
        _scene=scene,
        _renderer=renderer,
    )
