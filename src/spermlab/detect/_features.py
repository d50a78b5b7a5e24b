"""Image operations behind :mod:`spermlab.detect.classical` (private).

Everything here works on float32 images that are already polarity-corrected (the
objects of interest are brighter than the background) and on stacks of small patches
cut around candidate points, so that the per-candidate work is vectorised over all
candidates at once instead of looping in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

__all__ = [
    "Regions",
    "background_grid",
    "dark_depth",
    "gather",
    "half_resolution",
    "hessian",
    "local_maxima",
    "merge_connected_peaks",
    "noise_sigma",
    "region_moments",
    "sample_grid",
    "tail_evidence",
]

#: 4-connectivity inside each patch of a (n, h, w) stack and none across patches.
_PATCH_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_PATCH_STRUCTURE[1] = ndi.generate_binary_structure(2, 1)


def half_resolution(f: np.ndarray) -> np.ndarray:
    """Average 2x2 blocks (the last odd row or column is dropped)."""
    h, w = (f.shape[0] // 2) * 2, (f.shape[1] // 2) * 2
    g = f[:h, :w]
    return 0.25 * (g[0::2, 0::2] + g[1::2, 0::2] + g[0::2, 1::2] + g[1::2, 1::2])


def background_grid(f2: np.ndarray, block: int) -> np.ndarray:
    """Median of ``block`` x ``block`` tiles of a (half-resolution) image.

    The median of a tile is the background grey level as long as objects cover less
    than half of the tile, which holds for tiles a few head lengths wide. Tiles at the
    right and bottom edges are the remaining rows/columns (at least one pixel).
    """
    block = max(2, int(block))
    h, w = f2.shape
    ny, nx = max(1, h // block), max(1, w // block)
    core = f2[: ny * block, : nx * block].reshape(ny, block, nx, block)
    grid = np.median(core.transpose(0, 2, 1, 3).reshape(ny, nx, -1), axis=2)
    return grid.astype(np.float32)


def sample_grid(grid: np.ndarray, cell: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a coarse grid (cell size ``cell`` px) at points."""
    gy = np.clip(np.asarray(y, float) / cell - 0.5, 0, grid.shape[0] - 1)
    gx = np.clip(np.asarray(x, float) / cell - 0.5, 0, grid.shape[1] - 1)
    return ndi.map_coordinates(grid, [gy, gx], order=1, mode="nearest")


def upsample_grid(grid: np.ndarray, cell: float, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of a coarse grid to a full image of ``shape``."""
    yy = np.clip((np.arange(shape[0]) + 0.5) / cell - 0.5, 0, grid.shape[0] - 1)
    xx = np.clip((np.arange(shape[1]) + 0.5) / cell - 0.5, 0, grid.shape[1] - 1)
    y0 = np.minimum(yy.astype(int), grid.shape[0] - 2) if grid.shape[0] > 1 else yy.astype(int)
    x0 = np.minimum(xx.astype(int), grid.shape[1] - 2) if grid.shape[1] > 1 else xx.astype(int)
    fy = (yy - y0)[:, None] if grid.shape[0] > 1 else np.zeros((shape[0], 1))
    fx = (xx - x0)[None, :] if grid.shape[1] > 1 else np.zeros((1, shape[1]))
    y1 = np.minimum(y0 + 1, grid.shape[0] - 1)
    x1 = np.minimum(x0 + 1, grid.shape[1] - 1)
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x1] * fx
    bot = grid[y1][:, x0] * (1 - fx) + grid[y1][:, x1] * fx
    return (top * (1 - fy) + bot * fy).astype(np.float32)


def noise_sigma(residual: np.ndarray) -> float:
    """Robust noise level: 1.4826 x the median absolute deviation of ``residual``."""
    r = residual.ravel()
    med = np.median(r)
    return float(1.4826 * np.median(np.abs(r - med)))


def local_maxima(
    a: np.ndarray, mask: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of ``mask`` that are the maximum of ``a`` in their (2r+1)^2 window.

    Only the pixels of the mask are tested, which keeps the cost low on sparse
    images. Plateaus give several maxima; :func:`merge_connected_peaks` removes them.
    """
    y, x = np.nonzero(mask)
    if len(y) == 0:
        return y, x
    h, w = a.shape
    v = a[y, x]
    keep = np.ones(len(y), dtype=bool)
    for dy in range(-radius, radius + 1):
        yy = np.clip(y + dy, 0, h - 1)
        for dx in range(-radius, radius + 1):
            if dy == 0 and dx == 0:
                continue
            keep &= a[yy, np.clip(x + dx, 0, w - 1)] <= v
    return y[keep], x[keep]


def bilinear(a: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of image ``a`` at float coordinates (clamped to the image)."""
    h, w = a.shape
    x = np.clip(x, 0, w - 1.001)
    y = np.clip(y, 0, h - 1.001)
    x0 = x.astype(np.intp)
    y0 = y.astype(np.intp)
    fx = x - x0
    fy = y - y0
    top = a[y0, x0] * (1 - fx) + a[y0, x0 + 1] * fx
    bot = a[y0 + 1, x0] * (1 - fx) + a[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def merge_connected_peaks(
    x: np.ndarray,
    y: np.ndarray,
    image: np.ndarray,
    base: np.ndarray,
    radius: float,
    saddle: float,
) -> np.ndarray:
    """Keep one peak per bright object.

    Two peaks closer than ``radius`` px are the same object when the grey level of
    ``image`` along the segment joining them, less the background ``base`` (one
    value per peak, averaged over the pair), never falls below ``saddle`` times the
    lower peak (no dark gap between them); the brighter one is kept. Returns a
    boolean mask of the peaks kept.
    """
    n = len(x)
    alive = np.ones(n, dtype=bool)
    if n < 2:
        return alive
    pairs = cKDTree(np.c_[x, y]).query_pairs(radius, output_type="ndarray")
    if len(pairs) == 0:
        return alive
    i, j = pairs[:, 0], pairs[:, 1]
    t = np.linspace(0.0, 1.0, 9)[None, 1:-1]
    xs = x[i, None] + (x[j] - x[i])[:, None] * t
    ys = y[i, None] + (y[j] - y[i])[:, None] * t
    floor = 0.5 * (base[i] + base[j])
    low = bilinear(image, xs, ys).min(axis=1) - floor
    vi, vj = image[y[i], x[i]] - floor, image[y[j], x[j]] - floor
    same = low >= saddle * np.minimum(vi, vj)
    weaker = np.where(vi >= vj, j, i)[same]
    stronger = np.where(vi >= vj, i, j)[same]
    # Visit the merges from the brightest pair down, so that a chain of plateaus
    # collapses onto its brightest member.
    order = np.argsort(-np.maximum(vi, vj)[same], kind="stable")
    for k in order:
        if alive[stronger[k]]:
            alive[weaker[k]] = False
    return alive


def gather(
    a: np.ndarray, x: np.ndarray, y: np.ndarray, radius: int, fill: float | None = None
) -> np.ndarray:
    """Square patches of side 2r+1 centred on integer points.

    Pixels outside the image take the value ``fill``, or replicate the nearest edge
    pixel when ``fill`` is None.
    """
    h, w = a.shape
    d = np.arange(-radius, radius + 1)
    yy = y[:, None] + d[None, :]
    xx = x[:, None] + d[None, :]
    out = a[np.clip(yy, 0, h - 1)[:, :, None], np.clip(xx, 0, w - 1)[:, None, :]]
    if fill is not None:
        outside = ((yy < 0) | (yy >= h))[:, :, None] | ((xx < 0) | (xx >= w))[:, None, :]
        out = np.where(outside, np.asarray(fill, dtype=out.dtype), out)
    return out


@dataclass(frozen=True)
class Regions:
    """Moments of the connected region around each patch centre.

    ``area`` in px; ``cx`` ``cy`` the weighted centroid offset from the patch centre;
    ``length`` and ``width`` the full axes (4 sigma) of the equivalent ellipse;
    ``box_w`` ``box_h`` the ellipse's axis-aligned extent; ``touches`` whether the
    region reaches the patch border (it continues beyond the candidate's neighbourhood).
    """

    area: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    length: np.ndarray
    width: np.ndarray
    box_w: np.ndarray
    box_h: np.ndarray
    touches: np.ndarray


def region_moments(patches: np.ndarray, level: np.ndarray, centroid_radius: float) -> Regions:
    """Measure the region above ``level`` (one value per patch) that holds the centre.

    The centroid is weighted by the grey level above ``level`` and taken over the
    part of the region within ``centroid_radius`` px of the patch centre (Crocker &
    Grier 1996), so that a region that continues into a neighbour does not pull it
    away; the shape uses the whole, unweighted region (+1/12 px^2 for the pixel size).
    """
    n, s, _ = patches.shape
    rad = s // 2
    above = patches > level[:, None, None]
    labels, _ = ndi.label(above, structure=_PATCH_STRUCTURE)
    centre = labels[:, rad, rad]
    comp = (labels == centre[:, None, None]) & (centre[:, None, None] > 0)
    d = np.arange(-rad, rad + 1, dtype=np.float64)
    area = comp.sum(axis=(1, 2)).astype(np.float64)
    safe = np.maximum(area, 1.0)
    disc = (d[:, None] ** 2 + d[None, :] ** 2) <= centroid_radius**2
    wgt = np.where(comp & disc, patches - level[:, None, None], 0.0)
    wsum = np.maximum(wgt.sum(axis=(1, 2)), 1e-12)
    cy = (wgt.sum(axis=2) * d).sum(axis=1) / wsum
    cx = (wgt.sum(axis=1) * d).sum(axis=1) / wsum
    rows, cols = comp.sum(axis=2), comp.sum(axis=1)
    my = (rows * d).sum(axis=1) / safe
    mx = (cols * d).sum(axis=1) / safe
    syy = (rows * d**2).sum(axis=1) / safe - my**2 + 1 / 12
    sxx = (cols * d**2).sum(axis=1) / safe - mx**2 + 1 / 12
    sxy = np.einsum("nij,i,j->n", comp.astype(np.float64), d, d) / safe - mx * my
    half_tr = 0.5 * (sxx + syy)
    spread = np.sqrt(np.maximum(half_tr**2 - (sxx * syy - sxy**2), 0.0))
    touches = comp[:, 0, :].any(1) | comp[:, -1, :].any(1) | comp[:, :, 0].any(1) | comp[:, :, -1].any(1)
    return Regions(
        area=area,
        cx=cx,
        cy=cy,
        length=4 * np.sqrt(half_tr + spread),
        width=4 * np.sqrt(np.maximum(half_tr - spread, 0.0)),
        box_w=4 * np.sqrt(np.maximum(sxx, 0.0)),
        box_h=4 * np.sqrt(np.maximum(syy, 0.0)),
        touches=touches,
    )


def dark_depth(dark: np.ndarray, x: np.ndarray, y: np.ndarray, radius: float, cell: int) -> np.ndarray:
    """Darkest value of a coarse, blurred residual within ``radius`` px of each point.

    ``dark`` is sampled every ``cell`` px (a half-resolution image has ``cell=2``).
    Blurring before taking the minimum suppresses thin dark lines (tails, the rim of
    a head) and keeps dark bodies several pixels wide (debris, cells).
    """
    rc = max(1, int(np.ceil(radius / cell)))
    patches = gather(dark, np.round(x / cell).astype(np.intp), np.round(y / cell).astype(np.intp), rc)
    d = np.arange(-rc, rc + 1) * cell
    inside = (d[:, None] ** 2 + d[None, :] ** 2) <= radius**2
    return patches[:, inside].min(axis=1)


def hessian(g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second differences ``(gxx, gyy, gxy)`` of an image (edges replicated)."""
    p = np.pad(g, 1, mode="edge")
    gxx = p[1:-1, 2:] + p[1:-1, :-2] - 2 * g
    gyy = p[2:, 1:-1] + p[:-2, 1:-1] - 2 * g
    gxy = 0.25 * (p[2:, 2:] - p[2:, :-2] - p[:-2, 2:] + p[:-2, :-2])
    return gxx, gyy, gxy


def tail_evidence(
    hess: tuple[np.ndarray, np.ndarray, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    r0: float,
    r1: float,
    *,
    n_angles: int = 48,
    step: float = 1.5,
) -> np.ndarray:
    """Strength of the best thin dark line leaving each point radially (a flagellum).

    Along rays at ``n_angles`` directions, from ``r0`` to ``r1`` px, the second
    derivative across the ray (from the Hessian ``hess`` of the smoothed image)
    measures a dark line running along the ray; the absolute second derivative along
    the ray is subtracted, so that blobs, which curve both ways, score low. Rings and
    halos centred on the point run across the rays and score zero. Returns the best
    ray's mean line strength, in the units of ``hess``.
    """
    n = len(x)
    if n == 0:
        return np.zeros(0)
    gxx, gyy, gxy = hess
    hgt, wid = gxx.shape
    th = np.arange(n_angles) * (2 * np.pi / n_angles)
    rs = np.arange(r0, r1 + 1e-9, step)
    c, s = np.cos(th)[None, :, None], np.sin(th)[None, :, None]
    xi = np.clip(np.rint(x[:, None, None] + rs[None, None, :] * c), 0, wid - 1).astype(np.intp)
    yi = np.clip(np.rint(y[:, None, None] + rs[None, None, :] * s), 0, hgt - 1).astype(np.intp)
    a, b, e = gxx[yi, xi], gyy[yi, xi], gxy[yi, xi]
    across = a * s * s - 2 * e * s * c + b * c * c
    along = a * c * c + 2 * e * s * c + b * s * s
    line = np.maximum(across - np.abs(along), 0.0)
    return line.mean(axis=2).max(axis=1)
