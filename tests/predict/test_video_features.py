"""Flow images against known motion: a translating texture, a hand-placed path, a tiny video."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from tests.conftest import require_module

require_module("cv2", "pip install 'spermlab[deep]' (the test install has it)")

from spermlab.predict.video_features import (  # noqa: E402
    DENSE_SCALE, FlowParams, dense_flow, extract_video_features, lk_tracks, read_index, render_dense,
    render_lk)


def _texture(shape=(160, 200), seed=0):
    rng = np.random.default_rng(seed)
    t = ndimage.gaussian_filter(rng.uniform(0, 255, shape), 2)
    return (t - t.min()) / np.ptp(t) * 255


def _translating(dx, dy, n=10, seed=0):
    base = _texture(seed=seed)
    return [ndimage.shift(base, (dy * k, dx * k), order=3, mode="wrap").clip(0, 255).astype(np.uint8)
            for k in range(n)]


@pytest.mark.parametrize("dx,dy", [(1.5, -0.75), (0.0, 2.0), (-3.25, 0.5)])
def test_lucas_kanade_follows_a_known_shift(dx, dy):
    tracks = lk_tracks(_translating(dx, dy))
    steps = np.diff(tracks, axis=0)
    assert tracks.shape[1] > 50
    assert np.nanmedian(steps[..., 0]) == pytest.approx(dx, abs=0.02)
    assert np.nanmedian(steps[..., 1]) == pytest.approx(dy, abs=0.02)
    assert np.isfinite(tracks[-1]).all(axis=1).mean() > 0.8  # some leave at the wrapped edges


def test_dense_flow_image_encodes_the_known_speed():
    dx, dy = 1.5, -0.75
    u, v, speed = dense_flow(_translating(dx, dy))
    inner = (slice(20, -20), slice(20, -20))
    assert np.median(u[inner]) == pytest.approx(dx, abs=0.05)
    assert np.median(v[inner]) == pytest.approx(dy, abs=0.05)
    img = render_dense(u, v, speed)
    # red = speed x DENSE_SCALE: the image gives the shift back to 1/DENSE_SCALE px per frame
    assert np.median(img[inner][..., 0]) / DENSE_SCALE == pytest.approx(np.hypot(dx, dy), abs=1.5 / DENSE_SCALE)
    assert (np.median(img[inner][..., 1]) - 128) / DENSE_SCALE == pytest.approx(dx, abs=1.5 / DENSE_SCALE)


def test_render_lk_draws_a_path_as_long_as_the_motion():
    steps = 9
    path = np.stack([np.array([[20.0 + 3 * k, 40.0]]) for k in range(steps + 1)])  # 3 px a frame
    img = render_lk(path, (80, 100))
    ys, xs = np.nonzero(img.max(axis=2))
    assert xs.min() == 20 and abs(xs.max() - (20 + 3 * steps)) <= 1  # anti-aliasing: +-1 px
    assert set(ys) <= {39, 40, 41}
    still = render_lk(np.full((10, 1, 2), 50.0), (80, 100))
    assert np.count_nonzero(still.max(axis=2)) <= 4  # a still point is a dot
    lost = path.copy()
    lost[5:] = np.nan
    assert abs(np.nonzero(render_lk(lost, (80, 100)).max(axis=2))[1].max() - (20 + 3 * 4)) <= 1


def write_video(path, frames, fps=10):
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.options = {"crf": "10"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.stack([f] * 3, -1), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def test_extract_video_features_writes_one_image_per_second_and_caches(tmp_path):
    video = tmp_path / "clip.mp4"
    write_video(video, _translating(2.0, 0.0, n=35), fps=10)  # 3.5 s: 3 whole seconds
    meta = extract_video_features(video, tmp_path / "f", kinds=("lk", "frame", "dense"))
    assert meta["seconds"] == 3 and meta["frames_per_image"] == 10 and not meta["cached"]
    files = sorted(p.name for p in (tmp_path / "f" / "clip").iterdir())
    assert files == sorted([f"{k}_{s:04d}.png" for k in ("lk", "frame", "dense") for s in range(3)] + ["meta.json"])
    again = extract_video_features(video, tmp_path / "f", kinds=("lk", "frame", "dense"))
    assert again["cached"]
    other = extract_video_features(video, tmp_path / "f", kinds=("lk",), params=FlowParams(max_corners=20))
    assert not other["cached"] and json.loads((tmp_path / "f" / "clip" / "meta.json").read_text())["kinds"] == ["lk"]
    index = read_index(tmp_path / "f")
    assert list(index.columns) == ["sample_id", "second", "kind", "path"] and len(index) == 3


def test_too_short_or_unknown_kind_is_a_clear_error(tmp_path):
    from spermlab.errors import FormatError, UsageError

    video = tmp_path / "short.mp4"
    write_video(video, _translating(1.0, 0.0, n=5), fps=10)
    with pytest.raises(FormatError, match="shorter than one second"):
        extract_video_features(video, tmp_path / "f")
    assert not (tmp_path / "f" / "short").exists()  # nothing half-written
    with pytest.raises(UsageError, match="expected some of lk, dense, frame"):
        extract_video_features(video, tmp_path / "f", kinds=("optical",))
    with pytest.raises(FormatError, match="no video features"):
        read_index(tmp_path)
