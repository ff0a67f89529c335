"""Drill-down on the hand-made warehouse (tests/funnel_fixture.py), W23 by hand.

Spend rows (campaign = "<channel>-<day>", ad group "g", creative "c"):
paid_search-2025-06-02 10 000, paid_social-2025-06-03 6 000, paid_search-2025-06-05 5 000.
The fixture's visits carry no UTM, so visits and leads fall in campaign
"undetermined": paid_search 3 visits, 2 leads (L1 MQL SQL won 100 000; L2 MQL);
paid_social 2 visits, 1 lead (L3 MQL SQL); organic 2 visits, 1 lead (L5);
undetermined 2 leads (L4 MQL SQL won 50 000; L6).
Totals = funnel summary: spend 21 000, visits 7, leads 6, MQL 4, SQL 3, sales 2,
revenue 150 000.
Previous week W22: spend 3 000 on paid_search-2025-05-30 -> that campaign is not
in W23; paid_search "undetermined" had 1 visit (v0), 1 lead (L0, won 20 000).
"""

from __future__ import annotations

import math

import duckdb
import pytest
from funnel_fixture import SUMMARY_W23, build_warehouse

from analytics.metrics.drilldown import drilldown, drilldown_with_change
from analytics.metrics.period import iso_week


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = build_warehouse(tmp_path_factory.mktemp("drill") / "w.duckdb")
    con = duckdb.connect(str(path))
    yield con
    con.close()


@pytest.fixture(scope="module")
def w23(con):
    """W23's drill-down at a depth (``change``: with the previous week's figures), computed
    once per module (an Ibis compile each) and read by two tests per depth; each a copy."""
    done = {}

    def frame(depth: str, change: bool = False):
        if (depth, change) not in done:
            compute = drilldown_with_change if change else drilldown
            done[depth, change] = compute(con, iso_week(2025, 23), depth=depth)
        return done[depth, change].copy()

    return frame


def test_totals_equal_the_funnel_summary(con):
    frame = drilldown(con, iso_week(2025, 23), depth="creative")
    for column in ("spend", "visits", "leads", "mql", "sql_leads", "sales", "revenue"):
        assert frame[column].sum() == pytest.approx(SUMMARY_W23[column]), column


def test_campaign_rows_by_hand(w23):
    frame = w23("campaign").set_index(["channel", "campaign"])
    first = frame.loc[("paid_search", "paid_search-2025-06-02")]
    assert first["spend"] == 10_000 and first["leads"] == 0
    assert math.isnan(first["cpl"]) and first["romi"] == pytest.approx(-100.0)
    search = frame.loc[("paid_search", "undetermined")]
    assert (search["visits"], search["leads"], search["mql"], search["sales"]) == (3, 2, 2, 1)
    assert search["revenue"] == 100_000 and search["spend"] == 0
    assert math.isnan(search["romi"]) and search["drr"] == 0.0  # no spend: ДРР 0 %, ROMI undefined
    assert list(frame.index[:3]) == [  # sorted by spend
        ("paid_search", "paid_search-2025-06-02"),
        ("paid_social", "paid_social-2025-06-03"),
        ("paid_search", "paid_search-2025-06-05"),
    ]


def test_channel_ratios(w23):
    """paid_search: spend 15 000, leads 2, MQL 2, SQL 1, revenue 100 000:
    CPL 7 500, cost per MQL 7 500, cost per SQL 15 000, ROMI 566.67 %, ДРР 15 %."""
    frame = w23("channel").set_index("channel")
    row = frame.loc["paid_search"]
    assert row["cpl"] == pytest.approx(7_500) and row["cost_per_sql"] == pytest.approx(15_000)
    assert row["romi"] == pytest.approx(566.6667, abs=1e-3) and row["drr"] == pytest.approx(15.0)


def test_change_against_the_previous_week(w23):
    frame = w23("campaign", change=True)
    row = frame.set_index(["channel", "campaign"]).loc[("paid_search", "undetermined")]
    assert row["leads_previous"] == 1 and row["leads_change"] == pytest.approx(100.0)
    assert row["revenue_previous"] == 20_000 and row["revenue_change"] == pytest.approx(400.0)
    new = frame.set_index(["channel", "campaign"]).loc[("paid_social", "paid_social-2025-06-03")]
    assert new["spend_previous"] == 0 and math.isnan(new["spend_change"])


def test_bad_depth():
    with pytest.raises(ValueError, match="depth must be one of channel, campaign"):
        drilldown(None, iso_week(2025, 23), depth="keyword")


def test_booked_sales_and_revenue_by_hand(w23):
    """Booked W23 (fixture docstring): D1 won 100 000 (L1, v1 paid_search), D4 won 50 000
    (L4, no visit) and DX won 777 (no lead) -> paid_search "undetermined" campaign 1 sale,
    100 000; undetermined/undetermined 2 sales, 50 777; total 3 sales, 150 777 (the CEO's
    booked revenue). paid_search spend 15 000 -> booked ROMI (100 000 − 15 000) / 15 000 ×
    100 = 566.67 % and ДРР 15 000 / 100 000 × 100 = 15 % at channel level."""
    frame = w23("campaign").set_index(["channel", "campaign"])
    assert frame["sales_booked"].sum() == 3
    assert frame["revenue_booked"].sum() == pytest.approx(150_777.0)
    search = frame.loc[("paid_search", "undetermined")]
    assert (search["sales_booked"], search["revenue_booked"]) == (1, 100_000.0)
    nowhere = frame.loc[("undetermined", "undetermined")]
    assert (nowhere["sales_booked"], nowhere["revenue_booked"]) == (2, 50_777.0)
    channel = w23("channel").set_index("channel")
    assert channel.loc["paid_search", "romi_booked"] == pytest.approx(566.6667, abs=1e-3)
    assert channel.loc["paid_search", "drr_booked"] == pytest.approx(15.0)
    assert math.isnan(channel.loc["paid_social", "drr_booked"])  # no revenue: undefined


def test_booked_change_against_the_previous_week(w23):
    """W22: D0 won 20 000 (L0, v0 paid_search, no UTM) -> paid_search/undetermined booked
    revenue 20 000 then 100 000 in W23: +400 %."""
    frame = w23("campaign", change=True)
    row = frame.set_index(["channel", "campaign"]).loc[("paid_search", "undetermined")]
    assert row["revenue_booked_previous"] == 20_000
    assert row["revenue_booked_change"] == pytest.approx(400.0)


def test_campaign_weekly_fills_every_week(con):
    """13 weeks to W23 (2025-W11..W23); paid_search-2025-06-02 spent 10 000 in W23 only
    and paid_search-2025-05-30 3 000 in W22 only; leads in W23 by the lead's visit's
    campaign: undetermined 2 (paid_search), 1 (paid_social), 1 (organic), 2 (no visit)."""
    from analytics.metrics.drilldown import campaign_weekly

    frame = campaign_weekly(con, iso_week(2025, 23))
    assert frame["week"].nunique() == 13 and frame["week"].iloc[-1] == "2025-W23"
    assert frame["week"].iloc[0] == "2025-W11"
    spend = frame.set_index(["week", "campaign"])["spend"]
    assert spend[("2025-W23", "paid_search-2025-06-02")] == 10_000
    assert spend[("2025-W22", "paid_search-2025-06-02")] == 0
    assert spend[("2025-W22", "paid_search-2025-05-30")] == 3_000
    last = frame[frame["week"] == "2025-W23"].set_index(["channel", "campaign"])["leads"]
    assert last[("paid_search", "undetermined")] == 2
    assert last.sum() == 6
