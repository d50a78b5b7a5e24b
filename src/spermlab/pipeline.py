"""The whole CASA flow on one source: detect, link, remove drift, measure, grade, count.

``Pipeline`` holds the chosen detector, linker parameters and calibration and streams a
:class:`~spermlab.io.source.FrameSource` through them one frame at a time (DESIGN §1):
memory holds one frame plus the tables of results, never the video.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from spermlab._prefetch import ahead
from spermlab.analysis.drift import estimate_drift, subtract_drift
from spermlab.analysis.flagellum import FlagellumMeter, FlagellumParams
from spermlab.analysis.kinematics import KinematicsParams, measure
from spermlab.analysis.motility import GradingParams, SampleResult, grade, summarise
from spermlab.calibration import Calibration
from spermlab.io.source import Frame, FrameSource
from spermlab.tables import DETECTIONS, TRACKS, columns, empty, validate

__all__ = ["AnalysisResult", "Detector", "Pipeline", "detect_frames"]


class Detector(Protocol):
    """Anything that turns one grey frame into a Detections table."""

    def detect(self, image: np.ndarray, frame: int = 0) -> pd.DataFrame: ...


@dataclass(frozen=True)
class AnalysisResult:
    """Everything one analysis produced."""

    detections: pd.DataFrame
    tracks: pd.DataFrame
    kinematics: pd.DataFrame
    drift: pd.DataFrame
    summary: SampleResult
    width: int
    height: int


@dataclass
class Pipeline:
    """Detector + linker + kinematics + grading with one calibration.

    Parameters
    ----------
    calibration : Calibration
        µm/px, fps and chamber depth, each with its source.
    detector : Detector, optional
        Defaults to :class:`spermlab.detect.learned.spermnet.SpermNetDetector` with the
        shipped model (onnxruntime, core install).
    linker_params : dict
        Keyword arguments of :class:`spermlab.track.linker.Linker`.
    kinematics : KinematicsParams
    grading : GradingParams
    drift : bool
        Estimate and subtract the field's drift before measuring.
    flagellum : FlagellumParams or None
        Judge each still head's flagellar beat while streaming
        (:mod:`spermlab.analysis.flagellum`); ``None`` skips it (the ``flagellum``
        column is then NaN and grades come from the head path alone).
    overlap : bool
        Decode and detect the next frames in a worker thread (two ahead) while this one is
        linked and measured (:func:`spermlab._prefetch.ahead`); the results are the same
        either way. ``False`` runs every stage in the calling thread.
    """

    calibration: Calibration
    detector: Detector | None = None
    linker_params: dict[str, Any] = field(default_factory=dict)
    kinematics: KinematicsParams = field(default_factory=KinematicsParams)
    grading: GradingParams = field(default_factory=GradingParams)
    drift: bool = True
    flagellum: FlagellumParams | None = field(default_factory=FlagellumParams)
    overlap: bool = True

    def __post_init__(self) -> None:
        if self.detector is None:
            from spermlab.detect.learned.spermnet import SpermNetDetector

            self.detector = SpermNetDetector(self.calibration)

    def parameters(self, detector: Detector | None = None) -> dict[str, Any]:
        """Every parameter of every stage, JSON-ready (``detector``: the one actually used,
        e.g. after adapting its scale to the first frame)."""
        det = detector if detector is not None else self.detector
        if hasattr(det, "params"):
            det_params = det.params
        else:
            det_params = asdict(det) if is_dataclass(det) else {}
        return {
            "detector": {"type": type(det).__name__, **_jsonable(det_params)},
            "linker": dict(self.linker_params),
            "kinematics": asdict(self.kinematics),
            "drift_correction": self.drift,
            "flagellum": asdict(self.flagellum) if self.flagellum is not None else None,
        }

    def run(
        self,
        source: FrameSource,
        *,
        frames: Iterable[Frame] | None = None,
        on_frame: Callable[[Frame], None] | None = None,
    ) -> AnalysisResult:
        """Analyse one source.

        Parameters
        ----------
        source : FrameSource
            Supplies size and provenance; its frames are streamed unless ``frames`` is
            given (e.g. wrapped in a progress bar).
        on_frame : callable, optional
            Called after each frame (progress reporting).
        """
        from spermlab.track.linker import Linker

        linker = Linker(self.calibration, **self.linker_params)
        det_cols = _Columns(DETECTIONS)
        trk_cols = _Columns(TRACKS)
        state = {"detector": self.detector}
        meter = FlagellumMeter(self.calibration, self.flagellum) if self.flagellum else None
        n_frames, first, last = 0, None, None
        detected = detect_frames(state, frames if frames is not None else source)
        for frame, dets in ahead(detected, name="spermlab-detect") if self.overlap else detected:
            first = frame.index if first is None else first
            last = frame.index
            det_cols.append(dets)
            linked = linker.update(dets, frame=frame.index)
            trk_cols.append(linked)
            if meter is not None:  # the frame is at hand: measure the flagella now (one pass)
                ids = np.where(linked["cls"].to_numpy() == 0, linked["track_id"].to_numpy(), -1)
                meter.update(frame.image, columns(linked, ("x", "y", "w", "h")), ids, frame=frame.index)
            n_frames += 1
            if on_frame is not None:
                on_frame(frame)
        if n_frames == 0:
            raise ValueError(f"{source.path}: no frames to analyse")
        activity = meter.finish() if meter is not None else None
        return self._finish(source, det_cols.table(), trk_cols.table(), (first, last, n_frames),
                            state["detector"], activity)  # fmt: skip

    def _finish(self, source, detections, tracks, span, detector, activity=None) -> AnalysisResult:
        from spermlab.report.quality import assess

        first, last, n_frames = span
        is_sperm = (tracks["cls"] == 0).to_numpy()
        sperm = tracks[is_sperm].reset_index(drop=True)
        drift = estimate_drift(sperm, self.calibration.fps)
        measured = subtract_drift(sperm, drift) if self.drift else sperm
        kin = measure(measured, self.calibration, params=self.kinematics)
        if activity is not None and len(kin):
            kin["flagellum"] = kin["track_id"].map(activity).astype(float)
        kin = grade(kin, params=self.grading)
        n_sperm = int((detections["cls"] == 0).sum())  # frames analysed: a folder may skip some
        summary = summarise(
            kin, self.calibration,
            mean_heads_per_frame=n_sperm / n_frames,
            n_frames=n_frames, width=source.width, height=source.height,
            params=self.grading, parameters=self.parameters(detector),
            input_info={**_input_info(source), "first_frame": int(first), "last_frame": int(last),
                        "missing_frames": int(last - first + 1 - n_frames)},
        )  # fmt: skip
        quality = assess(summary.to_dict(), detections=detections, tracks=tracks, drift=drift,
                         kinematics=kin)  # fmt: skip
        summary = replace(summary, quality=quality.to_dict())
        return AnalysisResult(detections, tracks, kin, drift, summary, source.width, source.height)


def detect_frames(state: dict[str, Any], frames: Iterable[Frame]) -> Iterable[tuple[Frame, pd.DataFrame]]:
    """Yield (frame, detections) in frame order.

    A detector with ``detect_batch`` and ``batch_size`` > 1 (YOLO) gets ``batch_size`` frames at
    a time, so at most that many frames are held. A detector with ``adapted_to`` (classical) is
    adapted once on the first frame (polarity, head scale), so every frame is analysed alike;
    ``state["detector"]`` is the one actually used.
    """
    buffer: list[Frame] = []
    for frame in frames:
        detector = state["detector"]
        if hasattr(detector, "adapted_to") and not state.get("adapted"):
            state["detector"] = detector = detector.adapted_to(frame.image)
        state["adapted"] = True
        if getattr(detector, "batch_size", 1) <= 1 or not hasattr(detector, "detect_batch"):
            yield frame, detector.detect(frame.image, frame.index)
            continue
        buffer.append(frame)
        if len(buffer) == detector.batch_size:
            yield from _batch(detector, buffer)
            buffer = []
    if buffer:
        yield from _batch(state["detector"], buffer)


def _batch(detector: Any, frames: list[Frame]) -> Iterable[tuple[Frame, pd.DataFrame]]:
    tables = detector.detect_batch([f.image for f in frames], [f.index for f in frames])
    return zip(frames, tables, strict=True)


class _Columns:
    """Per-frame tables kept as plain numpy columns (a DataFrame per frame costs ~7 KB of
    pandas overhead, which grew memory with video length), built into one table at the end."""

    def __init__(self, schema) -> None:
        self.schema = schema
        self.parts: dict[str, list[np.ndarray]] = {c: [] for c in schema}

    def append(self, table: pd.DataFrame) -> None:
        if len(table):
            for c in self.schema:
                self.parts[c].append(table[c].to_numpy())

    def table(self) -> pd.DataFrame:
        if not self.parts[next(iter(self.schema))]:
            return empty(self.schema)
        data = {c: np.concatenate(v).astype(self.schema[c]) for c, v in self.parts.items()}
        return validate(pd.DataFrame(data), self.schema)


def _input_info(source: FrameSource) -> dict[str, Any]:
    path = Path(source.path)
    info: dict[str, Any] = {"path": str(path), "width": source.width, "height": source.height,
                            "fps_in_file": source.fps, "analysed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}  # fmt: skip
    if path.is_file():
        from spermlab.detect.learned.runtime import sha256_file

        info["sha256"] = sha256_file(path)
    return info


def _jsonable(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _jsonable(v) for k, v in d.items() if not k.startswith("_")}
    if isinstance(d, Calibration):
        return d.to_dict()
    if isinstance(d, (list, tuple)):
        return [_jsonable(v) for v in d]
    if isinstance(d, (np.floating, np.integer)):
        return d.item()
    return d
