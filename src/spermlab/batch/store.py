"""The batch's results store: one embedded DuckDB file, written by the coordinating process.

``OUT/spermlab.duckdb`` holds

* ``samples``: one row per sample (id, path, input hash, state and error, every WHO share per
  track and per snapshot, concentration, counts, the quality verdict and warnings, the
  calibration with the source of each value, software version);
* ``kinematics``: one row per measured track, with its ``sample_id``;
* ``tracks``: a view over the samples' ``tracks.parquet`` files (``sample_id`` from the path);
* ``reviews``: a person's changes to the machine's grades (one row per change: sample, track,
  machine grade, action, new grade, reviewer, reason, time), from each sample's
  ``summary.json`` ``review`` block (:mod:`spermlab.analysis.review`);
* ``reviewed``: one row per reviewed sample with the shares recomputed after the review;
  the machine's shares stay in ``samples``.

Each sample is written in one transaction that first deletes its earlier rows, so re-running
a sample replaces it and a crash leaves the store as it was before that sample (DuckDB's
write-ahead log makes a transaction all or nothing). ``OUT/summary.csv`` (one row per
sample) is rewritten atomically after each sample. Within one process (the web app's
threads), writes and queries take turns (a lock): DuckDB refuses a read-only and a
read-write connection to one file in one process at the same time.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from spermlab.tables import KINEMATICS

__all__ = ["REVIEWED_COLUMNS", "REVIEW_COLUMNS", "SAMPLE_COLUMNS", "STORE", "ensure_store", "query", "update_store"]

STORE = "spermlab.duckdb"

#: Columns of the ``samples`` table and their DuckDB types.
SAMPLE_COLUMNS: dict[str, str] = {
    "sample_id": "VARCHAR", "path": "VARCHAR", "sha256": "VARCHAR", "state": "VARCHAR",
    "error": "VARCHAR", "n_graded": "BIGINT", "n_frames": "BIGINT", "count_a": "BIGINT",
    "count_b": "BIGINT", "count_c": "BIGINT", "count_d": "BIGINT", "rapid": "DOUBLE",
    "slow": "DOUBLE", "non_progressive": "DOUBLE", "immotile": "DOUBLE", "progressive": "DOUBLE",
    "total_motile": "DOUBLE", "progressive_snapshot": "DOUBLE", "non_progressive_snapshot": "DOUBLE",
    "immotile_snapshot": "DOUBLE", "concentration_m_per_ml": "DOUBLE",
    "mean_heads_per_frame": "DOUBLE", "quality": "VARCHAR", "warnings": "VARCHAR",
    "um_per_px": "DOUBLE", "fps": "DOUBLE", "chamber_depth_um": "DOUBLE",
    "calibration_sources": "VARCHAR", "detector": "VARCHAR", "spermlab_version": "VARCHAR",
    "seconds": "DOUBLE", "finished_at": "VARCHAR",
}  # fmt: skip

#: Columns of the ``reviewed`` table: the shares after a person's review.
REVIEWED_COLUMNS: dict[str, str] = {
    "sample_id": "VARCHAR", "n_graded": "BIGINT", "n_excluded": "BIGINT", "n_changed": "BIGINT",
    "count_a": "BIGINT", "count_b": "BIGINT", "count_c": "BIGINT", "count_d": "BIGINT",
    "rapid": "DOUBLE", "slow": "DOUBLE", "non_progressive": "DOUBLE", "immotile": "DOUBLE",
    "progressive": "DOUBLE", "total_motile": "DOUBLE", "progressive_snapshot": "DOUBLE",
    "non_progressive_snapshot": "DOUBLE", "immotile_snapshot": "DOUBLE", "reviewed_at": "VARCHAR",
}  # fmt: skip

#: Columns of the ``reviews`` table: one row per change, in the order made (``seq``).
REVIEW_COLUMNS: dict[str, str] = {
    "sample_id": "VARCHAR", "seq": "BIGINT", "track_id": "BIGINT", "machine_grade": "VARCHAR",
    "action": "VARCHAR", "grade": "VARCHAR", "reviewer": "VARCHAR", "reason": "VARCHAR",
    "at": "VARCHAR",
}  # fmt: skip

_DUCK = {"int64": "BIGINT", "float64": "DOUBLE", "object": "VARCHAR"}
_LOCK = threading.RLock()  # one store connection at a time in this process


def _require_duckdb():
    try:
        import duckdb
    except ImportError as e:  # a core dependency: a broken install
        raise ImportError("the batch results store needs DuckDB: pip install duckdb "
                          "(a core dependency of spermlab; reinstall spermlab)") from e
    return duckdb


def _connect(folder: Path, read_only: bool = False):
    duckdb = _require_duckdb()
    con = duckdb.connect(str(Path(folder) / STORE), read_only=read_only)
    if not read_only:
        cols = ", ".join(f"{c} {t}" for c, t in SAMPLE_COLUMNS.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS samples ({cols}, PRIMARY KEY (sample_id))")
        kcols = ", ".join(f'"{c}" {_DUCK[t]}' for c, t in KINEMATICS.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS kinematics (sample_id VARCHAR, {kcols})")
        for name, columns in (("reviewed", REVIEWED_COLUMNS), ("reviews", REVIEW_COLUMNS)):
            cols = ", ".join(f'"{c}" {t}' for c, t in columns.items())
            con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
    return con


def ensure_store(folder: str | Path) -> Path:
    """Create the store of a batch folder, or add the tables an older store lacks; return it."""
    with _LOCK:
        _connect(Path(folder)).close()
    return Path(folder) / STORE


def sample_row(sample_id: str, ledger_row: dict[str, Any], summary: dict[str, Any] | None) -> dict:
    """One ``samples`` row from a ledger entry and (for a done sample) its summary.json."""
    row: dict[str, Any] = {c: None for c in SAMPLE_COLUMNS}
    row.update(sample_id=sample_id, path=str(ledger_row.get("path")), sha256=ledger_row.get("sha256"),
               state=ledger_row.get("state"), error=ledger_row.get("error"),
               seconds=ledger_row.get("seconds"), finished_at=ledger_row.get("finished_at"))  # fmt: skip
    if summary:
        p, fw, cal = summary["percentages"], summary["percentages_frame_weighted"], summary["calibration"]
        row.update(
            n_graded=summary["n_graded"], n_frames=summary["n_frames"],
            **{f"count_{g}": summary["counts"][g] for g in "abcd"},
            **{k: p[k] for k in ("rapid", "slow", "non_progressive", "immotile", "progressive",
                                 "total_motile")},
            progressive_snapshot=fw["progressive"], non_progressive_snapshot=fw["non_progressive"],
            immotile_snapshot=fw["immotile"], concentration_m_per_ml=summary["concentration_m_per_ml"],
            mean_heads_per_frame=summary["mean_heads_per_frame"],
            quality=(summary.get("quality") or {}).get("level"),
            warnings=json.dumps(summary.get("warnings", [])), um_per_px=cal["um_per_px"],
            fps=cal["fps"], chamber_depth_um=cal.get("chamber_depth_um"),
            calibration_sources=json.dumps(cal.get("sources", {})),
            detector=summary.get("parameters", {}).get("detector", {}).get("type"),
            spermlab_version=summary.get("software", {}).get("spermlab"),
        )  # fmt: skip
    return row


def update_store(folder: str | Path, sample_id: str, ledger_row: dict[str, Any],
                 result_dir: str | Path | None) -> None:
    """Replace one sample's rows in the store (one transaction) and rewrite summary.csv.

    Parameters
    ----------
    folder : str or Path
        The batch's output folder.
    sample_id : str
    ledger_row : dict
        The sample's ledger entry (state, path, sha256, error, seconds, finished_at).
    result_dir : str or Path, optional
        The sample's results folder when it is done; None for a failed sample.
    """
    from spermlab.io.results import read_results

    folder = Path(folder)
    summary, kin = None, None
    if result_dir is not None:
        res = read_results(result_dir)
        summary, kin = res["summary"], res["kinematics"]
    row = sample_row(sample_id, ledger_row, summary)
    review = (summary or {}).get("review") or {}
    with _LOCK:
        _write(folder, sample_id, row, kin, review)


def _write(folder: Path, sample_id: str, row: dict, kin: pd.DataFrame | None, review: dict) -> None:
    from spermlab.io.atomic import write_table

    con = _connect(folder)
    try:
        _replace_rows(con, sample_id, row, kin, review)
        if any((folder / "samples").glob("*/tracks.parquet")):
            pattern = str(folder / "samples" / "*" / "tracks.parquet").replace("'", "''")
            con.execute("CREATE OR REPLACE VIEW tracks AS SELECT regexp_extract(filename, "
                        "'samples/([^/]+)/tracks.parquet', 1) AS sample_id, * EXCLUDE (filename) "
                        f"FROM read_parquet('{pattern}', filename = true)")  # fmt: skip
        table = con.execute("SELECT * FROM samples ORDER BY sample_id").df()
    finally:
        con.close()
    write_table(table, folder / "summary", formats=("csv",))


def _review_rows(sample_id: str, review: dict) -> tuple[dict | None, list[dict]]:
    """The ``reviewed`` row and the ``reviews`` rows of a sample's review block."""
    changes = review.get("changes") or []
    if not changes:
        return None, []
    p, fw = review["percentages"], review["percentages_frame_weighted"]
    row = {"sample_id": sample_id, "n_graded": review["n_graded"], "n_excluded": review["n_excluded"],
           "n_changed": review["n_changed"], **{f"count_{g}": review["counts"][g] for g in "abcd"},
           **{k: p[k] for k in ("rapid", "slow", "non_progressive", "immotile", "progressive",
                                "total_motile")},
           "progressive_snapshot": fw["progressive"], "non_progressive_snapshot": fw["non_progressive"],
           "immotile_snapshot": fw["immotile"], "reviewed_at": review.get("reviewed_at")}  # fmt: skip
    rows = [{"sample_id": sample_id, "seq": i, **{c: ch.get(c) for c in REVIEW_COLUMNS
                                                   if c not in ("sample_id", "seq")}}
            for i, ch in enumerate(changes)]  # fmt: skip
    return row, rows


def _insert(con, table: str, columns: dict[str, str], row: dict) -> None:
    cols = list(columns)
    names = ", ".join(f'"{c}"' for c in cols)
    con.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(cols))})",
                [row[c] for c in cols])


def _replace_rows(con, sample_id: str, row: dict, kin: pd.DataFrame | None, review: dict) -> None:
    """Delete a sample's rows and insert the new ones, all or nothing."""
    reviewed, changes = _review_rows(sample_id, review)
    con.execute("BEGIN TRANSACTION")
    try:
        for table in ("samples", "kinematics", "reviewed", "reviews"):
            con.execute(f"DELETE FROM {table} WHERE sample_id = ?", [sample_id])
        if reviewed is not None:
            _insert(con, "reviewed", REVIEWED_COLUMNS, reviewed)
        for r in changes:
            _insert(con, "reviews", REVIEW_COLUMNS, r)
        cols = list(SAMPLE_COLUMNS)
        con.execute(f"INSERT INTO samples ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    [row[c] for c in cols])  # fmt: skip
        if kin is not None and len(kin):
            k = kin[list(KINEMATICS)].assign(grade=kin["grade"].astype(str))
            con.register("k_new", k)
            names = ", ".join(f'"{c}"' for c in KINEMATICS)
            con.execute(f"INSERT INTO kinematics (sample_id, {names}) SELECT ?, {names} FROM k_new",
                        [sample_id])  # fmt: skip
            con.unregister("k_new")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def query(folder: str | Path, sql: str) -> pd.DataFrame:
    """Run one SQL statement on a batch's store (read-only) and return the result table.

    Examples
    --------
    >>> query("study", "SELECT sample_id, progressive FROM samples")  # doctest: +SKIP
    """
    folder = Path(folder)
    if not (folder / STORE).is_file():
        from spermlab.errors import FormatError

        raise FormatError(folder, f"holds no {STORE}: not a batch folder (spermlab batch --out)")
    with _LOCK:
        con = _connect(folder, read_only=True)
        try:
            return con.execute(sql).df()
        finally:
            con.close()
