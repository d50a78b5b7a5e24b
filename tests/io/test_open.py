"""open_source: a video file, a frame folder, a VISEM-Tracking folder, and what is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spermlab import FormatError
from spermlab.io.frames import FrameFolder
from spermlab.io.open import open_source
from spermlab.io.source import FrameSource
from spermlab.io.video import VideoReader


def write_pngs(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(folder / f"frame_{i}.png")
    return folder


@pytest.mark.needs_data
def test_video_file(data_dir):
    source = open_source(data_dir / "videos" / "svia" / "S_0002.mp4")
    assert isinstance(source, VideoReader) and isinstance(source, FrameSource)
    assert (source.n_frames, source.fps, source.fps_source) == (19, 30.0, "file")


@pytest.mark.needs_data
def test_video_file_with_fps(data_dir):
    source = open_source(str(data_dir / "videos" / "svia" / "S_0002.mp4"), fps=60)
    assert (source.fps, source.fps_source) == (60.0, "user")


@pytest.mark.needs_data
def test_visem_tracking_folder(data_dir):
    source = open_source(data_dir / "visem_tracking" / "11", fps=50)
    assert isinstance(source, FrameFolder)
    assert Path(source.path) == data_dir / "visem_tracking" / "11" / "images"
    assert (source.n_frames, source.width, source.height, source.fps) == (1000, 640, 480, 50.0)


@pytest.mark.needs_data
def test_images_folder_itself(data_dir):
    source = open_source(data_dir / "visem_tracking" / "11" / "images")
    assert isinstance(source, FrameFolder)
    assert (source.n_frames, source.fps, source.fps_source) == (1000, None, None)


def test_folder_of_pngs(tmp_path):
    source = open_source(write_pngs(tmp_path / "run"), fps=10)
    assert isinstance(source, FrameFolder)
    assert [f.timestamp for f in source] == pytest.approx([0.0, 0.1, 0.2])


def test_folder_with_images_subfolder(tmp_path):
    write_pngs(tmp_path / "video7" / "images")
    (tmp_path / "video7" / "labels").mkdir()
    source = open_source(tmp_path / "video7")
    assert isinstance(source, FrameFolder) and source.n_frames == 3


def test_folder_without_frames(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden_0.png").write_bytes(b"")
    with pytest.raises(FormatError, match=r"expected a video file, a folder of frame images"):
        open_source(tmp_path)


def test_single_image(tmp_path):
    folder = write_pngs(tmp_path / "run")
    with pytest.raises(FormatError, match=r"frame_0\.png: expected a video .* single image"):
        open_source(folder / "frame_0.png")


def test_not_a_video(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(FormatError, match=r"table\.csv: cannot open as a video"):
        open_source(path)


def test_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.mp4: no such video file or frame"):
        open_source(tmp_path / "nothere.mp4")
