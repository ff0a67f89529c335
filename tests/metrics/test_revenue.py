"""Booked revenue for the CEO: deals by the day they were won, hand-computed."""

from __future__ import annotations

import math
from datetime import date

import duckdb
import pytest

from analytics.metrics import revenue
from analytics.metrics.period import Period
from analytics.warehouse import schema


@pytest.fixture()
def con():
    c = duckdb.connect()
    for table in schema.CANONICAL.values():
        c.execute(table.ddl())
    # won in W23 (2025-06-02..08): 100 000 + 50 000; won in W22: 70 000 (lead of W21);
    # lost and open deals never count; a deal won on Monday of W24 is outside W23
    deals = [
        ("d1", "2025-05-20 10:00", "2025-06-03 12:00", "won", 100_000.0),
        ("d2", "2025-06-02 09:00", "2025-06-08 23:59", "won", 50_000.0),
        ("d3", "2025-05-21 09:00", "2025-05-30 10:00", "won", 70_000.0),
        ("d4", "2025-06-01 09:00", "2025-06-04 10:00", "lost", None),
        ("d5", "2025-06-03 09:00", None, "open", 999_999.0),
        ("d6", "2025-06-01 09:00", "2025-06-09 00:00", "won", 30_000.0),
    ]
    for d, created, closed, status, amount in deals:
        c.execute(
            "INSERT INTO deals (deal_id, created_at, closed_at, status, stage, amount) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [d, created, closed, status, status if status != "open" else "sql", amount],
        )
    spend = [("2025-06-02", 20_000.0), ("2025-06-08", 10_000.0), ("2025-05-28", 5_000.0)]
    for i, (day, cost) in enumerate(spend):
        c.execute(
            "INSERT INTO spend VALUES (?, 'yandex_search', 'yandex', 'cpc', 'c', 'g', ?, 1, 1, ?)",
            [day, f"cr{i}", cost],
        )
    yield c
    c.close()


W23 = Period(date(2025, 6, 2), date(2025, 6, 8), "2025-W23")


def test_booked_summary_by_hand(con):
    row = revenue.booked_summary(con, W23).iloc[0]
    assert row["revenue"] == 150_000.0
    assert row["sales"] == 2
    assert row["spend"] == 30_000.0
    assert row["drr"] == pytest.approx(30_000 / 150_000 * 100)  # 20%
    assert row["romi"] == pytest.approx((150_000 - 30_000) / 30_000 * 100)  # 400%
    assert row["cac"] == pytest.approx(15_000.0)
    assert row["average_deal"] == pytest.approx(75_000.0)


def test_empty_period_gives_nan_ratios(con):
    row = revenue.booked_summary(con, Period(date(2024, 1, 1), date(2024, 1, 7), "x")).iloc[0]
    assert (row["revenue"], row["sales"], row["spend"]) == (0.0, 0, 0.0)
    assert math.isnan(row["drr"]) and math.isnan(row["romi"]) and math.isnan(row["cac"])


def test_booked_weekly_by_hand(con):
    weekly = revenue.booked_weekly(con, W23, weeks=2)
    assert [d.date() for d in weekly["week_start"]] == [date(2025, 5, 26), date(2025, 6, 2)]
    assert weekly["revenue"].tolist() == [70_000.0, 150_000.0]
    assert weekly["sales"].tolist() == [1, 2]
    assert weekly["spend"].tolist() == [5_000.0, 30_000.0]
    assert weekly["romi"].tolist() == pytest.approx([1300.0, 400.0])
    with pytest.raises(ValueError, match="weeks must be >= 1"):
        revenue.booked_weekly(con, W23, weeks=0)


def test_booked_total_matches_won_deals_on_demo(tiny_warehouse):
    c = duckdb.connect(str(tiny_warehouse), read_only=True)
    # the whole demo span (two years), so every won deal and every rouble of spend is in it
    span = Period(date(2024, 1, 1), date(2025, 12, 31), "2024-2025")
    row = revenue.booked_summary(c, span).iloc[0]
    won = c.execute("SELECT count(*), sum(amount) FROM deals WHERE status = 'won'").fetchone()
    cost = c.execute("SELECT sum(cost) FROM spend").fetchone()[0]
    c.close()
    assert (row["sales"], row["revenue"]) == (won[0], won[1])
    assert row["spend"] == pytest.approx(cost)


def test_booked_table_uses_booked_definitions(con):
    from analytics.metrics import kpi

    table = kpi.kpi_table(revenue.booked_summary(con, W23), revenue.BOOKED_COLUMNS, basis="booked")
    assert table.loc["Revenue", "definition"] == "revenue = Σ amount of deals won in the period"
    assert table.loc["Ad cost share (ДРР)", "value"] == "20.0%"
    assert table.loc["ROMI", "value"] == "400.0%"  # booked: (150 000 − 30 000) / 30 000
