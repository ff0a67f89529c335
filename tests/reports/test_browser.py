"""Rendered reports open in headless Chromium without errors, every image loaded.

Uses Debian's chromium (``/usr/bin/chromium``) driven by Playwright; nothing is
downloaded. ``.ci/run`` installs chromium when it is missing. The pages are loaded
once for this module and ``test_pages.py`` (fixture ``browsed_pages``,
``tests/chromium_pages.py``), at 1200 and 390 px.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chromium_pages import WIDTHS, chromium_available

from analytics.reports.render import external_references

pytestmark = pytest.mark.skipif(
    not chromium_available(), reason="Debian chromium not installed (apt-get install chromium)"
)


def test_every_report_renders_in_chromium(tiny_reports, browsed_pages):
    assert tiny_reports.ok, tiny_reports.text
    pages = sorted(Path(tiny_reports.index_path).parent.rglob("*.html"))
    assert len(pages) == 1 + len(tiny_reports.outputs)  # the index and every report page
    loads = {(load.html, load.width): load for load in browsed_pages}
    assert set(loads) == {(html, width) for html in pages for width in WIDTHS}
    for html in pages:
        text = html.read_text(encoding="utf-8")
        assert external_references(text) == [], html
        for width in WIDTHS:
            load = loads[html, width]
            problems = [f"page error: {e}" for e in load.page_errors]
            problems += [f"console: {m}" for m in load.console_errors]
            problems += [f"failed: {url}" for url in load.failed_requests]
            assert problems == [], (load.name, problems)
            assert all(done and width > 0 for done, width in load.images), (
                load.name,
                load.images,
            )
            if html.name != "index.html":
                assert load.images, f"{load.name} has no figures"
