"""Training SpermNet: targets, augmentation geometry, export to ONNX and parity with torch."""

import json

import numpy as np
import pytest

from spermlab import preset
from spermlab.detect.learned.annotated import AnnotatedFrame, from_simulation
from spermlab.detect.learned.spermnet import SpermNetDetector, decode, read_metadata
from spermlab.detect.learned.train_spermnet import (
    CROP,
    TrainConfig,
    _augment,
    _turn,
    best_threshold,
    drop_ignored,
    make_targets,
)
from spermlab.tables import DETECTIONS, validate
from tests.conftest import require_module

BOXES = np.array([[21.3, 15.9, 17.0, 18.0], [40.0, 9.0, 10.0, 12.0], [3.9, 44.2, 8.0, 8.0]])


def _as_maps(t: np.ndarray) -> np.ndarray:
    return np.stack([t[0] * t[6], t[2], t[3], t[4], t[5]])


def test_targets_decode_back_to_the_boxes_they_encode():
    t = make_targets(BOXES, np.zeros((0, 4)), 48, 64)
    assert t.shape == (7, 12, 16) and t[6].sum() == 3
    det = decode(_as_maps(t), 0.5, stride=4)
    got = det.sort_values("x")[["x", "y", "w", "h"]].to_numpy()
    np.testing.assert_allclose(got, BOXES[np.argsort(BOXES[:, 0])], rtol=1e-5)


def test_ignore_boxes_switch_the_heat_loss_off_inside_them_only():
    t = make_targets(np.zeros((0, 4)), np.array([[32.0, 24.0, 16.0, 8.0]]), 48, 64)
    off = np.argwhere(t[1] == 0)
    assert len(off) == 8  # cells with centres in x 24-40, y 20-28: 4 columns x 2 rows
    assert off[:, 0].min() == 5 and off[:, 1].min() == 6 and t[0].sum() == 0


def test_heat_peaks_of_two_touching_heads_stay_two():
    two = np.array([[20.0, 20.0, 9.0, 9.0], [29.0, 20.0, 9.0, 9.0]])  # 9 px apart
    t = make_targets(two, np.zeros((0, 4)), 40, 48)
    assert len(decode(_as_maps(t), 0.5)) == 2


@pytest.mark.parametrize("k", [0, 1, 2, 3])
@pytest.mark.parametrize("flip", [False, True])
def test_turning_moves_boxes_with_the_image(k, flip):
    a = np.zeros((32, 32), dtype=np.float32)
    a[5, 20] = 1.0  # pixel (r 5, c 20) covers x 20-21, y 5-6
    box = np.array([[20.5, 5.5, 3.0, 5.0]])
    b, boxes, _ = _turn(a, box, np.zeros((0, 4)), k, flip)
    r, c = np.argwhere(b == 1.0)[0]
    assert (boxes[0, 0], boxes[0, 1]) == (c + 0.5, r + 0.5)
    assert sorted(boxes[0, 2:]) == [3.0, 5.0] and (boxes[0, 2] == 3.0) == (k % 2 == 0)


def test_augmented_crops_have_the_network_shapes(rng):
    img = rng.integers(80, 100, (240, 300)).astype(np.uint8)
    frame = AnnotatedFrame(img, np.array([[150.0, 120.0, 17.0, 18.0]]), np.zeros((0, 4)), "t", 0)
    for _ in range(5):
        x, t = _augment(frame, rng)
        assert x.shape == (CROP, CROP) and x.dtype == np.float32
        assert t.shape == (7, CROP // 4, CROP // 4) and t[6].sum() <= 1


def test_best_threshold_maximises_f1_on_known_scores():
    frame = AnnotatedFrame(np.zeros((48, 64), np.uint8), BOXES[:2], np.zeros((0, 4)), "t", 0)
    maps = np.zeros((5, 12, 16), dtype=np.float32)
    maps[0, 3, 5], maps[1:3, 3, 5] = 0.8, 0.3  # on head 1 (21.2, 13.2 → 2.7 px away)
    maps[0, 2, 10] = 0.6  # on head 2 (40, 8)
    maps[0, 10, 2] = 0.7  # a false positive between them in score
    thr, f1 = best_threshold(lambda f: maps, [frame])
    assert thr == pytest.approx(0.6) and f1 == pytest.approx(2 * 2 / (3 + 2))


def test_detections_inside_ignore_boxes_are_dropped():
    det = validate(decode(_as_maps(make_targets(BOXES, np.zeros((0, 4)), 48, 64)), 0.5), DETECTIONS)
    kept = drop_ignored(det, np.array([[40.0, 9.0, 4.0, 4.0]]))
    assert len(kept) == 2 and 40.0 not in kept["x"].tolist()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    require_module("torch", "pip install 'spermlab[train]'")
    require_module("onnx", "pip install 'spermlab[train]'")
    from spermlab.detect.learned.train_spermnet import train_spermnet

    frames = from_simulation(2, 3, seed=5, width=192, height=192)
    out = tmp_path_factory.mktemp("model") / "tiny.onnx"
    train_spermnet(frames, out, TrainConfig(steps=25, batch=4, threshold_frames=2),
                   description={"purpose": "test"})  # fmt: skip
    return out, frames


def test_a_trained_model_is_one_onnx_file_with_its_threshold_and_training_record(tiny_model):
    path, frames = tiny_model
    meta = read_metadata(path)
    assert meta["spermlab_input"] == "median-mad-v1" and meta["spermlab_stride"] == "4"
    assert 0 < float(meta["spermlab_threshold"]) < 1
    info = json.loads(meta["spermlab_training"])
    assert info["purpose"] == "test" and info["steps_run"] == 25 and info["frames"] == 6
    det = SpermNetDetector(preset("visem"), model=path)
    table = validate(det.detect(frames[0].image, 4), DETECTIONS)
    assert (table["frame"] == 4).all() and det.params["model_sha256"]


def test_onnxruntime_output_equals_torch_output(tmp_path, rng):
    torch = require_module("torch", "pip install 'spermlab[train]'")
    require_module("onnx", "pip install 'spermlab[train]'")
    from spermlab.detect.learned.net import build_net
    from spermlab.detect.learned.train_spermnet import _torch_maps, export_onnx

    torch.manual_seed(0)
    net = build_net(16)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so that folding them is checked
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    net.eval()
    meta = {"spermlab_input": "median-mad-v1", "spermlab_stride": "4", "spermlab_threshold": "0.3"}
    path = export_onnx(net, tmp_path / "net.onnx", meta)
    image = rng.integers(60, 200, (100, 130)).astype(np.uint8)  # padded to 104 x 136 inside
    ort_maps = SpermNetDetector(preset("visem"), model=path).heatmaps([image])
    assert ort_maps.shape == (1, 5, 26, 34)
    np.testing.assert_allclose(ort_maps[0], _torch_maps(torch, net, image), atol=1e-4)


def test_bad_model_files_are_named_in_the_error(tmp_path, tiny_model):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.onnx: not a readable ONNX model"):
        SpermNetDetector(preset("visem"), model=bad)
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        SpermNetDetector(preset("visem"), model=tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\)"):
        SpermNetDetector(preset("visem"), model=tiny_model[0], threshold=1.5)


def test_head_polarity_is_read_from_the_annotations():
    from spermlab.detect.learned.annotated import dark_heads

    # seeds 1000-1003 draw: bright field, phase, phase, phase inverted (see from_simulation)
    frames = from_simulation(4, 2, seed=1000, width=160, height=128)
    assert dark_heads(frames) == {"sim1000": True, "sim1001": False, "sim1002": False, "sim1003": True}


def test_yolo_folders_with_split_subfolders_and_their_errors(data_dir, tmp_path):
    import shutil

    from spermlab.detect.learned.annotated import dark_heads, from_yolo_folder, load_annotated

    src = data_dir / "visem_tracking" / "11"
    for split, frames in (("train", (0, 1)), ("val", (2,))):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "labels" / split).mkdir(parents=True)
        for n in frames:
            shutil.copy(src / "images" / f"11_frame_{n}.jpg", tmp_path / "images" / split)
            shutil.copy(src / "labels" / f"11_frame_{n}.txt", tmp_path / "labels" / split)
    got = load_annotated(tmp_path)
    assert [f.frame for f in got] == [0, 1, 2] and got[0].image.shape == (480, 640)
    lines = (src / "labels" / "11_frame_2.txt").read_text().splitlines()
    assert len(got[2].boxes) == sum(ln.startswith("0 ") for ln in lines)
    assert len(got[2].boxes) + len(got[2].ignore) == len(lines)  # class 1: clusters, ignored
    assert dark_heads(got) == {tmp_path.name: False}  # phase contrast: bright heads
    (tmp_path / "labels" / "val" / "11_frame_2.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"11_frame_2.txt: no label file for image 11_frame_2.jpg"):
        from_yolo_folder(tmp_path)


def test_svia_heads_read_as_dark_from_their_boxes(data_dir):
    from spermlab.detect.learned.annotated import dark_heads, from_voc_clip

    frames = from_voc_clip(data_dir / "videos" / "svia" / "S_0002.mp4", frames=[0, 5])
    assert [len(f.boxes) > 10 for f in frames] == [True, True]
    assert dark_heads(frames) == {"S_0002": True}
