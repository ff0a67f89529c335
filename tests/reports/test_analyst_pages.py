"""Analyst page sections (notebooks 01–05, 08) on hand-written inputs, and every
section rendered in Russian on the tiny warehouse through the page text lint."""

from __future__ import annotations

import re

import matplotlib
import pandas as pd
import pytest

from analytics.metrics.snapshot import Snapshot
from analytics.reports import analyst_pages as pages
from analytics.reports import page

matplotlib.use("Agg")
NB = "\u00a0"


def entry(value, previous, delta=None, delta_pct=None, **extra):
    return {
        "value": value,
        "previous": previous,
        "year_ago": None,
        "delta": delta,
        "delta_pct": delta_pct,
        "delta_year": None,
        "delta_year_pct": None,
        "reason": extra.pop("reason", None),
        "reasons": extra.pop("reasons", {}),
    }


@pytest.fixture
def snapshot():
    """A week: 6 leads (5 before: +20 %) from 370 visits (CR 6 / 370 = 1.62 %), 4 MQL,
    3 SQL; CPL 2 265.4 ₽ (2 561.2 before: −11.5 %); CAC undefined (no sales)."""
    no_sales = {"ru": "нет продаж", "en": "no sales"}
    data = {
        "period": {"label": "2025-W52", "start": "2025-12-22", "end": "2025-12-28", "days": 7},
        "metrics": {
            "leads": entry(6, 5, 1, 20.0),
            "visits": entry(370, 400, -30, -7.5),
            "cr_visit_lead": entry(1.6216, 1.25, 0.3716, 29.7),
            "mql": entry(4, 4, 0, 0.0),
            "sql_leads": entry(3, 1, 2, 200.0),
            "cpl": entry(2265.445, 2561.21, -295.765, -11.547),
            "cac": entry(None, 30000.0, reason=no_sales, reasons={"delta": no_sales}),
            "romi": entry(-100.0, 50.0, -150.0, None),
            "sales_cohort": entry(2, 1, 1, 100.0),
            "revenue_cohort": entry(250_000.0, 100_000.0, 150_000.0, 150.0),
            "romi_cohort": entry(1740.2, 500.0, 1240.2, None),
        },
        "channels": {},
        "weekly": [],
    }
    return Snapshot(data)


def test_funnel_conclusion_reads_the_snapshot(snapshot):
    """6 leads, 370 visits, CR 1.6216 % → "1.6%", +20 % → "20.0% more", 4 MQL, 3 SQL."""
    en = pages.funnel_conclusion(snapshot, "en")
    assert (
        "6 leads in the period from 370 visits (CR 1.6%), 20.0% more than in the previous "
        "period; 4 of them became MQL and 3 SQL." in en
    )
    ru = pages.funnel_conclusion(snapshot, "ru")
    assert f"Лидов за период: 6 из 370 визитов (CR 1,6{NB}%), на 20,0{NB}% больше" in ru


def test_cohort_conclusion_reads_the_cohort_figures(snapshot):
    """2 cohort sales worth 250 000 ₽, cohort ROMI 1 740.2 %; no sale: says so."""
    assert (
        "The period&#x27;s leads have brought 2 sales so far, worth RUB\u00a0250,000; "
        "the cohort&#x27;s ROMI is 1,740.2% for now." in pages.cohort_conclusion(snapshot, "en")
    )
    snapshot.data["metrics"]["sales_cohort"]["value"] = 0
    assert "ещё не принесли ни одной продажи" in pages.cohort_conclusion(snapshot, "ru")


def test_snapshot_table_formats_by_unit_and_footnotes_dashes(snapshot):
    html = page.snapshot_table(snapshot, ("leads", "cpl", "cac", "romi"), "ru", formula=True)
    assert ">Лиды</td>" in html and ">6</td>" in html and ">5</td>" in html
    assert f">+20,0{NB}%</td>" in html  # counts change in %
    assert f">2{NB}265{NB}₽</td>" in html and f">\u221211,5{NB}%</td>" in html
    assert "—¹" in html and "¹ нет продаж" in html  # undefined CAC: the snapshot's reason
    assert f"\u2212150,0{NB}п.{NB}п." in html  # a percent metric changes in points
    assert ">CPL = расходы / лиды</td>" in html  # the catalogue formula, in Russian
    assert not re.search(r"\b(nan|None|NaN|inf)\b", html)
    assert "<th" in html and "Показатель" in html and "Формула" in html


def test_biggest_changes_ignore_undefined_and_flat(snapshot):
    """delta_pct: leads +20, visits −7.5, CR +29.7, MQL 0, SQL +200, CPL −11.5,
    CAC/ROMI undefined → rise: SQL, fall: CPL."""
    keys = ("leads", "visits", "cr_visit_lead", "mql", "sql_leads", "cpl", "cac", "romi")
    assert pages.biggest_changes(snapshot, keys) == ("sql_leads", "cpl")
    assert pages.biggest_changes(snapshot, ("mql", "cac")) == (None, None)


def test_heat_table_formats_cells_and_leaves_unreached_ages_empty():
    matrix = pd.DataFrame(
        {0: [1.0, 2.5], 1: [3.0, float("nan")]}, index=pd.Index(["2025-W51", "2025-W52"])
    )
    html = page.heat_table(matrix, "percent", "ru", "Когорта", "Недель с первого визита")
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells == ["2025-W51", f"1,0{NB}%", f"3,0{NB}%", "2025-W52", f"2,5{NB}%", ""]
    # the maximum (3 %) is the darkest cell: 0.08 + 0.85 × 1 = 0.93
    assert "rgba(33,102,172,0.93)" in html
    assert "overflow-x:auto" in html and "nan" not in html.lower()


def test_checks_section_names_the_checks_above_threshold():
    report = pd.DataFrame(
        {
            "value": [4.0, 0.0, 1.0],
            "base": [5.0, 0.0, 6.0],
            "share": [80.0, float("nan"), 16.667],
            "threshold": [30.0, 30.0, 5.0],
            "status": ["warn", "ok", "warn"],
        },
        index=pd.Index(
            ["undetermined_campaign_deals", "undetermined_campaign_revenue", "missing_in_crm"],
            name="check",
        ),
    )
    html = pages.checks_section(report, "en")
    assert (
        "2 of 3 checks are above their threshold: Deals without a campaign, "
        "Requests without a CRM deal." in html
    )
    assert ">80.0%</td>" in html and ">16.7%</td>" in html and "—¹" in html
    assert "undetermined_campaign" not in html
    ru = pages.checks_section(report.assign(status="ok"), "ru")
    assert "Все 3 проверок в пределах порогов." in ru


def test_mean_conversion_at_an_age_skips_cohorts_not_that_old():
    """Week 1: (2 + 4) / 2 = 3; week 2: only the oldest cohort, 5; week 3: none."""
    matrix = pd.DataFrame({0: [1.0, 2.0, 1.0], 1: [2.0, 4.0, None], 2: [5.0, None, None]})
    assert pages.mean_conversion_at(matrix, 1) == pytest.approx(3.0)
    assert pages.mean_conversion_at(matrix, 2) == pytest.approx(5.0)
    assert pages.mean_conversion_at(matrix, 3) is None


def test_best_segment_needs_a_sale_and_breaks_ties_by_leads():
    overview = pd.DataFrame(
        {
            "dimension": ["region", "region", "industry", "industry"],
            "segment": ["Москва", "Казань", "IT", "Финансы"],
            "leads": [90, 10, 30, 5],
            "sales": [18, 2, 6, 0],
            "cr_lead_sale": [20.0, 20.0, 20.0, float("nan")],
        }
    )
    assert pages.best_segment(overview)["segment"] == "Москва"
    assert pages.best_segment(overview.assign(sales=0)) is None


def test_profitability_shows_a_dash_not_zero_for_channels_without_spend():
    channels = pd.DataFrame(
        {
            "channel": ["yandex_search", "organic"],
            "spend": [100_000.0, 0.0],
            "leads": [40, 46],
            "sales": [7, 9],
            "revenue": [300_000.0, 2_220_600.0],
            "profit": [200_000.0, 2_220_600.0],
            "romi": [200.0, float("nan")],
            "drr": [33.3, 0.0],
            "cac": [14285.7, 0.0],
        }
    )
    html = pages.profitability_section(channels, "en")
    organic = re.search(r"<tr><td[^>]*>Organic search</td>(.*?)</tr>", html)
    assert organic, html
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", organic.group(1))
    # spend 0, leads, sales, revenue, profit, then ROMI, ДРР and CAC undefined
    assert cells[0] == "RUB\u00a00" and cells[5:] == ["—¹", "—¹", "—¹"]
    assert ">200.0%</td>" in html


def test_model_metrics_have_names_and_formats():
    frame = pages.model_metrics_frame(
        {"leads": 1234, "base_rate": 0.1234, "roc_auc": 0.81234, "lift_at_10": 2.5, "x": "s"},
        "ru",
    )
    assert frame.to_dict("records") == [
        {"measure": "Проверочных лидов", "value": f"1{NB}234"},
        {"measure": "Доля SQL", "value": f"12,3{NB}%"},
        {"measure": "ROC-AUC", "value": "0,812"},
        {"measure": "Lift в верхних 10 % лидов", "value": "2,500"},
    ]


def test_every_section_renders_in_russian_through_the_text_lint(tiny_warehouse):
    """The sections of 01–04 and 08 on the tiny warehouse, locale ru: the leadership
    text lint (no raw values, no snake_case headers, no English outside cells)."""
    from test_pages import lint, visible

    from analytics.metrics import quality
    from analytics.metrics.cohorts import cohort_funnel, cohort_window
    from analytics.metrics.influence import influence
    from analytics.metrics.period import data_anchor, data_bounds, parse_period
    from analytics.metrics.segments import channel_profitability, segment_leads, segments_overview
    from analytics.metrics.snapshot import compute_snapshot
    from analytics.warehouse import connect

    con = connect(tiny_warehouse, read_only=True)
    try:
        period = parse_period("last-week", data_anchor(con), bounds=data_bounds(con))
        shot = compute_snapshot(con, period)
        cohorts = cohort_funnel(con, cohort_window(period, 12), as_of=period.end)
        months = cohort_window(period, 12, grain="month")
        monthly = cohort_funnel(con, months, grain="month", as_of=period.end)
        overview = segments_overview(segment_leads(con, period))
        channels = channel_profitability(con, period)
        html = "".join(
            [
                pages.page_title(shot, "funnel_title", "ru"),
                pages.booked_section(shot, "ru"),
                pages.cohort_section(shot, "ru"),
                pages.stages_section(shot, "ru"),
                pages.channel_section(shot, "ru"),
                pages.kpi_conclusion(shot, "ru"),
                pages.kpi_channel_section(shot, "ru"),
                pages.non_target_section(con, period, "ru"),
                pages.kpi_compare_section(shot, "ru"),
                pages.checks_section(quality.quality_report(con, period), "ru"),
                pages.undetermined_section(
                    quality.undetermined_campaign(quality.deal_campaigns(con, period)), "ru"
                ),
                pages.loads_section(
                    quality.load_summary(con), quality.quarantine_reasons(con), "ru"
                ),
                pages.demo_defects_section(quality.demo_defect_recovery(con), "ru"),
                pages.cohorts_conclusion(cohorts, "ru"),
                pages.sizes_section(cohorts, "ru"),
                pages.conversion_section(cohorts, monthly, "ru"),
                pages.segments_conclusion(overview, channels, "ru"),
                pages.segment_section(overview, "region", "ru"),
                pages.profitability_section(channels, "ru"),
                pages.influence_section(influence(con, period, level="ad_group"), "ru"),
            ]
        )
    finally:
        con.close()
    # the cohorts page charts conversion by first channel at 4 weeks (weeks 0–3)
    assert 'alt="Посетитель → лид за 4 нед. по первому каналу"' in html
    html = re.sub(r"data:[^\"')\s]+", "", html)
    assert not re.search(r"<tr[^>]*>\s*<th[^>]*>\s*</th>", html)  # no index column
    assert lint(visible(html), russian=True) == []


def test_non_target_section_from_a_frame_computed_once_is_the_same_page(tiny_warehouse):
    """02 computes the non-target table once for every language of the page (``frame=``):
    each language's section equals the one computed from the warehouse (over the tiny
    demo's whole span, which has non-target leads), without reading it again."""
    from analytics.metrics import sales_cost
    from analytics.metrics.period import data_anchor, data_bounds, parse_period
    from analytics.warehouse import connect

    con = connect(tiny_warehouse, read_only=True)
    try:
        period = parse_period("all", data_anchor(con), bounds=data_bounds(con))
        frame = sales_cost.non_target_leads(con, period)
        assert frame["non_target"].sum() > 0
        for locale in ("ru", "en"):
            alone = pages.non_target_section(con, period, locale)
            assert pages.non_target_section(None, period, locale, frame=frame) == alone
    finally:
        con.close()
