"""Streaming, strict reader for a folder of numbered frame images (JPEG, PNG, TIFF).

:class:`FrameFolder` lists the folder once, orders the images by the frame number in
their names, and decodes one image at a time with Pillow, so memory does not grow with
the number of frames. VISEM-Tracking stores its videos this way
(``11/images/11_frame_0.jpg`` ... ``11_frame_999.jpg``).

Examples
--------
>>> from spermlab.io.frames import FrameFolder
>>> frames = FrameFolder("visem_tracking/11/images", fps=50.0)  # doctest: +SKIP
>>> frames.n_frames, frames.width, frames.height  # doctest: +SKIP
(1000, 640, 480)
>>> first = next(iter(frames))  # doctest: +SKIP
>>> first.index, first.image.dtype, first.timestamp  # doctest: +SKIP
(0, dtype('uint8'), 0.0)
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Iterator
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from spermlab.errors import FormatError
from spermlab.io.source import Frame

__all__ = ["IMAGE_SUFFIXES", "FrameFolder", "frame_number"]

#: File suffixes (lower case) read as frames; other files in the folder are ignored.
IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff"})

#: Pillow modes converted to 8-bit grey. Deeper modes (``I;16``, ``I``, ``F``) are
#: refused rather than clipped or rescaled silently.
_EIGHT_BIT_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr"})

_LAST_INT = re.compile(r"(\d+)(?!.*\d)")


def frame_number(name: str) -> int | None:
    """Return the last integer in a file name's stem, or ``None`` if it has none.

    Parameters
    ----------
    name : str
        A file name or path.

    Returns
    -------
    int or None
        The frame number.

    Examples
    --------
    >>> frame_number("11_frame_10.jpg")
    10
    >>> frame_number("background.png") is None
    True
    """
    match = _LAST_INT.search(Path(name).stem)
    return None if match is None else int(match.group(1))


class FrameFolder:
    """A folder of numbered images as a stream of grey frames (a ``FrameSource``).

    Parameters
    ----------
    path : str or PathLike
        The folder. Files whose suffix is not in :data:`IMAGE_SUFFIXES` (any case) are
        ignored, and so are hidden files (names starting with ``.``); every image must
        have a frame number in its name.
    fps : float, optional
        Frames per second of the recording, in [1, 1000]. Image folders do not store
        it; without it ``fps`` is ``None`` and timestamps are in frames (see Notes).
    pattern : str, optional
        Glob (``"11_frame_*.jpg"``) selecting the images within the folder; default all.
    start, stop : int, optional
        Read only frame numbers ``start <= number < stop`` (a half-open range, as
        :func:`range`).
    allow_gaps : bool, default False
        Accept missing frame numbers in the sequence. When False, a gap raises
        :class:`spermlab.FormatError` naming the missing number(s).

    Attributes
    ----------
    path : str
        The folder.
    fps : float or None
        Frames per second as given, or ``None``.
    fps_source : {"user"} or None
        ``"user"`` when ``fps`` was given, else ``None``.
    width, height : int
        Frame size in pixels, from the first image.
    n_frames : int
        Number of images selected.
    files : tuple of pathlib.Path
        The selected images in frame order.
    numbers : tuple of int
        Their frame numbers.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    NotADirectoryError
        When ``path`` is a file.
    spermlab.FormatError
        When no image is selected, an image has no frame number, two images share a
        number, a number is missing (unless ``allow_gaps``), or the first image cannot
        be read.
    ValueError
        When ``fps`` is not in [1, 1000] or ``start >= stop``.

    Notes
    -----
    Frames are ordered by the last integer in the file stem, so ``11_frame_2`` comes
    before ``11_frame_10``. ``Frame.index`` is that number, as written in the name (it is
    0-based only when the numbering starts at 0, as in VISEM-Tracking).
    ``Frame.timestamp`` is ``index / fps`` in seconds, or ``float(index)`` (a time in
    frames) when ``fps`` is ``None``.

    Images are converted to grey with Pillow's ``"L"`` mode (ITU-R 601-2 luma,
    ``L = 0.299 R + 0.587 G + 0.114 B`` for colour images). Iteration raises
    :class:`spermlab.FormatError` naming the file when an image cannot be decoded, is
    not 8-bit, or differs in size from the first image.
    """

    path: str
    fps: float | None
    fps_source: Literal["user"] | None
    width: int
    height: int
    n_frames: int
    files: tuple[Path, ...]
    numbers: tuple[int, ...]

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        fps: float | None = None,
        pattern: str | None = None,
        start: int | None = None,
        stop: int | None = None,
        allow_gaps: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        folder = Path(self.path)
        if not folder.exists():
            raise FileNotFoundError(f"{folder}: no such frame folder")
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder}: expected a folder of frame images, got a file")
        if fps is not None:
            _check_fps(fps)
        if start is not None and stop is not None and start >= stop:
            raise ValueError(f"start must be < stop, got start={start}, stop={stop}")
        numbered = _list_frames(folder, pattern)
        numbered = [
            (n, f)
            for n, f in numbered
            if (start is None or n >= start) and (stop is None or n < stop)
        ]
        if not numbered:
            raise FormatError(self.path, _nothing_selected(pattern, start, stop))
        if not allow_gaps:
            _check_gaps(numbered, self.path)
        self.numbers = tuple(n for n, _ in numbered)
        self.files = tuple(f for _, f in numbered)
        self.n_frames = len(self.files)
        self.fps = None if fps is None else float(fps)
        self.fps_source = None if fps is None else "user"
        self.width, self.height = _image_size(self.files[0])

    def __repr__(self) -> str:
        return (
            f"FrameFolder({self.path!r}, {self.width}x{self.height}, frames "
            f"{self.numbers[0]}..{self.numbers[-1]} ({self.n_frames}), fps={self.fps})"
        )

    def __len__(self) -> int:
        return self.n_frames

    def __iter__(self) -> Iterator[Frame]:
        """Decode the images in frame order, yielding one :class:`Frame` at a time."""
        for number, file in zip(self.numbers, self.files, strict=True):
            image = read_grey(file)
            if image.shape != (self.height, self.width):
                raise FormatError(
                    file,
                    f"image is {image.shape[1]}x{image.shape[0]}, expected "
                    f"{self.width}x{self.height} like {self.files[0].name}",
                )
            timestamp = float(number) if self.fps is None else number / self.fps
            yield Frame(index=number, image=image, timestamp=timestamp)


def read_grey(path: str | PathLike[str]) -> np.ndarray:
    """Read one 8-bit image file as a grey ``uint8`` array of shape ``(height, width)``.

    Parameters
    ----------
    path : str or PathLike
        A JPEG, PNG or TIFF file (any format Pillow reads).

    Returns
    -------
    ndarray of uint8
        The luma (Pillow mode ``"L"``), C-contiguous and owned.

    Raises
    ------
    spermlab.FormatError
        When the file cannot be decoded (corrupt or truncated) or is not 8-bit.
    """
    try:
        with pil_open(path) as im:
            if im.mode not in _EIGHT_BIT_MODES:
                raise FormatError(path, f"expected an 8-bit image, got Pillow mode {im.mode!r} "
                                        "(16-bit or float); convert the frames to 8-bit grey first: "
                                        "how your camera's 10-16 bits map to grey levels is yours "
                                        "to choose, and spermlab does not guess it")  # fmt: skip
            im.load()
            grey = im if im.mode == "L" else im.convert("L")
            return np.array(grey, dtype=np.uint8)
    except FormatError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise FormatError(path, f"cannot decode image: {exc}; file truncated or corrupt") from exc


def _list_frames(folder: Path, pattern: str | None) -> list[tuple[int, Path]]:
    """Image files of ``folder`` (matching ``pattern``) with their numbers, sorted."""
    candidates = folder.glob(pattern) if pattern else folder.iterdir()
    numbered: dict[int, Path] = {}
    for file in candidates:
        if file.name.startswith(".") or file.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if not file.is_file():
            continue
        number = frame_number(file.name)
        if number is None:
            raise FormatError(
                file,
                "expected a frame number in the file name (e.g. 11_frame_12.jpg or 0001.png), "
                "got none; move the images that are not frames out of the folder (in Python: "
                "select the frames with pattern=)",
            )
        if number in numbered:
            first, second = sorted([numbered[number].name, file.name])
            raise FormatError(folder, f"frame {number} appears twice: {first} and {second}")
        numbered[number] = file
    return sorted(numbered.items())


def _check_gaps(numbered: list[tuple[int, Path]], path: str) -> None:
    for (a, fa), (b, fb) in zip(numbered, numbered[1:], strict=False):
        if b != a + 1:
            missing = f"frame {a + 1}" if b == a + 2 else f"frames {a + 1}-{b - 1}"
            total = numbered[-1][0] - numbered[0][0] + 1 - len(numbered)
            raise FormatError(
                path,
                f"{missing} missing between {fa.name} and {fb.name} "
                f"({total} missing in all); to analyse the frames that are there, pass "
                "--allow-gaps (in Python: allow_gaps=True)",
            )


def _nothing_selected(pattern: str | None, start: int | None, stop: int | None) -> str:
    suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
    what = f"no image files ({suffixes})"
    if pattern:
        what += f" matching {pattern!r}"
    if start is not None or stop is not None:
        what += f" with frame numbers in [{start}, {stop})"
    return f"expected frame images, got {what} in the folder"


def pil_open(path: str | PathLike[str]) -> Image.Image:
    """Pillow's own ``Image.open``.

    Importing Ultralytics replaces ``PIL.Image.open`` with a wrapper that, on a file Pillow
    cannot identify, tries to install and register a HEIF plugin. spermlab reports such a file
    (a corrupt frame) as a FormatError instead, whether or not Ultralytics was imported.
    """
    opener = Image.open
    if getattr(opener, "__module__", "") == "ultralytics.utils.patches":
        opener = getattr(sys.modules["ultralytics.utils.patches"], "_image_open", opener)
    return opener(path)


def _image_size(file: Path) -> tuple[int, int]:
    try:
        with pil_open(file) as im:
            return int(im.width), int(im.height)
    except (OSError, SyntaxError, ValueError) as exc:
        raise FormatError(file, f"cannot read image header: {exc}") from exc


def _check_fps(fps: float) -> None:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)):
        raise TypeError(f"fps must be a number, got {type(fps).__name__}")
    if not (math.isfinite(fps) and 1 <= fps <= 1000):
        raise ValueError(f"fps must be in [1, 1000] frames per second, got {fps}")
