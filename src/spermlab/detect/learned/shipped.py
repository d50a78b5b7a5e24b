"""Files shipped inside the package (``weights/``): one lookup with one error message."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["shipped_file"]


def shipped_file(name: str, option: str) -> Path:
    """Path of ``weights/<name>``; FileNotFoundError naming ``option`` (the flag that takes
    another file) when the install lacks it."""
    path = Path(str(resources.files("spermlab.detect.learned") / "weights" / name))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the shipped model is missing from this install "
                                f"(reinstall spermlab, or pass {option})")  # fmt: skip
    return path
