"""VideoReader: the seven real clips, a self-written MJPEG AVI, and damaged files."""

from __future__ import annotations

import gc
import os
import tracemalloc
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from spermlab import FormatError
from spermlab.io.source import FrameSource
from spermlab.io.video import VariableFrameRateWarning, VideoReader, open_video, read_frame

# file, frames, width, height, fps, codec (measured by decoding every frame; README)
CLIPS = [
    ("visem_like/seg_000.mp4", 752, 640, 480, 2509 / 50, "h264"),
    ("svia/S_0001.mp4", 45, 698, 528, 30.0, "mpeg4"),
    ("svia/S_0002.mp4", 19, 698, 528, 30.0, "mpeg4"),
    ("svia/S_0003.mp4", 38, 698, 528, 30.0, "mpeg4"),
    ("svia/S_0004.mp4", 82, 698, 528, 30.0, "mpeg4"),
    ("fertilisers_hackathon/sample1_vid1_sperm3_id3.mp4", 163, 300, 300, 20.0, "h264"),
    ("fertilisers_hackathon/sample1_vid1_sperm9_id92.mp4", 139, 300, 300, 20.0, "h264"),
]


@pytest.fixture(scope="module")
def videos(data_dir: Path) -> Path:
    return data_dir / "videos"


def write_video(
    path: Path,
    n: int = 20,
    *,
    codec: str = "mjpeg",
    pix_fmt: str = "yuvj420p",
    rate: int | Fraction = 25,
    pts_ms: list[int] | None = None,
) -> Path:
    """Write a 64x48 clip whose frame i has grey level 10*i on the right half, 200 on the left."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        for i in range(n):
            grey = np.full((48, 64), 10 * i % 256, np.uint8)
            grey[:, :32] = 200
            frame = av.VideoFrame.from_ndarray(np.stack([grey] * 3, axis=-1), format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def faststart_copy(src: Path, dst: Path) -> Path:
    """Remux ``src`` (no re-encoding) with its index first, as streaming MP4s are written."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return dst


def cut(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


# --- the real clips ----------------------------------------------------------------------


@pytest.mark.needs_data
@pytest.mark.parametrize(("name", "n", "width", "height", "fps", "codec"), CLIPS)
def test_reads_every_frame_of_real_clips(videos, name, n, width, height, fps, codec):
    reader = VideoReader(videos / name)
    assert isinstance(reader, FrameSource)
    assert (reader.n_frames, reader.width, reader.height) == (n, width, height)
    assert reader.fps == pytest.approx(fps, rel=1e-12)
    assert (reader.fps_source, reader.codec) == ("file", codec)
    count, last_t = 0, -1.0
    tracemalloc.start()
    try:
        for frame in reader:
            assert frame.index == count
            assert frame.image.shape == (height, width) and frame.image.dtype == np.uint8
            assert frame.image.flags.c_contiguous and frame.image.flags.owndata
            assert frame.timestamp == pytest.approx(count / fps, abs=1e-6)
            assert frame.timestamp > last_t
            count, last_t = count + 1, frame.timestamp
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    # one frame at a time: seg_000 would need 752 x 300 KB = 230 MB if frames were kept
    assert peak < 20e6


@pytest.mark.needs_data
def test_frames_are_full_range_luma_and_differ(videos):
    first, second = list(VideoReader(videos / "svia/S_0002.mp4"))[:2]
    # limited-range (16-235) video is expanded to 0-255 by the "gray" conversion
    assert first.image.min() < 16 and first.image.max() > 225
    assert np.abs(first.image.astype(int) - second.image.astype(int)).mean() > 0.1


@pytest.mark.needs_data
def test_frames_are_independent_copies(videos):
    frames = iter(VideoReader(videos / "svia/S_0001.mp4"))
    first = next(frames)
    kept = first.image.copy()
    for _ in range(10):
        later = next(frames)
    assert not np.shares_memory(first.image, later.image)
    np.testing.assert_array_equal(first.image, kept)
    frames.close()


@pytest.mark.needs_data
def test_iterates_again_from_the_start(videos):
    reader = VideoReader(videos / "svia/S_0002.mp4")
    a = [f.image for f in reader]
    b = [f.image for f in reader]
    assert len(a) == len(b) == 19
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.needs_data
def test_stopping_early_releases_the_file(videos):
    if not Path("/proc/self/fd").is_dir():  # Linux (CI) has it: there the test must run
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("needs /proc/self/fd to count open files")
        pytest.skip("needs /proc/self/fd")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        for frame in VideoReader(videos / "svia/S_0004.mp4"):
            if frame.index == 3:
                break
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= before


@pytest.mark.needs_data
def test_read_frame(videos):
    path = videos / "svia/S_0002.mp4"
    frames = list(VideoReader(path))
    got = read_frame(path, 18)
    assert got.index == 18 and got.timestamp == pytest.approx(18 / 30)
    np.testing.assert_array_equal(got.image, frames[18].image)
    with pytest.raises(IndexError, match="frame 19 out of range"):
        read_frame(path, 19)
    with pytest.raises(IndexError):
        open_video(path).read_frame(-1)
    with pytest.raises(TypeError, match="int"):
        open_video(path).read_frame(1.0)  # type: ignore[arg-type]


# --- a clip this test writes --------------------------------------------------------------


def test_mjpeg_avi(tmp_path):
    reader = open_video(write_video(tmp_path / "clip.avi"))
    assert (reader.codec, reader.n_frames, reader.width, reader.height) == ("mjpeg", 20, 64, 48)
    assert (reader.fps, reader.fps_source) == (25.0, "file")
    frames = list(reader)
    assert [f.index for f in frames] == list(range(20))
    assert [f.timestamp for f in frames] == pytest.approx([i / 25 for i in range(20)])
    for f in frames:  # full-range JPEG: grey levels come back within JPEG error
        assert abs(int(f.image[24, 48]) - 10 * f.index) <= 3
        assert abs(int(f.image[24, 8]) - 200) <= 3


def test_user_fps_overrides_file(tmp_path):
    reader = VideoReader(write_video(tmp_path / "clip.avi", n=5), fps=100)
    assert (reader.fps, reader.fps_source) == (100.0, "user")
    assert [f.timestamp for f in reader] == pytest.approx([0, 0.01, 0.02, 0.03, 0.04])


@pytest.mark.parametrize("bad", [0, 0.5, 1001, float("nan"), float("inf"), -25])
def test_user_fps_out_of_range(tmp_path, bad):
    path = write_video(tmp_path / "clip.avi", n=2)
    with pytest.raises(ValueError, match=r"fps must be in \[1, 1000\]"):
        VideoReader(path, fps=bad)


def test_user_fps_type(tmp_path):
    with pytest.raises(TypeError, match="fps must be a number"):
        VideoReader(write_video(tmp_path / "clip.avi", n=2), fps="25")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "rate", "shown"),
    [
        ("slow.avi", "mjpeg", "yuvj420p", Fraction(1, 2), "0.5"),
        ("fast.mp4", "mpeg4", "yuv420p", 2000, "2000"),
    ],
)
def test_file_fps_out_of_range_needs_override(tmp_path, name, codec, pix_fmt, rate, shown):
    path = write_video(tmp_path / name, n=5, codec=codec, pix_fmt=pix_fmt, rate=rate)
    expected = rf"{name}: frame rate {shown} fps is outside \[1, 1000\]; pass --fps \(in Python: fps=\)"
    with pytest.raises(FormatError, match=expected):
        VideoReader(path)
    reader = VideoReader(path, fps=10)
    assert reader.fps_source == "user"
    assert len(list(reader)) == 5


def test_variable_frame_rate_warns_once(tmp_path):
    pts = [0, 40, 80, 120, 200, 240, 280, 400, 440, 480]  # two long intervals
    path = write_video(tmp_path / "vfr.mkv", n=10, pts_ms=pts)
    reader = VideoReader(path)
    assert reader.n_frames is None  # Matroska does not declare a frame count
    with pytest.warns(VariableFrameRateWarning, match="frame 4 is 80.00 ms after frame 3") as rec:
        frames = list(reader)
    assert len(rec) == 1
    assert rec[0].filename == __file__  # points at the caller's loop
    assert [f.timestamp for f in frames] == pytest.approx([t / 1000 for t in pts])


def test_variable_frame_rate_not_checked_with_user_fps(tmp_path):
    path = write_video(tmp_path / "vfr.mkv", n=6, pts_ms=[0, 40, 80, 200, 240, 280])
    frames = list(VideoReader(path, fps=25))  # no warning: timestamps are index / fps
    assert [f.timestamp for f in frames] == pytest.approx([i / 25 for i in range(6)])


# --- damaged and wrong files -------------------------------------------------------------


@pytest.mark.needs_data
@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_truncated_mp4_with_index_at_end_fails_at_open(videos, tmp_path, fraction):
    path = cut(videos / "visem_like/seg_000.mp4", tmp_path / "cut_seg.mp4", fraction)
    with pytest.raises(FormatError, match=r"cut_seg\.mp4: cannot open as a video.*truncated"):
        VideoReader(path)


@pytest.fixture(scope="module")
def streaming_seg(videos, tmp_path_factory) -> Path:
    """seg_000 remuxed with its index first; complete before it is cut."""
    path = faststart_copy(videos / "visem_like/seg_000.mp4", tmp_path_factory.mktemp("v") / "f.mp4")
    with av.open(str(path)) as container:
        assert sum(p.size > 0 for p in container.demux(video=0)) == 752
    return path


@pytest.mark.needs_data
@pytest.mark.parametrize(("fraction", "good"), [(0.5, 361), (0.9, 667)])
def test_truncated_streaming_mp4_fails_at_end(streaming_seg, tmp_path, fraction, good):
    reader = VideoReader(cut(streaming_seg, tmp_path / "cut_fast.mp4", fraction))
    assert reader.n_frames == 752  # the index at the front still promises every frame
    seen = []
    with pytest.raises(FormatError) as info:
        for frame in reader:
            seen.append(frame.index)
    message = str(info.value)
    assert "cut_fast.mp4" in message
    assert f"decoding stopped after {good} of 752 expected frames" in message
    assert f"last good frame index {good - 1}" in message and "truncated or corrupt" in message
    assert seen == list(range(good))


def test_truncated_avi(tmp_path):
    path = cut(write_video(tmp_path / "clip.avi"), tmp_path / "cut.avi", 0.5)
    with pytest.raises(FormatError, match=r"cut\.avi: decoding stopped after \d+ of 20 expected"):
        list(VideoReader(path))


@pytest.mark.needs_data
@pytest.mark.parametrize(
    ("name", "where", "size", "why"),
    [
        ("visem_like/seg_000.mp4", 0.5, 20_000, "decoder error"),  # the decoder gives up
        ("svia/S_0001.mp4", 0.3, 50, r"frame \d+ is damaged"),  # it conceals, but flags it
    ],
)
def test_garbage_in_the_middle(videos, tmp_path, rng, name, where, size, why):
    data = bytearray((videos / name).read_bytes())
    at = int(len(data) * where)
    data[at : at + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    path = tmp_path / "garbled.mp4"
    path.write_bytes(bytes(data))
    reader = VideoReader(path)  # the index is intact: the damage shows when decoding
    with pytest.raises(FormatError, match=r"garbled\.mp4: decoding stopped after \d+ of") as info:
        list(reader)
    assert "last good frame index" in str(info.value)
    assert info.match(why)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(FormatError, match=r"empty\.mp4: expected a video file, got an empty"):
        VideoReader(path)


def test_text_file(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("not a video\n" * 100)
    with pytest.raises(FormatError, match=r"notes\.mp4: cannot open as a video"):
        VideoReader(path)


def test_still_image(tmp_path):
    path = tmp_path / "frame.png"
    with av.open(str(write_video(tmp_path / "clip.avi", n=1))) as c:
        next(c.decode(video=0)).to_image().save(path)
    with pytest.raises(FormatError, match=r"frame\.png: is a still image"):
        VideoReader(path)


def test_audio_only_file(tmp_path):
    path = tmp_path / "tone.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        silence = np.zeros((1, 800), np.int16)
        frame = av.AudioFrame.from_ndarray(silence, format="s16", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with pytest.raises(FormatError, match=r"tone\.wav: expected a video stream, got .*audio"):
        VideoReader(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.mp4"):
        VideoReader(tmp_path / "nothere.mp4")


def test_folder_is_not_a_video(tmp_path):
    with pytest.raises(IsADirectoryError, match="FrameFolder"):
        VideoReader(tmp_path)
