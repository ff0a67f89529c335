"""Tests for analytics.metrics.kpi against figures computed by hand on a tiny warehouse.

The warehouse (built below) covers the report week 2025-W23 (Mon 06-02 .. Sun 06-08),
the week before (2025-W22) and a few won deals of 2024 and early 2025 for the target.

Week 2025-W23 by hand
---------------------
spend: camp_a (paid_search, yandex) 10 000, camp_b (paid_social, vk) 5 000 -> 15 000 RUB
visits: v1 v2 v7 paid_search/yandex/camp_a, v3 paid_social/vk/camp_b, v4 v5 organic/google,
        v6 v8 direct (no source, no campaign) -> 8 visits
leads and deals (manager; history; close):
    L1 v1  D1 Анна  new mql sql won 100 000, won Fri 06-06 09:10      -> MQL SQL sale
    L2 v2  D2 Борис new mql lost «Дорого», lost Thu 06-05 10:10         -> MQL
    L3 v3  D3 Борис new lost «Нецелевой», lost Wed 06-04 11:10          -> non-target
    L4 v4  D4 Анна  new mql sql demo, open                             -> MQL SQL
    L5 --  D5 Борис new mql sql proposal won 50 000, no closed_at,
           history won Sat 06-07 20:00                                 -> MQL SQL sale
    L6 v6  no deal
-> leads 6, MQL 4, SQL 3, sales 2, revenue 150 000, non-target 1
Previous week 2025-W22: spend 8 000, visits 2, leads L0 (D0 Анна won 40 000 on Tue 06-03)
and L00 (D00 Анна lost «Нецелевой» 05-30) -> leads 2, MQL 2, SQL 1, sales 1, revenue 40 000.
Target: won in 2024 300 000 + 200 000 = 500 000 (data start 2024-01-01); won in 2025 up to
06-08: DZ 60 000 (02-10), D0 40 000, D1 100 000, D5 50 000 = 250 000.
"""

from __future__ import annotations

import math
from datetime import date

import duckdb
import pandas as pd
import pytest

from analytics.metrics import kpi
from analytics.metrics.definitions import definitions_from_dict
from analytics.metrics.funnel import funnel_by_channel, funnel_summary
from analytics.metrics.period import data_anchor, data_bounds, date_range, iso_week, parse_period
from analytics.warehouse.schema import CANONICAL

W23 = iso_week(2025, 23)
W22 = iso_week(2025, 22)

SPEND = [
    ("2025-05-27", "paid_search", "yandex", "camp_a", 8_000.0),
    ("2025-06-02", "paid_search", "yandex", "camp_a", 10_000.0),
    ("2025-06-04", "paid_social", "vk", "camp_b", 5_000.0),
]
VISITS = [
    # visit_id, visitor_id, start, channel, utm_source, utm_campaign
    ("v0", "x", "2025-05-28 10:00", "paid_search", "yandex", "camp_a"),
    ("v00", "y", "2025-05-29 10:00", "paid_search", "yandex", "camp_a"),
    ("v1", "a", "2025-06-02 09:00", "paid_search", "yandex", "camp_a"),
    ("v2", "b", "2025-06-02 10:00", "paid_search", "yandex", "camp_a"),
    ("v3", "c", "2025-06-03 11:00", "paid_social", "vk", "camp_b"),
    ("v4", "d", "2025-06-04 12:00", "organic", "google", None),
    ("v5", "e", "2025-06-05 13:00", "organic", "google", None),
    ("v6", "f", "2025-06-06 14:00", "direct", None, None),
    ("v7", "g", "2025-06-07 15:00", "paid_search", "yandex", "camp_a"),
    ("v8", "h", "2025-06-08 16:00", "direct", None, None),
]
LEADS = [
    # lead_id, created_at, lead_type, visitor_id, visit_id
    ("LY0", "2024-01-01 08:00", "form", None, None),
    ("LY1", "2024-03-01 10:00", "form", None, None),
    ("LY2", "2024-11-01 10:00", "call", None, None),
    ("LZ", "2025-02-01 10:00", "form", None, None),
    ("L0", "2025-05-28 10:10", "form", "x", "v0"),
    ("L00", "2025-05-29 10:10", "form", "y", "v00"),
    ("L1", "2025-06-02 09:10", "form", "a", "v1"),
    ("L2", "2025-06-02 10:10", "call", "b", "v2"),
    ("L3", "2025-06-03 11:10", "chat", "c", "v3"),
    ("L4", "2025-06-04 12:10", "form", "d", "v4"),
    ("L5", "2025-06-05 08:00", "call", None, None),
    ("L6", "2025-06-06 14:10", "form", "f", "v6"),
]
DEALS = [
    # deal_id, lead_id, status, stage, amount, manager, loss_reason, closed_at, history
    ("DY1", "LY1", "won", "won", 300_000.0, "Анна", None, "2024-03-20 10:00", ("new", "won")),
    ("DY2", "LY2", "won", "won", 200_000.0, "Борис", None, "2024-12-31 23:00", ("new", "won")),
    ("DZ", "LZ", "won", "won", 60_000.0, "Анна", None, "2025-02-10 10:00", ("new", "won")),
    (
        "D0",
        "L0",
        "won",
        "won",
        40_000.0,
        "Анна",
        None,
        "2025-06-03 10:10",
        ("new", "mql", "sql", "won"),
    ),
    ("D00", "L00", "lost", "lost", None, "Анна", "Нецелевой", "2025-05-30 10:00", ("new", "mql")),
    (
        "D1",
        "L1",
        "won",
        "won",
        100_000.0,
        "Анна",
        None,
        "2025-06-06 09:10",
        ("new", "mql", "sql", "won"),
    ),
    ("D2", "L2", "lost", "lost", 30_000.0, "Борис", "Дорого", "2025-06-05 10:10", ("new", "mql")),
    ("D3", "L3", "lost", "lost", None, "Борис", "Нецелевой", "2025-06-04 11:10", ("new",)),
    ("D4", "L4", "open", "demo", 70_000.0, "Анна", None, None, ("new", "mql", "sql", "demo")),
    ("D5", "L5", "won", "won", 50_000.0, "Борис", None, None, ("new", "mql", "sql", "proposal")),
]
D5_WON_AT = "2025-06-07 20:00"


def _build(con) -> None:
    for table in CANONICAL.values():
        con.execute(table.ddl())
    for day, channel, source, campaign, cost in SPEND:
        con.execute(
            "INSERT INTO spend VALUES (?, ?, ?, 'cpc', ?, 'g', 'c', 1000, 10, ?)",
            [day, channel, source, campaign, cost],
        )
    for visit_id, visitor, start, channel, source, campaign in VISITS:
        con.execute(
            "INSERT INTO visits (visit_id, visitor_id, visit_start, channel, utm_source,"
            " utm_campaign, pageviews, duration_s, goal_pricing) VALUES (?, ?, ?, ?, ?, ?, 3, 60,"
            " false)",
            [visit_id, visitor, start, channel, source, campaign],
        )
    for lead_id, created, lead_type, visitor, visit in LEADS:
        con.execute(
            "INSERT INTO leads (lead_id, created_at, lead_type, visitor_id, visit_id)"
            " VALUES (?, ?, ?, ?, ?)",
            [lead_id, created, lead_type, visitor, visit],
        )
    created = {lead_id: ts for lead_id, ts, *_ in LEADS}
    for deal_id, lead_id, status, stage, amount, manager, reason, closed, history in DEALS:
        con.execute(
            "INSERT INTO deals (deal_id, lead_id, created_at, closed_at, status, stage,"
            " loss_reason, amount, manager) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [deal_id, lead_id, created[lead_id], closed, status, stage, reason, amount, manager],
        )
        for minutes, step in enumerate(history):
            con.execute(
                "INSERT INTO deal_stages VALUES (?, ?, ?::TIMESTAMP + to_minutes(?))",
                [deal_id, step, created[lead_id], minutes + 1],
            )
    con.execute("INSERT INTO deal_stages VALUES ('D5', 'won', ?)", [D5_WON_AT])


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    _build(connection)
    yield connection
    connection.close()


def close(actual, expected, rel=1e-9):
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    return actual == pytest.approx(expected, rel=rel, abs=1e-9)


# --------------------------------------------------------------------------- formulas


def test_seed_revenue_target_formula_with_numbers():
    # (last year's revenue x target growth) + last year's revenue
    assert kpi.revenue_target(10_000_000, 0.15) == pytest.approx(11_500_000)
    assert kpi.revenue_target(500_000, 0.2) == pytest.approx(600_000)
    assert kpi.revenue_target(500_000, 0.0) == pytest.approx(500_000)


def test_seed_value_per_lead_and_visit_with_numbers():
    # a quarter: 50 000 visits, 2 000 leads, 3 000 000 RUB of lead revenue
    assert kpi.visits_per_lead(50_000, 2_000) == pytest.approx(25.0)
    assert kpi.value_per_lead(3_000_000, 2_000) == pytest.approx(1_500.0)
    assert kpi.value_per_visit(3_000_000, 50_000) == pytest.approx(60.0)
    assert math.isnan(kpi.value_per_lead(3_000_000, 0))


def test_target_progress_by_hand():
    got = kpi.target_progress(250_000, 600_000, 159, 365)
    assert got["progress_pct"] == pytest.approx(250_000 / 600_000 * 100)
    assert got["expected_pct"] == pytest.approx(159 / 365 * 100)
    assert got["pace_index"] == pytest.approx((250_000 / 600_000) / (159 / 365))
    assert got["expected_to_date"] == pytest.approx(600_000 * 159 / 365)
    assert got["gap_to_pace"] == pytest.approx(600_000 * 159 / 365 - 250_000)
    assert got["projected"] == pytest.approx(250_000 * 365 / 159)


def test_change():
    assert kpi.change(150_000, 40_000) == (110_000, pytest.approx(275.0))
    assert kpi.change(-5, -10) == (5, pytest.approx(50.0))
    diff, pct = kpi.change(3, 0)
    assert diff == 3 and math.isnan(pct)


def test_previous_period_same_length():
    prev = kpi.previous_period(W23)
    assert (prev.start, prev.end) == (date(2025, 5, 26), date(2025, 6, 1))
    june = kpi.previous_period(date_range(date(2025, 6, 1), date(2025, 6, 30)))
    assert (june.start, june.end) == (date(2025, 5, 2), date(2025, 5, 31))


# --------------------------------------------------------------------------- warehouse


W23_EXPECTED = {
    "spend": 15_000.0,
    "visits": 8,
    "leads": 6,
    "mql": 4,
    "sql_leads": 3,
    "sales": 2,
    "revenue": 150_000.0,
    "non_target": 1,
    "cpl": 2_500.0,
    "cost_per_mql": 3_750.0,
    "cost_per_sql": 5_000.0,
    "cac": 7_500.0,
    "drr": 10.0,
    "romi": 900.0,
    "cr_visit_lead": 75.0,
    "cr_lead_mql": 4 / 6 * 100,
    "cr_mql_sql": 75.0,
    "cr_sql_sale": 2 / 3 * 100,
    "cr_lead_sale": 2 / 6 * 100,
    "visits_per_lead": 8 / 6,
    "value_per_lead": 25_000.0,
    "value_per_visit": 18_750.0,
    "average_deal": 75_000.0,
    "non_target_share": 1 / 6 * 100,
}


@pytest.fixture(scope="module")
def w23_summary(con):
    """``kpi_summary`` of W23 (CRM stages), read by two tests (an Ibis compile each)."""
    return kpi.kpi_summary(con, W23)


@pytest.fixture(scope="module")
def w23_by_channel(con):
    """``conversion_by`` channel of W23, read by two tests."""
    return kpi.conversion_by(con, W23, "channel")


def test_kpi_summary_by_hand(w23_summary):
    row = w23_summary.iloc[0]
    for column, expected in W23_EXPECTED.items():
        assert close(float(row[column]), expected), column


def test_kpi_summary_counts_agree_with_funnel(con, w23_summary):
    """MQL and SQL by two routes: leads flagged by ``lead_flags`` vs deals reaching the stage.

    Only these two columns are computed independently by ``kpi_summary``; spend,
    visits, leads, sales, revenue and CAC are the funnel's own figures (checked
    against the hand computation in ``test_kpi_summary_by_hand``). Each lead of
    this warehouse has at most one deal, so the two routes must agree (4 and 3).
    """
    ours = w23_summary.iloc[0]
    funnel = funnel_summary(con, W23).iloc[0]
    for column, by_hand in (("mql", 4), ("sql_leads", 3)):
        assert ours[column] == funnel[column] == by_hand, column


def test_kpi_summary_with_rule_definitions(con):
    # no contacts in this warehouse: with require_contact nobody is an MQL
    rules = definitions_from_dict({"mql": {"method": "rules"}})
    row = kpi.kpi_summary(con, W23, rules).iloc[0]
    assert row["mql"] == 0 and row["sql_leads"] == 0
    assert math.isnan(row["cost_per_mql"])
    assert row["leads"] == 6 and row["sales"] == 2


def test_conversion_by_channel_by_hand(w23_by_channel):
    got = w23_by_channel.set_index("channel")
    expected = {
        # channel: spend, visits, leads, mql, sql, sales, revenue, non_target
        "paid_search": (10_000.0, 3, 2, 2, 1, 1, 100_000.0, 0),
        "paid_social": (5_000.0, 1, 1, 0, 0, 0, 0.0, 1),
        "organic": (0.0, 2, 1, 1, 1, 0, 0.0, 0),
        "direct": (0.0, 2, 1, 0, 0, 0, 0.0, 0),
        "undetermined": (0.0, 0, 1, 1, 1, 1, 50_000.0, 0),
    }
    assert set(got.index) == set(expected)
    cols = ["spend", "visits", "leads", "mql", "sql_leads", "sales", "revenue", "non_target"]
    for channel, values in expected.items():
        assert tuple(got.loc[channel, cols]) == values, channel
    assert got.loc["paid_search", "cr_visit_lead"] == pytest.approx(2 / 3 * 100)
    assert got.loc["paid_search", "cpl"] == pytest.approx(5_000.0)
    assert got.loc["undetermined", "value_per_lead"] == pytest.approx(50_000.0)
    assert list(got.index[:1]) == ["paid_search"]  # most leads first


def test_conversion_by_channel_matches_funnel_by_channel(con, w23_by_channel):
    ours = w23_by_channel.set_index("channel").sort_index()
    funnel = funnel_by_channel(con, W23).set_index("channel").sort_index()
    for col in ("spend", "visits", "leads", "mql", "sql_leads", "sales", "revenue"):
        assert list(ours[col]) == list(funnel[col]), col


def test_conversion_by_source_and_campaign_by_hand(con):
    source = kpi.conversion_by(con, W23, "source").set_index("source")
    assert tuple(source.loc["yandex", ["spend", "visits", "leads"]]) == (10_000.0, 3, 2)
    assert tuple(source.loc["vk", ["spend", "visits", "leads"]]) == (5_000.0, 1, 1)
    assert tuple(source.loc["google", ["spend", "visits", "leads"]]) == (0.0, 2, 1)
    assert tuple(source.loc["undetermined", ["visits", "leads", "sales"]]) == (2, 2, 1)
    campaign = kpi.conversion_by(con, W23, "campaign").set_index("campaign")
    assert tuple(campaign.loc["camp_a", ["spend", "visits", "leads", "mql"]]) == (10_000.0, 3, 2, 2)
    assert tuple(campaign.loc["camp_b", ["spend", "visits", "leads", "mql"]]) == (5_000.0, 1, 1, 0)
    assert tuple(campaign.loc["undetermined", ["visits", "leads", "mql"]]) == (4, 3, 2)
    with pytest.raises(ValueError, match="by must be one of"):
        kpi.conversion_by(con, W23, "region")


def test_stage_conversion_by_hand(con):
    got = kpi.stage_conversion(con, W23).set_index("stage")
    assert list(got["leads"]) == [6, 5, 4, 3, 3, 2, 2]
    assert math.isnan(got.loc["leads", "conversion_pct"])
    expected = {
        "new": 5 / 6,
        "mql": 4 / 5,
        "sql": 3 / 4,
        "demo": 1.0,
        "proposal": 2 / 3,
        "won": 1.0,
    }
    for stage, share in expected.items():
        assert got.loc[stage, "conversion_pct"] == pytest.approx(share * 100), stage
    assert got.loc["won", "from_leads_pct"] == pytest.approx(2 / 6 * 100)


def test_cycle_time_by_hand(con):
    # won in W23: D0 6.0 days, D1 4.0 days, D5 2.5 days (won time from the history)
    got = kpi.cycle_time(con, W23).iloc[0]
    assert got["deals"] == 3
    assert got["median_days"] == pytest.approx(4.0)
    assert got["mean_days"] == pytest.approx((6.0 + 4.0 + 2.5) / 3)
    by_manager = kpi.cycle_time(con, W23, by="manager")
    assert by_manager.loc["Анна", "median_days"] == pytest.approx(5.0)
    assert by_manager.loc["Борис", "mean_days"] == pytest.approx(2.5)


def test_cycle_time_empty_period(con):
    got = kpi.cycle_time(con, iso_week(2025, 30))
    assert got.iloc[0]["deals"] == 0 and math.isnan(got.iloc[0]["median_days"])


def test_win_rate_by_manager_by_hand(con):
    got = kpi.win_rate_by_manager(con, W23).set_index("manager")
    # closed in W23: Анна won D0 D1; Борис won D5, lost D2 D3
    assert tuple(got.loc["Анна", ["won", "lost", "closed"]]) == (2, 0, 2)
    assert got.loc["Анна", "win_rate"] == pytest.approx(100.0)
    assert got.loc["Анна", "revenue"] == pytest.approx(140_000.0)
    assert got.loc["Анна", "average_deal"] == pytest.approx(70_000.0)
    assert tuple(got.loc["Борис", ["won", "lost", "closed"]]) == (1, 2, 3)
    assert got.loc["Борис", "win_rate"] == pytest.approx(100 / 3)
    assert list(got.index) == ["Борис", "Анна"]  # most closed first
    fair = kpi.win_rate_by_manager(con, W23, exclude_loss_reasons=("Нецелевой",))
    assert fair.set_index("manager").loc["Борис", "win_rate"] == pytest.approx(50.0)


def test_period_over_period_by_hand(con):
    got = kpi.period_over_period(con, W23)
    assert got.loc["revenue", "previous"] == pytest.approx(40_000.0)
    assert got.loc["revenue", "change"] == pytest.approx(110_000.0)
    assert got.loc["revenue", "change_pct"] == pytest.approx(275.0)
    assert got.loc["spend", "change_pct"] == pytest.approx(87.5)
    assert got.loc["leads", "change_pct"] == pytest.approx(200.0)
    assert got.loc["mql", "change_pct"] == pytest.approx(100.0)
    assert got.loc["sql_leads", "previous"] == 1
    assert got.loc["cac", "change_pct"] == pytest.approx(-6.25)  # 7 500 vs 8 000
    assert got.loc["drr", "change"] == pytest.approx(-10.0)  # 10% vs 20%
    assert got.loc["drr", "label"] == "Ad cost share of the period's leads (cohort)"


def test_revenue_vs_target_by_hand(con):
    got = kpi.revenue_vs_target(con, W23.end, target_growth=0.2).iloc[0]
    assert got["last_year_revenue"] == pytest.approx(500_000.0)
    assert bool(got["last_year_complete"])
    assert got["target"] == pytest.approx(600_000.0)
    assert got["revenue_to_date"] == pytest.approx(250_000.0)
    assert got["elapsed_days"] == 159 and got["days_in_year"] == 365
    assert got["progress_pct"] == pytest.approx(250_000 / 600_000 * 100)
    assert got["expected_pct"] == pytest.approx(159 / 365 * 100)


def test_revenue_vs_target_incomplete_last_year_and_given_figure(con):
    # the data start on 2024-01-01, so 2024 is complete but 2023 is not
    partial = kpi.revenue_vs_target(con, date(2024, 12, 31), target_growth=0.2).iloc[0]
    assert not bool(partial["last_year_complete"]) and math.isnan(partial["target"])
    given = kpi.revenue_vs_target(con, date(2024, 12, 31), 0.1, last_year_revenue=400_000).iloc[0]
    assert given["target"] == pytest.approx(440_000.0)
    assert given["revenue_to_date"] == pytest.approx(500_000.0)
    assert given["last_year_source"] == "given"


def test_revenue_pace_by_hand(con):
    got = kpi.revenue_pace(con, W23.end, target=600_000.0)
    assert got["week_start"].iloc[0] == pd.Timestamp("2024-12-30")
    assert got["week_start"].iloc[-1] == pd.Timestamp("2025-06-02")
    assert got["revenue"].iloc[-1] == pytest.approx(190_000.0)
    assert got["cumulative"].iloc[-1] == pytest.approx(250_000.0)
    assert got["pace"].iloc[-1] == pytest.approx(600_000 * 159 / 365)
    assert got["pace"].iloc[0] == pytest.approx(600_000 * 5 / 365)
    feb = got.set_index("week_start").loc[pd.Timestamp("2025-02-10"), "revenue"]
    assert feb == pytest.approx(60_000.0)


def test_kpi_on_the_tiny_demo_agrees_with_the_generator(tiny_warehouse, tiny_demo):
    """The whole tiny demo: KPIs from the warehouse against the generator's raw tables.

    Independent reference computed here in pandas from ``tiny_demo.tables`` (before
    loading, PII hashing and SQL): leads = rows of ``leads``; MQL / SQL = leads
    whose CRM deal has an ``mql`` / ``sql`` stage row (the generator writes every
    stage a deal passes); sales and revenue = won deals and their amounts; ДРР =
    spend / revenue * 100, ROMI = (revenue - spend) / spend * 100.
    """
    t = tiny_demo.tables
    stages = t["deal_stages"].merge(t["deals"][["deal_id", "lead_id"]], on="deal_id")
    won = t["deals"][t["deals"]["status"] == "won"]
    spend, revenue = t["spend"]["cost"].sum(), won["amount"].sum()
    expected = {
        "leads": len(t["leads"]),
        "mql": stages.loc[stages["stage"] == "mql", "lead_id"].nunique(),
        "sql_leads": stages.loc[stages["stage"] == "sql", "lead_id"].nunique(),
        "sales": len(won),
        "revenue": revenue,
        "drr": spend / revenue * 100,
        "romi": (revenue - spend) / spend * 100,
    }
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        period = parse_period("all", data_anchor(con), bounds=data_bounds(con))
        ours = kpi.kpi_summary(con, period).iloc[0]
        managers = kpi.win_rate_by_manager(con, period)
    finally:
        con.close()
    for column, value in expected.items():
        assert close(float(ours[column]), float(value)), column
    assert expected["sql_leads"] < expected["mql"] < expected["leads"]
    by_manager = won.groupby("manager").size()
    got = managers.set_index("manager")["won"]
    assert got[got > 0].sort_index().to_dict() == by_manager.sort_index().to_dict()
    assert managers["win_rate"].between(0, 100).all()
