"""The new-analysis page and the queue: choose or upload recordings, calibrate, submit, watch.

A submission is checked in full before anything runs: each chosen path must be inside the
data folder, each upload a video (by its content), and each recording's calibration known
(µm per pixel from the form or a preset; the frame rate from the form, the file or the
preset) and plausible. Then its samples go to the queue (:mod:`spermlab.web.jobs`) and the
page moves to the queue, where the progress bars update live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from spermlab.calibration import PRESETS
from spermlab.errors import FormatError, UsageError
from spermlab.run import DETECTORS
from spermlab.web.app import render, user_message
from spermlab.web.paths import SourceFile, UploadRejected, confine, list_sources, sample_name
from spermlab.web.uploads import UploadTooLarge, read_form, save_upload, size_text

__all__ = ["router"]

router = APIRouter()

_DEFAULT_FORM = {"paths": [], "preset": "", "um_per_px": "", "fps": "", "depth_um": "",
                 "detector": "spermnet", "video": True}
_FIELDS = (("um_per_px", "µm per pixel"), ("fps", "frame rate"), ("depth_um", "chamber depth"))


def _sources(request: Request) -> list[SourceFile]:
    settings = request.app.state.settings
    found = list_sources(settings.data_dir, exclude=(settings.study_dir,))
    cache = request.app.state.probe_cache
    out = []
    for s in found:
        if s.kind == "video":
            p = settings.data_dir / s.relative
            key = (s.relative, s.size, p.stat().st_mtime_ns)
            if key not in cache:
                cache[key] = _probe(p)
            s = SourceFile(s.relative, s.kind, s.size, *cache[key])
        out.append(s)
    return out


def _probe(path: Path) -> tuple[float | None, int | None]:
    from spermlab.io.video import VideoReader

    try:
        v = VideoReader(path)
        return v.fps, v.n_frames
    except (FormatError, OSError, ValueError):
        return None, None


def _page(request: Request, *, form: dict[str, Any] | None = None, error: str | None = None,
          status_code: int = 200) -> Response:
    return render(request, "new.html.j2", status_code=status_code, active="new",
                  sources=_sources(request), presets=PRESETS, detectors=DETECTORS,
                  form=form or _DEFAULT_FORM,
                  error=error, limit=request.app.state.settings.max_upload_bytes,
                  limit_text=size_text(request.app.state.settings.max_upload_bytes))  # fmt: skip


@router.get("/new")
def new_analysis(request: Request) -> Response:
    """The new-analysis page."""
    return _page(request)


@router.post("/new")
async def submit(request: Request) -> Response:
    """Check a submission in full, queue its samples, go to the queue (or show what is wrong)."""
    settings = request.app.state.settings
    try:
        form = await read_form(request, settings.max_upload_bytes)
    except UploadTooLarge as e:
        return _page(request, error=str(e), status_code=413)
    except UploadRejected as e:
        return _page(request, error=str(e), status_code=400)
    values = _values(form)
    try:
        try:
            sids = await run_in_threadpool(_check_and_queue, request, form, values)
        finally:
            await form.close()
    except (UsageError, FormatError, ValueError, OSError) as e:
        return _page(request, form=values, error=user_message(e), status_code=400)
    return RedirectResponse(f"/queue?new={','.join(sids)}", status_code=303)


def _values(form: FormData) -> dict[str, Any]:
    """The form's values as typed (for re-showing them with an error)."""
    return {"paths": [str(p) for p in form.getlist("paths") if str(p).strip()],
            "preset": str(form.get("preset") or ""), "um_per_px": str(form.get("um_per_px") or ""),
            "fps": str(form.get("fps") or ""), "depth_um": str(form.get("depth_um") or ""),
            "detector": str(form.get("detector") or "spermnet"), "video": bool(form.get("video"))}  # fmt: skip


def _number(text: str, words: str) -> float | None:
    from spermlab.io._lines import LineError, to_float

    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return to_float(text, words)
    except LineError as exc:
        raise UsageError(str(exc)) from None


def _cal_args(values: dict[str, Any]) -> dict[str, Any]:
    from spermlab.run import check_flags

    cal = {key: _number(values[key], words) for key, words in _FIELDS}
    cal["preset_name"] = values["preset"] or None
    check_flags(cal)
    if cal["um_per_px"] is None and cal["preset_name"] is None:
        raise UsageError("calibration missing: the image scale is unknown; enter µm per pixel (of "
                         "your microscope and camera, measured with a stage micrometer) or choose "
                         "a preset")  # fmt: skip
    return cal


def _check_and_queue(request: Request, form: FormData, values: dict[str, Any]) -> list[str]:
    """Everything that can be checked before the analysis; then queue it (runs in a thread)."""
    from spermlab.batch.inputs import Sample
    from spermlab.io.open import open_source
    from spermlab.run import check_detector, check_scale, resolve_calibration
    from spermlab.web.jobs import Submission

    settings = request.app.state.settings
    check_detector(values["detector"])
    cal_args = _cal_args(values)
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    chosen = [confine(settings.data_dir, p) for p in values["paths"]]
    for rel, p in zip(values["paths"], chosen, strict=True):
        if not p.exists():
            raise UsageError(f"{rel}: no such file or folder in the data folder")
        if p.is_relative_to(settings.study_dir):
            raise UsageError(f"{rel}: a results folder, not a recording")
    if not uploads and not chosen:
        raise UsageError("choose a recording from the data folder, or upload one")
    saved = [save_upload(f, settings.upload_dir) for f in uploads]
    sources = chosen + saved
    for p in sources:
        try:
            source = open_source(p, fps=None)
            if source.fps is None and cal_args.get("fps") is not None:
                source = open_source(p, fps=cal_args["fps"])
                source.fps_source = "user"
            check_scale(resolve_calibration(source, **cal_args))
        except (UsageError, FormatError) as e:
            kept = f" (the upload was saved as {p.relative_to(settings.data_dir)}: choose it from the list)" \
                if p in saved else ""  # fmt: skip
            raise type(e)(user_message(e) + kept) if isinstance(e, UsageError) else e from None
    jobs = request.app.state.jobs
    ids = jobs.new_ids([sample_name(p) for p in sources])
    options = {"detector": values["detector"], "drift": True, "report": True, "video": values["video"]}
    samples = [Sample(sid, p) for sid, p in zip(ids, sources, strict=True)]
    return jobs.submit(Submission(samples, cal_args, options))


@router.get("/queue")
def queue_page(request: Request, new: str = "") -> Response:
    """Every sample with its state; the running ones with a live progress bar."""
    rows = request.app.state.jobs.status()
    return render(request, "queue.html.j2", active="queue", rows=rows,
                  new=set(filter(None, new.split(","))), root=request.app.state.settings.data_dir)  # fmt: skip


@router.get("/api/jobs")
def jobs_api(request: Request) -> JSONResponse:
    """The queue as JSON (what the queue page polls)."""
    rows = request.app.state.jobs.status()
    root = str(request.app.state.settings.data_dir)
    for r in rows:
        if (r.get("path") or "").startswith(root):
            r["path"] = Path(r["path"]).relative_to(root).as_posix()
    return JSONResponse({"jobs": rows})


@router.get("/api/sources")
def sources_api(request: Request) -> JSONResponse:
    """The recordings in the data folder (relative paths, kind, size, fps, frames)."""
    return JSONResponse({"sources": [vars(s) for s in _sources(request)]})
