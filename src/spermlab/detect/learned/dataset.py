"""Export VISEM-Tracking folders as an Ultralytics YOLO dataset, split without leakage.

Neighbouring frames of one video are near-identical, so a split by frame leaks the
validation set into training. The split is therefore **by video** when several videos
are given (whole videos go to validation), and, for a single video, **by contiguous
time blocks** with a gap of ``gap_s`` seconds between them that neither side uses.

Layout written (Ultralytics' convention: ``labels/`` beside ``images/``)::

    <out>/data.yaml
    <out>/images/{train,val}/<stem>_frame_<n>.jpg   symbolic links to the originals
    <out>/labels/{train,val}/<stem>_frame_<n>.txt   YOLO boxes (class xc yc w h)
    <out>/split.json                                which frames went where, and why

Images are linked, not copied (a VISEM video is ~90 MB of JPEGs).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from spermlab.io.frames import frame_number
from spermlab.tables import CLASS_NAMES

__all__ = ["Split", "export_yolo_dataset", "split_frames"]


@dataclass(frozen=True)
class Split:
    """Frames of each video assigned to training and validation."""

    train: dict[str, list[int]]
    val: dict[str, list[int]]
    rule: str


def _frames_of(folder: Path) -> list[int]:
    labels = sorted((folder / "labels").glob("*.txt"))
    if not labels:
        raise FileNotFoundError(f"{folder}: no labels/*.txt (expected a VISEM-Tracking video folder)")
    return sorted(n for n in (frame_number(p.stem) for p in labels) if n is not None)


def split_frames(
    folders: Sequence[Path], *, val_fraction: float = 0.2, gap_s: float = 1.0, fps: float = 50.0,
    val_start: int | None = None, every: int = 1, val_every: int = 1,
) -> Split:  # fmt: skip
    """Decide the split: by video for several videos, by time blocks for one.

    Parameters
    ----------
    folders : sequence of Path
        VISEM-Tracking video folders.
    val_fraction : float
        Share of videos (several) or of frames (one video) for validation.
    gap_s : float
        Single video: seconds between the training and the validation block, used by
        neither.
    val_start : int, optional
        Single video: the first validation frame (default: the last ``val_fraction``).
    every, val_every : int
        Keep every n-th training / validation frame (CPU training on fewer, less
        redundant frames).
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if every < 1 or val_every < 1:
        raise ValueError(f"every and val_every must be >= 1, got {every} and {val_every}")
    frames = {f.name: _frames_of(f) for f in folders}
    if len(frames) > 1:
        names = sorted(frames)
        n_val = max(1, round(val_fraction * len(names)))
        val_names = names[-n_val:]
        train = {k: v[::every] for k, v in frames.items() if k not in val_names}
        val = {k: frames[k][::val_every] for k in val_names}
        return Split(train, val, f"by video: {val_names} held out")
    (name, all_frames), = frames.items()
    start = val_start if val_start is not None else all_frames[int(len(all_frames) * (1 - val_fraction))]
    gap = int(round(gap_s * fps))
    train = [n for n in all_frames if n < start - gap][::every]
    val = [n for n in all_frames if n >= start][::val_every]
    if not train or not val:
        raise ValueError(f"{name}: the split leaves no training or no validation frame "
                         f"(val_start={start}, gap={gap} frames)")  # fmt: skip
    rule = f"by time: train frames < {start - gap}, gap of {gap} frames, val frames >= {start}"
    return Split({name: train}, {name: val}, rule)


def export_yolo_dataset(
    folders: Sequence[str | PathLike[str]], out: str | PathLike[str], *, split: Split | None = None,
    **split_kw: float,
) -> Path:  # fmt: skip
    """Write an Ultralytics dataset for VISEM-Tracking folders; return ``data.yaml``'s path."""
    paths = [Path(f).resolve() for f in folders]
    by_name = {p.name: p for p in paths}
    split = split or split_frames(paths, **split_kw)
    root = Path(out).resolve()
    for part, chosen in (("train", split.train), ("val", split.val)):
        (root / "images" / part).mkdir(parents=True, exist_ok=True)
        (root / "labels" / part).mkdir(parents=True, exist_ok=True)
        for name, numbers in chosen.items():
            _link_frames(by_name[name], numbers, root, part)
    names = "\n".join(f"  {k}: {v}" for k, v in CLASS_NAMES.items())
    yaml = f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}\n"
    (root / "data.yaml").write_text(yaml, encoding="utf-8")
    (root / "split.json").write_text(json.dumps(
        {"rule": split.rule, "train": split.train, "val": split.val}, indent=1), encoding="utf-8")  # fmt: skip
    return root / "data.yaml"


def _link_frames(folder: Path, numbers: list[int], root: Path, part: str) -> None:
    stem = folder.name
    for n in numbers:
        image = folder / "images" / f"{stem}_frame_{n}.jpg"
        if not image.is_file():
            raise FileNotFoundError(f"{image}: missing image for label frame {n}")
        link = root / "images" / part / image.name
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(image, link)
        label = folder / "labels" / f"{stem}_frame_{n}.txt"
        (root / "labels" / part / label.name).write_bytes(label.read_bytes())
