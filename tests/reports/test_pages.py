"""Every page at 1200 and 390 px in headless Chromium, and a text lint of leadership
pages and e-mails (the rules of issue 12: role's language, no raw values).

Chromium is Debian's (``/usr/bin/chromium``) driven by Playwright; nothing is
downloaded. The pages are loaded once for this module and ``test_browser.py``
(fixture ``browsed_pages``, ``tests/chromium_pages.py``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from chromium_pages import WIDTHS, chromium_available

LEADERSHIP = ("ceo", "marketing", "sales")


@pytest.mark.skipif(not chromium_available(), reason="Debian chromium not installed")
def test_every_page_fits_1200_and_390_px_without_console_errors(tiny_reports, browsed_pages):
    assert tiny_reports.ok, tiny_reports.text
    folder = Path(tiny_reports.index_path).parent
    pages = [folder / "index.html", *tiny_reports.outputs]
    assert [(load.html, load.width) for load in browsed_pages] == [
        (html, width) for width in WIDTHS for html in pages
    ]
    problems: list[str] = []
    for load in browsed_pages:
        errors = load.page_errors + load.console_errors
        if errors:
            problems.append(f"{load.name}: console {errors}")
        fit = load.fit
        if fit["scroll"] > fit["width"] or fit["bad"]:
            problems.append(f"{load.name}: wider than the viewport {fit}")
    assert problems == []


# --- text lint ----------------------------------------------------------------------------


CODE_CLASSES = ("jp-InputArea-editor", "jp-InputPrompt", "jp-OutputPrompt")
"""Classes of nbconvert's lab template holding code and its prompts (analyst pages show
code; the lint reads what the page says, not the code)."""


class _Visible(HTMLParser):
    """Visible text of a page by element: headings, table headers, cells, the rest
    (code inputs and prompts left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.code: list[bool] = []
        self.parts: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ("br", "img", "meta", "link", "hr", "input"):
            classes = dict(attrs).get("class") or ""
            self.stack.append(tag)
            self.code.append(any(c in classes.split() for c in CODE_CLASSES))

    def handle_endtag(self, tag):
        while self.stack:
            self.code.pop()
            if self.stack.pop() == tag:
                break

    def handle_data(self, data):
        if any(t in ("style", "script", "title") for t in self.stack) or any(self.code):
            return
        if data.strip():
            kind = next(
                (t for t in reversed(self.stack) if t in ("th", "td", "h1", "h2", "h3")), "text"
            )
            self.parts.append((kind, data.strip()))


def visible(html: str) -> list[tuple[str, str]]:
    parser = _Visible()
    parser.feed(html)
    return parser.parts


RAW = re.compile(r"\b(nan|NaN|None|inf|NaT|True|False)\b|<NA>|\b\d+(?:\.\d+)?e[+-]?\d+\b")
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
LATIN_WORD = re.compile(r"\b[A-Za-z][A-Za-z]+\b")
ALLOWED_LATIN = {
    "MQL",
    "SQL",
    "ROMI",
    "CPL",
    "CAC",
    "CR",
    "VK",
    "Google",
    "UTM",
    "CRM",
    "PSI",
    "ROC",
    "AUC",
    "plans",
    "revenue",
    "leads",
    "params",
    "plan",
    "yaml",
}
"""Latin words a Russian page may show outside table cells: acronyms of the trade, brand
names and the plan file's syntax (``params/plan.yaml``, ``plans: {...}``)."""


def lint(parts: list[tuple[str, str]], russian: bool) -> list[str]:
    found = []
    for kind, text in parts:
        if RAW.search(text):
            found.append(f"raw value in {kind}: {text[:80]!r}")
        if kind in ("th", "h1", "h2", "h3") and SNAKE.search(text):
            found.append(f"snake_case {kind}: {text!r}")
        if russian and kind != "td":
            latin = [w for w in LATIN_WORD.findall(text) if w not in ALLOWED_LATIN]
            if latin and not re.search(r"\d{4}-W\d{2}", text):
                found.append(f"English in a Russian {kind}: {text[:80]!r} ({latin[:3]})")
    return found


def test_leadership_pages_pass_the_text_lint(tiny_reports):
    pages = [r.html for r in tiny_reports.results if r.role in LEADERSHIP and r.html]
    assert {p.parent.name for p in pages} == set(LEADERSHIP)
    problems = []
    for page in pages:
        html = re.sub(r"data:[^\"')\s]+", "", page.read_text(encoding="utf-8"))
        assert '<html lang="ru"' in html, page
        # no pandas index column: a table header row never starts with an empty cell
        assert not re.search(r"<tr[^>]*>\s*<th[^>]*>\s*</th>", html), page
        problems += [f"{page.parent.name}/{page.name}: {p}" for p in lint(visible(html), True)]
    assert problems == []


ANALYST_PAGES = (
    "01_funnel_overview",
    "02_kpi_dashboard",
    "03_data_quality",
    "04_cohorts",
    "05_lead_scoring",
    "08_segments",
)
"""The analyst's own pages held to the leadership rules (English, code shown)."""


def test_analyst_pages_pass_the_text_lint(tiny_reports):
    pages = {
        r.notebook.removesuffix(".ipynb"): r.html
        for r in tiny_reports.results
        if r.role == "analyst" and r.html
    }
    assert set(ANALYST_PAGES) <= set(pages)
    problems = []
    for name in ANALYST_PAGES:
        html = re.sub(r"data:[^\"')\s]+", "", pages[name].read_text(encoding="utf-8"))
        assert '<html lang="en"' in html, name
        assert not re.search(r"<tr[^>]*>\s*<th[^>]*>\s*</th>", html), name
        # pandas' own HTML (a raw frame dump) never appears: tables come from page.table
        assert 'class="dataframe' not in html, name
        problems += [f"analyst/{name}: {p}" for p in lint(visible(html), False)]
    assert problems == []


def test_leadership_e_mails_pass_the_text_lint(tiny_reports, tmp_path):
    from email import policy
    from email.parser import BytesParser

    from analytics.reports import sending

    folder = Path(tiny_reports.index_path).parent
    result = sending.send_reports(folder, roles=list(LEADERSHIP), dry_run=True, out_dir=tmp_path)
    assert result.sent == list(LEADERSHIP)
    problems = []
    for role, path in zip(result.sent, result.eml_paths, strict=True):
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        assert re.search(r"[А-Яа-я]", msg["Subject"]), msg["Subject"]
        body = msg.get_body(("html",)).get_content()
        assert len(msg.get_body(("html",)).as_bytes()) < 100_000
        names = [a.get_filename() for a in msg.iter_attachments()]
        # the full report as one file; the sales role also gets its call list as CSV
        reports = [n for n in names if not n.startswith("call_list_")]
        assert len(reports) == 1, names
        assert (role == "sales") == any(n.endswith(".csv") for n in names), names
        problems += [f"{role}: {p}" for p in lint(visible(body), True)]
        problems += [
            f"{role} text: {p}"
            for p in lint([("text", msg.get_body(("plain",)).get_content())], True)
        ]
    assert problems == []
