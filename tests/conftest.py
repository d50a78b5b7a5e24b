"""Shared test fixtures: the real data folder, fixed seeds."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The shared real data: ``$SPERMLAB_DATA`` or ``../shared/data`` from the repo root."""
    return Path(os.environ.get("SPERMLAB_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Path to ../shared/data. Fails under CI=true when missing; skips elsewhere."""
    path = shared_data_dir()
    if not (path / "visem_tracking").is_dir():
        msg = f"shared data not found at {path} (set SPERMLAB_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def require_module(name: str, install: str):
    """Import ``name``; without it fail under CI=true (``make test`` installs it), else skip."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        msg = f"{name} is not installed ({install})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg, allow_module_level=True)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator; every test that draws random numbers uses it."""
    return np.random.default_rng(12345)


def chromium_path() -> str:
    """The headless Chromium for browser tests: ``$SPERMLAB_CHROMIUM`` or one on PATH. Fails
    under CI=true when missing (``make test`` installs it); skips elsewhere."""
    import shutil

    for name in (os.environ.get("SPERMLAB_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    msg = "headless Chromium not found (apt-get install chromium, or set SPERMLAB_CHROMIUM)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)
