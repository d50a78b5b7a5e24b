"""A person's review: changes beside the machine's call, shares recomputed by hand-checkable rules."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest

from spermlab.analysis.review import (
    Change,
    apply_changes,
    review_block,
    review_sample,
    reviewed_kinematics,
)
from spermlab.errors import UsageError

# four tracks, one per grade; frames 10, 30, 20, 40 (100 in all)
KIN = pd.DataFrame({"track_id": [1, 2, 3, 4], "n_points": [10, 30, 20, 40], "grade": ["a", "b", "c", "d"]})


def _c(track_id, action, grade=None, **kw):
    return Change(track_id, action, grade=grade, reviewer=kw.get("reviewer", "A. Tech"),
                  reason=kw.get("reason", "seen in the gallery"))  # fmt: skip


def test_no_change_gives_the_machine_shares():
    b = review_block(KIN, [])
    assert b["status"] == "machine" and b["changes"] == [] and b["reviewed_at"] is None
    assert b["counts"] == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert b["percentages"]["progressive"] == 50.0 and b["percentages"]["total_motile"] == 75.0
    # frame-weighted: a 10, b 30, c 20, d 40 of 100 frames
    assert b["percentages_frame_weighted"]["progressive"] == pytest.approx(40.0)


def test_regrading_one_cell_moves_its_share():
    b = review_block(KIN, [_c(3, "grade", "a")])  # c -> a
    assert b["status"] == "reviewed" and b["n_changed"] == 1 and b["n_excluded"] == 0
    assert b["counts"] == {"a": 2, "b": 1, "c": 0, "d": 1}
    assert b["percentages"]["rapid"] == 50.0  # 2 of 4
    assert b["percentages"]["progressive"] == 75.0  # 3 of 4
    assert b["percentages"]["total_motile"] == 75.0
    assert b["percentages_frame_weighted"]["progressive"] == pytest.approx(60.0)  # (10 + 20 + 30) / 100
    assert b["changes"][0]["machine_grade"] == "c" and b["changes"][0]["grade"] == "a"


def test_excluding_a_track_removes_it_from_the_denominator():
    b = review_block(KIN, [_c(4, "exclude")])  # the immotile one is debris
    assert b["n_graded"] == 3 and b["n_excluded"] == 1 and b["n_changed"] == 1
    assert b["percentages"]["immotile"] == 0.0
    assert b["percentages"]["progressive"] == pytest.approx(200 / 3)
    assert b["percentages_frame_weighted"]["progressive"] == pytest.approx(40 / 60 * 100)


def test_the_last_change_of_a_track_wins_and_restore_undoes():
    b = review_block(KIN, [_c(1, "grade", "d"), _c(1, "exclude"), _c(1, "grade", "b")])
    assert b["counts"] == {"a": 0, "b": 2, "c": 1, "d": 1} and b["n_excluded"] == 0
    assert len(b["changes"]) == 3  # every change is kept, in order
    back = review_block(KIN, [_c(1, "grade", "d"), _c(1, "restore")])
    assert back["counts"] == review_block(KIN, [])["counts"] and back["n_changed"] == 0
    assert back["status"] == "reviewed"  # reviewed, and the reviewer agreed with the machine


def test_apply_changes_keeps_the_machine_grade_and_does_not_touch_the_input():
    before = KIN.copy()
    k, filled = apply_changes(KIN, [_c(2, "grade", "d"), _c(3, "exclude")])
    pd.testing.assert_frame_equal(KIN, before)
    assert k["track_id"].tolist() == [1, 2, 4]
    assert k["grade"].tolist() == ["a", "d", "d"] and k["machine_grade"].tolist() == ["a", "b", "d"]
    assert [c.machine_grade for c in filled] == ["b", "c"]


def test_no_cell_left_gives_undefined_shares():
    b = review_block(KIN, [_c(t, "exclude") for t in (1, 2, 3, 4)])
    assert b["n_graded"] == 0 and math.isnan(b["percentages"]["progressive"])


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"track_id": 1, "action": "regrade"}, "expected one of grade, exclude, restore"),
    ({"track_id": 1, "action": "grade", "grade": "e"}, "expected a grade a, b, c or d"),
    ({"track_id": 1, "action": "exclude", "grade": "a"}, "a grade goes with action 'grade'"),
    ({"track_id": 1, "action": "exclude", "reviewer": " "}, "the reviewer's name is required"),
    ({"track_id": 1, "action": "exclude", "reason": ""}, "a reason is required"),
])  # fmt: skip
def test_a_change_says_what_is_missing(kwargs, words):
    kw = {"reviewer": "me", "reason": "why", **kwargs}
    with pytest.raises(UsageError, match=words):
        Change(**kw)


def test_an_ungraded_track_is_refused_naming_the_graded_ones():
    with pytest.raises(UsageError, match=r"track 9 is not a graded track .*1, 2, 3, 4"):
        review_block(KIN, [_c(9, "exclude")])


# -- on a results folder, and in the batch store ------------------------------------------


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    from spermlab.run import analyze_source
    from spermlab.simulate import SimulationConfig, simulate, write_simulation

    root = tmp_path_factory.mktemp("review")
    sim = simulate(SimulationConfig(duration_s=1.0, concentration=40, width=320, height=240), rng=3)
    video = write_simulation(sim, root / "sim", stem="s").video
    analyze_source(video, root / "r", {"um_per_px": 0.25, "fps": None, "depth_um": 20.0,
                                       "preset_name": None}, detector="classical")  # fmt: skip
    return root / "r"


def test_review_sample_keeps_the_machine_results(result, tmp_path):
    folder = tmp_path / "r"
    shutil.copytree(result, folder)
    machine = json.loads((folder / "summary.json").read_text())
    kin_bytes = (folder / "kinematics.parquet").read_bytes()
    kin = pd.read_parquet(folder / "kinematics.parquet")
    assert len(kin) >= 2
    first, second = (int(t) for t in kin["track_id"][:2])
    new = "d" if kin["grade"].iloc[0] != "d" else "a"
    review_sample(folder, [_c(first, "grade", new, reviewer="A", reason="r1")])
    block = review_sample(folder, [_c(second, "exclude", reviewer="B", reason="debris")])
    after = json.loads((folder / "summary.json").read_text())
    assert (folder / "kinematics.parquet").read_bytes() == kin_bytes  # nothing overwritten
    for key in ("counts", "percentages", "percentages_frame_weighted", "n_graded", "calibration", "quality"):
        assert after[key] == machine[key]
    assert after["review"]["changes"] == block["changes"] and block["status"] == "reviewed"
    assert [c["reviewer"] for c in after["review"]["changes"]] == ["A", "B"]  # appended, with who
    assert after["review"]["n_graded"] == machine["n_graded"] - 1
    expected = review_block(kin, [_c(first, "grade", new), _c(second, "exclude")])
    assert after["review"]["counts"] == expected["counts"]
    rk = reviewed_kinematics(folder)
    assert second not in set(rk["track_id"]) and rk.set_index("track_id").loc[first, "grade"] == new
    with pytest.raises(UsageError, match="not a graded track"):
        review_sample(folder, [_c(10_000, "exclude")])
    assert json.loads((folder / "summary.json").read_text()) == after  # a refused change writes nothing


def test_the_store_keeps_machine_and_reviewed_shares(result, tmp_path):
    from spermlab.batch.ledger import finished_row
    from spermlab.batch.store import query, update_store

    study = tmp_path / "study"
    folder = study / "samples" / "s1"
    shutil.copytree(result, folder)
    row = finished_row(state="done", path="s.mp4", sha256="x", error=None, seconds=1.0)
    update_store(study, "s1", row, folder)
    assert len(query(study, "SELECT * FROM reviewed")) == 0
    tid = int(pd.read_parquet(folder / "kinematics.parquet")["track_id"].iloc[0])
    review_sample(folder, [_c(tid, "exclude", reviewer="A. Tech", reason="two heads")])
    update_store(study, "s1", row, folder)
    s = query(study, "SELECT * FROM samples")
    r = query(study, "SELECT * FROM reviewed")
    log = query(study, "SELECT * FROM reviews")
    machine = json.loads((folder / "summary.json").read_text())
    assert s["n_graded"].iloc[0] == machine["n_graded"]  # the machine's row is the machine's
    assert r["n_graded"].iloc[0] == machine["n_graded"] - 1 and r["n_excluded"].iloc[0] == 1
    assert log[["track_id", "action", "reviewer", "reason"]].values.tolist() == [[tid, "exclude", "A. Tech", "two heads"]]
    assert log["machine_grade"].iloc[0] in "abcd" and log["at"].iloc[0]
