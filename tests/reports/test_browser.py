"""Rendered reports open in headless Chromium without errors, every image loaded.

Uses Debian's chromium (``/usr/bin/chromium``) driven by Playwright; nothing is
downloaded. ``.ci/run`` installs chromium when it is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analytics.reports.render import external_references

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)"
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_every_report_renders_in_chromium(tiny_reports):
    from playwright.sync_api import sync_playwright

    assert tiny_reports.ok, tiny_reports.text
    pages = sorted(Path(tiny_reports.index_path).parent.rglob("*.html"))
    assert len(pages) == 1 + len(tiny_reports.outputs)  # the index and every report page
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for html in pages:
                text = html.read_text(encoding="utf-8")
                assert external_references(text) == [], html
                page = browser.new_page()
                problems: list[str] = []
                page.on("pageerror", lambda e, p=problems: p.append(f"page error: {e}"))
                page.on(
                    "console",
                    lambda m, p=problems: (
                        p.append(f"console: {m.text}") if m.type == "error" else None
                    ),
                )
                page.on("requestfailed", lambda r, p=problems: p.append(f"failed: {r.url}"))
                page.goto(html.as_uri(), wait_until="load")
                images = page.evaluate(
                    "Array.from(document.images).map(i => [i.complete, i.naturalWidth])"
                )
                assert problems == [], (html, problems)
                assert all(done and width > 0 for done, width in images), (html, images)
                if html.name != "index.html":
                    assert images, f"{html} has no figures"
                page.close()
        finally:
            browser.close()
