"""Screenshot of a report's cell gallery in headless Chromium (for the README).

Run:  .venv/bin/spermlab analyze ../shared/data/visem_tracking/11 --preset visem --out /tmp/r11 --report
      .venv/bin/python benchmarks/gallery_screenshot.py /tmp/r11/report.html docs/img/report_gallery_video11.png

Needs Playwright (the ``test`` extra) and a Chromium (``/usr/bin/chromium`` or Playwright's own).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--cards", type=int, default=8, help="gallery cards to show")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium) if chromium else p.chromium.launch()
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(args.report.resolve().as_uri())
        n = min(args.cards, page.locator("#gallery .cell").count())
        clip = page.evaluate("""(n) => {
            const g = document.querySelector('#gallery').getBoundingClientRect();
            const cells = document.querySelectorAll('#gallery .cell');
            const last = n ? cells[n - 1].getBoundingClientRect() : g;
            return {x: g.left + window.scrollX, y: g.top + window.scrollY, width: g.width,
                    height: last.bottom - g.top + 8};
        }""", n)
        page.screenshot(path=str(args.out), clip=clip, full_page=True)
        browser.close()
    print(f"wrote {args.out} ({n} cards)")


if __name__ == "__main__":
    main()
