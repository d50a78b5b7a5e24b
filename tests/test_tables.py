import numpy as np
import pandas as pd
import pytest

from spermlab import tables
from spermlab.tables import DETECTIONS, KINEMATICS, TRACKS, empty, validate


def _dets(n=3):
    return pd.DataFrame(
        {
            "frame": np.arange(n),
            "x": np.linspace(1, 2, n),
            "y": np.linspace(3, 4, n),
            "w": np.full(n, 17.0),
            "h": np.full(n, 18.0),
            "cls": np.zeros(n, int),
            "score": np.ones(n),
        }
    )


@pytest.mark.parametrize("schema", [DETECTIONS, TRACKS, KINEMATICS])
def test_empty_keeps_schema(schema):
    df = empty(schema)
    assert list(df.columns) == list(schema)
    assert [str(t) for t in df.dtypes] == list(schema.values())
    assert isinstance(df.index, pd.RangeIndex) and len(df) == 0
    # an empty table validates to itself
    pd.testing.assert_frame_equal(validate(df, schema), df)


def test_validate_returns_canonical_copy_and_does_not_mutate():
    df = _dets()[["score", "cls", "h", "w", "y", "x", "frame"]]  # shuffled order
    df["frame"] = df["frame"].astype("int32")
    before = df.copy()
    out = validate(df, DETECTIONS)
    assert list(out.columns) == list(DETECTIONS)
    assert out["frame"].dtype == np.int64
    pd.testing.assert_frame_equal(df, before)
    out.loc[0, "x"] = -1.0
    assert df.loc[0, "x"] == before.loc[0, "x"]


def test_validate_rejects_missing_and_unknown_columns():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['score'\]"):
        validate(_dets().drop(columns="score"), DETECTIONS, name="Detections")
    with pytest.raises(ValueError, match=r"unknown column\(s\) \['mass'\]"):
        validate(_dets().assign(mass=1.0), DETECTIONS)
    kept = validate(_dets().assign(mass=1.0), DETECTIONS, extra="keep")
    assert list(kept.columns)[-1] == "mass"


def test_validate_rejects_nan_non_numbers_fractional_ints_and_bad_index():
    df = _dets()
    df.loc[1, "x"] = np.nan
    with pytest.raises(ValueError, match=r"column 'x' row 1: expected a finite value"):
        validate(df, DETECTIONS)
    df = _dets().astype({"y": object})
    df.loc[2, "y"] = "abc"
    with pytest.raises(ValueError, match=r"'abc' is not a number"):
        validate(df, DETECTIONS)
    df = _dets().astype({"frame": float})
    df.loc[0, "frame"] = 0.5
    with pytest.raises(ValueError, match="expected an integer"):
        validate(df, DETECTIONS)
    with pytest.raises(ValueError, match="RangeIndex"):
        validate(_dets().set_axis([5, 6, 7]), DETECTIONS)
    with pytest.raises(TypeError, match="DataFrame"):
        validate(np.zeros((3, 7)), DETECTIONS)


def test_kinematics_allows_nan_in_measures_but_not_ids():
    row = {c: [1.0] for c in KINEMATICS}
    row["grade"] = ["a"]
    row["bcf"] = [np.nan]
    out = validate(pd.DataFrame(row), KINEMATICS)
    assert np.isnan(out.loc[0, "bcf"])
    row["track_id"] = [np.nan]
    with pytest.raises(ValueError, match="track_id"):
        validate(pd.DataFrame(row), KINEMATICS)


def test_class_names_are_visem_tracking_ids():
    assert tables.CLASS_NAMES == {0: "sperm", 1: "cluster", 2: "small_or_pinhead"}


def test_columns_gives_one_array_in_the_order_asked():
    from spermlab.tables import columns

    df = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0], "track_id": [7, 8]})
    np.testing.assert_array_equal(columns(df, ["y", "x"]), [[3.0, 1.0], [4.0, 2.0]])
    assert columns(df.iloc[:0], ("x", "y")).shape == (0, 2)
    with pytest.raises(KeyError):
        columns(df, ["z"])
