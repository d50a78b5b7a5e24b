"""Frame normalisation shared by training and inference of spermlab's learned detector.

Both must see the same numbers, so this one function is used by both. A grey frame is
turned into "noise units about the background": ``(image - median) / spread``, where the
median and the spread (1.4826 × median absolute deviation, at least one grey level) are
taken over every fourth pixel in each direction (a 16-fold subsample; enough for a stable
median of a 640x480 frame and ~10x cheaper than the full one). This removes the overall
brightness and contrast of a microscope and camera, which differ between labs, so the
network sees the local pattern of heads, tails and debris, not the exposure. Polarity is
made canonical by ``invert``: the network sees heads bright (phase contrast as recorded,
bright field negated). A network that had to accept both polarities at once would take
dark specks of phase-contrast debris for bright-field heads: locally they look alike.

Sizes are padded on the right and bottom to a multiple of :data:`MULTIPLE` (the
network's total stride) with the background value 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MULTIPLE", "normalise", "pad_to_multiple", "to_grey"]

MULTIPLE = 8  # total stride of the network: input sides must be multiples of it
_SUB = 4  # subsample step for the median and MAD


def to_grey(image: np.ndarray) -> np.ndarray:
    """A grey ``(H, W)`` view or copy of a grey or RGB(A) image (ITU-R BT.601 luma for colour)."""
    im = np.asarray(image)
    if im.ndim == 2:
        return im
    if im.ndim == 3 and im.shape[2] in (3, 4):
        rgb = im[:, :, :3].astype(np.float32)
        return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    raise ValueError(f"expected a grey (H, W) or colour (H, W, 3|4) image, got shape {im.shape}")


def normalise(image: np.ndarray, *, invert: bool = False) -> np.ndarray:
    """``(image - median) / spread`` as float32, the learned detector's input units.

    Parameters
    ----------
    image : ndarray
        Grey ``(H, W)`` (any real dtype) or colour ``(H, W, 3)``.
    invert : bool
        Negate the result: the image's negative about its median, so that dark heads
        (bright field) become bright heads, the polarity SpermNet is trained on.

    Returns
    -------
    ndarray of float32, shape (H, W)
        Grey levels relative to the frame's median, in units of its robust spread
        (1.4826 × MAD, the normal-consistent estimator; at least 1 grey level).
    """
    im = to_grey(image)
    sub = np.asarray(im[::_SUB, ::_SUB], dtype=np.float32)
    med = float(np.median(sub))
    spread = max(1.4826 * float(np.median(np.abs(sub - med))), 1.0)
    out = np.asarray(im, dtype=np.float32) - med
    out *= (-1.0 if invert else 1.0) / spread
    return out


def pad_to_multiple(x: np.ndarray, multiple: int = MULTIPLE) -> np.ndarray:
    """Pad the last two axes on the bottom/right with zeros to multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    pad = [(0, 0)] * (x.ndim - 2) + [(0, ph), (0, pw)]
    return np.pad(x, pad)
