"""Synthetic sperm videos with exact ground truth (VISEM-like phase contrast or bright field).

>>> from spermlab.simulate import SimulationConfig, simulate
>>> sim = simulate(SimulationConfig(duration_s=0.1), rng=0)
>>> sorted(sim.cells.columns)[:3]
['alh', 'bcf', 'cell_id']

See ``docs/simulation.md`` for the models, the conventions and a comparison with real
VISEM frames.
"""

from __future__ import annotations

from spermlab.simulate.config import GRADES, LOOKS, SimulationConfig, default_calibration
from spermlab.simulate.simulation import Simulation, simulate
from spermlab.simulate.swimmers import MODELS

__all__ = [
    "GRADES",
    "LOOKS",
    "MODELS",
    "Simulation",
    "SimulationConfig",
    "default_calibration",
    "simulate",
]
