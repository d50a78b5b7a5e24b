"""``spermlab serve``: the local web app (analyse, watch progress, review, browse a study)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from spermlab.cli._app import QuietOption, app, log, setup_logging


@app.command()
def serve(
    data: Path = typer.Option(Path("."), "--data", "-d", help="The data folder: recordings are chosen from it, uploads saved to uploads/, results to spermlab-study/. Nothing outside it is read or written."),
    port: int = typer.Option(8000, "--port", "-p", min=1, max=65535, help="TCP port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. The default reaches this computer only; another (0.0.0.0: every network) lets anyone on the network use the app, and is warned about."),
    max_upload_mb: float = typer.Option(1024.0, "--max-upload-mb", min=0.001, help="Largest upload accepted, MB (larger files: copy them into the data folder)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Worker processes per submission (default: the CPUs less one)."),
    quiet: bool = QuietOption,
) -> None:
    """Start the web app for the lab: open the address it prints in a browser.

    Example: spermlab serve --data lab-videos --port 8000
    """
    from spermlab.errors import UsageError

    setup_logging(quiet)
    try:
        import uvicorn

        from spermlab.web import create_app
    except ImportError as e:
        raise ImportError(f"spermlab serve needs the web extra: pip install 'spermlab[web]' ({e})") from None
    if data.exists() and not data.is_dir():
        raise UsageError(f"--data {data}: is a file; expected the data folder")
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: anyone who can reach this computer on port %d can see every "
                    "recording and result in %s, start analyses and change grades (there are no "
                    "accounts); use only on a network you trust", host, port, data.resolve())
    application = create_app(data, max_upload_bytes=int(max_upload_mb * (1 << 20)), workers=workers,
                             host=host)  # fmt: skip
    shown = f"[{host}]" if ":" in host else host
    log.info("spermlab web app: http://%s:%d  (data folder %s; Ctrl-C stops it)",
             "127.0.0.1" if host in ("0.0.0.0", "::") else shown, port, data.resolve())
    uvicorn.run(application, host=host, port=port, log_level="warning" if quiet else "info",
                access_log=False)
