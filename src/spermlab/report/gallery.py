"""The cell gallery of the report: every graded cell, seen at a few moments, with its call.

A CASA result is signed by a person who has checked it. For each graded track the gallery
holds one strip of ``moments`` crops (default 4, evenly spread over the track's frames),
each centred on the head and ``crop_um`` wide (30 µm: the head and the proximal half of
the flagellum), then a tile of what moved in 0.04 s (a beating flagellum shows as a dark
trace beside the head, a dead one leaves the tile white) and, for a head still enough for the
flagellum test, a tile of what the test saw: the movement above the noise averaged over the
track's most beat-like second (:mod:`spermlab.analysis.flagellum`; a beating flagellum is a dark
fan anchored at the head, passers-by leave faint streaks, grey is unmeasured), with the track's
grade, VAP, progression and flagellar beat probability beside it. The crops come from one more
pass over the recording, which keeps only the crops
(at most ``max_cells`` x ``moments`` small tiles), so memory stays flat with video length.
Strips are JPEG data URIs: the report stays one self-contained file (about 5 KB a cell).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spermlab.analysis.motility import GRADES
from spermlab.io.source import Frame

__all__ = ["GalleryCell", "cell_gallery", "pick_cells"]


@dataclass(frozen=True)
class GalleryCell:
    """One graded cell of the gallery.

    Attributes
    ----------
    track_id : int
    grade : str
    frames : list of int
        The frames shown, left to right.
    strip : str
        The crops side by side, as a ``data:image/jpeg`` URI.
    kinematics : dict
        The track's row of the Kinematics table.
    """

    track_id: int
    grade: str
    frames: list[int]
    strip: str
    kinematics: dict


def pick_cells(kinematics: pd.DataFrame, max_cells: int) -> pd.DataFrame:
    """The graded tracks to show: all of them, or a share of each grade when too many.

    Each grade keeps ``ceil(max_cells x its share)`` tracks, taken evenly through its
    tracks in id order (deterministic), so the gallery shows every grade in proportion.
    """
    graded = kinematics[kinematics["grade"].isin(list(GRADES))].sort_values("track_id")
    if len(graded) <= max_cells:
        return graded
    parts = []
    for _, g in graded.groupby("grade", sort=True):
        n = max(1, math.ceil(max_cells * len(g) / len(graded)))
        parts.append(g.iloc[np.unique(np.linspace(0, len(g) - 1, n).round().astype(int))])
    return pd.concat(parts).sort_values("track_id")


def cell_gallery(
    frames: Iterable[Frame],
    tracks: pd.DataFrame,
    kinematics: pd.DataFrame,
    *,
    um_per_px: float,
    fps: float | None = None,
    moments: int = 4,
    crop_um: float = 30.0,
    tile_px: int = 96,
    max_cells: int = 300,
) -> list[GalleryCell]:
    """Crops of every graded cell at a few moments, streaming the recording once.

    Parameters
    ----------
    frames : iterable of Frame
        The analysed recording, in frame order.
    tracks : DataFrame
        The Tracks table (head positions per frame).
    kinematics : DataFrame
        The graded Kinematics table.
    um_per_px : float
        Scale, to make the crops ``crop_um`` wide.
    fps : float, optional
        Frame rate. When given, a tile shows what moved around the head in 0.04 s
        (the flagellum measure's lag) at the track's middle frame: ``|I(t + lag) - I(t)|``
        at the same place, dark where the image changed, white where it did not; and for
        tracks the flagellum test measured, a last tile of its 1-s movement map.
    moments, crop_um, tile_px, max_cells
        Crops per cell, their width in µm and on screen (px), and the most cells shown
        (:func:`pick_cells`).

    Returns
    -------
    list of GalleryCell
        In track id order.
    """
    from PIL import Image

    chosen = pick_cells(kinematics, max_cells)
    half = int(np.clip(round(crop_um / um_per_px / 2), 12, 120))
    wanted: dict[int, list[tuple[int, int, float, float]]] = {}
    shown: dict[int, list[int]] = {}
    ids = set(chosen["track_id"].astype(int))
    for tid, t in tracks[tracks["track_id"].isin(ids)].groupby("track_id"):
        t = t.sort_values("frame")
        pick = np.unique(np.linspace(0, len(t) - 1, moments).round().astype(int))
        shown[int(tid)] = t["frame"].to_numpy()[pick].tolist()
        for slot, row in enumerate(t.iloc[pick].itertuples()):
            wanted.setdefault(int(row.frame), []).append((int(tid), slot, row.x, row.y))
        if fps:
            mid = t.iloc[len(t) // 2]
            lag = max(1, int(round(0.04 * fps)))
            for slot, f in ((-1, int(mid["frame"])), (-2, int(mid["frame"]) + lag)):
                wanted.setdefault(f, []).append((int(tid), slot, mid["x"], mid["y"]))
    tiles: dict[int, dict[int, np.ndarray]] = {}
    last = max(wanted) if wanted else -1
    meter, heads = None, {}
    if fps:
        from spermlab.analysis.flagellum import FlagellumMeter, heads_by_frame
        from spermlab.calibration import Calibration

        meter = FlagellumMeter(Calibration(um_per_px=um_per_px, fps=fps), keep_maps=True)
        sperm = tracks[tracks["cls"] == 0] if "cls" in tracks else tracks
        sperm = sperm.assign(track_id=np.where(sperm["track_id"].isin(ids), sperm["track_id"], -1))
        heads = heads_by_frame(sperm)
        last = max(last, int(sperm.loc[sperm["track_id"] >= 0, "frame"].max()) if len(ids) else -1)
    no_heads = (np.zeros((0, 4)), np.zeros(0, np.int64))
    for frame in frames:
        if meter is not None:  # every frame, so that each has its lagged frame
            meter.update(frame.image, *heads.get(frame.index, no_heads), frame=frame.index)
        for tid, slot, x, y in wanted.get(frame.index, []):
            crop = _crop(frame.image, x, y, half)
            if slot < 0:  # the motion tile's two frames, kept at full resolution
                tiles.setdefault(tid, {})[slot] = crop
                continue
            tile = Image.fromarray(crop).resize((tile_px, tile_px), Image.Resampling.BILINEAR)
            tiles.setdefault(tid, {})[slot] = np.asarray(tile)
        if frame.index >= last:
            break
    from spermlab.report.overlay import image_data_uri

    maps: dict[int, np.ndarray] = {}
    if meter is not None:
        meter.finish()
        keep = int(round(half * um_per_px / meter.um_per_bin))  # the crops' field of view
        maps = {tid: _map_tile(m, keep, tile_px) for tid, m in meter.maps.items()}
    out = []
    for row in chosen.to_dict("records"):
        tid = int(row["track_id"])
        got = tiles.get(tid, {})
        if not got:
            continue
        gap = np.full((tile_px, 3), 255, np.uint8)
        motion = [_motion_tile(got.pop(-1), got.pop(-2), tile_px)] if -1 in got and -2 in got else []
        got.pop(-1, None)
        got.pop(-2, None)
        motion += [maps[tid]] if tid in maps else []
        parts = [p for tile in [got[k] for k in sorted(got)] + motion for p in (tile, gap)][:-1]
        out.append(GalleryCell(tid, str(row["grade"]), shown[tid], image_data_uri(np.hstack(parts), quality=80), row))
    return out


def _motion_tile(before: np.ndarray, after: np.ndarray, tile_px: int) -> np.ndarray:
    """``255 - 6 |after - before|``, resized: dark where the picture changed."""
    from PIL import Image

    change = np.abs(after.astype(np.int16) - before.astype(np.int16))
    tile = np.clip(255 - 6 * change, 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(tile).resize((tile_px, tile_px), Image.Resampling.BILINEAR))


def _map_tile(movement: np.ndarray, keep: int, tile_px: int) -> np.ndarray:
    """The flagellum test's movement map (``q̄ - 1``, noise units) as a tile: white where
    nothing moved, black from 4 noise units up, grey where it was not measured."""
    from PIL import Image

    c = movement.shape[0] // 2
    k = max(1, min(keep, c))
    m = movement[c - k:c + k + 1, c - k:c + k + 1].astype(np.float32)
    tile = np.where(np.isfinite(m), 255 - 255 * np.clip(np.nan_to_num(m) / 4.0, 0, 1), 190)
    return np.asarray(Image.fromarray(tile.astype(np.uint8)).resize((tile_px, tile_px), Image.Resampling.BILINEAR))


def _crop(image: np.ndarray, x: float, y: float, half: int) -> np.ndarray:
    """A (2 half) square around (x, y), padded with the image's median where it leaves it."""
    h, w = image.shape[:2]
    cx, cy = int(np.floor(x)), int(np.floor(y))
    out = np.full((2 * half, 2 * half), int(np.median(image[::8, ::8])), dtype=np.uint8)
    y0, y1, x0, x1 = cy - half, cy + half, cx - half, cx + half
    sy0, sy1, sx0, sx1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if sy1 > sy0 and sx1 > sx0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out
