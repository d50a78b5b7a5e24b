"""spermlab: computer-assisted sperm analysis (CASA) and a research workbench for VISEM.

Importing spermlab configures no logging, warnings or plotting backends and prints
nothing; only the ``spermlab`` command line does that.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from spermlab.calibration import Calibration, CalibrationError, preset
from spermlab.errors import FormatError

try:
    __version__ = version("spermlab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["Calibration", "CalibrationError", "FormatError", "__version__", "preset"]
