"""Synthetic sperm videos with exact ground truth (VISEM-like phase contrast or bright field).

>>> from spermlab.simulate import SimulationConfig, simulate
>>> sim = simulate(SimulationConfig(duration_s=0.1), rng=0)
>>> sim.n_frames, list(sim.cells.columns[:4])
(5, ['cell_id', 'swimmer_id', 'model', 'grade'])

``simulate`` draws the cells and their exact paths; iterating over the result renders
the frames lazily (it is a :class:`spermlab.io.source.FrameSource`);
``write_simulation`` writes an MP4 and/or JPEG frames with VISEM-Tracking labels and
the truth tables. See ``docs/simulation.md`` for the models, the conventions and a
comparison with real VISEM frames.
"""

from __future__ import annotations

from spermlab.simulate.config import GRADES, LOOKS, SimulationConfig, default_calibration
from spermlab.simulate.simulation import Simulation, simulate
from spermlab.simulate.swimmers import MODELS
from spermlab.simulate.truth import truth_percentages
from spermlab.simulate.writer import SimulationFiles, write_simulation

__all__ = [
    "GRADES",
    "LOOKS",
    "MODELS",
    "Simulation",
    "SimulationConfig",
    "SimulationFiles",
    "default_calibration",
    "simulate",
    "truth_percentages",
    "write_simulation",
]
