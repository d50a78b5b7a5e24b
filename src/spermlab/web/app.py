"""The FastAPI application: settings, pages, the shared page renderer and the error pages.

:func:`create_app` wires the routers of :mod:`spermlab.web.analyses` (new analysis, queue),
:mod:`spermlab.web.samples` (report, review, downloads) and :mod:`spermlab.web.study` (the
store as a table, the cohort page) to one data folder. Every page is rendered on the server
from the package's Jinja2 templates; the styles and the one script are served from the
package (``/static``), so the app needs no network.

Security (the app is meant for one person's machine):

* it binds to 127.0.0.1 unless told otherwise (``spermlab serve --host``, with a warning);
* requests must name a known host (``127.0.0.1``/``localhost`` on a loopback address), which
  stops DNS-rebinding pages from reaching it; a POST from another site's page (its
  ``Origin`` differs) is refused;
* only files under the data folder are listed, read or written (:mod:`spermlab.web.paths`);
* uploads are limited in size (``max_upload_bytes``) and checked by name and content.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.staticfiles import StaticFiles

from spermlab.calibration import CalibrationError
from spermlab.errors import FormatError, UsageError

__all__ = ["LOOPBACK", "STUDY", "UPLOADS", "Settings", "create_app", "render"]

log = logging.getLogger("spermlab.web")

#: The results of the web app's analyses, inside the data folder: a ``spermlab batch`` folder.
STUDY = "spermlab-study"
#: Where uploads are saved, inside the data folder.
UPLOADS = "uploads"
#: Addresses that only this machine can reach.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Settings:
    """The app's settings.

    Parameters
    ----------
    data_dir : Path
        The data folder: recordings are chosen from it, uploads saved to ``uploads/`` in it,
        results written to ``spermlab-study/`` in it. Nothing outside it is read or written.
    max_upload_bytes : int
        The largest request an upload may be (default 1 GiB).
    workers : int, optional
        Worker processes per submission (default: the CPUs less one).
    host : str
        The address the server listens on (decides the host names it answers to).
    """

    data_dir: Path
    max_upload_bytes: int = 1 << 30
    workers: int | None = None
    host: str = "127.0.0.1"

    @property
    def study_dir(self) -> Path:
        """The batch folder of the web app's analyses."""
        return self.data_dir / STUDY

    @property
    def upload_dir(self) -> Path:
        """Where uploads are saved."""
        return self.data_dir / UPLOADS


def create_app(data_dir: str | os.PathLike[str], *, max_upload_bytes: int = 1 << 30,
               workers: int | None = None, host: str = "127.0.0.1") -> FastAPI:
    """The web app over one data folder.

    Parameters
    ----------
    data_dir : str or PathLike
        The data folder (created if missing).
    max_upload_bytes : int
        Requests larger than this are refused with a message (413), before they are read.
    workers : int, optional
        Worker processes per submission.
    host : str
        The address it will be served on; on a loopback address only the host names
        ``127.0.0.1`` and ``localhost`` are answered.

    Returns
    -------
    FastAPI
        The application; run it with uvicorn (``spermlab serve`` does).

    Examples
    --------
    >>> from spermlab.web import create_app
    >>> app = create_app("lab-data")  # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, port=8000)  # doctest: +SKIP
    """
    from spermlab.report.html import template_environment
    from spermlab.web import analyses, samples, study
    from spermlab.web.jobs import JobQueue

    if max_upload_bytes <= 0:
        raise ValueError(f"max_upload_bytes must be > 0, got {max_upload_bytes}")
    root = Path(data_dir).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    settings = Settings(root.resolve(), max_upload_bytes=max_upload_bytes, workers=workers, host=host)
    jobs = JobQueue(settings.study_dir, workers=workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        jobs.close(timeout=1.0)

    app = FastAPI(title="spermlab", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.jobs = jobs
    import jinja2

    app.state.env = template_environment(jinja2.PackageLoader("spermlab.web", "templates"))
    app.state.report_cache = {}  # sample id -> the report's context (spermlab.web.samples)
    app.state.probe_cache = {}  # video -> (fps, frames) for the new-analysis page
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(analyses.router)
    app.include_router(samples.router)
    app.include_router(study.router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/new", status_code=303)

    _error_pages(app)
    app.add_middleware(SameOrigin)
    if host in LOOPBACK:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "[::1]"])
    if settings.study_dir.joinpath("spermlab.duckdb").is_file():
        _upgrade_store(settings.study_dir)
    return app


def _upgrade_store(folder: Path) -> None:
    from spermlab.batch.store import ensure_store

    try:
        ensure_store(folder)
    except Exception as e:  # another process writes it now; the tables come with the next sample
        log.warning("could not open %s now: %s", folder, e)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page from the app's templates, with the settings and the current page in its context."""
    from spermlab import __version__

    env = request.app.state.env
    html = env.get_template(template).render(request=request, settings=request.app.state.settings,
                                             version=__version__, **context)  # fmt: skip
    return HTMLResponse(html, status_code=status_code)


def user_message(e: BaseException) -> str:
    """An error's message in the page's words (the form's fields, not the command line's flags)."""
    text = str(e)
    for flag, words in (("--um-per-px", "µm per pixel"), ("--depth-um", "chamber depth"),
                        ("--fps", "frame rate"), ("--preset", "preset"), ("--detector", "detector"),
                        ("a preset (preset visem)", "the preset visem"),
                        ("pass µm per pixel", "enter µm per pixel"), ("pass frame rate", "enter the frame rate")):  # fmt: skip
        text = text.replace(flag, words)
    return text


class SameOrigin:
    """Refuse a state-changing request sent by another site's page (its ``Origin`` header
    names another host): a page on the internet cannot start analyses or change grades."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            origin = headers.get("origin")
            if origin and urlsplit(origin).netloc != headers.get("host"):  # "null" too: a sandboxed frame
                response = Response(f"cross-site request refused: {origin} is not this app",
                                    status_code=403, media_type="text/plain")  # fmt: skip
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if _wants_json(request):
            return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)
        return render(request, "message.html.j2", status_code=exc.status_code,
                      title=f"{exc.status_code}", message=str(exc.detail))  # fmt: skip

    @app.exception_handler(UsageError)
    @app.exception_handler(FormatError)
    @app.exception_handler(CalibrationError)
    async def bad_input(request: Request, exc: Exception):
        if _wants_json(request):
            return JSONResponse({"error": user_message(exc)}, status_code=400)
        return render(request, "message.html.j2", status_code=400, title="Not possible",
                      message=user_message(exc))  # fmt: skip

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        msg = f"unexpected error ({type(exc).__name__}: {exc}); the server's log has the details"
        if _wants_json(request):
            return JSONResponse({"error": msg}, status_code=500)
        return render(request, "message.html.j2", status_code=500, title="Something went wrong",
                      message=msg)  # fmt: skip
