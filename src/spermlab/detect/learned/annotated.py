"""Annotated frames for training and scoring detectors, from every kind of labelled source.

One :class:`AnnotatedFrame` is a grey frame (exactly as ``spermlab analyze`` streams it)
with its sperm-head boxes and its *ignore* boxes (regions a detector is neither rewarded
nor punished for, e.g. VISEM-Tracking's ``cluster`` boxes, which hold several heads).

Readers:

* :func:`from_visem` / :func:`from_yolo_folder`: a VISEM-Tracking video folder or any YOLO
  layout (``images/`` + ``labels/``, matching stems; class 0 sperm, 1 cluster and
  2 pinhead by VISEM's mapping);
* :func:`from_voc_clip`: a video with one Pascal VOC file per frame (SVIA Subset-A);
* :func:`from_simulation`: simulated videos whose look is randomised (polarity, blur,
  contrast, noise, head size, density, background, codec artefacts) with exact truth;
* :func:`load_annotated`: any of the first three by path.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from spermlab.tables import DETECTIONS, empty

__all__ = ["AnnotatedFrame", "dark_heads", "from_simulation", "from_visem", "from_voc_clip",
           "from_yolo_folder", "inside_any", "load_annotated", "truth_table"]  # fmt: skip

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".wmv"}


@dataclass
class AnnotatedFrame:
    """One grey frame and its truth.

    Attributes
    ----------
    image : ndarray of uint8, shape (H, W)
    boxes : ndarray of float64, shape (n, 4)
        Sperm heads, ``x, y, w, h`` (centre and size, px; pixel (r, c) covers [c, c+1)).
    ignore : ndarray of float64, shape (m, 4)
        Regions to ignore, same layout.
    source : str
        A short name of the source (e.g. ``"V1"`` or the folder name).
    frame : int
        Frame number in its source.
    """

    image: np.ndarray
    boxes: np.ndarray
    ignore: np.ndarray
    source: str
    frame: int


def truth_table(frames: Sequence[AnnotatedFrame]) -> pd.DataFrame:
    """The heads of ``frames`` as one Detections table (``frame`` = position in ``frames``,
    ``cls`` 0, ``score`` 1), for :func:`spermlab.evaluate.evaluate_detections`."""
    parts = [pd.DataFrame({"frame": np.full(len(f.boxes), k, dtype=np.int64),
                           "x": f.boxes[:, 0], "y": f.boxes[:, 1], "w": f.boxes[:, 2],
                           "h": f.boxes[:, 3], "cls": np.zeros(len(f.boxes), dtype=np.int64),
                           "score": 1.0}) for k, f in enumerate(frames)]  # fmt: skip
    return pd.concat(parts, ignore_index=True) if parts else empty(DETECTIONS)


def inside_any(xy: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Which points ``(n, 2)`` lie inside any box ``(m, 4)`` (centre x, y, width, height)."""
    if len(boxes) == 0 or len(xy) == 0:
        return np.zeros(len(xy), dtype=bool)
    bx, by, bw, bh = (boxes[:, j][None] for j in range(4))
    return ((np.abs(xy[:, :1] - bx) <= bw / 2) & (np.abs(xy[:, 1:2] - by) <= bh / 2)).any(axis=1)


def dark_heads(frames: Sequence[AnnotatedFrame]) -> dict[str, bool]:
    """Per source: are its heads darker than the background (bright field) or brighter
    (phase contrast)? Read from the annotations, not guessed.

    The rule: the median, over every annotated head of the source, of the grey level at
    the head's centre pixel (image smoothed with a 1-px Gaussian) minus the median of its
    frame. Negative means dark heads. A source with no heads counts as bright.
    """
    from scipy import ndimage as ndi

    values: dict[str, list[np.ndarray]] = {}
    for f in frames:
        if len(f.boxes) == 0:
            values.setdefault(f.source, [])
            continue
        sm = ndi.gaussian_filter(f.image.astype(np.float32), 1.0)
        h, w = sm.shape
        c = np.clip(f.boxes[:, 0].astype(int), 0, w - 1)
        r = np.clip(f.boxes[:, 1].astype(int), 0, h - 1)
        values.setdefault(f.source, []).append(sm[r, c] - np.median(f.image[::4, ::4]))
    return {src: bool(len(v) and np.median(np.concatenate(v)) < 0) for src, v in values.items()}


def _split(table, positive: Sequence[int], ignore: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    xywh = table[["x", "y", "w", "h"]].to_numpy(dtype=np.float64)
    cls = table["cls"].to_numpy()
    return xywh[np.isin(cls, positive)], xywh[np.isin(cls, ignore)]


def _grey(path: Path) -> np.ndarray:
    from spermlab.io.frames import read_grey

    return read_grey(path)


def from_yolo_folder(folder: str | PathLike[str], *, frames: Iterable[int] | None = None,
                     source: str | None = None, positive: Sequence[int] = (0,),
                     ignore: Sequence[int] = (1, 2)) -> list[AnnotatedFrame]:  # fmt: skip
    """Frames of a YOLO-layout folder (``images/`` + ``labels/``, one ``.txt`` per image).

    Parameters
    ----------
    folder : path
        Holds ``images/`` and ``labels/``; label ``labels/<stem>.txt`` belongs to image
        ``images/<stem>.<jpg|png|tif>``, also in sub-folders (Ultralytics' ``images/train/``
        with ``labels/train/``). VISEM-Tracking video folders are of this layout.
    frames : iterable of int, optional
        Frame numbers to read (the trailing number of each stem); default all.
    source : str, optional
        Name recorded in each frame; default the folder name.
    positive, ignore : sequence of int
        Class ids that are sperm heads and that are ignore regions (other classes are
        background). Default VISEM-Tracking's mapping: 0 sperm; 1 cluster, 2 pinhead ignored.
    """
    from spermlab.io.yolo import read_yolo

    root = Path(folder)
    images, labels = root / "images", root / "labels"
    if not images.is_dir() or not labels.is_dir():
        raise FileNotFoundError(f"{root}: expected a YOLO layout with images/ and labels/ folders")
    wanted = None if frames is None else set(int(f) for f in frames)
    found = []
    for k, img in enumerate(sorted(images.rglob("*"))):
        if img.suffix.lower() not in {".jpg", ".jpeg", ".png", ".tif", ".tiff"} or img.name[0] == ".":
            continue
        m = re.search(r"(\d+)$", img.stem)
        n = int(m.group(1)) if m else k
        if wanted is not None and n not in wanted:
            continue
        found.append((n, str(img), img))
    found.sort()
    if not found:
        raise FileNotFoundError(f"{images}: no images{'' if wanted is None else ' of the given frames'}")
    out = []
    for n, _, img in found:
        label = (labels / img.relative_to(images)).with_suffix(".txt")
        if not label.is_file():
            raise FileNotFoundError(f"{label}: no label file for image {img.name}")
        grey = _grey(img)
        table = read_yolo(label, width=grey.shape[1], height=grey.shape[0], frame=n)
        pos, ign = _split(table, positive, ignore)
        out.append(AnnotatedFrame(grey, pos, ign, source or root.name, n))
    return out


from_visem = from_yolo_folder  # a VISEM-Tracking video folder is a YOLO layout


def from_voc_clip(video: str | PathLike[str], annotations: str | PathLike[str] | None = None, *,
                  frames: Iterable[int] | None = None, source: str | None = None,
                  positive: Sequence[str] = ("S",),
                  background: Sequence[str] = ("Impurity",)) -> list[AnnotatedFrame]:  # fmt: skip
    """Frames of a video annotated with one Pascal VOC file per frame (SVIA Subset-A layout).

    Parameters
    ----------
    video : path
        The clip (decoded with PyAV to grey, as ``analyze`` does).
    annotations : path, optional
        Folder with ``<stem>_<NNNN>.xml`` (``NNNN`` 1-based). Default: the first of the
        video's folder and its sub-folders that holds ``<stem>_0001.xml``.
    frames : iterable of int, optional
        0-based frames; default every frame that has a VOC file.
    positive, background : sequence of str
        Object names that are sperm heads, and names that are background (SVIA: ``S`` and
        ``Impurity``); any other name is an error naming the file.
    """
    from spermlab.io.video import open_video
    from spermlab.io.voc import read_voc_folder

    video = Path(video)
    stem = video.stem
    if annotations is None:
        annotations = _find_voc_folder(video)
    classes: dict[str, int | None] = {name: None for name in background}
    classes.update({name: 0 for name in positive})
    table = read_voc_folder(annotations, stem=stem, frames=frames, classes=classes)
    wanted = set(table["frame"].unique()) if frames is None else set(int(f) for f in frames)
    out = []
    for fr in open_video(video):  # the reader opens and closes the file per pass
        if fr.index not in wanted:
            continue
        rows = table[table["frame"] == fr.index]
        pos, ign = _split(rows, (0,), ())
        out.append(AnnotatedFrame(fr.image, pos, ign, source or stem, fr.index))
    missing = wanted - {f.frame for f in out}
    if missing:
        raise ValueError(f"{video}: annotated frames {sorted(missing)[:5]} are past the video's end")
    return out


def _find_voc_folder(video: Path) -> Path:
    for folder in [video.parent, *sorted(p for p in video.parent.iterdir() if p.is_dir())]:
        if (folder / f"{video.stem}_0001.xml").is_file():
            return folder
    raise FileNotFoundError(f"{video}: no Pascal VOC files {video.stem}_NNNN.xml beside it or in a "
                            "sub-folder (give them as VIDEO:FOLDER)")  # fmt: skip


def load_annotated(spec: str | PathLike[str]) -> list[AnnotatedFrame]:
    """Annotated frames from a path: a YOLO/VISEM folder, a video with VOC files, or
    ``VIDEO:FOLDER`` (a video and its VOC folder)."""
    text = str(spec)
    if ":" in text and not Path(text).exists():
        video, folder = text.rsplit(":", 1)
        return from_voc_clip(video, folder)
    path = Path(text)
    if path.is_dir():
        return from_yolo_folder(path)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return from_voc_clip(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    raise ValueError(f"{path}: expected a YOLO/VISEM folder (images/ + labels/), a video with "
                     "Pascal VOC files, or VIDEO:VOC_FOLDER")  # fmt: skip


def from_simulation(n_videos: int, frames_per_video: int = 10, *, seed: int = 1000,
                    width: int = 320, height: int = 256) -> list[AnnotatedFrame]:  # fmt: skip
    """Simulated frames with exact truth, each video with its own randomised look.

    What is drawn, per video (ranges chosen to cover the microscopes spermlab targets, not
    fitted to any score): look phase or bright field, then polarity flipped with
    probability 1/4 (dark-head phase, bright-head bright field); head length 3.5-6.5 µm at
    0.2-0.6 µm/px (5-30 px heads); blur 0-0.6 µm; noise 0.5-6 grey levels; concentration
    20-250 x10⁶/mL (sparse to touching heads); debris 0.3-2x the look's default; round
    cells 0-30 x10⁶/mL; background ±30 grey levels; contrast scaled 0.5-1.5x; JPEG
    quality 30-95 for half of the videos (codec artefacts).

    Parameters
    ----------
    n_videos : int
        Number of videos (looks).
    frames_per_video : int
        Frames kept per video, spread over 2 s.
    seed : int
        Video ``i`` uses seed ``seed + i``.
    width, height : int
        Frame size in px.
    """
    from spermlab.calibration import Calibration
    from spermlab.simulate import SimulationConfig, simulate

    out: list[AnnotatedFrame] = []
    for i in range(n_videos):
        rng = np.random.default_rng(seed + i)
        look = "phase" if rng.random() < 0.5 else "brightfield"
        um_px = float(rng.uniform(0.2, 0.6))
        cal = Calibration(um_per_px=um_px, fps=25.0, chamber_depth_um=20.0,
                          sources=dict.fromkeys(("um_per_px", "fps", "chamber_depth_um"),
                                                "simulation"))  # fmt: skip
        head = float(rng.uniform(3.5, 6.5))
        cfg = SimulationConfig(
            duration_s=2.0, calibration=cal, width=width, height=height, look=look,
            concentration=float(rng.uniform(20, 250)), head_length_um=head,
            head_width_um=head * float(rng.uniform(0.55, 0.75)),
            tail_length_um=float(rng.uniform(30, 55)), blur_um=float(rng.uniform(0.0, 0.6)),
            noise=float(rng.uniform(0.5, 6.0)),
            debris_density=(60.0 if look == "phase" else 15.0) * float(rng.uniform(0.3, 2.0)),
            round_cell_concentration=float(rng.uniform(0, 30)),
        )  # fmt: skip
        sim = simulate(cfg, rng=int(seed + i))
        invert = rng.random() < 0.25
        gain = float(rng.uniform(0.5, 1.5))
        shift = float(rng.uniform(-30, 30))
        quality = int(rng.integers(30, 96)) if rng.random() < 0.5 else None
        picks = np.linspace(0, sim.n_frames - 1, frames_per_video).round().astype(int)
        truth = sim.tracks
        for k in picks:
            img = sim.render(int(k), noise=True).astype(np.float32)
            mean = float(img.mean())
            img = (img - mean) * gain + mean + shift
            if invert:
                img = 255.0 - img
            img8 = np.clip(img, 0, 255).round().astype(np.uint8)
            if quality is not None:
                img8 = _jpeg(img8, quality)
            rows = truth[truth["frame"] == k]
            boxes = rows[["x", "y", "w", "h"]].to_numpy(dtype=np.float64)
            out.append(AnnotatedFrame(img8, boxes, np.zeros((0, 4)), f"sim{seed + i}", int(k)))
    return out


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("L"))
