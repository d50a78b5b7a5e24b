"""Sperm-head detectors: each turns one grey frame into a Detections table.

:class:`ClassicalDetector` needs no training (band-pass, local maxima and physically
motivated evidence); learned detectors live in optional sub-modules.
"""

from __future__ import annotations

from spermlab.detect.classical import ClassicalDetector, detect_source, estimate_polarity

__all__ = ["ClassicalDetector", "detect_source", "estimate_polarity"]
