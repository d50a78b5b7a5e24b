"""Classical (training-free) sperm-head detector for phase-contrast and bright-field video.

The detector follows the band-pass, local-maximum and centroid scheme of Crocker &
Grier (1996) [1]_ and adds tests, each stated in units of the apparent head length
``L`` and of the image noise, that tell sperm heads from everything else.

1. **Polarity.** Phase contrast (VISEM [3]_) shows bright heads with a thin dark rim
   and a dark flagellum; bright field (SVIA [4]_) shows dark heads. The image is
   negated when heads are dark, so that heads are bright for the rest of the pipeline.
   ``"auto"`` compares the bright and the dark tails of the grey-level distribution.
2. **Background and noise.** The background is the median of tiles about two head
   lengths wide (sampled on a lattice of stride 3, which JPEG/MPEG 8-px blocks do not
   bias), interpolated bilinearly; the noise sigma is 1.4826 times the median absolute
   deviation of the raw image about it. Every contrast is in noise sigmas.
3. **Scale.** ``L`` (px) is measured on the image as the median half-maximum length
   of the (at most 30) strongest blobs of at least ``min_contrast`` that do not run
   into a neighbour, searched within
   ``head_length_um / um_per_px`` divided and multiplied by ``scale_tolerance``. The
   calibration's µm/px may be wrong (VISEM does not publish it), so by default it only
   bounds the search; :attr:`ClassicalDetector.implied_um_per_px` reports the pixel
   size the measured head implies. Every length below is a fixed fraction of ``L``.
4. **Candidates.** Local maxima (5x5) of the image smoothed with sigma 0.16 L, where a
   difference of Gaussians (0.16 L and 0.53 L) exceeds 4 noise sigmas, away from the
   outermost row and column. Two maxima within 1.3 L belong to one object, and the
   fainter is dropped, when the ridge joining them never falls below 60 % of the
   fainter peak or when the fainter rises less than 8 noise sigmas above that ridge
   (topographic prominence); two touching heads each rise well above their saddle.
5. **Evidence.** For each candidate (vectorised over patches of radius 1.3 L):

   * *contrast*: the peak above background, in noise sigmas; soft threshold
     ``min_contrast`` (default 10);
   * *isolation*: the band-passed blob at half its peak stays within 1.3 L of the
     peak. The bright rings of round cells, phase halos, clusters and streaks continue
     beyond it;
   * *size and shape*: the half-maximum region is at most 1.2 L wide and 2.3 L long
     (a head is about 1.5 times longer than wide; WHO 2021 [2]_);
   * *no dark body*: after a blur (sigma 0.32 L) that erases the flagellum and the
     thin dark rim of a head, nothing within L of the peak lies more than half the
     peak height below background. The bright phase halo beside dark debris, dead
     cells and air bubbles fails this test;
   * *flagellum*: the best of 48 radial rays from 0.75 L to 2.1 L carries a thin dark
     line (Hessian second derivative across the ray, minus the absolute one along it,
     counted where the smoothed image lies below background plus a tenth of the head's
     contrast, as the phase halo lifts the grey level next to a head), at least 2.5
     noise sigmas of the Hessian on average. Motile and immotile sperm have one;
     round cells, specks, debris and beads do not, and rings or halos centred on the
     candidate cross the rays instead of running along them.

6. **Score.** The product of one logistic membership per test, so that the score is in
   0-1 and a candidate must pass all tests (a soft AND). Detections scoring at least
   ``min_score`` (default 0.5) are returned.
7. **Position and box.** The centre is the grey-level-weighted centroid of the
   half-maximum region within 0.5 L of the peak (sub-pixel). The box is the 4-sigma
   extent (second moments) of the head's footprint, the connected region where the
   image departs from background by more than 15 % of the peak either way (the bright
   body and its dark phase rim), clipped to the image.

The fractions of ``L`` and the thresholds were set by reasoning and by inspecting
images of VISEM-Tracking video 11, frames 0-499 (no classifier was fitted). On that
video the measured head length is about 9 px, which implies about 0.49 µm/px for a
4.5 µm head, twice the optical value of the ``visem`` preset (0.2475 µm/px).

Known limitations: heads seen slightly out of focus, as a dark oval with a small
bright centre, fail the contrast and dark-body tests; bright heads whose flagellum is
invisible fail the flagellum test (set ``use_tail=False`` where flagella are never
visible, e.g. low-contrast bright field, at the price of accepting round cells and
specks of head size); two heads that touch along a bright ridge are merged; a bright
spot on the rim of a round cell that happens to lie next to a dark line can pass;
clusters are not labelled (every detection has ``cls`` 0).

References
----------
.. [1] Crocker J.C., Grier D.G. (1996). Methods of digital video microscopy for
   colloidal studies. J. Colloid Interface Sci. 179, 298-310.
.. [2] World Health Organization (2021). WHO laboratory manual for the examination and
   processing of human semen, 6th ed. Geneva: WHO (sperm head 4.0-5.0 µm long,
   2.5-3.5 µm wide).
.. [3] Thambawita V. et al. (2023). VISEM-Tracking, a human spermatozoa tracking
   dataset. Sci. Data 10, 260.
.. [4] Chen A. et al. (2022). SVIA dataset: a new dataset of microscopic videos and
   images for computer-aided sperm analysis. Biocybern. Biomed. Eng. 42, 204-214.

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
from dataclasses import KW_ONLY, dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from spermlab.calibration import Calibration
from spermlab.detect import _features as ft
from spermlab.io.source import Frame
from spermlab.tables import DETECTIONS, empty

__all__ = ["ClassicalDetector", "detect_source", "estimate_polarity"]

log = logging.getLogger(__name__)

Polarity = Literal["auto", "bright", "dark"]

# Lengths as fractions of the apparent head length L (px).
_SMOOTH = 0.16  # noise smoothing sigma (about 1.5 px for L = 9)
_BAND = 0.53  # band-pass background sigma (about the head's half width)
_PATCH = 1.3  # neighbourhood radius in which a head must be isolated
_MERGE = 1.3  # peaks closer than this may belong to one object
_DARK_BLUR = 0.32  # blur that erases tails and rims before the dark-body test
_DARK_RADIUS = 1.0  # dark bodies within this distance spoil a candidate
_TAIL_R0, _TAIL_R1 = 0.75, 2.1  # annulus searched for the flagellum
_TAIL_CEILING = 0.1  # a flagellum lies below background + this x the head's contrast
_MAX_WIDTH, _MAX_LENGTH = 1.2, 2.3  # half-maximum extent of a head
_FOOTPRINT = 0.15  # the box spans where |image - background| exceeds this x peak
_EDGE = 1  # px: a maximum on the outermost row or column lies outside the image
_PROMINENCE = 8.0  # noise sigmas: a separate object rises at least this far above the saddle
_SADDLE = 0.6  # peaks joined by a ridge above this fraction of the lower one merge

# Thresholds in noise sigmas (or ratios), and the widths of the soft memberships.
_CANDIDATE_SNR = 4.0
_DARK_LIMIT, _DARK_WIDTH = 0.5, 0.07
_TAIL_LIMIT, _TAIL_WIDTH = 2.5, 1.5
_CROWDED = 0.3  # isolation membership of a blob that continues beyond 1.3 L
_SCALE_SAMPLE = 30  # strongest blobs used to measure the apparent head length
_SCALE_MIN = 5  # fewer measurable blobs than this: use the lower end of the range

#: Columns of :meth:`ClassicalDetector.candidates`.
CANDIDATE_COLUMNS = (
    "x", "y", "w", "h", "peak_x", "peak_y", "contrast", "length", "width",
    "isolated", "dark", "tail", "score",
)


@dataclass(frozen=True)
class ClassicalDetector:
    """Training-free sperm-head detector: band-pass, local maxima, evidence score.

    The method, and the evidence that rejects round cells, debris, beads, specks and
    out-of-focus blobs, are described in :mod:`spermlab.detect.classical`.

    Parameters
    ----------
    calibration : Calibration
        Gives the µm/px; with ``scale="auto"`` it only bounds the measured head size.
    polarity : {"auto", "bright", "dark"}
        Whether heads are brighter (phase contrast) or darker (bright field) than the
        background; ``"auto"`` decides per image with :func:`estimate_polarity`.
    head_length_um : float
        Physical head length (WHO 2021: 4.0-5.0 µm).
    scale : {"auto", "calibration"}
        ``"auto"`` measures the apparent head length on each image within
        :attr:`scale_range_px`; ``"calibration"`` uses ``head_length_um / um_per_px``.
    scale_tolerance : float
        Factor (>= 1) by which the apparent head length may differ from
        ``head_length_um / um_per_px``.
    head_length_px : float, optional
        Apparent head length in px; when given, no scale is measured. See
        :meth:`adapted_to`.
    min_contrast : float
        Peak height above background (noise sigmas) at which the contrast membership
        is one half.
    min_score : float
        Detections scoring below this (0-1) are not returned.
    use_tail : bool
        Require a flagellum. Turn it off where flagella are invisible (low-contrast
        bright field): the score then rests on contrast, isolation, size and the
        dark-body test only, and round cells or specks of head size pass.

    Examples
    --------
    >>> import numpy as np
    >>> from spermlab.calibration import preset
    >>> det = ClassicalDetector(preset("visem"))
    >>> det.scale_range_px  # doctest: +ELLIPSIS
    (7.27..., 45.45...)
    >>> round(det.adapted_to(np.full((64, 64), 90.0)).head_length_px, 2)  # nothing to measure
    7.27
    """

    calibration: Calibration
    _: KW_ONLY
    polarity: Polarity = "auto"
    head_length_um: float = 4.5
    scale: Literal["auto", "calibration"] = "auto"
    scale_tolerance: float = 2.5
    head_length_px: float | None = None
    min_contrast: float = 10.0
    min_score: float = 0.5
    use_tail: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.calibration, Calibration):
            raise TypeError(
                "ClassicalDetector: calibration must be a spermlab Calibration, got "
                f"{type(self.calibration).__name__}"
            )
        if self.polarity not in ("auto", "bright", "dark"):
            raise ValueError(
                "ClassicalDetector: polarity must be 'auto', 'bright' or 'dark', "
                f"got {self.polarity!r}"
            )
        if self.scale not in ("auto", "calibration"):
            raise ValueError(
                f"ClassicalDetector: scale must be 'auto' or 'calibration', got {self.scale!r}"
            )
        for name in ("head_length_um", "min_contrast"):
            value = getattr(self, name)
            if not (_is_real(value) and np.isfinite(value) and value > 0):
                raise ValueError(
                    f"ClassicalDetector: {name} must be a positive number, got {value!r}"
                )
        if not (np.isfinite(self.scale_tolerance) and self.scale_tolerance >= 1):
            raise ValueError(
                f"ClassicalDetector: scale_tolerance must be >= 1, got {self.scale_tolerance!r}"
            )
        length = self.head_length_px
        if length is not None and not (np.isfinite(length) and 2 <= length <= 500):
            raise ValueError(
                f"ClassicalDetector: head_length_px must be in [2, 500] px, got {length!r}"
            )
        if not (0 <= self.min_score <= 1):
            raise ValueError(
                f"ClassicalDetector: min_score must be in [0, 1], got {self.min_score!r}"
            )

    @property
    def scale_range_px(self) -> tuple[float, float]:
        """Smallest and largest apparent head length (px) that ``scale="auto"`` accepts."""
        nominal = self.head_length_um / self.calibration.um_per_px
        return nominal / self.scale_tolerance, nominal * self.scale_tolerance

    @property
    def implied_um_per_px(self) -> float | None:
        """``head_length_um / head_length_px`` when ``head_length_px`` is set, else None.

        A measured head length implies a pixel size; compare it with the calibration's.
        """
        if self.head_length_px is None:
            return None
        return self.head_length_um / self.head_length_px

    def head_length_for(self, image: np.ndarray) -> float:
        """The apparent head length (px) used for ``image``.

        ``head_length_px`` when set; ``head_length_um / um_per_px`` with
        ``scale="calibration"``; otherwise measured on the image: the median
        half-maximum length of the (at most 30) strongest blobs of at least
        ``min_contrast`` that do not run into a neighbour, clipped to
        :attr:`scale_range_px`; its lower end when fewer than 5 blobs qualify.
        """
        return self._length_for(self._prepared(image)[0])

    def adapted_to(self, image: np.ndarray) -> ClassicalDetector:
        """A copy with the polarity and head length measured once on ``image``.

        Use it to fix both for a whole video (as :func:`detect_source` does): it is
        faster, and every frame is then analysed at the same scale.
        """
        f, polarity = self._prepared(image)
        return replace(self, polarity=polarity, head_length_px=self._length_for(f))

    def detect(self, image: np.ndarray, frame: int = 0) -> pd.DataFrame:
        """Detect sperm heads in one grey frame.

        Parameters
        ----------
        image : ndarray, shape (height, width)
            Grey levels, any real dtype; not modified.
        frame : int
            Frame index written to the ``frame`` column.

        Returns
        -------
        DataFrame
            A validated Detections table (:data:`spermlab.tables.DETECTIONS`): box
            centre ``x`` ``y`` and size ``w`` ``h`` in px, ``cls`` 0 (sperm) and
            ``score`` in 0-1, by decreasing score; empty, with its schema, when
            nothing is found.
        """
        feats, _ = self._evaluate(image)
        keep = np.flatnonzero(feats["score"] >= self.min_score)
        if len(keep) == 0:
            return empty(DETECTIONS)
        keep = keep[np.argsort(-feats["score"][keep], kind="stable")]
        shape = np.shape(image)
        x0, x1 = _clip_box(feats["x"][keep], feats["w"][keep], shape[1])
        y0, y1 = _clip_box(feats["y"][keep], feats["h"][keep], shape[0])
        return _detections_table(
            frame,
            0.5 * (x0 + x1),
            0.5 * (y0 + y1),
            x1 - x0,
            y1 - y0,
            feats["score"][keep],
        )

    def candidates(self, image: np.ndarray) -> pd.DataFrame:
        """Every candidate with its evidence and score, for inspection.

        Columns (:data:`CANDIDATE_COLUMNS`): centroid ``x`` ``y`` and box ``w`` ``h``
        (px, not clipped), integer peak ``peak_x`` ``peak_y``, ``contrast`` (noise
        sigmas), half-maximum ``length`` and ``width`` (px), ``isolated`` (bool),
        ``dark`` (darkest blurred value near the peak over the peak height; negative
        is darker than background), ``tail`` (flagellum line strength, Hessian noise
        sigmas) and ``score``; sorted by decreasing score. ``attrs["head_length_px"]``
        and ``attrs["polarity"]`` hold the scale and polarity used.
        """
        feats, (length, polarity) = self._evaluate(image)
        table = pd.DataFrame({c: feats[c] for c in CANDIDATE_COLUMNS})
        table = table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
        table.attrs.update(head_length_px=length, polarity=polarity)
        return table

    def _evaluate(self, image: np.ndarray) -> tuple[dict[str, np.ndarray], tuple[float, str]]:
        f, polarity = self._prepared(image)
        length = self._length_for(f)
        ctx = _Context.build(f, length)
        x, y = ctx.peaks()
        feats = ctx.measure(x, y)
        feats["score"] = _score(feats, length, self.min_contrast, use_tail=self.use_tail)
        # array index -> image coordinates: pixel (r, c) covers [c, c+1) x [r, r+1), so its
        # centre is at (c + 0.5, r + 0.5), the convention of YOLO / VISEM-Tracking labels
        feats["x"] = feats["x"] + 0.5
        feats["y"] = feats["y"] + 0.5
        return feats, (length, polarity)

    def _prepared(self, image: np.ndarray) -> tuple[np.ndarray, str]:
        """The image as float32 with heads bright, and the polarity used."""
        f = _as_float_image(image)
        polarity = self.polarity if self.polarity != "auto" else estimate_polarity(f)
        return (f if polarity == "bright" else -f), polarity

    def _length_for(self, f: np.ndarray) -> float:
        if self.head_length_px is not None:
            return float(self.head_length_px)
        if self.scale == "calibration":
            return self.head_length_um / self.calibration.um_per_px
        lo, hi = self.scale_range_px
        ctx = _Context.build(f, lo, tile=hi)
        x, y = ctx.peaks()
        contrast = (ctx.g1[y, x] - ctx.bg_at(x, y)) / ctx.sigma
        strong = np.flatnonzero(contrast >= self.min_contrast)
        if len(strong) < _SCALE_MIN:
            return lo
        top = strong[np.argsort(-contrast[strong], kind="stable")[:_SCALE_SAMPLE]]
        x, y = x[top], y[top]
        radius = int(np.ceil(0.75 * hi))
        patches = ft.gather(ctx.g1, x, y, radius, fill=-np.inf) - ctx.bg_at(x, y)[:, None, None]
        reg = ft.region_moments(patches, 0.5 * patches[:, radius, radius], 0.5 * lo)
        ok = ~reg.touches
        if ok.sum() < _SCALE_MIN:
            return lo
        return float(np.clip(np.median(reg.length[ok]), lo, hi))


def estimate_polarity(image: np.ndarray) -> Literal["bright", "dark"]:
    """Whether the objects of a grey image are brighter or darker than its background.

    Compares how far the 99.9th and the 0.1th percentiles of the half-resolution image
    lie from its median: phase-contrast sperm heads are bright (a long bright tail of
    the distribution), bright-field heads are dark. Ties go to ``"bright"``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((64, 64), 100.0)
    >>> img[30:34, 30:34] = 20.0
    >>> estimate_polarity(img)
    'dark'
    """
    f2 = ft.half_resolution(_as_float_image(image))
    lo, med, hi = np.percentile(f2, [0.1, 50.0, 99.9])
    return "bright" if hi - med >= med - lo else "dark"


def detect_source(
    source: Iterable[Frame], detector: ClassicalDetector, *, adapt: bool = True
) -> Iterator[pd.DataFrame]:
    """Stream a frame source through a detector, one Detections table per frame.

    Parameters
    ----------
    source : FrameSource or iterable of Frame
        Frames (anything with ``.index`` and ``.image``), read one at a time, so
        memory stays flat with the video's length.
    detector : ClassicalDetector
        The detector.
    adapt : bool
        Fix the polarity and the head length on the first frame
        (:meth:`ClassicalDetector.adapted_to`) and keep them for the whole source.

    Yields
    ------
    DataFrame
        The Detections of each frame, its ``frame`` column the frame's index.
    """
    current = detector
    for k, item in enumerate(source):
        image, index = getattr(item, "image", None), getattr(item, "index", None)
        if image is None or index is None:
            raise TypeError(
                f"detect_source: item {k} is a {type(item).__name__}, expected a Frame "
                "(an object with .index and .image)"
            )
        if adapt and k == 0:
            current = detector.adapted_to(image)
            log.info(
                "classical detector: polarity %s, head length %.2f px (from frame %d)",
                current.polarity, current.head_length_px, index,
            )
        yield current.detect(image, frame=int(index))


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


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
        raise ValueError(f"detect: expected an image of at least 8x8 px, got shape {arr.shape}")
    f = arr.astype(np.float32, copy=True)
    if not np.isfinite(f).all():
        raise ValueError("detect: the image holds NaN or infinite values")
    return f


def _detections_table(
    frame: int, x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray, score: np.ndarray
) -> pd.DataFrame:
    """A Detections table built with the schema's exact columns and dtypes.

    It satisfies :func:`spermlab.tables.validate` by construction (all values finite,
    ``RangeIndex``), without paying for the generic check on every frame.
    """
    n = len(x)
    columns = {
        "frame": np.full(n, int(frame), dtype=np.int64),
        "x": np.asarray(x, dtype=np.float64),
        "y": np.asarray(y, dtype=np.float64),
        "w": np.asarray(w, dtype=np.float64),
        "h": np.asarray(h, dtype=np.float64),
        "cls": np.zeros(n, dtype=np.int64),
        "score": np.clip(np.asarray(score, dtype=np.float64), 0.0, 1.0),
    }
    return pd.DataFrame({c: columns[c] for c in DETECTIONS})


def _clip_box(centre: np.ndarray, size: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    lo = np.clip(centre - 0.5 * size, 0.0, limit)
    hi = np.clip(centre + 0.5 * size, 0.0, limit)
    return lo, np.maximum(hi, lo + 1e-3)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.clip(z, -60.0, 60.0)))


def _score(
    feats: dict[str, np.ndarray], length: float, min_contrast: float, *, use_tail: bool = True
) -> np.ndarray:
    """Product of soft memberships, one per piece of evidence (see module docs)."""
    m_contrast = _sigmoid((feats["contrast"] - min_contrast) / 2.0)
    m_isolated = np.where(feats["isolated"], 1.0, _CROWDED)
    m_width = _sigmoid((_MAX_WIDTH * length - feats["width"]) / (0.1 * length))
    m_length = _sigmoid((_MAX_LENGTH * length - feats["length"]) / (0.16 * length))
    m_dark = _sigmoid((feats["dark"] + _DARK_LIMIT) / _DARK_WIDTH)
    m_tail = _sigmoid((feats["tail"] - _TAIL_LIMIT) / _TAIL_WIDTH) if use_tail else 1.0
    return m_contrast * m_isolated * m_width * m_length * m_dark * m_tail


@dataclass(frozen=True)
class _Context:
    """The filtered images of one frame at one scale (heads bright)."""

    length: float
    g1: np.ndarray  # smoothed image
    dog: np.ndarray  # band-passed image
    blurred: np.ndarray  # half-resolution blur for the dark-body test
    grid: np.ndarray  # background tiles
    cell: float  # tile size (px)
    sigma: float  # noise sigma of the raw image
    hess: tuple[np.ndarray, np.ndarray, np.ndarray]  # Hessian of g1, for the tail test
    line_sigma: float  # noise sigma of the Hessian

    @classmethod
    def build(cls, f: np.ndarray, length: float, *, tile: float | None = None) -> _Context:
        grid, cell = ft.background_grid(f, max(16.0, 2.0 * (tile or length)))
        # Noise on a lattice of stride 5, which is not aligned with JPEG/MPEG blocks.
        ys, xs = np.arange(2, f.shape[0], 5), np.arange(2, f.shape[1], 5)
        q = f[2::5, 2::5]
        sigma = ft.noise_sigma(q - ft.grid_on_lattice(grid, cell, ys, xs))
        sigma = max(sigma, 1e-3 * max(1.0, float(np.abs(q).max())))
        f2 = ft.half_resolution(f)
        g1 = ndi.gaussian_filter(f, max(0.8, _SMOOTH * length), truncate=3.0)
        g2 = ndi.gaussian_filter(f2, _BAND * length / 2, truncate=3.0)
        dog = g1 - ft.upsample2(g2, f.shape)
        blurred = ndi.gaussian_filter(f2, _DARK_BLUR * length / 2, truncate=3.0)
        hess = ft.hessian(g1)
        line_sigma = max(ft.noise_sigma(hess[0][::5, ::5]), 1e-6)
        return cls(length, g1, dog, blurred, grid, float(cell), sigma, hess, line_sigma)

    def bg_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return ft.sample_grid(self.grid, self.cell, x, y).astype(np.float32)

    def peaks(self) -> tuple[np.ndarray, np.ndarray]:
        """Candidate peaks (x, y), one per bright object."""
        y, x = ft.local_maxima(self.g1, self.dog > _CANDIDATE_SNR * self.sigma, 2)
        h, w = self.g1.shape
        ok = (x >= _EDGE) & (y >= _EDGE) & (x < w - _EDGE) & (y < h - _EDGE)
        x, y = x[ok], y[ok]
        if len(x) < 2:
            return x, y
        alive = ft.merge_connected_peaks(
            x, y, self.g1, self.bg_at(x, y), _MERGE * self.length, _SADDLE,
            _PROMINENCE * self.sigma,
        )
        return x[alive], y[alive]

    def measure(self, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Evidence for each peak; see the module documentation."""
        if len(x) == 0:
            feats = {c: np.zeros(0) for c in CANDIDATE_COLUMNS if c != "score"}
            feats.update(peak_x=x, peak_y=y, isolated=np.zeros(0, dtype=bool))
            return feats
        L = self.length
        radius = max(3, int(round(_PATCH * L)))
        bg = self.bg_at(x, y)
        peak = np.maximum(self.g1[y, x] - bg, 1e-6)
        patches = ft.gather(self.g1, x, y, radius, fill=-np.inf) - bg[:, None, None]
        half = ft.region_moments(patches, 0.5 * peak, 0.5 * L)
        # The head's footprint: its bright body and its dark phase rim.
        magnitude = np.where(np.isneginf(patches), -np.inf, np.abs(patches))
        footprint = ft.region_moments(magnitude, _FOOTPRINT * peak, 0.5 * L)
        band = ft.gather(self.dog, x, y, radius, fill=-np.inf)
        isolated = ~ft.region_moments(band, 0.5 * band[:, radius, radius], 0.5 * L).touches
        dark = ft.dark_depth(self.blurred, x, y, bg, _DARK_RADIUS * L) / peak
        tail = ft.tail_evidence(
            self.g1, self.hess, x.astype(float), y.astype(float), bg + _TAIL_CEILING * peak,
            _TAIL_R0 * L, _TAIL_R1 * L,
        )
        return {
            "x": x + half.cx,
            "y": y + half.cy,
            "w": np.maximum(footprint.box_w, 1.0),
            "h": np.maximum(footprint.box_h, 1.0),
            "peak_x": x,
            "peak_y": y,
            "contrast": peak / self.sigma,
            "length": half.length,
            "width": half.width,
            "isolated": isolated,
            "dark": dark,
            "tail": tail / self.line_sigma,
        }
