"""FrameFolder: VISEM-Tracking video 11 and folders the tests write (PNG, TIFF, damaged)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spermlab import FormatError
from spermlab.io.frames import FrameFolder, frame_number, read_grey
from spermlab.io.source import FrameSource


@pytest.fixture(scope="module")
def visem11(data_dir: Path) -> Path:
    return data_dir / "visem_tracking" / "11" / "images"


def write_frames(
    folder: Path,
    numbers,
    *,
    suffix: str = ".png",
    size: tuple[int, int] = (32, 24),
    name: str = "11_frame_{}",
) -> Path:
    """Write grey images whose pixel values all equal their frame number (mod 256)."""
    folder.mkdir(exist_ok=True)
    for n in numbers:
        grey = np.full((size[1], size[0]), n % 256, np.uint8)
        Image.fromarray(grey).save(folder / (name.format(n) + suffix))
    return folder


# --- VISEM-Tracking video 11 ---------------------------------------------------------------


@pytest.mark.needs_data
def test_visem_full_listing_in_numeric_order(visem11):
    frames = FrameFolder(visem11, fps=50)  # lists 1000 files, decodes none
    assert isinstance(frames, FrameSource)
    assert (frames.n_frames, len(frames), frames.width, frames.height) == (1000, 1000, 640, 480)
    assert frames.numbers == tuple(range(1000))
    names = [f.name for f in frames.files]
    assert names[:3] == ["11_frame_0.jpg", "11_frame_1.jpg", "11_frame_2.jpg"]
    assert names[9:12] == ["11_frame_9.jpg", "11_frame_10.jpg", "11_frame_11.jpg"]
    assert names[-1] == "11_frame_999.jpg"
    assert (frames.fps, frames.fps_source) == (50.0, "user")


@pytest.mark.needs_data
def test_visem_subset_decodes_grey(visem11):
    frames = list(FrameFolder(visem11, fps=50, start=10, stop=20))
    assert [f.index for f in frames] == list(range(10, 20))
    assert [f.timestamp for f in frames] == pytest.approx([i / 50 for i in range(10, 20)])
    with Image.open(visem11 / "11_frame_10.jpg") as im:
        expected = np.asarray(im.convert("L"))
    np.testing.assert_array_equal(frames[0].image, expected)
    for f in frames:
        assert f.image.shape == (480, 640) and f.image.dtype == np.uint8
        assert f.image.flags.c_contiguous and f.image.flags.owndata
    assert not np.array_equal(frames[0].image, frames[1].image)


@pytest.mark.needs_data
def test_visem_pattern(visem11):
    frames = FrameFolder(visem11, pattern="11_frame_1??.jpg")
    assert frames.numbers == tuple(range(100, 200))
    assert frames.fps is None and frames.fps_source is None


# --- folders written here ----------------------------------------------------------------


def test_numeric_not_lexical_order(tmp_path):
    folder = write_frames(tmp_path / "f", [8, 9, 10, 11])
    frames = list(FrameFolder(folder))
    assert [f.index for f in frames] == [8, 9, 10, 11]
    assert [int(f.image[0, 0]) for f in frames] == [8, 9, 10, 11]
    assert [f.timestamp for f in frames] == [8.0, 9.0, 10.0, 11.0]  # no fps: time in frames


def test_order_uses_the_last_integer(tmp_path):
    folder = write_frames(tmp_path / "f", [0, 1, 2], name="run7_take3_{}")
    assert [f.index for f in FrameFolder(folder)] == [0, 1, 2]


def test_tiff_rgb_converted_to_luma(tmp_path):
    folder = tmp_path / "tif"
    folder.mkdir()
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 100, 200, 50
    for n in range(3):
        Image.fromarray(rgb).save(folder / f"img_{n:04d}.tif")
    frames = list(FrameFolder(folder, fps=10))
    assert [f.index for f in frames] == [0, 1, 2]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.1, 0.2])
    luma = round(0.299 * 100 + 0.587 * 200 + 0.114 * 50)
    assert np.all(np.abs(frames[0].image.astype(int) - luma) <= 1)


def test_other_files_are_ignored(tmp_path):
    folder = write_frames(tmp_path / "f", [0, 1, 2], suffix=".JPG")
    (folder / "labels.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (folder / "notes_3.csv").write_text("x\n")
    (folder / "._11_frame_1.JPG").write_bytes(b"\x00\x05\x16\x07")  # macOS metadata
    (folder / "sub_4.png").mkdir()
    frames = FrameFolder(folder)
    assert frames.numbers == (0, 1, 2)
    assert len(list(frames)) == 3


def test_gap_is_an_error(tmp_path):
    folder = write_frames(tmp_path / "f", [10, 11, 13, 14], suffix=".jpg")
    with pytest.raises(
        FormatError, match=r"frame 12 missing between 11_frame_11\.jpg and 11_frame_13\.jpg"
    ):
        FrameFolder(folder)
    frames = list(FrameFolder(folder, allow_gaps=True, fps=25))
    assert [f.index for f in frames] == [10, 11, 13, 14]
    assert frames[2].timestamp == pytest.approx(13 / 25)


def test_several_missing_frames(tmp_path):
    folder = write_frames(tmp_path / "f", [0, 1, 5, 6, 8])
    with pytest.raises(FormatError, match=r"frames 2-4 missing between .*\(4 missing in all\)"):
        FrameFolder(folder)


def test_start_stop_range(tmp_path):
    folder = write_frames(tmp_path / "f", range(10))
    assert FrameFolder(folder, start=3, stop=6).numbers == (3, 4, 5)
    assert FrameFolder(folder, start=7).numbers == (7, 8, 9)
    assert FrameFolder(folder, stop=2).numbers == (0, 1)
    with pytest.raises(FormatError, match=r"with frame numbers in \[20, None\)"):
        FrameFolder(folder, start=20)
    with pytest.raises(ValueError, match="start must be < stop"):
        FrameFolder(folder, start=5, stop=5)


@pytest.mark.needs_data
def test_truncated_jpeg(visem11, tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    for n in range(3):
        data = (visem11 / f"11_frame_{n}.jpg").read_bytes()
        (folder / f"11_frame_{n}.jpg").write_bytes(data[: len(data) // 2] if n == 1 else data)
    frames = iter(FrameFolder(folder))
    assert next(frames).index == 0
    with pytest.raises(FormatError, match=r"11_frame_1\.jpg: cannot decode image.*truncated"):
        next(frames)


def test_garbage_image_first_fails_at_open(tmp_path):
    folder = write_frames(tmp_path / "f", [1, 2])
    (folder / "11_frame_0.png").write_bytes(b"this is not a PNG" * 10)
    with pytest.raises(FormatError, match=r"11_frame_0\.png: cannot read image header"):
        FrameFolder(folder)


def test_garbage_image_is_reported_even_after_ultralytics_patched_pillow(tmp_path):
    # importing Ultralytics swaps PIL.Image.open for a wrapper that would try to install a
    # HEIF plugin on an unidentifiable file; spermlab must still report the file
    from tests.conftest import require_module

    require_module("ultralytics", "pip install 'spermlab[yolo]'")
    import PIL.Image

    assert PIL.Image.open.__module__ == "ultralytics.utils.patches"
    folder = write_frames(tmp_path / "f", [1, 2])
    (folder / "11_frame_0.png").write_bytes(b"this is not a PNG" * 10)
    with pytest.raises(FormatError, match=r"11_frame_0\.png: cannot read image header"):
        FrameFolder(folder)
    (folder / "11_frame_0.png").unlink()
    (folder / "11_frame_3.png").write_bytes(b"not a PNG either")
    with pytest.raises(FormatError, match=r"11_frame_3\.png: cannot"):
        list(FrameFolder(folder))


def test_garbage_image_later_fails_when_reached(tmp_path):
    folder = write_frames(tmp_path / "f", [0, 1])
    (folder / "11_frame_2.png").write_bytes(b"")
    frames = FrameFolder(folder)
    with pytest.raises(FormatError, match=r"11_frame_2\.png: cannot decode image"):
        list(frames)


def test_mixed_sizes(tmp_path):
    folder = write_frames(tmp_path / "f", [0, 1])
    write_frames(folder, [2], size=(16, 24))
    with pytest.raises(FormatError, match=r"11_frame_2\.png: image is 16x24, expected 32x24"):
        list(FrameFolder(folder))


def test_sixteen_bit_refused(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    Image.fromarray(np.full((4, 4), 4000, np.uint16)).save(folder / "f_0.png")
    with pytest.raises(FormatError, match=r"f_0\.png: expected an 8-bit image, got Pillow mode"):
        list(FrameFolder(folder))


def test_file_without_number(tmp_path):
    folder = write_frames(tmp_path / "f", [0, 1])
    write_frames(folder, [0], name="background")
    with pytest.raises(FormatError, match=r"background\.png: expected a frame number"):
        FrameFolder(folder)
    assert FrameFolder(folder, pattern="11_frame_*").numbers == (0, 1)


def test_duplicate_number(tmp_path):
    folder = write_frames(tmp_path / "f", [0, 1])
    write_frames(folder, [1], name="11_frame_0{}")
    with pytest.raises(FormatError, match=r"frame 1 appears twice: 11_frame_01\.png and"):
        FrameFolder(folder)


def test_empty_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("no frames")
    with pytest.raises(FormatError, match=r"expected frame images, got no image files"):
        FrameFolder(tmp_path)


def test_missing_and_not_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere"):
        FrameFolder(tmp_path / "nothere")
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match=r"x\.png"):
        FrameFolder(tmp_path / "x.png")


@pytest.mark.parametrize("bad", [0, 0.5, 1001, float("nan")])
def test_fps_out_of_range(tmp_path, bad):
    folder = write_frames(tmp_path / "f", [0])
    with pytest.raises(ValueError, match=r"fps must be in \[1, 1000\]"):
        FrameFolder(folder, fps=bad)


def test_frame_number():
    assert frame_number("11_frame_2.jpg") == 2
    assert frame_number("/a/b7/11_frame_10.tif") == 10
    assert frame_number("img0042.png") == 42
    assert frame_number("background.png") is None


def test_read_grey_palette_image(tmp_path):
    path = tmp_path / "p.png"
    Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)).convert("P").save(path)
    grey = read_grey(path)
    assert grey.dtype == np.uint8 and grey.shape == (3, 4)
    np.testing.assert_array_equal(grey, np.arange(12).reshape(3, 4))
