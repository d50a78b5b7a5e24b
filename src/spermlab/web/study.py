"""The study: the batch store as a sortable, filterable table, the cohort page, and downloads.

The table is the store's ``samples`` (the machine's numbers) joined with ``reviewed`` (the
shares after a person's review, where there is one). Sorting and filtering happen on the
server from the query string (``?state=done&quality=ok&reviewed=yes&q=S_00&min_pr=30
&sort=progressive&order=desc``), so a filtered view is a link that can be kept or sent.
"""

from __future__ import annotations

import io
import math
from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from spermlab.web.app import render

__all__ = ["COLUMNS", "router", "study_table"]

router = APIRouter()

#: The table's columns: store column, heading, digits (None: text).
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("sample_id", "sample", None), ("state", "state", None), ("quality", "verdict", None),
    ("n_graded", "graded", 0), ("progressive", "PR %", 1), ("non_progressive", "NP %", 1),
    ("immotile", "IM %", 1), ("total_motile", "total motile %", 1),
    ("concentration_m_per_ml", "conc. ×10⁶/mL", 1), ("reviewed_progressive", "reviewed PR %", 1),
    ("reviewed_changes", "changes", 0), ("um_per_px", "µm/px", 4), ("fps", "fps", 1),
    ("detector", "detector", None), ("finished_at", "finished", None),
)  # fmt: skip

_SQL = ("SELECT s.*, r.progressive AS reviewed_progressive, r.total_motile AS reviewed_total_motile, "
        "r.immotile AS reviewed_immotile, r.n_changed AS reviewed_changes, r.reviewed_at "
        "FROM samples s LEFT JOIN reviewed r USING (sample_id) ORDER BY s.sample_id")  # fmt: skip


def study_table(request: Request) -> pd.DataFrame:
    """Every sample of the store, with its reviewed shares (an empty table before the first)."""
    from spermlab.batch.store import STORE, ensure_store, query

    study = request.app.state.settings.study_dir
    if not (study / STORE).is_file():
        return pd.DataFrame(columns=[c for c, _, _ in COLUMNS])
    ensure_store(study)
    return query(study, _SQL)


def _filtered(t: pd.DataFrame, p: dict[str, str]) -> pd.DataFrame:
    if p.get("state") in ("done", "failed"):
        t = t[t["state"] == p["state"]]
    if p.get("quality") in ("ok", "caution", "fail"):
        t = t[t["quality"] == p["quality"]]
    if p.get("reviewed") == "yes":
        t = t[t["reviewed_changes"].notna()]
    elif p.get("reviewed") == "no":
        t = t[t["reviewed_changes"].isna()]
    if p.get("q"):
        t = t[t["sample_id"].str.contains(p["q"], case=False, regex=False)]
    for key, op in (("min_pr", "ge"), ("max_pr", "le")):
        v = _float(p.get(key))
        if v is not None:
            t = t[getattr(t["progressive"], op)(v)]
    sort = p.get("sort") if p.get("sort") in {c for c, _, _ in COLUMNS} else "sample_id"
    return t.sort_values(sort, ascending=p.get("order") != "desc", na_position="last", kind="stable")


def _float(text: str | None) -> float | None:
    try:
        v = float(str(text).strip())
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _cell(v: Any, digits: int | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "—"
    if digits is None:
        return str(v)
    return f"{float(v):.{digits}f}"


@router.get("/study")
def study_page(request: Request) -> Response:
    """The store as a table: every sample, sortable by any column, filtered by the form."""
    params = dict(request.query_params)
    full = study_table(request)
    table = _filtered(full, params) if len(full) else full
    rows = [{"id": r["sample_id"], "state": r["state"], "quality": r.get("quality"),
             "reviewed": r.get("reviewed_changes") is not None and not pd.isna(r.get("reviewed_changes")),
             "cells": [(c, _cell(r.get(c), d), "" if pd.isna(r.get(c)) else r.get(c)) for c, _, d in COLUMNS],
             "error": r.get("error")}
            for r in table.to_dict("records")]  # fmt: skip
    return render(request, "study.html.j2", active="study", rows=rows, columns=COLUMNS,
                  params=params, n_all=len(full), sort=params.get("sort", "sample_id"),
                  order=params.get("order", "asc"))  # fmt: skip


@router.get("/api/study")
def study_api(request: Request) -> JSONResponse:
    """The study table as JSON records (machine and reviewed shares)."""
    t = _filtered(study_table(request), dict(request.query_params))
    return JSONResponse({"samples": _records(t)})


def _records(t: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v)
             for k, v in r.items()} for r in t.astype(object).to_dict("records")]  # fmt: skip


@router.get("/study/cohort")
def cohort(request: Request) -> Response:
    """The cohort page of the study (``spermlab report`` on the batch folder), freshly written."""
    from spermlab.report.cohort import write_cohort_report

    study = request.app.state.settings.study_dir
    if not (study / "ledger.json").is_file():
        raise HTTPException(404, "no sample analysed yet: start one on the New analysis page")
    return FileResponse(write_cohort_report(study), media_type="text/html")


@router.get("/study/samples/{sample_id}/report.html")
def cohort_link(sample_id: str) -> RedirectResponse:
    """The cohort page's links to each sample's report lead to the sample's page."""
    return RedirectResponse(f"/samples/{sample_id}", status_code=303)


_TABLES = {"samples": _SQL, "kinematics": "SELECT * FROM kinematics ORDER BY sample_id, track_id",
           "reviews": "SELECT * FROM reviews ORDER BY sample_id, seq"}


@router.get("/study/download/{name}")
def study_download(request: Request, name: str) -> Response:
    """``samples``, ``kinematics`` or ``reviews`` of the store as ``.csv`` or ``.parquet``."""
    from spermlab.batch.store import STORE, ensure_store, query

    stem, _, ext = name.partition(".")
    if stem not in _TABLES or ext not in ("csv", "parquet"):
        raise HTTPException(404, f"{name}: expected one of "
                                 f"{', '.join(f'{t}.csv/.parquet' for t in _TABLES)}")  # fmt: skip
    study = request.app.state.settings.study_dir
    if not (study / STORE).is_file():
        raise HTTPException(404, "no sample analysed yet")
    ensure_store(study)
    t = query(study, _TABLES[stem])
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if ext == "csv":
        return Response(t.to_csv(index=False), media_type="text/csv", headers=headers)
    buf = io.BytesIO()
    t.to_parquet(buf, index=False)
    return Response(buf.getvalue(), media_type="application/vnd.apache.parquet", headers=headers)
