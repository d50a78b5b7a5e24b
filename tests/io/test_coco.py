"""Tests of spermlab.io.coco: pycocotools compatibility, round trips, every rule."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spermlab import FormatError, tables
from spermlab.io.coco import (
    CATEGORIES,
    read_coco,
    read_coco_results,
    write_coco,
    write_coco_results,
)
from spermlab.io.visem import read_visem_tracks

MALFORMED = Path(__file__).parent / "malformed" / "coco"

# file, reader options, message fragment ("invalid_json" also has a line number)
CASES = [
    ("invalid_json.json", {}, "expected valid JSON, got: Expecting property name"),
    ("not_an_object.json", {}, "expected a JSON object at the top level, got list"),
    ("missing_images.json", {}, "expected a list under 'images', got NoneType"),
    ("bbox_length.json", {}, "annotations[1]: bbox: expected 4 numbers [x, y, width, height], "
                             "got [1, 2, 3]"),
    ("bbox_not_a_number.json", {}, "annotations[1]: bbox: expected a finite number, got '2'"),
    ("zero_size.json", {}, "annotations[1]: box size: expected width > 0 and height > 0"),
    ("unknown_image.json", {},
     "annotations[1]: image_id: expected the id of a listed image, got 9"),
    ("unknown_category_id.json", {}, "annotations[1]: category_id: expected one of [1, 2, 3], "
                                     "got 7"),
    ("unknown_category_name.json", {}, "categories[3]: name: expected one of ['cluster', "
                                       "'small_or_pinhead', 'sperm'], got 'pedestrian'"),
    ("outside_image.json", {}, "annotations[1]: box extends outside the image along x"),
    ("duplicate_annotation_id.json", {}, "annotations[1]: id: expected unique ids, got 1 again"),
    ("duplicate_image_id.json", {}, "images[1]: id: expected unique ids, got 1 again"),
    ("bad_image.json", {}, "images[1]: expected id >= 1 and a positive size, got id 0, 64 x 48"),
    ("crowd.json", {}, "annotations[1]: iscrowd: expected 0 (crowd regions are not supported)"),
    ("missing_field.json", {}, "annotations[1]: category_id: expected a value, got none"),
    ("track_duplicate.json", {"tracks": True}, "annotations[1]: track_id: expected each track "
                                               "once per frame, got 0 again in frame 0"),
    ("track_missing.json", {"tracks": True}, "annotations[1]: track_id: expected a value"),
]
RESULT_CASES = [
    ("results_not_a_list.json", "expected a JSON array at the top level, got dict"),
    ("results_bad_score.json", "results[1]: score: expected a value in [0, 1], got 1.5"),
    ("results_unknown_category.json", "results[1]: category_id - 1: expected one of 0 (sperm)"),
    ("results_bad_image_id.json", "results[1]: image_id: expected an integer >= 1, got 0"),
]
WHOLE_FILE = {"invalid_json.json", "not_an_object.json", "missing_images.json",
              "results_not_a_list.json"}


@pytest.fixture(scope="module")
def real_tracks(data_dir: Path) -> pd.DataFrame:
    return read_visem_tracks(data_dir / "visem_tracking" / "11", frames=range(12)).tracks


def _quiet(fn, *args):  # pycocotools prints progress to stdout
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def test_written_files_load_and_evaluate_in_pycocotools(real_tracks: pd.DataFrame,
                                                        tmp_path: Path) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_path = write_coco(real_tracks, tmp_path / "gt.json", width=640, height=480, frames=13,
                         file_name="11_frame_{frame}.jpg")
    scored = real_tracks.drop(columns="track_id").assign(score=0.75)
    res_path = write_coco_results(scored, tmp_path / "res.json")
    gt = _quiet(COCO, str(gt_path))
    assert len(gt.getImgIds()) == 13 and len(gt.getAnnIds()) == len(real_tracks)
    assert gt.loadImgs(13)[0]["file_name"] == "11_frame_12.jpg"  # frame 12: no boxes
    assert gt.loadCats(gt.getCatIds()) == CATEGORIES
    dt = _quiet(gt.loadRes, str(res_path))
    evaluation = COCOeval(gt, dt, "bbox")
    _quiet(evaluation.evaluate)
    _quiet(evaluation.accumulate)
    _quiet(evaluation.summarize)
    assert evaluation.stats[0] == pytest.approx(1.0)  # the boxes are the ground truth


def test_ground_truth_round_trip(real_tracks: pd.DataFrame, tmp_path: Path) -> None:
    det = real_tracks.drop(columns="track_id")
    back = read_coco(write_coco(det, tmp_path / "d.json", width=640, height=480))
    pd.testing.assert_frame_equal(back, det, check_exact=False, rtol=0, atol=1e-9)
    tracks = read_coco(write_coco(real_tracks, tmp_path / "t.json", width=640, height=480),
                       tracks=True)
    pd.testing.assert_frame_equal(tracks, real_tracks, check_exact=False, rtol=0, atol=1e-9)


def test_results_round_trip(real_tracks: pd.DataFrame, tmp_path: Path,
                            rng: np.random.Generator) -> None:
    det = real_tracks.drop(columns="track_id").assign(score=rng.uniform(0, 1, len(real_tracks)))
    back = read_coco_results(write_coco_results(det, tmp_path / "r.json"))
    pd.testing.assert_frame_equal(back, det, check_exact=False, rtol=0, atol=1e-9)
    entry = json.loads((tmp_path / "r.json").read_text())[0]
    assert sorted(entry) == ["bbox", "category_id", "image_id", "score"]
    assert entry["bbox"] == [168.0, 189.0, 17.0, 18.0] and entry["image_id"] == 1


def test_image_ids_are_frame_plus_one_and_empty_frames_are_images(tmp_path: Path) -> None:
    det = pd.DataFrame({"frame": [2], "x": [20.0], "y": [30.0], "w": [10.0], "h": [12.0],
                        "cls": [1], "score": [0.3]})
    data = json.loads(write_coco(det, tmp_path / "g.json", width=64, height=48,
                                 frames=[0, 1, 2]).read_text())
    assert [im["id"] for im in data["images"]] == [1, 2, 3]
    assert data["annotations"][0] == {"id": 1, "image_id": 3, "category_id": 2,
                                      "bbox": [15.0, 24.0, 10.0, 12.0], "area": 120.0,
                                      "iscrowd": 0}
    back = read_coco(tmp_path / "g.json")
    assert back.iloc[0][["frame", "cls", "score"]].tolist() == [2, 1, 1.0]  # gt: score 1
    empty = write_coco(tables.empty(tables.DETECTIONS), tmp_path / "e.json", width=4, height=4)
    assert read_coco(empty).columns.tolist() == list(tables.DETECTIONS)


def test_writers_refuse_bad_input(tmp_path: Path) -> None:
    det = pd.DataFrame({"frame": [0], "x": [20.0], "y": [30.0], "w": [10.0], "h": [12.0],
                        "cls": [0], "score": [0.5]})
    with pytest.raises(ValueError, match="outside the image"):
        write_coco(det.assign(x=62.0), tmp_path / "a.json", width=64, height=48)
    with pytest.raises(ValueError, match="cls: expected one of"):
        write_coco(det.assign(cls=5), tmp_path / "a.json", width=64, height=48)
    with pytest.raises(ValueError, match=r"boxes in frame\(s\) \[0\]"):
        write_coco(det, tmp_path / "a.json", width=64, height=48, frames=[1])
    with pytest.raises(ValueError, match="scores in"):
        write_coco_results(det.assign(score=2.0), tmp_path / "b.json")
    with pytest.raises(ValueError, match="width > 0"):
        write_coco_results(det.assign(h=0.0), tmp_path / "b.json")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("name", "options", "fragment"), CASES)
def test_each_ground_truth_rule(name: str, options: dict, fragment: str) -> None:
    path = MALFORMED / name
    with pytest.raises(FormatError) as info:
        read_coco(path, **options)
    assert fragment in info.value.message and info.value.path == str(path)
    if name == "invalid_json.json":
        assert info.value.line_no == 2 and info.value.line == '  {"id": 1,}'
    elif name not in WHOLE_FILE:
        assert json.loads(info.value.line)  # the offending entry, as JSON
        problems: list[FormatError] = []
        kept = read_coco(path, problems=problems, **options)
        assert [fragment in p.message for p in problems] == [True]
        assert kept["frame"].tolist() == [0]  # the good annotation 0 is kept


@pytest.mark.parametrize(("name", "fragment"), RESULT_CASES)
def test_each_results_rule(name: str, fragment: str) -> None:
    with pytest.raises(FormatError) as info:
        read_coco_results(MALFORMED / name)
    assert fragment in info.value.message
    if name not in WHOLE_FILE:
        problems: list[FormatError] = []
        assert len(read_coco_results(MALFORMED / name, problems=problems)) == 1
        assert len(problems) == 1


def test_collect_mode_reports_every_problem() -> None:
    problems: list[FormatError] = []
    back = read_coco_results(MALFORMED / "results_mixed.json", problems=problems)
    assert [p.message.split(":")[0] for p in problems] == ["results[1]", "results[3]"]
    assert back[["frame", "cls", "score"]].values.tolist() == [[0, 0, 0.5], [1, 0, 0.25],
                                                                [2, 1, 0.5]]


def test_corpus_files_are_all_tested_and_documented() -> None:
    names = {p.name for p in MALFORMED.iterdir()}
    assert names == {c[0] for c in CASES + RESULT_CASES} | {"results_mixed.json"}
    readme = (MALFORMED.parent / "README.md").read_text()
    assert all(f"coco/{n}" in readme for n in names)
