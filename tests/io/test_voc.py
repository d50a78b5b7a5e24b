"""Tests of spermlab.io.voc on the 184 real SVIA subset-A files and every rule."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from spermlab import FormatError, tables
from spermlab.io.voc import IMPURITY, SVIA_CLASSES, read_voc, read_voc_folder

MALFORMED = Path(__file__).parent / "malformed" / "voc"
KEEP = {**SVIA_CLASSES, "Impurity": IMPURITY}

# file, 1-based line, message fragment
CASES = [
    ("not_xml.xml", 7, "expected well-formed XML, got: unclosed token (column 2)"),
    ("wrong_root.xml", 1, "expected an <annotation> root element, got <annotations>"),
    ("no_size.xml", 1, "<size><width>: expected a positive integer, got None"),
    ("unknown_class.xml", 8, "<object>: <name>: expected one of ['Impurity', 'S'], got 'Sperm'"),
    ("no_bndbox.xml", 8, "<object>: expected a <bndbox>, got none"),
    ("not_a_number.xml", 8, "<object>: <ymin>: expected a number, got 'a'"),
    ("inverted_box.xml", 8, "<bndbox>: expected xmin < xmax and ymin < ymax, got "
                            "[10.0, 1.0, 10.0, 10.0]"),
    ("outside_image.xml", 8, "<bndbox>: expected a box inside [0, 698] x [0, 528], got "
                             "[690.0, 1.0, 700.0, 10.0]"),
]
# per video in the shared copy: (files, S boxes, Impurity boxes)
EXPECTED = {"S_0001": (45, 1691, 92), "S_0002": (19, 503, 19), "S_0003": (38, 944, 38),
            "S_0004": (82, 1253, 0)}


@pytest.fixture(scope="module")
def subset_a(data_dir: Path) -> Path:
    path = data_dir / "videos" / "svia" / "subset_A"
    if not path.is_dir():
        msg = f"SVIA subset A not found at {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def test_all_184_real_files(subset_a: Path) -> None:
    total_s = total_impurity = total_files = 0
    for stem, (n_frames, n_s, n_impurity) in EXPECTED.items():
        det = read_voc_folder(subset_a, stem=stem)
        kept = read_voc_folder(subset_a, stem=stem, classes=KEEP)
        pd.testing.assert_frame_equal(det, tables.validate(det, tables.DETECTIONS))
        assert (det["cls"] == 0).all() and len(det) == n_s
        assert (kept["cls"] == IMPURITY).sum() == n_impurity
        assert sorted(kept["frame"].unique()) == list(range(n_frames))  # NNNN - 1
        assert det["frame"].is_monotonic_increasing
        assert (kept["x"] - kept["w"] / 2 >= 0).all() and (kept["x"] + kept["w"] / 2 <= 698).all()
        assert (kept["y"] - kept["h"] / 2 >= 0).all() and (kept["y"] + kept["h"] / 2 <= 528).all()
        total_s += n_s
        total_impurity += n_impurity
        total_files += n_frames
    # the README's 6,724 S boxes include a hold-out; this copy has 4,391 S and 149 Impurity
    assert (total_files, total_s, total_impurity) == (184, 4391, 149)


def test_documented_first_box(subset_a: Path) -> None:
    det = read_voc(subset_a / "S_0004_0001.xml")
    # <xmin>191</xmin><ymin>27</ymin><xmax>203</xmax><ymax>42</ymax>, frame 0001 -> 0
    assert det.iloc[0].tolist() == [0, 197.0, 34.5, 12.0, 15.0, 0, 1.0]
    assert read_voc(subset_a / "S_0004_0001.xml", frame=7)["frame"].unique().tolist() == [7]


def test_folder_needs_a_stem_when_it_holds_several_videos(subset_a: Path) -> None:
    with pytest.raises(ValueError, match=r"stems \['S_0001', 'S_0002', 'S_0003', 'S_0004'\]"):
        read_voc_folder(subset_a)
    det = read_voc_folder(subset_a, stem="S_0002", frames=[0, 18])
    assert det["frame"].unique().tolist() == [0, 18]
    with pytest.raises(FormatError, match="expected a file for frame 19") as info:
        read_voc_folder(subset_a, stem="S_0002", frames=[19])
    assert info.value.path.endswith("S_0002_0020.xml")


def test_frame_number_from_the_file_name(tmp_path: Path) -> None:
    src = (MALFORMED / "mixed.xml").read_text()
    (tmp_path / "clip.xml").write_text(src)
    with pytest.raises(ValueError, match="explicit frame="):
        read_voc(tmp_path / "clip.xml", problems=[])
    (tmp_path / "clip_0010.xml").write_text(src)
    assert read_voc_folder(tmp_path, frames=[9], problems=[])["frame"].tolist() == [9, 9]


@pytest.mark.parametrize(("name", "line_no", "fragment"), CASES)
def test_each_rule_raises(name: str, line_no: int, fragment: str) -> None:
    path = MALFORMED / name
    with pytest.raises(FormatError) as info:
        read_voc(path, frame=0)
    err = info.value
    assert fragment in err.message
    assert err.path == str(path) and err.line_no == line_no
    problems: list[FormatError] = []
    kept = read_voc(path, frame=0, problems=problems)
    assert len(problems) == 1
    assert len(kept) == (1 if line_no == 8 else 0)  # a bad object drops only itself


def test_collect_mode_reports_every_problem() -> None:
    problems: list[FormatError] = []
    det = read_voc(MALFORMED / "mixed.xml", frame=3, problems=problems)
    assert [p.line_no for p in problems] == [12, 16]
    assert problems[0].line == "\t<object>"
    assert det[["x", "y", "w", "h"]].values.tolist() == [[197.0, 34.5, 12.0, 15.0],
                                                         [30.0, 40.0, 20.0, 20.0]]
    kept = read_voc(MALFORMED / "mixed.xml", frame=3, classes=KEEP, problems=[])
    assert kept["cls"].tolist() == [0, IMPURITY, 0]


def test_corpus_files_are_all_tested_and_documented() -> None:
    names = {p.name for p in MALFORMED.iterdir()}
    assert names == {c[0] for c in CASES} | {"mixed.xml"}
    readme = (MALFORMED.parent / "README.md").read_text()
    assert all(f"voc/{n}" in readme for n in names)
