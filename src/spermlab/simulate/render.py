"""Image synthesis: a static background plus moving cells, one grey frame at a time.

Each frame is ``background − tails + heads + round cells + noise``, rounded to uint8:

* **background** (computed once): level, smooth illumination, fixed-pattern texture,
  static dark debris (some with a phase halo) and faint out-of-focus blobs;
* **tails**: points every 0.5 px along each flagellum (a travelling wave for motile
  cells, a static bend for immotile ones) splatted bilinearly into one layer, blurred
  once by the tail's Gaussian cross-section;
* **heads**: an analytic, point-symmetric profile in the head's own axes (bright core,
  glow filling the head ellipse, a wide soft halo and a faint ring), evaluated in a
  small patch around each head. The head hides the tail beneath it. Because the
  profile is point-symmetric about the true centre, the intensity-weighted centroid is
  the true position up to pixel sampling;
* **noise**: Gaussian, fresh every frame, from a generator re-seeded on every pass, so
  the frames are the same on every iteration.

The phase-contrast numbers were measured on VISEM-Tracking video 11 (frame 0), the
bright-field ones on SVIA ``S_0001.mp4``; ``docs/simulation.md`` lists them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from spermlab.simulate.config import SimulationConfig
from spermlab.simulate.scene import Scene

__all__ = ["LOOK_PRESETS", "Look", "Renderer"]


@dataclass(frozen=True)
class Look:
    """Grey-level contrasts of one microscope style (signed, relative to background).

    Attributes
    ----------
    background, texture, illumination : float
        Mean level, std of the static fine texture, amplitude of the smooth
        illumination variation.
    core, glow, halo, ring : float
        Head profile: Gaussian core peak, plateau over the head ellipse, wide soft halo
        and a narrow ring at about 2.2 head radii.
    halo_width : float
        Standard deviation of the halo in head radii.
    core_size : tuple of float
        Core standard deviations as fractions of the head's semi-axes (length, width).
    neck : float
        Where the visible tail begins, behind the centre, in head semi-lengths; the
        head hides the tail within that distance of its centre.
    tail_mid, tail : float
        Peak darkness of the midpiece (first 5 µm) and of the start of the principal
        piece (fading quadratically to 0 at the tip); positive = darker.
    tail_sigma_um : float
        Standard deviation of the tail's cross-section (µm), before the optics' blur.
    debris : tuple of float
        Range of debris darkness (grey levels, log-uniform draw).
    debris_bright : float
        Fraction of debris brighter than the background.
    round_core, round_rim : float
        Round cells: interior level and rim (phase halo) level.
    debris_density, blob_density : float
        Defaults of :attr:`SimulationConfig.debris_density` and ``blob_density``
        (per 1000 µm²).
    """

    background: float
    texture: float
    illumination: float
    core: float
    glow: float
    halo: float
    ring: float
    halo_width: float
    core_size: tuple[float, float]
    neck: float
    tail_mid: float
    tail: float
    tail_sigma_um: float
    debris: tuple[float, float]
    debris_bright: float
    round_core: float
    round_rim: float
    debris_density: float
    blob_density: float


LOOK_PRESETS: dict[str, Look] = {
    "phase": Look(
        background=89.0,
        texture=3.0,
        illumination=4.0,
        core=117.0,
        glow=28.0,
        halo=28.0,
        ring=-2.0,
        halo_width=1.25,
        core_size=(0.185, 0.21),
        neck=0.45,
        tail_mid=42.0,
        tail=32.0,
        tail_sigma_um=0.18,
        debris=(8.0, 70.0),
        debris_bright=0.08,
        round_core=-55.0,
        round_rim=70.0,
        debris_density=60.0,
        blob_density=0.3,
    ),
    "brightfield": Look(
        background=155.0,
        texture=1.2,
        illumination=3.0,
        core=-95.0,
        glow=-22.0,
        halo=4.0,
        ring=0.0,
        halo_width=1.4,
        core_size=(0.4, 0.45),
        neck=0.8,
        tail_mid=24.0,
        tail=12.0,
        tail_sigma_um=0.18,
        debris=(6.0, 45.0),
        debris_bright=0.03,
        round_core=10.0,
        round_rim=-28.0,
        debris_density=15.0,
        blob_density=0.1,
    ),
}

_MIDPIECE_UM = 5.0
_STEP_PX = 0.5


def _grid(half: int) -> np.ndarray:
    return np.arange(-half, half + 1, dtype=np.float64)


def head_profile(
    dx: np.ndarray,
    dy: np.ndarray,
    psi: np.ndarray,
    *,
    a: float,
    b: float,
    blur: float,
    look: Look,
    reach: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Head intensity and occlusion mask at offsets ``(dx, dy)`` px from the centre.

    ``dx``, ``dy`` broadcast with ``psi`` (the head axis angle); ``a``, ``b`` are the
    semi-axes in px and ``blur`` the PSF standard deviation in px. The profile is a
    Gaussian core plus a function of the elliptical radius ``ρ`` (glow, halo, ring);
    both are even in ``(dx, dy) → (−dx, −dy)``, so the centroid is the centre. Halo and
    ring are tapered to 0 between ``0.8·reach`` and ``reach`` (px along the long axis),
    so a patch of half-size ``reach`` holds the whole head.
    """
    c, s = np.cos(psi), np.sin(psi)
    xl = dx * c + dy * s
    yl = -dx * s + dy * c
    b2 = blur * blur
    sx2 = (look.core_size[0] * a) ** 2 + b2
    sy2 = (look.core_size[1] * b) ** 2 + b2
    core = look.core * np.exp(-0.5 * (xl * xl / sx2 + yl * yl / sy2))
    ae, be = np.sqrt(a * a + b2), np.sqrt(b * b + b2)
    rho = np.sqrt((xl / ae) ** 2 + (yl / be) ** 2)
    grid, radial, occlusion = _radial_tables(ae, be, blur, look, reach)
    pos = rho * ((grid.size - 1) / grid[-1])
    i = np.minimum(pos.astype(np.int32), grid.size - 2)
    frac = np.minimum(pos - i, 1.0)  # beyond the table: its last value (0 for the halo)
    val = radial[i] + frac * (radial[i + 1] - radial[i])
    mask = occlusion[i] + frac * (occlusion[i + 1] - occlusion[i])
    return core + val, mask


def _radial_tables(
    ae: float, be: float, blur: float, look: Look, reach: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Glow + halo + ring, and the occlusion mask, tabulated against ρ."""
    rho_max = 4.0 if reach is None else reach / ae
    grid = np.linspace(0.0, rho_max, 2049, dtype=np.float32)
    edge = 0.12 + blur / max(be, 1e-9)
    glow = look.glow / (1.0 + np.exp(np.clip((grid - 1.0) / edge, -50, 50)))
    halo = look.halo * np.exp(-0.5 * (grid / look.halo_width) ** 2)
    halo += look.ring * np.exp(-0.5 * ((grid - 2.2) / 0.35) ** 2)
    if reach is not None:
        u = np.clip((grid - 0.8 * rho_max) / (0.2 * rho_max), 0.0, 1.0)
        halo *= np.cos(0.5 * np.pi * u) ** 2
    mask = 1.0 / (1.0 + np.exp(np.clip((grid - look.neck) / 0.08, -50, 50)))
    return grid, glow + halo, mask


class Renderer:
    """Renders the frames of one scene; iterate with :meth:`frames`.

    Parameters
    ----------
    config : SimulationConfig
    scene : Scene
    background_seed, noise_seed : int
        Seeds of the static background and of the per-frame noise.
    """

    def __init__(
        self, config: SimulationConfig, scene: Scene, *, background_seed: int, noise_seed: int
    ) -> None:
        self.config = config
        self.scene = scene
        self.look = LOOK_PRESETS[config.look]
        self.noise_seed = noise_seed
        u = config.calibration.um_per_px
        self.a = 0.5 * config.head_length_um / u
        self.b = 0.5 * config.head_width_um / u
        self.blur = config.blur_um / u
        self.half = int(np.ceil(2.8 * np.hypot(self.a, self.blur))) + 1
        self.reach = (config.tail_length_um + config.head_length_um) / u + 4.0
        self._background: np.ndarray | None = None
        self._background_seed = background_seed

    @property
    def background(self) -> np.ndarray:
        """The static background (float32, height × width), built on first use."""
        if self._background is None:
            self._background = make_background(
                self.config, self.look, np.random.default_rng(self._background_seed)
            )
        return self._background

    def frames(self) -> Iterator[np.ndarray]:
        """Yield every frame as a uint8 array (height, width), in order."""
        rng = np.random.default_rng(self.noise_seed)
        shape = (self.config.height, self.config.width)
        for k in range(self.config.n_frames):
            img = self.render(k)
            if self.config.noise > 0:
                noise = rng.standard_normal(shape, dtype=np.float32)
                noise *= np.float32(self.config.noise)
                img += noise
            np.rint(img, out=img)
            np.clip(img, 0, 255, out=img)
            yield img.astype(np.uint8)

    def render(self, k: int) -> np.ndarray:
        """Frame ``k`` without temporal noise, as float32."""
        img = self.background.copy()
        sc = self.scene
        w, h = self.config.width, self.config.height
        x, y = sc.x[:, k], sc.y[:, k]
        near = (x > -self.reach) & (x < w + self.reach) & (y > -self.reach) & (y < h + self.reach)
        idx = np.flatnonzero(near)
        tails = self._tails(idx, k) if self.config.tail_length_um > 0 else None
        if tails is not None:
            img -= tails
        self._round_cells(img, k)
        self._heads(img, tails, idx, k)
        return img

    def _tails(self, idx: np.ndarray, k: int) -> np.ndarray | None:
        if idx.size == 0:
            return None
        cfg, sc, look = self.config, self.scene, self.look
        u = cfg.calibration.um_per_px
        pop = sc.population
        step_um = _STEP_PX * u
        s = (np.arange(int(np.ceil(cfg.tail_length_um / step_um))) + 0.5) * step_um
        s = s[None, :]
        L = cfg.tail_length_um
        wave = (
            pop.tail_amp[idx, None]
            * (s / L)
            * np.sin(2 * np.pi * s / pop.tail_wavelength[idx, None] - sc.beat[idx, k][:, None])
        )
        lateral = wave + 0.5 * pop.tail_bend[idx, None] * s * s
        th, ps = sc.theta[idx, k][:, None], sc.psi[idx, k][:, None]
        nx = sc.x[idx, k][:, None] - look.neck * self.a * np.cos(ps)
        ny = sc.y[idx, k][:, None] - look.neck * self.a * np.sin(ps)
        px = nx + (-s * np.cos(th) - lateral * np.sin(th)) / u
        py = ny + (-s * np.sin(th) + lateral * np.cos(th)) / u
        fade = np.clip(1.0 - (s - _MIDPIECE_UM) / max(L - _MIDPIECE_UM, 1e-9), 0.0, 1.0)
        dark = np.where(s < _MIDPIECE_UM, look.tail_mid, look.tail * fade**3)
        sigma = np.hypot(look.tail_sigma_um / u, self.blur)
        weight = np.broadcast_to(dark * np.sqrt(2 * np.pi) * sigma * _STEP_PX, px.shape)
        layer = _splat(px.ravel() - 0.5, py.ravel() - 0.5, weight.ravel(), cfg.height, cfg.width)
        return ndi.gaussian_filter(layer, sigma, truncate=3.0)

    def _heads(self, img: np.ndarray, tails: np.ndarray | None, idx: np.ndarray, k: int) -> None:
        sc = self.scene
        w, h = self.config.width, self.config.height
        hx, hy = sc.x[idx, k], sc.y[idx, k]
        keep = (hx > -self.half) & (hx < w + self.half) & (hy > -self.half) & (hy < h + self.half)
        idx, hx, hy = idx[keep], hx[keep], hy[keep]
        if idx.size == 0:
            return
        g = _grid(self.half).astype(np.float32)
        c0 = np.floor(hx).astype(np.int64)
        r0 = np.floor(hy).astype(np.int64)
        dx = ((c0 - hx) + 0.5).astype(np.float32)[:, None, None] + g[None, None, :]
        dy = ((r0 - hy) + 0.5).astype(np.float32)[:, None, None] + g[None, :, None]
        psi = sc.psi[idx, k].astype(np.float32)[:, None, None]
        val, mask = head_profile(
            dx, dy, psi, a=self.a, b=self.b, blur=self.blur, look=self.look, reach=self.half - 0.5
        )
        for n in range(idx.size):
            _add_patch(img, val[n], mask[n], tails, int(r0[n]) - self.half, int(c0[n]) - self.half)

    def _round_cells(self, img: np.ndarray, k: int) -> None:
        sc, look = self.scene, self.look
        for x, y, r in zip(sc.round_x[:, k], sc.round_y[:, k], sc.round_r, strict=True):
            half = int(np.ceil(r + 10 + 3 * self.blur))
            c0, r0 = int(np.floor(x)), int(np.floor(y))
            g = _grid(half)
            dist = np.hypot((c0 - x + 0.5 + g)[None, :], (r0 - y + 0.5 + g)[:, None])
            soft = 0.7 + self.blur
            val = look.round_core / (1.0 + np.exp(np.clip((dist - r) / soft, -50, 50)))
            val = val + look.round_rim * np.exp(-0.5 * ((dist - r - 2.0) / (2.2 + self.blur)) ** 2)
            _add_patch(img, val, None, None, r0 - half, c0 - half)


def _splat(x: np.ndarray, y: np.ndarray, w: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear splat of weights at (x, y) (pixel-index coordinates) into an image."""
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx, fy = x - x0, y - y0
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    idx_parts, w_parts = [], []
    for ox, oy, ww in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xi, yi = x0 + ox, y0 + oy
        ok = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
        idx_parts.append(yi[ok] * width + xi[ok])
        w_parts.append((w * ww)[ok])
    flat = np.bincount(
        np.concatenate(idx_parts), weights=np.concatenate(w_parts), minlength=height * width
    )
    return flat.reshape(height, width).astype(np.float32)


def _add_patch(
    img: np.ndarray,
    val: np.ndarray,
    mask: np.ndarray | None,
    tails: np.ndarray | None,
    top: int,
    left: int,
) -> None:
    """Add a patch whose top-left pixel is (top, left), clipped to the image."""
    h, w = img.shape
    ph, pw = val.shape
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + ph, h), min(left + pw, w)
    if r0 >= r1 or c0 >= c1:
        return
    sl = (slice(r0, r1), slice(c0, c1))
    psl = (slice(r0 - top, r1 - top), slice(c0 - left, c1 - left))
    img[sl] += val[psl]
    if mask is not None and tails is not None:
        img[sl] += mask[psl] * tails[sl]


def make_background(config: SimulationConfig, look: Look, rng: np.random.Generator) -> np.ndarray:
    """The static background: level, illumination, texture, debris and blobs (float32).

    Parameters
    ----------
    config : SimulationConfig
    look : Look
    rng : Generator

    Returns
    -------
    ndarray of float32, shape (height, width)
    """
    h, w = config.height, config.width
    level = look.background if config.background is None else config.background
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ph = rng.uniform(0, 2 * np.pi, 4)
    illum = np.cos(2 * np.pi * 0.6 * xx / w + ph[0]) * np.cos(
        2 * np.pi * 0.5 * yy / h + ph[1]
    ) + 0.5 * np.cos(2 * np.pi * (xx / w + yy / h) + ph[2])
    img = np.float32(level) + np.float32(look.illumination / 1.5) * illum.astype(np.float32)
    tex = ndi.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), 1.2)
    img += np.float32(look.texture) * tex / max(float(tex.std()), 1e-6)
    _add_blobs(img, config, look, rng)
    _add_debris(img, config, look, rng)
    return img.astype(np.float32)


def _field_count(
    config: SimulationConfig, density_per_1000_um2: float, rng: np.random.Generator
) -> int:
    w, h = config.field_um
    return int(rng.poisson(density_per_1000_um2 * w * h / 1000.0))


def _add_debris(
    img: np.ndarray, config: SimulationConfig, look: Look, rng: np.random.Generator
) -> None:
    """Static debris: small dark dots, and clumps of 2-4 dots with a bright phase halo."""
    u = config.calibration.um_per_px
    density = look.debris_density if config.debris_density is None else config.debris_density
    n = _field_count(config, density, rng)
    xs = rng.uniform(0, config.width, n)
    ys = rng.uniform(0, config.height, n)
    sigma = np.hypot(np.exp(rng.uniform(np.log(0.12), np.log(0.45), n)) / u, config.blur_um / u)
    depth = np.exp(rng.uniform(np.log(look.debris[0]), np.log(look.debris[1]), n))
    sign = np.where(rng.random(n) < look.debris_bright, 1.0, -1.0)
    parts = np.where(rng.random(n) < 0.2, rng.integers(2, 5, n), 1)
    for i in range(n):
        offs = rng.normal(0.0, 1.3 * sigma[i], (int(parts[i]), 2))
        offs[0] = 0.0
        half = int(np.ceil(3.5 * sigma[i] + np.abs(offs).max())) + 3
        c0, r0 = int(np.floor(xs[i])), int(np.floor(ys[i]))
        g = _grid(half)
        val = np.zeros((g.size, g.size))
        for ox, oy in offs:
            dx = (c0 - xs[i] - ox + 0.5 + g)[None, :]
            dy = (r0 - ys[i] - oy + 0.5 + g)[:, None]
            val += np.exp(-0.5 * (dx * dx + dy * dy) / sigma[i] ** 2)
        core = np.minimum(val, 1.0)
        val = sign[i] * depth[i] * core
        if parts[i] > 1:
            wide = ndi.gaussian_filter(core, 2.0 * sigma[i] + 1.0)
            halo = wide / max(float(wide.max()), 1e-9) * (1.0 - core) ** 2
            val = val + 1.5 * depth[i] * halo
        _add_patch(img, val.astype(np.float32), None, None, r0 - half, c0 - half)


def _add_blobs(
    img: np.ndarray, config: SimulationConfig, look: Look, rng: np.random.Generator
) -> None:
    u = config.calibration.um_per_px
    density = look.blob_density if config.blob_density is None else config.blob_density
    n = _field_count(config, density, rng)
    for _ in range(n):
        x, y = rng.uniform(0, config.width), rng.uniform(0, config.height)
        r = rng.uniform(2.0, 6.0) / u
        amp = rng.uniform(3.0, 9.0) * rng.choice([-1.0, 1.0])
        half = int(np.ceil(2.5 * r))
        c0, r0 = int(np.floor(x)), int(np.floor(y))
        g = _grid(half)
        dist = np.hypot((c0 - x + 0.5 + g)[None, :], (r0 - y + 0.5 + g)[:, None])
        val = amp * (
            np.exp(-0.5 * (dist / (0.6 * r)) ** 2)
            - 0.7 * np.exp(-0.5 * ((dist - r) / (0.3 * r)) ** 2)
        )
        _add_patch(img, val.astype(np.float32), None, None, r0 - half, c0 - half)
