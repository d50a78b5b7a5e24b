"""The data folder is the web app's whole world: every path is confined to it, every upload checked.

Only files under the data folder can be chosen, read or written: a path from the page is
resolved (symbolic links followed) and refused unless it lies inside the data folder. An
uploaded file's name must be a plain file name with a video suffix; its content must be a
video that PyAV decodes (a text file named ``.mp4`` is refused by its content, not its name);
its size is limited by the app's setting (see :mod:`spermlab.web.app`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from spermlab.batch.inputs import VIDEO_SUFFIXES
from spermlab.errors import UsageError
from spermlab.io.frames import IMAGE_SUFFIXES

__all__ = ["OutsideDataFolder", "SourceFile", "UploadRejected", "check_video", "confine",
           "list_sources", "safe_upload_name", "sample_name", "unique_path"]  # fmt: skip


class OutsideDataFolder(UsageError):
    """A path that leads out of the data folder (``..``, an absolute path, a link out)."""


class UploadRejected(UsageError):
    """An upload that is not accepted: its name, its type or its size."""


def confine(data_dir: str | os.PathLike[str], relative: str) -> Path:
    """The absolute path of ``relative`` inside ``data_dir``, or a refusal.

    Parameters
    ----------
    data_dir : str or PathLike
        The data folder.
    relative : str
        A path as the page sends it: relative to the data folder, ``/`` separated.

    Returns
    -------
    Path
        The resolved path (links followed), inside the data folder.

    Raises
    ------
    OutsideDataFolder
        When the path is empty, absolute, or resolves outside the data folder.
    """
    root = Path(data_dir).resolve()
    text = str(relative).strip()
    if not text or "\x00" in text:
        raise OutsideDataFolder("expected a path inside the data folder, got an empty one")
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive:
        raise OutsideDataFolder(f"{text}: expected a path relative to the data folder, not an absolute one")
    path = (root / text).resolve()
    if not path.is_relative_to(root):
        raise OutsideDataFolder(f"{text}: outside the data folder; only files under {root} can be used")
    return path


def safe_upload_name(name: str | None) -> str:
    """An uploaded file's name, checked: a plain name with a video suffix.

    Raises
    ------
    UploadRejected
        For an empty name, a name with a folder part (``../x.mp4``, ``a/b.mp4``, ``C:\\x``),
        a hidden name, control characters, or a suffix that is not a video's.
    """
    text = (name or "").strip()
    if not text:
        raise UploadRejected("the upload has no file name")
    if "/" in text or "\\" in text or text in (".", "..") or "\x00" in text or PureWindowsPath(text).drive:
        raise UploadRejected(f"{text!r}: expected a plain file name, not a path (path traversal refused)")
    if text.startswith(".") or any(ord(ch) < 32 for ch in text):
        raise UploadRejected(f"{text!r}: hidden names and control characters are not accepted")
    suffix = Path(text).suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise UploadRejected(f"{text}: expected a video file ({', '.join(sorted(VIDEO_SUFFIXES))}), "
                             f"got {suffix or 'no suffix'}")  # fmt: skip
    stem = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(text).stem).strip(" ._") or "upload"
    return stem[:120] + suffix


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/<stem>-2<suffix>`` ... when the name is taken."""
    p = folder / name
    n = 2
    while p.exists():
        p = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
        n += 1
    return p


def check_video(path: str | os.PathLike[str], *, shown_name: str | None = None) -> None:
    """Refuse a file that is not a video PyAV can decode (read its first frame).

    Raises
    ------
    UploadRejected
        With the reason (an empty file, not a video, no video stream, no decodable frame).
    """
    from spermlab.errors import FormatError
    from spermlab.io.video import VideoReader

    name = shown_name or Path(path).name
    if Path(path).stat().st_size == 0:
        raise UploadRejected(f"{name}: the file is empty (0 bytes)")
    try:
        reader = VideoReader(path, fps=25.0)  # the content only: a missing rate is asked for later
        frames = iter(reader)
        try:
            next(frames)
        finally:
            frames.close()
    except StopIteration:
        raise UploadRejected(f"{name}: the video has no frame") from None
    except (FormatError, OSError, ValueError) as e:
        why = e.message if isinstance(e, FormatError) else str(e)
        raise UploadRejected(f"{name}: not a video spermlab can read ({why})") from None


def sample_name(path: Path) -> str:
    """A sample id from a file or folder name (letters, digits, ``._-``)."""
    name = path.name if path.is_dir() else path.stem
    if path.is_dir() and name == "images":
        name = path.parent.name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "sample"


@dataclass(frozen=True)
class SourceFile:
    """A recording in the data folder: its path relative to the folder, kind and size."""

    relative: str
    kind: str  # "video" or "frames"
    size: int
    fps: float | None = None
    n_frames: int | None = None


def list_sources(data_dir: str | os.PathLike[str], *, exclude: tuple[Path, ...] = (),
                 limit: int = 500, max_depth: int = 4) -> list[SourceFile]:
    """The videos and frame folders under the data folder, sorted by path.

    Hidden files and folders, links leading out of the folder and the ``exclude`` folders
    (the app's results) are skipped; a frame folder (images, or an ``images/`` sub-folder as
    in VISEM-Tracking) is one source and is not searched further.
    """
    root = Path(data_dir).resolve()
    skip = {p.resolve() for p in exclude}
    out: list[SourceFile] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        depth = len(here.relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() not in skip
                         and (here / d).resolve().is_relative_to(root))  # fmt: skip
        if depth >= max_depth:
            dirs[:] = []
        keep = []
        for d in dirs:
            sub = here / d
            if (sub / "images").is_dir() or _has_images(sub):
                out.append(SourceFile(sub.relative_to(root).as_posix(), "frames", 0))
            else:
                keep.append(d)
        dirs[:] = keep
        for f in sorted(files):
            p = here / f
            if f.startswith(".") or p.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            if not p.resolve().is_relative_to(root):
                continue
            out.append(SourceFile(p.relative_to(root).as_posix(), "video", p.stat().st_size))
        if len(out) >= limit:
            break
    return sorted(out, key=lambda s: s.relative)[:limit]


def _has_images(p: Path) -> bool:
    try:
        return any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.iterdir())
    except OSError:
        return False
