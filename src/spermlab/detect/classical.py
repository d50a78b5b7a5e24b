"""Classical (training-free) sperm-head detector for phase-contrast and bright-field video.

The detector follows the band-pass / local-maximum / centroid scheme of Crocker &
Grier (1996) and adds tests, each stated in units of the apparent head length and of
the image noise, that reject what is not a sperm head.

1. **Polarity.** Phase contrast (VISEM) shows bright heads with a dark rim and a dark
   tail; bright field (SVIA) shows dark heads. The image is negated when heads are
   dark, so that heads are bright for the rest of the pipeline. ``"auto"`` compares
   the bright and dark tails of the background-subtracted grey-level distribution.
2. **Background and noise.** The background is the median of tiles about one head
   length (at the largest plausible scale) wide, interpolated bilinearly; the noise
   sigma is 1.4826 x the median absolute deviation of the raw image about it. All
   contrasts are measured in units of that sigma.
3. **Scale.** The apparent head length ``L`` (px) is measured on the image as the
   median half-maximum length of the brightest compact blobs, within a prior range of
   ``head_length_um / um_per_px`` divided and multiplied by ``scale_tolerance``. The
   calibration's µm/px may be wrong (it is not published for VISEM), so by default it
   only bounds the search. Every length below is a fixed fraction of ``L``.
4. **Candidates.** Local maxima of a difference of Gaussians (σ = 0.16 L and 0.53 L)
   above 4 sigma; maxima of one object that are joined by a bright saddle (never below
   60 % of the lower peak) are merged.
5. **Evidence and score.** For each candidate (all candidates at once, on patches):

   * *contrast*: peak height above background, ``c``, in noise sigmas;
   * *isolation*: the band-passed blob at half maximum stays within 1.3 L of the
     peak; rings of round cells, halos, clusters and streaks continue beyond it;
   * *size and shape*: half-maximum width at most 1.2 L and length at most 2.3 L
     (a head is about 1.5 times longer than wide; WHO 2021);
   * *no dark body*: after a blur that erases tails and the thin dark rim of a head,
     nothing within L of the peak is darker than 35 % of ``c`` below background.
     The bright phase halo around dark debris, dead cells and air bubbles fails it;
   * *tail*: a thin dark line leaving the head radially between 0.75 L and 2.1 L
     (the flagellum, present on motile and immotile sperm). Round cells, specks and
     debris have none; rings and halos run across the rays and do not count.

   The score is the product of one soft (logistic) membership per test, so it is in
   0-1, and ranks heads above the rest. Detections with a score of at least
   ``min_score`` are returned.
6. **Position and box.** The centre is the grey-level-weighted centroid of the
   half-maximum region (sub-pixel); the box is the axis-aligned extent (4 sigma) of
   the region above a quarter of the peak, clipped to the image.

References
----------
.. [1] Crocker J.C., Grier D.G. (1996). Methods of digital video microscopy for
   colloidal studies. J. Colloid Interface Sci. 179, 298-310.
.. [2] World Health Organization (2021). WHO laboratory manual for the examination and
   processing of human semen, 6th ed. (sperm head 4.0-5.0 µm long, 2.5-3.5 µm wide).
.. [3] Thambawita V. et al. (2023). VISEM-Tracking, a human spermatozoa tracking
   dataset. Sci. Data 10, 260.

Examples
--------
>>> import numpy as np
>>> from spermlab.calibration import preset
>>> from spermlab.detect import ClassicalDetector
>>> det = ClassicalDetector(preset("visem"))
>>> det.detect(np.full((120, 160), 90, dtype=np.uint8), frame=3).columns.tolist()
['frame', 'x', 'y', 'w', 'h', 'cls', 'score']
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from spermlab.calibration import Calibration
from spermlab.detect import _features as ft
from spermlab.io.source import Frame
from spermlab.tables import DETECTIONS, empty, validate

__all__ = ["ClassicalDetector", "detect_source", "estimate_polarity"]

log = logging.getLogger(__name__)

Polarity = Literal["auto", "bright", "dark"]

# Lengths as fractions of the apparent head length L (px). Set by inspection of
# VISEM-Tracking video 11 frames 0-499 (phase contrast) and physical reasoning.
_SMOOTH = 0.16  # noise smoothing sigma (about 1.5 px for L = 9)
_BAND = 0.53  # band-pass background sigma (about the head's half width)
_PATCH = 1.3  # neighbourhood radius in which a head must be isolated
_MERGE = 1.3  # peaks closer than this may belong to one object
_DARK_BLUR = 0.32  # blur that erases tails and rims before the dark-body test
_DARK_RADIUS = 1.0  # dark bodies within this distance spoil a candidate
_TAIL_R0, _TAIL_R1 = 0.75, 2.1  # annulus searched for the flagellum
_MAX_WIDTH, _MAX_LENGTH = 1.2, 2.3  # half-maximum extent of a head
_EDGE = 0.2  # peaks closer than this to the border are not measurable

# Contrast thresholds in noise sigmas, and soft-membership widths.
_CANDIDATE_SNR = 4.0
_DARK_LIMIT, _DARK_WIDTH = 0.35, 0.07
_TAIL_LIMIT, _TAIL_WIDTH = 3.0, 1.5
_CROWDED = 0.3  # isolation membership of a blob that continues beyond 1.3 L
_SCALE_SAMPLE = 30  # brightest blobs used to measure the apparent head length


@dataclass(frozen=True)
class ClassicalDetector:
    """Training-free sperm-head detector (band-pass, local maxima, evidence score).

    See the module documentation for the method and for the evidence that rejects
    round cells, debris and out-of-focus blobs.

    Parameters
    ----------
    calibration : Calibration
        Gives µm/px; with ``scale="auto"`` it only bounds the measured head size.
    polarity : {"auto", "bright", "dark"}
        Whether heads are brighter (phase contrast) or darker (bright field) than the
        background; ``"auto"`` decides per image with :func:`estimate_polarity`.
    head_length_um, head_width_um : float
        Physical head size (WHO 2021: 4.0-5.0 µm by 2.5-3.5 µm).
    scale : {"auto", "calibration"}
        ``"auto"`` measures the apparent head length on the image within
        ``[L0 / scale_tolerance, L0 * scale_tolerance]`` with
        ``L0 = head_length_um / um_per_px``; ``"calibration"`` uses ``L0``.
    scale_tolerance : float
        Factor (> 1) by which the apparent head length may differ from ``L0``.
    head_length_px : float, optional
        Apparent head length in px; when given, no scale is measured. Use
        :meth:`with_scale_from` to measure it once for a whole video.
    min_contrast : float
        Peak height above background (noise sigmas) at which the contrast
        membership is 0.5.
    min_score : float
        Detections scoring below this (0-1) are not returned.
    """

    calibration: Calibration
    polarity: Polarity = "auto"
    head_length_um: float = 4.5
    head_width_um: float = 3.0
    scale: Literal["auto", "calibration"] = "auto"
    scale_tolerance: float = 2.5
    head_length_px: float | None = None
    min_contrast: float = 10.0
    min_score: float = 0.4

    def __post_init__(self) -> None:
        if not isinstance(self.calibration, Calibration):
            raise TypeError(
                f"ClassicalDetector: calibration must be a Calibration, got "
                f"{type(self.calibration).__name__}"
            )
        if self.polarity not in ("auto", "bright", "dark"):
            raise ValueError(f"polarity must be 'auto', 'bright' or 'dark', got {self.polarity!r}")
        if self.scale not in ("auto", "calibration"):
            raise ValueError(f"scale must be 'auto' or 'calibration', got {self.scale!r}")
        for name in ("head_length_um", "head_width_um", "min_contrast"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not (np.isfinite(self.scale_tolerance) and self.scale_tolerance >= 1):
            raise ValueError(f"scale_tolerance must be >= 1, got {self.scale_tolerance!r}")
        if self.head_length_px is not None and not (
            np.isfinite(self.head_length_px) and 2 <= self.head_length_px <= 500
        ):
            raise ValueError(f"head_length_px must be in [2, 500] px, got {self.head_length_px!r}")
        if not (0 <= self.min_score <= 1):
            raise ValueError(f"min_score must be in [0, 1], got {self.min_score!r}")

    # ------------------------------------------------------------------ scale
    @property
    def scale_range_px(self) -> tuple[float, float]:
        """Smallest and largest apparent head length (px) that ``scale="auto"`` accepts."""
        nominal = self.head_length_um / self.calibration.um_per_px
        return nominal / self.scale_tolerance, nominal * self.scale_tolerance

    def head_length_for(self, image: np.ndarray) -> float:
        """The apparent head length (px) used for ``image``.

        ``head_length_px`` when set; ``head_length_um / um_per_px`` with
        ``scale="calibration"``; otherwise measured on the image (the median
        half-maximum length of the brightest compact blobs, clipped to
        :attr:`scale_range_px`; the lower bound when nothing can be measured).
        """
        if self.head_length_px is not None:
            return float(self.head_length_px)
        if self.scale == "calibration":
            return self.head_length_um / self.calibration.um_per_px
        f, _ = self._oriented(image)
        return self._measure_scale(f)

    def with_scale_from(self, image: np.ndarray) -> ClassicalDetector:
        """A copy with ``head_length_px`` measured once on ``image`` (then fixed)."""
        return replace(self, head_length_px=self.head_length_for(image))

    @property
    def implied_um_per_px(self) -> float | None:
        """``head_length_um / head_length_px`` when the scale is fixed, else ``None``.

        A measured head length implies a pixel size; compare it with the
        calibration's to check the calibration.
        """
        if self.head_length_px is None:
            return None
        return self.head_length_um / self.head_length_px

    # -------------------------------------------------------------- detection
    def detect(self, image: np.ndarray, frame: int = 0) -> pd.DataFrame:
        """Detect sperm heads in one grey frame.

        Parameters
        ----------
        image : ndarray, shape (height, width)
            Grey levels (any real dtype); not modified.
        frame : int
            Frame index written to the ``frame`` column.

        Returns
        -------
        DataFrame
            A Detections table (:data:`spermlab.tables.DETECTIONS`): box centre ``x``
            ``y`` and size ``w`` ``h`` in px, ``cls`` 0 (sperm), ``score`` in 0-1,
            sorted by decreasing score; empty, with its schema, when nothing is found.
        """
        cand = self.candidates(image)
        keep = cand[cand["score"] >= self.min_score]
        table = pd.DataFrame(
            {
                "frame": np.full(len(keep), int(frame), dtype=np.int64),
                "x": keep["x"].to_numpy(),
                "y": keep["y"].to_numpy(),
                "w": keep["w"].to_numpy(),
                "h": keep["h"].to_numpy(),
                "cls": np.zeros(len(keep), dtype=np.int64),
                "score": keep["score"].to_numpy(),
            }
        )
        if table.empty:
            return empty(DETECTIONS)
        return validate(table, DETECTIONS, name="Detections")

    def candidates(self, image: np.ndarray) -> pd.DataFrame:
        """Every candidate with its evidence and score (for inspection and tuning).

        Columns: ``x`` ``y`` ``w`` ``h`` (px), ``contrast`` (noise sigmas),
        ``length`` ``width`` (half-maximum extent, px), ``isolated`` (bool),
        ``dark`` (darkest blurred value near the peak / peak height), ``tail``
        (line strength / its noise sigma), ``score``, and ``head_length_px``.
        """
        f, sign = self._oriented(image)
        length = self._scale_for(f)
        ctx = _Context.build(f, length)
        x, y = ctx.peaks()
        feats = ctx.measure(x, y)
        feats["score"] = _score(feats, length, self.min_contrast)
        feats["head_length_px"] = length
        return feats.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)

    # ---------------------------------------------------------------- helpers
    def _oriented(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        f = _as_float_image(image)
        if self.polarity == "bright":
            sign = 1
        elif self.polarity == "dark":
            sign = -1
        else:
            sign = 1 if estimate_polarity(f) == "bright" else -1
        return (f if sign == 1 else -f), sign

    def _scale_for(self, f: np.ndarray) -> float:
        if self.head_length_px is not None:
            return float(self.head_length_px)
        if self.scale == "calibration":
            return self.head_length_um / self.calibration.um_per_px
        return self._measure_scale(f)

    def _measure_scale(self, f: np.ndarray) -> float:
        lo, hi = self.scale_range_px
        ctx = _Context.build(f, lo, tile=hi)
        x, y = ctx.peaks()
        if len(x) == 0:
            return lo
        top = np.argsort(-ctx.dog[y, x], kind="stable")[:_SCALE_SAMPLE]
        x, y = x[top], y[top]
        radius = int(np.ceil(0.75 * hi))
        patches = ft.gather(ctx.g1, x, y, radius, fill=-np.inf) - ctx.bg_at(x, y)[:, None, None]
        reg = ft.region_moments(patches, 0.5 * patches[:, radius, radius], 0.5 * lo)
        ok = ~reg.touches
        if ok.sum() < 3:
            return lo
        return float(np.clip(np.median(reg.length[ok]), lo, hi))


def estimate_polarity(image: np.ndarray) -> Literal["bright", "dark"]:
    """Whether the objects of an image are brighter or darker than its background.

    Compares how far the 0.1th and 99.9th percentiles of the half-resolution image
    lie from its median: phase-contrast sperm heads are bright (a long bright tail),
    bright-field heads dark. Ties go to ``"bright"``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((64, 64), 100.0); img[30:34, 30:34] = 20.0
    >>> estimate_polarity(img)
    'dark'
    """
    f2 = ft.half_resolution(_as_float_image(image))
    lo, med, hi = np.percentile(f2, [0.1, 50.0, 99.9])
    return "bright" if hi - med >= med - lo else "dark"


def detect_source(
    source: Iterable[Frame], detector: ClassicalDetector, *, fix_scale: bool = True
) -> Iterator[pd.DataFrame]:
    """Stream a frame source through a detector, one Detections table per frame.

    Parameters
    ----------
    source : FrameSource or iterable of Frame
        Frames to detect in, read one at a time.
    detector : ClassicalDetector
        The detector.
    fix_scale : bool
        With ``scale="auto"`` and no ``head_length_px``, measure the head length on
        the first frame and keep it for the whole source (faster, and the same scale
        for every frame).

    Yields
    ------
    DataFrame
        The Detections of each frame, with the frame's index in ``frame``.
    """
    current = detector
    for item in source:
        if not isinstance(item, Frame):
            raise TypeError(f"detect_source: expected Frame items, got {type(item).__name__}")
        if fix_scale and current.scale == "auto" and current.head_length_px is None:
            current = current.with_scale_from(item.image)
            log.info("head length fixed at %.2f px from frame %d", current.head_length_px, item.index)
        yield current.detect(item.image, frame=item.index)


def _as_float_image(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(
            f"detect: expected a grey image of shape (height, width), got shape {arr.shape}; "
            "convert colour frames to grey first"
        )
    if arr.dtype.kind not in "uif":
        raise TypeError(f"detect: expected a numeric image, got dtype {arr.dtype}")
    if arr.shape[0] < 8 or arr.shape[1] < 8:
        raise ValueError(f"detect: image too small, got shape {arr.shape}; expected at least 8x8")
    f = arr.astype(np.float32, copy=True)
    if not np.isfinite(f).all():
        raise ValueError("detect: the image holds NaN or infinite values")
    return f


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.clip(z, -60.0, 60.0)))


def _score(feats: pd.DataFrame, length: float, min_contrast: float) -> np.ndarray:
    """Product of soft memberships, one per piece of evidence (see module docs)."""
    m_contrast = _sigmoid((feats["contrast"].to_numpy() - min_contrast) / 2.0)
    m_isolated = np.where(feats["isolated"].to_numpy(), 1.0, _CROWDED)
    m_width = _sigmoid((_MAX_WIDTH * length - feats["width"].to_numpy()) / (0.1 * length))
    m_length = _sigmoid((_MAX_LENGTH * length - feats["length"].to_numpy()) / (0.16 * length))
    m_dark = _sigmoid((feats["dark"].to_numpy() + _DARK_LIMIT) / _DARK_WIDTH)
    m_tail = _sigmoid((feats["tail"].to_numpy() - _TAIL_LIMIT) / _TAIL_WIDTH)
    return m_contrast * m_isolated * m_width * m_length * m_dark * m_tail


@dataclass(frozen=True)
class _Context:
    """The filtered images of one frame at one scale (heads bright)."""

    length: float
    g1: np.ndarray  # smoothed image
    dog: np.ndarray  # band-passed image
    dark: np.ndarray  # half-resolution blurred residual, for the dark-body test
    grid: np.ndarray  # coarse background
    cell: float  # background grid cell (px)
    sigma: float  # noise sigma of the raw image
    hess: tuple[np.ndarray, np.ndarray, np.ndarray]  # Hessian of g1, for the tail test
    line_sigma: float  # noise sigma of the Hessian

    @classmethod
    def build(cls, f: np.ndarray, length: float, *, tile: float | None = None) -> _Context:
        f2 = ft.half_resolution(f)
        block = max(4, int(round(max(16.0, 2.0 * (tile or length)) / 2)))
        grid = ft.background_grid(f2, block)
        bg_half = ft.upsample_grid(grid, block, f2.shape)
        h2, w2 = f2.shape
        sigma = ft.noise_sigma(f[0 : 2 * h2 : 2, 0 : 2 * w2 : 2] - bg_half)
        sigma = max(sigma, 1e-3 * max(1.0, float(np.abs(f).max())), 1e-6)
        g1 = ndi.gaussian_filter(f, max(0.8, _SMOOTH * length), truncate=3.0)
        g2 = ndi.gaussian_filter(f2, _BAND * length / 2, truncate=3.0)
        dog = g1 - _upsample2(g2, f.shape)
        dark = ndi.gaussian_filter(f2, _DARK_BLUR * length / 2, truncate=3.0) - bg_half
        hess = ft.hessian(g1)
        line_sigma = max(ft.noise_sigma(hess[0][::2, ::2]), 1e-6)
        return cls(length, g1, dog, dark, grid, 2.0 * block, sigma, hess, line_sigma)

    def bg_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return ft.sample_grid(self.grid, self.cell, x, y).astype(np.float32)

    def peaks(self) -> tuple[np.ndarray, np.ndarray]:
        """Candidate peaks (x, y), one per bright object."""
        y, x = ft.local_maxima(self.g1, self.dog > _CANDIDATE_SNR * self.sigma, 2)
        h, w = self.g1.shape
        edge = max(2, int(round(_EDGE * self.length)))
        ok = (x >= edge) & (y >= edge) & (x < w - edge) & (y < h - edge)
        x, y = x[ok], y[ok]
        if len(x) == 0:
            return x, y
        alive = ft.merge_connected_peaks(x, y, self.g1, self.bg_at(x, y), _MERGE * self.length, 0.6)
        return x[alive], y[alive]

    def measure(self, x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        """Evidence for each peak; see the module documentation."""
        if len(x) == 0:
            return pd.DataFrame({c: pd.Series([], dtype=float) for c in _FEATURES})
        L = self.length
        radius = max(3, int(round(_PATCH * L)))
        peak = self.g1[y, x] - self.bg_at(x, y)
        patches = ft.gather(self.g1, x, y, radius, fill=-np.inf) - self.bg_at(x, y)[:, None, None]
        half = ft.region_moments(patches, 0.5 * peak, 0.5 * L)
        quarter = ft.region_moments(patches, 0.25 * peak, 0.5 * L)
        band = ft.gather(self.dog, x, y, radius, fill=-np.inf)
        isolated = ~ft.region_moments(band, 0.5 * band[:, radius, radius], 0.5 * L).touches
        dark = ft.dark_depth(self.dark, x, y, _DARK_RADIUS * L, 2) / np.maximum(peak, 1e-6)
        tail = ft.tail_evidence(self.hess, x.astype(float), y.astype(float), _TAIL_R0 * L, _TAIL_R1 * L)
        return pd.DataFrame(
            {
                "x": x + half.cx,
                "y": y + half.cy,
                "peak_x": x,
                "peak_y": y,
                "w": np.maximum(quarter.box_w, 1.0),
                "h": np.maximum(quarter.box_h, 1.0),
                "contrast": peak / self.sigma,
                "length": half.length,
                "width": half.width,
                "isolated": isolated,
                "dark": dark,
                "tail": tail / self.line_sigma,
            }
        )


_FEATURES = ("x", "y", "peak_x", "peak_y", "w", "h", "contrast", "length", "width", "isolated", "dark", "tail")


def _upsample2(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bilinear 2x upsampling of a half-resolution image to ``shape``.

    Full-resolution pixel ``2i`` lies a quarter of a cell before half-resolution
    sample ``i`` and pixel ``2i + 1`` a quarter after it; edges are replicated.
    """

    def axis0(b: np.ndarray) -> np.ndarray:
        prev = np.concatenate([b[:1], b[:-1]], axis=0)
        nxt = np.concatenate([b[1:], b[-1:]], axis=0)
        out = np.empty((2 * b.shape[0],) + b.shape[1:], dtype=b.dtype)
        out[0::2] = 0.75 * b + 0.25 * prev
        out[1::2] = 0.75 * b + 0.25 * nxt
        return out

    up = axis0(axis0(a).T).T
    pad_y, pad_x = shape[0] - up.shape[0], shape[1] - up.shape[1]
    if pad_y or pad_x:
        up = np.pad(up, ((0, pad_y), (0, pad_x)), mode="edge")
    return np.ascontiguousarray(up)
