import json

import numpy as np
import pandas as pd
import pytest

from spermlab.io.atomic import write_json, write_table


def test_write_json_replaces_atomically_and_maps_nan(tmp_path):
    p = tmp_path / "sub" / "summary.json"
    write_json(p, {"a": 1.0, "b": float("nan"), "c": [float("nan"), 2]})
    assert json.loads(p.read_text()) == {"a": 1.0, "b": None, "c": [None, 2]}
    write_json(p, {"a": 2})
    assert json.loads(p.read_text()) == {"a": 2}
    assert [f.name for f in p.parent.iterdir()] == ["summary.json"]  # no temp files left


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    p = tmp_path / "summary.json"
    write_json(p, {"ok": True})
    with pytest.raises(TypeError):
        write_json(p, {1j: 2})  # complex keys are not JSON
    assert json.loads(p.read_text()) == {"ok": True}
    assert [f.name for f in tmp_path.iterdir()] == ["summary.json"]


def test_write_table_csv_and_parquet_round_trip(tmp_path):
    df = pd.DataFrame({"frame": np.arange(3), "x": [1.5, 2.5, np.nan]})
    paths = write_table(df, tmp_path / "t")
    assert sorted(p.name for p in paths) == ["t.csv", "t.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), df)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), df)
    with pytest.raises(ValueError, match="unknown table format"):
        write_table(df, tmp_path / "t", formats=("xlsx",))


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    p = write_json(tmp_path / "s.json", {})
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask
