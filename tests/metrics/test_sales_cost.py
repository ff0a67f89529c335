"""Tests for analytics.metrics.sales_cost: the seed's arithmetic, non-target leads in a warehouse.

Seed 001 (Carrot quest): 1 000 leads a month, 500 of them non-target, 15 minutes each
-> 7 500 minutes = 125 hours of the team; 2 managers at 100 000 RUB for 160 working hours
each spend 62.5 hours (the text says 40%; 62.5 / 160 = 39%) -> 78 125 RUB, rounded in the
text to 80 000 RUB.

Hand-made week 2025-06-02 .. 2025-06-08 (non-target = lost «Нецелевой»):
    N1 paid_search  Анна  lost «Нецелевой»
    N2 paid_search  Анна  lost «Нецелевой»
    N3 organic      Борис lost «Нецелевой»
    N4 organic      Борис lost «Дорого»
    N5 no visit     Борис open
    N6 paid_search  (no manager) lost «Нецелевой»
    N0 paid_search  Анна  lost «Нецелевой», created the week before (not counted)
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from sql_oracle import assert_same_frame, old_manager_time

from analytics.demo import generator
from analytics.metrics import sales_cost
from analytics.metrics.definitions import DEFAULT_DEFINITIONS, definitions_from_dict
from analytics.metrics.period import data_anchor, data_bounds, date_range, parse_period
from analytics.warehouse.schema import CANONICAL

WEEK = date_range(date(2025, 6, 2), date(2025, 6, 8))
LEADS = [
    # lead_id, created_at, visit_id, channel, manager, status, loss_reason
    ("N0", "2025-05-30 10:00", "w0", "paid_search", "Анна", "lost", "Нецелевой"),
    ("N1", "2025-06-02 10:00", "w1", "paid_search", "Анна", "lost", "Нецелевой"),
    ("N2", "2025-06-03 10:00", "w2", "paid_search", "Анна", "lost", "Нецелевой"),
    ("N3", "2025-06-04 10:00", "w3", "organic", "Борис", "lost", "Нецелевой"),
    ("N4", "2025-06-05 10:00", "w4", "organic", "Борис", "lost", "Дорого"),
    ("N5", "2025-06-06 10:00", None, None, "Борис", "open", None),
    ("N6", "2025-06-07 10:00", "w6", "paid_search", None, "lost", "Нецелевой"),
]


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    for table in CANONICAL.values():
        connection.execute(table.ddl())
    for lead_id, created, visit, channel, manager, status, reason in LEADS:
        if visit:
            connection.execute(
                "INSERT INTO visits (visit_id, visitor_id, visit_start, channel, pageviews,"
                " duration_s, goal_pricing) VALUES (?, ?, ?::TIMESTAMP - INTERVAL 5 MINUTE, ?,"
                " 1, 10, false)",
                [visit, f"c{lead_id}", created, channel],
            )
        connection.execute(
            "INSERT INTO leads (lead_id, created_at, lead_type, visit_id) VALUES (?, ?, 'call', ?)",
            [lead_id, created, visit],
        )
        stage = "lost" if status == "lost" else "new"
        connection.execute(
            "INSERT INTO deals (deal_id, lead_id, created_at, status, stage, loss_reason, manager)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [f"D{lead_id}", lead_id, created, status, stage, reason, manager],
        )
    yield connection
    connection.close()


TEAM = definitions_from_dict(
    {
        "non_target": {
            "minutes_per_lead": 15,
            "manager_monthly_salary": 100_000,
            "manager_monthly_hours": 160,
        }
    }
)


def test_seed_non_target_cost_reproduced():
    got = sales_cost.non_target_cost(
        500, minutes_per_lead=15, managers=2, monthly_salary=100_000, monthly_hours=160
    )
    assert sales_cost.non_target_hours(500, 15) == 125.0  # 7 500 minutes
    assert got["hours"] == 125.0
    assert got["hours_per_manager"] == 62.5
    assert round(got["share_of_time_pct"]) == 39  # 39.0625%
    assert got["hourly_cost"] == 625.0
    assert got["cost"] == 78_125.0
    assert round(got["cost"], -4) == 80_000  # as rounded in the text
    with pytest.raises(ValueError, match="managers must be >= 1, got 0"):
        sales_cost.non_target_cost(500, 15, 0, 100_000, 160)


def test_default_loss_reason_is_the_crm_one():
    assert DEFAULT_DEFINITIONS.non_target.loss_reasons == (generator.LOSS_NON_TARGET,)


def test_non_target_leads_by_channel_by_hand(con):
    got = sales_cost.non_target_leads(con, WEEK, TEAM).set_index("channel")
    assert list(got.index) == ["paid_search", "organic", "undetermined"]
    assert tuple(got.loc["paid_search", ["leads", "non_target"]]) == (3, 3)
    assert tuple(got.loc["organic", ["leads", "non_target"]]) == (2, 1)
    assert tuple(got.loc["undetermined", ["leads", "non_target"]]) == (1, 0)
    assert got.loc["organic", "non_target_share_pct"] == pytest.approx(50.0)
    assert got.loc["paid_search", "hours"] == pytest.approx(3 * 15 / 60)
    assert got.loc["paid_search", "cost"] == pytest.approx(0.75 * 625.0)
    assert got["cost"].sum() == pytest.approx(4 * 0.25 * 625.0)


def test_manager_time_by_hand(con):
    got = sales_cost.manager_time(con, WEEK, TEAM).set_index("manager")
    assert list(got.index) == ["Анна", "(no manager)", "Борис"]
    assert list(got["non_target"]) == [2, 1, 1]
    available = 160 * 7 / (365.25 / 12)
    assert got.loc["Анна", "available_hours"] == pytest.approx(available)
    assert got.loc["Анна", "hours"] == pytest.approx(0.5)
    assert got.loc["Анна", "share_of_time_pct"] == pytest.approx(0.5 / available * 100)
    assert got.loc["Борис", "cost"] == pytest.approx(0.25 * 625.0)


def test_manager_time_matches_the_frozen_sql(con):
    """The Ibis deal query (issue 11 item 3) against the DuckDB SQL it replaced."""
    pricey = definitions_from_dict({"non_target": {"loss_reasons": ["Дорого", "Нецелевой"]}})
    for definitions in (TEAM, pricey):
        got = sales_cost.manager_time(con, WEEK, definitions)
        assert_same_frame(got, old_manager_time(con, WEEK, definitions))
    empty = date_range(date(2019, 1, 7), date(2019, 1, 13))
    assert_same_frame(sales_cost.manager_time(con, empty), old_manager_time(con, empty))


def test_other_loss_reasons_are_configurable(con):
    pricey = definitions_from_dict({"non_target": {"loss_reasons": ["Дорого"]}})
    got = sales_cost.non_target_leads(con, WEEK, pricey).set_index("channel")
    assert got["non_target"].sum() == 1 and got.loc["organic", "non_target"] == 1


def test_non_target_leads_on_the_tiny_demo(tiny_warehouse):
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        period = parse_period("all", data_anchor(con), bounds=data_bounds(con))
        got = sales_cost.non_target_leads(con, period)
        (expected,) = con.execute(
            "SELECT count(DISTINCT lead_id) FROM deals WHERE status = 'lost' AND loss_reason = ?",
            [generator.LOSS_NON_TARGET],
        ).fetchone()
        assert got["non_target"].sum() == expected > 0
        assert (
            got["leads"].sum()
            == con.execute("SELECT count(DISTINCT lead_id) FROM leads").fetchone()[0]
        )
        managers = sales_cost.manager_time(con, period)
        assert managers["non_target"].sum() == expected
        assert len(managers) >= 2
        assert_same_frame(managers, old_manager_time(con, period))
    finally:
        con.close()
