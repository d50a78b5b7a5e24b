import json

import pytest

from spermlab.detect.learned.dataset import export_yolo_dataset, split_frames


def _video(root, name, n):
    (root / name / "images").mkdir(parents=True)
    (root / name / "labels").mkdir()
    for i in range(n):
        (root / name / "images" / f"{name}_frame_{i}.jpg").write_bytes(b"jpg")
        (root / name / "labels" / f"{name}_frame_{i}.txt").write_text("0 0.5 0.5 0.02 0.03\n")
    return root / name


def test_single_video_splits_by_time_with_a_gap(tmp_path):
    v = _video(tmp_path, "11", 300)
    s = split_frames([v], val_start=200, gap_s=1.0, fps=50)
    train, val = s.train["11"], s.val["11"]
    assert max(train) == 149 and min(val) == 200  # 50 frames (1 s) used by neither side
    assert not set(train) & set(val)


def test_several_videos_never_share_a_video(tmp_path):
    vids = [_video(tmp_path, n, 20) for n in ("11", "12", "13", "14", "15")]
    s = split_frames(vids, val_fraction=0.4)
    assert not set(s.train) & set(s.val)
    assert set(s.train) | set(s.val) == {"11", "12", "13", "14", "15"}
    assert len(s.val) == 2


def test_export_links_images_and_writes_labels_and_yaml(tmp_path):
    v = _video(tmp_path / "src", "11", 120)
    data = export_yolo_dataset([v], tmp_path / "ds", val_start=100, gap_s=0.2, fps=50, every=2)
    root = data.parent
    train_imgs = sorted((root / "images" / "train").iterdir())
    assert all(p.is_symlink() for p in train_imgs)
    assert len(train_imgs) == len(range(0, 90, 2))
    assert (root / "labels" / "val" / "11_frame_100.txt").read_text() == "0 0.5 0.5 0.02 0.03\n"
    yaml = data.read_text()
    assert "train: images/train" in yaml and "0: sperm" in yaml and "1: cluster" in yaml
    assert "by time" in json.loads((root / "split.json").read_text())["rule"]


def test_bad_split_requests(tmp_path):
    v = _video(tmp_path, "11", 10)
    with pytest.raises(ValueError, match="no training"):
        split_frames([v], val_start=5, gap_s=1.0, fps=50)
    with pytest.raises(ValueError, match="val_fraction"):
        split_frames([v], val_fraction=1.5)
    with pytest.raises(FileNotFoundError, match="labels"):
        split_frames([tmp_path])


def test_cli_dataset(tmp_path, capsys):
    from spermlab.cli import main

    v = _video(tmp_path / "src", "11", 120)
    assert main(["yolo", "dataset", str(v), "--val-start", "100", "--gap-s", "0.2",
                 "--out", str(tmp_path / "ds"), "--json", "--quiet"]) == 0  # fmt: skip
    info = json.loads(capsys.readouterr().out)
    assert info["train_frames"] == 90 and info["val_frames"] == 20
