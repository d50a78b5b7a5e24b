"""Only files under the data folder: paths confined, uploads checked by name, content and size."""

from __future__ import annotations

import os

import pytest

from spermlab.web.paths import (
    OutsideDataFolder,
    UploadRejected,
    check_video,
    confine,
    list_sources,
    safe_upload_name,
    sample_name,
    unique_path,
)
from spermlab.web.uploads import size_text


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    (root / "videos").mkdir(parents=True)
    (root / "videos" / "a.mp4").write_bytes(b"x")
    (root / "visem" / "11" / "images").mkdir(parents=True)
    (root / "visem" / "11" / "images" / "11_frame_0.jpg").write_bytes(b"x")
    (root / "frames").mkdir()
    (root / "frames" / "f_0.png").write_bytes(b"x")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "b.mp4").write_bytes(b"x")
    (root / "spermlab-study" / "samples" / "s").mkdir(parents=True)
    (root / "spermlab-study" / "samples" / "s" / "annotated.mp4").write_bytes(b"x")
    (root / "notes.txt").write_text("n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"x")
    os.symlink(outside, root / "link-out")
    os.symlink(outside / "secret.mp4", root / "secret.mp4")
    return root


def test_confine_accepts_paths_inside(data):
    assert confine(data, "videos/a.mp4") == (data / "videos" / "a.mp4").resolve()
    assert confine(data, "videos/../videos/a.mp4") == (data / "videos" / "a.mp4").resolve()


@pytest.mark.parametrize("path", ["../outside/secret.mp4", "videos/../../outside/secret.mp4", "/etc/passwd",
                                  "C:\\Windows\\win.ini", "link-out/secret.mp4", "secret.mp4", "", "a\x00b"])
def test_confine_refuses_every_way_out(data, path):
    with pytest.raises(OutsideDataFolder):
        confine(data, path)


@pytest.mark.parametrize(("name", "expected"), [
    ("S_0002.mp4", "S_0002.mp4"), ("my clip (1).MP4", "my clip _1.mp4"), ("ünïcode.avi", "n_code.avi"),
])  # fmt: skip
def test_upload_names_are_plain_video_names(name, expected):
    assert safe_upload_name(name) == expected


@pytest.mark.parametrize(("name", "words"), [
    ("../../evil.mp4", "path traversal refused"), ("a/b.mp4", "not a path"), ("..\\x.mp4", "not a path"),
    ("C:x.mp4", "not a path"), (".bashrc.mp4", "hidden"), ("notes.txt", "expected a video file"),
    ("noext", "no suffix"), ("", "no file name"), (None, "no file name"),
])  # fmt: skip
def test_bad_upload_names_are_refused(name, words):
    with pytest.raises(UploadRejected, match=words):
        safe_upload_name(name)


def test_a_text_file_named_mp4_is_refused_by_its_content(tmp_path, sim_video):
    notes = tmp_path / "notes.mp4"
    notes.write_text("these are my notes, not a video\n")
    with pytest.raises(UploadRejected, match="notes.mp4: not a video spermlab can read"):
        check_video(notes)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(UploadRejected, match="empty"):
        check_video(empty)
    check_video(sim_video)  # a real video passes


def test_sources_list_videos_and_frame_folders_inside_only(data):
    found = {s.relative: s.kind for s in list_sources(data, exclude=(data / "spermlab-study",))}
    assert found == {"videos/a.mp4": "video", "visem/11": "frames", "frames": "frames"}


def test_unique_names_and_sample_ids(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"")
    assert unique_path(tmp_path, "a.mp4").name == "a-2.mp4"
    assert sample_name(tmp_path / "my clip.mp4") == "my_clip"
    assert size_text(3 * 1024 * 1024) == "3.0 MB" and size_text(2 << 30) == "2.0 GB"
