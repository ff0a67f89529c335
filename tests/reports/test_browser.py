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


def test_the_browser_harness_sees_each_page_s_own_errors(tmp_path):
    """The checks above read ``browse``'s loads: a page's script error, console error,
    failed request, missing image and too-wide element are recorded on that page's load,
    and on none of the pages the tab shows after it (one tab goes from page to page)."""
    from chromium_pages import browse

    bodies = {
        "thrown": "<script>throw new Error('thrown on purpose')</script>",
        "clean1": "<p>clean</p>",
        "console": "<script>console.error('said on purpose')</script>",
        "clean2": "<p>clean</p>",
        "image": '<img src="missing-on-purpose.png" alt="">',
        "clean3": "<p>clean</p>",
        "wide": '<div style="width:2000px">wide</div>',
        "clean4": "<p>clean</p>",
    }
    pages = []
    for name, body in bodies.items():
        page = tmp_path / f"{name}.html"
        page.write_text(f"<!doctype html><html><body>{body}</body></html>", encoding="utf-8")
        pages.append(page)
    loads = {load.html.stem: load for load in browse(pages, widths=(390,))}
    assert ["thrown on purpose" in e for e in loads["thrown"].page_errors] == [True]
    assert loads["console"].console_errors == ["said on purpose"]
    assert [url.endswith("missing-on-purpose.png") for url in loads["image"].failed_requests] == [
        True
    ]
    assert [done and width > 0 for done, width in loads["image"].images] == [False]
    assert loads["wide"].fit["scroll"] > loads["wide"].fit["width"] == 390
    for name in ("clean1", "clean2", "clean3", "clean4"):
        load = loads[name]
        assert load.page_errors == load.console_errors == load.failed_requests == [], name
        assert load.fit["scroll"] <= load.fit["width"] and load.fit["bad"] == [], name
