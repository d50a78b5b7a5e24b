"""Calibration: the physical scale and timing of a recording, and where each value came from.

Velocities scale linearly with µm/px and with fps, and concentration with the field
area and chamber depth, so spermlab never guesses these values. Each comes from the
user, the video file, or a named preset whose derivation is documented, and every
result records the source of each value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["PRESETS", "Calibration", "CalibrationError", "preset"]


class CalibrationError(ValueError):
    """A calibration value is missing or impossible."""


@dataclass(frozen=True)
class Calibration:
    """Physical scale, frame rate and chamber depth of one recording.

    Parameters
    ----------
    um_per_px : float
        Size of one image pixel in the specimen plane, in micrometres.
    fps : float
        Frames per second of the recording (1-1000).
    chamber_depth_um : float, optional
        Depth of the counting chamber or wet preparation, in micrometres. Needed only
        for concentration.
    sources : dict of str to str
        Where each value came from: ``"user"``, ``"file"``, ``"preset:<name>"``,
        ``"simulation"``... Keys are the field names above.
    """

    um_per_px: float
    fps: float
    chamber_depth_um: float | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.um_per_px) and 0 < self.um_per_px < 100):
            raise CalibrationError(f"um_per_px must be in (0, 100) µm/px, got {self.um_per_px}")
        if not (math.isfinite(self.fps) and 1 <= self.fps <= 1000):
            raise CalibrationError(f"fps must be in [1, 1000], got {self.fps}")
        d = self.chamber_depth_um
        if d is not None and not (math.isfinite(d) and 0 < d <= 1000):
            raise CalibrationError(f"chamber_depth_um must be in (0, 1000] µm, got {d}")

    @property
    def dt(self) -> float:
        """Time between frames in seconds."""
        return 1.0 / self.fps

    def with_values(self, *, source: str, **values: Any) -> Calibration:
        """Return a copy with some values replaced, each recorded as coming from ``source``."""
        sources = dict(self.sources)
        for k, v in values.items():
            if v is not None:
                sources[k] = source
        kept = {k: v for k, v in values.items() if v is not None}
        return replace(self, **kept, sources=sources)

    def to_dict(self) -> dict[str, Any]:
        """The values and their sources, JSON-ready."""
        return {
            "um_per_px": self.um_per_px,
            "fps": self.fps,
            "chamber_depth_um": self.chamber_depth_um,
            "sources": dict(self.sources),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        """Inverse of :meth:`to_dict`."""
        return cls(
            um_per_px=float(d["um_per_px"]),
            fps=float(d["fps"]),
            chamber_depth_um=None if d.get("chamber_depth_um") is None else float(d["chamber_depth_um"]),
            sources=dict(d.get("sources", {})),
        )


#: Named calibration presets. Each value's derivation is documented in
#: ``docs/calibration.md``.
#:
#: ``visem``: VISEM / VISEM-Tracking (Haugen et al. 2019; Thambawita et al. 2023):
#: Olympus CX31 phase contrast, 40x objective, IDS UI-2210C camera (640x480), 50 fps,
#: wet preparation of about 20 µm depth. The µm/px is not published; 0.2475 µm/px is
#: the optical value (9.9 µm camera pixel / 40x objective, 1x adapter).
PRESETS: dict[str, dict[str, float]] = {
    "visem": {"um_per_px": 0.2475, "fps": 50.0, "chamber_depth_um": 20.0},
}


def preset(name: str) -> Calibration:
    """Return the named calibration preset, every value sourced as ``preset:<name>``.

    Raises
    ------
    CalibrationError
        When ``name`` is not a known preset; the message lists the known ones.
    """
    if name not in PRESETS:
        raise CalibrationError(f"unknown calibration preset {name!r}; known: {sorted(PRESETS)}")
    values = PRESETS[name]
    return Calibration(**values, sources={k: f"preset:{name}" for k in values})
