"""The report's cell gallery: the right cells, at the right moments, linked from the map."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pandas as pd
from PIL import Image

from spermlab.io.source import Frame
from spermlab.report.gallery import cell_gallery, pick_cells


def _kin(grades):
    return pd.DataFrame({"track_id": np.arange(len(grades)), "grade": grades,
                         "vap": 1.0, "progression": 0.5, "flagellum": np.nan})


def _decode(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def test_pick_cells_keeps_every_grade_in_proportion():
    kin = _kin(["a"] * 50 + ["b"] * 30 + ["c"] * 15 + ["d"] * 5 + [""] * 7)
    assert len(pick_cells(kin, 1000)) == 100  # ungraded tracks are never shown
    few = pick_cells(kin, 20)
    assert few["grade"].value_counts().to_dict() == {"a": 10, "b": 6, "c": 3, "d": 1}
    assert few["track_id"].is_monotonic_increasing


def _scene(n_frames=20, moving=False):
    """Two cells: track 0 a bright head at rest, track 1 a head that beats a dark bar
    (when ``moving``) on a flat background; 1 µm/px."""
    frames, rows = [], []
    for k in range(n_frames):
        img = np.full((80, 120), 100, np.uint8)
        img[38:42, 28:32] = 200  # track 0's head at (30, 40)
        img[38:42, 88:92] = 200  # track 1's head at (90, 40)
        if moving and k % 2:
            img[44:47, 80:100] = 40  # something beside head 1 in odd frames
        frames.append(Frame(index=k, image=img, timestamp=k / 25))
        rows += [(k, 30.0, 40.0, 0), (k, 90.0, 40.0, 1)]
    tracks = pd.DataFrame(rows, columns=["frame", "x", "y", "track_id"]).assign(w=4.0, h=4.0, cls=0)
    return frames, tracks


def test_strip_shows_each_cell_at_its_moments_then_what_moved():
    frames, tracks = _scene(moving=True)
    cells = cell_gallery(iter(frames), tracks, _kin(["d", "c"]), um_per_px=1.0, fps=25.0,
                         moments=3, crop_um=30, tile_px=40)
    assert [c.track_id for c in cells] == [0, 1]
    assert cells[0].frames == [0, 10, 19]
    strip = _decode(cells[1].strip)
    # 3 moments, the 0.04-s motion tile and the flagellum test's 1-s map, 3-px gaps
    assert strip.shape[:2] == (40, 5 * 40 + 4 * 3)
    motion = slice(3 * 43, 3 * 43 + 40)
    still, beating = _decode(cells[0].strip)[:, motion], strip[:, motion]
    assert still.min() > 230  # nothing moved around head 0: a white tile
    assert beating.min() < 100  # the bar beside head 1 changed between the two frames
    still_map, beating_map = _decode(cells[0].strip)[:, -40:], strip[:, -40:]
    assert np.percentile(still_map, 5) > 150  # no movement beside head 0 over the second
    assert beating_map.min() < 60  # the bar moved beside head 1 again and again
    crop = strip[:, :40].astype(float)
    assert crop[18:22, 18:22].mean() > 170  # the head sits in the middle of each crop


def test_a_cell_at_the_border_is_padded_not_dropped():
    frames, tracks = _scene()
    tracks.loc[tracks["track_id"] == 0, "x"] = 1.0
    cells = cell_gallery(iter(frames), tracks, _kin(["d", "c"]), um_per_px=1.0, tile_px=32)
    assert len(cells) == 2 and _decode(cells[0].strip).shape[0] == 32


def test_report_gallery_has_a_card_per_graded_cell_linked_from_the_map(tmp_path):
    from spermlab.cli import main
    from spermlab.report import write_report

    assert main(["demo", "--out", str(tmp_path), "--duration", "1", "--quiet"]) == 0
    results = tmp_path / "results"
    html = write_report(results).read_text(encoding="utf-8")
    kin = pd.read_csv(results / "kinematics.csv")
    graded = kin.loc[kin["grade"].isin(list("abcd")), "track_id"].tolist()
    assert graded, "the demo sample should grade some cells"
    for tid in graded:
        assert f'id="cell-{tid}"' in html
        assert f'<a href="#cell-{tid}">' in html  # the map's track links to its card
    assert html.count('class="cell g-') == len(graded)
    assert json.loads((results / "summary.json").read_text())["parameters"]["flagellum"]["lag_s"] == 0.04
    # without the recording: no crops, and a sentence that says why
    (results / "summary.json").write_text((results / "summary.json").read_text().replace(
        str(tmp_path / "sample"), str(tmp_path / "gone")))  # fmt: skip
    html = write_report(results).read_text(encoding="utf-8")
    assert 'class="cell g-' not in html and "recording was not found" in html
