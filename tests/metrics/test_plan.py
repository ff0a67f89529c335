"""Plan vs fact on the hand-made warehouse (tests/funnel_fixture.py).

June 2025 to Sun 2025-06-08 (8 of 30 days), booked by hand from the fixture:
revenue D1 100 000 + D4 50 000 + DX 777 = 150 777 RUB (D0 was won on 05-31, May);
sales 3; spend 10 000 + 6 000 + 5 000 = 21 000 RUB; leads L1..L6 = 6.
Plan revenue 600 000: progress 150 777 / 600 000 = 25.1295 %; expected to date
600 000 × 8 / 30 = 160 000; pace 150 777 / 160 000 = 94.2356 %; projected
150 777 × 30 / 8 = 565 413.75. Plan leads 30: progress 20 %, expected 8, pace 75 %.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from funnel_fixture import build_warehouse

from analytics.metrics.plan import PlanError, load_plan, plan_vs_fact


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = build_warehouse(tmp_path_factory.mktemp("plan") / "w.duckdb")
    con = duckdb.connect(str(path))
    yield con
    con.close()


def test_plan_progress_and_straight_line_pace(con):
    result = plan_vs_fact(con, date(2025, 6, 8), {"2025-06": {"revenue": 600_000, "leads": 30}})
    assert (result.month, result.source, result.elapsed_days, result.days) == (
        "2025-06",
        "plan",
        8,
        30,
    )
    revenue, leads = result.rows
    assert revenue["key"] == "revenue" and revenue["fact"] == pytest.approx(150_777)
    assert revenue["progress_pct"] == pytest.approx(25.1295, abs=1e-4)
    assert revenue["expected"] == pytest.approx(160_000)
    assert revenue["pace_pct"] == pytest.approx(94.2356, abs=1e-4)
    assert revenue["projected"] == pytest.approx(565_413.75)
    assert leads["fact"] == 6 and leads["progress_pct"] == pytest.approx(20.0)
    assert leads["pace_pct"] == pytest.approx(75.0)


def test_no_plan_and_no_last_year_gives_no_source(con):
    """The data start on 2025-05-30: June 2024 is not covered, no target formula."""
    result = plan_vs_fact(con, date(2025, 6, 8), {"2025-07": {"revenue": 1.0}})
    assert result.source is None and result.rows == []


def test_target_formula_when_last_year_is_covered(tmp_path):
    """A deal won 2024-06-15 for 200 000 and spend on 2024-05-01 (data start):
    target = 200 000 × 0.2 + 200 000 = 240 000; fact 150 777."""
    path = build_warehouse(tmp_path / "w.duckdb")
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "INSERT INTO spend (date, channel, utm_source, utm_medium, campaign, ad_group,"
            " creative, impressions, clicks, cost) VALUES ('2024-05-01', 'paid_search', 's',"
            " 'cpc', 'c', 'g', 'c', 1, 1, 100)"
        )
        con.execute(
            "INSERT INTO deals (deal_id, lead_id, created_at, status, stage, amount, closed_at)"
            " VALUES ('DY', NULL, '2024-06-10', 'won', 'won', 200000, '2024-06-15 12:00')"
        )
        result = plan_vs_fact(con, date(2025, 6, 8), {}, target_growth=0.2)
    finally:
        con.close()
    assert result.source == "target" and result.last_year == pytest.approx(200_000)
    (row,) = result.rows
    assert row["plan"] == pytest.approx(240_000) and row["fact"] == pytest.approx(150_777)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plans: {2025-13: {revenue: 1}}", "month '2025-13' is not YYYY-MM"),
        ("plans: {2025-06: {profit: 1}}", "month 2025-06: unknown metric 'profit'"),
        ("plans: {2025-06: {revenue: -5}}", "month 2025-06: revenue must be a number >= 0"),
        ("plans: [1, 2]", "'plans' must map a month"),
    ],
)
def test_bad_plan_file_names_file_month_and_key(tmp_path, text, message):
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlanError, match=message):
        load_plan(path)


def test_plan_file_loads_any_subset(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("plans:\n  2025-06: {revenue: 600000, leads: 30}\n", encoding="utf-8")
    assert load_plan(path) == {"2025-06": {"revenue": 600_000.0, "leads": 30.0}}
    assert load_plan(tmp_path / "missing.yaml") == {}
