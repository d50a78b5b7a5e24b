"""Write a simulation to disk: MP4 and/or frames, VISEM-Tracking labels, truth tables.

Layout (``<out>/<stem>/``, the VISEM-Tracking layout plus the truth)::

    <stem>.mp4                                 H.264 (libx264, yuv420p), when video=True
    images/<stem>_frame_<n>.jpg                grey JPEG (quality 95), when frames=True
    labels/<stem>_frame_<n>.txt                cls xc yc w h (normalised), every frame
    labels_ftid/<stem>_frame_<n>_with_ftid.txt track_id cls xc yc w h
    truth_cells.csv|parquet                    one row per cell (Simulation.cells)
    truth_frames.csv|parquet                   one row per cell and frame (Simulation.frames)
    simulation.json                            parameters, seed, counts; written last

``<n>`` is the 0-based frame index without zero padding, as in VISEM-Tracking. The
label writer here is deliberately small and private; :mod:`spermlab.io.visem` reads the
result. Outputs are byte-identical for the same seed and parameters (same library
versions): the MP4 is encoded single-threaded with FFmpeg's ``bitexact`` flags.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spermlab.io.source import Frame
from spermlab.simulate.simulation import Simulation

__all__ = ["SimulationFiles", "write_simulation"]

TABLE_FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class SimulationFiles:
    """Where :func:`write_simulation` put each output (``None``: not written)."""

    root: Path
    video: Path | None
    images: Path | None
    labels: Path
    labels_ftid: Path
    cells: Path
    frames: Path
    metadata: Path

    def to_dict(self) -> dict[str, str | None]:
        """The paths as strings, JSON-ready."""
        return {k: (None if v is None else str(v)) for k, v in self.__dict__.items()}


def write_simulation(
    sim: Simulation,
    out_dir: str | os.PathLike[str],
    *,
    video: bool = True,
    frames: bool = False,
    stem: str = "sim",
    tables: str = "csv",
    jpeg_quality: int = 95,
    progress: Callable[[Iterable[Frame]], Iterable[Frame]] | None = None,
) -> SimulationFiles:
    """Render ``sim`` frame by frame and write it in the VISEM-Tracking layout.

    Only one frame is in memory at a time.

    Parameters
    ----------
    sim : Simulation
        From :func:`spermlab.simulate.simulate`.
    out_dir : path
        Parent folder; everything goes to ``out_dir/stem/``.
    video : bool
        Write ``<stem>.mp4``.
    frames : bool
        Write ``images/<stem>_frame_<n>.jpg``.
    stem : str
        Name of the recording (letters, digits, ``_`` and ``-``).
    tables : {"csv", "parquet"}
        Format of the two truth tables.
    jpeg_quality : int
        JPEG quality, 50-100 (VISEM-Tracking's frames use about 95).
    progress : callable, optional
        Wraps the frame iterator (e.g. a progress bar); must yield every frame.

    Returns
    -------
    SimulationFiles

    Raises
    ------
    ValueError
        On a bad ``stem``, ``tables`` or ``jpeg_quality``, or an odd image size with
        ``video=True``.
    """
    if not stem or not all(c.isalnum() or c in "_-" for c in stem):
        raise ValueError(f"stem: expected letters, digits, '_' or '-', got {stem!r}")
    if tables not in TABLE_FORMATS:
        raise ValueError(f"tables: expected one of {list(TABLE_FORMATS)}, got {tables!r}")
    if video and (sim.width % 2 or sim.height % 2):
        raise ValueError(
            f"video: H.264 yuv420p needs an even width and height, got {sim.width}x{sim.height}; "
            "use video=False (frames only) or an even size"
        )
    if not 50 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality: expected 50-100, got {jpeg_quality}")
    root = Path(out_dir) / stem
    paths = SimulationFiles(
        root=root,
        video=root / f"{stem}.mp4" if video else None,
        images=root / "images" if frames else None,
        labels=root / "labels",
        labels_ftid=root / "labels_ftid",
        cells=root / f"truth_cells.{tables}",
        frames=root / f"truth_frames.{tables}",
        metadata=root / "simulation.json",
    )
    for d in (root, paths.labels, paths.labels_ftid, paths.images):
        if d is not None:
            d.mkdir(parents=True, exist_ok=True)
    _write_labels(sim, paths, stem)
    _write_table(sim.cells, paths.cells)
    _write_table(sim.frames, paths.frames)
    if video or frames:
        it: Iterable[Frame] = sim.iter_frames()
        if progress is not None:
            it = progress(it)
        _write_images(sim, it, paths, stem, jpeg_quality)
    files = {
        k: (None if v is None else v.relative_to(root).as_posix() or ".")
        for k, v in paths.__dict__.items()
        if k != "root"
    }
    _write_json(paths.metadata, {**sim.to_dict(), "files": files, "layout": "visem-tracking"})
    return paths


def _write_table(table: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".csv":
        table.to_csv(path, index=False, lineterminator="\n")
    else:
        table.to_parquet(path, index=False)


def _label_lines(rows: pd.DataFrame, width: int, height: int) -> tuple[str, str]:
    x = rows["x"].to_numpy() / width
    y = rows["y"].to_numpy() / height
    w = rows["w"].to_numpy() / width
    h = rows["h"].to_numpy() / height
    plain, ftid = [], []
    for tid, c, a, b, ww, hh in zip(rows["track_id"], rows["cls"], x, y, w, h, strict=True):
        box = f"{int(c)} {a:.6f} {b:.6f} {ww:.6f} {hh:.6f}\n"
        plain.append(box)
        ftid.append(f"{int(tid)} {box}")
    return "".join(plain), "".join(ftid)


def _write_labels(sim: Simulation, paths: SimulationFiles, stem: str) -> None:
    tracks = sim.tracks.sort_values(["frame", "track_id"], kind="stable")
    groups = dict(iter(tracks.groupby("frame", sort=True)))
    for k in range(sim.n_frames):
        rows = groups.get(k)
        plain, ftid = ("", "") if rows is None else _label_lines(rows, sim.width, sim.height)
        (paths.labels / f"{stem}_frame_{k}.txt").write_text(plain, encoding="ascii", newline="\n")
        (paths.labels_ftid / f"{stem}_frame_{k}_with_ftid.txt").write_text(
            ftid, encoding="ascii", newline="\n"
        )


def _write_images(
    sim: Simulation, it: Iterable[Frame], paths: SimulationFiles, stem: str, quality: int
) -> None:
    from PIL import Image

    with _VideoWriter(paths.video, sim.fps, sim.width, sim.height) as vw:
        for frame in it:
            if paths.video is not None:
                vw.write(frame.image)
            if paths.images is not None:
                Image.fromarray(frame.image, mode="L").save(
                    paths.images / f"{stem}_frame_{frame.index}.jpg", quality=quality
                )


class _VideoWriter:
    """Deterministic H.264 MP4 writer (PyAV, libx264, single thread, bitexact)."""

    def __init__(self, path: Path | None, fps: float, width: int, height: int) -> None:
        self.path = path
        self.fps = fps
        self.size = (width, height)
        self.container: Any = None
        self.stream: Any = None

    def __enter__(self) -> _VideoWriter:
        if self.path is None:
            return self
        from fractions import Fraction

        import av

        self.container = av.open(str(self.path), "w", options={"fflags": "+bitexact"})
        rate = Fraction(self.fps).limit_denominator(1001)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height = self.size
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "17", "preset": "veryfast", "threads": "1"}
        self.stream.codec_context.flags |= av.codec.context.Flags.bitexact
        return self

    def write(self, image: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(image, format="gray")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def __exit__(self, *exc: object) -> None:
        if self.container is None:
            return
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
