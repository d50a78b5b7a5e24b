"""Tests of spermlab.io.yolo: the real VISEM-Tracking labels, round trips, every rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spermlab import FormatError, tables
from spermlab.io.yolo import read_yolo, write_yolo

MALFORMED = Path(__file__).parent / "malformed" / "yolo"

# file, 1-based line of the problem (None: whole file), fragment of the message
CASES = [
    ("field_count.txt", 2, "expected 5 fields (class x_center y_center width height), got 4"),
    ("not_a_number.txt", 2, "y_center: expected a number, got 'abc'"),
    ("not_finite.txt", 2, "x_center: expected a finite number, got 'nan'"),
    ("class_not_integer.txt", 2, "class: expected an integer, got '0.0'"),
    ("unknown_class.txt", 2,
     "class: expected one of 0 (sperm), 1 (cluster), 2 (small_or_pinhead), got 5"),
    ("out_of_range.txt", 2, "x_center: expected a normalised value in [0, 1], got 1.2"),
    ("zero_size.txt", 2, "box size: expected width > 0 and height > 0, got 0.0 x 0.1"),
    ("negative_size.txt", 2, "box size: expected width > 0 and height > 0, got 0.1 x -0.1"),
    ("outside_image.txt", 2, "box extends outside the image along x: expected edges within [0, 1]"),
    ("not_utf8.txt", None, "expected UTF-8 text"),
]


def _frame_file(data_dir: Path, n: int) -> Path:
    return data_dir / "visem_tracking" / "11" / "labels" / f"11_frame_{n}.txt"


def _det(**cols: list) -> pd.DataFrame:
    base = {"frame": [0], "x": [320.0], "y": [240.0], "w": [16.0], "h": [24.0], "cls": [0],
            "score": [1.0]}
    return pd.DataFrame({**base, **cols})


def test_reads_the_documented_first_line_in_pixels(data_dir: Path) -> None:
    det = read_yolo(_frame_file(data_dir, 0), width=640, height=480, frame=0)
    pd.testing.assert_frame_equal(det, tables.validate(det, tables.DETECTIONS))
    # 0 0.27578125 0.4125 0.0265625 0.0375 (the README's line 1 of 11_frame_0.txt)
    assert det.iloc[0].tolist() == [0, 176.5, 198.0, 17.0, 18.0, 0, 1.0]
    assert len(det) == 43 and (det["score"] == 1.0).all()


@pytest.mark.parametrize("n", [0, 1, 10, 517, 999])
def test_real_file_round_trip_is_exact(data_dir: Path, tmp_path: Path, n: int) -> None:
    src = _frame_file(data_dir, n)
    first = read_yolo(src, width=640, height=480, frame=n)
    out = write_yolo(first, tmp_path / "out.txt", width=640, height=480)
    second = read_yolo(out, width=640, height=480, frame=n)
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    assert out.read_text() == src.read_text()  # even the text is unchanged


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.01, 0.99), st.floats(0.01, 0.99),
                          st.floats(1e-4, 0.02), st.floats(1e-4, 0.02),
                          st.integers(0, 2)), max_size=8))
def test_round_trip_of_any_valid_boxes(tmp_path_factory: pytest.TempPathFactory,
                                       boxes: list[tuple]) -> None:
    det = pd.DataFrame(boxes, columns=["x", "y", "w", "h", "cls"], dtype=float)
    det = det.assign(x=det.x * 640, y=det.y * 480, w=det.w * 640, h=det.h * 480,
                     frame=3, score=1.0)
    det = tables.validate(det, tables.DETECTIONS)
    path = write_yolo(det, tmp_path_factory.mktemp("y") / "f.txt", width=640, height=480)
    back = read_yolo(path, width=640, height=480, frame=3)
    pd.testing.assert_frame_equal(back, det, check_exact=False, rtol=0, atol=1e-9)


def test_empty_file_is_a_frame_without_boxes(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("")
    det = read_yolo(path, width=640, height=480, frame=4)
    assert det.empty and list(det.columns) == list(tables.DETECTIONS)
    assert det.dtypes.astype(str).tolist() == list(tables.DETECTIONS.values())
    written = write_yolo(tables.empty(tables.DETECTIONS), tmp_path / "w.txt", width=9, height=9)
    assert written.read_text() == ""


def test_crlf_bom_and_blank_lines_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.1 0.1\r\n\r\n1 0.25 0.25 0.1 0.1\r\n")
    assert read_yolo(path, width=100, height=100)["cls"].tolist() == [0, 1]


@pytest.mark.parametrize(("name", "line_no", "fragment"), CASES)
def test_each_rule_raises_with_file_line_and_expectation(name: str, line_no: int | None,
                                                         fragment: str) -> None:
    path = MALFORMED / name
    with pytest.raises(FormatError) as info:
        read_yolo(path, width=640, height=480)
    err = info.value
    assert err.path == str(path) and err.line_no == line_no
    assert fragment in err.message
    if line_no is not None:
        assert err.line == path.read_text().splitlines()[line_no - 1]
        assert f"{path}:{line_no}" in str(err)


@pytest.mark.parametrize(("name", "line_no", "fragment"), CASES)
def test_each_rule_in_collect_mode_keeps_the_good_lines(name: str, line_no: int | None,
                                                        fragment: str) -> None:
    problems: list[FormatError] = []
    det = read_yolo(MALFORMED / name, width=640, height=480, problems=problems)
    assert len(problems) == 1 and fragment in problems[0].message
    assert len(det) == (1 if line_no is not None else 0)


def test_collect_mode_reports_every_problem_and_keeps_every_good_line() -> None:
    problems: list[FormatError] = []
    det = read_yolo(MALFORMED / "mixed.txt", width=640, height=480, frame=2, problems=problems)
    assert [p.line_no for p in problems] == [2, 4, 6]
    assert det["cls"].tolist() == [0, 1, 2] and (det["frame"] == 2).all()
    np.testing.assert_allclose(det["x"], [176.5, 320.0, 160.0])


def test_corpus_files_are_all_tested_and_documented() -> None:
    names = {p.name for p in MALFORMED.iterdir()}
    assert names == {c[0] for c in CASES} | {"mixed.txt"}
    readme = (MALFORMED.parent / "README.md").read_text()
    assert all(f"yolo/{n}" in readme for n in names)


def test_writer_refuses_what_the_reader_would_reject(tmp_path: Path) -> None:
    out = tmp_path / "f.txt"
    with pytest.raises(ValueError, match="expected the boxes of one frame"):
        write_yolo(_det(frame=[0, 1], x=[1.0, 2.0], y=[1.0, 2.0], w=[1.0, 1.0], h=[1.0, 1.0],
                        cls=[0, 0], score=[1.0, 1.0]), out, width=640, height=480)
    with pytest.raises(ValueError, match="row 0 .*cls: expected one of"):
        write_yolo(_det(cls=[3]), out, width=640, height=480)
    with pytest.raises(ValueError, match="outside the image"):
        write_yolo(_det(x=[635.0]), out, width=640, height=480)
    with pytest.raises(ValueError, match="width > 0"):
        write_yolo(_det(w=[0.0]), out, width=640, height=480)
    with pytest.raises(ValueError, match="image size"):
        read_yolo(out, width=0, height=480)
    assert not out.exists()


def test_writer_ignores_extra_columns_and_does_not_mutate(tmp_path: Path) -> None:
    det = _det(track_id=[5])
    before = det.copy()
    write_yolo(det, tmp_path / "f.txt", width=640, height=480)
    pd.testing.assert_frame_equal(det, before)
