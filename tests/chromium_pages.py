"""Every page of the session's weekly run, loaded once per width in one headless Chromium.

``test_browser.py`` (no errors, every image loaded) and ``test_pages.py`` (fits 1200
and 390 px) read the same loads (fixture ``browsed_pages`` in ``conftest.py``): one
browser launch, one context per width, one load of each page per width -- instead of a
launch per module and a load at 1280 px for the one test plus 1200 and 390 px for the
other. Debian's chromium (``/usr/bin/chromium``) driven by Playwright; nothing is
downloaded.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = (1200, 390)
"""Viewport widths (px) every page is loaded at: a laptop and a phone."""

# Elements wider than the viewport that are not inside a box that scrolls (or clips)
# sideways and itself fits the viewport.
OVERFLOW_JS = """
() => {
  const W = document.documentElement.clientWidth;
  const bad = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= W + 1) continue;
    let p = el.parentElement, boxed = false;
    while (p && p !== document.documentElement) {
      const o = getComputedStyle(p).overflowX;
      if ((o === 'auto' || o === 'scroll' || o === 'hidden') &&
          p.getBoundingClientRect().right <= W + 1) { boxed = true; break; }
      p = p.parentElement;
    }
    if (!boxed) bad.push(el.tagName + '.' + (el.className || '') + ' ' + Math.round(r.right));
  }
  return {scroll: document.documentElement.scrollWidth, width: W, bad: bad.slice(0, 5)};
}
"""

IMAGES_JS = "Array.from(document.images).map(i => [i.complete, i.naturalWidth])"


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


@dataclass
class PageLoad:
    """What one load of one page at one width showed."""

    html: Path
    width: int
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    images: list[list] = field(default_factory=list)
    """``[complete, naturalWidth]`` of every ``<img>``."""
    fit: dict = field(default_factory=dict)
    """:data:`OVERFLOW_JS`'s answer: ``scroll``, ``width`` (px) and up to 5 ``bad`` elements."""

    @property
    def name(self) -> str:
        return f"{self.html.parent.name}/{self.html.name}@{self.width}"


def _watch(page) -> list[PageLoad]:
    """Route the tab's errors and failed requests to the last load of the returned list
    (the page the tab shows)."""
    shown: list[PageLoad] = []
    page.on("pageerror", lambda e: shown[-1].page_errors.append(str(e)))
    page.on(
        "console",
        lambda m: shown[-1].console_errors.append(m.text) if m.type == "error" else None,
    )
    page.on("requestfailed", lambda r: shown[-1].failed_requests.append(r.url))
    return shown


def browse(pages: list[Path], widths: tuple[int, ...] = WIDTHS) -> list[PageLoad]:
    """Load every page at every width: one browser, one context and ONE tab per width,
    which goes from page to page (a new tab per page started a renderer process for
    each: 16.1-16.6 CPU-s of Chromium for the tiny run's 20 pages at two widths, 5.6 in
    one tab). The tab's listeners write into the load of the page it shows; each load
    waits for the page's ``load`` event, so nothing of one page reaches the next."""
    from playwright.sync_api import sync_playwright

    loads: list[PageLoad] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for width in widths:
                context = browser.new_context(viewport={"width": width, "height": 900})
                page = context.new_page()
                shown = _watch(page)
                for html in pages:
                    load = PageLoad(html, width)
                    shown.append(load)
                    page.goto(html.as_uri(), wait_until="load")
                    load.images = page.evaluate(IMAGES_JS)
                    load.fit = page.evaluate(OVERFLOW_JS)
                    loads.append(load)
                context.close()
        finally:
            browser.close()
    return loads
