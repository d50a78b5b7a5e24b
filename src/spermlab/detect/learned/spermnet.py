"""SpermNet: spermlab's default detector, a small learned centre-heatmap network run by
onnxruntime (core install; no torch at inference).

The network (:mod:`spermlab.detect.learned.net`, trained by
:mod:`spermlab.detect.learned.train_spermnet`) maps a normalised grey frame
(:func:`spermlab.detect.learned.preprocess.normalise`) to five maps at 1/4 resolution,
following CenterNet (Zhou, Wang & Krähenbühl 2019, "Objects as points", arXiv:1904.07850):

* ``heat``: probability that a head centre falls in the cell;
* ``dx, dy``: where in the cell (0-1) the centre lies, so positions are sub-pixel;
* ``log w, log h``: the box size, ``w = 16 px · exp(log w)``.

SpermNet sees heads bright (phase contrast as recorded; bright field negated). With
``polarity="auto"`` the detector decides which reading of a frame is right by running the
network on the frame and on its negative and keeping the reading with more evidence of
heads (the larger sum of peak heat above the threshold): the model itself, not a grey-level
rule, tells phase contrast from bright field. In a video this is decided once, on the first
frame (:meth:`SpermNetDetector.adapted_to`), and recorded in the results.

A detection is a cell whose ``heat`` is the maximum of its 3x3 neighbourhood and at least
the threshold. Two touching heads are two peaks two or more cells (8 px) apart, so they
come out as two detections; no hand-set shape rule is involved. The threshold is learned
with the weights (best F1 on the training frames) and stored in the model file's metadata;
``threshold=`` overrides it.

One ``.onnx`` file is the whole model: graph, weights and metadata (``spermlab_threshold``,
``spermlab_stride``, ``spermlab_input``, ``spermlab_training``). The shipped one and its card
are in ``weights/`` beside this module.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from spermlab.calibration import Calibration
from spermlab.detect.learned.preprocess import normalise, pad_to_multiple
from spermlab.detect.learned.runtime import onnx_session, sha256_file
from spermlab.detect.learned.shipped import shipped_file
from spermlab.tables import DETECTIONS, empty

__all__ = ["INPUT_VERSION", "SIZE_UNIT", "SpermNetDetector", "decode", "peaks", "read_metadata",
           "shipped_model"]  # fmt: skip

SHIPPED = "spermnet.onnx"
INPUT_VERSION = "median-mad-v1"  # what preprocess.normalise computes
SIZE_UNIT = 16.0  # px: box side = SIZE_UNIT * exp(log size)


def shipped_model() -> Path:
    """Path of the SpermNet model shipped with spermlab (card: ``weights/SPERMNET_CARD.md``)."""
    return shipped_file(SHIPPED, "--detector-model FILE.onnx")


def read_metadata(model: str | PathLike[str]) -> dict[str, str]:
    """The ``spermlab_*`` metadata of a SpermNet ``.onnx`` file."""
    return dict(onnx_session(model).get_modelmeta().custom_metadata_map)


def peaks(heat: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean mask of the cells whose heat is at least ``threshold`` and the maximum of
    their 3x3 neighbourhood (CenterNet's peak rule)."""
    return (heat >= threshold) & (heat == ndi.maximum_filter(heat, size=3, mode="constant"))


def decode(maps: np.ndarray, threshold: float, *, stride: int = 4, frame: int = 0,
           height: int | None = None, width: int | None = None) -> pd.DataFrame:  # fmt: skip
    """Turn the five output maps of one frame into a Detections table.

    Parameters
    ----------
    maps : ndarray, shape (5, h, w)
        ``heat`` (0-1), ``dx``, ``dy`` (0-1, position in the cell), ``log w``, ``log h``.
    threshold : float
        Minimum ``heat`` of a peak.
    stride : int
        Pixels per cell.
    frame : int
        Frame number written in the table.
    height, width : int, optional
        Image size; detections whose centre falls outside it (in the padding) are dropped
        and boxes are clipped to it.

    Returns
    -------
    DataFrame
        Detections (``cls`` 0, ``score`` = peak heat), in row-major peak order.
    """
    heat = maps[0]
    ii, jj = np.nonzero(peaks(heat, threshold))
    if len(ii) == 0:
        return empty(DETECTIONS)
    x = (jj + maps[1, ii, jj].astype(np.float64)) * stride
    y = (ii + maps[2, ii, jj].astype(np.float64)) * stride
    w = SIZE_UNIT * np.exp(np.clip(maps[3, ii, jj].astype(np.float64), -4, 4))
    h = SIZE_UNIT * np.exp(np.clip(maps[4, ii, jj].astype(np.float64), -4, 4))
    keep = np.ones(len(x), dtype=bool)
    if width is not None:
        keep &= x < width
    if height is not None:
        keep &= y < height
    x, y, w, h = x[keep], y[keep], w[keep], h[keep]
    score = heat[ii, jj][keep].astype(np.float64)
    if width is not None and height is not None:  # clip the box to the image, keep its centre
        w = np.minimum(w, 2 * np.minimum(x, width - x))
        h = np.minimum(h, 2 * np.minimum(y, height - y))
    n = len(x)
    return pd.DataFrame({"frame": np.full(n, int(frame), dtype=np.int64), "x": x, "y": y,
                         "w": w, "h": h, "cls": np.zeros(n, dtype=np.int64),
                         "score": score})  # fmt: skip


@dataclass
class SpermNetDetector:
    """A SpermNet ``.onnx`` model as a spermlab detector (``detect(image, frame)``).

    Parameters
    ----------
    calibration : Calibration
        Recorded with the results (the network works in pixels).
    model : path, optional
        A SpermNet ``.onnx`` file (``spermlab train detector``); default the shipped one.
    threshold : float, optional
        Minimum peak heat; default the learned value in the model's metadata.
    polarity : {"auto", "bright", "dark"}
        Heads brighter (phase contrast) or darker (bright field) than the background;
        ``"auto"`` lets the model decide (per frame, or once per video through
        :meth:`adapted_to`).
    threads : int, optional
        onnxruntime intra-op threads; default onnxruntime's (one per physical core).
    batch_size : int
        Frames per forward pass when the pipeline streams a video (same-size frames).
    """

    calibration: Calibration
    model: str | PathLike[str] | None = None
    threshold: float | None = None
    polarity: str = "auto"
    threads: int | None = None
    batch_size: int = 1
    verify: bool = True
    _session: Any = field(default=None, repr=False, compare=False)
    _verifier: Any = field(default=None, repr=False, compare=False)
    _meta: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _polarity_source: str = field(default="", repr=False, compare=False)
    _polarity_evidence: dict[str, float] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.model is None:
            self.model = shipped_model()
        path = Path(self.model)
        if not path.is_file():
            raise FileNotFoundError(f"detector model not found: {path} (pass --detector-model "
                                    "FILE.onnx, made by 'spermlab train detector')")  # fmt: skip
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.polarity not in ("auto", "bright", "dark"):
            raise ValueError(f"polarity must be 'auto', 'bright' or 'dark', got {self.polarity!r}")
        self._session = onnx_session(path, threads=self.threads)
        self._meta = dict(self._session.get_modelmeta().custom_metadata_map)
        version = self._meta.get("spermlab_input")
        if version != INPUT_VERSION:
            raise ValueError(f"{path}: not a SpermNet model for this spermlab (metadata "
                             f"spermlab_input={version!r}, expected {INPUT_VERSION!r})")  # fmt: skip
        if self.threshold is None:
            self.threshold = float(self._meta["spermlab_threshold"])
        if self.verify and self._verifier is None and "spermlab_verifier" in self._meta:
            from spermlab.detect.learned.verifier import Verifier

            self._verifier = Verifier.from_text(self._meta["spermlab_verifier"])
        if not self._polarity_source:
            self._polarity_source = "auto: chosen per frame" if self.polarity == "auto" else "user"
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")

    @property
    def stride(self) -> int:
        """Pixels per output cell."""
        return int(self._meta.get("spermlab_stride", 4))

    @property
    def training(self) -> dict[str, Any]:
        """What the model was trained on (from its metadata)."""
        return json.loads(self._meta.get("spermlab_training", "{}"))

    @property
    def params(self) -> dict[str, Any]:
        """JSON-ready parameters (recorded in summary.json)."""
        path = Path(self.model)
        out = {"model": str(path), "model_sha256": sha256_file(path),
               "threshold": self.threshold, "stride": self.stride, "polarity": self.polarity,
               "polarity_source": self._polarity_source}  # fmt: skip
        if self._polarity_evidence is not None:  # how clear the automatic choice was
            out["polarity_evidence"] = dict(self._polarity_evidence)
        if self._verifier is not None:
            from spermlab.detect.learned.verifier import CANDIDATE_THRESHOLD

            out["verifier"] = {"candidate_threshold": CANDIDATE_THRESHOLD,
                               "keep_threshold": self._verifier.keep_threshold}  # fmt: skip
        return out

    def heatmaps(self, images: list[np.ndarray], *, invert: bool | list[bool] = False) -> np.ndarray:
        """The network's output maps, shape (N, 5, H/stride, W/stride), for same-size images;
        ``invert``: negate the image(s) first (dark-head polarity)."""
        return self._forward(images, invert)[0]

    def _forward(self, images: list[np.ndarray], invert: bool | list[bool]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The maps and the normalised inputs (the verifier reads its patches from those)."""
        flags = invert if isinstance(invert, list) else [invert] * len(images)
        inputs = [normalise(im, invert=f) for im, f in zip(images, flags, strict=True)]
        (out,) = self._session.run(None, {"image": np.stack([pad_to_multiple(x) for x in inputs])[:, None]})
        return out, inputs

    def choose_polarity(self, image: np.ndarray) -> str:
        """``"bright"`` or ``"dark"``: whether the image's brightest pixels lie further from its
        median than its darkest (:func:`spermlab.detect.classical.estimate_polarity`: phase
        contrast makes heads the brightest things in view, bright field the darkest).

        The model's own evidence (:meth:`evidence`, each reading) is not the judge: read
        inverted, a sparse phase-contrast field's dark particles and halo rims look like
        bright-field heads to it, and it chose the inverted reading on 4 of 60 simulated first
        frames where the intensity tails chose none wrongly (nor any of 19 real frames of
        VISEM-Tracking, SVIA and two bright-field clips; ``benchmarks/polarity.py``,
        BENCHMARKS.md §9). The evidence is recorded with the
        choice, and the verdict cautions when it disagrees.
        """
        from spermlab.detect.classical import estimate_polarity

        return estimate_polarity(image)

    def evidence(self, maps: np.ndarray, image: np.ndarray) -> float:
        """How many heads one reading of a frame shows: with a verifier, the sum of its
        probabilities over the candidates it keeps; without one, the summed heat of the peaks
        above the threshold.

        Parameters
        ----------
        maps : ndarray, shape (5, h, w)
            The network's maps of the reading.
        image : ndarray
            Its input (:func:`~spermlab.detect.learned.preprocess.normalise`, polarity applied).
        """
        if self._verifier is None:
            return float(maps[0][peaks(maps[0], self.threshold)].sum())
        return float(self._verified(maps, image, 0)["score"].sum())

    def _read_one(self, image: np.ndarray) -> tuple[str, np.ndarray, np.ndarray]:
        """The polarity :meth:`choose_polarity` picks, the maps of that reading and its input."""
        polarity = self.choose_polarity(image)
        maps, inputs = self._forward([image], invert=polarity == "dark")
        return polarity, maps[0], inputs[0]

    def adapted_to(self, image: np.ndarray) -> SpermNetDetector:
        """This detector with its polarity fixed from ``image`` (the first frame of a video)
        when it is ``"auto"``; the same detector otherwise. The heads the model sees in each
        reading are recorded with the choice (``params["polarity_evidence"]``)."""
        if self.polarity != "auto":
            return self
        other = copy.copy(self)
        other.polarity = self.choose_polarity(image)
        maps, inputs = self._forward([image, image], invert=[False, True])
        evidence = [self.evidence(m, x) for m, x in zip(maps, inputs, strict=True)]
        other._polarity_source = "auto: the first frame's intensity tails"
        other._polarity_evidence = {"bright": round(evidence[0], 2), "dark": round(evidence[1], 2)}
        return other

    def detect(self, image: np.ndarray, frame: int = 0) -> pd.DataFrame:
        """Detections of one grey ``(H, W)`` or colour ``(H, W, 3)`` frame."""
        return self.detect_batch([image], [frame])[0]

    def detect_batch(self, images: list[np.ndarray], frames: list[int]) -> list[pd.DataFrame]:
        """One Detections table per image; images of different sizes run one at a time."""
        if len(images) != len(frames):
            raise ValueError(f"{len(images)} images but {len(frames)} frame numbers")
        out: list[pd.DataFrame] = []
        shapes = {np.shape(im)[:2] for im in images}
        groups = [list(range(len(images)))] if len(shapes) == 1 else [[i] for i in range(len(images))]
        for idx in groups:
            if self.polarity == "auto":  # not adapted: each frame read in its own polarity
                reads = [self._read_one(images[i]) for i in idx]
                maps = np.stack([m for _, m, _ in reads])
                inputs = [x for _, _, x in reads]
            else:
                maps, inputs = self._forward([images[i] for i in idx], invert=self.polarity == "dark")
            h, w = np.shape(images[idx[0]])[:2]
            for k, i in enumerate(idx):
                if self._verifier is None:
                    out.append(decode(maps[k], self.threshold, stride=self.stride, frame=frames[i],
                                      height=h, width=w))  # fmt: skip
                else:
                    out.append(self._verified(maps[k], inputs[k], frames[i]))
        return out

    def _verified(self, maps: np.ndarray, image: np.ndarray, frame: int) -> pd.DataFrame:
        """Candidates at the low threshold, kept by the verifier
        (:mod:`spermlab.detect.learned.verifier`; ``image``: the network's input, unpadded);
        ``score`` becomes its probability."""
        from spermlab.detect.learned.verifier import CANDIDATE_THRESHOLD, candidate_features

        h, w = np.shape(image)[:2]
        det = decode(maps, min(CANDIDATE_THRESHOLD, self.threshold), stride=self.stride, frame=frame,
                     height=h, width=w)  # fmt: skip
        if det.empty:
            return det
        p = self._verifier.proba(candidate_features(image, det))
        keep = p >= self._verifier.keep_threshold
        return det.assign(score=p)[keep].reset_index(drop=True)
