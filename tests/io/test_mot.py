"""Tests of spermlab.io.mot: 1-based conventions, round trips, TrackEval, every rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spermlab import FormatError, tables
from spermlab.io.mot import read_mot, write_mot
from spermlab.io.visem import read_visem_tracks

MALFORMED = Path(__file__).parent / "malformed" / "mot"

# file, kind, 1-based line, message fragment
CASES = [
    ("tracker_field_count.txt", "tracker", 2, "expected 10 comma-separated fields "
     "(frame,id,bb_left,bb_top,bb_width,bb_height,conf,x,y,z), got 7"),
    ("not_a_number.txt", "tracker", 2, "bb_top: expected a number, got 'twenty'"),
    ("zero_frame.txt", "tracker", 2, "frame, id: expected 1-based values >= 1, got 0, 2"),
    ("zero_id.txt", "tracker", 2, "frame, id: expected 1-based values >= 1, got 1, 0"),
    ("fractional_frame.txt", "tracker", 2, "frame: expected an integer, got '1.5'"),
    ("zero_size.txt", "tracker", 2, "box size: expected width > 0 and height > 0, got 0.0 x 6.0"),
    ("bad_conf.txt", "tracker", 2, "conf: expected a score in [0, 1] or -1, got 1.5"),
    ("duplicate_id.txt", "tracker", 3, "frame,id: expected each value once, got frame 1, id 1 "
     "again (first on line 1)"),
    ("gt_field_count.txt", "gt", 2, "expected 9 comma-separated fields "
     "(frame,id,bb_left,bb_top,bb_width,bb_height,flag,class,visibility), got 10"),
    ("gt_bad_flag.txt", "gt", 2, "flag: expected 1 (evaluate) or 0 (ignore), got 2"),
    ("gt_unknown_class.txt", "gt", 2, "class: expected 1 (sperm), 2 (cluster), "
     "3 (small_or_pinhead) (cls + 1), got 4"),
    ("gt_bad_visibility.txt", "gt", 2, "visibility: expected a value in [0, 1], got 1.5"),
]


@pytest.fixture(scope="module")
def real_tracks(data_dir: Path) -> pd.DataFrame:
    return read_visem_tracks(data_dir / "visem_tracking" / "11", frames=range(40)).tracks


def _one(**cols: list) -> pd.DataFrame:
    base = {"frame": [0], "x": [12.0], "y": [23.0], "w": [4.0], "h": [6.0], "cls": [0],
            "score": [0.9], "track_id": [0]}
    return pd.DataFrame({**base, **cols})


def test_frames_and_ids_are_written_1_based(tmp_path: Path) -> None:
    path = write_mot(_one(frame=[0, 4], x=[12.0, 5.5], y=[23.0, 7.25], w=[4.0, 3.0],
                          h=[6.0, 2.5], cls=[0, 1], score=[0.9, 1.0], track_id=[0, 41]),
                     tmp_path / "t.txt")
    assert path.read_text().splitlines() == ["1,1,10,20,4,6,0.9,-1,-1,-1",
                                             "5,42,4,6,3,2.5,1,-1,-1,-1"]
    gt = write_mot(_one(cls=[1]), tmp_path / "gt.txt", kind="gt")
    assert gt.read_text() == "1,1,10,20,4,6,1,2,1\n"
    back = read_mot(gt, kind="gt")
    assert back.iloc[0][["frame", "track_id", "cls", "score"]].tolist() == [0, 0, 1, 1.0]


@pytest.mark.parametrize("kind", ["gt", "tracker"])
def test_real_tracks_round_trip(real_tracks: pd.DataFrame, tmp_path: Path, kind: str,
                                rng: np.random.Generator) -> None:
    tracks = real_tracks.sort_values(["frame", "track_id"], ignore_index=True)
    if kind == "tracker":  # tracker files hold a score but no class
        tracks = tracks.assign(cls=0, score=rng.uniform(0, 1, len(tracks)).round(6))
    back = read_mot(write_mot(tracks, tmp_path / "m.txt", kind=kind), kind=kind)
    pd.testing.assert_frame_equal(back, tables.validate(tracks, tables.TRACKS),
                                  check_exact=False, rtol=0, atol=1e-9)
    assert back["track_id"].min() == 0 and back["frame"].min() == 0


def test_reader_conventions(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("2.0, 3.0, 10, 20, 4, 6, -1, -1, -1, -1\n\n1,1,0,0,2,2,0.25,5,5,5\n")
    back = read_mot(path)
    assert back[["frame", "track_id"]].values.tolist() == [[0, 0], [1, 2]]  # sorted by frame
    assert back["score"].tolist() == [0.25, 1.0]  # conf -1 means no confidence given
    assert (back["cls"] == 0).all()
    gt = tmp_path / "gt.txt"
    gt.write_text("1,1,10,20,4,6,1,1,0.5\n1,2,10,20,4,6,0,1,1\n")
    assert read_mot(gt, kind="gt")["track_id"].tolist() == [0]  # flag 0: ignored
    empty = tmp_path / "e.txt"
    empty.write_text("")
    assert read_mot(empty).columns.tolist() == list(tables.TRACKS)
    with pytest.raises(ValueError, match="kind: expected 'gt' or 'tracker', got 'det'"):
        read_mot(empty, kind="det")  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "kind", "line_no", "fragment"), CASES)
def test_each_rule_raises(name: str, kind: str, line_no: int, fragment: str) -> None:
    path = MALFORMED / name
    with pytest.raises(FormatError) as info:
        read_mot(path, kind=kind)
    err = info.value
    assert fragment in err.message
    assert err.path == str(path) and err.line_no == line_no
    assert err.line == path.read_text().splitlines()[line_no - 1]


@pytest.mark.parametrize(("name", "kind", "line_no", "fragment"), CASES)
def test_each_rule_in_collect_mode(name: str, kind: str, line_no: int, fragment: str) -> None:
    problems: list[FormatError] = []
    back = read_mot(MALFORMED / name, kind=kind, problems=problems)
    assert len(problems) == 1 and fragment in problems[0].message
    assert len(back) == (2 if name == "duplicate_id.txt" else 1)


def test_collect_mode_reports_every_problem() -> None:
    problems: list[FormatError] = []
    back = read_mot(MALFORMED / "mixed.txt", problems=problems)
    assert [p.line_no for p in problems] == [2, 4, 5]  # line 5 repeats (frame 2, id 2)
    assert back[["frame", "track_id"]].values.tolist() == [[0, 0], [1, 1], [2, 1]]


def test_corpus_files_are_all_tested_and_documented() -> None:
    names = {p.name for p in MALFORMED.iterdir()}
    assert names == {c[0] for c in CASES} | {"mixed.txt"}
    readme = (MALFORMED.parent / "README.md").read_text()
    assert all(f"mot/{n}" in readme for n in names)


def test_writer_refuses_bad_input(tmp_path: Path) -> None:
    out = tmp_path / "t.txt"
    with pytest.raises(ValueError, match="expected track_id >= 0"):
        write_mot(_one(track_id=[-1]), out)
    with pytest.raises(ValueError, match="box size > 0"):
        write_mot(_one(w=[0.0]), out)
    with pytest.raises(ValueError, match="score in"):
        write_mot(_one(score=[1.5]), out)
    with pytest.raises(ValueError, match="classes in"):
        write_mot(_one(cls=[3]), out, kind="gt")
    with pytest.raises(ValueError, match="once per frame"):
        write_mot(_one(frame=[0, 0], track_id=[2, 2], x=[1.0, 2.0], y=[1.0, 2.0],
                       w=[1.0, 1.0], h=[1.0, 1.0], cls=[0, 0], score=[1.0, 1.0]), out)
    assert not out.exists()


def test_written_files_evaluate_perfectly_in_trackeval(real_tracks: pd.DataFrame,
                                                       tmp_path: Path) -> None:
    import trackeval  # the test extra installs it
    seq = tmp_path / "gt" / "VISEM-test" / "v11"
    (seq / "gt").mkdir(parents=True)
    write_mot(real_tracks, seq / "gt" / "gt.txt", kind="gt")
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=v11\nseqLength=40\n")
    (tmp_path / "gt" / "seqmaps").mkdir()
    (tmp_path / "gt" / "seqmaps" / "VISEM-test.txt").write_text("name\nv11\n")
    data = tmp_path / "trackers" / "VISEM-test" / "me" / "data"
    data.mkdir(parents=True)
    write_mot(real_tracks, data / "v11.txt", kind="tracker")
    quiet = {"PRINT_CONFIG": False, "PRINT_RESULTS": False, "OUTPUT_SUMMARY": False,
             "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "TIME_PROGRESS": False,
             "USE_PARALLEL": False, "DISPLAY_LESS_PROGRESS": True}
    dataset = trackeval.datasets.MotChallenge2DBox({
        "GT_FOLDER": str(tmp_path / "gt"), "TRACKERS_FOLDER": str(tmp_path / "trackers"),
        "BENCHMARK": "VISEM", "SPLIT_TO_EVAL": "test", "TRACKERS_TO_EVAL": ["me"],
        "DO_PREPROC": False, "PRINT_CONFIG": False,
        "SEQMAP_FOLDER": str(tmp_path / "gt" / "seqmaps")})
    metrics = [trackeval.metrics.HOTA({"PRINT_CONFIG": False}),
               trackeval.metrics.CLEAR({"PRINT_CONFIG": False})]
    res, msg = trackeval.Evaluator(quiet).evaluate([dataset], metrics)
    assert msg == {"MotChallenge2DBox": {"me": "Success"}}
    out = res["MotChallenge2DBox"]["me"]["COMBINED_SEQ"]["pedestrian"]
    assert out["CLEAR"]["MOTA"] == 1.0 and np.mean(out["HOTA"]["HOTA"]) == pytest.approx(1.0)
    assert out["CLEAR"]["CLR_TP"] == len(real_tracks)
