"""Images a deep network reads from a video: optical flow over each second, and sampled frames.

Haugen et al. (Sci Rep 13, 14777, 2023) turn every second of a semen video into one image of its
motion: Shi-Tomasi corners ("good features to track") found on the second's first frame are
followed frame to frame by pyramidal Lucas-Kanade optical flow, and each point's path over the
second is drawn as a line; a ResNet regresses the motility shares from these images. The VISEM
paper's experiment 1 feeds single frames instead (which cannot show motion). This module makes
both, plus a dense (Farnebäck) alternative, streaming: it holds at most one second of frames, so
memory is flat in the video's length.

=====================  ==========================================================================
image (per second s)   content
=====================  ==========================================================================
``lk_{s:04d}.png``     Lucas-Kanade paths of up to ``max_corners`` corners over the second, one
                       colour per point (hue by point order), 1-px anti-aliased lines on black,
                       at the video's resolution: a still cell is a dot, a swimming one a line
                       as long as its path
``dense_{s:04d}.png``  Farnebäck flow averaged over the second's frame pairs: red = mean speed
                       x ``DENSE_SCALE`` (grey levels per px/frame, clipped at 255), green and
                       blue = 128 + mean x and y flow x ``DENSE_SCALE``
``frame_{s:04d}.png``  the second's middle frame, grey
=====================  ==========================================================================

Each video's images go into ``OUT/<stem>/`` with ``meta.json`` (fps, seconds, parameters,
versions), written whole or not at all; a video whose ``meta.json`` holds the same parameters is
not recomputed (a cache). ``OUT/index.csv`` lists every image (``sample_id, second, kind, path``).

OpenCV (``opencv-python-headless``) does the flow: its pyramidal Lucas-Kanade and Farnebäck are
the reference implementations the paper used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["DENSE_SCALE", "KINDS", "FlowParams", "dense_flow", "extract_video_features",
           "lk_tracks", "read_index", "render_dense", "render_lk"]

KINDS = ("lk", "dense", "frame")
DENSE_SCALE = 16.0  # grey levels per px/frame: 8 px/frame (VISEM's fastest cells) stays below 128


def _cv2():
    from spermlab._optional import require

    return require("cv2", "deep", "optical flow (OpenCV)")


@dataclass(frozen=True)
class FlowParams:
    """Parameters of the flow images (OpenCV's names; defaults from its Lucas-Kanade tutorial,
    which the paper's code follows, with more corners for a field of many cells).

    Parameters
    ----------
    max_corners : int
        Shi-Tomasi corners tracked per second.
    quality_level, min_distance : float, int
        Corner quality relative to the best corner; least distance between corners (px).
    win_size, max_level : int
        Lucas-Kanade window (px) and pyramid levels (2: motion up to ~4 x win_size per frame).
    """

    max_corners: int = 300
    quality_level: float = 0.01
    min_distance: int = 7
    win_size: int = 15
    max_level: int = 2


def lk_tracks(frames: Iterable[np.ndarray], params: FlowParams = FlowParams()) -> np.ndarray:
    """Follow Shi-Tomasi corners of the first frame through ``frames`` by Lucas-Kanade flow.

    Parameters
    ----------
    frames : iterable of 2-D uint8 arrays
        Consecutive grey frames (one second of video, say).
    params : FlowParams

    Returns
    -------
    ndarray, shape (n_frames, n_points, 2)
        x, y of each point in each frame; NaN once Lucas-Kanade lost it (status 0).
    """
    cv2 = _cv2()
    lk = dict(winSize=(params.win_size, params.win_size), maxLevel=params.max_level,
              criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 0.03))  # fmt: skip
    prev, pts, out = None, None, []
    for frame in frames:
        img = np.ascontiguousarray(frame, dtype=np.uint8)
        if prev is None:
            found = cv2.goodFeaturesToTrack(img, params.max_corners, params.quality_level,
                                            params.min_distance)  # fmt: skip
            pts = np.empty((0, 1, 2), np.float32) if found is None else found.astype(np.float32)
            alive = np.ones(len(pts), bool)
            out.append(pts[:, 0, :].astype(float))
        else:
            if len(pts):
                new, status, _ = cv2.calcOpticalFlowPyrLK(prev, img, pts, None, **lk)
                alive &= status[:, 0].astype(bool)
                pts = new
            pos = pts[:, 0, :].astype(float)
            pos[~alive] = np.nan
            out.append(pos)
        prev = img
    if not out:
        return np.empty((0, 0, 2))
    return np.stack(out)


def render_lk(tracks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Draw point paths (:func:`lk_tracks`) as 1-px anti-aliased lines on black, colour by point.

    Returns
    -------
    ndarray, shape (height, width, 3), uint8 (RGB)
    """
    cv2 = _cv2()
    img = np.zeros((*shape, 3), np.uint8)
    n = tracks.shape[1] if tracks.ndim == 3 else 0
    hues = (np.arange(n) * 37) % 180  # spread neighbours' colours over OpenCV's 0-179 hue
    colours = cv2.cvtColor(np.stack([hues, np.full(n, 255), np.full(n, 255)], -1)
                           .astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0] if n else []  # fmt: skip
    for j in range(n):
        c = tuple(int(v) for v in colours[j])
        path = tracks[:, j, :]
        path = path[np.isfinite(path).all(axis=1)]
        if len(path) == 1:
            cv2.circle(img, tuple(int(round(v)) for v in path[0]), 0, c, -1)
        for a, b in zip(path[:-1], path[1:], strict=False):
            cv2.line(img, (int(round(a[0])), int(round(a[1]))), (int(round(b[0])), int(round(b[1]))),
                     c, 1, cv2.LINE_AA)  # fmt: skip
    return img


def dense_flow(frames: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Farnebäck dense flow averaged over consecutive frame pairs: mean x flow, mean y flow and
    mean speed per pixel (px/frame), each of the frames' shape (zeros for fewer than 2 frames)."""
    cv2 = _cv2()
    prev, su, sv, sm, n = None, None, None, None, 0
    for frame in frames:
        img = np.ascontiguousarray(frame, dtype=np.uint8)
        if prev is None:
            su, sv, sm = (np.zeros(img.shape, np.float64) for _ in range(3))
        else:
            f = cv2.calcOpticalFlowFarneback(prev, img, None, 0.5, 3, 15, 3, 5, 1.2, 0)
            su += f[..., 0]
            sv += f[..., 1]
            sm += np.hypot(f[..., 0], f[..., 1])
            n += 1
        prev = img
    if su is None:
        raise ValueError("dense_flow: no frames")
    d = max(n, 1)
    return su / d, sv / d, sm / d


def render_dense(u: np.ndarray, v: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """The dense-flow image (see the module table): RGB uint8."""
    return np.clip(np.stack([speed * DENSE_SCALE, 128 + u * DENSE_SCALE, 128 + v * DENSE_SCALE], -1)
                   .round(), 0, 255).astype(np.uint8)  # fmt: skip


def _seconds(frames: Iterator[np.ndarray], per_second: int) -> Iterator[list[np.ndarray]]:
    """Consecutive whole seconds of frames (a last, partial second is dropped)."""
    window: list[np.ndarray] = []
    for img in frames:
        window.append(img)
        if len(window) == per_second:
            yield window
            window = []


def _save_png(path: Path, img: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(img).save(path, format="PNG", optimize=False, compress_level=6)


def extract_video_features(source: str | PathLike[str], out: str | PathLike[str], *,
                           kinds: Sequence[str] = ("lk", "frame"), fps: float | None = None,
                           params: FlowParams = FlowParams(), max_seconds: int | None = None,
                           sample_id: str | None = None) -> dict:  # fmt: skip
    """Write one video's per-second images into ``out/<sample_id>/`` (see the module docstring).

    Parameters
    ----------
    source : path
        A video file or frame folder (:func:`spermlab.io.open.open_source`).
    out : path
        The features folder (made if missing).
    kinds : sequence of {"lk", "dense", "frame"}
    fps : float, optional
        Frames per second when the source has none (frame folders) or to override it.
    params : FlowParams
    max_seconds : int, optional
        Stop after this many seconds of video.
    sample_id : str, optional
        The folder name; default: the source's stem (a VISEM-Tracking folder: its name).

    Returns
    -------
    dict
        The ``meta.json`` content (``cached: True`` when nothing had to be computed).

    Raises
    ------
    spermlab.UsageError
        On an unknown kind, or no frame rate.
    spermlab.FormatError
        When the source is shorter than one second.
    """
    from spermlab import __version__
    from spermlab.errors import FormatError, UsageError
    from spermlab.io.atomic import write_json
    from spermlab.io.open import open_source
    from spermlab.io.staging import staged_folder

    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise UsageError(f"--kinds {','.join(kinds)}: expected some of {', '.join(KINDS)}")
    src = open_source(source, fps=fps)
    if not src.fps:
        raise UsageError(f"{source}: the frame rate is unknown (a frame folder); give --fps")
    sid = sample_id or Path(source).stem
    per_second = max(int(round(src.fps)), 2)
    want = {"kinds": sorted(kinds), "params": asdict(params), "max_seconds": max_seconds,
            "frames_per_image": per_second}  # fmt: skip
    folder = Path(out) / sid
    meta_path = folder / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in want} == want:
            return {**meta, "cached": True}
    if meta_path.is_file():
        import shutil

        shutil.rmtree(folder)  # this module's own images of other parameters: recomputed below
    stream = (f.image for f in src)
    n = 0
    with staged_folder(folder, option="--out") as tmp:
        for s, window in enumerate(_seconds(stream, per_second)):
            if max_seconds is not None and s >= max_seconds:
                break
            shape = window[0].shape
            if "lk" in kinds:
                _save_png(tmp / f"lk_{s:04d}.png", render_lk(lk_tracks(window, params), shape))
            if "dense" in kinds:
                _save_png(tmp / f"dense_{s:04d}.png", render_dense(*dense_flow(window)))
            if "frame" in kinds:
                _save_png(tmp / f"frame_{s:04d}.png", window[len(window) // 2])
            n += 1
        if n == 0:
            raise FormatError(source, f"shorter than one second ({per_second} frames at "
                                      f"{src.fps:g} fps): no image can be made")  # fmt: skip
        meta = {"sample_id": sid, "source": str(source), "fps": float(src.fps),
                "fps_source": getattr(src, "fps_source", "file"), "seconds": n,
                "width": src.width, "height": src.height, **want, "spermlab": __version__}  # fmt: skip
        write_json(tmp / "meta.json", meta)
    return {**meta, "cached": False}


def read_index(folder: str | PathLike[str]) -> pd.DataFrame:
    """Every image under a features folder: ``sample_id, second, kind, path`` (from each video's
    ``meta.json``; half-written videos have none and are not listed)."""
    from spermlab.errors import FormatError

    root = Path(folder)
    rows = []
    for meta_path in sorted(root.glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        for kind in meta["kinds"]:
            for s in range(meta["seconds"]):
                rows.append({"sample_id": meta["sample_id"], "second": s, "kind": kind,
                             "path": str(meta_path.parent / f"{kind}_{s:04d}.png")})  # fmt: skip
    if not rows:
        raise FormatError(root, "holds no video features (no <video>/meta.json); make them with "
                                "'spermlab predict video-features'")  # fmt: skip
    return pd.DataFrame(rows)


def write_index(folder: str | PathLike[str]) -> Path:
    """(Re)write ``folder/index.csv`` from the videos' ``meta.json`` files."""
    from spermlab.io.atomic import write_text

    return write_text(Path(folder) / "index.csv", read_index(folder).to_csv(index=False))
