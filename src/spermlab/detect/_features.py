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
    "bilinear",
    "dark_depth",
    "gather",
    "grid_on_lattice",
    "half_resolution",
    "hessian",
    "local_maxima",
    "merge_connected_peaks",
    "noise_sigma",
    "region_moments",
    "sample_grid",
    "tail_evidence",
    "upsample2",
]

#: 4-connectivity inside each patch of a (n, h, w) stack and none across patches.
_PATCH_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_PATCH_STRUCTURE[1] = ndi.generate_binary_structure(2, 1)


def half_resolution(f: np.ndarray) -> np.ndarray:
    """Average 2x2 blocks (the last odd row or column is dropped)."""
    h, w = (f.shape[0] // 2) * 2, (f.shape[1] // 2) * 2
    g = f[:h, :w]
    return 0.25 * (g[0::2, 0::2] + g[1::2, 0::2] + g[0::2, 1::2] + g[1::2, 1::2])


def background_grid(f: np.ndarray, cell: float, stride: int = 3) -> tuple[np.ndarray, int]:
    """Median grey level of square tiles about ``cell`` px wide.

    The median of a tile is the background grey level as long as objects cover less
    than half of it, which holds for tiles a few head lengths wide. For speed the
    median is taken over every ``stride``-th pixel of each tile; the default stride 3
    is coprime with the 8-px blocks of JPEG and MPEG, so that the sample is not biased
    by block artefacts. Returns the grid and the tile size in px (a multiple of
    ``stride``); the last partial row and column of tiles are dropped.
    """
    q = f[stride // 2 :: stride, stride // 2 :: stride]
    block = max(2, int(round(cell / stride)))
    by, bx = min(block, q.shape[0]), min(block, q.shape[1])
    ny, nx = max(1, q.shape[0] // by), max(1, q.shape[1] // bx)
    core = q[: ny * by, : nx * bx].reshape(ny, by, nx, bx)
    grid = np.median(core.transpose(0, 2, 1, 3).reshape(ny, nx, -1), axis=2)
    return grid.astype(np.float32), block * stride


def sample_grid(grid: np.ndarray, cell: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a tile grid (tile size ``cell`` px) at image points."""
    gy = np.clip(np.asarray(y, float) / cell - 0.5, 0, grid.shape[0] - 1)
    gx = np.clip(np.asarray(x, float) / cell - 0.5, 0, grid.shape[1] - 1)
    return ndi.map_coordinates(grid, [gy, gx], order=1, mode="nearest")


def grid_on_lattice(grid: np.ndarray, cell: float, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a tile grid on the lattice ``ys`` x ``xs`` (px)."""
    y0, y1, ty = _interp_index(ys, cell, grid.shape[0])
    x0, x1, tx = _interp_index(xs, cell, grid.shape[1])
    rows = grid[y0] * (1 - ty)[:, None] + grid[y1] * ty[:, None]
    return rows[:, x0] * (1 - tx)[None, :] + rows[:, x1] * tx[None, :]


def _interp_index(
    pos: np.ndarray, cell: float, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbouring tile indices and weight of the second, for positions ``pos`` (px)."""
    g = np.clip(np.asarray(pos, np.float32) / cell - 0.5, 0, n - 1)
    i0 = np.minimum(g.astype(np.intp), max(n - 2, 0))
    return i0, np.minimum(i0 + 1, n - 1), g - i0


def upsample2(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bilinear 2x upsampling of a half-resolution image to ``shape``.

    Full-resolution pixel ``2i`` lies a quarter of a sample before half-resolution
    sample ``i`` and pixel ``2i + 1`` a quarter after it; edges are replicated.
    """

    def rows(b: np.ndarray) -> np.ndarray:
        out = np.empty((2 * b.shape[0], b.shape[1]), dtype=b.dtype)
        out[0::2] = 0.75 * b
        out[0::2][1:] += 0.25 * b[:-1]
        out[0] += 0.25 * b[0]
        out[1::2] = 0.75 * b
        out[1::2][:-1] += 0.25 * b[1:]
        out[-1] += 0.25 * b[-1]
        return out

    up = rows(rows(a).T).T
    pad_y, pad_x = shape[0] - up.shape[0], shape[1] - up.shape[1]
    if pad_y or pad_x:
        up = np.pad(up, ((0, pad_y), (0, pad_x)), mode="edge")
    return np.ascontiguousarray(up)


def noise_sigma(residual: np.ndarray) -> float:
    """Robust noise level: 1.4826 x the median absolute deviation of ``residual``."""
    r = residual.ravel()
    med = np.median(r)
    return float(1.4826 * np.median(np.abs(r - med)))


def local_maxima(
    a: np.ndarray, mask: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of ``mask`` that are the maximum of ``a`` in their (2r+1)^2 window.

    Only the pixels of the mask are tested, nearest neighbours first, which keeps the
    cost low on sparse images. Plateaus give several maxima;
    :func:`merge_connected_peaks` removes them.
    """
    y, x = np.nonzero(mask)
    h, w = a.shape
    offsets = sorted(
        ((dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
         if dy or dx),
        key=lambda o: o[0] ** 2 + o[1] ** 2,
    )
    for dy, dx in offsets:
        if len(y) == 0:
            break
        keep = a[np.clip(y + dy, 0, h - 1), np.clip(x + dx, 0, w - 1)] <= a[y, x]
        y, x = y[keep], x[keep]
    return y, x


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
    prominence: float = 0.0,
) -> np.ndarray:
    """Keep one peak per bright object.

    Two peaks closer than ``radius`` px are the same object when the lowest grey level
    of ``image`` along the segment joining them (the saddle), less the background
    ``base`` (one value per peak, averaged over the pair), is at least ``saddle``
    times the fainter peak, or when the fainter peak rises less than ``prominence``
    above the saddle (topographic prominence, in grey levels); the brighter one is
    kept. Returns a boolean mask of the peaks kept.
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
    same = (low >= saddle * np.minimum(vi, vj)) | (np.minimum(vi, vj) - low < prominence)
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
    labels, _ = ndi.label(patches > level[:, None, None], structure=_PATCH_STRUCTURE)
    centre = labels[:, rad, rad]
    comp = (labels == centre[:, None, None]) & (centre[:, None, None] > 0)
    d = np.arange(-rad, rad + 1, dtype=np.float32)
    disc = (d[:, None] ** 2 + d[None, :] ** 2) <= centroid_radius**2
    flat = comp.reshape(n, -1).astype(np.float32)
    # Zeroth to second moments of the region in one product.
    basis = np.stack(
        [np.ones(s * s, np.float32), np.tile(d, s), np.repeat(d, s),
         np.tile(d, s) ** 2, np.repeat(d, s) ** 2, np.outer(d, d).ravel()],
        axis=1,
    )
    area, sx, sy, sxx, syy, sxy = (flat @ basis).T.astype(np.float64)
    safe = np.maximum(area, 1.0)
    mx, my = sx / safe, sy / safe
    vxx = sxx / safe - mx**2 + 1 / 12
    vyy = syy / safe - my**2 + 1 / 12
    vxy = sxy / safe - mx * my
    wgt = np.where(comp & disc, patches - level[:, None, None], 0.0).reshape(n, -1)
    w_sum, w_x, w_y = (wgt @ basis[:, :3]).T.astype(np.float64)
    w_sum = np.maximum(w_sum, 1e-12)
    half_tr = 0.5 * (vxx + vyy)
    spread = np.sqrt(np.maximum(half_tr**2 - (vxx * vyy - vxy**2), 0.0))
    rim = comp[:, [0, -1], :].any(axis=(1, 2)) | comp[:, :, [0, -1]].any(axis=(1, 2))
    return Regions(
        area=area,
        cx=w_x / w_sum,
        cy=w_y / w_sum,
        length=4 * np.sqrt(half_tr + spread),
        width=4 * np.sqrt(np.maximum(half_tr - spread, 0.0)),
        box_w=4 * np.sqrt(np.maximum(vxx, 0.0)),
        box_h=4 * np.sqrt(np.maximum(vyy, 0.0)),
        touches=rim,
    )


def dark_depth(
    blurred: np.ndarray, x: np.ndarray, y: np.ndarray, background: np.ndarray, radius: float
) -> np.ndarray:
    """Darkest value of a blurred half-resolution image near each point.

    The minimum is taken within ``radius`` px (full resolution) of each point and the
    point's ``background`` is subtracted. Blurring before taking the minimum
    suppresses thin dark lines (tails, the rim of a head) and keeps dark bodies
    several pixels wide (debris, cells).
    """
    rc = max(1, int(np.ceil(radius / 2)))
    xi = np.round(np.asarray(x) / 2).astype(np.intp)
    yi = np.round(np.asarray(y) / 2).astype(np.intp)
    patches = gather(blurred, xi, yi, rc)
    d = np.arange(-rc, rc + 1) * 2
    inside = (d[:, None] ** 2 + d[None, :] ** 2) <= radius**2
    return patches[:, inside].min(axis=1) - background


def hessian(g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second differences ``(gxx, gyy, gxy)`` of the interior of an image.

    Each array has shape ``(h - 2, w - 2)``: element ``[i, j]`` belongs to pixel
    ``(i + 1, j + 1)`` of ``g``.
    """
    c2 = 2 * g[1:-1, 1:-1]
    gxx = np.add(g[1:-1, 2:], g[1:-1, :-2])
    gxx -= c2
    gyy = np.add(g[2:, 1:-1], g[:-2, 1:-1])
    gyy -= c2
    gxy = np.subtract(g[2:, 2:], g[2:, :-2])
    gxy -= g[:-2, 2:]
    gxy += g[:-2, :-2]
    gxy *= 0.25
    return gxx, gyy, gxy


def tail_evidence(
    g: np.ndarray,
    hess: tuple[np.ndarray, np.ndarray, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    ceiling: np.ndarray,
    r0: float,
    r1: float,
    *,
    n_angles: int = 48,
    step: float = 1.5,
) -> np.ndarray:
    """Strength of the best thin dark line leaving each point radially (a flagellum).

    Along rays at ``n_angles`` directions, from ``r0`` to ``r1`` px, the second
    derivative across the ray (from the Hessian ``hess`` of the smoothed image ``g``)
    measures a line running along the ray; the absolute second derivative along the
    ray is subtracted, so that blobs, which curve both ways, score low, and samples
    not darker than ``ceiling`` (one grey level per point) count zero (a flagellum is
    dark in phase contrast; the bright side of an edge or halo is not). Rings and halos
    centred on the point run across the rays and score zero. Returns the best ray's
    mean line strength, in the units of ``hess``.
    """
    n = len(x)
    if n == 0:
        return np.zeros(0)
    gxx, gyy, gxy = hess
    hgt, wid = g.shape
    th = np.arange(n_angles) * (2 * np.pi / n_angles)
    rs = np.arange(r0, r1 + 1e-9, step)
    c = np.cos(th).astype(np.float32)[None, :, None]
    s = np.sin(th).astype(np.float32)[None, :, None]
    xi = np.clip(np.rint(x[:, None, None] + rs[None, None, :] * c), 1, wid - 2).astype(np.intp)
    yi = np.clip(np.rint(y[:, None, None] + rs[None, None, :] * s), 1, hgt - 2).astype(np.intp)
    a, b, e = gxx[yi - 1, xi - 1], gyy[yi - 1, xi - 1], gxy[yi - 1, xi - 1]
    across = a * s * s - 2 * e * s * c + b * c * c
    along = a * c * c + 2 * e * s * c + b * s * s
    dark = g[yi, xi] < ceiling[:, None, None]
    line = np.where(dark, np.maximum(across - np.abs(along), 0.0), 0.0)
    return line.mean(axis=2).max(axis=1)
