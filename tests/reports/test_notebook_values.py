"""A value on each rendered analyst page (notebooks 00, 02-11) against an independent reference.

The pages are those of the shared ``tiny_reports`` run (period ``last-week`` of
the tiny demo: 2025-W52). Each test reads a figure from the page's HTML -- a
printed line or a table cell, as a reader sees it -- and recomputes it in pandas
from the generator's raw tables (``tiny_demo.tables``, before loading, PII
hashing and SQL) or its ground truth (``tiny_demo.truth``). Windows the page
chose itself (the attribution window, the test weeks) are read from the page's
own text and only the figure is recomputed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest


class Page(HTMLParser):
    """The tables (rows of cell texts) and the text of a rendered page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.texts: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(html)
        self.text = " ".join(" ".join(self.texts).split())

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        self.texts.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def table_with(self, *header: str) -> list[list[str]]:
        """The first table whose first row holds every name of ``header``."""
        for table in self.tables:
            if table and all(name in table[0] for name in header):
                return table
        raise AssertionError(f"no table with columns {header} on the page")


@pytest.fixture(scope="module")
def pages(tiny_reports) -> dict[str, Page]:
    return {
        r.notebook.removesuffix(".ipynb"): Page(r.html.read_text(encoding="utf-8"))
        for r in tiny_reports.results
        if r.role == "analyst" and r.status == "ok"
    }


def window_on_page(page: Page, label: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``<label>: <name> (YYYY-MM-DD – YYYY-MM-DD)`` -> [start, end + 1 day)."""
    found = re.search(label + r": \S+ \((\d{4}-\d\d-\d\d) – (\d{4}-\d\d-\d\d)\)", page.text)
    assert found, f"no '{label}: ...' line on the page"
    start, end = pd.Timestamp(found[1]), pd.Timestamp(found[2])
    return start, end + pd.Timedelta(days=1)


def in_window(times: pd.Series, window: tuple[pd.Timestamp, pd.Timestamp]) -> pd.Series:
    return (times >= window[0]) & (times < window[1])


def test_data_quality_page_finds_the_injected_defects(pages, tiny_demo):
    """03: the analyst's defect table (all data) against the generator's injected defects."""
    from analytics.reports.analyst_pages import DEFECT_CHECKS, check_label

    table = pages["03_data_quality"].table_with("Defect", "Found", "Base found")
    header = table[0]
    rows = {row[0]: dict(zip(header[1:], row[1:], strict=False)) for row in table[1:]}
    truth = tiny_demo.truth["defects"].set_index("defect")
    # the page names each defect by the check that finds it, in words
    truth.index = [check_label(DEFECT_CHECKS[d], "en") for d in truth.index]
    assert set(rows) == set(truth.index)
    for defect, row in rows.items():
        assert amount(row["Found"]) == truth.loc[defect, "injected_count"], defect
        assert amount(row["Base found"]) == truth.loc[defect, "base_count"], defect


def test_cohort_page_sizes_are_visitors_by_week_of_first_visit(pages, tiny_demo):
    """04: cohort size per week = visitors whose first visit falls in that ISO week."""
    from analytics.sources.channels import channel_label

    table = pages["04_cohorts"].table_with("Cohort", "Total")
    header, rows = table[0], table[1:]
    visits = tiny_demo.tables["visits"].sort_values("visit_start")
    first = visits.groupby("visitor_id").first()
    iso = first["visit_start"].dt.isocalendar()
    first["cohort"] = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    # headers are the channels' labels (params/channels.yaml)
    first["channel"] = [channel_label(c, "en") for c in first["channel"]]
    expected = first.groupby(["cohort", "channel"]).size()
    assert len(rows) == 12 and rows[-1][0] == "2025-W52"
    for row in rows:
        cells = dict(zip(header[1:], row[1:], strict=True))
        assert amount(cells["Total"]) == expected[row[0]].sum(), row[0]
        for channel, value in cells.items():
            if channel != "Total":
                assert amount(value) == expected.get((row[0], channel), 0), (row[0], channel)


def test_lead_scoring_page_lists_the_period_leads(pages, tiny_demo):
    """05: the call list of the period is every lead created in 2025-W52 (fewer than 15)."""
    table = pages["05_lead_scoring"].table_with("Lead", "Score", "Band")
    shown = [row[table[0].index("Lead")] for row in table[1:]]
    leads = tiny_demo.tables["leads"]
    week = (pd.Timestamp("2025-12-22"), pd.Timestamp("2025-12-29"))
    expected = set(leads.loc[in_window(leads["created_at"], week), "lead_id"])
    assert 0 < len(expected) < 15
    assert sorted(shown) == sorted(expected)


def test_attribution_page_counts_every_sale_of_its_window(pages, tiny_demo):
    """06: conversions on paths + without a touch = won deals closed in the page's window."""
    page = pages["06_attribution"]
    window = window_on_page(page, "attribution window")
    found = re.search(r"sale: (\d+) conversions on paths, (\d+) without a tracked touch", page.text)
    assert found
    deals = tiny_demo.tables["deals"]
    won = deals[(deals["status"] == "won") & in_window(deals["closed_at"], window)]
    assert int(found[1]) + int(found[2]) == len(won) > 0


def test_ab_page_visits_per_arm_over_the_test(pages, tiny_demo):
    """07: visits of the tested ad group by ISO week and creative, and over the test weeks."""
    page = pages["07_ab_tests"]
    weeks = window_on_page(page, "Test weeks")
    table = page.table_with("week", "arm", "visits")
    header, week, shown = table[0], None, {}
    for row in table[1:]:
        if len(row) == len(header) - 1:  # the week cell spans the week's rows (rowspan)
            row = [week, *row]
        week = row[0]
        shown[week, row[1]] = int(row[header.index("visits")])
    visits = tiny_demo.tables["visits"]
    tested = visits[
        in_window(visits["visit_start"], weeks)
        & (visits["utm_campaign"] == "yd_search_generic")
        & (visits["utm_term"] == "generic_crm")
    ]
    iso = tested["visit_start"].dt.isocalendar()
    label = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    expected = {
        **tested.groupby([label, tested["utm_content"]]).size().to_dict(),
        **{(w, "all"): n for w, n in label.value_counts().items()},
        ("total", "all"): len(tested),
    }
    assert len(tested) > 100
    assert shown == expected


def test_segments_page_counts_the_leads_of_its_window(pages, tiny_demo):
    """08: leads of the segment window = leads created in it (repeat requests included)."""
    page = pages["08_segments"]
    found = re.search(r"Window: (.+?) – (.+?); leads in it: ([\d,]+)\.", page.text)
    assert found, "no 'Window: ...; leads in it: N.' line on the page"
    # Babel's English interval: "Mar 2, 2024 – Dec 28, 2025" or "Dec 22 – 28, 2025"
    end = pd.Timestamp(found[2] if re.match(r"[A-Z]", found[2]) else f"{found[1]} {found[2]}")
    start = pd.Timestamp(found[1] if "," in found[1] else f"{found[1]}, {end.year}")
    window = (start, end + pd.Timedelta(days=1))
    leads = tiny_demo.tables["leads"]
    assert amount(found[3]) == in_window(leads["created_at"], window).sum() > 0


WEEK = (pd.Timestamp("2025-12-22"), pd.Timestamp("2025-12-29"))
"""The run's period (last-week of the tiny demo: 2025-W52)."""


def amount(text: str) -> float:
    """``RUB 122,500`` / ``9 142.2`` -> 122500.0 / 9142.2 (en page figures)."""
    return float(re.sub(r"[^0-9.\-]", "", text.replace("−", "-")))


def test_start_here_page_counts_leads_by_month_and_type(pages, tiny_demo):
    """00: the Ibis example's leads per month and type = the raw leads grouped in pandas."""
    table = pages["00_start_here"].table_with("call", "chat", "form")
    leads = tiny_demo.tables["leads"]
    month = leads["created_at"].dt.to_period("M").dt.start_time.dt.strftime("%Y-%m-%d")
    expected = leads.groupby([month, leads["lead_type"]]).size()
    rows = [row for row in table if re.fullmatch(r"\d{4}-\d\d-\d\d", row[0] if row else "")]
    assert len(rows) == 6 and rows[-1][0] == "2025-12-01"
    header = next(row for row in table if "call" in row)
    for row in rows:
        for lead_type, value in zip(header[-3:], row[-3:], strict=True):
            assert int(value) == expected.get((row[0], lead_type), 0), (row[0], lead_type)


def test_kpi_page_spend_per_channel_is_the_raw_spend_of_the_week(pages, tiny_demo):
    """02: spend by channel (RUB, one decimal) = the generator's spend rows of 2025-W52."""
    from analytics.sources.channels import channel_label

    table = pages["02_kpi_dashboard"].table_with("Ad spend", "Leads", "MQL of the period's leads")
    spend = tiny_demo.tables["spend"]
    week = spend[in_window(pd.to_datetime(spend["date"]), WEEK)]
    expected = week.groupby("channel")["cost"].sum()
    # rows are the channels' labels (params/channels.yaml); money in whole roubles
    expected.index = [channel_label(c, "en") for c in expected.index]
    col = table[0].index("Ad spend")
    shown = {row[0]: amount(row[col]) for row in table if row and row[0] in expected.index}
    assert len(shown) >= 3
    for channel, value in shown.items():
        assert value == round(expected[channel]), channel


def test_weekly_summary_tiles_are_the_raw_booked_figures(pages, tiny_demo):
    """09: the Revenue and Ad spend tiles = won deals closed in 2025-W52, spend of the week."""
    text = pages["09_weekly_summary"].text
    deals = tiny_demo.tables["deals"]
    won = deals[(deals["status"] == "won") & in_window(deals["closed_at"], WEEK)]
    spend = tiny_demo.tables["spend"]
    cost = spend.loc[in_window(pd.to_datetime(spend["date"]), WEEK), "cost"].sum()
    revenue = re.search(r"Headline Revenue (RUB [\d,]+)", text)
    ad_spend = re.search(r"Ad spend (RUB [\d,]+)", text)
    assert revenue and ad_spend
    assert amount(revenue[1]) == round(won["amount"].sum()) > 0
    assert amount(ad_spend[1]) == round(cost)


def test_drilldown_page_spend_per_campaign(pages, tiny_demo):
    """10: each campaign's spend = the generator's spend rows of the campaign in 2025-W52
    (the injected anomaly, yd_search_generic's doubled cost, included)."""
    table = pages["10_marketing_drilldown"].table_with("Campaign", "Ad spend")
    header = table[0]
    spend = tiny_demo.tables["spend"]
    week = spend[in_window(pd.to_datetime(spend["date"]), WEEK)]
    expected = week.groupby("campaign")["cost"].sum()
    rows = {row[header.index("Campaign")]: row for row in table[1:] if len(row) == len(header)}
    shown = {c: amount(r[header.index("Ad spend")]) for c, r in rows.items() if c in expected}
    assert "yd_search_generic" in shown and len(shown) >= 3
    for campaign, value in shown.items():
        assert value == round(expected[campaign]), campaign


def test_sales_page_calls_every_lead_of_the_week(pages, tiny_demo):
    """11: the call list holds every lead created in 2025-W52; managers' closed deals
    = deals won or lost in the week, by manager."""
    page = pages["11_sales_call_list"]
    assert "Sales: who to call first" in page.text  # its own title, not the summary's
    calls = page.table_with("Band", "Score", "Lead")
    header = calls[0]
    shown = sorted(row[header.index("Lead")] for row in calls[1:])
    leads = tiny_demo.tables["leads"]
    assert shown == sorted(leads.loc[in_window(leads["created_at"], WEEK), "lead_id"])
    managers = page.table_with("Manager", "Deals closed")
    deals = tiny_demo.tables["deals"]
    closed = deals[deals["status"].isin(["won", "lost"]) & in_window(deals["closed_at"], WEEK)]
    expected = closed.groupby("manager").size().to_dict()
    top = managers[0]
    got = {row[0]: int(row[top.index("Deals closed")]) for row in managers[1:]}
    assert got == expected and sum(got.values()) > 0
