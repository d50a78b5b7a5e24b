"""``spermlab serve``: a local web app for the lab, over the same library as the command line.

Pages (server-rendered Jinja2, plain JavaScript, every asset shipped in the package, so the
app works offline): a new analysis (files from the data folder or an upload, calibration
with the source of each value, detector, chamber depth); the queue with a live progress bar
per sample (the analyses run in worker processes through :func:`spermlab.batch.run_batch`
and its DuckDB store, so the server never blocks); each sample's report, where a person can
change a cell's grade or exclude a track (:mod:`spermlab.analysis.review`); the study (the
store as a sortable, filterable table, and the cohort page); and downloads.

:func:`create_app` builds the FastAPI application; ``spermlab serve`` runs it with uvicorn.
Needs the ``web`` extra: ``pip install 'spermlab[web]'``.
"""

from __future__ import annotations

from importlib.util import find_spec as _find

_missing = [name for name, found in (("fastapi", _find("fastapi")), ("uvicorn", _find("uvicorn")),
                                     ("python-multipart", _find("python_multipart") or _find("multipart")))
            if found is None]  # fmt: skip
if _missing:
    raise ImportError(f"the web app needs FastAPI, uvicorn and python-multipart ({', '.join(_missing)} "
                      "missing): pip install 'spermlab[web]'")

from spermlab.web.app import Settings, create_app  # noqa: E402  (after the check of the extra)

__all__ = ["Settings", "create_app"]
