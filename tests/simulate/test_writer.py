import hashlib
import json

import av
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from spermlab.simulate import SimulationConfig, simulate, write_simulation

CFG = SimulationConfig(duration_s=0.5, concentration=60.0, crossings=1)


def _digest(folder):
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[p.relative_to(folder).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    sim = simulate(CFG, rng=42)
    files = write_simulation(sim, root / "a", video=True, frames=True, stem="s42")
    return sim, files


def test_layout_is_visem_tracking(written):
    sim, files = written
    root = files.root
    assert root.name == "s42"
    assert files.video == root / "s42.mp4" and files.video.stat().st_size > 0
    n = sim.n_frames
    assert sorted(p.name for p in (root / "images").iterdir()) == sorted(
        f"s42_frame_{k}.jpg" for k in range(n)
    )
    assert sorted(p.name for p in (root / "labels").iterdir()) == sorted(
        f"s42_frame_{k}.txt" for k in range(n)
    )
    assert sorted(p.name for p in (root / "labels_ftid").iterdir()) == sorted(
        f"s42_frame_{k}_with_ftid.txt" for k in range(n)
    )
    meta = json.loads(files.metadata.read_text())
    assert meta["seed"] == 42 and meta["n_frames"] == n
    assert meta["files"]["video"] == "s42.mp4"


def test_labels_round_trip_into_boxes_inside_the_image(written):
    sim, files = written
    rows = []
    for k in range(sim.n_frames):
        plain = np.loadtxt(files.labels / f"s42_frame_{k}.txt", ndmin=2)
        ftid = np.loadtxt(files.labels_ftid / f"s42_frame_{k}_with_ftid.txt", ndmin=2)
        np.testing.assert_array_equal(ftid[:, 1:], plain)
        assert plain.shape[1] == 5
        rows.append(
            pd.DataFrame(
                {
                    "frame": k,
                    "track_id": ftid[:, 0].astype(int),
                    "cls": plain[:, 0].astype(int),
                    "x": plain[:, 1],
                    "y": plain[:, 2],
                    "w": plain[:, 3],
                    "h": plain[:, 4],
                }
            )
        )
    back = pd.concat(rows, ignore_index=True)
    xywh = back[["x", "y", "w", "h"]].to_numpy()
    assert ((xywh >= 0) & (xywh <= 1)).all()
    assert (back["x"] - back["w"] / 2 >= -1e-6).all() and (
        back["x"] + back["w"] / 2 <= 1 + 1e-6
    ).all()
    assert (back["y"] - back["h"] / 2 >= -1e-6).all() and (
        back["y"] + back["h"] / 2 <= 1 + 1e-6
    ).all()
    assert set(back["cls"]) == {0}
    truth = sim.tracks.sort_values(["frame", "track_id"]).reset_index(drop=True)
    assert len(back) == len(truth)
    np.testing.assert_array_equal(back["track_id"], truth["track_id"])
    np.testing.assert_allclose(back["x"] * sim.width, truth["x"], atol=1e-6 * sim.width)
    np.testing.assert_allclose(back["h"] * sim.height, truth["h"], atol=1e-6 * sim.height)


def test_truth_tables_read_back(written):
    sim, files = written
    cells = pd.read_csv(files.cells)
    frames = pd.read_csv(files.frames)
    assert list(cells.columns) == list(sim.cells.columns) and len(cells) == len(sim.cells)
    assert list(frames.columns) == list(sim.frames.columns) and len(frames) == len(sim.frames)
    np.testing.assert_allclose(frames["x_um"], sim.frames["x_um"], rtol=1e-12)
    assert (cells["grade"] == sim.cells["grade"]).all()


def test_video_and_jpeg_frames_decode_to_the_rendered_images(written):
    sim, files = written
    rendered = [f.image.astype(float) for f in sim]
    with av.open(str(files.video)) as c:
        stream = c.streams.video[0]
        assert (stream.width, stream.height) == (640, 480)
        assert float(stream.average_rate) == pytest.approx(50.0)
        decoded = [f.to_ndarray(format="gray").astype(float) for f in c.decode(video=0)]
    assert len(decoded) == sim.n_frames
    for a, b in zip(decoded, rendered, strict=True):
        assert abs(a.mean() - b.mean()) < 1.0
        assert np.mean(np.abs(a - b)) < 3.0
    jpg = np.asarray(Image.open(files.images / "s42_frame_3.jpg")).astype(float)
    assert jpg.shape == (480, 640)
    assert np.mean(np.abs(jpg - rendered[3])) < 2.0


def test_same_seed_gives_the_same_bytes_and_another_seed_differs(tmp_path, written):
    _, files = written
    again = write_simulation(
        simulate(CFG, rng=42), tmp_path / "b", video=True, frames=True, stem="s42"
    )
    assert _digest(again.root) == _digest(files.root)
    other = write_simulation(
        simulate(CFG, rng=43), tmp_path / "c", video=True, frames=False, stem="s42"
    )
    d0, d1 = _digest(files.root), _digest(other.root)
    assert d0["s42.mp4"] != d1["s42.mp4"]
    assert d0["labels/s42_frame_0.txt"] != d1["labels/s42_frame_0.txt"]
    assert d0["truth_cells.csv"] != d1["truth_cells.csv"]


def test_parquet_tables_and_no_video(tmp_path):
    sim = simulate(SimulationConfig(duration_s=0.1), rng=1)
    files = write_simulation(sim, tmp_path, video=False, frames=False, tables="parquet")
    assert files.video is None and files.images is None
    assert not (files.root / "sim.mp4").exists()
    pd.testing.assert_frame_equal(pd.read_parquet(files.cells), sim.cells)
    pd.testing.assert_frame_equal(pd.read_parquet(files.frames), sim.frames)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"stem": "a/b"}, "stem"),
        ({"tables": "xlsx"}, "tables"),
        ({"jpeg_quality": 10}, "jpeg_quality"),
    ],
)
def test_bad_arguments_are_rejected(tmp_path, kwargs, match):
    sim = simulate(SimulationConfig(duration_s=0.1), rng=1)
    with pytest.raises(ValueError, match=match):
        write_simulation(sim, tmp_path, **kwargs)


def test_odd_sizes_need_frames_not_video(tmp_path):
    sim = simulate(
        SimulationConfig(duration_s=0.04, width=101, height=64, concentration=0.0), rng=1
    )
    with pytest.raises(ValueError, match="even width and height, got 101x64"):
        write_simulation(sim, tmp_path)
    files = write_simulation(sim, tmp_path, video=False, frames=True)
    assert len(list(files.images.iterdir())) == 2
    assert (files.labels / "sim_frame_1.txt").read_text() == ""
