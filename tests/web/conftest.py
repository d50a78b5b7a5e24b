"""Fixtures of the web app's tests: a short simulated recording (no shared data needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import require_module

require_module("fastapi", "pip install 'spermlab[web]'")
require_module("uvicorn", "pip install 'spermlab[web]'")


@pytest.fixture(scope="session")
def sim_video(tmp_path_factory) -> Path:
    """A 1-s simulated 320x240 MP4 (40 x 10^6/mL)."""
    from spermlab.simulate import SimulationConfig, simulate, write_simulation

    root = tmp_path_factory.mktemp("webvideo")
    sim = simulate(SimulationConfig(duration_s=1.0, concentration=40, width=320, height=240), rng=7)
    video = write_simulation(sim, root / "sim", stem="sim").video
    out = root / "sim.mp4"
    shutil.copy(video, out)
    return out
