"""Optional dependencies: import one, or say which pip command installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``; if it is missing, raise an ImportError naming ``pip install 'spermlab[extra]'``.

    Parameters
    ----------
    module : str
        The module to import (``"cv2"``, ``"torch"``).
    extra : str
        The spermlab extra that installs it.
    purpose : str
        What needs it, for the message ("optical flow").
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{purpose} needs {module}: pip install 'spermlab[{extra}]'") from exc
