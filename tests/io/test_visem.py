"""Tests of spermlab.io.visem on the real VISEM / VISEM-Tracking files and every rule."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spermlab import FormatError, tables
from spermlab.io.visem import (
    CLINICAL_TABLES,
    TrackSet,
    read_clinical,
    read_frame_counts,
    read_visem_detections,
    read_visem_tracks,
    write_visem_labels,
    write_visem_tracks,
)

MALFORMED = Path(__file__).parent / "malformed"


@pytest.fixture(scope="module")
def video11(data_dir: Path) -> Path:
    return data_dir / "visem_tracking" / "11"


@pytest.fixture(scope="module")
def real_tracks(video11: Path) -> TrackSet:
    return read_visem_tracks(video11)


@pytest.fixture(scope="module")
def real_detections(video11: Path) -> pd.DataFrame:
    return read_visem_detections(video11)


def _tracks(frames: list[int], ids: list[int], cls: list[int] | None = None) -> pd.DataFrame:
    n = len(frames)
    return pd.DataFrame({
        "frame": frames, "x": [100.0 + 10 * i for i in range(n)], "y": [200.0] * n,
        "w": [17.0] * n, "h": [18.0] * n, "cls": cls or [0] * n, "score": [1.0] * n,
        "track_id": ids,
    })


# --- the real video 11 -------------------------------------------------------------------

def test_real_labels_hold_the_documented_boxes(real_detections: pd.DataFrame) -> None:
    det = real_detections
    pd.testing.assert_frame_equal(det, tables.validate(det, tables.DETECTIONS))
    assert len(det) == 39_076
    assert det["cls"].value_counts().to_dict() == {0: 37_302, 1: 1_774}
    per_frame = det.groupby("frame").size()
    assert per_frame.index.tolist() == list(range(1000))
    assert per_frame.min() == 36 and per_frame.max() == 43
    assert det["frame"].is_monotonic_increasing  # numeric, not lexical, frame order
    assert (det["x"] - det["w"] / 2 >= 0).all() and (det["x"] + det["w"] / 2 <= 640).all()
    assert (det["y"] - det["h"] / 2 >= 0).all() and (det["y"] + det["h"] / 2 <= 480).all()
    assert det.iloc[0].tolist() == [0, 176.5, 198.0, 17.0, 18.0, 0, 1.0]


def test_real_tracks_hold_54_ids_and_agree_with_labels(
    real_tracks: TrackSet, real_detections: pd.DataFrame
) -> None:
    tracks, id_map = real_tracks
    assert len(id_map) == 54 and sorted(id_map) == list(range(54))
    assert id_map[0] == "ckz3v9nzv00033867jsekqdcl"  # first line of frame 0
    assert tracks["track_id"].iloc[:3].tolist() == [0, 1, 2]
    pd.testing.assert_frame_equal(tracks.drop(columns="track_id"), real_detections)
    assert not tracks.duplicated(["frame", "track_id"]).any()
    # ids are numbered in order of first appearance
    first_seen = tracks.drop_duplicates("track_id")["track_id"].tolist()
    assert first_seen == list(range(54))
    keyed = real_tracks.to_pandas()
    assert keyed["track_key"].iloc[0] == "ckz3v9nzv00033867jsekqdcl"
    assert real_tracks.to_dict()["n_tracks"] == 54


def test_reading_all_1000_ftid_frames_is_fast(video11: Path) -> None:
    start = time.perf_counter()
    read_visem_tracks(video11, check_labels=True)
    assert time.perf_counter() - start < 3.0


def test_frame_selection_and_image_size(video11: Path) -> None:
    det = read_visem_detections(video11, frames=[10, 2])
    assert det["frame"].unique().tolist() == [2, 10]
    with pytest.raises(ValueError, match="image size is 640 x 480"):
        read_visem_detections(video11, frames=[0], width=320)
    with pytest.raises(FormatError, match="expected a file for frame 5000"):
        read_visem_detections(video11, frames=[0, 5000])
    problems: list[FormatError] = []
    assert len(read_visem_detections(video11, frames=[0, 5000], problems=problems)) == 43
    assert problems[0].path.endswith("labels/11_frame_5000.txt")


def test_real_folder_round_trip_reproduces_the_files(
    video11: Path, real_tracks: TrackSet, tmp_path: Path
) -> None:
    written = write_visem_tracks(real_tracks.tracks, tmp_path, stem="11",
                                 id_map=real_tracks.id_map)
    assert len(written) == 1000 and written[2].name == "11_frame_2_with_ftid.txt"
    for n in (0, 1, 2, 10, 999):
        for sub, name in (("labels_ftid", f"11_frame_{n}_with_ftid.txt"),
                          ("labels", f"11_frame_{n}.txt")):
            assert (tmp_path / sub / name).read_text() == (video11 / sub / name).read_text()
    back = read_visem_tracks(tmp_path)
    pd.testing.assert_frame_equal(back.tracks, real_tracks.tracks, check_exact=True)
    assert back.id_map == real_tracks.id_map


def test_counts_csv_matches_the_labels_of_video_11(
    data_dir: Path, real_detections: pd.DataFrame
) -> None:
    counts = read_frame_counts(data_dir / "visem_tracking" / "sperm_counts_per_frame.csv")
    assert list(counts.columns) == ["video_id", "frame", "sperm", "cluster", "small_or_pinhead"]
    assert (counts.dtypes == "int64").all()
    assert len(counts) == 28_776 and counts["video_id"].nunique() == 20
    v11 = counts[counts["video_id"] == 11].set_index("frame")
    assert v11.index.tolist() == list(range(1050))  # frames 1050-1469 are withheld
    mine = real_detections.groupby(["frame", "cls"]).size().unstack(fill_value=0)
    expected = v11.loc[0:999, ["sperm", "cluster", "small_or_pinhead"]]
    np.testing.assert_array_equal(mine.reindex(columns=[0, 1, 2], fill_value=0), expected)
    # video 23 has 1296 rows, but its frame numbers run to 1469 with two gaps
    v23 = counts[counts["video_id"] == 23]["frame"]
    assert len(v23) == 1296 and v23.max() == 1469
    assert sorted(set(range(1470)) - set(v23)) == [*range(823, 973), *range(1084, 1108)]


def test_clinical_tables_read_as_numbers(data_dir: Path) -> None:
    n_cols = {"semen_analysis": 16, "participant": 4, "sex_hormones": 9,
              "fatty_acids_serum": 16, "fatty_acids_sperm": 24}
    for table in CLINICAL_TABLES:
        df = read_clinical(data_dir / "visem", table=table, aliases=False)
        assert df.shape == (85, n_cols[table]), table
        assert df["participant_id"].tolist() == list(range(1, 86))
        assert (df.dtypes.iloc[1:] == "float64").all()
    semen = read_clinical(data_dir / "visem" / "semen_analysis_data.csv")
    p11 = semen.set_index("participant_id").loc[11]
    assert p11["progressive_pct"] == 11 and p11["non_progressive_pct"] == 17
    assert p11["immotile_pct"] == 72 and p11["concentration"] == 97.0
    assert p11["Sperm concentration (x10⁶/mL)"] == 97.0 and p11["Teratozoospermia index"] == 1.45
    motility = semen[["progressive_pct", "non_progressive_pct", "immotile_pct"]].sum(axis=1)
    assert (motility == 100).all()
    participant = read_clinical(data_dir / "visem", table="participant")
    missing = participant[participant.isna().any(axis=1)]
    assert missing["participant_id"].tolist() == [24]  # abstinence time "Not reported"
    with pytest.raises(ValueError, match="table: expected one of"):
        read_clinical(data_dir / "visem", table="hormones")
    by_name = read_clinical(data_dir / "visem" / "sex_hormones.csv")  # table from the name
    assert by_name.shape == (85, 9)


# --- writers -----------------------------------------------------------------------------

def test_writers_make_empty_files_only_for_frames_that_exist(tmp_path: Path) -> None:
    tracks = _tracks([0, 2, 2], [4, 4, 9], cls=[0, 0, 1])
    write_visem_tracks(tracks, tmp_path, stem="v", frames=4)
    names = sorted(p.name for p in (tmp_path / "labels").iterdir())
    assert names == [f"v_frame_{n}.txt" for n in range(4)]
    assert (tmp_path / "labels" / "v_frame_3.txt").read_text() == ""
    assert (tmp_path / "labels_ftid" / "v_frame_2_with_ftid.txt").read_text().startswith("4 0 ")
    back, id_map = read_visem_tracks(tmp_path, width=640, height=480)
    assert id_map == {0: "4", 1: "9"} and back["frame"].tolist() == [0, 2, 2]
    only_present = write_visem_labels(tracks, tmp_path / "b", stem="v")
    assert [p.name for p in only_present] == ["v_frame_0.txt", "v_frame_2.txt"]
    listed = write_visem_labels(tracks, tmp_path / "c", stem="v", frames=[0, 1, 2])
    assert len(listed) == 3 and listed[1].read_text() == ""
    det = read_visem_detections(tmp_path / "c")
    pd.testing.assert_frame_equal(det, tables.validate(tracks.drop(columns="track_id"),
                                                       tables.DETECTIONS))


def test_writers_refuse_bad_input(tmp_path: Path) -> None:
    tracks = _tracks([0, 1], [1, 2])
    with pytest.raises(ValueError, match=r"boxes in frame\(s\) \[1\]"):
        write_visem_tracks(tracks, tmp_path, stem="v", frames=1)
    with pytest.raises(ValueError, match="each track id once per frame"):
        write_visem_tracks(_tracks([0, 0], [1, 1]), tmp_path, stem="v")
    with pytest.raises(ValueError, match="got none for"):
        write_visem_tracks(tracks, tmp_path, stem="v", id_map={1: "a"})
    with pytest.raises(ValueError, match="without whitespace"):
        write_visem_tracks(tracks, tmp_path, stem="v", id_map={1: "a b", 2: "c"})
    with pytest.raises(ValueError, match="distinct strings"):
        write_visem_tracks(tracks, tmp_path, stem="v", id_map={1: "a", 2: "a"})
    with pytest.raises(ValueError, match="detections: expected 0-based frames >= 0, got -1"):
        write_visem_labels(tracks, tmp_path, stem="v", frames=[-1, 0, 1])
    with pytest.raises(ValueError, match="outside the image"):
        write_visem_labels(tracks.assign(x=639.0), tmp_path, stem="v")
    assert not any(tmp_path.rglob("*.txt"))


def test_stem_is_inferred_or_required(tmp_path: Path) -> None:
    write_visem_labels(_tracks([0], [0]), tmp_path, stem="a")
    write_visem_labels(_tracks([0], [0]), tmp_path, stem="b")
    with pytest.raises(ValueError, match=r"stems \['a', 'b'\]; point at one of them as FOLDER/STEM.*stem="):
        read_visem_detections(tmp_path)
    assert len(read_visem_detections(tmp_path, stem="b")) == 1
    with pytest.raises(FileNotFoundError, match="labels_ftid"):
        read_visem_tracks(tmp_path, stem="a")


# --- malformed folders and CSVs --------------------------------------------------------

# folder, reader, file the error names, 1-based line (None: whole file), message fragment
FOLDER_CASES = [
    ("duplicate_track_id", "tracks", "labels_ftid/99_frame_0_with_ftid.txt", 2,
     "track_id: expected each id once per frame, got 't1' again in frame 0 (first on line 1)"),
    ("ftid_disagrees", "tracks", "labels_ftid/99_frame_0_with_ftid.txt", 2,
     "disagrees with 99_frame_0.txt line 2: expected '1 0.25 0.25 0.05 0.05', "
     "got '1 0.25 0.25 0.05 0.06'"),
    ("ftid_extra_line", "tracks", "labels_ftid/99_frame_0_with_ftid.txt", 2,
     "expected a matching line in 99_frame_0.txt (box 2), got a file with 1 boxes"),
    ("labels_extra_line", "tracks", "labels/99_frame_0.txt", 2,
     "expected 1 boxes as in 99_frame_0_with_ftid.txt, got an extra box"),
    ("missing_labels_file", "tracks", "labels/99_frame_1.txt", None,
     "expected a labels file for frame 1 matching 99_frame_1_with_ftid.txt"),
    ("orphan_labels_file", "tracks", "labels/99_frame_2.txt", None,
     "expected a labels_ftid file for frame 2, got none"),
    ("bad_file_name", "detections", "labels/99_frame_x.txt", None,
     "file name: expected 99_frame_<n >= 0>.txt, got 99_frame_x.txt"),
    ("duplicate_frame_file", "detections", "labels/99_frame_1.txt", None,
     "expected one file for frame 1, got 99_frame_01.txt and 99_frame_1.txt"),
    ("ftid_field_count", "tracks", "labels_ftid/99_frame_1_with_ftid.txt", 1,
     "expected 6 fields (track_id class x_center y_center width height), got 5"),
    ("ftid_bad_box", "tracks", "labels_ftid/99_frame_1_with_ftid.txt", 1,
     "x_center: expected a normalised value in [0, 1], got 1.5"),
]


def _read(kind: str, folder: Path, problems: list[FormatError] | None = None) -> pd.DataFrame:
    if kind == "tracks":
        return read_visem_tracks(folder, problems=problems).tracks
    return read_visem_detections(folder, problems=problems)


@pytest.mark.parametrize(("folder", "kind", "where", "line_no", "fragment"), FOLDER_CASES)
def test_each_folder_rule_raises(folder: str, kind: str, where: str, line_no: int | None,
                                 fragment: str) -> None:
    root = MALFORMED / "visem" / folder
    with pytest.raises(FormatError) as info:
        _read(kind, root)
    err = info.value
    assert fragment in err.message
    assert err.path == str(root / where) and err.line_no == line_no
    if line_no is not None:
        assert err.line == (root / where).read_text().splitlines()[line_no - 1]


@pytest.mark.parametrize(("folder", "kind", "where", "line_no", "fragment"), FOLDER_CASES)
def test_each_folder_rule_in_collect_mode(folder: str, kind: str, where: str,
                                          line_no: int | None, fragment: str) -> None:
    problems: list[FormatError] = []
    table = _read(kind, MALFORMED / "visem" / folder, problems)
    assert [fragment in p.message for p in problems] == [True]
    assert len(table) >= 1


def test_collect_mode_drops_only_the_bad_lines() -> None:
    problems: list[FormatError] = []
    tracks, id_map = read_visem_tracks(MALFORMED / "visem" / "ftid_disagrees", problems=problems)
    assert tracks["frame"].tolist() == [0, 1] and id_map == {0: "t1"}
    unchecked = read_visem_tracks(MALFORMED / "visem" / "ftid_disagrees", check_labels=False)
    assert len(unchecked.tracks) == 3 and len(unchecked.id_map) == 2


def test_visem_corpus_is_all_tested_and_documented() -> None:
    readme = (MALFORMED / "README.md").read_text()
    for sub, cases in (("visem", FOLDER_CASES), ("visem_counts", COUNT_CASES),
                       ("clinical", CLINICAL_CASES)):
        names = {p.name for p in (MALFORMED / sub).iterdir()}
        assert names == {c[0] for c in cases}, sub
        assert all(f"{sub}/{n}" in readme for n in names)


COUNT_CASES = [
    ("bad_header.csv", 1, "header: expected frame_name, sperm_count, cluster_count"),
    ("field_count.csv", 4, "expected 4 fields (frame_name sperm_count cluster_count "
                           "small_or_pinhead_count), got 3"),
    ("bad_frame_name.csv", 4, "frame_name: expected <video>_frame_<n>, got '11_frm_2'"),
    ("not_an_integer.csv", 4, "sperm_count: expected an integer, got '43.5'"),
    ("negative_count.csv", 4, "counts: expected non-negative integers, got [-1, 0, 0]"),
    ("duplicate_frame.csv", 4, "frame_name: expected each value once, got 11_frame_1 again "
                               "(first on line 3)"),
]

CLINICAL_CASES = [
    ("bad_header.csv", 1, "header: expected 16 distinct columns starting with 'ID'"),
    ("decimal_point.csv", 3, "Sperm concentration (x10⁶/mL): expected a decimal-comma number, "
                             "got '97.0'"),
    ("cell_count.csv", 3, "expected 16 cells separated by ';', got 17"),
    ("duplicate_id.csv", 4, "ID: expected each value once, got 1 again (first on line 2)"),
    ("bad_id.csv", 3, "ID: expected a positive integer, got '0'"),
    ("empty_cell.csv", 3, "Progressive motility (%): expected a decimal-comma number, got ''"),
]


@pytest.mark.parametrize(("name", "line_no", "fragment"), COUNT_CASES)
def test_each_counts_rule(name: str, line_no: int, fragment: str) -> None:
    path = MALFORMED / "visem_counts" / name
    with pytest.raises(FormatError) as info:
        read_frame_counts(path)
    assert fragment in info.value.message and info.value.line_no == line_no
    assert info.value.line == path.read_text().splitlines()[line_no - 1]
    if line_no > 1:
        problems: list[FormatError] = []
        counts = read_frame_counts(path, problems=problems)
        assert len(problems) == 1 and counts["frame"].tolist() == [0, 1]


@pytest.mark.parametrize(("name", "line_no", "fragment"), CLINICAL_CASES)
def test_each_clinical_rule(name: str, line_no: int, fragment: str) -> None:
    path = MALFORMED / "clinical" / name
    with pytest.raises(FormatError) as info:
        read_clinical(path, table="semen_analysis")
    assert fragment in info.value.message and info.value.line_no == line_no
    if line_no > 1:
        problems: list[FormatError] = []
        df = read_clinical(path, table="semen_analysis", problems=problems)
        assert len(problems) == 1 and df["participant_id"].tolist()[:1] == [1]


def test_counts_reader_accepts_crlf_line_ends(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "visem_tracking" / "sperm_counts_per_frame.csv"
    lines = src.read_text().splitlines()[:4]
    (tmp_path / "c.csv").write_text("\r\n".join(lines) + "\r\n", newline="")
    assert read_frame_counts(tmp_path / "c.csv")["sperm"].tolist() == [43, 43, 43]
