"""Open any supported recording as a frame source: a video file or a folder of frames."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from spermlab.errors import FormatError
from spermlab.io.frames import IMAGE_SUFFIXES, FrameFolder
from spermlab.io.source import FrameSource
from spermlab.io.video import VideoReader

__all__ = ["open_source"]


def open_source(path: str | PathLike[str], *, fps: float | None = None,
                allow_gaps: bool = False) -> FrameSource:
    """Open a video file, a folder of frame images, or a VISEM-Tracking video folder.

    ==============================================  ===========================================
    ``path``                                        source
    ==============================================  ===========================================
    a file                                          :class:`~spermlab.io.video.VideoReader`
    a folder with an ``images/`` subfolder          :class:`~spermlab.io.frames.FrameFolder`
    (VISEM-Tracking: ``11/images/11_frame_0.jpg``)  over ``images/``
    a folder of numbered images                     :class:`~spermlab.io.frames.FrameFolder`
    ==============================================  ===========================================

    Parameters
    ----------
    path : str or PathLike
        The video file or folder.
    fps : float, optional
        Frames per second, in [1, 1000]. For a video it overrides the file's rate; a
        frame folder has no rate of its own, so without it ``fps`` is ``None``.
    allow_gaps : bool
        A frame folder with missing frame numbers is read anyway (frame numbers stay the
        files' own); by default it is refused, naming the missing frames.

    Returns
    -------
    FrameSource
        A ``VideoReader`` or a ``FrameFolder``; both also have ``fps_source``.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    spermlab.FormatError
        When a file is a single image or not a video, or a folder holds no frame images.

    Examples
    --------
    >>> from spermlab.io.open import open_source
    >>> source = open_source("visem_tracking/11", fps=50.0)  # doctest: +SKIP
    >>> type(source).__name__, source.n_frames  # doctest: +SKIP
    ('FrameFolder', 1000)
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such video file or frame folder")
    if p.is_dir():
        if (p / "images").is_dir():
            return FrameFolder(p / "images", fps=fps, allow_gaps=allow_gaps)
        if any(_is_image(f) for f in p.iterdir()):
            return FrameFolder(p, fps=fps, allow_gaps=allow_gaps)
        raise FormatError(
            p,
            "expected a video file, a folder of frame images "
            f"({', '.join(sorted(IMAGE_SUFFIXES))}) or a VISEM-Tracking folder with an "
            "images/ subfolder; got a folder with none of these",
        )
    if p.suffix.lower() in IMAGE_SUFFIXES:
        raise FormatError(
            p,
            "expected a video or a folder of frames, got a single image; "
            f"open its folder ({p.parent}) instead",
        )
    return VideoReader(p, fps=fps)


def _is_image(file: Path) -> bool:
    return not file.name.startswith(".") and file.suffix.lower() in IMAGE_SUFFIXES
