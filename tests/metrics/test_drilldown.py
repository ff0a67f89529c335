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


def test_totals_equal_the_funnel_summary(con):
    frame = drilldown(con, iso_week(2025, 23), depth="creative")
    for column in ("spend", "visits", "leads", "mql", "sql_leads", "sales", "revenue"):
        assert frame[column].sum() == pytest.approx(SUMMARY_W23[column]), column


def test_campaign_rows_by_hand(con):
    frame = drilldown(con, iso_week(2025, 23), depth="campaign").set_index(["channel", "campaign"])
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


def test_channel_ratios(con):
    """paid_search: spend 15 000, leads 2, MQL 2, SQL 1, revenue 100 000:
    CPL 7 500, cost per MQL 7 500, cost per SQL 15 000, ROMI 566.67 %, ДРР 15 %."""
    frame = drilldown(con, iso_week(2025, 23), depth="channel").set_index("channel")
    row = frame.loc["paid_search"]
    assert row["cpl"] == pytest.approx(7_500) and row["cost_per_sql"] == pytest.approx(15_000)
    assert row["romi"] == pytest.approx(566.6667, abs=1e-3) and row["drr"] == pytest.approx(15.0)


def test_change_against_the_previous_week(con):
    frame = drilldown_with_change(con, iso_week(2025, 23), depth="campaign")
    row = frame.set_index(["channel", "campaign"]).loc[("paid_search", "undetermined")]
    assert row["leads_previous"] == 1 and row["leads_change"] == pytest.approx(100.0)
    assert row["revenue_previous"] == 20_000 and row["revenue_change"] == pytest.approx(400.0)
    new = frame.set_index(["channel", "campaign"]).loc[("paid_social", "paid_social-2025-06-03")]
    assert new["spend_previous"] == 0 and math.isnan(new["spend_change"])


def test_bad_depth():
    with pytest.raises(ValueError, match="depth must be one of channel, campaign"):
        drilldown(None, iso_week(2025, 23), depth="keyword")
