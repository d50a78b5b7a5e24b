"""A sample's page: its report (the report's own template), the review form, and downloads.

The page extends ``report.html.j2``: the same cards, map, gallery and tables as the file
``spermlab report`` writes, plus a review panel. A review (:func:`spermlab.analysis.review.review_sample`)
adds a change beside the machine's call in ``summary.json`` and replaces the sample's rows
in the store (``reviewed`` and ``reviews`` tables); the page then shows the machine's and
the reviewed shares side by side, marked "reviewed".

The expensive part of the report (figures, track map, cell gallery: about a second) is
computed once per analysis and kept in memory; a review only changes the review panel.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from spermlab.analysis.motility import GRADES
from spermlab.errors import UsageError
from spermlab.web.app import render, user_message

__all__ = ["DOWNLOADS", "router"]

router = APIRouter()

#: Files of a results folder the page offers for download, and what each is.
DOWNLOADS: dict[str, str] = {
    "summary.json": "every number, calibration with sources, parameters, the review",
    "kinematics.csv": "one row per graded track (machine grades)",
    "kinematics.parquet": "the same, Parquet",
    "tracks.csv": "every head position of every track",
    "tracks.parquet": "the same, Parquet",
    "detections.csv": "every head found, per frame",
    "detections.parquet": "the same, Parquet",
    "mot.txt": "the tracks as MOTChallenge text",
    "report.html": "the machine's report, one self-contained file",
    "annotated.mp4": "the recording with every head boxed and coloured by grade",
}
_SAMPLE_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")
_LOCK = threading.Lock()


def sample_dir(request: Request, sample_id: str) -> Path:
    """The results folder of a finished sample, or a 404 naming the sample."""
    if not _SAMPLE_ID.match(sample_id):
        raise HTTPException(404, f"no sample {sample_id!r}")
    folder = request.app.state.settings.study_dir / "samples" / sample_id
    if not (folder / "summary.json").is_file():
        raise HTTPException(404, f"no finished sample {sample_id!r} (still queued or running, failed, "
                                 "or never analysed: see the queue)")  # fmt: skip
    return folder


def _base_context(request: Request, sample_id: str, folder: Path) -> dict[str, Any]:
    """The report's context for a results folder, cached per analysis (not per review)."""
    from spermlab.report.html import build_context, load_results

    stat = (folder / "kinematics.parquet").stat()
    key = (sample_id, stat.st_ino, stat.st_mtime_ns)
    cache = request.app.state.report_cache
    with _LOCK:
        if key in cache:
            return cache[key]
    ctx = build_context(load_results(folder))
    with _LOCK:
        for k in [k for k in cache if k[0] == sample_id]:
            del cache[k]
        cache[key] = ctx
    return ctx


def _page(request: Request, sample_id: str, *, message: str | None = None,
          status_code: int = 200) -> Response:
    from spermlab.analysis.review import Change, apply_changes
    from spermlab.io.results import read_results
    from spermlab.report.html import _provenance, review_context

    folder = sample_dir(request, sample_id)
    ctx = dict(_base_context(request, sample_id, folder))
    r = read_results(folder)
    summary = r["summary"]
    changes = [Change.from_dict(c) for c in (summary.get("review") or {}).get("changes", [])]
    reviewed, _ = apply_changes(r["kinematics"], changes)
    now = dict(zip(reviewed["track_id"].astype(int), reviewed["grade"], strict=True))
    tracks = [{"id": int(t), "machine": g, "now": now.get(int(t), "excluded")}
              for t, g in sorted(zip(r["kinematics"]["track_id"], r["kinematics"]["grade"], strict=True))]  # fmt: skip
    downloads = [(name, what) for name, what in DOWNLOADS.items() if (folder / name).is_file()]
    ctx.update(summary=summary, review=review_context(summary), provenance=_provenance(summary),
               sid=sample_id, tracks=tracks, reviewed_grades=now, downloads=downloads, message=message,
               reviewer=request.cookies.get("spermlab_reviewer", ""))  # fmt: skip
    return render(request, "sample.html.j2", status_code=status_code, active="queue", **ctx)


@router.get("/samples/{sample_id}")
def sample_page(request: Request, sample_id: str) -> Response:
    """The sample's report with the review panel."""
    return _page(request, sample_id)


def _record(request: Request, sample_id: str, track_id: Any, change: str, reviewer: str,
            reason: str) -> dict[str, Any]:
    """Record one change in the results folder and in the store; return the review block."""
    from spermlab.analysis.review import Change, review_sample
    from spermlab.batch.ledger import Ledger
    from spermlab.batch.store import update_store

    folder = sample_dir(request, sample_id)
    try:
        tid = int(str(track_id).strip())
    except ValueError:
        raise UsageError(f"track: expected a track number, got {track_id!r}") from None
    action, grade = ("grade", change) if change in GRADES else (change, None)
    block = review_sample(folder, [Change(tid, action, grade=grade, reviewer=str(reviewer).strip(),
                                          reason=str(reason).strip())])  # fmt: skip
    study = request.app.state.settings.study_dir
    row = Ledger(study).rows.get(sample_id)
    if row is not None:
        update_store(study, sample_id, row, folder)
    return block


@router.post("/samples/{sample_id}/review")
async def review_form(request: Request, sample_id: str) -> Response:
    """The review form: record the change, then show the page again (or what is wrong)."""
    from starlette.concurrency import run_in_threadpool

    from spermlab.web.uploads import read_form

    form = await read_form(request, 64 * 1024)
    reviewer = str(form.get("reviewer") or "")
    try:
        await run_in_threadpool(_record, request, sample_id, form.get("track_id") or "",
                                str(form.get("change") or ""), reviewer, str(form.get("reason") or ""))  # fmt: skip
    except UsageError as e:
        return await run_in_threadpool(_page, request, sample_id, message=user_message(e), status_code=400)
    response = RedirectResponse(f"/samples/{sample_id}#review", status_code=303)
    if reviewer.strip():
        response.set_cookie("spermlab_reviewer", reviewer.strip()[:100], samesite="strict")
    return response


@router.post("/api/samples/{sample_id}/review")
async def review_api(request: Request, sample_id: str) -> JSONResponse:
    """Record one change from JSON ``{"track_id", "action" (grade, exclude, restore), "grade",
    "reviewer", "reason"}``; answer the new review block."""
    from starlette.concurrency import run_in_threadpool

    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "expected a JSON object"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"error": "expected a JSON object"}, status_code=400)
    action = str(body.get("action") or "")
    change = str(body.get("grade") or "") if action == "grade" else action
    block = await run_in_threadpool(_record, request, sample_id, body.get("track_id", ""), change,
                                    str(body.get("reviewer") or ""), str(body.get("reason") or ""))  # fmt: skip
    return JSONResponse({"review": block})


@router.get("/api/samples/{sample_id}")
def sample_api(request: Request, sample_id: str) -> JSONResponse:
    """The sample's summary.json (with its review block, if any)."""
    from spermlab.io.results import read_results

    return JSONResponse(read_results(sample_dir(request, sample_id))["summary"])


@router.get("/samples/{sample_id}/files/{name}")
def download(request: Request, sample_id: str, name: str) -> Response:
    """One file of the results folder (only the names of :data:`DOWNLOADS`)."""
    folder = sample_dir(request, sample_id)
    if name == "kinematics_reviewed.csv":
        from spermlab.analysis.review import reviewed_kinematics

        csv = reviewed_kinematics(folder).to_csv(index=False)
        return Response(csv, media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{sample_id}_{name}"'})
    if name not in DOWNLOADS or not (folder / name).is_file():
        raise HTTPException(404, f"{name}: not a file of sample {sample_id}")
    if name == "report.html":
        return FileResponse(folder / name, media_type="text/html")
    return FileResponse(folder / name, filename=f"{sample_id}_{name}")
