"""Linking detections into tracks: :class:`Linker` (online) and :func:`link` (batch).

See :mod:`spermlab.track.linker` for the method and :mod:`spermlab.track.kalman` for
the motion models.
"""

from __future__ import annotations

from spermlab.track.linker import Linker, link

__all__ = ["Linker", "link"]
