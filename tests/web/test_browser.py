"""The web app as a technician uses it: a real browser (headless Chromium through Playwright).

Starts ``spermlab serve``'s app with uvicorn on a free port, uploads a short real clip (SVIA
S_0002, 19 frames), sets the calibration, watches the job finish, opens the report, changes
one grade and sees the shares change, opens the study; bad input (a missing calibration, a
text file named .mp4, an upload over the limit) shows a clear message in the page.

Screenshots of each page go to ``$SPERMLAB_SCREENSHOTS`` when set (``docs/img`` for the
docs: ``SPERMLAB_SCREENSHOTS=docs/img pytest tests/web/test_browser.py``), else to a
temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import require_module, shared_data_dir

CLIP = "videos/svia/S_0002.mp4"
LIMIT = 1_500_000  # bytes: the app's upload limit here, so "too large" needs no 2 GB file
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def _chromium() -> str:
    from tests.conftest import chromium_path

    return chromium_path()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from spermlab.web import create_app

    data = tmp_path_factory.mktemp("lab") / "data"
    (data / "videos").mkdir(parents=True)
    shared = shared_data_dir() / "videos" / "svia"
    for name in ("S_0001.mp4", "S_0003.mp4"):  # recordings already in the lab's folder, to choose from
        if (shared / name).is_file():
            shutil.copy(shared / name, data / "videos" / name)
    app = create_app(data, max_upload_bytes=LIMIT, workers=1)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        ws="none", lifespan="on", access_log=False))  # fmt: skip
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not srv.started:
        assert thread.is_alive() and time.monotonic() - t0 < 20, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", data
    srv.should_exit = True
    thread.join(10)


def _shot(page, name: str, shots: Path) -> None:
    """A small PNG of what the browser shows (256-colour palette: well under 300 kB)."""
    from PIL import Image

    raw = shots / f"web_{name}.raw.png"
    page.screenshot(path=str(raw))
    Image.open(raw).convert("RGB").quantize(colors=128).save(shots / f"web_{name}.png", optimize=True)
    raw.unlink()


def test_a_technician_analyses_reviews_and_browses(server, data_dir, tmp_path):
    require_module("playwright", "pip install 'spermlab[test]'")
    from playwright.sync_api import expect, sync_playwright

    chromium = _chromium()
    url, data = server
    clip = data_dir / CLIP
    assert clip.is_file(), f"{clip}: the shared real clip is missing"
    shots = Path(os.environ.get("SPERMLAB_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    notes = tmp_path / "notes.mp4"
    notes.write_text("these are my notes, not a video\n")
    big = tmp_path / "big.mp4"
    big.write_bytes(bytes(2_000_000))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.set_default_timeout(30_000)
        try:
            page.goto(f"{url}/new")
            expect(page.locator("#src-um_per_px")).to_have_text("missing: enter it or choose a preset")

            # bad input 1: no calibration
            page.set_input_files("#files", str(clip))
            page.click("#submit")
            expect(page.locator("#message")).to_contain_text("calibration missing: the image scale is unknown")

            # bad input 2: a text file named .mp4
            page.fill("#um_per_px", "0.5")
            page.set_input_files("#files", str(notes))
            page.click("#submit")
            expect(page.locator("#message")).to_contain_text("notes.mp4: not a video spermlab can read")

            # bad input 3: an upload over the app's limit
            page.fill("#um_per_px", "0.5")
            page.set_input_files("#files", str(big))
            page.click("#submit")
            expect(page.locator("#message")).to_contain_text("too large")
            expect(page.locator("#message")).to_contain_text("limited to 1.4 MB")

            # the real clip, calibrated by hand; the frame rate from the file
            page.goto(f"{url}/new")
            page.set_input_files("#files", str(clip))
            page.fill("#um_per_px", "0.5")
            page.fill("#depth_um", "20")
            expect(page.locator("#src-um_per_px")).to_have_text("from you")
            expect(page.locator("#src-fps")).to_have_text("from the file (read on upload)")
            _shot(page, "new", shots)
            page.click("#submit")
            page.wait_for_url(f"{url}/queue*")
            row = page.locator("#job-S_0002")
            expect(row).not_to_have_attribute("data-state", "queued", timeout=60_000)
            _shot(page, "queue", shots)
            expect(row).to_have_attribute("data-state", "done", timeout=90_000)
            expect(row.locator(".bar-in")).to_have_attribute("style", re.compile(r"width: 100(\.0)?%"))

            # the report, and one grade changed by a person
            row.locator("a", has_text="report").click()
            page.wait_for_url(f"{url}/samples/S_0002")
            machine = float(page.get_attribute("#pct-progressive", "data-value"))
            expect(page.locator("#review-result")).to_have_count(0)
            option = page.locator("#rv-track option", has_text="machine a").first
            if option.count() == 0:
                option = page.locator("#rv-track option", has_text="machine b").first
            page.select_option("#rv-track", option.get_attribute("value"))
            page.select_option("#rv-change", "d")
            page.fill("#rv-reviewer", "A. Technician")
            page.fill("#rv-reason", "head stuck to the glass, no beat in the gallery")
            page.click("#rv-save")
            expect(page.locator("#review-status")).to_have_text("REVIEWED")
            reviewed = float(page.get_attribute("#rev-pct-progressive", "data-value"))
            assert reviewed < machine
            assert float(page.get_attribute("#pct-progressive", "data-value")) == machine  # kept
            expect(page.locator("#review-changes")).to_contain_text("A. Technician")
            page.locator("#review-result").scroll_into_view_if_needed()
            page.evaluate("window.scrollBy(0, -60)")
            _shot(page, "report", shots)

            # the study: the store as a table, the reviewed sample marked
            page.click("#nav-study")
            expect(page.locator("#study-S_0002")).to_have_attribute("data-reviewed", "yes")
            page.click("a[data-sort='progressive']")
            expect(page.locator("th.sorted")).to_contain_text("PR %")
            _shot(page, "study", shots)
            page.click("#cohort-link")
            expect(page.locator("h1")).to_contain_text("Cohort")
        finally:
            browser.close()
    for name in ("new", "queue", "report", "study"):
        assert (shots / f"web_{name}.png").stat().st_size < 300_000
