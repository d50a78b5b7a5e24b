"""Streaming, strict reader for video files (MP4, AVI, MKV...), built on PyAV.

:class:`VideoReader` decodes one frame at a time, so memory does not grow with the
length of the video. It is strict: a file that cannot be opened, a truncated or damaged
stream and a frame count that disagrees with the container all raise
:class:`spermlab.FormatError` naming the file and the last good frame, instead of
returning fewer frames than the file holds.

Examples
--------
>>> from spermlab.io.video import open_video
>>> video = open_video("clip.mp4")  # doctest: +SKIP
>>> video.fps, video.fps_source, video.n_frames  # doctest: +SKIP
(50.18, 'file', 752)
>>> for frame in video:  # doctest: +SKIP
...     frame.index, frame.image.shape, frame.timestamp
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Generator, Iterator
from fractions import Fraction
from os import PathLike
from pathlib import Path
from typing import Literal

import av
import numpy as np

from spermlab.errors import FormatError
from spermlab.io.source import Frame

__all__ = ["FPS_RANGE", "VariableFrameRateWarning", "VideoReader", "open_video", "read_frame"]

#: Frame rates (frames per second) accepted from a file or from the user.
FPS_RANGE: tuple[float, float] = (1.0, 1000.0)

#: Relative deviation of a frame interval from ``1 / fps`` that counts as variable rate.
_VFR_TOLERANCE = 0.10


class VariableFrameRateWarning(UserWarning):
    """The intervals between frame timestamps differ from ``1 / fps`` by more than 10 %.

    Frame timestamps then follow the file, and ``index / fps`` is not the time of a
    frame. Velocities computed from frame indices would be wrong; use the timestamps.
    """


class VideoReader:
    """A video file as a stream of grey frames (a :class:`~spermlab.io.source.FrameSource`).

    The file is probed when the reader is created; each iteration opens it again and
    decodes it from the start, one frame at a time, with threaded decoding.

    Parameters
    ----------
    path : str or PathLike
        The video file. Any container and codec FFmpeg decodes (H.264 and MPEG-4 Part 2
        in MP4, MJPEG in AVI...).
    fps : float, optional
        Frames per second to use instead of the file's rate, in [1, 1000]. Give it when
        the file's rate is missing, absurd or known to be wrong (a camera that records
        at 100 fps but writes 25 fps). Timestamps are then ``index / fps``.

    Attributes
    ----------
    path : str
        The video file.
    fps : float
        Frames per second: the stream's average rate (or FFmpeg's guess) or ``fps``.
    fps_source : {"file", "user"}
        Where ``fps`` came from.
    width, height : int
        Frame size in pixels.
    n_frames : int or None
        Number of frames the container declares; ``None`` when it does not say.
    codec : str
        FFmpeg name of the video codec (``"h264"``, ``"mpeg4"``, ``"mjpeg"``...).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    IsADirectoryError
        When ``path`` is a folder (use :class:`~spermlab.io.frames.FrameFolder`).
    spermlab.FormatError
        When the file is not a video, has no video stream, or its frame rate is missing
        or outside [1, 1000] and ``fps`` is not given.
    ValueError
        When ``fps`` is given and is not in [1, 1000].

    Notes
    -----
    Iteration yields :class:`~spermlab.io.source.Frame` objects. ``image`` is the luma
    of the frame as a C-contiguous ``uint8`` array of shape ``(height, width)``, in full
    range: limited-range (TV) video is expanded from 16-235 to 0-255 by FFmpeg's
    ``gray`` conversion. ``timestamp`` is the presentation time in seconds relative to
    the first frame, from the frame's timestamp in the file (``index / fps`` when
    ``fps`` was given or the frame has none). When the intervals between timestamps
    differ from ``1 / fps`` by more than 10 %, one :class:`VariableFrameRateWarning`
    is issued per pass.

    Iteration raises :class:`spermlab.FormatError` when the decoder fails, when it
    flags a frame as damaged, when the frame size changes, and at the end when fewer
    (or more) frames were decoded than the container declares.
    """

    path: str
    fps: float
    fps_source: Literal["file", "user"]
    width: int
    height: int
    n_frames: int | None
    codec: str

    def __init__(self, path: str | PathLike[str], *, fps: float | None = None) -> None:
        self.path = os.fspath(path)
        _check_is_file(Path(self.path))
        if fps is not None:
            _check_user_fps(fps)
        with _open_container(self.path) as container:
            stream = _video_stream(container, self.path)
            self.codec = stream.codec_context.name
            self.width = int(stream.codec_context.width)
            self.height = int(stream.codec_context.height)
            self.n_frames = int(stream.frames) if stream.frames else None
            file_fps = _stream_fps(stream)
        if self.width <= 0 or self.height <= 0:
            raise FormatError(
                self.path, f"video stream has no frame size (got {self.width}x{self.height})"
            )
        if fps is not None:
            self.fps, self.fps_source = float(fps), "user"
        else:
            self.fps, self.fps_source = _checked_file_fps(file_fps, self.path), "file"

    def __repr__(self) -> str:
        return (
            f"VideoReader({self.path!r}, {self.width}x{self.height}, codec={self.codec!r}, "
            f"fps={self.fps:g} ({self.fps_source}), n_frames={self.n_frames})"
        )

    def __iter__(self) -> Generator[Frame, None, None]:
        """Decode the video from the start, yielding one :class:`Frame` at a time."""
        container = _open_container(self.path)
        try:
            stream = _video_stream(container, self.path)
            stream.thread_type = "AUTO"
            yield from self._decode(container.decode(stream), stream.time_base)
        finally:
            container.close()

    def read_frame(self, index: int) -> Frame:
        """Return the frame at 0-based ``index``.

        The video is decoded from the start up to ``index`` (memory stays constant, time
        grows with ``index``); all the checks of iteration apply.

        Parameters
        ----------
        index : int
            0-based frame index.

        Returns
        -------
        Frame
            The decoded frame.

        Raises
        ------
        IndexError
            When ``index`` is negative or past the last frame.
        spermlab.FormatError
            When the video is damaged before ``index``.
        """
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if index < 0 or (self.n_frames is not None and index >= self.n_frames):
            raise IndexError(f"{self.path}: frame {index} out of range [0, {self.n_frames})")
        frames = self.__iter__()
        try:
            for frame in frames:
                if frame.index == index:
                    return frame
        finally:
            frames.close()  # release the file now, not when the generator is collected
        raise IndexError(f"{self.path}: frame {index} out of range; the video ended earlier")

    def _decode(
        self, av_frames: Iterator[av.VideoFrame], time_base: Fraction | None
    ) -> Generator[Frame, None, None]:
        index, origin, previous, warned = 0, None, None, False
        while True:
            try:
                av_frame = next(av_frames)
            except StopIteration:
                break
            except av.FFmpegError as exc:
                raise self._stopped(index, f"decoder error ({exc})") from exc
            if av_frame.is_corrupt:
                raise self._stopped(index, f"frame {index} is damaged (decoder flagged it)")
            if av_frame.width != self.width or av_frame.height != self.height:
                raise self._stopped(
                    index,
                    f"frame {index} is {av_frame.width}x{av_frame.height}, "
                    f"expected {self.width}x{self.height}",
                )
            if self.fps_source == "file" and av_frame.pts is not None and time_base:
                origin = av_frame.pts if origin is None else origin
                timestamp = float((av_frame.pts - origin) * time_base)
                if previous is not None and not warned:
                    warned = self._check_interval(index, timestamp - previous)
                previous = timestamp
            else:
                timestamp = index / self.fps
            # an owned, C-contiguous copy: PyAV's array is a strided view of its buffer
            image = np.array(av_frame.to_ndarray(format="gray"), dtype=np.uint8, order="C")
            yield Frame(index=index, image=image, timestamp=timestamp)
            index += 1
        if self.n_frames is not None and index < self.n_frames:
            raise self._stopped(index, "the stream ended early")
        if self.n_frames is not None and index > self.n_frames:
            raise FormatError(
                self.path,
                f"decoded {index} frames but the container declares {self.n_frames}; "
                "the file header is inconsistent with its stream",
            )

    def _check_interval(self, index: int, dt: float) -> bool:
        """Warn (and return True) when ``dt`` is more than 10 % away from ``1 / fps``."""
        if abs(dt * self.fps - 1.0) <= _VFR_TOLERANCE:
            return False
        warnings.warn(
            f"{self.path}: variable frame rate: frame {index} is {dt * 1000:.2f} ms after "
            f"frame {index - 1}, expected {1000 / self.fps:.2f} ms at {self.fps:g} fps; "
            "frame timestamps follow the file, so index / fps is not the frame time",
            VariableFrameRateWarning,
            stacklevel=4,  # _check_interval < _decode < __iter__ < the caller's loop
        )
        return True

    def _stopped(self, n_good: int, why: str) -> FormatError:
        expected = "an unknown number of" if self.n_frames is None else str(self.n_frames)
        last = f"last good frame index {n_good - 1}" if n_good else "no frame decoded"
        return FormatError(
            self.path,
            f"decoding stopped after {n_good} of {expected} expected frames ({last}): "
            f"{why}; file truncated or corrupt",
        )


def open_video(path: str | PathLike[str], *, fps: float | None = None) -> VideoReader:
    """Open a video file for streaming; see :class:`VideoReader`.

    Parameters
    ----------
    path : str or PathLike
        The video file.
    fps : float, optional
        Frames per second overriding the file's rate, in [1, 1000].

    Returns
    -------
    VideoReader
        The probed reader; iterate it to decode frames.
    """
    return VideoReader(path, fps=fps)


def read_frame(path: str | PathLike[str], index: int, *, fps: float | None = None) -> Frame:
    """Decode one frame of a video file by its 0-based index.

    Decodes from the start of the file up to ``index``; to read many frames, iterate a
    :class:`VideoReader` instead.

    Parameters
    ----------
    path : str or PathLike
        The video file.
    index : int
        0-based frame index.
    fps : float, optional
        Frames per second overriding the file's rate (affects ``timestamp`` only).

    Returns
    -------
    Frame
        The decoded frame.
    """
    return VideoReader(path, fps=fps).read_frame(index)


def _check_is_file(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such video file")
    if path.is_dir():
        raise IsADirectoryError(
            f"{path}: is a folder, not a video file; use FrameFolder or open_source for "
            "a folder of frames"
        )


def _check_user_fps(fps: float) -> None:
    lo, hi = FPS_RANGE
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)):
        raise TypeError(f"fps must be a number, got {type(fps).__name__}")
    if not (math.isfinite(fps) and lo <= fps <= hi):
        raise ValueError(f"fps must be in [{lo:g}, {hi:g}] frames per second, got {fps}")


def _open_container(path: str) -> av.container.InputContainer:
    if os.path.getsize(path) == 0:
        raise FormatError(path, "expected a video file, got an empty (0-byte) file")
    try:
        container = av.open(path, mode="r")
    except av.FFmpegError as exc:
        raise FormatError(
            path,
            f"cannot open as a video ({exc.strerror or exc}): not a video, or truncated or "
            "corrupt (an MP4 whose index is at the end cannot be opened once cut short)",
        ) from exc
    if container.format.name == "image2" or container.format.name.endswith("_pipe"):
        container.close()
        raise FormatError(
            path, "is a still image, not a video; read a folder of frames with FrameFolder"
        )
    return container


def _video_stream(container: av.container.InputContainer, path: str) -> av.VideoStream:
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        container.close()
        raise FormatError(path, f"expected a video stream, got stream types {kinds}")
    return container.streams.video[0]


def _stream_fps(stream: av.VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate is not None and rate > 0:
            return float(rate)
    return None


def _checked_file_fps(fps: float | None, path: str) -> float:
    lo, hi = FPS_RANGE
    if fps is None:
        raise FormatError(path, "the file does not state a frame rate; pass --fps (in Python: fps=) to set it")
    if not (lo <= fps <= hi):
        raise FormatError(
            path,
            f"frame rate {fps:g} fps is outside [{lo:g}, {hi:g}]; pass --fps (in Python: fps=) to "
            "override it",
        )
    return fps
