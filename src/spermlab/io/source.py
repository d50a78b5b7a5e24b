"""The frame-source contract every reader of images over time fulfils.

A frame source streams one frame at a time, so memory does not grow with video length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Frame", "FrameSource"]


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes
    ----------
    index : int
        0-based frame index in the source.
    image : ndarray of uint8, shape (height, width)
        Grey-level image (luma).
    timestamp : float
        Presentation time in seconds from the start of the source.
    """

    index: int
    image: np.ndarray
    timestamp: float


@runtime_checkable
class FrameSource(Protocol):
    """Anything that streams grey frames: a video file, a frame folder, a VISEM folder."""

    path: str
    fps: float | None          # frames per second from the container/metadata, None if unknown
    width: int
    height: int
    n_frames: int | None       # from the container; None if it does not say

    def __iter__(self) -> Iterator[Frame]: ...
